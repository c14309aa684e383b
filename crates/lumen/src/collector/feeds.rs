//! The upstream feeds Lumen collects (`docs/upstreams/`) and how each item
//! becomes a learning record. Upstream ids become Lumen ids through
//! `Origin::record_id`, so references between services resolve without a
//! lookup and collecting twice writes the same rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lumen_core::Role;
use lumen_core::model::{
    Assessment, AssessmentAttempt, AssistantQuestion, Change, ContentInteraction, ContentItem,
    Course, CourseUnit, Department, Enrolment, LabSession, Organization, Origin, Record, RecordKey,
    Skill, SkillLevel, SkillRequirement, SkillTarget, TrainerFeedback, User,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// Why an upstream record was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    MissingField,
    WrongType,
    OutOfRange,
    UnknownReference,
    Duplicate,
    /// The page itself could not be read (e.g. truncated JSON).
    MalformedPage,
    /// It links records of different organisations (an enrolment of one
    /// organisation's learner in another's course).
    CrossOrganization,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingField => "missing-field",
            Reason::WrongType => "wrong-type",
            Reason::OutOfRange => "out-of-range",
            Reason::UnknownReference => "unknown-reference",
            Reason::Duplicate => "duplicate",
            Reason::MalformedPage => "malformed-page",
            Reason::CrossOrganization => "cross-organization",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// One item of a feed, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub upstream_id: String,
    pub updated_at: DateTime<Utc>,
    pub change: Change,
}

/// What parsing may consult besides the item.
#[derive(Debug, Default)]
pub struct Context {
    /// Maximum score of every stored assessment.
    pub assessment_max: HashMap<Uuid, f64>,
}

pub struct Feed {
    pub service: &'static str,
    /// Feed name, e.g. `enrolments`.
    pub name: &'static str,
    /// Path under the service's base URL.
    pub path: &'static str,
    parse: fn(&Value, &Context) -> Result<Change, Rejection>,
}

impl Feed {
    pub fn parse(&self, item: &Value, ctx: &Context) -> Result<Parsed, Rejection> {
        let head: Head = decode(item)?;
        let change = (self.parse)(item, ctx)?;
        Ok(Parsed {
            upstream_id: head.id,
            updated_at: head.updated_at,
            change,
        })
    }
}

/// Every collected feed, in dependency order (referenced records first).
pub const FEEDS: [Feed; 19] = [
    Feed {
        service: DIRECTORY,
        name: "organizations",
        path: "/api/v1/organizations",
        parse: organization,
    },
    Feed {
        service: DIRECTORY,
        name: "departments",
        path: "/api/v1/departments",
        parse: department,
    },
    Feed {
        service: DIRECTORY,
        name: "users",
        path: "/api/v1/users",
        parse: user,
    },
    Feed {
        service: DIRECTORY,
        name: "trainer-learners",
        path: "/api/v1/trainer-learners",
        parse: trainer_learner,
    },
    Feed {
        service: COURSE_BUILDER,
        name: "courses",
        path: "/api/v1/courses",
        parse: course,
    },
    Feed {
        service: COURSE_BUILDER,
        name: "course-units",
        path: "/api/v1/course-units",
        parse: course_unit,
    },
    Feed {
        service: COURSE_BUILDER,
        name: "course-trainers",
        path: "/api/v1/course-trainers",
        parse: course_trainer,
    },
    Feed {
        service: COURSE_BUILDER,
        name: "enrolments",
        path: "/api/v1/enrolments",
        parse: enrolment,
    },
    Feed {
        service: COURSE_BUILDER,
        name: "trainer-feedback",
        path: "/api/v1/trainer-feedback",
        parse: feedback,
    },
    Feed {
        service: CONTENT_STUDIO,
        name: "content-items",
        path: "/api/v1/content-items",
        parse: content_item,
    },
    Feed {
        service: CONTENT_STUDIO,
        name: "content-interactions",
        path: "/api/v1/content-interactions",
        parse: interaction,
    },
    Feed {
        service: ASSESSMENT,
        name: "assessments",
        path: "/api/v1/assessments",
        parse: assessment,
    },
    Feed {
        service: ASSESSMENT,
        name: "assessment-attempts",
        path: "/api/v1/assessment-attempts",
        parse: attempt,
    },
    Feed {
        service: SKILLS_ENGINE,
        name: "skills",
        path: "/api/v1/skills",
        parse: skill,
    },
    Feed {
        service: SKILLS_ENGINE,
        name: "skill-levels",
        path: "/api/v1/skill-levels",
        parse: skill_level,
    },
    Feed {
        service: SKILLS_ENGINE,
        name: "job-role-requirements",
        path: "/api/v1/job-role-requirements",
        parse: requirement,
    },
    Feed {
        service: SKILLS_ENGINE,
        name: "skill-targets",
        path: "/api/v1/skill-targets",
        parse: target,
    },
    Feed {
        service: DEVLAB,
        name: "lab-sessions",
        path: "/api/v1/lab-sessions",
        parse: lab_session,
    },
    Feed {
        service: RAG_ASSISTANT,
        name: "assistant-questions",
        path: "/api/v1/assistant-questions",
        parse: question,
    },
];

