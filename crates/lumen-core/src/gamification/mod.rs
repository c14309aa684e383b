//! Gamification (docs/gamification.md): points, levels, badges, streaks and
//! leaderboards, derived from the learning records alone.
//!
//! Nothing here is stored or incremented: every figure is recomputed from a
//! [`Dataset`], so collecting the same records again, or a learner retrying
//! an assessment, can never award twice. Each award has a key (the content
//! item, course, assessment or lab exercise it is for, or the local day of a
//! streak day) and one award exists per key. Days are the learner's own days,
//! in their IANA time zone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::analytics::Dataset;
use crate::analytics::common::{passed, r4};
use crate::model::{EnrolmentStatus, Outcome, User};

#[cfg(test)]
mod tests;

/// A learning action that earns points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// First completion of a content item.
    ContentCompleted,
    /// Every content item of a course unit completed.
    UnitCompleted,
    /// A course completed with a pass or a distinction.
    CourseCompleted,
    /// Bonus: the course was completed with a distinction.
    Distinction,
    /// First passing attempt at an assessment.
    AssessmentPassed,
    /// Bonus: the very first attempt at the assessment passed.
    FirstTryPass,
    /// First solved session of a lab exercise.
    LabSolved,
    /// A local day with learning activity.
    StreakDay,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::ContentCompleted,
        Action::UnitCompleted,
        Action::CourseCompleted,
        Action::Distinction,
        Action::AssessmentPassed,
        Action::FirstTryPass,
        Action::LabSolved,
        Action::StreakDay,
    ];

    /// Points per award.
    pub fn points(self) -> u32 {
        match self {
            Action::ContentCompleted => 5,
            Action::UnitCompleted => 20,
            Action::CourseCompleted => 100,
            Action::Distinction => 50,
            Action::AssessmentPassed => 25,
            Action::FirstTryPass => 15,
            Action::LabSolved => 20,
            Action::StreakDay => 5,
        }
    }

    /// Anti-gaming cap: awards of this kind that earn points per local day.
    /// Later awards of the day still count for badges, with 0 points.
    pub fn daily_cap(self) -> u32 {
        match self {
            Action::ContentCompleted => 20,
            Action::UnitCompleted => 5,
            Action::CourseCompleted | Action::Distinction => 2,
            Action::AssessmentPassed | Action::FirstTryPass => 10,
            Action::LabSolved => 5,
            Action::StreakDay => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ContentCompleted => "content-completed",
            Action::UnitCompleted => "unit-completed",
            Action::CourseCompleted => "course-completed",
            Action::Distinction => "distinction",
            Action::AssessmentPassed => "assessment-passed",
            Action::FirstTryPass => "first-try-pass",
            Action::LabSolved => "lab-solved",
            Action::StreakDay => "streak-day",
        }
    }
}

/// One award: an action, when it happened, what it is for, and its points
/// (0 when over the day's cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub action: Action,
    pub at: DateTime<Utc>,
    /// The learner's local date of `at`.
    pub day: NaiveDate,
    /// What the award is for; one award per (action, key).
    pub key: String,
    pub points: u32,
}

/// The learner's time zone; an unknown name counts as UTC.
pub fn time_zone(user: &User) -> Tz {
    user.time_zone.parse().unwrap_or(Tz::UTC)
}

