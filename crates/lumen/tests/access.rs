//! The access matrix: every route × caller role × subject × credential gets
//! the documented status. Two halves that check each other:
//! `readme_access` writes down, from the README and docs, the rule each
//! route must have, and `every_route_declares_the_documented_rule` compares
//! it with the route table; the matrix then asks every route as every
//! caller (about themself, a taught and an untaught learner, another
//! organisation and an id that names nobody) with every kind of credential,
//! and an allowed caller must get an answer (a success, or the documented
//! 400/404/422 named in `answered`), never a 5xx. Expected statuses come
//! through an exhaustive `match` on the rule, so a new kind of decision
//! fails to compile here until they are written down.

mod support;

use axum::Router;
use axum::http::{Method, StatusCode};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lumen::config::Config;
use lumen::http::route_table;
use lumen::{AppState, accounts, http};
use lumen_core::Role;
use lumen_core::authz::{Access, SubjectRule};
use lumen_core::model::{Course, CourseStatus, Enrolment, EnrolmentStatus, Origin, User};
use serde_json::json;
use support::client::Call;
use support::{TEST_JWT_SECRET, TestDb, test_config, token_for};
use uuid::Uuid;

/// Who a subject route is asked about, relative to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Own,
    /// A learner of the caller's organisation whom the trainer teaches.
    SameOrgTaught,
    /// A learner of the caller's organisation nobody here teaches.
    SameOrgUntaught,
    OtherOrg,
    /// An id that names nobody: refused like any subject out of scope, so
    /// a refusal does not tell whether the subject exists.
    Unknown,
}

const SUBJECTS: [Subject; 5] = [
    Subject::Own,
    Subject::SameOrgTaught,
    Subject::SameOrgUntaught,
    Subject::OtherOrg,
    Subject::Unknown,
];

#[derive(Debug, Clone, Copy)]
enum Credential {
    Missing,
    Malformed,
    Expired,
    Tampered,
    /// Valid token, `X-Active-Role` naming a role the caller does not hold.
    WrongActiveRole,
    Valid,
}

const CREDENTIALS: [Credential; 6] = [
    Credential::Missing,
    Credential::Malformed,
    Credential::Expired,
    Credential::Tampered,
    Credential::WrongActiveRole,
    Credential::Valid,
];

/// Allowed: the handler ran (any status but 401/403). Denied: 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Unauthorized,
    Forbidden,
    Allowed,
}

/// The documented decision (PRODUCT §3.3) for a valid caller.
fn documented(access: Access, role: Role, subject: Subject) -> Expect {
    use Expect::{Allowed, Forbidden};
    match access {
        Access::Public | Access::Authenticated => Allowed,
        Access::ActingAs(required) => {
            if role == required {
                Allowed
            } else {
                Forbidden
            }
        }
        Access::Subject { .. } if subject == Subject::Unknown => Forbidden,
        Access::Subject { rule, .. } => match rule {
            SubjectRule::OwnLearnerData => match (role, subject) {
                (Role::Learner, Subject::Own) => Allowed,
                _ => Forbidden,
            },
            SubjectRule::OwnTrainerData => match (role, subject) {
                (Role::Trainer, Subject::Own) => Allowed,
                _ => Forbidden,
            },
            // For organisation routes every same-organisation subject is the caller's own organisation.
            SubjectRule::OwnOrganization => match (role, subject) {
                (Role::OrgAdmin, Subject::OtherOrg) => Forbidden,
                (Role::OrgAdmin, _) => Allowed,
                _ => Forbidden,
            },
            SubjectRule::Learner => match (role, subject) {
                (_, Subject::Own) => Allowed,
                (Role::Learner, _) => Forbidden,
                (Role::Trainer, Subject::SameOrgTaught) => Allowed,
                (Role::Trainer, _) => Forbidden,
                (Role::OrgAdmin, Subject::SameOrgTaught | Subject::SameOrgUntaught) => Allowed,
                (Role::OrgAdmin, Subject::OtherOrg | Subject::Unknown) => Forbidden,
            },
        },
    }
}

