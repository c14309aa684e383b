//! The serving path's cache layers (PRODUCT §5, seed 000 §8.3):
//!
//! - **L1**, in process: bounded by bytes, entries live 24 h. With
//!   `REDIS_URL` set, Redis holds a shared copy for every instance; a new
//!   result is written there and an invalidation is published so every
//!   instance drops its local copy.
//! - **L2**, the database's `analytics_results`: the latest result per
//!   analytic, subject and time range, kept 7 days.
//! - **L3**, the database's `analytics_rollups`: the last result of each
//!   month, kept 7 years.
//!
//! A result older than 6 h is stale: still served, with `stale: true`, while
//! a refresh job is queued. Concurrent misses of one key wait for one
//! computation (single flight).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::store::results::StoredResult;

/// L1 entries live this long.
pub const L1_TTL: Duration = Duration::from_secs(24 * 3600);
/// With Redis, a local copy is trusted this long even if an invalidation
/// was missed (pub/sub is at-most-once); Redis itself keeps it for `L1_TTL`.
const LOCAL_TTL_SHARED: Duration = Duration::from_secs(30);

/// Where an analytic's numbers come from (PRODUCT §3.1).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// Computed from current upstream data.
    Realtime,
    /// Served from a cache layer.
    Cached,
    /// Some upstream could not be refreshed: last known good data.
    Stale,
    /// Synthetic data (mock fallback).
    Mock,
}

impl DataSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::Realtime => "realtime",
            DataSource::Cached => "cached",
            DataSource::Stale => "stale",
            DataSource::Mock => "mock",
        }
    }
}

/// One analytic's result, as every layer stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The analytic's `data`, serialised once.
    pub data: String,
    pub data_source: DataSource,
    pub computed_at: DateTime<Utc>,
    pub organization_id: Uuid,
    /// Entity tag of the result (weak: the envelope's flags may differ).
    pub etag: String,
    /// The records version it was computed from, for results that must not
    /// outlive new records (gamification); `None` for the analytics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_version: Option<i64>,
}

impl Entry {
    pub fn new(
        data: String,
        data_source: DataSource,
        computed_at: DateTime<Utc>,
        organization_id: Uuid,
    ) -> Entry {
        let mut hash = sha2::Sha256::new();
        hash.update(data.as_bytes());
        hash.update(computed_at.to_rfc3339().as_bytes());
        let digest = hash.finalize();
        let etag = format!(
            "W/\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Entry {
            data,
            data_source,
            computed_at,
            organization_id,
            etag,
            records_version: None,
        }
    }

    /// The same result, marked as computed from records version `version`.
    pub fn with_records_version(mut self, version: i64) -> Entry {
        self.records_version = Some(version);
        self
    }

    pub fn from_stored(row: StoredResult) -> Option<Entry> {
        let source = serde_json::from_value(serde_json::Value::from(row.data_source)).ok()?;
        let mut entry = Entry::new(row.data, source, row.computed_at, row.organization_id);
        entry.records_version = row.records_version;
        Some(entry)
    }

    pub fn to_stored(
        &self,
        kind: &str,
        subject: Uuid,
        range: &str,
        batch: Option<Uuid>,
    ) -> StoredResult {
        StoredResult {
            kind: kind.to_owned(),
            subject_id: subject,
            time_range: range.to_owned(),
            organization_id: self.organization_id,
            data: self.data.clone(),
            data_source: self.data_source.as_str().to_owned(),
            computed_at: self.computed_at,
            batch_id: batch,
            records_version: self.records_version,
        }
    }
}

#[derive(Clone)]
struct Local {
    entry: Arc<Entry>,
    /// Dropped locally after this.
    until: std::time::Instant,
}

#[derive(Clone)]
struct Weigh;

impl quick_cache::Weighter<String, Local> for Weigh {
    fn weight(&self, key: &String, val: &Local) -> u64 {
        (key.len() + val.entry.data.len() + 160) as u64
    }
}

/// The L1 layer: in-process, and Redis when configured.
pub struct L1 {
    local: quick_cache::sync::Cache<String, Local, Weigh>,
    shared: Option<Shared>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Shared {
    client: redis::Client,
    conn: OnceCell<redis::aio::ConnectionManager>,
    /// `LUMEN_CACHE_REDIS_PREFIX`.
    prefix: String,
    /// This instance, so it ignores its own invalidations.
    instance: String,
    /// After a Redis failure the shared copy is skipped until then, so an
    /// outage does not add a timeout to every miss.
    down_until: Mutex<Option<std::time::Instant>>,
}

/// How long L1 works in-process only after Redis failed.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(5);

impl L1 {
    /// `max_bytes` bounds the in-process layer; `redis` (URL and key
    /// prefix) adds the shared one.
    pub fn new(max_bytes: u64, redis: Option<(&str, &str)>) -> anyhow::Result<L1> {
        let shared = match redis {
            Some((url, prefix)) => Some(Shared {
                client: redis::Client::open(url)?,
                conn: OnceCell::new(),
                prefix: prefix.to_owned(),
                down_until: Mutex::new(None),
                instance: Uuid::new_v4().simple().to_string(),
            }),
            None => None,
        };
        Ok(L1 {
            local: quick_cache::sync::Cache::with_weighter(
                (max_bytes / 4096).max(16) as usize,
                max_bytes,
                Weigh,
            ),
            shared,
            flights: Mutex::default(),
        })
    }

