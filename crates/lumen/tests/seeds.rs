//! Seed compatibility (README "Compatibility with the design documents"):
//! every path and field a front end written against `../shared/seeds/`
//! calls answers as that seed documents it, through the same policy as the
//! canonical routes. Each case names the seed and section it comes from.

mod support;

use axum::Router;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use lumen::state::Clock;
use lumen::{AppState, accounts, http};
use lumen_core::analytics::{ANALYTICS, SubjectKind};
use lumen_core::model::User;
use serde_json::{Value, json};
use support::client::{Call, Reply};
use support::{TestDb, on_both_databases, token_for};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0)
        .single()
        .expect("date")
}

const PASSWORD: &str = "correct horse battery staple";

struct Demo {
    app: Router,
    store: lumen::store::Store,
    config: lumen::config::Config,
    learner: User,
    trainer: User,
    admin: User,
    /// A learner of the organisation the demo trainer does not teach.
    untaught: User,
    lt: String,
    tt: String,
    at: String,
    _sim: lumen::simulate::SimHandle,
}

async fn demo(db: &TestDb) -> Demo {
    let (config, sim) = support::simulated_org_at(db, 7, now()).await;
    let store = db.store();
    let user = |email: &'static str| {
        let store = store.clone();
        async move {
            store
                .user_by_email(email)
                .await
                .expect("read")
                .expect(email)
        }
    };
    let learner = user("learner@demo.lumen.test").await;
    let trainer = user("trainer@demo.lumen.test").await;
    let admin = user("admin@demo.lumen.test").await;
    let mut untaught = None;
    for u in store
        .users(Some(admin.organization_id))
        .await
        .expect("users")
    {
        if u.roles == [lumen_core::Role::Learner]
            && !store.teaches(trainer.id, u.id).await.expect("teaches")
        {
            untaught = Some(u);
            break;
        }
    }
    assert!(
        store
            .teaches(trainer.id, learner.id)
            .await
            .expect("teaches"),
        "the demo trainer teaches the demo learner"
    );
    let state = AppState::new(config.clone(), store.clone())
        .expect("state")
        .with_clock(Clock::fixed(now()));
    Demo {
        app: http::app(state),
        lt: token_for(&store, &learner).await,
        tt: token_for(&store, &trainer).await,
        at: token_for(&store, &admin).await,
        store,
        config,
        learner,
        trainer,
        admin,
        untaught: untaught.expect("a learner the demo trainer does not teach"),
        _sim: sim,
    }
}

async fn get(app: &Router, uri: &str, token: &str, role: &str) -> Reply {
    Call::get(uri.to_owned())
        .token(token)
        .role(role)
        .send(app)
        .await
}

fn ok(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{what}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
}

on_both_databases!(
    seed_002_analytics_paths_answer_like_the_canonical_ones,
    seed_004_paths_roles_and_bundle_access,
    seed_000_stale_answers_carry_requires_refresh,
    seed_000_refresh_token_reuse_is_named,
);

