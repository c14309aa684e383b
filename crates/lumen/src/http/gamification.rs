//! Gamification endpoints (docs/gamification.md). Thin: access was decided
//! by the guard (subject routes) or is decided in `crate::gamification` by
//! `lumen_core::authz` (leaderboard scopes). Results come through the cache
//! layers and answer like the analytics: the envelope, `ETag`,
//! `Cache-Control`, 304 on a matching `If-None-Match`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use uuid::Uuid;

use super::analytics::cached_response;
use super::extract::{int_from_1_to, opt_uuid};
use super::guard::CurrentUser;
use super::{ApiJson, ApiQuery};
use crate::analytics::Envelope;
use crate::gamification::{
    self as service, DEFAULT_LIMIT, LeaderboardQuery, LearnerResult, MAX_LIMIT, MAX_PAGE,
    Preferences, ScopeKind,
};
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use lumen_core::gamification::{self as rules, Period};

/// Declares a GET about one learner (`userId`), answered by `service::learner`.
macro_rules! learner_endpoint {
    ($name:ident, $which:expr, $path:literal, $body:ty, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = "gamification",
            security(("bearer" = [])),
            params(("userId" = Uuid, Path, description = "the learner")),
            responses(
                (status = 200, body = Envelope<$body>, headers(
                    ("ETag" = String, description = "weak tag of the result"),
                    ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`, with `stale-while-revalidate`"),
                )),
                (status = 304, description = "`If-None-Match` matched: not modified, no body"),
                (status = 400, description = "`VALIDATION_ERROR`: userId is not a UUID", body = ErrorBody),
                (status = 403, description = "the learner is outside the caller's scope", body = ErrorBody),
                (status = 404, description = "no such learner", body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Path(user): Path<Uuid>,
            headers: HeaderMap,
            current: CurrentUser,
        ) -> Result<Response, ApiError> {
            let served =
                service::learner(&state, $which, user, current.caller.organization_id).await?;
            Ok(cached_response(&state, &headers, &served))
        }
    };
}

learner_endpoint!(
    stats,
    LearnerResult::Stats,
    "/api/v1/gamification/stats/{userId}",
    rules::Stats,
    "Points (total, last 7 and 30 days, by action), level, badges and streaks."
);
learner_endpoint!(
    achievements,
    LearnerResult::Achievements,
    "/api/v1/gamification/achievements/{userId}",
    rules::Achievements,
    "Badges earned (with dates) and progress towards the next ones."
);
learner_endpoint!(
    streak,
    LearnerResult::Streak,
    "/api/v1/gamification/streak/{userId}",
    rules::Streak,
    "Current and longest streak in the learner's time zone, and the last 28 days."
);

/// `scope` of a leaderboard request. (Read by `scope_name` for its error
/// message; the serde names here are what the OpenAPI document lists.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = gamification::LeaderboardScope)]
pub enum ScopeName {
    #[default]
    Organization,
    Department,
    Course,
}

/// A leaderboard request's query parameters: one that does not read is a
/// `VALIDATION_ERROR` naming it (`ApiQuery`), never silently ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardParams {
    #[serde(default, deserialize_with = "scope_name")]
    pub scope: Option<ScopeName>,
    #[serde(default, deserialize_with = "opt_uuid")]
    pub department_id: Option<Uuid>,
    #[serde(default, deserialize_with = "opt_uuid")]
    pub course_id: Option<Uuid>,
    #[serde(default, deserialize_with = "window")]
    pub window: Option<Period>,
    #[serde(default, deserialize_with = "int_from_1_to::<MAX_LIMIT, _>")]
    pub limit: Option<u32>,
    #[serde(default, deserialize_with = "int_from_1_to::<MAX_PAGE, _>")]
    pub page: Option<u32>,
}

fn scope_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ScopeName>, D::Error> {
    use serde::de::Error;
    match String::deserialize(d)?.as_str() {
        "organization" => Ok(Some(ScopeName::Organization)),
        "department" => Ok(Some(ScopeName::Department)),
        "course" => Ok(Some(ScopeName::Course)),
        _ => Err(D::Error::custom(
            "must be one of organization, department, course",
        )),
    }
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Period>, D::Error> {
    use serde::de::Error;
    match String::deserialize(d)?.as_str() {
        "week" => Ok(Some(Period::Week)),
        "month" => Ok(Some(Period::Month)),
        "all-time" => Ok(Some(Period::AllTime)),
        _ => Err(D::Error::custom("must be one of week, month, all-time")),
    }
}

impl LeaderboardParams {
    /// The request: a course scope needs its `courseId`.
    fn query(&self) -> Result<LeaderboardQuery, ApiError> {
        let scope = match self.scope.unwrap_or_default() {
            ScopeName::Organization => ScopeKind::Organization,
            ScopeName::Department => ScopeKind::Department(self.department_id),
            ScopeName::Course => ScopeKind::Course(self.course_id.ok_or_else(|| {
                ApiError::validation("courseId", "is required with scope=course")
            })?),
        };
        Ok(LeaderboardQuery {
            scope,
            period: self.window.unwrap_or(Period::Week),
            limit: self.limit.map_or(DEFAULT_LIMIT, |n| n as usize),
            page: self.page.map_or(1, |n| n as usize),
        })
    }
}

/// The leaderboard of the caller's organisation, a department or a course.
#[utoipa::path(
    get,
    path = "/api/v1/gamification/leaderboard",
    tag = "gamification",
    security(("bearer" = [])),
    params(
        ("scope" = Option<ScopeName>, Query, description = "organization (default), department or course"),
        ("departmentId" = Option<Uuid>, Query, description = "with scope=department; default: the caller's department"),
        ("courseId" = Option<Uuid>, Query, description = "required with scope=course: a course the caller is enrolled in or teaches (org admins: any of their organisation)"),
        ("window" = Option<Period>, Query, description = "week (default, last 7 days), month (last 30 days) or all-time"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "entries per page, 1–100 (default 10); the caller's own rank is always in `me`"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "page of `limit` entries, from 1 (default 1)"),
    ),
    responses(
        (status = 200, body = Envelope<rules::Leaderboard>, headers(
            ("ETag" = String, description = "weak tag of what this caller is shown"),
            ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`, with `stale-while-revalidate`"),
        )),
        (status = 304, description = "`If-None-Match` matched: not modified, no body"),
        (status = 400, description = "`VALIDATION_ERROR` naming the field: bad scope, departmentId, courseId, window, limit or page", body = ErrorBody),
        (status = 403, description = "the department is not of the caller's organisation, or the course is not one the caller is enrolled in or teaches", body = ErrorBody),
    )
)]
pub async fn leaderboard(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LeaderboardParams>,
    headers: HeaderMap,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let served = service::leaderboard(&state, &current.caller, params.query()?).await?;
    Ok(cached_response(&state, &headers, &served))
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
/// of every leaderboard at once (their own rank stays visible to them).
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
