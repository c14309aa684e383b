//! The durable job queue's runtime: enqueueing, workers that claim jobs
//! under a lease and renew it by heartbeat, retries with exponential
//! backoff and jitter, cancellation, and cron schedules that fire once per
//! slot across every instance. The queue itself is in the database
//! (`store::jobs`); this module only runs it.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
pub use crate::store::jobs::{Enqueued, Job, JobState, NewJob, Schedule};

pub mod batch;
mod handlers;

/// How a process runs jobs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once by this process; 0: this process runs none.
    pub concurrency: usize,
    /// A claimed job is the worker's until then, renewed by heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for jobs enqueued by other processes.
    pub poll: Duration,
    /// How often the scheduler looks for due cron slots.
    pub schedule_tick: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            schedule_tick: Duration::from_secs(30),
        }
    }
}

/// This process's side of the queue.
#[derive(Default)]
pub struct Queue {
    /// Wakes idle workers when this process enqueues a job.
    wake: Notify,
    /// The records the last batch chunk here used, for the next chunk.
    batch_data: tokio::sync::Mutex<Option<batch::BatchData>>,
}

/// Enqueues a job; the id of the job that will do the work (an existing
/// one when the singleton key or id says it is already queued).
pub async fn enqueue(state: &AppState, job: NewJob) -> Result<Enqueued, ApiError> {
    let enqueued = state.store.enqueue_job(&job, Utc::now()).await?;
    state.queue.wake.notify_waiters();
    Ok(enqueued)
}

/// Parses a 5-field cron expression (minute hour day-of-month month
/// day-of-week, UTC).
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err("must have 5 fields: minute hour day-of-month month day-of-week".into());
    }
    croner::Cron::from_str(expr).map_err(|e| e.to_string())
}

/// Creates or replaces a cron schedule that enqueues a `kind` job with
/// `payload` once per slot.
pub async fn upsert_schedule(
    state: &AppState,
    name: &str,
    cron: &str,
    kind: &str,
    payload: Value,
    owner: Option<Uuid>,
) -> Result<(), ApiError> {
    parse_cron(cron).map_err(|reason| ApiError::validation("cron", reason))?;
    let now = Utc::now();
    let existing = state
        .store
        .schedules()
        .await?
        .into_iter()
        .find(|s| s.name == name);
    let schedule = Schedule {
        name: name.to_owned(),
        cron: cron.to_owned(),
        kind: kind.to_owned(),
        payload: payload.to_string(),
        owner_id: owner,
        created_at: existing.map_or(now, |s| s.created_at),
        updated_at: now,
    };
    state.store.upsert_schedule(&schedule).await?;
    Ok(())
}

pub async fn delete_schedule(state: &AppState, name: &str) -> Result<bool, ApiError> {
    Ok(state.store.delete_schedule(name).await?)
}

/// The retry delay after `attempt` failed attempts: exponential from 5 s,
/// capped at 1 h, with "equal jitter" (half fixed, half random) so that
/// jobs failing together do not retry together.
pub fn backoff(attempt: i32) -> Duration {
    let exp = 5u64.saturating_mul(1u64 << attempt.clamp(1, 20).saturating_sub(1));
    let base = exp.min(3600) as f64;
    Duration::from_secs_f64(base / 2.0 + base / 2.0 * rand_unit())
}

fn rand_unit() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Raised inside a job whose worker lost it (cancelled, or its lease ran
/// out and another worker took it over): stop without touching it.
#[derive(Debug, thiserror::Error)]
#[error("the job was cancelled or taken over")]
pub struct Cancelled;

/// A job's handler ends early with this to wait: the job goes back to the
/// queue until the given time, and the attempt does not count.
#[derive(Debug, thiserror::Error)]
#[error("waiting {0:?}")]
pub struct Snooze(pub Duration);

/// A failure that retrying cannot fix (a malformed payload): the job is
/// dead at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// What a running job sees of the queue.
pub struct JobContext {
    pub state: AppState,
    pub job: Job,
    worker: String,
    lost: Arc<AtomicBool>,
}

impl JobContext {
    /// Records progress; `Err(Cancelled)` when the job was cancelled or
    /// taken over, and the handler should stop.
    pub async fn progress(&self, done: i64, total: i64) -> anyhow::Result<()> {
        self.check()?;
        if !self
            .state
            .store
            .set_job_progress(self.job.id, &self.worker, done, total)
            .await?
        {
            self.lost.store(true, Ordering::Relaxed);
            return Err(Cancelled.into());
        }
        Ok(())
    }

    /// `Err(Cancelled)` once the worker no longer holds the job.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.lost.load(Ordering::Relaxed) {
            Err(Cancelled.into())
        } else {
            Ok(())
        }
    }
}

