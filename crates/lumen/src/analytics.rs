//! Stage 2, Analyze, as the API serves it: resolve the subject's
//! organisation, load its learning records, run the pure analytic from
//! `lumen_core::analytics`, and wrap the result in the envelope of
//! PRODUCT §3.1 with the data's freshness.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use lumen_core::Role;
use lumen_core::analytics::{
    Analytic, AnalyticError, Dataset, Inputs, Memo, SubjectKind, TimeRange, Window,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub use crate::cache::DataSource;
use crate::cache::Entry;
use crate::collector::Freshness;
use crate::datasets::DatasetError;
pub use crate::datasets::Warm;
use crate::queue::QueueError;
use crate::state::AppState;
use crate::store::StoreError;

/// Why an analytic could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The analytic's own answer: no such subject, or too little data.
    #[error(transparent)]
    Analytic(#[from] AnalyticError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServeError {
    /// The error code the API answers this with (`http::error` maps it).
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Analytic(AnalyticError::NotFound(_)) => "NOT_FOUND",
            ServeError::Analytic(AnalyticError::InsufficientData { .. }) => "INSUFFICIENT_DATA",
            ServeError::Store(StoreError::Conflict { .. })
            | ServeError::Queue(QueueError::Store(StoreError::Conflict { .. })) => "CONFLICT",
            ServeError::Store(StoreError::Invalid(_))
            | ServeError::Queue(
                QueueError::Store(StoreError::Invalid(_)) | QueueError::InvalidCron(_),
            ) => "VALIDATION_ERROR",
            _ => "INTERNAL_ERROR",
        }
    }

    fn not_found(message: &str) -> Self {
        ServeError::Analytic(AnalyticError::NotFound(message.to_owned()))
    }

    fn internal(err: impl Into<anyhow::Error>) -> Self {
        ServeError::Internal(err.into())
    }
}

/// Results are fresh for 6 hours (PRODUCT §3.1).
pub const STALE_AFTER: Duration = Duration::hours(6);

/// The success envelope of every analytic (PRODUCT §3.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub data: T,
    /// Served from a cache layer.
    pub cached: bool,
    /// Older than 6 hours.
    pub stale: bool,
    /// A refresh of this result is queued or running (seed 000 §5.3): true
    /// whenever `stale` is, because serving a stale result queues its
    /// refresh.
    pub requires_refresh: bool,
    pub data_source: DataSource,
    pub last_updated: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The upstream freshness behind a computation: the envelope's data source
/// and the sources to name in `missingSources`.
pub async fn freshness(state: &AppState) -> (DataSource, Vec<String>) {
    let statuses = state.collector().status().await.unwrap_or_default();
    let mut missing = Vec::new();
    let mut source = DataSource::Realtime;
    for s in statuses.iter().filter(|s| s.configured && s.collected) {
        match s.freshness {
            Freshness::Mock => source = source.max(DataSource::Mock),
            Freshness::Stale | Freshness::Missing => {
                source = source.max(DataSource::Stale);
                missing.push(s.service.to_owned());
            }
            Freshness::Fresh | Freshness::NotCollected => {}
        }
    }
    (source, missing)
}

/// Builds the envelope around freshly computed data.
pub fn envelope<T>(data: T, data_source: DataSource, now: DateTime<Utc>) -> Envelope<T> {
    let last_updated = now.trunc_subsecs(0);
    Envelope {
        data,
        cached: false,
        stale: false,
        requires_refresh: false,
        data_source,
        last_updated,
        expires_at: last_updated + STALE_AFTER,
    }
}

/// The organisation whose records an analytic about `subject` reads.
pub async fn organization_of(
    state: &AppState,
    kind: SubjectKind,
    subject: Uuid,
    caller_org: Uuid,
) -> Result<Uuid, ServeError> {
    match kind {
        SubjectKind::Organization => Ok(subject),
        SubjectKind::CallersOrganization => Ok(caller_org),
        SubjectKind::Learner | SubjectKind::Trainer => state
            .store
            .user(subject)
            .await?
            .map(|u| u.organization_id)
            .ok_or_else(|| ServeError::not_found("no such user")),
    }
}

/// One organisation's records, indexed: the one entry point to an
/// organisation's data for everything computed from it (analytics,
/// gamification, the batch). Warm: loaded once and reused until the
/// records change (`crate::datasets`).
pub async fn dataset(state: &AppState, org: Uuid) -> Result<Arc<Dataset>, ServeError> {
    Ok(warm(state, org).await?.ds)
}

