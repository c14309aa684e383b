//! The bulk import format of learning records (docs/import.md): one NDJSON
//! file per record kind, named `<kind>.ndjson`, one JSON object per line.
//!
//! Records name themselves and each other by *external* ids (any string);
//! Lumen's id of a record is `Origin::new(source, external id).record_id(kind)`,
//! so importing the same file twice upserts the same rows, and a reference
//! resolves to the same id as the record it names, with no lookup.
//!
//! This module only decodes and checks lines; reading files and writing the
//! store is the service's (`lumen::import`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::Role;
use crate::model::{
    Assessment, AssessmentAttempt, AssessmentKind, AssistantQuestion, ContentInteraction,
    ContentItem, ContentType, Course, CourseStatus, CourseUnit, Department, Enrolment,
    EnrolmentStatus, LabSession, Organization, Origin, Outcome, Record, Skill, SkillLevel,
    SkillRequirement, SkillTarget, TrainerFeedback, User,
};

/// The record kinds of the format, in dependency order (a kind only
/// references kinds before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Organizations,
    Departments,
    Users,
    TrainerLearners,
    Courses,
    CourseUnits,
    CourseTrainers,
    Enrolments,
    TrainerFeedback,
    ContentItems,
    Interactions,
    Assessments,
    Attempts,
    Skills,
    SkillLevels,
    SkillRequirements,
    SkillTargets,
    LabSessions,
    AssistantQuestions,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::Organizations,
        Kind::Departments,
        Kind::Users,
        Kind::TrainerLearners,
        Kind::Courses,
        Kind::CourseUnits,
        Kind::CourseTrainers,
        Kind::Enrolments,
        Kind::TrainerFeedback,
        Kind::ContentItems,
        Kind::Interactions,
        Kind::Assessments,
        Kind::Attempts,
        Kind::Skills,
        Kind::SkillLevels,
        Kind::SkillRequirements,
        Kind::SkillTargets,
        Kind::LabSessions,
        Kind::AssistantQuestions,
    ];

    /// The file stem: `users` for `users.ndjson`.
    pub fn file_stem(self) -> &'static str {
        match self {
            Kind::Organizations => "organizations",
            Kind::Departments => "departments",
            Kind::Users => "users",
            Kind::TrainerLearners => "trainer-learners",
            Kind::Courses => "courses",
            Kind::CourseUnits => "course-units",
            Kind::CourseTrainers => "course-trainers",
            Kind::Enrolments => "enrolments",
            Kind::TrainerFeedback => "trainer-feedback",
            Kind::ContentItems => "content-items",
            Kind::Interactions => "interactions",
            Kind::Assessments => "assessments",
            Kind::Attempts => "attempts",
            Kind::Skills => "skills",
            Kind::SkillLevels => "skill-levels",
            Kind::SkillRequirements => "skill-requirements",
            Kind::SkillTargets => "skill-targets",
            Kind::LabSessions => "lab-sessions",
            Kind::AssistantQuestions => "assistant-questions",
        }
    }

    pub fn from_file_stem(stem: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.file_stem() == stem)
    }
}

/// The name under which ids are derived for records of each kind
/// (`Origin::record_id`), shared with the OULAD mapping.
pub mod id_kinds {
    pub const ORGANIZATION: &str = "organization";
    pub const DEPARTMENT: &str = "department";
    pub const USER: &str = "user";
    pub const COURSE: &str = "course";
    pub const COURSE_UNIT: &str = "course-unit";
    pub const ENROLMENT: &str = "enrolment";
    pub const TRAINER_FEEDBACK: &str = "trainer-feedback";
    pub const CONTENT_ITEM: &str = "content-item";
    pub const INTERACTION: &str = "interaction";
    pub const ASSESSMENT: &str = "assessment";
    pub const ATTEMPT: &str = "attempt";
    pub const SKILL: &str = "skill";
    pub const LAB_SESSION: &str = "lab-session";
    pub const ASSISTANT_QUESTION: &str = "assistant-question";
}
use id_kinds as ids;

/// What every line of one import shares: the source its ids are derived
/// under (`import:<name>`), and the time stamped on records whose line
/// gives no `createdAt` / `updatedAt`.
#[derive(Debug, Clone)]
pub struct Context {
    pub source: String,
    pub now: DateTime<Utc>,
}

impl Context {
    /// The source name of an import called `name`.
    pub fn new(name: &str, now: DateTime<Utc>) -> Self {
        Self {
            source: format!("import:{name}"),
            now,
        }
    }