/// Runs `config.concurrency` jobs at a time until `shutdown`; jobs still
/// running then are left to their lease (another worker takes them over).
pub async fn run_workers(state: AppState, config: WorkerConfig, shutdown: CancellationToken) {
    if config.concurrency == 0 {
        return;
    }
    let worker = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        Uuid::new_v4().simple()
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency));
    tracing::info!(%worker, concurrency = config.concurrency, "job worker started");
    loop {
        let free = slots.available_permits();
        let mut claimed = Vec::new();
        if free > 0 {
            let now = Utc::now();
            match state
                .store
                .claim_jobs(&worker, free as i64, lease_end(now, config.lease), now)
                .await
            {
                Ok(jobs) => claimed = jobs,
                Err(err) => tracing::warn!(error = %err, "claiming jobs failed"),
            }
        }
        let idle = claimed.is_empty();
        for job in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (state, worker, lease) = (state.clone(), worker.clone(), config.lease);
            tokio::spawn(async move {
                execute(state, worker, job, lease).await;
                drop(permit);
            });
        }
        if idle || slots.available_permits() == 0 {
            let woken = state.queue.wake.notified();
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = woken => {}
                () = tokio::time::sleep(config.poll) => {}
                // A finished job frees a slot.
                Ok(p) = slots.clone().acquire_owned(), if slots.available_permits() == 0 => drop(p),
            }
        } else if shutdown.is_cancelled() {
            return;
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "lumen".into())
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60))
}

/// Runs one claimed job to its end: completed, retried later, or dead.
async fn execute(state: AppState, worker: String, job: Job, lease: Duration) {
    let started = std::time::Instant::now();
    let store = state.store.clone();
    let kind = job.kind.clone();
    let id = job.id;
    if job.attempts > job.max_attempts {
        // Its lease ran out more often than it may be attempted.
        let _ = store
            .fail_job(
                id,
                &worker,
                "lease expired on its last attempt",
                None,
                Utc::now(),
            )
            .await;
        state.metrics.job_finished(&kind, "dead", 0.0);
        return;
    }
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (store, worker, lost) = (store.clone(), worker.clone(), lost.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match store
                    .heartbeat_job(id, &worker, lease_end(Utc::now(), lease))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(err) => tracing::warn!(job = %id, error = %err, "heartbeat failed"),
                }
            }
        })
    };
    let ctx = JobContext {
        state: state.clone(),
        job,
        worker: worker.clone(),
        lost: lost.clone(),
    };
    let outcome = handlers::run(&ctx).await;
    heartbeat.abort();
    let now = Utc::now();
    let seconds = started.elapsed().as_secs_f64();
    let attempts = ctx.job.attempts;
    let result = match outcome {
        _ if lost.load(Ordering::Relaxed) => {
            tracing::info!(job = %id, kind, "job cancelled or taken over");
            return;
        }
        Ok(value) => store
            .complete_job(id, &worker, &value, now)
            .await
            .map(|_| "completed"),
        Err(err) if err.is::<Cancelled>() => return,
        Err(err) if err.is::<Snooze>() => {
            let wait = err
                .downcast_ref::<Snooze>()
                .map_or(Duration::from_secs(1), |s| s.0);
            let until =
                now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1));
            store
                .snooze_job(id, &worker, until)
                .await
                .map(|_| "waiting")
        }
        Err(err) => {
            let message = format!("{err:#}");
            let retry_at = (attempts < ctx.job.max_attempts && !err.is::<Permanent>()).then(|| {
                now + chrono::Duration::from_std(backoff(attempts))
                    .unwrap_or(chrono::Duration::hours(1))
            });
            tracing::warn!(job = %id, kind, attempts, error = message, retry_at = ?retry_at, "job failed");
            store
                .fail_job(id, &worker, &message, retry_at, now)
                .await
                .map(|_| {
                    if retry_at.is_some() {
                        "retrying"
                    } else {
                        "dead"
                    }
                })
        }
    };
    match result {
        Ok(state_name) => state.metrics.job_finished(&kind, state_name, seconds),
        Err(err) => tracing::error!(job = %id, error = %err, "recording the job's end failed"),
    }
}

/// The built-in schedules: the daily batch (`LUMEN_BATCH_CRON`, removed
/// when `off`) and the nightly retention clean-up.
pub async fn register_schedules(state: &AppState) -> Result<(), ApiError> {
    match &state.config.batch_cron {
        Some(cron) => {
            upsert_schedule(
                state,
                "daily-batch",
                cron,
                "batch",
                serde_json::json!({}),
                None,
            )
            .await?
        }
        None => {
            delete_schedule(state, "daily-batch").await?;
        }
    }
    upsert_schedule(
        state,
        "retention",
        "30 3 * * *",
        "retention",
        Value::Null,
        None,
    )
    .await
}