/// The access each route must have, written down from the README
/// ("Authentication and access", the Analytics table) and
/// docs/gamification.md, not read from the route table: a route that
/// declares another rule fails `every_route_declares_the_documented_rule`.
fn readme_access(path: &str) -> Access {
    use Access::{ActingAs, Authenticated, Public};
    let subject = |rule, param| Access::Subject { rule, param };
    match path {
        "/api/health"
        | "/api/v1/health"
        | "/api/status"
        | "/api/v1/health/live"
        | "/api/v1/health/ready"
        | "/metrics"
        | "/api/openapi.json"
        | "/api/v1/auth/login"
        | "/api/v1/auth/refresh" => return Public,
        "/api/v1/analytics/learner" => return ActingAs(Role::Learner),
        "/api/v1/analytics/trainer" => return ActingAs(Role::Trainer),
        "/api/v1/analytics/organization" => return ActingAs(Role::OrgAdmin),
        _ => {}
    }
    // Seed 002's aliases (`/analytics/<family>/<name>/...`) are the
    // canonical routes under another prefix.
    let path = path.replacen(
        "/api/v1/analytics/learner/",
        "/api/v1/learner/analytics/",
        1,
    );
    let path = path.replacen(
        "/api/v1/analytics/trainer/",
        "/api/v1/trainer/analytics/",
        1,
    );
    let path = path.replacen(
        "/api/v1/analytics/organization/",
        "/api/v1/org-admin/analytics/",
        1,
    );
    let path = path.replacen("/api/v1/analytics/comparison/", "/api/v1/comparison/", 1);
    let path = path.replacen("/api/v1/analytics/predictive/", "/api/v1/predictive/", 1);
    let family = |prefix: &str| path.starts_with(prefix);
    if family("/api/v1/learner/analytics/") {
        // "the learner, acting as learner"
        subject(SubjectRule::OwnLearnerData, "userId")
    } else if family("/api/v1/trainer/analytics/") {
        // "the trainer, acting as trainer"
        subject(SubjectRule::OwnTrainerData, "trainerId")
    } else if family("/api/v1/org-admin/analytics/") {
        // "an org admin of that organisation"
        subject(SubjectRule::OwnOrganization, "orgId")
    } else if family("/api/v1/comparison/peer/")
        || family("/api/v1/predictive/")
        || family("/api/v1/gamification/stats/")
        || family("/api/v1/gamification/achievements/")
        || family("/api/v1/gamification/streak/")
        || family("/api/v1/users/")
    {
        // "the learner; a trainer for learners of their courses; an org
        // admin for their organisation"
        subject(SubjectRule::Learner, "userId")
    } else {
        // skill-demand ("anyone, for their own organisation"), the session,
        // leaderboards and preferences, reports, refresh and jobs: any
        // signed-in user, scoped to their own data by the handler's service.
        Authenticated
    }
}

