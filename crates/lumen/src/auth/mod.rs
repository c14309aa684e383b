//! Identity: logins with local accounts, access and refresh tokens,
//! authenticating requests. Decisions about what a caller may see are not
//! made here but in the policy (`lumen_core::authz`), asked by the router.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lumen_core::model::User;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Config;
use crate::store::{NewRefreshToken, Store, StoreError, TokenUse};

pub mod passwords;
pub mod tokens;

/// Why authentication, login, refresh or logout failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A missing, invalid or expired token, or an ended session.
    #[error("{0}")]
    Unauthorized(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("refresh token is invalid or expired")]
    InvalidRefreshToken,
    /// A refresh token used a second time: the session is revoked.
    #[error("refresh token was already used: the session has been ended, log in again")]
    RefreshTokenReused,
    /// The platform's JWKS cannot be fetched.
    #[error("token keys are unavailable; try again shortly")]
    KeysUnavailable,
    /// As many password checks as allowed are running and waiting.
    #[error("too many logins in progress; try again shortly")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub use tokens::Verified;

/// Refresh tokens live 7 days and are used once.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// An unknown `kid` refetches the platform JWKS at most this often.
pub const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);

/// A session found active is trusted this long before the database is asked
/// again. Revocation in this process takes effect at once; on another
/// instance within this time.
pub const SESSION_CHECK_TTL: Duration = Duration::from_secs(5);

pub struct Auth {
    verifier: tokens::Verifier,
    /// Absolute lifetime of a login session.
    session_max_age: chrono::Duration,
    /// A session not refreshed for this long ends.
    session_idle_timeout: chrono::Duration,
    /// Sessions recently found active, with when that was checked.
    active_sessions: quick_cache::sync::Cache<Uuid, std::time::Instant>,
    hashing: HashGate,
}

/// Bounds password hashing: `running` hashes at once, as many again
/// waiting; a login beyond that is refused at once instead of queueing
/// (each hash holds 19 MiB and a core).
struct HashGate {
    admitted: std::sync::Arc<tokio::sync::Semaphore>,
    running: std::sync::Arc<tokio::sync::Semaphore>,
}

impl HashGate {
    fn new(running: usize) -> Self {
        Self {
            admitted: std::sync::Arc::new(tokio::sync::Semaphore::new(running * 2)),
            running: std::sync::Arc::new(tokio::sync::Semaphore::new(running)),
        }
    }

    /// Runs `work` on a blocking thread within the bound.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| AuthError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AuthError::Internal(e.into()))?;
        // The permits travel with the work: a cancelled login does not free
        // a slot its hash still occupies.
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        .map_err(|e| AuthError::Internal(e.into()))
    }
}

/// A new pair of tokens.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