    fn origin(&self, external_id: &str) -> Option<Origin> {
        Some(Origin::new(self.source.clone(), external_id))
    }

    /// Lumen's id of the record of `kind` called `external_id` in this import.
    pub fn id(&self, kind: &str, external_id: &str) -> Uuid {
        Origin::new(self.source.clone(), external_id).record_id(kind)
    }

    fn opt_id(&self, kind: &str, external_id: &Option<String>) -> Option<Uuid> {
        external_id.as_deref().map(|x| self.id(kind, x))
    }
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

/// Decodes one line of a `kind` file into a checked record.
pub fn parse_line(kind: Kind, line: &str, ctx: &Context) -> Result<Record, LineError> {
    let record = match kind {
        Kind::Organizations => decode::<OrganizationLine>(line)?.into_record(ctx),
        Kind::Departments => decode::<DepartmentLine>(line)?.into_record(ctx),
        Kind::Users => decode::<UserLine>(line)?.into_record(ctx),
        Kind::TrainerLearners => decode::<TrainerLearnerLine>(line)?.into_record(ctx),
        Kind::Courses => decode::<CourseLine>(line)?.into_record(ctx),
        Kind::CourseUnits => decode::<CourseUnitLine>(line)?.into_record(ctx),
        Kind::CourseTrainers => decode::<CourseTrainerLine>(line)?.into_record(ctx),
        Kind::Enrolments => decode::<EnrolmentLine>(line)?.into_record(ctx),
        Kind::TrainerFeedback => decode::<FeedbackLine>(line)?.into_record(ctx),
        Kind::ContentItems => decode::<ContentItemLine>(line)?.into_record(ctx),
        Kind::Interactions => decode::<InteractionLine>(line)?.into_record(ctx),
        Kind::Assessments => decode::<AssessmentLine>(line)?.into_record(ctx),
        Kind::Attempts => decode::<AttemptLine>(line)?.into_record(ctx),
        Kind::Skills => decode::<SkillLine>(line)?.into_record(ctx),
        Kind::SkillLevels => decode::<SkillLevelLine>(line)?.into_record(ctx),
        Kind::SkillRequirements => decode::<SkillRequirementLine>(line)?.into_record(ctx),
        Kind::SkillTargets => decode::<SkillTargetLine>(line)?.into_record(ctx),
        Kind::LabSessions => decode::<LabSessionLine>(line)?.into_record(ctx),
        Kind::AssistantQuestions => decode::<QuestionLine>(line)?.into_record(ctx),
    };
    record
        .validate()
        .map_err(|e| LineError(format!("invalid record: {e}")))?;
    Ok(record)
}

fn decode<T: DeserializeOwned>(line: &str) -> Result<T, LineError> {
    serde_json::from_str(line).map_err(|e| {
        // serde_json's column refers to the line itself; keep its wording.
        LineError(if e.is_syntax() || e.is_eof() {
            format!("malformed JSON: {e}")
        } else {
            format!("bad field: {e}")
        })
    })
}

/// Parses a text enum (`status`, `contentType`, …) inside serde.
fn text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = crate::model::InvalidRecord>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn opt_text<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = crate::model::InvalidRecord>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

trait Line {
    fn into_record(self, ctx: &Context) -> Record;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrganizationLine {
    id: String,
    name: String,
    #[serde(default)]
    leaderboard_names: bool,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Line for OrganizationLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Organization(Organization {
            id: ctx.id(ids::ORGANIZATION, &self.id),
            origin: ctx.origin(&self.id),
            name: self.name,
            leaderboard_names: self.leaderboard_names,
            created_at: self.created_at.unwrap_or(ctx.now),
            updated_at: self.updated_at.unwrap_or(ctx.now),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DepartmentLine {
    id: String,
    organization_id: String,
    parent_id: Option<String>,
    name: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Line for DepartmentLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Department(Department {
            id: ctx.id(ids::DEPARTMENT, &self.id),
            organization_id: ctx.id(ids::ORGANIZATION, &self.organization_id),
            parent_id: ctx.opt_id(ids::DEPARTMENT, &self.parent_id),
            origin: ctx.origin(&self.id),
            name: self.name,
            created_at: self.created_at.unwrap_or(ctx.now),
            updated_at: self.updated_at.unwrap_or(ctx.now),
        })
    }
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

fn learner_only() -> Vec<Role> {
    vec![Role::Learner]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserLine {
    id: String,
    organization_id: String,
    department_id: Option<String>,
    email: String,
    full_name: String,
    job_role: Option<String>,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    avatar_url: Option<String>,
    #[serde(default)]
    leaderboard_opt_out: bool,
    #[serde(default = "learner_only")]
    roles: Vec<Role>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Line for UserLine {
    fn into_record(self, ctx: &Context) -> Record {
        let mut roles = self.roles;
        roles.sort();
        roles.dedup();
        Record::User(User {
            id: ctx.id(ids::USER, &self.id),
            organization_id: ctx.id(ids::ORGANIZATION, &self.organization_id),
            department_id: ctx.opt_id(ids::DEPARTMENT, &self.department_id),
            origin: ctx.origin(&self.id),
            email: self.email,
            full_name: self.full_name,
            job_role: self.job_role,
            time_zone: self.time_zone,
            avatar_url: self.avatar_url,
            leaderboard_opt_out: self.leaderboard_opt_out,
            roles,
            last_login_at: None,
            created_at: self.created_at.unwrap_or(ctx.now),
            updated_at: self.updated_at.unwrap_or(ctx.now),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TrainerLearnerLine {
    trainer_id: String,
    learner_id: String,
}

impl Line for TrainerLearnerLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::TrainerLearner {
            trainer_id: ctx.id(ids::USER, &self.trainer_id),
            learner_id: ctx.id(ids::USER, &self.learner_id),
        }
    }
}

fn published() -> CourseStatus {
    CourseStatus::Published
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CourseLine {
    id: String,
    organization_id: String,
    title: String,
    #[serde(default = "published", deserialize_with = "text")]
    status: CourseStatus,
    starts_at: Option<DateTime<Utc>>,
    length_days: Option<u32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Line for CourseLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Course(Course {
            id: ctx.id(ids::COURSE, &self.id),
            organization_id: ctx.id(ids::ORGANIZATION, &self.organization_id),
            origin: ctx.origin(&self.id),
            title: self.title,
            status: self.status,
            starts_at: self.starts_at,
            length_days: self.length_days,
            created_at: self.created_at.unwrap_or(ctx.now),
            updated_at: self.updated_at.unwrap_or(ctx.now),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CourseUnitLine {
    id: String,
    course_id: String,
    title: String,
    #[serde(default)]
    position: i32,
}

impl Line for CourseUnitLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::CourseUnit(CourseUnit {
            id: ctx.id(ids::COURSE_UNIT, &self.id),
            course_id: ctx.id(ids::COURSE, &self.course_id),
            origin: ctx.origin(&self.id),
            title: self.title,
            position: self.position,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CourseTrainerLine {
    course_id: String,
    trainer_id: String,
}

impl Line for CourseTrainerLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::CourseTrainer {
            course_id: ctx.id(ids::COURSE, &self.course_id),
            trainer_id: ctx.id(ids::USER, &self.trainer_id),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnrolmentLine {
    id: String,
    user_id: String,
    course_id: String,
    #[serde(deserialize_with = "text")]
    status: EnrolmentStatus,
    #[serde(default, deserialize_with = "opt_text")]
    outcome: Option<Outcome>,
    #[serde(default)]
    progress: f64,
    enrolled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    last_active_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl Line for EnrolmentLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Enrolment(Enrolment {
            id: ctx.id(ids::ENROLMENT, &self.id),
            user_id: ctx.id(ids::USER, &self.user_id),
            course_id: ctx.id(ids::COURSE, &self.course_id),
            origin: ctx.origin(&self.id),
            status: self.status,
            outcome: self.outcome,
            progress: self.progress,
            enrolled_at: self.enrolled_at,
            started_at: self.started_at,
            last_active_at: self.last_active_at,
            completed_at: self.completed_at,
            withdrawn_at: self.withdrawn_at,
            updated_at: self.updated_at.unwrap_or(ctx.now),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeedbackLine {
    id: String,
    course_id: String,
    trainer_id: String,
    learner_id: Option<String>,
    rating: i32,
    submitted_at: DateTime<Utc>,
}

impl Line for FeedbackLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::TrainerFeedback(TrainerFeedback {
            id: ctx.id(ids::TRAINER_FEEDBACK, &self.id),
            course_id: ctx.id(ids::COURSE, &self.course_id),
            trainer_id: ctx.id(ids::USER, &self.trainer_id),
            learner_id: ctx.opt_id(ids::USER, &self.learner_id),
            origin: ctx.origin(&self.id),
            rating: self.rating,
            submitted_at: self.submitted_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentItemLine {
    id: String,
    course_id: String,
    unit_id: Option<String>,
    title: String,
    #[serde(deserialize_with = "text")]
    content_type: ContentType,
    duration_seconds: Option<i32>,
}

impl Line for ContentItemLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::ContentItem(ContentItem {
            id: ctx.id(ids::CONTENT_ITEM, &self.id),
            course_id: ctx.id(ids::COURSE, &self.course_id),
            unit_id: ctx.opt_id(ids::COURSE_UNIT, &self.unit_id),
            origin: ctx.origin(&self.id),
            title: self.title,
            content_type: self.content_type,
            duration_seconds: self.duration_seconds,
        })
    }
}

fn one() -> i32 {
    1
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InteractionLine {
    id: String,
    user_id: String,
    content_item_id: String,
    occurred_at: DateTime<Utc>,
    time_spent_seconds: Option<i32>,
    #[serde(default = "one")]
    clicks: i32,
    #[serde(default)]
    completed: bool,
}

impl Line for InteractionLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::ContentInteraction(ContentInteraction {
            id: ctx.id(ids::INTERACTION, &self.id),
            user_id: ctx.id(ids::USER, &self.user_id),
            content_item_id: ctx.id(ids::CONTENT_ITEM, &self.content_item_id),
            origin: ctx.origin(&self.id),
            occurred_at: self.occurred_at,
            time_spent_seconds: self.time_spent_seconds,
            clicks: self.clicks,
            completed: self.completed,
        })
    }
}

fn hundred() -> f64 {
    100.0
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssessmentLine {
    id: String,
    course_id: String,
    unit_id: Option<String>,
    title: String,
    #[serde(deserialize_with = "text")]
    kind: AssessmentKind,
    #[serde(default = "hundred")]
    max_score: f64,
    pass_score: Option<f64>,
    #[serde(default)]
    weight: f64,
    due_at: Option<DateTime<Utc>>,
}

impl Line for AssessmentLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Assessment(Assessment {
            id: ctx.id(ids::ASSESSMENT, &self.id),
            course_id: ctx.id(ids::COURSE, &self.course_id),
            unit_id: ctx.opt_id(ids::COURSE_UNIT, &self.unit_id),
            origin: ctx.origin(&self.id),
            title: self.title,
            kind: self.kind,
            max_score: self.max_score,
            pass_score: self.pass_score,
            weight: self.weight,
            due_at: self.due_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AttemptLine {
    id: String,
    assessment_id: String,
    user_id: String,
    #[serde(default = "one")]
    attempt_number: i32,
    score: f64,
    started_at: Option<DateTime<Utc>>,
    submitted_at: DateTime<Utc>,
}

impl Line for AttemptLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::AssessmentAttempt(AssessmentAttempt {
            id: ctx.id(ids::ATTEMPT, &self.id),
            assessment_id: ctx.id(ids::ASSESSMENT, &self.assessment_id),
            user_id: ctx.id(ids::USER, &self.user_id),
            origin: ctx.origin(&self.id),
            attempt_number: self.attempt_number,
            score: self.score,
            started_at: self.started_at,
            submitted_at: self.submitted_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkillLine {
    id: String,
    /// Absent: a platform-wide skill.
    organization_id: Option<String>,
    name: String,
    category: Option<String>,
}

impl Line for SkillLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::Skill(Skill {
            id: ctx.id(ids::SKILL, &self.id),
            organization_id: ctx.opt_id(ids::ORGANIZATION, &self.organization_id),
            origin: ctx.origin(&self.id),
            name: self.name,
            category: self.category,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkillLevelLine {
    user_id: String,
    skill_id: String,
    level: f64,
    assessed_at: DateTime<Utc>,
}

impl Line for SkillLevelLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::SkillLevel(SkillLevel {
            user_id: ctx.id(ids::USER, &self.user_id),
            skill_id: ctx.id(ids::SKILL, &self.skill_id),
            level: self.level,
            assessed_at: self.assessed_at,
            source: Some(ctx.source.clone()),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkillRequirementLine {
    organization_id: String,
    job_role: String,
    skill_id: String,
    required_level: f64,
}

impl Line for SkillRequirementLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::SkillRequirement(SkillRequirement {
            organization_id: ctx.id(ids::ORGANIZATION, &self.organization_id),
            job_role: self.job_role,
            skill_id: ctx.id(ids::SKILL, &self.skill_id),
            required_level: self.required_level,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SkillTargetLine {
    organization_id: String,
    skill_id: String,
    target_level: f64,
    #[serde(default = "one_f64")]
    priority: f64,
    target_date: Option<DateTime<Utc>>,
}

fn one_f64() -> f64 {
    1.0
}

impl Line for SkillTargetLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::SkillTarget(SkillTarget {
            organization_id: ctx.id(ids::ORGANIZATION, &self.organization_id),
            skill_id: ctx.id(ids::SKILL, &self.skill_id),
            target_level: self.target_level,
            priority: self.priority,
            target_date: self.target_date,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LabSessionLine {
    id: String,
    user_id: String,
    course_id: Option<String>,
    exercise: String,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    #[serde(default = "one")]
    attempts: i32,
    #[serde(default)]
    solved: bool,
}

impl Line for LabSessionLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::LabSession(LabSession {
            id: ctx.id(ids::LAB_SESSION, &self.id),
            user_id: ctx.id(ids::USER, &self.user_id),
            course_id: ctx.opt_id(ids::COURSE, &self.course_id),
            origin: ctx.origin(&self.id),
            exercise: self.exercise,
            started_at: self.started_at,
            ended_at: self.ended_at,
            attempts: self.attempts,
            solved: self.solved,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QuestionLine {
    id: String,
    user_id: String,
    course_id: Option<String>,
    asked_at: DateTime<Utc>,
    topic: Option<String>,
    #[serde(default)]
    resolved: bool,
}

impl Line for QuestionLine {
    fn into_record(self, ctx: &Context) -> Record {
        Record::AssistantQuestion(AssistantQuestion {
            id: ctx.id(ids::ASSISTANT_QUESTION, &self.id),
            user_id: ctx.id(ids::USER, &self.user_id),
            course_id: ctx.opt_id(ids::COURSE, &self.course_id),
            origin: ctx.origin(&self.id),
            asked_at: self.asked_at,
            topic: self.topic,
            resolved: self.resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new(
            "t",
            DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        )
    }

    #[test]
    fn references_resolve_to_the_ids_of_the_records_they_name() {
        let ctx = ctx();
        let user = parse_line(
            Kind::Users,
            r#"{"id":"u1","organizationId":"o1","email":"a@b.co","fullName":"A"}"#,
            &ctx,
        );
        let Ok(Record::User(user)) = user else {
            panic!("user: {user:?}")
        };
        assert_eq!(user.roles, vec![Role::Learner]);
        assert_eq!(user.organization_id, ctx.id(ids::ORGANIZATION, "o1"));
        let e = parse_line(
            Kind::Enrolments,
            r#"{"id":"e1","userId":"u1","courseId":"c1","status":"active","enrolledAt":"2025-01-01T00:00:00Z"}"#,
            &ctx,
        );
        let Ok(Record::Enrolment(e)) = e else {
            panic!("enrolment: {e:?}")
        };
        assert_eq!(e.user_id, user.id);
        // Same line, same id: importing twice upserts.
        assert_eq!(e.id, ctx.id(ids::ENROLMENT, "e1"));
    }

    #[test]
    fn bad_lines_say_why() {
        let ctx = ctx();
        let reason = |kind, line| match parse_line(kind, line, &ctx) {
            Err(LineError(r)) => r,
            Ok(r) => panic!("accepted {r:?}"),
        };
        assert!(reason(Kind::Users, "{").starts_with("malformed JSON"));
        assert!(reason(Kind::Users, r#"{"id":"u"}"#).contains("missing field"));
        assert!(
            reason(
                Kind::Courses,
                r#"{"id":"c","organizationId":"o","title":"T","colour":1}"#
            )
            .contains("unknown field")
        );
        assert!(
            reason(
                Kind::ContentItems,
                r#"{"id":"i","courseId":"c","title":"T","contentType":"podcast"}"#
            )
            .contains("podcast")
        );
        assert!(
            reason(
                Kind::Enrolments,
                r#"{"id":"e","userId":"u","courseId":"c","status":"completed","enrolledAt":"2025-01-01T00:00:00Z"}"#
            )
            .starts_with("invalid record: outcome")
        );
    }

    #[test]
    fn every_kind_has_a_distinct_file_stem() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_file_stem(k.file_stem()), Some(k));
        }
        assert_eq!(Kind::from_file_stem("students"), None);
    }
}
