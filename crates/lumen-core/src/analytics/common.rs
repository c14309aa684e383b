//! The conventions of docs/analytics.md §2, in one place: rounding, scores,
//! enrolment states, activity, steps, composites and percentiles.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Offset, SubsecRound, Utc};
use uuid::Uuid;

use super::{AnalyticError, Dataset, Window};
use crate::Role;
use crate::model::{Assessment, AssessmentAttempt, Enrolment, EnrolmentStatus, Outcome, User};

/// OULAD's pass mark, used when an assessment has no `pass_score`.
pub const DEFAULT_PASS_PERCENT: f64 = 40.0;

/// Timestamps are reported in whole seconds (truncated).
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

/// `t` + `weeks` weeks in millisecond steps, truncated to whole seconds;
/// any sign; `None` when not finite or beyond chrono's range (velocity's
/// estimated completion).
pub fn add_weeks(t: DateTime<Utc>, weeks: f64) -> Option<DateTime<Utc>> {
    let millis = weeks * 7.0 * 86_400_000.0;
    if !millis.is_finite() {
        return None;
    }
    let d = Duration::try_milliseconds(millis as i64)?;
    t.checked_add_signed(d).map(whole_seconds)
}

/// `t` + `weeks` weeks in whole-second steps, truncated to whole seconds;
/// `None` when negative, not finite or beyond 10¹¹ s (forecast's projected
/// dates). It differs from [`add_weeks`] in what callers can see: past
/// about 3,170 years it answers `None` where [`add_weeks`] still gives a
/// date, and float rounding of seconds against milliseconds can move a
/// date by one second; each analytic keeps the rule it always had.
pub fn add_weeks_ahead(t: DateTime<Utc>, weeks: f64) -> Option<DateTime<Utc>> {
    let secs = weeks * 604_800.0;
    if !(0.0..=1.0e11).contains(&secs) {
        return None;
    }
    Duration::try_seconds(secs as i64)
        .and_then(|d| t.checked_add_signed(d))
        .map(whole_seconds)
}

/// The UTC offset (seconds east) of the learner's zone `users.time_zone`
/// at instant `t`: fixed offsets (UTC aliases, `Etc/GMT±N`, `±HH:MM`) by
/// [`fixed_offset`], every other IANA name through chrono-tz (the same
/// database gamification uses), with its daylight-saving rules at `t`.
/// `None` for a name neither knows: the caller then evaluates the zone as
/// UTC and says so (content-effectiveness notes `TIME_ZONE_AS_UTC`). This
/// is the analytics' one time-zone rule.
pub fn utc_offset_at(zone: &str, t: DateTime<Utc>) -> Option<i64> {
    if let Some(offset) = fixed_offset(zone) {
        return Some(offset);
    }
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    Some(i64::from(
        t.with_timezone(&tz).offset().fix().local_minus_utc(),
    ))
}

