//! Prometheus metrics, held by the app state (no global registry, so every
//! test app has its own): requests by route and status, and latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    layer: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

fn job_histogram() -> Histogram {
    // 10 ms .. ~1.5 h
    Histogram::new(exponential_buckets(0.01, 2.0, 20))
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    cache: Family<LookupLabels, Counter>,
    computations: Family<KindLabels, Counter>,
    jobs: Family<JobLabels, Histogram, fn() -> Histogram>,
    queue: Family<StateLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lumen");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        let cache = Family::<LookupLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Analytics cache lookups by layer (l1, l2, l3) and result (hit, miss)",
            cache.clone(),
        );
        let computations = Family::<KindLabels, Counter>::default();
        registry.register(
            "analytics_computations",
            "Analytics computed from learning records (cache misses, refreshes, batch)",
            computations.clone(),
        );
        let jobs = Family::<JobLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            job_histogram as fn() -> Histogram,
        );
        registry.register(
            "job_duration_seconds",
            "Job attempts by kind and outcome (completed, retrying, dead), with duration",
            jobs.clone(),
        );
        let queue = Family::<StateLabels, Gauge>::default();
        registry.register("jobs", "Jobs in the queue by state", queue.clone());
        Self {
            registry,
            requests,
            latency,
            cache,
            computations,
            jobs,
            queue,
        }
    }
}

impl Metrics {
    /// `route` is the route template (`/api/v1/jobs/{id}`), never the raw
    /// path, so the number of series stays bounded.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn cache_lookup(&self, layer: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache
            .get_or_create(&LookupLabels { layer, result })
            .inc();
    }

    /// Hit ratio of each cache layer since start: `(layer, hits, lookups)`.
    pub fn cache_ratios(&self) -> Vec<(&'static str, u64, u64)> {
        ["l1", "l2", "l3"]
            .into_iter()
            .map(|layer| {
                let count = |result| {
                    self.cache
                        .get_or_create(&LookupLabels { layer, result })
                        .get()
                };
                let hits = count("hit");
                (layer, hits, hits + count("miss"))
            })
            .collect()
    }

    pub fn computation(&self, kind: &str) {
        self.computations
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Analytics computed since start, of every kind.
    pub fn computations_total(&self) -> u64 {
        lumen_core::analytics::ANALYTICS
            .iter()
            .map(|k| {
                self.computations
                    .get_or_create(&KindLabels {
                        kind: k.name.to_owned(),
                    })
                    .get()
            })
            .sum()
    }

    pub fn job_finished(&self, kind: &str, outcome: &'static str, seconds: f64) {
        self.jobs
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .observe(seconds);
    }

    pub fn set_queue_depth(&self, counts: &std::collections::BTreeMap<String, i64>) {
        for state in crate::store::jobs::JobState::ALL {
            let n = counts.get(state.as_str()).copied().unwrap_or(0);
            self.queue
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(n);
        }
    }

    /// OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
