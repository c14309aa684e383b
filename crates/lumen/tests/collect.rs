//! Collection from the upstream simulator over real HTTP on 127.0.0.1, into
//! SQLite and PostgreSQL: counts match the simulator's ground truth,
//! re-running is idempotent and incremental, a service down opens only its
//! own circuit, and every kind of malformed payload is rejected and counted.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use lumen::collector::{Collector, RunReport};
use lumen::config::{Config, Secret, UPSTREAM_SERVICES, UpstreamConfig};
use lumen::simulate::{Faults, Malformed, Scale, SimConfig, SimHandle};
use lumen::store::Store;
use lumen::upstream::{CircuitState, Resilience, Upstreams};
use support::TestDb;
use support::on_both_databases;

/// The simulator's feed name → the table its records land in.
const FEED_TABLES: [(&str, &str); 19] = [
    ("organizations", "organizations"),
    ("departments", "departments"),
    ("users", "users"),
    ("trainer-learners", "trainer_learners"),
    ("courses", "courses"),
    ("course-units", "course_units"),
    ("course-trainers", "course_trainers"),
    ("enrolments", "enrolments"),
    ("trainer-feedback", "trainer_feedback"),
    ("content-items", "content_items"),
    ("content-interactions", "content_interactions"),
    ("assessments", "assessments"),
    ("assessment-attempts", "assessment_attempts"),
    ("skills", "skills"),
    ("skill-levels", "user_skill_levels"),
    ("job-role-requirements", "job_role_skill_requirements"),
    ("skill-targets", "org_skill_targets"),
    ("lab-sessions", "lab_sessions"),
    ("assistant-questions", "assistant_questions"),
];

