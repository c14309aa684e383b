//! The job queue's runtime: workers that claim jobs under a lease and renew
//! it by heartbeat, retries with exponential backoff and jitter,
//! cancellation, and cron schedules that fire once per slot across every
//! instance. What a job is and how it is enqueued is `queue`; the queue
//! itself is in the database (`store::jobs`); this module only runs it.
//!
//! A handler (`handlers.rs`) ends with an explicit [`JobOutcome`]; inside
//! it, `?` stops early with a [`Stop`] (retry on any error, or `Permanent`,
//! `Snooze`, `Cancelled`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::queue::{
    BatchPayload, ChunkPayload, Enqueued, Job, JobKind, JobState, NewJob, QueueError,
    RefreshPayload, ReportJob, Schedule,
};
use crate::state::AppState;

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

/// How a job's run ended, as its handler says: the worker records it.
#[derive(Debug)]
pub enum JobOutcome {
    /// Completed, with the result stored on the job.
    Done(Value),
    /// Failed; retried after a backoff until its attempts run out.
    Retry(String),
    /// Failed in a way retrying cannot fix (a malformed payload): dead at once.
    Permanent(String),
    /// Back to the queue until then, without counting an attempt.
    Snooze(Duration),
    /// The worker lost the job (cancelled, or taken over after its lease
    /// ran out): leave it alone.
    Cancelled,
}

/// Why a handler stopped before its result: `?` turns any error into
/// `Retry`.
#[derive(Debug)]
pub enum Stop {
    Retry(anyhow::Error),
    Permanent(String),
    Snooze(Duration),
    Cancelled,
}

impl<E: Into<anyhow::Error>> From<E> for Stop {
    fn from(err: E) -> Self {
        Stop::Retry(err.into())
    }
}

impl From<Result<Value, Stop>> for JobOutcome {
    fn from(result: Result<Value, Stop>) -> Self {
        match result {
            Ok(value) => JobOutcome::Done(value),
            Err(Stop::Retry(err)) => JobOutcome::Retry(format!("{err:#}")),
            Err(Stop::Permanent(reason)) => JobOutcome::Permanent(reason),
            Err(Stop::Snooze(wait)) => JobOutcome::Snooze(wait),
            Err(Stop::Cancelled) => JobOutcome::Cancelled,
        }
    }
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

/// What a running job sees of the queue.
pub struct JobContext {
    pub state: AppState,
    pub job: Job,
    worker: String,
    lost: Arc<AtomicBool>,
    /// What this process's last batch chunk loaded, for its next chunk.
    batch_data: Arc<batch::Held>,
}

impl JobContext {
    /// Records progress; `Err(Cancelled)` when the job was cancelled or
    /// taken over, and the handler should stop.
    pub async fn progress(&self, done: i64, total: i64) -> Result<(), Stop> {
        self.check()?;
        if !self
            .state
            .store
            .set_job_progress(self.job.id, &self.worker, done, total)
            .await?
        {
            self.lost.store(true, Ordering::Relaxed);
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// `Err(Cancelled)` once the worker no longer holds the job.
    pub fn check(&self) -> Result<(), Stop> {
        if self.lost.load(Ordering::Relaxed) {
            Err(Stop::Cancelled)
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
    let batch_data = Arc::new(batch::Held::default());
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
            let batch_data = batch_data.clone();
            tokio::spawn(async move {
                execute(state, worker, job, lease, batch_data).await;
                drop(permit);
            });
        }
        if idle || slots.available_permits() == 0 {
            let woken = state.queue.woken();
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
async fn execute(
    state: AppState,
    worker: String,
    job: Job,
    lease: Duration,
    batch_data: Arc<batch::Held>,
) {
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
        batch_data,
    };
    let outcome = handlers::run(&ctx).await;
    heartbeat.abort();
    let now = Utc::now();
    let seconds = started.elapsed().as_secs_f64();
    if lost.load(Ordering::Relaxed) {
        tracing::info!(job = %id, kind, "job cancelled or taken over");
        return;
    }
    let result = match outcome {
        JobOutcome::Cancelled => return,
        JobOutcome::Done(value) => store
            .complete_job(id, &worker, &value, now)
            .await
            .map(|_| "completed"),
        JobOutcome::Snooze(wait) => {
            let until =
                now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1));
            store
                .snooze_job(id, &worker, until)
                .await
                .map(|_| "waiting")
        }
        JobOutcome::Retry(message) => {
            let retry_at = (ctx.job.attempts < ctx.job.max_attempts).then(|| {
                now + chrono::Duration::from_std(backoff(ctx.job.attempts))
                    .unwrap_or(chrono::Duration::hours(1))
            });
            fail(&state, &ctx.job, &worker, &message, retry_at, now).await
        }
        JobOutcome::Permanent(message) => {
            fail(&state, &ctx.job, &worker, &message, None, now).await
        }
    };
    match result {
        Ok(state_name) => state.metrics.job_finished(&kind, state_name, seconds),
        Err(err) => tracing::error!(job = %id, error = %err, "recording the job's end failed"),
    }
}

/// Records a failed attempt: retried at `retry_at`, or dead. The job's new
/// state.
async fn fail(
    state: &AppState,
    job: &Job,
    worker: &str,
    message: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> crate::store::StoreResult<&'static str> {
    tracing::warn!(job = %job.id, kind = job.kind, attempts = job.attempts, error = message, retry_at = ?retry_at, "job failed");
    state
        .store
        .fail_job(job.id, worker, message, retry_at, now)
        .await?;
    Ok(if retry_at.is_some() {
        "retrying"
    } else {
        "dead"
    })
}

/// The built-in schedules: the daily batch (`LUMEN_BATCH_CRON`, removed
/// when `off`) and the nightly retention clean-up.
pub async fn register_schedules(state: &AppState) -> Result<(), QueueError> {
    let queue = &state.queue;
    match &state.config.batch_cron {
        Some(cron) => {
            let daily = JobKind::Batch(BatchPayload::default());
            queue
                .upsert_schedule("daily-batch", cron, daily, None)
                .await?
        }
        None => {
            queue.delete_schedule("daily-batch").await?;
        }
    }
    queue
        .upsert_schedule("retention", "30 3 * * *", JobKind::Retention, None)
        .await?;
    let cleanup = JobKind::Report(ReportJob::Cleanup { cleanup: true });
    queue
        .upsert_schedule("report-retention", "45 3 * * *", cleanup, None)
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
        let payload = serde_json::from_str(&schedule.payload).unwrap_or(Value::Null);
        let job = NewJob {
            kind: schedule.kind.clone(),
            priority: crate::queue::JobKind::priority_of(&schedule.kind, &payload),
            payload,
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
        state.queue.wake();
    }
    Ok(fired)
}

/// The schedule's latest slot at or before `now` that came after the
/// schedule was created and within the catch-up window.
fn latest_slot(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = crate::cron::parse_cron(&schedule.cron).ok()?;
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
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt).as_secs_f64();
            let base = (5.0 * 2f64.powi(attempt - 1)).min(3600.0);
            assert!(d >= base / 2.0 && d <= base, "attempt {attempt}: {d}");
        }
    }
}
