//! Gamification as served (docs/gamification.md): load the subject's
//! organisation's learning records, recompute the learner's ledger with the
//! pure rules of `lumen_core::gamification`, and wrap the answer in the
//! analytics envelope (PRODUCT §3.1). Nothing is stored but the learner's
//! leaderboard choice.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use lumen_core::analytics::{Dataset, SubjectKind};
use lumen_core::authz::{self, Caller};
use lumen_core::gamification::{self as rules, Ledger, Period, Scope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::analytics::{self, Envelope};
use crate::state::AppState;
use crate::store::StoreError;

/// Why a gamification request failed.
#[derive(Debug, thiserror::Error)]
pub enum GamificationError {
    /// A query parameter is not valid.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The department or course is not of the caller's organisation.
    #[error("{0}")]
    Forbidden(String),
    /// Loading the subject's organisation or records failed (the analytics
    /// service's answer: not found, insufficient data, …).
    #[error(transparent)]
    Analytics(#[from] analytics::ServeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn invalid(field: &'static str, reason: &str) -> GamificationError {
    GamificationError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

/// Runs `f` on the subject's ledger, in a blocking task, and wraps its answer.
async fn with_ledger<T, F>(
    state: &AppState,
    user: Uuid,
    caller_org: Uuid,
    f: F,
) -> Result<Envelope<T>, GamificationError>
where
    T: Send + 'static,
    F: FnOnce(&Ledger) -> T + Send + 'static,
{
    let org = analytics::organization_of(state, SubjectKind::Learner, user, caller_org).await?;
    let ds = analytics::dataset(state, org).await?;
    let now = Utc::now().trunc_subsecs(0);
    let data = blocking(move || f(&rules::ledger(&ds, user, now))).await?;
    let (source, _) = analytics::freshness(state).await;
    Ok(analytics::envelope(data, source, now))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, GamificationError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GamificationError::Internal(e.into()))
}

pub async fn stats(
    state: &AppState,
    user: Uuid,
    caller_org: Uuid,
) -> Result<Envelope<rules::Stats>, GamificationError> {
    with_ledger(state, user, caller_org, rules::stats).await
}

pub async fn achievements(
    state: &AppState,
    user: Uuid,
    caller_org: Uuid,
) -> Result<Envelope<rules::Achievements>, GamificationError> {
    with_ledger(state, user, caller_org, rules::achievements).await
}

pub async fn streak(
    state: &AppState,
    user: Uuid,
    caller_org: Uuid,
) -> Result<Envelope<rules::Streak>, GamificationError> {
    with_ledger(state, user, caller_org, rules::streak).await
}

/// What a leaderboard request asks for, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardQuery {
    /// `None`: the caller's own department.
    pub scope: ScopeKind,
    pub period: Period,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Organization,
    /// `None`: the caller's own department.
    Department(Option<Uuid>),
    Course(Uuid),
}

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

/// A leaderboard request's query parameters, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardParams {
    pub scope: Option<String>,
    pub department_id: Option<String>,
    pub course_id: Option<String>,
    pub window: Option<String>,
    pub limit: Option<String>,
}

impl LeaderboardQuery {
    /// Validates `scope`, `departmentId`, `courseId`, `window`, `limit`.
    pub fn parse(params: &LeaderboardParams) -> Result<Self, GamificationError> {
        let uuid = |name: &'static str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| Uuid::parse_str(v).map_err(|_| invalid(name, "must be a UUID")))
                .transpose()
        };
        let scope = match params.scope.as_deref().unwrap_or("organization") {
            "organization" => ScopeKind::Organization,
            "department" => ScopeKind::Department(uuid("departmentId", &params.department_id)?),
            "course" => ScopeKind::Course(
                uuid("courseId", &params.course_id)?
                    .ok_or_else(|| invalid("courseId", "is required with scope=course"))?,
            ),
            _ => {
                return Err(invalid(
                    "scope",
                    "must be one of organization, department, course",
                ));
            }
        };
        let period = match params.window.as_deref().unwrap_or("week") {
            "week" => Period::Week,
            "month" => Period::Month,
            "all-time" => Period::AllTime,
            _ => return Err(invalid("window", "must be one of week, month, all-time")),
        };
        let limit = match &params.limit {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| invalid("limit", "must be an integer from 1 to 100"))?,
        };
        Ok(Self {
            scope,
            period,
            limit,
        })
    }
}

/// The caller's organisation's leaderboard. A department or course must be
/// of the caller's organisation (decided by `authz`).
pub async fn leaderboard(
    state: &AppState,
    caller: &Caller,
    q: LeaderboardQuery,
) -> Result<Envelope<rules::Leaderboard>, GamificationError> {
    let org = caller.organization_id;
    let ds: Arc<Dataset> = analytics::dataset(state, org).await?;
    let scope = match q.scope {
        ScopeKind::Organization => Scope::Organization,
        ScopeKind::Department(id) => {
            let id = match id {
                Some(id) => id,
                None => ds
                    .user(caller.user_id)
                    .and_then(|u| u.department_id)
                    .ok_or_else(|| {
                        invalid("departmentId", "is required: you belong to no department")
                    })?,
            };
            let dept_org = ds
                .records
                .departments
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.organization_id);
            authz::decide_own_organization(caller, dept_org)
                .map_err(|d| GamificationError::Forbidden(d.to_string()))?;
            Scope::Department(id)
        }
        ScopeKind::Course(id) => {
            authz::decide_own_organization(caller, ds.course(id).map(|c| c.organization_id))
                .map_err(|d| GamificationError::Forbidden(d.to_string()))?;
            Scope::Course(id)
        }
    };
    let overrides = state.store.leaderboard_opt_outs(org).await?;
    let now = Utc::now().trunc_subsecs(0);
    let me = caller.user_id;
    let data =
        blocking(move || rules::leaderboard(&ds, me, scope, q.period, q.limit, &overrides, now))
            .await?;
    let (source, _) = analytics::freshness(state).await;
    Ok(analytics::envelope(data, source, now))
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
