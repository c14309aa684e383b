//! The records the simulated services serve, in the contracts' JSON shape
//! (docs/upstreams/*.yaml), and the sorted feeds that hold them.

use serde::Serialize;
use uuid::Uuid;

/// Seconds since the Unix epoch, serialised as RFC 3339 UTC with `Z` and
/// whole seconds (`2025-10-01T07:15:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Ts(pub i64);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match chrono::DateTime::from_timestamp(self.0, 0) {
            Some(t) => s.collect_str(&t.format("%Y-%m-%dT%H:%M:%SZ")),
            None => Err(serde::ser::Error::custom("timestamp out of range")),
        }
    }
}

/// Formats seconds since the epoch like a served timestamp.
pub(crate) fn fmt_ts(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A feed item: ordered by (updatedAt, id).
pub(crate) trait Item: Serialize {
    fn updated(&self) -> i64;
    fn id(&self) -> Uuid;
    fn key(&self) -> (i64, Uuid) {
        (self.updated(), self.id())
    }
}

macro_rules! items {
    ($($t:ident),* $(,)?) => {
        $(impl Item for $t {
            fn updated(&self) -> i64 {
                self.updated_at.0
            }
            fn id(&self) -> Uuid {
                self.id
            }
        })*
    };
}

items!(
    Organization,
    Department,
    User,
    TrainerLearner,
    Course,
    CourseUnit,
    CourseTrainer,
    Enrolment,
    TrainerFeedback,
    ContentItem,
    ContentInteraction,
    Assessment,
    AssessmentAttempt,
    Skill,
    SkillLevel,
    JobRoleRequirement,
    SkillTarget,
    LabSession,
    AssistantQuestion,
    UserStatus,
);

/// One feed: every item generated (including ones that lie in the simulated
/// future), sorted by (updatedAt, id); `visible` items are served.
#[derive(Debug)]
pub(crate) struct Feed<T> {
    pub items: Vec<T>,
    pub visible: usize,
}

impl<T: Item> Feed<T> {
    pub(crate) fn new(mut items: Vec<T>) -> Self {
        items.sort_by_key(Item::key);
        Feed { items, visible: 0 }
    }

    /// Shows the items updated at or before `now`.
    pub(crate) fn reveal(&mut self, now: i64) {
        self.visible = self.items.partition_point(|i| i.updated() <= now);
    }

    /// The items served at the current simulated time.
    pub(crate) fn served(&self) -> &[T] {
        &self.items[..self.visible]
    }
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Feed {
            items: Vec::new(),
            visible: 0,
        }
    }
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Organization {
    pub id: Uuid,
    pub name: String,
    pub leaderboard_names: bool,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Department {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub department_id: Option<Uuid>,
    pub email: String,
    pub full_name: String,
    pub job_role: Option<String>,
    pub time_zone: &'static str,
    pub avatar_url: Option<String>,
    pub leaderboard_opt_out: bool,
    pub roles: Vec<&'static str>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrainerLearner {
    pub id: Uuid,
    pub trainer_id: Uuid,
    pub learner_id: Uuid,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Course {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub status: &'static str,
    pub starts_at: Option<Ts>,
    pub length_days: Option<u32>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CourseUnit {
    pub id: Uuid,
    pub course_id: Uuid,
    pub title: String,
    pub position: u32,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CourseTrainer {
    pub id: Uuid,
    pub course_id: Uuid,
    pub trainer_id: Uuid,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Enrolment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Uuid,
    pub status: &'static str,
    pub outcome: Option<&'static str>,
    pub progress: f64,
    pub enrolled_at: Ts,
    pub started_at: Option<Ts>,
    pub last_active_at: Option<Ts>,
    pub completed_at: Option<Ts>,
    pub withdrawn_at: Option<Ts>,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrainerFeedback {
    pub id: Uuid,
    pub course_id: Uuid,
    pub trainer_id: Uuid,
    pub learner_id: Option<Uuid>,
    pub rating: u8,
    pub submitted_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContentItem {
    pub id: Uuid,
    pub course_id: Uuid,
    pub unit_id: Option<Uuid>,
    pub title: String,
    pub content_type: &'static str,
    pub duration_seconds: Option<u32>,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContentInteraction {
    pub id: Uuid,
    pub user_id: Uuid,
    pub content_item_id: Uuid,
    pub occurred_at: Ts,
    pub time_spent_seconds: Option<u32>,
    pub clicks: u32,
    pub completed: bool,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Assessment {
    pub id: Uuid,
    pub course_id: Uuid,
    pub unit_id: Option<Uuid>,
    pub title: String,
    pub kind: &'static str,
    pub max_score: f64,
    pub pass_score: Option<f64>,
    pub weight: f64,
    pub due_at: Option<Ts>,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssessmentAttempt {
    pub id: Uuid,
    pub assessment_id: Uuid,
    pub user_id: Uuid,
    pub attempt_number: u32,
    pub score: f64,
    pub started_at: Option<Ts>,
    pub submitted_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Skill {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub name: String,
    pub category: Option<&'static str>,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkillLevel {
    pub id: Uuid,
    pub user_id: Uuid,
    pub skill_id: Uuid,
    pub level: f64,
    pub assessed_at: Ts,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRoleRequirement {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub job_role: String,
    pub skill_id: Uuid,
    pub required_level: f64,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkillTarget {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub skill_id: Uuid,
    pub target_level: f64,
    pub priority: f64,
    pub target_date: Option<Ts>,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub exercise: String,
    pub started_at: Ts,
    pub ended_at: Option<Ts>,
    pub attempts: u32,
    pub solved: bool,
    pub updated_at: Ts,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssistantQuestion {
    pub id: Uuid,
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub asked_at: Ts,
    pub topic: Option<&'static str>,
    pub resolved: bool,
    pub updated_at: Ts,
}

/// Auth's user-status item; `id` is the Directory user id.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserStatus {
    pub id: Uuid,
    pub status: &'static str,
    pub last_login_at: Option<Ts>,
    pub updated_at: Ts,
}
