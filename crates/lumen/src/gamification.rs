//! Gamification as served (docs/gamification.md): a learner's ledger is
//! recomputed from the organisation's learning records with the pure rules
//! of `lumen_core::gamification`, and every answer goes through the cache
//! layers of the analytics (`cache.rs`: L1, L2, L3; single flight; the 6 h
//! staleness with a queued refresh) in the analytics envelope (PRODUCT §3.1),
//! without being one of the registry's analytics.
//!
//! Results are keyed like analytics (`kind:subject:range`): a learner's
//! `gamification-stats`, `-achievements` and `-streak` (range `all`), and
//! each leaderboard's whole ranked board, `gamification-leaderboard` of the
//! scope's id with range `<scope>:<window>`. Each result carries the records
//! version it was computed from (`Store::records_version`, moved on by every
//! write of records): a result of an older version is not served, so points
//! never lag behind a collection or an import. A board holds opted-out
//! learners too; choices and the caller's view are applied when it is read,
//! so a preference takes effect at once on every instance.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use lumen_core::analytics::{Dataset, SubjectKind};
use lumen_core::authz::{self, Caller, CourseFacts};
use lumen_core::gamification::{self as rules, Board, Period, Reader, Scope};
use serde::Serialize;
use uuid::Uuid;

use crate::analytics::{self, Served};
use crate::cache::{DataSource, Entry};
use crate::queue::{GamificationPayload, JobKind, NewJob};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::results::month_of;

