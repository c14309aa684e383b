//! Hand-computed fixtures for docs/gamification.md.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::level;
use super::*;
use crate::Role;
use crate::analytics::Dataset;
use crate::analytics::dataset::Records;
use crate::analytics::testkit::*;
use crate::model::{ContentType, LabSession, Outcome};

const L: u128 = 10;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap_or_default()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn lab(r: &mut Records, user: u128, exercise: &str, start: f64, end: f64, solved: bool) {
    r.lab_sessions.push(LabSession {
        id: Uuid::new_v4(),
        user_id: id(user),
        course_id: Some(id(100)),
        origin: None,
        exercise: exercise.into(),
        started_at: day(start),
        ended_at: Some(day(end)),
        attempts: 1,
        solved,
    });
}

/// The worked example of docs/gamification.md §7.
fn worked_example() -> Records {
    let mut r = records();
    user(&mut r, L, &[Role::Learner], None);
    course(&mut r, 100, 0.0, Some(30));
    item(&mut r, 200, 100, ContentType::Video);
    item(&mut r, 201, 100, ContentType::Reading);
    item(&mut r, 202, 100, ContentType::Quiz);
    for i in 0..2 {
        r.content_items[i].unit_id = Some(id(300));
    }
    interact(&mut r, L, 200, 0.5, 3, Some(600), true);
    interact(&mut r, L, 201, 0.6, 3, Some(600), true);
    interact(&mut r, L, 200, 1.5, 1, Some(60), true); // a repeat: nothing
    interact(&mut r, L, 202, 2.5, 1, Some(60), false); // not completed
    assessment(&mut r, 400, 100, 100.0, 50.0, None);
    assessment(&mut r, 401, 100, 100.0, 50.0, None);
    attempt(&mut r, L, 400, 1, 30.0, 1.5); // fails (pass mark 40 %)
    attempt(&mut r, L, 400, 2, 80.0, 1.6); // passes, not at the first try
    attempt(&mut r, L, 401, 1, 90.0, 2.5); // passes at the first try
    lab(&mut r, L, "ex1", 2.55, 2.6, true);
    lab(&mut r, L, "ex1", 2.65, 2.7, true); // solved again: nothing
    let e = enrol(&mut r, 500, L, 100, 0.0);
    complete(&mut r, e, 3.0, Outcome::Distinction);
    r
}

fn points_by_day(l: &Ledger) -> Vec<(NaiveDate, u32)> {
    let mut m: std::collections::BTreeMap<NaiveDate, u32> = Default::default();
    for a in &l.awards {
        *m.entry(a.day).or_default() += a.points;
    }
    m.into_iter().collect()
}

#[test]
fn points_follow_the_worked_example() {
    let ds = Dataset::new(worked_example());
    let l = ledger(&ds, id(L), day(9.5));
    let actions: Vec<(Action, u32)> = l.awards.iter().map(|a| (a.action, a.points)).collect();
    use Action::*;
    assert_eq!(
        actions,
        vec![
            (ContentCompleted, 5), // day 0, 12:00: item 200 …
            (StreakDay, 5),        // … and the day's first activity
            (ContentCompleted, 5), // item 201 …
            (UnitCompleted, 20),   // … completes unit 300
            (StreakDay, 5),        // day 1
            (AssessmentPassed, 25),
            (AssessmentPassed, 25), // day 2, 12:00
            (FirstTryPass, 15),
            (StreakDay, 5),
            (LabSolved, 20),
            (CourseCompleted, 100), // day 3
            (Distinction, 50),
        ]
    );
    assert_eq!(
        points_by_day(&l),
        vec![
            (date(2025, 1, 1), 35),
            (date(2025, 1, 2), 30),
            (date(2025, 1, 3), 65),
            (date(2025, 1, 4), 150),
        ]
    );
    let s = stats(&l);
    assert_eq!(s.total_points, 280);
    assert_eq!(s.level.number, 3);
    assert_eq!(s.level.name, "Apprentice");
    assert_eq!(s.level.progress, 0.12); // (280 − 250) / (500 − 250)
    // Last 7 days: (day 2.5, day 9.5] → the lab and the course; 30 days: all.
    assert_eq!((s.points_last_7_days, s.points_last_30_days), (170, 280));
    assert_eq!((s.current_streak, s.longest_streak), (0, 3));
}

