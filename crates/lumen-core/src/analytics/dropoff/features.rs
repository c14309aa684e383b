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
    /// Activity count tied to the course up to t (all of it, from before the start on).
    pub activity_total: i64,
    /// Feature 9: ln(1 + `activity_total`).
    pub activity_total_log: f64,
    /// Feature 10: distinct days with activity / days since max(start, `enrolled_at`) (≥ 7), ≤ 1.
    pub active_days_share: f64,
    pub activity7: i64,
    pub median7: f64,
    /// Feature 11: As 2 with 7 days.
    pub activity7_rel: f64,
    /// Feature 12: clamp(ln((1 + a14) / (1 + 14·r)), −5, 5), r = the learner's own daily
    /// rate before t − 14 d (since the course start, at least 14 days): recent pace vs own pace.
    pub pace_trend: f64,
    /// Feature 13: share of the course's enrolments active at t with less activity
    /// (ties count ½), 0–1.
    pub activity_percentile: f64,
    /// Feature 14: as 13 for steps done (assessments submitted, content completed).
    pub progress_percentile: f64,
    /// Feature 15: mean over the assessments due so far of the best score percent (0 when not
    /// submitted), on 0–100; `None` = nothing due yet (default: the training mean).
    pub due_score_pct: Option<f64>,
    /// Feature 16: latest best score minus the mean of the earlier ones, percent points;
    /// `None` = fewer than two scored assessments (default 0).
    pub score_trend: Option<f64>,
    /// Feature 17: clamp(days from `enrolled_at` to the course start, −60, 365).
    pub registration_lead_days: f64,
    /// Feature 18: share of the course's enrolments active at t (among those with
    /// something due) with a lower `due_score_pct`, ties ½; `None` = nothing due
    /// (default ½).
    pub due_score_percentile: Option<f64>,
    /// Feature 19: as 18 for `mean_score_pct`; `None` = no score yet (default ½).
    pub mean_score_percentile: Option<f64>,
}

impl Features {
    /// How many features took their default.
    pub fn defaulted(&self) -> usize {
        usize::from(self.submitted_share.is_none())
            + usize::from(self.mean_score_pct.is_none())
            + usize::from(self.late_share.is_none())
            + usize::from(self.progress_gap.is_none())
            + usize::from(self.due_score_pct.is_none())
            + usize::from(self.score_trend.is_none())
            + usize::from(self.due_score_percentile.is_none())
            + usize::from(self.mean_score_percentile.is_none())
    }

    /// 1 − defaulted / (number of features).
    pub fn completeness(&self) -> f64 {
        1.0 - self.defaulted() as f64 / N_ALL_FEATURES as f64
    }

    /// The model's input vector ([`MODEL_FEATURES`] of [`Features::all`]).
    pub fn vector(&self, mean_score_default: f64) -> [f64; N_FEATURES] {
        let all = self.all(mean_score_default);
        let mut v = [0.0; N_FEATURES];
        for (x, &j) in v.iter_mut().zip(&MODEL_FEATURES) {
            *x = all[j];
        }
        v
    }

    /// Every feature of [`ALL_FEATURE_NAMES`], defaults applied
    /// (`mean_score_default` on the 0–1 scale: the training mean, also for
    /// `dueScorePct`).
    pub fn all(&self, mean_score_default: f64) -> [f64; N_ALL_FEATURES] {
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
            self.activity_total_log,
            self.active_days_share,
            self.activity7_rel,
            self.pace_trend,
            self.activity_percentile,
            self.progress_percentile,
            self.due_score_pct
                .map_or(mean_score_default, |pct| pct / 100.0),
            self.score_trend.map_or(0.0, |d| d / 100.0),
            self.registration_lead_days,
            self.due_score_percentile.unwrap_or(0.5),
            self.mean_score_percentile.unwrap_or(0.5),
        ]
    }
}

