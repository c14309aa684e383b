//! Login, refresh, logout and every token attack, through the real router.
//! The account flows run on SQLite and PostgreSQL; token checks are
//! database-independent and run on SQLite.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lumen::auth::Auth;
use lumen::config::{Config, PlatformAuth};
use lumen::store::NewRefreshToken;
use lumen::{AppState, accounts, http};
use lumen_core::Role;
use lumen_core::model::{Origin, sources};
use serde_json::{Value, json};
use support::client::{Call, Reply};
use support::on_both_databases;
use support::{TEST_JWT_SECRET, TestDb, test_config};

const PASSWORD: &str = "correct horse battery";

async fn setup(db: &TestDb) -> Router {
    let config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    let store = db.store();
    accounts::add_user(
        &store,
        "Acme",
        "ada@acme.test",
        "Ada Lovelace",
        &[Role::Learner, Role::Trainer],
        PASSWORD,
    )
    .await
    .expect("seed user");
    http::app(AppState::new(config, store).expect("state"))
}

async fn login(app: &Router, email: &str, password: &str) -> Reply {
    Call::post(
        "/api/v1/auth/login",
        json!({ "email": email, "password": password }),
    )
    .send(app)
    .await
}

async fn refresh(app: &Router, token: &str) -> Reply {
    Call::post("/api/v1/auth/refresh", json!({ "refreshToken": token }))
        .send(app)
        .await
}

async fn me(app: &Router, token: &str) -> Reply {
    Call::get("/api/v1/auth/me").token(token).send(app).await
}

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_owned()
}

on_both_databases!(
    login_returns_the_user_an_access_token_and_a_refresh_token,
    unknown_email_and_wrong_password_get_the_same_answer,
    login_validation_names_each_bad_field,
    refresh_rotates_and_each_refresh_token_works_once,
    reusing_a_spent_refresh_token_revokes_the_whole_session,
    logout_revokes_the_access_and_refresh_tokens,
    an_expired_refresh_token_is_refused,
    a_legacy_bcrypt_password_logs_in_and_is_rehashed_to_argon2id,
    the_active_role_header_must_be_one_of_the_callers_roles,
    a_session_past_its_absolute_lifetime_cannot_be_refreshed,
    an_idle_session_cannot_be_refreshed,
);

async fn login_returns_the_user_an_access_token_and_a_refresh_token(db: &TestDb) {
    let app = setup(db).await;
    let reply = login(&app, "ADA@acme.test", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["user"]["email"], "ada@acme.test");
    assert_eq!(body["user"]["fullName"], "Ada Lovelace");
    assert_eq!(body["user"]["roles"], json!(["learner", "trainer"]));
    assert!(body["user"]["organizationId"].is_string());
    assert!(body["user"]["lastLoginAt"].is_string());
    assert!(body["user"].get("avatarUrl").is_some());
    assert_eq!(body["expiresIn"], 3600);
    assert_eq!(s(&body["refreshToken"]).len(), 43);
    let me = me(&app, &s(&body["token"])).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["id"], body["user"]["id"]);
    assert_eq!(me.body["user"]["lastLoginAt"], body["user"]["lastLoginAt"]);
}

async fn unknown_email_and_wrong_password_get_the_same_answer(db: &TestDb) {
    let app = setup(db).await;
    let wrong = login(&app, "ada@acme.test", "not the password").await;
    let unknown = login(&app, "nobody@acme.test", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"], "INVALID_CREDENTIALS");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
}

async fn login_validation_names_each_bad_field(db: &TestDb) {
    let app = setup(db).await;
    let reply = Call::post("/api/v1/auth/login", json!({})).send(&app).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "VALIDATION_ERROR");
    assert!(reply.body["validation"]["email"].is_string());
    assert!(reply.body["validation"]["password"].is_string());
    let reply = login(&app, "not-an-email", PASSWORD).await;
    assert_eq!(reply.body["validation"]["email"], "email format is invalid");
    let reply = login(&app, "ada@acme.test", &"x".repeat(1025)).await;
    assert!(reply.body["validation"]["password"].is_string());
    let reply = Call::post("/api/v1/auth/refresh", json!({}))
        .send(&app)
        .await;
    assert_eq!(
        reply.body["validation"]["refreshToken"],
        "refresh token is required"
    );
}

