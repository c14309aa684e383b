//! System endpoints: liveness, readiness, health, status, metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiJson;
use crate::collector::ServiceStatus;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::{AppState, StatusCounts};
use crate::store::{RecordCounts, RejectionCount};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `/api/status` reuses the counts it read.
pub const STATUS_COUNTS_TTL: Duration = Duration::from_secs(30);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Always `healthy` when the process answers.
    status: &'static str,
    version: &'static str,
    timestamp: DateTime<Utc>,
    uptime_seconds: u64,
    /// Seconds since start, with fractions (seed 004's name for the same
    /// figure as `uptimeSeconds`).
    uptime: f64,
    memory: Memory,
}

/// The process's memory (seed 004's `memory`), in bytes; `null` where the
/// platform does not tell.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Resident set size: physical memory the process holds.
    resident_bytes: Option<u64>,
    /// Virtual memory reserved.
    virtual_bytes: Option<u64>,
    /// Resident anonymous memory: the heap and thread stacks in physical
    /// memory (Linux `smaps_rollup` `Anonymous`).
    heap_used_bytes: Option<u64>,
}

impl Memory {
    fn read() -> Self {
        let stats = memory_stats::memory_stats();
        Memory {
            resident_bytes: stats.map(|s| s.physical_mem as u64),
            virtual_bytes: stats.map(|s| s.virtual_mem as u64),
            heap_used_bytes: heap_used(),
        }
    }
}

/// Resident anonymous memory (Linux `/proc/self/smaps_rollup`,
/// `Anonymous:`): the heap and the threads' stacks as far as they are in
/// physical memory. `None` elsewhere.
fn heap_used() -> Option<u64> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Anonymous:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Is the process up? Cheap, checks no dependency. Also served at
/// `/api/v1/health` (seed 004's path and health-check path).
#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> ApiJson<Health> {
    let uptime = state.uptime();
    ApiJson(Health {
        status: "healthy",
        version: env!("CARGO_PKG_VERSION"),
        timestamp: Utc::now(),
        uptime_seconds: uptime.as_secs(),
        uptime: uptime.as_secs_f64(),
        memory: Memory::read(),
    })
}

/// The same answer as `GET /api/health`, at seed 004's path.
#[utoipa::path(get, path = "/api/v1/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health_v1(state: State<AppState>) -> ApiJson<Health> {
    health(state).await
}

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    status: &'static str,
}

/// Liveness probe: the process answers HTTP.
#[utoipa::path(get, path = "/api/v1/health/live", tag = "system", responses((status = 200, body = Liveness)))]
pub async fn live() -> ApiJson<Liveness> {
    ApiJson(Liveness { status: "alive" })
}

/// State of one dependency: `up`, `down` or `not-configured`.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    Up,
    Down,
    NotConfigured,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    database: CheckState,
    redis: CheckState,
}

impl Checks {
    async fn run(state: &AppState) -> Self {
        let database = match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
            Ok(Ok(())) => CheckState::Up,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "readiness: database check failed");
                CheckState::Down
            }
            Err(_) => CheckState::Down,
        };
        let redis = match &state.redis {
            None => CheckState::NotConfigured,
            Some(probe) => match tokio::time::timeout(CHECK_TIMEOUT, probe.ping()).await {
                Ok(Ok(())) => CheckState::Up,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "readiness: redis check failed");
                    CheckState::Down
                }
                Err(_) => CheckState::Down,
            },
        };
        Self { database, redis }
    }

    fn failing(&self) -> Vec<&'static str> {
        let mut failing = Vec::new();
        if self.database == CheckState::Down {
            failing.push("database");
        }
        if self.redis == CheckState::Down {
            failing.push("redis");
        }
        failing
    }
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    status: &'static str,
    checks: Checks,
}

/// Readiness probe: the database answers, and Redis when configured.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "system",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "A dependency is down; `checks` names which", body = ErrorBody),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<ApiJson<Readiness>, ApiError> {
    let checks = Checks::run(&state).await;
    let failing = checks.failing();
    if failing.is_empty() {
        return Ok(ApiJson(Readiness {
            status: "ready",
            checks,
        }));
    }
    Err(ApiError::ServiceUnavailable {
        message: format!("not ready: {} unreachable", failing.join(" and ")),
        checks: serde_json::to_value(&checks).ok(),
    })
}

