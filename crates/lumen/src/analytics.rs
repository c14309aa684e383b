//! Stage 2, Analyze, as the API serves it: resolve the subject's
//! organisation, load its learning records, run the pure analytic from
//! `lumen_core::analytics`, and wrap the result in the envelope of
//! PRODUCT §3.1 with the data's freshness.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use lumen_core::Role;
use lumen_core::analytics::{AnalyticError, Dataset, TimeRange, Window};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::collector::Freshness;
use crate::error::ApiError;
use crate::state::AppState;

/// Results are fresh for 6 hours (PRODUCT §3.1).
pub const STALE_AFTER: Duration = Duration::hours(6);

/// Where an analytic's numbers come from (PRODUCT §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// Computed from current upstream data.
    Realtime,
    /// Served from a cache layer.
    Cached,
    /// Some upstream could not be refreshed: last known good data.
    Stale,
    /// Synthetic data (mock fallback).
    Mock,
}

/// The success envelope of every analytic (PRODUCT §3.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub data: T,
    /// Served from a cache layer.
    pub cached: bool,
    /// Older than 6 hours.
    pub stale: bool,
    pub data_source: DataSource,
    pub last_updated: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Which subject an analytic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Learner,
    Trainer,
    Organization,
    /// The caller's own organisation (skill-demand).
    CallersOrganization,
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
        data_source,
        last_updated,
        expires_at: last_updated + STALE_AFTER,
    }
}

/// The organisation whose records an analytic about `subject` reads.
pub async fn organization_of(
    state: &AppState,
    kind: Subject,
    subject: Uuid,
    caller_org: Uuid,
) -> Result<Uuid, ApiError> {
    match kind {
        Subject::Organization => Ok(subject),
        Subject::CallersOrganization => Ok(caller_org),
        Subject::Learner | Subject::Trainer => state
            .store
            .user(subject)
            .await?
            .map(|u| u.organization_id)
            .ok_or_else(|| ApiError::NotFound("no such user".into())),
    }
}

/// One organisation's records, indexed.
pub async fn dataset(state: &AppState, org: Uuid) -> Result<Arc<Dataset>, ApiError> {
    let records = state.store.load_records(org).await?;
    if records.organization.is_none() {
        return Err(ApiError::NotFound("no such organisation".into()));
    }
    Ok(Arc::new(
        tokio::task::spawn_blocking(move || Dataset::new(records))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?,
    ))
}

impl From<AnalyticError> for ApiError {
    fn from(err: AnalyticError) -> Self {
        match err {
            AnalyticError::NotFound(message) => ApiError::NotFound(message),
            AnalyticError::InsufficientData {
                analytic,
                reason,
                message,
                minimum,
                found,
            } => {
                let mut details = Map::new();
                details.insert("analytic".into(), Value::from(analytic));
                details.insert("reason".into(), Value::from(reason));
                details.insert(
                    "minimum".into(),
                    serde_json::to_value(minimum).unwrap_or_default(),
                );
                details.insert(
                    "found".into(),
                    serde_json::to_value(found).unwrap_or_default(),
                );
                ApiError::InsufficientData { message, details }
            }
        }
    }
}

/// `?timeRange=` (default 30d), validated.
pub fn time_range(query: Option<&str>) -> Result<TimeRange, ApiError> {
    let Some(query) = query else {
        return Ok(TimeRange::default());
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "timeRange" {
            return value
                .parse()
                .map_err(|_| ApiError::validation("timeRange", "must be one of 7d, 30d, 90d, 1y"));
        }
    }
    Ok(TimeRange::default())
}

pub fn window(range: TimeRange) -> Window {
    Window::new(range, Utc::now().trunc_subsecs(0))
}

/// Drop-off models by organisation, retrained when older than a day.
#[derive(Default)]
pub struct Models {
    by_org: RwLock<HashMap<Uuid, Arc<ModelEntry>>>,
}

pub struct ModelEntry {
    pub trained_at: DateTime<Utc>,
    pub model: Option<lumen_core::analytics::dropoff::DropoffModel>,
}

impl Models {
    /// The organisation's model, trained now if missing or older than 24 h.
    /// `None` inside when there was not enough history to train one.
    pub async fn get(&self, org: Uuid, ds: &Arc<Dataset>, now: DateTime<Utc>) -> Arc<ModelEntry> {
        if let Some(entry) = self.by_org.read().await.get(&org)
            && now - entry.trained_at < Duration::hours(24)
        {
            return entry.clone();
        }
        let data = ds.clone();
        let model = tokio::task::spawn_blocking(move || {
            lumen_core::analytics::dropoff::train(&data, now).ok()
        })
        .await
        .ok()
        .flatten();
        let entry = Arc::new(ModelEntry {
            trained_at: now,
            model,
        });
        self.by_org.write().await.insert(org, entry.clone());
        entry
    }

