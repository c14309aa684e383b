//! The daily batch (PRODUCT §5): **Collect** from the upstreams, **Analyze**
//! every analytic of every user and role, **Aggregate** the results into the
//! month's roll-ups (L3).
//!
//! The `batch` job is a small state machine that survives crashes:
//! 1. its first run collects, then splits the work into `batch-chunk` jobs
//!    (at most `LUMEN_BATCH_CHUNK_SIZE` subjects of one role of one
//!    organisation each) and one `gamification` job per organisation
//!    (every learner's points, badges and streak, every leaderboard), whose
//!    ids are derived from the batch's id, so planning again after a crash
//!    enqueues nothing twice;
//! 2. it then waits (back in the queue, holding no worker) until every chunk
//!    has finished, recording progress;
//! 3. it aggregates and completes.
//!
//! Every chunk computes with the window's end fixed at the batch's `asOf`,
//! so a chunk run twice (its worker died) writes the same results again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BatchPayload, ChunkPayload, JobContext, JobKind, NewJob, Stop};
use crate::analytics;
use crate::queue::GamificationPayload;
use lumen_core::Role;
use lumen_core::analytics::{Analytic, Dataset, Memo, TimeRange, Window};

/// How often a waiting batch looks at its chunks.
const WAIT: Duration = Duration::from_secs(2);

pub(super) async fn run(ctx: &JobContext, p: BatchPayload) -> Result<Value, Stop> {
    let state = &ctx.state;
    let batch = ctx.job.id;
    // Whole seconds: the instant results publish is the one they use (§2.1).
    let as_of = p.as_of.unwrap_or(ctx.job.created_at).trunc_subsecs(0);
    let counts = state.store.child_job_counts(batch).await?;
    if counts.is_empty() {
        // 1. Collect, then plan.
        let mut collected = Value::Null;
        if !p.skip_collect && !state.upstreams.clients.is_empty() {
            let report = state.collector().run().await?;
            collected = json!({ "stored": report.stored(), "fetched": report.fetched() });
        }
        ctx.check()?;
        let chunks = plan(ctx, &p, as_of).await?;
        ctx.progress(0, chunks as i64).await?;
        tracing::info!(%batch, chunks, collected = %collected, "batch planned");
        if chunks > 0 {
            return Err(Stop::Snooze(WAIT));
        }
    }
    // 2. Wait for the chunks.
    let counts = state.store.child_job_counts(batch).await?;
    let total: i64 = counts.values().sum();
    let finished: i64 = ["completed", "cancelled", "dead"]
        .iter()
        .filter_map(|s| counts.get(*s))
        .sum();
    ctx.progress(finished, total).await?;
    if finished < total {
        return Err(Stop::Snooze(WAIT));
    }
    // 3. Aggregate.
    let rolled = state
        .store
        .rollup_batch(batch, crate::store::results::month_of(as_of))
        .await?;
    let results = state.store.batch_results(batch).await?.len();
    ctx.batch_data.lock().await.take();
    Ok(json!({
        "asOf": as_of,
        "chunks": counts,
        "results": results,
        "rolledUp": rolled,
    }))
}