/// The organisation's warm dataset with the memo its analytics share.
pub async fn warm(state: &AppState, org: Uuid) -> Result<Warm, ServeError> {
    state
        .datasets
        .get(&state.store, org)
        .await
        .map_err(|e| match e {
            DatasetError::NoSuchOrganization => ServeError::not_found("no such organisation"),
            DatasetError::Store(e) => ServeError::Store(e),
            DatasetError::Join(e) => ServeError::internal(anyhow::anyhow!(e)),
        })
}

pub fn window(state: &AppState, range: TimeRange) -> Window {
    Window::new(range, state.clock.now().trunc_subsecs(0))
}

/// The cache key of one result: analytic, subject, time range.
pub fn cache_key(kind: &'static Analytic, subject: Uuid, range: TimeRange) -> String {
    format!("{}:{subject}:{range}", kind.name)
}

/// The subject a result is stored under: the caller's organisation for
/// `skill-demand`, else the subject asked about.
fn keyed_subject(kind: &'static Analytic, subject: Uuid, caller_org: Uuid) -> Uuid {
    if kind.subject == SubjectKind::CallersOrganization {
        caller_org
    } else {
        subject
    }
}

/// A result as the serving path found or made it.
#[derive(Debug, Clone)]
pub struct Served {
    pub entry: Arc<Entry>,
    /// From a cache layer rather than computed for this request.
    pub cached: bool,
}

impl Served {
    /// Older than the 6-hour staleness threshold.
    pub fn stale(&self, now: DateTime<Utc>) -> bool {
        now - self.entry.computed_at > STALE_AFTER
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.entry.computed_at + STALE_AFTER
    }

    /// The envelope's `dataSource`: `cached` for a cached result of fresh
    /// upstream data; `stale` and `mock` say more and win.
    pub fn data_source(&self) -> DataSource {
        match self.entry.data_source {
            DataSource::Realtime if self.cached => DataSource::Cached,
            other => other,
        }
    }

    /// The envelope (PRODUCT §3.1) as JSON text, around the stored data.
    pub fn envelope_json(&self, now: DateTime<Utc>) -> String {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        format!(
            r#"{{"data":{},"cached":{},"stale":{},"requiresRefresh":{},"dataSource":"{}","lastUpdated":"{}","expiresAt":"{}"}}"#,
            self.entry.data,
            self.cached,
            self.stale(now),
            self.stale(now),
            self.data_source().as_str(),
            ts(self.entry.computed_at),
            ts(self.expires_at()),
        )
    }

    /// The envelope with the data parsed.
    pub fn envelope(&self, now: DateTime<Utc>) -> Result<Envelope<Value>, ServeError> {
        let data = serde_json::from_str(&self.entry.data)
            .map_err(|e| ServeError::internal(anyhow::anyhow!("cached result unreadable: {e}")))?;
        Ok(Envelope {
            data,
            cached: self.cached,
            stale: self.stale(now),
            requires_refresh: self.stale(now),
            data_source: self.data_source(),
            last_updated: self.entry.computed_at,
            expires_at: self.expires_at(),
        })
    }
}

/// One analytic for one subject through the cache layers, in its envelope.
pub async fn compute(
    state: &AppState,
    kind: &'static Analytic,
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
) -> Result<Envelope<Value>, ServeError> {
    serve(state, kind, subject, caller_org, range)
        .await?
        .envelope(state.clock.now())
}

/// One analytic for one subject through the cache layers.
pub async fn serve(
    state: &AppState,
    kind: &'static Analytic,
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
) -> Result<Served, ServeError> {
    let key = cache_key(kind, keyed_subject(kind, subject, caller_org), range);
    if let Some(entry) = state.l1.get(&key).await {
        state.metrics.cache_lookup("l1", true);
        return Ok(after_hit(state, kind, subject, caller_org, range, entry).await);
    }
    let mut results = serve_many(state, &[kind], subject, caller_org, range).await?;
    results
        .pop()
        .map(|(_, r)| r)
        .unwrap_or_else(|| Err(ServeError::internal(anyhow::anyhow!("no result"))))
}

/// A cached result: queues its refresh when it is stale.
async fn after_hit(
    state: &AppState,
    kind: &'static Analytic,
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
    entry: Arc<Entry>,
) -> Served {
    let served = Served {
        entry,
        cached: true,
    };
    if served.stale(state.clock.now()) {
        let subject = keyed_subject(kind, subject, caller_org);
        if let Err(err) = queue_refresh(state, &[kind], subject, caller_org, range, None).await {
            tracing::warn!(error = %err, analytic = kind.name, "queueing a stale result's refresh failed");
        }
    }
    served
}

