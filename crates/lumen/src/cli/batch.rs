//! `lumen batch`: the daily batch now, with a progress bar.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Args;
use lumen_core::analytics::TimeRange;

use super::{ConfigArgs, Schedules, open_store, shutdown_signal, with_workers, without_tokens};
use crate::AppState;
use crate::queue::{BatchPayload, Job, JobKind, JobState, NewJob};

#[derive(Args)]
pub struct BatchArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Skip the Collect stage (analyse what is stored).
    #[arg(long)]
    skip_collect: bool,
    /// Time ranges to precompute (7d, 30d, 90d, 1y); repeat for several. Default 30d.
    #[arg(long = "time-range")]
    time_ranges: Vec<TimeRange>,
}

/// Enqueues a batch and runs workers until it has finished (or a signal
/// interrupts: the batch resumes when a worker runs).
pub async fn run(args: BatchArgs) -> anyhow::Result<()> {
    let mut config = without_tokens(args.config.load()?);
    config.workers = config.workers.max(1);
    let store = open_store(&config).await?;
    let state = AppState::new(config, store.clone())?;
    let batch = JobKind::Batch(BatchPayload {
        as_of: Some(chrono::Utc::now()),
        time_ranges: args.time_ranges,
        skip_collect: args.skip_collect,
    });
    let job = state
        .queue
        .enqueue(NewJob {
            singleton_key: Some("batch:manual".into()),
            ..batch.into_job()
        })
        .await?
        .id();
    let started = Instant::now();
    let finished = with_workers(&state, Schedules::Skip, watch(&state, job)).await??;
    let secs = started.elapsed().as_secs_f64();
    let result = finished.result.clone().unwrap_or_default();
    let subjects = store
        .batch_results(job)
        .await?
        .iter()
        .map(|(_, s, _)| *s)
        .collect::<HashSet<_>>()
        .len();
    eprintln!(
        "Batch {job} {} in {secs:.1} s: {} results for {subjects} subjects ({:.1} subjects/s); {}",
        finished.state.as_str(),
        result.get("results").cloned().unwrap_or_default(),
        subjects as f64 / secs.max(1e-9),
        result
    );
    store.close().await;
    anyhow::ensure!(
        finished.state == JobState::Completed,
        "the batch did not complete"
    );
    Ok(())
}

/// Shows the batch's chunks done until it has finished; the job as it ended.
async fn watch(state: &AppState, job: uuid::Uuid) -> anyhow::Result<Job> {
    let store = &state.store;
    let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "{spinner} batch [{elapsed_precise}] {bar:40} {pos}/{len} chunks {msg}",
    )?);
    loop {
        let Some(current) = store.job(job).await? else {
            anyhow::bail!("batch job {job} disappeared");
        };
        let counts = store.child_job_counts(job).await?;
        let total: i64 = counts.values().sum();
        let done: i64 = ["completed", "cancelled", "dead"]
            .iter()
            .filter_map(|s| counts.get(*s))
            .sum();
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
        bar.set_message(if total == 0 {
            "collecting and planning"
        } else {
            ""
        });
        if current.state.finished() {
            bar.finish();
            return Ok(current);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = shutdown_signal() => {
                bar.abandon_with_message("interrupted: the batch resumes when a worker runs");
                anyhow::bail!("interrupted");
            }
        }
    }
}
