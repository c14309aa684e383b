//! A circuit breaker per upstream service: after `threshold` consecutive
//! failures it opens and refuses calls; after `open_for` it lets exactly one
//! probe through (half-open); the probe's success closes it, its failure
//! opens it again. A probe dropped without an outcome (its call was
//! cancelled) gives its turn back: the next call probes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; everyone else is refused.
    HalfOpen,
}

/// Where the breaker reads the time: `Instant::now`, or a test's clock.
type Clock = Box<dyn Fn() -> Instant + Send + Sync>;

pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
    clock: Clock,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("threshold", &self.threshold)
            .field("open_for", &self.open_for)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Permission to make one call; report its outcome. Dropped without one,
/// a half-open probe is released for the next call.
#[derive(Debug)]
#[must_use]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    /// The half-open probe, with no outcome reported yet.
    probe: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            let mut inner = self.breaker.lock();
            if matches!(*inner, Inner::HalfOpen) {
                *inner = Inner::Open {
                    until: self.breaker.now(),
                };
            }
        }
    }
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self::with_clock(threshold, open_for, Box::new(Instant::now))
    }

    fn with_clock(threshold: u32, open_for: Duration, clock: Clock) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
            clock,
        }
    }

    fn now(&self) -> Instant {
        (self.clock)()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None` while open (or while the half-open probe is out).
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => Some(Permit {
                breaker: self,
                probe: false,
            }),
            Inner::Open { until } if self.now() >= until => {
                *inner = Inner::HalfOpen;
                Some(Permit {
                    breaker: self,
                    probe: true,
                })
            }
            Inner::Open { .. } | Inner::HalfOpen => None,
        }
    }

    pub fn record_success(&self, mut permit: Permit<'_>) {
        permit.probe = false;
        *self.lock() = Inner::Closed { failures: 0 };
    }

    pub fn record_failure(&self, mut permit: Permit<'_>) {
        permit.probe = false;
        let mut inner = self.lock();
        *inner = match *inner {
            Inner::Closed { failures } if failures + 1 < self.threshold => Inner::Closed {
                failures: failures + 1,
            },
            _ => Inner::Open {
                until: self.now() + self.open_for,
            },
        };
    }

    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            Inner::Closed { .. } => CircuitState::Closed,
            Inner::Open { until } if self.now() >= until => CircuitState::HalfOpen,
            Inner::Open { .. } => CircuitState::Open,
            Inner::HalfOpen => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A breaker on a clock the test moves by hand: no sleeps, no
    /// dependence on how fast the machine runs the test.
    fn manual(threshold: u32, open_for: Duration) -> (CircuitBreaker, Arc<Mutex<Instant>>) {
        let time = Arc::new(Mutex::new(Instant::now()));
        let read = Arc::clone(&time);
        let clock: Clock = Box::new(move || *read.lock().expect("clock"));
        (CircuitBreaker::with_clock(threshold, open_for, clock), time)
    }

    fn advance(time: &Mutex<Instant>, by: Duration) {
        *time.lock().expect("clock") += by;
    }

    fn fail(b: &CircuitBreaker) {
        let permit = b.try_acquire().expect("allowed");
        b.record_failure(permit);
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let b = CircuitBreaker::new(5, Duration::from_secs(60));
        for _ in 0..4 {
            fail(&b);
        }
        assert_eq!(b.state(), CircuitState::Closed);
        fail(&b);
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = CircuitBreaker::new(3, Duration::from_secs(60));
        fail(&b);
        fail(&b);
        let p = b.try_acquire().expect("allowed");
        b.record_success(p);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let (b, time) = manual(1, Duration::from_secs(30));
        fail(&b);
        assert!(b.try_acquire().is_none());
        advance(&time, Duration::from_secs(29));
        assert!(b.try_acquire().is_none(), "still open before open_for");
        advance(&time, Duration::from_secs(1));
        let probe = b.try_acquire().expect("one probe");
        assert!(b.try_acquire().is_none(), "only one probe at a time");
        b.record_failure(probe);
        assert_eq!(b.state(), CircuitState::Open);
        advance(&time, Duration::from_secs(30));
        let probe = b.try_acquire().expect("probe again");
        b.record_success(probe);
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(b.try_acquire().is_some());
    }

    #[tokio::test]
    async fn a_cancelled_probe_releases_the_half_open_breaker() {
        let (b, time) = manual(1, Duration::from_secs(30));
        fail(&b);
        advance(&time, Duration::from_secs(30));
        let call = async {
            let _probe = b.try_acquire().expect("one probe");
            std::future::pending::<()>().await;
        };
        // The call is cancelled mid-flight, its permit dropped unreported.
        let timed_out = tokio::time::timeout(Duration::from_millis(10), call).await;
        assert!(timed_out.is_err());
        let probe = b.try_acquire().expect("the next call probes");
        assert!(b.try_acquire().is_none(), "still one probe at a time");
        b.record_success(probe);
        assert_eq!(b.state(), CircuitState::Closed);
    }
}
