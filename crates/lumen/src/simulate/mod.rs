//! The upstream simulator: serves the nine upstream contracts
//! (docs/upstreams/*.yaml) over HTTP from a deterministic synthetic
//! organisation, for tests and for `lumen demo`.
//!
//! One server serves every service under its own prefix: service `S` has the
//! base URL `http://HOST:PORT/S`, e.g.
//! `GET /course-builder/api/v1/enrolments?updatedSince=…&cursor=…&limit=500`.
//! Control endpoints (no token): `PUT /_sim/faults/{service}`,
//! `GET /_sim/truth`, `POST /_sim/advance`.
//!
//! The same (seed, scale, now) always gives byte-identical responses: the
//! generator uses its own PRNG ([`rng`]) and no clock.

mod generate;
mod model;
mod rng;
mod server;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use generate::{DAY, Org};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub scale: Scale,
    /// The simulated present; all activity lies in the 182 days before it.
    /// Sub-second precision is dropped.
    pub now: DateTime<Utc>,
}

/// Size of the main organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// About 40 learners, 4 trainers, 6 courses (fast, for tests).
    Small,
    /// About 500 learners, 20 trainers, 40 courses (the demo).
    Medium,
    /// About 20,000 learners, 200 trainers, 300 courses and millions of
    /// content interactions (throughput measurement).
    Large,
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        })
    }
}

/// A scale name other than small, medium or large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scale {0:?} (expected small, medium or large)")]
pub struct ParseScaleError(pub String);

impl FromStr for Scale {
    type Err = ParseScaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "large" => Ok(Scale::Large),
            _ => Err(ParseScaleError(s.to_owned())),
        }
    }
}

/// The services, by their slug (also their URL prefix).
pub const SERVICES: [&str; 9] = [
    "auth",
    "directory",
    "course-builder",
    "content-studio",
    "assessment",
    "skills-engine",
    "learner-ai",
    "devlab",
    "rag-assistant",
];

/// Faults injected into one service's answers. `Default` is no fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Delay before each answer.
    pub latency_ms: u64,
    /// Probability (0..1) of answering 503; deterministic per request number.
    pub error_rate: f64,
    /// Answer 503 to everything.
    pub down: bool,
    /// Corrupt every 200 answer this way.
    pub malformed: Option<Malformed>,
}

/// How a 200 answer is corrupted. All but `Truncated` act on the first item
/// of the page (a page without items is served unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Malformed {
    /// The body is cut in the middle of the JSON.
    Truncated,
    /// One item lacks a required field.
    MissingField,
    /// One item has a string where a number belongs (a number or a string
    /// where a string or boolean belongs, for feeds without numbers).
    WrongType,
    /// One item has an out-of-range value (progress 1.7, a score above
    /// maxScore, a level of 7.5, …).
    OutOfRange,
    /// One item references an id that exists nowhere (organizations have no
    /// reference, so their feed is served unchanged).
    UnknownReference,
    /// One item appears twice in the page.
    Duplicate,
}

/// A learner's persona, which drives their activity and outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    Steady,
    Fast,
    Struggling,
    /// Activity fades, then they withdraw.
    Disengaging,
}

/// What the simulator knows and a collector should find (tests only).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Items served per feed at the current time, keyed by the last segment
    /// of the feed's path ("users", "enrolments", "content-interactions",
    /// "user-status", …).
    pub counts: BTreeMap<&'static str, usize>,
    /// Persona per learner (every user with the learner role), by
    /// Directory user id.
    pub personas: BTreeMap<String, Persona>,
    /// Eventual result per enrolment served now, by enrolment id: the
    /// outcome when it ends completed ("pass" | "distinction" | "fail"),
    /// else "withdrawn", or "active" when it is still running at the end of
    /// the simulated horizon.
    pub outcomes: BTreeMap<String, String>,
}

struct Inner {
    org: RwLock<Org>,
    faults: Mutex<[Faults; 9]>,
    requests: [AtomicU64; 9],
}

/// The running simulator; cheap to clone (shared state).
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

/// The seed of the demo's and the mock fallback's organisation.
pub const DEMO_SEED: u64 = 42;