/// Seed 002 "API structure" (`/api/v1/analytics/{family}/{analytic}/:id`) and
/// its `department-analytics/:orgId`: the same status and data as the
/// canonical path, for every analytic of the registry; and the same refusal
/// for a caller outside the scope.
async fn seed_002_analytics_paths_answer_like_the_canonical_ones(db: &TestDb) {
    let d = demo(db).await;
    for analytic in ANALYTICS {
        let (token, role, subject) = match analytic.subject {
            SubjectKind::Learner => (&d.lt, "learner", d.learner.id),
            SubjectKind::Trainer => (&d.tt, "trainer", d.trainer.id),
            SubjectKind::Organization | SubjectKind::CallersOrganization => {
                (&d.at, "org-admin", d.admin.organization_id)
            }
        };
        let fill = |path: &str| {
            path.replace("{userId}", &subject.to_string())
                .replace("{trainerId}", &subject.to_string())
                .replace("{orgId}", &subject.to_string())
        };
        let canonical = get(&d.app, &fill(analytic.path), token, role).await;
        let seed = get(&d.app, &fill(analytic.seed_path()), token, role).await;
        assert_eq!(seed.status, canonical.status, "{}", analytic.seed_path());
        ok(&seed, analytic.seed_path());
        assert_eq!(seed.body["data"], canonical.body["data"], "{analytic:?}");
        assert!(seed.body["requiresRefresh"].is_boolean(), "{analytic:?}");
        // The same policy: a learner may not read another learner's or an
        // organisation's analytics through the old paths either.
        if analytic.subject != SubjectKind::CallersOrganization {
            let other = fill(analytic.seed_path())
                .replace(&subject.to_string(), &d.untaught.id.to_string());
            let refused = get(&d.app, &other, &d.lt, "learner").await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{other}");
        }
    }
    // Seed 002 §API structure: department-analytics/:orgId.
    let uri = format!(
        "/api/v1/analytics/organization/department-analytics/{}",
        d.admin.organization_id
    );
    let reply = get(&d.app, &uri, &d.at, "org-admin").await;
    ok(&reply, &uri);
    let rows = reply.body["data"]["departments"]
        .as_array()
        .expect("departments");
    assert!(!rows.is_empty());
    for row in rows {
        for field in ["departmentName", "learners", "learningVelocity"] {
            assert!(!row[field].is_null(), "{field} in {row}");
        }
    }
    // Seed 002's four gamification paths.
    for path in ["stats", "achievements", "streak"] {
        let uri = format!("/api/v1/gamification/{path}/{}", d.learner.id);
        ok(&get(&d.app, &uri, &d.lt, "learner").await, &uri);
    }
    ok(
        &get(&d.app, "/api/v1/gamification/leaderboard", &d.lt, "learner").await,
        "leaderboard",
    );
}

/// Seed 004 "API Endpoints", "Health Check Endpoints", "Role-Based Access
/// Control": `/auth/profile`, `/health` with `uptime` and `memory`, the
/// role spelled `org_admin`, and bundles of people one teaches or
/// administers.
async fn seed_004_paths_roles_and_bundle_access(db: &TestDb) {
    let d = demo(db).await;
    // GET /api/v1/auth/profile: the body of /auth/me.
    let me = get(&d.app, "/api/v1/auth/me", &d.lt, "learner").await;
    let profile = get(&d.app, "/api/v1/auth/profile", &d.lt, "learner").await;
    ok(&profile, "/auth/profile");
    assert_eq!(profile.body, me.body);
    assert_eq!(profile.body["user"]["id"], json!(d.learner.id.to_string()));

    // GET /api/v1/health (seed 004's health-check path) and /api/health:
    // status, timestamp, uptime (and uptimeSeconds), memory, version.
    for uri in ["/api/v1/health", "/api/health"] {
        let reply = Call::get(uri).send(&d.app).await;
        ok(&reply, uri);
        let body = reply.body;
        assert_eq!(body["status"], "healthy");
        assert!(body["uptime"].is_f64() || body["uptime"].is_u64(), "{body}");
        assert!(body["uptimeSeconds"].is_u64(), "{body}");
        assert!(body["timestamp"].is_string() && body["version"].is_string());
        let resident = body["memory"]["residentBytes"].as_u64().expect("resident");
        assert!(resident > 1_000_000, "{body}");
        assert!(body["memory"]["heapUsedBytes"].as_u64().is_some(), "{body}");
    }
    for uri in ["/api/v1/health/ready", "/api/v1/health/live"] {
        ok(&Call::get(uri).send(&d.app).await, uri);
    }

    // X-Active-Role: org_admin, seed 004's spelling.
    let reply = get(&d.app, "/api/v1/analytics/organization", &d.at, "org_admin").await;
    ok(&reply, "org_admin");
    assert_eq!(reply.body["data"]["role"], "org-admin");

    // requireRole(['learner', 'trainer', 'org_admin']) on the learner
    // bundle: a trainer for a learner they teach, an org admin for anyone
    // of their organisation; nobody else.
    let learner_bundle = |who: &User| format!("/api/v1/analytics/learner?userId={}", who.id);
    let reply = get(&d.app, &learner_bundle(&d.learner), &d.tt, "trainer").await;
    ok(&reply, "trainer reads a taught learner's bundle");
    assert_eq!(reply.body["data"]["subjectId"], json!(d.learner.id));
    let own = get(&d.app, "/api/v1/analytics/learner", &d.lt, "learner").await;
    let entries = reply.body["data"]["analytics"]
        .as_object()
        .expect("analytics");
    assert_eq!(entries.len(), 10);
    for (name, entry) in entries {
        // The same results the learner sees (one computed, one from cache).
        assert_eq!(
            entry["data"], own.body["data"]["analytics"][name]["data"],
            "{name}"
        );
    }
    let reply = get(&d.app, &learner_bundle(&d.untaught), &d.tt, "trainer").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = get(&d.app, &learner_bundle(&d.untaught), &d.at, "org_admin").await;
    ok(&reply, "org admin reads a learner's bundle");
    assert_eq!(reply.body["data"]["subjectId"], json!(d.untaught.id));
    let reply = get(&d.app, &learner_bundle(&d.untaught), &d.lt, "learner").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // requireRole(['trainer', 'org_admin']) on the trainer bundle.
    let trainer_bundle = format!("/api/v1/analytics/trainer?trainerId={}", d.trainer.id);
    let reply = get(&d.app, &trainer_bundle, &d.at, "org-admin").await;
    ok(&reply, "org admin reads a trainer's bundle");
    assert_eq!(reply.body["data"]["subjectId"], json!(d.trainer.id));
    let reply = get(&d.app, &trainer_bundle, &d.lt, "learner").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A malformed id is a validation error naming its field.
    let reply = get(
        &d.app,
        "/api/v1/analytics/learner?userId=7",
        &d.tt,
        "trainer",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["validation"]["userId"], "must be a UUID",
        "{}",
        reply.body
    );
    // Someone of another organisation is refused like a stranger.
    let stranger = accounts::add_user(
        &d.store,
        "Elsewhere",
        "boss@elsewhere.test",
        "Boss",
        &[lumen_core::Role::OrgAdmin],
        PASSWORD,
    )
    .await
    .expect("user");
    let st = token_for(&d.store, &stranger).await;
    let reply = get(&d.app, &learner_bundle(&d.learner), &st, "org_admin").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Seed 000/003 `getJobStatus` says `pending`: the same state as `queued`.
    assert_eq!(
        "pending"
            .parse::<lumen::queue::JobState>()
            .expect("pending"),
        lumen::queue::JobState::Queued
    );
}