#[test]
fn recollection_and_retries_never_award_twice() {
    let base = ledger(&Dataset::new(worked_example()), id(L), day(10.0));
    let mut r = worked_example();
    // The same records collected again (new ids for the duplicates, as a
    // different feed page might give), and a retry after the pass.
    let dup_interactions: Vec<_> = r
        .interactions
        .iter()
        .cloned()
        .map(|mut i| {
            i.id = Uuid::new_v4();
            i
        })
        .collect();
    r.interactions.extend(dup_interactions);
    let dup_attempts = r.attempts.clone();
    r.attempts.extend(dup_attempts);
    let mut again = r.enrolments[0].clone();
    again.id = id(501);
    r.enrolments.push(again);
    attempt(&mut r, L, 401, 2, 100.0, 2.8);
    let l = ledger(&Dataset::new(r), id(L), day(10.0));
    assert_eq!(l.awards, base.awards);
    assert_eq!(l.total_points(), 280);
}

#[test]
fn nothing_after_now_counts() {
    let ds = Dataset::new(worked_example());
    let l = ledger(&ds, id(L), day(1.55));
    // Day 0 (35) and day 1's streak day; the pass at day 1.6 is in the future.
    assert_eq!(l.total_points(), 40);
}

#[test]
fn daily_caps_stop_points_not_progress() {
    let mut r = records();
    user(&mut r, L, &[Role::Learner], None);
    course(&mut r, 100, 0.0, None);
    for n in 0..25 {
        item(&mut r, 1000 + n, 100, ContentType::Reading);
        interact(
            &mut r,
            L,
            1000 + n,
            0.1 + n as f64 * 0.01,
            1,
            Some(60),
            true,
        );
    }
    let l = ledger(&Dataset::new(r), id(L), day(2.0));
    let s = stats(&l);
    let content = s
        .by_action
        .iter()
        .find(|a| a.action == Action::ContentCompleted)
        .cloned();
    assert_eq!(
        content.map(|c| (c.count, c.points, c.capped)),
        Some((25, 100, 5))
    );
    assert_eq!(s.total_points, 105); // + one streak day
    let bookworm = badges(&l).into_iter().find(|b| b.id == "bookworm");
    assert_eq!(bookworm.map(|b| (b.current, b.progress)), Some((25, 0.5)));
}

/// A learner in New York (UTC−5 in January) active late in the evening.
fn night_owl(times: &[DateTime<Utc>]) -> Records {
    let mut r = records();
    user(&mut r, L, &[Role::Learner], None);
    r.users[0].time_zone = "America/New_York".into();
    course(&mut r, 100, 0.0, None);
    item(&mut r, 200, 100, ContentType::Video);
    for &t in times {
        interact(&mut r, L, 200, 0.0, 1, Some(60), false);
        if let Some(last) = r.interactions.last_mut() {
            last.occurred_at = t;
        }
    }
    r
}

#[test]
fn streak_days_are_the_learners_local_days() {
    // 23:30 local on 1, 2 and 3 January = 04:30 UTC on 2, 3 and 4 January.
    let times = [
        utc(2025, 1, 2, 4, 30),
        utc(2025, 1, 3, 4, 30),
        utc(2025, 1, 4, 4, 30),
    ];
    let ds = Dataset::new(night_owl(&times));
    // Now: 23:45 local on 3 January.
    let s = streak(&ledger(&ds, id(L), utc(2025, 1, 4, 4, 45)));
    assert_eq!(s.today, date(2025, 1, 3));
    assert_eq!((s.current, s.longest), (3, 3));
    assert_eq!(s.last_active_day, Some(date(2025, 1, 3)));
    let active: Vec<NaiveDate> = s
        .calendar
        .iter()
        .filter(|d| d.active)
        .map(|d| d.date)
        .collect();
    assert_eq!(
        active,
        vec![date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)]
    );
    assert_eq!(s.calendar.len(), 28);
    assert_eq!(
        s.calendar.last().map(|d| (d.date, d.points)),
        Some((date(2025, 1, 3), 5))
    );

    // At 12:00 local on 4 January the streak is alive (yesterday counts) …
    let l = ledger(&ds, id(L), utc(2025, 1, 4, 17, 0));
    assert_eq!(streak(&l).current, 3);
    // … and on 5 January it is broken: 4 January passed without activity.
    let l = ledger(&ds, id(L), utc(2025, 1, 5, 17, 0));
    assert_eq!((streak(&l).current, streak(&l).longest), (0, 3));
}