/// Share of `sorted` below `v`, ties counting ½ (0 when empty).
fn percentile(sorted: &[f64], v: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let below = sorted.partition_point(|x| *x < v);
    let upto = sorted.partition_point(|x| *x <= v);
    (below as f64 + 0.5 * (upto - below) as f64) / sorted.len() as f64
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
    /// The first event of each distinct (UTC) day with activity, ascending.
    day_starts: Vec<DateTime<Utc>>,
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

    /// Distinct days with activity up to t.
    fn active_days(&self, t: DateTime<Utc>) -> usize {
        self.day_starts.partition_point(|x| *x <= t)
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
    /// Sorted total activity, steps done, due-work scores and mean scores of
    /// the enrolments active at t, by t.
    cohorts: HashMap<DateTime<Utc>, [Vec<f64>; 4]>,
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
                let mut day_starts: Vec<DateTime<Utc>> = Vec::new();
                for (at, count) in events {
                    total += count;
                    times.push(at);
                    cumulative.push(total);
                    if day_starts
                        .last()
                        .is_none_or(|d| d.date_naive() != at.date_naive())
                    {
                        day_starts.push(at);
                    }
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
                    day_starts,
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
            cohorts: HashMap::new(),
        }
    }

    /// Steps done by t: assessments with an attempt, and (once the course
    /// records completion) content items completed.
    fn steps_done(&self, user: Uuid, t: DateTime<Utc>) -> usize {
        let Some(learner) = self.learner(user) else {
            return 0;
        };
        let assessments = self
            .assessments
            .iter()
            .filter(|a| !learner.attempts_by(a.id, t).is_empty())
            .count();
        let tracked = self.tracks_completion_from.is_some_and(|from| from <= t);
        let content = if tracked {
            learner.content_done.partition_point(|x| *x <= t)
        } else {
            0
        };
        assessments + content
    }

    /// (due-work score, mean best score) of an enrolment at t, percent:
    /// features 15 and 5.
    fn scores(&self, e: &Enrolment, t: DateTime<Utc>) -> (Option<f64>, Option<f64>) {
        let empty = LearnerInCourse::default();
        let learner = self.learners.get(&e.user_id).unwrap_or(&empty);
        let mut due_scores = Vec::new();
        let mut best_scores = Vec::new();
        for a in &self.assessments {
            let best = learner
                .attempts_by(a.id, t)
                .iter()
                .map(|x| score_percent(x, a))
                .max_by(f64::total_cmp);
            if a.due_at.is_some_and(|due| e.enrolled_at <= due && due <= t) {
                due_scores.push(best.unwrap_or(0.0));
            }
            best_scores.extend(best);
        }
        (common::mean(due_scores), common::mean(best_scores))
    }

    /// Percentiles of e's total activity, steps done, due-work score and
    /// mean score among the enrolments active at t (`e` included; for the
    /// scores, among those that have one).
    fn cohort_percentiles(
        &mut self,
        e: &Enrolment,
        t: DateTime<Utc>,
    ) -> (f64, f64, Option<f64>, Option<f64>) {
        let (due, mean) = self.scores(e, t);
        let own = [
            Some(self.learner(e.user_id).map_or(0, |l| l.count_upto(t)) as f64),
            Some(self.steps_done(e.user_id, t) as f64),
            due,
            mean,
        ];
        let included = self.enrolments.iter().any(|x| x.id == e.id) && active_at(e, t);
        if !self.cohorts.contains_key(&t) {
            let mut columns: [Vec<f64>; 4] = Default::default();
            for x in self.enrolments.iter().filter(|x| active_at(x, t)) {
                let (due, mean) = self.scores(x, t);
                columns[0].push(self.learner(x.user_id).map_or(0, |l| l.count_upto(t)) as f64);
                columns[1].push(self.steps_done(x.user_id, t) as f64);
                columns[2].extend(due);
                columns[3].extend(mean);
            }
            for c in &mut columns {
                c.sort_by(f64::total_cmp);
            }
            self.cohorts.insert(t, columns);
        }
        let columns = &self.cohorts[&t];
        let at = |k: usize| -> Option<f64> {
            let v = own[k]?;
            if included {
                Some(percentile(&columns[k], v))
            } else {
                let mut all = columns[k].clone();
                let i = all.partition_point(|x| *x < v);
                all.insert(i, v);
                Some(percentile(&all, v))
            }
        };
        (at(0).unwrap_or(0.0), at(1).unwrap_or(0.0), at(2), at(3))
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
        let a7 = self.activity_of(e.user_id, t, 7);
        let m14 = self.median_activity(e, t, 14);
        let m28 = self.median_activity(e, t, 28);
        let m7 = self.median_activity(e, t, 7);
        let (activity_percentile, progress_percentile, due_score_percentile, mean_score_percentile) =
            self.cohort_percentiles(e, t);
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
        let mut due_scores = Vec::new();
        // (first submission, best percent) of each scored assessment.
        let mut scored: Vec<(DateTime<Utc>, f64)> = Vec::new();
        let (mut with_due, mut late) = (0usize, 0usize);
        for a in &self.assessments {
            let attempts = learner.attempts_by(a.id, t);
            let best = attempts
                .iter()
                .map(|x| score_percent(x, a))
                .max_by(f64::total_cmp);
            if let (Some(best), Some(first)) = (best, attempts.iter().map(|x| x.submitted_at).min())
            {
                scored.push((first, best));
            }
            if let Some(due_at) = a.due_at {
                if e.enrolled_at <= due_at && due_at <= t {
                    due += 1;
                    submitted_due += usize::from(!attempts.is_empty());
                    due_scores.push(best.unwrap_or(0.0));
                }
                if let Some(first) = attempts
                    .iter()
                    .min_by_key(|x| (x.attempt_number, x.submitted_at))
                {
                    with_due += 1;
                    late += usize::from(first.submitted_at > due_at);
                }
            }
            if let Some(best) = best {
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

        scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let score_trend = match scored.split_last() {
            Some((last, earlier)) if !earlier.is_empty() => {
                let before = earlier.iter().map(|s| s.1).sum::<f64>() / earlier.len() as f64;
                Some(last.1 - before)
            }
            _ => None,
        };

        // 9–12. Volume, regularity and the learner's own trajectory.
        let total = learner.count_upto(t);
        let begin = start.max(e.enrolled_at);
        let active_days_share =
            (learner.active_days(t) as f64 / days_between(t, begin).max(7.0)).min(1.0);
        let earlier_end = t - Duration::days(14);
        let earlier_rate =
            learner.count_upto(earlier_end) as f64 / days_between(earlier_end, start).max(14.0);
        let pace_trend = ((1.0 + a14 as f64) / (1.0 + 14.0 * earlier_rate))
            .ln()
            .clamp(-5.0, 5.0);

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
            activity_total: total,
            activity_total_log: (1.0 + total.max(0) as f64).ln(),
            active_days_share,
            activity7: a7,
            median7: m7,
            activity7_rel: rel(a7, m7),
            pace_trend,
            activity_percentile,
            progress_percentile,
            due_score_pct: common::mean(due_scores),
            score_trend,
            registration_lead_days: days_between(start, e.enrolled_at).clamp(-60.0, 365.0),
            due_score_percentile,
            mean_score_percentile,
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
        // Features 9–19 (worked by hand): events 17.0 (attempt), 35.0 (attempt), 58.5 (5 clicks).
        assert_eq!(a.activity_total, 7);
        assert!((a.activity_total_log - 8f64.ln()).abs() < 1e-12);
        assert!((a.active_days_share - 3.0 / 60.0).abs() < 1e-12);
        assert_eq!((a.activity7, a.median7, a.activity7_rel), (0, 0.0, 0.0));
        // Own earlier pace: 7 activities in the 46 days before t − 14 d.
        let pace = -(1.0f64 + 14.0 * 7.0 / 46.0).ln();
        assert!((a.pace_trend - pace).abs() < 1e-12, "{}", a.pace_trend);
        // Cohort at t: totals [7, 35, 35], steps [2, 0, 0], due scores [24, 0, 0], scores [48].
        assert!((a.activity_percentile - 0.5 / 3.0).abs() < 1e-12);
        assert!((a.progress_percentile - 2.5 / 3.0).abs() < 1e-12);
        assert_eq!(a.due_score_pct, Some(24.0));
        assert!((a.due_score_percentile.expect("due") - 2.5 / 3.0).abs() < 1e-12);
        assert_eq!(a.mean_score_percentile, Some(0.5));
        assert_eq!(a.score_trend, Some(-4.0));
        assert_eq!(a.registration_lead_days, 0.0);

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
        assert_eq!(f.due_score_pct, None);
        assert_eq!(f.score_trend, None);
        assert_eq!(f.due_score_percentile, None);
        assert_eq!(f.mean_score_percentile, None);
        assert_eq!(f.defaulted(), 8);
        assert_eq!(f.completeness(), 1.0 - 8.0 / 19.0);
        assert_eq!(f.all(0.7)[3..7], [1.0, 0.7, 0.0, 0.0]);
        assert_eq!(f.vector(0.7)[7..], [0.5, 0.5]);
        // No event yet: days since max(start, enrolled_at).
        assert_eq!(f.days_since_last_activity, 1.5);
        let out = drop_off_risk(&ds, id(LEARNER), &window(), None).expect("risk");
        assert_eq!(
            (out.risk_score, out.confidence),
            (0.0, r4(0.5 * (1.0 - 8.0 / 19.0)))
        );
    }
}
