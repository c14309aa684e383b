//! HTTP behaviour through the real router and middleware stack: every
//! system endpoint and every error case of the uniform JSON error contract.

mod support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use lumen::config::Secret;
use lumen::http::{ApiJson, with_middleware};
use lumen::{AppState, Config};
use serde_json::Value;
use support::{TestDb, test_app, test_config};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the uniform error shape and returns the body.
    fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "error without JSON content type: {:?}",
            self.headers
        );
        let body = self.json();
        assert_eq!(body["error"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

async fn sqlite_app() -> (Router, AppState, TestDb) {
    let db = TestDb::sqlite().await;
    let (app, state) = test_app(ops_config(&db), &db);
    (app, state, db)
}

const OPS_TOKEN: &str = "operator-credential-for-tests";

fn ops_config(db: &TestDb) -> Config {
    Config {
        ops_token: Some(Secret::new(OPS_TOKEN.to_owned())),
        ..test_config(db)
    }
}

/// A GET with the operator credential.
fn ops_req(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {OPS_TOKEN}"))
        .body(Body::empty())
        .expect("request")
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    name: String,
    count: u32,
}

/// A router with a JSON route and a slow route, inside the production stack,
/// to exercise the body-handling and timeout errors.
fn echo_app(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/echo",
            post(|ApiJson(e): ApiJson<Echo>| async move { ApiJson(e) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/panic", get(panicking_handler))
        // An error from outside our handlers' JSON (as a layer or an axum
        // rejection gives), long enough to be compressed.
        .route(
            "/plain-error",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    "a plain-text refusal, long enough to be worth compressing",
                )
            }),
        );
    with_middleware(routes, state)
}

/// The body as its `Content-Encoding` says, failing the test when it does
/// not decode.
fn decoded(reply: &Reply) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    match reply.header("content-encoding") {
        None => out.clone_from(&reply.body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&reply.body[..])
                .read_to_end(&mut out)
                .expect("Content-Encoding gzip, and the body decodes as gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(&reply.body[..], 4096)
                .read_to_end(&mut out)
                .expect("Content-Encoding br, and the body decodes as brotli");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    if let Some(length) = reply.header("content-length") {
        assert_eq!(
            length.parse::<usize>().ok(),
            Some(reply.body.len()),
            "Content-Length"
        );
    }
    out
}

async fn panicking_handler() -> &'static str {
    panic!("boom: SELECT secret FROM vault")
}

#[tokio::test]
async fn health_answers_healthy_with_version_and_uptime() {
    let (app, _, _db) = sqlite_app().await;
    let reply = send(&app, get_req("/api/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptimeSeconds"].is_u64());
}

#[tokio::test]
async fn liveness_answers_alive() {
    let (app, _, _db) = sqlite_app().await;
    let reply = send(&app, get_req("/api/v1/health/live")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "alive");
}

#[tokio::test]
async fn readiness_is_ready_when_the_database_answers_and_redis_is_not_configured() {
    let (app, _, _db) = sqlite_app().await;
    let reply = send(&app, get_req("/api/v1/health/ready")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(body["checks"]["redis"], "not-configured");
}

#[tokio::test]
async fn readiness_checks_a_real_redis_when_configured() {
    if !support::redis_available().await {
        return;
    }
    let db = TestDb::sqlite().await;
    let config = Config {
        redis_url: Some(Secret::new(support::redis_url())),
        ..test_config(&db)
    };
    let (app, _) = test_app(config, &db);
    let reply = send(&app, get_req("/api/v1/health/ready")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
    assert_eq!(reply.json()["checks"]["redis"], "up");
}

#[tokio::test]
async fn readiness_is_503_naming_redis_when_redis_is_down() {
    let db = TestDb::sqlite().await;
    // Nothing listens on port 1.
    let config = Config {
        redis_url: Some(Secret::new("redis://127.0.0.1:1".into())),
        ..test_config(&db)
    };
    let (app, _) = test_app(config, &db);
    let reply = send(&app, get_req("/api/v1/health/ready")).await;
    let body = reply.error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["checks"]["database"], "up");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("redis")),
        "{body}"
    );
}

