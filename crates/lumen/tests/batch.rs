//! The daily batch on both databases: it analyses every user and role in
//! chunks and aggregates into L3; and a worker process killed with SIGKILL
//! in the middle of it leaves a batch that another worker finishes, with no
//! result missing or duplicated.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use lumen::AppState;
use lumen::jobs::{BatchPayload, Job, JobKind, JobState};
use lumen::store::Store;
use lumen_core::Role;
use lumen_core::analytics::Analytic;
use support::{TestDb, on_both_databases};
use uuid::Uuid;

on_both_databases!(
    |db| db;
    the_batch_analyses_everyone_in_chunks,
    a_killed_worker_s_batch_is_finished_by_the_next,
);

async fn enqueue_batch(state: &AppState) -> Uuid {
    let batch = BatchPayload {
        skip_collect: true,
        as_of: Some(Utc::now()),
        ..BatchPayload::default()
    };
    state
        .queue
        .enqueue(JobKind::Batch(batch).into_job())
        .await
        .expect("enqueue")
        .id()
}

async fn wait_finished(store: &Store, job: Uuid, limit: Duration) -> Job {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let current = store.job(job).await.expect("read").expect("job");
        if current.state.finished() {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "batch unfinished: {current:?} {:?}",
            store.child_job_counts(job).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a complete batch over `db` must have stored: every analytic of
/// every role bundle for every subject, as a result or a documented
/// "not computed" reason, each once.
async fn check_complete(store: &Store, batch: Job) {
    assert_eq!(batch.state, JobState::Completed, "{batch:?}");
    let counts = store.child_job_counts(batch.id).await.expect("counts");
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec!["completed"],
        "{counts:?}"
    );
    // Expected subjects, from the users stored.
    let mut expected: BTreeMap<Role, HashSet<Uuid>> = BTreeMap::new();
    for user in store.users(None).await.expect("users") {
        for role in user.roles {
            let subject = if role == Role::OrgAdmin {
                user.organization_id
            } else {
                user.id
            };
            expected.entry(role).or_default().insert(subject);
        }
    }
    let all = store.batch_results(batch.id).await.expect("results");
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no result twice");
    let result = batch.result.expect("batch result");
    assert_eq!(result["results"], all.len(), "{result}");
    // Gamification (issue 19): each learner's three results, and the
    // leaderboards of each organisation with learners.
    let (gamification, results): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .partition(|(kind, _, _)| kind.starts_with("gamification-"));
    let learners = expected.get(&Role::Learner).map_or(0, HashSet::len);
    let per_learner: Vec<_> = gamification.iter().filter(|(_, _, r)| r == "all").collect();
    assert_eq!(
        per_learner.len(),
        3 * learners,
        "stats, achievements, streak"
    );
    assert!(
        per_learner
            .iter()
            .all(|(_, subject, _)| expected[&Role::Learner].contains(subject))
    );
    for window in ["week", "month", "all-time"] {
        let range = format!("organization:{window}");
        assert!(
            gamification
                .iter()
                .any(|(k, _, r)| k == "gamification-leaderboard" && *r == range),
            "the organisation's {window} board"
        );
    }
    // Each stored result is of an expected subject and analytic, and each
    // expected pair is either stored or was reported as not computable.
    let mut stored_per_role: BTreeMap<Role, usize> = BTreeMap::new();
    for (kind, subject, range) in &results {
        assert_eq!(range, "30d");
        let kind = Analytic::from_name(kind).expect("analytic");
        let role = [Role::Learner, Role::Trainer, Role::OrgAdmin]
            .into_iter()
            .find(|r| Analytic::bundle(*r).any(|a| a == kind))
            .expect("a role's analytic");
        assert!(expected[&role].contains(subject), "{kind:?} {subject}");
        *stored_per_role.entry(role).or_default() += 1;
    }
    let mut not_computed = 0;
    let mut stored = 0;
    for chunk in chunk_jobs(store, batch.id).await {
        if chunk.kind != "batch-chunk" {
            continue;
        }
        let r = chunk.result.expect("chunk result");
        stored += r["results"].as_u64().expect("results") as usize;
        not_computed += r["notComputed"]
            .as_object()
            .expect("notComputed")
            .values()
            .map(|v| v.as_u64().expect("count") as usize)
            .sum::<usize>();
    }
    let pairs: usize = expected
        .iter()
        .map(|(role, subjects)| subjects.len() * Analytic::bundle(*role).count())
        .sum();
    assert_eq!(stored, results.len(), "every chunk's results are stored");
    assert_eq!(
        stored + not_computed,
        pairs,
        "no analytic of any subject is missing"
    );
    assert!(stored_per_role.get(&Role::Learner).copied().unwrap_or(0) > 0);
    assert!(stored_per_role.get(&Role::OrgAdmin).copied().unwrap_or(0) > 0);
    assert_eq!(
        result["rolledUp"],
        all.len(),
        "Aggregate: every result in L3"
    );
}

async fn chunk_jobs(store: &Store, batch: Uuid) -> Vec<Job> {
    // Chunk ids are derived from the batch's, but listing them needs the
    // payloads: walk the jobs the batch's counts cover.
    let mut found = Vec::new();
    let users = store.users(None).await.expect("users");
    let orgs: HashSet<Uuid> = users.iter().map(|u| u.organization_id).collect();
    for org in orgs {
        let id = Uuid::new_v5(&batch, format!("gamification:{org}").as_bytes());
        if let Some(job) = store.job(id).await.expect("read") {
            found.push(job);
        }
        for role in ["learner", "trainer", "org-admin"] {
            for n in 0.. {
                let id = Uuid::new_v5(&batch, format!("chunk:{org}:{role}:30d:{n}").as_bytes());
                match store.job(id).await.expect("read") {
                    Some(job) => found.push(job),
                    None => break,
                }
            }
        }
    }
    let total: i64 = store
        .child_job_counts(batch)
        .await
        .expect("counts")
        .values()
        .sum();
    assert_eq!(found.len() as i64, total, "chunk ids as documented");
    found
}

async fn the_batch_analyses_everyone_in_chunks(db: TestDb) {
    let (config, _sim) = support::simulated_org(&db, 11).await;
    let state = AppState::new(
        lumen::Config {
            batch_chunk_size: 7,
            ..config
        },
        db.store(),
    )
    .expect("state");
    let batch = enqueue_batch(&state).await;
    let done = support::run_until_finished(&state, batch, Duration::from_secs(600)).await;
    check_complete(&state.store, done).await;
}

/// A `lumen worker` process on `db`.
fn worker(db: &TestDb) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumen"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LUMEN_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.arg("worker")
        .env("DATABASE_URL", db.url())
        .env("LUMEN_JWT_SECRET", support::TEST_JWT_SECRET)
        .env("LUMEN_WORKERS", "1")
        .env("LUMEN_JOB_LEASE_SECS", "3")
        .env("LUMEN_BATCH_CRON", "off")
        .env("LUMEN_BATCH_CHUNK_SIZE", "3")
        .env("LUMEN_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lumen worker")
}

