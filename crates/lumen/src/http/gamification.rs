//! Gamification endpoints (docs/gamification.md). Thin: access was decided
//! by the guard (subject routes) or is decided in `crate::gamification` by
//! `lumen_core::authz` (leaderboard scopes).

use axum::extract::{Path, State};
use uuid::Uuid;

use super::guard::CurrentUser;
use super::{ApiJson, ApiQuery};
use crate::analytics::Envelope;
use crate::gamification::{self as service, LeaderboardParams, LeaderboardQuery, Preferences};
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use lumen_core::gamification as rules;

/// Declares a GET about one learner (`userId`), answered by `service::$name`.
macro_rules! learner_endpoint {
    ($name:ident, $path:literal, $body:ty, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = "gamification",
            security(("bearer" = [])),
            params(("userId" = Uuid, Path, description = "the learner")),
            responses(
                (status = 200, body = Envelope<$body>),
                (status = 400, description = "`VALIDATION_ERROR`: userId is not a UUID", body = ErrorBody),
                (status = 403, description = "the learner is outside the caller's scope", body = ErrorBody),
                (status = 404, description = "no such learner", body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Path(user): Path<Uuid>,
            current: CurrentUser,
        ) -> Result<ApiJson<Envelope<$body>>, ApiError> {
            Ok(ApiJson(
                service::$name(&state, user, current.caller.organization_id).await?,
            ))
        }
    };
}

learner_endpoint!(
    stats,
    "/api/v1/gamification/stats/{userId}",
    rules::Stats,
    "Points (total, last 7 and 30 days, by action), level, badges and streaks."
);
learner_endpoint!(
    achievements,
    "/api/v1/gamification/achievements/{userId}",
    rules::Achievements,
    "Badges earned (with dates) and progress towards the next ones."
);
learner_endpoint!(
    streak,
    "/api/v1/gamification/streak/{userId}",
    rules::Streak,
    "Current and longest streak in the learner's time zone, and the last 28 days."
);

/// The leaderboard of the caller's organisation, a department or a course.
#[utoipa::path(
    get,
    path = "/api/v1/gamification/leaderboard",
    tag = "gamification",
    security(("bearer" = [])),
    params(
        ("scope" = Option<String>, Query, description = "organization (default), department or course"),
        ("departmentId" = Option<Uuid>, Query, description = "with scope=department; default: the caller's department"),
        ("courseId" = Option<Uuid>, Query, description = "required with scope=course"),
        ("window" = Option<String>, Query, description = "week (default, last 7 days), month (last 30 days) or all-time"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "entries shown, 1–100 (default 10); the caller's own rank is always in `me`"),
    ),
    responses(
        (status = 200, body = Envelope<rules::Leaderboard>),
        (status = 400, description = "`VALIDATION_ERROR`: bad scope, window, limit or id", body = ErrorBody),
        (status = 403, description = "the department or course is not of the caller's organisation", body = ErrorBody),
    )
)]
pub async fn leaderboard(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LeaderboardParams>,
    current: CurrentUser,
) -> Result<ApiJson<Envelope<rules::Leaderboard>>, ApiError> {
    let q = LeaderboardQuery::parse(&params)?;
    Ok(ApiJson(
        service::leaderboard(&state, &current.caller, q).await?,
    ))
}

/// The caller's gamification preferences.
#[utoipa::path(
    get,
    path = "/api/v1/gamification/preferences",
    tag = "gamification",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Preferences),
    )
)]
pub async fn preferences(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<Preferences>, ApiError> {
    Ok(ApiJson(
        service::preferences(&state, current.caller.user_id).await?,
    ))
}

/// Sets the caller's preferences: `leaderboardOptOut` takes the caller out
/// of every leaderboard (their own rank stays visible to them).
#[utoipa::path(
    put,
    path = "/api/v1/gamification/preferences",
    tag = "gamification",
    security(("bearer" = [])),
    request_body = Preferences,
    responses(
        (status = 200, body = Preferences),
        (status = 400, description = "`VALIDATION_ERROR`", body = ErrorBody),
    )
)]
pub async fn set_preferences(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<Preferences>,
) -> Result<ApiJson<Preferences>, ApiError> {
    Ok(ApiJson(
        service::set_preferences(&state, current.caller.user_id, body).await?,
    ))
}
