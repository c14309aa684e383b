//! Tests of the upstream simulator.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

use super::generate::{FEEDS, Org};
use super::model::Item;
use super::server::feeds_of;
use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-10-01T07:15:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

fn sim(seed: u64, scale: Scale) -> SimHandle {
    SimHandle::new(SimConfig {
        seed,
        scale,
        now: now(),
    })
}

fn service_of(feed: &str) -> &'static str {
    SERVICES
        .iter()
        .copied()
        .find(|s| feeds_of(s).contains(&feed))
        .expect("feed has a service")
}

async fn call(
    r: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let resp = r.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, bytes)
}

async fn get(r: &Router, uri: &str) -> (StatusCode, Vec<u8>) {
    call(r, "GET", uri, Some("test-token"), None).await
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

/// Follows a feed to its end; returns every item.
async fn pass(r: &Router, feed: &str, since: Option<&str>, limit: usize) -> Vec<Value> {
    let service = service_of(feed);
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("/{service}/api/v1/{feed}?limit={limit}");
        if let Some(s) = since {
            uri.push_str(&format!("&updatedSince={s}"));
        }
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = get(r, &uri).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
        let page = json(&body);
        let page_items = page["items"].as_array().expect("items").clone();
        assert!(page_items.len() <= limit);
        items.extend(page_items);
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page["nextCursor"].is_null());
                break;
            }
        }
    }
    items
}

fn key(v: &Value) -> (String, String) {
    (
        v["updatedAt"].as_str().expect("updatedAt").to_owned(),
        v["id"].as_str().expect("id").to_owned(),
    )
}

#[test]
fn scale_parses_and_displays() {
    for s in [Scale::Small, Scale::Medium, Scale::Large] {
        assert_eq!(s.to_string().parse::<Scale>(), Ok(s));
    }
    assert_eq!("LARGE".parse::<Scale>(), Ok(Scale::Large));
    assert!("huge".parse::<Scale>().is_err());
}

#[tokio::test]
async fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let a = sim(7, Scale::Small).router();
    let b = sim(7, Scale::Small).router();
    let c = sim(8, Scale::Small).router();
    for feed in [
        "users",
        "enrolments",
        "content-interactions",
        "skill-levels",
        "user-status",
    ] {
        let uri = format!("/{}/api/v1/{feed}?limit=50", service_of(feed));
        let (sa, ba) = get(&a, &uri).await;
        let (_, bb) = get(&b, &uri).await;
        let (_, bc) = get(&c, &uri).await;
        assert_eq!(sa, StatusCode::OK);
        assert_eq!(ba, bb, "{feed} differs for the same seed");
        assert_ne!(ba, bc, "{feed} is the same for another seed");
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Every served item of every feed, as JSON.
fn served_json(org: &Org) -> BTreeMap<&'static str, Vec<Value>> {
    fn all<T: Item>(f: &super::model::Feed<T>) -> Vec<Value> {
        f.served()
            .iter()
            .map(|i| serde_json::to_value(i).expect("json"))
            .collect()
    }
    let mut m = BTreeMap::new();
    m.insert("organizations", all(&org.organizations));
    m.insert("departments", all(&org.departments));
    m.insert("users", all(&org.users));
    m.insert("trainer-learners", all(&org.trainer_learners));
    m.insert("courses", all(&org.courses));
    m.insert("course-units", all(&org.course_units));
    m.insert("course-trainers", all(&org.course_trainers));
    m.insert("enrolments", all(&org.enrolments));
    m.insert("trainer-feedback", all(&org.trainer_feedback));
    m.insert("content-items", all(&org.content_items));
    m.insert("content-interactions", all(&org.content_interactions));
    m.insert("assessments", all(&org.assessments));
    m.insert("assessment-attempts", all(&org.assessment_attempts));
    m.insert("skills", all(&org.skills));
    m.insert("skill-levels", all(&org.skill_levels));
    m.insert("job-role-requirements", all(&org.job_role_requirements));
    m.insert("skill-targets", all(&org.skill_targets));
    m.insert("lab-sessions", all(&org.lab_sessions));
    m.insert("assistant-questions", all(&org.assistant_questions));
    m.insert("user-status", all(&org.user_status));
    m
}

fn s<'a>(v: &'a Value, f: &str) -> &'a str {
    v[f].as_str()
        .unwrap_or_else(|| panic!("{f} is not a string in {v}"))
}

fn n(v: &Value, f: &str) -> f64 {
    v[f].as_f64()
        .unwrap_or_else(|| panic!("{f} is not a number in {v}"))
}

