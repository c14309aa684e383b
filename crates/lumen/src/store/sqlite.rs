//! SQLite: the embedded default. WAL journal, a busy timeout, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// `url` is `sqlite://PATH` (created if missing) or `sqlite::memory:`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
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
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, "sqlite", "./migrations/sqlite");
impl_import_store!(SqliteStore, sqlx::Sqlite);
