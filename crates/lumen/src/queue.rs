//! The job queue as the rest of the service sees it: every kind of job with
//! its typed payload (`JobKind`), enqueueing, and cron schedules. Jobs are
//! rows in the database (`store::jobs`); the workers that run them are in
//! `jobs`.
//!
//! A job is stored as a `kind` column and a JSON payload; `JobKind` is that
//! pair as one serde-tagged enum (`{"kind": …, "payload": …}`), so the
//! stored shape is the serde form of the enum:
//!
//! | kind | payload | does |
//! |---|---|---|
//! | `refresh` | `subjectId`, `organizationId`, `timeRange`, `analytics[]` | recomputes those results into every cache layer |
//! | `batch` | `asOf`, `timeRanges[]`, `skipCollect` (all optional) | the daily batch: Collect, plan chunks, wait, Aggregate |
//! | `batch-chunk` | set by `batch` | Analyze: one chunk of subjects of one role |
//! | `gamification` | `organizationId`, `learners[]`, `allLearners`, `boards`, `batchId`, `asOf` | recomputes an organisation's gamification results (learners' stats, achievements, streak; leaderboards) into every cache layer |
//! | `retention` | none | deletes expired L2 rows, L3 months and old finished jobs |
//! | `report` | `reportId`; or `scheduleId`; or `deliver` + `reportId`; or `cleanup` | generates a report, runs a report schedule, retries one delivery, or removes old report files (docs/reports.md) |
//! | `echo` | any; `{"fail": "why"}` fails | diagnostics: checks that workers run jobs |

use chrono::{DateTime, Utc};
use lumen_core::Role;
use lumen_core::analytics::TimeRange;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

pub use crate::store::jobs::{Enqueued, Job, JobState, NewJob, Schedule};
use crate::store::{Store, StoreError};

/// The priority of the daily batch and most jobs.
pub const PRIORITY_DEFAULT: i32 = 0;
/// Report jobs (generation, scheduled runs, deliveries): below the batch.
pub const PRIORITY_REPORT: i32 = -10;

/// A job: its kind and typed payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "kebab-case")]
pub enum JobKind {
    Refresh(RefreshPayload),
    Batch(BatchPayload),
    BatchChunk(ChunkPayload),
    Gamification(GamificationPayload),
    Retention,
    Report(ReportJob),
    Echo(Value),
}

impl JobKind {
    /// The job as stored: its `kind` and its payload (`null` when it has none).
    pub fn into_parts(self) -> (String, Value) {
        let mut tagged = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // Every variant serialises to an object with a string tag.
            _ => unreachable!("a JobKind serialises to an object"),
        };
        let kind = match tagged.remove("kind") {
            Some(Value::String(kind)) => kind,
            _ => unreachable!("a JobKind has a string tag"),
        };
        (kind, tagged.remove("payload").unwrap_or(Value::Null))
    }

    /// Reads a stored job's kind and payload; an error when either is not
    /// one this version knows (such a job can never run).
    pub fn from_parts(kind: &str, payload: &Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
    }

    /// A job of this kind with the default options (its kind's priority).
    pub fn into_job(self) -> NewJob {
        let priority = self.priority();
        let (kind, payload) = self.into_parts();
        NewJob {
            kind,
            payload,
            priority,
            ..NewJob::default()
        }
    }

    /// Where jobs of this kind queue (higher runs first): reports, asked for
    /// by hand or by a schedule, after the daily batch, so users cannot
    /// delay it by asking for many.
    pub fn priority(&self) -> i32 {
        match self {
            JobKind::Report(_) => PRIORITY_REPORT,
            _ => PRIORITY_DEFAULT,
        }
    }

    /// The priority of a stored kind and payload (the default for unknown ones).
    pub fn priority_of(kind: &str, payload: &Value) -> i32 {
        Self::from_parts(kind, payload).map_or(PRIORITY_DEFAULT, |k| k.priority())
    }
}

/// `refresh`: recompute these analytics of one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshPayload {
    pub subject_id: Uuid,
    /// The organisation of the caller who asked.
    pub organization_id: Uuid,
    pub time_range: TimeRange,
    /// Analytic names.
    pub analytics: Vec<String>,
}

/// `gamification`: recompute gamification results of one organisation
/// (docs/gamification.md §9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GamificationPayload {
    pub organization_id: Uuid,
    /// Learners whose stats, achievements and streak to recompute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<Uuid>,
    /// Every learner of the organisation (the daily batch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_learners: bool,
    /// Every leaderboard of the organisation (each scope and window).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub boards: bool,
    /// The daily batch it is part of: its results are rolled up with the
    /// batch's, and computed as of the batch's `asOf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