pub const DIRECTORY: &str = "directory";
pub const COURSE_BUILDER: &str = "course-builder";
pub const CONTENT_STUDIO: &str = "content-studio";
pub const ASSESSMENT: &str = "assessment";
pub const SKILLS_ENGINE: &str = "skills-engine";
pub const DEVLAB: &str = "devlab";
pub const RAG_ASSISTANT: &str = "rag-assistant";

// ---- decoding ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    id: String,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tombstone {
    #[serde(default)]
    deleted: bool,
}

fn decode<T: DeserializeOwned>(item: &Value) -> Result<T, Rejection> {
    T::deserialize(item).map_err(|e| {
        let msg = e.to_string();
        let reason = if msg.starts_with("missing field") {
            Reason::MissingField
        } else if msg.starts_with("invalid type") {
            Reason::WrongType
        } else {
            Reason::OutOfRange
        };
        Rejection::new(reason, msg)
    })
}

fn is_tombstone(item: &Value) -> Result<bool, Rejection> {
    Ok(decode::<Tombstone>(item)?.deleted)
}

/// Lumen's id of the record `kind` that `service` calls `id`.
pub fn rid(service: &str, kind: &str, id: &str) -> Uuid {
    Origin::new(service, id).record_id(kind)
}

fn origin(service: &str, id: &str) -> Option<Origin> {
    Some(Origin::new(service, id))
}

fn user_id(id: &str) -> Uuid {
    rid(DIRECTORY, "user", id)
}
fn org_id(id: &str) -> Uuid {
    rid(DIRECTORY, "organization", id)
}
fn course_id(id: &str) -> Uuid {
    rid(COURSE_BUILDER, "course", id)
}
fn unit_id(id: &str) -> Uuid {
    rid(COURSE_BUILDER, "course-unit", id)
}
fn skill_id(id: &str) -> Uuid {
    rid(SKILLS_ENGINE, "skill", id)
}

fn deleted(table: &'static str, service: &str, kind: &str, id: &str) -> Change {
    Change::Delete(RecordKey::Id {
        table,
        id: rid(service, kind, id),
    })
}

fn parse_enum<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, Rejection> {
    value.parse().map_err(|_| {
        Rejection::new(
            Reason::OutOfRange,
            format!("{field}: unknown value {value:?}"),
        )
    })
}

fn in_range(field: &str, value: f64, min: f64, max: f64) -> Result<(), Rejection> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Rejection::new(
            Reason::OutOfRange,
            format!("{field} = {value} is outside {min}..{max}"),
        ))
    }
}

