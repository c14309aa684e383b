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

/// The model's features, in the order of §9.1's table.
pub const FEATURE_NAMES: [&str; 8] = [
    "daysSinceLastActivity",
    "activity14Rel",
    "activity28Rel",
    "submittedShare",
    "meanScorePct",
    "lateShare",
    "progressGap",
    "enrolmentAgeDays",
];
const N_FEATURES: usize = FEATURE_NAMES.len();

/// L2 penalty λ.
pub const LAMBDA: f64 = 1.0;
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

// ---------------------------------------------------------------- features

/// The §9.1 features of one enrolment at time t, with the raw inputs the
/// heuristic needs. `None` marks a feature that could not be computed and
/// takes its default (it counts as "defaulted" for `completeness`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Feature 1: Days since the last event tied to the course (≤ 60).
    pub days_since_last_activity: f64,
    /// a14: activity count tied to the course in (t − 14 d, t].
    pub activity14: i64,
    /// m14: median a14 over the course's enrolments active at t.
    pub median14: f64,
    /// Feature 2: clamp(ln((1 + a14) / (1 + m14)), −5, 5).
    pub activity14_rel: f64,
    pub activity28: i64,
    pub median28: f64,
    /// Feature 3: As 2 with 28 days.
    pub activity28_rel: f64,
    /// Feature 4: Submitted / due; `None` = nothing due yet (default 1).
    pub submitted_share: Option<f64>,
    /// Feature 5: Mean best score percent, on 0–100 here (the model uses /100);
    /// `None` = no attempt yet (default: training mean / no points).
    pub mean_score_pct: Option<f64>,
    /// Feature 6: Late / submitted over submitted assessments with a due date;
    /// `None` = none such (default 0).
    pub late_share: Option<f64>,
    /// Feature 7: Expected minus actual progress; `None` = no `length_days` or no
    /// steps (default 0).
    pub progress_gap: Option<f64>,
    /// Feature 8: min(365, days since `enrolled_at`).
    pub enrolment_age_days: f64,
}

impl Features {
    /// How many features took their default.
    pub fn defaulted(&self) -> usize {
        usize::from(self.submitted_share.is_none())
            + usize::from(self.mean_score_pct.is_none())
            + usize::from(self.late_share.is_none())
            + usize::from(self.progress_gap.is_none())
    }

    /// 1 − defaulted / 8.
    pub fn completeness(&self) -> f64 {
        1.0 - self.defaulted() as f64 / N_FEATURES as f64
    }

    /// The model's input vector, defaults applied (`mean_score_default` on
    /// the 0–1 scale: the training mean).
    pub fn vector(&self, mean_score_default: f64) -> [f64; N_FEATURES] {
        [
            self.days_since_last_activity,
            self.activity14_rel,
            self.activity28_rel,
            self.submitted_share.unwrap_or(1.0),
            self.mean_score_pct
                .map_or(mean_score_default, |pct| pct / 100.0),
            self.late_share.unwrap_or(0.0),
            self.progress_gap.unwrap_or(0.0),
            self.enrolment_age_days,
        ]
    }
}

/// One learner's records tied to the course, indexed for queries at any t.
#[derive(Debug, Default)]
struct LearnerInCourse<'a> {
    /// Event times tied to the course, ascending, with running totals of
    /// their activity counts.
    times: Vec<DateTime<Utc>>,
    cumulative: Vec<i64>,
    /// Attempts on the course's assessments, by assessment.
    attempts: HashMap<Uuid, Vec<&'a AssessmentAttempt>>,
    /// First completion of each of the course's content items, ascending.
    content_done: Vec<DateTime<Utc>>,
}

impl LearnerInCourse<'_> {
    /// Σ activity counts of events with timestamps ≤ t.
    fn count_upto(&self, t: DateTime<Utc>) -> i64 {
        let n = self.times.partition_point(|x| *x <= t);
        if n == 0 { 0 } else { self.cumulative[n - 1] }
    }

    /// Activity count in (t − days, t].
    fn activity(&self, t: DateTime<Utc>, days: i64) -> i64 {
        self.count_upto(t) - self.count_upto(t - Duration::days(days))
    }

    fn last_event(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let n = self.times.partition_point(|x| *x <= t);
        (n > 0).then(|| self.times[n - 1])
    }

    fn attempts_by(&self, assessment: Uuid, t: DateTime<Utc>) -> Vec<&AssessmentAttempt> {
        self.attempts
            .get(&assessment)
            .into_iter()
            .flatten()
            .filter(|a| a.submitted_at <= t)
            .copied()
            .collect()
    }
}

/// What features of a course's enrolments need, precomputed once per course.
struct CourseContext<'a> {
    course: Option<&'a Course>,
    assessments: Vec<&'a Assessment>,
    content_items: usize,
    /// The first `completed = TRUE` interaction on an item of the course,
    /// from any learner: from then on the course records completion and its
    /// content items are steps (§2.6, judged at t).
    tracks_completion_from: Option<DateTime<Utc>>,
    enrolments: Vec<&'a Enrolment>,
    learners: HashMap<Uuid, LearnerInCourse<'a>>,
    /// Median activity of the enrolments active at t, by (t, days).
    medians: HashMap<(DateTime<Utc>, i64), f64>,
}