    fn local_ttl(&self) -> Duration {
        if self.shared.is_some() {
            LOCAL_TTL_SHARED
        } else {
            L1_TTL
        }
    }

    fn local_get(&self, key: &str) -> Option<Arc<Entry>> {
        let hit = self.local.get(key)?;
        if hit.until < std::time::Instant::now() {
            self.local.remove(key);
            return None;
        }
        Some(hit.entry)
    }

    fn local_put(&self, key: &str, entry: Arc<Entry>) {
        let until = std::time::Instant::now() + self.local_ttl();
        self.local.insert(key.to_owned(), Local { entry, until });
    }

    /// The entry of `key`, from this process or else from Redis.
    pub async fn get(&self, key: &str) -> Option<Arc<Entry>> {
        if let Some(entry) = self.local_get(key) {
            return Some(entry);
        }
        let shared = self.shared.as_ref()?;
        let mut conn = shared.conn().await.ok()?;
        let read = tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("GET")
                .arg(shared.key(key))
                .query_async::<Option<String>>(&mut conn),
        )
        .await;
        let text = match read {
            Ok(Ok(text)) => text,
            _ => {
                shared.failed();
                None
            }
        };
        let entry: Entry = serde_json::from_str(&text?).ok()?;
        let entry = Arc::new(entry);
        self.local_put(key, entry.clone());
        Some(entry)
    }

    /// Stores a new result for `key`: here, in Redis, and tells the other
    /// instances to drop their copies.
    pub async fn put(&self, key: &str, entry: Arc<Entry>) {
        self.local_put(key, entry.clone());
        let Some(shared) = &self.shared else {
            return;
        };
        let Ok(text) = serde_json::to_string(&*entry) else {
            return;
        };
        let Ok(mut conn) = shared.conn().await else {
            tracing::warn!("Redis unreachable: the L1 result is kept in this instance only");
            return;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(shared.key(key))
            .arg(text)
            .arg("EX")
            .arg(L1_TTL.as_secs())
            .ignore()
            .cmd("PUBLISH")
            .arg(shared.channel())
            .arg(format!("{} {key}", shared.instance))
            .ignore();
        let write = pipe.query_async::<()>(&mut conn);
        match tokio::time::timeout(Duration::from_secs(1), write).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                shared.failed();
                tracing::warn!(error = %err, "writing L1 to Redis failed");
            }
            Err(_) => {
                shared.failed();
                tracing::warn!("writing L1 to Redis timed out");
            }
        }
    }

    /// Drops this process's copy of `key`.
    pub fn evict_local(&self, key: &str) {
        self.local.remove(key);
    }

    /// Serialises computations of one key within this process: the guard
    /// is held while the key is looked up in L2/L3 and computed.
    pub async fn flight(self: &Arc<Self>, key: &str) -> Flight {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.entry(key.to_owned()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        Flight {
            l1: self.clone(),
            key: key.to_owned(),
            _guard: Some(guard),
        }
    }

    /// Listens for other instances' invalidations until the connection
    /// fails; reconnects after a pause. Runs for the life of the process.
    pub async fn listen_for_invalidations(self: Arc<Self>) {
        let Some(shared) = &self.shared else {
            return;
        };
        loop {
            match shared.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(shared.channel()).await.is_ok() {
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(payload) = msg.get_payload::<String>() else {
                                continue;
                            };
                            if let Some((from, key)) = payload.split_once(' ')
                                && from != shared.instance
                            {
                                self.evict_local(key);
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "Redis invalidation channel unavailable"),
            }
            // Missed invalidations are bounded by LOCAL_TTL_SHARED.
            tokio::time::sleep(REDIS_RETRY_AFTER).await;
        }
    }
}

impl Shared {
    /// A connection, unless Redis failed in the last few seconds.
    async fn conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let now = std::time::Instant::now();
        let recently_down = self
            .down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| now < until);
        if recently_down {
            anyhow::bail!("Redis was unreachable moments ago");
        }
        let conn = self.connect().await;
        if conn.is_err() {
            self.failed();
        }
        conn
    }

    fn failed(&self) {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now() + REDIS_RETRY_AFTER);
    }
    fn key(&self, key: &str) -> String {
        format!("{}:l1:{key}", self.prefix)
    }

    /// Where instances announce new results, so others drop their copies.
    fn channel(&self) -> String {
        format!("{}:cache:invalidate", self.prefix)
    }
    async fn connect(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        Ok(self
            .conn
            .get_or_try_init(|| crate::redis::connect(&self.client))
            .await?
            .clone())
    }
}

/// Held while one key is being looked up or computed.
pub struct Flight {
    l1: Arc<L1>,
    key: String,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self._guard.take();
        let mut flights = self.l1.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            flights.remove(&self.key);
        }
    }
}
