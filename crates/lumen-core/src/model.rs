//! The learning-records model (PRODUCT §5): Lumen's canonical record of what
//! happened on the platform. Upstream services, bulk imports and the demo
//! organisation all map into these types; analytics read only these.
//!
//! Every record that comes from elsewhere carries an [`Origin`] (the source
//! system and its id), so collection can upsert and never store a record twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::Role;

/// Where a record came from: the upstream service (or importer) and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub source: String,
    pub external_id: String,
}

/// Names of the systems records come from (`Origin::source`).
pub mod sources {
    /// The platform's Directory service: organisations, departments, users.
    /// Platform access tokens name users and organisations by Directory id.
    pub const DIRECTORY: &str = "directory";
    /// The demo organisation seeded by `lumen demo`.
    pub const DEMO: &str = "demo";
    /// Accounts created with `lumen user add`.
    pub const LOCAL: &str = "local";
}

/// Namespace of Lumen's deterministic record ids (UUID v5).
const RECORD_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c75_6d65_6e00_4c52_8000_0000_0000_0001);

impl Origin {
    pub fn new(source: impl Into<String>, external_id: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            external_id: external_id.into(),
        }
    }

    /// Lumen's id for this upstream record of the given kind (e.g. "user"):
    /// the same inputs always give the same id, so collecting a record twice
    /// upserts one row instead of storing two.
    pub fn record_id(&self, kind: &str) -> Uuid {
        let name = format!("{kind}\u{1f}{}\u{1f}{}", self.source, self.external_id);
        Uuid::new_v5(&RECORD_ID_NAMESPACE, name.as_bytes())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Uuid,
    pub origin: Option<Origin>,
    pub name: String,
    /// Whether learners see each other's names on leaderboards.
    pub leaderboard_names: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub department_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub email: String,
    pub full_name: String,
    pub job_role: Option<String>,
    /// IANA time-zone name; streak days count in it.
    pub time_zone: String,
    pub avatar_url: Option<String>,
    pub leaderboard_opt_out: bool,
    /// Sorted, without duplicates.
    pub roles: Vec<Role>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Course {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub origin: Option<Origin>,
    pub title: String,
    pub status: CourseStatus,
    pub starts_at: Option<DateTime<Utc>>,
    pub length_days: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrolment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Uuid,
    pub origin: Option<Origin>,
    pub status: EnrolmentStatus,
    /// Present exactly when `status` is `Completed`.
    pub outcome: Option<Outcome>,
    /// Share of the course done, 0..=1.
    pub progress: f64,
    pub enrolled_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseUnit {
    pub id: Uuid,
    pub course_id: Uuid,
    pub origin: Option<Origin>,
    pub title: String,
    pub position: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentItem {
    pub id: Uuid,
    pub course_id: Uuid,
    pub unit_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub title: String,
    pub content_type: ContentType,
    pub duration_seconds: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentInteraction {
    pub id: Uuid,
    pub user_id: Uuid,
    pub content_item_id: Uuid,
    pub origin: Option<Origin>,
    pub occurred_at: DateTime<Utc>,
    /// `None` when the source does not measure time (click logs).
    pub time_spent_seconds: Option<i32>,
    pub clicks: i32,
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub id: Uuid,
    pub course_id: Uuid,
    pub unit_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub title: String,
    pub kind: AssessmentKind,
    pub max_score: f64,
    pub pass_score: Option<f64>,
    /// Weight in the course grade, percent.
    pub weight: f64,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentAttempt {
    pub id: Uuid,
    pub assessment_id: Uuid,
    pub user_id: Uuid,
    pub origin: Option<Origin>,
    pub attempt_number: i32,
    pub score: f64,
    pub started_at: Option<DateTime<Utc>>,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    pub id: Uuid,
    /// `None`: a platform-wide skill.
    pub organization_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub name: String,
    pub category: Option<String>,
}

/// One assessment of a user's level in a skill (0..=5); history is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillLevel {
    pub user_id: Uuid,
    pub skill_id: Uuid,
    pub level: f64,
    pub assessed_at: DateTime<Utc>,
    pub source: Option<String>,
}

/// The level a job role needs in a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillRequirement {
    pub organization_id: Uuid,
    pub job_role: String,
    pub skill_id: Uuid,
    pub required_level: f64,
}

/// An organisation's strategic target for a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillTarget {
    pub organization_id: Uuid,
    pub skill_id: Uuid,
    pub target_level: f64,
    pub priority: f64,
    pub target_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerFeedback {
    pub id: Uuid,
    pub course_id: Uuid,
    pub trainer_id: Uuid,
    pub learner_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub rating: i32,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub exercise: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub solved: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantQuestion {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub origin: Option<Origin>,
    pub asked_at: DateTime<Utc>,
    pub topic: Option<String>,
    pub resolved: bool,
}

/// Any learning record, as written to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    Organization(Organization),
    Department(Department),
    User(User),
    TrainerLearner { trainer_id: Uuid, learner_id: Uuid },
    Course(Course),
    CourseUnit(CourseUnit),
    CourseTrainer { course_id: Uuid, trainer_id: Uuid },
    Enrolment(Enrolment),
    TrainerFeedback(TrainerFeedback),
    ContentItem(ContentItem),
    ContentInteraction(ContentInteraction),
    Assessment(Assessment),
    AssessmentAttempt(AssessmentAttempt),
    Skill(Skill),
    SkillLevel(SkillLevel),
    SkillRequirement(SkillRequirement),
    SkillTarget(SkillTarget),
    LabSession(LabSession),
    AssistantQuestion(AssistantQuestion),
}

/// What identifies a stored record, for deletions (upstream tombstones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKey {
    /// A record with its own id, in the named table.
    Id {
        table: &'static str,
        id: Uuid,
    },
    TrainerLearner {
        trainer_id: Uuid,
        learner_id: Uuid,
    },
    CourseTrainer {
        course_id: Uuid,
        trainer_id: Uuid,
    },
    SkillLevel {
        user_id: Uuid,
        skill_id: Uuid,
        assessed_at: DateTime<Utc>,
    },
    SkillRequirement {
        organization_id: Uuid,
        job_role: String,
        skill_id: Uuid,
    },
    SkillTarget {
        organization_id: Uuid,
        skill_id: Uuid,
    },
}

/// One change to the store.
// Nearly every change is an upsert; boxing records would only add an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert(Record),
    Delete(RecordKey),
}

fn in_range(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), InvalidRecord> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(InvalidRecord::new(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

fn non_empty(field: &'static str, value: &str) -> Result<(), InvalidRecord> {
    if value.trim().is_empty() {
        Err(InvalidRecord::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn not_before(
    field: &'static str,
    later: Option<DateTime<Utc>>,
    earlier: Option<DateTime<Utc>>,
) -> Result<(), InvalidRecord> {
    match (later, earlier) {
        (Some(l), Some(e)) if l < e => Err(InvalidRecord::new(
            field,
            "is earlier than the date it must follow",
        )),
        _ => Ok(()),
    }
}

impl Record {
    /// Checks the record's own invariants (ranges, required text, date
    /// order). References to other records are checked by the store.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        match self {
            Record::Organization(o) => non_empty("name", &o.name),
            Record::Department(d) => non_empty("name", &d.name),
            Record::User(u) => {
                if !is_plausible_email(&u.email) {
                    return Err(InvalidRecord::new("email", "is not an email address"));
                }
                non_empty("fullName", &u.full_name)?;
                if u.roles.is_empty() {
                    return Err(InvalidRecord::new("roles", "at least one role is needed"));
                }
                Ok(())
            }
            Record::Course(c) => {
                non_empty("title", &c.title)?;
                if c.length_days == Some(0) {
                    return Err(InvalidRecord::new("lengthDays", "must be positive"));
                }
                Ok(())
            }
            Record::CourseUnit(u) => non_empty("title", &u.title),
            Record::Enrolment(e) => e.validate(),
            Record::TrainerFeedback(f) => in_range("rating", f.rating.into(), 1.0, 5.0),
            Record::ContentItem(c) => {
                non_empty("title", &c.title)?;
                if c.duration_seconds.is_some_and(|d| d < 0) {
                    return Err(InvalidRecord::new(
                        "durationSeconds",
                        "must not be negative",
                    ));
                }
                Ok(())
            }
            Record::ContentInteraction(i) => {
                if i.time_spent_seconds.is_some_and(|t| t < 0) {
                    return Err(InvalidRecord::new(
                        "timeSpentSeconds",
                        "must not be negative",
                    ));
                }
                if i.clicks < 0 {
                    return Err(InvalidRecord::new("clicks", "must not be negative"));
                }
                Ok(())
            }
            Record::Assessment(a) => {
                non_empty("title", &a.title)?;
                if !(a.max_score.is_finite() && a.max_score > 0.0) {
                    return Err(InvalidRecord::new("maxScore", "must be positive"));
                }
                if let Some(pass) = a.pass_score {
                    in_range("passScore", pass, 0.0, a.max_score)?;
                }
                in_range("weight", a.weight, 0.0, 100.0)
            }
            Record::AssessmentAttempt(a) => {
                if a.attempt_number < 1 {
                    return Err(InvalidRecord::new("attemptNumber", "must be at least 1"));
                }
                in_range("score", a.score, 0.0, f64::MAX)?;
                not_before("submittedAt", Some(a.submitted_at), a.started_at)
            }
            Record::Skill(s) => non_empty("name", &s.name),
            Record::SkillLevel(l) => in_range("level", l.level, 0.0, 5.0),
            Record::SkillRequirement(r) => {
                non_empty("jobRole", &r.job_role)?;
                in_range("requiredLevel", r.required_level, 0.0, 5.0)
            }
            Record::SkillTarget(t) => {
                in_range("targetLevel", t.target_level, 0.0, 5.0)?;
                if !(t.priority.is_finite() && t.priority > 0.0) {
                    return Err(InvalidRecord::new("priority", "must be positive"));
                }
                Ok(())
            }
            Record::LabSession(l) => {
                non_empty("exercise", &l.exercise)?;
                if l.attempts < 0 {
                    return Err(InvalidRecord::new("attempts", "must not be negative"));
                }
                not_before("endedAt", l.ended_at, Some(l.started_at))
            }
            Record::AssistantQuestion(_)
            | Record::TrainerLearner { .. }
            | Record::CourseTrainer { .. } => Ok(()),
        }
    }
}

/// A cheap, permissive check of an email address's shape: one `@`, a
/// non-empty local part, a dotted domain, no spaces, at most 254 characters.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Why a record is not a valid learning record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidRecord {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidRecord {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl Enrolment {
    /// Checks the invariants the store also enforces, so bad upstream data is
    /// rejected with a reason before it reaches the database.
    pub fn validate(&self) -> Result<(), InvalidRecord> {
        if !(0.0..=1.0).contains(&self.progress) || self.progress.is_nan() {
            return Err(InvalidRecord::new("progress", "must be between 0 and 1"));
        }
        match (self.status, self.outcome) {
            (EnrolmentStatus::Completed, None) => {
                return Err(InvalidRecord::new(
                    "outcome",
                    "a completed enrolment needs an outcome",
                ));
            }
            (EnrolmentStatus::Active | EnrolmentStatus::Withdrawn, Some(_)) => {
                return Err(InvalidRecord::new(
                    "outcome",
                    "only a completed enrolment has an outcome",
                ));
            }
            _ => {}
        }
        if self.status == EnrolmentStatus::Withdrawn && self.withdrawn_at.is_none() {
            return Err(InvalidRecord::new(
                "withdrawnAt",
                "a withdrawn enrolment needs its date",
            ));
        }
        if self.status == EnrolmentStatus::Completed && self.completed_at.is_none() {
            return Err(InvalidRecord::new(
                "completedAt",
                "a completed enrolment needs its date",
            ));
        }
        not_before("startedAt", self.started_at, Some(self.enrolled_at))?;
        not_before(
            "completedAt",
            self.completed_at,
            self.started_at.or(Some(self.enrolled_at)),
        )?;
        not_before("withdrawnAt", self.withdrawn_at, Some(self.enrolled_at))
    }

    /// Drop-off (PRODUCT §8): withdrew, or finished without passing.
    /// `None` while the enrolment is still active.
    pub fn dropped_off(&self) -> Option<bool> {
        match self.status {
            EnrolmentStatus::Active => None,
            EnrolmentStatus::Withdrawn => Some(true),
            EnrolmentStatus::Completed => Some(self.outcome == Some(Outcome::Fail)),
        }
    }
}

/// Declares a closed set of values stored as lowercase text, with parsing and
/// display in one place.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidRecord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(InvalidRecord::new(
                        stringify!($name),
                        format!("unknown value {other:?}"),
                    )),
                }
            }
        }
    };
}

