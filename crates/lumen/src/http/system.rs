//! System endpoints: liveness, readiness, health, status, metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::ApiJson;
use crate::collector::ServiceStatus;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::{RecordCounts, RejectionCount};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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
    let mut details = Map::new();
    details.insert(
        "checks".into(),
        serde_json::to_value(&checks).unwrap_or(Value::Null),
    );
    Err(ApiError::ServiceUnavailable {
        message: format!("not ready: {} unreachable", failing.join(" and ")),
        details,
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// `ok`, or `degraded` when a dependency is down.
    status: &'static str,
    version: &'static str,
    started_at: DateTime<Utc>,
    uptime_seconds: u64,
    /// `sqlite` or `postgres`.
    database_backend: &'static str,
    checks: Checks,
    /// Learning records held; absent when the database is down.
    records: Option<RecordCounts>,
    /// Each of the nine upstream services: configured, circuit state,
    /// freshness of its data, last success and error, records synced.
    upstreams: Vec<ServiceStatus>,
    /// Upstream records rejected, by service, feed and reason.
    rejections: Vec<RejectionCount>,
    /// The drop-off model of each organisation trained since start-up, with
    /// its evaluation (`null` when there was too little history to train).
    dropoff_models: Vec<ModelStatus>,
    /// Jobs in the queue by state (`queued`, `active`, …); empty when the
    /// database is down.
    queue: std::collections::BTreeMap<String, i64>,
    /// Each cache layer's lookups and hit ratio since start-up.
    cache: Vec<CacheLayerStatus>,
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

/// Service status for operators: version, uptime, dependencies, records held.
#[utoipa::path(get, path = "/api/status", tag = "system", responses((status = 200, body = Status)))]
pub async fn status(State(state): State<AppState>) -> ApiJson<Status> {
    let checks = Checks::run(&state).await;
    let up = checks.database == CheckState::Up;
    let records = if up {
        state.store.record_counts().await.ok()
    } else {
        None
    };
    let upstreams = if up {
        state.collector().status().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let rejections = if up {
        state.store.rejections().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let queue = if up {
        state.store.job_counts().await.unwrap_or_default()
    } else {
        Default::default()
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
    ApiJson(Status {
        status: if checks.failing().is_empty() {
            "ok"
        } else {
            "degraded"
        },
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at,
        uptime_seconds: state.uptime().as_secs(),
        database_backend: state.store.backend(),
        checks,
        records,
        upstreams,
        rejections,
        dropoff_models: state
            .models
            .evaluations()
            .await
            .into_iter()
            .map(|(organization_id, evaluation)| ModelStatus {
                organization_id,
                evaluation,
            })
            .collect(),
        queue,
        cache,
    })
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
