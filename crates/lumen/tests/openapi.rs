//! The OpenAPI document: valid OpenAPI 3.1, and it describes every mounted
//! route (the router is built from `route_table`, so a route added without
//! documentation fails here).

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lumen::http::route_table;
use support::{TestDb, test_app, test_config};
use tower::ServiceExt;

async fn fetch_spec() -> (String, axum::Router, TestDb) {
    let db = TestDb::sqlite().await;
    let (app, _) = test_app(test_config(&db), &db);
    let response = app
        .clone()
        .oneshot(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (String::from_utf8(body.to_vec()).expect("utf-8"), app, db)
}

#[tokio::test]
async fn the_document_parses_as_openapi_3_1() {
    let (text, _, _db) = fetch_spec().await;
    let spec = oas3::from_json(&text).expect("valid OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    assert_eq!(spec.info.title, "Lumen");
}

#[tokio::test]
async fn every_mounted_route_is_documented_and_every_documented_route_is_mounted() {
    let (text, app, _db) = fetch_spec().await;
    let spec = oas3::from_json(&text).expect("valid OpenAPI 3.1");
    let paths = spec.paths.clone().unwrap_or_default();
    let table = route_table();
    for route in &table {
        let item = paths.get(route.path).unwrap_or_else(|| {
            panic!(
                "{} {} is mounted but not in the OpenAPI document",
                route.method, route.path
            )
        });
        let documented = item.methods().into_iter().any(|(m, _)| m == route.method);
        assert!(
            documented,
            "{} {} is not documented",
            route.method, route.path
        );
    }
    for (path, item) in &paths {
        for (method, _) in item.methods() {
            assert!(
                table.iter().any(|r| r.path == path && r.method == method),
                "{method} {path} is documented but not mounted"
            );
            // And the router really answers it (not the 404 fallback).
            let response = app
                .clone()
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri(path.as_str())
                        .body(Body::empty())
                        .expect("req"),
                )
                .await
                .expect("infallible");
            assert_ne!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
}

/// The guard's refusals are documented on every operation that can give
/// them: 401 and 403 wherever a token is needed, 429 wherever a rate limit
/// counts.
#[tokio::test]
async fn every_protected_operation_documents_the_guards_refusals() {
    use lumen_core::authz::Access;
    let (text, _, _db) = fetch_spec().await;
    let spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    for route in route_table() {
        let method = route.method.as_str().to_lowercase();
        let responses = &spec["paths"][route.path][&method]["responses"];
        let mut expected = Vec::new();
        if route.guard.access != Access::Public {
            expected.extend(["401", "403"]);
        }
        if route.guard.limit.is_some() {
            expected.push("429");
        }
        for status in expected {
            assert_eq!(
                responses[status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {} does not document {status}",
                route.path
            );
        }
    }
}

/// Every component name stands for one schema. Two Rust types published
/// under one name (the drop-off risk's `History` and the reports' `History`
/// were) leave one of them described by the other's schema: the document
/// keeps only one. `component_sources` is everything utoipa collects from
/// the documented operations plus the analytics registry's schemas, with
/// duplicates; the document must publish exactly those, one per name.
#[test]
fn every_component_name_is_one_type() {
    use std::collections::BTreeMap;
    let mut by_name: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (name, schema) in lumen::http::openapi::component_sources() {
        let schema = serde_json::to_value(schema).expect("schema");
        let seen = by_name.entry(name).or_default();
        if !seen.contains(&schema) {
            seen.push(schema);
        }
    }
    let collisions: Vec<String> = by_name
        .iter()
        .filter(|(_, schemas)| schemas.len() > 1)
        .map(|(name, schemas)| {
            let shown: Vec<String> = schemas.iter().map(|s| s.to_string()).collect();
            format!("{name}:\n  {}", shown.join("\n  "))
        })
        .collect();
    assert!(
        collisions.is_empty(),
        "component names published by different types (give one `#[schema(as = module::Name)]`):\n{}",
        collisions.join("\n")
    );
    let spec: serde_json::Value =
        serde_json::from_str(lumen::http::openapi::document()).expect("json");
    let published = spec["components"]["schemas"]
        .as_object()
        .expect("components");
    let names: Vec<&String> = published.keys().collect();
    assert_eq!(names, by_name.keys().collect::<Vec<_>>());
    for (name, schemas) in &by_name {
        assert_eq!(published[name], schemas[0], "{name}");
    }
}

/// Every `$ref` of the document names a component it has.
#[test]
fn every_reference_resolves() {
    fn walk(value: &serde_json::Value, spec: &serde_json::Value, missing: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(|r| r.as_str()) {
                    let pointer = reference.trim_start_matches('#');
                    if spec.pointer(pointer).is_none() {
                        missing.push(reference.to_owned());
                    }
                }
                object.values().for_each(|v| walk(v, spec, missing));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, spec, missing)),
            _ => {}
        }
    }
    let spec: serde_json::Value =
        serde_json::from_str(lumen::http::openapi::document()).expect("json");
    let mut missing = Vec::new();
    walk(&spec, &spec, &mut missing);
    assert!(missing.is_empty(), "{missing:?}");
}

/// Regressions (issue 13): the bundles' entries are documented with the
/// names their bodies use, and the drop-off risk's history is its own
/// component.
#[test]
fn schemas_name_what_the_bodies_say() {
    let spec: serde_json::Value =
        serde_json::from_str(lumen::http::openapi::document()).expect("json");
    let schemas = &spec["components"]["schemas"];
    let entry = schemas["BundleEntry"].to_string();
    for name in ["lastUpdated", "dataSource"] {
        assert!(entry.contains(&format!("\"{name}\"")), "{entry}");
    }
    for name in ["last_updated", "data_source"] {
        assert!(!entry.contains(name), "{entry}");
    }
    let risk = schemas["DropoffRisk"].to_string();
    assert!(
        risk.contains("\"#/components/schemas/dropoff.History\""),
        "{risk}"
    );
    let history = &schemas["dropoff.History"]["properties"];
    assert!(history["finishedEnrolments"].is_object(), "{history}");
    let reports = &schemas["reports.History"]["properties"];
    assert!(reports["reports"].is_object(), "{reports}");
}

/// Every operation that takes a JSON body documents what the body
/// extractor and limits answer: 400, 413 and 415.
#[tokio::test]
async fn every_operation_with_a_body_documents_415() {
    let (text, _, _db) = fetch_spec().await;
    let spec: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut with_body = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            if operation.get("requestBody").is_none() {
                continue;
            }
            with_body += 1;
            for status in ["400", "413", "415"] {
                assert_eq!(
                    operation["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    assert!(with_body >= 6, "{with_body} operations take a body");
}