async fn refresh_rotates_and_each_refresh_token_works_once(db: &TestDb) {
    let app = setup(db).await;
    let first = login(&app, "ada@acme.test", PASSWORD).await.body;
    let r1 = s(&first["refreshToken"]);
    let second = refresh(&app, &r1).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let r2 = s(&second.body["refreshToken"]);
    assert_ne!(r1, r2);
    assert_eq!(second.body["expiresIn"], 3600);
    assert_eq!(
        me(&app, &s(&second.body["token"])).await.status,
        StatusCode::OK
    );
    let third = refresh(&app, &r2).await;
    assert_eq!(third.status, StatusCode::OK);
    // Garbage and well-formed unknown tokens are refused alike.
    for bogus in ["short", &"A".repeat(43)] {
        let reply = refresh(&app, bogus).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"], "INVALID_REFRESH_TOKEN");
    }
}

async fn reusing_a_spent_refresh_token_revokes_the_whole_session(db: &TestDb) {
    let app = setup(db).await;
    let first = login(&app, "ada@acme.test", PASSWORD).await.body;
    let r1 = s(&first["refreshToken"]);
    let second = refresh(&app, &r1).await.body;
    let r2 = s(&second["refreshToken"]);
    // An attacker replays the stolen, already-used r1.
    let replay = refresh(&app, &r1).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body["error"], "REFRESH_TOKEN_REUSED");
    // The whole family is dead: the newest refresh token and the access tokens.
    let newest = refresh(&app, &r2).await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED);
    assert_eq!(newest.body["error"], "INVALID_REFRESH_TOKEN");
    assert_eq!(
        me(&app, &s(&second["token"])).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &s(&first["token"])).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Another login is unaffected.
    let other = login(&app, "ada@acme.test", PASSWORD).await.body;
    assert_eq!(me(&app, &s(&other["token"])).await.status, StatusCode::OK);
}

