//! Clients of the nine upstream services (PRODUCT §6, `docs/upstreams/`).
//! One client per configured service: base URL, service bearer token,
//! per-call timeout, retries through `backon` with exponential backoff and
//! jitter for these idempotent GETs (on timeouts, connection errors, 5xx and
//! 429, a 429 waiting as its `Retry-After` asks, in seconds or as an
//! HTTP-date), and a circuit breaker.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};

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
    /// The wait before the first retry; each later one doubles, up to
    /// `backoff_cap`, and jitter adds up to as much again.
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

    /// The backoff policy of one call.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.backoff_base)
            .with_max_delay(self.backoff_cap)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay seconds or an HTTP-date,
/// as the wait from `now`; a date in the past waits nothing.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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
    /// as text. Retries transient failures with backoff and a 429 after its
    /// `Retry-After`; every attempt asks the circuit first.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, UpstreamError> {
        let url = format!("{}{path}", self.base_url);
        let call = || async {
            let permit = self
                .breaker
                .try_acquire()
                .ok_or(UpstreamError::CircuitOpen)?;
            let result = self.attempt(&url, query).await;
            match &result {
                Err(err) if err.transient() => self.breaker.record_failure(permit),
                // Success, or the service answered (429 busy, 400, 401): not a sign it is down.
                _ => self.breaker.record_success(permit),
            }
            result
        };
        call.retry(self.resilience.backoff())
            .when(|err| err.transient() || matches!(err, UpstreamError::RateLimited(_)))
            .adjust(|err, backoff| match (err, backoff) {
                // Wait as asked, within the attempts left; a wait over a minute ends the call.
                (UpstreamError::RateLimited(Some(asked)), Some(_)) => {
                    (*asked <= MAX_RETRY_AFTER).then_some(*asked)
                }
                (_, backoff) => backoff,
            })
            .notify(|err, wait| {
                tracing::debug!(service = self.service, %err, ?wait, "retrying upstream call");
            })
            .await
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
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
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
    fn retry_after_is_read_in_seconds_or_as_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