/// Fixed UTC offset (seconds east) of the zone names that need no time-zone
/// database: UTC aliases, `Etc/GMT±N` and `±HH:MM`; `None` otherwise (see
/// [`utc_offset_at`] for IANA names).
pub fn fixed_offset(zone: &str) -> Option<i64> {
    const UTC: [&str; 12] = [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "UCT",
        "Etc/UCT",
        "Universal",
        "Etc/Universal",
        "Zulu",
        "Etc/Zulu",
        "Z",
        "Etc/Greenwich",
    ];
    if UTC.contains(&zone) {
        return Some(0);
    }
    if let Some(rest) = zone.strip_prefix("Etc/GMT") {
        // POSIX sign: Etc/GMT+5 is five hours *behind* UTC.
        let (sign, digits) = match rest.split_at_checked(1)? {
            ("+", d) => (-1, d),
            ("-", d) => (1, d),
            _ => return None,
        };
        let h: i64 = digits.parse().ok()?;
        return (h <= 14).then_some(sign * h * 3600);
    }
    let (sign, rest) = match zone.split_at_checked(1)? {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

// ---- subjects (§1.2, §2.3) ----

/// L(org): the organisation's learners, ordered by id ([`Dataset::new`]
/// sorts every table). The dataset holds one organisation; the filter keeps
/// isolation explicit.
pub fn org_learners(ds: &Dataset, org: Uuid) -> Vec<&User> {
    ds.learners().filter(|u| u.organization_id == org).collect()
}

/// How strictly a learner analytic checks its subject. The families
/// differ, and the difference shows in their 404s, so each names its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerRule {
    /// The user must hold the learner role and belong to the dataset's
    /// organisation.
    pub learner_of_organization: bool,
    /// Only an enrolment or activity event up to `now` counts; else any.
    pub up_to_now: bool,
    /// A known user without records gets "has no learning records"; else
    /// "not found" like an unknown one.
    pub say_no_records: bool,
}

impl LearnerRule {
    /// Learner analytics (§5 preamble).
    pub const LEARNER: LearnerRule = LearnerRule {
        learner_of_organization: false,
        up_to_now: true,
        say_no_records: false,
    };
    /// Peer comparison (§8.1).
    pub const COMPARISON: LearnerRule = LearnerRule {
        learner_of_organization: true,
        up_to_now: true,
        say_no_records: true,
    };
    /// Forecast and recommendations (§9).
    pub const PREDICTIVE: LearnerRule = LearnerRule {
        learner_of_organization: false,
        up_to_now: false,
        say_no_records: true,
    };
}

/// The subject of a learner analytic, or 404 under `rule`: unknown, or
/// without any enrolment or activity event.
pub fn learner_subject<'a>(
    ds: &'a Dataset,
    learner: Uuid,
    w: &Window,
    rule: LearnerRule,
) -> Result<&'a User, AnalyticError> {
    let not_found = || AnalyticError::NotFound(format!("learner {learner} not found"));
    let user = ds.user(learner).ok_or_else(not_found)?;
    if rule.learner_of_organization
        && (!user.roles.contains(&Role::Learner)
            || ds
                .records
                .organization
                .as_ref()
                .is_some_and(|o| o.id != user.organization_id))
    {
        return Err(not_found());
    }
    let counts = |t: DateTime<Utc>| !rule.up_to_now || t <= w.now;
    let has_records = ds.enrolments_of(learner).any(|e| counts(e.enrolled_at))
        || events(ds, learner).iter().any(|e| counts(e.at));
    match (has_records, rule.say_no_records) {
        (true, _) => Ok(user),
        (false, true) => Err(AnalyticError::NotFound(format!(
            "learner {learner} has no learning records"
        ))),
        (false, false) => Err(not_found()),
    }
}

/// Round half away from zero to `decimals` (§2.2).
pub fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// 0–100 values: 2 decimals.
pub fn r2(x: f64) -> f64 {
    round(x, 2)
}

/// 0–1 values: 4 decimals.
pub fn r4(x: f64) -> f64 {
    round(x, 4)
}

pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `high` ≥ 70, `medium` ≥ 40, `low` < 40 (§2.7).
pub fn level_label(score: f64) -> &'static str {
    if score >= 70.0 {
        "high"
    } else if score >= 40.0 {
        "medium"
    } else {
        "low"
    }
}

// ---- scores (§2.5) ----

/// 100 × min(score, max) / max. Capped at 100: for some `max`, 100 × max /
/// max rounds to 100.00000000000001.
pub fn score_percent(attempt: &AssessmentAttempt, assessment: &Assessment) -> f64 {
    (100.0 * attempt.score.min(assessment.max_score) / assessment.max_score).min(100.0)
}

/// The learner's best attempt on an assessment among those whose
/// `submitted_at` satisfies `when` (highest percent; later attempt number wins ties).
pub fn best_attempt<'a>(
    ds: &'a Dataset,
    user: Uuid,
    assessment: &Assessment,
    when: impl Fn(DateTime<Utc>) -> bool,
) -> Option<&'a AssessmentAttempt> {
    ds.attempts_of(user)
        .filter(|a| a.assessment_id == assessment.id && when(a.submitted_at))
        .max_by(|a, b| {
            score_percent(a, assessment)
                .total_cmp(&score_percent(b, assessment))
                .then(a.attempt_number.cmp(&b.attempt_number))
        })
}