async fn logout_revokes_the_access_and_refresh_tokens(db: &TestDb) {
    let app = setup(db).await;
    let session = login(&app, "ada@acme.test", PASSWORD).await.body;
    let token = s(&session["token"]);
    let out = Call::post("/api/v1/auth/logout", json!({}))
        .token(&token)
        .send(&app)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, &s(&session["refreshToken"])).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn an_expired_refresh_token_is_refused(db: &TestDb) {
    let app = setup(db).await;
    let store = db.store();
    let user = store
        .user_by_email("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    let session = uuid::Uuid::new_v4();
    let past = Utc::now() - chrono::Duration::days(8);
    store
        .create_session(session, user.id, past)
        .await
        .expect("session");
    let token = "E".repeat(43);
    store
        .add_refresh_token(&NewRefreshToken {
            token_hash: lumen::auth::hash_refresh_token(&token),
            session_id: session,
            issued_at: past,
            expires_at: past + chrono::Duration::days(7),
        })
        .await
        .expect("token");
    let reply = refresh(&app, &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"], "INVALID_REFRESH_TOKEN");
}

/// A session begun `age` ago whose refresh token was issued `idle` ago
/// (and expires in a day): its refresh token.
async fn aged_session(db: &TestDb, age: chrono::Duration, idle: chrono::Duration) -> String {
    let store = db.store();
    let user = store
        .user_by_email("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    let session = uuid::Uuid::new_v4();
    let now = Utc::now();
    store
        .create_session(session, user.id, now - age)
        .await
        .expect("session");
    let token = "A".repeat(43);
    store
        .add_refresh_token(&NewRefreshToken {
            token_hash: lumen::auth::hash_refresh_token(&token),
            session_id: session,
            issued_at: now - idle,
            expires_at: now + chrono::Duration::days(1),
        })
        .await
        .expect("token");
    token
}

async fn a_session_past_its_absolute_lifetime_cannot_be_refreshed(db: &TestDb) {
    let app = setup(db).await;
    // Refreshed an hour ago, so never idle, but begun 31 days ago (default: 30).
    let token = aged_session(db, chrono::Duration::days(31), chrono::Duration::hours(1)).await;
    let reply = refresh(&app, &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], "INVALID_REFRESH_TOKEN");

    // A fresh login's refresh token does not outlive the session either.
    let session = login(&app, "ada@acme.test", PASSWORD).await.body;
    let renewed = refresh(&app, &s(&session["refreshToken"])).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
}

async fn an_idle_session_cannot_be_refreshed(db: &TestDb) {
    let config = Config {
        rate_limits_enabled: false,
        session_idle_timeout: Duration::from_secs(3600),
        ..test_config(db)
    };
    let app = {
        let _ = setup(db).await; // seeds the user
        http::app(AppState::new(config, db.store()).expect("state"))
    };
    // Begun a day ago, last refreshed two hours ago: idle past the hour.
    let token = aged_session(db, chrono::Duration::days(1), chrono::Duration::hours(2)).await;
    let reply = refresh(&app, &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], "INVALID_REFRESH_TOKEN");
    // The login's refresh token lasts only the idle timeout.
    let session = login(&app, "ada@acme.test", PASSWORD).await.body;
    let renewed = refresh(&app, &s(&session["refreshToken"])).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
}

async fn a_legacy_bcrypt_password_logs_in_and_is_rehashed_to_argon2id(db: &TestDb) {
    let app = setup(db).await;
    let store = db.store();
    let user = store
        .user_by_email("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    let legacy = bcrypt::hash("legacy password", 4).expect("bcrypt");
    store
        .set_password_hash(user.id, &legacy)
        .await
        .expect("set");
    assert_eq!(
        login(&app, "ada@acme.test", "legacy password").await.status,
        StatusCode::OK
    );
    let (_, stored) = store
        .credentials("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    let stored = stored.expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        login(&app, "ada@acme.test", "legacy password").await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&app, "ada@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_active_role_header_must_be_one_of_the_callers_roles(db: &TestDb) {
    let app = setup(db).await;
    let token = s(&login(&app, "ada@acme.test", PASSWORD).await.body["token"]);
    let as_trainer = Call::get("/api/v1/auth/me")
        .token(&token)
        .role("trainer")
        .send(&app)
        .await;
    assert_eq!(as_trainer.status, StatusCode::OK);
    for role in ["org-admin", "superuser", ""] {
        let reply = Call::get("/api/v1/auth/me")
            .token(&token)
            .role(role)
            .send(&app)
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role:?}");
        assert_eq!(reply.body["error"], "FORBIDDEN");
    }
}

// ---- token attacks (database-independent) ----

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn attack_setup() -> (Router, TestDb, Value) {
    let db = TestDb::sqlite().await;
    let app = setup(&db).await;
    let user = db
        .store()
        .user_by_email("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    let session = uuid::Uuid::new_v4();
    db.store()
        .create_session(session, user.id, Utc::now())
        .await
        .expect("session");
    let now = Utc::now().timestamp();
    let claims = json!({
        "sub": user.id, "email": user.email, "roles": ["learner"], "organizationId": user.organization_id,
        "iat": now, "exp": now + 3600, "iss": "lumen", "aud": "lumen", "sid": session,
    });
    (app, db, claims)
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

async fn assert_rejected(app: &Router, token: &str, what: &str) {
    let reply = me(app, token).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.body
    );
    assert_eq!(reply.body["error"], "UNAUTHORIZED", "{what}");
}

#[tokio::test]
async fn a_correctly_signed_token_is_accepted() {
    let (app, _db, claims) = attack_setup().await;
    let reply = me(&app, &hs256(&claims, TEST_JWT_SECRET.as_bytes())).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the baseline of the attacks below must pass"
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let (app, _db, claims) = attack_setup().await;
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    assert_rejected(&app, &token, "alg none").await;
    let token = format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&claims));
    assert_rejected(&app, &token, "alg None").await;
}

#[tokio::test]
async fn a_bad_signature_is_rejected() {
    let (app, _db, claims) = attack_setup().await;
    assert_rejected(
        &app,
        &hs256(&claims, b"another-secret-another-secret-another"),
        "foreign key",
    )
    .await;
    let good = hs256(&claims, TEST_JWT_SECRET.as_bytes());
    let (rest, sig) = good.rsplit_once('.').expect("jwt");
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    let flipped = format!("{first}{}", &sig[1..]);
    assert_rejected(&app, &format!("{rest}.{flipped}"), "flipped signature").await;
}

#[tokio::test]
async fn a_tampered_payload_is_rejected() {
    let (app, _db, claims) = attack_setup().await;
    let good = hs256(&claims, TEST_JWT_SECRET.as_bytes());
    let parts: Vec<&str> = good.split('.').collect();
    let mut elevated = claims.clone();
    elevated["roles"] = json!(["org-admin"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]);
    assert_rejected(&app, &tampered, "tampered roles").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected() {
    let (app, _db, claims) = attack_setup().await;
    let now = Utc::now().timestamp();
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    assert_rejected(
        &app,
        &hs256(&expired, TEST_JWT_SECRET.as_bytes()),
        "expired",
    )
    .await;
    let mut early = claims.clone();
    early["nbf"] = json!(now + 3600);
    assert_rejected(
        &app,
        &hs256(&early, TEST_JWT_SECRET.as_bytes()),
        "not yet valid",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_issuer_or_audience_is_rejected() {
    let (app, _db, claims) = attack_setup().await;
    let mut iss = claims.clone();
    iss["iss"] = json!("someone-else");
    assert_rejected(&app, &hs256(&iss, TEST_JWT_SECRET.as_bytes()), "issuer").await;
    let mut aud = claims.clone();
    aud["aud"] = json!("another-app");
    assert_rejected(&app, &hs256(&aud, TEST_JWT_SECRET.as_bytes()), "audience").await;
}

#[tokio::test]
async fn tokens_missing_a_claim_are_rejected() {
    let (app, _db, claims) = attack_setup().await;
    for claim in [
        "sub",
        "exp",
        "iss",
        "aud",
        "roles",
        "organizationId",
        "sid",
        "iat",
        "email",
    ] {
        let mut partial = claims.clone();
        partial.as_object_mut().expect("object").remove(claim);
        assert_rejected(&app, &hs256(&partial, TEST_JWT_SECRET.as_bytes()), claim).await;
    }
    let mut no_roles = claims.clone();
    no_roles["roles"] = json!([]);
    assert_rejected(
        &app,
        &hs256(&no_roles, TEST_JWT_SECRET.as_bytes()),
        "empty roles",
    )
    .await;
}

#[tokio::test]
async fn malformed_bearer_values_are_rejected() {
    let (app, _db, _) = attack_setup().await;
    for token in ["", "abc", "a.b.c", "Basic dXNlcjpwYXNz"] {
        assert_rejected(&app, token, token).await;
    }
    let reply = Call::get("/api/v1/auth/me").send(&app).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

// ---- platform tokens (JWKS served over real HTTP on 127.0.0.1) ----

const RSA_KEY: &str = include_str!("fixtures/rsa-test-key.pem");
const RSA_PUB: &str = include_str!("fixtures/rsa-test-pub.pem");
const ED_KEY: &str = include_str!("fixtures/ed25519-test-key.pem");
const JWKS: &str = include_str!("fixtures/jwks.json");

struct JwksServer {
    url: String,
    served: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks_server(initial: Value) -> JwksServer {
    let served = Arc::new(std::sync::Mutex::new(initial));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (s, f) = (served.clone(), fetches.clone());
    let app = Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let (s, f) = (s.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let body = s.lock().expect("lock").clone();
                // Null: the Auth service is down.
                if body.is_null() {
                    return Err(StatusCode::INTERNAL_SERVER_ERROR);
                }
                Ok(axum::Json(body))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer {
        url: format!("http://{addr}/.well-known/jwks.json"),
        served,
        fetches,
    }
}

fn jwks_only(kid: &str) -> Value {
    let mut all: Value = serde_json::from_str(JWKS).expect("jwks");
    all["keys"]
        .as_array_mut()
        .expect("keys")
        .retain(|k| k["kid"] == kid);
    all
}

async fn platform_app(db: &TestDb, jwks_url: &str) -> Router {
    let config = Config {
        rate_limits_enabled: false,
        platform_auth: Some(PlatformAuth {
            jwks_url: jwks_url.to_owned(),
            issuer: "https://auth.platform.test".into(),
            audience: "lumen".into(),
        }),
        ..test_config(db)
    };
    let auth = Auth::with_jwks_refetch(&config, Duration::ZERO).expect("auth");
    http::app(AppState::with_auth(config, db.store(), auth).expect("state"))
}

fn platform_claims() -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": "dir-user-42", "email": "grace@platform.test", "roles": ["trainer"],
        "organizationId": "dir-org-7", "iat": now, "exp": now + 600,
        "iss": "https://auth.platform.test", "aud": "lumen",
    })
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_KEY.as_bytes()).expect("rsa key")
}

fn ed() -> EncodingKey {
    EncodingKey::from_ed_pem(ED_KEY.as_bytes()).expect("ed key")
}

#[tokio::test]
async fn platform_rs256_and_eddsa_tokens_are_accepted_and_map_to_directory_ids() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(serde_json::from_str(JWKS).expect("jwks")).await;
    let app = platform_app(&db, &server.url).await;
    // The caller exists in Lumen as the Directory's user 42.
    let org_id = Origin::new(sources::DIRECTORY, "dir-org-7").record_id("organization");
    let user_id = Origin::new(sources::DIRECTORY, "dir-user-42").record_id("user");
    let store = db.store();
    accounts::add_user(
        &store,
        "Acme",
        "ada@acme.test",
        "Ada Lovelace",
        &[Role::Trainer],
        PASSWORD,
    )
    .await
    .expect("seed user");
    store
        .upsert_organization(&lumen_core::model::Organization {
            id: org_id,
            origin: Some(Origin::new(sources::DIRECTORY, "dir-org-7")),
            name: "Platform org".into(),
            leaderboard_names: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        })
        .await
        .expect("org");
    let mut user = store
        .user_by_email("ada@acme.test")
        .await
        .expect("read")
        .expect("user");
    user.id = user_id;
    user.organization_id = org_id;
    user.email = "grace@platform.test".into();
    user.origin = Some(Origin::new(sources::DIRECTORY, "dir-user-42"));
    store.upsert_user(&user).await.expect("user");

    for token in [
        sign(Algorithm::RS256, "rsa-1", &rsa(), &platform_claims()),
        sign(Algorithm::EdDSA, "ed-1", &ed(), &platform_claims()),
    ] {
        let reply = me(&app, &token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["user"]["id"], json!(user_id));
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "keys are cached");
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(jwks_only("rsa-1")).await;
    let app = platform_app(&db, &server.url).await;
    let rs = sign(Algorithm::RS256, "rsa-1", &rsa(), &platform_claims());
    // Not stored as a user: authentication passes, /me then says 404.
    assert_eq!(me(&app, &rs).await.status, StatusCode::NOT_FOUND);
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
    // The Auth service rotates in a new key.
    *server.served.lock().expect("lock") = serde_json::from_str(JWKS).expect("jwks");
    let ed_token = sign(Algorithm::EdDSA, "ed-1", &ed(), &platform_claims());
    assert_eq!(me(&app, &ed_token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        2,
        "unknown kid refetched"
    );
    // A kid nobody serves is refused.
    let unknown = sign(Algorithm::RS256, "rsa-9", &rsa(), &platform_claims());
    assert_rejected(&app, &unknown, "unknown kid").await;
}

#[tokio::test]
async fn algorithm_confusion_is_rejected() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(serde_json::from_str(JWKS).expect("jwks")).await;
    let app = platform_app(&db, &server.url).await;
    let claims = platform_claims();
    // HS256 "signed" with the RSA public key as an HMAC secret.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(RSA_PUB.as_bytes()),
    )
    .expect("sign");
    assert_rejected(&app, &confused, "HS256 with the public key").await;
    // RS256 header naming the EdDSA key, and vice versa.
    assert_rejected(
        &app,
        &sign(Algorithm::RS256, "ed-1", &rsa(), &claims),
        "RS256 on the Ed25519 kid",
    )
    .await;
    assert_rejected(
        &app,
        &sign(Algorithm::EdDSA, "rsa-1", &ed(), &claims),
        "EdDSA on the RSA kid",
    )
    .await;
}

#[tokio::test]
async fn platform_tokens_with_a_wrong_issuer_audience_or_expiry_are_rejected() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(serde_json::from_str(JWKS).expect("jwks")).await;
    let app = platform_app(&db, &server.url).await;
    let now = Utc::now().timestamp();
    for (claim, value) in [
        ("iss", json!("https://evil.test")),
        ("aud", json!("other")),
        ("exp", json!(now - 600)),
    ] {
        let mut claims = platform_claims();
        claims[claim] = value;
        assert_rejected(
            &app,
            &sign(Algorithm::RS256, "rsa-1", &rsa(), &claims),
            claim,
        )
        .await;
    }
}

#[tokio::test]
async fn platform_tokens_issued_too_long_ago_or_for_too_long_are_rejected() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(serde_json::from_str(JWKS).expect("jwks")).await;
    let app = platform_app(&db, &server.url).await;
    let now = Utc::now().timestamp();
    // Default bound: an hour.
    for (what, iat, exp) in [
        ("issued two hours ago", now - 7200, now + 600),
        ("valid for a day", now, now + 86_400),
    ] {
        let mut claims = platform_claims();
        claims["iat"] = json!(iat);
        claims["exp"] = json!(exp);
        assert_rejected(
            &app,
            &sign(Algorithm::RS256, "rsa-1", &rsa(), &claims),
            what,
        )
        .await;
    }
}

