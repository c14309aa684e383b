//! Trainer analytics (docs/analytics.md §6): course-performance,
//! course-health, student-distribution and teaching-effectiveness.
//!
//! Subject: a trainer T. C(T) = T's courses that are not drafts (§2.3),
//! listed by title, then id. 404 when T does not exist or has no course.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use uuid::Uuid;

use super::common::{
    active_at, active_in, best_attempt, completion_rate, composite, events, finished_in, mean,
    passed, percentile, r2, r4, score_percent,
};
use super::{AnalyticError, Dataset, Header, Window};
use crate::Role;
use crate::model::{Course, CourseStatus, Enrolment, EnrolmentStatus};

// ---------------------------------------------------------------------------
// Shared per-course quantities (§6 preamble)
// ---------------------------------------------------------------------------

/// C(T): the trainer's non-draft courses, by title then id. `NotFound` when
/// the trainer does not exist or has none.
fn trainer_courses(ds: &Dataset, trainer: Uuid) -> Result<Vec<&Course>, AnalyticError> {
    if ds.user(trainer).is_none() {
        return Err(AnalyticError::NotFound(format!(
            "trainer {trainer} not found"
        )));
    }
    let courses = courses_of(ds, trainer);
    if courses.is_empty() {
        return Err(AnalyticError::NotFound(format!(
            "trainer {trainer} has no course"
        )));
    }
    Ok(courses)
}

/// C(T) without the existence checks (also used for benchmark cohorts).
fn courses_of(ds: &Dataset, trainer: Uuid) -> Vec<&Course> {
    let mut courses: Vec<&Course> = ds
        .courses_of_trainer(trainer)
        .iter()
        .filter_map(|c| ds.course(*c))
        .filter(|c| c.status != CourseStatus::Draft)
        .collect();
    courses.sort_by(|a, b| a.title.cmp(&b.title).then(a.id.cmp(&b.id)));
    courses.dedup_by_key(|c| c.id);
    courses
}

/// The user has at least one activity event tied to `course` in W (§2.6).
fn has_event_tied(ds: &Dataset, user: Uuid, course: Uuid, w: &Window) -> bool {
    events(ds, user)
        .iter()
        .any(|e| e.course == Some(course) && w.contains(e.at))
}

/// One result (§2.5): a learner's best attempt in W on one assessment.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    user: Uuid,
    percent: f64,
    passed: bool,
}

/// Every (learner, assessment of c) result in W.
fn results_of_course(ds: &Dataset, course: Uuid, w: &Window) -> Vec<Outcome> {
    let mut out = Vec::new();
    for a in ds.assessments_of_course(course) {
        let mut users: Vec<Uuid> = ds
            .attempts_on(a.id)
            .filter(|x| w.contains(x.submitted_at))
            .map(|x| x.user_id)
            .collect();
        users.sort_unstable();
        users.dedup();
        for user in users {
            if let Some(best) = best_attempt(ds, user, a, |t| w.contains(t)) {
                out.push(Outcome {
                    user,
                    percent: score_percent(best, a),
                    passed: passed(best, a),
                });
            }
        }
    }
    out
}

/// Learner score of each learner with ≥ 1 result: mean of their result
/// percents (each assessment once).
fn learner_scores(results: &[Outcome]) -> BTreeMap<Uuid, f64> {
    let mut by_user: BTreeMap<Uuid, Vec<f64>> = BTreeMap::new();
    for r in results {
        by_user.entry(r.user).or_default().push(r.percent);
    }
    by_user
        .into_iter()
        .filter_map(|(u, v)| mean(v).map(|m| (u, m)))
        .collect()
}

/// Mean of the learner scores; `None` without results.
fn average_score(results: &[Outcome]) -> Option<f64> {
    mean(learner_scores(results).into_values())
}

/// 100 × passed results / results; `None` without results.
fn pass_rate(results: &[Outcome]) -> Option<f64> {
    (!results.is_empty())
        .then(|| 100.0 * results.iter().filter(|r| r.passed).count() as f64 / results.len() as f64)
}

fn withdrawn_in(e: &Enrolment, w: &Window) -> bool {
    e.status == EnrolmentStatus::Withdrawn && finished_in(e, w)
}

/// The per-course quantities of §6 for course c and window W.
struct CourseStats<'a> {
    /// c's enrolments active in W.
    in_window: Vec<&'a Enrolment>,
    /// c's enrolments active at W's end (status `active` now).
    active: Vec<&'a Enrolment>,
    results: Vec<Outcome>,
    completion_rate: Option<f64>,
    withdrawals: usize,
}

impl<'a> CourseStats<'a> {
    fn of(ds: &'a Dataset, course: Uuid, w: &Window) -> Self {
        let all: Vec<&Enrolment> = ds.enrolments_in(course).collect();
        Self {
            in_window: all.iter().copied().filter(|e| active_in(e, w)).collect(),
            active: all
                .iter()
                .copied()
                .filter(|e| active_at(e, w.now))
                .collect(),
            results: results_of_course(ds, course, w),
            completion_rate: completion_rate(all.iter().copied().filter(|e| finished_in(e, w))),
            withdrawals: all.iter().filter(|e| withdrawn_in(e, w)).count(),
        }
    }

    fn average_score(&self) -> Option<f64> {
        average_score(&self.results)
    }

    fn pass_rate(&self) -> Option<f64> {
        pass_rate(&self.results)
    }

    /// withdrawalsInWindow / enrolmentsInWindow (0–1); `None` without enrolments.
    fn withdrawal_share(&self) -> Option<f64> {
        (!self.in_window.is_empty()).then(|| self.withdrawals as f64 / self.in_window.len() as f64)
    }

    /// Active enrolments with ≥ 1 event tied to the course in W.
    fn active_engaged(&self, ds: &Dataset, course: Uuid, w: &Window) -> usize {
        self.active
            .iter()
            .filter(|e| has_event_tied(ds, e.user_id, course, w))
            .count()
    }
}

fn opt_r2(x: Option<f64>) -> Option<f64> {
    x.map(r2)
}

fn opt_r4(x: Option<f64>) -> Option<f64> {
    x.map(r4)
}

/// Weighted mean of `(weight, value)` pairs over present values.
fn weighted_mean(pairs: impl IntoIterator<Item = (f64, Option<f64>)>) -> Option<f64> {
    let (sum, total) = pairs
        .into_iter()
        .filter_map(|(wt, x)| x.map(|x| (wt * x, wt)))
        .fold((0.0, 0.0), |(s, t), (wx, wt)| (s + wx, t + wt));
    (total > 0.0).then(|| sum / total)
}

fn difference(current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    Some(current? - previous?)
}

// ---------------------------------------------------------------------------
// §6.1 course-performance
// ---------------------------------------------------------------------------

