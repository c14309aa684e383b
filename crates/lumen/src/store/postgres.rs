//! PostgreSQL: the production store.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreResult;

pub struct PostgresStore {
    pool: PgPool,
    /// L3 partitions known to exist.
    months: Mutex<HashSet<NaiveDate>>,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            months: Mutex::default(),
        })
    }
}

/// The L3 partition of `month` (its first day).
fn partition_name(month: NaiveDate) -> String {
    format!(
        "analytics_rollups_y{:04}m{:02}",
        month.year(),
        month.month()
    )
}

impl PostgresStore {
    /// Creates the monthly L3 partitions that are missing.
    async fn ensure_months(&self, months: &[NaiveDate]) -> StoreResult<()> {
        for &month in months {
            if self.months.lock().is_ok_and(|m| m.contains(&month)) {
                continue;
            }
            let next = month + Months::new(1);
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF analytics_rollups \
                 FOR VALUES FROM ('{month}') TO ('{next}')",
                partition_name(month)
            );
            if let Err(err) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&self.pool)
                .await
            {
                // Another instance created it at the same moment.
                let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(partition_name(month))
                    .fetch_one(&self.pool)
                    .await?;
                if !exists {
                    return Err(err.into());
                }
            }
            if let Ok(mut known) = self.months.lock() {
                known.insert(month);
            }
        }
        Ok(())
    }

    /// Drops the L3 partitions of months before `month`; how many.
    async fn drop_months_before(&self, month: NaiveDate) -> StoreResult<u64> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.relname = 'analytics_rollups'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut dropped = 0;
        for name in names {
            let Some(start) = name
                .strip_prefix("analytics_rollups_y")
                .and_then(|ym| NaiveDate::parse_from_str(&format!("{ym}01"), "%Ym%m%d").ok())
            else {
                continue;
            };
            if start < month {
                // `name` is a partition's, matched against our own naming above.
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                    .execute(&self.pool)
                    .await?;
                if let Ok(mut known) = self.months.lock() {
                    known.remove(&start);
                }
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

impl_job_store!(PostgresStore, sqlx::Postgres, " FOR UPDATE SKIP LOCKED");

impl_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    "./migrations/postgres"
);
impl_gamification_store!(PostgresStore);
impl_report_store!(PostgresStore);
impl_import_store!(PostgresStore, sqlx::Postgres);
