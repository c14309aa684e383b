//! drop-off-risk (docs/analytics.md §9.1): per active enrolment, the
//! probability of a drop-off (withdrawal, or completion with outcome
//! `fail`), from a logistic-regression model trained on the organisation's
//! own finished enrolments when it passes the quality gate, otherwise from a
//! transparent points heuristic.
//!
//! Every feature of an enrolment at time t reads only records with
//! timestamps ≤ t (never `last_active_at` or `progress`), so training
//! snapshots of finished enrolments see exactly what a live prediction
//! would have seen at that instant.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{self, active_at, end, r2, r4, score_percent};
use super::logistic::{self, Fit};
use super::metrics;
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::{Assessment, AssessmentAttempt, Course, Enrolment, EnrolmentStatus};

pub use super::metrics::{ReliabilityBin, brier, mcc, pr_auc, roc_auc};

pub const ANALYTIC: &str = "drop-off-risk";

/// Every feature of §9.1's table, in its order (`Features::all`).
pub const ALL_FEATURE_NAMES: [&str; 19] = [
    "daysSinceLastActivity",
    "activity14Rel",
    "activity28Rel",
    "submittedShare",
    "meanScorePct",
    "lateShare",
    "progressGap",
    "enrolmentAgeDays",
    "activityTotal",
    "activeDaysShare",
    "activity7Rel",
    "paceTrend",
    "activityPercentile",
    "progressPercentile",
    "dueScorePct",
    "scoreTrend",
    "registrationLeadDays",
    "dueScorePercentile",
    "meanScorePercentile",
];

/// The model's inputs: indices into [`ALL_FEATURE_NAMES`] (§9.1: the
/// features that compare a learner with their own cohort or their own past,
/// so a later cohort with another assessment schedule or activity level is
/// judged on the same scale; §9.5's ablation shows why).
pub const MODEL_FEATURES: [usize; 9] = [0, 1, 2, 10, 11, 12, 13, 17, 18];

/// The model's inputs by name, in [`MODEL_FEATURES`] order.
pub const FEATURE_NAMES: [&str; 9] = [
    "daysSinceLastActivity",
    "activity14Rel",
    "activity28Rel",
    "activity7Rel",
    "paceTrend",
    "activityPercentile",
    "progressPercentile",
    "dueScorePercentile",
    "meanScorePercentile",
];
pub const N_FEATURES: usize = FEATURE_NAMES.len();
pub const N_ALL_FEATURES: usize = ALL_FEATURE_NAMES.len();

/// Feature sets of the ablation (docs/analytics.md §9.5): name and indices
/// into [`ALL_FEATURE_NAMES`]; each is fitted like the model (λ = [`LAMBDA`]).
pub const FEATURE_SETS: [(&str, &[usize]); 7] = [
    (
        "1–8 (the previous model's inputs)",
        &[0, 1, 2, 3, 4, 5, 6, 7],
    ),
    (
        "1–8 + volume, regularity, trajectory (9–12)",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        "1–12 + activity and progress percentiles (13–14)",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    ),
    (
        "1–17 (adds due-work score, score trend, registration lead)",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    ),
    (
        "the model: 1–3, 11–14, 18–19 (cohort-relative)",
        &[0, 1, 2, 10, 11, 12, 13, 17, 18],
    ),
    (
        "the model without score percentiles (18–19)",
        &[0, 1, 2, 10, 11, 12, 13],
    ),
    (
        "the model + absolute assessment features (4–6, 15)",
        &[0, 1, 2, 10, 11, 12, 13, 17, 18, 3, 4, 5, 14],
    ),
];

/// L2 penalty λ.
pub const LAMBDA: f64 = 10.0;
/// Snapshot step of the training data.
pub const SNAPSHOT_STEP_DAYS: i64 = 14;
/// The latest courses reaching this share of finished enrolments validate.
pub const VALIDATION_SHARE: f64 = 0.2;
pub const GATE_MIN_FINISHED: usize = 200;
pub const GATE_MIN_PER_CLASS: usize = 20;
pub const GATE_MIN_VALIDATION_PER_CLASS: usize = 10;
pub const GATE_MIN_ROC_AUC: f64 = 0.70;
/// The heuristic never claims more confidence than this.
pub const HEURISTIC_CONFIDENCE: f64 = 0.5;
/// Heuristic `flagged` threshold (and the `high` level).
pub const HEURISTIC_FLAG: f64 = 0.6;

const DAY_MS: f64 = 86_400_000.0;

fn days_between(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_milliseconds() as f64 / DAY_MS
}

