//! The application state every handler reads (`State<AppState>`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::{MemoryStore, RateLimitStore, RateLimiter, RedisStore};
use crate::redis::RedisProbe;
use crate::store::Store;
use crate::upstream::{Resilience, Upstreams};

/// Cloned for every request by each layer that holds it: one reference
/// count for the whole state, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// The counts `/api/status` shows operators.
#[derive(Debug, Clone, Default)]
pub struct StatusCounts {
    pub records: Option<crate::store::RecordCounts>,
    pub rejections: Vec<crate::store::RejectionCount>,
    pub queue: std::collections::BTreeMap<String, i64>,
}

pub struct State {
    pub config: Arc<Config>,
    pub store: Store,
    pub redis: Option<RedisProbe>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<Auth>,
    /// `None` when rate limits are off (`LUMEN_RATE_LIMITS=off`).
    pub limiter: Option<Arc<RateLimiter>>,
    /// Clients of the configured upstream services.
    pub upstreams: Arc<Upstreams>,
    /// Drop-off models per organisation.
    pub models: Arc<crate::models::Models>,
    /// Warm organisation datasets with their memos (`LUMEN_DATASET_CACHE_MB`).
    pub datasets: Arc<crate::datasets::Datasets>,
    /// Cached Learner AI suggestions.
    pub learner_ai: Arc<crate::learner_ai::LearnerAi>,
    /// The L1 cache layer (in process, and Redis when configured).
    pub l1: Arc<crate::cache::L1>,
    /// This process's side of the job queue.
    pub queue: crate::queue::Queue,
    /// The SMTP server reports are mailed through, when configured.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// Where report files are kept (local directory or S3).
    pub objects: Arc<crate::objects::Objects>,
    pub started_at: DateTime<Utc>,
    started: Instant,
    /// The counts `/api/status` shows operators, with when they were read:
    /// read again at most every `STATUS_COUNTS_TTL`.
    pub status_counts: tokio::sync::Mutex<Option<(Instant, StatusCounts)>>,
    /// The instant the serving path computes with.
    pub clock: Clock,
}

/// The time analytics are computed and served at: the system clock, or a
/// fixed instant (tests that compare outputs byte for byte).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock(Option<DateTime<Utc>>);

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock(Some(at))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.unwrap_or_else(Utc::now)
    }
}

impl AppState {
    pub fn new(config: Config, store: Store) -> anyhow::Result<Self> {
        let auth = Auth::from_config(&config)?;
        Self::with_auth(config, store, auth)
    }

    pub fn with_auth(config: Config, store: Store, auth: Auth) -> anyhow::Result<Self> {
        let redis = match &config.redis_url {
            Some(url) => Some(RedisProbe::new(url.expose())?),
            None => None,
        };
        let limiter = if config.rate_limits_enabled {
            let store: Box<dyn RateLimitStore> = match &config.redis_url {
                Some(url) => Box::new(RedisStore::new(url.expose())?),
                None => Box::new(MemoryStore::default()),
            };
            Some(Arc::new(RateLimiter::new(
                store,
                config.rate_limits.clone(),
            )))
        } else {
            tracing::warn!("rate limits are OFF (LUMEN_RATE_LIMITS=off): for load benchmarks only");
            None
        };
        let upstreams = Arc::new(Upstreams::from_config(
            &config,
            Resilience::from_config(&config),
        )?);
        let l1 = Arc::new(crate::cache::L1::new(
            config.cache_l1_bytes,
            config
                .redis_url
                .as_ref()
                .map(|u| (u.expose().as_str(), config.cache_redis_prefix.as_str())),
        )?);
        let learner_ai = Arc::new(crate::learner_ai::LearnerAi::new(
            store.clone(),
            upstreams.clone(),
        ));
        let objects = Arc::new(crate::objects::Objects::from_config(&config)?);
        let mailer = match &config.reports.smtp {
            Some(smtp) => Some(Arc::new(crate::mail::Mailer::new(smtp)?)),
            None => None,
        };
        Ok(Self(Arc::new(State {
            auth: Arc::new(auth),
            mailer,
            objects,
            l1,
            queue: crate::queue::Queue::new(store.clone()),
            limiter,
            upstreams,
            models: Arc::default(),
            status_counts: tokio::sync::Mutex::new(None),
            datasets: Arc::new(crate::datasets::Datasets::new(config.dataset_cache_bytes)),
            learner_ai,
            config: Arc::new(config),
            store,
            redis,
            metrics: Arc::new(Metrics::default()),
            started_at: Utc::now(),
            started: Instant::now(),
            clock: Clock::default(),
        })))
    }

    /// The same state computing at `clock`; only before the state is shared.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the clock is set before the state is shared")
            .clock = clock;
        self
    }
}

impl State {
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn collector(&self) -> crate::collector::Collector {
        crate::collector::Collector::new(self.store.clone(), self.upstreams.clone())
    }
}
