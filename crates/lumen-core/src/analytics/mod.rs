//! The analytics (docs/analytics.md): pure functions from a [`Dataset`] of
//! learning records, a subject and a [`Window`] to a result. No IO, no
//! clock: `now` is part of the window.
//!
//! Shared conventions (docs/analytics.md §2) live in [`common`]; each family
//! has its module.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod common;
pub mod comparison;
pub mod dataset;
pub mod dropoff;
#[cfg(test)]
mod equivalence;
pub mod evaluation;
pub mod forecast;
pub mod learner;
pub mod logistic;
pub mod metrics;
pub mod org;
pub mod recommendations;
pub mod registry;
#[cfg(test)]
pub(crate) mod testkit;
pub mod trainer;

pub use dataset::Dataset;
pub use registry::{ANALYTICS, Analytic, Family, Inputs, Memo, SubjectKind, WindowMemo};

/// `timeRange`: how far back a window reaches.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum TimeRange {
    #[serde(rename = "7d")]
    Days7,
    #[default]
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
    #[serde(rename = "1y")]
    Year,
}

impl TimeRange {
    pub fn days(self) -> i64 {
        match self {
            TimeRange::Days7 => 7,
            TimeRange::Days30 => 30,
            TimeRange::Days90 => 90,
            TimeRange::Year => 365,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimeRange::Days7 => "7d",
            TimeRange::Days30 => "30d",
            TimeRange::Days90 => "90d",
            TimeRange::Year => "1y",
        }
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of 7d, 30d, 90d, 1y")]
pub struct BadTimeRange;

impl FromStr for TimeRange {
    type Err = BadTimeRange;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "7d" => Ok(TimeRange::Days7),
            "30d" => Ok(TimeRange::Days30),
            "90d" => Ok(TimeRange::Days90),
            "1y" => Ok(TimeRange::Year),
            _ => Err(BadTimeRange),
        }
    }
}

/// The window W = (now − R, now] (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub range: TimeRange,
    pub now: DateTime<Utc>,
}

impl Window {
    /// `now` is truncated to whole seconds (§2.1): the instant the
    /// envelope publishes (`windowEnd`, `lastUpdated`) is the instant the
    /// analytic is computed at, so a recomputation from the published
    /// window gives the same answer.
    pub fn new(range: TimeRange, now: DateTime<Utc>) -> Self {
        Self {
            range,
            now: common::whole_seconds(now),
        }
    }

    pub fn length(&self) -> Duration {
        Duration::days(self.range.days())
    }

    /// Exclusive start: now − R.
    pub fn start(&self) -> DateTime<Utc> {
        self.now - self.length()
    }

    /// t ∈ (now − R, now].
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t > self.start() && t <= self.now
    }

    /// The previous window W′ = (now − 2R, now − R].
    pub fn previous(&self) -> Window {
        Window {
            range: self.range,
            now: self.start(),
        }
    }

    /// R / 7.
    pub fn weeks(&self) -> f64 {
        self.range.days() as f64 / 7.0
    }

    /// Day slot k = (now − (k+1)d, now − k·d], k = 0 … R−1; `None` outside W.
    pub fn day_slot(&self, t: DateTime<Utc>) -> Option<i64> {
        if !self.contains(t) {
            return None;
        }
        let age = self.now - t; // in [0, R)
        let k = age.num_seconds() / 86_400;
        // A timestamp exactly on a slot boundary belongs to the newer slot's end.
        let k = if age.num_seconds() % 86_400 == 0 && age.num_seconds() > 0 {
            k - 1
        } else {
            k
        };
        Some(k.clamp(0, self.range.days() - 1))
    }

    /// Week buckets newest first: bucket j = (now − 7(j+1)d, now − 7j·d] ∩ W.
    pub fn week_buckets(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let n = (self.range.days() + 6) / 7;
        (0..n)
            .map(|j| {
                let end = self.now - Duration::days(7 * j);
                let start = (self.now - Duration::days(7 * (j + 1))).max(self.start());
                (start, end)
            })
            .collect()
    }
}

