//! Rate limits (PRODUCT §3.4): a generic cell rate algorithm (GCRA) per key,
//! behind one interface with two stores: in-process, and Redis (a Lua script
//! does the check-and-update atomically with Redis's clock, so instances that
//! share Redis share the limits). If Redis cannot be reached, the Redis store
//! falls back to its own in-process limiter and logs it: limits then hold per
//! instance instead of globally, but never disappear.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

/// Which limit applies to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// `POST /auth/login`, per client IP.
    Login,
    /// `POST /auth/refresh`, per client IP (the caller is not known before the token is checked).
    Refresh,
    /// `GET /auth/me`, `POST /auth/logout`, per user.
    Session,
    /// Analytics, comparison, predictive, gamification and profile reads, per user.
    Analytics,
    /// Health and status, per client IP.
    System,
    /// `POST /analytics/refresh`, per user.
    ManualRefresh,
}

impl LimitClass {
    pub const ALL: [LimitClass; 6] = [
        LimitClass::Login,
        LimitClass::Refresh,
        LimitClass::Session,
        LimitClass::Analytics,
        LimitClass::System,
        LimitClass::ManualRefresh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LimitClass::Login => "login",
            LimitClass::Refresh => "refresh",
            LimitClass::Session => "session",
            LimitClass::Analytics => "analytics",
            LimitClass::System => "system",
            LimitClass::ManualRefresh => "manual_refresh",
        }
    }

    /// Environment variable that sets this limit, e.g. `LUMEN_RATE_LIMIT_LOGIN=5/15m`.
    pub fn env_var(self) -> String {
        format!("LUMEN_RATE_LIMIT_{}", self.name().to_ascii_uppercase())
    }

    /// Keyed by the authenticated user (else by client IP).
    pub fn per_user(self) -> bool {
        matches!(
            self,
            LimitClass::Session | LimitClass::Analytics | LimitClass::ManualRefresh
        )
    }

    /// Each route of the class has its own budget per subject (a dashboard
    /// loading ten analytics spends ten budgets, one of each).
    pub fn per_route(self) -> bool {
        matches!(self, LimitClass::Analytics)
    }

    pub fn default_quota(self) -> Quota {
        let (limit, secs) = match self {
            LimitClass::Login => (5, 15 * 60),
            LimitClass::Refresh => (10, 60),
            LimitClass::Session => (60, 60),
            LimitClass::Analytics => (100, 3600),
            LimitClass::System => (1000, 3600),
            LimitClass::ManualRefresh => (3, 3600),
        };
        Quota {
            limit,
            period: Duration::from_secs(secs),
        }
    }
}

/// `limit` requests per `period`, written `5/15m`, `100/1h`, `10/60s`, `1000/1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    fn interval_us(self) -> i64 {
        (self.period.as_micros() / u128::from(self.limit.max(1))) as i64
    }
    fn period_us(self) -> i64 {
        self.period.as_micros() as i64
    }
}

impl FromStr for Quota {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a limit like 5/15m, 100/1h or 10/60s");
        let (limit, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let limit: u32 = limit
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        let period = period.trim();
        let split = period
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(period.len());
        let (n, unit) = period.split_at(split);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(bad());
        }
        Ok(Quota {
            limit,
            period: Duration::from_secs(n * unit_secs),
        })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.limit, self.period.as_secs())
    }
}

/// The outcome of one check, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// Until the full quota is available again.
    pub reset_after: Duration,
    /// Until the next request is allowed (zero when allowed).
    pub retry_after: Duration,
}