/// Today at 00:00 UTC: the simulator's default present, so a simulation is
/// the same all day.
pub fn today() -> DateTime<Utc> {
    use chrono::TimeZone;
    let d = Utc::now().date_naive();
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Serves `sim` on a loopback port in the background; its address.
pub async fn serve_on_loopback(sim: SimHandle) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { sim.serve(listener).await });
    Ok(addr)
}

/// Points every upstream of `config` at the simulator serving at `addr`
/// (any non-empty token is accepted).
pub fn point_upstreams(
    config: &mut crate::config::Config,
    addr: std::net::SocketAddr,
    token: &str,
) {
    for service in SERVICES {
        config.upstreams.insert(
            service,
            crate::config::UpstreamConfig {
                base_url: format!("http://{addr}/{service}"),
                token: crate::config::Secret::new(token.into()),
            },
        );
    }
}

/// Starts the synthetic stand-ins of `LUMEN_MOCK_FALLBACK`: the simulator
/// (the demo's seed, medium scale, today) on a loopback port, and clients
/// for it, to hand to `Collector::with_mock_fallback`.
pub async fn start_mock_fallback(
    resilience: crate::upstream::Resilience,
) -> anyhow::Result<Arc<crate::upstream::Upstreams>> {
    let sim = SimHandle::new(SimConfig {
        seed: DEMO_SEED,
        scale: Scale::Medium,
        now: today(),
    });
    let addr = serve_on_loopback(sim).await?;
    let mut config = crate::config::Config::default();
    point_upstreams(&mut config, addr, "mock");
    Ok(Arc::new(crate::upstream::Upstreams::from_config(
        &config, resilience,
    )?))
}

pub(crate) fn service_index(service: &str) -> Option<usize> {
    SERVICES.iter().position(|s| *s == service)
}

impl SimHandle {
    /// Generates the organisation (a few ms at Small; seconds at Large).
    pub fn new(cfg: SimConfig) -> Self {
        let org = generate::generate(&cfg);
        SimHandle {
            inner: Arc::new(Inner {
                org: RwLock::new(org),
                faults: Mutex::new(Default::default()),
                requests: Default::default(),
            }),
        }
    }

    /// Every service under `/{service}` plus the `/_sim` control endpoints.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Serves [`SimHandle::router`] on `listener` until the process ends.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    pub fn truth(&self) -> GroundTruth {
        let org = self.org();
        GroundTruth {
            counts: org.counts(),
            personas: org.personas(),
            outcomes: org.outcomes(),
        }
    }

    /// Sets the faults of a service; an unknown service is ignored.
    pub fn set_faults(&self, service: &str, faults: Faults) {
        match service_index(service) {
            Some(i) => self.faults_mut()[i] = faults,
            None => tracing::warn!(service, "simulator: faults for an unknown service ignored"),
        }
    }

    /// Moves the simulated clock `days` forward: the activity of those days
    /// (interactions, attempts, skill levels, enrolment changes, …) appears
    /// in the feeds with updatedAt after the previous `now`.
    pub fn advance(&self, days: u32) {
        let mut org = self.inner.org.write().unwrap_or_else(|e| e.into_inner());
        let now = org.now + i64::from(days) * DAY;
        org.set_now(now);
    }

    /// Requests received by a service so far (every answer counts, 401 and
    /// 503 included); 0 for an unknown service.
    pub fn requests(&self, service: &str) -> u64 {
        service_index(service).map_or(0, |i| self.inner.requests[i].load(Ordering::Relaxed))
    }

    /// The simulated present.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.org().now, 0).unwrap_or_default()
    }

    pub(crate) fn org(&self) -> std::sync::RwLockReadGuard<'_, Org> {
        self.inner.org.read().unwrap_or_else(|e| e.into_inner())
    }

    fn faults_mut(&self) -> std::sync::MutexGuard<'_, [Faults; 9]> {
        self.inner.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self, service: usize) -> Faults {
        self.faults_mut()[service].clone()
    }

    /// Counts a request; returns its number (from 1).
    pub(crate) fn count(&self, service: usize) -> u64 {
        self.inner.requests[service].fetch_add(1, Ordering::Relaxed) + 1
    }
}