/// Queues a refresh job for results of one subject (one pending job per
/// subject, range and set of analytics).
pub async fn queue_refresh(
    state: &AppState,
    kinds: &[&'static Analytic],
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
    owner: Option<Uuid>,
) -> Result<crate::queue::Enqueued, ServeError> {
    let names: Vec<&str> = kinds.iter().map(|k| k.name).collect();
    let singleton_key = Some(format!("refresh:{subject}:{range}:{}", names.join(",")));
    let job = crate::queue::JobKind::Refresh(crate::queue::RefreshPayload {
        subject_id: subject,
        organization_id: caller_org,
        time_range: range,
        analytics: names.into_iter().map(str::to_owned).collect(),
    });
    state
        .queue
        .enqueue(crate::queue::NewJob {
            owner,
            singleton_key,
            priority: 10,
            max_attempts: 3,
            ..job.into_job()
        })
        .await
        .map_err(ServeError::from)
}

/// The staleness check at login (PRODUCT §5): queues a refresh of the
/// caller's results (default time range, every role they hold) that are
/// stale or were never computed, so they are fresh when asked for.
pub async fn refresh_stale_at_login(state: &AppState, user: Uuid, org: Uuid, roles: &[Role]) {
    let range = TimeRange::default();
    let now = state.clock.now();
    for &role in roles {
        let subject = if role == Role::OrgAdmin { org } else { user };
        let mut stale = Vec::new();
        for kind in Analytic::bundle(role) {
            match state
                .store
                .stored_result(kind.name, subject, range.as_str())
                .await
            {
                Ok(Some(r)) if now - r.computed_at <= STALE_AFTER => {}
                Ok(_) => stale.push(kind),
                Err(err) => {
                    tracing::warn!(error = %err, "staleness check at login failed");
                    return;
                }
            }
        }
        if !stale.is_empty()
            && let Err(err) = queue_refresh(state, &stale, subject, org, range, None).await
        {
            tracing::warn!(error = %err, "queueing a refresh at login failed");
        }
    }
}

/// Several analytics of one subject through the cache layers: each is
/// looked up in L1, L2 then L3, and the misses are computed together on
/// one load of the organisation's records. Concurrent misses of a key in
/// this process wait for one computation.
pub async fn serve_many(
    state: &AppState,
    kinds: &[&'static Analytic],
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
) -> Result<Vec<(&'static Analytic, Result<Served, ServeError>)>, ServeError> {
    let mut found: Vec<(&'static Analytic, Served)> = Vec::new();
    let mut missing: Vec<(String, &'static Analytic)> = Vec::new();
    for &kind in kinds {
        let key = cache_key(kind, keyed_subject(kind, subject, caller_org), range);
        match state.l1.get(&key).await {
            Some(entry) => {
                state.metrics.cache_lookup("l1", true);
                found.push((
                    kind,
                    after_hit(state, kind, subject, caller_org, range, entry).await,
                ));
            }
            None => missing.push((key, kind)),
        }
    }
    // Keys in one order, so two requests never wait on each other's keys.
    missing.sort_by(|a, b| a.0.cmp(&b.0));
    let mut flights = Vec::with_capacity(missing.len());
    for (key, _) in &missing {
        flights.push(state.l1.flight(key).await);
    }
    let now = state.clock.now();
    let mut to_compute = Vec::new();
    for (key, kind) in missing {
        let keyed = keyed_subject(kind, subject, caller_org);
        if let Some(entry) = state.l1.get(&key).await {
            // Computed by the request we waited for.
            state.metrics.cache_lookup("l1", true);
            found.push((
                kind,
                after_hit(state, kind, subject, caller_org, range, entry).await,
            ));
            continue;
        }
        state.metrics.cache_lookup("l1", false);
        let name = kind.name;
        let range_name = range.as_str();
        if let Some(entry) = state
            .store
            .stored_result(name, keyed, range_name)
            .await?
            .and_then(Entry::from_stored)
        {
            state.metrics.cache_lookup("l2", true);
            let entry = Arc::new(entry);
            state.l1.put(&key, entry.clone()).await;
            found.push((
                kind,
                after_hit(state, kind, subject, caller_org, range, entry).await,
            ));
            continue;
        }
        state.metrics.cache_lookup("l2", false);
        if let Some(row) = state
            .store
            .rollup(
                name,
                keyed,
                range_name,
                crate::store::results::month_of(now),
            )
            .await?
        {
            let mut l2 = row.clone();
            l2.batch_id = None;
            if let Some(entry) = Entry::from_stored(row) {
                state.metrics.cache_lookup("l3", true);
                let entry = Arc::new(entry);
                state.l1.put(&key, entry.clone()).await;
                if let Err(err) = state.store.put_result(&l2).await {
                    tracing::warn!(error = %err, "writing L2 failed");
                }
                found.push((
                    kind,
                    after_hit(state, kind, subject, caller_org, range, entry).await,
                ));
                continue;
            }
        }
        state.metrics.cache_lookup("l3", false);
        to_compute.push(kind);
    }
    let mut results: Vec<(&'static Analytic, Result<Served, ServeError>)> =
        found.into_iter().map(|(k, s)| (k, Ok(s))).collect();
    if !to_compute.is_empty() {
        let first = to_compute[0];
        let org = organization_of(state, first.subject, subject, caller_org).await?;
        let subject = keyed_subject(first, subject, caller_org);
        let warm = warm(state, org).await?;
        let computed = compute_and_store(
            state,
            &to_compute,
            subject,
            org,
            &warm.ds,
            window(state, range),
            Some(warm.memo),
            None,
        )
        .await?;
        results.extend(computed.into_iter().map(|(kind, r)| {
            (
                kind,
                r.map(|entry| Served {
                    entry,
                    cached: false,
                }),
            )
        }));
    }
    drop(flights);
    // In the order asked.
    results.sort_by_key(|(k, _)| kinds.iter().position(|x| x == k));
    Ok(results)
}

/// Computes analytics of one subject and stores each result in every
/// cache layer (L1 here and in Redis, L2, L3); `batch` marks results of the
/// daily batch.
#[allow(clippy::too_many_arguments)]
pub async fn compute_and_store(
    state: &AppState,
    kinds: &[&'static Analytic],
    subject: Uuid,
    org: Uuid,
    ds: &Arc<Dataset>,
    w: Window,
    memo: Option<Arc<Memo>>,
    batch: Option<Uuid>,
) -> Result<Vec<(&'static Analytic, Result<Arc<Entry>, ServeError>)>, ServeError> {
    let range = w.range;
    let computed = compute_with(state, kinds, subject, org, ds, w, memo).await?;
    let mut out = Vec::with_capacity(computed.len());
    for (kind, result) in computed {
        state.metrics.computation(kind.name);
        let entry = match result {
            Ok(envelope) => {
                let data = serde_json::to_string(&envelope.data).map_err(ServeError::internal)?;
                Arc::new(Entry::new(
                    data,
                    envelope.data_source,
                    envelope.last_updated,
                    org,
                ))
            }
            Err(err) => {
                out.push((kind, Err(err)));
                continue;
            }
        };
        let row = entry.to_stored(kind.name, subject, range.as_str(), batch);
        if let Err(err) = state.store.put_result(&row).await {
            tracing::warn!(error = %err, "writing L2 failed");
        }
        // The batch's results reach L3 in its Aggregate stage.
        if batch.is_none()
            && let Err(err) = state.store.put_rollup(&row).await
        {
            tracing::warn!(error = %err, "writing L3 failed");
        }
        state
            .l1
            .put(&cache_key(kind, subject, range), entry.clone())
            .await;
        out.push((kind, Ok(entry)));
    }
    Ok(out)
}

/// The role whose bundle lists these analytics.
pub fn bundle_role(bundle: &str) -> Option<Role> {
    match bundle {
        "learner" => Some(Role::Learner),
        "trainer" => Some(Role::Trainer),
        "organization" => Some(Role::OrgAdmin),
        _ => None,
    }
}

/// Several analytics for one subject on one dataset, each in its envelope.
pub async fn compute_with(
    state: &AppState,
    kinds: &[&'static Analytic],
    subject: Uuid,
    org: Uuid,
    ds: &Arc<Dataset>,
    w: Window,
    memo: Option<Arc<Memo>>,
) -> Result<Vec<(&'static Analytic, Result<Envelope<Value>, ServeError>)>, ServeError> {
    let model = if kinds.iter().any(|k| k.needs_model) {
        Some(state.models.get(org, ds, w.now).await)
    } else {
        None
    };
    let ai = if kinds.iter().any(|k| k.needs_ai_suggestions) {
        state.learner_ai.suggestions(subject).await
    } else {
        None
    };
    let (source, missing) = freshness(state).await;
    let k = state.config.k_anonymity;
    let data = ds.clone();
    let kinds_owned = kinds.to_vec();
    let results = tokio::task::spawn_blocking(move || {
        let inputs = Inputs {
            ds: &data,
            w: &w,
            k,
            model: model.as_ref().and_then(|m| m.model.as_ref()),
            ai,
            memo: memo.as_deref(),
        };
        kinds_owned
            .into_iter()
            .map(|kind| (kind, (kind.compute)(subject, &inputs)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ServeError::internal)?;
    Ok(results
        .into_iter()
        .map(|(kind, result)| {
            let result = result.map_err(ServeError::from).map(|mut value| {
                if let Some(list) = value
                    .get_mut("missingSources")
                    .and_then(Value::as_array_mut)
                {
                    for m in &missing {
                        if !list.iter().any(|v| v == m) {
                            list.push(Value::from(m.clone()));
                        }
                    }
                }
                envelope(value, source, w.now)
            });
            (kind, result)
        })
        .collect())
}
