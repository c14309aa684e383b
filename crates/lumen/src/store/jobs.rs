//! The durable job queue and the database cache layers (L2 results, L3
//! monthly roll-ups), on both databases. The SQL is shared as in
//! `common.rs`; the differences are the claim's row locking
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) and
//! L3's storage (monthly partitions on PostgreSQL, a month column on SQLite).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker that holds its lease.
    Active,
    /// Failed; waits until `run_after` for its next attempt.
    Retrying,
    Completed,
    Cancelled,
    /// Failed `max_attempts` times; no further attempt.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Active,
        JobState::Retrying,
        JobState::Completed,
        JobState::Cancelled,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Active => "active",
            JobState::Retrying => "retrying",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
            JobState::Dead => "dead",
        }
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Cancelled | JobState::Dead
        )
    }
}

impl std::str::FromStr for JobState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("jobs.state = {s:?}")))
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// A deterministic id makes enqueueing idempotent (a job with this id
    /// already stored, in any state, is not enqueued again); `None`: random.
    pub id: Option<Uuid>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The user who asked for it; only they see it over the API.
    pub owner: Option<Uuid>,
    pub parent: Option<Uuid>,
    /// At most one unfinished job per key.
    pub singleton_key: Option<String>,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: i32,
    /// Not before; `None`: now.
    pub run_after: Option<DateTime<Utc>>,
}

impl Default for NewJob {
    fn default() -> Self {
        NewJob {
            id: None,
            kind: String::new(),
            payload: serde_json::Value::Null,
            owner: None,
            parent: None,
            singleton_key: None,
            priority: 0,
            max_attempts: 5,
            run_after: None,
        }
    }
}

/// What enqueueing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New(Uuid),
    /// An unfinished job with the same singleton key, or a job with the same
    /// id, was already there.
    Existing(Uuid),
}

