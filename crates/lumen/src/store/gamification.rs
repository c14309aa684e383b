//! Gamification's own storage: a learner's leaderboard choice. Points,
//! badges and streaks are never stored (they are recomputed from the
//! learning records, docs/gamification.md).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;

#[async_trait]
pub trait GamificationStore: Send + Sync {
    /// The learner's own leaderboard choice, if they made one in Lumen.
    async fn leaderboard_opt_out(&self, user_id: Uuid) -> StoreResult<Option<bool>>;
    async fn set_leaderboard_opt_out(
        &self,
        user_id: Uuid,
        opt_out: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Every choice made by people of one organisation.
    async fn leaderboard_opt_outs(&self, organization_id: Uuid)
    -> StoreResult<HashMap<Uuid, bool>>;
}

/// Expands to `impl GamificationStore for $store` (a struct with a sqlx `pool`).
macro_rules! impl_gamification_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::GamificationStore for $store {
            async fn leaderboard_opt_out(
                &self,
                user_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<bool>> {
                Ok(sqlx::query_scalar(
                    "SELECT leaderboard_opt_out FROM gamification_preferences WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn set_leaderboard_opt_out(
                &self,
                user_id: uuid::Uuid,
                opt_out: bool,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO gamification_preferences (user_id, leaderboard_opt_out, updated_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET \
                     leaderboard_opt_out = excluded.leaderboard_opt_out, updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(opt_out)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn leaderboard_opt_outs(
                &self,
                organization_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<std::collections::HashMap<uuid::Uuid, bool>> {
                let rows: Vec<(uuid::Uuid, bool)> = sqlx::query_as(
                    "SELECT p.user_id, p.leaderboard_opt_out FROM gamification_preferences p \
                     JOIN users u ON u.id = p.user_id WHERE u.organization_id = $1",
                )
                .bind(organization_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().collect())
            }
        }
    };
}