#[tokio::test]
async fn readiness_is_503_naming_the_database_when_it_is_down() {
    let (app, state, _db) = sqlite_app().await;
    state.store.close().await;
    let reply = send(&app, get_req("/api/v1/health/ready")).await;
    let body = reply.error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
    assert_eq!(body["checks"]["database"], "down");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("database")),
        "{body}"
    );

    let status = send(&app, ops_req("/api/status")).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["status"], "degraded");
    assert_eq!(status.json()["records"], Value::Null);
}

#[tokio::test]
async fn readiness_and_status_work_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (app, _) = test_app(ops_config(&db), &db);
    let ready = send(&app, get_req("/api/v1/health/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
    let status = send(&app, ops_req("/api/status")).await.json();
    assert_eq!(status["databaseBackend"], "postgres");
    assert_eq!(status["records"]["users"], 0);
}

#[tokio::test]
async fn status_reports_version_backend_dependencies_and_records() {
    let (app, _, _db) = sqlite_app().await;
    let body = send(&app, ops_req("/api/status")).await.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["databaseBackend"], "sqlite");
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(body["records"]["organizations"], 0);
    assert!(body["startedAt"].as_str().is_some());
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let (app, _, _db) = sqlite_app().await;
    send(&app, get_req("/api/health")).await;
    send(&app, get_req("/api/health")).await;
    send(&app, get_req("/no/such/route/123")).await;
    let reply = send(&app, ops_req("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text"))
    );
    let text = String::from_utf8(reply.body).expect("utf-8");
    assert!(
        text.contains(
            r#"lumen_http_requests_total{method="GET",route="/api/health",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/no/such/route"),
        "raw paths must not become labels"
    );
    assert!(
        text.contains("lumen_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// Without the operator credential `/api/status` says only whether Lumen
/// is up: no organisation, record count, upstream or error.
#[tokio::test]
async fn status_detail_and_metrics_need_the_operator_credential() {
    let (app, _, db) = sqlite_app().await;
    let public = send(&app, get_req("/api/status")).await;
    assert_eq!(public.status, StatusCode::OK);
    let body = public.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["status", "uptimeSeconds", "version"], "{body}");
    // A wrong credential, or a user's token, gets the public answer.
    let wrong = Request::get("/api/status")
        .header(header::AUTHORIZATION, "Bearer not-the-operator-credential")
        .body(Body::empty())
        .expect("request");
    assert!(send(&app, wrong).await.json().get("records").is_none());
    send(&app, get_req("/metrics"))
        .await
        .error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let detail = send(&app, ops_req("/api/status")).await.json();
    assert!(
        detail["upstreams"].is_array() && detail["records"].is_object(),
        "{detail}"
    );

    // No credential configured: the detail and /metrics are served to nobody.
    let (app, _) = test_app(test_config(&db), &db);
    assert!(
        send(&app, ops_req("/api/status"))
            .await
            .json()
            .get("records")
            .is_none()
    );
    send(&app, ops_req("/metrics"))
        .await
        .error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    // The separate metrics address serves it without one.
    let state = AppState::new(test_config(&db), db.store()).expect("state");
    let reply = send(&lumen::http::metrics_app(state), get_req("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text"))
    );
}

/// The counts behind `/api/status` are read at most every 30 s.
#[tokio::test]
async fn status_counts_are_cached() {
    let (app, state, _db) = sqlite_app().await;
    let before = send(&app, ops_req("/api/status")).await.json();
    assert_eq!(before["records"]["organizations"], 0);
    lumen::accounts::add_user(
        &state.store,
        "Acme",
        "ada@acme.test",
        "Ada",
        &[lumen_core::Role::Learner],
        "correct horse battery",
    )
    .await
    .expect("user");
    let after = send(&app, ops_req("/api/status")).await.json();
    assert_eq!(
        after["records"]["organizations"], 0,
        "served from the cache"
    );
    assert_eq!(
        state
            .store
            .record_counts()
            .await
            .expect("counts")
            .organizations,
        1
    );
}

#[tokio::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let (app, _, _db) = sqlite_app().await;
    let index = send(&app, get_req("/docs/")).await;
    assert_eq!(index.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&index.body);
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page must not load anything from the internet"
    );
    let init = send(&app, get_req("/docs/swagger-initializer.js")).await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&init.body).contains("/api/openapi.json"));
    let bundle = send(&app, get_req("/docs/swagger-ui-bundle.js")).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000, "the UI bundle is vendored");
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let (app, _, _db) = sqlite_app().await;
    send(&app, get_req("/api/v1/nothing-here"))
        .await
        .error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let (app, _, _db) = sqlite_app().await;
    let req = Request::delete("/api/health")
        .body(Body::empty())
        .expect("request");
    let reply = send(&app, req).await;
    reply.error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert!(reply.header("allow").is_some_and(|a| a.contains("GET")));
}