/// The local date of `at` in `tz`.
pub fn local_day(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// Everything a learner earned, recomputed from the records up to `now`.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub user: Uuid,
    pub tz: Tz,
    /// In time order (then action, then key).
    pub awards: Vec<Award>,
    /// Local days with learning activity, with the first activity of each.
    pub active_days: BTreeMap<NaiveDate, DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl Ledger {
    pub fn total_points(&self) -> u32 {
        self.awards.iter().map(|a| a.points).sum()
    }

    /// Points of awards in (from, now].
    pub fn points_since(&self, from: DateTime<Utc>) -> u32 {
        self.awards
            .iter()
            .filter(|a| a.at > from)
            .map(|a| a.points)
            .sum()
    }

    fn count(&self, action: Action) -> usize {
        self.awards.iter().filter(|a| a.action == action).count()
    }

    /// When the `n`-th award of `action` happened (1-based).
    fn nth(&self, action: Action, n: usize) -> Option<DateTime<Utc>> {
        self.awards
            .iter()
            .filter(|a| a.action == action)
            .nth(n.checked_sub(1)?)
            .map(|a| a.at)
    }

    pub fn today(&self) -> NaiveDate {
        local_day(self.tz, self.now)
    }
}

/// Builds a learner's ledger: every award in time order, caps applied.
pub fn ledger(ds: &Dataset, user: Uuid, now: DateTime<Utc>) -> Ledger {
    let tz = ds.user(user).map_or(Tz::UTC, time_zone);
    let mut events: Vec<(DateTime<Utc>, Action, String)> = Vec::new();
    let seen = |t: &DateTime<Utc>| *t <= now;

    // Content items: first completion of each; units: all their items done.
    let mut first_done: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    let mut active: BTreeMap<NaiveDate, DateTime<Utc>> = BTreeMap::new();
    let mut activity = |t: DateTime<Utc>| {
        let first = active.entry(local_day(tz, t)).or_insert(t);
        *first = (*first).min(t);
    };
    for i in ds.interactions_of(user).filter(|i| seen(&i.occurred_at)) {
        activity(i.occurred_at);
        if i.completed {
            let t = first_done.entry(i.content_item_id).or_insert(i.occurred_at);
            *t = (*t).min(i.occurred_at);
        }
    }
    let mut units: BTreeMap<Uuid, Uuid> = BTreeMap::new(); // unit → course
    for (&item, &at) in &first_done {
        events.push((at, Action::ContentCompleted, item.to_string()));
        if let Some(c) = ds.content_item(item)
            && let Some(unit) = c.unit_id
        {
            units.insert(unit, c.course_id);
        }
    }
    for (unit, course) in units {
        let done: Option<Vec<DateTime<Utc>>> = ds
            .content_of_course(course)
            .filter(|c| c.unit_id == Some(unit))
            .map(|c| first_done.get(&c.id).copied())
            .collect();
        if let Some(last) = done.and_then(|d| d.into_iter().max()) {
            events.push((last, Action::UnitCompleted, unit.to_string()));
        }
    }

    // Courses: once per course, however many enrolments.
    let mut courses: BTreeMap<Uuid, (DateTime<Utc>, bool)> = BTreeMap::new();
    for e in ds.enrolments_of(user) {
        let (EnrolmentStatus::Completed, Some(outcome), Some(at)) =
            (e.status, e.outcome, e.completed_at)
        else {
            continue;
        };
        if outcome == Outcome::Fail || !seen(&at) {
            continue;
        }
        let distinction = outcome == Outcome::Distinction;
        let entry = courses.entry(e.course_id).or_insert((at, distinction));
        entry.0 = entry.0.min(at);
        entry.1 |= distinction;
    }
    for (course, (at, distinction)) in courses {
        events.push((at, Action::CourseCompleted, course.to_string()));
        if distinction {
            events.push((at, Action::Distinction, course.to_string()));
        }
    }

    // Assessments: the first passing attempt; first try when it is the first attempt.
    let mut by_assessment: BTreeMap<Uuid, Vec<_>> = BTreeMap::new();
    for a in ds.attempts_of(user).filter(|a| seen(&a.submitted_at)) {
        activity(a.submitted_at);
        by_assessment.entry(a.assessment_id).or_default().push(a);
    }
    for (id, mut attempts) in by_assessment {
        let Some(assessment) = ds.assessment(id) else {
            continue;
        };
        attempts.sort_by_key(|a| (a.attempt_number, a.submitted_at, a.id));
        let first = attempts[0];
        let Some(pass) = attempts
            .iter()
            .filter(|a| passed(a, assessment))
            .min_by_key(|a| (a.submitted_at, a.attempt_number, a.id))
        else {
            continue;
        };
        events.push((pass.submitted_at, Action::AssessmentPassed, id.to_string()));
        if passed(first, assessment) && first.attempt_number == 1 {
            events.push((first.submitted_at, Action::FirstTryPass, id.to_string()));
        }
    }

    // Labs: the first solved session of each exercise.
    let mut labs: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for l in ds.lab_sessions_of(user).filter(|l| seen(&l.started_at)) {
        activity(l.started_at);
        let at = l.ended_at.unwrap_or(l.started_at);
        if l.solved && seen(&at) {
            let t = labs.entry(l.exercise.as_str()).or_insert(at);
            *t = (*t).min(at);
        }
    }
    for (exercise, at) in labs {
        events.push((at, Action::LabSolved, exercise.to_owned()));
    }

    for (day, at) in &active {
        events.push((*at, Action::StreakDay, day.to_string()));
    }

    events.sort();
    let mut per_day: HashMap<(NaiveDate, Action), u32> = HashMap::new();
    let awards = events
        .into_iter()
        .map(|(at, action, key)| {
            let day = local_day(tz, at);
            let n = per_day.entry((day, action)).or_default();
            *n += 1;
            let points = if *n <= action.daily_cap() {
                action.points()
            } else {
                0
            };
            Award {
                action,
                at,
                day,
                key,
                points,
            }
        })
        .collect();
    Ledger {
        user,
        tz,
        awards,
        active_days: active,
        now,
    }
}

// ---- levels ----

/// Levels: (minimum points, name).
pub const LEVELS: [(u32, &str); 10] = [
    (0, "Newcomer"),
    (100, "Explorer"),
    (250, "Apprentice"),
    (500, "Practitioner"),
    (1_000, "Specialist"),
    (2_000, "Expert"),
    (3_500, "Master"),
    (5_500, "Sage"),
    (8_000, "Luminary"),
    (12_000, "Legend"),
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Level {
    /// 1–10.
    pub number: u32,
    pub name: &'static str,
    pub min_points: u32,
    /// Points where the next level starts; `None` at the top level.
    pub next_level_at: Option<u32>,
    /// Share of the way to the next level, 0–1 (1 at the top level).
    pub progress: f64,
}

pub fn level(points: u32) -> Level {
    let i = LEVELS
        .iter()
        .rposition(|&(min, _)| points >= min)
        .unwrap_or(0);
    let (min, name) = LEVELS[i];
    let next = LEVELS.get(i + 1).map(|&(m, _)| m);
    let progress = next.map_or(1.0, |n| r4(f64::from(points - min) / f64::from(n - min)));
    Level {
        number: i as u32 + 1,
        name,
        min_points: min,
        next_level_at: next,
        progress,
    }
}

// ---- streaks ----

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Streak {
    pub user_id: Uuid,
    pub time_zone: String,
    /// The learner's local date now.
    pub today: NaiveDate,
    /// Consecutive active days ending today, or yesterday when today has no
    /// activity yet (the streak is alive until a whole local day passes).
    pub current: u32,
    pub longest: u32,
    pub last_active_day: Option<NaiveDate>,
    /// The last [`CALENDAR_DAYS`] local days, oldest first.
    pub calendar: Vec<CalendarDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub active: bool,
    pub points: u32,
}

pub const CALENDAR_DAYS: i64 = 28;

/// Runs of consecutive active days: (first day, length).
fn runs(days: &BTreeMap<NaiveDate, DateTime<Utc>>) -> Vec<(NaiveDate, u32)> {
    let mut out: Vec<(NaiveDate, u32)> = Vec::new();
    let mut prev: Option<NaiveDate> = None;
    for &d in days.keys() {
        match (prev, out.last_mut()) {
            (Some(p), Some(run)) if p.succ_opt() == Some(d) => run.1 += 1,
            _ => out.push((d, 1)),
        }
        prev = Some(d);
    }
    out
}

pub fn streak(l: &Ledger) -> Streak {
    let today = l.today();
    let runs = runs(&l.active_days);
    let yesterday = today.pred_opt().unwrap_or(today);
    let current = runs
        .last()
        .filter(|(start, len)| {
            let end = *start + Duration::days(i64::from(*len) - 1);
            end == today || end == yesterday
        })
        .map_or(0, |r| r.1);
    let mut points: HashMap<NaiveDate, u32> = HashMap::new();
    for a in &l.awards {
        *points.entry(a.day).or_default() += a.points;
    }
    let calendar = (0..CALENDAR_DAYS)
        .rev()
        .map(|back| {
            let date = today - Duration::days(back);
            CalendarDay {
                date,
                active: l.active_days.contains_key(&date),
                points: points.get(&date).copied().unwrap_or(0),
            }
        })
        .collect();
    Streak {
        user_id: l.user,
        time_zone: l.tz.name().to_owned(),
        today,
        current,
        longest: runs.iter().map(|r| r.1).max().unwrap_or(0),
        last_active_day: l.active_days.keys().next_back().copied(),
        calendar,
    }
}

/// When a streak first reached `n` days: the first activity of its n-th day.
fn streak_reached(l: &Ledger, n: u32) -> Option<DateTime<Utc>> {
    let (start, _) = runs(&l.active_days)
        .into_iter()
        .find(|&(_, len)| len >= n)?;
    l.active_days
        .get(&(start + Duration::days(i64::from(n) - 1)))
        .copied()
}

// ---- badges ----

/// What a badge counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Awards of one action (capped ones included).
    Actions(Action),
    /// The longest streak, in days.
    Streak,
    /// Total points.
    Points,
}

pub struct BadgeDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub metric: Metric,
    pub target: u32,
}

