//! The one error type of the HTTP layer. Every failure becomes
//! `{ "error": CODE, "message": "...", ...extra }` (PRODUCT §3.2); 5xx details
//! are logged here and never sent.
//!
//! Services outside `http/` return their own errors; the `From` impls at the
//! end of this file are the one place that maps them to statuses: not found
//! 404, conflict 409, invalid input 400, unauthorized 401, forbidden 403,
//! anything else 500.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::analytics::ServeError;
use crate::auth::AuthError;
use crate::gamification::GamificationError;
use crate::queue::QueueError;
use crate::reports::ReportError;
use crate::store::{ConflictKind, StoreError};
use lumen_core::analytics::AnalyticError;

/// The JSON body of every error response. Besides `error` and `message`,
/// a field appears only with the codes that carry it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `VALIDATION_ERROR`.
    pub error: &'static str,
    /// Human-readable explanation; never internals.
    pub message: String,
    /// `VALIDATION_ERROR`: the reason per field (`body` for the body as a
    /// whole, `request` when no field can be named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<BTreeMap<String, String>>,
    /// `RATE_LIMIT_EXCEEDED` and `OVERLOADED`: seconds to wait (also the
    /// `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `RATE_LIMIT_EXCEEDED`: when the next request is allowed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub next_allowed_at: Option<String>,
    /// `INSUFFICIENT_DATA`: what the analytic lacks (e.g. `required`,
    /// `found`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Map<String, Value>>,
    /// `SERVICE_UNAVAILABLE` from readiness: each dependency's check.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub checks: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Per-field reasons, keyed by field name (`body` for the body as a whole).
    #[error("request validation failed")]
    Validation(BTreeMap<String, String>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("refresh token is invalid or expired")]
    InvalidRefreshToken,
    /// A spent refresh token presented again (seed 000 clients that keep
    /// the first token learn why they were logged out).
    #[error("refresh token was already used: the session has been ended, log in again")]
    RefreshTokenReused,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 422: the subject has records, but fewer than the analytic needs.
    #[error("{message}")]
    InsufficientData {
        message: String,
        details: Map<String, Value>,
    },
    /// 409: the request contradicts the resource's state.
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request did not complete in time")]
    Timeout,
    #[error("rate limit exceeded: try again in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        next_allowed_at: chrono::DateTime<chrono::Utc>,
    },
    /// A dependency is down; `checks` says which, when known.
    #[error("{message}")]
    ServiceUnavailable {
        message: String,
        checks: Option<Value>,
    },
    /// Too much work in progress (password hashing); try again after
    /// `retry_after_secs`.
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.into(), reason.into())]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_)
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::InsufficientData { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Timeout | Self::ServiceUnavailable { .. } | Self::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::InsufficientData { .. } => "INSUFFICIENT_DATA",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::Timeout | Self::ServiceUnavailable { .. } | Self::Overloaded { .. } => {
                "SERVICE_UNAVAILABLE"
            }
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The error a bare status code stands for, used when a layer outside
    /// our handlers (body limit, method routing, panic guard) answered.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized("authentication required".into()),
            StatusCode::FORBIDDEN => Self::Forbidden("access denied".into()),
            StatusCode::NOT_FOUND => Self::NotFound("no such route".into()),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::UnsupportedMediaType("unsupported content type".into())
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => Self::Timeout,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceUnavailable {
                message: "service unavailable".into(),
                checks: None,
            },
            s if s.is_client_error() => Self::validation("request", "the request was not valid"),
            s => Self::Internal(anyhow::anyhow!(
                "unexpected status {s} from a middleware layer"
            )),
        }
    }

    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody {
            error: self.code(),
            message: match self {
                Self::Internal(_) => "internal error".to_owned(),
                other => other.to_string(),
            },
            validation: None,
            retry_after: None,
            next_allowed_at: None,
            details: None,
            checks: None,
        };
        match self {
            Self::Validation(fields) => body.validation = Some(fields.clone()),
            Self::ServiceUnavailable { checks, .. } => body.checks = checks.clone(),
            Self::InsufficientData { details, .. } => body.details = Some(details.clone()),
            Self::Overloaded {
                retry_after_secs, ..
            } => body.retry_after = Some(*retry_after_secs),
            Self::RateLimited {
                retry_after_secs,
                next_allowed_at,
            } => {
                body.retry_after = Some(*retry_after_secs);
                body.next_allowed_at =
                    Some(next_allowed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            _ => {}
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::RateLimited {
            retry_after_secs, ..
        }
        | Self::Overloaded {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            // A uniqueness, reference or check rule: the request contradicts
            // what is stored. The database's wording stays in the log.
            StoreError::Conflict { kind, message } => {
                tracing::info!(?kind, message, "store conflict");
                Self::Conflict(
                    match kind {
                        ConflictKind::Duplicate => "it already exists",
                        ConflictKind::UnknownReference => {
                            "it refers to something that does not exist"
                        }
                        ConflictKind::OutOfRange => "a value is out of range",
                        ConflictKind::CrossOrganization => {
                            "it links records of different organisations"
                        }
                    }
                    .into(),
                )
            }
            StoreError::Invalid(invalid) => Self::validation(invalid.field, invalid.reason),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::InvalidCron(reason) => Self::validation("cron", reason),
            QueueError::Store(err) => err.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthorized(message) => Self::Unauthorized(message),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::InvalidRefreshToken => Self::InvalidRefreshToken,
            AuthError::RefreshTokenReused => Self::RefreshTokenReused,
            AuthError::KeysUnavailable => Self::ServiceUnavailable {
                message: AuthError::KeysUnavailable.to_string(),
                checks: None,
            },
            AuthError::Busy => Self::Overloaded {
                message: AuthError::Busy.to_string(),
                retry_after_secs: 1,
            },
            AuthError::Store(err) => err.into(),
            AuthError::Internal(err) => Self::Internal(err),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::Invalid(fields) => Self::Validation(fields),
            ReportError::Forbidden(message) => Self::Forbidden(message),
            ReportError::NotFound(message) => Self::NotFound(message),
            ReportError::Limit(message) => Self::Conflict(message),
            ReportError::Queue(err) => err.into(),
            ReportError::Store(err) => err.into(),
            ReportError::Internal(err) => Self::Internal(err),
        }
    }
}

impl From<GamificationError> for ApiError {
    fn from(err: GamificationError) -> Self {
        match err {
            GamificationError::Invalid { field, reason } => Self::validation(field, reason),
            GamificationError::Forbidden(message) => Self::Forbidden(message),
            GamificationError::Analytics(err) => err.into(),
            GamificationError::Store(err) => err.into(),
            GamificationError::Queue(err) => err.into(),
            GamificationError::Internal(err) => Self::Internal(err),
        }
    }
}

impl From<AnalyticError> for ApiError {
    fn from(err: AnalyticError) -> Self {
        match err {
            AnalyticError::NotFound(message) => ApiError::NotFound(message),
            AnalyticError::InsufficientData {
                analytic,
                reason,
                message,
                minimum,
                found,
            } => {
                let mut details = Map::new();
                details.insert("analytic".into(), Value::from(analytic));
                details.insert("reason".into(), Value::from(reason));
                details.insert(
                    "minimum".into(),
                    serde_json::to_value(minimum).unwrap_or_default(),
                );
                details.insert(
                    "found".into(),
                    serde_json::to_value(found).unwrap_or_default(),
                );
                ApiError::InsufficientData { message, details }
            }
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(err: ServeError) -> Self {
        match err {
            ServeError::Analytic(err) => err.into(),
            ServeError::Store(err) => err.into(),
            ServeError::Queue(err) => err.into(),
            ServeError::Internal(err) => Self::Internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ServeError::code` (what the batch and reports record) is the code
    /// the API answers the same error with.
    #[test]
    fn serve_errors_keep_their_api_code() {
        let errors = [
            ServeError::Analytic(AnalyticError::NotFound("x".into())),
            ServeError::Analytic(AnalyticError::insufficient("a", "R", "m", "n", 1.0, 0.0)),
            ServeError::Store(StoreError::Conflict {
                kind: ConflictKind::Duplicate,
                message: "m".into(),
            }),
            ServeError::Queue(QueueError::InvalidCron("bad".into())),
            ServeError::Store(StoreError::Corrupt("x".into())),
            ServeError::Internal(anyhow::anyhow!("x")),
        ];
        for err in errors {
            let code = err.code();
            assert_eq!(ApiError::from(err).code(), code);
        }
    }

    #[test]
    fn internal_errors_never_expose_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("SELECT * FROM users failed"));
        let body = serde_json::to_string(&err.body()).expect("serialises");
        assert!(!body.contains("SELECT"), "{body}");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_store_conflict_is_a_409_not_a_500() {
        let err = ApiError::from(StoreError::Conflict {
            kind: ConflictKind::Duplicate,
            message: "UNIQUE constraint failed: users.email".into(),
        });
        assert_eq!(err.status(), StatusCode::CONFLICT);
        let body = serde_json::to_string(&err.body()).expect("serialises");
        assert!(body.contains("\"CONFLICT\""), "{body}");
        assert!(
            !body.contains("UNIQUE"),
            "the database's wording is not sent: {body}"
        );
        let internal = ApiError::from(StoreError::Corrupt("jobs.state".into()));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn validation_errors_carry_per_field_reasons() {
        let body = serde_json::to_value(ApiError::validation("email", "not an email").body())
            .expect("serialises");
        assert_eq!(body["error"], "VALIDATION_ERROR");
        assert_eq!(body["validation"]["email"], "not an email");
    }
}
