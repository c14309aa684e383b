//! The analytics over HTTP on a collected, simulated organisation: every
//! endpoint answers with the envelope (or a documented 404/422, never a
//! 500), bundles report per-analytic results, and `timeRange` is validated.
//! The numbers themselves are tested against hand-computed fixtures in
//! `lumen-core` (one module per family).

mod support;

use axum::Router;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lumen::{AppState, http};
use lumen_core::model::User;
use serde_json::Value;
use support::client::Call;
use support::on_both_databases;
use support::{TestDb, token_for};

struct World {
    app: Router,
    config: lumen::config::Config,
    db: TestDb,
    learner: User,
    trainer: User,
    admin: User,
}

async fn world(db: TestDb) -> World {
    let (config, _sim) = support::simulated_org(&db, 11).await;
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
    let app = http::app(AppState::new(config.clone(), store).expect("state"));
    World {
        app,
        config,
        db,
        learner,
        trainer,
        admin,
    }
}

fn assert_envelope(body: &Value, analytic: &str) {
    assert_eq!(body["data"]["analytic"], analytic, "{body}");
    assert_eq!(body["cached"], false);
    assert_eq!(body["stale"], false);
    assert_eq!(body["dataSource"], "realtime", "{body}");
    let updated: DateTime<Utc> = body["lastUpdated"]
        .as_str()
        .expect("lastUpdated")
        .parse()
        .expect("time");
    let expires: DateTime<Utc> = body["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("time");
    assert_eq!(expires - updated, chrono::Duration::hours(6));
    assert!(body["data"]["missingSources"].is_array());
    assert_eq!(body["data"]["timeRange"], "30d");
}

async fn every_analytic_answers_with_an_envelope_or_a_documented_error(w: &World) {
    let store = w.db.store();
    let lt = token_for(&store, &w.learner).await;
    let tt = token_for(&store, &w.trainer).await;
    let at = token_for(&store, &w.admin).await;
    let (l, t, o) = (w.learner.id, w.trainer.id, w.admin.organization_id);
    let calls: Vec<(&str, String, &str, &str)> = vec![
        (
            "velocity",
            format!("/api/v1/learner/analytics/velocity/{l}"),
            &lt,
            "learner",
        ),
        (
            "skill-gap",
            format!("/api/v1/learner/analytics/skill-gap/{l}"),
            &lt,
            "learner",
        ),
        (
            "engagement",
            format!("/api/v1/learner/analytics/engagement/{l}"),
            &lt,
            "learner",
        ),
        (
            "mastery",
            format!("/api/v1/learner/analytics/mastery/{l}"),
            &lt,
            "learner",
        ),
        (
            "performance",
            format!("/api/v1/learner/analytics/performance/{l}"),
            &lt,
            "learner",
        ),
        (
            "content-effectiveness",
            format!("/api/v1/learner/analytics/content-effectiveness/{l}"),
            &lt,
            "learner",
        ),
        (
            "course-performance",
            format!("/api/v1/trainer/analytics/course-performance/{t}"),
            &tt,
            "trainer",
        ),
        (
            "course-health",
            format!("/api/v1/trainer/analytics/course-health/{t}"),
            &tt,
            "trainer",
        ),
        (
            "student-distribution",
            format!("/api/v1/trainer/analytics/student-distribution/{t}"),
            &tt,
            "trainer",
        ),
        (
            "teaching-effectiveness",
            format!("/api/v1/trainer/analytics/teaching-effectiveness/{t}"),
            &tt,
            "trainer",
        ),
        (
            "learning-velocity",
            format!("/api/v1/org-admin/analytics/learning-velocity/{o}"),
            &at,
            "org-admin",
        ),
        (
            "strategic-alignment",
            format!("/api/v1/org-admin/analytics/strategic-alignment/{o}"),
            &at,
            "org-admin",
        ),
        (
            "learning-culture",
            format!("/api/v1/org-admin/analytics/learning-culture/{o}"),
            &at,
            "org-admin",
        ),
        (
            "org-performance",
            format!("/api/v1/org-admin/analytics/org-performance/{o}"),
            &at,
            "org-admin",
        ),
        (
            "peer",
            format!("/api/v1/comparison/peer/{l}"),
            &lt,
            "learner",
        ),
        (
            "skill-demand",
            "/api/v1/comparison/skill-demand".to_owned(),
            &at,
            "org-admin",
        ),
        (
            "drop-off-risk",
            format!("/api/v1/predictive/drop-off-risk/{l}"),
            &lt,
            "learner",
        ),
        (
            "forecast",
            format!("/api/v1/predictive/forecast/{l}"),
            &lt,
            "learner",
        ),
        (
            "recommendations",
            format!("/api/v1/predictive/recommendations/{l}"),
            &lt,
            "learner",
        ),
    ];
    let mut insufficient = Vec::new();
    for (analytic, uri, token, role) in calls {
        let reply = Call::get(uri.clone())
            .token(token)
            .role(role)
            .send(&w.app)
            .await;
        match reply.status {
            StatusCode::OK => assert_envelope(&reply.body, analytic),
            StatusCode::UNPROCESSABLE_ENTITY => {
                insufficient.push(analytic);
                assert_eq!(reply.body["error"], "INSUFFICIENT_DATA", "{uri}");
                assert_eq!(
                    reply.body["details"]["analytic"], analytic,
                    "{}",
                    reply.body
                );
                assert!(reply.body["details"]["reason"].is_string());
            }
            other => panic!("{uri}: {other} {}", reply.body),
        }
    }
    // The simulated organisation is deterministic and has data for every
    // analytic: each one answers.
    assert!(
        insufficient.is_empty(),
        "INSUFFICIENT_DATA on the simulated organisation: {insufficient:?}"
    );
}

async fn bundles_report_every_analytic_of_the_role(w: &World) {
    let store = w.db.store();
    let lt = token_for(&store, &w.learner).await;
    let at = token_for(&store, &w.admin).await;
    let reply = Call::get("/api/v1/analytics/learner?timeRange=90d")
        .token(&lt)
        .send(&w.app)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let data = &reply.body["data"];
    assert_eq!(data["role"], "learner");
    assert_eq!(data["timeRange"], "90d");
    let analytics = data["analytics"].as_object().expect("analytics");
    assert_eq!(analytics.len(), 10);
    for (name, entry) in analytics {
        let status = entry["status"].as_str().expect("status");
        assert!(status == "ok" || status == "error", "{name}: {entry}");
        if status == "ok" {
            assert_eq!(entry["data"]["analytic"], name.as_str());
        } else {
            assert!(
                entry["error"].is_string() && entry["error"] != "INTERNAL_ERROR",
                "{name}: {entry}"
            );
        }
    }
    let summary = &data["summary"];
    assert_eq!(
        summary["ok"].as_u64().unwrap_or(0) + summary["failed"].as_u64().unwrap_or(0),
        10
    );
    // A learner cannot fetch the organisation bundle; an org admin can.
    let refused = Call::get("/api/v1/analytics/organization")
        .token(&lt)
        .send(&w.app)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let org = Call::get("/api/v1/analytics/organization")
        .token(&at)
        .send(&w.app)
        .await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.body);
    assert_eq!(
        org.body["data"]["analytics"].as_object().map(|a| a.len()),
        Some(6),
        "the four organisation analytics, department-analytics and skill-demand"
    );
}