/// `/api/status`: a minimal public answer; the detail (every field below
/// `uptimeSeconds`) only with the operator credential.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// `ok`, or `degraded` when a dependency is down.
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    /// Operators only (as every field below).
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    /// `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    database_backend: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Checks>,
    /// Learning records held (read at most every 30 s); absent when the
    /// database is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    records: Option<RecordCounts>,
    /// Each of the nine upstream services: configured, circuit state,
    /// freshness of its data, last success and error, records synced.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstreams: Option<Vec<ServiceStatus>>,
    /// Upstream records rejected, by service, feed and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    rejections: Option<Vec<RejectionCount>>,
    /// The drop-off model of each organisation trained since start-up, with
    /// its evaluation (`null` when there was too little history to train).
    #[serde(skip_serializing_if = "Option::is_none")]
    dropoff_models: Option<Vec<ModelStatus>>,
    /// Jobs in the queue by state (`queued`, `active`, …); empty when the
    /// database is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<std::collections::BTreeMap<String, i64>>,
    /// Each cache layer's lookups and hit ratio since start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<Vec<CacheLayerStatus>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheLayerStatus {
    /// `l1`, `l2` or `l3`.
    layer: &'static str,
    lookups: u64,
    hits: u64,
    /// hits / lookups; `null` before the first lookup.
    hit_ratio: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    organization_id: uuid::Uuid,
    #[schema(value_type = Option<Object>)]
    evaluation: Option<lumen_core::analytics::dropoff::Evaluation>,
}

/// The operator credential: `Authorization: Bearer <LUMEN_OPS_TOKEN>`.
/// Never matches when no token is configured. Compared as SHA-256
/// digests, so the comparison's time says nothing about the token.
fn is_operator(state: &AppState, headers: &HeaderMap) -> bool {
    use sha2::{Digest, Sha256};
    let Some(expected) = &state.config.ops_token else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    presented.is_some_and(|token| {
        Sha256::digest(token.as_bytes()) == Sha256::digest(expected.expose().as_bytes())
    })
}

/// The counts, read at most every [`STATUS_COUNTS_TTL`] (four `COUNT(*)`
/// and two grouped reads are not for every call).
async fn counts(state: &AppState) -> StatusCounts {
    let mut cached = state.status_counts.lock().await;
    if let Some((at, counts)) = cached.as_ref()
        && at.elapsed() < STATUS_COUNTS_TTL
    {
        return counts.clone();
    }
    let counts = StatusCounts {
        records: state.store.record_counts().await.ok(),
        rejections: state.store.rejections().await.unwrap_or_default(),
        queue: state.store.job_counts().await.unwrap_or_default(),
    };
    *cached = Some((std::time::Instant::now(), counts.clone()));
    counts
}

/// Service status. Anyone: `status`, `version`, `uptimeSeconds`. With the
/// operator credential (`LUMEN_OPS_TOKEN`): dependencies, records held,
/// upstreams with their last errors, rejections, models, queue and caches.
#[utoipa::path(
    get,
    path = "/api/status",
    tag = "system",
    security((), ("opsToken" = [])),
    responses((status = 200, description = "The public fields; with the operator credential also the detail", body = Status))
)]
pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiJson<Status> {
    let checks = Checks::run(&state).await;
    let mut answer = Status {
        status: if checks.failing().is_empty() {
            "ok"
        } else {
            "degraded"
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.uptime().as_secs(),
        started_at: None,
        database_backend: None,
        checks: None,
        records: None,
        upstreams: None,
        rejections: None,
        dropoff_models: None,
        queue: None,
        cache: None,
    };
    if !is_operator(&state, &headers) {
        return ApiJson(answer);
    }
    let up = checks.database == CheckState::Up;
    let (counts, upstreams) = if up {
        (
            counts(&state).await,
            state.collector().status().await.unwrap_or_default(),
        )
    } else {
        (StatusCounts::default(), Vec::new())
    };
    let cache = state
        .metrics
        .cache_ratios()
        .into_iter()
        .map(|(layer, hits, lookups)| CacheLayerStatus {
            layer,
            lookups,
            hits,
            hit_ratio: (lookups > 0).then(|| hits as f64 / lookups as f64),
        })
        .collect();
    answer.started_at = Some(state.started_at);
    answer.database_backend = Some(state.store.backend());
    answer.checks = Some(checks);
    answer.records = counts.records;
    answer.upstreams = Some(upstreams);
    answer.rejections = Some(counts.rejections);
    answer.dropoff_models = Some(
        state
            .models
            .evaluations()
            .await
            .into_iter()
            .map(|(organization_id, evaluation)| ModelStatus {
                organization_id,
                evaluation,
            })
            .collect(),
    );
    answer.queue = Some(counts.queue);
    answer.cache = Some(cache);
    ApiJson(answer)
}

/// Prometheus metrics (OpenMetrics text), for operators: with the
/// credential here, or without one on `LUMEN_METRICS_ADDR`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    security(("opsToken" = [])),
    responses(
        (status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text"),
        (status = 401, description = "`UNAUTHORIZED`: no operator credential (`LUMEN_OPS_TOKEN`), or none is configured", body = ErrorBody),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if !is_operator(&state, &headers) {
        return Err(ApiError::Unauthorized(
            "the operator credential is required".into(),
        ));
    }
    Ok(metrics_text(&state))
}

/// The metrics text itself; `/metrics` on the separate metrics address
/// serves it without a credential.
pub fn metrics_text(state: &AppState) -> impl IntoResponse + use<> {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