#[test]
fn two_utc_days_can_be_one_local_day_and_a_local_gap_breaks_the_streak() {
    // 00:30 and 23:30 local on 2 January: two UTC dates, one local day.
    let ds = Dataset::new(night_owl(&[utc(2025, 1, 2, 5, 30), utc(2025, 1, 3, 4, 30)]));
    let l = ledger(&ds, id(L), utc(2025, 1, 3, 12, 0));
    assert_eq!(l.active_days.len(), 1);
    assert_eq!(l.total_points(), 5);
    // 23:30 local on 1 January, then 00:10 local on 3 January: consecutive
    // UTC dates (2 and 3 January) but 2 January (local) had no activity.
    let ds = Dataset::new(night_owl(&[utc(2025, 1, 2, 4, 30), utc(2025, 1, 3, 5, 10)]));
    let s = streak(&ledger(&ds, id(L), utc(2025, 1, 3, 12, 0)));
    assert_eq!((s.current, s.longest), (1, 1));
}

#[test]
fn an_unknown_time_zone_counts_as_utc() {
    let mut r = night_owl(&[utc(2025, 1, 2, 4, 30)]);
    r.users[0].time_zone = "Mars/Olympus".into();
    let l = ledger(&Dataset::new(r), id(L), utc(2025, 1, 3, 0, 0));
    assert_eq!(l.active_days.keys().next(), Some(&date(2025, 1, 2)));
}

#[test]
fn badges_are_dated_by_the_award_that_met_them() {
    let mut r = worked_example();
    // Four more active days: a 7-day streak (days 0–2, then 3–6).
    for d in 3..7 {
        interact(&mut r, L, 202, d as f64 + 0.25, 1, Some(60), false);
    }
    let l = ledger(&Dataset::new(r), id(L), day(20.0));
    let a = achievements(&l);
    let earned: Vec<(&str, Option<DateTime<Utc>>)> =
        a.earned.iter().map(|b| (b.id, b.earned_at)).collect();
    assert_eq!(
        earned,
        vec![
            ("first-steps", Some(day(0.5))),
            ("finisher", Some(day(3.0))),
            ("distinguished", Some(day(3.0))),
            ("on-a-roll", Some(day(6.25))),
        ]
    );
    // Closest next: 300 of 1,000 points.
    let next: Vec<(&str, u32, f64)> = a
        .next
        .iter()
        .map(|b| (b.id, b.current, b.progress))
        .collect();
    assert_eq!(next[0], ("high-flyer", 1000.min(l.total_points()), 0.3));
    assert!(next.iter().all(|b| b.2 < 1.0));
    assert_eq!(a.earned.len() + a.next.len(), BADGES.len());
}

#[test]
fn levels_have_fixed_thresholds() {
    assert_eq!(level(0).number, 1);
    assert_eq!(level(99).number, 1);
    assert_eq!(level(100).number, 2);
    assert_eq!(level(100).progress, 0.0);
    assert_eq!(level(11_999).number, 9);
    let top = level(20_000);
    assert_eq!(
        (top.number, top.name, top.next_level_at, top.progress),
        (10, "Legend", None, 1.0)
    );
}