async fn time_ranges_are_validated(w: &World) {
    let lt = token_for(&w.db.store(), &w.learner).await;
    let uri = format!(
        "/api/v1/learner/analytics/engagement/{}?timeRange=2w",
        w.learner.id
    );
    let reply = Call::get(uri).token(&lt).send(&w.app).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["validation"]["timeRange"],
        "must be one of 7d, 30d, 90d, 1y"
    );
    for range in ["7d", "90d", "1y"] {
        let uri = format!(
            "/api/v1/learner/analytics/engagement/{}?timeRange={range}",
            w.learner.id
        );
        let reply = Call::get(uri).token(&lt).send(&w.app).await;
        assert_eq!(reply.status, StatusCode::OK, "{range}: {}", reply.body);
        assert_eq!(reply.body["data"]["timeRange"], range);
    }
}

async fn a_trainer_sees_drop_off_risk_of_their_learners_only(w: &World) {
    let store = w.db.store();
    let tt = token_for(&store, &w.trainer).await;
    let records = store
        .load_records(w.trainer.organization_id)
        .await
        .expect("records");
    let courses: Vec<_> = records
        .course_trainers
        .iter()
        .filter(|(_, t)| *t == w.trainer.id)
        .map(|(c, _)| *c)
        .collect();
    let taught = records
        .enrolments
        .iter()
        .find(|e| {
            courses.contains(&e.course_id) && e.status == lumen_core::model::EnrolmentStatus::Active
        })
        .map(|e| e.user_id)
        .expect("a taught learner with an active enrolment");
    let reply = Call::get(format!("/api/v1/predictive/drop-off-risk/{taught}"))
        .token(&tt)
        .role("trainer")
        .send(&w.app)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let model = reply.body["data"]["model"].as_str().expect("model");
    assert!(
        model == "logistic-regression" || model == "heuristic",
        "{model}"
    );
    let risk = reply.body["data"]["riskScore"].as_f64().expect("riskScore");
    assert!((0.0..=1.0).contains(&risk));
    let untaught = records
        .enrolments
        .iter()
        .find(|e| {
            !courses.contains(&e.course_id)
                && !records
                    .enrolments
                    .iter()
                    .any(|x| x.user_id == e.user_id && courses.contains(&x.course_id))
        })
        .map(|e| e.user_id);
    if let Some(other) = untaught
        && !records
            .trainer_learners
            .iter()
            .any(|(t, l)| *t == w.trainer.id && *l == other)
    {
        let reply = Call::get(format!("/api/v1/predictive/drop-off-risk/{other}"))
            .token(&tt)
            .role("trainer")
            .send(&w.app)
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
}

/// No learner-facing or organisation-level response names another person:
/// the learner's own analytics and peer comparison (k-anonymous), and the
/// organisation's analytics (department aggregates only).
async fn no_response_reveals_another_individual(w: &World) {
    let store = w.db.store();
    let lt = token_for(&store, &w.learner).await;
    let at = token_for(&store, &w.admin).await;
    let users = store
        .users(Some(w.learner.organization_id))
        .await
        .expect("users");
    let others: Vec<&User> = users.iter().filter(|u| u.id != w.learner.id).collect();
    let mut texts = Vec::new();
    for (uri, token) in [
        ("/api/v1/analytics/learner".to_owned(), &lt),
        (
            format!("/api/v1/comparison/peer/{}?timeRange=90d", w.learner.id),
            &lt,
        ),
        ("/api/v1/analytics/organization".to_owned(), &at),
    ] {
        let reply = Call::get(uri.clone()).token(token).send(&w.app).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        texts.push((uri, reply.body.to_string()));
    }
    for (uri, text) in &texts {
        for other in &others {
            if other.roles.contains(&lumen_core::Role::Learner) {
                assert!(
                    !text.contains(&other.id.to_string()),
                    "{uri} names learner {}",
                    other.id
                );
                assert!(!text.contains(&other.email), "{uri} shows {}", other.email);
                assert!(
                    !text.contains(&other.full_name),
                    "{uri} shows {}",
                    other.full_name
                );
            }
        }
    }
}

/// `LUMEN_K_ANONYMITY` reaches the answers: with k (the largest allowed,
/// 1000) above every cohort's size, each peer comparison is suppressed and
/// says why, and the answer states the k it applied; the default k shows
/// cohorts on the same data. (A cached result keeps the k it was computed
/// with until it is recomputed, hence two time ranges: README.)
async fn the_configured_k_suppresses_peer_cohorts_over_http(w: &World) {
    let config = lumen::config::Config {
        k_anonymity: 1000,
        ..w.config.clone()
    };
    let app = http::app(AppState::new(config, w.db.store()).expect("state"));
    let token = token_for(&w.db.store(), &w.learner).await;
    let uri = |range: &str| format!("/api/v1/comparison/peer/{}?timeRange={range}", w.learner.id);
    let strict = Call::get(uri("1y")).token(&token).send(&app).await;
    assert_eq!(strict.status, StatusCode::OK, "{}", strict.body);
    let data = &strict.body["data"];
    assert_eq!(data["k"], 1000);
    let comparisons = data["performanceComparisons"]
        .as_array()
        .expect("comparisons");
    assert!(!comparisons.is_empty());
    for c in comparisons {
        assert_eq!(c["suppressed"], true, "{c}");
        assert_eq!(c["suppressedReason"], "COHORT_BELOW_K", "{c}");
        assert!(
            c["percentile"].is_null() && c["cohortAverage"].is_null(),
            "{c}"
        );
    }
    let default = Call::get(uri("30d")).token(&token).send(&w.app).await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.body);
    assert_eq!(default.body["data"]["k"], 5);
    assert!(
        default.body["data"]["performanceComparisons"]
            .as_array()
            .expect("comparisons")
            .iter()
            .any(|c| c["suppressed"] == false),
        "{}",
        default.body
    );
}

on_both_databases!(
    |db| &super::world(db).await;
    the_configured_k_suppresses_peer_cohorts_over_http,
    every_analytic_answers_with_an_envelope_or_a_documented_error,
    bundles_report_every_analytic_of_the_role,
    time_ranges_are_validated,
    a_trainer_sees_drop_off_risk_of_their_learners_only,
    no_response_reveals_another_individual,
);