fn post_json(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut req = Request::post(uri);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(body.into()).expect("request")
}

#[tokio::test]
async fn valid_json_passes_through_the_stack() {
    let (_, state, _db) = sqlite_app().await;
    let app = echo_app(state);
    let reply = send(
        &app,
        post_json(
            "/echo",
            Some("application/json"),
            r#"{"name":"a","count":2}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["count"], 2);
}

#[tokio::test]
async fn malformed_json_is_a_validation_error_on_the_body() {
    let (_, state, _db) = sqlite_app().await;
    let app = echo_app(state);
    let reply = send(
        &app,
        post_json("/echo", Some("application/json"), r#"{"name": "a", "#),
    )
    .await;
    let body = reply.error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(
        body["validation"]["body"]
            .as_str()
            .is_some_and(|r| r.contains("malformed JSON")),
        "{body}"
    );
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_validation_error() {
    let (_, state, _db) = sqlite_app().await;
    let app = echo_app(state);
    let reply = send(
        &app,
        post_json(
            "/echo",
            Some("application/json"),
            r#"{"name":"a","count":-1}"#,
        ),
    )
    .await;
    let body = reply.error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(body["validation"]["body"].is_string(), "{body}");
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_a_json_415() {
    let (_, state, _db) = sqlite_app().await;
    let app = echo_app(state);
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = send(&app, post_json("/echo", ct, r#"{"name":"a","count":1}"#)).await;
        reply.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413() {
    let db = TestDb::sqlite().await;
    let config = Config {
        body_limit_bytes: 1024,
        ..test_config(&db)
    };
    let state = AppState::new(config, db.store()).expect("state");
    let app = echo_app(state);
    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(4096));
    // With a Content-Length header (rejected before reading) …
    let mut req = post_json("/echo", Some("application/json"), big.clone());
    req.headers_mut()
        .insert(header::CONTENT_LENGTH, big.len().into());
    let reply = send(&app, req).await;
    reply.error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    // … and streamed without one (rejected while reading).
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(big.into_bytes())]);
    let req = post_json("/echo", Some("application/json"), Body::from_stream(stream));
    send(&app, req)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_json_503() {
    let db = TestDb::sqlite().await;
    let config = Config {
        request_timeout: Duration::from_millis(100),
        ..test_config(&db)
    };
    let state = AppState::new(config, db.store()).expect("state");
    let reply = send(&echo_app(state), get_req("/slow")).await;
    reply.error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn a_panicking_handler_is_a_json_500_without_internals() {
    let (_, state, _db) = sqlite_app().await;
    let reply = send(&echo_app(state), get_req("/panic")).await;
    let body = reply.error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR");
    assert!(!body.to_string().contains("SELECT"), "{body}");
    assert!(!body.to_string().contains("boom"), "{body}");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert!(reply.header("content-security-policy").is_some());
}

#[tokio::test]
async fn a_request_id_is_created_or_accepted_and_always_echoed() {
    let (app, _, _db) = sqlite_app().await;
    let reply = send(&app, get_req("/api/health")).await;
    let made = reply.header("x-request-id").expect("a request id is made");
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");

    let req = Request::get("/api/health")
        .header("x-request-id", "client-123")
        .body(Body::empty())
        .expect("req");
    assert_eq!(
        send(&app, req).await.header("x-request-id"),
        Some("client-123")
    );

    // Errors carry it too; an unusable incoming id is replaced.
    let req = Request::get("/nope")
        .header("x-request-id", "a b c")
        .body(Body::empty())
        .expect("req");
    let reply = send(&app, req).await;
    let id = reply.header("x-request-id").expect("echoed on errors");
    assert_ne!(id, "a b c");
}

#[tokio::test]
async fn security_headers_are_on_every_response_including_errors() {
    let (app, _, _db) = sqlite_app().await;
    for uri in ["/api/health", "/nope"] {
        let reply = send(&app, get_req(uri)).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{uri}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{uri}");
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{uri}"
        );
        assert!(reply.header("content-security-policy").is_some(), "{uri}");
        assert_eq!(
            reply.header("strict-transport-security"),
            None,
            "no HSTS unless configured"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let db = TestDb::sqlite().await;
    let (app, _) = test_app(
        Config {
            hsts: true,
            ..test_config(&db)
        },
        &db,
    );
    let reply = send(&app, get_req("/api/health")).await;
    assert!(
        reply
            .header("strict-transport-security")
            .is_some_and(|v| v.contains("max-age="))
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let db = TestDb::sqlite().await;
    let config = Config {
        cors_origins: vec!["https://app.example.com".into()],
        ..test_config(&db)
    };
    let (app, _) = test_app(config, &db);
    let preflight = |origin: &str| {
        Request::options("/api/health")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .expect("request")
    };
    let allowed = send(&app, preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let denied = send(&app, preflight("https://evil.example.com")).await;
    assert_eq!(denied.header("access-control-allow-origin"), None);
    // A browser front end may read the rate-limit state and Retry-After.
    let get = Request::get("/api/health")
        .header(header::ORIGIN, "https://app.example.com")
        .body(Body::empty())
        .expect("request");
    let exposed = send(&app, get).await;
    let exposed = exposed
        .header("access-control-expose-headers")
        .expect("exposed headers")
        .to_ascii_lowercase();
    for name in [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
}

/// Regression (issue 13): an error rewritten into the JSON shape kept the
/// `Content-Encoding` of the compressed original but went out plain, so
/// every client that accepts gzip or br failed to read it.
#[tokio::test]
async fn rewritten_errors_decode_under_every_accepted_encoding() {
    let (_, state, _db) = sqlite_app().await;
    let app = echo_app(state);
    for encoding in [None, Some("gzip"), Some("br"), Some("gzip, br")] {
        let mut req = Request::get("/plain-error");
        if let Some(encoding) = encoding {
            req = req.header(header::ACCEPT_ENCODING, encoding);
        }
        let mut reply = send(&app, req.body(Body::empty()).expect("request")).await;
        let sent = reply.header("content-encoding").map(str::to_owned);
        if let Some(sent) = &sent {
            assert!(
                encoding.is_some_and(|e| e.contains(sent.as_str())),
                "{sent}"
            );
        }
        reply.body = decoded(&reply);
        reply.headers.remove(header::CONTENT_ENCODING);
        let body = reply.error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert_eq!(body["validation"]["request"], "the request was not valid");
    }
}

/// The same through the real routes: a path id that is not a UUID is a
/// 400 naming the parameter (`jobId`), readable whatever the client accepts.
#[tokio::test]
async fn a_bad_path_id_is_named_and_decodes_under_every_encoding() {
    let (app, state, _db) = sqlite_app().await;
    let user = lumen::accounts::add_user(
        &state.store,
        "Org",
        "someone@example.test",
        "Someone",
        &[lumen_core::Role::Learner],
        "password-123",
    )
    .await
    .expect("user");
    let token = support::token_for(&state.store, &user).await;
    for (uri, field) in [
        ("/api/v1/jobs/not-a-uuid", "jobId"),
        ("/api/v1/reports/not-a-uuid/status", "id"),
        ("/api/v1/learner/analytics/velocity/not-a-uuid", "userId"),
        ("/api/v1/gamification/streak/not-a-uuid", "userId"),
    ] {
        for encoding in ["gzip", "br", "gzip, br"] {
            let req = Request::get(uri)
                .header(header::ACCEPT_ENCODING, encoding)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let mut reply = send(&app, req).await;
            reply.body = decoded(&reply);
            let body = reply.error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            assert_eq!(body["validation"][field], "must be a UUID", "{uri}: {body}");
        }
    }
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let (app, _, _db) = sqlite_app().await;
    for encoding in ["gzip", "br"] {
        let req = Request::get("/api/openapi.json")
            .header(header::ACCEPT_ENCODING, encoding)
            .body(Body::empty())
            .expect("request");
        let reply = send(&app, req).await;
        assert_eq!(reply.header("content-encoding"), Some(encoding));
        let body: Value = serde_json::from_slice(&decoded(&reply)).expect("the document");
        assert!(
            body["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1"))
        );
    }
}