#[test]
fn every_route_declares_the_documented_rule() {
    let mut wrong = Vec::new();
    for route in route_table() {
        let expected = readme_access(route.path);
        if route.guard.access != expected {
            wrong.push(format!(
                "{} {}: declares {:?}, documented {:?}",
                route.method, route.path, route.guard.access, expected
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

struct World {
    app: Router,
    org_a: Uuid,
    org_b: Uuid,
    learner: User,
    trainer: User,
    admin: User,
    taught: User,
    untaught: User,
    outsider: User,
}

async fn world(db: &TestDb) -> World {
    let store = db.store();
    let add = |org: &'static str, email: &'static str, roles: &'static [Role]| {
        let store = store.clone();
        async move {
            accounts::add_user(&store, org, email, email, roles, "password-123")
                .await
                .expect("user")
        }
    };
    let learner = add("Org A", "learner@a.test", &[Role::Learner]).await;
    let trainer = add("Org A", "trainer@a.test", &[Role::Trainer]).await;
    let admin = add("Org A", "admin@a.test", &[Role::OrgAdmin]).await;
    let taught = add("Org A", "taught@a.test", &[Role::Learner]).await;
    let untaught = add("Org A", "untaught@a.test", &[Role::Learner]).await;
    let outsider = add("Org B", "learner@b.test", &[Role::Learner]).await;
    // The trainer teaches a course `taught` is enrolled in.
    // An hour ago: analytics count records up to the request's whole second.
    let now = Utc::now() - chrono::Duration::hours(1);
    let origin = Origin::new("test", "course-1");
    let course = Course {
        id: origin.record_id("course"),
        organization_id: learner.organization_id,
        origin: Some(origin),
        title: "Course".into(),
        status: CourseStatus::Published,
        starts_at: None,
        length_days: None,
        created_at: now,
        updated_at: now,
    };
    store.upsert_course(&course).await.expect("course");
    store
        .add_course_trainer(course.id, trainer.id)
        .await
        .expect("trainer");
    // A second course nobody here teaches, so every learner of Org A has
    // records and an allowed request gets an answer, not 404.
    let origin = Origin::new("test", "course-2");
    let untaught_course = Course {
        id: origin.record_id("course"),
        origin: Some(origin),
        title: "Untaught course".into(),
        ..course.clone()
    };
    store.upsert_course(&untaught_course).await.expect("course");
    for (user, course) in [
        (&taught, &course),
        (&learner, &untaught_course),
        (&untaught, &untaught_course),
    ] {
        store
            .upsert_enrolment(&Enrolment {
                id: Uuid::new_v4(),
                user_id: user.id,
                course_id: course.id,
                origin: None,
                status: EnrolmentStatus::Active,
                outcome: None,
                progress: 0.1,
                enrolled_at: now,
                started_at: None,
                last_active_at: None,
                completed_at: None,
                withdrawn_at: None,
                updated_at: now,
            })
            .await
            .expect("enrolment");
    }
    let config = Config {
        rate_limits_enabled: false,
        ..test_config(db)
    };
    World {
        app: http::app(AppState::new(config, store).expect("state")),
        org_a: learner.organization_id,
        org_b: outsider.organization_id,
        learner,
        trainer,
        admin,
        taught,
        untaught,
        outsider,
    }
}

impl World {
    fn caller(&self, role: Role) -> &User {
        match role {
            Role::Learner => &self.learner,
            Role::Trainer => &self.trainer,
            Role::OrgAdmin => &self.admin,
        }
    }

    /// The id in the path for this rule and subject.
    fn subject_id(&self, rule: SubjectRule, caller: &User, subject: Subject) -> Uuid {
        let is_org = rule == SubjectRule::OwnOrganization;
        match (subject, is_org) {
            (Subject::Own, true) => self.org_a,
            (Subject::OtherOrg, true) => self.org_b,
            (Subject::Unknown, _) => Uuid::new_v4(),
            (_, true) => self.org_a,
            (Subject::Own, false) => caller.id,
            (Subject::SameOrgTaught, false) => self.taught.id,
            (Subject::SameOrgUntaught, false) => self.untaught.id,
            (Subject::OtherOrg, false) => self.outsider.id,
        }
    }
}

fn fill(path: &str, param: Option<&str>, id: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        if Some(name) == param {
            out.push_str(id);
        } else {
            out.push_str(&Uuid::new_v4().to_string());
        }
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// `token`'s claims, changed by `alter`, signed again with the right key.
fn resigned(token: &str, alter: impl FnOnce(&mut serde_json::Value)) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(payload).expect("b64")).expect("json");
    alter(&mut claims);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("sign")
}

/// `token` with its session kept but its lifetime over an hour ago.
fn expired(token: &str) -> String {
    resigned(token, |c| {
        let now = Utc::now().timestamp();
        c["iat"] = json!(now - 7200);
        c["exp"] = json!(now - 3600);
    })
}

fn tampered(token: &str) -> String {
    use base64::Engine;
    let parts: Vec<&str> = token.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("b64")).expect("json");
    claims["roles"] = json!(["learner", "trainer", "org-admin"]);
    format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    )
}

fn other_role(caller: &User) -> &'static str {
    Role::ALL
        .into_iter()
        .find(|r| !caller.roles.contains(r))
        .map(Role::as_str)
        .unwrap_or("no-such-role")
}

/// What an allowed caller may get: a success; `INSUFFICIENT_DATA` (this
/// world has little data); 400 for the empty body sent to routes that take
/// one; 404 for the random ids filled into non-subject path parameters
/// (reports, schedules, jobs). Never a 5xx, never 404 on a subject route.
/// A trainer or org admin asking a learner analytic about themself is
/// allowed by the policy but is no learner: 404 `NOT_FOUND` (docs/analytics.md
/// §5), the one 404 a subject route may answer here.
fn answered(
    route: &lumen::http::RouteDef,
    role: Role,
    subject: Subject,
    status: StatusCode,
    body: &serde_json::Value,
) -> bool {
    let takes_body = route.method == Method::POST || route.method == Method::PUT;
    let random_ids =
        route.path.contains('{') && !matches!(route.guard.access, Access::Subject { .. });
    let no_learner = role != Role::Learner
        && subject == Subject::Own
        && matches!(
            route.guard.access,
            Access::Subject {
                rule: SubjectRule::Learner,
                ..
            }
        );
    status.is_success()
        || (status == StatusCode::NOT_FOUND && no_learner && body["error"] == "NOT_FOUND")
        || (status == StatusCode::UNPROCESSABLE_ENTITY && body["error"] == "INSUFFICIENT_DATA")
        || (status == StatusCode::BAD_REQUEST && takes_body && body["error"] == "VALIDATION_ERROR")
        || (status == StatusCode::NOT_FOUND && random_ids)
}

