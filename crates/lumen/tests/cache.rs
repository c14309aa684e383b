//! The serving path over HTTP on a collected, simulated organisation: L1,
//! then L2, then L3, then compute; staleness queues a refresh; concurrent
//! cold requests compute once; HTTP caching (ETag, 304); manual refresh and
//! the job endpoints; two instances sharing Redis.

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use lumen::config::{Config, Secret};
use lumen::jobs::JobState;
use lumen::{AppState, http};
use lumen_core::analytics::Analytic;
use lumen_core::model::User;
use serde_json::{Value, json};
use support::client::Call;
use support::{TestDb, token_for};
use uuid::Uuid;

struct World {
    db: TestDb,
    config: Config,
    learner: User,
    admin: User,
}

async fn world(db: TestDb) -> World {
    let (config, _sim) = support::simulated_org(&db, 11).await;
    let store = db.store();
    let user = |email: &str| {
        let store = store.clone();
        let email = email.to_owned();
        async move {
            store
                .user_by_email(&email)
                .await
                .expect("read")
                .expect("user")
        }
    };
    World {
        learner: user("learner@demo.lumen.test").await,
        admin: user("admin@demo.lumen.test").await,
        config,
        db,
    }
}

impl World {
    /// A new instance: its own L1 and workers, the same database.
    fn instance(&self, config: Config) -> (Router, AppState) {
        let state = AppState::new(config, self.db.store()).expect("state");
        (http::app(state.clone()), state)
    }

    async fn token(&self, user: &User) -> String {
        token_for(&self.db.store(), user).await
    }
}

fn updated(body: &Value) -> DateTime<Utc> {
    body["lastUpdated"]
        .as_str()
        .expect("lastUpdated")
        .parse()
        .expect("time")
}

#[tokio::test]
async fn two_hundred_concurrent_cold_requests_compute_once_sqlite() {
    two_hundred_concurrent_cold_requests_compute_once(world(TestDb::sqlite().await).await).await;
}

#[tokio::test]
async fn two_hundred_concurrent_cold_requests_compute_once_postgres() {
    if let Some(db) = TestDb::postgres().await {
        two_hundred_concurrent_cold_requests_compute_once(world(db).await).await;
    }
}

async fn two_hundred_concurrent_cold_requests_compute_once(w: World) {
    let (app, state) = w.instance(w.config.clone());
    let token = w.token(&w.learner).await;
    let uri = format!("/api/v1/learner/analytics/engagement/{}", w.learner.id);
    let mut calls = Vec::new();
    for _ in 0..200 {
        let (app, token, uri) = (app.clone(), token.clone(), uri.clone());
        calls.push(tokio::spawn(async move {
            Call::get(uri)
                .token(&token)
                .role("learner")
                .send(&app)
                .await
        }));
    }
    let mut stamps = std::collections::HashSet::new();
    let mut computed = 0;
    for call in calls {
        let reply = call.await.expect("task");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        stamps.insert(updated(&reply.body));
        if reply.body["cached"] == false {
            computed += 1;
        }
    }
    assert_eq!(state.metrics.computations_total(), 1, "one computation");
    assert_eq!(computed, 1, "one response computed, 199 waited for it");
    assert_eq!(stamps.len(), 1, "every response carries the same result");
}

