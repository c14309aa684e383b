//! Clients of the nine upstream services (PRODUCT §6, `docs/upstreams/`).
//! One client per configured service: base URL, service bearer token,
//! per-call timeout, retries with exponential backoff and full jitter for
//! these idempotent GETs (on timeouts, connection errors, 5xx and 429), and a
//! circuit breaker.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{Config, UpstreamConfig};

pub mod breaker;

/// The longest `Retry-After` honoured; a longer one ends the call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

pub use breaker::{CircuitBreaker, CircuitState};

/// How calls are retried and when a circuit opens.
#[derive(Debug, Clone, Copy)]
pub struct Resilience {
    pub timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff before retry n (1-based) is uniform in [0, min(cap, base·2^(n-1))].
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub breaker_threshold: u32,
    pub breaker_open_for: Duration,
}

impl Resilience {
    pub fn from_config(config: &Config) -> Self {
        Self {
            timeout: config.upstream_timeout,
            max_attempts: 3,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(60),
        }
    }

    /// Backoff before retry `n` (1-based): full jitter over an exponential ceiling.
    pub fn backoff(&self, n: u32, unit_random: f64) -> Duration {
        let ceiling = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .min(self.backoff_cap);
        ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("circuit open")]
    CircuitOpen,
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP {0}")]
    Status(u16),
    /// 429, with the service's `Retry-After` when it gave one.
    #[error("rate limited by the service")]
    RateLimited(Option<Duration>),
    #[error("unreadable response: {0}")]
    Body(String),
}

impl UpstreamError {
    /// Worth another try (and counted against the circuit).
    fn transient(&self) -> bool {
        match self {
            UpstreamError::Timeout | UpstreamError::Connect(_) | UpstreamError::Body(_) => true,
            UpstreamError::Status(s) => *s >= 500,
            UpstreamError::CircuitOpen | UpstreamError::RateLimited(_) => false,
        }
    }
}

pub struct UpstreamClient {
    pub service: &'static str,
    base_url: String,
    config: UpstreamConfig,
    http: reqwest::Client,
    pub breaker: CircuitBreaker,
    resilience: Resilience,
}

impl UpstreamClient {
    pub fn new(
        service: &'static str,
        config: UpstreamConfig,
        resilience: Resilience,
    ) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        Ok(Self {
            service,
            base_url: config.base_url.clone(),
            config,
            http: reqwest::Client::builder()
                .timeout(resilience.timeout)
                .connect_timeout(resilience.timeout.min(Duration::from_secs(5)))
                .build()?,
            breaker: CircuitBreaker::new(resilience.breaker_threshold, resilience.breaker_open_for),
            resilience,
        })
    }

    /// GET `path` (relative to the service's base URL) with `query`; the body
    /// as text. Retries transient failures with backoff; every attempt asks
    /// the circuit first.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, UpstreamError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let permit = self
                .breaker
                .try_acquire()
                .ok_or(UpstreamError::CircuitOpen)?;
            let result = self.attempt(&url, query).await;
            match result {
                Ok(body) => {
                    self.breaker.record_success(permit);
                    return Ok(body);
                }
                Err(err) if err.transient() => {
                    self.breaker.record_failure(permit);
                    if attempt >= self.resilience.max_attempts {
                        return Err(err);
                    }
                    let wait = self.resilience.backoff(attempt, unit_random());
                    tracing::debug!(service = self.service, %err, attempt, ?wait, "retrying upstream call");
                    tokio::time::sleep(wait).await;
                }
                Err(UpstreamError::RateLimited(wait)) if attempt < self.resilience.max_attempts => {
                    // Busy, not down: wait as asked (at most a minute) without counting a failure.
                    self.breaker.record_success(permit);
                    let wait = wait
                        .unwrap_or(self.resilience.backoff_base)
                        .min(MAX_RETRY_AFTER);
                    tokio::time::sleep(wait + self.resilience.backoff(1, unit_random())).await;
                }
                Err(err) => {
                    // The service answered (e.g. 400, 401): not a sign it is down.
                    self.breaker.record_success(permit);
                    return Err(err);
                }
            }
        }
    }

    async fn attempt(&self, url: &str, query: &[(&str, String)]) -> Result<String, UpstreamError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(self.config.token.expose())
            .query(query)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    UpstreamError::Timeout
                } else {
                    UpstreamError::Connect(e.to_string())
                }
            })?;
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(UpstreamError::RateLimited(wait));
        }
        if !status.is_success() {
            return Err(UpstreamError::Status(status.as_u16()));
        }
        response.text().await.map_err(|e| {
            if e.is_timeout() {
                UpstreamError::Timeout
            } else {
                UpstreamError::Body(e.to_string())
            }
        })
    }
}

/// A uniform random number in [0, 1) from the operating system.
fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The clients of every configured service.
pub struct Upstreams {
    pub clients: BTreeMap<&'static str, UpstreamClient>,
}

impl Upstreams {
    pub fn from_config(config: &Config, resilience: Resilience) -> anyhow::Result<Self> {
        let mut clients = BTreeMap::new();
        for (service, upstream) in &config.upstreams {
            clients.insert(
                *service,
                UpstreamClient::new(service, upstream.clone(), resilience)?,
            );
        }
        Ok(Self { clients })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_with_full_jitter() {
        let r = Resilience {
            timeout: Duration::from_secs(1),
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(500),
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(60),
        };
        assert_eq!(r.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(r.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(r.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(r.backoff(4, 1.0), Duration::from_millis(500));
        assert_eq!(r.backoff(3, 0.5), Duration::from_millis(200));
        assert_eq!(r.backoff(3, 0.0), Duration::ZERO);
        let u = unit_random();
        assert!((0.0..1.0).contains(&u));
    }
}
