//! Reports' storage: report requests with their file's place in object
//! storage, and report schedules (docs/reports.md).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreResult, Tx};

/// One report: what was asked, its state, and once done where its file is.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReportRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    /// `learner` | `trainer` | `organization`.
    pub report_type: String,
    /// `pdf` | `csv` | `json`.
    pub format: String,
    pub time_range: String,
    /// JSON array of analytic names; empty: the whole bundle of the type.
    pub analytics: String,
    /// `queued` | `running` | `done` | `failed` | `expired`.
    pub status: String,
    pub error: Option<String>,
    pub job_id: Option<Uuid>,
    pub schedule_id: Option<Uuid>,
    pub object_key: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A report schedule: the owner's report of a type and format, on a cron.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub cron: String,
    pub report_type: String,
    pub format: String,
    pub time_range: String,
    pub analytics: String,
    pub created_at: DateTime<Utc>,
    /// The organisation it was made in; `None` for schedules made before
    /// this was recorded.
    pub organization_id: Option<Uuid>,
}

impl Store {
    /// Inserts or replaces the whole row.
    pub async fn save_report(&self, r: &ReportRow) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO reports (id, owner_id, report_type, format, time_range, analytics, \
                 status, error, job_id, schedule_id, object_key, file_name, content_type, \
                 size_bytes, created_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error, \
                 job_id = excluded.job_id, object_key = excluded.object_key, \
                 file_name = excluded.file_name, content_type = excluded.content_type, \
                 size_bytes = excluded.size_bytes, finished_at = excluded.finished_at",
            )
            .bind(r.id)
            .bind(r.owner_id)
            .bind(&r.report_type)
            .bind(&r.format)
            .bind(&r.time_range)
            .bind(&r.analytics)
            .bind(&r.status)
            .bind(&r.error)
            .bind(r.job_id)
            .bind(r.schedule_id)
            .bind(&r.object_key)
            .bind(&r.file_name)
            .bind(&r.content_type)
            .bind(r.size_bytes)
            .bind(r.created_at)
            .bind(r.finished_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn report(&self, id: Uuid) -> StoreResult<Option<ReportRow>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, owner_id, report_type, format, time_range, analytics, status, error, \
                 job_id, schedule_id, object_key, file_name, content_type, size_bytes, created_at, \
                 finished_at FROM reports WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// An owner's reports, newest first, and how many there are in all.
    pub async fn reports_of(
        &self,
        owner_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ReportRow>, i64)> {
        Ok(on_pool!(self, |pool| (
            sqlx::query_as(
                "SELECT id, owner_id, report_type, format, time_range, analytics, status, error, \
                 job_id, schedule_id, object_key, file_name, content_type, size_bytes, created_at, \
                 finished_at FROM reports WHERE owner_id = $1 \
                 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            )
            .bind(owner_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?,
            sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE owner_id = $1")
                .bind(owner_id)
                .fetch_one(pool)
                .await?,
        )))
    }

    /// Finished reports whose file is older than `before` (retention).
    pub async fn reports_finished_before(
        &self,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<ReportRow>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, owner_id, report_type, format, time_range, analytics, status, error, \
                 job_id, schedule_id, object_key, file_name, content_type, size_bytes, created_at, \
                 finished_at FROM reports WHERE status = 'done' AND finished_at < $1 \
                 ORDER BY finished_at",
            )
            .bind(before)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn report_schedule(&self, id: Uuid) -> StoreResult<Option<ScheduleRow>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, owner_id, name, cron, report_type, format, time_range, analytics, \
                 created_at, organization_id FROM report_schedules WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn report_schedules_of(&self, owner_id: Uuid) -> StoreResult<Vec<ScheduleRow>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, owner_id, name, cron, report_type, format, time_range, analytics, \
                 created_at, organization_id FROM report_schedules WHERE owner_id = $1 ORDER BY created_at, id",
            )
            .bind(owner_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Adds a new schedule unless its owner already has `cap`: returns
    /// whether it was added. The count and the insert are one statement;
    /// on PostgreSQL the owner's user row is locked first, so concurrent
    /// requests of one owner cannot each see room for one more (SQLite runs
    /// one writer at a time).
    pub async fn add_report_schedule_within(&self, s: &ScheduleRow, cap: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(tx) = &mut tx {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(s.owner_id)
                .execute(&mut **tx)
                .await?;
        }
        let added = on_pool!(tx(&mut tx), |conn| {
            sqlx::query(
                "INSERT INTO report_schedules (id, owner_id, name, cron, report_type, format, \
                 time_range, analytics, created_at, organization_id) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
                 WHERE (SELECT COUNT(*) FROM report_schedules WHERE owner_id = $2) < $11",
            )
            .bind(s.id)
            .bind(s.owner_id)
            .bind(&s.name)
            .bind(&s.cron)
            .bind(&s.report_type)
            .bind(&s.format)
            .bind(&s.time_range)
            .bind(&s.analytics)
            .bind(s.created_at)
            .bind(s.organization_id)
            .bind(cap)
            .execute(conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(added == 1)
    }

    /// Bytes of report files `owner_id` keeps in object storage (reports
    /// done and not expired).
    pub async fn report_bytes_of(&self, owner_id: Uuid) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM reports \
                 WHERE owner_id = $1 AND status = 'done' AND object_key IS NOT NULL",
            )
            .bind(owner_id)
            .fetch_one(pool)
            .await?
        }))
    }

    /// `true` when it existed.
    pub async fn delete_report_schedule(&self, id: Uuid) -> StoreResult<bool> {
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM report_schedules WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }
}
