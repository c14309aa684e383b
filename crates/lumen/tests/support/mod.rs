//! Test support: isolated databases (a fresh SQLite file or a fresh
//! PostgreSQL database per test, so tests run in parallel), Redis, and an
//! app built on them.
//!
//! PostgreSQL and Redis are found through `LUMEN_TEST_POSTGRES_URL` (an
//! admin connection; default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and `LUMEN_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). When one is
//! unreachable its tests are skipped with a message, except with `CI=true`,
//! where they fail.
#![allow(dead_code, unused_imports, unused_macros)] // each test binary uses part of this module

use std::path::PathBuf;
use std::sync::Arc;

use lumen::config::Secret;
use lumen::store::Store;
use lumen::{AppState, Config};
use sqlx::Connection;
use uuid::Uuid;

pub mod s3;
pub mod smtp;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn unavailable(what: &str, err: impl std::fmt::Display) {
    assert!(
        !in_ci(),
        "{what} is required when CI=true but unreachable: {err}"
    );
    eprintln!("SKIPPED: {what} unreachable ({err}); set it up or run .ci/run");
}

pub fn postgres_admin_url() -> String {
    std::env::var("LUMEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("LUMEN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// One isolated, migrated database, deleted when dropped: also when the
/// test fails, since a panic drops it too.
pub enum TestDb {
    Sqlite { store: Store, dir: PathBuf },
    Postgres { store: Store, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("lumen-test-{}", Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", dir.join("lumen.db").display());
        let store = Store::open(&url, 5).await.expect("open SQLite");
        let db = TestDb::Sqlite { store, dir };
        db.store().migrate().await.expect("migrate SQLite");
        db
    }

    /// `None` (test skipped) when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                unavailable("PostgreSQL", e);
                return None;
            }
        };
        let name = format!("lumen_test_{}", Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = database_url(&admin_url, &name);
        let store = Store::open(&url, 5).await.expect("open PostgreSQL");
        let db = TestDb::Postgres { store, name };
        db.store().migrate().await.expect("migrate PostgreSQL");
        Some(db)
    }

    pub fn store(&self) -> Store {
        match self {
            TestDb::Sqlite { store, .. } | TestDb::Postgres { store, .. } => store.clone(),
        }
    }

    /// The `DATABASE_URL` that reaches this database.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir, .. } => format!("sqlite://{}", dir.join("lumen.db").display()),
            TestDb::Postgres { name, .. } => database_url(&postgres_admin_url(), name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(&*dir);
            }
            TestDb::Postgres { name, .. } => {
                // `drop` cannot wait on the test's runtime (it may be
                // unwinding, or busy running this very code): a thread of
                // its own with a runtime of its own drops the database,
                // closing the connections still open to it.
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut admin)
                            .await?;
                        Ok(())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("test database {name} was not dropped: {dropped:?}");
                }
            }
        }
    }
}