/// Why a gamification request failed.
#[derive(Debug, thiserror::Error)]
pub enum GamificationError {
    /// A query parameter is not valid.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The department or course is not one the caller may see.
    #[error("{0}")]
    Forbidden(String),
    /// Loading the subject's organisation or records failed (the analytics
    /// service's answer: not found, insufficient data, …).
    #[error(transparent)]
    Analytics(#[from] analytics::ServeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn invalid(field: &'static str, reason: &str) -> GamificationError {
    GamificationError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

fn internal(err: impl Into<anyhow::Error>) -> GamificationError {
    GamificationError::Internal(err.into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, GamificationError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

/// The cache kind of each learner result.
pub const STATS: &str = "gamification-stats";
pub const ACHIEVEMENTS: &str = "gamification-achievements";
pub const STREAK: &str = "gamification-streak";
/// The cache kind of a ranked board.
pub const LEADERBOARD: &str = "gamification-leaderboard";
/// The range of a learner's results: they cover every record up to now.
const ALL: &str = "all";

/// One of a learner's gamification results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerResult {
    Stats,
    Achievements,
    Streak,
}

impl LearnerResult {
    const ALL: [LearnerResult; 3] = [
        LearnerResult::Stats,
        LearnerResult::Achievements,
        LearnerResult::Streak,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            LearnerResult::Stats => STATS,
            LearnerResult::Achievements => ACHIEVEMENTS,
            LearnerResult::Streak => STREAK,
        }
    }
}

/// The cache key of a result (the form of `analytics::cache_key`).
fn cache_key(kind: &str, subject: Uuid, range: &str) -> String {
    format!("{kind}:{subject}:{range}")
}

fn now(state: &AppState) -> DateTime<Utc> {
    state.clock.now().trunc_subsecs(0)
}

/// `key` in L1, if computed from records `version`.
async fn l1_hit(state: &AppState, key: &str, version: i64) -> Option<Arc<Entry>> {
    let entry = state
        .l1
        .get(key)
        .await
        .filter(|e| e.records_version == Some(version))?;
    state.metrics.cache_lookup("l1", true);
    Some(entry)
}

/// A result of records `version` in L1, L2 then L3; a hit in a lower layer
/// fills the layers above it. Results of an older version are misses.
async fn lookup(
    state: &AppState,
    kind: &str,
    subject: Uuid,
    range: &str,
    version: i64,
) -> Result<Option<Arc<Entry>>, GamificationError> {
    let key = cache_key(kind, subject, range);
    if let Some(entry) = l1_hit(state, &key, version).await {
        return Ok(Some(entry));
    }
    state.metrics.cache_lookup("l1", false);
    let current = |e: &Entry| e.records_version == Some(version);
    if let Some(entry) = state
        .store
        .stored_result(kind, subject, range)
        .await?
        .and_then(Entry::from_stored)
        .filter(current)
    {
        state.metrics.cache_lookup("l2", true);
        let entry = Arc::new(entry);
        state.l1.put(&key, entry.clone()).await;
        return Ok(Some(entry));
    }
    state.metrics.cache_lookup("l2", false);
    if let Some(row) = state
        .store
        .rollup(kind, subject, range, month_of(state.clock.now()))
        .await?
        && let Some(entry) = Entry::from_stored(row.clone()).filter(current)
    {
        state.metrics.cache_lookup("l3", true);
        let entry = Arc::new(entry);
        state.l1.put(&key, entry.clone()).await;
        let mut l2 = row;
        l2.batch_id = None;
        if let Err(err) = state.store.put_result(&l2).await {
            tracing::warn!(error = %err, "writing L2 failed");
        }
        return Ok(Some(entry));
    }
    state.metrics.cache_lookup("l3", false);
    Ok(None)
}

/// Stores a new result in every layer (L1 here and in Redis, L2, L3; a
/// batch's results reach L3 in its Aggregate stage).
async fn put(
    state: &AppState,
    kind: &'static str,
    subject: Uuid,
    range: &str,
    entry: Arc<Entry>,
    batch: Option<Uuid>,
) {
    state.metrics.computation(kind);
    let row = entry.to_stored(kind, subject, range, batch);
    if let Err(err) = state.store.put_result(&row).await {
        tracing::warn!(error = %err, "writing L2 failed");
    }
    if batch.is_none()
        && let Err(err) = state.store.put_rollup(&row).await
    {
        tracing::warn!(error = %err, "writing L3 failed");
    }
    state.l1.put(&cache_key(kind, subject, range), entry).await;
}

/// A cached result: when older than the staleness threshold, a refresh of
/// it is queued (one pending job per result set).
async fn after_hit(state: &AppState, entry: Arc<Entry>, refresh: GamificationPayload) -> Served {
    let served = Served {
        entry,
        cached: true,
    };
    if served.stale(state.clock.now())
        && let Err(err) = queue(state, refresh, None).await
    {
        tracing::warn!(error = %err, "queueing a stale gamification result's refresh failed");
    }
    served
}

/// Queues a `gamification` job; one pending job per organisation and set.
pub async fn queue(
    state: &AppState,
    payload: GamificationPayload,
    owner: Option<Uuid>,
) -> Result<crate::queue::Enqueued, GamificationError> {
    let what = if payload.boards {
        "boards".to_owned()
    } else {
        payload
            .learners
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let singleton_key = Some(format!("gamification:{}:{what}", payload.organization_id));
    Ok(state
        .queue
        .enqueue(NewJob {
            owner,
            singleton_key,
            priority: 10,
            max_attempts: 3,
            ..JobKind::Gamification(payload).into_job()
        })
        .await?)
}

/// One of a learner's results (`user`: the path's learner; the guard
/// decided access) through the cache layers.
pub async fn learner(
    state: &AppState,
    which: LearnerResult,
    user: Uuid,
    caller_org: Uuid,
) -> Result<Served, GamificationError> {
    let version = state.store.records_version().await?;
    let key = cache_key(which.kind(), user, ALL);
    let org_of = |org| GamificationPayload {
        organization_id: org,
        learners: vec![user],
        ..GamificationPayload::default()
    };
    if let Some(entry) = l1_hit(state, &key, version).await {
        return Ok(after_hit(state, entry.clone(), org_of(entry.organization_id)).await);
    }
    let _flight = state.l1.flight(&key).await;
    if let Some(entry) = lookup(state, which.kind(), user, ALL, version).await? {
        return Ok(after_hit(state, entry.clone(), org_of(entry.organization_id)).await);
    }
    let org = analytics::organization_of(state, SubjectKind::Learner, user, caller_org).await?;
    let ds = analytics::dataset(state, org).await?;
    let mut computed =
        compute_learners(state, &ds, org, vec![user], now(state), version, None).await?;
    let entries = computed
        .pop()
        .ok_or_else(|| internal(anyhow::anyhow!("no result")))?;
    let index = LearnerResult::ALL
        .iter()
        .position(|w| *w == which)
        .unwrap_or(0);
    Ok(Served {
        entry: entries[index].clone(),
        cached: false,
    })
}

/// Computes and stores the three results of each learner, from one ledger
/// each; the entries in the order of `LearnerResult::ALL`.
async fn compute_learners(
    state: &AppState,
    ds: &Arc<Dataset>,
    org: Uuid,
    users: Vec<Uuid>,
    at: DateTime<Utc>,
    version: i64,
    batch: Option<Uuid>,
) -> Result<Vec<[Arc<Entry>; 3]>, GamificationError> {
    let data = ds.clone();
    let texts = blocking(move || {
        users
            .into_iter()
            .map(|user| {
                let l = rules::ledger(&data, user, at);
                let texts = [
                    serde_json::to_string(&rules::stats(&l)),
                    serde_json::to_string(&rules::achievements(&l)),
                    serde_json::to_string(&rules::streak(&l)),
                ];
                (user, texts)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let (source, _) = analytics::freshness(state).await;
    let mut out = Vec::with_capacity(texts.len());
    for (user, texts) in texts {
        let mut entries = Vec::with_capacity(3);
        for (which, text) in LearnerResult::ALL.into_iter().zip(texts) {
            let entry = Arc::new(
                Entry::new(text.map_err(internal)?, source, at, org).with_records_version(version),
            );
            put(state, which.kind(), user, ALL, entry.clone(), batch).await;
            entries.push(entry);
        }
        let entries: [Arc<Entry>; 3] = entries
            .try_into()
            .map_err(|_| internal(anyhow::anyhow!("three results")))?;
        out.push(entries);
    }
    Ok(out)
}

/// The cache subject and range of a board.
fn board_key(org: Uuid, scope: Scope, period: Period) -> (Uuid, String) {
    match scope {
        Scope::Organization => (org, format!("organization:{}", period.as_str())),
        Scope::Department(id) => (id, format!("department:{}", period.as_str())),
        Scope::Course(id) => (id, format!("course:{}", period.as_str())),
    }
}

/// Computes and stores boards of the organisation.
async fn put_boards(
    state: &AppState,
    org: Uuid,
    boards: Vec<Board>,
    at: DateTime<Utc>,
    version: i64,
    batch: Option<Uuid>,
    source: DataSource,
) -> Result<Vec<Arc<Entry>>, GamificationError> {
    let mut out = Vec::with_capacity(boards.len());
    for board in boards {
        let (subject, range) = board_key(org, board.scope, board.period);
        let text = serde_json::to_string(&board).map_err(internal)?;
        let entry = Arc::new(Entry::new(text, source, at, org).with_records_version(version));
        put(state, LEADERBOARD, subject, &range, entry.clone(), batch).await;
        out.push(entry);
    }
    Ok(out)
}

/// The ranked board of one scope and window through the cache layers; a
/// miss computes the scope's boards of every window at once.
async fn board(
    state: &AppState,
    org: Uuid,
    scope: Scope,
    period: Period,
) -> Result<Served, GamificationError> {
    let version = state.store.records_version().await?;
    let (subject, range) = board_key(org, scope, period);
    let key = cache_key(LEADERBOARD, subject, &range);
    let refresh = GamificationPayload {
        organization_id: org,
        boards: true,
        ..GamificationPayload::default()
    };
    if let Some(entry) = l1_hit(state, &key, version).await {
        return Ok(after_hit(state, entry, refresh).await);
    }
    let _flight = state.l1.flight(&key).await;
    if let Some(entry) = lookup(state, LEADERBOARD, subject, &range, version).await? {
        return Ok(after_hit(state, entry, refresh).await);
    }
    let ds = analytics::dataset(state, org).await?;
    let at = now(state);
    let boards = blocking(move || rules::scope_boards(&ds, scope, at)).await?;
    let (source, _) = analytics::freshness(state).await;
    let index = boards.iter().position(|b| b.period == period);
    let entries = put_boards(state, org, boards, at, version, None, source).await?;
    let entry = index
        .and_then(|i| entries.get(i).cloned())
        .ok_or_else(|| internal(anyhow::anyhow!("no board for the window")))?;
    Ok(Served {
        entry,
        cached: false,
    })
}

/// The `gamification` job: recomputes an organisation's results into every
/// cache layer, on one load of its records and one ledger per learner.
pub async fn run_job(
    state: &AppState,
    p: &GamificationPayload,
) -> Result<serde_json::Value, GamificationError> {
    let org = p.organization_id;
    let version = state.store.records_version().await?;
    let ds = analytics::dataset(state, org).await?;
    let at = p.as_of.map_or_else(|| now(state), |t| t.trunc_subsecs(0));
    let learners: Vec<Uuid> = if p.all_learners {
        let data = ds.clone();
        blocking(move || {
            let org_id = data.records.organization.as_ref().map(|o| o.id);
            data.learners()
                .filter(|u| Some(u.organization_id) == org_id)
                .map(|u| u.id)
                .collect()
        })
        .await?
    } else {
        p.learners.clone()
    };
    let done = compute_learners(state, &ds, org, learners, at, version, p.batch_id)
        .await?
        .len();
    let mut boards = 0;
    if p.boards {
        let data = ds.clone();
        let all = blocking(move || rules::boards(&data, at)).await?;
        let (source, _) = analytics::freshness(state).await;
        boards = put_boards(state, org, all, at, version, p.batch_id, source)
            .await?
            .len();
    }
    Ok(serde_json::json!({ "learners": done, "boards": boards, "recordsVersion": version }))
}

/// Recomputes learners' results on a dataset already loaded (a learner's
/// refresh of their analytics refreshes their gamification too).
pub async fn refresh_learners(
    state: &AppState,
    org: Uuid,
    learners: Vec<Uuid>,
) -> Result<usize, GamificationError> {
    // The version before the records: a write in between makes the result
    // out of date, never wrongly current.
    let version = state.store.records_version().await?;
    let ds = analytics::dataset(state, org).await?;
    Ok(
        compute_learners(state, &ds, org, learners, now(state), version, None)
            .await?
            .len(),
    )
}

/// What a leaderboard request asks for, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardQuery {
    pub scope: ScopeKind,
    pub period: Period,
    pub limit: usize,
    /// 1-based; entries from `(page - 1) * limit`.
    pub page: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Organization,
    /// `None`: the caller's own department.
    Department(Option<Uuid>),
    Course(Uuid),
}

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: u32 = 100;
pub const MAX_PAGE: u32 = 10_000;

/// The scope asked for, decided by `authz`: a department of the caller's
/// organisation (default: their own); a course of it that they are
/// enrolled in or teach (org admins: any).
async fn resolve_scope(
    state: &AppState,
    caller: &Caller,
    scope: ScopeKind,
) -> Result<Scope, GamificationError> {
    let forbidden = |d: authz::Denial| GamificationError::Forbidden(d.to_string());
    Ok(match scope {
        ScopeKind::Organization => Scope::Organization,
        ScopeKind::Department(id) => {
            let id = match id {
                Some(id) => id,
                None => state
                    .store
                    .user(caller.user_id)
                    .await?
                    .and_then(|u| u.department_id)
                    .ok_or_else(|| {
                        invalid("departmentId", "is required: you belong to no department")
                    })?,
            };
            let org = state.store.department_organization(id).await?;
            authz::decide_own_organization(caller, org).map_err(forbidden)?;
            Scope::Department(id)
        }
        ScopeKind::Course(id) => {
            let (organization_id, caller_enrolled, caller_teaches) =
                state.store.course_relation(id, caller.user_id).await?;
            authz::decide_course_leaderboard(
                caller,
                CourseFacts {
                    organization_id,
                    caller_enrolled,
                    caller_teaches,
                },
            )
            .map_err(forbidden)?;
            Scope::Course(id)
        }
    })
}

/// The caller as a reader of `board`: their own points and Directory flag
/// matter only when they are not on it (then from their cached stats).
async fn reader(
    state: &AppState,
    caller: &Caller,
    board: &Board,
) -> Result<Reader, GamificationError> {
    let me = caller.user_id;
    let mut reader = Reader {
        user_id: me,
        points: 0,
        directory_opt_out: false,
    };
    if board.rows.iter().any(|r| r.user_id == me) {
        return Ok(reader);
    }
    let Some(user) = state.store.user(me).await? else {
        return Ok(reader);
    };
    reader.directory_opt_out = user.leaderboard_opt_out;
    let stats = learner(state, LearnerResult::Stats, me, caller.organization_id).await?;
    let stats: serde_json::Value = serde_json::from_str(&stats.entry.data).map_err(internal)?;
    let field = match board.period {
        Period::Week => "pointsLast7Days",
        Period::Month => "pointsLast30Days",
        Period::AllTime => "totalPoints",
    };
    reader.points = stats[field]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    Ok(reader)
}

/// The caller's organisation's leaderboard, as the caller sees it: the
/// cached board of the scope and window with the leaderboard choices in
/// force now (read from the database on every request) applied. The
/// result's entity tag is of what this caller is shown.
pub async fn leaderboard(
    state: &AppState,
    caller: &Caller,
    q: LeaderboardQuery,
) -> Result<Served, GamificationError> {
    let org = caller.organization_id;
    let scope = resolve_scope(state, caller, q.scope).await?;
    let served = board(state, org, scope, q.period).await?;
    let board: Board = serde_json::from_str(&served.entry.data).map_err(internal)?;
    let overrides = state.store.leaderboard_opt_outs(org).await?;
    let reader = reader(state, caller, &board).await?;
    let offset = (q.page - 1).saturating_mul(q.limit);
    let view = rules::view(&board, &reader, &overrides, offset, q.limit);
    let text = serde_json::to_string(&view).map_err(internal)?;
    let stored = &served.entry;
    let mut entry = Entry::new(
        text,
        stored.data_source,
        stored.computed_at,
        stored.organization_id,
    );
    entry.records_version = stored.records_version;
    Ok(Served {
        entry: Arc::new(entry),
        cached: served.cached,
    })
}

/// A person's gamification preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preferences {
    /// Out of every leaderboard (own points and rank stay visible to oneself).
    pub leaderboard_opt_out: bool,
}

pub async fn preferences(state: &AppState, user: Uuid) -> Result<Preferences, GamificationError> {
    let own = state.store.leaderboard_opt_out(user).await?;
    let directory = || async {
        Ok::<_, GamificationError>(
            state
                .store
                .user(user)
                .await?
                .is_some_and(|u| u.leaderboard_opt_out),
        )
    };
    Ok(Preferences {
        leaderboard_opt_out: match own {
            Some(v) => v,
            None => directory().await?,
        },
    })
}

pub async fn set_preferences(
    state: &AppState,
    user: Uuid,
    prefs: Preferences,
) -> Result<Preferences, GamificationError> {
    state
        .store
        .set_leaderboard_opt_out(user, prefs.leaderboard_opt_out, Utc::now())
        .await?;
    Ok(prefs)
}