/// The badge catalogue (docs/gamification.md §4).
pub const BADGES: [BadgeDef; 12] = [
    BadgeDef {
        id: "first-steps",
        name: "First steps",
        description: "Complete your first content item",
        metric: Metric::Actions(Action::ContentCompleted),
        target: 1,
    },
    BadgeDef {
        id: "bookworm",
        name: "Bookworm",
        description: "Complete 50 content items",
        metric: Metric::Actions(Action::ContentCompleted),
        target: 50,
    },
    BadgeDef {
        id: "unit-master",
        name: "Unit master",
        description: "Complete every item of 10 course units",
        metric: Metric::Actions(Action::UnitCompleted),
        target: 10,
    },
    BadgeDef {
        id: "finisher",
        name: "Finisher",
        description: "Pass your first course",
        metric: Metric::Actions(Action::CourseCompleted),
        target: 1,
    },
    BadgeDef {
        id: "graduate",
        name: "Graduate",
        description: "Pass 5 courses",
        metric: Metric::Actions(Action::CourseCompleted),
        target: 5,
    },
    BadgeDef {
        id: "distinguished",
        name: "Distinguished",
        description: "Complete a course with distinction",
        metric: Metric::Actions(Action::Distinction),
        target: 1,
    },
    BadgeDef {
        id: "quiz-whiz",
        name: "Quiz whiz",
        description: "Pass 10 assessments",
        metric: Metric::Actions(Action::AssessmentPassed),
        target: 10,
    },
    BadgeDef {
        id: "sharpshooter",
        name: "Sharpshooter",
        description: "Pass 5 assessments at the first attempt",
        metric: Metric::Actions(Action::FirstTryPass),
        target: 5,
    },
    BadgeDef {
        id: "hands-on",
        name: "Hands-on",
        description: "Solve 10 lab exercises",
        metric: Metric::Actions(Action::LabSolved),
        target: 10,
    },
    BadgeDef {
        id: "on-a-roll",
        name: "On a roll",
        description: "Learn on 7 days in a row",
        metric: Metric::Streak,
        target: 7,
    },
    BadgeDef {
        id: "unstoppable",
        name: "Unstoppable",
        description: "Learn on 30 days in a row",
        metric: Metric::Streak,
        target: 30,
    },
    BadgeDef {
        id: "high-flyer",
        name: "High flyer",
        description: "Earn 1,000 points",
        metric: Metric::Points,
        target: 1_000,
    },
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Badge {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub metric: Metric,
    pub target: u32,
    /// Where the learner is now (at most `target`).
    pub current: u32,
    /// current / target, 0–1.
    pub progress: f64,
    /// When the criterion was met; `None` while in progress.
    pub earned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Achievements {
    pub user_id: Uuid,
    /// Earned badges, oldest first.
    pub earned: Vec<Badge>,
    /// Badges not yet earned, closest first.
    pub next: Vec<Badge>,
}

fn badge(l: &Ledger, def: &BadgeDef, longest: u32) -> Badge {
    let (current, earned_at) = match def.metric {
        Metric::Actions(action) => (l.count(action) as u32, l.nth(action, def.target as usize)),
        Metric::Streak => (longest, streak_reached(l, def.target)),
        Metric::Points => {
            let mut sum = 0;
            let at = l.awards.iter().find_map(|a| {
                sum += a.points;
                (sum >= def.target).then_some(a.at)
            });
            (l.total_points(), at)
        }
    };
    let current = current.min(def.target);
    Badge {
        id: def.id,
        name: def.name,
        description: def.description,
        metric: def.metric,
        target: def.target,
        current,
        progress: r4(f64::from(current) / f64::from(def.target)),
        earned_at,
    }
}

pub fn badges(l: &Ledger) -> Vec<Badge> {
    let longest = streak(l).longest;
    BADGES.iter().map(|d| badge(l, d, longest)).collect()
}

pub fn achievements(l: &Ledger) -> Achievements {
    let (mut earned, mut next): (Vec<Badge>, Vec<Badge>) =
        badges(l).into_iter().partition(|b| b.earned_at.is_some());
    earned.sort_by_key(|b| b.earned_at);
    next.sort_by(|a, b| b.progress.total_cmp(&a.progress));
    Achievements {
        user_id: l.user,
        earned,
        next,
    }
}

// ---- stats ----

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionTotal {
    pub action: Action,
    /// Awards, capped ones included.
    pub count: u32,
    pub points: u32,
    /// Awards that earned nothing because of the day's cap.
    pub capped: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub user_id: Uuid,
    pub total_points: u32,
    /// Points of the awards whose time lies in (now − 7 × 86 400 s, now]:
    /// a rolling window of exact days, not a calendar week
    /// (docs/gamification.md §3).
    pub points_last_7_days: u32,
    /// Points of the awards whose time lies in (now − 30 × 86 400 s, now]:
    /// rolling, not a calendar month.
    pub points_last_30_days: u32,
    pub level: Level,
    pub by_action: Vec<ActionTotal>,
    pub badges_earned: u32,
    pub badges_total: u32,
    pub current_streak: u32,
    pub longest_streak: u32,
}

pub fn stats(l: &Ledger) -> Stats {
    let total = l.total_points();
    let st = streak(l);
    let by_action = Action::ALL
        .iter()
        .map(|&action| {
            let of = l.awards.iter().filter(|a| a.action == action);
            ActionTotal {
                action,
                count: of.clone().count() as u32,
                points: of.clone().map(|a| a.points).sum(),
                capped: of.filter(|a| a.points == 0).count() as u32,
            }
        })
        .collect();
    Stats {
        user_id: l.user,
        total_points: total,
        points_last_7_days: l.points_since(l.now - Duration::days(7)),
        points_last_30_days: l.points_since(l.now - Duration::days(30)),
        level: level(total),
        by_action,
        badges_earned: badges(l).iter().filter(|b| b.earned_at.is_some()).count() as u32,
        badges_total: BADGES.len() as u32,
        current_streak: st.current,
        longest_streak: st.longest,
    }
}

// ---- leaderboards ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", tag = "kind", content = "id")]
pub enum Scope {
    Organization,
    Department(Uuid),
    Course(Uuid),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Period {
    /// The last 7 days, rolling.
    Week,
    /// The last 30 days, rolling.
    Month,
    AllTime,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Week, Period::Month, Period::AllTime];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::AllTime => "all-time",
        }
    }

    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Period::Week => Some(now - Duration::days(7)),
            Period::Month => Some(now - Duration::days(30)),
            Period::AllTime => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardEntry {
    /// Competition ranking: equal points share a rank ("1, 2, 2, 4").
    pub rank: u32,
    pub points: u32,
    pub level: u32,
    /// The caller's own entry.
    pub is_you: bool,
    /// Present when the organisation shows names, and on the caller's own entry.
    pub user_id: Option<Uuid>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnRank {
    /// `None` when the caller is not ranked (opted out, or outside the scope).
    pub rank: Option<u32>,
    pub points: u32,
    pub opted_out: bool,
    pub in_scope: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Leaderboard {
    pub scope: Scope,
    pub period: Period,
    /// Whether names of others are shown (the organisation's setting).
    pub names_visible: bool,
    /// Ranked learners (opted-out learners are not counted).
    pub participants: u32,
    pub entries: Vec<LeaderboardEntry>,
    /// The caller's own position, always present.
    pub me: OwnRank,
}

/// Whether a learner is out of leaderboards: their own choice in Lumen
/// (`overrides`) when made, else the Directory's flag.
pub fn opted_out(user: &User, overrides: &HashMap<Uuid, bool>) -> bool {
    overrides
        .get(&user.id)
        .copied()
        .unwrap_or(user.leaderboard_opt_out)
}

/// A learner's points: in total, in the last 7 and the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnerPoints {
    pub total: u32,
    pub week: u32,
    pub month: u32,
}

impl LearnerPoints {
    pub fn of(l: &Ledger) -> Self {
        let total = l.total_points();
        LearnerPoints {
            total,
            week: l.points_since(l.now - Duration::days(7)),
            month: l.points_since(l.now - Duration::days(30)),
        }
    }

    pub fn in_period(self, period: Period) -> u32 {
        match period {
            Period::Week => self.week,
            Period::Month => self.month,
            Period::AllTime => self.total,
        }
    }
}

/// The points of every learner of the dataset's organisation: one ledger
/// each, shared by every board of the organisation.
pub fn learner_points(ds: &Dataset, now: DateTime<Utc>) -> HashMap<Uuid, LearnerPoints> {
    members(ds, Scope::Organization)
        .into_iter()
        .map(|u| (u.id, LearnerPoints::of(&ledger(ds, u.id, now))))
        .collect()
}

/// One learner on a [`Board`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardRow {
    pub user_id: Uuid,
    pub name: String,
    /// Points in the board's period.
    pub points: u32,
    /// Level of the learner's total points.
    pub level: u32,
    /// The Directory's leaderboard flag (a choice made in Lumen overrides it).
    pub directory_opt_out: bool,
}

/// Every learner of one scope with their points in one period, highest
/// first, then by user id: a leaderboard before anyone's view of it. It
/// holds opted-out learners too; [`view`] applies the choices in force when
/// it is read, so a board can be cached while choices change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    pub scope: Scope,
    pub period: Period,
    pub names_visible: bool,
    pub rows: Vec<BoardRow>,
}