/// `batch`: the daily batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPayload {
    /// The end of every window; default: when the job was enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// Default: `30d` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_ranges: Vec<TimeRange>,
    /// Skip the Collect stage (the caller collected already).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_collect: bool,
}

/// `batch-chunk`: one chunk of a batch, subjects of one role of one
/// organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkPayload {
    pub batch_id: Uuid,
    pub organization_id: Uuid,
    pub role: Role,
    pub time_range: TimeRange,
    pub as_of: DateTime<Utc>,
    pub subjects: Vec<Uuid>,
}

/// `report`: the four things a report job does, told apart by their keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReportJob {
    /// Removes report files older than the retention.
    Cleanup { cleanup: bool },
    /// Makes a schedule's next report, generates and delivers it.
    Schedule {
        #[serde(rename = "scheduleId")]
        schedule_id: Uuid,
    },
    /// Retries one delivery channel (`email`, `webhook`) of a report.
    Deliver {
        deliver: String,
        #[serde(rename = "reportId")]
        report_id: Uuid,
    },
    /// Generates a requested report.
    Generate {
        #[serde(rename = "reportId")]
        report_id: Uuid,
    },
}

/// Why the queue refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A schedule's cron expression is not valid; the reason.
    #[error("invalid cron expression: {0}")]
    InvalidCron(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// This process's side of the queue: the store it lives in, and a signal
/// that wakes this process's idle workers when it enqueues a job.
pub struct Queue {
    store: Store,
    wake: Notify,
}

impl Queue {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            wake: Notify::new(),
        }
    }

    /// Enqueues a job; the id of the job that will do the work (an existing
    /// one when the singleton key or id says it is already queued).
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let enqueued = self.store.enqueue_job(&job, Utc::now()).await?;
        self.wake();
        Ok(enqueued)
    }

    /// Wakes this process's idle workers (a job became due).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Resolves at the next `wake`.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Creates or replaces a cron schedule that enqueues `job` once per slot.
    pub async fn upsert_schedule(
        &self,
        name: &str,
        cron: &str,
        job: JobKind,
        owner: Option<Uuid>,
    ) -> Result<(), QueueError> {
        crate::cron::parse_cron(cron).map_err(QueueError::InvalidCron)?;
        let now = Utc::now();
        let existing = self
            .store
            .schedules()
            .await?
            .into_iter()
            .find(|s| s.name == name);
        let (kind, payload) = job.into_parts();
        let schedule = Schedule {
            name: name.to_owned(),
            cron: cron.to_owned(),
            kind,
            payload: payload.to_string(),
            owner_id: owner,
            created_at: existing.map_or(now, |s| s.created_at),
            updated_at: now,
        };
        self.store.upsert_schedule(&schedule).await?;
        Ok(())
    }

    /// Removes a schedule; whether it existed.
    pub async fn delete_schedule(&self, name: &str) -> Result<bool, QueueError> {
        Ok(self.store.delete_schedule(name).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_shapes_are_the_ones_the_old_code_wrote() {
        let id = Uuid::from_u128(1);
        let cases = [
            (JobKind::Retention, "retention", Value::Null),
            (
                JobKind::Report(ReportJob::Generate { report_id: id }),
                "report",
                json!({ "reportId": id }),
            ),
            (
                JobKind::Report(ReportJob::Deliver {
                    deliver: "email".into(),
                    report_id: id,
                }),
                "report",
                json!({ "deliver": "email", "reportId": id }),
            ),
            (
                JobKind::Report(ReportJob::Schedule { schedule_id: id }),
                "report",
                json!({ "scheduleId": id }),
            ),
            (
                JobKind::Report(ReportJob::Cleanup { cleanup: true }),
                "report",
                json!({ "cleanup": true }),
            ),
            (
                JobKind::Batch(BatchPayload {
                    skip_collect: true,
                    ..BatchPayload::default()
                }),
                "batch",
                json!({ "skipCollect": true }),
            ),
        ];
        for (job, kind, payload) in cases {
            assert_eq!(job.clone().into_parts(), (kind.to_owned(), payload.clone()));
            assert_eq!(JobKind::from_parts(kind, &payload).expect("reads"), job);
        }
        assert_eq!(
            JobKind::Batch(BatchPayload::default()).into_parts(),
            ("batch".to_owned(), json!({})),
            "the daily batch's schedule"
        );
    }

    #[test]
    fn unknown_kinds_and_malformed_payloads_do_not_read() {
        assert!(JobKind::from_parts("nope", &Value::Null).is_err());
        assert!(JobKind::from_parts("refresh", &json!({ "subjectId": 1 })).is_err());
        assert!(JobKind::from_parts("report", &json!({ "reportId": "x" })).is_err());
    }
}
