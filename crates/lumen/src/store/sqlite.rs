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

impl SqliteStore {
    /// L3 is one table keyed by month: nothing to prepare.
    async fn ensure_months(&self, _months: &[chrono::NaiveDate]) -> super::StoreResult<()> {
        Ok(())
    }

    /// Deletes the L3 rows of months before `month`; how many months.
    async fn drop_months_before(&self, month: chrono::NaiveDate) -> super::StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let months: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT month) FROM analytics_rollups WHERE month < $1",
        )
        .bind(month)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM analytics_rollups WHERE month < $1")
            .bind(month)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(months.try_into().unwrap_or(0))
    }
}

impl_job_store!(SqliteStore, sqlx::Sqlite, "");

impl_store!(SqliteStore, sqlx::Sqlite, "sqlite", "./migrations/sqlite");
impl_gamification_store!(SqliteStore);
impl_report_store!(SqliteStore);
impl_import_store!(SqliteStore, sqlx::Sqlite);
