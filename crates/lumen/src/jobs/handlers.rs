//! What each kind of job does. A handler returns the job's result (stored
//! as JSON on the job) or an error (retried with backoff, or dead when it is
//! `Permanent` or attempts run out).
//!
//! | kind | payload | does |
//! |---|---|---|
//! | `refresh` | `subjectId`, `organizationId`, `timeRange`, `analytics[]` | recomputes those results into every cache layer |
//! | `batch` | `asOf`, `timeRanges[]` (optional) | the daily batch: Collect, plan chunks, wait, Aggregate |
//! | `batch-chunk` | set by `batch` | Analyze: one chunk of subjects of one role |
//! | `retention` | none | deletes expired L2 rows, L3 months and old finished jobs |
//! | `report` | `reportId`; or `scheduleId`; or `deliver` + `reportId`; or `cleanup` | generates a report, runs a report schedule, retries one delivery, or removes old report files (docs/reports.md) |
//! | `echo` | any; `{"fail": "why"}` fails | diagnostics: checks that workers run jobs |

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{JobContext, Permanent, batch};
use crate::analytics;
use lumen_core::analytics::Analytic;
use lumen_core::analytics::TimeRange;

pub(super) async fn run(ctx: &JobContext) -> anyhow::Result<Value> {
    match ctx.job.kind.as_str() {
        "refresh" => refresh(ctx).await,
        "batch" => batch::run(ctx).await,
        "batch-chunk" => batch::chunk(ctx).await,
        "retention" => retention(ctx).await,
        "report" => crate::reports::run_job(&ctx.state, &ctx.job.payload).await,
        "echo" => echo(ctx),
        other => Err(Permanent(format!("unknown job kind {other:?}")).into()),
    }
}

/// Parses a job's payload; a payload that does not parse never will.
pub(super) fn payload<T: for<'de> Deserialize<'de>>(ctx: &JobContext) -> anyhow::Result<T> {
    serde_json::from_value(ctx.job.payload.clone())
        .map_err(|e| Permanent(format!("bad {} payload: {e}", ctx.job.kind)).into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshPayload {
    subject_id: Uuid,
    organization_id: Uuid,
    time_range: TimeRange,
    analytics: Vec<String>,
}

async fn refresh(ctx: &JobContext) -> anyhow::Result<Value> {
    let p: RefreshPayload = payload(ctx)?;
    let kinds = p
        .analytics
        .iter()
        .map(|name| {
            Analytic::from_name(name).ok_or_else(|| Permanent(format!("unknown analytic {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(&first) = kinds.first() else {
        return Ok(json!({ "refreshed": [], "failed": {} }));
    };
    let state = &ctx.state;
    let org = analytics::organization_of(state, first.subject, p.subject_id, p.organization_id)
        .await
        .map_err(|e| Permanent(e.to_string()))?;
    let ds = analytics::dataset(state, org).await?;
    let total = kinds.len() as i64;
    let (mut refreshed, mut failed) = (Vec::new(), serde_json::Map::new());
    for (i, kind) in kinds.into_iter().enumerate() {
        ctx.progress(i as i64, total).await?;
        let w = analytics::window(state, p.time_range);
        let results =
            analytics::compute_and_store(state, &[kind], p.subject_id, org, &ds, w, None, None)
                .await?;
        for (kind, result) in results {
            match result {
                Ok(_) => refreshed.push(kind.name),
                Err(err) => {
                    failed.insert(kind.name.into(), Value::from(err.to_string()));
                }
            }
        }
    }
    Ok(json!({ "refreshed": refreshed, "failed": failed, "finishedAt": Utc::now() }))
}

/// L2 results are kept 7 days, L3 months 7 years, finished jobs 30 days.
async fn retention(ctx: &JobContext) -> anyhow::Result<Value> {
    use crate::store::jobs::month_of;
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

fn echo(ctx: &JobContext) -> anyhow::Result<Value> {
    if let Some(why) = ctx.job.payload.get("fail").and_then(Value::as_str) {
        anyhow::bail!("echo asked to fail: {why}");
    }
    Ok(json!({ "echo": ctx.job.payload, "attempt": ctx.job.attempts }))
}