impl Enqueued {
    pub fn id(self) -> Uuid {
        match self {
            Enqueued::New(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub owner_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub singleton_key: Option<String>,
    pub state: JobState,
    pub priority: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    pub result: Option<serde_json::Value>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    id: Uuid,
    kind: String,
    payload: String,
    owner_id: Option<Uuid>,
    parent_id: Option<Uuid>,
    singleton_key: Option<String>,
    state: String,
    priority: i32,
    attempts: i32,
    max_attempts: i32,
    run_after: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    worker: Option<String>,
    progress_done: i64,
    progress_total: i64,
    result: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

fn json_column(column: &str, text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("jobs.{column}: {e}")))
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Job> {
        Ok(Job {
            id: r.id,
            kind: r.kind,
            payload: json_column("payload", &r.payload)?,
            owner_id: r.owner_id,
            parent_id: r.parent_id,
            singleton_key: r.singleton_key,
            state: r.state.parse()?,
            priority: r.priority,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_after: r.run_after,
            lease_until: r.lease_until,
            worker: r.worker,
            progress_done: r.progress_done,
            progress_total: r.progress_total,
            result: r
                .result
                .as_deref()
                .map(|t| json_column("result", t))
                .transpose()?,
            last_error: r.last_error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// A cron schedule that enqueues one job per slot.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub kind: String,
    /// JSON text.
    pub payload: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One stored analytic result (an L2 row, or an L3 row of its month).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredResult {
    pub kind: String,
    pub subject_id: Uuid,
    pub time_range: String,
    pub organization_id: Uuid,
    /// The analytic's `data`, as JSON text.
    pub data: String,
    /// The envelope's `dataSource` when it was computed.
    pub data_source: String,
    pub computed_at: DateTime<Utc>,
    pub batch_id: Option<Uuid>,
}

/// The first day of the month of `at`: the L3 partition key.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    use chrono::Datelike;
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(NaiveDate::MIN)
}

/// The durable job queue.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a queued job, unless the id or the singleton key says it is
    /// already there.
    async fn enqueue_job(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Enqueued>;
    /// Claims up to `limit` runnable jobs for `worker`: queued ones, retries
    /// that are due, and active ones whose lease ran out. Each claim adds an
    /// attempt. Two workers never claim the same job.
    async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>>;
    /// Extends the lease; `false` when the worker no longer holds the job
    /// (cancelled, or its lease ran out and another worker took it).
    async fn heartbeat_job(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Like a heartbeat, and records progress.
    async fn set_job_progress(
        &self,
        id: Uuid,
        worker: &str,
        done: i64,
        total: i64,
    ) -> StoreResult<bool>;
    async fn complete_job(
        &self,
        id: Uuid,
        worker: &str,
        result: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Puts an active job back in the queue until `until` without counting
    /// the attempt (a job waiting for other jobs).
    async fn snooze_job(&self, id: Uuid, worker: &str, until: DateTime<Utc>) -> StoreResult<bool>;
    /// Records a failed attempt: retried at `retry_at`, or dead when `None`.
    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Cancels an unfinished job and its unfinished children; `false` when
    /// it had already finished.
    async fn cancel_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn job(&self, id: Uuid) -> StoreResult<Option<Job>>;
    /// Children of a job, counted by state.
    async fn child_job_counts(&self, parent: Uuid) -> StoreResult<BTreeMap<String, i64>>;
    /// Every job, counted by state.
    async fn job_counts(&self) -> StoreResult<BTreeMap<String, i64>>;
    /// Deletes jobs that finished before `before`, and fired slots older than it.
    async fn purge_jobs(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    async fn upsert_schedule(&self, schedule: &Schedule) -> StoreResult<()>;
    async fn delete_schedule(&self, name: &str) -> StoreResult<bool>;
    async fn schedules(&self) -> StoreResult<Vec<Schedule>>;
    /// Enqueues `job` for the schedule's `slot` unless that slot already
    /// fired (on any instance): the job's id when this call fired it.
    async fn fire_schedule(
        &self,
        name: &str,
        slot: DateTime<Utc>,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>>;
}

/// The database cache layers.
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// L2: the latest result.
    async fn stored_result(
        &self,
        kind: &str,
        subject: Uuid,
        range: &str,
    ) -> StoreResult<Option<StoredResult>>;
    async fn put_result(&self, result: &StoredResult) -> StoreResult<()>;
    /// L3: the result of the latest month up to `month`.
    async fn rollup(
        &self,
        kind: &str,
        subject: Uuid,
        range: &str,
        month: NaiveDate,
    ) -> StoreResult<Option<StoredResult>>;
    /// L3: stores the result as its month's (replacing an earlier one of
    /// the same month).
    async fn put_rollup(&self, result: &StoredResult) -> StoreResult<()>;
    /// The Aggregate stage: copies a batch's L2 results into L3.
    async fn rollup_batch(&self, batch: Uuid, month: NaiveDate) -> StoreResult<u64>;
    /// L2 rows a batch wrote.
    async fn batch_results(&self, batch: Uuid) -> StoreResult<Vec<(String, Uuid, String)>>;
    /// Deletes L2 rows computed before `before`.
    async fn purge_results(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Deletes L3 months before `month` (drops partitions on PostgreSQL).
    async fn purge_rollups(&self, month: NaiveDate) -> StoreResult<u64>;
    /// Makes sure L3 can store these months (creates partitions).
    async fn prepare_rollup_months(&self, months: &[NaiveDate]) -> StoreResult<()>;
}

macro_rules! job_columns {
    () => {
        "id, kind, payload, owner_id, parent_id, singleton_key, state, priority, \
         attempts, max_attempts, run_after, lease_until, worker, progress_done, progress_total, \
         result, last_error, created_at, started_at, finished_at"
    };
}

macro_rules! result_columns {
    () => {
        "kind, subject_id, time_range, organization_id, data, data_source, computed_at"
    };
}

macro_rules! impl_job_store {
    ($store:ty, $db:ty, $skip_locked:literal) => {
        impl $store {
            async fn insert_job<'c, E>(
                executor: E,
                job: &$crate::store::jobs::NewJob,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<uuid::Uuid>>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let id = job.id.unwrap_or_else(uuid::Uuid::new_v4);
                let done = sqlx::query(
                    "INSERT INTO jobs (id, kind, payload, owner_id, parent_id, singleton_key, state, priority, \
                     max_attempts, run_after, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(&job.kind)
                .bind(job.payload.to_string())
                .bind(job.owner)
                .bind(job.parent)
                .bind(&job.singleton_key)
                .bind(job.priority)
                .bind(job.max_attempts.max(1))
                .bind(job.run_after.unwrap_or(now))
                .bind(now)
                .execute(executor)
                .await?;
                Ok((done.rows_affected() == 1).then_some(id))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::jobs::JobStore for $store {
            async fn enqueue_job(
                &self,
                job: &$crate::store::jobs::NewJob,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::jobs::Enqueued> {
                use $crate::store::jobs::Enqueued;
                if let Some(id) = Self::insert_job(&self.pool, job, now).await? {
                    return Ok(Enqueued::New(id));
                }
                if let Some(id) = job.id {
                    return Ok(Enqueued::Existing(id));
                }
                let existing: Option<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE singleton_key = $1 \
                     AND state IN ('queued', 'active', 'retrying')",
                )
                .bind(&job.singleton_key)
                .fetch_optional(&self.pool)
                .await?;
                match existing {
                    Some(id) => Ok(Enqueued::Existing(id)),
                    // The other job finished in between: try once more.
                    None => Self::insert_job(&self.pool, job, now)
                        .await?
                        .map(Enqueued::New)
                        .ok_or_else(|| $crate::store::StoreError::Conflict {
                            kind: $crate::store::ConflictKind::Duplicate,
                            message: "singleton job raced".into(),
                        }),
                }
            }

            async fn claim_jobs(
                &self,
                worker: &str,
                limit: i64,
                lease_until: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::jobs::Job>> {
                let rows = sqlx::query_as::<_, $crate::store::jobs::JobRow>(concat!(
                    "UPDATE jobs SET state = 'active', attempts = attempts + 1, worker = $1, \
                     lease_until = $2, started_at = COALESCE(started_at, $3) \
                     WHERE id IN (SELECT id FROM jobs \
                       WHERE (state IN ('queued', 'retrying') AND run_after <= $3) \
                          OR (state = 'active' AND lease_until < $3) \
                       ORDER BY priority DESC, run_after, created_at LIMIT $4",
                    $skip_locked,
                    ") RETURNING ",
                    job_columns!()
                ))
                    .bind(worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn heartbeat_job(
                &self,
                id: uuid::Uuid,
                worker: &str,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND worker = $2 AND state = 'active'",
                )
                .bind(id)
                .bind(worker)
                .bind(lease_until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_job_progress(
                &self,
                id: uuid::Uuid,
                worker: &str,
                done: i64,
                total: i64,
            ) -> $crate::store::StoreResult<bool> {
                let res = sqlx::query(
                    "UPDATE jobs SET progress_done = $3, progress_total = $4 \
                     WHERE id = $1 AND worker = $2 AND state = 'active'",
                )
                .bind(id)
                .bind(worker)
                .bind(done)
                .bind(total)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn complete_job(
                &self,
                id: uuid::Uuid,
                worker: &str,
                result: &serde_json::Value,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let res = sqlx::query(
                    "UPDATE jobs SET state = 'completed', result = $3, finished_at = $4, lease_until = NULL, \
                     progress_done = progress_total \
                     WHERE id = $1 AND worker = $2 AND state = 'active'",
                )
                .bind(id)
                .bind(worker)
                .bind(result.to_string())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn snooze_job(
                &self,
                id: uuid::Uuid,
                worker: &str,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let res = sqlx::query(
                    "UPDATE jobs SET state = 'queued', run_after = $3, attempts = attempts - 1, \
                     lease_until = NULL WHERE id = $1 AND worker = $2 AND state = 'active'",
                )
                .bind(id)
                .bind(worker)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn fail_job(
                &self,
                id: uuid::Uuid,
                worker: &str,
                error: &str,
                retry_at: Option<chrono::DateTime<chrono::Utc>>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let res = match retry_at {
                    Some(at) => sqlx::query(
                        "UPDATE jobs SET state = 'retrying', run_after = $4, last_error = $3, lease_until = NULL \
                         WHERE id = $1 AND worker = $2 AND state = 'active'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(error)
                    .bind(at),
                    None => sqlx::query(
                        "UPDATE jobs SET state = 'dead', finished_at = $4, last_error = $3, lease_until = NULL \
                         WHERE id = $1 AND worker = $2 AND state = 'active'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(error)
                    .bind(now),
                }
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn cancel_job(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let res = sqlx::query(
                    "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_until = NULL \
                     WHERE id = $1 AND state IN ('queued', 'active', 'retrying')",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_until = NULL \
                     WHERE parent_id = $1 AND state IN ('queued', 'active', 'retrying')",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn job(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::jobs::Job>> {
                sqlx::query_as::<_, $crate::store::jobs::JobRow>(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM jobs WHERE id = $1"
                ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryInto::try_into)
                    .transpose()
            }

            async fn child_job_counts(
                &self,
                parent: uuid::Uuid,
            ) -> $crate::store::StoreResult<std::collections::BTreeMap<String, i64>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT state, COUNT(*) FROM jobs WHERE parent_id = $1 GROUP BY state",
                )
                .bind(parent)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().collect())
            }

            async fn job_counts(
                &self,
            ) -> $crate::store::StoreResult<std::collections::BTreeMap<String, i64>> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().collect())
            }

            async fn purge_jobs(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                let jobs = sqlx::query(
                    "DELETE FROM jobs WHERE state IN ('completed', 'cancelled', 'dead') AND finished_at < $1",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                sqlx::query("DELETE FROM job_schedule_slots WHERE slot < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(jobs.rows_affected())
            }

            async fn upsert_schedule(
                &self,
                s: &$crate::store::jobs::Schedule,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO job_schedules (name, cron, kind, payload, owner_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, kind = excluded.kind, \
                     payload = excluded.payload, owner_id = excluded.owner_id, updated_at = excluded.updated_at",
                )
                .bind(&s.name)
                .bind(&s.cron)
                .bind(&s.kind)
                .bind(&s.payload)
                .bind(s.owner_id)
                .bind(s.created_at)
                .bind(s.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_schedule(&self, name: &str) -> $crate::store::StoreResult<bool> {
                let res = sqlx::query("DELETE FROM job_schedules WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn schedules(
                &self,
            ) -> $crate::store::StoreResult<Vec<$crate::store::jobs::Schedule>> {
                Ok(sqlx::query_as(
                    "SELECT name, cron, kind, payload, owner_id, created_at, updated_at \
                     FROM job_schedules ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn fire_schedule(
                &self,
                name: &str,
                slot: chrono::DateTime<chrono::Utc>,
                job: &$crate::store::jobs::NewJob,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<uuid::Uuid>> {
                let mut tx = self.pool.begin().await?;
                let id = job.id.unwrap_or_else(uuid::Uuid::new_v4);
                let fired = sqlx::query(
                    "INSERT INTO job_schedule_slots (name, slot, job_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(slot)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if fired.rows_affected() == 0 {
                    return Ok(None);
                }
                let job = $crate::store::jobs::NewJob {
                    id: Some(id),
                    ..job.clone()
                };
                let inserted = Self::insert_job(&mut *tx, &job, now).await?;
                tx.commit().await?;
                Ok(inserted)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::jobs::ResultStore for $store {
            async fn stored_result(
                &self,
                kind: &str,
                subject: uuid::Uuid,
                range: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::jobs::StoredResult>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    result_columns!(),
                    ", batch_id FROM analytics_results \
                     WHERE kind = $1 AND subject_id = $2 AND time_range = $3"
                ))
                    .bind(kind)
                    .bind(subject)
                    .bind(range)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_result(
                &self,
                r: &$crate::store::jobs::StoredResult,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO analytics_results (kind, subject_id, time_range, organization_id, data, \
                     data_source, computed_at, batch_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (kind, subject_id, time_range) DO UPDATE SET \
                     organization_id = excluded.organization_id, data = excluded.data, \
                     data_source = excluded.data_source, computed_at = excluded.computed_at, \
                     batch_id = excluded.batch_id \
                     WHERE analytics_results.computed_at <= excluded.computed_at",
                )
                .bind(&r.kind)
                .bind(r.subject_id)
                .bind(&r.time_range)
                .bind(r.organization_id)
                .bind(&r.data)
                .bind(&r.data_source)
                .bind(r.computed_at)
                .bind(r.batch_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn rollup(
                &self,
                kind: &str,
                subject: uuid::Uuid,
                range: &str,
                month: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<Option<$crate::store::jobs::StoredResult>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    result_columns!(),
                    ", NULL AS batch_id FROM analytics_rollups \
                     WHERE kind = $1 AND subject_id = $2 AND time_range = $3 AND month <= $4 \
                     ORDER BY month DESC LIMIT 1"
                ))
                    .bind(kind)
                    .bind(subject)
                    .bind(range)
                    .bind(month)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_rollup(
                &self,
                r: &$crate::store::jobs::StoredResult,
            ) -> $crate::store::StoreResult<()> {
                let month = $crate::store::jobs::month_of(r.computed_at);
                self.ensure_months(&[month]).await?;
                sqlx::query(
                    "INSERT INTO analytics_rollups (month, kind, subject_id, time_range, organization_id, \
                     data, data_source, computed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (month, kind, subject_id, time_range) DO UPDATE SET \
                     organization_id = excluded.organization_id, data = excluded.data, \
                     data_source = excluded.data_source, computed_at = excluded.computed_at \
                     WHERE analytics_rollups.computed_at <= excluded.computed_at",
                )
                .bind(month)
                .bind(&r.kind)
                .bind(r.subject_id)
                .bind(&r.time_range)
                .bind(r.organization_id)
                .bind(&r.data)
                .bind(&r.data_source)
                .bind(r.computed_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn rollup_batch(
                &self,
                batch: uuid::Uuid,
                month: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<u64> {
                self.ensure_months(&[month]).await?;
                let res = sqlx::query(
                    "INSERT INTO analytics_rollups (month, kind, subject_id, time_range, organization_id, \
                     data, data_source, computed_at) \
                     SELECT $2, kind, subject_id, time_range, organization_id, data, data_source, computed_at \
                     FROM analytics_results WHERE batch_id = $1 \
                     ON CONFLICT (month, kind, subject_id, time_range) DO UPDATE SET \
                     organization_id = excluded.organization_id, data = excluded.data, \
                     data_source = excluded.data_source, computed_at = excluded.computed_at \
                     WHERE analytics_rollups.computed_at <= excluded.computed_at",
                )
                .bind(batch)
                .bind(month)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected())
            }

            async fn batch_results(
                &self,
                batch: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<(String, uuid::Uuid, String)>> {
                Ok(sqlx::query_as(
                    "SELECT kind, subject_id, time_range FROM analytics_results WHERE batch_id = $1 \
                     ORDER BY kind, subject_id, time_range",
                )
                .bind(batch)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn purge_results(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                let res = sqlx::query("DELETE FROM analytics_results WHERE computed_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected())
            }

            async fn purge_rollups(
                &self,
                month: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<u64> {
                self.drop_months_before(month).await
            }

            async fn prepare_rollup_months(
                &self,
                months: &[chrono::NaiveDate],
            ) -> $crate::store::StoreResult<()> {
                self.ensure_months(months).await
            }
        }
    };
}
