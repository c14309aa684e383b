//! Lumen's own store of learning records (and, in later stages, results,
//! jobs and accounts). One interface, two implementations: SQLite (embedded,
//! the default) and PostgreSQL (production). Both run the same SQL where the
//! dialects agree (see `common.rs`); each has its own migrations folder.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lumen_core::model::{Course, Department, Enrolment, InvalidRecord, Organization, User};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{Config, DatabaseKind};

#[macro_use]
mod common;
mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record rejected: {0}")]
    Invalid(#[from] InvalidRecord),
    /// A uniqueness or reference rule of the schema was broken.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored value is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db)
                if db.is_unique_violation()
                    || db.is_foreign_key_violation()
                    || db.is_check_violation() =>
            {
                StoreError::Conflict(db.message().to_owned())
            }
            _ => StoreError::Database(err),
        }
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
pub trait Store: Send + Sync + 'static {
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
