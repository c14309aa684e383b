//! The durable job queue on both databases: enqueue and dedupe, leases and
//! take-over, retries with backoff then dead, cancel, several workers on
//! one queue (each job runs once), and cron schedules that fire once per
//! slot across instances.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lumen::AppState;
use lumen::jobs::{self, Enqueued, JobKind, JobState, NewJob, WorkerConfig};
use lumen::store::jobs::Schedule;
use serde_json::json;
use support::{TestDb, on_both_databases, test_config};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn echo(payload: serde_json::Value) -> NewJob {
    NewJob {
        kind: "echo".into(),
        payload,
        ..NewJob::default()
    }
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, h, m, s)
        .single()
        .expect("valid")
}

on_both_databases!(
    |db| db;
    enqueue_claim_complete_and_dedupe,
    an_expired_lease_lets_another_worker_take_over,
    failures_retry_with_backoff_then_die,
    cancel_stops_queued_and_running_jobs,
    two_workers_run_every_job_exactly_once,
    a_schedule_fires_once_per_slot,
    a_malformed_payload_is_dead_at_once,
    retention_deletes_expired_results,
);

async fn enqueue_claim_complete_and_dedupe(db: TestDb) {
    let store = &db.store();
    let now = Utc::now();
    let a = store
        .enqueue_job(&echo(json!(1)), now)
        .await
        .expect("enqueue");
    assert!(matches!(a, Enqueued::New(_)));
    // A singleton key allows one unfinished job.
    let single = NewJob {
        singleton_key: Some("only-one".into()),
        ..echo(json!(2))
    };
    let s1 = store.enqueue_job(&single, now).await.expect("enqueue");
    let s2 = store.enqueue_job(&single, now).await.expect("enqueue");
    assert!(matches!(s1, Enqueued::New(_)));
    assert_eq!(s2, Enqueued::Existing(s1.id()));
    // A deterministic id is enqueued once, whatever its state.
    let fixed = NewJob {
        id: Some(Uuid::from_u128(7)),
        ..echo(json!(3))
    };
    let f1 = store.enqueue_job(&fixed, now).await.expect("enqueue");
    let f2 = store.enqueue_job(&fixed, now).await.expect("enqueue");
    assert_eq!(f1, Enqueued::New(Uuid::from_u128(7)));
    assert_eq!(f2, Enqueued::Existing(Uuid::from_u128(7)));

    let lease = now + chrono::Duration::seconds(30);
    let claimed = store.claim_jobs("w1", 10, lease, now).await.expect("claim");
    assert_eq!(claimed.len(), 3);
    assert!(
        claimed
            .iter()
            .all(|j| j.state == JobState::Active && j.attempts == 1)
    );
    assert!(
        store
            .claim_jobs("w2", 10, lease, now)
            .await
            .expect("claim")
            .is_empty(),
        "an active job under lease is not claimed again"
    );
    let job = &claimed[0];
    assert!(
        !store
            .complete_job(job.id, "w2", &json!("x"), now)
            .await
            .expect("complete"),
        "only the holder completes"
    );
    assert!(
        store
            .complete_job(job.id, "w1", &json!({"ok": true}), now)
            .await
            .expect("complete")
    );
    let done = store.job(job.id).await.expect("read").expect("job");
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.result, Some(json!({"ok": true})));
    // Once the singleton's job finished, the key is free again.
    let singleton = claimed
        .iter()
        .find(|j| j.singleton_key.is_some())
        .expect("singleton claimed");
    store
        .complete_job(singleton.id, "w1", &json!(null), now)
        .await
        .expect("complete");
    let s3 = store.enqueue_job(&single, now).await.expect("enqueue");
    assert!(matches!(s3, Enqueued::New(id) if id != s1.id()));
}

async fn an_expired_lease_lets_another_worker_take_over(db: TestDb) {
    let store = &db.store();
    let t0 = Utc::now();
    let id = store
        .enqueue_job(&echo(json!(null)), t0)
        .await
        .expect("enqueue")
        .id();
    let lease = t0 + chrono::Duration::seconds(5);
    let first = store
        .claim_jobs("dead-worker", 1, lease, t0)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    // Before the lease runs out nobody else gets it; after, w2 does.
    let t1 = t0 + chrono::Duration::seconds(4);
    assert!(
        store
            .claim_jobs("w2", 1, t1 + chrono::Duration::seconds(5), t1)
            .await
            .expect("claim")
            .is_empty()
    );
    let t2 = t0 + chrono::Duration::seconds(6);
    let second = store
        .claim_jobs("w2", 1, t2 + chrono::Duration::seconds(5), t2)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, id);
    assert_eq!(second[0].attempts, 2);
    // The first worker lost it: its heartbeat and its completion fail.
    assert!(
        !store
            .heartbeat_job(id, "dead-worker", t2)
            .await
            .expect("heartbeat")
    );
    assert!(
        !store
            .complete_job(id, "dead-worker", &json!(1), t2)
            .await
            .expect("complete")
    );
    assert!(
        store
            .complete_job(id, "w2", &json!(2), t2)
            .await
            .expect("complete")
    );
}

