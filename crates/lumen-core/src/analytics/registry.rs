//! Every analytic, declared once: its name, family, subject, who may ask for
//! it, where it is served, how it is computed and what it answers. The
//! service drives its routes, handler, OpenAPI document, role bundles,
//! batch and refresh jobs from [`ANALYTICS`]; adding an analytic is its
//! module, its tests and one entry here.
//!
//! [`Inputs`] is what a computation reads besides the subject: the
//! dataset, the window, k, the organisation's drop-off model, Learner AI's
//! suggestions and a [`Memo`] of per-learner peer metrics. Analytics that
//! need others' outputs get them here, so the families stay independent.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};
use uuid::Uuid;

use super::comparison::{self, PeerMetrics};
use super::dropoff::{self, DropoffModel, DropoffRisk};
use super::recommendations::{self as recs, AiSuggestion};
use super::{AnalyticError, Dataset, Window, forecast, learner, org, trainer};
use crate::Role;
use crate::authz::{Access, SubjectRule};

/// The family of an analytic; its name is the OpenAPI tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Learner,
    Trainer,
    Organization,
    Comparison,
    Predictive,
}

impl Family {
    /// The OpenAPI tag of the family's operations.
    pub fn tag(self) -> &'static str {
        match self {
            Family::Learner => "learner",
            Family::Trainer => "trainer",
            Family::Organization => "organization",
            Family::Comparison => "comparison",
            Family::Predictive => "predictive",
        }
    }
}

/// Which subject an analytic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Learner,
    Trainer,
    Organization,
    /// The caller's own organisation (skill-demand): no path parameter.
    CallersOrganization,
}

/// What a computation reads besides the subject.
pub struct Inputs<'a> {
    pub ds: &'a Dataset,
    pub w: &'a Window,
    /// `LUMEN_K_ANONYMITY`.
    pub k: usize,
    /// The organisation's drop-off model; `None`: the heuristic answers.
    pub model: Option<&'a DropoffModel>,
    /// Learner AI's last suggestions for the subject; `None`: unavailable.
    pub ai: Option<Vec<AiSuggestion>>,
    /// Peer metrics already computed on this dataset and window.
    pub memo: Option<&'a Memo>,
}

impl Inputs<'_> {
    /// The memo of this window, when the caller keeps one.
    fn window_memo(&self) -> Option<Arc<WindowMemo>> {
        self.memo.map(|m| m.window(self.w))
    }

    fn drop_off(&self, learner: Uuid) -> Result<DropoffRisk, AnalyticError> {
        match self.window_memo() {
            Some(wm) => wm.drop_off(self.ds, learner, self.w, self.model, None),
            None => dropoff::drop_off_risk(self.ds, learner, self.w, self.model),
        }
    }

    fn engagement(&self, learner: Uuid) -> Result<learner::Engagement, AnalyticError> {
        match self.memo {
            Some(memo) => memo
                .window(self.w)
                .engagement(memo, self.ds, learner, self.w),
            None => learner::engagement(self.ds, learner, self.w),
        }
    }

    fn peer_metrics(&self) -> Box<dyn Fn(Uuid) -> PeerMetrics + '_> {
        match self.memo {
            Some(memo) => {
                let all = memo.window(self.w).peer_metrics(memo, self.ds, self.w);
                Box::new(move |l| match all.get(&l) {
                    Some(m) => *m,
                    None => PeerMetrics::of(self.ds, l, self.w),
                })
            }
            None => Box::new(|l| PeerMetrics::of(self.ds, l, self.w)),
        }
    }
}

/// How many windows a [`Memo`] keeps (least recently used dropped).
const MEMO_WINDOWS: usize = 8;

/// What the analytics of one dataset share, computed once and reused by
/// every computation on that dataset: per window, the organisation-wide
/// engagement baselines, every learner's peer metrics (so `peer` is one
/// pass over the cohort, then look-ups), and each learner's engagement and
/// drop-off risk (read by `student-distribution`, `forecast`,
/// `recommendations` and `drop-off-risk` alike).
///
/// A memo belongs to one dataset: the service keeps it beside the
/// organisation's warm dataset and drops both together when the data
/// change. Results through a memo are exactly those computed without one
/// (`tests/memo.rs` checks every analytic).
#[derive(Default)]
pub struct Memo {
    /// Most recently used last.
    windows: Mutex<Vec<(Window, Arc<WindowMemo>)>>,
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.windows.lock().map(|w| w.len()).unwrap_or(0);
        write!(f, "Memo {{ windows: {n} }}")
    }
}

