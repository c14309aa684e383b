//! Stage 1, Collect (PRODUCT §5): pull every configured upstream feed into
//! the store, incrementally and idempotently.
//!
//! Per feed: ask for `updatedSince = watermark − overlap`, page through with
//! the service's cursor (persisted after every page, so an interrupted run
//! resumes), turn each item into a learning record or a rejection with a
//! reason, write a page in one transaction (falling back to one record at a
//! time to single out the bad ones), and move the watermark only when the
//! feed is complete. A failing service stops only its own feeds.
//!
//! Records that reference something not stored yet (say, an enrolment of a
//! user the Directory has not delivered because it is down) are not lost:
//! the feed stops at that page and retries it next run, up to
//! `MAX_BLOCKED_RUNS` runs in a row, after which they are rejected as
//! `unknown-reference` and the feed moves on.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use lumen_core::model::Change;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{ConflictKind, Store, StoreError, SyncState};
use crate::upstream::{CircuitState, UpstreamClient, UpstreamError, Upstreams};

pub mod feeds;

use feeds::{Context, FEEDS, Feed, Reason, Rejection};

/// Items asked for per page.
pub const PAGE_SIZE: u32 = 500;
/// Re-read this much before the watermark: the contracts let a service
/// publish a change up to 5 minutes after its `updatedAt`.
pub const OVERLAP: Duration = Duration::from_secs(300);
/// Runs in a row a feed may wait for referenced records before rejecting them.
pub const MAX_BLOCKED_RUNS: i32 = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<Value>,
    next_cursor: Option<String>,
}

/// What one run did to one feed.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedReport {
    pub service: &'static str,
    pub feed: &'static str,
    pub fetched: u64,
    pub stored: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    /// The feed was read to its end.
    pub complete: bool,
    /// The service could not be reached (as opposed to sending bad data).
    #[serde(skip)]
    pub unreachable: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub feeds: Vec<FeedReport>,
}

impl RunReport {
    pub fn stored(&self) -> u64 {
        self.feeds.iter().map(|f| f.stored).sum()
    }
    pub fn fetched(&self) -> u64 {
        self.feeds.iter().map(|f| f.fetched).sum()
    }
    pub fn rejected(&self, reason: &str) -> u64 {
        self.feeds
            .iter()
            .filter_map(|f| f.rejected.get(reason))
            .sum()
    }
}

