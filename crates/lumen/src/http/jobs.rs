//! Manual refresh and the job endpoints (PRODUCT §3.3 "Refresh and jobs").
//! Callers see only jobs they asked for; another user's job is a 404.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::guard::CurrentUser;
use super::{ApiJson, ApiPath};
use crate::analytics as service;
use crate::http::error::{ApiError, ErrorBody};
use crate::queue::{Job, JobState};
use crate::state::AppState;
use lumen_core::Role;
use lumen_core::analytics::Analytic;
use lumen_core::analytics::TimeRange;
use lumen_core::authz;

/// Published as `jobs.RefreshRequest` (auth has a `RefreshRequest` too).
#[derive(Deserialize, ToSchema)]
#[schema(as = jobs::RefreshRequest)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// The caller's own id.
    user_id: Uuid,
    /// One of the caller's roles.
    role: Role,
    /// Analytics of that role to refresh (names as in the URLs); empty or
    /// absent: all of them.
    #[serde(default)]
    analytics: Vec<String>,
    /// Default `30d`.
    #[serde(default)]
    time_range: Option<TimeRange>,
}

/// Published as `jobs.RefreshResponse` (auth has a `RefreshResponse` too).
#[derive(Serialize, ToSchema)]
#[schema(as = jobs::RefreshResponse)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    job_id: Uuid,
    message: String,
    /// A rough estimate: a few seconds per analytic once a worker is free.
    estimated_completion: DateTime<Utc>,
    queued_analytics: Vec<&'static str>,
}

/// Seconds a refresh takes per analytic, for `estimatedCompletion`.
const SECONDS_PER_ANALYTIC: i64 = 2;

/// Queues a recomputation of the caller's analytics in one of their roles.
#[utoipa::path(
    post,
    path = "/api/v1/analytics/refresh",
    tag = "jobs",
    security(("bearer" = [])),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "queued (or already queued: the same job's id)", body = RefreshResponse),
        (status = 400, description = "`VALIDATION_ERROR`: bad id, role or analytics", body = ErrorBody),
        (status = 403, description = "not the caller's own id, or a role they do not hold", body = ErrorBody),
        (status = 429, description = "3 per hour per user; `retryAfter` and `nextAllowedAt`", body = ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<ApiJson<RefreshResponse>, ApiError> {
    let bundle: Vec<_> = Analytic::bundle(req.role).collect();
    let kinds = if req.analytics.is_empty() {
        bundle
    } else {
        let mut kinds = Vec::new();
        for name in &req.analytics {
            match Analytic::from_name(name).filter(|k| bundle.contains(k)) {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None => {
                    let names: Vec<&str> = bundle.iter().map(|k| k.name).collect();
                    return Err(ApiError::validation(
                        "analytics",
                        format!(
                            "{name:?} is not an analytic of the {} role; expected some of {}",
                            req.role,
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        kinds
    };
    authz::decide_refresh(&current.caller, req.user_id, req.role)
        .map_err(|d| ApiError::Forbidden(d.to_string()))?;
    let org = current.caller.organization_id;
    let subject = if req.role == Role::OrgAdmin {
        org
    } else {
        req.user_id
    };
    let range = req.time_range.unwrap_or_default();
    let job = service::queue_refresh(
        &state,
        &kinds,
        subject,
        org,
        range,
        Some(current.caller.user_id),
    )
    .await?;
    let message = match job {
        crate::queue::Enqueued::New(_) => "Manual refresh queued successfully",
        crate::queue::Enqueued::Existing(_) => "The same refresh is already queued",
    };
    Ok(ApiJson(RefreshResponse {
        job_id: job.id(),
        message: message.into(),
        estimated_completion: Utc::now()
            + chrono::Duration::seconds(SECONDS_PER_ANALYTIC * kinds.len() as i64),
        queued_analytics: kinds.iter().map(|k| k.name).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    job_id: Uuid,
    kind: String,
    /// `queued`, `active`, `retrying`, `completed`, `cancelled` or `dead`.
    status: JobState,
    /// 0–100.
    progress: u8,
    attempts: i32,
    max_attempts: i32,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// When a waiting or retrying job runs next.
    run_after: DateTime<Utc>,
    /// What the job produced, once completed.
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    /// Why the last attempt failed, for the caller: a stable message with
    /// the job's id (the detail is in the service's logs).
    error: Option<String>,
    /// `JOB_RETRYING` (it runs again at `runAfter`) or `JOB_FAILED`, with `error`.
    error_code: Option<&'static str>,
}

impl From<Job> for JobStatus {
    fn from(job: Job) -> Self {
        let progress = match (job.state, job.progress_total) {
            (JobState::Completed, _) => 100,
            (_, 0) => 0,
            (_, total) => (job.progress_done.clamp(0, total) * 100 / total) as u8,
        };
        let (error_code, error) = match (&job.last_error, job.state) {
            (None, _) => (None, None),
            (Some(_), JobState::Retrying) => (
                Some("JOB_RETRYING"),
                Some(format!(
                    "an attempt of job {} failed; it will be tried again",
                    job.id
                )),
            ),
            (Some(_), _) => (
                Some("JOB_FAILED"),
                Some(format!(
                    "job {} failed; quote its id to your administrator",
                    job.id
                )),
            ),
        };
        JobStatus {
            error_code,
            job_id: job.id,
            kind: job.kind,
            status: job.state,
            progress,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            run_after: job.run_after,
            result: job.result,
            error,
        }
    }
}

/// The caller's job, or 404 (also for another user's job).
async fn own_job(state: &AppState, current: &CurrentUser, id: Uuid) -> Result<Job, ApiError> {
    let not_found = || ApiError::NotFound("no such job".into());
    let job = state.store.job(id).await?.ok_or_else(not_found)?;
    authz::decide_owner(&current.caller, job.owner_id).map_err(|_| not_found())?;
    Ok(job)
}

/// A job's status and progress.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{jobId}",
    tag = "jobs",
    security(("bearer" = [])),
    params(("jobId" = Uuid, Path, description = "the job")),
    responses(
        (status = 200, body = JobStatus),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no such job, or not the caller's", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    current: CurrentUser,
) -> Result<ApiJson<JobStatus>, ApiError> {
    Ok(ApiJson(own_job(&state, &current, id).await?.into()))
}

/// Cancels a job that has not finished; a running job stops at its next
/// progress step.
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{jobId}",
    tag = "jobs",
    security(("bearer" = [])),
    params(("jobId" = Uuid, Path, description = "the job")),
    responses(
        (status = 200, description = "the job, now cancelled", body = JobStatus),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no such job, or not the caller's", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: the job had already finished", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    current: CurrentUser,
) -> Result<ApiJson<JobStatus>, ApiError> {
    let job = own_job(&state, &current, id).await?;
    if !state.store.cancel_job(job.id, Utc::now()).await? {
        return Err(ApiError::Conflict(format!(
            "the job is already {}",
            job.state.as_str()
        )));
    }
    Ok(ApiJson(own_job(&state, &current, id).await?.into()))
}
