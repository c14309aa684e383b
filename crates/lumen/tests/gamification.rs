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
    Enrolment, EnrolmentStatus, Organization, Origin, Record, User,
};
use serde_json::{Value, json};
use support::client::Call;
use support::on_both_databases;
use support::{TestDb, test_app, test_config, token_for};

use lumen::AppState;
use lumen::config::{Config, Secret};
use lumen::jobs::{BatchPayload, JobKind, JobState};
use uuid::Uuid;

on_both_databases!(
    stats_badges_and_streaks_of_a_learner,
    leaderboards_respect_privacy_and_organisations,
    gamification_is_served_from_the_cache_layers,
    opting_out_takes_effect_at_once_on_every_instance,
    the_daily_batch_and_a_learners_refresh_precompute_gamification,
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
    state: AppState,
    org_a: Organization,
    dept: Department,
    /// 3 items on two days: 15 + 2 streak days × 5 = 25 points.
    l1: User,
    /// 1 item: 5 + 5 = 10 points.
    l2: User,
    /// Nothing: 0 points.
    l3: User,
    admin: User,
    /// Teaches `course_a`; l1 is enrolled in it.
    trainer: User,
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
    let trainer = person(&org_a, None, "trainer@a.test", Role::Trainer, "UTC");
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
    for u in [&l1, &l2, &l3, &admin, &trainer, &other] {
        changes.push(Record::User(u.clone()));
    }
    changes.push(Record::Course(course_a.clone()));
    changes.push(Record::Course(other_course.clone()));
    changes.push(Record::CourseTrainer {
        course_id: course_a.id,
        trainer_id: trainer.id,
    });
    changes.push(Record::Enrolment(Enrolment {
        id: Uuid::new_v4(),
        user_id: l1.id,
        course_id: course_a.id,
        origin: None,
        status: EnrolmentStatus::Active,
        outcome: None,
        progress: 0.5,
        enrolled_at: now - Duration::days(3),
        started_at: Some(now - Duration::days(3)),
        last_active_at: Some(now - Duration::days(1)),
        completed_at: None,
        withdrawn_at: None,
        updated_at: now - Duration::days(1),
    }));
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
    let (app, state) = test_app(
        lumen::Config {
            rate_limits_enabled: false,
            ..test_config(db)
        },
        db,
    );
    World {
        app,
        state,
        org_a,
        dept,
        l1,
        l2,
        l3,
        admin,
        trainer,
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
    // A course board (issue 15 #11): for its enrolled learners, its
    // trainers and the organisation's admins; not for another learner of
    // the organisation.
    let course_board = format!("{board}?scope=course&courseId={}", w.course_a.id);
    let (status, body) = get(&w, db, &w.l2, &course_board).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "l2 is not enrolled: {body}");
    for who in [&w.l1, &w.trainer, &w.admin] {
        let (status, body) = get(&w, db, who, &course_board).await;
        // l1, its one learner, opted out above.
        assert_eq!(
            (status, body["data"]["participants"].clone()),
            (StatusCode::OK, json!(0)),
            "{}: {body}",
            who.email
        );
    }
    let (_, body) = get(&w, db, &w.l1, &course_board).await;
    assert_eq!(
        (
            body["data"]["me"]["inScope"].clone(),
            body["data"]["me"]["points"].clone()
        ),
        (json!(true), json!(25))
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
        // Issue 13 #4: a bad id is refused whatever the scope, never ignored.
        ("departmentId=not-a-uuid", "departmentId"),
        ("scope=department&departmentId=42", "departmentId"),
        ("courseId=not-a-uuid", "courseId"),
        ("page=0", "page"),
        ("page=x", "page"),
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

/// A GET as `who` on `app`, with `If-None-Match` when given.
async fn get_on(
    app: &Router,
    db: &TestDb,
    who: &User,
    uri: &str,
    etag: Option<&str>,
) -> support::client::Reply {
    let token = token_for(&db.store(), who).await;
    let call = Call::get(uri).token(&token);
    match etag {
        Some(tag) => call.header("if-none-match", tag).send(app).await,
        None => call.send(app).await,
    }
}

/// A new completed item of `course_a` for `who`, now: the records version
/// moves on, as after a collection or an import.
async fn complete_a_new_item(w: &World, db: &TestDb, who: &User, n: u32) {
    let new_item = item(&w.course_a, n);
    db.store()
        .apply(&[
            Change::Upsert(Record::ContentItem(new_item.clone())),
            Change::Upsert(done(who, &new_item, Utc::now() - Duration::minutes(1))),
        ])
        .await
        .expect("new records");
}

async fn set_opt_out(app: &Router, db: &TestDb, who: &User, out: bool) {
    let token = token_for(&db.store(), who).await;
    let reply = Call {
        body: Some(json!({ "leaderboardOptOut": out })),
        ..Call::new(Method::PUT, "/api/v1/gamification/preferences").token(&token)
    }
    .send(app)
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// Issue 19: every gamification route is a cache hit on its second call,
/// with the analytics' envelope, ETag and 304; a hit in L2 serves a new
/// instance; new records make the results out of date at once.
async fn gamification_is_served_from_the_cache_layers(db: &TestDb) {
    let w = world(db).await;
    let l1 = w.l1.id;
    let stats = format!("/api/v1/gamification/stats/{l1}");
    let board = "/api/v1/gamification/leaderboard";
    // (route, computed by an earlier call of the list)
    let routes = [
        (stats.clone(), false),
        (format!("/api/v1/gamification/achievements/{l1}"), true),
        (format!("/api/v1/gamification/streak/{l1}"), true),
        (board.to_owned(), false),
        // Computed with the week's board: every window of a scope at once.
        (format!("{board}?window=month"), true),
        (format!("{board}?window=all-time&limit=1&page=2"), true),
        (format!("{board}?scope=department"), false),
        (
            format!("{board}?scope=course&courseId={}", w.course_a.id),
            false,
        ),
    ];
    for (uri, computed_before) in &routes {
        let first = get_on(&w.app, db, &w.l1, uri, None).await;
        assert_eq!(first.status, StatusCode::OK, "{uri}: {}", first.body);
        assert_eq!(first.body["cached"], json!(*computed_before), "{uri}");
        let second = get_on(&w.app, db, &w.l1, uri, None).await;
        assert_eq!(second.status, StatusCode::OK, "{uri}: {}", second.body);
        assert_eq!(second.body["cached"], true, "{uri}: a hit the second time");
        assert_eq!(second.body["dataSource"], "cached", "{uri}");
        assert_eq!(second.body["data"], first.body["data"], "{uri}");
        assert_eq!(
            second.body["lastUpdated"], first.body["lastUpdated"],
            "{uri}"
        );
        let etag = second.header("etag").expect("an ETag").to_owned();
        assert_eq!(first.header("etag"), Some(etag.as_str()), "{uri}");
        assert!(
            second
                .header("cache-control")
                .is_some_and(|c| c.starts_with("private, max-age=")),
            "{uri}"
        );
        let not_modified = get_on(&w.app, db, &w.l1, uri, Some(&etag)).await;
        assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(not_modified.bytes.is_empty(), "{uri}: a 304 has no body");
        // `If-None-Match` compares weakly and takes a list or `*`
        // (RFC 9110 §13.1.2); another tag is a full answer.
        let weak = format!("W/{}", etag.trim_start_matches("W/"));
        for tags in [weak, format!("\"other\", {etag}"), "*".to_owned()] {
            let reply = get_on(&w.app, db, &w.l1, uri, Some(&tags)).await;
            assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{uri} {tags}");
        }
        let other = get_on(&w.app, db, &w.l1, uri, Some("\"other\"")).await;
        assert_eq!(other.status, StatusCode::OK, "{uri}");
    }
    // The second page of one entry is the second-ranked learner.
    let page = get_on(
        &w.app,
        db,
        &w.l2,
        &format!("{board}?window=all-time&limit=1&page=2"),
        None,
    )
    .await;
    assert_eq!(page.body["cached"], true);
    let entries = page.body["data"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "{}", page.body);
    assert_eq!(
        (entries[0]["rank"].clone(), entries[0]["isYou"].clone()),
        (json!(2), json!(true))
    );
    // 3 learner results + 3 windows × 3 scopes computed, nothing else.
    assert_eq!(w.state.metrics.computations_total(), 12);

    // Another instance on the same database: its L1 is empty, L2 answers.
    let (other, other_state) = test_app(test_config(db), db);
    let from_l2 = get_on(&other, db, &w.l1, &stats, None).await;
    assert_eq!(from_l2.body["cached"], true, "{}", from_l2.body);
    let from_l2_board = get_on(&other, db, &w.l1, board, None).await;
    assert_eq!(from_l2_board.body["cached"], true, "{}", from_l2_board.body);
    assert_eq!(other_state.metrics.computations_total(), 0);

    // New records (a collection or an import): results of the old records
    // are not served any more; the points are up to date at once.
    let before = get_on(&w.app, db, &w.l1, &stats, None).await;
    assert_eq!(before.body["data"]["totalPoints"], 25);
    complete_a_new_item(&w, db, &w.l1, 10).await;
    let after = get_on(&w.app, db, &w.l1, &stats, None).await;
    assert_eq!(after.body["cached"], false, "{}", after.body);
    // The item (5) and today's streak day (5).
    assert_eq!(after.body["data"]["totalPoints"], 35, "{}", after.body);
    let after = get_on(&other, db, &w.l1, board, None).await;
    assert_eq!(after.body["cached"], false, "{}", after.body);
    assert_eq!(
        after.body["data"]["entries"][0]["points"], 35,
        "{}",
        after.body
    );
    let again = get_on(&w.app, db, &w.l1, board, None).await;
    assert_eq!(again.body["cached"], true, "{}", again.body);
}

/// Issue 19: a leaderboard choice takes effect at once in every
/// leaderboard, cached or not, on every instance (two instances sharing
/// Redis; the board itself stays cached).
async fn opting_out_takes_effect_at_once_on_every_instance(db: &TestDb) {
    if !support::redis_available().await {
        return;
    }
    let w = world(db).await;
    let config = Config {
        rate_limits_enabled: false,
        redis_url: Some(Secret::new(support::redis_url())),
        cache_redis_prefix: format!("lumen-test-{}", Uuid::new_v4().simple()),
        ..test_config(db)
    };
    let (app_a, _a) = test_app(config.clone(), db);
    let (app_b, b) = test_app(config, db);
    let boards = [
        "/api/v1/gamification/leaderboard".to_owned(),
        "/api/v1/gamification/leaderboard?window=all-time&limit=100".to_owned(),
        "/api/v1/gamification/leaderboard?scope=department".to_owned(),
    ];
    let points = |body: &Value| -> Vec<Value> {
        body["data"]["entries"]
            .as_array()
            .map(|a| a.iter().map(|e| e["points"].clone()).collect())
            .unwrap_or_default()
    };
    let mut tags = Vec::new();
    for uri in &boards {
        let on_a = get_on(&app_a, db, &w.l2, uri, None).await;
        assert_eq!(on_a.status, StatusCode::OK, "{}", on_a.body);
        let on_b = get_on(&app_b, db, &w.l2, uri, None).await;
        assert_eq!(
            on_b.body["cached"], true,
            "B reads A's board: {}",
            on_b.body
        );
        assert_eq!(on_b.body["data"], on_a.body["data"]);
        tags.push(on_b.header("etag").expect("etag").to_owned());
    }
    let on_b = get_on(&app_b, db, &w.l2, &boards[0], None).await;
    assert_eq!(points(&on_b.body), vec![json!(25), json!(10), json!(0)]);

    // l1 opts out on A: B's next answers, from the same cached boards, leave
    // l1 out, ranks closed up; an old ETag no longer matches.
    set_opt_out(&app_a, db, &w.l1, true).await;
    for (uri, tag) in boards.iter().zip(&tags) {
        let on_b = get_on(&app_b, db, &w.l2, uri, Some(tag)).await;
        assert_eq!(on_b.status, StatusCode::OK, "{uri}: changed, not a 304");
        assert_eq!(
            on_b.body["cached"], true,
            "{uri}: the board is still cached"
        );
        assert!(
            !points(&on_b.body).contains(&json!(25)),
            "{uri}: l1 is out: {}",
            on_b.body
        );
    }
    let on_b = get_on(&app_b, db, &w.l2, &boards[0], None).await;
    assert_eq!(on_b.body["data"]["participants"], 2);
    assert_eq!(on_b.body["data"]["me"]["rank"], 1);
    let own = get_on(&app_b, db, &w.l1, &boards[0], None).await;
    let me = &own.body["data"]["me"];
    assert_eq!(
        (
            me["rank"].clone(),
            me["points"].clone(),
            me["optedOut"].clone()
        ),
        (Value::Null, json!(25), json!(true))
    );
    // Back in, on B: A shows l1 again at once.
    set_opt_out(&app_b, db, &w.l1, false).await;
    let on_a = get_on(&app_a, db, &w.l2, &boards[0], None).await;
    assert_eq!(points(&on_a.body), vec![json!(25), json!(10), json!(0)]);
    assert_eq!(on_a.body["data"]["participants"], 3);
    assert_eq!(
        b.metrics.computations_total(),
        0,
        "B never computed: choices apply to the cached boards"
    );
}

/// Issue 19: the daily batch precomputes every learner's results and every
/// leaderboard; a learner's refresh recomputes theirs.
async fn the_daily_batch_and_a_learners_refresh_precompute_gamification(db: &TestDb) {
    let w = world(db).await;
    let batch = w
        .state
        .queue
        .enqueue(
            JobKind::Batch(BatchPayload {
                skip_collect: true,
                ..BatchPayload::default()
            })
            .into_job(),
        )
        .await
        .expect("queue")
        .id();
    let finished =
        support::run_until_finished(&w.state, batch, std::time::Duration::from_secs(120)).await;
    assert_eq!(finished.state, JobState::Completed, "{:?}", finished.result);
    let board = "/api/v1/gamification/leaderboard";
    for (who, uri) in [
        (&w.l1, format!("/api/v1/gamification/stats/{}", w.l1.id)),
        (
            &w.l2,
            format!("/api/v1/gamification/achievements/{}", w.l2.id),
        ),
        (&w.l3, format!("/api/v1/gamification/streak/{}", w.l3.id)),
        (&w.l2, board.to_owned()),
        (&w.l2, format!("{board}?scope=department&window=all-time")),
        (
            &w.admin,
            format!("{board}?scope=course&courseId={}", w.course_a.id),
        ),
        (&w.other, board.to_owned()),
    ] {
        let reply = get_on(&w.app, db, who, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        assert_eq!(
            reply.body["cached"], true,
            "{uri}: precomputed: {}",
            reply.body
        );
    }
    assert!(w.state.metrics.computations_total() > 0);
    let served_before = w.state.metrics.computations_total();

    // New records, then the learner's refresh: their results are current
    // and cached again.
    complete_a_new_item(&w, db, &w.l1, 11).await;
    let token = token_for(&db.store(), &w.l1).await;
    let reply = Call {
        body: Some(json!({ "userId": w.l1.id, "role": "learner" })),
        ..Call::new(Method::POST, "/api/v1/analytics/refresh").token(&token)
    }
    .send(&w.app)
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let job: Uuid = reply.body["jobId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("job id");
    let finished =
        support::run_until_finished(&w.state, job, std::time::Duration::from_secs(120)).await;
    assert_eq!(finished.state, JobState::Completed, "{:?}", finished.result);
    let stats = get_on(
        &w.app,
        db,
        &w.l1,
        &format!("/api/v1/gamification/stats/{}", w.l1.id),
        None,
    )
    .await;
    assert_eq!(stats.body["cached"], true, "{}", stats.body);
    assert_eq!(stats.body["data"]["totalPoints"], 35, "{}", stats.body);
    assert!(w.state.metrics.computations_total() > served_before);
}