/// Score ≥ pass_score, or ≥ 40 % without one.
pub fn passed(attempt: &AssessmentAttempt, assessment: &Assessment) -> bool {
    match assessment.pass_score {
        Some(pass) => attempt.score >= pass,
        None => score_percent(attempt, assessment) >= DEFAULT_PASS_PERCENT,
    }
}

/// The learner's first attempt came after the due date.
pub fn late(ds: &Dataset, user: Uuid, assessment: &Assessment) -> bool {
    let Some(due) = assessment.due_at else {
        return false;
    };
    ds.attempts_of(user)
        .filter(|a| a.assessment_id == assessment.id)
        .min_by_key(|a| (a.attempt_number, a.submitted_at))
        .is_some_and(|first| first.submitted_at > due)
}

// ---- enrolments (§2.4) ----

/// When the enrolment ended, if it did.
pub fn end(e: &Enrolment) -> Option<DateTime<Utc>> {
    match e.status {
        EnrolmentStatus::Active => None,
        EnrolmentStatus::Completed => Some(e.completed_at.unwrap_or(e.updated_at)),
        EnrolmentStatus::Withdrawn => Some(e.withdrawn_at.unwrap_or(e.updated_at)),
    }
}

pub fn active_at(e: &Enrolment, t: DateTime<Utc>) -> bool {
    e.enrolled_at <= t && end(e).is_none_or(|end| end > t)
}

/// Active at some instant of W.
pub fn active_in(e: &Enrolment, w: &Window) -> bool {
    e.enrolled_at <= w.now && end(e).is_none_or(|end| end > w.start())
}

pub fn finished_in(e: &Enrolment, w: &Window) -> bool {
    end(e).is_some_and(|t| w.contains(t))
}

/// Completed with pass, distinction or no grading.
pub fn successful(e: &Enrolment) -> bool {
    e.status == EnrolmentStatus::Completed && e.outcome != Some(Outcome::Fail)
}

/// 100 × successful / finished; `None` when nothing finished.
pub fn completion_rate<'a>(finished: impl IntoIterator<Item = &'a Enrolment>) -> Option<f64> {
    let (ok, n) = finished.into_iter().fold((0usize, 0usize), |(ok, n), e| {
        (ok + usize::from(successful(e)), n + 1)
    });
    (n > 0).then(|| 100.0 * ok as f64 / n as f64)
}

// ---- activity (§2.6) ----

/// One activity event of a learner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The course it is tied to, when known.
    pub course: Option<Uuid>,
    /// Its activity count: clicks for content, 1 otherwise.
    pub count: i64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Content,
    Attempt,
    Lab,
    Question,
}

/// Every activity event of a learner, in no particular order.
pub fn events(ds: &Dataset, user: Uuid) -> Vec<Event> {
    let mut out = Vec::new();
    for i in ds.interactions_of(user) {
        out.push(Event {
            at: i.occurred_at,
            course: ds.content_item(i.content_item_id).map(|c| c.course_id),
            count: i64::from(i.clicks),
            kind: EventKind::Content,
        });
    }
    for a in ds.attempts_of(user) {
        out.push(Event {
            at: a.submitted_at,
            course: ds.assessment(a.assessment_id).map(|x| x.course_id),
            count: 1,
            kind: EventKind::Attempt,
        });
    }
    for l in ds.lab_sessions_of(user) {
        out.push(Event {
            at: l.started_at,
            course: l.course_id,
            count: 1,
            kind: EventKind::Lab,
        });
    }
    for q in ds.questions_of(user) {
        out.push(Event {
            at: q.asked_at,
            course: q.course_id,
            count: 1,
            kind: EventKind::Question,
        });
    }
    out
}

/// Σ activity counts of the events in W.
pub fn activity_count(events: &[Event], w: &Window) -> i64 {
    events
        .iter()
        .filter(|e| w.contains(e.at))
        .map(|e| e.count)
        .sum()
}

/// Active in W: at least one event in W.
pub fn is_active(events: &[Event], w: &Window) -> bool {
    events.iter().any(|e| w.contains(e.at))
}

