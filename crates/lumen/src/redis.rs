//! The Redis connection shared by the cache, the rate limiter and the
//! readiness probe. (Inside this module `redis::` is the `redis` crate.)

use std::time::Duration;

/// A Redis connection manager (reconnects by itself), giving up after 1 s.
pub async fn connect(client: &redis::Client) -> anyhow::Result<redis::aio::ConnectionManager> {
    tokio::time::timeout(
        Duration::from_secs(1),
        redis::aio::ConnectionManager::new(client.clone()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))?
    .map_err(anyhow::Error::from)
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
