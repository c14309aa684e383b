//! Gamification's own storage: a learner's leaderboard choice. Points,
//! badges and streaks are never stored (they are recomputed from the
//! learning records, docs/gamification.md).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreResult};

impl Store {
    /// The learner's own leaderboard choice, if they made one in Lumen.
    pub async fn leaderboard_opt_out(&self, user_id: Uuid) -> StoreResult<Option<bool>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT leaderboard_opt_out FROM gamification_preferences WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn set_leaderboard_opt_out(
        &self,
        user_id: Uuid,
        opt_out: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO gamification_preferences (user_id, leaderboard_opt_out, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET \
                 leaderboard_opt_out = excluded.leaderboard_opt_out, updated_at = excluded.updated_at",
            )
            .bind(user_id)
            .bind(opt_out)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every choice made by people of one organisation.
    pub async fn leaderboard_opt_outs(
        &self,
        organization_id: Uuid,
    ) -> StoreResult<HashMap<Uuid, bool>> {
        let rows: Vec<(Uuid, bool)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.user_id, p.leaderboard_opt_out FROM gamification_preferences p \
                 JOIN users u ON u.id = p.user_id WHERE u.organization_id = $1",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }
}
