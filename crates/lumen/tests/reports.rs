//! Reports over HTTP on both databases: a PDF of each report type (parsed:
//! pages and text), CSV columns as documented, the JSON envelope, owner-only
//! status and download, history, validation; and scheduled reports
//! delivered to a real SMTP server (aiosmtpd over STARTTLS, see
//! support/smtp.rs) and a webhook receiver started here, on 127.0.0.1, with
//! the retention removing old files.

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use lumen::collector::Collector;
use lumen::config::{
    Config, S3Config, Secret, SmtpConfig, UPSTREAM_SERVICES, UpstreamConfig, WebhookConfig,
};
use lumen::reports;
use lumen::simulate::{Scale, SimConfig, SimHandle};
use lumen::upstream::{Resilience, Upstreams};
use lumen::{AppState, http};
use lumen_core::Role;
use lumen_core::analytics::Analytic;
use lumen_core::model::User;
use serde_json::{Value, json};
use support::client::Call;
use support::on_both_databases;
use support::s3::S3Server;
use support::smtp::SmtpServers;
use support::{TestDb, test_config, token_for};
use tower::ServiceExt;
use uuid::Uuid;

on_both_databases!(
    reports_of_every_type_and_format_for_their_owner_only,
    scheduled_reports_are_delivered_and_expire,
    a_schedule_is_disabled_when_its_owner_loses_access,
    schedules_are_capped_per_user_and_may_not_run_too_often,
    report_storage_per_user_is_capped,
    report_and_job_failures_show_no_internal_detail,
    report_jobs_queue_behind_the_daily_batch,
    reports_in_s3_are_streamed_or_redirected,
    a_report_in_polish_greek_and_cyrillic_renders_every_glyph,
    a_requested_report_is_made_by_a_worker_and_downloaded,
);

fn reports_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("lumen-reports-{}", Uuid::new_v4().simple()))
}

