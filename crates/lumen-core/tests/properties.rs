//! Property tests of the pure analytics (docs/analytics.md) over small,
//! random but valid organisations.
//!
//! Properties:
//! 1. No analytic panics, for any subject drawn from the dataset (every
//!    user, the organisation, an unknown id) and every `TimeRange`; `train`
//!    never panics. An unknown id is always `NotFound`.
//! 2. Every `Ok` result serialises to JSON whose numbers are all finite, and
//!    every field the doc bounds (see `BOUNDS`) is inside its range.
//! 3. Monotonicity (see `monotonicity` below for the exact statements).
//! 4. Empty and near-empty datasets answer with errors, never panics.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use lumen_core::Role;
use lumen_core::analytics::dataset::Records;
use lumen_core::analytics::{
    AnalyticError, Dataset, TimeRange, Window, comparison, dropoff, forecast, learner, org,
    recommendations as recs, trainer,
};
use lumen_core::model::*;

const DAY: i64 = 86_400;
const K: usize = 3;
const RANGES: [TimeRange; 4] = [
    TimeRange::Days7,
    TimeRange::Days30,
    TimeRange::Days90,
    TimeRange::Year,
];
const JOB_ROLES: [&str; 3] = ["analyst", "engineer", "manager"];
const TIME_ZONES: [&str; 5] = ["UTC", "Etc/GMT-3", "+05:30", "Europe/Paris", "not a zone"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn at(offset_seconds: i64) -> DateTime<Utc> {
    now() + Duration::seconds(offset_seconds)
}

fn org_id() -> Uuid {
    Uuid::from_u128(1)
}

/// Deterministic ids: a kind prefix and an index.
fn id(kind: u128, i: usize) -> Uuid {
    Uuid::from_u128((kind << 64) | (i as u128 + 1))
}

// ------------------------------------------------------------------ specs

/// A timestamp offset from now in seconds, within ±200 days, biased to the
/// past, with window boundaries and day-precision (midnight) instants.
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -200 * DAY..=0,
        1 => 0..=200 * DAY,
        1 => 1..=14 * DAY, // upcoming deadlines (recommendations)
        1 => prop::sample::select(vec![0, -7 * DAY, -30 * DAY, -90 * DAY, -365 * DAY + 200 * DAY, 1]),
        2 => (-200i64..=200).prop_map(|d| d * DAY - 12 * 3600),
    ]
}

/// A non-negative duration in seconds (for ordered dates).
fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0), 0..=60 * DAY]
}

#[derive(Debug, Clone)]
struct UserSpec {
    roles: u8,
    department: Option<usize>,
    job_role: Option<usize>,
    time_zone: usize,
    opt_out: bool,
}

#[derive(Debug, Clone)]
struct CourseSpec {
    status: usize,
    starts: Option<i64>,
    length_days: Option<u32>,
}

#[derive(Debug, Clone)]
struct EnrolSpec {
    user: usize,
    course: usize,
    status: usize,
    outcome: usize,
    progress: f64,
    enrolled: i64,
    started: Option<i64>,
    end: i64,
    updated: i64,
}

#[derive(Debug, Clone)]
struct ItemSpec {
    course: usize,
    unit: Option<usize>,
    content_type: usize,
    duration: Option<i32>,
}

#[derive(Debug, Clone)]
struct InteractionSpec {
    user: usize,
    item: usize,
    at: i64,
    time_spent: Option<i32>,
    clicks: i32,
    completed: bool,
}

#[derive(Debug, Clone)]
struct AssessmentSpec {
    course: usize,
    unit: Option<usize>,
    kind: usize,
    max_score: f64,
    pass_share: Option<f64>,
    weight: f64,
    due: Option<i64>,
}

#[derive(Debug, Clone)]
struct AttemptSpec {
    assessment: usize,
    user: usize,
    number: i32,
    score_share: f64,
    started_before: Option<i64>,
    submitted: i64,
}

#[derive(Debug, Clone)]
struct Spec {
    users: Vec<UserSpec>,
    departments: Vec<Option<usize>>,
    courses: Vec<CourseSpec>,
    units: Vec<(usize, i32)>,
    course_trainers: Vec<(usize, usize)>,
    trainer_learners: Vec<(usize, usize)>,
    enrolments: Vec<EnrolSpec>,
    items: Vec<ItemSpec>,
    interactions: Vec<InteractionSpec>,
    assessments: Vec<AssessmentSpec>,
    attempts: Vec<AttemptSpec>,
    /// (platform-wide?, has category)
    skills: Vec<(bool, bool)>,
    /// (user, skill, level, assessed at)
    levels: Vec<(usize, usize, f64, i64)>,
    /// (job role, skill, required level)
    requirements: Vec<(usize, usize, f64)>,
    /// (skill, target level, priority, target date)
    targets: Vec<(usize, f64, f64, Option<i64>)>,
    /// (course, trainer, learner, rating, submitted)
    feedback: Vec<(usize, usize, Option<usize>, i32, i64)>,
    /// (user, course, started, duration, attempts, solved)
    labs: Vec<LabSpec>,
    /// (user, course, asked, has topic, resolved)
    questions: Vec<(usize, Option<usize>, i64, bool, bool)>,
    /// Learner AI suggestions: (kind, has target, score, generated at)
    ai: Option<Vec<AiSpec>>,
}

/// (user, course, started, duration, attempts, solved)
type LabSpec = (usize, Option<usize>, i64, Option<i64>, i32, bool);
/// (kind, has target, score, generated at)
type AiSpec = (usize, bool, Option<f64>, i64);

fn level() -> impl Strategy<Value = f64> {
    prop_oneof![(0u8..=5).prop_map(f64::from), 0.0..=5.0]
}

fn user_spec() -> impl Strategy<Value = UserSpec> {
    (
        1u8..=7,
        prop::option::of(0usize..3),
        prop::option::of(0usize..JOB_ROLES.len()),
        0usize..TIME_ZONES.len(),
        any::<bool>(),
    )
        .prop_map(
            |(roles, department, job_role, time_zone, opt_out)| UserSpec {
                roles,
                department,
                job_role,
                time_zone,
                opt_out,
            },
        )
}

fn course_spec() -> impl Strategy<Value = CourseSpec> {
    (
        prop_oneof![1 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize)],
        prop::option::of(offset()),
        prop::option::of(1u32..=200),
    )
        .prop_map(|(status, starts, length_days)| CourseSpec {
            status,
            starts,
            length_days,
        })
}

fn enrol_spec() -> impl Strategy<Value = EnrolSpec> {
    (
        0usize..64,
        0usize..64,
        prop_oneof![3 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)],
        0usize..3,
        prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0],
        offset(),
        prop::option::of(delta()),
        delta(),
        delta(),
    )
        .prop_map(
            |(user, course, status, outcome, progress, enrolled, started, end, updated)| {
                EnrolSpec {
                    user,
                    course,
                    status,
                    outcome,
                    progress,
                    enrolled,
                    started,
                    end,
                    updated,
                }
            },
        )
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    (
        0usize..64,
        prop::option::of(0usize..64),
        0usize..ContentType::ALL.len(),
        prop::option::of(0i32..=3600),
    )
        .prop_map(|(course, unit, content_type, duration)| ItemSpec {
            course,
            unit,
            content_type,
            duration,
        })
}