/// Distinct day slots of W with an event.
pub fn active_days(events: &[Event], w: &Window) -> usize {
    let mut slots: Vec<i64> = events.iter().filter_map(|e| w.day_slot(e.at)).collect();
    slots.sort_unstable();
    slots.dedup();
    slots.len()
}

/// Σ time spent in W over content interactions that measured it; `None`
/// when none did (the time-spent terms are then omitted, §2.6).
pub fn time_spent(ds: &Dataset, user: Uuid, w: &Window) -> Option<i64> {
    let measured: Vec<i64> = ds
        .interactions_of(user)
        .filter(|i| w.contains(i.occurred_at))
        .filter_map(|i| i.time_spent_seconds.map(i64::from))
        .collect();
    (!measured.is_empty()).then(|| measured.iter().sum())
}

// ---- steps (§2.6) ----

/// A course's steps: its assessments, plus its content items if the course
/// records completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Steps {
    pub assessments: Vec<Uuid>,
    pub content_items: Vec<Uuid>,
}

impl Steps {
    pub fn of(ds: &Dataset, course: Uuid) -> Steps {
        let assessments = ds.assessments_of_course(course).map(|a| a.id).collect();
        let content_items = if ds.course_records_completion(course) {
            ds.content_of_course(course).map(|c| c.id).collect()
        } else {
            Vec::new()
        };
        Steps {
            assessments,
            content_items,
        }
    }

    pub fn len(&self) -> usize {
        self.assessments.len() + self.content_items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the learner did each step they have done: first submission or
    /// first completion.
    pub fn done_at(&self, ds: &Dataset, user: Uuid) -> Vec<DateTime<Utc>> {
        // The user's first submission per assessment and first completion
        // per content item, in one pass over their records each.
        let mut first: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let mut out = Vec::new();
        if !self.assessments.is_empty() {
            for x in ds.attempts_of(user) {
                let t = first.entry(x.assessment_id).or_insert(x.submitted_at);
                *t = (*t).min(x.submitted_at);
            }
            out.extend(
                self.assessments
                    .iter()
                    .filter_map(|a| first.get(a).copied()),
            );
        }
        if !self.content_items.is_empty() {
            first.clear();
            for i in ds.interactions_of(user).filter(|i| i.completed) {
                let t = first.entry(i.content_item_id).or_insert(i.occurred_at);
                *t = (*t).min(i.occurred_at);
            }
            out.extend(
                self.content_items
                    .iter()
                    .filter_map(|c| first.get(c).copied()),
            );
        }
        out
    }

    /// Steps done by `t` / |S|.
    pub fn done_share(&self, ds: &Dataset, user: Uuid, t: DateTime<Utc>) -> Option<f64> {
        (!self.is_empty()).then(|| {
            self.done_at(ds, user).iter().filter(|d| **d <= t).count() as f64 / self.len() as f64
        })
    }
}

// ---- pace (§5.1), shared by velocity and learning-velocity ----

/// Velocity status thresholds on r = pace / targetPace (§5.1).
pub const ON_TRACK_RATIO: f64 = 1.0;
pub const BEHIND_RATIO: f64 = 0.6;
/// Velocity trend threshold, percent (§5.1).
pub const VELOCITY_TREND_PERCENT: f64 = 10.0;

/// One enrolment's pace figures (§5.1), unrounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnrolmentPace {
    pub steps_total: usize,
    /// Steps done by now (all time).
    pub steps_done: usize,
    /// pace(e): points of the course per week, steps first done in W.
    pub pace: f64,
    /// (pace in W, pace in W′) when the enrolment is *comparable*: it was
    /// open (begun: max(enrolled_at, start(c, e))) for at least half of W′.
    /// The W′ pace is per week it was open in W′. `None` otherwise: its
    /// previous pace would be (near) 0 by construction.
    pub comparable: Option<(f64, f64)>,
    /// 100 × (1 − doneShare(e, now)).
    pub remaining: f64,
    pub course_end: Option<DateTime<Utc>>,
    /// targetPace(e); `None` without a course end.
    pub target: Option<f64>,
    /// The course has ended (courseEnd ≤ now) with steps left.
    pub overdue: bool,
}