/// The learners of one scope of the dataset's organisation: only learners
/// of the organisation, ever.
fn members(ds: &Dataset, scope: Scope) -> Vec<&User> {
    let org_id = ds.records.organization.as_ref().map(|o| o.id);
    let course_members: BTreeSet<Uuid> = match scope {
        Scope::Course(c) => ds.enrolments_in(c).map(|e| e.user_id).collect(),
        _ => BTreeSet::new(),
    };
    ds.learners()
        .filter(|u| {
            Some(u.organization_id) == org_id
                && match scope {
                    Scope::Organization => true,
                    Scope::Department(d) => u.department_id == Some(d),
                    Scope::Course(_) => course_members.contains(&u.id),
                }
        })
        .collect()
}

/// The board of one scope of the dataset's organisation; `points` is
/// [`learner_points`] (or holds at least the scope's learners).
pub fn board(
    ds: &Dataset,
    scope: Scope,
    period: Period,
    points: &HashMap<Uuid, LearnerPoints>,
) -> Board {
    let mut rows: Vec<BoardRow> = members(ds, scope)
        .into_iter()
        .map(|u| {
            let p = points.get(&u.id).copied().unwrap_or_default();
            BoardRow {
                user_id: u.id,
                name: u.full_name.clone(),
                points: p.in_period(period),
                level: level(p.total).number,
                directory_opt_out: u.leaderboard_opt_out,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.points.cmp(&a.points).then(a.user_id.cmp(&b.user_id)));
    Board {
        scope,
        period,
        names_visible: ds
            .records
            .organization
            .as_ref()
            .is_some_and(|o| o.leaderboard_names),
        rows,
    }
}

/// The boards of one scope in each period, with one ledger per learner of
/// the scope.
pub fn scope_boards(ds: &Dataset, scope: Scope, now: DateTime<Utc>) -> Vec<Board> {
    let points: HashMap<Uuid, LearnerPoints> = members(ds, scope)
        .into_iter()
        .map(|u| (u.id, LearnerPoints::of(&ledger(ds, u.id, now))))
        .collect();
    Period::ALL
        .into_iter()
        .map(|period| board(ds, scope, period, &points))
        .collect()
}

/// Every board of the dataset's organisation: the organisation, each of
/// its departments and each of its courses, in each period; one ledger per
/// learner for all of them.
pub fn boards(ds: &Dataset, now: DateTime<Utc>) -> Vec<Board> {
    let points = learner_points(ds, now);
    let org_id = ds.records.organization.as_ref().map(|o| o.id);
    let mut scopes = vec![Scope::Organization];
    scopes.extend(
        ds.records
            .departments
            .iter()
            .filter(|d| Some(d.organization_id) == org_id)
            .map(|d| Scope::Department(d.id)),
    );
    scopes.extend(
        ds.records
            .courses
            .iter()
            .filter(|c| Some(c.organization_id) == org_id)
            .map(|c| Scope::Course(c.id)),
    );
    scopes
        .into_iter()
        .flat_map(|scope| Period::ALL.map(|period| (scope, period)))
        .map(|(scope, period)| board(ds, scope, period, &points))
        .collect()
}

/// Who reads a board, for [`view`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub user_id: Uuid,
    /// The reader's points in the board's period, shown when they are not
    /// on the board (not a learner of its scope).
    pub points: u32,
    /// The reader's Directory leaderboard flag.
    pub directory_opt_out: bool,
}

/// A board as `reader` sees it: the learners' choices in force now
/// (`overrides`: choices made in Lumen) applied, ranks counted, the
/// entries from `offset` (at most `limit`), and the reader's own position.
pub fn view(
    board: &Board,
    reader: &Reader,
    overrides: &HashMap<Uuid, bool>,
    offset: usize,
    limit: usize,
) -> Leaderboard {
    let out = |row: &BoardRow| {
        overrides
            .get(&row.user_id)
            .copied()
            .unwrap_or(row.directory_opt_out)
    };
    let ranked: Vec<&BoardRow> = board.rows.iter().filter(|r| !out(r)).collect();
    let mut ranks: Vec<u32> = Vec::with_capacity(ranked.len());
    for (i, row) in ranked.iter().enumerate() {
        let rank = match ranks.last() {
            Some(&prev) if ranked[i - 1].points == row.points => prev,
            _ => i as u32 + 1,
        };
        ranks.push(rank);
    }
    let entries = ranked
        .iter()
        .zip(&ranks)
        .skip(offset)
        .take(limit)
        .map(|(row, &rank)| {
            let is_you = row.user_id == reader.user_id;
            let shown = is_you || board.names_visible;
            LeaderboardEntry {
                rank,
                points: row.points,
                level: row.level,
                is_you,
                user_id: shown.then_some(row.user_id),
                name: shown.then(|| row.name.clone()),
            }
        })
        .collect();
    let me = match board.rows.iter().find(|r| r.user_id == reader.user_id) {
        Some(row) => OwnRank {
            rank: ranked
                .iter()
                .position(|r| r.user_id == reader.user_id)
                .map(|i| ranks[i]),
            points: row.points,
            opted_out: out(row),
            in_scope: true,
        },
        None => OwnRank {
            rank: None,
            points: reader.points,
            opted_out: overrides
                .get(&reader.user_id)
                .copied()
                .unwrap_or(reader.directory_opt_out),
            in_scope: false,
        },
    };
    Leaderboard {
        scope: board.scope,
        period: board.period,
        names_visible: board.names_visible,
        participants: ranked.len() as u32,
        entries,
        me,
    }
}

/// The leaderboard of one scope of the dataset's organisation, as `caller`
/// sees it: the top `limit` entries and the caller's own position.
/// Only learners of the organisation are ever listed.
pub fn leaderboard(
    ds: &Dataset,
    caller: Uuid,
    scope: Scope,
    period: Period,
    limit: usize,
    overrides: &HashMap<Uuid, bool>,
    now: DateTime<Utc>,
) -> Leaderboard {
    let points = learner_points(ds, now);
    let reader = match ds.user(caller) {
        Some(u) => Reader {
            user_id: caller,
            points: points
                .get(&caller)
                .copied()
                .unwrap_or_else(|| LearnerPoints::of(&ledger(ds, caller, now)))
                .in_period(period),
            directory_opt_out: u.leaderboard_opt_out,
        },
        None => Reader {
            user_id: caller,
            points: 0,
            directory_opt_out: false,
        },
    };
    view(
        &board(ds, scope, period, &points),
        &reader,
        overrides,
        0,
        limit,
    )
}