/// Why an analytic cannot answer (404 or 422, docs/analytics.md §1.2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticError {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    InsufficientData {
        analytic: &'static str,
        /// Upper-case reason code, e.g. `NO_SCORED_ATTEMPTS`.
        reason: &'static str,
        message: String,
        minimum: BTreeMap<String, f64>,
        found: BTreeMap<String, f64>,
    },
}

impl AnalyticError {
    /// 422 with one named minimum and what was found.
    pub fn insufficient(
        analytic: &'static str,
        reason: &'static str,
        message: impl Into<String>,
        what: &str,
        minimum: f64,
        found: f64,
    ) -> Self {
        AnalyticError::InsufficientData {
            analytic,
            reason,
            message: message.into(),
            minimum: BTreeMap::from([(what.to_owned(), minimum)]),
            found: BTreeMap::from([(what.to_owned(), found)]),
        }
    }
}

/// The fields every analytic's `data` starts with (§1.1).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub analytic: &'static str,
    pub subject_id: Option<Uuid>,
    pub time_range: TimeRange,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Upstream sources whose data was not current (filled by the service).
    pub missing_sources: Vec<String>,
    /// Machine-readable reasons for omitted parts, e.g. `NO_TIME_SPENT_DATA`.
    pub notes: Vec<&'static str>,
}

impl Header {
    pub fn new(analytic: &'static str, subject_id: Option<Uuid>, window: &Window) -> Self {
        Self {
            analytic,
            subject_id,
            time_range: window.range,
            window_start: common::whole_seconds(window.start()),
            window_end: common::whole_seconds(window.now),
            missing_sources: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn note(&mut self, note: &'static str) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 15, 12, 0, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn windows_are_open_at_the_start_and_closed_at_the_end() {
        let w = Window::new(TimeRange::Days7, now());
        assert!(w.contains(now()));
        assert!(!w.contains(now() - Duration::days(7)));
        assert!(w.contains(now() - Duration::days(7) + Duration::seconds(1)));
        assert!(!w.contains(now() + Duration::seconds(1)));
        assert_eq!(w.previous().now, now() - Duration::days(7));
    }

    #[test]
    fn windows_are_computed_at_the_published_whole_second() {
        // A clock reading 12:00:00.600: the envelope publishes 12:00:00, so
        // the window ends there; a record at 12:00:00.300 is after the
        // published end and outside W (it was inside before).
        let clock = now() + Duration::milliseconds(600);
        let w = Window::new(TimeRange::Days7, clock);
        assert_eq!(w.now, now());
        assert!(!w.contains(now() + Duration::milliseconds(300)));
        assert!(w.contains(now()));
        let h = Header::new("velocity", None, &w);
        assert_eq!((h.window_start, h.window_end), (w.start(), w.now));
    }

    #[test]
    fn day_slots_and_week_buckets_count_back_from_now() {
        let w = Window::new(TimeRange::Days30, now());
        assert_eq!(w.day_slot(now()), Some(0));
        assert_eq!(w.day_slot(now() - Duration::hours(23)), Some(0));
        assert_eq!(w.day_slot(now() - Duration::days(1)), Some(0));
        assert_eq!(
            w.day_slot(now() - Duration::days(1) - Duration::seconds(1)),
            Some(1)
        );
        assert_eq!(w.day_slot(now() - Duration::days(30)), None);
        let buckets = w.week_buckets();
        assert_eq!(buckets.len(), 5);
        assert_eq!(buckets[4].1 - buckets[4].0, Duration::days(2));
    }

    #[test]
    fn time_ranges_parse_only_the_four_values() {
        assert_eq!("90d".parse(), Ok(TimeRange::Days90));
        assert!("2w".parse::<TimeRange>().is_err());
        assert_eq!(TimeRange::default(), TimeRange::Days30);
    }
}