/// Learners 11–14 in department 50 (except 14 in 51), a trainer 20.
fn board() -> Records {
    let mut r = records();
    department(&mut r, 50, "Data");
    department(&mut r, 51, "Ops");
    for (n, dept) in [(11, 50), (12, 50), (13, 50), (14, 51)] {
        user(&mut r, n, &[Role::Learner], Some(dept));
    }
    user(&mut r, 20, &[Role::Trainer], Some(50));
    course(&mut r, 100, 0.0, None);
    course(&mut r, 101, 0.0, None);
    enrol(&mut r, 600, 11, 100, 0.0);
    enrol(&mut r, 601, 14, 100, 0.0);
    enrol(&mut r, 602, 12, 101, 0.0);
    // Content completions: 11 → 3 items, 12 → 3 items, 13 → 1, 14 → 5; all on day 1.
    let mut n = 0;
    for (u, items) in [(11, 3), (12, 3), (13, 1), (14, 5)] {
        for _ in 0..items {
            n += 1;
            item(&mut r, 1000 + n, 100, ContentType::Reading);
            interact(&mut r, u, 1000 + n, 1.2, 1, Some(60), true);
        }
    }
    r
}

#[test]
fn leaderboards_rank_with_ties_and_hide_other_names() {
    let ds = Dataset::new(board());
    let none = HashMap::new();
    let lb = leaderboard(
        &ds,
        id(12),
        Scope::Organization,
        Period::AllTime,
        10,
        &none,
        day(5.0),
    );
    // Points: 14 → 30, 11 → 20, 12 → 20, 13 → 10 (5 per item + 5 streak day).
    type Row = (u32, u32, bool, Option<Uuid>, Option<String>);
    let rows: Vec<Row> = lb
        .entries
        .iter()
        .map(|e| (e.rank, e.points, e.is_you, e.user_id, e.name.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, 30, false, None, None),
            (2, 20, false, None, None),
            (2, 20, true, Some(id(12)), Some("User 12".into())),
            (4, 10, false, None, None),
        ]
    );
    assert!(!lb.names_visible);
    assert_eq!(lb.participants, 4); // the trainer is not ranked
    assert_eq!(lb.me.rank, Some(2));

    // Names shown when the organisation enables them.
    let mut r = board();
    if let Some(o) = r.organization.as_mut() {
        o.leaderboard_names = true;
    }
    let lb = leaderboard(
        &Dataset::new(r),
        id(12),
        Scope::Organization,
        Period::AllTime,
        10,
        &none,
        day(5.0),
    );
    assert_eq!(lb.entries[0].name.as_deref(), Some("User 14"));
}

#[test]
fn opted_out_learners_are_not_ranked_but_see_their_own_points() {
    let ds = Dataset::new(board());
    let overrides = HashMap::from([(id(14), true)]);
    let lb = leaderboard(
        &ds,
        id(11),
        Scope::Organization,
        Period::AllTime,
        10,
        &overrides,
        day(5.0),
    );
    assert_eq!(lb.participants, 3);
    assert_eq!(lb.entries[0].points, 20);
    assert_eq!(lb.me.rank, Some(1));
    // Learner 14 asks: not ranked, own points still shown.
    let lb = leaderboard(
        &ds,
        id(14),
        Scope::Organization,
        Period::AllTime,
        10,
        &overrides,
        day(5.0),
    );
    assert_eq!(
        (lb.me.rank, lb.me.points, lb.me.opted_out),
        (None, 30, true)
    );
    assert!(lb.entries.iter().all(|e| !e.is_you));
    // The Directory's flag holds unless the learner chose in Lumen.
    let mut r = board();
    r.users[3].leaderboard_opt_out = true;
    let ds = Dataset::new(r);
    let lb = leaderboard(
        &ds,
        id(11),
        Scope::Organization,
        Period::AllTime,
        10,
        &none(),
        day(5.0),
    );
    assert_eq!(lb.participants, 3);
    let back_in = HashMap::from([(id(14), false)]);
    let lb = leaderboard(
        &ds,
        id(11),
        Scope::Organization,
        Period::AllTime,
        10,
        &back_in,
        day(5.0),
    );
    assert_eq!(lb.participants, 4);
}

fn none() -> HashMap<Uuid, bool> {
    HashMap::new()
}

