//! Trainer analytics (docs/analytics.md §6): course-performance,
//! course-health, student-distribution and teaching-effectiveness.
//!
//! Subject: a trainer T. C(T) = T's courses that are not drafts (§2.3),
//! listed by title, then id. 404 when T does not exist or has no course.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use uuid::Uuid;

use super::common::{
    active_at, active_in, best_attempt, completion_rate, composite, end, events, finished_in, mean,
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

/// Mean over learners with ≥ 1 result of 100 × their passed results /
/// their results: each learner counts once, as in [`average_score`];
/// `None` without results.
fn pass_rate(results: &[Outcome]) -> Option<f64> {
    let mut by_user: BTreeMap<Uuid, (usize, usize)> = BTreeMap::new();
    for r in results {
        let (passed, all) = by_user.entry(r.user).or_default();
        *passed += usize::from(r.passed);
        *all += 1;
    }
    mean(
        by_user
            .into_values()
            .map(|(passed, all)| 100.0 * passed as f64 / all as f64),
    )
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

mod course_health;
mod course_performance;
mod student_distribution;
mod teaching_effectiveness;

pub use course_health::*;
pub use course_performance::*;
pub use student_distribution::*;
pub use teaching_effectiveness::*;

#[cfg(test)]
mod tests {
    use super::*;
    pub(super) use crate::analytics::TimeRange;
    pub(super) use crate::analytics::dataset::Records;
    pub(super) use crate::analytics::testkit::*;
    pub(super) use crate::model::{ContentType, Outcome as Grade, TrainerFeedback};

    pub(super) const T: u128 = 900;

    pub(super) fn window(now: f64) -> Window {
        Window::new(TimeRange::Days30, day(now))
    }

    pub(super) fn trainer_with(r: &mut Records, t: u128, courses: &[u128]) {
        user(r, t, &[Role::Trainer], None);
        for c in courses {
            r.course_trainers.push((id(*c), id(t)));
        }
    }

    pub(super) fn complete(r: &mut Records, i: usize, at: f64, grade: Grade) {
        r.enrolments[i].status = EnrolmentStatus::Completed;
        r.enrolments[i].outcome = Some(grade);
        r.enrolments[i].completed_at = Some(day(at));
        r.enrolments[i].updated_at = day(at);
    }

    pub(super) fn feedback(r: &mut Records, t: u128, course: u128, rating: i32, at: f64) {
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

    pub(super) fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }
}