/// §5.1 for one enrolment; `None` when its course has no step.
pub fn enrolment_pace(
    ds: &Dataset,
    e: &Enrolment,
    steps: &Steps,
    w: &Window,
) -> Option<EnrolmentPace> {
    if steps.is_empty() {
        return None;
    }
    let total = steps.len() as f64;
    let prev = w.previous();
    let done: Vec<DateTime<Utc>> = steps
        .done_at(ds, e.user_id)
        .into_iter()
        .filter(|t| *t <= w.now)
        .collect();
    let in_w = done.iter().filter(|t| w.contains(**t)).count() as f64;
    let in_prev = done.iter().filter(|t| prev.contains(**t)).count() as f64;
    let pace = 100.0 * in_w / total / w.weeks();
    let course = ds.course(e.course_id);
    let start = course.and_then(|c| c.starts_at).unwrap_or(e.enrolled_at);
    // Part of W′ the enrolment was open for, in weeks.
    let begun = e.enrolled_at.max(start);
    let open_prev =
        (prev.now - begun.max(prev.start())).num_milliseconds() as f64 / (7.0 * 86_400_000.0);
    let comparable =
        (open_prev >= w.weeks() / 2.0).then(|| (pace, 100.0 * in_prev / total / open_prev));
    let left = done.len() < steps.len();
    let remaining = 100.0 * (1.0 - done.len() as f64 / total);
    let course_end = course
        .and_then(|c| c.length_days)
        .map(|d| start + Duration::days(i64::from(d)));
    let target = course_end.map(|ce| {
        let weeks_left = ((ce - w.now).num_milliseconds() as f64 / (7.0 * 86_400_000.0)).max(1.0);
        if left { remaining / weeks_left } else { 0.0 }
    });
    Some(EnrolmentPace {
        steps_total: steps.len(),
        steps_done: done.len(),
        pace,
        comparable,
        remaining,
        course_end,
        target,
        overdue: left && course_end.is_some_and(|ce| ce <= w.now),
    })
}

/// Velocity status (§5.1): `no-deadline` without a target, `overdue` when
/// a course has ended with steps left, else by r = pace / target.
pub fn pace_status(target: Option<f64>, pace: f64, overdue: bool) -> &'static str {
    let Some(target) = target else {
        return "no-deadline";
    };
    if overdue {
        return "overdue";
    }
    if target == 0.0 {
        return "on-track";
    }
    let r = pace / target;
    if r >= ON_TRACK_RATIO {
        "on-track"
    } else if r >= BEHIND_RATIO {
        "behind"
    } else {
        "at-risk"
    }
}

/// The pace trend (§5.1) over comparable (current, previous) paces:
/// (`trend`, `trendPercentage`). `not-comparable` when there are none.
pub fn pace_trend(comparable: &[(f64, f64)]) -> (&'static str, Option<f64>) {
    let (Some(current), Some(previous)) = (
        mean(comparable.iter().map(|p| p.0)),
        mean(comparable.iter().map(|p| p.1)),
    ) else {
        return ("not-comparable", None);
    };
    let percent = (previous > 0.0).then(|| 100.0 * (current - previous) / previous);
    let trend = match percent {
        Some(p) if p > VELOCITY_TREND_PERCENT => "accelerating",
        Some(p) if p < -VELOCITY_TREND_PERCENT => "decelerating",
        Some(_) => "steady",
        None if current > 0.0 => "accelerating",
        None => "steady",
    };
    (trend, percent)
}

// ---- composites and percentiles (§2.7, §2.8) ----

/// Weighted mean over present components. Returns the score and the
/// effective weights (absent components get `None`); `None` if none present.
pub fn composite(components: &[(f64, Option<f64>)]) -> Option<(f64, Vec<Option<f64>>)> {
    let total: f64 = components
        .iter()
        .filter(|(_, x)| x.is_some())
        .map(|(w, _)| w)
        .sum();
    if total <= 0.0 {
        return None;
    }
    let score = components
        .iter()
        .filter_map(|(w, x)| x.map(|x| w * x))
        .sum::<f64>()
        / total;
    let weights = components
        .iter()
        .map(|(w, x)| x.map(|_| w / total))
        .collect();
    Some((score, weights))
}

