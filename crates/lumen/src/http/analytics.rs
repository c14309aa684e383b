//! The analytics endpoints: 19 analytics and the three role bundles. Each
//! handler only reads the request and calls `crate::analytics`; access was
//! decided by the guard from the route table.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;
use utoipa::ToSchema;
use uuid::Uuid;

use super::guard::CurrentUser;
use crate::analytics::{self as service, DataSource, Envelope, Kind, Served};
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use lumen_core::Role;
use lumen_core::analytics::{
    comparison, dropoff, forecast, learner, org, recommendations, trainer,
};

/// Declares one analytic endpoint about the subject in `$param`.
macro_rules! analytic {
    ($name:ident, $kind:expr, $path:literal, $param:literal, $tag:literal, $body:ty, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = $tag,
            security(("bearer" = [])),
            params(
                ($param = Uuid, Path, description = "the subject"),
                ("timeRange" = Option<String>, Query, description = "7d, 30d (default), 90d or 1y"),
            ),
            responses(
                (status = 200, body = Envelope<$body>, headers(
                    ("ETag" = String, description = "weak tag of the result"),
                    ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`, with `stale-while-revalidate`"),
                )),
                (status = 304, description = "`If-None-Match` matched: not modified, no body"),
                (status = 400, description = "`VALIDATION_ERROR`: bad id or timeRange", body = ErrorBody),
                (status = 401, body = ErrorBody),
                (status = 403, description = "subject outside the caller's scope", body = ErrorBody),
                (status = 404, description = "no such subject, or no learning records", body = ErrorBody),
                (status = 422, description = "`INSUFFICIENT_DATA`, with the minimum in `details`", body = ErrorBody),
                (status = 429, body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            Path(subject): Path<Uuid>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
            current: CurrentUser,
        ) -> Result<Response, ApiError> {
            let range = service::time_range(query.as_deref())?;
            let served = service::serve(&state, $kind, subject, current.caller.organization_id, range).await?;
            Ok(cached_response(&state, &headers, &served))
        }
    };
}

/// `If-None-Match` names this entity tag (weak comparison, RFC 9110 §13.1.2).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

/// HTTP caching for the browser and CDN layers (seed 002): an `ETag`, and
/// `Cache-Control: private` fresh until the result's `expiresAt`; a
/// matching `If-None-Match` gets 304 with no body.
fn http_cached(headers: &HeaderMap, etag: &str, max_age: i64, body: String) -> Response {
    let cache_control = format!(
        "private, max-age={}, stale-while-revalidate=300",
        max_age.max(0)
    );
    let mut response = if matches_etag(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    let out = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        out.insert(header::CACHE_CONTROL, v);
    }
    response
}

fn cached_response(state: &AppState, headers: &HeaderMap, served: &Served) -> Response {
    let now = state.clock.now();
    let max_age = (served.expires_at() - now).num_seconds();
    http_cached(
        headers,
        &served.entry.etag,
        max_age,
        served.envelope_json(now),
    )
}

analytic!(
    velocity,
    Kind::Velocity,
    "/api/v1/learner/analytics/velocity/{userId}",
    "userId",
    "learner",
    learner::Velocity,
    "How fast the learner progresses."
);
analytic!(
    skill_gap,
    Kind::SkillGap,
    "/api/v1/learner/analytics/skill-gap/{userId}",
    "userId",
    "learner",
    learner::SkillGap,
    "Skills the learner's role needs, and the gaps."
);
analytic!(
    engagement,
    Kind::Engagement,
    "/api/v1/learner/analytics/engagement/{userId}",
    "userId",
    "learner",
    learner::Engagement,
    "How engaged the learner is."
);
analytic!(
    mastery,
    Kind::Mastery,
    "/api/v1/learner/analytics/mastery/{userId}",
    "userId",
    "learner",
    learner::Mastery,
    "What the learner has mastered."
);
analytic!(
    performance,
    Kind::Performance,
    "/api/v1/learner/analytics/performance/{userId}",
    "userId",
    "learner",
    learner::Performance,
    "The learner's assessment performance."
);
analytic!(
    content_effectiveness,
    Kind::ContentEffectiveness,
    "/api/v1/learner/analytics/content-effectiveness/{userId}",
    "userId",
    "learner",
    learner::ContentEffectiveness,
    "Which content works for the learner."
);
analytic!(
    course_performance,
    Kind::CoursePerformance,
    "/api/v1/trainer/analytics/course-performance/{trainerId}",
    "trainerId",
    "trainer",
    trainer::CoursePerformance,
    "How the trainer's courses perform."
);
analytic!(
    course_health,
    Kind::CourseHealth,
    "/api/v1/trainer/analytics/course-health/{trainerId}",
    "trainerId",
    "trainer",
    trainer::CourseHealth,
    "Health of the trainer's courses."
);
analytic!(
    student_distribution,
    Kind::StudentDistribution,
    "/api/v1/trainer/analytics/student-distribution/{trainerId}",
    "trainerId",
    "trainer",
    trainer::StudentDistribution,
    "How the trainer's learners are spread."
);
analytic!(
    teaching_effectiveness,
    Kind::TeachingEffectiveness,
    "/api/v1/trainer/analytics/teaching-effectiveness/{trainerId}",
    "trainerId",
    "trainer",
    trainer::TeachingEffectiveness,
    "How effective the trainer's teaching is."
);
analytic!(
    learning_velocity,
    Kind::LearningVelocity,
    "/api/v1/org-admin/analytics/learning-velocity/{orgId}",
    "orgId",
    "organization",
    org::LearningVelocity,
    "How fast the organisation learns, by department."
);
analytic!(
    strategic_alignment,
    Kind::StrategicAlignment,
    "/api/v1/org-admin/analytics/strategic-alignment/{orgId}",
    "orgId",
    "organization",
    org::StrategicAlignment,
    "Skills against the organisation's strategic targets."
);
analytic!(
    learning_culture,
    Kind::LearningCulture,
    "/api/v1/org-admin/analytics/learning-culture/{orgId}",
    "orgId",
    "organization",
    org::LearningCulture,
    "The organisation's learning culture."
);
analytic!(
    org_performance,
    Kind::OrgPerformance,
    "/api/v1/org-admin/analytics/org-performance/{orgId}",
    "orgId",
    "organization",
    org::OrgPerformance,
    "The organisation's learning performance."
);
analytic!(
    peer,
    Kind::Peer,
    "/api/v1/comparison/peer/{userId}",
    "userId",
    "comparison",
    comparison::Peer,
    "The learner against anonymised peer cohorts (k-anonymous)."
);
analytic!(
    drop_off_risk,
    Kind::DropOffRisk,
    "/api/v1/predictive/drop-off-risk/{userId}",
    "userId",
    "predictive",
    dropoff::DropoffRisk,
    "Risk that the learner's current enrolments end without completion."
);
analytic!(
    forecast,
    Kind::Forecast,
    "/api/v1/predictive/forecast/{userId}",
    "userId",
    "predictive",
    forecast::Forecast,
    "Projected performance and completion, with intervals and scenarios."
);
analytic!(
    recommendations,
    Kind::Recommendations,
    "/api/v1/predictive/recommendations/{userId}",
    "userId",
    "predictive",
    recommendations::Recommendations,
    "Ranked, explained recommendations."
);

/// Skills in demand in the caller's organisation.
#[utoipa::path(
    get,
    path = "/api/v1/comparison/skill-demand",
    tag = "comparison",
    security(("bearer" = [])),
    params(("timeRange" = Option<String>, Query, description = "7d, 30d (default), 90d or 1y")),
    responses(
        (status = 200, body = Envelope<comparison::SkillDemand>, headers(
            ("ETag" = String, description = "weak tag of the result"),
            ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`"),
        )),
        (status = 304, description = "`If-None-Match` matched: not modified, no body"),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn skill_demand(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let range = service::time_range(query.as_deref())?;
    let org = current.caller.organization_id;
    let served = service::serve(&state, Kind::SkillDemand, org, org, range).await?;
    Ok(cached_response(&state, &headers, &served))
}

/// One analytic inside a bundle: its data, or its error.
#[derive(Serialize, ToSchema)]
#[serde(
    rename_all = "camelCase",
    tag = "status",
    rename_all_fields = "camelCase"
)]
pub enum BundleEntry {
    Ok {
        #[schema(value_type = Object)]
        data: Value,
        last_updated: chrono::DateTime<chrono::Utc>,
        data_source: DataSource,
    },
    Error {
        error: &'static str,
        message: String,
        #[schema(value_type = Option<Object>)]
        details: Option<Value>,
    },
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// `learner`, `trainer` or `org-admin`.
    #[schema(value_type = String)]
    role: Role,
    subject_id: Uuid,
    #[schema(value_type = String)]
    time_range: lumen_core::analytics::TimeRange,
    /// Every analytic of the role, by name.
    analytics: BTreeMap<&'static str, BundleEntry>,
    summary: BundleSummary,
}

#[derive(Serialize, ToSchema)]
pub struct BundleSummary {
    ok: usize,
    failed: usize,
}

async fn bundle(
    state: &AppState,
    current: &CurrentUser,
    role: Role,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let range = service::time_range(query)?;
    let org = current.caller.organization_id;
    let subject = if role == Role::OrgAdmin {
        org
    } else {
        current.caller.user_id
    };
    let results = service::serve_many(state, Kind::bundle(role), subject, org, range).await?;
    let now = state.clock.now();
    let mut analytics = BTreeMap::new();
    let mut oldest = None;
    let mut source = DataSource::Realtime;
    let (mut ok, mut failed, mut all_cached, mut stale) = (0, 0, true, false);
    let mut tags = sha2::Sha256::new();
    for (kind, result) in results {
        let entry = match result.and_then(|served| Ok((served.envelope(now)?, served))) {
            Ok((envelope, served)) => {
                ok += 1;
                oldest = Some(
                    oldest.map_or(envelope.last_updated, |o: chrono::DateTime<Utc>| {
                        o.min(envelope.last_updated)
                    }),
                );
                source = source.max(envelope.data_source);
                all_cached &= served.cached;
                stale |= envelope.stale;
                tags.update(served.entry.etag.as_bytes());
                BundleEntry::Ok {
                    data: envelope.data,
                    last_updated: envelope.last_updated,
                    data_source: envelope.data_source,
                }
            }
            Err(err) => {
                failed += 1;
                let body = err.body();
                tags.update(body.error.as_bytes());
                BundleEntry::Error {
                    error: body.error,
                    message: body.message,
                    details: body.extra.get("details").cloned(),
                }
            }
        };
        analytics.insert(kind.name(), entry);
    }
    let data = Bundle {
        role,
        subject_id: subject,
        time_range: range,
        analytics,
        summary: BundleSummary { ok, failed },
    };
    let mut envelope = service::envelope(data, source, now);
    envelope.cached = ok > 0 && all_cached;
    envelope.stale = stale;
    if let Some(oldest) = oldest {
        envelope.last_updated = oldest;
        envelope.expires_at = oldest + service::STALE_AFTER;
    }
    let body = serde_json::to_string(&envelope).map_err(|e| ApiError::Internal(e.into()))?;
    let etag = format!(
        "W/\"{}\"",
        tags.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let max_age = (envelope.expires_at - now).num_seconds();
    Ok(http_cached(headers, &etag, max_age, body))
}

macro_rules! bundle_route {
    ($name:ident, $path:literal, $role:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = "bundles",
            security(("bearer" = [])),
            params(("timeRange" = Option<String>, Query, description = "7d, 30d (default), 90d or 1y")),
            responses(
                (status = 200, description = "every analytic of the role; failures inside are reported per entry", body = Envelope<Bundle>, headers(
                    ("ETag" = String, description = "weak tag of the results"),
                    ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`"),
                )),
                (status = 304, description = "`If-None-Match` matched: not modified, no body"),
                (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody),
                (status = 403, description = "not acting in this role", body = ErrorBody),
                (status = 429, body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
            current: CurrentUser,
        ) -> Result<Response, ApiError> {
            bundle(&state, &current, $role, query.as_deref(), &headers).await
        }
    };
}

bundle_route!(
    learner_bundle,
    "/api/v1/analytics/learner",
    Role::Learner,
    "Every learner analytic for the caller."
);
bundle_route!(
    trainer_bundle,
    "/api/v1/analytics/trainer",
    Role::Trainer,
    "Every trainer analytic for the caller."
);
bundle_route!(
    organization_bundle,
    "/api/v1/analytics/organization",
    Role::OrgAdmin,
    "Every organisation analytic for the caller's organisation."
);