async fn failures_retry_with_backoff_then_die(db: TestDb) {
    let store = &db.store();
    let now = Utc::now();
    let id = store
        .enqueue_job(
            &NewJob {
                max_attempts: 2,
                ..echo(json!({"fail": "always"}))
            },
            now,
        )
        .await
        .expect("enqueue")
        .id();
    let lease = now + chrono::Duration::seconds(30);
    let job = store
        .claim_jobs("w", 1, lease, now)
        .await
        .expect("claim")
        .remove(0);
    let retry_at = now + chrono::Duration::from_std(jobs::backoff(job.attempts)).expect("delay");
    assert!(
        store
            .fail_job(id, "w", "boom", Some(retry_at), now)
            .await
            .expect("fail")
    );
    let retrying = store.job(id).await.expect("read").expect("job");
    assert_eq!(retrying.state, JobState::Retrying);
    // PostgreSQL keeps microseconds.
    assert!((retrying.run_after - retry_at).abs() < chrono::Duration::microseconds(1));
    assert_eq!(retrying.last_error.as_deref(), Some("boom"));
    assert!(
        store
            .claim_jobs("w", 1, lease, now)
            .await
            .expect("claim")
            .is_empty(),
        "not before its backoff"
    );
    let later = retry_at + chrono::Duration::seconds(1);
    let again = store
        .claim_jobs("w", 1, later + chrono::Duration::seconds(30), later)
        .await
        .expect("claim");
    assert_eq!(again[0].attempts, 2);
    assert!(
        store
            .fail_job(id, "w", "boom again", None, later)
            .await
            .expect("fail")
    );
    assert_eq!(
        store.job(id).await.expect("read").expect("job").state,
        JobState::Dead
    );
}

async fn cancel_stops_queued_and_running_jobs(db: TestDb) {
    let store = &db.store();
    let now = Utc::now();
    let queued = store
        .enqueue_job(&echo(json!(1)), now)
        .await
        .expect("enqueue")
        .id();
    assert!(store.cancel_job(queued, now).await.expect("cancel"));
    assert!(
        !store.cancel_job(queued, now).await.expect("cancel"),
        "already finished"
    );
    assert_eq!(
        store.job(queued).await.expect("read").expect("job").state,
        JobState::Cancelled
    );
    let running = store
        .enqueue_job(&echo(json!(2)), now)
        .await
        .expect("enqueue")
        .id();
    let child = store
        .enqueue_job(
            &NewJob {
                parent: Some(running),
                ..echo(json!(3))
            },
            now,
        )
        .await
        .expect("enqueue")
        .id();
    let lease = now + chrono::Duration::seconds(30);
    let claimed = store.claim_jobs("w", 1, lease, now).await.expect("claim");
    assert_eq!(claimed[0].id, running);
    assert!(store.cancel_job(running, now).await.expect("cancel"));
    assert!(
        !store
            .heartbeat_job(running, "w", lease)
            .await
            .expect("heartbeat"),
        "the worker sees it"
    );
    assert!(
        !store
            .set_job_progress(running, "w", 1, 2)
            .await
            .expect("progress")
    );
    assert_eq!(
        store.job(child).await.expect("read").expect("job").state,
        JobState::Cancelled
    );
}

