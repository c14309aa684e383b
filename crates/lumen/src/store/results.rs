//! The database cache layers: L2 (the latest result of each analytic,
//! subject and range) and L3 (monthly roll-ups). L3 is where the databases
//! differ: monthly partitions on PostgreSQL, created on demand and dropped
//! whole; one table with a month column on SQLite.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use uuid::Uuid;

use super::{Pool, Store, StoreResult};

/// One stored analytic result (an L2 row, or an L3 row of its month).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredResult {
    pub kind: String,
    pub subject_id: Uuid,
    pub time_range: String,
    pub organization_id: Uuid,
    /// The analytic's `data`, as JSON text.
    pub data: String,
    /// The envelope's `dataSource` when it was computed.
    pub data_source: String,
    pub computed_at: DateTime<Utc>,
    pub batch_id: Option<Uuid>,
    /// The records version it was computed from, for results that must not
    /// outlive new records (gamification); `None` for the analytics.
    pub records_version: Option<i64>,
}

/// The first day of the month of `at`: the L3 partition key.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(NaiveDate::MIN)
}

impl Store {
    /// L2: the latest result.
    pub async fn stored_result(
        &self,
        kind: &str,
        subject: Uuid,
        range: &str,
    ) -> StoreResult<Option<StoredResult>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, subject_id, time_range, organization_id, data, data_source, \
                 computed_at, batch_id, records_version FROM analytics_results \
                 WHERE kind = $1 AND subject_id = $2 AND time_range = $3",
            )
            .bind(kind)
            .bind(subject)
            .bind(range)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn put_result(&self, r: &StoredResult) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO analytics_results (kind, subject_id, time_range, organization_id, \
                 data, data_source, computed_at, batch_id, records_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (kind, subject_id, time_range) DO UPDATE SET \
                 organization_id = excluded.organization_id, data = excluded.data, \
                 data_source = excluded.data_source, computed_at = excluded.computed_at, \
                 batch_id = excluded.batch_id, records_version = excluded.records_version \
                 WHERE analytics_results.computed_at <= excluded.computed_at",
            )
            .bind(&r.kind)
            .bind(r.subject_id)
            .bind(&r.time_range)
            .bind(r.organization_id)
            .bind(&r.data)
            .bind(&r.data_source)
            .bind(r.computed_at)
            .bind(r.batch_id)
            .bind(r.records_version)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// L3: the result of the latest month up to `month`.
    pub async fn rollup(
        &self,
        kind: &str,
        subject: Uuid,
        range: &str,
        month: NaiveDate,
    ) -> StoreResult<Option<StoredResult>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, subject_id, time_range, organization_id, data, data_source, \
                 computed_at, NULL AS batch_id, records_version FROM analytics_rollups \
                 WHERE kind = $1 AND subject_id = $2 AND time_range = $3 AND month <= $4 \
                 ORDER BY month DESC LIMIT 1",
            )
            .bind(kind)
            .bind(subject)
            .bind(range)
            .bind(month)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// L3: stores the result as its month's (replacing an earlier one of
    /// the same month).
    pub async fn put_rollup(&self, r: &StoredResult) -> StoreResult<()> {
        let month = month_of(r.computed_at);
        self.prepare_rollup_months(&[month]).await?;
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO analytics_rollups (month, kind, subject_id, time_range, \
                 organization_id, data, data_source, computed_at, records_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (month, kind, subject_id, time_range) DO UPDATE SET \
                 organization_id = excluded.organization_id, data = excluded.data, \
                 data_source = excluded.data_source, computed_at = excluded.computed_at, \
                 records_version = excluded.records_version \
                 WHERE analytics_rollups.computed_at <= excluded.computed_at",
            )
            .bind(month)
            .bind(&r.kind)
            .bind(r.subject_id)
            .bind(&r.time_range)
            .bind(r.organization_id)
            .bind(&r.data)
            .bind(&r.data_source)
            .bind(r.computed_at)
            .bind(r.records_version)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The Aggregate stage: copies a batch's L2 results into L3.
    pub async fn rollup_batch(&self, batch: Uuid, month: NaiveDate) -> StoreResult<u64> {
        self.prepare_rollup_months(&[month]).await?;
        Ok(on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO analytics_rollups (month, kind, subject_id, time_range, \
                 organization_id, data, data_source, computed_at, records_version) \
                 SELECT $2, kind, subject_id, time_range, organization_id, data, data_source, \
                 computed_at, records_version FROM analytics_results WHERE batch_id = $1 \
                 ON CONFLICT (month, kind, subject_id, time_range) DO UPDATE SET \
                 organization_id = excluded.organization_id, data = excluded.data, \
                 data_source = excluded.data_source, computed_at = excluded.computed_at, \
                 records_version = excluded.records_version \
                 WHERE analytics_rollups.computed_at <= excluded.computed_at",
            )
            .bind(batch)
            .bind(month)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// L2 rows a batch wrote.
    pub async fn batch_results(&self, batch: Uuid) -> StoreResult<Vec<(String, Uuid, String)>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT kind, subject_id, time_range FROM analytics_results WHERE batch_id = $1 \
                 ORDER BY kind, subject_id, time_range",
            )
            .bind(batch)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Deletes L2 rows computed before `before`.
    pub async fn purge_results(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("DELETE FROM analytics_results WHERE computed_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Makes sure L3 can store these months: on PostgreSQL, creates the
    /// monthly partitions that are missing; on SQLite, nothing to prepare.
    pub async fn prepare_rollup_months(&self, months: &[NaiveDate]) -> StoreResult<()> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        for &month in months {
            if self.partitions.lock().is_ok_and(|m| m.contains(&month)) {
                continue;
            }
            let next = month + Months::new(1);
            // The name and bounds are dates we format ourselves.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF analytics_rollups \
                 FOR VALUES FROM ('{month}') TO ('{next}')",
                partition_name(month)
            );
            if let Err(err) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await {
                // Another instance created it at the same moment.
                let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(partition_name(month))
                    .fetch_one(pool)
                    .await?;
                if !exists {
                    return Err(err.into());
                }
            }
            if let Ok(mut known) = self.partitions.lock() {
                known.insert(month);
            }
        }
        Ok(())
    }

    /// Deletes the L3 months before `month`: drops their partitions on
    /// PostgreSQL, deletes their rows on SQLite. How many months.
    pub async fn purge_rollups(&self, month: NaiveDate) -> StoreResult<u64> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
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
            Pool::Postgres(pool) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::text FROM pg_inherits i \
                     JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
                     WHERE p.relname = 'analytics_rollups'",
                )
                .fetch_all(pool)
                .await?;
                let mut dropped = 0;
                for name in names {
                    let Some(start) = name.strip_prefix("analytics_rollups_y").and_then(|ym| {
                        NaiveDate::parse_from_str(&format!("{ym}01"), "%Ym%m%d").ok()
                    }) else {
                        continue;
                    };
                    if start < month {
                        // `name` is a partition's, matched against our own naming above.
                        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                            .execute(pool)
                            .await?;
                        if let Ok(mut known) = self.partitions.lock() {
                            known.remove(&start);
                        }
                        dropped += 1;
                    }
                }
                Ok(dropped)
            }
        }
    }
}

/// The L3 partition of `month` (its first day), on PostgreSQL.
fn partition_name(month: NaiveDate) -> String {
    format!(
        "analytics_rollups_y{:04}m{:02}",
        month.year(),
        month.month()
    )
}