async fn start_simulator() -> (SimHandle, String) {
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("date");
    let sim = SimHandle::new(SimConfig {
        seed: 7,
        scale: Scale::Small,
        now,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = sim.clone();
    tokio::spawn(async move { server.serve(listener).await });
    (sim, base)
}

/// An open circuit stays open for 3 s: longer than the rest of a collection
/// takes on a loaded machine, so a test sees it open after the run.
fn fast_resilience() -> Resilience {
    Resilience {
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(100),
        breaker_threshold: 5,
        breaker_open_for: Duration::from_secs(3),
    }
}

fn collector(store: Store, base: &str) -> (Collector, Arc<Upstreams>) {
    let mut config = Config::default();
    for service in UPSTREAM_SERVICES {
        config.upstreams.insert(
            service,
            UpstreamConfig {
                base_url: format!("{base}/{service}"),
                token: Secret::new("test-token".into()),
            },
        );
    }
    let upstreams = Arc::new(Upstreams::from_config(&config, fast_resilience()).expect("clients"));
    (Collector::new(store, upstreams.clone()), upstreams)
}

/// What the store should hold: the simulator's count per feed, by table.
fn expected(sim: &SimHandle) -> BTreeMap<String, i64> {
    let truth = sim.truth();
    FEED_TABLES
        .iter()
        .map(|(feed, table)| {
            (
                table.to_string(),
                truth.counts.get(feed).copied().unwrap_or(0) as i64,
            )
        })
        .collect()
}

async fn run(collector: &Collector) -> RunReport {
    collector.run().await.expect("collection runs")
}

on_both_databases!(
    |db| db.store();
    a_full_collection_stores_exactly_the_simulated_organisation,
    collecting_again_changes_nothing_and_an_incremental_run_reads_only_what_is_new,
    a_service_down_stops_only_its_own_feeds_and_its_circuit_recovers,
    malformed_payloads_are_rejected_counted_and_never_stored,
    an_enrolment_across_organisations_is_rejected_and_counted,
);

async fn a_full_collection_stores_exactly_the_simulated_organisation(store: Store) {
    let (sim, base) = start_simulator().await;
    let (collector, _) = collector(store.clone(), &base);
    let report = run(&collector).await;
    for feed in &report.feeds {
        assert!(
            feed.complete,
            "{}/{} incomplete: {:?}",
            feed.service, feed.feed, feed.error
        );
        assert!(
            feed.rejected.is_empty(),
            "{}/{} rejected {:?}",
            feed.service,
            feed.feed,
            feed.rejected
        );
    }
    assert_eq!(store.table_counts().await.expect("counts"), expected(&sim));
    assert!(
        expected(&sim)["content_interactions"] > 1000,
        "the fixture has real volume"
    );
    // Every upstream id landed as exactly one row, with references resolved.
    let statuses = collector.status().await.expect("status");
    let directory = statuses
        .iter()
        .find(|s| s.service == "directory")
        .expect("directory");
    assert_eq!(directory.circuit, Some(CircuitState::Closed));
    assert!(directory.last_success_at.is_some());
    assert!(directory.records_synced > 0);
}

async fn collecting_again_changes_nothing_and_an_incremental_run_reads_only_what_is_new(
    store: Store,
) {
    let (sim, base) = start_simulator().await;
    let (collector, _) = collector(store.clone(), &base);
    let first = run(&collector).await;
    let after_first = store.table_counts().await.expect("counts");

    let second = run(&collector).await;
    assert_eq!(
        store.table_counts().await.expect("counts"),
        after_first,
        "re-running stores nothing twice"
    );
    assert!(
        second.fetched() * 20 < first.fetched(),
        "an unchanged upstream is read incrementally: {} then {}",
        first.fetched(),
        second.fetched()
    );

    sim.advance(3);
    let third = run(&collector).await;
    let grown = store.table_counts().await.expect("counts");
    assert_eq!(
        grown,
        expected(&sim),
        "the new days' records are all collected"
    );
    assert!(grown["content_interactions"] > after_first["content_interactions"]);
    let new_records: i64 = grown.values().sum::<i64>() - after_first.values().sum::<i64>();
    assert!(
        (third.fetched() as i64) < new_records * 3 + 200,
        "the incremental run read {} items for {new_records} new records",
        third.fetched()
    );
    assert!(third.fetched() * 5 < first.fetched());
}

async fn a_service_down_stops_only_its_own_feeds_and_its_circuit_recovers(store: Store) {
    let (sim, base) = start_simulator().await;
    let (collector, upstreams) = collector(store.clone(), &base);
    sim.set_faults(
        "content-studio",
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let report = run(&collector).await;
    for feed in &report.feeds {
        if feed.service == "content-studio" {
            assert!(
                !feed.complete && feed.error.is_some(),
                "{}: {:?}",
                feed.feed,
                feed.error
            );
        } else {
            assert!(
                feed.complete,
                "{}/{} should not suffer: {:?}",
                feed.service, feed.feed, feed.error
            );
        }
    }
    // Two feeds × 3 attempts would be 6 calls; the circuit opened after the 5th.
    assert_eq!(
        sim.requests("content-studio"),
        5,
        "retried, then cut off by the circuit"
    );
    // Open, or already half-open when the rest of the run outlasted the open
    // period on a loaded machine; the 5 requests above show it cut off.
    let cut_off = |state: Option<CircuitState>| {
        matches!(state, Some(CircuitState::Open | CircuitState::HalfOpen))
    };
    let client = &upstreams.clients["content-studio"];
    assert!(cut_off(Some(client.breaker.state())));
    let counts = store.table_counts().await.expect("counts");
    assert_eq!(counts["content_items"], 0);
    assert_eq!(counts["enrolments"], expected(&sim)["enrolments"]);
    let status = collector.status().await.expect("status");
    let cs = status
        .iter()
        .find(|s| s.service == "content-studio")
        .expect("listed");
    assert!(cut_off(cs.circuit), "{:?}", cs.circuit);
    assert!(cs.last_error.is_some());

    // The service comes back; after the open period one probe closes the circuit.
    sim.set_faults("content-studio", Faults::default());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client.breaker.state() != CircuitState::HalfOpen {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the circuit never half-opened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = run(&collector).await;
    assert!(report.feeds.iter().all(|f| f.complete), "{report:?}");
    assert_eq!(client.breaker.state(), CircuitState::Closed);
    assert_eq!(store.table_counts().await.expect("counts"), expected(&sim));
}

async fn malformed_payloads_are_rejected_counted_and_never_stored(store: Store) {
    let (sim, base) = start_simulator().await;
    let (collector, _) = collector(store.clone(), &base);
    // A clean baseline of the organisation, then each corruption on the
    // Course Builder's feeds (courses, units, trainers, enrolments, feedback).
    run(&collector).await;
    let baseline = store.table_counts().await.expect("counts");
    let cases = [
        (Malformed::MissingField, "missing-field"),
        (Malformed::WrongType, "wrong-type"),
        (Malformed::OutOfRange, "out-of-range"),
        (Malformed::Duplicate, "duplicate"),
        (Malformed::Truncated, "malformed-page"),
    ];
    for (fault, reason) in cases {
        sim.set_faults(
            "course-builder",
            Faults {
                malformed: Some(fault),
                ..Faults::default()
            },
        );
        // Re-read the whole Course Builder so every feed serves items.
        clear_watermarks(&store, "course-builder").await;
        let report = run(&collector).await;
        let rejected: u64 = report
            .feeds
            .iter()
            .filter(|f| f.service == "course-builder")
            .filter_map(|f| f.rejected.get(reason))
            .sum();
        assert!(
            rejected >= 1,
            "{fault:?} was not rejected as {reason}: {report:?}"
        );
        for feed in report
            .feeds
            .iter()
            .filter(|f| f.service != "course-builder")
        {
            assert!(
                feed.rejected.is_empty(),
                "{fault:?} leaked into {}",
                feed.feed
            );
        }
        // What was stored before is still there, unchanged in number.
        assert_eq!(
            store.table_counts().await.expect("counts"),
            baseline,
            "{fault:?}"
        );
    }
    sim.set_faults("course-builder", Faults::default());

    // Unknown references are held back (the page is read again next run)…
    sim.set_faults(
        "assessment",
        Faults {
            malformed: Some(Malformed::UnknownReference),
            ..Faults::default()
        },
    );
    clear_watermarks(&store, "assessment").await;
    let report = run(&collector).await;
    let held: Vec<_> = report
        .feeds
        .iter()
        .filter(|f| f.service == "assessment")
        .collect();
    assert!(
        held.iter()
            .any(|f| f.error.as_deref().is_some_and(|e| e.contains("referenced"))),
        "{held:?}"
    );
    // …and after three runs in a row they are rejected for good.
    for _ in 0..3 {
        run(&collector).await;
    }
    let counted = store.rejections().await.expect("rejections");
    assert!(
        counted
            .iter()
            .any(|r| r.service == "assessment" && r.reason == "unknown-reference" && r.count >= 1),
        "{counted:?}"
    );
    for (_, reason) in cases {
        assert!(
            counted.iter().any(|r| r.reason == reason),
            "{reason} not in {counted:?}"
        );
    }
    assert_eq!(store.table_counts().await.expect("counts"), baseline);
}

async fn an_enrolment_across_organisations_is_rejected_and_counted(store: Store) {
    let (_sim, base) = start_simulator().await;
    let (collector, _) = collector(store.clone(), &base);
    run(&collector).await;
    // A learner of the organisation is moved to another one (as a Directory
    // might), while the Course Builder still lists their enrolments.
    let mut moved = None;
    for user in store.users(None).await.expect("users") {
        let enrolments = store.enrolments_of_user(user.id).await.expect("enrolments");
        if !enrolments.is_empty() {
            moved = Some((user, enrolments.len()));
            break;
        }
    }
    let (mut user, enrolled) = moved.expect("a learner with enrolments");
    let other = lumen_core::model::Organization {
        id: uuid::Uuid::new_v4(),
        origin: None,
        name: "Another tenant".into(),
        leaderboard_names: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    store.upsert_organization(&other).await.expect("org");
    user.organization_id = other.id;
    user.department_id = None;
    store.upsert_user(&user).await.expect("move");

    clear_watermarks(&store, "course-builder").await;
    let report = run(&collector).await;
    let rejected: u64 = report
        .feeds
        .iter()
        .filter(|f| f.feed == "enrolments")
        .filter_map(|f| f.rejected.get("cross-organization"))
        .sum();
    assert_eq!(rejected, enrolled as u64, "{report:?}");
    let counted = store.rejections().await.expect("rejections");
    assert!(
        counted
            .iter()
            .any(|r| r.feed == "enrolments" && r.reason == "cross-organization"),
        "{counted:?}"
    );
}

/// Forgets where the feeds of `service` were, so the next run reads them whole.
async fn clear_watermarks(store: &Store, service: &str) {
    for mut state in store.sync_states().await.expect("states") {
        if state.service == service {
            state.watermark = None;
            state.next_cursor = None;
            state.blocked_runs = 0;
            store.save_sync_state(&state).await.expect("save");
        }
    }
}

#[tokio::test]
async fn with_mock_fallback_services_never_reached_are_filled_with_synthetic_data_and_flagged() {
    let db = TestDb::sqlite().await;
    let store = db.store();
    let (sim, base) = start_simulator().await;
    for service in lumen::simulate::SERVICES {
        sim.set_faults(
            service,
            Faults {
                down: true,
                ..Faults::default()
            },
        );
    }
    let (collector, _) = collector(store.clone(), &base);
    let mock = lumen::simulate::start_mock_fallback(fast_resilience())
        .await
        .expect("mock");
    let collector = collector.with_mock_fallback(mock);
    let report = run(&collector).await;
    assert!(report.feeds.iter().all(|f| f.complete), "{report:?}");
    let counts = store.table_counts().await.expect("counts");
    assert!(
        counts["users"] > 100 && counts["lab_sessions"] > 0,
        "{counts:?}"
    );
    // Every collected service (all but Auth and Learner AI, read on
    // demand) is filled from the mock and says so.
    let statuses = collector.status().await.expect("status");
    let collected: Vec<&str> = statuses
        .iter()
        .filter(|s| s.collected)
        .map(|s| s.service)
        .collect();
    assert_eq!(
        collected.len(),
        lumen::simulate::SERVICES.len() - 2,
        "{collected:?}"
    );
    for status in statuses.iter().filter(|s| s.collected) {
        assert_eq!(
            status.freshness,
            lumen::collector::Freshness::Mock,
            "{}",
            status.service
        );
    }
}

#[tokio::test]
async fn without_mock_fallback_a_failed_service_is_stale_after_earlier_success() {
    let db = TestDb::sqlite().await;
    let store = db.store();
    let (sim, base) = start_simulator().await;
    let (collector, _) = collector(store.clone(), &base);
    run(&collector).await;
    sim.set_faults(
        "devlab",
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    run(&collector).await;
    let status = collector.status().await.expect("status");
    let devlab = status
        .iter()
        .find(|s| s.service == "devlab")
        .expect("devlab");
    assert_eq!(devlab.freshness, lumen::collector::Freshness::Stale);
    assert!(
        store.table_counts().await.expect("counts")["lab_sessions"] > 0,
        "last known good data stays"
    );
}
