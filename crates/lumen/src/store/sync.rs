//! Collection state: where each upstream feed stands, and the records
//! refused from it, counted by reason.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreResult};

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

impl Store {
    /// Collection state of every upstream feed seen so far.
    pub async fn sync_states(&self) -> StoreResult<Vec<SyncState>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT service, feed, watermark, next_cursor, last_attempt_at, last_success_at, \
                 last_error, last_error_at, records_synced, records_rejected, blocked_runs, origin \
                 FROM sync_state ORDER BY service, feed",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn save_sync_state(&self, st: &SyncState) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO sync_state (service, feed, watermark, next_cursor, last_attempt_at, \
                 last_success_at, last_error, last_error_at, records_synced, records_rejected, \
                 blocked_runs, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (service, feed) DO UPDATE SET watermark = excluded.watermark, \
                 next_cursor = excluded.next_cursor, last_attempt_at = excluded.last_attempt_at, \
                 last_success_at = excluded.last_success_at, last_error = excluded.last_error, \
                 last_error_at = excluded.last_error_at, records_synced = excluded.records_synced, \
                 records_rejected = excluded.records_rejected, blocked_runs = excluded.blocked_runs, \
                 origin = excluded.origin",
            )
            .bind(&st.service)
            .bind(&st.feed)
            .bind(st.watermark)
            .bind(&st.next_cursor)
            .bind(st.last_attempt_at)
            .bind(st.last_success_at)
            .bind(&st.last_error)
            .bind(st.last_error_at)
            .bind(st.records_synced)
            .bind(st.records_rejected)
            .bind(st.blocked_runs)
            .bind(&st.origin)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Adds `count` rejected records of a feed under `reason`.
    pub async fn count_rejections(
        &self,
        service: &str,
        feed: &str,
        reason: &str,
        count: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO sync_rejections (service, feed, reason, count, last_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (service, feed, reason) DO UPDATE SET \
                 count = sync_rejections.count + excluded.count, last_at = excluded.last_at",
            )
            .bind(service)
            .bind(feed)
            .bind(reason)
            .bind(count)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn rejections(&self) -> StoreResult<Vec<RejectionCount>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT service, feed, reason, count FROM sync_rejections \
                 ORDER BY service, feed, reason",
            )
            .fetch_all(pool)
            .await?
        }))
    }
}