async fn run_matrix(db: &TestDb) {
    let w = world(db).await;
    let store = db.store();
    let mut checked = 0;
    for route in route_table() {
        let (subjects, param, rule): (&[Subject], _, _) = match route.guard.access {
            Access::Subject { rule, param } => (&SUBJECTS, Some(param), Some(rule)),
            _ => (&[Subject::Own], None, None),
        };
        for role in Role::ALL {
            let caller = w.caller(role);
            for &subject in subjects {
                let id = rule
                    .map(|r| w.subject_id(r, caller, subject))
                    .unwrap_or_default();
                let uri = fill(route.path, param, &id.to_string());
                for credential in CREDENTIALS {
                    // A fresh session per request: logout ends the one it is given.
                    let valid = token_for(&store, caller).await;
                    let token = match credential {
                        Credential::Missing => None,
                        Credential::Malformed => Some("not.a.jwt".to_owned()),
                        Credential::Expired => Some(expired(&valid)),
                        Credential::Tampered => Some(tampered(&valid)),
                        Credential::WrongActiveRole | Credential::Valid => Some(valid),
                    };
                    let mut call = Call::new(route.method.clone(), uri.clone());
                    if route.method == Method::POST || route.method == Method::PUT {
                        call.body = Some(json!({}));
                    }
                    if let Some(t) = &token {
                        call = call.token(t);
                    }
                    let wrong_role = other_role(caller);
                    if matches!(credential, Credential::WrongActiveRole) {
                        call = call.role(wrong_role);
                    } else if matches!(
                        route.guard.access,
                        Access::Subject { .. } | Access::ActingAs(_)
                    ) {
                        call = call.role(role.as_str());
                    }
                    let expect = match (route.guard.access, credential) {
                        // Public to the user policy, but guarded by the
                        // operator credential (`LUMEN_OPS_TOKEN`, none
                        // configured here): no user token opens it.
                        (Access::Public, _) if route.path == "/metrics" => Expect::Unauthorized,
                        (Access::Public, _) => Expect::Allowed,
                        (
                            _,
                            Credential::Missing
                            | Credential::Malformed
                            | Credential::Expired
                            | Credential::Tampered,
                        ) => Expect::Unauthorized,
                        (_, Credential::WrongActiveRole) => Expect::Forbidden,
                        (access, Credential::Valid) => documented(access, role, subject),
                    };
                    let reply = call.send(&w.app).await;
                    let got = match reply.status {
                        StatusCode::UNAUTHORIZED => Expect::Unauthorized,
                        StatusCode::FORBIDDEN => Expect::Forbidden,
                        status if answered(&route, role, subject, status, &reply.body) => {
                            Expect::Allowed
                        }
                        status => panic!(
                            "{} {uri} as {role} about {subject:?} with {credential:?}: \
                             {status} is no answer an allowed caller may get: {}",
                            route.method, reply.body
                        ),
                    };
                    assert_eq!(
                        got, expect,
                        "{} {uri} as {role} about {subject:?} with {credential:?}: {} {}",
                        route.method, reply.status, reply.body
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "the matrix covered only {checked} cases");

    // Subject ids that are not UUIDs are validation errors, not decisions.
    for route in route_table() {
        if let Access::Subject { param, .. } = route.guard.access {
            let token = token_for(&store, &w.admin).await;
            let reply = Call::new(
                route.method.clone(),
                fill(route.path, Some(param), "not-a-uuid"),
            )
            .token(&token)
            .send(&w.app)
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", route.path);
            assert_eq!(reply.body["validation"][param], "must be a UUID");
        }
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_documented_on_sqlite() {
    let db = TestDb::sqlite().await;
    run_matrix(&db).await;
}

#[tokio::test]
async fn every_route_answers_every_caller_as_documented_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    run_matrix(&db).await;
}

#[tokio::test]
async fn a_caller_with_several_roles_must_name_one_for_subject_routes() {
    let db = TestDb::sqlite().await;
    let w = world(&db).await;
    let multi = accounts::add_user(
        &db.store(),
        "Org A",
        "multi@a.test",
        "Multi",
        &[Role::Learner, Role::Trainer],
        "password-123",
    )
    .await
    .expect("user");
    let token = token_for(&db.store(), &multi).await;
    let uri = format!("/api/v1/users/{}", w.taught.id);
    let reply = Call::get(uri.clone()).token(&token).send(&w.app).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("X-Active-Role")),
        "{}",
        reply.body
    );
    // About themself, any role will do.
    let own = Call::get(format!("/api/v1/users/{}", multi.id))
        .token(&token)
        .role("learner")
        .send(&w.app)
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

/// The matrix's expired token differs from a valid one in its times only:
/// signed again unchanged it is accepted, expired it is refused.
#[tokio::test]
async fn an_expired_token_is_refused_for_its_expiry_alone() {
    let db = TestDb::sqlite().await;
    let w = world(&db).await;
    let valid = token_for(&db.store(), &w.learner).await;
    let same = Call::get("/api/v1/auth/me")
        .token(&resigned(&valid, |_| {}))
        .send(&w.app)
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    let late = Call::get("/api/v1/auth/me")
        .token(&expired(&valid))
        .send(&w.app)
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.body);
}
