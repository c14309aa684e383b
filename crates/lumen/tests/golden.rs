//! The API's analytics output, byte for byte: every analytic and role bundle
//! of the demo users, on a simulated organisation at a fixed instant, is
//! compared with the responses committed in `tests/golden/`. A refactoring
//! must leave every byte (status, ETag, body) as it was; a change of an
//! analytic's definition regenerates the files on purpose:
//!
//! ```sh
//! LUMEN_GOLDEN_UPDATE=1 cargo test -p lumen --test golden
//! ```
//!
//! and the diff of `tests/golden/` is reviewed with the change.

mod support;

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use lumen::state::Clock;
use lumen::{AppState, http};
use support::client::Call;
use support::{TestDb, token_for};

/// The simulated present and the instant the analytics are computed at.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0)
        .single()
        .expect("date")
}

const RANGES: [&str; 4] = ["7d", "30d", "90d", "1y"];

const LEARNER: [&str; 10] = [
    "learner/analytics/velocity",
    "learner/analytics/skill-gap",
    "learner/analytics/engagement",
    "learner/analytics/mastery",
    "learner/analytics/performance",
    "learner/analytics/content-effectiveness",
    "comparison/peer",
    "predictive/drop-off-risk",
    "predictive/forecast",
    "predictive/recommendations",
];

const TRAINER: [&str; 4] = [
    "trainer/analytics/course-performance",
    "trainer/analytics/course-health",
    "trainer/analytics/student-distribution",
    "trainer/analytics/teaching-effectiveness",
];

const ORG: [&str; 5] = [
    "org-admin/analytics/learning-velocity",
    "org-admin/analytics/strategic-alignment",
    "org-admin/analytics/learning-culture",
    "org-admin/analytics/org-performance",
    "org-admin/analytics/department-analytics",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_analytic_and_bundle_answers_the_committed_bytes_on_sqlite() {
    same_bytes(
        TestDb::sqlite().await,
        std::env::var("LUMEN_GOLDEN_UPDATE").is_ok_and(|v| v == "1"),
    )
    .await;
}

/// The same bytes from PostgreSQL (the files are written from SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_analytic_and_bundle_answers_the_committed_bytes_on_postgres() {
    if let Some(db) = TestDb::postgres().await {
        same_bytes(db, false).await;
    }
}

async fn same_bytes(db: TestDb, update: bool) {
    let (config, _sim) = support::simulated_org_at(&db, 7, now()).await;
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
    let multi = user("multi@demo.lumen.test").await;
    let state = AppState::new(config, store.clone())
        .expect("state")
        .with_clock(Clock::fixed(now()));
    let app = http::app(state);

    let lt = token_for(&store, &learner).await;
    let tt = token_for(&store, &trainer).await;
    let at = token_for(&store, &admin).await;
    let mt = token_for(&store, &multi).await;
    let org = admin.organization_id;

    // (name, token, active role, path): every analytic at every range for
    // the subject the role is about, then the bundles.
    let mut calls: Vec<(String, &str, &str, String)> = Vec::new();
    for range in RANGES {
        for a in LEARNER {
            calls.push((
                format!("learner {a} {range}"),
                &lt,
                "learner",
                format!("/api/v1/{a}/{}?timeRange={range}", learner.id),
            ));
        }
        for a in TRAINER {
            calls.push((
                format!("trainer {a} {range}"),
                &tt,
                "trainer",
                format!("/api/v1/{a}/{}?timeRange={range}", trainer.id),
            ));
        }
        for a in ORG {
            calls.push((
                format!("admin {a} {range}"),
                &at,
                "org-admin",
                format!("/api/v1/{a}/{org}?timeRange={range}"),
            ));
        }
        calls.push((
            format!("admin comparison/skill-demand {range}"),
            &at,
            "org-admin",
            format!("/api/v1/comparison/skill-demand?timeRange={range}"),
        ));
    }
    for a in LEARNER {
        calls.push((
            format!("multi {a} 30d"),
            &mt,
            "learner",
            format!("/api/v1/{a}/{}", multi.id),
        ));
    }
    for a in TRAINER {
        calls.push((
            format!("multi {a} 30d"),
            &mt,
            "trainer",
            format!("/api/v1/{a}/{}", multi.id),
        ));
    }
    for range in RANGES {
        for (who, token, role, bundle) in [
            ("learner", &lt, "learner", "learner"),
            ("trainer", &tt, "trainer", "trainer"),
            ("admin", &at, "org-admin", "organization"),
            ("multi", &mt, "learner", "learner"),
            ("multi", &mt, "trainer", "trainer"),
        ] {
            calls.push((
                format!("{who} bundle {bundle} {range}"),
                token,
                role,
                format!("/api/v1/analytics/{bundle}?timeRange={range}"),
            ));
        }
    }

    let dir = golden_dir();
    if update {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("golden dir");
    }
    let mut index = String::new();
    let mut differences = Vec::new();
    for (i, (name, token, role, uri)) in calls.iter().enumerate() {
        let reply = Call::get(uri.clone())
            .token(token)
            .role(role)
            .send(&app)
            .await;
        let file = format!("{i:03}-{}.json", name.replace([' ', '/'], "_"));
        let _ = writeln!(
            index,
            "{file} {} {} {}",
            reply.status.as_u16(),
            reply.header("etag").unwrap_or("-"),
            reply.header("content-type").unwrap_or("-"),
        );
        let path = dir.join(&file);
        if update {
            std::fs::write(&path, &reply.bytes).expect("write golden");
        } else {
            let expected = std::fs::read(&path).unwrap_or_default();
            if expected != reply.bytes {
                differences.push(format!(
                    "{name} ({uri}): body differs from tests/golden/{file}:\n  got {}",
                    String::from_utf8_lossy(&reply.bytes)
                        .chars()
                        .take(400)
                        .collect::<String>()
                ));
            }
        }
    }
    let index_path = dir.join("index.txt");
    if update {
        std::fs::write(&index_path, &index).expect("write index");
    } else {
        let expected = std::fs::read_to_string(&index_path).expect("tests/golden/index.txt");
        for (want, got) in expected.lines().zip(index.lines()) {
            if want != got {
                differences.push(format!("status/ETag/type: want {want}\n  got {got}"));
            }
        }
        assert_eq!(
            expected.lines().count(),
            index.lines().count(),
            "number of golden requests"
        );
    }
    assert!(
        differences.is_empty(),
        "{} of {} responses differ from tests/golden (regenerate on purpose with \
         LUMEN_GOLDEN_UPDATE=1):\n{}",
        differences.len(),
        calls.len(),
        differences.join("\n")
    );
}
