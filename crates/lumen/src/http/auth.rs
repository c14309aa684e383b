//! Auth endpoints (PRODUCT §3.3, seed 000 §10.1): login, refresh, me, logout,
//! and a user profile read that the policy scopes.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lumen_core::Role;
use lumen_core::model::{User, is_plausible_email};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiJson;
use super::guard::CurrentUser;
use crate::auth::{Issued, looks_like_refresh_token, passwords};
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A person as the dashboard sees them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    id: Uuid,
    email: String,
    full_name: String,
    #[schema(value_type = Vec<String>, example = json!(["learner", "trainer"]))]
    roles: Vec<Role>,
    organization_id: Uuid,
    avatar_url: Option<String>,
    last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            full_name: u.full_name,
            roles: u.roles,
            organization_id: u.organization_id,
            avatar_url: u.avatar_url,
            last_login_at: u.last_login_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "learner@demo.lumen.test")]
    email: Option<String>,
    #[schema(example = "demo-password")]
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    user: UserView,
    /// Access token (JWT, HS256), sent as `Authorization: Bearer …`.
    token: String,
    /// Opaque, single use, 7 days; exchange at `/api/v1/auth/refresh`.
    refresh_token: String,
    /// Seconds until `token` expires.
    expires_in: u64,
}

/// Logs in with email and password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "`VALIDATION_ERROR` with per-field reasons", body = ErrorBody),
        (status = 401, description = "`INVALID_CREDENTIALS`: unknown email or wrong password, indistinguishably", body = ErrorBody),
        (status = 429, description = "`RATE_LIMIT_EXCEEDED`: 5 per 15 min per client IP", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<ApiJson<LoginResponse>, ApiError> {
    let mut problems = BTreeMap::new();
    let email = body.email.unwrap_or_default();
    let password = body.password.unwrap_or_default();
    if email.trim().is_empty() {
        problems.insert("email".into(), "email is required".into());
    } else if !is_plausible_email(email.trim()) {
        problems.insert("email".into(), "email format is invalid".into());
    }
    if password.is_empty() {
        problems.insert("password".into(), "password is required".into());
    } else if password.chars().count() > passwords::MAX_LENGTH {
        problems.insert(
            "password".into(),
            format!(
                "password must be at most {} characters",
                passwords::MAX_LENGTH
            ),
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let issued = state
        .auth
        .login(&state.store, email.trim(), &password)
        .await?;
    let (user, org, roles) = (
        issued.user.id,
        issued.user.organization_id,
        issued.user.roles.clone(),
    );
    let background = state.clone();
    tokio::spawn(async move {
        crate::analytics::refresh_stale_at_login(&background, user, org, &roles).await;
    });
    Ok(ApiJson(issued.into()))
}

impl From<Issued> for LoginResponse {
    fn from(i: Issued) -> Self {
        Self {
            user: i.user.into(),
            token: i.token,
            refresh_token: i.refresh_token,
            expires_in: i.expires_in,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    refresh_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    token: String,
    /// The next refresh token; the one sent is now spent.
    refresh_token: String,
    expires_in: u64,
}

/// Exchanges a refresh token for a new access token and a new refresh token.
/// Presenting a spent refresh token again revokes its whole session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = RefreshResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`INVALID_REFRESH_TOKEN`; `REFRESH_TOKEN_REUSED` when a spent token comes back (the session is then ended: log in again)", body = ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<ApiJson<RefreshResponse>, ApiError> {
    let token = body.refresh_token.unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::validation(
            "refreshToken",
            "refresh token is required",
        ));
    }
    if !looks_like_refresh_token(&token) {
        return Err(ApiError::InvalidRefreshToken);
    }
    let issued = state.auth.refresh(&state.store, &token).await?;
    Ok(ApiJson(RefreshResponse {
        token: issued.token,
        refresh_token: issued.refresh_token,
        expires_in: issued.expires_in,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    user: UserView,
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 403, description = "`X-Active-Role` not one of the caller's roles", body = ErrorBody),
        (status = 404, description = "the account no longer exists in Lumen", body = ErrorBody),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<MeResponse>, ApiError> {
    let user = state
        .store
        .user(current.caller.user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
    Ok(ApiJson(MeResponse { user: user.into() }))
}

/// The caller's own account, at seed 004's path: the same answer as
/// `GET /api/v1/auth/me`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/profile",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 403, description = "`X-Active-Role` not one of the caller's roles", body = ErrorBody),
        (status = 404, description = "the account no longer exists in Lumen", body = ErrorBody),
    )
)]
pub async fn profile(
    state: State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<MeResponse>, ApiError> {
    me(state, current).await
}

/// Ends the session: its refresh tokens and access tokens stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "logged out"))
)]
pub async fn logout(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<StatusCode, ApiError> {
    state.auth.logout(&state.store, &current.verified).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's profile: oneself; for a trainer, learners they teach; for an
/// org admin, people of their organisation.
#[utoipa::path(
    get,
    path = "/api/v1/users/{userId}",
    tag = "auth",
    security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "the person")),
    responses(
        (status = 200, body = MeResponse),
        (status = 400, description = "`userId` is not a UUID", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn user_profile(
    State(state): State<AppState>,
    axum::extract::Path(user_id): axum::extract::Path<Uuid>,
) -> Result<ApiJson<MeResponse>, ApiError> {
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
    Ok(ApiJson(MeResponse { user: user.into() }))
}