async fn layers_serve_in_order_and_stale_results_queue_a_refresh(w: World) {
    let token = w.token(&w.learner).await;
    let uri = format!("/api/v1/learner/analytics/velocity/{}", w.learner.id);
    let get = |app: Router, etag: Option<String>| {
        let (uri, token) = (uri.clone(), token.clone());
        async move {
            let call = Call::get(uri).token(&token).role("learner");
            match &etag {
                Some(tag) => call.header("if-none-match", tag).send(&app).await,
                None => call.send(&app).await,
            }
        }
    };
    // Cold: computed, with HTTP caching headers.
    let (app, state) = w.instance(w.config.clone());
    let first = get(app.clone(), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["cached"], false);
    assert_eq!(first.body["dataSource"], "realtime");
    let etag = first.header("etag").expect("ETag").to_owned();
    let cache_control = first.header("cache-control").expect("Cache-Control");
    assert!(
        cache_control.starts_with("private, max-age="),
        "{cache_control}"
    );
    let max_age: i64 = cache_control["private, max-age=".len()..]
        .split(',')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("max-age");
    assert!((21_590..=21_600).contains(&max_age), "{max_age}");
    // L1 hit: same result, marked cached.
    let second = get(app.clone(), None).await;
    assert_eq!(second.body["cached"], true);
    assert_eq!(second.body["dataSource"], "cached");
    assert_eq!(updated(&second.body), updated(&first.body));
    assert_eq!(second.body["data"], first.body["data"]);
    // The browser's copy is still good: 304, no body.
    let revalidated = get(app.clone(), Some(etag.clone())).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.body, Value::Null);
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    assert_eq!(state.metrics.computations_total(), 1);

    // A new instance (empty L1) finds it in L2.
    let (app, state) = w.instance(w.config.clone());
    let from_l2 = get(app, None).await;
    assert_eq!(from_l2.body["cached"], true);
    assert_eq!(updated(&from_l2.body), updated(&first.body));
    assert_eq!(state.metrics.computations_total(), 0);
    assert!(
        state
            .metrics
            .render()
            .contains(r#"lumen_cache_lookups_total{layer="l2",result="hit"} 1"#)
    );

    // Past L2's retention, L3 (the month's roll-up) still has it.
    let store = w.db.store();
    store
        .purge_results(Utc::now() + chrono::Duration::days(1))
        .await
        .expect("purge");
    let (app, state) = w.instance(w.config.clone());
    let from_l3 = get(app, None).await;
    assert_eq!(from_l3.body["cached"], true);
    assert_eq!(updated(&from_l3.body), updated(&first.body));
    assert_eq!(state.metrics.computations_total(), 0);
    assert!(
        state
            .metrics
            .render()
            .contains(r#"lumen_cache_lookups_total{layer="l3",result="hit"} 1"#)
    );

    // Older than 6 h: served stale while a refresh is queued, which a
    // worker then runs.
    let mut old = store
        .stored_result("velocity", w.learner.id, "30d")
        .await
        .expect("read")
        .expect("L2 again");
    old.computed_at = Utc::now() - chrono::Duration::hours(7);
    store
        .purge_results(Utc::now() + chrono::Duration::days(1))
        .await
        .expect("purge");
    store.put_result(&old).await.expect("write");
    let (app, state) = w.instance(w.config.clone());
    let stale = get(app.clone(), None).await;
    assert_eq!(stale.body["stale"], true, "{}", stale.body);
    assert_eq!(stale.body["cached"], true);
    let counts = store.job_counts().await.expect("counts");
    assert_eq!(counts.get("queued"), Some(&1), "{counts:?}");
    let again = get(app.clone(), None).await;
    assert_eq!(again.body["stale"], true);
    assert_eq!(
        store.job_counts().await.expect("counts").get("queued"),
        Some(&1),
        "one pending refresh per result"
    );
    let refresh = state
        .store
        .claim_jobs(
            "peek",
            1,
            Utc::now(),
            Utc::now() - chrono::Duration::days(1),
        )
        .await
        .expect("peek");
    assert!(refresh.is_empty(), "claims only due jobs");
    let job_id = {
        // The queued job is the refresh of this result.
        let rows = store.job_counts().await.expect("counts");
        assert_eq!(rows.get("queued"), Some(&1));
        let (_, s) = w.instance(w.config.clone());
        let enqueued = lumen::analytics::queue_refresh(
            &s,
            &[Analytic::from_name("velocity").expect("analytic")],
            w.learner.id,
            w.learner.organization_id,
            Default::default(),
            None,
        )
        .await
        .expect("dedupe");
        assert!(matches!(enqueued, lumen::jobs::Enqueued::Existing(_)));
        enqueued.id()
    };
    let done = support::run_until_finished(&state, job_id, Duration::from_secs(120)).await;
    assert_eq!(done.state, JobState::Completed, "{done:?}");
    assert_eq!(
        done.result.as_ref().map(|r| r["refreshed"].clone()),
        Some(json!(["velocity"]))
    );
    let fresh = get(app, None).await;
    assert_eq!(fresh.body["stale"], false);
    assert!(updated(&fresh.body) > old.computed_at);
}

#[tokio::test]
async fn layers_serve_in_order_and_stale_results_queue_a_refresh_sqlite() {
    layers_serve_in_order_and_stale_results_queue_a_refresh(world(TestDb::sqlite().await).await)
        .await;
}

#[tokio::test]
async fn layers_serve_in_order_and_stale_results_queue_a_refresh_postgres() {
    if let Some(db) = TestDb::postgres().await {
        layers_serve_in_order_and_stale_results_queue_a_refresh(world(db).await).await;
    }
}

#[tokio::test]
async fn manual_refresh_is_limited_and_its_job_is_the_owners_only() {
    let w = world(TestDb::sqlite().await).await;
    let (app, state) = w.instance(Config {
        rate_limits_enabled: true,
        ..w.config.clone()
    });
    let learner = w.token(&w.learner).await;
    let admin = w.token(&w.admin).await;
    let refresh = |token: String, body: Value| {
        let app = app.clone();
        async move {
            Call::post("/api/v1/analytics/refresh", body)
                .token(&token)
                .send(&app)
                .await
        }
    };
    let body =
        json!({"userId": w.learner.id, "role": "learner", "analytics": ["velocity", "engagement"]});
    let first = refresh(learner.clone(), body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.body["queuedAnalytics"],
        json!(["velocity", "engagement"])
    );
    assert_eq!(first.body["message"], "Manual refresh queued successfully");
    let job: Uuid = first.body["jobId"]
        .as_str()
        .expect("jobId")
        .parse()
        .expect("uuid");
    let eta: DateTime<Utc> = first.body["estimatedCompletion"]
        .as_str()
        .expect("eta")
        .parse()
        .expect("time");
    assert!(eta > Utc::now() - chrono::Duration::seconds(5));
    // The same refresh again: the same job.
    let second = refresh(learner.clone(), body.clone()).await;
    assert_eq!(second.body["jobId"], first.body["jobId"]);
    // Not an analytic of that role: 400 in the documented shape.
    let bad = refresh(
        learner.clone(),
        json!({"userId": w.learner.id, "role": "learner", "analytics": ["org-performance"]}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"], "VALIDATION_ERROR");
    assert!(bad.body["validation"]["analytics"].is_string());
    // The fourth in an hour: 429 with when to come back.
    let limited = refresh(learner.clone(), body.clone()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], "RATE_LIMIT_EXCEEDED");
    assert!(limited.body["retryAfter"].as_u64().expect("retryAfter") > 0);
    assert!(limited.body["nextAllowedAt"].is_string());
    assert!(limited.header("retry-after").is_some());
    // Someone else's analytics: 403.
    let other = refresh(
        admin.clone(),
        json!({"userId": w.learner.id, "role": "learner"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.body);

    let status = |token: String, method: Method, id: Uuid| {
        let app = app.clone();
        async move {
            Call::new(method, format!("/api/v1/jobs/{id}"))
                .token(&token)
                .send(&app)
                .await
        }
    };
    let mine = status(learner.clone(), Method::GET, job).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(mine.body["status"], "queued");
    assert_eq!(mine.body["progress"], 0);
    assert_eq!(
        status(admin.clone(), Method::GET, job).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(admin.clone(), Method::DELETE, job).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(learner.clone(), Method::GET, Uuid::new_v4())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let cancelled = status(learner.clone(), Method::DELETE, job).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.body["status"], "cancelled");
    let again = status(learner.clone(), Method::DELETE, job).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["error"], "CONFLICT");
    assert_eq!(
        state
            .store
            .job(job)
            .await
            .expect("read")
            .expect("job")
            .state,
        JobState::Cancelled
    );
}

#[tokio::test]
async fn two_instances_sharing_redis_see_each_others_refresh() {
    if !support::redis_available().await {
        return;
    }
    let w = world(TestDb::sqlite().await).await;
    let config = Config {
        redis_url: Some(Secret::new(support::redis_url())),
        cache_redis_prefix: format!("lumen-test-{}", Uuid::new_v4().simple()),
        ..w.config.clone()
    };
    let (app_a, a) = w.instance(config.clone());
    let (app_b, b) = w.instance(config);
    let listeners =
        [a.l1.clone(), b.l1.clone()].map(|l1| tokio::spawn(l1.listen_for_invalidations()));
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let token = w.token(&w.learner).await;
    let uri = format!("/api/v1/learner/analytics/mastery/{}", w.learner.id);
    let get = |app: Router| {
        let (uri, token) = (uri.clone(), token.clone());
        async move {
            Call::get(uri)
                .token(&token)
                .role("learner")
                .send(&app)
                .await
        }
    };
    let on_b = get(app_b.clone()).await;
    assert_eq!(on_b.body["cached"], false, "{}", on_b.body);
    let on_a = get(app_a.clone()).await;
    assert_eq!(on_a.body["cached"], true, "A reads B's result from Redis");
    assert_eq!(updated(&on_a.body), updated(&on_b.body));
    // A refresh on A (a job A's worker runs) reaches B.
    tokio::time::sleep(Duration::from_millis(1100)).await; // a new lastUpdated
    let job = lumen::analytics::queue_refresh(
        &a,
        &[Analytic::from_name("mastery").expect("analytic")],
        w.learner.id,
        w.learner.organization_id,
        Default::default(),
        None,
    )
    .await
    .expect("queue")
    .id();
    assert_eq!(
        support::run_until_finished(&a, job, Duration::from_secs(120))
            .await
            .state,
        JobState::Completed
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = get(app_b.clone()).await;
        if updated(&seen.body) > updated(&on_b.body) {
            assert_eq!(seen.body["cached"], true);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never saw A's refresh"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        b.metrics.computations_total(),
        1,
        "B computed only the first time"
    );
    for l in listeners {
        l.abort();
    }
}

/// A role bundle revalidates like a single analytic: `If-None-Match`
/// compares weakly and takes a list or `*` (RFC 9110 §13.1.2); a tag of
/// another version gets the full answer.
#[tokio::test]
async fn bundles_revalidate_with_weak_tags_lists_and_any() {
    let w = world(TestDb::sqlite().await).await;
    let (app, _) = w.instance(w.config.clone());
    let token = w.token(&w.learner).await;
    let get = |tags: Option<String>| {
        let (app, token) = (app.clone(), token.clone());
        async move {
            let call = Call::get("/api/v1/analytics/learner?timeRange=30d").token(&token);
            match &tags {
                Some(tags) => call.header("if-none-match", tags).send(&app).await,
                None => call.send(&app).await,
            }
        }
    };
    let first = get(None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let etag = first.header("etag").expect("an ETag").to_owned();
    let opaque = etag.trim_start_matches("W/");
    for tags in [
        etag.clone(),
        format!("W/{opaque}"),
        opaque.to_owned(),
        format!("\"stale-version\", {etag}"),
        "*".to_owned(),
    ] {
        let reply = get(Some(tags.clone())).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{tags}");
        assert_eq!(reply.header("etag"), Some(etag.as_str()), "{tags}");
    }
    let other = get(Some("\"stale-version\", W/\"older\"".to_owned())).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.header("etag"), Some(etag.as_str()));
    assert_eq!(other.body["data"]["role"], "learner");
}

/// The staleness check at login (PRODUCT §5): logging in queues one
/// refresh of the caller's results that were never computed; a second
/// login while it is pending adds none.
#[tokio::test]
async fn logging_in_queues_a_refresh_of_stale_results_sqlite() {
    logging_in_queues_a_refresh_of_stale_results(world(TestDb::sqlite().await).await).await;
}

#[tokio::test]
async fn logging_in_queues_a_refresh_of_stale_results_postgres() {
    if let Some(db) = TestDb::postgres().await {
        logging_in_queues_a_refresh_of_stale_results(world(db).await).await;
    }
}

async fn logging_in_queues_a_refresh_of_stale_results(w: World) {
    let (app, _) = w.instance(w.config.clone());
    let store = w.db.store();
    lumen::accounts::seed_demo(&store)
        .await
        .expect("demo passwords");
    let queued = || {
        let store = store.clone();
        async move {
            store
                .job_counts()
                .await
                .expect("counts")
                .get("queued")
                .copied()
                .unwrap_or(0)
        }
    };
    let before = queued().await;
    let login = || {
        Call::post(
            "/api/v1/auth/login",
            json!({"email": w.learner.email, "password": lumen::accounts::DEMO_PASSWORD}),
        )
        .send(&app)
    };
    assert_eq!(login().await.status, StatusCode::OK);
    // The check runs after the answer: wait for its job, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queued().await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh was queued at login"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        queued().await,
        before + 1,
        "one job for the learner's bundle"
    );
    assert_eq!(login().await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queued().await, before + 1, "the pending refresh is reused");
}