/// Checks the contracts' rules over everything served by `org`.
fn check_consistency(org: &Org) {
    let data = served_json(org);
    assert_eq!(data.len(), FEEDS.len());
    let now = model::fmt_ts(org.now);
    let ids = |feed: &str| -> HashMap<String, Value> {
        data[feed]
            .iter()
            .map(|v| (s(v, "id").to_owned(), v.clone()))
            .collect()
    };
    // Common: unique ids, order, timestamps, updatedAt <= now, no tombstones.
    for (feed, items) in &data {
        assert!(!items.is_empty(), "{feed} is empty");
        let mut seen = HashSet::new();
        for w in items.windows(2) {
            assert!(key(&w[0]) < key(&w[1]), "{feed} out of order");
        }
        for v in items {
            assert!(seen.insert(s(v, "id").to_owned()), "{feed}: duplicate id");
            Uuid::parse_str(s(v, "id")).expect("uuid id");
            assert!(
                s(v, "updatedAt") <= now.as_str(),
                "{feed}: updatedAt after now"
            );
            assert!(v.get("deleted").is_none());
            for (k, x) in v.as_object().expect("object") {
                if k.ends_with("At") || k.ends_with("Date") {
                    if let Some(t) = x.as_str() {
                        assert!(is_timestamp(t), "{feed}.{k} = {t}");
                    } else {
                        assert!(x.is_null(), "{feed}.{k} = {x}");
                    }
                }
            }
        }
    }
    let orgs = ids("organizations");
    let depts = ids("departments");
    let users = ids("users");
    let courses = ids("courses");
    let units = ids("course-units");
    let items = ids("content-items");
    let assessments = ids("assessments");
    let skills = ids("skills");
    let has_role = |u: &str, role: &str| {
        users[u]["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r == role)
    };
    let reference = |map: &HashMap<String, Value>, v: &Value, f: &str| -> Option<Value> {
        match &v[f] {
            Value::Null => None,
            Value::String(id) => Some(
                map.get(id)
                    .unwrap_or_else(|| panic!("{f} {id} unknown"))
                    .clone(),
            ),
            other => panic!("{f} = {other}"),
        }
    };
    assert!(
        data["organizations"]
            .iter()
            .any(|o| o["name"] == "Demo Organisation")
    );
    for d in &data["departments"] {
        let org = reference(&orgs, d, "organizationId").expect("org");
        if let Some(p) = reference(&depts, d, "parentId") {
            assert_eq!(p["organizationId"], org["id"]);
        }
    }
    let mut emails = HashSet::new();
    for u in &data["users"] {
        let org = reference(&orgs, u, "organizationId").expect("org");
        if let Some(d) = reference(&depts, u, "departmentId") {
            assert_eq!(d["organizationId"], org["id"]);
        }
        assert!(
            emails.insert(s(u, "email").to_ascii_lowercase()),
            "duplicate email"
        );
        assert!(s(u, "email").contains('@'));
        assert!(!s(u, "fullName").is_empty());
        for r in u["roles"].as_array().expect("roles") {
            assert!(["learner", "trainer", "org-admin"].contains(&r.as_str().expect("role")));
        }
        assert!(s(u, "createdAt") <= s(u, "updatedAt"));
    }
    let mut pairs = HashSet::new();
    for l in &data["trainer-learners"] {
        let t = reference(&users, l, "trainerId").expect("trainer");
        let le = reference(&users, l, "learnerId").expect("learner");
        assert!(has_role(s(&t, "id"), "trainer"));
        assert_eq!(t["organizationId"], le["organizationId"]);
        assert!(pairs.insert((s(l, "trainerId"), s(l, "learnerId"))));
    }
    for c in &data["courses"] {
        reference(&orgs, c, "organizationId").expect("org");
        assert!(["draft", "published", "archived"].contains(&s(c, "status")));
        assert!(n(c, "lengthDays") >= 1.0);
    }
    for u in &data["course-units"] {
        reference(&courses, u, "courseId").expect("course");
        assert!(n(u, "position") >= 0.0);
    }
    let mut course_trainers: HashSet<(String, String)> = HashSet::new();
    for ct in &data["course-trainers"] {
        let c = reference(&courses, ct, "courseId").expect("course");
        let t = reference(&users, ct, "trainerId").expect("trainer");
        assert!(has_role(s(&t, "id"), "trainer"));
        assert_eq!(c["organizationId"], t["organizationId"]);
        assert!(
            course_trainers.insert((s(ct, "courseId").to_owned(), s(ct, "trainerId").to_owned()))
        );
    }
    let mut enrolled = HashSet::new();
    for e in &data["enrolments"] {
        let u = reference(&users, e, "userId").expect("user");
        let c = reference(&courses, e, "courseId").expect("course");
        assert_eq!(
            u["organizationId"], c["organizationId"],
            "enrolment across organisations"
        );
        assert!(has_role(s(&u, "id"), "learner"));
        assert!(
            enrolled.insert((s(e, "userId").to_owned(), s(e, "courseId").to_owned())),
            "two enrolments"
        );
        let p = n(e, "progress");
        assert!((0.0..=1.0).contains(&p));
        let enrolled_at = s(e, "enrolledAt");
        let started = e["startedAt"].as_str();
        if let Some(st) = started {
            assert!(enrolled_at <= st);
            assert!(st <= s(e, "lastActiveAt"));
        } else {
            assert!(e["lastActiveAt"].is_null());
        }
        match s(e, "status") {
            "completed" => {
                assert!(["pass", "distinction", "fail"].contains(&s(e, "outcome")));
                let done = s(e, "completedAt");
                assert!(started.expect("completed enrolments started") <= done);
                assert!(e["withdrawnAt"].is_null());
            }
            "withdrawn" => {
                assert!(e["outcome"].is_null());
                let w = s(e, "withdrawnAt");
                assert!(started.unwrap_or(enrolled_at) <= w && enrolled_at <= w);
                assert!(e["completedAt"].is_null());
            }
            "active" => {
                assert!(e["outcome"].is_null());
                assert!(e["completedAt"].is_null() && e["withdrawnAt"].is_null());
            }
            other => panic!("status {other}"),
        }
    }
    for f in &data["trainer-feedback"] {
        let c = reference(&courses, f, "courseId").expect("course");
        reference(&users, f, "trainerId").expect("trainer");
        assert!(
            course_trainers.contains(&(s(f, "courseId").to_owned(), s(f, "trainerId").to_owned()))
        );
        if let Some(l) = reference(&users, f, "learnerId") {
            assert!(enrolled.contains(&(s(&l, "id").to_owned(), s(&c, "id").to_owned())));
        }
        let r = n(f, "rating");
        assert!((1.0..=5.0).contains(&r) && r.fract() == 0.0);
    }
    let types = [
        "video",
        "reading",
        "interactive",
        "quiz",
        "lab",
        "forum",
        "resource",
        "other",
    ];
    for i in &data["content-items"] {
        reference(&courses, i, "courseId").expect("course");
        if let Some(u) = reference(&units, i, "unitId") {
            assert_eq!(u["courseId"], i["courseId"], "unit of another course");
        }
        assert!(types.contains(&s(i, "contentType")));
        assert!(i["durationSeconds"].is_null() || n(i, "durationSeconds") >= 0.0);
    }
    for x in &data["content-interactions"] {
        let u = reference(&users, x, "userId").expect("user");
        let item = reference(&items, x, "contentItemId").expect("item");
        assert!(enrolled.contains(&(s(&u, "id").to_owned(), s(&item, "courseId").to_owned())));
        if !x["timeSpentSeconds"].is_null() {
            assert!((0.0..=86_400.0).contains(&n(x, "timeSpentSeconds")));
        }
        assert!(n(x, "clicks") >= 0.0);
        assert!(x["completed"].is_boolean());
        assert!(s(x, "occurredAt") <= s(x, "updatedAt"));
    }
    let kinds = ["quiz", "assignment", "exam", "lab", "other"];
    for a in &data["assessments"] {
        reference(&courses, a, "courseId").expect("course");
        if let Some(u) = reference(&units, a, "unitId") {
            assert_eq!(u["courseId"], a["courseId"]);
        }
        assert!(kinds.contains(&s(a, "kind")));
        let max = n(a, "maxScore");
        assert!(max > 0.0);
        if !a["passScore"].is_null() {
            assert!((0.0..=max).contains(&n(a, "passScore")));
        }
        assert!((0.0..=100.0).contains(&n(a, "weight")));
    }
    let mut attempts = HashSet::new();
    for t in &data["assessment-attempts"] {
        let a = reference(&assessments, t, "assessmentId").expect("assessment");
        let u = reference(&users, t, "userId").expect("user");
        assert!(enrolled.contains(&(s(&u, "id").to_owned(), s(&a, "courseId").to_owned())));
        let score = n(t, "score");
        assert!(score >= 0.0 && score <= n(&a, "maxScore"));
        let num = n(t, "attemptNumber");
        assert!(num >= 1.0);
        assert!(attempts.insert((
            s(t, "assessmentId").to_owned(),
            s(t, "userId").to_owned(),
            num as u32
        )));
        if let Some(st) = t["startedAt"].as_str() {
            assert!(st <= s(t, "submittedAt"));
        }
    }
    for k in &data["skills"] {
        reference(&orgs, k, "organizationId");
        assert!(!s(k, "name").is_empty());
    }
    let mut levels = HashSet::new();
    for l in &data["skill-levels"] {
        let u = reference(&users, l, "userId").expect("user");
        let k = reference(&skills, l, "skillId").expect("skill");
        if !k["organizationId"].is_null() {
            assert_eq!(k["organizationId"], u["organizationId"]);
        }
        assert!((0.0..=5.0).contains(&n(l, "level")));
        assert!(levels.insert((
            s(l, "userId").to_owned(),
            s(l, "skillId").to_owned(),
            s(l, "assessedAt").to_owned()
        )));
    }
    let mut reqs = HashSet::new();
    for r in &data["job-role-requirements"] {
        reference(&orgs, r, "organizationId").expect("org");
        reference(&skills, r, "skillId").expect("skill");
        assert!((0.0..=5.0).contains(&n(r, "requiredLevel")));
        assert!(reqs.insert((
            s(r, "organizationId").to_owned(),
            s(r, "jobRole").to_owned(),
            s(r, "skillId").to_owned()
        )));
    }
    let mut targets = HashSet::new();
    for t in &data["skill-targets"] {
        reference(&orgs, t, "organizationId").expect("org");
        reference(&skills, t, "skillId").expect("skill");
        assert!((0.0..=5.0).contains(&n(t, "targetLevel")));
        assert!(n(t, "priority") > 0.0);
        assert!(targets.insert((
            s(t, "organizationId").to_owned(),
            s(t, "skillId").to_owned()
        )));
    }
    for l in &data["lab-sessions"] {
        reference(&users, l, "userId").expect("user");
        reference(&courses, l, "courseId");
        assert!(!s(l, "exercise").is_empty());
        if let Some(e) = l["endedAt"].as_str() {
            assert!(s(l, "startedAt") <= e);
        }
        assert!(n(l, "attempts") >= 0.0);
    }
    for q in &data["assistant-questions"] {
        reference(&users, q, "userId").expect("user");
        reference(&courses, q, "courseId");
        if let Some(t) = q["topic"].as_str() {
            assert!(!t.is_empty() && t.len() <= 200);
        }
    }
    for st in &data["user-status"] {
        reference(&users, st, "id").expect("user");
        assert!(["active", "suspended"].contains(&s(st, "status")));
    }
    assert_eq!(data["user-status"].len(), data["users"].len());
}

#[test]
fn generated_data_satisfies_the_contracts() {
    for (seed, scale) in [(1, Scale::Small), (2, Scale::Small), (3, Scale::Medium)] {
        let h = sim(seed, scale);
        check_consistency(&h.org());
        h.advance(30);
        check_consistency(&h.org());
    }
}

#[test]
fn sizes_and_ground_truth_follow_the_personas() {
    let h = sim(11, Scale::Medium);
    let t = h.truth();
    let org = h.org();
    let counts = org.counts();
    assert_eq!(t.counts, counts);
    assert_eq!(t.counts.len(), FEEDS.len());
    assert!(
        t.personas.len() >= 500 && t.personas.len() < 520,
        "{}",
        t.personas.len()
    );
    assert!(
        counts["courses"] >= 40 && counts["content-interactions"] > 20_000,
        "{counts:?}"
    );
    assert_eq!(t.outcomes.len(), counts["enrolments"]);
    // Eventual outcomes per persona.
    let mut by: HashMap<(Persona, &str), usize> = HashMap::new();
    for p in &org.plans {
        if p.enrolled_at > org.now {
            continue;
        }
        let persona = t.personas[&p.user.to_string()];
        *by.entry((persona, t.outcomes[&p.id.to_string()].as_str()))
            .or_default() += 1;
    }
    let share = |persona: Persona, outcomes: &[&str]| {
        let total: usize = by
            .iter()
            .filter(|((p, _), _)| *p == persona)
            .map(|(_, n)| n)
            .sum();
        let hit: usize = by
            .iter()
            .filter(|((p, o), _)| *p == persona && outcomes.contains(o))
            .map(|(_, n)| n)
            .sum();
        hit as f64 / total.max(1) as f64
    };
    assert!(share(Persona::Disengaging, &["withdrawn"]) > 0.8, "{by:?}");
    assert!(
        share(Persona::Fast, &["pass", "distinction"]) > 0.7,
        "{by:?}"
    );
    assert!(
        share(Persona::Struggling, &["fail"]) > share(Persona::Steady, &["fail"]) + 0.2,
        "{by:?}"
    );
    assert!(
        share(Persona::Steady, &["pass", "distinction"]) > 0.6,
        "{by:?}"
    );
    // Some enrolments are still running now.
    assert!(
        org.enrolments
            .served()
            .iter()
            .filter(|e| e.status == "active")
            .count()
            > 50
    );
    assert!(
        org.enrolments
            .served()
            .iter()
            .any(|e| e.status == "withdrawn")
    );
}

#[tokio::test]
async fn demo_accounts_exist_with_their_roles() {
    let h = sim(5, Scale::Small);
    let r = h.router();
    let users = pass(&r, "users", None, 1000).await;
    let orgs = pass(&r, "organizations", None, 1000).await;
    let demo_org = orgs
        .iter()
        .find(|o| o["name"] == "Demo Organisation")
        .expect("demo org");
    let expected = [
        ("learner@demo.lumen.test", vec!["learner"]),
        ("trainer@demo.lumen.test", vec!["trainer"]),
        ("admin@demo.lumen.test", vec!["org-admin"]),
        ("multi@demo.lumen.test", vec!["learner", "trainer"]),
    ];
    let mut ids = HashMap::new();
    for (email, roles) in expected {
        let u = users.iter().find(|u| u["email"] == email).expect(email);
        assert_eq!(u["roles"], serde_json::json!(roles), "{email}");
        assert_eq!(u["organizationId"], demo_org["id"]);
        ids.insert(email, s(u, "id").to_owned());
    }
    let org = h.org();
    let learner = &ids["learner@demo.lumen.test"];
    let trainer = &ids["trainer@demo.lumen.test"];
    let mine = org
        .enrolments
        .served()
        .iter()
        .filter(|e| e.user_id.to_string() == *learner)
        .count();
    assert!(mine >= 4, "demo learner has {mine} enrolments");
    let acts = org
        .content_interactions
        .served()
        .iter()
        .filter(|x| x.user_id.to_string() == *learner)
        .count();
    assert!(acts > 50, "demo learner has {acts} interactions");
    let taught: HashSet<Uuid> = org
        .course_trainers
        .served()
        .iter()
        .filter(|c| c.trainer_id.to_string() == *trainer)
        .map(|c| c.course_id)
        .collect();
    assert!(taught.len() >= 3);
    let learners = org
        .enrolments
        .served()
        .iter()
        .filter(|e| taught.contains(&e.course_id))
        .count();
    assert!(learners >= 10);
    assert!(
        org.course_trainers
            .served()
            .iter()
            .any(|c| c.trainer_id.to_string() == ids["multi@demo.lumen.test"])
    );
    assert_eq!(h.truth().personas[learner], Persona::Steady);
}

#[tokio::test]
async fn paging_returns_every_item_once_in_order() {
    let h = sim(3, Scale::Small);
    let r = h.router();
    for feed in [
        "enrolments",
        "users",
        "assessment-attempts",
        "skill-targets",
    ] {
        let paged = pass(&r, feed, None, 7).await;
        let keys: Vec<_> = paged.iter().map(key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{feed} order");
        let all = pass(&r, feed, None, 1000).await;
        assert_eq!(paged, all, "{feed}");
        assert_eq!(paged.len(), h.truth().counts[feed]);
        // updatedSince is inclusive and filters.
        let mid = &keys[keys.len() / 2].0;
        let since = pass(&r, feed, Some(mid), 7).await;
        let expected: Vec<_> = all
            .iter()
            .filter(|v| s(v, "updatedAt") >= mid.as_str())
            .cloned()
            .collect();
        assert_eq!(since, expected, "{feed} since {mid}");
        assert!(since.len() < all.len() && !since.is_empty());
    }
    // A filter after everything gives an empty last page.
    let (status, body) = get(
        &r,
        "/directory/api/v1/users?updatedSince=2100-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json(&body),
        serde_json::json!({"items": [], "nextCursor": null})
    );
}

#[tokio::test]
async fn bad_requests_are_rejected() {
    let r = sim(3, Scale::Small).router();
    for q in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "updatedSince=yesterday",
        "updatedSince=2025-13-01T00:00:00Z",
    ] {
        let (status, body) = get(&r, &format!("/directory/api/v1/users?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(json(&body)["error"], "BAD_REQUEST");
    }
    let (status, body) = get(&r, "/directory/api/v1/users?cursor=garbage").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&body)["error"], "INVALID_CURSOR");
    let (status, _) = get(&r, "/directory/api/v1/users?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&r, "GET", "/directory/api/v1/users", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&body)["error"], "UNAUTHORIZED");
    let (status, _) = call(&r, "GET", "/directory/api/v1/users", Some(" "), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A feed of another service, an unknown service.
    let (status, body) = get(&r, "/directory/api/v1/enrolments").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    json(&body);
    let (status, _) = get(&r, "/nowhere/api/v1/users").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn advance_adds_only_new_and_changed_items() {
    let h = sim(9, Scale::Small);
    let r = h.router();
    let old_now = model::fmt_ts(h.now().timestamp());
    let before_counts = h.truth().counts;
    let mut before: HashMap<&str, HashMap<String, Value>> = HashMap::new();
    for feed in FEEDS {
        let items = pass(&r, feed, None, 1000).await;
        before.insert(
            feed,
            items
                .into_iter()
                .map(|v| (s(&v, "id").to_owned(), v))
                .collect(),
        );
        // Only items updated exactly at `now` match updatedSince=now (inclusive).
        let at_now = pass(&r, feed, Some(&old_now), 1000).await;
        assert!(
            at_now.iter().all(|v| s(v, "updatedAt") == old_now.as_str()),
            "{feed}"
        );
    }
    h.advance(3);
    assert_eq!(h.now(), now() + chrono::Duration::days(3));
    let after_counts = h.truth().counts;
    let mut new_total = 0;
    for feed in FEEDS {
        let all = pass(&r, feed, None, 1000).await;
        let inc = pass(&r, feed, Some(&old_now), 100).await;
        let inc_ids: HashSet<&str> = inc.iter().map(|v| s(v, "id")).collect();
        let old = &before[feed];
        for v in &inc {
            assert!(s(v, "updatedAt") >= old_now.as_str());
            let unchanged = old.get(s(v, "id")) == Some(v);
            assert!(
                !unchanged || s(v, "updatedAt") == old_now.as_str(),
                "{feed}: unchanged item {v}"
            );
        }
        for v in &all {
            let fresh = old.get(s(v, "id")) != Some(v);
            if fresh {
                assert!(
                    inc_ids.contains(s(v, "id")),
                    "{feed}: new or changed item missed: {v}"
                );
            } else {
                assert_eq!(
                    inc_ids.contains(s(v, "id")),
                    s(v, "updatedAt") == old_now.as_str(),
                    "{feed}: {v}"
                );
            }
            if fresh && !old.contains_key(s(v, "id")) {
                new_total += 1;
            }
        }
        assert_eq!(all.len(), after_counts[feed]);
    }
    assert!(after_counts["content-interactions"] > before_counts["content-interactions"]);
    assert!(after_counts["assessment-attempts"] >= before_counts["assessment-attempts"]);
    assert!(new_total > 10);
    // Changed enrolments moved forward.
    let changed = pass(&r, "enrolments", Some(&old_now), 500).await;
    assert!(!changed.is_empty());
    // And over HTTP.
    let (status, body) = call(
        &r,
        "POST",
        "/_sim/advance",
        None,
        Some(serde_json::json!({"days": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json(&body)["now"],
        model::fmt_ts((now() + chrono::Duration::days(5)).timestamp())
    );
    let (status, body) = call(&r, "GET", "/_sim/truth", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let truth = json(&body);
    assert_eq!(truth["counts"]["users"], after_counts["users"]);
    assert!(truth["personas"].as_object().expect("personas").len() >= 40);
}

#[tokio::test]
async fn faults_do_what_they_say() {
    let h = sim(4, Scale::Small);
    let r = h.router();
    let enrolments = "/course-builder/api/v1/enrolments?limit=20";
    let before = h.requests("course-builder");
    // down
    h.set_faults(
        "course-builder",
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    for _ in 0..3 {
        let (status, body) = get(&r, enrolments).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(&body)["error"], "SERVICE_UNAVAILABLE");
    }
    assert_eq!(h.requests("course-builder"), before + 3);
    // Other services are not affected.
    assert_eq!(get(&r, "/directory/api/v1/users").await.0, StatusCode::OK);
    // error rate
    h.set_faults(
        "course-builder",
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    assert_eq!(get(&r, enrolments).await.0, StatusCode::SERVICE_UNAVAILABLE);
    h.set_faults(
        "course-builder",
        Faults {
            error_rate: 0.5,
            ..Faults::default()
        },
    );
    let mut failures = 0;
    for _ in 0..200 {
        if get(&r, enrolments).await.0 == StatusCode::SERVICE_UNAVAILABLE {
            failures += 1;
        }
    }
    assert!((60..=140).contains(&failures), "{failures} failures of 200");
    // latency
    h.set_faults(
        "course-builder",
        Faults {
            latency_ms: 150,
            ..Faults::default()
        },
    );
    let t = Instant::now();
    assert_eq!(get(&r, enrolments).await.0, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(150));
    // malformed
    let set = |m| {
        h.set_faults(
            "course-builder",
            Faults {
                malformed: Some(m),
                ..Faults::default()
            },
        )
    };
    set(Malformed::Truncated);
    let (status, body) = get(&r, enrolments).await;
    assert_eq!(status, StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    set(Malformed::MissingField);
    let page = json(&get(&r, enrolments).await.1);
    assert!(page["items"][0].get("status").is_none());
    assert!(page["items"][1].get("status").is_some());
    set(Malformed::WrongType);
    let page = json(&get(&r, enrolments).await.1);
    assert!(page["items"][0]["progress"].is_string());
    set(Malformed::OutOfRange);
    let page = json(&get(&r, enrolments).await.1);
    assert_eq!(page["items"][0]["progress"], 1.7);
    set(Malformed::UnknownReference);
    let page = json(&get(&r, enrolments).await.1);
    let course = s(&page["items"][0], "courseId").to_owned();
    assert!(
        h.org()
            .courses
            .served()
            .iter()
            .all(|c| c.id.to_string() != course)
    );
    set(Malformed::Duplicate);
    let page = json(&get(&r, enrolments).await.1);
    assert_eq!(page["items"].as_array().expect("items").len(), 21);
    assert_eq!(page["items"][0], page["items"][1]);
    // Attempts: a score above maxScore.
    h.set_faults(
        "assessment",
        Faults {
            malformed: Some(Malformed::OutOfRange),
            ..Faults::default()
        },
    );
    let page = json(
        &get(&r, "/assessment/api/v1/assessment-attempts?limit=3")
            .await
            .1,
    );
    assert!(n(&page["items"][0], "score") > 100.0);
    // Every feed is corrupted by every mode without breaking the JSON.
    for m in [
        Malformed::MissingField,
        Malformed::WrongType,
        Malformed::OutOfRange,
        Malformed::UnknownReference,
        Malformed::Duplicate,
    ] {
        for feed in FEEDS {
            let service = service_of(feed);
            h.set_faults(
                service,
                Faults {
                    malformed: Some(m),
                    ..Faults::default()
                },
            );
            let (status, body) = get(&r, &format!("/{service}/api/v1/{feed}?limit=5")).await;
            assert_eq!(status, StatusCode::OK);
            let page = json(&body);
            h.set_faults(service, Faults::default());
            let clean = json(
                &get(&r, &format!("/{service}/api/v1/{feed}?limit=5"))
                    .await
                    .1,
            );
            let (bad, good) = (&page["items"], &clean["items"]);
            if m == Malformed::Duplicate {
                assert_eq!(bad[0], bad[1], "{feed}");
                assert_eq!(
                    bad.as_array().map(Vec::len),
                    good.as_array().map(|a| a.len() + 1)
                );
            } else if !(m == Malformed::UnknownReference && feed == "organizations") {
                assert_ne!(bad[0], good[0], "{feed} {m:?} not corrupted");
                assert_eq!(bad[1], good[1], "{feed} {m:?}: only the first item");
            }
        }
    }
    // Over HTTP, then back to normal.
    let (status, _) = call(
        &r,
        "PUT",
        "/_sim/faults/devlab",
        None,
        Some(
            serde_json::json!({"latencyMs": 0, "errorRate": 0.0, "down": true, "malformed": null}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(&r, "/devlab/api/v1/lab-sessions").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, _) = call(
        &r,
        "PUT",
        "/_sim/faults/devlab",
        None,
        Some(serde_json::json!({"malformed": "wrong-type"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = json(&get(&r, "/devlab/api/v1/lab-sessions").await.1);
    assert!(page["items"][0]["attempts"].is_string());
    let (status, _) = call(
        &r,
        "PUT",
        "/_sim/faults/devlab",
        None,
        Some(serde_json::json!({"errorRate": 2.0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &r,
        "PUT",
        "/_sim/faults/nowhere",
        None,
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &r,
        "PUT",
        "/_sim/faults/devlab",
        None,
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(&r, "/devlab/api/v1/lab-sessions").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn learner_ai_serves_recommendations() {
    let h = sim(6, Scale::Small);
    let r = h.router();
    let learner = h
        .org()
        .users
        .served()
        .iter()
        .find(|u| u.email == "learner@demo.lumen.test")
        .expect("demo learner")
        .id;
    let uri = format!("/learner-ai/api/v1/learners/{learner}/recommendations");
    let (status, body) = get(&r, &uri).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["learnerId"], learner.to_string());
    assert!(is_timestamp(s(&v, "generatedAt")));
    let recs = v["recommendations"].as_array().expect("recommendations");
    assert!(!recs.is_empty() && recs.len() <= 10);
    for rec in recs {
        let org = h.org();
        assert!(
            ["course", "content", "skill", "lab", "assessment", "other"].contains(&s(rec, "type"))
        );
        assert!(["high", "medium", "low"].contains(&s(rec, "priority")));
        assert!((0.0..=1.0).contains(&n(rec, "confidence")));
        assert!(!s(rec, "title").is_empty() && !s(rec, "reason").is_empty());
        if let Some(c) = rec["courseId"].as_str() {
            assert!(org.courses.served().iter().any(|x| x.id.to_string() == c));
        }
        if let Some(i) = rec["contentItemId"].as_str() {
            assert!(
                org.content_items
                    .served()
                    .iter()
                    .any(|x| x.id.to_string() == i)
            );
        }
        if let Some(k) = rec["skillId"].as_str() {
            assert!(org.skills.served().iter().any(|x| x.id.to_string() == k));
        }
    }
    assert_eq!(get(&r, &uri).await.1, body, "deterministic");
    let (_, body) = get(&r, &format!("{uri}?limit=1")).await;
    assert_eq!(
        json(&body)["recommendations"]
            .as_array()
            .expect("recs")
            .len(),
        1
    );
    assert_eq!(
        get(&r, &format!("{uri}?limit=51")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, body) = get(
        &r,
        &format!(
            "/learner-ai/api/v1/learners/{}/recommendations",
            Uuid::nil()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body)["error"], "NOT_FOUND");
    assert_eq!(
        call(&r, "GET", &uri, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.requests("learner-ai"), 6);
}

#[tokio::test]
async fn serves_over_a_real_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = sim(2, Scale::Small);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = {
        let h = h.clone();
        tokio::spawn(async move { h.serve(listener).await })
    };
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /auth/api/v1/user-status?limit=3 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8(response).expect("utf-8");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("head") + 4..];
    let page = json(body.as_bytes());
    assert_eq!(page["items"].as_array().expect("items").len(), 3);
    assert!(page["nextCursor"].is_string());
    assert_eq!(h.requests("auth"), 1);
    server.abort();
}

/// Sizes and generation time at each scale; run with
/// `cargo test --release -p lumen --lib simulate -- --ignored --nocapture`
/// (`SIM_SCALES=small,medium` to choose the scales).
#[test]
#[ignore]
fn generation_time_at_each_scale() {
    let scales = std::env::var("SIM_SCALES").unwrap_or_else(|_| "small,medium,large".to_owned());
    for scale in scales.split(',') {
        let scale: Scale = scale.parse().expect("scale");
        let t = Instant::now();
        let h = sim(42, scale);
        let took = t.elapsed();
        let truth = h.truth();
        let total: usize = truth.counts.values().sum();
        println!(
            "{scale}: generated in {took:?}; {total} items served; {:?}",
            truth.counts
        );
        let mut by: BTreeMap<(Persona, &str), usize> = BTreeMap::new();
        for p in &h.org().plans {
            if let Some(outcome) = truth.outcomes.get(&p.id.to_string()) {
                let persona = truth.personas[&p.user.to_string()];
                *by.entry((persona, outcome.as_str())).or_default() += 1;
            }
        }
        println!("{scale}: eventual outcomes by persona {by:?}");
        let t = Instant::now();
        h.advance(3);
        println!("{scale}: advance(3) in {:?}", t.elapsed());
        if scale == Scale::Small {
            let org = h.org();
            for (feed, items) in served_json(&org) {
                println!("{feed}: {}", items[items.len() / 2]);
            }
        }
    }
}
