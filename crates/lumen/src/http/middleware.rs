//! Cross-cutting request handling: request ids, access logs, metrics,
//! timeouts and the guarantee that every error body is our JSON shape.

use std::any::Any;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// The request id of the current request, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Put in response extensions by whoever authenticated the caller, so the
/// access log can name the user.
#[derive(Debug, Clone, Copy)]
pub struct LogUser(pub Uuid);

/// Accepts a sane incoming `x-request-id` or makes one; echoes it; logs one
/// JSON line per request; records metrics by route template.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = next.run(req).instrument(span.clone()).await;

    let latency = start.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .observe_request(method.as_str(), &route, status, latency.as_secs_f64());
    let user = response
        .extensions()
        .get::<LogUser>()
        .map(|u| u.0.to_string());
    span.in_scope(|| {
        tracing::info!(
            target: "lumen::access",
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            user_id = user.as_deref(),
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Ends a request that runs past the configured timeout with a JSON 503.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit: Duration = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Any error response that is not JSON (produced by a layer rather than by
/// our handlers: body limit, method routing) is replaced by our JSON shape.
/// The replacement is a new body: the original's framing and encoding
/// headers (`Content-Length`, `Content-Encoding`, `Transfer-Encoding`) do
/// not describe it and are dropped. Compression runs outside this layer.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut replaced = ApiError::from_status(status).into_response();
    *replaced.status_mut() = status;
    let describes_the_old_body = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
        header::CONTENT_RANGE,
        header::ETAG,
    ];
    for (name, value) in parts.headers.iter() {
        if !describes_the_old_body.contains(name) {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    replaced
}

/// A panicking handler becomes a JSON 500; the panic is logged, not sent.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::valid_request_id;

    #[test]
    fn request_ids_must_be_short_and_plain() {
        assert!(valid_request_id("3f2a-77:b.c_d"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id(&"a".repeat(129)));
        assert!(!valid_request_id("id with spaces"));
        assert!(!valid_request_id("id\r\ninjected: 1"));
    }
}