    /// Every trained model's evaluation, for `/api/status`.
    pub async fn evaluations(
        &self,
    ) -> Vec<(Uuid, Option<lumen_core::analytics::dropoff::Evaluation>)> {
        self.by_org
            .read()
            .await
            .iter()
            .map(|(org, e)| (*org, e.model.as_ref().map(|m| m.evaluation.clone())))
            .collect()
    }
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

/// The 19 analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Velocity,
    SkillGap,
    Engagement,
    Mastery,
    Performance,
    ContentEffectiveness,
    CoursePerformance,
    CourseHealth,
    StudentDistribution,
    TeachingEffectiveness,
    LearningVelocity,
    StrategicAlignment,
    LearningCulture,
    OrgPerformance,
    Peer,
    SkillDemand,
    DropOffRisk,
    Forecast,
    Recommendations,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Velocity => "velocity",
            Kind::SkillGap => "skill-gap",
            Kind::Engagement => "engagement",
            Kind::Mastery => "mastery",
            Kind::Performance => "performance",
            Kind::ContentEffectiveness => "content-effectiveness",
            Kind::CoursePerformance => "course-performance",
            Kind::CourseHealth => "course-health",
            Kind::StudentDistribution => "student-distribution",
            Kind::TeachingEffectiveness => "teaching-effectiveness",
            Kind::LearningVelocity => "learning-velocity",
            Kind::StrategicAlignment => "strategic-alignment",
            Kind::LearningCulture => "learning-culture",
            Kind::OrgPerformance => "org-performance",
            Kind::Peer => "peer",
            Kind::SkillDemand => "skill-demand",
            Kind::DropOffRisk => "drop-off-risk",
            Kind::Forecast => "forecast",
            Kind::Recommendations => "recommendations",
        }
    }

    pub fn subject(self) -> Subject {
        use Kind::*;
        match self {
            CoursePerformance | CourseHealth | StudentDistribution | TeachingEffectiveness => {
                Subject::Trainer
            }
            LearningVelocity | StrategicAlignment | LearningCulture | OrgPerformance => {
                Subject::Organization
            }
            SkillDemand => Subject::CallersOrganization,
            _ => Subject::Learner,
        }
    }

    fn needs_model(self) -> bool {
        matches!(
            self,
            Kind::DropOffRisk | Kind::Forecast | Kind::StudentDistribution
        )
    }

    /// The analytics of a role bundle (docs/analytics.md §4).
    pub fn bundle(role: Role) -> &'static [Kind] {
        use Kind::*;
        match role {
            Role::Learner => &[
                Velocity,
                SkillGap,
                Engagement,
                Mastery,
                Performance,
                ContentEffectiveness,
                Peer,
                DropOffRisk,
                Forecast,
                Recommendations,
            ],
            Role::Trainer => &[
                CoursePerformance,
                CourseHealth,
                StudentDistribution,
                TeachingEffectiveness,
            ],
            Role::OrgAdmin => &[
                LearningVelocity,
                StrategicAlignment,
                LearningCulture,
                OrgPerformance,
                SkillDemand,
            ],
        }
    }
}

/// What a computation reads besides the dataset.
pub struct Context<'a> {
    pub ds: &'a Dataset,
    pub w: &'a Window,
    pub k: usize,
    pub model: Option<&'a lumen_core::analytics::dropoff::DropoffModel>,
    /// Learner AI's last suggestions for the subject; `None`: unavailable.
    pub ai: Option<Vec<lumen_core::analytics::recommendations::AiSuggestion>>,
}

fn json<T: Serialize>(value: T) -> Result<Value, AnalyticError> {
    serde_json::to_value(value)
        .map_err(|e| AnalyticError::NotFound(format!("unserialisable result: {e}")))
}

