//! velocity (docs/analytics.md §5.1): how fast the learner progresses through
//! their active enrolments.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Velocity {
    #[serde(flatten)]
    pub header: Header,
    /// Percentage points of course per week.
    pub current_pace: f64,
    pub target_pace: Option<f64>,
    /// `accelerating` | `steady` | `decelerating` | `not-comparable`:
    /// current against previous pace over the comparable enrolments only
    /// (open for at least half of W′, whose pace counts per week open),
    /// `not-comparable` when there are none.
    pub trend: &'static str,
    /// Percent change of pace over the comparable enrolments, or null.
    pub trend_percentage: Option<f64>,
    /// How many enrolments the trend compares.
    pub comparable_enrolments: usize,
    pub estimated_completion: Option<DateTime<Utc>>,
    /// `on-track` | `behind` | `at-risk` | `overdue` | `no-deadline`.
    pub status: &'static str,
    pub courses: Vec<VelocityCourse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityCourse {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: String,
    /// 100 × `enrolments.progress`, as recorded upstream.
    pub progress: f64,
    /// Steps done by now (all time).
    pub steps_done: usize,
    pub steps_total: usize,
    pub pace: f64,
    pub target_pace: Option<f64>,
    pub course_end: Option<DateTime<Utc>>,
    pub estimated_completion: Option<DateTime<Utc>>,
    /// `on-track` | `behind` | `at-risk` | `overdue` (course ended with
    /// steps left) | `no-deadline`.
    pub status: &'static str,
}

