//! Lumen's own store of learning records (and, in later stages, results,
//! jobs and accounts). One interface, two implementations: SQLite (embedded,
//! the default) and PostgreSQL (production). Both run the same SQL where the
//! dialects agree (see `common.rs`); each has its own migrations folder.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumen_core::model::{Change, Course, Department, Enrolment, InvalidRecord, Organization, User};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{Config, DatabaseKind};

#[macro_use]
mod common;
#[macro_use]
mod gamification;
#[macro_use]
mod reports;
#[macro_use]
pub mod import;
#[macro_use]
pub mod jobs;
mod postgres;
mod sqlite;

pub use gamification::GamificationStore;
pub use postgres::PostgresStore;
pub use reports::{ReportRow, ReportStore, ScheduleRow};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record rejected: {0}")]
    Invalid(#[from] InvalidRecord),
    /// A uniqueness, reference or check rule of the schema was broken.
    #[error("conflict ({kind:?}): {message}")]
    Conflict { kind: ConflictKind, message: String },
    #[error("stored value is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A record with the same unique key exists.
    Duplicate,
    /// A referenced record does not exist.
    UnknownReference,
    /// A value breaks a column rule.
    OutOfRange,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let kind = if db.is_unique_violation() {
                Some(ConflictKind::Duplicate)
            } else if db.is_foreign_key_violation() {
                Some(ConflictKind::UnknownReference)
            } else if db.is_check_violation() {
                Some(ConflictKind::OutOfRange)
            } else {
                None
            };
            if let Some(kind) = kind {
                return StoreError::Conflict {
                    kind,
                    message: db.message().to_owned(),
                };
            }
        }
        StoreError::Database(err)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many learning records are stored, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordCounts {
    pub organizations: i64,
    pub users: i64,
    pub courses: i64,
    pub enrolments: i64,
}