/// Two instances (two app states, each with its own workers) drain one
/// queue: every job completes, each was claimed once.
async fn two_workers_run_every_job_exactly_once(db: TestDb) {
    const JOBS: usize = 200;
    let a = AppState::new(test_config(&db), db.store()).expect("state");
    let b = AppState::new(test_config(&db), db.store()).expect("state");
    let mut ids = Vec::new();
    for n in 0..JOBS {
        ids.push(a.queue.enqueue(echo(json!(n))).await.expect("enqueue").id());
    }
    let shutdown = CancellationToken::new();
    let config = WorkerConfig {
        concurrency: 4,
        poll: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let wa = tokio::spawn(jobs::run_workers(
        a.clone(),
        config.clone(),
        shutdown.clone(),
    ));
    let wb = tokio::spawn(jobs::run_workers(b.clone(), config, shutdown.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts = a.store.job_counts().await.expect("counts");
        if counts.get("completed").copied().unwrap_or(0) == JOBS as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue not drained: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let _ = tokio::join!(wa, wb);
    let mut workers = HashSet::new();
    for id in ids {
        let job = a.store.job(id).await.expect("read").expect("job");
        assert_eq!(job.state, JobState::Completed);
        assert_eq!(
            job.attempts, 1,
            "job {id} was claimed {} times",
            job.attempts
        );
        workers.insert(job.worker.expect("worker"));
    }
    assert_eq!(workers.len(), 2, "both instances took part");
}

/// Two instances with one cron schedule: each slot fires one job, even when
/// both look at the same moment.
async fn a_schedule_fires_once_per_slot(db: TestDb) {
    let a = AppState::new(test_config(&db), db.store()).expect("state");
    let b = AppState::new(test_config(&db), db.store()).expect("state");
    a.store
        .upsert_schedule(&Schedule {
            name: "every-minute".into(),
            cron: "* * * * *".into(),
            kind: "echo".into(),
            payload: "{}".into(),
            owner_id: None,
            created_at: at(1, 0, 0),
            updated_at: at(1, 0, 0),
        })
        .await
        .expect("schedule");
    for minute in 1..=3 {
        let now = at(2, minute, 30);
        let (fa, fb) = tokio::join!(jobs::fire_due(&a, now), jobs::fire_due(&b, now));
        let fired = fa.expect("fire").len() + fb.expect("fire").len();
        assert_eq!(fired, 1, "slot 02:{minute:02}");
        let again = jobs::fire_due(&b, now + chrono::Duration::seconds(10))
            .await
            .expect("fire");
        assert!(again.is_empty(), "the same slot does not fire twice");
    }
    let counts = a.store.job_counts().await.expect("counts");
    assert_eq!(counts.get("queued"), Some(&3));
    // An invalid cron is a validation error, not a stored schedule.
    let err = a
        .queue
        .upsert_schedule("bad", "every day", JobKind::Echo(json!(null)), None)
        .await
        .expect_err("invalid");
    assert!(matches!(err, jobs::QueueError::InvalidCron(_)), "{err:?}");
}

/// A job whose payload does not read is dead at its first attempt, not
/// retried: it never will read.
async fn a_malformed_payload_is_dead_at_once(db: TestDb) {
    let state = AppState::new(test_config(&db), db.store()).expect("state");
    for (kind, payload) in [
        ("refresh", json!({ "subjectId": "not a uuid" })),
        ("report", json!({ "reportId": 7 })),
        ("no-such-kind", json!(null)),
    ] {
        let id = state
            .queue
            .enqueue(NewJob {
                kind: kind.into(),
                payload,
                max_attempts: 5,
                ..NewJob::default()
            })
            .await
            .expect("enqueue")
            .id();
        let job = support::run_until_finished(&state, id, Duration::from_secs(30)).await;
        assert_eq!(job.state, JobState::Dead, "{kind}");
        assert_eq!(job.attempts, 1, "{kind}: not retried");
        assert!(
            job.last_error.expect("error").contains(kind),
            "{kind}: the error names the job"
        );
    }
}

/// A worker runs a failing job to `dead` through its retries, and records
/// the error.
#[tokio::test]
async fn workers_retry_a_failing_job_until_it_is_dead() {
    let db = TestDb::sqlite().await;
    let state = AppState::new(test_config(&db), db.store()).expect("state");
    let id = state
        .queue
        .enqueue(NewJob {
            max_attempts: 2,
            ..echo(json!({"fail": "on purpose"}))
        })
        .await
        .expect("enqueue")
        .id();
    // The first retry waits 2.5–5 s.
    let job = support::run_until_finished(&state, id, Duration::from_secs(30)).await;
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.attempts, 2);
    assert!(job.last_error.expect("error").contains("on purpose"));
}

/// The retention job deletes L2 rows older than 7 days and L3 months older
/// than 7 years (dropping the partition on PostgreSQL), and keeps the rest.
async fn retention_deletes_expired_results(db: TestDb) {
    use lumen::store::results::StoredResult;
    let state = AppState::new(test_config(&db), db.store()).expect("state");
    let now = Utc::now();
    let row = |kind: &str, computed_at: DateTime<Utc>| StoredResult {
        kind: kind.into(),
        subject_id: Uuid::from_u128(1),
        time_range: "30d".into(),
        organization_id: Uuid::from_u128(2),
        data: "{}".into(),
        data_source: "realtime".into(),
        computed_at,
        batch_id: None,
        records_version: None,
    };
    let old = now - chrono::Duration::days(8);
    let ancient = now - chrono::Duration::days(8 * 366);
    let store = &state.store;
    store
        .put_result(&row("velocity", old))
        .await
        .expect("write");
    store.put_result(&row("mastery", now)).await.expect("write");
    store
        .put_rollup(&row("velocity", ancient))
        .await
        .expect("write");
    store
        .put_rollup(&row("velocity", now))
        .await
        .expect("write");
    let job = state
        .queue
        .enqueue(JobKind::Retention.into_job())
        .await
        .expect("enqueue")
        .id();
    let done = support::run_until_finished(&state, job, Duration::from_secs(30)).await;
    assert_eq!(done.state, JobState::Completed, "{done:?}");
    let result = done.result.expect("result");
    // A retried attempt reports only what was left to delete; the rows'
    // absence below is what counts.
    if done.attempts == 1 {
        assert_eq!(result["l2Deleted"], 1, "{result}");
        assert_eq!(result["l3MonthsDeleted"], 1, "{result}");
    }
    let s = Uuid::from_u128(1);
    assert!(
        store
            .stored_result("velocity", s, "30d")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .stored_result("mastery", s, "30d")
            .await
            .expect("read")
            .is_some()
    );
    let month = lumen::store::results::month_of(now);
    let kept = store
        .rollup("velocity", s, "30d", month)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept.computed_at.timestamp(), now.timestamp());
    let gone = store
        .rollup(
            "velocity",
            s,
            "30d",
            lumen::store::results::month_of(ancient),
        )
        .await
        .expect("read");
    assert!(gone.is_none(), "the ancient month is gone");
}