pub fn velocity(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Velocity, AnalyticError> {
    const NAME: &str = "velocity";
    learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
    let active: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
        .collect();
    if active.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_ACTIVE_ENROLMENT",
            "velocity needs at least 1 active enrolment",
            "activeEnrolments",
            1.0,
            0.0,
        ));
    }
    struct Row<'a> {
        e: &'a Enrolment,
        p: EnrolmentPace,
        estimated: Option<DateTime<Utc>>,
    }
    let mut rows: Vec<Row> = Vec::new();
    for e in active {
        let Some(p) = enrolment_pace(ds, e, &Steps::of(ds, e.course_id), w) else {
            continue;
        };
        let estimated = if p.remaining <= 0.0 {
            Some(whole_seconds(w.now))
        } else if p.pace > 0.0 {
            add_weeks(w.now, p.remaining / p.pace)
        } else {
            None
        };
        rows.push(Row { e, p, estimated });
    }
    if rows.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_STEPS",
            "velocity needs at least 1 active enrolment in a course with at least 1 step",
            "activeEnrolmentsWithSteps",
            1.0,
            0.0,
        ));
    }
    let with_end: Vec<&Row> = rows.iter().filter(|r| r.p.target.is_some()).collect();
    let basis: Vec<&Row> = if with_end.is_empty() {
        rows.iter().collect()
    } else {
        with_end.clone()
    };
    let current = mean(basis.iter().map(|r| r.p.pace)).unwrap_or(0.0);
    let target = mean(with_end.iter().filter_map(|r| r.p.target));
    let status = pace_status(target, current, with_end.iter().any(|r| r.p.overdue));
    let comparable: Vec<(f64, f64)> = basis.iter().filter_map(|r| r.p.comparable).collect();
    let (trend, trend_percentage) = pace_trend(&comparable);
    let estimated_completion = rows
        .iter()
        .map(|r| r.estimated)
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.into_iter().max());
    let courses = rows
        .iter()
        .map(|r| VelocityCourse {
            enrolment_id: r.e.id,
            course_id: r.e.course_id,
            course_title: course_title(ds, r.e.course_id),
            progress: r2(100.0 * r.e.progress),
            steps_done: r.p.steps_done,
            steps_total: r.p.steps_total,
            pace: r2(r.p.pace),
            target_pace: r.p.target.map(r2),
            course_end: r.p.course_end.map(whole_seconds),
            estimated_completion: r.estimated,
            status: pace_status(r.p.target, r.p.pace, r.p.overdue),
        })
        .collect();
    Ok(Velocity {
        header: Header::new(NAME, Some(learner), w),
        current_pace: r2(current),
        target_pace: target.map(r2),
        trend,
        trend_percentage: trend_percentage.map(r2),
        comparable_enrolments: comparable.len(),
        estimated_completion,
        status,
        courses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::learner::tests::*;

    fn velocity_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, Some(84)); // ends day 84
        course(&mut r, 101, 0.0, None); // no deadline
        for a in 300..304 {
            assessment(&mut r, a, 100, 100.0, 25.0, None);
        }
        assessment(&mut r, 310, 101, 100.0, 50.0, None);
        assessment(&mut r, 311, 101, 100.0, 50.0, None);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        r.enrolments[e].progress = 0.6;
        enrol(&mut r, 2, ME, 101, 0.0);
        attempt(&mut r, ME, 300, 1, 50.0, 60.0); // W' = (56, 63]
        attempt(&mut r, ME, 301, 1, 50.0, 65.0); // W = (63, 70]
        attempt(&mut r, ME, 302, 1, 50.0, 68.0);
        attempt(&mut r, ME, 302, 2, 70.0, 69.0); // a second attempt is not a new step
        r
    }

    #[test]
    fn velocity_by_hand() {
        // now = day 70, 7d: weeks(W) = 1.
        // Course 100: 4 steps; 2 first done in W, 1 in W', 3 by now.
        //   pace = 100 × 2 / 4 / 1 = 50; prevPace = 100 × 1 / 4 = 25
        //   remaining = 100 × (1 − 3/4) = 25; weeksLeft = max(1, 14/7) = 2
        //   targetPace = 25 / 2 = 12.5; r = 4 → on-track
        //   estimatedCompletion = now + 25 / 50 × 7 d = day 73.5
        // Course 101: 2 steps, none done: pace 0, no deadline, no estimate.
        // D = {100}: currentPace = 50, targetPace = 12.5, status on-track;
        // trend = 100 × (50 − 25) / 25 = 100 % → accelerating;
        // learner estimatedCompletion null (course 101 has none).
        let d = ds(velocity_fixture());
        let v = velocity(&d, id(ME), &w7(70.0)).expect("velocity");
        assert_eq!(v.current_pace, 50.0);
        assert_eq!(v.target_pace, Some(12.5));
        assert_eq!(v.status, "on-track");
        assert_eq!(v.trend, "accelerating");
        assert_eq!(v.trend_percentage, Some(100.0));
        assert_eq!(v.comparable_enrolments, 1);
        assert_eq!(v.estimated_completion, None);
        assert_eq!(v.courses.len(), 2);
        let c = v
            .courses
            .iter()
            .find(|c| c.course_id == id(100))
            .expect("course 100");
        assert_eq!(c.progress, 60.0);
        assert_eq!((c.steps_done, c.steps_total), (3, 4));
        assert_eq!(c.pace, 50.0);
        assert_eq!(c.target_pace, Some(12.5));
        assert_eq!(c.course_end, Some(day(84.0)));
        assert_eq!(c.estimated_completion, Some(day(73.5)));
        assert_eq!(c.status, "on-track");
        let c = v
            .courses
            .iter()
            .find(|c| c.course_id == id(101))
            .expect("course 101");
        assert_eq!(
            (c.pace, c.target_pace, c.status),
            (0.0, None, "no-deadline")
        );
        assert_eq!(c.estimated_completion, None);
    }

    #[test]
    fn velocity_behind_and_at_risk_and_deceleration() {
        // Only course 100, now = day 77 (W = (70, 77], W' = (63, 70]).
        // In W: 1 step (303 at day 75) → pace 25; in W': 2 → prevPace 50.
        // Done by now 4 of 4 → remaining 0 → targetPace 0 → on-track.
        let mut r = velocity_fixture();
        r.enrolments.retain(|e| e.course_id == id(100));
        attempt(&mut r, ME, 303, 1, 50.0, 75.0);
        let v = velocity(&ds(r.clone()), id(ME), &w7(77.0)).expect("velocity");
        assert_eq!(v.current_pace, 25.0);
        assert_eq!(v.target_pace, Some(0.0));
        assert_eq!(v.status, "on-track");
        assert_eq!(v.trend_percentage, Some(-50.0));
        assert_eq!(v.trend, "decelerating");
        assert_eq!(v.estimated_completion, Some(day(77.0)));

        // Without the step at day 75: pace 0 in W, remaining 25,
        // weeksLeft = max(1, 7/7) = 1 → target 25, r = 0 → at-risk.
        r.attempts.retain(|a| a.assessment_id != id(303));
        let v = velocity(&ds(r), id(ME), &w7(77.0)).expect("velocity");
        assert_eq!(v.current_pace, 0.0);
        assert_eq!(v.target_pace, Some(25.0));
        assert_eq!(v.status, "at-risk");
        assert_eq!(v.estimated_completion, None);
        assert_eq!(pace_status(Some(20.0), 15.0, false), "behind"); // r = 0.75
    }

    #[test]
    fn velocity_trend_compares_only_enrolments_open_in_both_windows() {
        // now = day 70, 7d: W = (63, 70], W′ = (56, 63]. No deadlines, so
        // the basis is A (both enrolments).
        // Course 100 (enrolled day 0, 4 steps): 1 step in W′ (day 60), 1
        //   in W (day 65) → pace 25, prevPace 25; comparable.
        // Course 101 (enrolled day 64, inside W; 2 steps): both done in W
        //   → pace 100; its W′ pace would be 0 by construction: not
        //   comparable.
        // currentPace = (25 + 100) / 2 = 62.5. Trend over course 100 only:
        // 25 vs 25 → 0 % → steady. (Over both: prev 12.5 → +400 %.)
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        course(&mut r, 101, 0.0, None);
        for a in 300..304 {
            assessment(&mut r, a, 100, 100.0, 25.0, None);
        }
        assessment(&mut r, 310, 101, 100.0, 50.0, None);
        assessment(&mut r, 311, 101, 100.0, 50.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        enrol(&mut r, 2, ME, 101, 64.0);
        attempt(&mut r, ME, 300, 1, 50.0, 60.0);
        attempt(&mut r, ME, 301, 1, 50.0, 65.0);
        attempt(&mut r, ME, 310, 1, 50.0, 66.0);
        attempt(&mut r, ME, 311, 1, 50.0, 67.0);
        let v = velocity(&ds(r.clone()), id(ME), &w7(70.0)).expect("velocity");
        assert_eq!(v.current_pace, 62.5);
        assert_eq!(v.trend, "steady");
        assert_eq!(v.trend_percentage, Some(0.0));
        assert_eq!(v.comparable_enrolments, 1);
        // Only the recent enrolment: nothing to compare.
        let mut only_recent = r.clone();
        only_recent.enrolments.retain(|e| e.course_id == id(101));
        let v = velocity(&ds(only_recent), id(ME), &w7(70.0)).expect("velocity");
        assert_eq!(v.current_pace, 100.0);
        assert_eq!(v.trend, "not-comparable");
        assert_eq!(v.trend_percentage, None);
        assert_eq!(v.comparable_enrolments, 0);
        // Course 102 enrolled day 59: open 4 of W′'s 7 days (≥ half) →
        // comparable, its W′ pace per week open. 1 of 2 steps in W′ (day
        // 61): prevPace = 100 × 1/2 / (4/7) = 87.5; 1 in W (day 66): pace
        // 50. Trend = 100 × (50 − 87.5) / 87.5 = −42.857143 → decelerating
        // (per full week, 50 vs 50 would read "steady").
        course(&mut r, 102, 0.0, None);
        assessment(&mut r, 320, 102, 100.0, 50.0, None);
        assessment(&mut r, 321, 102, 100.0, 50.0, None);
        enrol(&mut r, 3, ME, 102, 59.0);
        attempt(&mut r, ME, 320, 1, 50.0, 61.0);
        attempt(&mut r, ME, 321, 1, 50.0, 66.0);
        r.enrolments.retain(|e| e.course_id == id(102));
        let v = velocity(&ds(r), id(ME), &w7(70.0)).expect("velocity");
        assert_eq!(v.current_pace, 50.0);
        assert_eq!(v.comparable_enrolments, 1);
        assert_eq!(v.trend_percentage, Some(-42.86));
        assert_eq!(v.trend, "decelerating");
    }

    #[test]
    fn a_course_past_its_end_with_steps_left_is_overdue() {
        // Course 100 ends day 84; now = day 84 + 37 minutes; 3 of 4 steps
        // done in W (days 80–82): pace 100 × 3 / 4 / 1 = 75, remaining 25,
        // weeksLeft = max(1, −37 min) = 1 → targetPace 25, r = 3 (the old
        // rule said on-track). The course has ended with a step left:
        // overdue, for the course and for the learner.
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, Some(84));
        for a in 300..304 {
            assessment(&mut r, a, 100, 100.0, 25.0, None);
        }
        enrol(&mut r, 1, ME, 100, 0.0);
        for (a, at) in [(300, 80.0), (301, 81.0), (302, 82.0)] {
            attempt(&mut r, ME, a, 1, 50.0, at);
        }
        let now = 84.0 + 37.0 / 1440.0;
        let v = velocity(&ds(r.clone()), id(ME), &w7(now)).expect("velocity");
        assert_eq!(v.current_pace, 75.0);
        assert_eq!(v.target_pace, Some(25.0));
        assert_eq!(v.status, "overdue");
        assert_eq!(v.courses[0].status, "overdue");
        // All steps done: not overdue, target 0 → on-track.
        attempt(&mut r, ME, 303, 1, 50.0, 83.0);
        let v = velocity(&ds(r), id(ME), &w7(now)).expect("velocity");
        assert_eq!(v.status, "on-track");
        assert_eq!(v.courses[0].status, "on-track");
    }

    #[test]
    fn velocity_needs_an_active_enrolment_with_steps() {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        let w = w7(70.0);
        assert_eq!(
            reason(velocity(&ds(r.clone()), id(ME), &w).expect_err("422")),
            "NO_STEPS"
        );
        r.enrolments[e].status = EnrolmentStatus::Withdrawn;
        r.enrolments[e].withdrawn_at = Some(day(10.0));
        assert_eq!(
            reason(velocity(&ds(r), id(ME), &w).expect_err("422")),
            "NO_ACTIVE_ENROLMENT"
        );
    }
}
