//! The access matrix, generated from the router's own route table: every
//! route × caller role × subject × credential gets the documented status.
//! Expectations come from the route's declared `Access` through an
//! exhaustive `match`, so a route cannot join the table without a policy
//! decision, and a new kind of decision fails to compile here until its
//! expected statuses are written down.

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
}

const SUBJECTS: [Subject; 4] = [
    Subject::Own,
    Subject::SameOrgTaught,
    Subject::SameOrgUntaught,
    Subject::OtherOrg,
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
                (Role::OrgAdmin, Subject::OtherOrg) => Forbidden,
            },
        },
    }
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
    let now = Utc::now();
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
    store
        .upsert_enrolment(&Enrolment {
            id: Uuid::new_v4(),
            user_id: taught.id,
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

fn forged(caller: &User, alter: impl FnOnce(&mut serde_json::Value)) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "sub": caller.id, "email": caller.email, "roles": caller.roles, "organizationId": caller.organization_id,
        "iat": now, "exp": now + 3600, "iss": "lumen", "aud": "lumen", "sid": Uuid::new_v4(),
    });
    alter(&mut claims);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("sign")
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
                        Credential::Expired => Some(forged(caller, |c| {
                            c["iat"] = json!(Utc::now().timestamp() - 7200);
                            c["exp"] = json!(Utc::now().timestamp() - 3600);
                        })),
                        Credential::Tampered => Some(tampered(&valid)),
                        Credential::WrongActiveRole | Credential::Valid => Some(valid),
                    };
                    let mut call = Call::new(route.method.clone(), uri.clone());
                    if route.method == Method::POST {
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
                        _ => Expect::Allowed,
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
