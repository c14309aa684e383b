#![allow(dead_code)] // each family uses the builders it needs
//! Builders for hand-made datasets in the analytics' unit tests. Ids are
//! small integers (`id(7)`), times are days and hours after `T0`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::dataset::Records;
use crate::Role;
use crate::model::*;

/// 2025-01-01T00:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `t0 + days`.
pub fn day(days: f64) -> DateTime<Utc> {
    t0() + Duration::seconds((days * 86_400.0).round() as i64)
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const ORG: u128 = 1;

pub fn records() -> Records {
    Records {
        organization: Some(Organization {
            id: id(ORG),
            origin: None,
            name: "Org".into(),
            leaderboard_names: false,
            created_at: t0(),
            updated_at: t0(),
        }),
        ..Records::default()
    }
}

pub fn user(r: &mut Records, n: u128, roles: &[Role], department: Option<u128>) {
    r.users.push(User {
        id: id(n),
        organization_id: id(ORG),
        department_id: department.map(id),
        origin: None,
        email: format!("u{n}@example.test"),
        full_name: format!("User {n}"),
        job_role: None,
        time_zone: "UTC".into(),
        avatar_url: None,
        leaderboard_opt_out: false,
        roles: roles.to_vec(),
        last_login_at: None,
        created_at: t0(),
        updated_at: t0(),
    });
}

pub fn course(r: &mut Records, n: u128, starts: f64, length_days: Option<u32>) {
    r.courses.push(Course {
        id: id(n),
        organization_id: id(ORG),
        origin: None,
        title: format!("Course {n}"),
        status: CourseStatus::Published,
        starts_at: Some(day(starts)),
        length_days,
        created_at: t0(),
        updated_at: t0(),
    });
}

pub fn enrol(r: &mut Records, n: u128, user: u128, course: u128, enrolled: f64) -> usize {
    r.enrolments.push(Enrolment {
        id: id(n),
        user_id: id(user),
        course_id: id(course),
        origin: None,
        status: EnrolmentStatus::Active,
        outcome: None,
        progress: 0.0,
        enrolled_at: day(enrolled),
        started_at: Some(day(enrolled)),
        last_active_at: None,
        completed_at: None,
        withdrawn_at: None,
        updated_at: day(enrolled),
    });
    r.enrolments.len() - 1
}

pub fn item(r: &mut Records, n: u128, course: u128, kind: ContentType) {
    r.content_items.push(ContentItem {
        id: id(n),
        course_id: id(course),
        unit_id: None,
        origin: None,
        title: format!("Item {n}"),
        content_type: kind,
        duration_seconds: None,
    });
}

pub fn interact(
    r: &mut Records,
    user: u128,
    item: u128,
    at: f64,
    clicks: i32,
    seconds: Option<i32>,
    completed: bool,
) {
    r.interactions.push(ContentInteraction {
        id: Uuid::new_v4(),
        user_id: id(user),
        content_item_id: id(item),
        origin: None,
        occurred_at: day(at),
        time_spent_seconds: seconds,
        clicks,
        completed,
    });
}

pub fn assessment(r: &mut Records, n: u128, course: u128, max: f64, weight: f64, due: Option<f64>) {
    r.assessments.push(Assessment {
        id: id(n),
        course_id: id(course),
        unit_id: None,
        origin: None,
        title: format!("Assessment {n}"),
        kind: AssessmentKind::Assignment,
        max_score: max,
        pass_score: None,
        weight,
        due_at: due.map(day),
    });
}

pub fn attempt(r: &mut Records, user: u128, assessment: u128, number: i32, score: f64, at: f64) {
    r.attempts.push(AssessmentAttempt {
        id: Uuid::new_v4(),
        assessment_id: id(assessment),
        user_id: id(user),
        origin: None,
        attempt_number: number,
        score,
        started_at: None,
        submitted_at: day(at),
    });
}

pub fn department(r: &mut Records, n: u128, name: &str) {
    r.departments.push(Department {
        id: id(n),
        organization_id: id(ORG),
        parent_id: None,
        origin: None,
        name: name.into(),
        created_at: t0(),
        updated_at: t0(),
    });
}

pub fn skill(r: &mut Records, n: u128, name: &str) {
    r.skills.push(Skill {
        id: id(n),
        organization_id: Some(id(ORG)),
        origin: None,
        name: name.into(),
        category: Some("tech".into()),
    });
}

pub fn level(r: &mut Records, user: u128, skill: u128, level: f64, at: f64) {
    r.skill_levels.push(SkillLevel {
        user_id: id(user),
        skill_id: id(skill),
        level,
        assessed_at: day(at),
        source: None,
    });
}

/// Ends enrolment `i` (an index returned by `enrol`) with `outcome` at `at`.
pub fn complete(r: &mut Records, i: usize, at: f64, outcome: Outcome) {
    let e = &mut r.enrolments[i];
    e.status = EnrolmentStatus::Completed;
    e.outcome = Some(outcome);
    e.completed_at = Some(day(at));
    e.updated_at = day(at);
}

/// Withdraws enrolment `i` at `at`.
pub fn withdraw(r: &mut Records, i: usize, at: f64) {
    let e = &mut r.enrolments[i];
    e.status = EnrolmentStatus::Withdrawn;
    e.withdrawn_at = Some(day(at));
    e.updated_at = day(at);
}
