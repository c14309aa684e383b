//! Accounts: users with their roles, who teaches whom, local credentials,
//! login sessions and their refresh tokens.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lumen_core::Role;
use lumen_core::model::{Record, User};
use uuid::Uuid;

use super::records::{origin, parse};
use super::{Store, StoreResult};

/// A refresh token to store; only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub session_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUse {
    /// Not used before; now marked used.
    Fresh {
        session_id: Uuid,
        user_id: Uuid,
        expires_at: DateTime<Utc>,
        /// When the token was issued: the session's last refresh (or login).
        issued_at: DateTime<Utc>,
        /// When the session began (the login).
        session_created_at: DateTime<Utc>,
        session_revoked: bool,
    },
    /// Used before: a replay.
    Spent { session_id: Uuid },
    /// No such token.
    Unknown,
}

impl Store {
    /// Writes the user and replaces their roles, atomically.
    pub async fn upsert_user(&self, user: &User) -> StoreResult<()> {
        self.write_one(&Record::User(user.clone())).await
    }

    pub async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organization_id, department_id, source, external_id, email, full_name, \
                 job_role, time_zone, avatar_url, leaderboard_opt_out, last_login_at, created_at, \
                 updated_at FROM users WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        self.with_roles(row).await
    }

    /// Case-insensitive.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organization_id, department_id, source, external_id, email, full_name, \
                 job_role, time_zone, avatar_url, leaderboard_opt_out, last_login_at, created_at, \
                 updated_at FROM users WHERE lower(email) = lower($1)",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?
        });
        self.with_roles(row).await
    }

    /// Users of one organisation, or of all when `None`, by email.
    pub async fn users(&self, organization_id: Option<Uuid>) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organization_id, department_id, source, external_id, email, full_name, \
                 job_role, time_zone, avatar_url, leaderboard_opt_out, last_login_at, created_at, \
                 updated_at FROM users WHERE ($1 IS NULL OR organization_id = $1) \
                 ORDER BY lower(email)",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        });
        // Every role of those users in one query (not one per user).
        let role_rows: Vec<(Uuid, String)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT r.user_id, r.role FROM user_roles r JOIN users u ON u.id = r.user_id \
                 WHERE ($1 IS NULL OR u.organization_id = $1) ORDER BY r.user_id, r.role",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        });
        let mut roles: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (user, role) in role_rows {
            roles.entry(user).or_default().push(role);
        }
        rows.into_iter()
            .map(|row| {
                let own = roles.remove(&row.id).unwrap_or_default();
                row.into_user(own)
            })
            .collect()
    }

    async fn with_roles(&self, row: Option<UserRow>) -> StoreResult<Option<User>> {
        let Some(row) = row else { return Ok(None) };
        let roles: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                .bind(row.id)
                .fetch_all(pool)
                .await?
        });
        row.into_user(roles).map(Some)
    }

    /// The learner is enrolled in a course the trainer trains, or linked to them.
    pub async fn teaches(&self, trainer_id: Uuid, learner_id: Uuid) -> StoreResult<bool> {
        let found: Option<i32> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT 1 FROM enrolments e JOIN course_trainers ct ON ct.course_id = e.course_id \
                 WHERE ct.trainer_id = $1 AND e.user_id = $2 \
                 UNION SELECT 1 FROM trainer_learners WHERE trainer_id = $1 AND learner_id = $2 \
                 LIMIT 1",
            )
            .bind(trainer_id)
            .bind(learner_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// A local account's user and password hash (PHC string), by email.
    pub async fn credentials(&self, email: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let Some(user) = self.user_by_email(email).await? else {
            return Ok(None);
        };
        let hash: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(pool)
                .await?
        });
        Ok(Some((user, hash)))
    }

    pub async fn set_password_hash(&self, user_id: Uuid, hash: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id)
                .bind(hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn record_login(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                .bind(user_id)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Starts a login session (a family of refresh tokens).
    pub async fn create_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("INSERT INTO auth_sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(session_id)
                .bind(user_id)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Stores a refresh token's hash in a session.
    pub async fn add_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&token.token_hash)
            .bind(token.session_id)
            .bind(token.issued_at)
            .bind(token.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks a refresh token used, atomically: of two concurrent uses of one
    /// token, exactly one sees it `Fresh`.
    pub async fn use_refresh_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<TokenUse> {
        // The conditional UPDATE is the single-use guarantee.
        let fresh: Option<(Uuid, DateTime<Utc>, DateTime<Utc>)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
                 RETURNING session_id, expires_at, issued_at",
            )
            .bind(token_hash)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        if let Some((session_id, expires_at, issued_at)) = fresh {
            let (user_id, created_at, revoked_at): (Uuid, DateTime<Utc>, Option<DateTime<Utc>>) =
                on_pool!(self, |pool| {
                    sqlx::query_as(
                        "SELECT user_id, created_at, revoked_at FROM auth_sessions WHERE id = $1",
                    )
                    .bind(session_id)
                    .fetch_one(pool)
                    .await?
                });
            return Ok(TokenUse::Fresh {
                session_id,
                user_id,
                expires_at,
                issued_at,
                session_created_at: created_at,
                session_revoked: revoked_at.is_some(),
            });
        }
        let spent: Option<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(match spent {
            Some(session_id) => TokenUse::Spent { session_id },
            None => TokenUse::Unknown,
        })
    }

    /// Revokes a session and so every refresh token in it (idempotent).
    pub async fn revoke_session(&self, session_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE auth_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(session_id)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The session exists and is not revoked.
    pub async fn session_active(&self, session_id: Uuid) -> StoreResult<bool> {
        let found: Option<i32> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT 1 FROM auth_sessions WHERE id = $1 AND revoked_at IS NULL")
                .bind(session_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    organization_id: Uuid,
    department_id: Option<Uuid>,
    source: Option<String>,
    external_id: Option<String>,
    email: String,
    full_name: String,
    job_role: Option<String>,
    time_zone: String,
    avatar_url: Option<String>,
    leaderboard_opt_out: bool,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self, role_names: Vec<String>) -> StoreResult<User> {
        let mut roles = role_names
            .iter()
            .map(|r| parse::<Role>("user_roles.role", r))
            .collect::<StoreResult<Vec<_>>>()?;
        roles.sort();
        Ok(User {
            id: self.id,
            organization_id: self.organization_id,
            department_id: self.department_id,
            origin: origin(self.source, self.external_id),
            email: self.email,
            full_name: self.full_name,
            job_role: self.job_role,
            time_zone: self.time_zone,
            avatar_url: self.avatar_url,
            leaderboard_opt_out: self.leaderboard_opt_out,
            roles,
            last_login_at: self.last_login_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}