impl Memo {
    /// The memo of one window (created empty on first use).
    pub fn window(&self, w: &Window) -> Arc<WindowMemo> {
        let Ok(mut windows) = self.windows.lock() else {
            return Arc::new(WindowMemo::default());
        };
        if let Some(i) = windows.iter().position(|(x, _)| x == w) {
            let entry = windows.remove(i);
            let memo = entry.1.clone();
            windows.push(entry);
            return memo;
        }
        let memo = Arc::new(WindowMemo::default());
        windows.push((*w, memo.clone()));
        if windows.len() > MEMO_WINDOWS {
            windows.remove(0);
        }
        memo
    }
}

/// A drop-off model's identity in the memo: results of two models differ.
type ModelKey = Option<(chrono::DateTime<chrono::Utc>, u64)>;

fn model_key(model: Option<&DropoffModel>) -> ModelKey {
    model.map(|m| (m.trained_at, m.intercept.to_bits()))
}

/// One window's share of a [`Memo`].
#[derive(Default)]
pub struct WindowMemo {
    baseline: OnceLock<Arc<learner::EngagementBaseline>>,
    peer: OnceLock<Arc<HashMap<Uuid, PeerMetrics>>>,
    engagement: Mutex<HashMap<Uuid, Result<learner::Engagement, AnalyticError>>>,
    drop_off: Mutex<HashMap<(Uuid, ModelKey), Result<DropoffRisk, AnalyticError>>>,
    teaching: OnceLock<Arc<HashMap<Uuid, trainer::TrainerMetrics>>>,
}

impl WindowMemo {
    /// The window's engagement baseline.
    pub fn baseline(&self, ds: &Dataset, w: &Window) -> Arc<learner::EngagementBaseline> {
        self.baseline
            .get_or_init(|| Arc::new(learner::EngagementBaseline::new(ds, w)))
            .clone()
    }

    /// Every trainer's teaching metrics in this window.
    pub fn teaching(
        &self,
        ds: &Dataset,
        w: &Window,
    ) -> Arc<HashMap<Uuid, trainer::TrainerMetrics>> {
        self.teaching
            .get_or_init(|| Arc::new(trainer::every_trainers_metrics(ds, w)))
            .clone()
    }

    /// `learner`'s engagement in this window.
    pub fn engagement(
        &self,
        memo: &Memo,
        ds: &Dataset,
        learner: Uuid,
        w: &Window,
    ) -> Result<learner::Engagement, AnalyticError> {
        if let Some(r) = self
            .engagement
            .lock()
            .ok()
            .and_then(|m| m.get(&learner).cloned())
        {
            return r;
        }
        let now = self.baseline(ds, w);
        let previous = memo.window(&w.previous()).baseline(ds, &w.previous());
        let r = learner::engagement_with(ds, learner, w, Some((&now, &previous)));
        if let Ok(mut m) = self.engagement.lock() {
            m.insert(learner, r.clone());
        }
        r
    }