/// Seed 000 §5.3: a stale answer carries `stale` and `requiresRefresh`.
async fn seed_000_stale_answers_carry_requires_refresh(db: &TestDb) {
    let d = demo(db).await;
    let uri = format!("/api/v1/learner/analytics/engagement/{}", d.learner.id);
    let fresh = get(&d.app, &uri, &d.lt, "learner").await;
    ok(&fresh, "fresh");
    assert_eq!(fresh.body["stale"], false);
    assert_eq!(fresh.body["requiresRefresh"], false);
    // Seven hours later (past the 6-hour threshold), from the stored result.
    let later = AppState::new(d.config.clone(), d.store.clone())
        .expect("state")
        .with_clock(Clock::fixed(now() + Duration::hours(7)));
    let app = http::app(later);
    let stale = get(&app, &uri, &d.lt, "learner").await;
    ok(&stale, "stale");
    assert_eq!(stale.body["stale"], true, "{}", stale.body);
    assert_eq!(stale.body["requiresRefresh"], true);
    assert_eq!(stale.body["data"], fresh.body["data"]);
}

/// Seed 000's `{token, expiresIn}` login; the refresh token rotates, and a
/// client that presents a spent one learns why (`REFRESH_TOKEN_REUSED`).
async fn seed_000_refresh_token_reuse_is_named(db: &TestDb) {
    let d = demo(db).await;
    accounts::set_password(&d.store, "learner@demo.lumen.test", PASSWORD)
        .await
        .expect("password");
    let login = Call::post(
        "/api/v1/auth/login",
        json!({ "email": "learner@demo.lumen.test", "password": PASSWORD }),
    )
    .send(&d.app)
    .await;
    ok(&login, "login");
    let body: &Value = &login.body;
    assert!(
        body["token"].is_string() && body["expiresIn"].is_u64(),
        "{body}"
    );
    let first = body["refreshToken"]
        .as_str()
        .expect("refreshToken")
        .to_owned();
    let refresh = |token: String| {
        let app = d.app.clone();
        async move {
            Call::post("/api/v1/auth/refresh", json!({ "refreshToken": token }))
                .send(&app)
                .await
        }
    };
    let rotated = refresh(first.clone()).await;
    ok(&rotated, "refresh");
    assert_ne!(rotated.body["refreshToken"], json!(first));
    let reused = refresh(first).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.body["error"], "REFRESH_TOKEN_REUSED");
}
