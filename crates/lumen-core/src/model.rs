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
        Ok(())
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
