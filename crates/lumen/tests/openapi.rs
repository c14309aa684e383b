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