/// A collected simulated organisation (the demo logins) and the app on it.
async fn collected(db: &TestDb, mut config: Config) -> (Router, AppState) {
    let sim = SimHandle::new(SimConfig {
        seed: 11,
        scale: Scale::Small,
        now: Utc::now(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = sim.clone();
    tokio::spawn(async move { server.serve(listener).await });
    for service in UPSTREAM_SERVICES {
        config.upstreams.insert(
            service,
            UpstreamConfig {
                base_url: format!("{base}/{service}"),
                token: Secret::new("t".into()),
            },
        );
    }
    let store = db.store();
    let upstreams = Arc::new(
        Upstreams::from_config(&config, Resilience::from_config(&config)).expect("clients"),
    );
    Collector::new(store.clone(), upstreams)
        .run()
        .await
        .expect("collect");
    let state = AppState::new(config, store).expect("state");
    (http::app(state.clone()), state)
}

async fn person(db: &TestDb, email: &str) -> User {
    db.store()
        .user_by_email(email)
        .await
        .expect("read")
        .expect(email)
}

/// Raw bytes and headers of a GET.
async fn fetch(app: &Router, uri: &str, token: &str) -> (StatusCode, HeaderMap, Bytes) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let mut req = req;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, body)
}

/// Asks for a report, generates it now and returns its id once its status
/// says done (the background run of the same report may still be writing the
/// same file: generation is idempotent).
async fn make(app: &Router, state: &AppState, token: &str, body: Value) -> Uuid {
    let reply = Call::post("/api/v1/reports/generate", body.clone())
        .token(token)
        .send(app)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{body}: {}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    let id: Uuid = reply.body["reportId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("reportId");
    reports::generate(state, id).await.expect("generate");
    reports::generate(state, id).await.expect("generate again");
    let mut last = Value::Null;
    for _ in 0..600 {
        let status = Call::get(format!("/api/v1/reports/{id}/status"))
            .token(token)
            .send(app)
            .await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        if status.body["status"] == "done" {
            return id;
        }
        last = status.body;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("report {id} never finished: {last}");
}

/// The text of each page of a PDF, as poppler's `pdftotext` reads it
/// (`.ci/run` installs poppler-utils). An independent reader: it maps glyphs
/// back to characters through the file's ToUnicode maps, so a character
/// drawn with a missing or wrong glyph does not come back.
fn pdf_pages_text(bytes: &[u8]) -> Vec<String> {
    let path = std::env::temp_dir().join(format!("lumen-report-{}.pdf", Uuid::new_v4().simple()));
    std::fs::write(&path, bytes).expect("write the PDF");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) installed");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 text");
    // Pages end with a form feed.
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// A CSV with quoted fields, as RFC 4180.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

async fn reports_of_every_type_and_format_for_their_owner_only(db: &TestDb) {
    let dir = reports_dir();
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.dir = dir.clone();
    let (app, state) = collected(db, config).await;
    let learner = person(db, "learner@demo.lumen.test").await;
    let trainer = person(db, "trainer@demo.lumen.test").await;
    let admin = person(db, "admin@demo.lumen.test").await;
    let store = db.store();
    let lt = token_for(&store, &learner).await;
    let tt = token_for(&store, &trainer).await;
    let at = token_for(&store, &admin).await;

    // A PDF of each type: a title page, then a page per analytic of the bundle.
    for (kind, role, token, title, owner) in [
        ("learner", Role::Learner, &lt, "Learner report", &learner),
        ("trainer", Role::Trainer, &tt, "Trainer report", &trainer),
        (
            "organization",
            Role::OrgAdmin,
            &at,
            "Organisation report",
            &admin,
        ),
    ] {
        let id = make(&app, &state, token, json!({"type": kind, "format": "pdf"})).await;
        let (status, headers, bytes) =
            fetch(&app, &format!("/api/v1/reports/{id}/download"), token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
        let disposition = headers[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii");
        assert!(
            disposition.starts_with(&format!("attachment; filename=\"lumen-{kind}-report-"))
                && disposition.ends_with(".pdf\""),
            "{disposition}"
        );
        let pages = pdf_pages_text(&bytes);
        let bundle: Vec<_> = Analytic::bundle(role).collect();
        assert_eq!(pages.len(), 1 + bundle.len(), "{kind}");
        assert!(pages[0].contains(title), "{kind}: {}", pages[0]);
        assert!(pages[0].contains(&owner.full_name), "{}", pages[0]);
        assert!(pages[0].contains("Data freshness") && pages[0].contains("Generated"));
        for (page, analytic) in pages[1..].iter().zip(bundle) {
            let heading = reports::render::humanise(analytic.name);
            assert!(page.contains(&heading), "{kind} page for {heading}: {page}");
            assert!(page.contains("page "), "footer: {page}");
        }
        // The font is embedded, not referenced.
        assert!(bytes.windows(10).any(|w| w == b"/FontFile2"));
    }

    // CSV: the documented columns, five per row, analytics of the bundle only.
    let id = make(
        &app,
        &state,
        &lt,
        json!({"type": "learner", "format": "csv", "timeRange": "90d"}),
    )
    .await;
    let (status, headers, bytes) =
        fetch(&app, &format!("/api/v1/reports/{id}/download"), &lt).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/csv"))
    );
    // UTF-8 with a byte-order mark, for spreadsheets.
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let rows = parse_csv(text);
    assert_eq!(rows[0], reports::render::CSV_COLUMNS.to_vec());
    assert!(rows.len() > 10);
    let names: Vec<&str> = Analytic::bundle(Role::Learner).map(|k| k.name).collect();
    for row in &rows[1..] {
        assert_eq!(row.len(), 5, "{row:?}");
        assert!(names.contains(&row[0].as_str()), "{row:?}");
    }
    assert!(rows.iter().any(|r| r[0] == "velocity" && r[1] == "summary"));

    // JSON: the analytics envelope; a subset of analytics when asked.
    let id = make(
        &app,
        &state,
        &tt,
        json!({"type": "trainer", "format": "json", "analytics": ["course-health", "course-performance"]}),
    )
    .await;
    let (_, headers, bytes) = fetch(&app, &format!("/api/v1/reports/{id}/download"), &tt).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    for key in [
        "data",
        "cached",
        "stale",
        "dataSource",
        "lastUpdated",
        "expiresAt",
    ] {
        assert!(body.get(key).is_some(), "{key}");
    }
    let mut got: Vec<&str> = body["data"]["analytics"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    got.extend(
        body["data"]["errors"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    got.sort_unstable();
    assert_eq!(got, vec!["course-health", "course-performance"]);
    let status = Call::get(format!("/api/v1/reports/{id}/status"))
        .token(&tt)
        .send(&app)
        .await;
    assert_eq!(
        status.body["analytics"],
        json!(["course-health", "course-performance"])
    );

    // Only the owner sees or downloads a report; another user's looks unknown.
    for uri in [
        format!("/api/v1/reports/{id}/status"),
        format!("/api/v1/reports/{id}/download"),
    ] {
        let (status, _, _) = fetch(&app, &uri, &lt).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let (status, _, _) = fetch(&app, &uri, &at).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    let (status, _, _) = fetch(
        &app,
        &format!("/api/v1/reports/{}/status", Uuid::new_v4()),
        &tt,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = fetch(&app, "/api/v1/reports/not-a-uuid/status", &tt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // History: the caller's own reports, newest first, paginated.
    let page = Call::get("/api/v1/reports/history?pageSize=1")
        .token(&lt)
        .send(&app)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["reports"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["reports"][0]["format"], "csv");
    let page2 = Call::get("/api/v1/reports/history?pageSize=1&page=2")
        .token(&lt)
        .send(&app)
        .await;
    assert_eq!(page2.body["reports"][0]["format"], "pdf");
    let bad = Call::get("/api/v1/reports/history?pageSize=500")
        .token(&lt)
        .send(&app)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Validation names each field; a role the caller lacks is refused.
    let reply = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "boss", "format": "docx", "timeRange": "2w"}),
    )
    .token(&lt)
    .send(&app)
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    for field in ["type", "format", "timeRange"] {
        assert!(
            reply.body["validation"].get(field).is_some(),
            "{}",
            reply.body
        );
    }
    let reply = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "learner", "format": "pdf", "analytics": ["org-performance"]}),
    )
    .token(&lt)
    .send(&app)
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["validation"].get("analytics").is_some());
    let reply = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "organization", "format": "pdf"}),
    )
    .token(&lt)
    .send(&app)
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let _ = std::fs::remove_dir_all(dir);
}