fn interaction_spec() -> impl Strategy<Value = InteractionSpec> {
    (
        0usize..64,
        0usize..64,
        offset(),
        prop::option::of(prop_oneof![Just(0i32), 0i32..=7200]),
        prop_oneof![Just(0i32), 1i32..=40],
        any::<bool>(),
    )
        .prop_map(
            |(user, item, at, time_spent, clicks, completed)| InteractionSpec {
                user,
                item,
                at,
                time_spent,
                clicks,
                completed,
            },
        )
}

fn assessment_spec() -> impl Strategy<Value = AssessmentSpec> {
    (
        0usize..64,
        prop::option::of(0usize..64),
        0usize..AssessmentKind::ALL.len(),
        prop_oneof![Just(100.0), Just(1.0), 0.5..=200.0],
        prop::option::of(prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0]),
        prop_oneof![Just(0.0), Just(100.0), 0.0..=100.0],
        prop::option::of(offset()),
    )
        .prop_map(
            |(course, unit, kind, max_score, pass_share, weight, due)| AssessmentSpec {
                course,
                unit,
                kind,
                max_score,
                pass_share,
                weight,
                due,
            },
        )
}

fn attempt_spec() -> impl Strategy<Value = AttemptSpec> {
    (
        0usize..64,
        0usize..64,
        1i32..=3,
        prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0],
        prop::option::of(delta()),
        offset(),
    )
        .prop_map(
            |(assessment, user, number, score_share, started_before, submitted)| AttemptSpec {
                assessment,
                user,
                number,
                score_share,
                started_before,
                submitted,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    let people = (
        prop::collection::vec(user_spec(), 0..=8),
        prop::collection::vec(prop::option::of(0usize..3), 0..=3),
        prop::collection::vec(course_spec(), 0..=3),
        prop::collection::vec((0usize..64, -1i32..=4), 0..=4),
        prop::collection::vec((0usize..64, 0usize..64), 0..=4),
        prop::collection::vec((0usize..64, 0usize..64), 0..=3),
    );
    let learning = (
        prop::collection::vec(enrol_spec(), 0..=12),
        prop::collection::vec(item_spec(), 0..=6),
        prop::collection::vec(interaction_spec(), 0..=30),
        prop::collection::vec(assessment_spec(), 0..=5),
        prop::collection::vec(attempt_spec(), 0..=20),
    );
    let skills = (
        prop::collection::vec((any::<bool>(), any::<bool>()), 0..=4),
        prop::collection::vec((0usize..64, 0usize..64, level(), offset()), 0..=12),
        prop::collection::vec((0usize..JOB_ROLES.len(), 0usize..64, level()), 0..=5),
        prop::collection::vec(
            (
                0usize..64,
                level(),
                prop_oneof![Just(1.0), 0.1..=5.0],
                prop::option::of(offset()),
            ),
            0..=3,
        ),
    );
    let other = (
        prop::collection::vec(
            (
                0usize..64,
                0usize..64,
                prop::option::of(0usize..64),
                1i32..=5,
                offset(),
            ),
            0..=5,
        ),
        prop::collection::vec(
            (
                0usize..64,
                prop::option::of(0usize..64),
                offset(),
                prop::option::of(delta()),
                0i32..=5,
                any::<bool>(),
            ),
            0..=4,
        ),
        prop::collection::vec(
            (
                0usize..64,
                prop::option::of(0usize..64),
                offset(),
                any::<bool>(),
                any::<bool>(),
            ),
            0..=4,
        ),
        prop::option::of(prop::collection::vec(
            (
                0usize..6,
                any::<bool>(),
                prop::option::of(-0.5..=1.5f64),
                -DAY..=DAY,
            ),
            0..=3,
        )),
    );
    (people, learning, skills, other).prop_map(
        |(
            (users, departments, courses, units, course_trainers, trainer_learners),
            (enrolments, items, interactions, assessments, attempts),
            (skills, levels, requirements, targets),
            (feedback, labs, questions, ai),
        )| Spec {
            users,
            departments,
            courses,
            units,
            course_trainers,
            trainer_learners,
            enrolments,
            items,
            interactions,
            assessments,
            attempts,
            skills,
            levels,
            requirements,
            targets,
            feedback,
            labs,
            questions,
            ai,
        },
    )
}

// ------------------------------------------------------------------ build

const USER: u128 = 2;
const DEPT: u128 = 3;
const COURSE: u128 = 4;
const UNIT: u128 = 5;
const ENROL: u128 = 6;
const ITEM: u128 = 7;
const INTERACTION: u128 = 8;
const ASSESSMENT: u128 = 9;
const ATTEMPT: u128 = 10;
const SKILL: u128 = 11;
const FEEDBACK: u128 = 12;
const LAB: u128 = 13;
const QUESTION: u128 = 14;

fn organization() -> Organization {
    Organization {
        id: org_id(),
        origin: None,
        name: "Org".into(),
        leaderboard_names: false,
        created_at: at(-400 * DAY),
        updated_at: at(-400 * DAY),
    }
}

fn make_user(i: usize, u: &UserSpec, departments: usize) -> User {
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .enumerate()
        .filter(|(b, _)| u.roles & (1 << b) != 0)
        .map(|(_, r)| r)
        .collect();
    User {
        id: id(USER, i),
        organization_id: org_id(),
        department_id: u
            .department
            .filter(|_| departments > 0)
            .map(|d| id(DEPT, d % departments)),
        origin: None,
        email: format!("u{i}@example.test"),
        full_name: format!("User {i}"),
        job_role: u.job_role.map(|j| JOB_ROLES[j].to_owned()),
        time_zone: TIME_ZONES[u.time_zone].to_owned(),
        avatar_url: None,
        leaderboard_opt_out: u.opt_out,
        roles,
        last_login_at: None,
        created_at: at(-400 * DAY),
        updated_at: at(-400 * DAY),
    }
}

/// Builds valid records from a spec: indexes are taken modulo the number of
/// records they refer to, and records that would refer to nothing are
/// dropped.
fn build(s: &Spec) -> Records {
    let mut r = Records {
        organization: Some(organization()),
        ..Records::default()
    };
    let nd = s.departments.len();
    for (i, parent) in s.departments.iter().enumerate() {
        r.departments.push(Department {
            id: id(DEPT, i),
            organization_id: org_id(),
            // Only earlier departments as parents: no cycles.
            parent_id: parent.filter(|p| *p < i).map(|p| id(DEPT, p)),
            origin: None,
            name: format!("Dept {i}"),
            created_at: at(-400 * DAY),
            updated_at: at(-400 * DAY),
        });
    }
    for (i, u) in s.users.iter().enumerate() {
        r.users.push(make_user(i, u, nd));
    }
    let nu = r.users.len();
    let trainers: Vec<usize> = (0..nu)
        .filter(|&i| r.users[i].roles.contains(&Role::Trainer))
        .collect();
    for (i, c) in s.courses.iter().enumerate() {
        r.courses.push(Course {
            id: id(COURSE, i),
            organization_id: org_id(),
            origin: None,
            title: format!("Course {i}"),
            status: CourseStatus::ALL[c.status],
            starts_at: c.starts.map(at),
            length_days: c.length_days,
            created_at: at(-400 * DAY),
            updated_at: at(-400 * DAY),
        });
    }
    let nc = r.courses.len();
    if nc > 0 {
        for (i, &(course, position)) in s.units.iter().enumerate() {
            r.units.push(CourseUnit {
                id: id(UNIT, i),
                course_id: id(COURSE, course % nc),
                origin: None,
                title: format!("Unit {i}"),
                position,
            });
        }
    }
    // A unit of the given course, if it has any.
    let unit_of = |r: &Records, course: Uuid, pick: Option<usize>| -> Option<Uuid> {
        let units: Vec<Uuid> = r
            .units
            .iter()
            .filter(|u| u.course_id == course)
            .map(|u| u.id)
            .collect();
        pick.filter(|_| !units.is_empty())
            .map(|p| units[p % units.len()])
    };
    if nc > 0 && !trainers.is_empty() {
        let mut seen = HashSet::new();
        for &(c, t) in &s.course_trainers {
            let pair = (id(COURSE, c % nc), r.users[trainers[t % trainers.len()]].id);
            if seen.insert(pair) {
                r.course_trainers.push(pair);
            }
        }
    }
    if nu > 0 && !trainers.is_empty() {
        let mut seen = HashSet::new();
        for &(t, l) in &s.trainer_learners {
            let pair = (r.users[trainers[t % trainers.len()]].id, id(USER, l % nu));
            if seen.insert(pair) {
                r.trainer_learners.push(pair);
            }
        }
    }
    if nu > 0 && nc > 0 {
        for (i, e) in s.enrolments.iter().enumerate() {
            let status = EnrolmentStatus::ALL[e.status];
            let enrolled = at(e.enrolled);
            let started = e.started.map(|d| enrolled + Duration::seconds(d));
            let end = started.unwrap_or(enrolled) + Duration::seconds(e.end);
            let (outcome, completed_at, withdrawn_at) = match status {
                EnrolmentStatus::Active => (None, None, None),
                EnrolmentStatus::Completed => (Some(Outcome::ALL[e.outcome]), Some(end), None),
                EnrolmentStatus::Withdrawn => (None, None, Some(end)),
            };
            let updated =
                completed_at.or(withdrawn_at).unwrap_or(enrolled) + Duration::seconds(e.updated);
            r.enrolments.push(Enrolment {
                id: id(ENROL, i),
                user_id: id(USER, e.user % nu),
                course_id: id(COURSE, e.course % nc),
                origin: None,
                status,
                outcome,
                progress: e.progress,
                enrolled_at: enrolled,
                started_at: started,
                last_active_at: None,
                completed_at,
                withdrawn_at,
                updated_at: updated,
            });
        }
    }
    if nc > 0 {
        for (i, it) in s.items.iter().enumerate() {
            let course = id(COURSE, it.course % nc);
            let unit_id = unit_of(&r, course, it.unit);
            r.content_items.push(ContentItem {
                id: id(ITEM, i),
                course_id: course,
                unit_id,
                origin: None,
                title: format!("Item {i}"),
                content_type: ContentType::ALL[it.content_type],
                duration_seconds: it.duration,
            });
        }
        for (i, a) in s.assessments.iter().enumerate() {
            let course = id(COURSE, a.course % nc);
            let unit_id = unit_of(&r, course, a.unit);
            r.assessments.push(Assessment {
                id: id(ASSESSMENT, i),
                course_id: course,
                unit_id,
                origin: None,
                title: format!("Assessment {i}"),
                kind: AssessmentKind::ALL[a.kind],
                max_score: a.max_score,
                pass_score: a.pass_share.map(|p| p * a.max_score),
                weight: a.weight,
                due_at: a.due.map(at),
            });
        }
    }
    let ni = r.content_items.len();
    if nu > 0 && ni > 0 {
        for (i, x) in s.interactions.iter().enumerate() {
            r.interactions.push(ContentInteraction {
                id: id(INTERACTION, i),
                user_id: id(USER, x.user % nu),
                content_item_id: id(ITEM, x.item % ni),
                origin: None,
                occurred_at: at(x.at),
                time_spent_seconds: x.time_spent,
                clicks: x.clicks,
                completed: x.completed,
            });
        }
    }
    let na = r.assessments.len();
    if nu > 0 && na > 0 {
        for (i, a) in s.attempts.iter().enumerate() {
            let assessment = &r.assessments[a.assessment % na];
            let submitted = at(a.submitted);
            r.attempts.push(AssessmentAttempt {
                id: id(ATTEMPT, i),
                assessment_id: assessment.id,
                user_id: id(USER, a.user % nu),
                origin: None,
                attempt_number: a.number,
                score: a.score_share * assessment.max_score,
                started_at: a.started_before.map(|d| submitted - Duration::seconds(d)),
                submitted_at: submitted,
            });
        }
    }
    for (i, &(platform, category)) in s.skills.iter().enumerate() {
        r.skills.push(Skill {
            id: id(SKILL, i),
            organization_id: (!platform).then(org_id),
            origin: None,
            name: format!("Skill {i}"),
            category: category.then(|| "Category".to_owned()),
        });
    }
    let ns = r.skills.len();
    if ns > 0 {
        if nu > 0 {
            let mut seen = HashSet::new();
            for &(u, sk, level, assessed) in &s.levels {
                let key = (u % nu, sk % ns, assessed);
                if seen.insert(key) {
                    r.skill_levels.push(SkillLevel {
                        user_id: id(USER, u % nu),
                        skill_id: id(SKILL, sk % ns),
                        level,
                        assessed_at: at(assessed),
                        source: None,
                    });
                }
            }
        }
        let mut seen = HashSet::new();
        for &(job, sk, required) in &s.requirements {
            if seen.insert((job, sk % ns)) {
                r.requirements.push(SkillRequirement {
                    organization_id: org_id(),
                    job_role: JOB_ROLES[job].to_owned(),
                    skill_id: id(SKILL, sk % ns),
                    required_level: required,
                });
            }
        }
        let mut seen = HashSet::new();
        for &(sk, target, priority, date) in &s.targets {
            if seen.insert(sk % ns) {
                r.targets.push(SkillTarget {
                    organization_id: org_id(),
                    skill_id: id(SKILL, sk % ns),
                    target_level: target,
                    priority,
                    target_date: date.map(at),
                });
            }
        }
    }
    if nu > 0 && nc > 0 {
        for (i, &(c, t, l, rating, submitted)) in s.feedback.iter().enumerate() {
            r.feedback.push(TrainerFeedback {
                id: id(FEEDBACK, i),
                course_id: id(COURSE, c % nc),
                trainer_id: id(USER, t % nu),
                learner_id: l.map(|l| id(USER, l % nu)),
                origin: None,
                rating,
                submitted_at: at(submitted),
            });
        }
    }
    if nu > 0 {
        for (i, &(u, c, started, duration, attempts, solved)) in s.labs.iter().enumerate() {
            r.lab_sessions.push(LabSession {
                id: id(LAB, i),
                user_id: id(USER, u % nu),
                course_id: c.filter(|_| nc > 0).map(|c| id(COURSE, c % nc)),
                origin: None,
                exercise: format!("Exercise {i}"),
                started_at: at(started),
                ended_at: duration.map(|d| at(started + d)),
                attempts,
                solved,
            });
        }
        for (i, &(u, c, asked, topic, resolved)) in s.questions.iter().enumerate() {
            r.questions.push(AssistantQuestion {
                id: id(QUESTION, i),
                user_id: id(USER, u % nu),
                course_id: c.filter(|_| nc > 0).map(|c| id(COURSE, c % nc)),
                origin: None,
                asked_at: at(asked),
                topic: topic.then(|| "topic".to_owned()),
                resolved,
            });
        }
    }
    r
}

/// Every record satisfies `Record::validate` and refers to existing ids.
fn assert_valid(r: &Records) {
    let one = |rec: Record| {
        if let Err(e) = rec.validate() {
            panic!("generated an invalid record {rec:?}: {e}");
        }
    };
    r.departments
        .iter()
        .cloned()
        .for_each(|x| one(Record::Department(x)));
    r.users.iter().cloned().for_each(|x| one(Record::User(x)));
    r.courses
        .iter()
        .cloned()
        .for_each(|x| one(Record::Course(x)));
    r.units
        .iter()
        .cloned()
        .for_each(|x| one(Record::CourseUnit(x)));
    r.enrolments
        .iter()
        .cloned()
        .for_each(|x| one(Record::Enrolment(x)));
    r.content_items
        .iter()
        .cloned()
        .for_each(|x| one(Record::ContentItem(x)));
    r.interactions
        .iter()
        .cloned()
        .for_each(|x| one(Record::ContentInteraction(x)));
    r.assessments
        .iter()
        .cloned()
        .for_each(|x| one(Record::Assessment(x)));
    r.attempts
        .iter()
        .cloned()
        .for_each(|x| one(Record::AssessmentAttempt(x)));
    r.skills.iter().cloned().for_each(|x| one(Record::Skill(x)));
    r.skill_levels
        .iter()
        .cloned()
        .for_each(|x| one(Record::SkillLevel(x)));
    r.requirements
        .iter()
        .cloned()
        .for_each(|x| one(Record::SkillRequirement(x)));
    r.targets
        .iter()
        .cloned()
        .for_each(|x| one(Record::SkillTarget(x)));
    r.feedback
        .iter()
        .cloned()
        .for_each(|x| one(Record::TrainerFeedback(x)));
    r.lab_sessions
        .iter()
        .cloned()
        .for_each(|x| one(Record::LabSession(x)));
    r.questions
        .iter()
        .cloned()
        .for_each(|x| one(Record::AssistantQuestion(x)));
    for a in &r.attempts {
        let max = r
            .assessments
            .iter()
            .find(|x| x.id == a.assessment_id)
            .map(|x| x.max_score)
            .expect("attempt refers to an assessment");
        assert!(a.score <= max);
    }
}

// ------------------------------------------------------------ run them all

/// The Learner AI suggestions of a spec.
fn ai(s: &Spec) -> Option<Vec<recs::AiSuggestion>> {
    const KINDS: [&str; 6] = ["course", "content", "assessment", "skill", "video", ""];
    s.ai.as_ref().map(|list| {
        list.iter()
            .enumerate()
            .map(
                |(i, &(kind, target, score, generated))| recs::AiSuggestion {
                    kind: KINDS[kind].to_owned(),
                    target_id: target.then(|| id(COURSE, i).to_string()),
                    title: format!("Suggestion {i}"),
                    score,
                    generated_at: at(generated),
                },
            )
            .collect()
    })
}

/// An `Ok` output as JSON, after checking that all its floats are finite
/// (serde_json would silently write NaN and ±∞ as `null`).
fn json<T: Serialize>(r: Result<T, AnalyticError>) -> Result<Value, AnalyticError> {
    r.map(|x| {
        let bad = finite::non_finite(&x);
        assert!(bad.is_empty(), "non-finite numbers in the output: {bad:?}");
        serde_json::to_value(x).expect("an analytic's output serialises")
    })
}

/// All 19 analytics for one subject, wired as the service wires them
/// (crates/lumen/src/analytics.rs `run`).
fn run_all(
    ds: &Dataset,
    subject: Uuid,
    w: &Window,
    model: Option<&dropoff::DropoffModel>,
    ai: &Option<Vec<recs::AiSuggestion>>,
) -> Vec<(&'static str, Result<Value, AnalyticError>)> {
    let drop_off = |l: Uuid| dropoff::drop_off_risk(ds, l, w, model);
    let signals = |l: Uuid| {
        trainer::LearnerSignals::new(
            learner::engagement(ds, l, w).ok().as_ref(),
            drop_off(l).ok().as_ref(),
        )
    };
    let metrics = |l: Uuid| comparison::PeerMetrics::of(ds, l, w);
    let forecast_inputs = forecast::ForecastInputs {
        drop_off: drop_off(subject).ok().as_ref().map(Into::into),
    };
    let rec_inputs = recs::RecommendationInputs {
        k_anonymity: K,
        skill_gap: learner::skill_gap(ds, subject, w)
            .ok()
            .as_ref()
            .map(Into::into),
        content: learner::content_effectiveness(ds, subject, w)
            .ok()
            .as_ref()
            .map(Into::into),
        engagement: learner::engagement(ds, subject, w)
            .ok()
            .as_ref()
            .map(Into::into),
        ai_suggestions: ai.clone(),
    };
    vec![
        ("velocity", json(learner::velocity(ds, subject, w))),
        ("skill-gap", json(learner::skill_gap(ds, subject, w))),
        ("engagement", json(learner::engagement(ds, subject, w))),
        ("mastery", json(learner::mastery(ds, subject, w))),
        ("performance", json(learner::performance(ds, subject, w))),
        (
            "content-effectiveness",
            json(learner::content_effectiveness(ds, subject, w)),
        ),
        (
            "course-performance",
            json(trainer::course_performance(ds, subject, w)),
        ),
        (
            "course-health",
            json(trainer::course_health(ds, subject, w)),
        ),
        (
            "student-distribution",
            json(trainer::student_distribution(ds, subject, w, K, &signals)),
        ),
        (
            "teaching-effectiveness",
            json(trainer::teaching_effectiveness(ds, subject, w, K)),
        ),
        (
            "learning-velocity",
            json(org::learning_velocity(ds, subject, w, K)),
        ),
        (
            "strategic-alignment",
            json(org::strategic_alignment(ds, subject, w, K)),
        ),
        (
            "learning-culture",
            json(org::learning_culture(ds, subject, w, K)),
        ),
        (
            "org-performance",
            json(org::org_performance(ds, subject, w, K)),
        ),
        ("peer", json(comparison::peer(ds, subject, w, K, &metrics))),
        (
            "skill-demand",
            json(comparison::skill_demand(ds, subject, w, K)),
        ),
        ("drop-off-risk", json(drop_off(subject))),
        (
            "forecast",
            json(forecast::forecast(ds, subject, w, &forecast_inputs)),
        ),
        (
            "recommendations",
            json(recs::recommendations(ds, subject, w, &rec_inputs)),
        ),
    ]
}

// ------------------------------------------------------------------ ranges

/// Fields whose range docs/analytics.md states, by field name: (name, min,
/// max). Only names whose every use in every analytic has that range are
/// listed (e.g. not `change`, `lift`, `value`, `contribution`,
/// `trendPercentage`, `changePercent`, `slopePerWeek`, `cohortAverage`,
/// which are signed or depend on the metric). A `null` is always allowed.
const BOUNDS: &[(&str, f64, f64)] = &[
    // 0–100: scores, percentages and rates.
    ("overallScore", 0.0, 100.0),         // §5.3
    ("previousScore", 0.0, 100.0),        // §5.3
    ("regularity", 0.0, 100.0),           // §5.3 components (weights ⊂ 0–1)
    ("activity", 0.0, 100.0),             // §5.3
    ("timeSpent", 0.0, 100.0),            // §5.3 (and §5.5: seconds, see below)
    ("assessmentSubmission", 0.0, 100.0), // §5.3
    ("overallMastery", 0.0, 100.0),       // §5.4
    ("previousOverallMastery", 0.0, 100.0),
    ("mastery", 0.0, 100.0),            // §5.4
    ("assessedShare", 0.0, 100.0),      // §5.4, §7.2
    ("overallPerformance", 0.0, 100.0), // §5.5, §6.1, §7.4
    ("previousOverallPerformance", 0.0, 100.0),
    ("averageScore", 0.0, 100.0),         // §5.5, §6, §7.4, §9.2
    ("previousAverageScore", 0.0, 100.0), // §5.5
    ("passRate", 0.0, 100.0),
    ("onTimeRate", 0.0, 100.0),
    ("scorePercent", 0.0, 100.0),
    ("progress", 0.0, 100.0),             // §5.1, §5.5 (100 × progress)
    ("contentEffectiveness", 0.0, 100.0), // §5.6
    ("effectivenessScore", 0.0, 100.0),
    ("completionRate", 0.0, 100.0),
    ("averageProgress", 0.0, 100.0),
    ("performanceScore", 0.0, 100.0), // §6.1
    ("previousPerformanceScore", 0.0, 100.0),
    ("overallHealth", 0.0, 100.0), // §6.2
    ("healthScore", 0.0, 100.0),
    ("engagement", 0.0, 100.0), // §6.2, §6.4
    ("retention", 0.0, 100.0),
    ("submission", 0.0, 100.0),
    ("percent", 0.0, 100.0), // §6.3
    ("activeShare", 0.0, 100.0),
    ("overallEffectiveness", 0.0, 100.0), // §6.4
    ("previousOverallEffectiveness", 0.0, 100.0),
    ("learnerOutcomes", 0.0, 100.0),
    ("scoreLevel", 0.0, 100.0),
    ("feedback", 0.0, 100.0),
    ("percentile", 0.0, 100.0),        // §2.8
    ("overallPercentile", 0.0, 100.0), // §8.1
    ("onTrackShare", 0.0, 100.0),      // §7.1
    ("overallAlignment", 0.0, 100.0),  // §7.2
    ("attainment", 0.0, 100.0),
    ("atTargetShare", 0.0, 100.0),
    ("overallCulture", 0.0, 100.0), // §7.3
    ("previousOverallCulture", 0.0, 100.0),
    ("participation", 0.0, 100.0),
    ("consistency", 0.0, 100.0),
    ("completion", 0.0, 100.0),
    ("collaboration", 0.0, 100.0),
    ("growth", 0.0, 100.0),
    ("skillAttainment", 0.0, 100.0), // §7.4
    ("gapShare", 0.0, 100.0),        // §8.2
    ("demandScore", 0.0, 100.0),
    ("coveragePercent", 0.0, 100.0), // §5.2, §9.3
    ("currentAverage", 0.0, 100.0),  // §9.2
    ("projectedScore", 0.0, 100.0),
    ("lower", 0.0, 100.0),
    ("upper", 0.0, 100.0),
    ("projectedProgressAtCourseEnd", 0.0, 100.0),
    ("rankScore", 0.0, 100.0), // §9.3
    ("from", 0.0, 100.0),      // histogram/progress bins 0–100, reliability 0–1
    ("to", 0.0, 100.0),
    // 0–1: risk, confidence, probabilities, levels / 5.
    ("riskScore", 0.0, 1.0), // §9.1
    ("confidence", 0.0, 1.0),
    ("completeness", 0.0, 1.0),
    ("completionProbability", 0.0, 1.0), // §9.2
    ("threshold", 0.0, 1.0),
    ("rocAuc", 0.0, 1.0),
    ("prAuc", 0.0, 1.0),
    ("mcc", -1.0, 1.0),
    ("brierScore", 0.0, 1.0),
    ("baseRate", 0.0, 1.0),
    ("meanPredicted", 0.0, 1.0),
    ("observedRate", 0.0, 1.0),
    ("masteryLevel", 0.0, 1.0), // §5.2
    ("requiredLevel", 0.0, 1.0),
    ("currentLevel", 0.0, 1.0),
    ("gapSize", 0.0, 1.0),
    ("strength", 0.0, 1.0), // §9.3 evidence
    ("aiScore", 0.0, 1.0),
    ("weight", 0.0, 1.0),           // §9.3 source weight
    ("meanScoreDefault", 0.0, 1.0), // §9.1 feature 5 on 0–1
    ("validationRocAuc", 0.0, 1.0),
    // 0–5: skill levels.
    ("targetLevel", 0.0, 5.0), // §7.2, §8.2
    ("averageLevel", 0.0, 5.0),
    ("averageGap", 0.0, 5.0), // §8.2 in levels; §5.2 mean gapSize (0–1)
    ("gapLevels", 0.0, 5.0),
    // Non-negative: paces, durations, counts.
    ("currentPace", 0.0, f64::INFINITY),
    ("targetPace", 0.0, f64::INFINITY),
    ("pace", 0.0, f64::INFINITY),
    ("overallVelocity", 0.0, f64::INFINITY),
    ("previousOverallVelocity", 0.0, f64::INFINITY),
    ("departmentAverage", 0.0, f64::INFINITY),
    ("completionsPerActiveLearner", 0.0, f64::INFINITY),
    ("medianDaysToComplete", 0.0, f64::INFINITY),
    ("optimalSessionLength", 0.0, f64::INFINITY),
    ("activityPerActiveLearner", 0.0, f64::INFINITY),
    ("timeSpentPerActiveLearner", 0.0, f64::INFINITY),
    ("timeSpentSeconds", 0.0, f64::INFINITY),
    ("medianActiveDays", 0.0, 365.0),
    ("activeDays", 0.0, 365.0),
    ("weightedGap", 0.0, f64::INFINITY),
    ("priority", 0.0, f64::INFINITY),
    ("estimatedWeeks", 0.0, f64::INFINITY),
    ("daysUntilDue", 0.0, 14.0),
    ("rank", 1.0, 10.0),
    ("k", 2.0, f64::INFINITY),
    ("stepsDone", 0.0, f64::INFINITY),
    ("stepsTotal", 0.0, f64::INFINITY),
    ("activityCount", 0.0, f64::INFINITY),
    ("clicks", 0.0, f64::INFINITY),
    ("interactions", 0.0, f64::INFINITY),
    ("contentInteractions", 0.0, f64::INFINITY),
    ("assessmentAttempts", 0.0, f64::INFINITY),
    ("labSessions", 0.0, f64::INFINITY),
    ("assistantQuestions", 0.0, f64::INFINITY),
    ("attempts", 0.0, f64::INFINITY),
    ("evidence", 0.0, f64::INFINITY),
    ("count", 0.0, f64::INFINITY),
    ("cohortSize", 0.0, f64::INFINITY),
    ("learners", 0.0, f64::INFINITY),
    ("totalLearners", 0.0, f64::INFINITY),
    ("activeLearners", 0.0, f64::INFINITY),
    ("totalStudents", 0.0, f64::INFINITY),
    ("directLearners", 0.0, f64::INFINITY),
    ("atRiskCount", 0.0, f64::INFINITY),
    ("enrolmentsInWindow", 0.0, f64::INFINITY),
    ("activeEnrolments", 0.0, f64::INFINITY),
    ("completionsInWindow", 0.0, f64::INFINITY),
    ("successfulCompletions", 0.0, f64::INFINITY),
    ("withdrawals", 0.0, f64::INFINITY),
    ("failures", 0.0, f64::INFINITY),
    ("assessmentsSubmitted", 0.0, f64::INFINITY),
    ("skillLevelGains", 0.0, f64::INFINITY),
    ("learnersWithSkillGain", 0.0, f64::INFINITY),
    ("requiredBy", 0.0, f64::INFINITY),
    ("gapLearners", 0.0, f64::INFINITY),
    ("previousGapLearners", 0.0, f64::INFINITY),
    ("requiredCount", 0.0, f64::INFINITY),
    ("metCount", 0.0, f64::INFINITY),
    ("finishedEnrolments", 0.0, f64::INFINITY),
    ("dropOffs", 0.0, f64::INFINITY),
    ("departmentLearners", 0.0, f64::INFINITY),
    ("enrolledLearners", 0.0, f64::INFINITY),
];

/// Objects whose every numeric member has a range, by the object's name.
const MAP_BOUNDS: &[(&str, f64, f64)] = &[
    ("weights", 0.0, 1.0),                   // §2.7 effective weights
    ("clickShareByContentType", 0.0, 100.0), // §7.3 percent per type
    ("byContentType", 0.0, f64::INFINITY),   // §5.3 clicks per type
];

fn bound_of(name: &str) -> Option<(f64, f64)> {
    BOUNDS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, lo, hi)| (lo, hi))
}