/// 100 × (B + 0.5·E) / n, `cohort` including the subject's own value.
pub fn percentile(value: f64, cohort: &[f64]) -> f64 {
    let below = cohort.iter().filter(|v| **v < value).count() as f64;
    let equal = cohort.iter().filter(|v| **v == value).count() as f64;
    100.0 * (below + 0.5 * equal) / cohort.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(r2(68.305), 68.31);
        assert_eq!(r2(-1.005), -1.0); // binary: -1.00499…
        assert_eq!(r4(0.123_45), 0.1235);
        assert_eq!(round(2.5, 0), 3.0);
        assert_eq!(round(-2.5, 0), -3.0);
    }

    #[test]
    fn percentile_counts_half_the_ties_including_the_subject() {
        // The single best of 5 gets 90, the single worst 10 (§2.8).
        let cohort = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(5.0, &cohort), 90.0);
        assert_eq!(percentile(1.0, &cohort), 10.0);
        assert_eq!(percentile(3.0, &[3.0, 3.0, 1.0, 5.0]), 50.0);
    }

    #[test]
    fn composites_reweight_over_present_components() {
        let (score, weights) =
            composite(&[(0.4, Some(50.0)), (0.2, None), (0.4, Some(100.0))]).expect("present");
        assert_eq!(score, 75.0);
        assert_eq!(weights, vec![Some(0.5), None, Some(0.5)]);
        assert_eq!(composite(&[(1.0, None)]), None);
    }

    #[test]
    fn iana_zones_resolve_with_their_daylight_saving_rules() {
        use chrono::TimeZone;
        let summer = Utc
            .with_ymd_and_hms(2025, 7, 1, 12, 0, 0)
            .single()
            .expect("date");
        let winter = Utc
            .with_ymd_and_hms(2025, 1, 15, 12, 0, 0)
            .single()
            .expect("date");
        assert_eq!(utc_offset_at("Europe/Paris", summer), Some(2 * 3600));
        assert_eq!(utc_offset_at("Europe/Paris", winter), Some(3600));
        assert_eq!(utc_offset_at("Asia/Singapore", winter), Some(8 * 3600));
        assert_eq!(utc_offset_at("America/New_York", summer), Some(-4 * 3600));
        assert_eq!(utc_offset_at("+05:30", summer), Some(5 * 3600 + 30 * 60));
        assert_eq!(utc_offset_at("Mars/Olympus", summer), None);
    }

    #[test]
    fn fixed_offsets_need_no_time_zone_database() {
        assert_eq!(fixed_offset("UTC"), Some(0));
        assert_eq!(fixed_offset("Etc/GMT+5"), Some(-5 * 3600));
        assert_eq!(fixed_offset("Etc/GMT-8"), Some(8 * 3600));
        assert_eq!(fixed_offset("+05:30"), Some(5 * 3600 + 30 * 60));
        assert_eq!(fixed_offset("-0100"), Some(-3600));
        assert_eq!(fixed_offset("Europe/Paris"), None);
        assert_eq!(fixed_offset("nonsense"), None);
    }

    #[test]
    fn the_two_week_rules_differ_only_where_stated() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).expect("date");
        assert_eq!(add_weeks(t, 2.0), add_weeks_ahead(t, 2.0));
        assert_eq!(add_weeks(t, -1.0), Some(t - Duration::weeks(1)));
        assert_eq!(add_weeks_ahead(t, -1.0), None);
        assert!(add_weeks(t, 200_000.0).is_some());
        assert_eq!(add_weeks_ahead(t, 200_000.0), None);
        assert_eq!(add_weeks(t, f64::NAN), None);
    }

    #[test]
    fn medians_of_even_sets_average_the_middle_two() {
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([]), None);
        assert_eq!(mean([1.0, 2.0]), Some(1.5));
        assert_eq!(level_label(70.0), "high");
        assert_eq!(level_label(39.99), "low");
    }
}
