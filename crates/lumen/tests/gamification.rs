//! Gamification over HTTP on both databases: a learner's stats, badges and
//! streak from hand-made records, and leaderboards with opt-out, name
//! masking, scopes, validation and no other organisation's people. The
//! rules themselves are tested against hand-computed fixtures in
//! `lumen-core` (`gamification::tests`).

mod support;

use axum::Router;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use lumen_core::Role;
use lumen_core::model::{
    Change, ContentInteraction, ContentItem, ContentType, Course, CourseStatus, Department,
    Organization, Origin, Record, User,
};
use serde_json::{Value, json};
use support::client::Call;
use support::on_both_databases;
use support::{TestDb, test_app, test_config, token_for};
use uuid::Uuid;

on_both_databases!(
    stats_badges_and_streaks_of_a_learner,
    leaderboards_respect_privacy_and_organisations,
);

fn org(name: &str) -> Organization {
    let origin = Origin::new("directory", name);
    Organization {
        id: origin.record_id("organization"),
        origin: Some(origin),
        name: name.to_owned(),
        leaderboard_names: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn person(org: &Organization, dept: Option<Uuid>, email: &str, role: Role, tz: &str) -> User {
    let origin = Origin::new("directory", email);
    User {
        id: origin.record_id("user"),
        organization_id: org.id,
        department_id: dept,
        origin: Some(origin),
        email: email.to_owned(),
        full_name: format!("Name of {email}"),
        job_role: None,
        time_zone: tz.to_owned(),
        avatar_url: None,
        leaderboard_opt_out: false,
        roles: vec![role],
        last_login_at: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn course(org: &Organization, title: &str) -> Course {
    let origin = Origin::new("course-builder", title);
    Course {
        id: origin.record_id("course"),
        organization_id: org.id,
        origin: Some(origin),
        title: title.to_owned(),
        status: CourseStatus::Published,
        starts_at: None,
        length_days: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn item(course: &Course, n: u32) -> ContentItem {
    let origin = Origin::new("content-studio", format!("{}-{n}", course.title));
    ContentItem {
        id: origin.record_id("content"),
        course_id: course.id,
        unit_id: None,
        origin: Some(origin),
        title: format!("Item {n}"),
        content_type: ContentType::Reading,
        duration_seconds: Some(300),
    }
}

fn done(user: &User, item: &ContentItem, at: DateTime<Utc>) -> Record {
    Record::ContentInteraction(ContentInteraction {
        id: Uuid::new_v4(),
        user_id: user.id,
        content_item_id: item.id,
        origin: None,
        occurred_at: at,
        time_spent_seconds: Some(300),
        clicks: 2,
        completed: true,
    })
}

struct World {
    app: Router,
    org_a: Organization,
    dept: Department,
    /// 3 items on two days: 15 + 2 streak days × 5 = 25 points.
    l1: User,
    /// 1 item: 5 + 5 = 10 points.
    l2: User,
    /// Nothing: 0 points.
    l3: User,
    admin: User,
    /// Org B: many points, never on org A's boards.
    other: User,
    other_course: Course,
    course_a: Course,
}

async fn world(db: &TestDb) -> World {
    let store = db.store();
    let now = Utc::now().trunc_subsecs(0);
    let org_a = org("Org A");
    let org_b = org("Org B");
    let dept = Department {
        id: Uuid::new_v4(),
        organization_id: org_a.id,
        parent_id: None,
        origin: None,
        name: "Data".into(),
        created_at: now,
        updated_at: now,
    };
    let l1 = person(
        &org_a,
        Some(dept.id),
        "l1@a.test",
        Role::Learner,
        "America/New_York",
    );
    let l2 = person(
        &org_a,
        Some(dept.id),
        "l2@a.test",
        Role::Learner,
        "Europe/Paris",
    );
    let l3 = person(&org_a, None, "l3@a.test", Role::Learner, "UTC");
    let admin = person(&org_a, None, "admin@a.test", Role::OrgAdmin, "UTC");
    let other = person(&org_b, None, "other@b.test", Role::Learner, "UTC");
    let course_a = course(&org_a, "A course");
    let other_course = course(&org_b, "B course");
    let items_a: Vec<ContentItem> = (0..3).map(|n| item(&course_a, n)).collect();
    let items_b: Vec<ContentItem> = (0..10).map(|n| item(&other_course, n)).collect();
    let mut changes: Vec<Record> = vec![
        Record::Organization(org_a.clone()),
        Record::Organization(org_b.clone()),
        Record::Department(dept.clone()),
    ];
    for u in [&l1, &l2, &l3, &admin, &other] {
        changes.push(Record::User(u.clone()));
    }
    changes.push(Record::Course(course_a.clone()));
    changes.push(Record::Course(other_course.clone()));
    changes.extend(items_a.iter().cloned().map(Record::ContentItem));
    changes.extend(items_b.iter().cloned().map(Record::ContentItem));
    let two_days_ago = now - Duration::days(2);
    let yesterday = now - Duration::days(1);
    changes.push(done(&l1, &items_a[0], two_days_ago));
    changes.push(done(&l1, &items_a[1], two_days_ago));
    changes.push(done(&l1, &items_a[2], yesterday));
    changes.push(done(&l1, &items_a[2], yesterday)); // a repeat: nothing
    changes.push(done(&l2, &items_a[0], yesterday));
    for i in &items_b {
        changes.push(done(&other, i, yesterday));
    }
    let changes: Vec<Change> = changes.into_iter().map(Change::Upsert).collect();
    store.apply(&changes).await.expect("seed");
    let (app, _) = test_app(
        lumen::Config {
            rate_limits_enabled: false,
            ..test_config(db)
        },
        db,
    );
    World {
        app,
        org_a,
        dept,
        l1,
        l2,
        l3,
        admin,
        other,
        other_course,
        course_a,
    }
}

async fn get(w: &World, db: &TestDb, who: &User, uri: &str) -> (StatusCode, Value) {
    let token = token_for(&db.store(), who).await;
    let reply = Call::get(uri).token(&token).send(&w.app).await;
    (reply.status, reply.body)
}

async fn stats_badges_and_streaks_of_a_learner(db: &TestDb) {
    let w = world(db).await;
    let l1 = w.l1.id;
    let (status, body) = get(&w, db, &w.l1, &format!("/api/v1/gamification/stats/{l1}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for key in ["cached", "stale", "dataSource", "lastUpdated", "expiresAt"] {
        assert!(body.get(key).is_some(), "envelope lacks {key}: {body}");
    }
    let data = &body["data"];
    assert_eq!(data["totalPoints"], 25);
    assert_eq!(data["pointsLast7Days"], 25);
    assert_eq!(data["level"]["number"], 1);
    assert_eq!(data["currentStreak"], 2);
    let content = data["byAction"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["action"] == "content-completed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (content["count"].clone(), content["points"].clone()),
        (json!(3), json!(15))
    );

    let (status, body) = get(
        &w,
        db,
        &w.l1,
        &format!("/api/v1/gamification/achievements/{l1}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let earned: Vec<&str> = body["data"]["earned"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(earned, vec!["first-steps"]);
    assert!(
        body["data"]["next"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    );

    let (status, body) = get(&w, db, &w.l1, &format!("/api/v1/gamification/streak/{l1}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["timeZone"], "America/New_York");
    assert_eq!(
        (
            body["data"]["current"].clone(),
            body["data"]["longest"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(body["data"]["calendar"].as_array().map(Vec::len), Some(28));

    // Scoping: another learner may not look; the org admin may; another
    // organisation's admin may not.
    let (status, _) = get(&w, db, &w.l2, &format!("/api/v1/gamification/stats/{l1}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = get(
        &w,
        db,
        &w.admin,
        &format!("/api/v1/gamification/streak/{l1}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = w.other.id;
    let (status, _) = get(
        &w,
        db,
        &w.admin,
        &format!("/api/v1/gamification/stats/{other}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = get(
        &w,
        db,
        &w.l3,
        &format!("/api/v1/gamification/stats/{}", w.l3.id),
    )
    .await;
    assert_eq!(
        (status, body["data"]["totalPoints"].clone()),
        (StatusCode::OK, json!(0))
    );
}

fn ids(board: &Value) -> Vec<Value> {
    board["entries"]
        .as_array()
        .map(|a| a.iter().map(|e| e["userId"].clone()).collect())
        .unwrap_or_default()
}

async fn leaderboards_respect_privacy_and_organisations(db: &TestDb) {
    let w = world(db).await;
    let board = "/api/v1/gamification/leaderboard";
    let (status, body) = get(&w, db, &w.l2, board).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lb = &body["data"];
    assert_eq!(lb["participants"], 3, "org A's three learners only: {lb}");
    assert_eq!(lb["namesVisible"], false);
    let rows: Vec<(Value, Value, Value, Value)> = lb["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["rank"].clone(),
                        e["points"].clone(),
                        e["userId"].clone(),
                        e["name"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        rows,
        vec![
            (json!(1), json!(25), Value::Null, Value::Null),
            (
                json!(2),
                json!(10),
                json!(w.l2.id),
                json!("Name of l2@a.test")
            ),
            (json!(3), json!(0), Value::Null, Value::Null),
        ]
    );
    assert_eq!(lb["me"]["rank"], 2);

    // l1 opts out: gone from everyone's board, still sees their own points.
    let token = token_for(&db.store(), &w.l1).await;
    let reply = Call::new(Method::PUT, "/api/v1/gamification/preferences").token(&token);
    let reply = Call {
        body: Some(json!({"leaderboardOptOut": true})),
        ..reply
    }
    .send(&w.app)
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (_, prefs) = get(&w, db, &w.l1, "/api/v1/gamification/preferences").await;
    assert_eq!(prefs["leaderboardOptOut"], true);
    let (_, body) = get(&w, db, &w.l2, board).await;
    assert_eq!(body["data"]["participants"], 2);
    assert_eq!(body["data"]["me"]["rank"], 1);
    let (_, body) = get(&w, db, &w.l1, board).await;
    let me = &body["data"]["me"];
    assert_eq!(
        (
            me["rank"].clone(),
            me["points"].clone(),
            me["optedOut"].clone()
        ),
        (Value::Null, json!(25), json!(true))
    );
    assert!(!ids(&body["data"]).contains(&json!(w.l1.id)));

    // Names shown once the organisation enables them; never org B's people.
    let mut named = w.org_a.clone();
    named.leaderboard_names = true;
    db.store().upsert_organization(&named).await.expect("org");
    let (_, body) = get(&w, db, &w.l2, &format!("{board}?window=all-time&limit=100")).await;
    let shown = ids(&body["data"]);
    assert_eq!(shown, vec![json!(w.l2.id), json!(w.l3.id)]);
    assert!(!body.to_string().contains(&w.other.id.to_string()));
    assert!(!body.to_string().contains("other@b.test"));

    // Scopes: the caller's department by default; a course of the organisation.
    let (status, body) = get(&w, db, &w.l2, &format!("{board}?scope=department")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["scope"],
        json!({"kind": "department", "id": w.dept.id})
    );
    assert_eq!(body["data"]["participants"], 1); // l1 opted out, l3 in none
    let (status, body) = get(
        &w,
        db,
        &w.l2,
        &format!("{board}?scope=course&courseId={}", w.course_a.id),
    )
    .await;
    assert_eq!(
        (status, body["data"]["participants"].clone()),
        (StatusCode::OK, json!(0))
    );
    // Another organisation's course or department: refused.
    let (status, _) = get(
        &w,
        db,
        &w.l2,
        &format!("{board}?scope=course&courseId={}", w.other_course.id),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(
        &w,
        db,
        &w.l2,
        &format!("{board}?scope=department&departmentId={}", Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bad input is a 400 naming the field.
    for (query, field) in [
        ("window=year", "window"),
        ("scope=galaxy", "scope"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("scope=course", "courseId"),
        ("scope=course&courseId=nope", "courseId"),
    ] {
        let (status, body) = get(&w, db, &w.l2, &format!("{board}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "VALIDATION_ERROR");
        assert!(body["validation"].get(field).is_some(), "{query}: {body}");
    }
    // l3 has no department: the default department scope needs an id.
    let (status, body) = get(&w, db, &w.l3, &format!("{board}?scope=department")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A preferences body of the wrong shape is a 400.
    let token = token_for(&db.store(), &w.l2).await;
    let reply = Call {
        body: Some(json!({"leaderboardOptOut": "yes"})),
        ..Call::new(Method::PUT, "/api/v1/gamification/preferences").token(&token)
    }
    .send(&w.app)
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
}
