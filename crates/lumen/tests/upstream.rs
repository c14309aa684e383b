//! The upstream client against a local HTTP server on 127.0.0.1 that answers
//! 429 once: the retry waits as `Retry-After` asks, in delay seconds and as an
//! HTTP-date, and gives up at once when asked to wait longer than a minute.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::get;
use lumen::config::{Secret, UpstreamConfig};
use lumen::upstream::{Resilience, UpstreamClient, UpstreamError};

/// Serves `/feed`: the first call a 429 with the `Retry-After` that
/// `retry_after` makes, later calls 200. Returns the client and when each call arrived.
async fn rate_limited_once(
    retry_after: fn() -> String,
) -> (UpstreamClient, Arc<Mutex<Vec<Instant>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let app = Router::new().route(
        "/feed",
        get(move || {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().expect("lock");
                seen.push(Instant::now());
                let mut headers = HeaderMap::new();
                if seen.len() == 1 {
                    let value = HeaderValue::from_str(&retry_after()).expect("header");
                    headers.insert(header::RETRY_AFTER, value);
                    (StatusCode::TOO_MANY_REQUESTS, headers, "busy")
                } else {
                    (StatusCode::OK, headers, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = UpstreamClient::new(
        "content",
        UpstreamConfig {
            base_url,
            token: Secret::new("test-token".into()),
        },
        Resilience {
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(60),
        },
    )
    .expect("client");
    (client, calls)
}

fn gap(calls: &Mutex<Vec<Instant>>) -> Duration {
    let calls = calls.lock().expect("lock");
    assert_eq!(calls.len(), 2, "one 429, then one retry");
    calls[1] - calls[0]
}

#[tokio::test]
async fn retry_after_in_seconds_is_waited_for() {
    let (client, calls) = rate_limited_once(|| "1".into()).await;
    assert_eq!(client.get("/feed", &[]).await.expect("retried"), "ok");
    let waited = gap(&calls);
    assert!(
        (Duration::from_millis(990)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_waited_for() {
    // Two seconds ahead, in whole seconds: a wait of more than one second.
    let (client, calls) =
        rate_limited_once(|| httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2)))
            .await;
    assert_eq!(client.get("/feed", &[]).await.expect("retried"), "ok");
    let waited = gap(&calls);
    assert!(
        (Duration::from_millis(990)..Duration::from_secs(4)).contains(&waited),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_over_a_minute_ends_the_call() {
    let (client, calls) = rate_limited_once(|| "3600".into()).await;
    let started = Instant::now();
    let err = client.get("/feed", &[]).await.expect_err("gives up");
    assert!(
        matches!(err, UpstreamError::RateLimited(Some(wait)) if wait == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(calls.lock().expect("lock").len(), 1);
}
