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
/// The platform JWKS is fetched again after this long.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
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
    #[allow(dead_code)] // required to be present, not otherwise used
    iat: i64,
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
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    last_fetch: Mutex<Option<Instant>>,
    /// An unknown `kid` refetches the set at most this often.
    min_refetch: Duration,
}

impl Jwks {
    pub fn new(
        url: &str,
        issuer: &str,
        audience: &str,
        min_refetch: Duration,
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
            min_refetch,
        })
    }

    async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Algorithm)>, TokenError> {
        let expired = self
            .last_fetch
            .lock()
            .await
            .is_some_and(|at| at.elapsed() >= JWKS_MAX_AGE);
        if expired {
            // Pick up rotated-out keys; on failure keep using the cached set.
            match self.fetch().await {
                Ok(fetched) => *self.keys.write().await = fetched,
                Err(err) => tracing::warn!(%err, "JWKS refresh failed; keeping the cached keys"),
            }
            *self.last_fetch.lock().await = Some(Instant::now());
        }
        if let Some(found) = self.keys.read().await.get(kid) {
            return Ok(Some(found.clone()));
        }
        {
            let mut last = self.last_fetch.lock().await;
            let due = last.is_none_or(|at| at.elapsed() >= self.min_refetch);
            if due {
                *last = Some(Instant::now());
                let fetched = self.fetch().await?;
                *self.keys.write().await = fetched;
            }
        }
        Ok(self.keys.read().await.get(kid).cloned())
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