/// Defines each named scenario as two tests, `sqlite::NAME` and
/// `postgres::NAME`, each on a fresh [`TestDb`] that is dropped however the
/// test ends (the PostgreSQL one is skipped when unreachable, outside CI).
/// One use per test file (it defines the two modules).
///
/// `on_both_databases!(a, b)` calls `async fn a(db: &TestDb)`;
/// `on_both_databases!(|db| EXPR; a, b)` calls `a(EXPR)` instead, e.g.
/// `|db| db.store()` or `|db| &super::world(db).await` (`EXPR` is expanded
/// inside the generated modules: the file's own items are `super::`).
macro_rules! on_both_databases {
    (|$db:ident| $arg:expr; $($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let $db = $crate::support::TestDb::sqlite().await;
                    super::$test($arg).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some($db) = $crate::support::TestDb::postgres().await else {
                        return;
                    };
                    super::$test($arg).await;
                }
            )+
        }
    };
    ($($test:ident),+ $(,)?) => {
        $crate::support::on_both_databases!(|db| &db; $($test),+);
    };
}
pub(crate) use on_both_databases;

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let base = match base.rsplit_once('/') {
        Some((prefix, _))
            if prefix.contains("://") && prefix.len() > prefix.find("://").unwrap_or(0) + 3 =>
        {
            prefix
        }
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// `true` if Redis answers; otherwise skips (or fails in CI).
pub async fn redis_available() -> bool {
    let result = async {
        let client = redis::Client::open(redis_url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    }
    .await;
    match result {
        Ok(_) => true,
        Err(e) => {
            unavailable("Redis", e);
            false
        }
    }
}

/// Configuration for a test app on `db`.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

pub fn test_config(db: &TestDb) -> Config {
    Config {
        database_url: Secret::new(db.url()),
        jwt_secret: Some(Secret::new(TEST_JWT_SECRET.to_owned())),
        ..Config::default()
    }
}

/// Simulates the nine upstreams (small scale, `seed`) on a loopback port
/// and collects them into `db`: the configuration pointing at them (rate
/// limits off) and the simulator, which serves until the test ends.
pub async fn simulated_org(db: &TestDb, seed: u64) -> (Config, lumen::simulate::SimHandle) {
    simulated_org_at(db, seed, chrono::Utc::now()).await
}

/// [`simulated_org`] with the simulated present at `now`.
pub async fn simulated_org_at(
    db: &TestDb,
    seed: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> (Config, lumen::simulate::SimHandle) {
    use lumen::config::{UPSTREAM_SERVICES, UpstreamConfig};
    use lumen::simulate::{Scale, SimConfig, SimHandle};
    use lumen::upstream::{Resilience, Upstreams};
    let sim = SimHandle::new(SimConfig {
        seed,
        scale: Scale::Small,
        now,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = sim.clone();
    tokio::spawn(async move { server.serve(listener).await });
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    for service in UPSTREAM_SERVICES {
        config.upstreams.insert(
            service,
            UpstreamConfig {
                base_url: format!("{base}/{service}"),
                token: Secret::new("t".into()),
            },
        );
    }
    let upstreams = Arc::new(
        Upstreams::from_config(&config, Resilience::from_config(&config)).expect("clients"),
    );
    let report = lumen::collector::Collector::new(db.store(), upstreams)
        .run()
        .await
        .expect("collect");
    assert!(report.feeds.iter().all(|f| f.complete), "{report:?}");
    (config, sim)
}

/// Runs `state`'s job workers until `job` has finished (or `limit` passes,
/// which fails the test); the job as it ended.
pub async fn run_until_finished(
    state: &AppState,
    job: Uuid,
    limit: std::time::Duration,
) -> lumen::jobs::Job {
    use std::time::Duration;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let workers = tokio::spawn(lumen::jobs::run_workers(
        state.clone(),
        lumen::jobs::WorkerConfig {
            poll: Duration::from_millis(20),
            ..lumen::jobs::WorkerConfig::default()
        },
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + limit;
    let job = loop {
        let current = state.store.job(job).await.expect("read").expect("job");
        if current.state.finished() {
            break current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "unfinished: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    shutdown.cancel();
    let _ = workers.await;
    job
}

pub fn test_app(config: Config, db: &TestDb) -> (axum::Router, AppState) {
    let state = AppState::new(config, db.store()).expect("app state");
    (lumen::http::app(state.clone()), state)
}

/// A minimal HTTP exchange through the router, for tests.
pub mod client {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::ConnectInfo;
    use axum::http::{HeaderMap, Method, Request, StatusCode, header};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    pub struct Reply {
        pub status: StatusCode,
        pub headers: HeaderMap,
        pub body: Value,
        /// The body as sent.
        pub bytes: Vec<u8>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    /// One request: optional bearer token, active role and JSON body, from
    /// client address `peer`.
    pub struct Call<'a> {
        pub method: Method,
        pub uri: String,
        pub token: Option<&'a str>,
        pub role: Option<&'a str>,
        pub body: Option<Value>,
        pub peer: SocketAddr,
        pub headers: Vec<(&'a str, &'a str)>,
    }

    impl<'a> Call<'a> {
        pub fn new(method: Method, uri: impl Into<String>) -> Self {
            Self {
                method,
                uri: uri.into(),
                token: None,
                role: None,
                body: None,
                peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
                headers: Vec::new(),
            }
        }
        pub fn get(uri: impl Into<String>) -> Self {
            Self::new(Method::GET, uri)
        }
        pub fn post(uri: impl Into<String>, body: Value) -> Self {
            Self {
                body: Some(body),
                ..Self::new(Method::POST, uri)
            }
        }
        pub fn token(mut self, token: &'a str) -> Self {
            self.token = Some(token);
            self
        }
        pub fn role(mut self, role: &'a str) -> Self {
            self.role = Some(role);
            self
        }
        pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
            self.headers.push((name, value));
            self
        }
        pub fn peer(mut self, peer: SocketAddr) -> Self {
            self.peer = peer;
            self
        }

        pub async fn send(self, app: &Router) -> Reply {
            let mut req = Request::builder().method(self.method).uri(self.uri);
            if let Some(token) = self.token {
                req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            if let Some(role) = self.role {
                req = req.header("x-active-role", role);
            }
            for (name, value) in self.headers {
                req = req.header(name, value);
            }
            let body = match self.body {
                Some(v) => {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                    Body::from(v.to_string())
                }
                None => Body::empty(),
            };
            let mut req = req.body(body).expect("request");
            req.extensions_mut().insert(ConnectInfo(self.peer));
            let response = app.clone().oneshot(req).await.expect("infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
            };
            Reply {
                status,
                headers,
                body,
                bytes: bytes.to_vec(),
            }
        }
    }
}

/// Mints a valid access token for `user` in a new session, as login would.
pub async fn token_for(store: &Store, user: &lumen_core::model::User) -> String {
    let session = Uuid::new_v4();
    let now = chrono::Utc::now();
    store
        .create_session(session, user.id, now)
        .await
        .expect("session");
    let keys = lumen::auth::tokens::LocalKeys::new(TEST_JWT_SECRET.as_bytes(), "lumen", "lumen");
    keys.issue(user, session, now).expect("token").0
}
