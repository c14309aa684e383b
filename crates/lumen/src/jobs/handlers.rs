//! What each kind of job does (the kinds and payloads: `queue`). A handler
//! returns the job's result (stored as JSON on the job) or stops early
//! (`Stop`: retried with backoff, or dead when `Permanent` or attempts run
//! out; `Snooze`; `Cancelled`). A payload that does not read is `Permanent`.

use chrono::Utc;
use serde_json::{Value, json};

use super::{JobContext, JobKind, JobOutcome, RefreshPayload, Stop, batch};
use crate::analytics;
use lumen_core::analytics::{Analytic, SubjectKind};

/// Runs the job its kind says; a job whose kind or payload does not read is
/// dead at once (it never will).
pub(super) async fn run(ctx: &JobContext) -> JobOutcome {
    let job = match JobKind::from_parts(&ctx.job.kind, &ctx.job.payload) {
        Ok(job) => job,
        Err(e) => {
            return JobOutcome::Permanent(format!("bad {:?} job: {e}", ctx.job.kind));
        }
    };
    let result = match job {
        JobKind::Refresh(p) => refresh(ctx, p).await,
        JobKind::Batch(p) => batch::run(ctx, p).await,
        JobKind::BatchChunk(p) => batch::chunk(ctx, p).await,
        JobKind::Gamification(p) => crate::gamification::run_job(&ctx.state, &p)
            .await
            .map_err(Stop::from),
        JobKind::Retention => retention(ctx).await,
        JobKind::Report(p) => crate::reports::run_job(&ctx.state, &p)
            .await
            .map_err(Stop::from),
        JobKind::Echo(p) => echo(ctx, &p),
    };
    result.into()
}

async fn refresh(ctx: &JobContext, p: RefreshPayload) -> Result<Value, Stop> {
    let kinds = p
        .analytics
        .iter()
        .map(|name| {
            Analytic::from_name(name)
                .ok_or_else(|| Stop::Permanent(format!("unknown analytic {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(&first) = kinds.first() else {
        return Ok(json!({ "refreshed": [], "failed": {} }));
    };
    let state = &ctx.state;
    let org = analytics::organization_of(state, first.subject, p.subject_id, p.organization_id)
        .await
        .map_err(|e| Stop::Permanent(e.to_string()))?;
    let warm = analytics::warm(state, org).await?;
    let total = kinds.len() as i64;
    let (mut refreshed, mut failed) = (Vec::new(), serde_json::Map::new());
    for (i, kind) in kinds.into_iter().enumerate() {
        ctx.progress(i as i64, total).await?;
        let w = analytics::window(state, p.time_range);
        let results = analytics::compute_and_store(
            state,
            &[kind],
            p.subject_id,
            org,
            &warm.ds,
            w,
            Some(warm.memo.clone()),
            None,
        )
        .await?;
        for (kind, result) in results {
            match result {
                Ok(_) => refreshed.push(kind.name),
                Err(err) => {
                    // A user reads this: internal detail stays in the log.
                    let code = err.code();
                    let message = if code == "INTERNAL_ERROR" {
                        tracing::error!(job = %ctx.job.id, analytic = kind.name, error = %err, "refresh failed");
                        format!("could not be computed (job {})", ctx.job.id)
                    } else {
                        err.to_string()
                    };
                    failed.insert(
                        kind.name.into(),
                        json!({ "code": code, "message": message }),
                    );
                }
            }
        }
    }
    // A learner's refresh brings their points, badges and streak up to date too.
    let mut gamification = false;
    if first.subject == SubjectKind::Learner {
        crate::gamification::refresh_learners(state, org, vec![p.subject_id]).await?;
        gamification = true;
    }
    Ok(json!({
        "refreshed": refreshed,
        "failed": failed,
        "gamification": gamification,
        "finishedAt": Utc::now(),
    }))
}

/// L2 results are kept 7 days, L3 months 7 years, finished jobs 30 days.
async fn retention(ctx: &JobContext) -> Result<Value, Stop> {
    use crate::store::results::month_of;
    let store = &ctx.state.store;
    let now = Utc::now();
    let results = store.purge_results(now - chrono::Duration::days(7)).await?;
    let cutoff = now
        .checked_sub_months(chrono::Months::new(7 * 12))
        .unwrap_or(now);
    let months = store.purge_rollups(month_of(cutoff)).await?;
    let next = now
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(now);
    store
        .prepare_rollup_months(&[month_of(now), month_of(next)])
        .await?;
    let jobs = store.purge_jobs(now - chrono::Duration::days(30)).await?;
    Ok(json!({ "l2Deleted": results, "l3MonthsDeleted": months, "jobsDeleted": jobs }))
}

fn echo(ctx: &JobContext, payload: &Value) -> Result<Value, Stop> {
    if let Some(why) = payload.get("fail").and_then(Value::as_str) {
        return Err(anyhow::anyhow!("echo asked to fail: {why}").into());
    }
    Ok(json!({ "echo": payload, "attempt": ctx.job.attempts }))
}