/// Runs one analytic (CPU-bound; call from a blocking task).
pub fn run(kind: Kind, subject: Uuid, ctx: &Context<'_>) -> Result<Value, AnalyticError> {
    use lumen_core::analytics::{
        comparison, forecast, learner, org, recommendations as recs, trainer,
    };
    let (ds, w, k) = (ctx.ds, ctx.w, ctx.k);
    match kind {
        Kind::Velocity => json(learner::velocity(ds, subject, w)?),
        Kind::SkillGap => json(learner::skill_gap(ds, subject, w)?),
        Kind::Engagement => json(learner::engagement(ds, subject, w)?),
        Kind::Mastery => json(learner::mastery(ds, subject, w)?),
        Kind::Performance => json(learner::performance(ds, subject, w)?),
        Kind::ContentEffectiveness => json(learner::content_effectiveness(ds, subject, w)?),
        Kind::CoursePerformance => json(trainer::course_performance(ds, subject, w)?),
        Kind::CourseHealth => json(trainer::course_health(ds, subject, w)?),
        Kind::StudentDistribution => {
            let signals = |l: Uuid| {
                trainer::LearnerSignals::new(
                    learner::engagement(ds, l, w).ok().as_ref(),
                    drop_off(ctx, l).ok().as_ref(),
                )
            };
            json(trainer::student_distribution(ds, subject, w, k, &signals)?)
        }
        Kind::TeachingEffectiveness => json(trainer::teaching_effectiveness(ds, subject, w, k)?),
        Kind::LearningVelocity => json(org::learning_velocity(ds, subject, w, k)?),
        Kind::StrategicAlignment => json(org::strategic_alignment(ds, subject, w, k)?),
        Kind::LearningCulture => json(org::learning_culture(ds, subject, w, k)?),
        Kind::OrgPerformance => json(org::org_performance(ds, subject, w, k)?),
        Kind::Peer => {
            let metrics = |l: Uuid| comparison::PeerMetrics::of(ds, l, w);
            json(comparison::peer(ds, subject, w, k, &metrics)?)
        }
        Kind::SkillDemand => json(comparison::skill_demand(ds, subject, w, k)?),
        Kind::DropOffRisk => json(drop_off(ctx, subject)?),
        Kind::Forecast => {
            let inputs = forecast::ForecastInputs {
                drop_off: drop_off(ctx, subject).ok().as_ref().map(Into::into),
            };
            json(forecast::forecast(ds, subject, w, &inputs)?)
        }
        Kind::Recommendations => {
            let inputs = recs::RecommendationInputs {
                k_anonymity: k,
                skill_gap: learner::skill_gap(ds, subject, w)
                    .ok()
                    .as_ref()
                    .map(Into::into),
                content: learner::content_effectiveness(ds, subject, w)
                    .ok()
                    .as_ref()
                    .map(Into::into),
                engagement: learner::engagement(ds, subject, w)
                    .ok()
                    .as_ref()
                    .map(Into::into),
                ai_suggestions: ctx.ai.clone(),
            };
            json(recs::recommendations(ds, subject, w, &inputs)?)
        }
    }
}

fn drop_off(
    ctx: &Context<'_>,
    learner: Uuid,
) -> Result<lumen_core::analytics::dropoff::DropoffRisk, AnalyticError> {
    lumen_core::analytics::dropoff::drop_off_risk(ctx.ds, learner, ctx.w, ctx.model)
}

/// One analytic for one subject, in its envelope.
pub async fn compute(
    state: &AppState,
    kind: Kind,
    subject: Uuid,
    caller_org: Uuid,
    range: TimeRange,
) -> Result<Envelope<Value>, ApiError> {
    let org = organization_of(state, kind.subject(), subject, caller_org).await?;
    let subject = if kind.subject() == Subject::CallersOrganization {
        org
    } else {
        subject
    };
    let ds = dataset(state, org).await?;
    let results = compute_with(state, &[kind], subject, org, &ds, range).await?;
    results
        .into_iter()
        .next()
        .map(|(_, r)| r)
        .unwrap_or_else(|| Err(ApiError::Internal(anyhow::anyhow!("no result"))))
}

/// Several analytics for one subject on one dataset, each in its envelope.
pub async fn compute_with(
    state: &AppState,
    kinds: &[Kind],
    subject: Uuid,
    org: Uuid,
    ds: &Arc<Dataset>,
    range: TimeRange,
) -> Result<Vec<(Kind, Result<Envelope<Value>, ApiError>)>, ApiError> {
    let w = window(range);
    let model = if kinds.iter().any(|k| k.needs_model()) {
        Some(state.models.get(org, ds, w.now).await)
    } else {
        None
    };
    let ai = if kinds.contains(&Kind::Recommendations) {
        state.learner_ai.suggestions(state, subject).await
    } else {
        None
    };
    let (source, missing) = freshness(state).await;
    let k = state.config.k_anonymity;
    let data = ds.clone();
    let kinds_owned = kinds.to_vec();
    let results = tokio::task::spawn_blocking(move || {
        let ctx = Context {
            ds: &data,
            w: &w,
            k,
            model: model.as_ref().and_then(|m| m.model.as_ref()),
            ai,
        };
        kinds_owned
            .into_iter()
            .map(|kind| (kind, run(kind, subject, &ctx)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(results
        .into_iter()
        .map(|(kind, result)| {
            let result = result.map_err(ApiError::from).map(|mut value| {
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
