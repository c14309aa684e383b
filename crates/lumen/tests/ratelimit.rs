//! Rate limits through the router, on both databases: the in-process store, the Redis store
//! (two app instances sharing one Redis hold one limit), and the fallback
//! when Redis is unreachable.

mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use lumen::config::{Config, Secret};
use lumen::{AppState, accounts, http};
use lumen_core::Role;
use lumen_core::model::User;
use serde_json::json;
use support::client::{Call, Reply};
use support::{TestDb, test_config, token_for};

fn limited(db: &TestDb, redis: Option<String>, limits: &[(&str, &str)]) -> Router {
    let mut config = Config {
        redis_url: redis.map(Secret::new),
        ..test_config(db)
    };
    for (class, quota) in limits {
        let class = lumen::ratelimit::LimitClass::ALL
            .into_iter()
            .find(|c| c.name() == *class)
            .expect("class");
        config
            .rate_limits
            .insert(class, quota.parse().expect("quota"));
    }
    http::app(AppState::new(config, db.store()).expect("state"))
}

async fn user(db: &TestDb, email: &str) -> User {
    accounts::add_user(
        &db.store(),
        "Acme",
        email,
        "Someone",
        &[Role::Learner],
        "password-123",
    )
    .await
    .expect("user")
}

/// A client address of its own for each test run (keys live in Redis).
fn random_peer() -> SocketAddr {
    let b = uuid::Uuid::new_v4().into_bytes();
    SocketAddr::from(([127, b[0], b[1], b[2].max(1)], 40000))
}

fn assert_limited(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["error"], "RATE_LIMIT_EXCEEDED");
    let retry = reply.body["retryAfter"].as_u64().expect("retryAfter");
    assert!(retry >= 1, "{retry}");
    assert_eq!(
        reply.header("retry-after"),
        Some(retry.to_string().as_str())
    );
    let next = reply.body["nextAllowedAt"].as_str().expect("nextAllowedAt");
    assert!(chrono::DateTime::parse_from_rfc3339(next).is_ok(), "{next}");
    assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
}

async fn login(app: &Router, peer: SocketAddr) -> Reply {
    Call::post(
        "/api/v1/auth/login",
        json!({"email": "x@acme.test", "password": "wrong-password"}),
    )
    .peer(peer)
    .send(app)
    .await
}

