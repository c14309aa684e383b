//! Reports (docs/reports.md): a learner, trainer or org admin asks for a
//! report of their analytics as PDF, CSV or JSON; generation runs as a job
//! and stores the file in object storage; status, download and history
//! answer only the owner (decided by `lumen_core::authz`). Schedules make
//! reports on a cron; finished scheduled reports are delivered by email
//! and/or a signed webhook; old files are removed after the retention.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use lumen_core::Role;
use lumen_core::analytics::TimeRange;
use lumen_core::authz::{self, Caller};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::analytics as service;
use crate::queue::{JobKind, NewJob, QueueError, ReportJob};
use crate::state::AppState;
use crate::store::{ReportRow, ScheduleRow, StoreError};
use lumen_core::analytics::Analytic;

pub mod delivery;
pub mod pdf;
pub mod render;

/// Why a report request, lookup or schedule failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Per-field reasons, keyed by field name.
    #[error("request validation failed")]
    Invalid(BTreeMap<String, String>),
    /// The caller does not hold the report type's role.
    #[error("{0}")]
    Forbidden(String),
    /// No such report or schedule, another user's, or no file.
    #[error("{0}")]
    NotFound(String),
    /// A per-user limit is reached: schedules, or report storage.
    #[error("{0}")]
    Limit(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The stored `error` of a report that could not be generated (the detail
/// is logged, never stored or shown).
pub const GENERATION_FAILED: &str = "GENERATION_FAILED";
/// The stored `error` of a scheduled report refused because its owner's
/// report storage is full.
pub const STORAGE_FULL: &str = "STORAGE_FULL";

/// The code and message a user sees for a stored report error. Anything
/// but a known code (rows from before codes were stored) reads as a failed
/// generation, so no stored detail ever reaches a user.
pub fn public_error(report_id: Uuid, stored: &str) -> (&'static str, String) {
    match stored {
        STORAGE_FULL => (
            STORAGE_FULL,
            format!(
                "report {report_id} was not made: your report storage is full; new reports \
                 can be made when older ones expire"
            ),
        ),
        _ => (
            GENERATION_FAILED,
            format!(
                "report {report_id} could not be generated; ask again later, or quote its id \
                 to your administrator"
            ),
        ),
    }
}

/// What a report is about: the caller's bundle in one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ReportType {
    Learner,
    Trainer,
    Organization,
}

impl ReportType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "learner" => Some(Self::Learner),
            "trainer" => Some(Self::Trainer),
            "organization" => Some(Self::Organization),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Learner => "learner",
            Self::Trainer => "trainer",
            Self::Organization => "organization",
        }
    }
    /// The role whose analytics bundle the report holds.
    pub fn role(self) -> Role {
        match self {
            Self::Learner => Role::Learner,
            Self::Trainer => Role::Trainer,
            Self::Organization => Role::OrgAdmin,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pdf" => Some(Self::Pdf),
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// `POST /reports/generate` and the report part of a schedule.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportRequest {
    /// `learner`, `trainer` or `organization`.
    #[serde(rename = "type")]
    #[schema(value_type = ReportType, required = true)]
    pub report_type: Option<String>,
    /// `pdf`, `csv` or `json`.
    #[schema(value_type = Format, required = true)]
    pub format: Option<String>,
    /// `7d`, `30d` (default), `90d` or `1y`.
    #[schema(value_type = Option<TimeRange>)]
    pub time_range: Option<String>,
    /// A subset of the type's analytics, by name; default: all of them.
    pub analytics: Option<Vec<String>>,
}

/// A validated report request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub report_type: ReportType,
    pub format: Format,
    pub range: TimeRange,
    /// Empty: the whole bundle.
    pub analytics: Vec<&'static str>,
}

