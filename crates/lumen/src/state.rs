//! The application state every handler reads (`State<AppState>`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub redis: Option<RedisProbe>,
    pub metrics: Arc<Metrics>,
    pub started_at: DateTime<Utc>,
    started: Instant,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let redis = match &config.redis_url {
            Some(url) => Some(RedisProbe::new(url.expose())?),
            None => None,
        };
        Ok(Self {
            config: Arc::new(config),
            store,
            redis,
            metrics: Arc::new(Metrics::default()),
            started_at: Utc::now(),
            started: Instant::now(),
        })
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Checks that the configured Redis answers.
#[derive(Clone)]
pub struct RedisProbe {
    client: redis::Client,
}

impl RedisProbe {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|_| {
            anyhow::anyhow!("invalid configuration: REDIS_URL: not a valid Redis URL")
        })?;
        Ok(Self { client })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        anyhow::ensure!(pong == "PONG", "unexpected PING reply");
        Ok(())
    }
}