impl<'a> CourseContext<'a> {
    fn new(ds: &'a Dataset, course_id: Uuid, extra_user: Option<Uuid>) -> Self {
        let assessments: Vec<&Assessment> = ds.assessments_of_course(course_id).collect();
        let items: HashSet<Uuid> = ds.content_of_course(course_id).map(|c| c.id).collect();
        let tracks_completion_from = ds.first_completion_in(course_id);
        let enrolments: Vec<&Enrolment> = ds.enrolments_in(course_id).collect();
        let mut users: Vec<Uuid> = enrolments.iter().map(|e| e.user_id).collect();
        users.extend(extra_user);
        users.sort_unstable();
        users.dedup();
        let assessment_ids: HashSet<Uuid> = assessments.iter().map(|a| a.id).collect();
        let learners = users
            .into_iter()
            .map(|u| {
                let mut events: Vec<(DateTime<Utc>, i64)> = common::events(ds, u)
                    .into_iter()
                    .filter(|e| e.course == Some(course_id))
                    .map(|e| (e.at, e.count))
                    .collect();
                events.sort_by_key(|e| e.0);
                let mut total = 0;
                let mut times = Vec::with_capacity(events.len());
                let mut cumulative = Vec::with_capacity(events.len());
                for (at, count) in events {
                    total += count;
                    times.push(at);
                    cumulative.push(total);
                }
                let mut attempts: HashMap<Uuid, Vec<&AssessmentAttempt>> = HashMap::new();
                for a in ds
                    .attempts_of(u)
                    .filter(|a| assessment_ids.contains(&a.assessment_id))
                {
                    attempts.entry(a.assessment_id).or_default().push(a);
                }
                let mut first_done: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
                for i in ds
                    .interactions_of(u)
                    .filter(|i| i.completed && items.contains(&i.content_item_id))
                {
                    let entry = first_done.entry(i.content_item_id).or_insert(i.occurred_at);
                    *entry = (*entry).min(i.occurred_at);
                }
                let mut content_done: Vec<DateTime<Utc>> = first_done.into_values().collect();
                content_done.sort_unstable();
                let learner = LearnerInCourse {
                    times,
                    cumulative,
                    attempts,
                    content_done,
                };
                (u, learner)
            })
            .collect();
        Self {
            course: ds.course(course_id),
            assessments,
            content_items: items.len(),
            tracks_completion_from,
            enrolments,
            learners,
            medians: HashMap::new(),
        }
    }

    fn learner(&self, user: Uuid) -> Option<&LearnerInCourse<'a>> {
        self.learners.get(&user)
    }

    fn activity_of(&self, user: Uuid, t: DateTime<Utc>, days: i64) -> i64 {
        self.learner(user).map_or(0, |l| l.activity(t, days))
    }

    /// Median activity in (t − days, t] over the enrolments active at t,
    /// `e` included.
    fn median_activity(&mut self, e: &Enrolment, t: DateTime<Utc>, days: i64) -> f64 {
        let included = self.enrolments.iter().any(|x| x.id == e.id) && active_at(e, t);
        if let Some(m) = self.medians.get(&(t, days)).filter(|_| included) {
            return *m;
        }
        let mut values: Vec<f64> = self
            .enrolments
            .iter()
            .filter(|x| active_at(x, t))
            .map(|x| self.activity_of(x.user_id, t, days) as f64)
            .collect();
        if !included {
            values.push(self.activity_of(e.user_id, t, days) as f64);
        }
        let m = common::median(values).unwrap_or(0.0);
        if included {
            self.medians.insert((t, days), m);
        }
        m
    }

    fn start(&self, e: &Enrolment) -> DateTime<Utc> {
        self.course
            .and_then(|c| c.starts_at)
            .unwrap_or(e.enrolled_at)
    }

    fn features(&mut self, e: &Enrolment, t: DateTime<Utc>) -> Features {
        let start = self.start(e);
        let a14 = self.activity_of(e.user_id, t, 14);
        let a28 = self.activity_of(e.user_id, t, 28);
        let m14 = self.median_activity(e, t, 14);
        let m28 = self.median_activity(e, t, 28);
        let empty = LearnerInCourse::default();
        let learner = self.learners.get(&e.user_id).unwrap_or(&empty);

        // 1. Recency.
        let since = match learner.last_event(t) {
            Some(last) => days_between(t, last),
            None => days_between(t, start.max(e.enrolled_at)).max(0.0),
        };

        // 4–6. Assessments.
        let (mut due, mut submitted_due) = (0usize, 0usize);
        let mut best_percents = Vec::new();
        let (mut with_due, mut late) = (0usize, 0usize);
        for a in &self.assessments {
            let attempts = learner.attempts_by(a.id, t);
            if let Some(due_at) = a.due_at {
                if e.enrolled_at <= due_at && due_at <= t {
                    due += 1;
                    submitted_due += usize::from(!attempts.is_empty());
                }
                if let Some(first) = attempts
                    .iter()
                    .min_by_key(|x| (x.attempt_number, x.submitted_at))
                {
                    with_due += 1;
                    late += usize::from(first.submitted_at > due_at);
                }
            }
            if let Some(best) = attempts
                .iter()
                .map(|x| score_percent(x, a))
                .max_by(f64::total_cmp)
            {
                best_percents.push(best);
            }
        }

        // 7. Progress gap against steps done by t.
        let tracked = self.tracks_completion_from.is_some_and(|from| from <= t);
        let steps = self.assessments.len() + if tracked { self.content_items } else { 0 };
        let length = self.course.and_then(|c| c.length_days).filter(|l| *l > 0);
        let progress_gap = match length {
            Some(length) if steps > 0 => {
                let assessments_done = self
                    .assessments
                    .iter()
                    .filter(|a| !learner.attempts_by(a.id, t).is_empty())
                    .count();
                let content_done = if tracked {
                    learner.content_done.partition_point(|x| *x <= t)
                } else {
                    0
                };
                let done = (assessments_done + content_done) as f64 / steps as f64;
                let expected = (days_between(t, start) / f64::from(length)).clamp(0.0, 1.0);
                Some(expected - done)
            }
            _ => None,
        };

        let rel = |a: i64, m: f64| ((1.0 + a as f64) / (1.0 + m)).ln().clamp(-5.0, 5.0);
        Features {
            days_since_last_activity: since.min(60.0),
            activity14: a14,
            median14: m14,
            activity14_rel: rel(a14, m14),
            activity28: a28,
            median28: m28,
            activity28_rel: rel(a28, m28),
            submitted_share: (due > 0).then(|| submitted_due as f64 / due as f64),
            mean_score_pct: common::mean(best_percents),
            late_share: (with_due > 0).then(|| late as f64 / with_due as f64),
            progress_gap,
            enrolment_age_days: days_between(t, e.enrolled_at).clamp(0.0, 365.0),
        }
    }
}