/// The store interface. Writes are upserts keyed by id (ids of upstream
/// records are derived from their origin, see `Origin::record_id`), so
/// writing the same record twice stores it once.
#[async_trait]
pub trait Store:
    import::ImportStore
    + jobs::JobStore
    + jobs::ResultStore
    + GamificationStore
    + ReportStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    /// Applies pending migrations; safe to run repeatedly and concurrently.
    async fn migrate(&self) -> StoreResult<()>;
    /// Closes the pool, waiting for connections in use.
    async fn close(&self);

    async fn upsert_organization(&self, org: &Organization) -> StoreResult<()>;
    async fn organization(&self, id: Uuid) -> StoreResult<Option<Organization>>;
    async fn upsert_department(&self, dept: &Department) -> StoreResult<()>;
    async fn departments(&self, organization_id: Uuid) -> StoreResult<Vec<Department>>;
    /// Writes the user and replaces their roles, atomically.
    async fn upsert_user(&self, user: &User) -> StoreResult<()>;
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// Case-insensitive.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn upsert_course(&self, course: &Course) -> StoreResult<()>;
    async fn course(&self, id: Uuid) -> StoreResult<Option<Course>>;
    /// Validates the enrolment's invariants first.
    async fn upsert_enrolment(&self, enrolment: &Enrolment) -> StoreResult<()>;
    async fn enrolments_of_user(&self, user_id: Uuid) -> StoreResult<Vec<Enrolment>>;
    async fn record_counts(&self) -> StoreResult<RecordCounts>;
    /// Applies changes in one transaction: all or nothing. Each upserted
    /// record is validated first; references must resolve.
    async fn apply(&self, changes: &[Change]) -> StoreResult<()>;

    /// Users of one organisation, or of all when `None`, by email.
    async fn users(&self, organization_id: Option<Uuid>) -> StoreResult<Vec<User>>;
    /// Makes `trainer_id` a trainer of `course_id` (idempotent).
    async fn add_course_trainer(&self, course_id: Uuid, trainer_id: Uuid) -> StoreResult<()>;
    /// Links a learner to a trainer outside any course (idempotent).
    async fn add_trainer_learner(&self, trainer_id: Uuid, learner_id: Uuid) -> StoreResult<()>;
    /// The learner is enrolled in a course the trainer trains, or linked to them.
    async fn teaches(&self, trainer_id: Uuid, learner_id: Uuid) -> StoreResult<bool>;

    /// A local account's user and password hash (PHC string), by email.
    async fn credentials(&self, email: &str) -> StoreResult<Option<(User, Option<String>)>>;
    async fn set_password_hash(&self, user_id: Uuid, hash: &str) -> StoreResult<()>;
    async fn record_login(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;

    /// Starts a login session (a family of refresh tokens).
    async fn create_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores a refresh token's hash in a session.
    async fn add_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()>;
    /// Marks a refresh token used, atomically: of two concurrent uses of one
    /// token, exactly one sees it `Fresh`.
    async fn use_refresh_token(&self, token_hash: &str, at: DateTime<Utc>)
    -> StoreResult<TokenUse>;
    /// Revokes a session and so every refresh token in it (idempotent).
    async fn revoke_session(&self, session_id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// The session exists and is not revoked.
    async fn session_active(&self, session_id: Uuid) -> StoreResult<bool>;

    /// Collection state of every upstream feed seen so far.
    async fn sync_states(&self) -> StoreResult<Vec<SyncState>>;
    async fn save_sync_state(&self, state: &SyncState) -> StoreResult<()>;
    /// Adds `count` rejected records of a feed under `reason`.
    async fn count_rejections(
        &self,
        service: &str,
        feed: &str,
        reason: &str,
        count: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn rejections(&self) -> StoreResult<Vec<RejectionCount>>;
    /// Every assessment's maximum score, to check attempts against.
    async fn assessment_max_scores(&self) -> StoreResult<std::collections::HashMap<Uuid, f64>>;
    /// Every learning record of one organisation, for the analytics.
    async fn load_records(
        &self,
        organization_id: Uuid,
    ) -> StoreResult<lumen_core::analytics::dataset::Records>;
    /// Rows in each learning-records table, by table name.
    async fn table_counts(&self) -> StoreResult<std::collections::BTreeMap<String, i64>>;
}

/// The learning-records tables, in dependency order.
pub const LEARNING_RECORD_TABLES: [&str; 19] = [
    "organizations",
    "departments",
    "users",
    "trainer_learners",
    "courses",
    "course_units",
    "course_trainers",
    "enrolments",
    "trainer_feedback",
    "content_items",
    "content_interactions",
    "assessments",
    "assessment_attempts",
    "skills",
    "user_skill_levels",
    "job_role_skill_requirements",
    "org_skill_targets",
    "lab_sessions",
    "assistant_questions",
];

/// Collection state of one upstream feed.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct SyncState {
    pub service: String,
    pub feed: String,
    /// Largest `updatedAt` stored from the feed.
    pub watermark: Option<DateTime<Utc>>,
    /// Where an interrupted run resumes.
    pub next_cursor: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub records_synced: i64,
    pub records_rejected: i64,
    pub blocked_runs: i32,
    /// `upstream`, or `mock` when filled by the mock fallback.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct RejectionCount {
    pub service: String,
    pub feed: String,
    pub reason: String,
    pub count: i64,
}

/// A refresh token to store; only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub session_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUse {
    /// Not used before; now marked used.
    Fresh {
        session_id: Uuid,
        user_id: Uuid,
        expires_at: DateTime<Utc>,
        session_revoked: bool,
    },
    /// Used before: a replay.
    Spent { session_id: Uuid },
    /// No such token.
    Unknown,
}

/// Opens the store named by `DATABASE_URL` and applies migrations.
pub async fn connect(config: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let url = config.database_url.expose();
    let store: std::sync::Arc<dyn Store> = match config.database_kind() {
        DatabaseKind::Sqlite => {
            std::sync::Arc::new(SqliteStore::connect(url, config.db_max_connections).await?)
        }
        DatabaseKind::Postgres => {
            std::sync::Arc::new(PostgresStore::connect(url, config.db_max_connections).await?)
        }
    };
    store.migrate().await?;
    Ok(store)
}