pub const PERFORMANCE_WEIGHTS: [f64; 3] = [0.50, 0.30, 0.20];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: Option<f64>,
    pub courses: Vec<CoursePerformanceRow>,
    pub trends: CoursePerformanceTrends,
    pub insights: Vec<Insight>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformanceRow {
    pub course_id: Uuid,
    pub title: String,
    pub enrolments_in_window: usize,
    pub active_enrolments: usize,
    pub active_learners: usize,
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub average_progress: Option<f64>,
    pub performance_score: Option<f64>,
    pub previous_performance_score: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformanceTrends {
    pub previous_overall_performance: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    pub code: &'static str,
    pub course_id: Uuid,
    /// `warning` | `info`.
    pub severity: &'static str,
    pub value: f64,
    pub message: String,
}

/// performanceScore of a course in W, with its enrolmentsInWindow; `None`
/// when the course has no enrolment active in W.
fn performance_score(stats: &CourseStats) -> Option<f64> {
    if stats.in_window.is_empty() {
        return None;
    }
    let [wa, wp, wc] = PERFORMANCE_WEIGHTS;
    composite(&[
        (wa, stats.average_score()),
        (wp, stats.pass_rate()),
        (wc, stats.completion_rate),
    ])
    .map(|(s, _)| s)
}

/// overallPerformance over courses with a performanceScore, weighted by
/// enrolmentsInWindow.
fn overall_performance(ds: &Dataset, courses: &[&Course], w: &Window) -> Option<f64> {
    weighted_mean(courses.iter().map(|c| {
        let stats = CourseStats::of(ds, c.id, w);
        (stats.in_window.len() as f64, performance_score(&stats))
    }))
}

pub fn course_performance(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
) -> Result<CoursePerformance, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let previous = w.previous();

    struct Row<'a> {
        course: &'a Course,
        stats: CourseStats<'a>,
        score: Option<f64>,
        previous: Option<f64>,
    }
    let rows: Vec<Row> = courses
        .iter()
        .map(|c| {
            let stats = CourseStats::of(ds, c.id, w);
            let score = performance_score(&stats);
            let previous = performance_score(&CourseStats::of(ds, c.id, &previous));
            Row {
                course: c,
                stats,
                score,
                previous,
            }
        })
        .filter(|r| !r.stats.in_window.is_empty())
        .collect();

    let scored = rows.iter().filter(|r| r.score.is_some()).count();
    if scored == 0 {
        return Err(AnalyticError::insufficient(
            "course-performance",
            "NO_COURSE_RESULTS",
            "course-performance needs at least 1 course with a scored attempt or a finished \
             enrolment in the window",
            "coursesWithResults",
            1.0,
            0.0,
        ));
    }

    let overall = weighted_mean(
        rows.iter()
            .map(|r| (r.stats.in_window.len() as f64, r.score)),
    );
    let previous_overall = overall_performance(ds, &courses, &previous);
    let top = if scored >= 2 {
        rows.iter().filter_map(|r| r.score).reduce(f64::max)
    } else {
        None
    };

    let mut out_rows = Vec::new();
    let mut insights = Vec::new();
    for r in &rows {
        let c = r.course;
        let pass = r.stats.pass_rate();
        let change = difference(r.score, r.previous);
        let mut insight = |code, severity, value: f64, message: String| {
            insights.push(Insight {
                code,
                course_id: c.id,
                severity,
                value: r2(value),
                message,
            });
        };
        if let Some(p) = pass.filter(|p| *p < 60.0) {
            insight(
                "LOW_PASS_RATE",
                "warning",
                p,
                format!("Pass rate in {} is {:.2} %, below 60 %.", c.title, r2(p)),
            );
        }
        if let Some(s) = r.stats.withdrawal_share().filter(|s| *s > 0.20) {
            insight(
                "HIGH_WITHDRAWAL",
                "warning",
                100.0 * s,
                format!(
                    "{:.2} % of the enrolments in {} were withdrawn in the window (more than 20 %).",
                    r2(100.0 * s),
                    c.title
                ),
            );
        }
        if let Some(cr) = r.stats.completion_rate.filter(|x| *x < 50.0) {
            insight(
                "LOW_COMPLETION",
                "warning",
                cr,
                format!(
                    "Completion rate in {} is {:.2} %, below 50 %.",
                    c.title,
                    r2(cr)
                ),
            );
        }
        if let Some(d) = change.filter(|d| *d <= -5.0) {
            insight(
                "DECLINING",
                "warning",
                d,
                format!(
                    "Performance in {} fell by {:.2} points since the previous window.",
                    c.title,
                    r2(-d)
                ),
            );
        }
        if let Some(d) = change.filter(|d| *d >= 5.0) {
            insight(
                "IMPROVING",
                "info",
                d,
                format!(
                    "Performance in {} rose by {:.2} points since the previous window.",
                    c.title,
                    r2(d)
                ),
            );
        }
        if let (Some(top), Some(s)) = (top, r.score)
            && s == top
        {
            insight(
                "TOP_COURSE",
                "info",
                s,
                format!(
                    "{} has the highest performance score ({:.2}).",
                    c.title,
                    r2(s)
                ),
            );
        }
        out_rows.push(CoursePerformanceRow {
            course_id: c.id,
            title: c.title.clone(),
            enrolments_in_window: r.stats.in_window.len(),
            active_enrolments: r.stats.active.len(),
            active_learners: active_learners(ds, c.id, w),
            average_score: opt_r2(r.stats.average_score()),
            pass_rate: opt_r2(pass),
            completion_rate: opt_r2(r.stats.completion_rate),
            average_progress: opt_r2(mean(r.stats.active.iter().map(|e| 100.0 * e.progress))),
            performance_score: opt_r2(r.score),
            previous_performance_score: opt_r2(r.previous),
            change: opt_r2(change),
        });
    }

    Ok(CoursePerformance {
        header: Header::new("course-performance", Some(trainer), w),
        overall_performance: opt_r2(overall),
        courses: out_rows,
        trends: CoursePerformanceTrends {
            previous_overall_performance: opt_r2(previous_overall),
            change: opt_r2(difference(overall, previous_overall)),
        },
        insights,
    })
}

/// Distinct learners enrolled in c (at any time) with ≥ 1 event tied to c in W.
fn active_learners(ds: &Dataset, course: Uuid, w: &Window) -> usize {
    let users: HashSet<Uuid> = ds.enrolments_in(course).map(|e| e.user_id).collect();
    users
        .into_iter()
        .filter(|u| has_event_tied(ds, *u, course, w))
        .count()
}

// ---------------------------------------------------------------------------
// §6.2 course-health
// ---------------------------------------------------------------------------

