//! Lumen's own database: learning records, accounts, sync state, cached
//! results, the job queue, reports and gamification choices. One concrete
//! [`Store`] over either database: SQLite (embedded, the default) or
//! PostgreSQL (production), each with its own migrations folder.
//!
//! The methods are plain `impl Store` blocks, one file per aggregate. SQL
//! both dialects accept is written once inside `on_pool!`, which only picks
//! the pool; where the databases differ (connection set-up, migrations, the
//! queue's row locking, L3's monthly partitions) the code matches on
//! `Pool` explicitly. Placeholders are `$1, $2, …` (both dialects bind
//! them by number); upserts are `INSERT … ON CONFLICT … DO UPDATE`.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use lumen_core::model::InvalidRecord;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::config::{Config, DatabaseKind};

/// Runs `$body` once per database, with `$pool` bound to the store's pool
/// (or, as `on_pool!(tx(&mut tx), |conn| …)`, `$conn` to the transaction's
/// connection): SQL written once for both dialects. The closure-like syntax
/// is only syntax (rustfmt formats it); the body is pasted into each arm and
/// compiled for each database, so it may use `.await` and `?`, only SQL both
/// accept, and must yield one type (e.g. `rows_affected()`, not the query
/// result itself).
macro_rules! on_pool {
    (tx($tx:expr), |$conn:ident| $body:expr) => {
        match &mut *$tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

mod accounts;
mod gamification;
pub mod import;
pub mod jobs;
mod records;
mod reports;
pub mod results;
mod sync;

pub use accounts::{NewRefreshToken, TokenUse};
pub use records::{LEARNING_RECORD_TABLES, RecordCounts};
pub use reports::{ReportRow, ScheduleRow};
pub use sync::{RejectionCount, SyncState};

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
    /// The record links records of different organisations (an enrolment
    /// of one organisation's learner in another's course).
    CrossOrganization,
}

/// The one place where database errors become store errors: a broken
/// constraint is a typed conflict, anything else a database error.
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

/// The connection pool of one of the two databases.
#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either database; see `on_pool!(tx(…), …)`.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    async fn rollback(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Runs one statement that takes no values (a savepoint).
    async fn execute(&mut self, sql: &'static str) -> StoreResult<()> {
        on_pool!(tx(self), |conn| {
            sqlx::query(sql).execute(conn).await?;
        });
        Ok(())
    }
}

/// The store. Cheap to clone: clones share the pool. Writes of learning
/// records are upserts keyed by id (ids of upstream records are derived from
/// their origin, see `Origin::record_id`), so writing a record twice stores
/// it once.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// PostgreSQL: the L3 partitions known to exist (`results.rs`).
    partitions: Arc<Mutex<HashSet<NaiveDate>>>,
}

impl Store {
    /// Opens the store named by `DATABASE_URL` and applies migrations.
    pub async fn connect(config: &Config) -> anyhow::Result<Store> {
        let store = Store::open(config.database_url.expose(), config.db_max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a pool without migrating. `url` is `sqlite://PATH` (created if
    /// missing; WAL journal, a busy timeout, foreign keys on),
    /// `sqlite::memory:`, or `postgres://…`.
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        let pool = match DatabaseKind::of(url)? {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                if let Some(parent) = options.get_filename().parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent)?;
                }
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(options)
                        .await?,
                )
            }
            DatabaseKind::Postgres => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            ),
        };
        Ok(Store {
            pool,
            partitions: Arc::default(),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Applies pending migrations; safe to run repeatedly and concurrently.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Cheap round trip, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }

    async fn begin(&self) -> StoreResult<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}