/// `low` < 0.3, `medium` < 0.6, `high` ≥ 0.6 (unrounded).
pub fn risk_level(risk: f64) -> &'static str {
    if risk >= 0.6 {
        "high"
    } else if risk >= 0.3 {
        "medium"
    } else {
        "low"
    }
}

mod features;
mod heuristic;
mod model;

pub use features::*;
pub use heuristic::*;
pub use model::*;

// ----------------------------------------------------------------- output

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskFactor {
    pub factor: &'static str,
    /// The raw feature value (for `activity14`: a14).
    pub value: f64,
    /// Log-odds βⱼ·zⱼ (model) or points / 100 (heuristic).
    pub contribution: f64,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Intervention {
    pub code: &'static str,
    pub text: String,
    pub factor: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentRisk {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: Option<String>,
    pub risk_score: f64,
    pub risk_level: &'static str,
    pub flagged: bool,
    pub confidence: f64,
    pub completeness: f64,
    pub risk_factors: Vec<RiskFactor>,
    pub interventions: Vec<Intervention>,
}

/// Why the heuristic answered, with the gate's counts when a model exists.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeuristicInfo {
    /// `BELOW_QUALITY_GATE` or `NO_MODEL`.
    pub reason: &'static str,
    pub gate: Option<GateCheck>,
    pub gate_reason: Option<String>,
}

/// `modelInfo`: the evaluation (with `threshold`) for the model, or why the
/// heuristic answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ModelInfo {
    LogisticRegression(Evaluation),
    Heuristic(HeuristicInfo),
}

/// Published as `dropoff.History` (component names are unique across the
/// API document; reports have a `History` too).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = dropoff::History)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub finished_enrolments: usize,
    pub drop_offs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DropoffRisk {
    #[serde(flatten)]
    pub header: Header,
    /// `logistic-regression` or `heuristic`.
    pub model: &'static str,
    pub model_info: ModelInfo,
    pub predicted_at: DateTime<Utc>,
    /// The learner's risk: the highest enrolment's.
    pub risk_score: f64,
    pub risk_level: &'static str,
    pub confidence: f64,
    pub risk_factors: Vec<RiskFactor>,
    pub interventions: Vec<Intervention>,
    /// Every active enrolment, highest risk first.
    pub enrolments: Vec<EnrolmentRisk>,
    pub history: History,
}

/// Unrounded risk of one enrolment, for ordering.
struct Scored {
    enrolled_at: DateTime<Utc>,
    risk: f64,
    out: EnrolmentRisk,
}