async fn a_killed_worker_s_batch_is_finished_by_the_next(db: TestDb) {
    let (config, _sim) = support::simulated_org(&db, 11).await;
    let state = AppState::new(config, db.store()).expect("state");
    let store = state.store.clone();
    let batch = enqueue_batch(&state).await;
    let mut first = worker(&db);
    // Let it get part of the way: some chunks done, not all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let counts = store.child_job_counts(batch).await.expect("counts");
        if counts.get("completed").copied().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    let _ = first.wait();
    let counts = store.child_job_counts(batch).await.expect("counts");
    let total: i64 = counts.values().sum();
    assert!(
        counts.get("completed").copied().unwrap_or(0) < total,
        "killed in the middle: {counts:?}"
    );
    let completed_before: HashSet<Uuid> = chunk_jobs(&store, batch)
        .await
        .into_iter()
        .filter(|j| j.state == JobState::Completed)
        .map(|j| j.id)
        .collect();
    let mut second = worker(&db);
    let done = wait_finished(&store, batch, Duration::from_secs(600)).await;
    second.kill().expect("stop");
    let _ = second.wait();
    // Finished chunks were not run again; only the interrupted one was
    // attempted twice.
    let mut retried = 0;
    for chunk in chunk_jobs(&store, batch).await {
        if completed_before.contains(&chunk.id) {
            assert_eq!(chunk.attempts, 1, "a finished chunk ran again");
        }
        assert!(chunk.attempts <= 2, "{chunk:?}");
        retried += usize::from(chunk.attempts == 2);
    }
    assert!(retried <= 1, "only the chunk running at the kill is redone");
    check_complete(&store, done).await;
}