/// GCRA: `tat` is the theoretical arrival time stored for the key (µs).
/// Returns the decision and, when allowed, the new `tat` to store.
pub fn gcra(now: i64, tat: Option<i64>, quota: Quota) -> (Decision, Option<i64>) {
    let interval = quota.interval_us();
    let period = quota.period_us();
    let tat = tat.unwrap_or(now).max(now);
    let to_duration = |us: i64| Duration::from_micros(us.max(0) as u64);
    if tat + interval - now > period {
        let decision = Decision {
            allowed: false,
            limit: quota.limit,
            remaining: 0,
            reset_after: to_duration(tat - now),
            retry_after: to_duration(tat + interval - period - now),
        };
        return (decision, None);
    }
    let new_tat = tat + interval;
    let remaining = ((period - (new_tat - now)) / interval.max(1)) as u32;
    let decision = Decision {
        allowed: true,
        limit: quota.limit,
        remaining,
        reset_after: to_duration(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

/// Gives back one counted request: the `tat` to store after a refund, or
/// `None` when the key is back to a full quota (and can be dropped).
pub fn gcra_refund(now: i64, tat: i64, quota: Quota) -> Option<i64> {
    let refunded = tat - quota.interval_us();
    (refunded > now).then_some(refunded)
}

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    async fn check(&self, key: &str, quota: Quota) -> Decision;
    /// Gives back one request counted by `check` (a 304 revalidation is
    /// free, docs/security.md).
    async fn refund(&self, key: &str, quota: Quota);
}

/// Limits held in this process.
#[derive(Default)]
pub struct MemoryStore {
    tats: Mutex<HashMap<String, i64>>,
}

const PRUNE_ABOVE: usize = 100_000;

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn check(&self, key: &str, quota: Quota) -> Decision {
        let now = now_us();
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        if tats.len() > PRUNE_ABOVE {
            tats.retain(|_, tat| *tat > now);
        }
        let (decision, new_tat) = gcra(now, tats.get(key).copied(), quota);
        if let Some(tat) = new_tat {
            tats.insert(key.to_owned(), tat);
        }
        decision
    }

    async fn refund(&self, key: &str, quota: Quota) {
        let now = now_us();
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tat) = tats.get(key).copied() {
            match gcra_refund(now, tat, quota) {
                Some(tat) => tats.insert(key.to_owned(), tat),
                None => tats.remove(key),
            };
        }
    }
}

/// GCRA in Redis, on Redis's clock. KEYS[1] = key; ARGV = interval µs,
/// period µs. Returns {allowed, tat before (clamped to now), now} in µs, as
/// decimal strings (Lua's own number printing would round them).
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local function int(x) return string.format('%.0f', x) end
if tat + interval - now > period then
  return {0, int(tat), int(now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], int(new_tat), 'PX', int(math.ceil((new_tat - now) / 1000) + 1000))
return {1, int(tat), int(now)}
";

/// The refund of `gcra_refund` in Redis. KEYS[1] = key; ARGV = interval µs.
const REFUND_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local refunded = tat - tonumber(ARGV[1])
if refunded <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', refunded), 'PX', string.format('%.0f', math.ceil((refunded - now) / 1000) + 1000))
return 1
";

/// Limits shared by every instance that uses the same Redis.
pub struct RedisStore {
    client: redis::Client,
    conn: OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
    refund_script: redis::Script,
    fallback: MemoryStore,
    /// After a failure Redis is not tried again until then, so an outage
    /// does not add a timeout to every request.
    retry_at: Mutex<Option<std::time::Instant>>,
}

/// How long the Redis store limits in-process after a Redis failure.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(5);

impl RedisStore {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: OnceCell::new(),
            script: redis::Script::new(GCRA_LUA),
            refund_script: redis::Script::new(REFUND_LUA),
            fallback: MemoryStore::default(),
            retry_at: Mutex::new(None),
        })
    }

    async fn connection(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        Ok(self
            .conn
            .get_or_try_init(|| crate::redis::connect(&self.client))
            .await?
            .clone())
    }

    /// Whether Redis is being skipped after a recent failure.
    fn waiting(&self) -> bool {
        self.retry_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| std::time::Instant::now() < at)
    }

    fn failed(&self, err: &anyhow::Error) {
        tracing::warn!(error = %err, "Redis rate limiting unavailable: limiting in-process");
        *self.retry_at.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now() + REDIS_RETRY_AFTER);
    }

    async fn shared_refund(&self, key: &str, quota: Quota) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let _: i64 = tokio::time::timeout(
            Duration::from_secs(1),
            self.refund_script
                .key(key)
                .arg(quota.interval_us())
                .invoke_async(&mut conn),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis rate-limit refund timed out"))??;
        Ok(())
    }

    async fn shared_check(&self, key: &str, quota: Quota) -> anyhow::Result<Decision> {
        let mut conn = self.connection().await?;
        let (allowed, tat, now): (i64, String, String) = tokio::time::timeout(
            Duration::from_secs(1),
            self.script
                .key(key)
                .arg(quota.interval_us())
                .arg(quota.period_us())
                .invoke_async(&mut conn),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis rate-limit check timed out"))??;
        let (tat, now): (i64, i64) = (tat.parse()?, now.parse()?);
        let (decision, _) = gcra(now, Some(tat), quota);
        anyhow::ensure!(
            decision.allowed == (allowed == 1),
            "Redis and local GCRA disagree"
        );
        Ok(decision)
    }
}