pub struct Collector {
    store: Store,
    upstreams: Arc<Upstreams>,
    /// Synthetic stand-ins (LUMEN_MOCK_FALLBACK): read when a service fails
    /// and nothing was ever collected from it.
    mock: Option<Arc<Upstreams>>,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Collector {
    pub fn new(store: Store, upstreams: Arc<Upstreams>) -> Self {
        Self {
            store,
            upstreams,
            mock: None,
        }
    }

    /// With the mock fallback: `mock` serves the same contracts from synthetic data.
    pub fn with_mock_fallback(mut self, mock: Arc<Upstreams>) -> Self {
        self.mock = Some(mock);
        self
    }

    /// Collects every feed of every configured service once.
    pub async fn run(&self) -> anyhow::Result<RunReport> {
        let mut states: BTreeMap<(String, String), SyncState> = self
            .store
            .sync_states()
            .await?
            .into_iter()
            .map(|s| ((s.service.clone(), s.feed.clone()), s))
            .collect();
        let mut report = RunReport::default();
        let mut ctx = Context::default();
        for feed in &FEEDS {
            let Some(client) = self.upstreams.clients.get(feed.service) else {
                continue;
            };
            if feed.name == "assessment-attempts" {
                ctx.assessment_max = self.store.assessment_max_scores().await?;
            }
            let state = states
                .remove(&(feed.service.to_owned(), feed.name.to_owned()))
                .unwrap_or_else(|| SyncState {
                    service: feed.service.to_owned(),
                    feed: feed.name.to_owned(),
                    origin: "upstream".to_owned(),
                    ..SyncState::default()
                });
            let mut state = state;
            if state.origin == "mock" {
                // Synthetic data stood in last time: read the real service from the start.
                state.watermark = None;
                state.next_cursor = None;
            }
            let never_collected = state.last_success_at.is_none() || state.origin == "mock";
            let mut feed_report = self
                .collect_feed(client, feed, state, &ctx, "upstream")
                .await?;
            let mock = self.mock.as_ref().and_then(|m| m.clients.get(feed.service));
            if let (true, true, Some(mock)) = (feed_report.unreachable, never_collected, mock) {
                tracing::warn!(
                    service = feed.service,
                    feed = feed.name,
                    "upstream unavailable: using synthetic data"
                );
                let state = SyncState {
                    service: feed.service.to_owned(),
                    feed: feed.name.to_owned(),
                    origin: "mock".to_owned(),
                    ..SyncState::default()
                };
                feed_report = self.collect_feed(mock, feed, state, &ctx, "mock").await?;
            }
            tracing::info!(
                service = feed.service,
                feed = feed.name,
                fetched = feed_report.fetched,
                stored = feed_report.stored,
                rejected = feed_report.rejected.values().sum::<u64>(),
                error = feed_report.error.as_deref(),
                "collected"
            );
            report.feeds.push(feed_report);
        }
        Ok(report)
    }

    async fn collect_feed(
        &self,
        client: &UpstreamClient,
        feed: &'static Feed,
        mut state: SyncState,
        ctx: &Context,
        origin: &str,
    ) -> anyhow::Result<FeedReport> {
        let mut report = FeedReport {
            service: feed.service,
            feed: feed.name,
            ..FeedReport::default()
        };
        state.last_attempt_at = Some(now());
        let mut since = state
            .watermark
            .map(|w| w - chrono::Duration::from_std(OVERLAP).unwrap_or_default());
        let mut run_max: Option<DateTime<Utc>> = None;
        let mut restarted = false;
        loop {
            let mut query = vec![("limit", PAGE_SIZE.to_string())];
            if let Some(since) = since {
                query.push((
                    "updatedSince",
                    since.to_rfc3339_opts(SecondsFormat::Secs, true),
                ));
            }
            if let Some(cursor) = &state.next_cursor {
                query.push(("cursor", cursor.clone()));
            }
            let body = match client.get(feed.path, &query).await {
                Ok(body) => body,
                // 400 INVALID_CURSOR: the saved cursor expired; start again from the watermark.
                Err(UpstreamError::Status(400)) if state.next_cursor.is_some() && !restarted => {
                    restarted = true;
                    state.next_cursor = None;
                    continue;
                }
                // 410: the watermark is older than the service keeps tombstones; read everything.
                Err(UpstreamError::Status(410)) if !restarted => {
                    restarted = true;
                    since = None;
                    state.next_cursor = None;
                    continue;
                }
                Err(err) => {
                    report.unreachable = true;
                    fail(&mut state, &mut report, err.to_string());
                    break;
                }
            };
            let page: Page = match serde_json::from_str(&body) {
                Ok(page) => page,
                Err(err) => {
                    let rejection = Rejection {
                        reason: Reason::MalformedPage,
                        detail: err.to_string(),
                    };
                    self.count(&mut state, &mut report, &[rejection]).await?;
                    fail(&mut state, &mut report, format!("unreadable page: {err}"));
                    break;
                }
            };
            report.fetched += page.items.len() as u64;
            let (changes, mut rejections, page_max) = parse_page(feed, &page.items, ctx);
            run_max = run_max.max(page_max);
            let stored = match self.write(changes, &mut rejections).await {
                Ok(n) => n,
                Err(err) => {
                    fail(&mut state, &mut report, format!("store: {err}"));
                    break;
                }
            };
            let waiting = rejections
                .iter()
                .filter(|r| r.reason == Reason::UnknownReference)
                .count();
            // Synthetic stand-ins never wait: their references may name records
            // that exist only in the simulator's organisation.
            if waiting > 0 && origin == "upstream" && state.blocked_runs < MAX_BLOCKED_RUNS {
                // Keep the cursor at this page: it is read again next run.
                state.blocked_runs += 1;
                report.stored += stored;
                state.records_synced += stored as i64;
                let other: Vec<Rejection> = rejections
                    .into_iter()
                    .filter(|r| r.reason != Reason::UnknownReference)
                    .collect();
                self.count(&mut state, &mut report, &other).await?;
                fail(
                    &mut state,
                    &mut report,
                    format!("waiting for {waiting} referenced record(s) not stored yet"),
                );
                break;
            }
            report.stored += stored;
            state.records_synced += stored as i64;
            self.count(&mut state, &mut report, &rejections).await?;
            state.next_cursor = page.next_cursor;
            if state.next_cursor.is_none() {
                state.watermark = state.watermark.max(run_max);
                state.last_success_at = Some(now());
                state.blocked_runs = 0;
                state.origin = origin.to_owned();
                report.complete = true;
                self.store.save_sync_state(&state).await?;
                break;
            }
            self.store.save_sync_state(&state).await?;
        }
        if !report.complete {
            self.store.save_sync_state(&state).await?;
        }
        Ok(report)
    }

    /// Writes a page in one transaction; if that fails on a bad record,
    /// writes record by record and turns each failure into a rejection.
    /// Returns how many were stored. Other store failures are errors.
    async fn write(
        &self,
        changes: Vec<(String, Change)>,
        rejections: &mut Vec<Rejection>,
    ) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let batch: Vec<Change> = changes.iter().map(|(_, c)| c.clone()).collect();
        match self.store.apply(&batch).await {
            Ok(()) => return Ok(batch.len() as u64),
            Err(StoreError::Invalid(_) | StoreError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
        // One record at a time. A record whose reference fails may depend on
        // a later record of the same page (a department and its parent), so
        // those are tried again while the passes make progress.
        let mut stored = 0;
        let mut pending = changes;
        loop {
            let mut waiting = Vec::new();
            let before = stored;
            for (id, change) in pending {
                match self.store.apply(std::slice::from_ref(&change)).await {
                    Ok(()) => stored += 1,
                    Err(StoreError::Conflict {
                        kind: ConflictKind::UnknownReference,
                        message,
                    }) => waiting.push((id, change, message)),
                    Err(StoreError::Invalid(r)) => rejections.push(Rejection {
                        reason: Reason::OutOfRange,
                        detail: format!("{id}: {r}"),
                    }),
                    Err(StoreError::Conflict { kind, message }) => rejections.push(Rejection {
                        reason: match kind {
                            ConflictKind::Duplicate => Reason::Duplicate,
                            ConflictKind::CrossOrganization => Reason::CrossOrganization,
                            _ => Reason::OutOfRange,
                        },
                        detail: format!("{id}: {message}"),
                    }),
                    Err(other) => return Err(other),
                }
            }
            if waiting.is_empty() || stored == before {
                rejections.extend(waiting.into_iter().map(|(id, _, message)| Rejection {
                    reason: Reason::UnknownReference,
                    detail: format!("{id}: {message}"),
                }));
                break;
            }
            pending = waiting
                .into_iter()
                .map(|(id, change, _)| (id, change))
                .collect();
        }
        Ok(stored)
    }

    async fn count(
        &self,
        state: &mut SyncState,
        report: &mut FeedReport,
        rejections: &[Rejection],
    ) -> anyhow::Result<()> {
        let mut by_reason: BTreeMap<Reason, i64> = BTreeMap::new();
        for r in rejections {
            tracing::warn!(service = %state.service, feed = %state.feed, reason = r.reason.as_str(), detail = %r.detail, "upstream record rejected");
            *by_reason.entry(r.reason).or_default() += 1;
        }
        let at = now();
        for (reason, n) in by_reason {
            self.store
                .count_rejections(&state.service, &state.feed, reason.as_str(), n, at)
                .await?;
            *report.rejected.entry(reason.as_str()).or_default() += n as u64;
            state.records_rejected += n;
        }
        Ok(())
    }

    /// Every upstream service's collection status and circuit.
    pub async fn status(&self) -> anyhow::Result<Vec<ServiceStatus>> {
        let states = self.store.sync_states().await?;
        let mut out = Vec::new();
        for service in crate::config::UPSTREAM_SERVICES {
            let client = self.upstreams.clients.get(service);
            let feeds: Vec<&SyncState> = states.iter().filter(|s| s.service == service).collect();
            let collected = FEEDS.iter().any(|f| f.service == service);
            out.push(ServiceStatus {
                service,
                configured: client.is_some(),
                circuit: client.map(|c| c.breaker.state()),
                collected,
                freshness: freshness(&feeds, collected),
                last_success_at: feeds.iter().filter_map(|s| s.last_success_at).min(),
                last_error: feeds.iter().filter_map(|s| s.last_error.clone()).next(),
                last_error_at: feeds.iter().filter_map(|s| s.last_error_at).max(),
                records_synced: feeds.iter().map(|s| s.records_synced).sum(),
                records_rejected: feeds.iter().map(|s| s.records_rejected).sum(),
            });
        }
        Ok(out)
    }
}

/// A page turned into changes (with their upstream ids), rejections, and its
/// largest `updatedAt`.
type ParsedPage = (Vec<(String, Change)>, Vec<Rejection>, Option<DateTime<Utc>>);

/// Turns a page's items into changes and rejections.
fn parse_page(feed: &Feed, items: &[Value], ctx: &Context) -> ParsedPage {
    let mut seen = HashSet::new();
    let mut changes = Vec::with_capacity(items.len());
    let mut rejections = Vec::new();
    let mut max = None;
    for item in items {
        let parsed = feed.parse(item, ctx).and_then(|p| {
            if let Change::Upsert(record) = &p.change {
                record.validate().map_err(|e| Rejection {
                    reason: Reason::OutOfRange,
                    detail: e.to_string(),
                })?;
            }
            Ok(p)
        });
        match parsed {
            Ok(p) if !seen.insert(p.upstream_id.clone()) => rejections.push(Rejection {
                reason: Reason::Duplicate,
                detail: format!("{} appears twice in one page", p.upstream_id),
            }),
            Ok(p) => {
                max = max.max(Some(p.updated_at));
                changes.push((p.upstream_id, p.change));
            }
            Err(r) => rejections.push(r),
        }
    }
    (changes, rejections, max)
}

fn fail(state: &mut SyncState, report: &mut FeedReport, error: String) {
    state.last_error = Some(error.clone());
    state.last_error_at = Some(now());
    report.error = Some(error);
}

/// How current a service's data is, for an analytic's `dataSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Freshness {
    /// Every feed's last run completed.
    Fresh,
    /// Some feed's last run failed; earlier data is in use.
    Stale,
    /// Nothing collected yet.
    Missing,
    /// Filled with synthetic data by the mock fallback.
    Mock,
    /// Not collected by Lumen (read on demand, or not stored).
    NotCollected,
}

fn freshness(feeds: &[&SyncState], collected: bool) -> Freshness {
    if !collected {
        return Freshness::NotCollected;
    }
    if feeds.is_empty() || feeds.iter().all(|s| s.last_success_at.is_none()) {
        return Freshness::Missing;
    }
    if feeds.iter().any(|s| s.origin == "mock") {
        return Freshness::Mock;
    }
    let all_current = feeds
        .iter()
        .all(|s| s.last_success_at.is_some() && s.last_success_at >= s.last_attempt_at);
    if all_current {
        Freshness::Fresh
    } else {
        Freshness::Stale
    }
}

/// One upstream service, as `/api/status` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub service: &'static str,
    /// A base URL and token are configured.
    pub configured: bool,
    /// `null` when not configured.
    pub circuit: Option<CircuitState>,
    /// Lumen collects feeds from it (Auth and Learner AI are read on demand).
    pub collected: bool,
    pub freshness: Freshness,
    /// The oldest of its feeds' last complete runs.
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub records_synced: i64,
    pub records_rejected: i64,
}