/// The §9.1 features of `enrolment` at `t`, from records with timestamps ≤ t.
pub fn features(ds: &Dataset, enrolment: &Enrolment, t: DateTime<Utc>) -> Features {
    CourseContext::new(ds, enrolment.course_id, Some(enrolment.user_id)).features(enrolment, t)
}

/// The §9.1 features at `t` of several enrolments of one course, indexing
/// the course's records once (for offline evaluation).
pub fn course_features(
    ds: &Dataset,
    course_id: Uuid,
    enrolments: &[&Enrolment],
    t: DateTime<Utc>,
) -> Vec<Features> {
    let mut ctx = CourseContext::new(ds, course_id, None);
    enrolments.iter().map(|e| ctx.features(e, t)).collect()
}

// ------------------------------------------------------------------- model

/// Counts the quality gate looks at, and the validation ROC-AUC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateCheck {
    pub finished_enrolments: usize,
    pub drop_offs: usize,
    pub successful_completions: usize,
    /// Validation enrolments with at least one snapshot, by class.
    pub validation_drop_offs: usize,
    pub validation_completions: usize,
    pub roc_auc: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleSize {
    pub training_enrolments: usize,
    pub validation_enrolments: usize,
    pub training_snapshots: usize,
    pub validation_snapshots: usize,
    /// Validation snapshots labelled drop-off.
    pub positives: usize,
    /// Validation snapshots labelled successful completion.
    pub negatives: usize,
}

/// The hold-out evaluation of a training run (§9.1), 0–1 values rounded to
/// 4 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// MCC at `threshold` on the validation snapshots.
    pub mcc: f64,
    /// Chosen on the training snapshots.
    pub threshold: f64,
    pub brier_score: Option<f64>,
    pub reliability_bins: Vec<ReliabilityBin>,
    /// Share of validation snapshots labelled drop-off.
    pub base_rate: Option<f64>,
    pub sample_size: SampleSize,
    pub gate: GateCheck,
    pub trained_at: DateTime<Utc>,
    pub passes_gate: bool,
    /// The first gate condition that failed, e.g. `TOO_FEW_FINISHED_ENROLMENTS`.
    pub gate_reason: Option<String>,
}

/// A trained drop-off model with its evaluation (stored together, §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DropoffModel {
    pub feature_names: Vec<String>,
    /// Training means and (population) standard deviations of the features.
    pub means: Vec<f64>,
    pub sds: Vec<f64>,
    /// Slopes on the standardised features, in `feature_names` order.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    pub lambda: f64,
    pub threshold: f64,
    /// Default of `meanScorePct` (0–1): its training mean.
    pub mean_score_default: f64,
    /// Unrounded validation ROC-AUC (for `confidence`).
    pub validation_roc_auc: Option<f64>,
    pub evaluation: Evaluation,
    pub trained_at: DateTime<Utc>,
}

impl DropoffModel {
    pub fn passes_gate(&self) -> bool {
        self.evaluation.passes_gate
    }

    fn standardise(&self, x: &[f64; N_FEATURES]) -> [f64; N_FEATURES] {
        standardise(x, &self.means, &self.sds)
    }

    /// p and the contributions βⱼ·zⱼ (log-odds) of each feature.
    pub fn predict(&self, f: &Features) -> (f64, [f64; N_FEATURES]) {
        let z = self.standardise(&f.vector(self.mean_score_default));
        let mut contributions = [0.0; N_FEATURES];
        for (j, c) in contributions.iter_mut().enumerate() {
            *c = self.coefficients.get(j).copied().unwrap_or(0.0) * z[j];
        }
        let p = logistic::sigmoid(self.intercept + contributions.iter().sum::<f64>());
        (p, contributions)
    }
}

fn standardise(x: &[f64; N_FEATURES], means: &[f64], sds: &[f64]) -> [f64; N_FEATURES] {
    let mut z = [0.0; N_FEATURES];
    for j in 0..N_FEATURES {
        let sd = sds.get(j).copied().unwrap_or(0.0);
        if sd > 0.0 {
            z[j] = (x[j] - means.get(j).copied().unwrap_or(0.0)) / sd;
        }
    }
    z
}

/// One training row: an enrolment's features at a snapshot, and its label.
struct Snapshot {
    features: Features,
    drop_off: bool,
    enrolment: Uuid,
}

/// Snapshot instants of a finished enrolment: start + 14·j days, j ≥ 1,
/// with enrolled_at ≤ t_j < end(e) and t_j ≤ now.
fn snapshot_times(start: DateTime<Utc>, e: &Enrolment, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Some(end) = end(e) else {
        return Vec::new();
    };
    let step = Duration::days(SNAPSHOT_STEP_DAYS);
    let mut j: i32 = 1;
    if e.enrolled_at > start {
        // Skip straight to the first step at or after enrolled_at.
        let behind = (e.enrolled_at - start).num_seconds();
        j = j.max(i32::try_from(behind / step.num_seconds()).unwrap_or(i32::MAX - 1));
    }
    let mut out = Vec::new();
    loop {
        let t = start + step * j;
        if t >= end || t > now {
            break;
        }
        if t >= e.enrolled_at {
            out.push(t);
        }
        j += 1;
    }
    out
}