/// Enqueues the batch's chunks; how many there are.
async fn plan(ctx: &JobContext, p: &BatchPayload, as_of: DateTime<Utc>) -> Result<usize, Stop> {
    let state = &ctx.state;
    let batch = ctx.job.id;
    let ranges = if p.time_ranges.is_empty() {
        vec![TimeRange::default()]
    } else {
        p.time_ranges.clone()
    };
    let size = state.config.batch_chunk_size.max(1);
    // Subjects by organisation and role; org admins' analytics are about
    // their organisation, once per organisation.
    let mut subjects: BTreeMap<(Uuid, Role), Vec<Uuid>> = BTreeMap::new();
    for user in state.store.users(None).await? {
        for role in &user.roles {
            let subject = match role {
                Role::OrgAdmin => user.organization_id,
                Role::Learner | Role::Trainer => user.id,
            };
            let list = subjects.entry((user.organization_id, *role)).or_default();
            if !list.contains(&subject) {
                list.push(subject);
            }
        }
    }
    let mut jobs = Vec::new();
    for ((org, role), list) in &subjects {
        for range in &ranges {
            for (n, chunk) in list.chunks(size).enumerate() {
                let payload = ChunkPayload {
                    batch_id: batch,
                    organization_id: *org,
                    role: *role,
                    time_range: *range,
                    as_of,
                    subjects: chunk.to_vec(),
                };
                let id = Uuid::new_v5(
                    &batch,
                    format!("chunk:{org}:{}:{range}:{n}", role.as_str()).as_bytes(),
                );
                jobs.push(NewJob {
                    id: Some(id),
                    parent: Some(batch),
                    max_attempts: 3,
                    ..JobKind::BatchChunk(payload).into_job()
                });
            }
        }
    }
    // Gamification: every learner's results and every leaderboard of each
    // organisation with learners, on one ledger pass per organisation.
    let orgs: std::collections::BTreeSet<Uuid> = subjects
        .keys()
        .filter(|(_, role)| *role == Role::Learner)
        .map(|(org, _)| *org)
        .collect();
    for org in orgs {
        let payload = GamificationPayload {
            organization_id: org,
            all_learners: true,
            boards: true,
            batch_id: Some(batch),
            as_of: Some(as_of),
            ..GamificationPayload::default()
        };
        jobs.push(NewJob {
            id: Some(Uuid::new_v5(
                &batch,
                format!("gamification:{org}").as_bytes(),
            )),
            parent: Some(batch),
            max_attempts: 3,
            ..JobKind::Gamification(payload).into_job()
        });
    }
    let planned = jobs.len();
    for job in jobs {
        state.queue.enqueue(job).await?;
    }
    Ok(planned)
}

/// What a process's workers keep between chunks of one batch.
pub(super) type Held = tokio::sync::Mutex<Option<BatchData>>;

/// One organisation's records and shared per-learner inputs, kept while a
/// worker runs chunks of one batch.
pub(super) struct BatchData {
    key: (Uuid, Uuid, TimeRange),
    ds: Arc<Dataset>,
    memo: Arc<Memo>,
}

pub(super) async fn chunk(ctx: &JobContext, p: ChunkPayload) -> Result<Value, Stop> {
    let state = &ctx.state;
    let (ds, memo) = {
        let key = (p.batch_id, p.organization_id, p.time_range);
        let mut held = ctx.batch_data.lock().await;
        match held.as_ref() {
            Some(data) if data.key == key => (data.ds.clone(), data.memo.clone()),
            _ => {
                *held = None;
                let warm = analytics::warm(state, p.organization_id).await?;
                let (ds, memo) = (warm.ds, warm.memo);
                *held = Some(BatchData {
                    key,
                    ds: ds.clone(),
                    memo: memo.clone(),
                });
                (ds, memo)
            }
        }
    };
    let w = Window::new(p.time_range, p.as_of);
    let kinds: Vec<_> = Analytic::bundle(p.role).collect();
    let total = p.subjects.len() as i64;
    let (mut ok, mut failed) = (0usize, BTreeMap::<&'static str, usize>::new());
    for (i, subject) in p.subjects.iter().enumerate() {
        ctx.progress(i as i64, total).await?;
        let results = analytics::compute_and_store(
            state,
            &kinds,
            *subject,
            p.organization_id,
            &ds,
            w,
            Some(memo.clone()),
            Some(p.batch_id),
        )
        .await?;
        for (_, result) in results {
            match result {
                Ok(_) => ok += 1,
                Err(err) => *failed.entry(err.code()).or_default() += 1,
            }
        }
    }
    Ok(json!({ "subjects": total, "results": ok, "notComputed": failed }))
}