type Hooks = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook receiver answering `status`, keeping what it was sent.
async fn webhook_receiver(status: StatusCode) -> (String, Hooks) {
    let hooks: Hooks = Arc::default();
    let kept = hooks.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push((headers, body));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hooks)
}

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";

async fn scheduled_reports_are_delivered_and_expire(db: &TestDb) {
    let store = db.store();
    let admin = lumen::accounts::add_user(
        &store,
        "Sched Org",
        "boss@sched.test",
        "The Boss",
        &[Role::OrgAdmin],
        "password-123",
    )
    .await
    .expect("admin");
    let other = lumen::accounts::add_user(
        &store,
        "Sched Org",
        "peer@sched.test",
        "Peer",
        &[Role::OrgAdmin],
        "password-123",
    )
    .await
    .expect("peer");
    let smtp = SmtpServers::start();
    let (hook_url, hooks) = webhook_receiver(StatusCode::NO_CONTENT).await;
    let dir = reports_dir();
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.dir = dir.clone();
    config.reports.retention_days = 30;
    config.reports.smtp = smtp.as_ref().map(|servers| SmtpConfig {
        url: Secret::new(servers.starttls_url()),
        from: "reports@lumen.test".into(),
        ca_file: Some(servers.ca_file()),
    });
    config.reports.webhook = Some(WebhookConfig {
        url: hook_url,
        secret: Secret::new(WEBHOOK_SECRET.into()),
    });
    let state = AppState::new(config.clone(), store.clone()).expect("state");
    let app = http::app(state.clone());
    let token = token_for(&store, &admin).await;
    let other_token = token_for(&store, &other).await;

    // Create (a bad cron names the field), list, and nobody else may delete.
    let bad = Call::post(
        "/api/v1/reports/schedules",
        json!({"cron": "every monday", "type": "organization", "format": "csv"}),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["validation"].get("cron").is_some(), "{}", bad.body);
    let created = Call::post(
        "/api/v1/reports/schedules",
        json!({"name": "Weekly", "cron": "0 7 * * 1", "type": "organization", "format": "csv", "timeRange": "7d"}),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let schedule: Uuid = created.body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    let list = Call::get("/api/v1/reports/schedules")
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    assert_eq!(list.body[0]["cron"], "0 7 * * 1");
    let others = Call::get("/api/v1/reports/schedules")
        .token(&other_token)
        .send(&app)
        .await;
    assert_eq!(others.body, json!([]));
    let refused = Call::new(
        Method::DELETE,
        format!("/api/v1/reports/schedules/{schedule}"),
    )
    .token(&other_token)
    .send(&app)
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    // A run of the schedule (as its job does): generated, mailed, announced.
    let reports::ScheduleRun::Made(report) =
        reports::run_schedule(&state, schedule).await.expect("run")
    else {
        panic!("the schedule was disabled");
    };
    let status = Call::get(format!("/api/v1/reports/{report}/status"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(status.body["status"], "done", "{}", status.body);
    assert_eq!(status.body["scheduleId"], json!(schedule));
    if let Some(servers) = &smtp {
        let mails = servers.received("starttls");
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail["rcptTo"], json!(["boss@sched.test"]));
        assert_eq!(mail["toName"], "The Boss");
        assert_eq!(mail["subject"], "Lumen organization report for The Boss");
        let attachment = &mail["attachments"][0];
        assert!(
            attachment["filename"]
                .as_str()
                .is_some_and(|f| f.starts_with("lumen-organization-report-")),
            "{attachment}"
        );
        assert_eq!(attachment["contentType"], "text/csv");
    }
    {
        let hooks = hooks.lock().expect("lock");
        assert_eq!(hooks.len(), 1);
        let (headers, body) = &hooks[0];
        let timestamp: i64 = headers["x-lumen-timestamp"]
            .to_str()
            .ok()
            .and_then(|t| t.parse().ok())
            .expect("timestamp");
        assert_eq!(
            headers["x-lumen-signature"].to_str().ok(),
            Some(reports::delivery::signature(WEBHOOK_SECRET, timestamp, body).as_str())
        );
        assert_ne!(
            reports::delivery::signature("another-secret-0123456789", timestamp, body),
            reports::delivery::signature(WEBHOOK_SECRET, timestamp, body)
        );
        let event: Value = serde_json::from_slice(body).expect("json");
        assert_eq!(event["event"], "report.ready");
        assert_eq!(event["reportId"], json!(report));
        assert_eq!(
            event["downloadUrl"],
            format!("/api/v1/reports/{report}/download")
        );
    }

    // A failing receiver fails the delivery (the job retries it).
    let (failing_url, _) = webhook_receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let mut failing = config.clone();
    failing.reports.smtp = None;
    failing.reports.webhook = Some(WebhookConfig {
        url: failing_url,
        secret: Secret::new(WEBHOOK_SECRET.into()),
    });
    let failing_state = AppState::new(failing, store.clone()).expect("state");
    assert!(
        reports::delivery::deliver(&failing_state, report, Some("webhook"))
            .await
            .is_err()
    );

    // Retention: nothing is old yet; 31 days on, the file goes and the report expires.
    assert_eq!(
        reports::cleanup(&state, Utc::now()).await.expect("cleanup"),
        0
    );
    assert_eq!(
        reports::cleanup(&state, Utc::now() + Duration::days(31))
            .await
            .expect("cleanup"),
        1
    );
    let status = Call::get(format!("/api/v1/reports/{report}/status"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(status.body["status"], "expired");
    let (code, _, _) = fetch(&app, &format!("/api/v1/reports/{report}/download"), &token).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let files: Vec<_> = walk(&dir);
    assert!(files.is_empty(), "{files:?}");

    let deleted = Call::new(
        Method::DELETE,
        format!("/api/v1/reports/schedules/{schedule}"),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let list = Call::get("/api/v1/reports/schedules")
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(list.body, json!([]));
    let _ = std::fs::remove_dir_all(dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

const BUCKET: &str = "lumen-test";

fn s3_config(endpoint: &str, presign: Option<std::time::Duration>) -> S3Config {
    S3Config {
        endpoint: Some(endpoint.to_owned()),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key_id: Some("test-key".into()),
        secret_access_key: Some(Secret::new("test-secret".into())),
        virtual_hosted: false,
        presign_downloads: presign,
    }
}

async fn read_all(mut stream: lumen::objects::ByteStream) -> (Vec<u8>, usize) {
    use futures::StreamExt;
    let (mut got, mut chunks) = (Vec::new(), 0);
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.expect("chunk"));
        chunks += 1;
    }
    (got, chunks)
}

/// Object storage on a real S3-compatible server (moto, started here):
/// put with a content type, a streamed get (a large object arrives in
/// many chunks), a presigned URL any HTTP client can fetch, idempotent
/// delete.
#[tokio::test]
async fn s3_objects_round_trip_stream_and_presign() {
    let Some(server) = S3Server::start(BUCKET).await else {
        return;
    };
    let store = lumen::objects::Objects::s3(&s3_config(
        &server.endpoint,
        Some(std::time::Duration::from_secs(300)),
    ))
    .expect("client");
    let key = format!("reports/{}/r.csv", Uuid::new_v4());
    store
        .put(&key, b"a,b\r\n1,2\r\n".to_vec(), "text/csv")
        .await
        .expect("put");
    let (got, _) = read_all(store.get(&key).await.expect("get").expect("exists")).await;
    assert_eq!(got, b"a,b\r\n1,2\r\n");

    let url = store
        .presigned_download(&key)
        .await
        .expect("presign")
        .expect("a URL");
    assert!(
        url.query().is_some_and(|q| q.contains("X-Amz-Signature=")),
        "{url}"
    );
    let resp = reqwest::get(url.clone()).await.expect("presigned GET");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv");
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        b"a,b\r\n1,2\r\n"
    );
    // The signature covers the key: another key with the same query fails.
    let mut forged = url.clone();
    forged.set_path(&format!("/{BUCKET}/reports/other.csv"));
    let resp = reqwest::get(forged).await.expect("forged GET");
    assert_ne!(resp.status(), reqwest::StatusCode::OK);

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let big_key = format!("reports/{}/big.pdf", Uuid::new_v4());
    store
        .put(&big_key, big.clone(), "application/pdf")
        .await
        .expect("put big");
    let (got, chunks) = read_all(store.get(&big_key).await.expect("get").expect("exists")).await;
    assert_eq!(got.len(), big.len());
    assert!(got == big);
    assert!(chunks > 1, "streamed, not read whole: {chunks} chunk(s)");

    for k in [&key, &big_key] {
        store.delete(k).await.expect("delete");
        store.delete(k).await.expect("delete again");
        assert!(store.get(k).await.expect("get").is_none());
    }
}

/// Reports stored in S3 (moto): generated, downloaded through the API
/// (streamed), and, with presigned downloads on, a 307 to a presigned URL
/// that serves the same file; the retention deletes the object.
async fn reports_in_s3_are_streamed_or_redirected(db: &TestDb) {
    let Some(server) = S3Server::start(BUCKET).await else {
        return;
    };
    let store = db.store();
    let admin = lumen::accounts::add_user(
        &store,
        "S3 Org",
        "boss@s3.test",
        "Zoë Boss",
        &[Role::OrgAdmin],
        "password-123",
    )
    .await
    .expect("admin");
    let token = token_for(&store, &admin).await;
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.s3 = Some(s3_config(&server.endpoint, None));
    let state = AppState::new(config.clone(), store.clone()).expect("state");
    let app = http::app(state.clone());
    let id = make(
        &app,
        &state,
        &token,
        json!({"type": "organization", "format": "pdf"}),
    )
    .await;
    let (status, headers, bytes) =
        fetch(&app, &format!("/api/v1/reports/{id}/download"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    let row = store.report(id).await.expect("read").expect("row");
    assert_eq!(row.size_bytes, Some(bytes.len() as i64));

    config.reports.s3 = Some(s3_config(
        &server.endpoint,
        Some(std::time::Duration::from_secs(120)),
    ));
    let presigning = AppState::new(config, store.clone()).expect("state");
    let app = http::app(presigning.clone());
    let (status, headers, _) = fetch(&app, &format!("/api/v1/reports/{id}/download"), &token).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let location = headers[header::LOCATION].to_str().expect("ascii");
    assert!(location.starts_with(&server.endpoint), "{location}");
    let direct = reqwest::get(location).await.expect("presigned GET");
    assert_eq!(direct.status(), reqwest::StatusCode::OK);
    assert_eq!(direct.bytes().await.expect("body"), bytes);
    // Only the owner is redirected; anyone else still gets 404.
    let other = lumen::accounts::add_user(
        &store,
        "S3 Org",
        "peer@s3.test",
        "Peer",
        &[Role::OrgAdmin],
        "password-123",
    )
    .await
    .expect("peer");
    let other_token = token_for(&store, &other).await;
    let (status, headers, _) = fetch(
        &app,
        &format!("/api/v1/reports/{id}/download"),
        &other_token,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.get(header::LOCATION).is_none());

    assert_eq!(
        reports::cleanup(&state, Utc::now() + Duration::days(31))
            .await
            .expect("cleanup"),
        1
    );
    let key = row.object_key.expect("key");
    assert!(state.objects.get(&key).await.expect("get").is_none());
}

/// A learner named "Łukasz Dvořák-Şahin", courses titled in Greek, an
/// organisation named in Cyrillic: the PDF shows every character (the text
/// extracted from the file has them all, nothing replaced, no note about
/// missing glyphs), with subsetted fonts, well under 150 KB.
async fn a_report_in_polish_greek_and_cyrillic_renders_every_glyph(db: &TestDb) {
    let dir = reports_dir();
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.dir = dir.clone();
    let (app, state) = collected(db, config).await;
    let store = db.store();
    let mut learner = person(db, "learner@demo.lumen.test").await;
    learner.full_name = "Łukasz Dvořák-Şahin".into();
    store.upsert_user(&learner).await.expect("rename");
    let mut org = store
        .organization(learner.organization_id)
        .await
        .expect("read")
        .expect("org");
    org.name = "Академия Лумен".into();
    store.upsert_organization(&org).await.expect("org");
    let greek = ["Εισαγωγή στην Ανάλυση Δεδομένων", "Στατιστική για Όλους"];
    let enrolments = store
        .enrolments_of_user(learner.id)
        .await
        .expect("enrolments");
    assert!(!enrolments.is_empty());
    for (i, e) in enrolments.iter().enumerate() {
        let mut course = store
            .course(e.course_id)
            .await
            .expect("read")
            .expect("course");
        course.title = format!("{} {}", greek[i % 2], i + 1);
        store.upsert_course(&course).await.expect("course");
    }
    let token = token_for(&store, &learner).await;
    let id = make(
        &app,
        &state,
        &token,
        json!({"type": "learner", "format": "pdf"}),
    )
    .await;
    let (status, _, bytes) = fetch(&app, &format!("/api/v1/reports/{id}/download"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let text = pdf_pages_text(&bytes).join("\n");
    let mut expected = vec!["Łukasz Dvořák-Şahin", "Академия Лумен", greek[0]];
    if enrolments.len() > 1 {
        expected.push(greek[1]);
    }
    for expected in expected {
        assert!(
            text.contains(expected),
            "{expected:?} not in the text:\n{text}"
        );
    }
    assert!(!text.contains('\u{FFFD}'), "{text}");
    assert!(!text.contains("no font available"), "{text}");
    // Subsetted: a learner report with charts is well under 150 KB (the
    // whole DejaVu Sans alone is 740 KB).
    assert!(bytes.len() < 150_000, "{} bytes", bytes.len());
    let _ = std::fs::remove_dir_all(dir);
}

/// Each run re-decides access: an owner demoted, moved to another
/// organisation or deleted loses the schedule, and its runs stop.
async fn a_schedule_is_disabled_when_its_owner_loses_access(db: &TestDb) {
    let store = db.store();
    let state = AppState::new(
        Config {
            rate_limits_enabled: false,
            ..test_config(db)
        },
        store.clone(),
    )
    .expect("state");
    let app = http::app(state.clone());
    let elsewhere = lumen::accounts::add_user(
        &store,
        "Other Org",
        "else@other.test",
        "Elsewhere",
        &[Role::OrgAdmin],
        "password-123",
    )
    .await
    .expect("user");
    let mut schedules = Vec::new();
    for who in ["demoted", "moved", "deleted"] {
        let admin = lumen::accounts::add_user(
            &store,
            "Sched Org",
            &format!("{who}@sched.test"),
            who,
            &[Role::OrgAdmin, Role::Learner],
            "password-123",
        )
        .await
        .expect("admin");
        let token = token_for(&store, &admin).await;
        let created = Call::post(
            "/api/v1/reports/schedules",
            json!({"cron": "0 7 * * 1", "type": "organization", "format": "csv"}),
        )
        .token(&token)
        .send(&app)
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id: Uuid = created.body["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        schedules.push((admin, id));
    }
    let mut demoted = schedules[0].0.clone();
    demoted.roles = vec![Role::Learner];
    store.upsert_user(&demoted).await.expect("demote");
    let mut moved = schedules[1].0.clone();
    moved.organization_id = elsewhere.organization_id;
    store.upsert_user(&moved).await.expect("move");
    // A deleted owner takes the schedule's row along (cascade).
    store
        .delete_report_schedule(schedules[2].1)
        .await
        .expect("delete");

    for (_, id) in &schedules {
        assert_eq!(
            reports::run_schedule(&state, *id).await.expect("run"),
            reports::ScheduleRun::Disabled
        );
        assert!(store.report_schedule(*id).await.expect("read").is_none());
    }
    let left: Vec<String> = store
        .schedules()
        .await
        .expect("schedules")
        .into_iter()
        .map(|s| s.name)
        .collect();
    for (_, id) in &schedules {
        assert!(!left.contains(&reports::job_schedule_name(*id)), "{left:?}");
    }
}

/// A lone user and the app, with `config` changed by `tune`.
async fn lone_user(
    db: &TestDb,
    email: &str,
    roles: &[Role],
    tune: impl FnOnce(&mut Config),
) -> (Router, AppState, User, String) {
    let store = db.store();
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.dir = reports_dir();
    tune(&mut config);
    let state = AppState::new(config, store.clone()).expect("state");
    let app = http::app(state.clone());
    let user =
        lumen::accounts::add_user(&store, "Quota Org", email, "Quota", roles, "password-123")
            .await
            .expect("user");
    let token = token_for(&store, &user).await;
    (app, state, user, token)
}

async fn add_schedule(app: &Router, token: &str, cron: &str) -> support::client::Reply {
    Call::post(
        "/api/v1/reports/schedules",
        json!({"cron": cron, "type": "learner", "format": "csv"}),
    )
    .token(token)
    .send(app)
    .await
}

/// A learner cannot flood the queue: schedules that fire more often than
/// the minimum interval are refused, and so is one beyond the cap.
async fn schedules_are_capped_per_user_and_may_not_run_too_often(db: &TestDb) {
    let (app, _, _, token) = lone_user(db, "many@quota.test", &[Role::Learner], |c| {
        c.reports.schedules_per_user = 3;
    })
    .await;
    for cron in ["* * * * *", "*/30 * * * *", "0,59 * * * *", "0 7,8 * * *"] {
        if cron == "0 7,8 * * *" {
            // Exactly an hour apart: allowed.
            assert_eq!(
                add_schedule(&app, &token, cron).await.status,
                StatusCode::CREATED
            );
            continue;
        }
        let reply = add_schedule(&app, &token, cron).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{cron}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"], "VALIDATION_ERROR");
        assert!(
            reply.body["validation"]["cron"]
                .as_str()
                .is_some_and(|m| m.contains("60 minutes")),
            "{cron}: {}",
            reply.body
        );
    }
    assert_eq!(
        add_schedule(&app, &token, "0 * * * *").await.status,
        StatusCode::CREATED
    );
    let third = add_schedule(&app, &token, "0 3 * * *").await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    let fourth = add_schedule(&app, &token, "0 4 * * *").await;
    assert_eq!(fourth.status, StatusCode::CONFLICT, "{}", fourth.body);
    assert_eq!(fourth.body["error"], "CONFLICT");
    assert!(
        fourth.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 3")),
        "{}",
        fourth.body
    );
    // Deleting one makes room.
    let id = third.body["id"].as_str().expect("id");
    let deleted = Call::new(Method::DELETE, format!("/api/v1/reports/schedules/{id}"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        add_schedule(&app, &token, "0 4 * * *").await.status,
        StatusCode::CREATED
    );
}

/// A stored report of `size` bytes for `owner`.
async fn stored_report(state: &AppState, owner: Uuid, size: i64) -> Uuid {
    let id = Uuid::new_v4();
    state
        .store
        .save_report(&lumen::store::ReportRow {
            id,
            owner_id: owner,
            report_type: "learner".into(),
            format: "csv".into(),
            time_range: "30d".into(),
            analytics: "[]".into(),
            status: "done".into(),
            error: None,
            job_id: None,
            schedule_id: None,
            object_key: Some(format!("reports/{owner}/{id}.csv")),
            file_name: Some("r.csv".into()),
            content_type: Some("text/csv".into()),
            size_bytes: Some(size),
            created_at: Utc::now(),
            finished_at: Some(Utc::now()),
        })
        .await
        .expect("report");
    id
}

/// Past the storage cap new reports are refused (by hand: 409; scheduled:
/// a failed report saying why); other users are not affected.
async fn report_storage_per_user_is_capped(db: &TestDb) {
    let (app, state, user, token) = lone_user(db, "full@quota.test", &[Role::Learner], |c| {
        c.reports.storage_per_user_bytes = 4096;
    })
    .await;
    let ask = json!({"type": "learner", "format": "csv"});
    stored_report(&state, user.id, 3000).await;
    let under = Call::post("/api/v1/reports/generate", ask.clone())
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(under.status, StatusCode::ACCEPTED, "{}", under.body);
    stored_report(&state, user.id, 2000).await;
    let over = Call::post("/api/v1/reports/generate", ask.clone())
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert!(
        over.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("storage is full")),
        "{}",
        over.body
    );
    // Another user still can.
    let other = lumen::accounts::add_user(
        &state.store,
        "Quota Org",
        "empty@quota.test",
        "Empty",
        &[Role::Learner],
        "password-123",
    )
    .await
    .expect("user");
    let other_token = token_for(&state.store, &other).await;
    let fine = Call::post("/api/v1/reports/generate", ask)
        .token(&other_token)
        .send(&app)
        .await;
    assert_eq!(fine.status, StatusCode::ACCEPTED, "{}", fine.body);
    // A scheduled run is recorded as failed, with the reason.
    let created = add_schedule(&app, &token, "0 7 * * 1").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let schedule: Uuid = created.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let reports::ScheduleRun::Made(report) =
        reports::run_schedule(&state, schedule).await.expect("run")
    else {
        panic!("the schedule was disabled");
    };
    let status = Call::get(format!("/api/v1/reports/{report}/status"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(status.body["status"], "failed", "{}", status.body);
    assert_eq!(status.body["errorCode"], "STORAGE_FULL", "{}", status.body);
}

/// A failure's detail (paths, I/O and database messages) stays in the log:
/// report status and job status show a stable code and the id.
async fn report_and_job_failures_show_no_internal_detail(db: &TestDb) {
    // Report storage under a regular file: every write fails with a path.
    let blocker = std::env::temp_dir().join(format!("lumen-blocker-{}", Uuid::new_v4().simple()));
    std::fs::write(&blocker, b"not a directory").expect("file");
    let secret_dir = blocker.join("internal-reports");
    let dir = secret_dir.clone();
    let (app, state, _, token) = lone_user(db, "fail@quota.test", &[Role::Learner], move |c| {
        c.reports.dir = dir;
    })
    .await;
    let asked = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "learner", "format": "csv"}),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let id: Uuid = asked.body["reportId"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    assert!(
        reports::generate(&state, id).await.is_err(),
        "storage must fail"
    );
    let status = Call::get(format!("/api/v1/reports/{id}/status"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(status.body["status"], "failed", "{}", status.body);
    assert_eq!(status.body["errorCode"], "GENERATION_FAILED");
    let message = status.body["error"].as_str().expect("error");
    assert!(message.contains(&id.to_string()), "{message}");
    let shown = status.body.to_string();
    assert!(
        !shown.contains("lumen-blocker") && !shown.contains("internal-reports"),
        "{shown}"
    );

    // The report's job fails with an internal message: not shown either.
    let job: Uuid = asked.body["jobId"]
        .as_str()
        .expect("job")
        .parse()
        .expect("uuid");
    let now = Utc::now();
    let claimed = state
        .store
        .claim_jobs("test-worker", 10, now + Duration::minutes(1), now)
        .await
        .expect("claim");
    assert!(claimed.iter().any(|j| j.id == job));
    let internal = "error returned from database: relation \"reports\" at /var/lib/lumen/secret";
    state
        .store
        .fail_job(job, "test-worker", internal, None, now)
        .await
        .expect("fail");
    let reply = Call::get(format!("/api/v1/jobs/{job}"))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["errorCode"], "JOB_FAILED", "{}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .is_some_and(|e| e.contains(&job.to_string()))
    );
    assert!(
        !reply.body.to_string().contains("/var/lib"),
        "{}",
        reply.body
    );
    std::fs::remove_file(&blocker).ok();
}

/// Reports, asked for by hand or by a schedule, run after the daily batch.
async fn report_jobs_queue_behind_the_daily_batch(db: &TestDb) {
    use lumen::queue::{BatchPayload, JobKind};
    let (app, state, _, token) = lone_user(db, "queue@quota.test", &[Role::Learner], |_| {}).await;
    let asked = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "learner", "format": "json"}),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let report_job: Uuid = asked.body["jobId"]
        .as_str()
        .expect("job")
        .parse()
        .expect("uuid");
    // The batch is queued after the report…
    let batch = state
        .store
        .enqueue_job(
            &JobKind::Batch(BatchPayload::default()).into_job(),
            Utc::now(),
        )
        .await
        .expect("batch")
        .id();
    // …and still claimed first.
    let now = Utc::now() + Duration::seconds(1);
    let first = state
        .store
        .claim_jobs("test-worker", 1, now + Duration::minutes(1), now)
        .await
        .expect("claim");
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), vec![batch]);
    let report = state
        .store
        .job(report_job)
        .await
        .expect("read")
        .expect("job");
    assert!(report.priority < first[0].priority);
    // A schedule's fired run queues at the report priority too.
    let created = add_schedule(&app, &token, "0 * * * *").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let fired = lumen::jobs::fire_due(&state, Utc::now() + Duration::hours(2))
        .await
        .expect("fire");
    let mut reports_fired = 0;
    for id in fired {
        let job = state.store.job(id).await.expect("read").expect("job");
        if job.kind == "report" {
            assert_eq!(job.priority, lumen::queue::PRIORITY_REPORT);
            reports_fired += 1;
        }
    }
    assert_eq!(reports_fired, 1);
}

/// The whole flow as a client meets it, with nothing called directly: 202
/// and a queued report, a job the running workers pick up, the status
/// moving to `done`, and the file downloaded.
async fn a_requested_report_is_made_by_a_worker_and_downloaded(db: &TestDb) {
    let dir = reports_dir();
    let mut config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    config.reports.dir = dir.clone();
    let (app, state) = collected(db, config).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let workers = lumen::jobs::start(&state, &shutdown)
        .await
        .expect("workers");
    let learner = person(db, "learner@demo.lumen.test").await;
    let token = token_for(&db.store(), &learner).await;

    let reply = Call::post(
        "/api/v1/reports/generate",
        json!({"type": "learner", "format": "csv"}),
    )
    .token(&token)
    .send(&app)
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    let id = reply.body["reportId"]
        .as_str()
        .expect("reportId")
        .to_owned();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let status = Call::get(format!("/api/v1/reports/{id}/status"))
            .token(&token)
            .send(&app)
            .await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        match status.body["status"].as_str() {
            Some("done") => break,
            Some("queued" | "running") => {}
            other => panic!("report {id} ended {other:?}: {}", status.body),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no worker made the report: {}",
            status.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, headers, bytes) =
        fetch(&app, &format!("/api/v1/reports/{id}/download"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/csv")),
        "{headers:?}"
    );
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    assert!(
        text.starts_with('\u{feff}'),
        "a CSV starts with a byte-order mark"
    );
    assert!(parse_csv(text.trim_start_matches('\u{feff}')).len() > 10);

    shutdown.cancel();
    for worker in workers {
        worker.await.expect("worker stops");
    }
    std::fs::remove_dir_all(dir).ok();
}