fn insufficient_history(
    message: &str,
    finished: usize,
    training: usize,
    validation: usize,
) -> AnalyticError {
    AnalyticError::InsufficientData {
        analytic: ANALYTIC,
        reason: "INSUFFICIENT_HISTORY",
        message: format!("drop-off-risk model training {message}"),
        minimum: BTreeMap::from([
            ("finishedEnrolments".to_owned(), 1.0),
            ("trainingSnapshots".to_owned(), 1.0),
            ("validationSnapshots".to_owned(), 1.0),
        ]),
        found: BTreeMap::from([
            ("finishedEnrolments".to_owned(), finished as f64),
            ("trainingSnapshots".to_owned(), training as f64),
            ("validationSnapshots".to_owned(), validation as f64),
        ]),
    }
}

/// Trains and evaluates the organisation's model at `now` (§9.1). The
/// model comes back with its evaluation even when it fails the gate
/// (`evaluation.passes_gate == false`); when nothing can be trained or
/// evaluated (no finished enrolment, or no snapshot on either side of the
/// split) the answer is `INSUFFICIENT_HISTORY`.
pub fn train(ds: &Dataset, now: DateTime<Utc>) -> Result<DropoffModel, AnalyticError> {
    // Finished enrolments, known by now.
    let finished: Vec<&Enrolment> = ds
        .records
        .enrolments
        .iter()
        .filter(|e| e.enrolled_at <= now && end(e).is_some_and(|t| t <= now))
        .collect();
    let drop_offs = finished
        .iter()
        .filter(|e| e.dropped_off() == Some(true))
        .count();
    if finished.is_empty() {
        return Err(insufficient_history("needs finished enrolments", 0, 0, 0));
    }

    // Split by time, whole courses together.
    let mut by_course: BTreeMap<Uuid, Vec<&Enrolment>> = BTreeMap::new();
    for e in &finished {
        by_course.entry(e.course_id).or_default().push(e);
    }
    let mut courses: Vec<(DateTime<Utc>, Uuid)> = by_course
        .keys()
        .map(|&c| {
            let start = ds.course(c).and_then(|x| x.starts_at).unwrap_or_else(|| {
                ds.enrolments_in(c)
                    .map(|e| e.enrolled_at)
                    .filter(|t| *t <= now)
                    .min()
                    .unwrap_or(now)
            });
            (start, c)
        })
        .collect();
    courses.sort();
    let needed = VALIDATION_SHARE * finished.len() as f64;
    let mut validation_courses = HashSet::new();
    let mut in_validation = 0usize;
    for (_, c) in courses.iter().rev() {
        if in_validation as f64 >= needed {
            break;
        }
        validation_courses.insert(*c);
        in_validation += by_course[c].len();
    }

    // Snapshots, course by course.
    let mut training = Vec::new();
    let mut validation = Vec::new();
    for (_, c) in &courses {
        let mut ctx = CourseContext::new(ds, *c, None);
        let target = if validation_courses.contains(c) {
            &mut validation
        } else {
            &mut training
        };
        for e in &by_course[c] {
            let drop_off = e.dropped_off() == Some(true);
            for t in snapshot_times(ctx.start(e), e, now) {
                target.push(Snapshot {
                    features: ctx.features(e, t),
                    drop_off,
                    enrolment: e.id,
                });
            }
        }
    }
    if training.is_empty() || validation.is_empty() {
        return Err(insufficient_history(
            "needs snapshots of finished enrolments in earlier and later courses",
            finished.len(),
            training.len(),
            validation.len(),
        ));
    }

    // Standardisation on the training rows; meanScorePct defaults to its training mean.
    let mean_score_default =
        common::mean(training.iter().filter_map(|s| s.features.mean_score_pct))
            .map_or(0.0, |m| m / 100.0);
    let rows = |set: &[Snapshot]| -> Vec<[f64; N_FEATURES]> {
        set.iter()
            .map(|s| s.features.vector(mean_score_default))
            .collect()
    };
    let raw_training = rows(&training);
    let raw_validation = rows(&validation);
    let n = raw_training.len() as f64;
    let means: Vec<f64> = (0..N_FEATURES)
        .map(|j| raw_training.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let sds: Vec<f64> = (0..N_FEATURES)
        .map(|j| {
            (raw_training
                .iter()
                .map(|r| (r[j] - means[j]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect();
    let z_training: Vec<[f64; N_FEATURES]> = raw_training
        .iter()
        .map(|r| standardise(r, &means, &sds))
        .collect();
    let z_validation: Vec<[f64; N_FEATURES]> = raw_validation
        .iter()
        .map(|r| standardise(r, &means, &sds))
        .collect();
    let y_training: Vec<bool> = training.iter().map(|s| s.drop_off).collect();
    let y_validation: Vec<bool> = validation.iter().map(|s| s.drop_off).collect();

    let fit = logistic::fit(&z_training, &y_training, LAMBDA);
    let p_training: Vec<f64> = z_training.iter().map(|z| fit.predict(z)).collect();
    let threshold = metrics::best_threshold(&p_training, &y_training);
    let p_validation: Vec<f64> = z_validation.iter().map(|z| fit.predict(z)).collect();

    let roc = metrics::roc_auc(&p_validation, &y_validation);
    let positives = y_validation.iter().filter(|y| **y).count();
    let negatives = y_validation.len() - positives;
    let mut validation_classes: HashMap<Uuid, bool> = HashMap::new();
    for s in &validation {
        validation_classes.insert(s.enrolment, s.drop_off);
    }
    let validation_drop_offs = validation_classes.values().filter(|d| **d).count();
    let gate = GateCheck {
        finished_enrolments: finished.len(),
        drop_offs,
        successful_completions: finished.len() - drop_offs,
        validation_drop_offs,
        validation_completions: validation_classes.len() - validation_drop_offs,
        roc_auc: roc.map(r4),
    };
    let gate_reason = if gate.finished_enrolments < GATE_MIN_FINISHED {
        Some("TOO_FEW_FINISHED_ENROLMENTS")
    } else if gate.drop_offs < GATE_MIN_PER_CLASS {
        Some("TOO_FEW_DROP_OFFS")
    } else if gate.successful_completions < GATE_MIN_PER_CLASS {
        Some("TOO_FEW_COMPLETIONS")
    } else if gate.validation_drop_offs < GATE_MIN_VALIDATION_PER_CLASS {
        Some("TOO_FEW_VALIDATION_DROP_OFFS")
    } else if gate.validation_completions < GATE_MIN_VALIDATION_PER_CLASS {
        Some("TOO_FEW_VALIDATION_COMPLETIONS")
    } else if roc.is_none_or(|auc| auc < GATE_MIN_ROC_AUC) {
        Some("ROC_AUC_BELOW_0.70")
    } else {
        None
    };
    let passes_gate = gate_reason.is_none();

    let evaluation = Evaluation {
        roc_auc: roc.map(r4),
        pr_auc: metrics::pr_auc(&p_validation, &y_validation).map(r4),
        mcc: r4(metrics::mcc(&p_validation, &y_validation, threshold)),
        threshold: r4(threshold),
        brier_score: metrics::brier(&p_validation, &y_validation).map(r4),
        reliability_bins: metrics::reliability_bins(&p_validation, &y_validation)
            .into_iter()
            .map(|b| ReliabilityBin {
                mean_predicted: b.mean_predicted.map(r4),
                observed_rate: b.observed_rate.map(r4),
                ..b
            })
            .collect(),
        base_rate: (!y_validation.is_empty())
            .then(|| r4(positives as f64 / y_validation.len() as f64)),
        sample_size: SampleSize {
            training_enrolments: finished.len() - in_validation,
            validation_enrolments: in_validation,
            training_snapshots: training.len(),
            validation_snapshots: validation.len(),
            positives,
            negatives,
        },
        gate,
        trained_at: common::whole_seconds(now),
        passes_gate,
        gate_reason: gate_reason.map(str::to_owned),
    };

    // Served model: refitted on every finished enrolment after passing,
    // with the same λ, means, sds, score default and threshold.
    let served: Fit = if passes_gate {
        let mut z_all = z_training;
        z_all.extend(z_validation);
        let mut y_all = y_training;
        y_all.extend(y_validation);
        logistic::fit(&z_all, &y_all, LAMBDA)
    } else {
        fit
    };

    Ok(DropoffModel {
        feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        means,
        sds,
        coefficients: served.coefficients,
        intercept: served.intercept,
        lambda: LAMBDA,
        threshold,
        mean_score_default,
        validation_roc_auc: roc,
        evaluation,
        trained_at: now,
    })
}

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

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// The heuristic's factors in table order.
const HEURISTIC_FACTORS: [&str; 6] = [
    "daysSinceLastActivity",
    "activity14",
    "submittedShare",
    "meanScorePct",
    "lateShare",
    "progressGap",
];

/// Points of each heuristic factor, in [`HEURISTIC_FACTORS`] order.
pub fn heuristic_points(f: &Features) -> [u32; 6] {
    let d = f.days_since_last_activity;
    let recency = if d >= 21.0 {
        30
    } else if d >= 14.0 {
        20
    } else if d >= 7.0 {
        10
    } else {
        0
    };
    let (a14, m14) = (f.activity14 as f64, f.median14);
    let activity = if m14 > 0.0 && a14 == 0.0 {
        20
    } else if m14 > 0.0 && a14 < 0.5 * m14 {
        10
    } else {
        0
    };
    let submitted = match f.submitted_share {
        Some(s) if s < 0.5 => 20,
        Some(s) if s < 0.8 => 10,
        _ => 0,
    };
    let score = match f.mean_score_pct {
        Some(s) if s < 40.0 => 15,
        Some(s) if s < 55.0 => 8,
        _ => 0,
    };
    let late = match f.late_share {
        Some(s) if s > 0.5 => 5,
        _ => 0,
    };
    let gap = match f.progress_gap {
        Some(g) if g > 0.30 => 10,
        Some(g) if g > 0.15 => 5,
        _ => 0,
    };
    [recency, activity, submitted, score, late, gap]
}

fn value_of(factor: &str, f: &Features) -> f64 {
    match factor {
        "daysSinceLastActivity" => r2(f.days_since_last_activity),
        "activity14" => f.activity14 as f64,
        "activity14Rel" => r4(f.activity14_rel),
        "activity28Rel" => r4(f.activity28_rel),
        "submittedShare" => r4(f.submitted_share.unwrap_or(1.0)),
        "meanScorePct" => f.mean_score_pct.map_or(0.0, |p| r4(p / 100.0)),
        "lateShare" => r4(f.late_share.unwrap_or(0.0)),
        "progressGap" => r4(f.progress_gap.unwrap_or(0.0)),
        "enrolmentAgeDays" => r2(f.enrolment_age_days),
        _ => 0.0,
    }
}

fn describe(factor: &str, f: &Features) -> String {
    match factor {
        "daysSinceLastActivity" => format!(
            "No activity in this course for {:.1} days",
            f.days_since_last_activity
        ),
        "activity14" | "activity14Rel" => format!(
            "Activity in the last 14 days: {} vs a course median of {}",
            f.activity14, f.median14
        ),
        "activity28Rel" => format!(
            "Activity in the last 28 days: {} vs a course median of {}",
            f.activity28, f.median28
        ),
        "submittedShare" => format!(
            "{:.0} % of the assessments due so far were submitted",
            100.0 * f.submitted_share.unwrap_or(1.0)
        ),
        "meanScorePct" => format!("Mean best score {:.0} %", f.mean_score_pct.unwrap_or(0.0)),
        "lateShare" => format!(
            "{:.0} % of submissions were late",
            100.0 * f.late_share.unwrap_or(0.0)
        ),
        "progressGap" => format!(
            "{:.0} percentage points behind the course schedule",
            100.0 * f.progress_gap.unwrap_or(0.0)
        ),
        "enrolmentAgeDays" => format!("Enrolled {:.0} days ago", f.enrolment_age_days),
        _ => String::new(),
    }
}

fn intervention(factor: &'static str, f: &Features) -> Intervention {
    let (code, text) = match factor {
        "daysSinceLastActivity" => (
            "reach_out",
            format!(
                "Contact the learner personally: no activity for {} days.",
                f.days_since_last_activity.floor()
            ),
        ),
        "activity14Rel" | "activity28Rel" | "activity14" => (
            "re_engagement_nudge",
            "Send a reminder pointing to the next activity.".to_owned(),
        ),
        "submittedShare" => (
            "assessment_catch_up",
            "Agree a catch-up plan for missed assessments.".to_owned(),
        ),
        "meanScorePct" => (
            "tutoring",
            "Offer tutoring or revision material on low-scoring topics.".to_owned(),
        ),
        "lateShare" => (
            "time_management",
            "Help plan study time; remind before due dates.".to_owned(),
        ),
        "progressGap" => (
            "pacing_plan",
            "Agree a pacing plan to catch up with the schedule.".to_owned(),
        ),
        _ => (
            "check_in",
            "Check in on the learner's situation and goals.".to_owned(),
        ),
    };
    Intervention { code, text, factor }
}

/// Positive contributions, descending (ties in table order), at most 5,
/// and the interventions of the first 3 (deduplicated).
fn factors_and_interventions(
    contributions: &[(&'static str, f64)],
    f: &Features,
) -> (Vec<RiskFactor>, Vec<Intervention>) {
    let mut positive: Vec<(usize, &'static str, f64)> = contributions
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| *c > 0.0)
        .map(|(i, (name, c))| (i, *name, *c))
        .collect();
    positive.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    positive.truncate(5);
    let factors: Vec<RiskFactor> = positive
        .iter()
        .map(|&(_, factor, c)| RiskFactor {
            factor,
            value: value_of(factor, f),
            contribution: r4(c),
            description: describe(factor, f),
        })
        .collect();
    let mut interventions: Vec<Intervention> = Vec::new();
    for &(_, factor, _) in positive.iter().take(3) {
        let i = intervention(factor, f);
        if !interventions.iter().any(|x| x.code == i.code) {
            interventions.push(i);
        }
    }
    (factors, interventions)
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

    let mut contexts: HashMap<Uuid, CourseContext> = HashMap::new();
    let mut scored: Vec<Scored> = active
        .iter()
        .map(|e| {
            let ctx = contexts
                .entry(e.course_id)
                .or_insert_with(|| CourseContext::new(ds, e.course_id, Some(learner)));
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
    use crate::Role;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::logistic::SplitMix64;
    use crate::analytics::testkit::*;
    use crate::model::{ContentType, Outcome};

    const LEARNER: u128 = 10;
    const ENROLMENT_A: u128 = 1000;
    const ENROLMENT_B: u128 = 2000;

    fn now() -> DateTime<Utc> {
        day(73.5) // 2025-03-15T12:00:00Z
    }

    fn window() -> Window {
        Window::new(TimeRange::Days30, now())
    }

    /// The records of §9.4: learner 10 in "Data 101" (A) and "Statistics" (B).
    fn worked_example() -> Records {
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

    fn enrolment(ds: &Dataset, n: u128) -> Enrolment {
        ds.records
            .enrolments
            .iter()
            .find(|e| e.id == id(n))
            .cloned()
            .expect("enrolment")
    }

    #[test]
    fn worked_example_features() {
        let ds = Dataset::new(worked_example());
        let a = features(&ds, &enrolment(&ds, ENROLMENT_A), now());
        assert_eq!(a.days_since_last_activity, 15.0);
        assert_eq!((a.activity14, a.median14), (0, 35.0));
        assert_eq!(a.submitted_share, Some(0.5));
        assert_eq!(a.mean_score_pct, Some(48.0));
        assert_eq!(a.late_share, Some(0.5));
        let gap = a.progress_gap.expect("gap");
        assert!((gap - 0.2).abs() < 1e-12, "{gap}");
        assert_eq!(a.enrolment_age_days, 60.0);
        assert_eq!(a.completeness(), 1.0);
        assert!((a.activity14_rel - (1.0f64 / 36.0).ln()).abs() < 1e-12);
        assert_eq!(heuristic_points(&a), [20, 20, 10, 8, 0, 5]);

        let b = features(&ds, &enrolment(&ds, ENROLMENT_B), now());
        assert_eq!(b.days_since_last_activity, 2.0);
        assert_eq!((b.activity14, b.median14), (50, 40.0));
        assert_eq!(b.submitted_share, Some(1.0));
        assert_eq!(b.mean_score_pct, Some(71.0));
        assert_eq!(b.late_share, Some(0.0));
        let gap = b.progress_gap.expect("gap");
        assert!((gap + 0.05).abs() < 1e-12, "{gap}");
        assert_eq!(heuristic_points(&b), [0; 6]);
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
    fn features_at_t_ignore_every_record_after_t() {
        let t = day(60.0);
        let before = Dataset::new(worked_example());
        let mut r = worked_example();
        // The future: more activity and attempts, a late first attempt made on time later,
        // a course that starts recording completion, a withdrawal, a new enrolment,
        // and the "current value" columns that must never be read.
        interact(&mut r, LEARNER, 300, 61.0, 80, Some(600), true);
        interact(&mut r, 11, 300, 60.5, 10, None, true);
        attempt(&mut r, LEARNER, 103, 1, 10.0, 65.0);
        attempt(&mut r, LEARNER, 101, 2, 100.0, 62.0);
        attempt(&mut r, LEARNER, 201, 2, 5.0, 61.0);
        r.enrolments[1].status = EnrolmentStatus::Withdrawn;
        r.enrolments[1].withdrawn_at = Some(day(66.0));
        user(&mut r, 15, &[Role::Learner], None);
        enrol(&mut r, 1003, 15, 100, 63.0);
        interact(&mut r, 15, 300, 64.0, 99, None, false);
        for e in &mut r.enrolments {
            e.progress = 0.95;
            e.last_active_at = Some(day(73.0));
        }
        let after = Dataset::new(r);
        for n in [ENROLMENT_A, ENROLMENT_B, 1001, 2001] {
            let e = enrolment(&before, n);
            assert_eq!(
                features(&before, &e, t),
                features(&after, &enrolment(&after, n), t),
                "enrolment {n}"
            );
        }
        // …while at a later t they do change.
        let e = enrolment(&after, ENROLMENT_A);
        assert_ne!(
            features(&before, &enrolment(&before, ENROLMENT_A), day(70.0)),
            features(&after, &e, day(70.0))
        );
    }

    #[test]
    fn defaults_lower_completeness() {
        // Just enrolled, nothing due, no attempts, no course length.
        let mut r = records();
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, 100, 70.0, None);
        enrol(&mut r, ENROLMENT_A, LEARNER, 100, 72.0);
        assessment(&mut r, 101, 100, 10.0, 1.0, Some(90.0));
        let ds = Dataset::new(r);
        let f = features(&ds, &enrolment(&ds, ENROLMENT_A), now());
        assert_eq!(f.submitted_share, None);
        assert_eq!(f.mean_score_pct, None);
        assert_eq!(f.late_share, None);
        assert_eq!(f.progress_gap, None);
        assert_eq!(f.completeness(), 0.5);
        assert_eq!(f.vector(0.7)[3..7], [1.0, 0.7, 0.0, 0.0]);
        // No event yet: days since max(start, enrolled_at).
        assert_eq!(f.days_since_last_activity, 1.5);
        let out = drop_off_risk(&ds, id(LEARNER), &window(), None).expect("risk");
        assert_eq!((out.risk_score, out.confidence), (0.0, 0.25));
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

    #[test]
    fn snapshots_are_taken_only_while_the_enrolment_was_active() {
        let mut r = records();
        course(&mut r, 100, 0.0, Some(84));
        let i = enrol(&mut r, 1, 10, 100, 20.0);
        r.enrolments[i].status = EnrolmentStatus::Withdrawn;
        r.enrolments[i].withdrawn_at = Some(day(56.0));
        let e = r.enrolments[i].clone();
        // 14 < enrolled_at; 28, 42 kept; 56 = end is not before the end.
        assert_eq!(
            snapshot_times(day(0.0), &e, day(100.0)),
            vec![day(28.0), day(42.0)]
        );
        // Not after now.
        assert_eq!(snapshot_times(day(0.0), &e, day(41.0)), vec![day(28.0)]);
        let mut active = e.clone();
        active.status = EnrolmentStatus::Active;
        assert!(snapshot_times(day(0.0), &active, day(100.0)).is_empty());
    }

    /// An organisation with `courses` cohorts of `per_course` learners, every
    /// course 84 days long and starting 20 days after the previous one.
    /// Learners who will drop off fade out (fewer clicks, then none) and
    /// miss assessments; the others keep going. Deterministic (SplitMix64).
    fn synthetic(courses: u128, per_course: u128, seed: u64) -> Records {
        let mut rng = SplitMix64(seed);
        let mut r = records();
        for c in 0..courses {
            let course_id = 100 + c;
            let start = 20.0 * c as f64;
            course(&mut r, course_id, start, Some(84));
            let content = 10_000 + c;
            item(&mut r, content, course_id, ContentType::Video);
            for k in 0..3u128 {
                assessment(
                    &mut r,
                    20_000 + 10 * c + k,
                    course_id,
                    100.0,
                    1.0,
                    Some(start + 21.0 * (k + 1) as f64),
                );
            }
            for l in 0..per_course {
                let u = 100_000 + 1000 * c + l;
                user(&mut r, u, &[Role::Learner], None);
                let idx = enrol(&mut r, u, u, course_id, start);
                let drops = rng.uniform() < 0.4;
                // Dropping learners stop somewhere in days 5–55 of the course.
                let quit = if drops {
                    5.0 + 50.0 * rng.uniform()
                } else {
                    84.0
                };
                let intensity = if drops {
                    0.5 + rng.uniform()
                } else {
                    1.0 + rng.uniform()
                };
                let mut d = 1.0 + 3.0 * rng.uniform();
                while d < quit.min(83.0) {
                    let clicks = 1 + (10.0 * intensity * rng.uniform()) as i32;
                    interact(&mut r, u, content, start + d, clicks, None, false);
                    d += 1.0 + 4.0 * rng.uniform() / intensity;
                }
                for k in 0..3u128 {
                    let due = start + 21.0 * (k + 1) as f64;
                    if due - 2.0 < quit && rng.uniform() < 0.9 {
                        let score = if drops {
                            30.0 + 40.0 * rng.uniform()
                        } else {
                            50.0 + 45.0 * rng.uniform()
                        };
                        let at = due - 2.0 + 3.0 * rng.uniform();
                        attempt(&mut r, u, 20_000 + 10 * c + k, 1, score, at);
                    }
                }
                let e = &mut r.enrolments[idx];
                if drops && rng.uniform() < 0.75 {
                    e.status = EnrolmentStatus::Withdrawn;
                    e.withdrawn_at = Some(day(start + quit + 10.0));
                } else {
                    e.status = EnrolmentStatus::Completed;
                    e.outcome = Some(if drops { Outcome::Fail } else { Outcome::Pass });
                    e.completed_at = Some(day(start + 84.0));
                }
            }
        }
        r
    }

    #[test]
    fn training_passes_the_gate_on_a_learnable_organisation_and_the_model_answers() {
        let mut r = synthetic(12, 25, 7);
        let trained_now = day(20.0 * 11.0 + 84.0 + 1.0);
        // A live learner in a new course, idle for three weeks.
        course(&mut r, 900, 300.0, Some(84));
        item(&mut r, 901, 900, ContentType::Video);
        user(&mut r, LEARNER, &[Role::Learner], None);
        enrol(&mut r, 9000, LEARNER, 900, 300.0);
        interact(&mut r, LEARNER, 901, 302.0, 3, None, false);
        user(&mut r, 11, &[Role::Learner], None);
        enrol(&mut r, 9001, 11, 900, 300.0);
        interact(&mut r, 11, 901, 322.0, 30, None, false);
        let ds = Dataset::new(r);

        let model = train(&ds, trained_now).expect("trained");
        let ev = &model.evaluation;
        assert!(ev.passes_gate, "{ev:#?}");
        assert_eq!(ev.gate_reason, None);
        assert_eq!(ev.gate.finished_enrolments, 300);
        assert!(ev.roc_auc.expect("auc") >= 0.7);
        assert!(ev.sample_size.validation_enrolments >= 60);
        assert_eq!(
            ev.sample_size.training_enrolments + ev.sample_size.validation_enrolments,
            300
        );
        assert_eq!(
            ev.sample_size.positives + ev.sample_size.negatives,
            ev.sample_size.validation_snapshots
        );
        assert_eq!(
            ev.reliability_bins.iter().map(|b| b.count).sum::<usize>(),
            ev.sample_size.validation_snapshots
        );
        assert!(ev.brier_score.expect("brier") < 0.25);
        assert!(ev.threshold > 0.0 && ev.threshold < 1.0);
        // The planted effect: longer silence means more risk.
        assert!(model.coefficients[0] > 0.0, "{model:?}");
        // Deterministic.
        assert_eq!(train(&ds, trained_now).expect("again"), model);

        let w = Window::new(TimeRange::Days30, day(323.0));
        let out = drop_off_risk(&ds, id(LEARNER), &w, Some(&model)).expect("risk");
        assert_eq!(out.model, "logistic-regression");
        assert!(matches!(out.model_info, ModelInfo::LogisticRegression(_)));
        let idle = &out.enrolments[0];
        let busy = drop_off_risk(&ds, id(11), &w, Some(&model)).expect("risk");
        assert!(idle.risk_score > busy.risk_score, "{idle:?} vs {busy:?}");
        assert!(idle.confidence > 0.0 && idle.confidence <= 1.0);
        assert_eq!(
            idle.flagged,
            model
                .predict(&features(&ds, &enrolment(&ds, 9000), w.now))
                .0
                >= model.threshold
        );
        assert_eq!(out.risk_factors[0].factor, "daysSinceLastActivity");
        assert_eq!(out.interventions[0].code, "reach_out");
        // Contributions are βⱼ·zⱼ and add up to the log-odds.
        let f = features(&ds, &enrolment(&ds, 9000), w.now);
        let (p, c) = model.predict(&f);
        let logit = model.intercept + c.iter().sum::<f64>();
        assert!((logistic::sigmoid(logit) - p).abs() < 1e-12);
    }

    #[test]
    fn below_the_gate_the_heuristic_answers_and_says_why() {
        let mut r = synthetic(4, 6, 11);
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, 900, 100.0, Some(84));
        enrol(&mut r, 9000, LEARNER, 900, 100.0);
        let ds = Dataset::new(r);
        let model = train(&ds, day(150.0)).expect("trained");
        assert!(!model.passes_gate());
        assert_eq!(
            model.evaluation.gate_reason.as_deref(),
            Some("TOO_FEW_FINISHED_ENROLMENTS")
        );
        assert_eq!(model.evaluation.gate.finished_enrolments, 24);
        let out =
            drop_off_risk(&ds, id(LEARNER), &window_at(day(130.0)), Some(&model)).expect("risk");
        assert_eq!(out.model, "heuristic");
        match &out.model_info {
            ModelInfo::Heuristic(info) => {
                assert_eq!(info.reason, "BELOW_QUALITY_GATE");
                assert_eq!(info.gate.as_ref().map(|g| g.finished_enrolments), Some(24));
            }
            other => panic!("expected the heuristic, got {other:?}"),
        }
        assert!(out.confidence <= HEURISTIC_CONFIDENCE);
    }

    fn window_at(now: DateTime<Utc>) -> Window {
        Window::new(TimeRange::Days30, now)
    }

    #[test]
    fn training_needs_history_on_both_sides_of_the_split() {
        // Nothing finished.
        let ds = Dataset::new(worked_example());
        match train(&ds, now()) {
            Err(AnalyticError::InsufficientData { reason, found, .. }) => {
                assert_eq!(reason, "INSUFFICIENT_HISTORY");
                assert_eq!(found["finishedEnrolments"], 0.0);
            }
            other => panic!("expected 422, got {other:?}"),
        }
        // One course only: everything is validation, nothing to train on.
        let ds = Dataset::new(synthetic(1, 10, 3));
        match train(&ds, day(100.0)) {
            Err(AnalyticError::InsufficientData { found, .. }) => {
                assert_eq!(found["finishedEnrolments"], 10.0);
                assert_eq!(found["trainingSnapshots"], 0.0);
            }
            other => panic!("expected 422, got {other:?}"),
        }
    }
}