#[tokio::test]
async fn cached_platform_keys_stop_verifying_a_grace_period_after_the_jwks_last_listed_them() {
    let db = TestDb::sqlite().await;
    let server = jwks_server(serde_json::from_str(JWKS).expect("jwks")).await;
    let config = Config {
        rate_limits_enabled: false,
        platform_auth: Some(PlatformAuth {
            jwks_url: server.url.clone(),
            issuer: "https://auth.platform.test".into(),
            audience: "lumen".into(),
        }),
        ..test_config(&db)
    };
    let timing = lumen::auth::tokens::JwksTiming {
        max_age: Duration::ZERO,
        min_refetch: Duration::ZERO,
        grace: Duration::from_millis(300),
    };
    let auth = Auth::with_jwks_timing(&config, timing).expect("auth");
    let app = http::app(AppState::with_auth(config, db.store(), auth).expect("state"));
    let token = sign(Algorithm::RS256, "rsa-1", &rsa(), &platform_claims());
    // Authenticated (then 404: not a stored user).
    assert_eq!(me(&app, &token).await.status, StatusCode::NOT_FOUND);
    // The JWKS becomes unreachable: the cached key is kept, but not forever.
    *server.served.lock().expect("lock") = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = me(&app, &token).await.status;
        if status != StatusCode::NOT_FOUND {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a key the JWKS stopped listing is still trusted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A key the JWKS no longer lists is dropped at the next fetch.
    *server.served.lock().expect("lock") = jwks_only("ed-1");
    assert_rejected(&app, &token, "key removed from the JWKS").await;
    let ed_token = sign(Algorithm::EdDSA, "ed-1", &ed(), &platform_claims());
    assert_eq!(me(&app, &ed_token).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn platform_tokens_are_refused_when_no_jwks_is_configured() {
    let db = TestDb::sqlite().await;
    let app = setup(&db).await;
    assert_rejected(
        &app,
        &sign(Algorithm::RS256, "rsa-1", &rsa(), &platform_claims()),
        "no JWKS",
    )
    .await;
}

// ---- timing ----
//
// Unknown emails and wrong passwords cost the same: `Auth::login` verifies
// every attempt through `passwords::verify`, and the unit test
// `a_wrong_password_on_a_bcrypt_account_costs_an_argon2_run_like_an_unknown_account`
// counts one argon2 run on every path. That count replaces a wall-clock
// ratio, which other tests hashing at the same time made flaky.

/// With one hash at a time (and one waiting), a burst of logins is answered
/// at once for the excess: 503 with `Retry-After`, not after a queue.
#[tokio::test]
async fn password_hashing_beyond_its_bound_is_refused_with_retry_after() {
    let db = TestDb::sqlite().await;
    let config = Config {
        rate_limits_enabled: false,
        password_hash_concurrency: 1,
        ..test_config(&db)
    };
    let app = http::app(AppState::new(config, db.store()).expect("state"));
    let burst = (0..8).map(|_| login(&app, "nobody@acme.test", PASSWORD));
    let replies = futures::future::join_all(burst).await;
    let refused: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let checked = replies
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        checked >= 1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!refused.is_empty() && refused.len() + checked == 8);
    for reply in refused {
        assert_eq!(reply.body["error"], "SERVICE_UNAVAILABLE");
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.body["retryAfter"], 1);
    }
    // The burst over, logins are checked again.
    assert_eq!(
        login(&app, "nobody@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}