text_enum!(
    /// Where a course is in its life.
    CourseStatus { Draft => "draft", Published => "published", Archived => "archived" }
);
text_enum!(
    /// Enrolment state: active until the learner completes or withdraws.
    EnrolmentStatus { Active => "active", Completed => "completed", Withdrawn => "withdrawn" }
);
text_enum!(
    /// Result of a completed enrolment.
    Outcome { Pass => "pass", Distinction => "distinction", Fail => "fail" }
);
text_enum!(
    /// Kind of content item.
    ContentType {
        Video => "video", Reading => "reading", Interactive => "interactive", Quiz => "quiz",
        Lab => "lab", Forum => "forum", Resource => "resource", Other => "other",
    }
);
text_enum!(
    /// Kind of assessment.
    AssessmentKind { Quiz => "quiz", Assignment => "assignment", Exam => "exam", Lab => "lab", Other => "other" }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolment(status: EnrolmentStatus, outcome: Option<Outcome>) -> Enrolment {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Enrolment {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            course_id: Uuid::nil(),
            origin: None,
            status,
            outcome,
            progress: 0.5,
            enrolled_at: t,
            started_at: None,
            last_active_at: None,
            completed_at: None,
            withdrawn_at: (status == EnrolmentStatus::Withdrawn).then_some(t),
            updated_at: t,
        }
    }

    #[test]
    fn drop_off_is_withdrawal_or_a_failed_completion() {
        use EnrolmentStatus::*;
        assert_eq!(enrolment(Active, None).dropped_off(), None);
        assert_eq!(enrolment(Withdrawn, None).dropped_off(), Some(true));
        assert_eq!(
            enrolment(Completed, Some(Outcome::Fail)).dropped_off(),
            Some(true)
        );
        assert_eq!(
            enrolment(Completed, Some(Outcome::Pass)).dropped_off(),
            Some(false)
        );
        assert_eq!(
            enrolment(Completed, Some(Outcome::Distinction)).dropped_off(),
            Some(false)
        );
    }

    #[test]
    fn enrolment_validation_names_the_bad_field() {
        let mut e = enrolment(EnrolmentStatus::Active, None);
        e.progress = 1.5;
        assert_eq!(e.validate().map_err(|e| e.field), Err("progress"));
        let e = enrolment(EnrolmentStatus::Completed, None);
        assert_eq!(e.validate().map_err(|e| e.field), Err("outcome"));
        let mut e = enrolment(EnrolmentStatus::Withdrawn, None);
        e.withdrawn_at = None;
        assert_eq!(e.validate().map_err(|e| e.field), Err("withdrawnAt"));
        assert!(enrolment(EnrolmentStatus::Active, None).validate().is_ok());
    }

    #[test]
    fn email_shapes_are_checked() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a@@b.co", "a b@c.co", "a@.co", "a@b.co.",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn record_ids_are_deterministic_and_distinct_per_kind_source_and_id() {
        let a = Origin::new("directory", "42");
        assert_eq!(
            a.record_id("user"),
            Origin::new("directory", "42").record_id("user")
        );
        assert_ne!(a.record_id("user"), a.record_id("course"));
        assert_ne!(
            a.record_id("user"),
            Origin::new("directory", "43").record_id("user")
        );
        assert_ne!(
            a.record_id("user"),
            Origin::new("auth", "42").record_id("user")
        );
    }

    #[test]
    fn text_enums_round_trip_and_reject_unknown_values() {
        for t in ContentType::ALL {
            assert_eq!(t.as_str().parse::<ContentType>(), Ok(*t));
        }
        assert!("podcast".parse::<ContentType>().is_err());
        assert_eq!("withdrawn".parse(), Ok(EnrolmentStatus::Withdrawn));
    }
}