#[async_trait]
impl RateLimitStore for RedisStore {
    async fn check(&self, key: &str, quota: Quota) -> Decision {
        if !self.waiting() {
            match self.shared_check(key, quota).await {
                Ok(decision) => return decision,
                Err(err) => self.failed(&err),
            }
        }
        self.fallback.check(key, quota).await
    }

    async fn refund(&self, key: &str, quota: Quota) {
        if !self.waiting() {
            match self.shared_refund(key, quota).await {
                Ok(()) => return,
                Err(err) => self.failed(&err),
            }
        }
        self.fallback.refund(key, quota).await
    }
}

/// The limits in force and where they are counted.
pub struct RateLimiter {
    store: Box<dyn RateLimitStore>,
    quotas: HashMap<LimitClass, Quota>,
}

impl RateLimiter {
    pub fn new(store: Box<dyn RateLimitStore>, quotas: HashMap<LimitClass, Quota>) -> Self {
        Self { store, quotas }
    }

    fn quota(&self, class: LimitClass) -> Quota {
        self.quotas
            .get(&class)
            .copied()
            .unwrap_or_else(|| class.default_quota())
    }

    fn key(class: LimitClass, subject: &str) -> String {
        format!("lumen:rl:{}:{subject}", class.name())
    }

    /// Checks and counts one request of `class` by `subject` (user id or IP).
    pub async fn check(&self, class: LimitClass, subject: &str) -> Decision {
        let key = Self::key(class, subject);
        self.store.check(&key, self.quota(class)).await
    }

    /// Gives back one request that `check` allowed and counted.
    pub async fn refund(&self, class: LimitClass, subject: &str) {
        let key = Self::key(class, subject);
        self.store.refund(&key, self.quota(class)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000;

    #[test]
    fn quotas_parse_from_their_written_form() {
        assert_eq!(
            "5/15m".parse(),
            Ok(Quota {
                limit: 5,
                period: Duration::from_secs(900)
            })
        );
        assert_eq!(
            "100/h".parse(),
            Ok(Quota {
                limit: 100,
                period: Duration::from_secs(3600)
            })
        );
        assert_eq!(
            "10/60s".parse::<Quota>().map(|q| q.period),
            Ok(Duration::from_secs(60))
        );
        for bad in ["", "5", "0/1m", "5/0m", "5/1w", "x/1m", "-1/1m"] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gcra_allows_the_quota_as_a_burst_then_refuses_with_the_wait() {
        let quota: Quota = "5/15m".parse().expect("quota");
        let now = 1_000 * SEC;
        let mut tat = None;
        for expected_remaining in [4, 3, 2, 1, 0] {
            let (d, new) = gcra(now, tat, quota);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
            tat = new;
        }
        let (d, new) = gcra(now, tat, quota);
        assert!(!d.allowed);
        assert_eq!(new, None, "a refused request is not counted");
        // One request is earned back every 15 min / 5 = 3 min.
        assert_eq!(d.retry_after, Duration::from_secs(180));
        assert_eq!(d.reset_after, Duration::from_secs(900));
        let (d, _) = gcra(now + 180 * SEC, tat, quota);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[tokio::test]
    async fn the_memory_store_keeps_keys_apart() {
        let store = MemoryStore::default();
        let quota = Quota {
            limit: 1,
            period: Duration::from_secs(60),
        };
        assert!(store.check("a", quota).await.allowed);
        assert!(!store.check("a", quota).await.allowed);
        assert!(store.check("b", quota).await.allowed);
    }

    #[test]
    fn a_refund_gives_back_exactly_one_request() {
        let quota = Quota {
            limit: 4,
            period: Duration::from_secs(60),
        };
        let now = 1_000 * SEC;
        let (_, tat) = gcra(now, None, quota);
        let (_, tat) = gcra(now, tat, quota);
        let tat = tat.expect("allowed");
        // Two requests spent (tat = now + 30 s); a refund leaves one spent.
        assert_eq!(gcra_refund(now, tat, quota), Some(now + 15 * SEC));
        // Refunding the last spent request drops the key: a full quota.
        assert_eq!(gcra_refund(now, now + 15 * SEC, quota), None);
        // A key already back to full cannot be refunded below `now`.
        assert_eq!(gcra_refund(now + 60 * SEC, tat, quota), None);
    }

    #[tokio::test]
    async fn the_memory_store_refunds_a_counted_request() {
        let store = MemoryStore::default();
        let quota = Quota {
            limit: 1,
            period: Duration::from_secs(60),
        };
        assert!(store.check("a", quota).await.allowed);
        store.refund("a", quota).await;
        assert!(store.check("a", quota).await.allowed);
        assert!(!store.check("a", quota).await.allowed);
    }
}