fn score_enrolment(
    e: &Enrolment,
    title: Option<String>,
    f: &Features,
    model: Option<&DropoffModel>,
) -> Scored {
    let completeness = f.completeness();
    let (risk, flagged, confidence, contributions) = match model {
        Some(m) => {
            let (p, c) = m.predict(f);
            let auc = m.validation_roc_auc.unwrap_or(0.5);
            let confidence = (2.0 * (auc - 0.5)).clamp(0.0, 1.0) * completeness;
            let contributions: Vec<(&'static str, f64)> =
                FEATURE_NAMES.iter().copied().zip(c).collect();
            (p, p >= m.threshold, confidence, contributions)
        }
        None => {
            let points = heuristic_points(f);
            let risk = f64::from(points.iter().sum::<u32>()) / 100.0;
            let contributions: Vec<(&'static str, f64)> = HEURISTIC_FACTORS
                .iter()
                .copied()
                .zip(points.iter().map(|p| f64::from(*p) / 100.0))
                .collect();
            (
                risk,
                risk >= HEURISTIC_FLAG,
                HEURISTIC_CONFIDENCE * completeness,
                contributions,
            )
        }
    };
    let (risk_factors, interventions) = factors_and_interventions(&contributions, f);
    Scored {
        enrolled_at: e.enrolled_at,
        risk,
        out: EnrolmentRisk {
            enrolment_id: e.id,
            course_id: e.course_id,
            course_title: title,
            risk_score: r4(risk),
            risk_level: risk_level(risk),
            flagged,
            confidence: r4(confidence),
            completeness: r4(completeness),
            risk_factors,
            interventions,
        },
    }
}

/// drop-off-risk of a learner at `w.now` (`timeRange` is ignored). Uses
/// `model` only when it passes the quality gate, else the heuristic, and
/// says which.
pub fn drop_off_risk(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    model: Option<&DropoffModel>,
) -> Result<DropoffRisk, AnalyticError> {
    risk_with(ds, learner, w, model, &mut HashMap::new(), Some(learner))
}

/// Course contexts shared by the drop-off risks of several learners of one
/// dataset (a trainer's learners, a batch chunk): each course's context is
/// built once instead of once per learner. Gives exactly what
/// [`drop_off_risk`] gives: a learner's contexts are those of courses they
/// are enrolled in, so the context already holds them.
pub struct SharedContexts<'a> {
    ds: &'a Dataset,
    contexts: std::cell::RefCell<HashMap<Uuid, features::CourseContext<'a>>>,
}

impl<'a> SharedContexts<'a> {
    pub fn new(ds: &'a Dataset) -> Self {
        Self {
            ds,
            contexts: std::cell::RefCell::new(HashMap::new()),
        }
    }

    /// [`drop_off_risk`] of `learner` on this dataset.
    pub fn drop_off_risk(
        &self,
        learner: Uuid,
        w: &Window,
        model: Option<&DropoffModel>,
    ) -> Result<DropoffRisk, AnalyticError> {
        let mut contexts = self.contexts.borrow_mut();
        risk_with(self.ds, learner, w, model, &mut contexts, None)
    }
}

fn risk_with<'a>(
    ds: &'a Dataset,
    learner: Uuid,
    w: &Window,
    model: Option<&DropoffModel>,
    contexts: &mut HashMap<Uuid, features::CourseContext<'a>>,
    extra_user: Option<Uuid>,
) -> Result<DropoffRisk, AnalyticError> {
    let now = w.now;
    if ds.user(learner).is_none() {
        return Err(AnalyticError::NotFound(format!(
            "learner {learner} not found"
        )));
    }
    let enrolments: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| e.enrolled_at <= now)
        .collect();
    if enrolments.is_empty() && !common::events(ds, learner).iter().any(|e| e.at <= now) {
        return Err(AnalyticError::NotFound(format!(
            "learner {learner} has no learning records"
        )));
    }
    let active: Vec<&Enrolment> = enrolments
        .iter()
        .copied()
        .filter(|e| e.status == EnrolmentStatus::Active)
        .collect();
    if active.is_empty() {
        return Err(AnalyticError::insufficient(
            ANALYTIC,
            "NO_ACTIVE_ENROLMENT",
            "drop-off-risk needs at least 1 active enrolment",
            "activeEnrolments",
            1.0,
            0.0,
        ));
    }

    let usable = model.filter(|m| m.passes_gate());
    let model_info = match (usable, model) {
        (Some(m), _) => ModelInfo::LogisticRegression(m.evaluation.clone()),
        (None, Some(m)) => ModelInfo::Heuristic(HeuristicInfo {
            reason: "BELOW_QUALITY_GATE",
            gate: Some(m.evaluation.gate.clone()),
            gate_reason: m.evaluation.gate_reason.clone(),
        }),
        (None, None) => ModelInfo::Heuristic(HeuristicInfo {
            reason: "NO_MODEL",
            gate: None,
            gate_reason: None,
        }),
    };

    let mut scored: Vec<Scored> = active
        .iter()
        .map(|e| {
            let ctx = contexts
                .entry(e.course_id)
                .or_insert_with(|| CourseContext::new(ds, e.course_id, extra_user));
            let f = ctx.features(e, now);
            let title = ds.course(e.course_id).map(|c| c.title.clone());
            score_enrolment(e, title, &f, usable)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.risk
            .partial_cmp(&a.risk)
            .unwrap_or(Ordering::Equal)
            .then(a.enrolled_at.cmp(&b.enrolled_at))
            .then(a.out.enrolment_id.cmp(&b.out.enrolment_id))
    });
    let top = scored[0].out.clone();

    let finished: Vec<&&Enrolment> = enrolments
        .iter()
        .filter(|e| end(e).is_some_and(|t| t <= now))
        .collect();
    let history = History {
        finished_enrolments: finished.len(),
        drop_offs: finished
            .iter()
            .filter(|e| e.dropped_off() == Some(true))
            .count(),
    };

    Ok(DropoffRisk {
        header: Header::new(ANALYTIC, Some(learner), w),
        model: if usable.is_some() {
            "logistic-regression"
        } else {
            "heuristic"
        },
        model_info,
        predicted_at: common::whole_seconds(now),
        risk_score: top.risk_score,
        risk_level: top.risk_level,
        confidence: top.confidence,
        risk_factors: top.risk_factors,
        interventions: top.interventions,
        enrolments: scored.into_iter().map(|s| s.out).collect(),
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    pub(super) use crate::Role;
    pub(super) use crate::analytics::TimeRange;
    pub(super) use crate::analytics::dataset::Records;
    pub(super) use crate::analytics::logistic::SplitMix64;
    pub(super) use crate::analytics::testkit::*;
    pub(super) use crate::model::{ContentType, Outcome};

    pub(super) const LEARNER: u128 = 10;
    pub(super) const ENROLMENT_A: u128 = 1000;
    pub(super) const ENROLMENT_B: u128 = 2000;

    pub(super) fn now() -> DateTime<Utc> {
        day(73.5) // 2025-03-15T12:00:00Z
    }

    pub(super) fn window() -> Window {
        Window::new(TimeRange::Days30, now())
    }

    /// The records of §9.4: learner 10 in "Data 101" (A) and "Statistics" (B).
    pub(super) fn worked_example() -> Records {
        let mut r = records();
        for u in [LEARNER, 11, 12, 13, 14] {
            user(&mut r, u, &[Role::Learner], None);
        }
        // A: started 60 days before now, 100 days long → f = 0.6.
        course(&mut r, 100, 13.5, Some(100));
        r.courses[0].title = "Data 101".into();
        enrol(&mut r, ENROLMENT_A, LEARNER, 100, 13.5);
        enrol(&mut r, 1001, 11, 100, 13.5);
        enrol(&mut r, 1002, 12, 100, 13.5);
        item(&mut r, 300, 100, ContentType::Video);
        interact(&mut r, LEARNER, 300, 58.5, 5, None, false); // last event: 15 days ago
        interact(&mut r, 11, 300, 70.0, 35, None, false);
        interact(&mut r, 12, 300, 65.0, 35, None, false); // m14 = median(0, 35, 35)
        for (n, due) in [
            (101, 18.5),
            (102, 30.0),
            (103, 40.0),
            (104, 50.0),
            (105, 90.0),
        ] {
            assessment(&mut r, n, 100, 100.0, 1.0, Some(due));
        }
        attempt(&mut r, LEARNER, 101, 1, 50.0, 17.0); // on time
        attempt(&mut r, LEARNER, 102, 1, 46.0, 35.0); // late

        // B: started 30 days before now, 100 days long → f = 0.3; 20 steps.
        course(&mut r, 200, 43.5, Some(100));
        r.courses[1].title = "Statistics".into();
        enrol(&mut r, ENROLMENT_B, LEARNER, 200, 43.5);
        enrol(&mut r, 2001, 13, 200, 43.5);
        enrol(&mut r, 2002, 14, 200, 43.5);
        item(&mut r, 400, 200, ContentType::Reading);
        interact(&mut r, LEARNER, 400, 71.5, 50, None, false); // 2 days ago, a14 = 50
        interact(&mut r, 13, 400, 70.0, 40, None, false);
        interact(&mut r, 14, 400, 70.0, 30, None, false); // m14 = 40
        let mut dues = vec![48.5, 53.5, 57.5];
        dues.extend(std::iter::repeat_n(80.0, 17));
        for (k, due) in dues.into_iter().enumerate() {
            assessment(&mut r, 201 + k as u128, 200, 100.0, 1.0, Some(due));
        }
        for (k, at) in [47.5, 52.5, 56.5, 58.0, 58.0, 58.0, 58.0]
            .into_iter()
            .enumerate()
        {
            attempt(&mut r, LEARNER, 201 + k as u128, 1, 71.0, at);
        }
        r
    }

    pub(super) fn enrolment(ds: &Dataset, n: u128) -> Enrolment {
        ds.records
            .enrolments
            .iter()
            .find(|e| e.id == id(n))
            .cloned()
            .expect("enrolment")
    }

    #[test]
    fn worked_example_9_4_is_reproduced() {
        let ds = Dataset::new(worked_example());
        let out = drop_off_risk(&ds, id(LEARNER), &window(), None).expect("risk");
        assert_eq!(out.header.analytic, "drop-off-risk");
        assert_eq!(out.header.subject_id, Some(id(LEARNER)));
        assert_eq!(out.model, "heuristic");
        assert_eq!(
            out.model_info,
            ModelInfo::Heuristic(HeuristicInfo {
                reason: "NO_MODEL",
                gate: None,
                gate_reason: None
            })
        );
        assert_eq!(out.predicted_at, now());
        assert_eq!(out.risk_score, 0.63);
        assert_eq!(out.risk_level, "high");
        assert_eq!(out.confidence, 0.5);
        let factors: Vec<(&str, f64)> = out
            .risk_factors
            .iter()
            .map(|f| (f.factor, f.contribution))
            .collect();
        assert_eq!(
            factors,
            vec![
                ("daysSinceLastActivity", 0.2),
                ("activity14", 0.2),
                ("submittedShare", 0.1),
                ("meanScorePct", 0.08),
                ("progressGap", 0.05),
            ]
        );
        let values: Vec<f64> = out.risk_factors.iter().map(|f| f.value).collect();
        assert_eq!(values, vec![15.0, 0.0, 0.5, 0.48, 0.2]);
        let codes: Vec<&str> = out.interventions.iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            vec!["reach_out", "re_engagement_nudge", "assessment_catch_up"]
        );
        assert_eq!(
            out.interventions[0].text,
            "Contact the learner personally: no activity for 15 days."
        );

        assert_eq!(out.enrolments.len(), 2);
        let a = &out.enrolments[0];
        assert_eq!(a.enrolment_id, id(ENROLMENT_A));
        assert_eq!(a.course_title.as_deref(), Some("Data 101"));
        assert_eq!(
            (a.risk_score, a.risk_level, a.flagged),
            (0.63, "high", true)
        );
        assert_eq!((a.confidence, a.completeness), (0.5, 1.0));
        let b = &out.enrolments[1];
        assert_eq!(b.enrolment_id, id(ENROLMENT_B));
        assert_eq!(b.course_title.as_deref(), Some("Statistics"));
        assert_eq!((b.risk_score, b.risk_level, b.flagged), (0.0, "low", false));
        assert!(b.risk_factors.is_empty() && b.interventions.is_empty());
        assert_eq!(
            out.history,
            History {
                finished_enrolments: 0,
                drop_offs: 0
            }
        );
    }

    #[test]
    fn learner_risk_is_the_highest_enrolment_ties_to_the_earliest() {
        let mut r = records();
        user(&mut r, LEARNER, &[Role::Learner], None);
        // Three idle enrolments: two equally risky (30 points each), one fresh.
        course(&mut r, 100, 30.0, None);
        course(&mut r, 200, 20.0, None);
        course(&mut r, 300, 73.0, None);
        enrol(&mut r, 3, LEARNER, 100, 30.0);
        enrol(&mut r, 2, LEARNER, 200, 20.0);
        enrol(&mut r, 1, LEARNER, 300, 73.0);
        // A finished enrolment is history, not a prediction.
        course(&mut r, 400, 0.0, None);
        let done = enrol(&mut r, 4, LEARNER, 400, 0.0);
        r.enrolments[done].status = EnrolmentStatus::Withdrawn;
        r.enrolments[done].withdrawn_at = Some(day(10.0));
        let ds = Dataset::new(r);
        let out = drop_off_risk(&ds, id(LEARNER), &window(), None).expect("risk");
        let listed: Vec<(Uuid, f64)> = out
            .enrolments
            .iter()
            .map(|e| (e.enrolment_id, e.risk_score))
            .collect();
        assert_eq!(listed, vec![(id(2), 0.3), (id(3), 0.3), (id(1), 0.0)]);
        assert_eq!((out.risk_score, out.risk_level), (0.3, "medium"));
        assert_eq!(out.risk_factors[0].factor, "daysSinceLastActivity");
        assert_eq!(
            out.history,
            History {
                finished_enrolments: 1,
                drop_offs: 1
            }
        );
    }

    #[test]
    fn unknown_or_recordless_learners_are_not_found_and_finished_ones_insufficient() {
        let mut r = worked_example();
        user(&mut r, 50, &[Role::Learner], None);
        user(&mut r, 51, &[Role::Learner], None);
        course(&mut r, 500, 0.0, None);
        let done = enrol(&mut r, 5000, 51, 500, 0.0);
        r.enrolments[done].status = EnrolmentStatus::Completed;
        r.enrolments[done].outcome = Some(Outcome::Pass);
        r.enrolments[done].completed_at = Some(day(30.0));
        let ds = Dataset::new(r);
        assert!(matches!(
            drop_off_risk(&ds, id(999), &window(), None),
            Err(AnalyticError::NotFound(_))
        ));
        assert!(matches!(
            drop_off_risk(&ds, id(50), &window(), None),
            Err(AnalyticError::NotFound(_))
        ));
        match drop_off_risk(&ds, id(51), &window(), None) {
            Err(AnalyticError::InsufficientData { reason, found, .. }) => {
                assert_eq!(reason, "NO_ACTIVE_ENROLMENT");
                assert_eq!(found["activeEnrolments"], 0.0);
            }
            other => panic!("expected 422, got {other:?}"),
        }
    }
}