    /// `learner`'s drop-off risk with `model` in this window; `shared`:
    /// course contexts to build it from when it is not memoised yet.
    pub fn drop_off(
        &self,
        ds: &Dataset,
        learner: Uuid,
        w: &Window,
        model: Option<&DropoffModel>,
        shared: Option<&dropoff::SharedContexts<'_>>,
    ) -> Result<DropoffRisk, AnalyticError> {
        let key = (learner, model_key(model));
        if let Some(r) = self.drop_off.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return r;
        }
        let r = match shared {
            Some(shared) => shared.drop_off_risk(learner, w, model),
            None => dropoff::drop_off_risk(ds, learner, w, model),
        };
        if let Ok(mut m) = self.drop_off.lock() {
            m.insert(key, r.clone());
        }
        r
    }

    /// Every organisation learner's peer metrics in this window, computed
    /// once (with the engagement baselines).
    pub fn peer_metrics(
        &self,
        memo: &Memo,
        ds: &Dataset,
        w: &Window,
    ) -> Arc<HashMap<Uuid, PeerMetrics>> {
        self.peer
            .get_or_init(|| {
                let now = self.baseline(ds, w);
                let previous = memo.window(&w.previous()).baseline(ds, &w.previous());
                let bases = Some((now.as_ref(), previous.as_ref()));
                let all = ds
                    .learners()
                    .map(|u| {
                        let m = PeerMetrics {
                            engagement: learner::engagement_with(ds, u.id, w, bases)
                                .ok()
                                .map(|e| e.overall_score),
                            ..PeerMetrics::without_engagement(ds, u.id, w)
                        };
                        (u.id, m)
                    })
                    .collect();
                Arc::new(all)
            })
            .clone()
    }
}

/// Computes an analytic for a subject (CPU-bound; the service calls it
/// from a blocking task).
pub type Compute = fn(Uuid, &Inputs<'_>) -> Result<Value, AnalyticError>;

/// The OpenAPI schema of an analytic's `data`: pushes the components it
/// needs (itself included) and returns its name and schema.
pub type ResponseSchema =
    fn(&mut Vec<(String, RefOr<Schema>)>) -> (Cow<'static, str>, RefOr<Schema>);

/// One analytic.
pub struct Analytic {
    /// `skill-gap`: the cache key's and the bundle's name for it.
    pub name: &'static str,
    pub family: Family,
    pub subject: SubjectKind,
    /// What its route requires of the caller (the subject's path parameter
    /// is named here).
    pub access: Access,
    /// The role whose bundle lists it (docs/analytics.md §4).
    pub bundle: Role,
    /// The canonical path, e.g. `/api/v1/learner/analytics/skill-gap/{userId}`.
    pub path: &'static str,
    /// The OpenAPI summary.
    pub summary: &'static str,
    pub compute: Compute,
    /// Reads the organisation's drop-off model.
    pub needs_model: bool,
    /// Reads Learner AI's suggestions for the subject.
    pub needs_ai_suggestions: bool,
    pub schema: ResponseSchema,
}

impl Analytic {
    /// The analytic named `name` (`skill-gap`, …).
    pub fn from_name(name: &str) -> Option<&'static Analytic> {
        ANALYTICS.iter().find(|a| a.name == name)
    }

    /// The analytics of a role's bundle, in the order of the registry.
    pub fn bundle(role: Role) -> impl Iterator<Item = &'static Analytic> {
        ANALYTICS.iter().filter(move |a| a.bundle == role)
    }

    /// The path parameter naming the subject; `None` for the caller's
    /// organisation.
    pub fn param(&self) -> Option<&'static str> {
        match self.access {
            Access::Subject { param, .. } => Some(param),
            _ => None,
        }
    }

    /// Seed 002's path for it, `/api/v1/analytics/{family}/{name}` and the
    /// subject's parameter (e.g. `/api/v1/analytics/learner/velocity/{userId}`):
    /// served as a deprecated alias of [`Analytic::path`].
    pub fn seed_path(&self) -> &'static str {
        static PATHS: LazyLock<Vec<String>> = LazyLock::new(|| {
            ANALYTICS
                .iter()
                .map(|a| {
                    let base = format!("/api/v1/analytics/{}/{}", a.family.tag(), a.name);
                    match a.param() {
                        Some(param) => format!("{base}/{{{param}}}"),
                        None => base,
                    }
                })
                .collect()
        });
        let index = ANALYTICS
            .iter()
            .position(|a| a == self)
            .expect("every Analytic is in ANALYTICS");
        &PATHS[index]
    }
}

