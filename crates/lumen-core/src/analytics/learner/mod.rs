//! Learner analytics (docs/analytics.md §5): velocity, skill-gap,
//! engagement, mastery, performance and content-effectiveness of one
//! learner. Pure functions of a [`Dataset`], the learner and a [`Window`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::common::{
    EnrolmentPace, Event, EventKind, LearnerRule, Steps, active_at, active_days, active_in,
    activity_count, add_weeks, best_attempt, composite, end, enrolment_pace, events, late,
    learner_subject, level_label, mean, median, pace_status, pace_trend, passed, r2, r4,
    score_percent, time_spent, utc_offset_at, whole_seconds,
};
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::{
    Assessment, AssessmentAttempt, ContentInteraction, ContentType, Enrolment, EnrolmentStatus,
};

// ---- constants (§10) ----

/// Score trend threshold, points.
const SCORE_TREND_POINTS: f64 = 5.0;
const WEEKS_PER_SKILL_LEVEL: f64 = 2.0;
/// Skill levels are on 0–5; outputs on 0–1.
const LEVEL_SCALE: f64 = 5.0;
const ENGAGEMENT_WEIGHTS: [f64; 4] = [0.30, 0.25, 0.20, 0.25];
const PERFORMANCE_WEIGHTS: [f64; 3] = [0.60, 0.25, 0.15];
const STRENGTH_MEAN: f64 = 70.0;
const IMPROVEMENT_MEAN: f64 = 50.0;
const MIN_EVIDENCE: usize = 2;
const LEAD_IN_DAYS: i64 = 14;
const SESSION_GAP_SECONDS: i64 = 30 * 60;
const PREFERRED_STYLE_SHARE: f64 = 0.40;
const LIFT_POINTS: f64 = 5.0;
const MAX_TRY_RECOMMENDATIONS: usize = 3;
const LEARNING_PATH_LENGTH: usize = 5;

// ---- shared helpers ----

/// The latest level of each skill of a user assessed at or before `at`,
/// with its date.
fn latest_levels(
    ds: &Dataset,
    user: Uuid,
    at: DateTime<Utc>,
) -> BTreeMap<Uuid, (DateTime<Utc>, f64)> {
    let mut latest: BTreeMap<Uuid, (DateTime<Utc>, f64)> = BTreeMap::new();
    for l in ds.skill_levels_of(user).filter(|l| l.assessed_at <= at) {
        let entry = latest.entry(l.skill_id).or_insert((l.assessed_at, l.level));
        if l.assessed_at >= entry.0 {
            *entry = (l.assessed_at, l.level);
        }
    }
    latest
}

fn course_title(ds: &Dataset, course: Uuid) -> String {
    ds.course(course)
        .map_or_else(|| course.to_string(), |c| c.title.clone())
}

/// Weighted course score (§2.5) of (weight, score percent) pairs; equal
/// weights when every weight is 0. `None` when empty.
fn weighted_score(scores: &[(f64, f64)]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let total: f64 = scores.iter().map(|(w, _)| w).sum();
    if total > 0.0 {
        Some(scores.iter().map(|(w, s)| w * s).sum::<f64>() / total)
    } else {
        mean(scores.iter().map(|(_, s)| *s))
    }
}

fn status_str(s: EnrolmentStatus) -> &'static str {
    s.as_str()
}

/// One result (§2.5): the best attempt on an assessment within a window.
struct ScoredResult<'a> {
    assessment: &'a Assessment,
    best: &'a AssessmentAttempt,
    percent: f64,
    attempts: usize,
}

/// Results in `w` on assessments of any course the learner is or was
/// enrolled in (as of `w.now`).
fn results<'a>(ds: &'a Dataset, learner: Uuid, w: &Window) -> Vec<ScoredResult<'a>> {
    let courses: BTreeSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| e.enrolled_at <= w.now)
        .map(|e| e.course_id)
        .collect();
    let mut out = Vec::new();
    // Through the courses' index (the order does not matter: sorted below).
    for a in courses.iter().flat_map(|c| ds.assessments_of_course(*c)) {
        if let Some(best) = best_attempt(ds, learner, a, |t| w.contains(t)) {
            let attempts = ds
                .attempts_of(learner)
                .filter(|x| x.assessment_id == a.id && w.contains(x.submitted_at))
                .count();
            out.push(ScoredResult {
                assessment: a,
                best,
                percent: score_percent(best, a),
                attempts,
            });
        }
    }
    out.sort_by(|x, y| {
        x.best
            .submitted_at
            .cmp(&y.best.submitted_at)
            .then(x.assessment.id.cmp(&y.assessment.id))
    });
    out
}

mod content_effectiveness;
mod engagement;
mod mastery;
mod performance;
mod skill_gap;
mod velocity;

pub use content_effectiveness::*;
pub use engagement::*;
pub use mastery::*;
pub use performance::*;
pub use skill_gap::*;
pub use velocity::*;

#[cfg(test)]
mod tests {
    use super::*;
    pub(super) use crate::Role;
    pub(super) use crate::analytics::TimeRange;
    pub(super) use crate::analytics::dataset::Records;
    pub(super) use crate::analytics::testkit::{self, *};
    pub(super) use crate::model::{AssessmentKind, CourseUnit, SkillRequirement, SkillTarget};

    pub(super) const ME: u128 = 10;
    pub(super) const L: &[Role] = &[Role::Learner];

    pub(super) fn ds(r: Records) -> Dataset {
        Dataset::new(r)
    }

    pub(super) fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }

    pub(super) fn w30(now: f64) -> Window {
        Window::new(TimeRange::Days30, day(now))
    }

    pub(super) fn w7(now: f64) -> Window {
        Window::new(TimeRange::Days7, day(now))
    }

    pub(super) fn hours(d: f64, h: f64) -> f64 {
        d + h / 24.0
    }

    /// Every analytic answers 404 for an unknown user and for a user with
    /// neither an enrolment nor an activity event.
    #[test]
    fn unknown_or_recordless_learners_are_not_found() {
        let mut r = records();
        user(&mut r, ME, L, None);
        let d = ds(r);
        let w = w30(70.0);
        for who in [id(ME), id(99)] {
            assert_eq!(reason(velocity(&d, who, &w).expect_err("404")), "NOT_FOUND");
            assert_eq!(
                reason(skill_gap(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(
                reason(engagement(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(reason(mastery(&d, who, &w).expect_err("404")), "NOT_FOUND");
            assert_eq!(
                reason(performance(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(
                reason(content_effectiveness(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
        }
    }
}