/// Starts this process's background work: the scheduler, `LUMEN_WORKERS`
/// workers and, with Redis, the L1 invalidation listener. All stop at
/// `shutdown`.
pub async fn start(
    state: &AppState,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    register_schedules(state).await?;
    let config = WorkerConfig {
        concurrency: state.config.workers,
        lease: state.config.job_lease,
        ..WorkerConfig::default()
    };
    let mut tasks = vec![
        tokio::spawn(run_scheduler(
            state.clone(),
            config.schedule_tick,
            shutdown.clone(),
        )),
        tokio::spawn(run_workers(state.clone(), config, shutdown.clone())),
    ];
    let l1 = state.l1.clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        tokio::select! {
            () = l1.listen_for_invalidations() => {}
            () = stop.cancelled() => {}
        }
    }));
    Ok(tasks)
}

/// Fires due cron slots every `tick` until `shutdown`, and publishes the
/// queue's depth to the metrics.
pub async fn run_scheduler(state: AppState, tick: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(tick);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(err) = fire_due(&state, Utc::now()).await {
            tracing::warn!(error = %err, "scheduler tick failed");
        }
        if let Ok(counts) = state.store.job_counts().await {
            state.metrics.set_queue_depth(&counts);
        }
    }
}

/// A missed slot is still fired when it is at most this old (an instance
/// that was down at 02:00 runs the daily batch when it comes back).
const CATCH_UP: chrono::Duration = chrono::Duration::hours(24);

/// Enqueues each schedule's latest due slot, unless it already fired
/// (here or on another instance). The jobs it fired.
pub async fn fire_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<Vec<Uuid>> {
    let mut fired = Vec::new();
    for schedule in state.store.schedules().await? {
        let Some(slot) = latest_slot(&schedule, now) else {
            continue;
        };
        let job = NewJob {
            kind: schedule.kind.clone(),
            payload: serde_json::from_str(&schedule.payload).unwrap_or(Value::Null),
            owner: schedule.owner_id,
            // One job per schedule and slot, even if the slot row is purged.
            id: Some(Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("schedule:{}:{}", schedule.name, slot.to_rfc3339()).as_bytes(),
            )),
            ..NewJob::default()
        };
        if let Some(id) = state
            .store
            .fire_schedule(&schedule.name, slot, &job, now)
            .await?
        {
            tracing::info!(schedule = schedule.name, %slot, job = %id, "schedule fired");
            fired.push(id);
        }
    }
    if !fired.is_empty() {
        state.queue.wake.notify_waiters();
    }
    Ok(fired)
}

/// The schedule's latest slot at or before `now` that came after the
/// schedule was created and within the catch-up window.
fn latest_slot(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = parse_cron(&schedule.cron).ok()?;
    let slot = cron.find_previous_occurrence(&now, true).ok()?;
    (slot >= schedule.created_at && now - slot <= CATCH_UP).then_some(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str, created_at: DateTime<Utc>) -> Schedule {
        Schedule {
            name: "s".into(),
            cron: cron.into(),
            kind: "k".into(),
            payload: "null".into(),
            owner_id: None,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn latest_slot_is_the_last_due_one_after_creation() {
        let t = |h, m| {
            Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0)
                .single()
                .expect("valid")
        };
        let s = schedule("0 2 * * *", t(1, 0));
        assert_eq!(latest_slot(&s, t(1, 59)), None, "not yet due");
        assert_eq!(latest_slot(&s, t(2, 0)), Some(t(2, 0)));
        assert_eq!(latest_slot(&s, t(23, 0)), Some(t(2, 0)));
        let late = schedule("0 2 * * *", t(3, 0));
        assert_eq!(latest_slot(&late, t(4, 0)), None, "created after the slot");
        let every = schedule("*/15 * * * *", t(0, 0));
        assert_eq!(latest_slot(&every, t(1, 7)), Some(t(1, 0)));
    }

    #[test]
    fn cron_needs_five_fields() {
        assert!(parse_cron("0 2 * * *").is_ok());
        assert!(parse_cron("0 0 2 * * *").is_err());
        assert!(parse_cron("61 2 * * *").is_err());
        assert!(parse_cron("nonsense").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt).as_secs_f64();
            let base = (5.0 * 2f64.powi(attempt - 1)).min(3600.0);
            assert!(d >= base / 2.0 && d <= base, "attempt {attempt}: {d}");
        }
    }
}