fn int(field: &str, value: i64) -> Result<i32, Rejection> {
    i32::try_from(value).map_err(|_| {
        Rejection::new(
            Reason::OutOfRange,
            format!("{field} = {value} is too large"),
        )
    })
}

// ---- the feeds ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationItem {
    id: String,
    name: String,
    #[serde(default)]
    leaderboard_names: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn organization(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "organizations",
            DIRECTORY,
            "organization",
            &head.id,
        ));
    }
    let o: OrganizationItem = decode(item)?;
    Ok(Change::Upsert(Record::Organization(Organization {
        id: org_id(&o.id),
        origin: origin(DIRECTORY, &o.id),
        name: o.name,
        leaderboard_names: o.leaderboard_names,
        created_at: o.created_at,
        updated_at: o.updated_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DepartmentItem {
    id: String,
    organization_id: String,
    parent_id: Option<String>,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn department(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("departments", DIRECTORY, "department", &head.id));
    }
    let d: DepartmentItem = decode(item)?;
    Ok(Change::Upsert(Record::Department(Department {
        id: rid(DIRECTORY, "department", &d.id),
        organization_id: org_id(&d.organization_id),
        parent_id: d.parent_id.map(|p| rid(DIRECTORY, "department", &p)),
        origin: origin(DIRECTORY, &d.id),
        name: d.name,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserItem {
    id: String,
    organization_id: String,
    department_id: Option<String>,
    email: String,
    full_name: String,
    job_role: Option<String>,
    time_zone: Option<String>,
    avatar_url: Option<String>,
    #[serde(default)]
    leaderboard_opt_out: bool,
    roles: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn user(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("users", DIRECTORY, "user", &head.id));
    }
    let u: UserItem = decode(item)?;
    let mut roles = u
        .roles
        .iter()
        .map(|r| parse_enum::<Role>("roles", r))
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    Ok(Change::Upsert(Record::User(User {
        id: user_id(&u.id),
        organization_id: org_id(&u.organization_id),
        department_id: u.department_id.map(|d| rid(DIRECTORY, "department", &d)),
        origin: origin(DIRECTORY, &u.id),
        email: u.email,
        full_name: u.full_name,
        job_role: u.job_role,
        time_zone: u.time_zone.unwrap_or_else(|| "UTC".into()),
        avatar_url: u.avatar_url,
        leaderboard_opt_out: u.leaderboard_opt_out,
        roles,
        last_login_at: None,
        created_at: u.created_at,
        updated_at: u.updated_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrainerLearnerItem {
    trainer_id: String,
    learner_id: String,
}

fn trainer_learner(item: &Value, _: &Context) -> Result<Change, Rejection> {
    let l: TrainerLearnerItem = decode(item)?;
    let (trainer_id, learner_id) = (user_id(&l.trainer_id), user_id(&l.learner_id));
    Ok(if is_tombstone(item)? {
        Change::Delete(RecordKey::TrainerLearner {
            trainer_id,
            learner_id,
        })
    } else {
        Change::Upsert(Record::TrainerLearner {
            trainer_id,
            learner_id,
        })
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CourseItem {
    id: String,
    organization_id: String,
    title: String,
    status: String,
    starts_at: Option<DateTime<Utc>>,
    length_days: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn course(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("courses", COURSE_BUILDER, "course", &head.id));
    }
    let c: CourseItem = decode(item)?;
    let length_days = match c.length_days {
        Some(d) if d <= 0 => {
            return Err(Rejection::new(
                Reason::OutOfRange,
                "lengthDays must be positive",
            ));
        }
        Some(d) => Some(
            u32::try_from(d)
                .map_err(|_| Rejection::new(Reason::OutOfRange, "lengthDays too large"))?,
        ),
        None => None,
    };
    Ok(Change::Upsert(Record::Course(Course {
        id: course_id(&c.id),
        organization_id: org_id(&c.organization_id),
        origin: origin(COURSE_BUILDER, &c.id),
        title: c.title,
        status: parse_enum("status", &c.status)?,
        starts_at: c.starts_at,
        length_days,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CourseUnitItem {
    id: String,
    course_id: String,
    title: String,
    #[serde(default)]
    position: i64,
}

fn course_unit(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "course_units",
            COURSE_BUILDER,
            "course-unit",
            &head.id,
        ));
    }
    let u: CourseUnitItem = decode(item)?;
    Ok(Change::Upsert(Record::CourseUnit(CourseUnit {
        id: unit_id(&u.id),
        course_id: course_id(&u.course_id),
        origin: origin(COURSE_BUILDER, &u.id),
        title: u.title,
        position: int("position", u.position)?,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CourseTrainerItem {
    course_id: String,
    trainer_id: String,
}

fn course_trainer(item: &Value, _: &Context) -> Result<Change, Rejection> {
    let l: CourseTrainerItem = decode(item)?;
    let (course_id, trainer_id) = (course_id(&l.course_id), user_id(&l.trainer_id));
    Ok(if is_tombstone(item)? {
        Change::Delete(RecordKey::CourseTrainer {
            course_id,
            trainer_id,
        })
    } else {
        Change::Upsert(Record::CourseTrainer {
            course_id,
            trainer_id,
        })
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrolmentItem {
    id: String,
    user_id: String,
    course_id: String,
    status: String,
    outcome: Option<String>,
    #[serde(default)]
    progress: f64,
    enrolled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    last_active_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

fn enrolment(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("enrolments", COURSE_BUILDER, "enrolment", &head.id));
    }
    let e: EnrolmentItem = decode(item)?;
    Ok(Change::Upsert(Record::Enrolment(Enrolment {
        id: rid(COURSE_BUILDER, "enrolment", &e.id),
        user_id: user_id(&e.user_id),
        course_id: course_id(&e.course_id),
        origin: origin(COURSE_BUILDER, &e.id),
        status: parse_enum("status", &e.status)?,
        outcome: e
            .outcome
            .as_deref()
            .map(|o| parse_enum("outcome", o))
            .transpose()?,
        progress: e.progress,
        enrolled_at: e.enrolled_at,
        started_at: e.started_at,
        last_active_at: e.last_active_at,
        completed_at: e.completed_at,
        withdrawn_at: e.withdrawn_at,
        updated_at: e.updated_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedbackItem {
    id: String,
    course_id: String,
    trainer_id: String,
    learner_id: Option<String>,
    rating: i64,
    submitted_at: DateTime<Utc>,
}

fn feedback(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "trainer_feedback",
            COURSE_BUILDER,
            "trainer-feedback",
            &head.id,
        ));
    }
    let f: FeedbackItem = decode(item)?;
    Ok(Change::Upsert(Record::TrainerFeedback(TrainerFeedback {
        id: rid(COURSE_BUILDER, "trainer-feedback", &f.id),
        course_id: course_id(&f.course_id),
        trainer_id: user_id(&f.trainer_id),
        learner_id: f.learner_id.as_deref().map(user_id),
        origin: origin(COURSE_BUILDER, &f.id),
        rating: int("rating", f.rating)?,
        submitted_at: f.submitted_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentItemItem {
    id: String,
    course_id: String,
    unit_id: Option<String>,
    title: String,
    content_type: String,
    duration_seconds: Option<i64>,
}

fn content_item(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "content_items",
            CONTENT_STUDIO,
            "content-item",
            &head.id,
        ));
    }
    let c: ContentItemItem = decode(item)?;
    Ok(Change::Upsert(Record::ContentItem(ContentItem {
        id: rid(CONTENT_STUDIO, "content-item", &c.id),
        course_id: course_id(&c.course_id),
        unit_id: c.unit_id.as_deref().map(unit_id),
        origin: origin(CONTENT_STUDIO, &c.id),
        title: c.title,
        content_type: parse_enum("contentType", &c.content_type)?,
        duration_seconds: c
            .duration_seconds
            .map(|d| int("durationSeconds", d))
            .transpose()?,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InteractionItem {
    id: String,
    user_id: String,
    content_item_id: String,
    occurred_at: DateTime<Utc>,
    time_spent_seconds: Option<i64>,
    #[serde(default = "one")]
    clicks: i64,
    #[serde(default)]
    completed: bool,
}

fn one() -> i64 {
    1
}

fn interaction(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "content_interactions",
            CONTENT_STUDIO,
            "content-interaction",
            &head.id,
        ));
    }
    let i: InteractionItem = decode(item)?;
    Ok(Change::Upsert(Record::ContentInteraction(
        ContentInteraction {
            id: rid(CONTENT_STUDIO, "content-interaction", &i.id),
            user_id: user_id(&i.user_id),
            content_item_id: rid(CONTENT_STUDIO, "content-item", &i.content_item_id),
            origin: origin(CONTENT_STUDIO, &i.id),
            occurred_at: i.occurred_at,
            time_spent_seconds: i
                .time_spent_seconds
                .map(|t| int("timeSpentSeconds", t))
                .transpose()?,
            clicks: int("clicks", i.clicks)?,
            completed: i.completed,
        },
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssessmentItem {
    id: String,
    course_id: String,
    unit_id: Option<String>,
    title: String,
    kind: String,
    max_score: f64,
    pass_score: Option<f64>,
    #[serde(default)]
    weight: f64,
    due_at: Option<DateTime<Utc>>,
}

fn assessment(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("assessments", ASSESSMENT, "assessment", &head.id));
    }
    let a: AssessmentItem = decode(item)?;
    Ok(Change::Upsert(Record::Assessment(Assessment {
        id: rid(ASSESSMENT, "assessment", &a.id),
        course_id: course_id(&a.course_id),
        unit_id: a.unit_id.as_deref().map(unit_id),
        origin: origin(ASSESSMENT, &a.id),
        title: a.title,
        kind: parse_enum("kind", &a.kind)?,
        max_score: a.max_score,
        pass_score: a.pass_score,
        weight: a.weight,
        due_at: a.due_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttemptItem {
    id: String,
    assessment_id: String,
    user_id: String,
    #[serde(default = "one")]
    attempt_number: i64,
    score: f64,
    started_at: Option<DateTime<Utc>>,
    submitted_at: DateTime<Utc>,
}

fn attempt(item: &Value, ctx: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "assessment_attempts",
            ASSESSMENT,
            "assessment-attempt",
            &head.id,
        ));
    }
    let a: AttemptItem = decode(item)?;
    let assessment_id = rid(ASSESSMENT, "assessment", &a.assessment_id);
    // The score's ceiling is the assessment's; an unknown assessment is
    // reported by the store as an unknown reference.
    if let Some(max) = ctx.assessment_max.get(&assessment_id) {
        in_range("score", a.score, 0.0, *max)?;
    }
    Ok(Change::Upsert(Record::AssessmentAttempt(
        AssessmentAttempt {
            id: rid(ASSESSMENT, "assessment-attempt", &a.id),
            assessment_id,
            user_id: user_id(&a.user_id),
            origin: origin(ASSESSMENT, &a.id),
            attempt_number: int("attemptNumber", a.attempt_number)?,
            score: a.score,
            started_at: a.started_at,
            submitted_at: a.submitted_at,
        },
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkillItem {
    id: String,
    organization_id: Option<String>,
    name: String,
    category: Option<String>,
}

fn skill(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("skills", SKILLS_ENGINE, "skill", &head.id));
    }
    let s: SkillItem = decode(item)?;
    Ok(Change::Upsert(Record::Skill(Skill {
        id: skill_id(&s.id),
        organization_id: s.organization_id.as_deref().map(org_id),
        origin: origin(SKILLS_ENGINE, &s.id),
        name: s.name,
        category: s.category,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkillLevelItem {
    user_id: String,
    skill_id: String,
    #[serde(default)]
    level: Option<f64>,
    assessed_at: DateTime<Utc>,
}

fn skill_level(item: &Value, _: &Context) -> Result<Change, Rejection> {
    let l: SkillLevelItem = decode(item)?;
    let (user, skill) = (user_id(&l.user_id), skill_id(&l.skill_id));
    if is_tombstone(item)? {
        return Ok(Change::Delete(RecordKey::SkillLevel {
            user_id: user,
            skill_id: skill,
            assessed_at: l.assessed_at,
        }));
    }
    let level = l
        .level
        .ok_or_else(|| Rejection::new(Reason::MissingField, "missing field `level`"))?;
    Ok(Change::Upsert(Record::SkillLevel(SkillLevel {
        user_id: user,
        skill_id: skill,
        level,
        assessed_at: l.assessed_at,
        source: Some(SKILLS_ENGINE.into()),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequirementItem {
    organization_id: String,
    job_role: String,
    skill_id: String,
    required_level: Option<f64>,
}

fn requirement(item: &Value, _: &Context) -> Result<Change, Rejection> {
    let r: RequirementItem = decode(item)?;
    let (organization_id, skill) = (org_id(&r.organization_id), skill_id(&r.skill_id));
    if is_tombstone(item)? {
        return Ok(Change::Delete(RecordKey::SkillRequirement {
            organization_id,
            job_role: r.job_role,
            skill_id: skill,
        }));
    }
    let required_level = r
        .required_level
        .ok_or_else(|| Rejection::new(Reason::MissingField, "missing field `requiredLevel`"))?;
    Ok(Change::Upsert(Record::SkillRequirement(SkillRequirement {
        organization_id,
        job_role: r.job_role,
        skill_id: skill,
        required_level,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetItem {
    organization_id: String,
    skill_id: String,
    target_level: Option<f64>,
    priority: Option<f64>,
    target_date: Option<DateTime<Utc>>,
}

fn target(item: &Value, _: &Context) -> Result<Change, Rejection> {
    let t: TargetItem = decode(item)?;
    let (organization_id, skill) = (org_id(&t.organization_id), skill_id(&t.skill_id));
    if is_tombstone(item)? {
        return Ok(Change::Delete(RecordKey::SkillTarget {
            organization_id,
            skill_id: skill,
        }));
    }
    let target_level = t
        .target_level
        .ok_or_else(|| Rejection::new(Reason::MissingField, "missing field `targetLevel`"))?;
    Ok(Change::Upsert(Record::SkillTarget(SkillTarget {
        organization_id,
        skill_id: skill,
        target_level,
        priority: t.priority.unwrap_or(1.0),
        target_date: t.target_date,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabSessionItem {
    id: String,
    user_id: String,
    course_id: Option<String>,
    exercise: String,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    #[serde(default = "one")]
    attempts: i64,
    #[serde(default)]
    solved: bool,
}

fn lab_session(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted("lab_sessions", DEVLAB, "lab-session", &head.id));
    }
    let l: LabSessionItem = decode(item)?;
    Ok(Change::Upsert(Record::LabSession(LabSession {
        id: rid(DEVLAB, "lab-session", &l.id),
        user_id: user_id(&l.user_id),
        course_id: l.course_id.as_deref().map(course_id),
        origin: origin(DEVLAB, &l.id),
        exercise: l.exercise,
        started_at: l.started_at,
        ended_at: l.ended_at,
        attempts: int("attempts", l.attempts)?,
        solved: l.solved,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuestionItem {
    id: String,
    user_id: String,
    course_id: Option<String>,
    asked_at: DateTime<Utc>,
    topic: Option<String>,
    #[serde(default)]
    resolved: bool,
}

fn question(item: &Value, _: &Context) -> Result<Change, Rejection> {
    if is_tombstone(item)? {
        let head: Head = decode(item)?;
        return Ok(deleted(
            "assistant_questions",
            RAG_ASSISTANT,
            "assistant-question",
            &head.id,
        ));
    }
    let q: QuestionItem = decode(item)?;
    Ok(Change::Upsert(Record::AssistantQuestion(
        AssistantQuestion {
            id: rid(RAG_ASSISTANT, "assistant-question", &q.id),
            user_id: user_id(&q.user_id),
            course_id: q.course_id.as_deref().map(course_id),
            origin: origin(RAG_ASSISTANT, &q.id),
            asked_at: q.asked_at,
            topic: q.topic,
            resolved: q.resolved,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(feed: &str, item: Value) -> Result<Parsed, Rejection> {
        let f = FEEDS.iter().find(|f| f.name == feed).expect("feed");
        f.parse(&item, &Context::default())
    }

    fn enrolment_item() -> Value {
        json!({"id": "e1", "userId": "u1", "courseId": "c1", "status": "active", "outcome": null,
               "progress": 0.4, "enrolledAt": "2025-09-01T08:00:00Z", "updatedAt": "2025-10-01T08:00:00Z"})
    }

    #[test]
    fn a_valid_item_maps_ids_through_their_owning_service() {
        let p = parse("enrolments", enrolment_item()).expect("valid");
        assert_eq!(p.upstream_id, "e1");
        let Change::Upsert(Record::Enrolment(e)) = p.change else {
            panic!("not an enrolment")
        };
        assert_eq!(e.user_id, rid(DIRECTORY, "user", "u1"));
        assert_eq!(e.course_id, rid(COURSE_BUILDER, "course", "c1"));
        assert_eq!(e.id, rid(COURSE_BUILDER, "enrolment", "e1"));
    }

    #[test]
    fn bad_items_are_rejected_with_their_reason() {
        let mut missing = enrolment_item();
        missing.as_object_mut().expect("object").remove("courseId");
        assert_eq!(
            parse("enrolments", missing).map_err(|r| r.reason),
            Err(Reason::MissingField)
        );
        let mut wrong = enrolment_item();
        wrong["progress"] = json!("lots");
        assert_eq!(
            parse("enrolments", wrong).map_err(|r| r.reason),
            Err(Reason::WrongType)
        );
        let mut status = enrolment_item();
        status["status"] = json!("paused");
        assert_eq!(
            parse("enrolments", status).map_err(|r| r.reason),
            Err(Reason::OutOfRange)
        );
        let mut date = enrolment_item();
        date["enrolledAt"] = json!("yesterday");
        assert!(parse("enrolments", date).is_err());
    }

    #[test]
    fn attempt_scores_above_the_assessments_maximum_are_out_of_range() {
        let mut ctx = Context::default();
        ctx.assessment_max
            .insert(rid(ASSESSMENT, "assessment", "a1"), 10.0);
        let item = json!({"id": "t1", "assessmentId": "a1", "userId": "u1", "score": 11.0,
                          "submittedAt": "2025-10-01T08:00:00Z", "updatedAt": "2025-10-01T08:00:00Z"});
        let feed = FEEDS
            .iter()
            .find(|f| f.name == "assessment-attempts")
            .expect("feed");
        assert_eq!(
            feed.parse(&item, &ctx).map_err(|r| r.reason),
            Err(Reason::OutOfRange)
        );
    }

    #[test]
    fn tombstones_become_deletions() {
        let item = json!({"id": "e1", "updatedAt": "2025-10-01T08:00:00Z", "deleted": true});
        let p = parse("enrolments", item).expect("tombstone");
        assert_eq!(
            p.change,
            Change::Delete(RecordKey::Id {
                table: "enrolments",
                id: rid(COURSE_BUILDER, "enrolment", "e1")
            })
        );
        let link = json!({"id": "l1", "updatedAt": "2025-10-01T08:00:00Z", "deleted": true,
                          "courseId": "c1", "trainerId": "t1"});
        assert!(matches!(
            parse("course-trainers", link).map(|p| p.change),
            Ok(Change::Delete(_))
        ));
    }
}