pub const HEALTH_WEIGHTS: [f64; 4] = [0.30, 0.30, 0.20, 0.20];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseHealth {
    #[serde(flatten)]
    pub header: Header,
    pub overall_health: f64,
    pub courses: Vec<CourseHealthRow>,
    pub issues: Vec<HealthIssue>,
    pub recommendations: Vec<HealthRecommendation>,
    pub alerts: Vec<HealthIssue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseHealthRow {
    pub course_id: Uuid,
    pub title: String,
    pub health_score: Option<f64>,
    /// `healthy` | `needs-attention` | `critical` | `no-learners`.
    pub status: &'static str,
    pub components: HealthComponents,
    /// Effective weights of the present components (4 decimals).
    pub weights: HealthComponents,
    pub enrolments_in_window: usize,
    pub active_enrolments: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthComponents {
    pub engagement: Option<f64>,
    pub retention: Option<f64>,
    pub pass_rate: Option<f64>,
    pub submission: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthIssue {
    pub code: &'static str,
    pub course_id: Uuid,
    /// `high` | `normal`.
    pub severity: &'static str,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthRecommendation {
    pub code: &'static str,
    pub course_id: Uuid,
    pub text: &'static str,
}

/// (code, threshold, high-severity threshold, recommendation) per component,
/// in component order.
const HEALTH_ISSUES: [(&str, f64, f64, &str); 4] = [
    (
        "LOW_ENGAGEMENT",
        50.0,
        30.0,
        "Send a course-wide nudge and review the activities of the current unit.",
    ),
    (
        "HIGH_WITHDRAWAL",
        90.0,
        80.0,
        "Contact recent leavers and check workload and schedule.",
    ),
    (
        "LOW_PASS_RATE",
        60.0,
        40.0,
        "Review the hardest assessments and add revision material.",
    ),
    (
        "MISSED_SUBMISSIONS",
        70.0,
        50.0,
        "Remind learners of deadlines; consider extensions where policy allows.",
    ),
];

fn health_status(score: f64) -> &'static str {
    if score >= 70.0 {
        "healthy"
    } else if score >= 50.0 {
        "needs-attention"
    } else {
        "critical"
    }
}

/// Submission over (assessment of c due in W, enrolment active at due_at)
/// pairs: (submitted, due).
fn submission_pairs(ds: &Dataset, course: Uuid, w: &Window) -> (usize, usize) {
    let mut submitted = 0;
    let mut due = 0;
    for a in ds.assessments_of_course(course) {
        let Some(due_at) = a.due_at.filter(|t| w.contains(*t)) else {
            continue;
        };
        for e in ds.enrolments_in(course).filter(|e| active_at(e, due_at)) {
            due += 1;
            if ds
                .attempts_of(e.user_id)
                .any(|x| x.assessment_id == a.id && x.submitted_at <= w.now)
            {
                submitted += 1;
            }
        }
    }
    (submitted, due)
}

pub fn course_health(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
) -> Result<CourseHealth, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    let mut recommendations = Vec::new();
    let mut alerts = Vec::new();
    let mut weighted = Vec::new();

    for c in &courses {
        let stats = CourseStats::of(ds, c.id, w);
        let n = stats.in_window.len();
        if n == 0 {
            let none = HealthComponents {
                engagement: None,
                retention: None,
                pass_rate: None,
                submission: None,
            };
            rows.push(CourseHealthRow {
                course_id: c.id,
                title: c.title.clone(),
                health_score: None,
                status: "no-learners",
                components: none,
                weights: none,
                enrolments_in_window: 0,
                active_enrolments: stats.active.len(),
            });
            continue;
        }
        let active = stats.active.len();
        let engagement =
            (active > 0).then(|| 100.0 * stats.active_engaged(ds, c.id, w) as f64 / active as f64);
        let retention = Some(100.0 * (1.0 - stats.withdrawals as f64 / n as f64));
        let pass = stats.pass_rate();
        let (submitted, due) = submission_pairs(ds, c.id, w);
        let submission = (due > 0).then(|| 100.0 * submitted as f64 / due as f64);
        let values = [engagement, retention, pass, submission];
        let parts: Vec<(f64, Option<f64>)> = HEALTH_WEIGHTS.iter().copied().zip(values).collect();
        // Retention is always present here, so the composite exists.
        let (score, eff) = composite(&parts).unwrap_or((0.0, vec![None; 4]));
        let status = health_status(score);
        weighted.push((n as f64, Some(score)));

        for ((code, limit, high, text), value) in HEALTH_ISSUES.iter().zip(values) {
            let Some(v) = value.filter(|v| *v < *limit) else {
                continue;
            };
            let issue = HealthIssue {
                code,
                course_id: c.id,
                severity: if v < *high { "high" } else { "normal" },
                value: r2(v),
            };
            if issue.severity == "high" {
                alerts.push(issue.clone());
            }
            issues.push(issue);
            recommendations.push(HealthRecommendation {
                code,
                course_id: c.id,
                text,
            });
        }
        if status == "critical" {
            alerts.push(HealthIssue {
                code: "COURSE_CRITICAL",
                course_id: c.id,
                severity: "high",
                value: r2(score),
            });
        }
        let comp = |v: [Option<f64>; 4], f: fn(Option<f64>) -> Option<f64>| HealthComponents {
            engagement: f(v[0]),
            retention: f(v[1]),
            pass_rate: f(v[2]),
            submission: f(v[3]),
        };
        rows.push(CourseHealthRow {
            course_id: c.id,
            title: c.title.clone(),
            health_score: Some(r2(score)),
            status,
            components: comp(values, opt_r2),
            weights: comp([eff[0], eff[1], eff[2], eff[3]], opt_r4),
            enrolments_in_window: n,
            active_enrolments: active,
        });
    }

    let Some(overall) = weighted_mean(weighted) else {
        return Err(AnalyticError::insufficient(
            "course-health",
            "NO_LEARNERS_IN_WINDOW",
            "course-health needs at least 1 enrolment active in the window in the trainer's courses",
            "enrolmentsInWindow",
            1.0,
            0.0,
        ));
    };

    Ok(CourseHealth {
        header: Header::new("course-health", Some(trainer), w),
        overall_health: r2(overall),
        courses: rows,
        issues,
        recommendations,
        alerts,
    })
}

// ---------------------------------------------------------------------------
// §6.3 student-distribution
// ---------------------------------------------------------------------------

/// What student-distribution needs from other families about one learner:
/// their engagement level (§5.3) and their drop-off risk per active
/// enrolment (§9.1). The lead wires in the real analytics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnerSignals {
    /// `high` | `medium` | `low` (§5.3 `level`); `None` when not computable.
    pub engagement_level: Option<&'static str>,
    /// Learner-level drop-off risk (0–1): the maximum over their active
    /// enrolments (§9.1). Used for an enrolment that `enrolment_risks` does
    /// not list, only when the learner has a single active enrolment (then
    /// both are the same number).
    pub risk_score: Option<f64>,
    /// Drop-off risk of each active enrolment: (enrolment id, riskScore 0–1).
    pub enrolment_risks: Vec<(Uuid, f64)>,
    /// `"logistic-regression"` | `"heuristic"` (§9.1 `model`).
    pub model: Option<&'static str>,
}

impl LearnerSignals {
    /// From the learner's engagement and drop-off risk answers, when they have them.
    pub fn new(
        engagement: Option<&super::learner::Engagement>,
        risk: Option<&super::dropoff::DropoffRisk>,
    ) -> Self {
        LearnerSignals {
            engagement_level: engagement.map(|e| e.level),
            risk_score: risk.map(|r| r.risk_score),
            enrolment_risks: risk
                .map(|r| {
                    r.enrolments
                        .iter()
                        .map(|e| (e.enrolment_id, e.risk_score))
                        .collect()
                })
                .unwrap_or_default(),
            model: risk.map(|r| r.model),
        }
    }
}

/// riskLevel `high` (§9.1).
pub const HIGH_RISK: f64 = 0.6;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudentDistribution {
    #[serde(flatten)]
    pub header: Header,
    pub total_students: usize,
    pub direct_learners: usize,
    pub distribution: Distributions,
    pub demographics: Demographics,
    pub key_performance_indicators: StudentKpis,
    pub at_risk_learners: Vec<AtRiskLearner>,
}