impl PartialEq for Analytic {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Analytic {}

impl fmt::Debug for Analytic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

fn json<T: Serialize>(value: T) -> Result<Value, AnalyticError> {
    serde_json::to_value(value)
        .map_err(|e| AnalyticError::NotFound(format!("unserialisable result: {e}")))
}

/// [`ResponseSchema`] of a type deriving `ToSchema`.
pub fn schema_of<T: ToSchema>(
    components: &mut Vec<(String, RefOr<Schema>)>,
) -> (Cow<'static, str>, RefOr<Schema>) {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    (T::name(), T::schema())
}

const fn subject(rule: SubjectRule, param: &'static str) -> Access {
    Access::Subject { rule, param }
}
const OWN_LEARNER: Access = subject(SubjectRule::OwnLearnerData, "userId");
const OWN_TRAINER: Access = subject(SubjectRule::OwnTrainerData, "trainerId");
const OWN_ORG: Access = subject(SubjectRule::OwnOrganization, "orgId");
const LEARNER: Access = subject(SubjectRule::Learner, "userId");

/// The 19 analytics of PRODUCT.md and seed 002's department-analytics, in
/// the order bundles and documents list them.
pub static ANALYTICS: &[Analytic] = &[
    Analytic {
        name: "velocity",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/velocity/{userId}",
        summary: "How fast the learner progresses.",
        compute: |s, i| json(learner::velocity(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::Velocity>,
    },
    Analytic {
        name: "skill-gap",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/skill-gap/{userId}",
        summary: "Skills the learner's role needs, and the gaps.",
        compute: |s, i| json(learner::skill_gap(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::SkillGap>,
    },
    Analytic {
        name: "engagement",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/engagement/{userId}",
        summary: "How engaged the learner is.",
        compute: |s, i| json(i.engagement(s)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::Engagement>,
    },
    Analytic {
        name: "mastery",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/mastery/{userId}",
        summary: "What the learner has mastered.",
        compute: |s, i| json(learner::mastery(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::Mastery>,
    },
    Analytic {
        name: "performance",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/performance/{userId}",
        summary: "The learner's assessment performance.",
        compute: |s, i| json(learner::performance(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::Performance>,
    },
    Analytic {
        name: "content-effectiveness",
        family: Family::Learner,
        subject: SubjectKind::Learner,
        access: OWN_LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/learner/analytics/content-effectiveness/{userId}",
        summary: "Which content works for the learner.",
        compute: |s, i| json(learner::content_effectiveness(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<learner::ContentEffectiveness>,
    },
    Analytic {
        name: "course-performance",
        family: Family::Trainer,
        subject: SubjectKind::Trainer,
        access: OWN_TRAINER,
        bundle: Role::Trainer,
        path: "/api/v1/trainer/analytics/course-performance/{trainerId}",
        summary: "How the trainer's courses perform.",
        compute: |s, i| json(trainer::course_performance(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<trainer::CoursePerformance>,
    },
    Analytic {
        name: "course-health",
        family: Family::Trainer,
        subject: SubjectKind::Trainer,
        access: OWN_TRAINER,
        bundle: Role::Trainer,
        path: "/api/v1/trainer/analytics/course-health/{trainerId}",
        summary: "Health of the trainer's courses.",
        compute: |s, i| json(trainer::course_health(i.ds, s, i.w)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<trainer::CourseHealth>,
    },
    Analytic {
        name: "student-distribution",
        family: Family::Trainer,
        subject: SubjectKind::Trainer,
        access: OWN_TRAINER,
        bundle: Role::Trainer,
        path: "/api/v1/trainer/analytics/student-distribution/{trainerId}",
        summary: "How the trainer's learners are spread.",
        compute: |s, i| {
            // Course contexts shared by the trainer's learners' risks.
            let shared = dropoff::SharedContexts::new(i.ds);
            let wm = i.window_memo();
            let signals = |l: Uuid| {
                let risk = match &wm {
                    Some(wm) => wm.drop_off(i.ds, l, i.w, i.model, Some(&shared)),
                    None => dropoff::drop_off_risk(i.ds, l, i.w, i.model),
                };
                trainer::LearnerSignals::new(i.engagement(l).ok().as_ref(), risk.ok().as_ref())
            };
            json(trainer::student_distribution(i.ds, s, i.w, i.k, &signals)?)
        },
        needs_model: true,
        needs_ai_suggestions: false,
        schema: schema_of::<trainer::StudentDistribution>,
    },
    Analytic {
        name: "teaching-effectiveness",
        family: Family::Trainer,
        subject: SubjectKind::Trainer,
        access: OWN_TRAINER,
        bundle: Role::Trainer,
        path: "/api/v1/trainer/analytics/teaching-effectiveness/{trainerId}",
        summary: "How effective the trainer's teaching is.",
        compute: |s, i| match i.window_memo() {
            Some(wm) => {
                let all = wm.teaching(i.ds, i.w);
                let metrics_of = |t: Uuid| match all.get(&t) {
                    Some(m) => *m,
                    None => trainer::teaching_metrics(i.ds, t, i.w),
                };
                json(trainer::teaching_effectiveness_with(
                    i.ds,
                    s,
                    i.w,
                    i.k,
                    &metrics_of,
                )?)
            }
            None => json(trainer::teaching_effectiveness(i.ds, s, i.w, i.k)?),
        },
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<trainer::TeachingEffectiveness>,
    },
    Analytic {
        name: "learning-velocity",
        family: Family::Organization,
        subject: SubjectKind::Organization,
        access: OWN_ORG,
        bundle: Role::OrgAdmin,
        path: "/api/v1/org-admin/analytics/learning-velocity/{orgId}",
        summary: "How fast the organisation learns, by department.",
        compute: |s, i| json(org::learning_velocity(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<org::LearningVelocity>,
    },
    Analytic {
        name: "strategic-alignment",
        family: Family::Organization,
        subject: SubjectKind::Organization,
        access: OWN_ORG,
        bundle: Role::OrgAdmin,
        path: "/api/v1/org-admin/analytics/strategic-alignment/{orgId}",
        summary: "Skills against the organisation's strategic targets.",
        compute: |s, i| json(org::strategic_alignment(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<org::StrategicAlignment>,
    },
    Analytic {
        name: "learning-culture",
        family: Family::Organization,
        subject: SubjectKind::Organization,
        access: OWN_ORG,
        bundle: Role::OrgAdmin,
        path: "/api/v1/org-admin/analytics/learning-culture/{orgId}",
        summary: "The organisation's learning culture.",
        compute: |s, i| json(org::learning_culture(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<org::LearningCulture>,
    },
    Analytic {
        name: "org-performance",
        family: Family::Organization,
        subject: SubjectKind::Organization,
        access: OWN_ORG,
        bundle: Role::OrgAdmin,
        path: "/api/v1/org-admin/analytics/org-performance/{orgId}",
        summary: "The organisation's learning performance.",
        compute: |s, i| json(org::org_performance(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<org::OrgPerformance>,
    },
    Analytic {
        name: "department-analytics",
        family: Family::Organization,
        subject: SubjectKind::Organization,
        access: OWN_ORG,
        bundle: Role::OrgAdmin,
        path: "/api/v1/org-admin/analytics/department-analytics/{orgId}",
        summary: "Every department's figures from the four organisation analytics (seed 002).",
        compute: |s, i| json(org::department_analytics(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<org::DepartmentAnalytics>,
    },
    Analytic {
        name: "peer",
        family: Family::Comparison,
        subject: SubjectKind::Learner,
        access: LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/comparison/peer/{userId}",
        summary: "The learner against anonymised peer cohorts (k-anonymous).",
        compute: |s, i| {
            let metrics = i.peer_metrics();
            json(comparison::peer(i.ds, s, i.w, i.k, &*metrics)?)
        },
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<comparison::Peer>,
    },
    Analytic {
        name: "skill-demand",
        family: Family::Comparison,
        subject: SubjectKind::CallersOrganization,
        access: Access::Authenticated,
        bundle: Role::OrgAdmin,
        path: "/api/v1/comparison/skill-demand",
        summary: "Skills in demand in the caller's organisation.",
        compute: |s, i| json(comparison::skill_demand(i.ds, s, i.w, i.k)?),
        needs_model: false,
        needs_ai_suggestions: false,
        schema: schema_of::<comparison::SkillDemand>,
    },
    Analytic {
        name: "drop-off-risk",
        family: Family::Predictive,
        subject: SubjectKind::Learner,
        access: LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/predictive/drop-off-risk/{userId}",
        summary: "Risk that the learner's current enrolments end without completion.",
        compute: |s, i| json(i.drop_off(s)?),
        needs_model: true,
        needs_ai_suggestions: false,
        schema: schema_of::<DropoffRisk>,
    },
    Analytic {
        name: "forecast",
        family: Family::Predictive,
        subject: SubjectKind::Learner,
        access: LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/predictive/forecast/{userId}",
        summary: "Projected performance and completion, with intervals and scenarios.",
        compute: |s, i| {
            let inputs = forecast::ForecastInputs {
                drop_off: i.drop_off(s).ok().as_ref().map(Into::into),
            };
            json(forecast::forecast(i.ds, s, i.w, &inputs)?)
        },
        needs_model: true,
        needs_ai_suggestions: false,
        schema: schema_of::<forecast::Forecast>,
    },
    Analytic {
        name: "recommendations",
        family: Family::Predictive,
        subject: SubjectKind::Learner,
        access: LEARNER,
        bundle: Role::Learner,
        path: "/api/v1/predictive/recommendations/{userId}",
        summary: "Ranked, explained recommendations.",
        compute: |s, i| {
            let (ds, w) = (i.ds, i.w);
            let inputs = recs::RecommendationInputs {
                k_anonymity: i.k,
                skill_gap: learner::skill_gap(ds, s, w).ok().as_ref().map(Into::into),
                content: learner::content_effectiveness(ds, s, w)
                    .ok()
                    .as_ref()
                    .map(Into::into),
                engagement: i.engagement(s).ok().as_ref().map(Into::into),
                ai_suggestions: i.ai.clone(),
            };
            json(recs::recommendations(ds, s, w, &inputs)?)
        },
        needs_model: false,
        needs_ai_suggestions: true,
        schema: schema_of::<recs::Recommendations>,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_unique_and_paths_name_their_parameter() {
        for (i, a) in ANALYTICS.iter().enumerate() {
            assert_eq!(Analytic::from_name(a.name), Some(a));
            assert!(ANALYTICS[..i].iter().all(|b| b.path != a.path), "{a:?}");
            match a.param() {
                Some(p) => assert!(a.path.ends_with(&format!("/{{{p}}}")), "{a:?}"),
                None => assert_eq!(a.subject, SubjectKind::CallersOrganization),
            }
        }
    }

    #[test]
    fn seed_paths_are_seed_002s_and_clash_with_no_canonical_path() {
        assert_eq!(
            Analytic::from_name("velocity")
                .expect("registered")
                .seed_path(),
            "/api/v1/analytics/learner/velocity/{userId}"
        );
        assert_eq!(
            Analytic::from_name("course-health")
                .expect("registered")
                .seed_path(),
            "/api/v1/analytics/trainer/course-health/{trainerId}"
        );
        assert_eq!(
            Analytic::from_name("learning-culture")
                .expect("registered")
                .seed_path(),
            "/api/v1/analytics/organization/learning-culture/{orgId}"
        );
        assert_eq!(
            Analytic::from_name("skill-demand")
                .expect("registered")
                .seed_path(),
            "/api/v1/analytics/comparison/skill-demand"
        );
        assert_eq!(
            Analytic::from_name("drop-off-risk")
                .expect("registered")
                .seed_path(),
            "/api/v1/analytics/predictive/drop-off-risk/{userId}"
        );
        for (i, a) in ANALYTICS.iter().enumerate() {
            assert!(ANALYTICS.iter().all(|b| b.path != a.seed_path()), "{a:?}");
            assert!(
                ANALYTICS[..i]
                    .iter()
                    .all(|b| b.seed_path() != a.seed_path())
            );
        }
    }

    #[test]
    fn an_analytic_is_in_the_bundle_of_the_role_its_route_requires() {
        for a in ANALYTICS {
            if let Access::Subject { rule, .. } = a.access
                && let Some(role) = rule.required_role()
            {
                assert_eq!(a.bundle, role, "{a:?}");
            }
        }
    }
}
