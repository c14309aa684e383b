//! The durable job queue and cron schedules. The SQL is shared by both
//! databases except the claim's row locking: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, while SQLite serialises writers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{ConflictKind, Pool, Store, StoreError, StoreResult, Tx};

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
    /// The state names, and the seeds' `pending` for `queued`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "pending" {
            return Ok(JobState::Queued);
        }
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
struct JobRow {
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

impl Store {
    /// Stores a queued job, unless the id or the singleton key says it is
    /// already there.
    pub async fn enqueue_job(&self, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Enqueued> {
        if let Some(id) = self.insert_job_alone(job, now).await? {
            return Ok(Enqueued::New(id));
        }
        if let Some(id) = job.id {
            return Ok(Enqueued::Existing(id));
        }
        let existing: Option<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM jobs WHERE singleton_key = $1 \
                 AND state IN ('queued', 'active', 'retrying')",
            )
            .bind(&job.singleton_key)
            .fetch_optional(pool)
            .await?
        });
        match existing {
            Some(id) => Ok(Enqueued::Existing(id)),
            // The other job finished in between: try once more.
            None => self
                .insert_job_alone(job, now)
                .await?
                .map(Enqueued::New)
                .ok_or_else(|| StoreError::Conflict {
                    kind: ConflictKind::Duplicate,
                    message: "singleton job raced".into(),
                }),
        }
    }

    /// `insert_job` in a transaction of its own.
    async fn insert_job_alone(
        &self,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        let mut tx = self.begin().await?;
        let inserted = insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Claims up to `limit` runnable jobs for `worker`: queued ones, retries
    /// that are due, and active ones whose lease ran out. Each claim adds an
    /// attempt. Two workers never claim the same job.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>> {
        let rows: Vec<JobRow> = match &self.pool {
            // SQLite runs one writer at a time: the UPDATE claims alone.
            Pool::Sqlite(pool) => {
                sqlx::query_as(
                    "UPDATE jobs SET state = 'active', attempts = attempts + 1, worker = $1, \
                     lease_until = $2, started_at = COALESCE(started_at, $3) \
                     WHERE id IN (SELECT id FROM jobs \
                       WHERE (state IN ('queued', 'retrying') AND run_after <= $3) \
                          OR (state = 'active' AND lease_until < $3) \
                       ORDER BY priority DESC, run_after, created_at LIMIT $4) \
                     RETURNING id, kind, payload, owner_id, parent_id, singleton_key, state, \
                     priority, attempts, max_attempts, run_after, lease_until, worker, \
                     progress_done, progress_total, result, last_error, created_at, started_at, \
                     finished_at",
                )
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            // Concurrent claimers skip the rows another one has locked.
            Pool::Postgres(pool) => {
                sqlx::query_as(
                    "UPDATE jobs SET state = 'active', attempts = attempts + 1, worker = $1, \
                     lease_until = $2, started_at = COALESCE(started_at, $3) \
                     WHERE id IN (SELECT id FROM jobs \
                       WHERE (state IN ('queued', 'retrying') AND run_after <= $3) \
                          OR (state = 'active' AND lease_until < $3) \
                       ORDER BY priority DESC, run_after, created_at LIMIT $4 \
                       FOR UPDATE SKIP LOCKED) \
                     RETURNING id, kind, payload, owner_id, parent_id, singleton_key, state, \
                     priority, attempts, max_attempts, run_after, lease_until, worker, \
                     progress_done, progress_total, result, last_error, created_at, started_at, \
                     finished_at",
                )
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Extends the lease; `false` when the worker no longer holds the job
    /// (cancelled, or its lease ran out and another worker took it).
    pub async fn heartbeat_job(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND worker = $2 AND state = 'active'",
            )
            .bind(id)
            .bind(worker)
            .bind(lease_until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Like a heartbeat, and records progress.
    pub async fn set_job_progress(
        &self,
        id: Uuid,
        worker: &str,
        done: i64,
        total: i64,
    ) -> StoreResult<bool> {
        let updated = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET progress_done = $3, progress_total = $4 \
                 WHERE id = $1 AND worker = $2 AND state = 'active'",
            )
            .bind(id)
            .bind(worker)
            .bind(done)
            .bind(total)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    pub async fn complete_job(
        &self,
        id: Uuid,
        worker: &str,
        result: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = 'completed', result = $3, finished_at = $4, \
                 lease_until = NULL, progress_done = progress_total \
                 WHERE id = $1 AND worker = $2 AND state = 'active'",
            )
            .bind(id)
            .bind(worker)
            .bind(result.to_string())
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Puts an active job back in the queue until `until` without counting
    /// the attempt (a job waiting for other jobs).
    pub async fn snooze_job(
        &self,
        id: Uuid,
        worker: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = 'queued', run_after = $3, attempts = attempts - 1, \
                 lease_until = NULL WHERE id = $1 AND worker = $2 AND state = 'active'",
            )
            .bind(id)
            .bind(worker)
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Records a failed attempt: retried at `retry_at`, or dead when `None`.
    pub async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (sql, at) = match retry_at {
            Some(at) => (
                "UPDATE jobs SET state = 'retrying', run_after = $4, last_error = $3, \
                 lease_until = NULL WHERE id = $1 AND worker = $2 AND state = 'active'",
                at,
            ),
            None => (
                "UPDATE jobs SET state = 'dead', finished_at = $4, last_error = $3, \
                 lease_until = NULL WHERE id = $1 AND worker = $2 AND state = 'active'",
                now,
            ),
        };
        let updated = on_pool!(self, |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(worker)
                .bind(error)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Cancels an unfinished job and its unfinished children; `false` when
    /// it had already finished.
    pub async fn cancel_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let cancelled = on_pool!(tx(&mut tx), |conn| {
            let cancelled = sqlx::query(
                "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_until = NULL \
                 WHERE id = $1 AND state IN ('queued', 'active', 'retrying')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_until = NULL \
                 WHERE parent_id = $1 AND state IN ('queued', 'active', 'retrying')",
            )
            .bind(id)
            .bind(now)
            .execute(conn)
            .await?;
            cancelled
        });
        tx.commit().await?;
        Ok(cancelled == 1)
    }

    pub async fn job(&self, id: Uuid) -> StoreResult<Option<Job>> {
        let row: Option<JobRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, kind, payload, owner_id, parent_id, singleton_key, state, priority, \
                 attempts, max_attempts, run_after, lease_until, worker, progress_done, \
                 progress_total, result, last_error, created_at, started_at, finished_at \
                 FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(TryInto::try_into).transpose()
    }

    /// Children of a job, counted by state.
    pub async fn child_job_counts(&self, parent: Uuid) -> StoreResult<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs WHERE parent_id = $1 GROUP BY state")
                .bind(parent)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Every job, counted by state.
    pub async fn job_counts(&self) -> StoreResult<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Deletes jobs that finished before `before`, and fired slots older than it.
    pub async fn purge_jobs(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool| {
            let jobs = sqlx::query(
                "DELETE FROM jobs WHERE state IN ('completed', 'cancelled', 'dead') \
                 AND finished_at < $1",
            )
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM job_schedule_slots WHERE slot < $1")
                .bind(before)
                .execute(pool)
                .await?;
            jobs
        }))
    }

    pub async fn upsert_schedule(&self, s: &Schedule) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO job_schedules (name, cron, kind, payload, owner_id, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, kind = excluded.kind, \
                 payload = excluded.payload, owner_id = excluded.owner_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(&s.name)
            .bind(&s.cron)
            .bind(&s.kind)
            .bind(&s.payload)
            .bind(s.owner_id)
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn delete_schedule(&self, name: &str) -> StoreResult<bool> {
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM job_schedules WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    pub async fn schedules(&self) -> StoreResult<Vec<Schedule>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT name, cron, kind, payload, owner_id, created_at, updated_at \
                 FROM job_schedules ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Enqueues `job` for the schedule's `slot` unless that slot already
    /// fired (on any instance): the job's id when this call fired it.
    pub async fn fire_schedule(
        &self,
        name: &str,
        slot: DateTime<Utc>,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        let mut tx = self.begin().await?;
        let id = job.id.unwrap_or_else(Uuid::new_v4);
        let fired = on_pool!(tx(&mut tx), |conn| {
            sqlx::query(
                "INSERT INTO job_schedule_slots (name, slot, job_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(slot)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        if fired == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let job = NewJob {
            id: Some(id),
            ..job.clone()
        };
        let inserted = insert_job(&mut tx, &job, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }
}

/// Inserts a queued job unless its id is taken or an unfinished job holds
/// its singleton key: its id when inserted.
async fn insert_job(tx: &mut Tx, job: &NewJob, now: DateTime<Utc>) -> StoreResult<Option<Uuid>> {
    let id = job.id.unwrap_or_else(Uuid::new_v4);
    let inserted = on_pool!(tx(tx), |conn| {
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, owner_id, parent_id, singleton_key, state, \
             priority, max_attempts, run_after, created_at) \
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
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok((inserted == 1).then_some(id))
}
