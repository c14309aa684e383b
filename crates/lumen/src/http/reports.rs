//! Report endpoints (docs/reports.md). Thin: `crate::reports` asks
//! `lumen_core::authz` about ownership and roles.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::ApiJson;
use super::extract::{ApiPath, ApiQuery, int_from_1_to};
use super::guard::CurrentUser;
use crate::http::error::{ApiError, ErrorBody};
use crate::reports::{self, History, ReportRequest, ReportStatus, Schedule, ScheduleRequest, Spec};
use crate::state::AppState;

/// The answer to a generation request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub report_id: Uuid,
    /// The job generating it, once the durable queue runs it.
    pub job_id: Option<Uuid>,
    pub status: String,
    pub status_url: String,
}

/// `GET /reports/history`'s query.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    #[serde(default, deserialize_with = "int_from_1_to::<1_000_000, _>")]
    page: Option<u32>,
    #[serde(default, deserialize_with = "int_from_1_to::<100, _>")]
    page_size: Option<u32>,
}

/// Queues a report of the caller's analytics.
#[utoipa::path(
    post,
    path = "/api/v1/reports/generate",
    tag = "reports",
    security(("bearer" = [])),
    request_body = ReportRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 400, description = "`VALIDATION_ERROR` per field", body = ErrorBody),
        (status = 403, description = "the caller does not hold the report type's role", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: the caller's report storage is full (`LUMEN_REPORT_STORAGE_PER_USER_BYTES`); space returns as old reports expire", body = ErrorBody),
    )
)]
pub async fn generate(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<ReportRequest>,
) -> Result<(StatusCode, ApiJson<Accepted>), ApiError> {
    let spec = Spec::from_request(&body)?;
    let row = reports::request(&state, &current.caller, &spec, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(Accepted {
            status_url: format!("/api/v1/reports/{}/status", row.id),
            report_id: row.id,
            job_id: row.job_id,
            status: row.status,
        }),
    ))
}

/// A report's state (owner only).
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}/status",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the report")),
    responses(
        (status = 200, body = ReportStatus),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no such report, or another user's", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    current: CurrentUser,
) -> Result<ApiJson<ReportStatus>, ApiError> {
    let row = reports::owned(&state, &current.caller, id).await?;
    Ok(ApiJson(row.into()))
}

/// The report's file, streamed, with its content type and file name (owner only).
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}/download",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the report")),
    responses(
        (status = 200, description = "the file, as an attachment", content(
            (Vec<u8> = "application/pdf"),
            (String = "text/csv"),
            (Object = "application/json"),
        )),
        (status = 307, description = "when downloads are presigned (LUMEN_S3_PRESIGN_DOWNLOADS_SECS): a redirect to a presigned object-storage URL in `Location`, valid for that many seconds"),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no such report, another user's, or no file (not generated yet, failed, or removed by retention)", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let (row, stream) = match reports::download(&state, &current.caller, id).await? {
        reports::Download::Stream(row, stream) => (*row, stream),
        reports::Download::Redirect(url) => {
            let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            return Ok(response);
        }
    };
    let name = row
        .file_name
        .unwrap_or_else(|| format!("{}.{}", row.id, row.format));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    let content_type = row
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(size) = row.size_bytes {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// The caller's reports, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/reports/history",
    tag = "reports",
    security(("bearer" = [])),
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, description = "from 1 (default 1)"),
        ("pageSize" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100 (default 20)"),
    ),
    responses(
        (status = 200, body = History),
        (status = 400, body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
    current: CurrentUser,
) -> Result<ApiJson<History>, ApiError> {
    let page = query.page.unwrap_or(1);
    let page_size = query.page_size.unwrap_or(20);
    Ok(ApiJson(
        reports::history(&state, &current.caller, page, page_size).await?,
    ))
}

/// Creates a report schedule for the caller.
#[utoipa::path(
    post,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    security(("bearer" = [])),
    request_body = ScheduleRequest,
    responses(
        (status = 201, body = Schedule),
        (status = 400, description = "`VALIDATION_ERROR` per field (cron, type, format, …); `cron` also when it runs more often than `LUMEN_REPORT_SCHEDULE_MIN_INTERVAL_SECS` allows (default hourly)", body = ErrorBody),
        (status = 403, description = "the caller does not hold the report type's role", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: the caller has as many schedules as allowed (`LUMEN_REPORT_SCHEDULES_PER_USER`, default 10)", body = ErrorBody),
    )
)]
pub async fn create_schedule(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<(StatusCode, ApiJson<Schedule>), ApiError> {
    Ok((
        StatusCode::CREATED,
        ApiJson(reports::create_schedule(&state, &current.caller, &body).await?),
    ))
}

/// The caller's report schedules.
#[utoipa::path(
    get,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Schedule>),
    )
)]
pub async fn schedules(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<ApiJson<Vec<Schedule>>, ApiError> {
    Ok(ApiJson(reports::schedules(&state, &current.caller).await?))
}

/// Deletes one of the caller's report schedules.
#[utoipa::path(
    delete,
    path = "/api/v1/reports/schedules/{id}",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the schedule")),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, body = ErrorBody),
        (status = 404, description = "no such schedule, or another user's", body = ErrorBody),
    )
)]
pub async fn delete_schedule(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    current: CurrentUser,
) -> Result<StatusCode, ApiError> {
    reports::delete_schedule(&state, &current.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
