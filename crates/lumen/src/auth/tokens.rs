//! Access tokens. Lumen issues HS256 JWTs (1 h, `iss`/`aud` checked) and, when
//! `LUMEN_AUTH_JWKS_URL` is set, also accepts RS256 and EdDSA tokens from the
//! platform's Auth service (MS12), whose keys it fetches, caches and refetches
//! on an unknown `kid`. The algorithm decides the key: HS256 only ever
//! verifies with Lumen's own secret and RS256/EdDSA only with a JWKS key of
//! that same algorithm, so algorithm confusion and `alg: none` fail.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lumen_core::Role;
use lumen_core::authz::Caller;
use lumen_core::model::{Origin, User, sources};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// When the platform JWKS is fetched again, and how long its keys are trusted.
#[derive(Debug, Clone, Copy)]
pub struct JwksTiming {
    /// The set is fetched again after this long (picking up rotations).
    pub max_age: Duration,
    /// An unknown `kid` refetches the set at most this often.
    pub min_refetch: Duration,
    /// A cached key is dropped this long after the JWKS last listed it: a
    /// key removed from the set, or kept only because refetches fail, stops
    /// verifying after `grace` (the JWKS then answers 503 until reachable).
    pub grace: Duration,
}

impl Default for JwksTiming {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(600),
            min_refetch: Duration::from_secs(30),
            grace: Duration::from_secs(3600),
        }
    }
}
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Claims of Lumen's own access tokens.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocalClaims {
    sub: Uuid,
    email: String,
    roles: Vec<Role>,
    organization_id: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    /// The login session; revoked sessions stop their access tokens too.
    sid: Uuid,
}

/// Claims read from platform tokens (`iss`, `aud`, `exp` are checked by the
/// validation itself). `sub` and `organizationId` are Directory ids.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformClaims {
    sub: String,
    email: String,
    roles: Vec<Role>,
    organization_id: String,
    iat: i64,
    exp: i64,
}

/// A verified access token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub caller: Caller,
    /// Lumen's login session, for tokens Lumen issued.
    pub session: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid or expired token")]
    Invalid,
    #[error("token signing key could not be fetched: {0}")]
    KeysUnavailable(String),
}

pub struct LocalKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
}

impl LocalKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// Issues an access token for `user` in `session`; returns it and its lifetime in seconds.
    pub fn issue(
        &self,
        user: &User,
        session: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, u64)> {
        let ttl = ACCESS_TOKEN_TTL.as_secs();
        let claims = LocalClaims {
            sub: user.id,
            email: user.email.clone(),
            roles: user.roles.clone(),
            organization_id: user.organization_id,
            iat: now.timestamp(),
            exp: now.timestamp() + ttl as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sid: session,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, ttl))
    }

    fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        configure(&mut validation, &self.issuer, &self.audience);
        let data = jsonwebtoken::decode::<LocalClaims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let c = data.claims;
        Ok(Verified {
            caller: Caller {
                user_id: c.sub,
                organization_id: c.organization_id,
                email: c.email,
                roles: normalise(c.roles)?,
            },
            session: Some(c.sid),
        })
    }
}

fn configure(validation: &mut Validation, issuer: &str, audience: &str) {
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
}

fn normalise(mut roles: Vec<Role>) -> Result<Vec<Role>, TokenError> {
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(TokenError::Invalid);
    }
    Ok(roles)
}

/// The platform Auth service's keys, fetched from its JWKS URL.
pub struct Jwks {
    url: String,
    issuer: String,
    audience: String,
    client: reqwest::Client,
    /// Each key with when a fetched set last listed it.
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm, Instant)>>,
    last_fetch: Mutex<Option<Instant>>,
    timing: JwksTiming,
    /// Platform tokens issued longer ago, or for longer, are refused.
    max_token_age: Duration,
}

impl Jwks {
    pub fn new(
        url: &str,
        issuer: &str,
        audience: &str,
        timing: JwksTiming,
        max_token_age: Duration,
    ) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        Ok(Self {
            url: url.to_owned(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            timing,
            max_token_age,
        })
    }

