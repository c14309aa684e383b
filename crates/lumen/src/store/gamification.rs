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

    /// The organisation of a department, if it exists.
    pub async fn department_organization(&self, id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT organization_id FROM departments WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A course and one person: the course's organisation (`None`: no such
    /// course), whether they are enrolled in it, and whether they teach it.
    pub async fn course_relation(
        &self,
        course_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<(Option<Uuid>, bool, bool)> {
        let row: Option<(Uuid, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT c.organization_id, \
                 (SELECT COUNT(*) FROM enrolments e WHERE e.course_id = c.id AND e.user_id = $2), \
                 (SELECT COUNT(*) FROM course_trainers t \
                  WHERE t.course_id = c.id AND t.trainer_id = $2) \
                 FROM courses c WHERE c.id = $1",
            )
            .bind(course_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(match row {
            Some((org, enrolled, teaches)) => (Some(org), enrolled > 0, teaches > 0),
            None => (None, false, false),
        })
    }
}