/// A count and its share of the distribution's population (0–100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub count: usize,
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Distributions {
    /// Learners by learner-score band (% of totalStudents).
    pub performance: PerformanceBands,
    /// Enrolments active in W by current status (% of those enrolments).
    pub status: StatusCounts,
    /// Active enrolments by 100 × progress (% of active enrolments).
    pub progress: Vec<ProgressBin>,
    /// Learners by engagement level (% of totalStudents).
    pub engagement: EngagementLevels,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBands {
    pub excellent: Share,
    pub good: Share,
    pub average: Share,
    pub below_average: Share,
    pub failing: Share,
    pub no_scores: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    pub active: Share,
    pub completed: Share,
    pub withdrawn: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressBin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngagementLevels {
    pub high: Share,
    pub medium: Share,
    pub low: Share,
    /// Learners whose engagement could not be computed.
    pub no_data: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Demographics {
    pub by_department: Vec<Category>,
    pub by_job_role: Vec<Category>,
}

/// A demographic category; categories with fewer than k learners are merged
/// into `"other"` (listed last).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub name: String,
    pub count: usize,
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudentKpis {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub average_progress: Option<f64>,
    pub active_share: f64,
    pub at_risk_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AtRiskLearner {
    pub user_id: Uuid,
    pub full_name: String,
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub risk_score: f64,
    pub risk_level: &'static str,
    pub model: Option<&'static str>,
}

fn share(count: usize, total: usize) -> Share {
    Share {
        count,
        percent: if total == 0 {
            0.0
        } else {
            r2(100.0 * count as f64 / total as f64)
        },
    }
}

/// Learner-score band of §6.3 (on the unrounded score).
fn band(score: f64) -> usize {
    if score >= 85.0 {
        0
    } else if score >= 70.0 {
        1
    } else if score >= 55.0 {
        2
    } else if score >= 40.0 {
        3
    } else {
        4
    }
}

/// Categories by count desc, then name; those below k merged into "other".
fn categories(names: impl IntoIterator<Item = String>, k: usize, total: usize) -> Vec<Category> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in names {
        *counts.entry(n).or_default() += 1;
    }
    let mut out: Vec<Category> = Vec::new();
    let mut other = 0;
    for (name, count) in counts {
        if count < k {
            other += count;
        } else {
            out.push(Category {
                name,
                count,
                percent: share(count, total).percent,
            });
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    if other > 0 {
        out.push(Category {
            name: "other".into(),
            count: other,
            percent: share(other, total).percent,
        });
    }
    out
}

pub fn student_distribution(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
    k: usize,
    per_learner: &dyn Fn(Uuid) -> LearnerSignals,
) -> Result<StudentDistribution, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let course_ids: HashSet<Uuid> = courses.iter().map(|c| c.id).collect();
    let is_learner = |u: Uuid| ds.user(u).is_some_and(|u| u.roles.contains(&Role::Learner));

    // The trainer's learners' enrolments in C(T).
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .flat_map(|c| ds.enrolments_in(c.id))
        .filter(|e| is_learner(e.user_id))
        .collect();
    let in_window: Vec<&Enrolment> = enrolments
        .iter()
        .copied()
        .filter(|e| active_in(e, w))
        .collect();
    if in_window.is_empty() {
        return Err(AnalyticError::insufficient(
            "student-distribution",
            "NO_LEARNERS_IN_WINDOW",
            "student-distribution needs at least 1 enrolment active in the window in the \
             trainer's courses",
            "enrolmentsInWindow",
            1.0,
            0.0,
        ));
    }
    let students: Vec<Uuid> = {
        let mut s: Vec<Uuid> = in_window.iter().map(|e| e.user_id).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let student_set: HashSet<Uuid> = students.iter().copied().collect();
    let total = students.len();
    let active: Vec<&Enrolment> = enrolments
        .iter()
        .copied()
        .filter(|e| active_at(e, w.now))
        .collect();

    // Results of the trainer's learners on C(T) in W.
    let results: Vec<Outcome> = courses
        .iter()
        .flat_map(|c| results_of_course(ds, c.id, w))
        .filter(|r| student_set.contains(&r.user))
        .collect();
    let scores = learner_scores(&results);

    // Performance bands.
    let mut bands = [0usize; 6];
    for s in &students {
        bands[scores.get(s).map_or(5, |v| band(*v))] += 1;
    }
    let performance = PerformanceBands {
        excellent: share(bands[0], total),
        good: share(bands[1], total),
        average: share(bands[2], total),
        below_average: share(bands[3], total),
        failing: share(bands[4], total),
        no_scores: share(bands[5], total),
    };

    // Status of the enrolments active in W.
    let status_count = |s: EnrolmentStatus| {
        share(
            in_window.iter().filter(|e| e.status == s).count(),
            in_window.len(),
        )
    };
    let status = StatusCounts {
        active: status_count(EnrolmentStatus::Active),
        completed: status_count(EnrolmentStatus::Completed),
        withdrawn: status_count(EnrolmentStatus::Withdrawn),
    };

    // Progress bins of active enrolments.
    let progress = [(0.0, 25.0), (25.0, 50.0), (50.0, 75.0), (75.0, 100.0)]
        .into_iter()
        .map(|(from, to)| {
            let count = active
                .iter()
                .filter(|e| {
                    let p = 100.0 * e.progress;
                    p >= from && (p < to || (to == 100.0 && p <= to))
                })
                .count();
            ProgressBin {
                from,
                to,
                count,
                percent: (!active.is_empty())
                    .then(|| r2(100.0 * count as f64 / active.len() as f64)),
            }
        })
        .collect();

    // Signals from the other families.
    let signals: HashMap<Uuid, LearnerSignals> =
        students.iter().map(|u| (*u, per_learner(*u))).collect();
    let level_count = |level: Option<&str>| {
        share(
            signals
                .values()
                .filter(|s| s.engagement_level == level)
                .count(),
            total,
        )
    };
    let engagement = EngagementLevels {
        high: level_count(Some("high")),
        medium: level_count(Some("medium")),
        low: level_count(Some("low")),
        no_data: share(
            signals
                .values()
                .filter(|s| !matches!(s.engagement_level, Some("high" | "medium" | "low")))
                .count(),
            total,
        ),
    };

    // Demographics.
    let users: Vec<_> = students.iter().filter_map(|u| ds.user(*u)).collect();
    let dept_name = |d: Option<Uuid>| match d {
        None => "unassigned".to_owned(),
        Some(d) => ds
            .records
            .departments
            .iter()
            .find(|x| x.id == d)
            .map_or_else(|| "unassigned".to_owned(), |x| x.name.clone()),
    };
    let demographics = Demographics {
        by_department: categories(users.iter().map(|u| dept_name(u.department_id)), k, total),
        by_job_role: categories(
            users
                .iter()
                .map(|u| u.job_role.clone().unwrap_or_else(|| "unspecified".into())),
            k,
            total,
        ),
    };

    // At-risk enrolments: the learners' active enrolments in C(T) at high risk.
    let mut at_risk: Vec<(f64, AtRiskLearner)> = Vec::new();
    for e in &active {
        let Some(sig) = signals.get(&e.user_id) else {
            continue;
        };
        let learner_active = ds
            .enrolments_of(e.user_id)
            .filter(|x| active_at(x, w.now))
            .count();
        let risk = sig
            .enrolment_risks
            .iter()
            .find(|(id, _)| *id == e.id)
            .map(|(_, r)| *r)
            .or_else(|| sig.risk_score.filter(|_| learner_active == 1));
        let Some(risk) = risk.filter(|r| *r >= HIGH_RISK) else {
            continue;
        };
        at_risk.push((
            risk,
            AtRiskLearner {
                user_id: e.user_id,
                full_name: ds
                    .user(e.user_id)
                    .map(|u| u.full_name.clone())
                    .unwrap_or_default(),
                enrolment_id: e.id,
                course_id: e.course_id,
                risk_score: r4(risk),
                risk_level: "high",
                model: sig.model,
            },
        ));
    }
    at_risk.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.enrolment_id.cmp(&b.1.enrolment_id))
    });
    let at_risk_count = at_risk
        .iter()
        .map(|(_, a)| a.user_id)
        .collect::<HashSet<_>>()
        .len();

    let engaged = students
        .iter()
        .filter(|u| {
            events(ds, **u)
                .iter()
                .any(|e| e.course.is_some_and(|c| course_ids.contains(&c)) && w.contains(e.at))
        })
        .count();

    let kpis = StudentKpis {
        average_score: opt_r2(mean(scores.values().copied())),
        pass_rate: opt_r2(pass_rate(&results)),
        completion_rate: opt_r2(completion_rate(
            enrolments.iter().copied().filter(|e| finished_in(e, w)),
        )),
        average_progress: opt_r2(mean(active.iter().map(|e| 100.0 * e.progress))),
        active_share: r2(100.0 * engaged as f64 / total as f64),
        at_risk_count,
    };

    Ok(StudentDistribution {
        header: Header::new("student-distribution", Some(trainer), w),
        total_students: total,
        direct_learners: ds
            .records
            .trainer_learners
            .iter()
            .filter(|(t, _)| *t == trainer)
            .count(),
        distribution: Distributions {
            performance,
            status,
            progress,
            engagement,
        },
        demographics,
        key_performance_indicators: kpis,
        at_risk_learners: at_risk.into_iter().map(|(_, a)| a).collect(),
    })
}

// ---------------------------------------------------------------------------
// §6.4 teaching-effectiveness
// ---------------------------------------------------------------------------

pub const TEACHING_WEIGHTS: [f64; 4] = [0.35, 0.25, 0.25, 0.15];
const METRIC_NAMES: [&str; 4] = ["learnerOutcomes", "scoreLevel", "feedback", "engagement"];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingEffectiveness {
    #[serde(flatten)]
    pub header: Header,
    pub overall_effectiveness: f64,
    pub metrics: TeachingMetrics,
    /// Effective weights of the present metrics (4 decimals).
    pub weights: TeachingMetrics,
    pub strengths: Vec<MetricNote>,
    pub areas_for_improvement: Vec<MetricNote>,
    pub trends: TeachingTrends,
    pub benchmarks: Vec<Benchmark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingMetrics {
    pub learner_outcomes: Option<f64>,
    pub score_level: Option<f64>,
    pub feedback: Option<f64>,
    pub engagement: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricNote {
    pub metric: &'static str,
    pub value: f64,
    pub percentile: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingTrends {
    pub previous_overall_effectiveness: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Benchmark {
    /// A metric name or `overallEffectiveness`.
    pub metric: &'static str,
    pub percentile: Option<f64>,
    pub cohort_average: Option<f64>,
    pub cohort_size: Option<usize>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

/// The four metrics of trainer `t` in W (unrounded).
fn teaching_metrics(ds: &Dataset, t: Uuid, w: &Window) -> [Option<f64>; 4] {
    let courses = courses_of(ds, t);
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .flat_map(|c| ds.enrolments_in(c.id))
        .collect();
    let outcomes = completion_rate(enrolments.iter().copied().filter(|e| finished_in(e, w)));
    let results: Vec<Outcome> = courses
        .iter()
        .flat_map(|c| results_of_course(ds, c.id, w))
        .collect();
    let score = average_score(&results);
    let feedback = mean(
        ds.records
            .feedback
            .iter()
            .filter(|f| f.trainer_id == t && w.contains(f.submitted_at))
            .map(|f| f64::from(f.rating)),
    )
    .map(|m| 100.0 * (m - 1.0) / 4.0);
    let active: Vec<&&Enrolment> = enrolments.iter().filter(|e| active_at(e, w.now)).collect();
    let engagement = (!active.is_empty()).then(|| {
        let n = active
            .iter()
            .filter(|e| has_event_tied(ds, e.user_id, e.course_id, w))
            .count();
        100.0 * n as f64 / active.len() as f64
    });
    [outcomes, score, feedback, engagement]
}

/// overallEffectiveness and the effective weights; `None` when none of
/// learnerOutcomes, scoreLevel, feedback is present.
fn effectiveness(metrics: &[Option<f64>; 4]) -> Option<(f64, Vec<Option<f64>>)> {
    if metrics[..3].iter().all(Option::is_none) {
        return None;
    }
    let parts: Vec<(f64, Option<f64>)> = TEACHING_WEIGHTS.iter().copied().zip(*metrics).collect();
    composite(&parts)
}

fn benchmark(metric: &'static str, subject: Option<f64>, cohort: &[f64], k: usize) -> Benchmark {
    // `cohort` holds the defined values of the organisation's trainers, the
    // subject's included when defined.
    if cohort.len() < k {
        return Benchmark {
            metric,
            percentile: None,
            cohort_average: None,
            cohort_size: None,
            suppressed: true,
            suppressed_reason: Some("COHORT_BELOW_K"),
        };
    }
    Benchmark {
        metric,
        percentile: subject.map(|v| r2(percentile(v, cohort))),
        cohort_average: opt_r2(mean(cohort.iter().copied())),
        cohort_size: Some(cohort.len()),
        suppressed: false,
        suppressed_reason: None,
    }
}

pub fn teaching_effectiveness(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
    k: usize,
) -> Result<TeachingEffectiveness, AnalyticError> {
    trainer_courses(ds, trainer)?;
    let metrics = teaching_metrics(ds, trainer, w);
    let Some((overall, eff)) = effectiveness(&metrics) else {
        return Err(AnalyticError::insufficient(
            "teaching-effectiveness",
            "NO_TEACHING_EVIDENCE",
            "teaching-effectiveness needs a finished enrolment, a scored attempt or a feedback \
             rating in the window",
            "evidenceMetrics",
            1.0,
            0.0,
        ));
    };
    let previous = effectiveness(&teaching_metrics(ds, trainer, &w.previous())).map(|(s, _)| s);

    // Cohort: the organisation's trainers (T included), values unrounded.
    let mut trainers: Vec<Uuid> = ds.users_with_role(Role::Trainer).map(|u| u.id).collect();
    trainers.push(trainer);
    trainers.sort_unstable();
    trainers.dedup();
    let cohort_values: Vec<[Option<f64>; 5]> = trainers
        .iter()
        .map(|t| {
            let m = if *t == trainer {
                metrics
            } else {
                teaching_metrics(ds, *t, w)
            };
            let o = effectiveness(&m).map(|(s, _)| s);
            [m[0], m[1], m[2], m[3], o]
        })
        .collect();
    let subject = [
        metrics[0],
        metrics[1],
        metrics[2],
        metrics[3],
        Some(overall),
    ];
    let names = [
        METRIC_NAMES[0],
        METRIC_NAMES[1],
        METRIC_NAMES[2],
        METRIC_NAMES[3],
        "overallEffectiveness",
    ];
    let benchmarks: Vec<Benchmark> = (0..5)
        .map(|i| {
            let cohort: Vec<f64> = cohort_values.iter().filter_map(|v| v[i]).collect();
            benchmark(names[i], subject[i], &cohort, k)
        })
        .collect();

    let mut strengths = Vec::new();
    let mut areas = Vec::new();
    for i in 0..4 {
        let Some(value) = metrics[i] else { continue };
        let cohort: Vec<f64> = cohort_values.iter().filter_map(|v| v[i]).collect();
        let pct = (cohort.len() >= k).then(|| percentile(value, &cohort));
        let (strong, weak) = match pct {
            Some(p) => (p >= 75.0, p <= 25.0),
            None => (value >= 75.0, value < 50.0),
        };
        let note = MetricNote {
            metric: METRIC_NAMES[i],
            value: r2(value),
            percentile: opt_r2(pct),
        };
        if strong {
            strengths.push(note);
        } else if weak {
            areas.push(note);
        }
    }

    let as_metrics = |v: [Option<f64>; 4], f: fn(Option<f64>) -> Option<f64>| TeachingMetrics {
        learner_outcomes: f(v[0]),
        score_level: f(v[1]),
        feedback: f(v[2]),
        engagement: f(v[3]),
    };
    Ok(TeachingEffectiveness {
        header: Header::new("teaching-effectiveness", Some(trainer), w),
        overall_effectiveness: r2(overall),
        metrics: as_metrics(metrics, opt_r2),
        weights: as_metrics([eff[0], eff[1], eff[2], eff[3]], opt_r4),
        strengths,
        areas_for_improvement: areas,
        trends: TeachingTrends {
            previous_overall_effectiveness: opt_r2(previous),
            change: opt_r2(difference(Some(overall), previous)),
        },
        benchmarks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::*;
    use crate::model::{ContentType, Outcome as Grade, TrainerFeedback};

    const T: u128 = 900;

    fn window(now: f64) -> Window {
        Window::new(TimeRange::Days30, day(now))
    }

    fn trainer_with(r: &mut Records, t: u128, courses: &[u128]) {
        user(r, t, &[Role::Trainer], None);
        for c in courses {
            r.course_trainers.push((id(*c), id(t)));
        }
    }

    fn complete(r: &mut Records, i: usize, at: f64, grade: Grade) {
        r.enrolments[i].status = EnrolmentStatus::Completed;
        r.enrolments[i].outcome = Some(grade);
        r.enrolments[i].completed_at = Some(day(at));
        r.enrolments[i].updated_at = day(at);
    }

    fn feedback(r: &mut Records, t: u128, course: u128, rating: i32, at: f64) {
        r.feedback.push(TrainerFeedback {
            id: Uuid::new_v4(),
            course_id: id(course),
            trainer_id: id(t),
            learner_id: None,
            origin: None,
            rating,
            submitted_at: day(at),
        });
    }

    fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }

    /// The worked example of §6.5: "Data 101" (course 10), now = day 100,
    /// W = (70, 100].
    fn worked_example() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        r.courses[0].title = "Data 101".into();
        trainer_with(&mut r, T, &[10]);
        assessment(&mut r, 50, 10, 100.0, 50.0, Some(85.0)); // due in W
        assessment(&mut r, 51, 10, 100.0, 50.0, None); // never due
        for n in 1..=22u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        // Learner 21 withdraws before the due date, learner 22 after it.
        withdraw(&mut r, 20, 75.0);
        withdraw(&mut r, 21, 90.0);
        // Due pairs: learners 1..20 and 22 = 21; submitted: 1..13 and 22 = 14.
        for n in (1..=13).chain([22]) {
            let score = if n <= 3 { 30.0 } else { 80.0 };
            attempt(&mut r, n, 50, 1, score, 84.0);
        }
        // A2: learners 1..15 and 22 = 16 results; 1..3 fail. 14 + 16 = 30
        // results, 6 failed, 24 passed.
        for n in (1..=15).chain([22]) {
            let score = if n <= 3 { 20.0 } else { 90.0 };
            attempt(&mut r, n, 51, 1, score, 88.0);
        }
        // Active now with an event tied to the course in W: 1..15 (attempts);
        // learners 16..20 only clicked before W.
        item(&mut r, 60, 10, ContentType::Video);
        interact(&mut r, 14, 60, 95.0, 3, None, false);
        for n in 16..=20 {
            interact(&mut r, n, 60, 50.0, 2, None, false);
        }
        r
    }

    #[test]
    fn course_health_reproduces_the_worked_example() {
        let ds = Dataset::new(worked_example());
        let h = course_health(&ds, id(T), &window(100.0)).expect("health");
        let c = &h.courses[0];
        assert_eq!(c.enrolments_in_window, 22);
        assert_eq!(c.active_enrolments, 20);
        assert_eq!(
            c.components,
            HealthComponents {
                engagement: Some(75.0),
                retention: Some(90.91),
                pass_rate: Some(80.0),
                submission: Some(66.67),
            }
        );
        assert_eq!(
            c.weights,
            HealthComponents {
                engagement: Some(0.3),
                retention: Some(0.3),
                pass_rate: Some(0.2),
                submission: Some(0.2),
            }
        );
        assert_eq!(c.health_score, Some(79.11));
        assert_eq!(c.status, "healthy");
        assert_eq!(h.overall_health, 79.11);
        assert_eq!(
            h.issues,
            vec![HealthIssue {
                code: "MISSED_SUBMISSIONS",
                course_id: id(10),
                severity: "normal",
                value: 66.67,
            }]
        );
        assert_eq!(h.recommendations.len(), 1);
        assert_eq!(
            h.recommendations[0].text,
            "Remind learners of deadlines; consider extensions where policy allows."
        );
        assert!(h.alerts.is_empty());
    }

    #[test]
    fn course_health_flags_critical_courses_and_lists_empty_ones() {
        // Course 10: 4 enrolments active in W = (70, 100], 2 withdrawn in W,
        // 2 active, none with an event: engagement 0 (high), retention
        // 100 × (1 − 2/4) = 50 (high); no result, nothing due. Weights
        // 0.3/0.3 → 0.5/0.5; health = 0.5·0 + 0.5·50 = 25 → critical.
        // Course 11 (draft) is not in C(T); course 12 has no learner in W.
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        course(&mut r, 11, 0.0, None);
        r.courses[1].status = CourseStatus::Draft;
        course(&mut r, 12, 0.0, None);
        trainer_with(&mut r, T, &[10, 11, 12]);
        for n in 1..=4u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        withdraw(&mut r, 0, 80.0);
        withdraw(&mut r, 1, 90.0);
        let i = enrol(&mut r, 200, 1, 12, 0.0);
        withdraw(&mut r, i, 60.0); // ended before W
        let h = course_health(&Dataset::new(r), id(T), &window(100.0)).expect("health");
        assert_eq!(h.courses.len(), 2);
        let c = &h.courses[0];
        assert_eq!(c.health_score, Some(25.0));
        assert_eq!(c.status, "critical");
        assert_eq!(c.weights.engagement, Some(0.5));
        assert_eq!(c.weights.pass_rate, None);
        assert_eq!(h.courses[1].status, "no-learners");
        assert_eq!(h.courses[1].health_score, None);
        assert_eq!(h.overall_health, 25.0);
        let codes: Vec<_> = h
            .alerts
            .iter()
            .map(|a| (a.code, a.severity, a.value))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("LOW_ENGAGEMENT", "high", 0.0),
                ("HIGH_WITHDRAWAL", "high", 50.0),
                ("COURSE_CRITICAL", "high", 25.0),
            ]
        );
        assert_eq!(h.issues.len(), 2);
        assert_eq!(h.recommendations.len(), 2);
    }

    #[test]
    fn course_health_needs_learners_and_a_trainer_with_courses() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        let i = enrol(&mut r, 101, 1, 10, 0.0);
        withdraw(&mut r, i, 50.0);
        user(&mut r, 901, &[Role::Trainer], None); // no course
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            course_health(&ds, id(T), &w).map_err(reason),
            Err("NO_LEARNERS_IN_WINDOW")
        );
        assert_eq!(
            course_health(&ds, id(901), &w).map_err(reason),
            Err("NOT_FOUND")
        );
        assert_eq!(
            course_health(&ds, id(999), &w).map_err(reason),
            Err("NOT_FOUND")
        );
    }

    /// Two courses, now = day 100, W = (70, 100], W′ = (40, 70].
    ///
    /// Course 10 "A": learners 1..4 enrolled day 0.
    ///   W: results: L1 on A50 90 (pass), L1 on A51 70, L2 on A50 30 (fail).
    ///      learner scores: L1 (90 + 70)/2 = 80, L2 30 → averageScore 55;
    ///      passRate 2/3 = 66.666667. L3 completed (pass) day 80, L4
    ///      withdrew day 90 → completionRate 50. 4 in window, 2 active
    ///      (L1, L2, progress 0.4 and 0.6 → averageProgress 50).
    ///      score = 0.5·55 + 0.3·66.666667 + 0.2·50 = 27.5 + 20 + 10 = 57.5
    ///      withdrawals 1/4 = 0.25 > 0.20 → HIGH_WITHDRAWAL 25.
    ///   W′: L1 on A50 100 (pass) at day 60 → averageScore 100,
    ///      passRate 100, nothing finished → score 100 (weights 0.5/0.3).
    ///      change = 57.5 − 100 = −42.5 → DECLINING.
    /// Course 11 "B": learner 5 enrolled day 0, one result 100 in W;
    ///   score = (0.5·100 + 0.3·100) / 0.8 = 100, no previous (no result in W′).
    /// overall = (4·57.5 + 1·100) / 5 = 330 / 5 = 66;
    /// previous overall = course A only (B has a learner in W′ but no
    /// result) = 100; change = −34.
    fn performance_fixture() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        r.courses[0].title = "A".into();
        course(&mut r, 11, 0.0, None);
        r.courses[1].title = "B".into();
        trainer_with(&mut r, T, &[10, 11]);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        assessment(&mut r, 51, 10, 100.0, 50.0, None);
        assessment(&mut r, 52, 11, 50.0, 100.0, None);
        for n in 1..=5u128 {
            user(&mut r, n, &[Role::Learner], None);
        }
        let e1 = enrol(&mut r, 101, 1, 10, 0.0);
        r.enrolments[e1].progress = 0.4;
        let e2 = enrol(&mut r, 102, 2, 10, 0.0);
        r.enrolments[e2].progress = 0.6;
        let e3 = enrol(&mut r, 103, 3, 10, 0.0);
        complete(&mut r, e3, 80.0, Grade::Pass);
        let e4 = enrol(&mut r, 104, 4, 10, 0.0);
        withdraw(&mut r, e4, 90.0);
        enrol(&mut r, 105, 5, 11, 0.0);
        attempt(&mut r, 1, 50, 1, 100.0, 60.0); // W′
        attempt(&mut r, 1, 50, 2, 90.0, 75.0);
        attempt(&mut r, 1, 50, 3, 60.0, 76.0); // best in W stays 90
        attempt(&mut r, 1, 51, 1, 70.0, 80.0);
        attempt(&mut r, 2, 50, 1, 30.0, 85.0);
        attempt(&mut r, 5, 52, 1, 50.0, 85.0);
        r
    }

    #[test]
    fn course_performance_on_two_courses() {
        let ds = Dataset::new(performance_fixture());
        let p = course_performance(&ds, id(T), &window(100.0)).expect("performance");
        assert_eq!(p.overall_performance, Some(66.0));
        assert_eq!(p.trends.previous_overall_performance, Some(100.0));
        assert_eq!(p.trends.change, Some(-34.0));
        let a = &p.courses[0];
        assert_eq!(
            *a,
            CoursePerformanceRow {
                course_id: id(10),
                title: "A".into(),
                enrolments_in_window: 4,
                active_enrolments: 2,
                // L1 and L2 have attempts in W; L3 and L4 have no event.
                active_learners: 2,
                average_score: Some(55.0),
                pass_rate: Some(66.67),
                completion_rate: Some(50.0),
                average_progress: Some(50.0),
                performance_score: Some(57.5),
                previous_performance_score: Some(100.0),
                change: Some(-42.5),
            }
        );
        let b = &p.courses[1];
        assert_eq!(b.performance_score, Some(100.0));
        assert_eq!(b.previous_performance_score, None);
        assert_eq!(b.change, None);
        let codes: Vec<_> = p
            .insights
            .iter()
            .map(|i| (i.code, i.course_id, i.severity, i.value))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("HIGH_WITHDRAWAL", id(10), "warning", 25.0),
                ("DECLINING", id(10), "warning", -42.5),
                ("TOP_COURSE", id(11), "info", 100.0),
            ]
        );
        assert_eq!(
            p.insights[1].message,
            "Performance in A fell by 42.50 points since the previous window."
        );
    }

    #[test]
    fn course_performance_needs_results() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 0.0);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        attempt(&mut r, 1, 50, 1, 80.0, 20.0); // before W
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            course_performance(&ds, id(T), &w).map_err(reason),
            Err("NO_COURSE_RESULTS")
        );
        assert_eq!(
            course_performance(&ds, id(1), &w).map_err(reason),
            Err("NOT_FOUND")
        );
    }

    fn signals(u: Uuid) -> LearnerSignals {
        let n = u.as_u128();
        LearnerSignals {
            engagement_level: match n {
                1 | 2 => Some("high"),
                3 => Some("medium"),
                4 => Some("low"),
                _ => None,
            },
            risk_score: match n {
                4 => Some(0.7),
                5 => Some(0.9),
                _ => Some(0.1),
            },
            enrolment_risks: match n {
                // Learner 4's active enrolment in course 10 is high risk;
                // learner 5 has two active enrolments, only one listed.
                4 => vec![(id(104), 0.7)],
                5 => vec![(id(105), 0.65), (id(305), 0.9)],
                _ => Vec::new(),
            },
            model: Some("heuristic"),
        }
    }

    /// now = day 100, W = (70, 100], k = 2.
    /// Course 10: learners 1..5 (dept D1 for 1..3, D2 for 4, none for 5;
    /// job role "analyst" for 1, 2). Learner 6 withdrew before W (not a
    /// student); learner 3 completed (pass) in W. Learner 7 is an enrolled
    /// trainer (not a learner).
    /// Results in W: L1 90 (pass), L2 72 & 100 on two assessments → 86,
    /// L3 50, L4 20 (fail) → scores 90, 86, 50, 20; L5 none.
    /// Bands: excellent 2, belowAverage 1, failing 1, noScores 1 (of 5 →
    /// 40, 20, 20, 20 %).
    /// averageScore = (90 + 86 + 50 + 20) / 4 = 61.5; passRate = 4/5 results
    /// passed = 80. completionRate: L3 completed pass = 100.
    /// Active enrolments: 1, 2, 4, 5 with progress 0.1, 0.3, 0.5, 1.0 →
    /// bins 1,1,1,1; averageProgress = (10 + 30 + 50 + 100) / 4 = 47.5.
    /// Events tied to course in W: L1..L4 (attempts) → activeShare 80.
    /// Departments with k = 2: D1 3, other (D2 1 + unassigned 1) 2.
    /// At risk: 105 (0.65) of learner 5 (305 is another trainer's course)
    /// and 104 (0.7) of learner 4 → ordered 104, 105; atRiskCount 2.
    fn distribution_fixture() -> Records {
        let mut r = records();
        for (n, name) in [(70u128, "D1"), (71, "D2")] {
            r.departments.push(crate::model::Department {
                id: id(n),
                organization_id: id(ORG),
                parent_id: None,
                origin: None,
                name: name.into(),
                created_at: t0(),
                updated_at: t0(),
            });
        }
        course(&mut r, 10, 0.0, None);
        course(&mut r, 30, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        r.trainer_learners.push((id(T), id(1)));
        r.trainer_learners.push((id(T), id(9)));
        r.trainer_learners.push((id(901), id(2)));
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        assessment(&mut r, 51, 10, 100.0, 50.0, None);
        for n in 1..=6u128 {
            let dept = match n {
                1..=3 => Some(70),
                4 => Some(71),
                _ => None,
            };
            user(&mut r, n, &[Role::Learner], dept);
        }
        for u in r
            .users
            .iter_mut()
            .filter(|u| u.id == id(1) || u.id == id(2))
        {
            u.job_role = Some("analyst".into());
        }
        user(&mut r, 7, &[Role::Trainer], None);
        let progress = [0.1, 0.3, 0.0, 0.5, 1.0];
        for n in 1..=5u128 {
            let i = enrol(&mut r, 100 + n, n, 10, 0.0);
            r.enrolments[i].progress = progress[n as usize - 1];
        }
        complete(&mut r, 2, 80.0, Grade::Pass);
        let i = enrol(&mut r, 106, 6, 10, 0.0);
        withdraw(&mut r, i, 60.0);
        enrol(&mut r, 107, 7, 10, 0.0);
        enrol(&mut r, 305, 5, 30, 0.0);
        attempt(&mut r, 1, 50, 1, 90.0, 80.0);
        attempt(&mut r, 2, 50, 1, 72.0, 80.0);
        attempt(&mut r, 2, 51, 1, 100.0, 81.0);
        attempt(&mut r, 3, 50, 1, 50.0, 75.0);
        attempt(&mut r, 4, 50, 1, 20.0, 82.0);
        attempt(&mut r, 7, 50, 1, 0.0, 82.0); // not a learner: ignored
        r
    }

    #[test]
    fn student_distribution_by_hand() {
        let ds = Dataset::new(distribution_fixture());
        let d = student_distribution(&ds, id(T), &window(100.0), 2, &signals).expect("dist");
        assert_eq!(d.total_students, 5);
        assert_eq!(d.direct_learners, 2);
        let p = &d.distribution.performance;
        assert_eq!(
            p.excellent,
            Share {
                count: 2,
                percent: 40.0
            }
        );
        assert_eq!(p.good.count, 0);
        assert_eq!(
            p.below_average,
            Share {
                count: 1,
                percent: 20.0
            }
        );
        assert_eq!(p.failing.count, 1);
        assert_eq!(p.no_scores.count, 1);
        let s = &d.distribution.status;
        assert_eq!(
            (s.active.count, s.completed.count, s.withdrawn.count),
            (4, 1, 0)
        );
        assert_eq!(s.active.percent, 80.0);
        let bins: Vec<usize> = d.distribution.progress.iter().map(|b| b.count).collect();
        assert_eq!(bins, vec![1, 1, 1, 1]);
        assert_eq!(d.distribution.progress[3].percent, Some(25.0));
        let e = &d.distribution.engagement;
        assert_eq!(
            (e.high.count, e.medium.count, e.low.count, e.no_data.count),
            (2, 1, 1, 1)
        );
        assert_eq!(
            d.demographics.by_department,
            vec![
                Category {
                    name: "D1".into(),
                    count: 3,
                    percent: 60.0
                },
                Category {
                    name: "other".into(),
                    count: 2,
                    percent: 40.0
                },
            ]
        );
        assert_eq!(
            d.demographics.by_job_role,
            vec![
                Category {
                    name: "unspecified".into(),
                    count: 3,
                    percent: 60.0
                },
                Category {
                    name: "analyst".into(),
                    count: 2,
                    percent: 40.0
                },
            ]
        );
        let k = &d.key_performance_indicators;
        assert_eq!(k.average_score, Some(61.5));
        assert_eq!(k.pass_rate, Some(80.0));
        assert_eq!(k.completion_rate, Some(100.0));
        assert_eq!(k.average_progress, Some(47.5));
        assert_eq!(k.active_share, 80.0);
        assert_eq!(k.at_risk_count, 2);
        let risk: Vec<_> = d
            .at_risk_learners
            .iter()
            .map(|a| (a.enrolment_id, a.risk_score, a.risk_level))
            .collect();
        assert_eq!(risk, vec![(id(104), 0.7, "high"), (id(105), 0.65, "high")]);
        assert_eq!(d.at_risk_learners[0].full_name, "User 4");
    }

    #[test]
    fn student_distribution_needs_learners_in_the_window() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 200.0); // enrolled after now
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            student_distribution(&ds, id(T), &w, 5, &signals).map_err(reason),
            Err("NO_LEARNERS_IN_WINDOW")
        );
        assert_eq!(
            student_distribution(&ds, id(999), &w, 5, &signals).map_err(reason),
            Err("NOT_FOUND")
        );
    }

    /// now = day 100, W = (70, 100], W′ = (40, 70].
    /// Trainer T, course 10, learners 1..4:
    ///   L1 completed pass (day 80), L2 completed fail (day 85) →
    ///   learnerOutcomes 50. Results: L1 80, L3 60 → scoreLevel 70.
    ///   Feedback in W: 5, 4 → mean 4.5 → 100 × 3.5 / 4 = 87.5 (a rating
    ///   of 1 at day 20 is outside W). Active: L3, L4; L3 has an event →
    ///   engagement 50.
    ///   overall = 0.35·50 + 0.25·70 + 0.25·87.5 + 0.15·50
    ///           = 17.5 + 17.5 + 21.875 + 7.5 = 64.375
    ///   W′: L3 scored 40 at day 50 → scoreLevel 40; engagement 100·1/4
    ///   (all four active at day 70, L3 has an event in W′) = 25;
    ///   previous = (0.25·40 + 0.15·25) / 0.40 = (10 + 3.75) / 0.4 = 34.375;
    ///   change = 30.
    /// Other trainers 901..904 each with one feedback rating in W:
    ///   901: 5 → 100, 902: 1 → 0, 903: 3 → 50, 904: 2 → 25. Their
    ///   overall = feedback alone.
    /// Cohorts (k = 5): feedback: [87.5, 100, 0, 50, 25] → n = 5,
    ///   percentile of 87.5 = 100 × (3 + 0.5) / 5 = 70, mean = 262.5/5 = 52.5.
    ///   overall: [64.375, 100, 0, 50, 25] → percentile 70, mean 47.875.
    ///   Other metrics: n = 1 < 5 → suppressed: strengths by value ≥ 75
    ///   (none), areas by value < 50 (none, engagement = 50 and
    ///   learnerOutcomes = 50). Feedback percentile 70 is neither.
    fn teaching_fixture() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        item(&mut r, 60, 10, ContentType::Reading);
        for n in 1..=4u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        complete(&mut r, 0, 80.0, Grade::Pass);
        complete(&mut r, 1, 85.0, Grade::Fail);
        attempt(&mut r, 1, 50, 1, 80.0, 75.0);
        attempt(&mut r, 3, 50, 1, 40.0, 50.0);
        attempt(&mut r, 3, 50, 2, 60.0, 90.0);
        feedback(&mut r, T, 10, 5, 90.0);
        feedback(&mut r, T, 10, 4, 91.0);
        feedback(&mut r, T, 10, 1, 20.0);
        for (t, rating) in [(901u128, 5), (902, 1), (903, 3), (904, 2)] {
            user(&mut r, t, &[Role::Trainer], None);
            feedback(&mut r, t, 10, rating, 95.0);
        }
        r
    }

    #[test]
    fn teaching_effectiveness_by_hand() {
        let ds = Dataset::new(teaching_fixture());
        let t = teaching_effectiveness(&ds, id(T), &window(100.0), 5).expect("teaching");
        assert_eq!(
            t.metrics,
            TeachingMetrics {
                learner_outcomes: Some(50.0),
                score_level: Some(70.0),
                feedback: Some(87.5),
                engagement: Some(50.0),
            }
        );
        assert_eq!(t.overall_effectiveness, 64.38);
        assert_eq!(
            t.weights,
            TeachingMetrics {
                learner_outcomes: Some(0.35),
                score_level: Some(0.25),
                feedback: Some(0.25),
                engagement: Some(0.15),
            }
        );
        assert_eq!(t.trends.previous_overall_effectiveness, Some(34.38));
        assert_eq!(t.trends.change, Some(30.0));
        let feedback = &t.benchmarks[2];
        assert_eq!(
            *feedback,
            Benchmark {
                metric: "feedback",
                percentile: Some(70.0),
                cohort_average: Some(52.5),
                cohort_size: Some(5),
                suppressed: false,
                suppressed_reason: None,
            }
        );
        assert!(t.benchmarks[0].suppressed);
        assert_eq!(t.benchmarks[0].suppressed_reason, Some("COHORT_BELOW_K"));
        assert_eq!(t.benchmarks[4].percentile, Some(70.0));
        assert_eq!(t.benchmarks[4].cohort_average, Some(47.88));
        assert!(t.strengths.is_empty());
        assert!(t.areas_for_improvement.is_empty());

        // Lowering T's ratings in W to 1 makes feedback 0 → cohort
        // [0, 100, 0, 50, 25], percentile 100 × (0 + 0.5·2) / 5 = 20 ≤ 25 →
        // area for improvement.
        let mut r = teaching_fixture();
        for f in r.feedback.iter_mut().filter(|f| f.trainer_id == id(T)) {
            f.rating = 1;
        }
        let ds = Dataset::new(r);
        let t = teaching_effectiveness(&ds, id(T), &window(100.0), 5).expect("teaching");
        assert_eq!(
            t.areas_for_improvement,
            vec![MetricNote {
                metric: "feedback",
                value: 0.0,
                percentile: Some(20.0),
            }]
        );
    }

    #[test]
    fn teaching_effectiveness_needs_evidence_beyond_engagement() {
        // Only engagement is present: an active enrolment with an event.
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 0.0);
        item(&mut r, 60, 10, ContentType::Video);
        interact(&mut r, 1, 60, 90.0, 4, None, false);
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            teaching_effectiveness(&ds, id(T), &w, 5).map_err(reason),
            Err("NO_TEACHING_EVIDENCE")
        );
        assert_eq!(
            teaching_effectiveness(&ds, id(1), &w, 5).map_err(reason),
            Err("NOT_FOUND")
        );
    }
}