    /// Replaces the cached set with a fetched one: keys it no longer lists
    /// are dropped at once.
    async fn store(&self, fetched: HashMap<String, (DecodingKey, Algorithm)>) {
        let now = Instant::now();
        *self.keys.write().await = fetched
            .into_iter()
            .map(|(kid, (key, alg))| (kid, (key, alg, now)))
            .collect();
    }

    /// A cached key, unless the JWKS last listed it longer than `grace` ago.
    async fn cached(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        let keys = self.keys.read().await;
        let (key, alg, listed) = keys.get(kid)?;
        (listed.elapsed() < self.timing.grace).then(|| (key.clone(), *alg))
    }

    async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, TokenError> {
        let expired = self
            .last_fetch
            .lock()
            .await
            .is_some_and(|at| at.elapsed() >= self.timing.max_age);
        if expired {
            // Pick up rotated-out keys; on failure keep using the cached set,
            // each key until its grace after it was last listed runs out.
            match self.fetch().await {
                Ok(fetched) => self.store(fetched).await,
                Err(err) => tracing::warn!(%err, "JWKS refresh failed; keeping the cached keys"),
            }
            *self.last_fetch.lock().await = Some(Instant::now());
        }
        if let Some(found) = self.cached(kid).await {
            return Ok(Some(found));
        }
        {
            let mut last = self.last_fetch.lock().await;
            let due = last.is_none_or(|at| at.elapsed() >= self.timing.min_refetch);
            if due {
                *last = Some(Instant::now());
                let fetched = self.fetch().await?;
                self.store(fetched).await;
            }
        }
        Ok(self.cached(kid).await)
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, TokenError> {
        let unavailable = |e: reqwest::Error| TokenError::KeysUnavailable(e.to_string());
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // The key's type fixes its algorithm; a key claiming another is skipped.
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                    Algorithm::EdDSA
                }
                _ => continue,
            };
            if let Some(declared) = jwk.common.key_algorithm
                && declared.to_string() != format!("{algorithm:?}")
            {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, algorithm));
            }
        }
        tracing::info!(keys = keys.len(), "fetched platform JWKS");
        Ok(keys)
    }

    async fn verify(&self, token: &str, header: &Header) -> Result<Verified, TokenError> {
        let kid = header.kid.as_deref().ok_or(TokenError::Invalid)?;
        let (key, algorithm) = self.key(kid).await?.ok_or(TokenError::Invalid)?;
        if algorithm != header.alg {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(algorithm);
        configure(&mut validation, &self.issuer, &self.audience);
        let data = jsonwebtoken::decode::<PlatformClaims>(token, &key, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let c = data.claims;
        // Logout cannot revoke a platform token: bound how long one is accepted.
        let max_age = self.max_token_age.as_secs() as i64;
        let now = Utc::now().timestamp();
        if c.exp - c.iat > max_age || now - c.iat > max_age + LEEWAY_SECS as i64 {
            return Err(TokenError::Invalid);
        }
        // Platform ids are Directory ids; Lumen's ids derive from them.
        Ok(Verified {
            caller: Caller {
                user_id: Origin::new(sources::DIRECTORY, &c.sub).record_id("user"),
                organization_id: Origin::new(sources::DIRECTORY, &c.organization_id)
                    .record_id("organization"),
                email: c.email,
                roles: normalise(c.roles)?,
            },
            session: None,
        })
    }
}

/// Verifies access tokens from either issuer.
pub struct Verifier {
    pub local: LocalKeys,
    pub platform: Option<Jwks>,
}

impl Verifier {
    pub async fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        match header.alg {
            Algorithm::HS256 => self.local.verify(token),
            Algorithm::RS256 | Algorithm::EdDSA => match &self.platform {
                Some(jwks) => jwks.verify(token, &header).await,
                None => Err(TokenError::Invalid),
            },
            _ => Err(TokenError::Invalid),
        }
    }
}