async fn login_allows_five_attempts_per_ip_per_15_minutes_by_default(db: &TestDb) {
    let app = limited(db, None, &[]);
    let peer = random_peer();
    for remaining in (0..5).rev() {
        let reply = login(&app, peer).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("ratelimit-limit"), Some("5"));
        assert_eq!(
            reply.header("ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        assert!(reply.header("ratelimit-reset").is_some());
    }
    let reply = login(&app, peer).await;
    assert_limited(&reply);
    // 15 min / 5 = one attempt earned back every 180 s.
    assert!(
        (179..=180).contains(&reply.body["retryAfter"].as_u64().unwrap_or(0)),
        "{}",
        reply.body
    );
    // Another client is not affected.
    assert_eq!(
        login(&app, random_peer()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn per_user_limits_count_each_user_separately(db: &TestDb) {
    let app = limited(db, None, &[("session", "2/1m")]);
    let (a, b) = (user(db, "a@acme.test").await, user(db, "b@acme.test").await);
    let (ta, tb) = (
        token_for(&db.store(), &a).await,
        token_for(&db.store(), &b).await,
    );
    for _ in 0..2 {
        assert_eq!(
            Call::get("/api/v1/auth/me")
                .token(&ta)
                .send(&app)
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_limited(&Call::get("/api/v1/auth/me").token(&ta).send(&app).await);
    // Same client address, different user: own budget.
    assert_eq!(
        Call::get("/api/v1/auth/me")
            .token(&tb)
            .send(&app)
            .await
            .status,
        StatusCode::OK
    );
}

async fn health_is_limited_per_ip_at_its_own_rate(db: &TestDb) {
    let app = limited(db, None, &[("system", "3/1h")]);
    let peer = random_peer();
    for _ in 0..3 {
        assert_eq!(
            Call::get("/api/health").peer(peer).send(&app).await.status,
            StatusCode::OK
        );
    }
    assert_limited(&Call::get("/api/health").peer(peer).send(&app).await);
}

async fn limits_can_be_turned_off(db: &TestDb) {
    let config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    let app = http::app(AppState::new(config, db.store()).expect("state"));
    let peer = random_peer();
    for _ in 0..8 {
        let reply = login(&app, peer).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("ratelimit-limit"), None);
    }
}

async fn me(app: &Router, token: &str) -> Reply {
    Call::get("/api/v1/auth/me").token(token).send(app).await
}

async fn two_instances_sharing_redis_share_one_limit(db: &TestDb) {
    if !support::redis_available().await {
        return;
    }
    let first = limited(
        db,
        Some(support::redis_url()),
        &[("session", "3/1m"), ("login", "4/15m")],
    );
    let second = limited(
        db,
        Some(support::redis_url()),
        &[("session", "3/1m"), ("login", "4/15m")],
    );
    let u = user(db, &format!("{}@acme.test", uuid::Uuid::new_v4().simple())).await;
    let token = token_for(&db.store(), &u).await;
    assert_eq!(me(&first, &token).await.status, StatusCode::OK);
    assert_eq!(me(&second, &token).await.status, StatusCode::OK);
    let third = me(&first, &token).await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.header("ratelimit-remaining"), Some("0"));
    assert_limited(&me(&second, &token).await);
    assert_limited(&me(&first, &token).await);

    // IP-keyed limits are shared too.
    let peer = random_peer();
    for app in [&first, &second, &first, &second] {
        assert_eq!(login(app, peer).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_limited(&login(&first, peer).await);
}

async fn with_redis_unreachable_limits_still_hold_in_process(db: &TestDb) {
    let app = limited(
        db,
        Some("redis://127.0.0.1:1".into()),
        &[("system", "2/1h")],
    );
    let peer = random_peer();
    for _ in 0..2 {
        assert_eq!(
            Call::get("/api/health").peer(peer).send(&app).await.status,
            StatusCode::OK
        );
    }
    assert_limited(&Call::get("/api/health").peer(peer).send(&app).await);
}

fn behind_proxy(db: &TestDb, header: lumen::config::ForwardedHeader) -> Router {
    let config = Config {
        trusted_proxy_hops: 1,
        forwarded_header: header,
        ..test_config(db)
    };
    http::app(AppState::new(config, db.store()).expect("state"))
}

/// Behind one proxy, a client that writes its own `X-Forwarded-For` line in
/// front of the proxy's still gets the proxy's view of it as its key: over a
/// real socket, so the header lines arrive as a client sends them.
async fn a_forged_forwarded_line_does_not_choose_the_rate_limit_key(db: &TestDb) {
    let app = behind_proxy(db, lumen::config::ForwardedHeader::XForwardedFor);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    lumen::install_crypto_provider();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for attempt in 0..6 {
        let reply = client
            .post(format!("http://{addr}/api/v1/auth/login"))
            .header("x-forwarded-for", format!("10.9.8.{attempt}"))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
            .json(&json!({"email": "x@acme.test", "password": "wrong-password"}))
            .send()
            .await
            .expect("send");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
}

async fn forwarded_header_hops_are_counted_from_the_right_and_ipv6_by_64(db: &TestDb) {
    let app = behind_proxy(db, lumen::config::ForwardedHeader::Forwarded);
    let send = |forwarded: String| {
        let app = app.clone();
        async move {
            Call::post(
                "/api/v1/auth/login",
                json!({"email": "x@acme.test", "password": "wrong-password"}),
            )
            .header("forwarded", "for=192.0.2.99;proto=https")
            .header("forwarded", Box::leak(forwarded.into_boxed_str()))
            .send(&app)
            .await
            .status
        }
    };
    // One client moving through its /64, behind a forged entry of its own.
    for host in 1..=5 {
        let status = send(format!(
            "for=10.0.0.{host}, for=\"[2001:db8:1:2::{host}]:4711\""
        ))
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        send("for=\"[2001:db8:1:2:ffff::9]\"".into()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The next /64 is another client; `X-Forwarded-For` is not read.
    assert_eq!(
        send("for=\"[2001:db8:1:3::1]\"".into()).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Analytics-class routes each have their own budget per user: exhausting
/// one leaves the others whole.
async fn analytics_budgets_are_per_route_and_user(db: &TestDb) {
    let app = limited(db, None, &[("analytics", "2/1h")]);
    let a = user(db, "a@acme.test").await;
    let token = token_for(&db.store(), &a).await;
    let get = |uri: String| {
        let (app, token) = (app.clone(), token.clone());
        async move { Call::get(uri).token(&token).send(&app).await }
    };
    let profile = format!("/api/v1/users/{}", a.id);
    let velocity = format!("/api/v1/learner/analytics/velocity/{}", a.id);
    for _ in 0..2 {
        assert_ne!(
            get(profile.clone()).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_limited(&get(profile.clone()).await);
    let other = get(velocity).await;
    assert_ne!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        other.body
    );
    assert_eq!(other.header("ratelimit-remaining"), Some("1"));
}

/// A 304 revalidation is free: it does not spend the route's budget, in the
/// process and in Redis.
async fn a_revalidation_is_free(db: &TestDb, redis: Option<String>) {
    let app = limited(db, redis, &[("analytics", "2/1h")]);
    let u = user(db, &format!("{}@acme.test", uuid::Uuid::new_v4().simple())).await;
    let token = token_for(&db.store(), &u).await;
    let uri = format!("/api/v1/gamification/stats/{}", u.id);
    let first = Call::get(uri.clone()).token(&token).send(&app).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    let etag = first.header("etag").expect("an ETag").to_owned();
    for _ in 0..5 {
        let again = Call::get(uri.clone())
            .token(&token)
            .header("if-none-match", &etag)
            .send(&app)
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert_eq!(again.header("ratelimit-remaining"), Some("1"));
    }
    let second = Call::get(uri.clone()).token(&token).send(&app).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.header("ratelimit-remaining"), Some("0"));
    assert_limited(&Call::get(uri).token(&token).send(&app).await);
}

async fn a_revalidation_is_free_in_process(db: &TestDb) {
    a_revalidation_is_free(db, None).await;
}

async fn a_revalidation_is_free_with_redis(db: &TestDb) {
    if !support::redis_available().await {
        return;
    }
    a_revalidation_is_free(db, Some(support::redis_url())).await;
}

/// The refresh class limits `POST /auth/refresh` per client address, with
/// its own budget (a refused refresh does not spend the login budget).
async fn token_refreshes_are_limited_per_ip(db: &TestDb) {
    let app = limited(db, None, &[("refresh", "2/1m"), ("login", "5/15m")]);
    let peer = random_peer();
    let refresh = || {
        Call::post(
            "/api/v1/auth/refresh",
            json!({"refreshToken": "not-a-real-refresh-token"}),
        )
        .peer(peer)
        .send(&app)
    };
    for _ in 0..2 {
        assert_eq!(refresh().await.status, StatusCode::UNAUTHORIZED);
    }
    assert_limited(&refresh().await);
    // Another address has its own budget; logins are counted apart.
    let other = Call::post(
        "/api/v1/auth/refresh",
        json!({"refreshToken": "not-a-real-refresh-token"}),
    )
    .peer(random_peer())
    .send(&app)
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, peer).await.status, StatusCode::UNAUTHORIZED);
}

support::on_both_databases!(
    login_allows_five_attempts_per_ip_per_15_minutes_by_default,
    per_user_limits_count_each_user_separately,
    health_is_limited_per_ip_at_its_own_rate,
    limits_can_be_turned_off,
    two_instances_sharing_redis_share_one_limit,
    with_redis_unreachable_limits_still_hold_in_process,
    a_forged_forwarded_line_does_not_choose_the_rate_limit_key,
    forwarded_header_hops_are_counted_from_the_right_and_ipv6_by_64,
    analytics_budgets_are_per_route_and_user,
    token_refreshes_are_limited_per_ip,
    a_revalidation_is_free_in_process,
    a_revalidation_is_free_with_redis,
);