/// Walks `v` and returns the numbers outside their documented range
/// (non-finite floats are caught before, on the typed output: see `json`).
fn check_json(analytic: &str, path: &str, key: &str, v: &Value, errors: &mut Vec<String>) {
    match v {
        Value::Number(n) => {
            let Some(x) = n.as_f64() else {
                errors.push(format!("{analytic} {path}: not an f64: {n}"));
                return;
            };
            if !x.is_finite() {
                errors.push(format!("{analytic} {path}: not finite: {x}"));
            }
            // The timeSpent of §5.5 is seconds, not a component.
            if analytic == "performance" && key == "timeSpent" {
                return;
            }
            let parent = path.rsplit('.').nth(1).unwrap_or("");
            let range = MAP_BOUNDS
                .iter()
                .find(|(n, ..)| *n == parent)
                .map(|&(_, lo, hi)| (lo, hi))
                .or_else(|| bound_of(key));
            if let Some((lo, hi)) = range
                && !(lo <= x && x <= hi)
            {
                errors.push(format!(
                    "{analytic} {path} = {x}, outside the documented {lo}..={hi}"
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_json(analytic, &format!("{path}[{i}]"), key, item, errors);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                check_json(analytic, &format!("{path}.{k}"), k, item, errors);
            }
        }
        _ => {}
    }
}

fn check_results(results: &[(&'static str, Result<Value, AnalyticError>)]) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, r) in results {
        if let Ok(v) = r {
            check_json(name, "", "", v, &mut errors);
        }
    }
    errors
}

// ------------------------------------------------------ finite floats only

/// serde_json writes NaN and ±∞ as `null`, so the JSON cannot show them.
/// This serializer visits an output and records the path of every
/// non-finite float.
mod finite {
    use serde::Serialize;
    use serde::ser;
    use std::fmt;

    #[derive(Debug)]
    pub struct Never(String);
    impl fmt::Display for Never {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Never {}
    impl ser::Error for Never {
        fn custom<T: fmt::Display>(msg: T) -> Self {
            Never(msg.to_string())
        }
    }

    #[derive(Default)]
    pub struct Check {
        path: Vec<String>,
        pub bad: Vec<String>,
    }

    impl Check {
        fn float(&mut self, x: f64) {
            if !x.is_finite() {
                self.bad.push(format!("{} = {x}", self.path.join(".")));
            }
        }
        fn nested<T: Serialize + ?Sized>(&mut self, key: String, v: &T) -> Result<(), Never> {
            self.path.push(key);
            let r = v.serialize(&mut *self);
            self.path.pop();
            r
        }
    }

    /// Paths of the non-finite floats in `v`.
    pub fn non_finite<T: Serialize>(v: &T) -> Vec<String> {
        let mut c = Check::default();
        if let Err(e) = v.serialize(&mut c) {
            c.bad.push(format!("serialisation failed: {e}"));
        }
        c.bad
    }

    macro_rules! ignore {
        ($($f:ident($t:ty)),* $(,)?) => {
            $(fn $f(self, _: $t) -> Result<(), Never> { Ok(()) })*
        };
    }

    impl ser::Serializer for &mut Check {
        type Ok = ();
        type Error = Never;
        type SerializeSeq = Self;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Self;
        type SerializeMap = Self;
        type SerializeStruct = Self;
        type SerializeStructVariant = Self;

        ignore!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_char(char),
            serialize_str(&str),
            serialize_bytes(&[u8]),
        );
        fn serialize_f32(self, v: f32) -> Result<(), Never> {
            self.float(v.into());
            Ok(())
        }
        fn serialize_f64(self, v: f64) -> Result<(), Never> {
            self.float(v);
            Ok(())
        }
        fn serialize_none(self) -> Result<(), Never> {
            Ok(())
        }
        fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Never> {
            v.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), Never> {
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Never> {
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<(), Never> {
            Ok(())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<(), Never> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            v: &T,
        ) -> Result<(), Never> {
            self.nested(variant.to_owned(), v)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
            Ok(self)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self, Never> {
            Ok(self)
        }
    }

    macro_rules! elements {
        ($($tr:ident :: $f:ident),*) => {
            $(impl ser::$tr for &mut Check {
                type Ok = ();
                type Error = Never;
                fn $f<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Never> {
                    self.nested("[]".to_owned(), v)
                }
                fn end(self) -> Result<(), Never> {
                    Ok(())
                }
            })*
        };
    }
    elements!(
        SerializeSeq::serialize_element,
        SerializeTuple::serialize_element,
        SerializeTupleStruct::serialize_field,
        SerializeTupleVariant::serialize_field
    );

    impl ser::SerializeMap for &mut Check {
        type Ok = ();
        type Error = Never;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Never> {
            Ok(())
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Never> {
            self.nested("{}".to_owned(), v)
        }
        fn end(self) -> Result<(), Never> {
            Ok(())
        }
    }

    macro_rules! fields {
        ($($tr:ident),*) => {
            $(impl ser::$tr for &mut Check {
                type Ok = ();
                type Error = Never;
                fn serialize_field<T: Serialize + ?Sized>(
                    &mut self,
                    key: &'static str,
                    v: &T,
                ) -> Result<(), Never> {
                    self.nested(key.to_owned(), v)
                }
                fn end(self) -> Result<(), Never> {
                    Ok(())
                }
            })*
        };
    }
    fields!(SerializeStruct, SerializeStructVariant);
}

// -------------------------------------------------------------- properties

fn window(range: TimeRange) -> Window {
    Window::new(range, now())
}

fn subjects(ds: &Dataset, unknown: Uuid) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = ds.records.users.iter().map(|u| u.id).collect();
    out.push(org_id());
    out.push(unknown);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Properties 1 and 2.
    #[test]
    fn analytics_never_panic_and_stay_in_range(s in spec(), unknown in any::<u128>()) {
        let records = build(&s);
        assert_valid(&records);
        let ds = Dataset::new(records);
        let unknown = Uuid::from_u128(unknown | (0xff << 120));
        let trained = json(dropoff::train(&ds, now()));
        let mut errors = check_results(&[("train", trained)]);
        // The trained model as the batch stores it, and the same model
        // forced through the quality gate, so that drop-off-risk (and
        // forecast, student-distribution) also run the logistic model.
        let model = dropoff::train(&ds, now()).ok();
        let passed = model.clone().map(|mut m| {
            m.evaluation.passes_gate = true;
            m
        });
        let ai = ai(&s);
        for (i, range) in RANGES.into_iter().enumerate() {
            let w = window(range);
            let model = if i % 2 == 0 { model.as_ref() } else { passed.as_ref() };
            for subject in subjects(&ds, unknown) {
                let results = run_all(&ds, subject, &w, model, &ai);
                if subject == unknown {
                    for (name, r) in &results {
                        prop_assert!(
                            matches!(r, Err(AnalyticError::NotFound(_))),
                            "{name} of an unknown id: {r:?}"
                        );
                    }
                }
                errors.extend(
                    check_results(&results)
                        .into_iter()
                        .map(|e| format!("{range} subject {subject}: {e}")),
                );
            }
        }
        prop_assert!(errors.is_empty(), "{}", errors.join("\n"));
    }
}

// ------------------------------------------------------------ monotonicity

/// One extra event of a learner inside the window.
#[derive(Debug, Clone)]
enum Extra {
    /// A content interaction: (item, clicks, time spent, completed).
    Interaction(usize, i32, Option<i32>, bool),
    /// A submitted assessment attempt: (assessment, score share).
    Attempt(usize, f64),
}

fn extra() -> impl Strategy<Value = Extra> {
    prop_oneof![
        (
            0usize..64,
            0i32..=40,
            prop::option::of(0i32..=3600),
            any::<bool>()
        )
            .prop_map(|(i, c, t, done)| Extra::Interaction(i, c, t, done)),
        (0usize..64, 0.0..=1.0f64).prop_map(|(a, s)| Extra::Attempt(a, s)),
    ]
}

/// `r` with one more event of `user` at `t`, or `None` when the dataset has
/// nothing to attach it to (no item or no assessment).
fn with_extra(r: &Records, user: Uuid, t: DateTime<Utc>, e: &Extra) -> Option<Records> {
    let mut r = r.clone();
    match *e {
        Extra::Interaction(item, clicks, time_spent, completed) => {
            let n = r.content_items.len();
            let item = r.content_items.get(item % n.max(1))?.id;
            r.interactions.push(ContentInteraction {
                id: id(INTERACTION, 10_000),
                user_id: user,
                content_item_id: item,
                origin: None,
                occurred_at: t,
                time_spent_seconds: time_spent,
                clicks,
                completed,
            });
        }
        Extra::Attempt(assessment, share) => {
            let n = r.assessments.len();
            let a = r.assessments.get(assessment % n.max(1))?.clone();
            let number = r
                .attempts
                .iter()
                .filter(|x| x.user_id == user && x.assessment_id == a.id)
                .count() as i32
                + 1;
            r.attempts.push(AssessmentAttempt {
                id: id(ATTEMPT, 10_000),
                assessment_id: a.id,
                user_id: user,
                origin: None,
                attempt_number: number,
                score: share * a.max_score,
                started_at: None,
                submitted_at: t,
            });
        }
    }
    Some(r)
}

fn number(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is a number in {v}"))
}

fn steps_done(v: &Value) -> Vec<(String, f64)> {
    v["courses"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| (c["enrolmentId"].to_string(), number(c, "/stepsDone")))
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Property 3. For any learner L of the dataset and one extra event of L
    /// inside W (timestamp in (now − R, now]):
    ///
    /// (a) engagement (§5.3, activity of §2.6): the subject's own counts
    ///     `activityBreakdown.{activityCount, clicks, contentInteractions,
    ///     assessmentAttempts, activeDays}` never go down, and an answer
    ///     stays an answer (its minimum is about enrolments, not events);
    /// (b) velocity (§5.1, steps of §2.6): a completed content interaction or
    ///     a submitted attempt never lowers any enrolment's `stepsDone`
    ///     (steps done by now; an extra completion can only mark a step done
    ///     earlier, or make a course's items steps, which the learner then
    ///     has done at least one of), and an answer stays an answer (courses
    ///     can only gain steps);
    /// (c) learning-culture (§7.3): `engagementMetrics.activeLearners` (N_a)
    ///     and the `participation` dimension (100 × N_a / N, N unchanged)
    ///     never go down.
    #[test]
    fn one_more_event_never_lowers_activity_or_steps(
        s in spec(),
        who in any::<prop::sample::Index>(),
        range in prop::sample::select(RANGES.to_vec()),
        when in 0.0..1.0f64,
        e in extra(),
    ) {
        let before = build(&s);
        if before.users.is_empty() {
            return Ok(());
        }
        let user = who.get(&before.users).id;
        let w = window(range);
        // An instant in (now − R, now].
        let back = (when * (range.days() * DAY - 1) as f64) as i64;
        let t = now() - Duration::seconds(back);
        prop_assert!(w.contains(t));
        let Some(after) = with_extra(&before, user, t, &e) else {
            return Ok(());
        };
        assert_valid(&after);
        let (b, a) = (Dataset::new(before), Dataset::new(after));

        // (a)
        let eb = json(learner::engagement(&b, user, &w));
        let ea = json(learner::engagement(&a, user, &w));
        if let Ok(eb) = eb {
            let ea = ea.expect("engagement still answers");
            for f in ["activityCount", "clicks", "contentInteractions", "assessmentAttempts", "activeDays"] {
                let p = format!("/activityBreakdown/{f}");
                prop_assert!(
                    number(&ea, &p) >= number(&eb, &p),
                    "engagement {f} fell from {} to {} ({e:?})", number(&eb, &p), number(&ea, &p)
                );
            }
        }

        // (b)
        let completes = matches!(e, Extra::Attempt(..) | Extra::Interaction(_, _, _, true));
        if completes && let Ok(vb) = json(learner::velocity(&b, user, &w)) {
            let va = json(learner::velocity(&a, user, &w)).expect("velocity still answers");
            let after = steps_done(&va);
            for (enrolment, done) in steps_done(&vb) {
                let now_done = after
                    .iter()
                    .find(|(x, _)| *x == enrolment)
                    .map(|(_, d)| *d);
                prop_assert!(
                    now_done.is_some_and(|d| d >= done),
                    "velocity stepsDone of {enrolment} went from {done} to {now_done:?} ({e:?})"
                );
            }
        }

        // (c)
        if let Ok(cb) = json(org::learning_culture(&b, org_id(), &w, K)) {
            let ca = json(org::learning_culture(&a, org_id(), &w, K)).expect("culture still answers");
            for p in ["/engagementMetrics/activeLearners", "/cultureDimensions/participation"] {
                prop_assert!(
                    number(&ca, p) >= number(&cb, p),
                    "learning-culture {p} fell from {} to {}", number(&cb, p), number(&ca, p)
                );
            }
        }
    }
}

// ------------------------------------------------------ empty and tiny data

/// Every analytic (and `train`) answers with an error for every subject.
fn all_fail(r: Records) -> Result<(), TestCaseError> {
    let ds = Dataset::new(r);
    prop_assert!(dropoff::train(&ds, now()).is_err(), "train answered");
    let mut ids = subjects(&ds, Uuid::from_u128(u128::MAX));
    ids.extend(ds.records.enrolments.iter().map(|e| e.user_id));
    for range in RANGES {
        let w = window(range);
        for &subject in &ids {
            for (name, r) in run_all(&ds, subject, &w, None, &Some(Vec::new())) {
                prop_assert!(
                    matches!(
                        r,
                        Err(AnalyticError::NotFound(_) | AnalyticError::InsufficientData { .. })
                    ),
                    "{name} of {subject} ({range}) answered {r:?}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn an_empty_dataset_answers_not_found() -> Result<(), TestCaseError> {
    all_fail(Records::default())?;
    all_fail(Records {
        organization: Some(organization()),
        ..Records::default()
    })
}

/// The organisation and one record of the kind `kind` (the `i`-th of its
/// kind in `full`), or `None` when `full` has none of that kind.
fn single(full: &Records, kind: usize, i: usize) -> Option<Records> {
    fn pick<T: Clone>(v: &[T], i: usize) -> Option<Vec<T>> {
        (!v.is_empty()).then(|| vec![v[i % v.len()].clone()])
    }
    let mut r = Records {
        organization: Some(organization()),
        ..Records::default()
    };
    match kind {
        0 => r.users = pick(&full.users, i)?,
        1 => r.departments = pick(&full.departments, i)?,
        2 => r.courses = pick(&full.courses, i)?,
        3 => r.units = pick(&full.units, i)?,
        4 => r.course_trainers = pick(&full.course_trainers, i)?,
        5 => r.trainer_learners = pick(&full.trainer_learners, i)?,
        6 => r.enrolments = pick(&full.enrolments, i)?,
        7 => r.content_items = pick(&full.content_items, i)?,
        8 => r.interactions = pick(&full.interactions, i)?,
        9 => r.assessments = pick(&full.assessments, i)?,
        10 => r.attempts = pick(&full.attempts, i)?,
        11 => r.skills = pick(&full.skills, i)?,
        12 => r.skill_levels = pick(&full.skill_levels, i)?,
        13 => r.requirements = pick(&full.requirements, i)?,
        14 => r.targets = pick(&full.targets, i)?,
        15 => r.feedback = pick(&full.feedback, i)?,
        16 => r.lab_sessions = pick(&full.lab_sessions, i)?,
        _ => r.questions = pick(&full.questions, i)?,
    }
    Some(r)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Property 4. The organisation with a single record of any kind (a
    /// user of any roles, a course, an enrolment of a user who is not
    /// there, …) gives NotFound / InsufficientData for every analytic and
    /// subject, never an answer and never a panic.
    #[test]
    fn a_single_record_answers_with_errors(s in spec(), kind in 0usize..18, i in 0usize..64) {
        if let Some(r) = single(&build(&s), kind, i) {
            all_fail(r)?;
        }
    }

    /// Property 4, second half: one user of any roles with one record of
    /// their own that is not an enrolment and not an activity event (a skill
    /// level, feedback about them, a link to a trainer) is still NotFound
    /// for the learner analytics (§5: no enrolment and no activity event).
    #[test]
    fn a_user_without_enrolment_or_activity_is_not_found(u in user_spec(), level in level()) {
        let user = make_user(0, &u, 0);
        let uid = user.id;
        let records = Records {
            organization: Some(organization()),
            users: vec![user],
            skill_levels: vec![SkillLevel {
                user_id: uid,
                skill_id: id(SKILL, 0),
                level,
                assessed_at: at(-DAY),
                source: None,
            }],
            ..Records::default()
        };
        let ds = Dataset::new(records);
        let w = window(TimeRange::Days30);
        let learner_analytics = [
            "velocity", "skill-gap", "engagement", "mastery", "performance",
            "content-effectiveness", "peer", "drop-off-risk", "forecast", "recommendations",
        ];
        for (name, r) in run_all(&ds, uid, &w, None, &None) {
            if !learner_analytics.contains(&name) {
                continue;
            }
            prop_assert!(matches!(r, Err(AnalyticError::NotFound(_))), "{name}: {r:?}");
        }
    }
}
