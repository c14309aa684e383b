//! The drop-off features of an enrolment at time t (docs/analytics.md §9.1):
//! each reads only records with timestamps ≤ t.

use super::*;

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
pub(super) struct CourseContext<'a> {
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
    pub(super) fn new(ds: &'a Dataset, course_id: Uuid, extra_user: Option<Uuid>) -> Self {
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

    pub(super) fn start(&self, e: &Enrolment) -> DateTime<Utc> {
        self.course
            .and_then(|c| c.starts_at)
            .unwrap_or(e.enrolled_at)
    }

    pub(super) fn features(&mut self, e: &Enrolment, t: DateTime<Utc>) -> Features {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::dropoff::tests::*;

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
}