impl Spec {
    /// Validates every field, naming each problem.
    pub fn from_request(r: &ReportRequest) -> Result<Self, ReportError> {
        let mut problems = BTreeMap::new();
        let report_type = match r.report_type.as_deref() {
            None => {
                problems.insert("type".into(), "is required".into());
                None
            }
            Some(t) => ReportType::parse(t).or_else(|| {
                problems.insert(
                    "type".into(),
                    "must be one of learner, trainer, organization".into(),
                );
                None
            }),
        };
        let format = Format::parse(r.format.as_deref().unwrap_or("")).or_else(|| {
            problems.insert("format".into(), "must be one of pdf, csv, json".into());
            None
        });
        let range = match r.time_range.as_deref() {
            None => Some(TimeRange::default()),
            Some(t) => t.parse().ok().or_else(|| {
                problems.insert("timeRange".into(), "must be one of 7d, 30d, 90d, 1y".into());
                None
            }),
        };
        let mut analytics = Vec::new();
        if let (Some(t), Some(names)) = (report_type, &r.analytics) {
            let bundle: Vec<_> = Analytic::bundle(t.role()).collect();
            for name in names {
                match bundle.iter().find(|k| k.name == name) {
                    Some(k) if !analytics.contains(&k.name) => analytics.push(k.name),
                    Some(_) => {}
                    None => {
                        let all: Vec<&str> = bundle.iter().map(|k| k.name).collect();
                        problems.insert(
                            "analytics".into(),
                            format!(
                                "{name:?} is not an analytic of a {} report; one of {}",
                                t.as_str(),
                                all.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        match (report_type, format, range) {
            (Some(report_type), Some(format), Some(range)) if problems.is_empty() => Ok(Self {
                report_type,
                format,
                range,
                analytics,
            }),
            _ => Err(ReportError::Invalid(problems)),
        }
    }

    fn kinds(&self) -> Vec<&'static Analytic> {
        Analytic::bundle(self.report_type.role())
            .filter(|k| self.analytics.is_empty() || self.analytics.contains(&k.name))
            .collect()
    }

    fn analytics_json(&self) -> String {
        serde_json::to_string(&self.analytics).unwrap_or_else(|_| "[]".into())
    }

    /// The spec a stored report or schedule was made with.
    fn of_row(
        report_type: &str,
        format: &str,
        range: &str,
        analytics: &str,
    ) -> anyhow::Result<Self> {
        let names: Vec<String> = serde_json::from_str(analytics)?;
        Spec::from_request(&ReportRequest {
            report_type: Some(report_type.into()),
            format: Some(format.into()),
            time_range: Some(range.into()),
            analytics: Some(names),
        })
        .map_err(|e| anyhow::anyhow!("stored report spec is invalid: {e:?}"))
    }
}

/// A report as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportStatus {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub report_type: String,
    pub format: String,
    pub time_range: String,
    /// The analytics asked for; empty: the whole bundle.
    pub analytics: Vec<String>,
    /// `queued`, `running`, `done`, `failed` or `expired` (file removed by retention).
    pub status: String,
    /// Why a `failed` report failed, for its owner: no internal detail.
    pub error: Option<String>,
    /// `GENERATION_FAILED` or `STORAGE_FULL`, with `error`.
    pub error_code: Option<&'static str>,
    pub job_id: Option<Uuid>,
    pub schedule_id: Option<Uuid>,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Present when `status` is `done`.
    pub download_url: Option<String>,
}

impl From<ReportRow> for ReportStatus {
    fn from(r: ReportRow) -> Self {
        let public = r.error.as_deref().map(|stored| public_error(r.id, stored));
        Self {
            error_code: public.as_ref().map(|(code, _)| *code),
            download_url: (r.status == "done")
                .then(|| format!("/api/v1/reports/{}/download", r.id)),
            id: r.id,
            analytics: serde_json::from_str(&r.analytics).unwrap_or_default(),
            report_type: r.report_type,
            format: r.format,
            time_range: r.time_range,
            status: r.status,
            error: public.map(|(_, message)| message),
            job_id: r.job_id,
            schedule_id: r.schedule_id,
            file_name: r.file_name,
            size_bytes: r.size_bytes,
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}

fn forbidden(d: authz::Denial) -> ReportError {
    ReportError::Forbidden(d.to_string())
}

/// Records a report request and queues its generation.
pub async fn request(
    state: &AppState,
    caller: &Caller,
    spec: &Spec,
    schedule_id: Option<Uuid>,
) -> Result<ReportRow, ReportError> {
    authz::decide_holds_role(caller, spec.report_type.role()).map_err(forbidden)?;
    check_storage(state, caller.user_id).await?;
    let mut row = new_row(caller.user_id, spec, schedule_id);
    state.store.save_report(&row).await?;
    let job = state
        .queue
        .enqueue(NewJob {
            owner: Some(caller.user_id),
            singleton_key: Some(format!("report:{}", row.id)),
            ..JobKind::Report(ReportJob::Generate { report_id: row.id }).into_job()
        })
        .await?;
    row.job_id = Some(job.id());
    state.store.save_report(&row).await?;
    Ok(row)
}

/// Refuses a new report while the owner's stored report files reach
/// `LUMEN_REPORT_STORAGE_PER_USER_BYTES`: space comes back as old reports
/// expire (`LUMEN_REPORT_RETENTION_DAYS`). Nothing is deleted to make room.
async fn check_storage(state: &AppState, owner: Uuid) -> Result<(), ReportError> {
    let used = state.store.report_bytes_of(owner).await?;
    let cap = state.config.reports.storage_per_user_bytes;
    if used >= 0 && used as u64 >= cap {
        return Err(ReportError::Limit(format!(
            "report storage is full ({used} of {cap} bytes); new reports can be made when \
             older ones expire"
        )));
    }
    Ok(())
}

/// The shortest gap between two runs of `cron` over the next year (at most
/// 2000 runs looked at), `None` when it runs at most once.
pub fn shortest_interval(cron: &croner::Cron, from: DateTime<Utc>) -> Option<Duration> {
    let horizon = from + Duration::days(366);
    let mut shortest: Option<Duration> = None;
    let mut previous: Option<DateTime<Utc>> = None;
    for at in cron.iter_after(from).take(2000) {
        if at > horizon {
            break;
        }
        if let Some(prev) = previous {
            let gap = at - prev;
            shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
        }
        previous = Some(at);
    }
    shortest
}

fn new_row(owner: Uuid, spec: &Spec, schedule_id: Option<Uuid>) -> ReportRow {
    ReportRow {
        id: Uuid::new_v4(),
        owner_id: owner,
        report_type: spec.report_type.as_str().into(),
        format: spec.format.as_str().into(),
        time_range: spec.range.as_str().into(),
        analytics: spec.analytics_json(),
        status: "queued".into(),
        error: None,
        job_id: None,
        schedule_id,
        object_key: None,
        file_name: None,
        content_type: None,
        size_bytes: None,
        created_at: Utc::now(),
        finished_at: None,
    }
}

/// A report's job: generates a report, makes a schedule's next report,
/// retries one delivery, or applies the retention.
pub async fn run_job(state: &AppState, job: &ReportJob) -> anyhow::Result<Value> {
    match job {
        ReportJob::Cleanup { .. } => {
            let removed = cleanup(state, Utc::now()).await?;
            Ok(json!({ "removed": removed }))
        }
        ReportJob::Schedule { schedule_id } => match run_schedule(state, *schedule_id).await? {
            ScheduleRun::Made(report) => Ok(json!({ "reportId": report })),
            ScheduleRun::Disabled => Ok(json!({ "reportId": null, "scheduleDisabled": true })),
        },
        ReportJob::Deliver { deliver, report_id } => {
            delivery::deliver(state, *report_id, Some(deliver)).await?;
            Ok(json!({ "reportId": report_id }))
        }
        ReportJob::Generate { report_id } => {
            generate(state, *report_id).await?;
            Ok(json!({ "reportId": report_id }))
        }
    }
}

fn file_name(report_type: &str, format: Format, at: DateTime<Utc>) -> String {
    format!(
        "lumen-{report_type}-report-{}.{}",
        at.format("%Y-%m-%d"),
        format.as_str()
    )
}

/// Generates a stored report's file, idempotently: a report already done is
/// left as it is; running it again after a failure starts over (the object
/// key is the report's, so a second write replaces the first).
pub async fn generate(state: &AppState, report_id: Uuid) -> anyhow::Result<()> {
    let mut row = state
        .store
        .report(report_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no report {report_id}"))?;
    if row.status == "done" {
        return Ok(());
    }
    row.status = "running".into();
    row.error = None;
    state.store.save_report(&row).await?;
    match produce(state, &row).await {
        Ok((key, name, spec, size)) => {
            row.status = "done".into();
            row.object_key = Some(key);
            row.file_name = Some(name);
            row.content_type = Some(spec.format.content_type().into());
            row.size_bytes = Some(size);
            row.finished_at = Some(Utc::now());
            state.store.save_report(&row).await?;
            Ok(())
        }
        Err(e) => {
            // The detail (paths, database and storage messages) stays in
            // the log; the owner sees a stable code and the report's id.
            tracing::error!(report = %row.id, owner = %row.owner_id, error = %e, "report generation failed");
            row.status = "failed".into();
            row.error = Some(GENERATION_FAILED.into());
            row.finished_at = Some(Utc::now());
            state.store.save_report(&row).await?;
            Err(e)
        }
    }
}

/// Computes, renders and stores the file: (object key, file name, spec, size).
async fn produce(state: &AppState, row: &ReportRow) -> anyhow::Result<(String, String, Spec, i64)> {
    let spec = Spec::of_row(
        &row.report_type,
        &row.format,
        &row.time_range,
        &row.analytics,
    )?;
    let data = report_data(state, row, &spec).await?;
    let format = spec.format;
    let font_dirs = state.config.reports.font_dirs.clone();
    let bytes = tokio::task::spawn_blocking(move || match format {
        Format::Pdf => render::pdf(&data, pdf::Fonts::shared(&font_dirs)),
        Format::Csv => Ok(render::csv(&data)),
        Format::Json => Ok(render::json(&data)),
    })
    .await??;
    let key = format!("reports/{}/{}.{}", row.owner_id, row.id, format.as_str());
    let size = bytes.len() as i64;
    state
        .objects
        .put(&key, bytes, format.content_type())
        .await?;
    Ok((
        key,
        file_name(&row.report_type, format, row.created_at),
        spec,
        size,
    ))
}

/// Every analytic of the report, computed for its owner.
pub async fn report_data(
    state: &AppState,
    row: &ReportRow,
    spec: &Spec,
) -> anyhow::Result<render::ReportData> {
    let owner = state
        .store
        .user(row.owner_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the report's owner no longer exists"))?;
    let org = owner.organization_id;
    let organization = state
        .store
        .organization(org)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let subject = match spec.report_type {
        ReportType::Organization => org,
        ReportType::Learner | ReportType::Trainer => owner.id,
    };
    let results = service::serve_many(state, &spec.kinds(), subject, org, spec.range)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = Utc::now();
    let (data_source, missing_sources) = service::freshness(state).await;
    let sections = results
        .into_iter()
        .map(|(kind, result)| render::Section {
            analytic: kind.name,
            result: result
                .and_then(|served| served.envelope(now))
                .map(|envelope| envelope.data)
                .map_err(|e| {
                    let code = e.code();
                    let message = if code == "INTERNAL_ERROR" {
                        tracing::error!(report = %row.id, analytic = kind.name, error = %e, "report section failed");
                        format!("could not be computed (report {})", row.id)
                    } else {
                        e.to_string()
                    };
                    (code.to_owned(), message)
                }),
        })
        .collect();
    Ok(render::ReportData {
        id: row.id,
        report_type: row.report_type.clone(),
        owner_name: owner.full_name,
        organization,
        time_range: spec.range.as_str().into(),
        generated_at: Utc::now().trunc_subsecs(0),
        data_source,
        missing_sources,
        sections,
    })
}

/// A report the caller owns; 404 for anyone else's, as for unknown ids
/// (like jobs), so ids reveal nothing.
pub async fn owned(state: &AppState, caller: &Caller, id: Uuid) -> Result<ReportRow, ReportError> {
    let not_found = || ReportError::NotFound("no such report".into());
    let row = state.store.report(id).await?.ok_or_else(not_found)?;
    authz::decide_owner(caller, Some(row.owner_id)).map_err(|_| not_found())?;
    Ok(row)
}

/// How a finished report's file is handed over.
pub enum Download {
    /// The bytes, streamed from object storage.
    Stream(Box<ReportRow>, crate::objects::ByteStream),
    /// A presigned object-storage URL to redirect to
    /// (`LUMEN_S3_PRESIGN_DOWNLOADS_SECS`).
    Redirect(url::Url),
}

/// The file of a finished report the caller owns.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<Download, ReportError> {
    let row = owned(state, caller, id).await?;
    let key = match (&row.status[..], &row.object_key) {
        ("done", Some(key)) => key.clone(),
        (status, _) => {
            return Err(ReportError::NotFound(format!(
                "the report has no file (status: {status})"
            )));
        }
    };
    if let Some(url) = state.objects.presigned_download(&key).await? {
        return Ok(Download::Redirect(url));
    }
    let stream = state
        .objects
        .get(&key)
        .await?
        .ok_or_else(|| ReportError::NotFound("the report's file is gone".into()))?;
    Ok(Download::Stream(Box::new(row), stream))
}

/// One page of the caller's reports, newest first. Published as
/// `reports.History` (the drop-off risk has a `History` too).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = reports::History)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub reports: Vec<ReportStatus>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

pub async fn history(
    state: &AppState,
    caller: &Caller,
    page: u32,
    page_size: u32,
) -> Result<History, ReportError> {
    let offset = i64::from(page - 1) * i64::from(page_size);
    let (rows, total) = state
        .store
        .reports_of(caller.user_id, i64::from(page_size), offset)
        .await?;
    Ok(History {
        reports: rows.into_iter().map(Into::into).collect(),
        page,
        page_size,
        total,
    })
}

// ---- schedules ----

/// `POST /reports/schedules`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Free text, e.g. "Weekly team report"; default: the type and cron.
    pub name: Option<String>,
    /// Five fields, UTC: minute hour day-of-month month day-of-week (e.g. `0 7 * * 1`).
    #[schema(required = true, example = "0 7 * * 1")]
    pub cron: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = ReportType, required = true)]
    pub report_type: Option<String>,
    #[schema(value_type = Format, required = true)]
    pub format: Option<String>,
    #[schema(value_type = Option<TimeRange>)]
    pub time_range: Option<String>,
    pub analytics: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: Uuid,
    pub name: String,
    pub cron: String,
    #[serde(rename = "type")]
    pub report_type: String,
    pub format: String,
    pub time_range: String,
    pub analytics: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<ScheduleRow> for Schedule {
    fn from(s: ScheduleRow) -> Self {
        Self {
            id: s.id,
            analytics: serde_json::from_str(&s.analytics).unwrap_or_default(),
            name: s.name,
            cron: s.cron,
            report_type: s.report_type,
            format: s.format,
            time_range: s.time_range,
            created_at: s.created_at,
        }
    }
}

/// The job schedule's name for a report schedule.
pub fn job_schedule_name(id: Uuid) -> String {
    format!("report-schedule:{id}")
}

pub async fn create_schedule(
    state: &AppState,
    caller: &Caller,
    req: &ScheduleRequest,
) -> Result<Schedule, ReportError> {
    let spec = Spec::from_request(&ReportRequest {
        report_type: req.report_type.clone(),
        format: req.format.clone(),
        time_range: req.time_range.clone(),
        analytics: req.analytics.clone(),
    });
    let cron = req.cron.as_deref().unwrap_or("").trim().to_owned();
    let cron_check = crate::cron::parse_cron(&cron);
    let name = req.name.as_deref().map(str::trim).unwrap_or("");
    let mut problems = match &spec {
        Err(ReportError::Invalid(p)) => p.clone(),
        _ => BTreeMap::new(),
    };
    let min_interval = state.config.reports.schedule_min_interval;
    match cron_check {
        Err(reason) => {
            problems.insert("cron".into(), reason);
        }
        Ok(parsed) => {
            let min = Duration::from_std(min_interval).unwrap_or(Duration::MAX);
            if shortest_interval(&parsed, Utc::now()).is_some_and(|gap| gap < min) {
                problems.insert(
                    "cron".into(),
                    format!(
                        "runs more often than once every {} minutes, the shortest interval allowed",
                        min_interval.as_secs() / 60
                    ),
                );
            }
        }
    }
    if name.chars().count() > 200 {
        problems.insert("name".into(), "at most 200 characters".into());
    }
    let spec = match spec {
        Ok(spec) if problems.is_empty() => spec,
        _ => return Err(ReportError::Invalid(problems)),
    };
    authz::decide_holds_role(caller, spec.report_type.role()).map_err(forbidden)?;
    let row = ScheduleRow {
        id: Uuid::new_v4(),
        owner_id: caller.user_id,
        name: if name.is_empty() {
            format!("{} report, {cron}", spec.report_type.as_str())
        } else {
            name.to_owned()
        },
        cron,
        report_type: spec.report_type.as_str().into(),
        format: spec.format.as_str().into(),
        time_range: spec.range.as_str().into(),
        analytics: spec.analytics_json(),
        created_at: Utc::now().trunc_subsecs(0),
        organization_id: Some(caller.organization_id),
    };
    let cap = state.config.reports.schedules_per_user;
    if !state
        .store
        .add_report_schedule_within(&row, cap as i64)
        .await?
    {
        return Err(ReportError::Limit(format!(
            "at most {cap} report schedules per user; delete one to add another"
        )));
    }
    let job = JobKind::Report(ReportJob::Schedule {
        schedule_id: row.id,
    });
    state
        .queue
        .upsert_schedule(
            &job_schedule_name(row.id),
            &row.cron,
            job,
            Some(row.owner_id),
        )
        .await?;
    Ok(row.into())
}

pub async fn schedules(state: &AppState, caller: &Caller) -> Result<Vec<Schedule>, ReportError> {
    Ok(state
        .store
        .report_schedules_of(caller.user_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn delete_schedule(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(), ReportError> {
    let not_found = || ReportError::NotFound("no such schedule".into());
    let row = state
        .store
        .report_schedule(id)
        .await?
        .ok_or_else(not_found)?;
    authz::decide_owner(caller, Some(row.owner_id)).map_err(|_| not_found())?;
    state.queue.delete_schedule(&job_schedule_name(id)).await?;
    state.store.delete_report_schedule(id).await?;
    Ok(())
}

/// What one run of a schedule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleRun {
    /// A report was made, with this id.
    Made(Uuid),
    /// The owner may no longer have it: the schedule was removed.
    Disabled,
}

/// One run of a schedule: access re-decided by the policy for the owner as
/// stored now (deleted, moved to another organisation or no longer holding
/// the report's role: the schedule is removed and its runs stop), then a
/// new report of the schedule's spec for its owner, generated, then
/// delivered on each configured channel; a channel that fails is retried by
/// a job of its own.
pub async fn run_schedule(state: &AppState, schedule_id: Uuid) -> anyhow::Result<ScheduleRun> {
    let Some(s) = state.store.report_schedule(schedule_id).await? else {
        // Its owner was deleted (the row goes with them) or it was removed.
        state
            .queue
            .delete_schedule(&job_schedule_name(schedule_id))
            .await?;
        tracing::warn!(schedule = %schedule_id, "report schedule gone: runs stopped");
        return Ok(ScheduleRun::Disabled);
    };
    let spec = Spec::of_row(&s.report_type, &s.format, &s.time_range, &s.analytics)?;
    let owner = state.store.user(s.owner_id).await?;
    let denial = match &owner {
        None => Some(authz::Denial::NotYourSubject),
        Some(user) => {
            let caller = Caller {
                user_id: user.id,
                organization_id: user.organization_id,
                email: user.email.clone(),
                roles: user.roles.clone(),
            };
            s.organization_id
                .map_or(Ok(()), |org| {
                    authz::decide_own_organization(&caller, Some(org))
                })
                .and_then(|()| authz::decide_holds_role(&caller, spec.report_type.role()))
                .err()
        }
    };
    if let Some(denial) = denial {
        state
            .queue
            .delete_schedule(&job_schedule_name(s.id))
            .await?;
        state.store.delete_report_schedule(s.id).await?;
        tracing::warn!(
            schedule = %s.id,
            owner = %s.owner_id,
            reason = %denial,
            "report schedule no longer authorised: removed"
        );
        return Ok(ScheduleRun::Disabled);
    }
    let mut row = new_row(s.owner_id, &spec, Some(s.id));
    if let Err(err) = check_storage(state, s.owner_id).await {
        // The run is recorded as failed, with a reason the owner can read.
        tracing::warn!(schedule = %s.id, owner = %s.owner_id, %err, "scheduled report refused");
        row.status = "failed".into();
        row.error = Some(STORAGE_FULL.into());
        row.finished_at = Some(Utc::now());
        state.store.save_report(&row).await?;
        return Ok(ScheduleRun::Made(row.id));
    }
    state.store.save_report(&row).await?;
    generate(state, row.id).await?;
    for channel in delivery::channels(state) {
        if delivery::deliver(state, row.id, Some(channel))
            .await
            .is_err()
        {
            let retry = ReportJob::Deliver {
                deliver: channel.to_owned(),
                report_id: row.id,
            };
            state
                .queue
                .enqueue(NewJob {
                    owner: Some(s.owner_id),
                    run_after: Some(Utc::now() + Duration::minutes(1)),
                    ..JobKind::Report(retry).into_job()
                })
                .await?;
        }
    }
    Ok(ScheduleRun::Made(row.id))
}

/// Removes report files older than the retention; their reports become
/// `expired`. Returns how many were removed.
pub async fn cleanup(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let cutoff = now - Duration::days(i64::from(state.config.reports.retention_days));
    let objects = &state.objects;
    let old = state.store.reports_finished_before(cutoff).await?;
    for mut row in old.iter().cloned() {
        if let Some(key) = &row.object_key {
            objects.delete(key).await?;
        }
        row.status = "expired".into();
        row.object_key = None;
        state.store.save_report(&row).await?;
    }
    Ok(old.len())
}