#[test]
fn scopes_periods_and_limits() {
    let ds = Dataset::new(board());
    let dept = leaderboard(
        &ds,
        id(11),
        Scope::Department(id(50)),
        Period::AllTime,
        10,
        &none(),
        day(5.0),
    );
    assert_eq!(dept.participants, 3);
    let course = leaderboard(
        &ds,
        id(11),
        Scope::Course(id(100)),
        Period::AllTime,
        10,
        &none(),
        day(5.0),
    );
    assert_eq!(course.participants, 2);
    assert_eq!(course.me.rank, Some(2));
    // 13 is not in course 100: shown unranked, with their points.
    let lb = leaderboard(
        &ds,
        id(13),
        Scope::Course(id(100)),
        Period::AllTime,
        10,
        &none(),
        day(5.0),
    );
    assert_eq!(
        (lb.me.rank, lb.me.in_scope, lb.me.points),
        (None, false, 10)
    );
    // A week after day 1.2, nothing is in the rolling week.
    let week = leaderboard(
        &ds,
        id(11),
        Scope::Organization,
        Period::Week,
        10,
        &none(),
        day(9.0),
    );
    assert!(week.entries.iter().all(|e| e.points == 0 && e.rank == 1));
    let top = leaderboard(
        &ds,
        id(13),
        Scope::Organization,
        Period::Month,
        1,
        &none(),
        day(9.0),
    );
    assert_eq!(top.entries.len(), 1);
    assert_eq!(top.me.rank, Some(4));
}

#[test]
fn another_organisations_people_are_never_listed() {
    let mut r = board();
    user(&mut r, 90, &[Role::Learner], Some(50));
    if let Some(u) = r.users.last_mut() {
        u.organization_id = id(2);
    }
    item(&mut r, 9000, 100, ContentType::Reading);
    interact(&mut r, 90, 9000, 1.0, 1, Some(60), true);
    let ds = Dataset::new(r);
    for scope in [
        Scope::Organization,
        Scope::Department(id(50)),
        Scope::Course(id(100)),
    ] {
        let lb = leaderboard(&ds, id(11), scope, Period::AllTime, 100, &none(), day(5.0));
        assert!(lb.entries.iter().all(|e| e.user_id != Some(id(90))));
        assert!(lb.participants <= 4);
    }
}

#[test]
fn a_cached_board_read_later_applies_the_choices_in_force_and_pages() {
    let ds = Dataset::new(board());
    let boards = boards(&ds, day(5.0));
    // Organisation, department 50, course 100 (as built by `board()`), three periods each.
    assert!(boards.len() >= 3 && boards.len().is_multiple_of(3));
    let org = boards
        .iter()
        .find(|b| b.scope == Scope::Organization && b.period == Period::AllTime)
        .expect("the organisation's all-time board");
    // The board survives its cached (JSON) form.
    let text = serde_json::to_string(org).expect("json");
    let org: Board = serde_json::from_str(&text).expect("read back");
    let reader = |user: u128| Reader {
        user_id: id(user),
        points: 0,
        directory_opt_out: false,
    };
    // Without choices, the view is the leaderboard computed directly.
    let none = HashMap::new();
    let direct = leaderboard(
        &ds,
        id(12),
        Scope::Organization,
        Period::AllTime,
        10,
        &none,
        day(5.0),
    );
    assert_eq!(view(&org, &reader(12), &none, 0, 10), direct);
    // A choice made after the board was built applies when it is read:
    // learner 14 leaves, the others' ranks close up.
    let overrides = HashMap::from([(id(14), true)]);
    let after = view(&org, &reader(12), &overrides, 0, 10);
    assert_eq!(
        after,
        leaderboard(
            &ds,
            id(12),
            Scope::Organization,
            Period::AllTime,
            10,
            &overrides,
            day(5.0)
        )
    );
    assert_eq!((after.participants, after.entries[0].rank), (3, 1));
    // Pages: the second page of two continues the ranks of the first.
    let page2 = view(&org, &reader(12), &none, 2, 2);
    let ranks: Vec<u32> = page2.entries.iter().map(|e| e.rank).collect();
    assert_eq!(ranks, vec![2, 4]);
    assert_eq!(page2.me.rank, Some(2));
    // A reader who is not on the board keeps the points given for them.
    let trainer = view(
        &org,
        &Reader {
            user_id: id(999),
            points: 7,
            directory_opt_out: true,
        },
        &none,
        0,
        10,
    );
    assert_eq!(
        (
            trainer.me.rank,
            trainer.me.points,
            trainer.me.opted_out,
            trainer.me.in_scope
        ),
        (None, 7, true, false)
    );
}