impl Auth {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let secret = config.jwt_secret.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: LUMEN_JWT_SECRET: required to serve (at least {} bytes)",
                crate::config::MIN_JWT_SECRET_BYTES
            )
        })?;
        let local = tokens::LocalKeys::new(
            secret.expose().as_bytes(),
            &config.jwt_issuer,
            &config.jwt_audience,
        );
        let platform = config
            .platform_auth
            .as_ref()
            .map(|p| {
                tokens::Jwks::new(
                    &p.jwks_url,
                    &p.issuer,
                    &p.audience,
                    tokens::JwksTiming {
                        min_refetch: JWKS_MIN_REFETCH,
                        ..tokens::JwksTiming::default()
                    },
                    config.platform_token_max_age,
                )
            })
            .transpose()?;
        let duration = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Ok(Self {
            verifier: tokens::Verifier { local, platform },
            session_max_age: duration(config.session_max_age),
            session_idle_timeout: duration(config.session_idle_timeout),
            active_sessions: quick_cache::sync::Cache::new(100_000),
            hashing: HashGate::new(config.password_hash_concurrency),
        })
    }

    /// For tests: the same, with a chosen JWKS refetch interval.
    pub fn with_jwks_refetch(config: &Config, min_refetch: Duration) -> anyhow::Result<Self> {
        Self::with_jwks_timing(
            config,
            tokens::JwksTiming {
                min_refetch,
                ..tokens::JwksTiming::default()
            },
        )
    }

    /// For tests: the same, with chosen JWKS timings.
    pub fn with_jwks_timing(config: &Config, timing: tokens::JwksTiming) -> anyhow::Result<Self> {
        let mut auth = Self::from_config(config)?;
        if let Some(p) = &config.platform_auth {
            auth.verifier.platform = Some(tokens::Jwks::new(
                &p.jwks_url,
                &p.issuer,
                &p.audience,
                timing,
                config.platform_token_max_age,
            )?);
        }
        Ok(auth)
    }

    /// Verifies a bearer token; for Lumen's own tokens also that the login
    /// session has not been revoked (logout, refresh-token reuse).
    pub async fn authenticate(&self, store: &Store, token: &str) -> Result<Verified, AuthError> {
        let verified = self.verifier.verify(token).await.map_err(|e| match e {
            tokens::TokenError::Invalid => {
                AuthError::Unauthorized("invalid or expired token".into())
            }
            tokens::TokenError::KeysUnavailable(reason) => {
                tracing::warn!(%reason, "platform JWKS unavailable");
                AuthError::KeysUnavailable
            }
        })?;
        if let Some(session) = verified.session {
            let recently = self
                .active_sessions
                .get(&session)
                .is_some_and(|at| at.elapsed() < SESSION_CHECK_TTL);
            if !recently {
                if !store.session_active(session).await? {
                    return Err(AuthError::Unauthorized(
                        "session has ended; log in again".into(),
                    ));
                }
                self.active_sessions
                    .insert(session, std::time::Instant::now());
            }
        }
        Ok(verified)
    }

    /// Checks credentials and opens a session. Unknown email, missing
    /// password and wrong password are indistinguishable, in answer and cost.
    pub async fn login(
        &self,
        store: &Store,
        email: &str,
        password: &str,
    ) -> Result<Issued, AuthError> {
        let found = store.credentials(email).await?;
        let stored_hash = found.as_ref().and_then(|(_, h)| h.clone());
        let password = password.to_owned();
        let verified = self
            .hashing
            .run(move || passwords::verify(&password, stored_hash.as_deref()))
            .await?;
        let (user, rehash) = match (found, verified) {
            (Some((user, _)), passwords::Verified::Match { rehash }) => (user, rehash),
            _ => return Err(AuthError::InvalidCredentials),
        };
        if let Some(new_hash) = rehash {
            store.set_password_hash(user.id, &new_hash).await?;
            tracing::info!(user_id = %user.id, "legacy password hash upgraded to argon2id");
        }
        let now = now();
        store.record_login(user.id, now).await?;
        let session = Uuid::new_v4();
        store.create_session(session, user.id, now).await?;
        let mut user = user;
        user.last_login_at = Some(now);
        let session_ends = now + self.session_max_age;
        self.issue_until(store, user, session, now, session_ends)
            .await
    }

    /// Rotates a refresh token. A token presented twice revokes its session;
    /// a session past its absolute lifetime or idle for longer than the idle
    /// timeout ends (it is revoked, and the refresh refused).
    pub async fn refresh(&self, store: &Store, refresh_token: &str) -> Result<Issued, AuthError> {
        let now = Utc::now();
        match store
            .use_refresh_token(&hash_refresh_token(refresh_token), now)
            .await?
        {
            TokenUse::Fresh {
                session_id,
                user_id,
                expires_at,
                issued_at,
                session_created_at,
                session_revoked,
            } => {
                if session_revoked || expires_at <= now {
                    return Err(AuthError::InvalidRefreshToken);
                }
                let too_old = now - session_created_at >= self.session_max_age;
                let idle = now - issued_at >= self.session_idle_timeout;
                if too_old || idle {
                    store.revoke_session(session_id, now).await?;
                    self.active_sessions.remove(&session_id);
                    tracing::info!(
                        session = %session_id,
                        reason = if too_old { "max-age" } else { "idle" },
                        "session ended on refresh"
                    );
                    return Err(AuthError::InvalidRefreshToken);
                }
                let session_ends = session_created_at + self.session_max_age;
                let user = store
                    .user(user_id)
                    .await?
                    .ok_or(AuthError::InvalidRefreshToken)?;
                self.issue_until(store, user, session_id, now, session_ends)
                    .await
            }
            TokenUse::Spent { session_id } => {
                store.revoke_session(session_id, now).await?;
                self.active_sessions.remove(&session_id);
                tracing::warn!(session = %session_id, "refresh token reused: session revoked");
                Err(AuthError::RefreshTokenReused)
            }
            TokenUse::Unknown => Err(AuthError::InvalidRefreshToken),
        }
    }

    pub async fn logout(&self, store: &Store, verified: &Verified) -> Result<(), AuthError> {
        if let Some(session) = verified.session {
            store.revoke_session(session, now()).await?;
            self.active_sessions.remove(&session);
        }
        Ok(())
    }

    /// A new access and refresh token; the refresh token never outlives
    /// `session_ends`, nor the idle timeout.
    async fn issue_until(
        &self,
        store: &Store,
        user: User,
        session: Uuid,
        now: DateTime<Utc>,
        session_ends: DateTime<Utc>,
    ) -> Result<Issued, AuthError> {
        let refresh_token = new_refresh_token();
        let expires_at = (now + REFRESH_TOKEN_TTL)
            .min(now + self.session_idle_timeout)
            .min(session_ends);
        store
            .add_refresh_token(&NewRefreshToken {
                token_hash: hash_refresh_token(&refresh_token),
                session_id: session,
                issued_at: now,
                expires_at,
            })
            .await?;
        let (token, expires_in) = self.verifier.local.issue(&user, session, now)?;
        Ok(Issued {
            user,
            token,
            refresh_token,
            expires_in,
        })
    }
}

/// The current time at the precision both databases store (microseconds),
/// so what a response reports equals what a later read returns.
fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// 256 random bits, base64url (43 characters).
fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    passwords::base64_url(&bytes)
}

/// Refresh tokens have 256 bits of entropy, so an unsalted SHA-256 suffices.
pub fn hash_refresh_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The shape of a refresh token, checked before any lookup.
pub fn looks_like_refresh_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
