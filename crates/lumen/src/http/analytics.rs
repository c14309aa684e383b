//! The analytics endpoints: one route per analytic of the registry
//! (`lumen_core::analytics::ANALYTICS`), all served by [`analytic`], and the
//! three role bundles. Handlers only read the request and call
//! `crate::analytics`; access was decided by the guard from the route table.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;
use utoipa::ToSchema;
use uuid::Uuid;

use super::RouteDef;
use super::extract::{ApiQuery, BundleQuery, RangeQuery};
use super::guard::CurrentUser;
use crate::analytics::{self as service, DataSource, Envelope, Served};
use crate::http::error::{ApiError, ErrorBody};
use crate::ratelimit::LimitClass;
use crate::state::AppState;
use lumen_core::Role;
use lumen_core::analytics::{Analytic, SubjectKind};

/// The route of one analytic: its path and access from the registry.
pub(super) fn route(analytic: &'static Analytic) -> RouteDef {
    route_at(analytic, analytic.path)
}

/// Seed 002's path of an analytic: the same handler, policy and limit as
/// its canonical route (a deprecated alias in the OpenAPI document).
pub(super) fn seed_route(analytic: &'static Analytic) -> RouteDef {
    route_at(analytic, analytic.seed_path())
}

fn route_at(analytic: &'static Analytic, path: &'static str) -> RouteDef {
    super::get(
        path,
        analytic.access,
        Some(LimitClass::Analytics),
        move |state: State<AppState>,
              path: Option<Path<Uuid>>,
              query: ApiQuery<RangeQuery>,
              headers: HeaderMap,
              current: CurrentUser| {
            self::analytic(analytic, state, path, query, headers, current)
        },
    )
}

/// Every analytic's endpoint: the subject named in the path, or the
/// caller's organisation.
async fn analytic(
    analytic: &'static Analytic,
    State(state): State<AppState>,
    path: Option<Path<Uuid>>,
    ApiQuery(RangeQuery { time_range: range }): ApiQuery<RangeQuery>,
    headers: HeaderMap,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let org = current.caller.organization_id;
    let subject = match (analytic.subject, path) {
        (SubjectKind::CallersOrganization, _) => org,
        (_, Some(Path(subject))) => subject,
        (_, None) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "{} is routed without its subject",
                analytic.name
            )));
        }
    };
    let served = service::serve(&state, analytic, subject, org, range).await?;
    Ok(cached_response(&state, &headers, &served))
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

/// A served result in its envelope, with HTTP caching (`ETag`, 304).
pub(super) fn cached_response(state: &AppState, headers: &HeaderMap, served: &Served) -> Response {
    let now = state.clock.now();
    let max_age = (served.expires_at() - now).num_seconds();
    http_cached(
        headers,
        &served.entry.etag,
        max_age,
        served.envelope_json(now),
    )
}

/// One analytic inside a bundle: its data, or its error. Each variant
/// names its fields with its own `rename_all`, which serde and utoipa both
/// read (utoipa ignores serde's `rename_all_fields`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum BundleEntry {
    #[serde(rename_all = "camelCase")]
    Ok {
        #[schema(value_type = Object)]
        data: Value,
        last_updated: chrono::DateTime<chrono::Utc>,
        data_source: DataSource,
    },
    #[serde(rename_all = "camelCase")]
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
    role: Role,
    subject_id: Uuid,
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

/// A role's bundle about the caller, or about the person the query names
/// (the guard has decided that the caller may see it).
async fn bundle(
    state: &AppState,
    current: &CurrentUser,
    role: Role,
    query: BundleQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let org = current.caller.organization_id;
    let range = query.time_range;
    let subject = match role {
        Role::OrgAdmin => org,
        Role::Learner => query.user_id.unwrap_or(current.caller.user_id),
        Role::Trainer => query.trainer_id.unwrap_or(current.caller.user_id),
    };
    let results = service::serve_many(
        state,
        &Analytic::bundle(role).collect::<Vec<_>>(),
        subject,
        org,
        range,
    )
    .await?;
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
                let body = ApiError::from(err).body();
                tags.update(body.error.as_bytes());
                BundleEntry::Error {
                    error: body.error,
                    message: body.message,
                    details: body.details.map(Value::Object),
                }
            }
        };
        analytics.insert(kind.name, entry);
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
    envelope.requires_refresh = stale;
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
    ($name:ident, $path:literal, $role:expr, $summary:literal $(, $param:literal, $about:literal)?) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = "bundles",
            security(("bearer" = [])),
            params(
                ("timeRange" = Option<lumen_core::analytics::TimeRange>, Query, description = "7d, 30d (default), 90d or 1y"),
                $(($param = Option<Uuid>, Query, description = $about),)?
            ),
            responses(
                (status = 200, description = "every analytic of the role; failures inside are reported per entry", body = Envelope<Bundle>, headers(
                    ("ETag" = String, description = "weak tag of the results"),
                    ("Cache-Control" = String, description = "`private, max-age` up to `expiresAt`"),
                )),
                (status = 304, description = "`If-None-Match` matched: not modified, no body"),
                (status = 400, body = ErrorBody),
                (status = 401, body = ErrorBody),
                (status = 403, description = "not acting in this role, or the person named is outside the caller's scope", body = ErrorBody),
                (status = 429, body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            ApiQuery(query): ApiQuery<BundleQuery>,
            headers: HeaderMap,
            current: CurrentUser,
        ) -> Result<Response, ApiError> {
            bundle(&state, &current, $role, query, &headers).await
        }
    };
}

bundle_route!(
    learner_bundle,
    "/api/v1/analytics/learner",
    Role::Learner,
    "Every learner analytic for the caller, or for a learner the caller teaches (acting as trainer) or administers (acting as org admin).",
    "userId",
    "the learner (default: the caller); another learner needs the trainer or org-admin role"
);
bundle_route!(
    trainer_bundle,
    "/api/v1/analytics/trainer",
    Role::Trainer,
    "Every trainer analytic for the caller, or for a trainer of the caller's organisation (acting as org admin).",
    "trainerId",
    "the trainer (default: the caller); another trainer needs the org-admin role"
);
bundle_route!(
    organization_bundle,
    "/api/v1/analytics/organization",
    Role::OrgAdmin,
    "Every organisation analytic for the caller's organisation."
);
