//! The store test suite, run against SQLite and PostgreSQL alike: every
//! test below runs once per backend, each on its own fresh database.

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use lumen::store::{ConflictKind, RecordCounts, Store, StoreError};
use lumen_core::Role;
use lumen_core::model::{
    Course, CourseStatus, Department, Enrolment, EnrolmentStatus, Organization, Origin, Outcome,
    User,
};
use support::on_both_databases;
use uuid::Uuid;

on_both_databases!(
    |db| db.store();
    migrations_can_run_again_without_effect,
    an_organization_round_trips,
    upserting_the_same_record_twice_stores_it_once,
    users_round_trip_with_their_roles_and_are_found_by_email_in_any_case,
    updating_a_user_replaces_their_roles,
    two_users_cannot_share_an_email,
    departments_are_listed_per_organization,
    courses_and_enrolments_round_trip,
    an_invalid_enrolment_is_rejected_and_nothing_is_stored,
    an_enrolment_for_an_unknown_course_is_a_conflict,
    timestamps_keep_microsecond_precision_in_utc,
    an_organisations_records_load_without_any_other_organisations,
    the_records_version_moves_with_every_write_of_records,
    concurrent_schedules_of_one_owner_stay_within_the_cap,
);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 1, 8, 0, 0)
        .single()
        .expect("valid date")
}

fn org(name: &str) -> Organization {
    let origin = Origin::new("directory", name);
    Organization {
        id: origin.record_id("organization"),
        origin: Some(origin),
        name: name.to_owned(),
        leaderboard_names: false,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn user(org: &Organization, email: &str, roles: &[Role]) -> User {
    let origin = Origin::new("directory", email);
    User {
        id: origin.record_id("user"),
        organization_id: org.id,
        department_id: None,
        origin: Some(origin),
        email: email.to_owned(),
        full_name: format!("Person {email}"),
        job_role: Some("engineer".into()),
        time_zone: "Europe/London".into(),
        avatar_url: None,
        leaderboard_opt_out: false,
        roles: roles.to_vec(),
        last_login_at: None,
        created_at: t0(),
        updated_at: t0(),
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
        starts_at: Some(t0()),
        length_days: Some(90),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn enrolment(user: &User, course: &Course) -> Enrolment {
    Enrolment {
        id: Uuid::new_v4(),
        user_id: user.id,
        course_id: course.id,
        origin: None,
        status: EnrolmentStatus::Active,
        outcome: None,
        progress: 0.25,
        enrolled_at: t0(),
        started_at: Some(t0() + Duration::days(1)),
        last_active_at: Some(t0() + Duration::days(10)),
        completed_at: None,
        withdrawn_at: None,
        updated_at: t0(),
    }
}

async fn seeded(store: &Store) -> (Organization, User, Course) {
    let o = org("Acme");
    store.upsert_organization(&o).await.expect("org");
    let u = user(&o, "ada@acme.test", &[Role::Learner]);
    store.upsert_user(&u).await.expect("user");
    let c = course(&o, "Rust 101");
    store.upsert_course(&c).await.expect("course");
    (o, u, c)
}

async fn migrations_can_run_again_without_effect(store: Store) {
    seeded(&store).await;
    store.migrate().await.expect("second migrate is a no-op");
    assert_eq!(store.record_counts().await.expect("counts").users, 1);
}

async fn an_organization_round_trips(store: Store) {
    let o = org("Acme");
    store.upsert_organization(&o).await.expect("insert");
    assert_eq!(store.organization(o.id).await.expect("read"), Some(o));
    assert_eq!(
        store.organization(Uuid::new_v4()).await.expect("read"),
        None
    );
}

async fn upserting_the_same_record_twice_stores_it_once(store: Store) {
    let (o, u, c) = seeded(&store).await;
    let mut renamed = o.clone();
    renamed.name = "Acme Ltd".into();
    renamed.updated_at = t0() + Duration::hours(1);
    store.upsert_organization(&renamed).await.expect("again");
    store.upsert_user(&u).await.expect("again");
    store.upsert_course(&c).await.expect("again");
    let e = enrolment(&u, &c);
    store.upsert_enrolment(&e).await.expect("enrol");
    store.upsert_enrolment(&e).await.expect("enrol again");
    assert_eq!(
        store.record_counts().await.expect("counts"),
        RecordCounts {
            organizations: 1,
            users: 1,
            courses: 1,
            enrolments: 1
        }
    );
    assert_eq!(
        store
            .organization(o.id)
            .await
            .expect("read")
            .map(|o| o.name),
        Some("Acme Ltd".into())
    );
}

async fn users_round_trip_with_their_roles_and_are_found_by_email_in_any_case(store: Store) {
    let o = org("Acme");
    store.upsert_organization(&o).await.expect("org");
    let mut u = user(&o, "Multi@Acme.test", &[Role::Learner, Role::Trainer]);
    u.last_login_at = Some(t0() + Duration::minutes(5));
    store.upsert_user(&u).await.expect("user");
    assert_eq!(store.user(u.id).await.expect("read"), Some(u.clone()));
    assert_eq!(
        store.user_by_email("multi@acme.TEST").await.expect("read"),
        Some(u)
    );
    assert_eq!(
        store.user_by_email("nobody@acme.test").await.expect("read"),
        None
    );
}

async fn updating_a_user_replaces_their_roles(store: Store) {
    let (_, mut u, _) = seeded(&store).await;
    u.roles = vec![Role::OrgAdmin, Role::Trainer];
    store.upsert_user(&u).await.expect("update");
    let roles = store.user(u.id).await.expect("read").map(|u| u.roles);
    assert_eq!(roles, Some(vec![Role::Trainer, Role::OrgAdmin]));
}

async fn two_users_cannot_share_an_email(store: Store) {
    let (o, u, _) = seeded(&store).await;
    let mut other = user(&o, "someone@acme.test", &[Role::Learner]);
    other.email = u.email.to_uppercase();
    let err = store
        .upsert_user(&other)
        .await
        .expect_err("duplicate email");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                kind: ConflictKind::Duplicate,
                ..
            }
        ),
        "{err:?}"
    );
    // The failed write left nothing behind, not even roles.
    assert_eq!(store.user(other.id).await.expect("read"), None);
    assert_eq!(store.record_counts().await.expect("counts").users, 1);
}

async fn departments_are_listed_per_organization(store: Store) {
    let a = org("Acme");
    let b = org("Globex");
    store.upsert_organization(&a).await.expect("org");
    store.upsert_organization(&b).await.expect("org");
    let dept = |o: &Organization, name: &str, parent: Option<Uuid>| Department {
        id: Uuid::new_v4(),
        organization_id: o.id,
        parent_id: parent,
        origin: None,
        name: name.to_owned(),
        created_at: t0(),
        updated_at: t0(),
    };
    let eng = dept(&a, "Engineering", None);
    let platform = dept(&a, "Platform", Some(eng.id));
    store.upsert_department(&eng).await.expect("dept");
    store.upsert_department(&platform).await.expect("dept");
    store
        .upsert_department(&dept(&b, "Sales", None))
        .await
        .expect("dept");
    let names: Vec<_> = store
        .departments(a.id)
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["Engineering", "Platform"]);
    assert_eq!(
        store.departments(a.id).await.expect("list")[1].parent_id,
        Some(eng.id)
    );
}

async fn courses_and_enrolments_round_trip(store: Store) {
    let (o, u, c) = seeded(&store).await;
    assert_eq!(store.course(c.id).await.expect("read"), Some(c.clone()));
    let c2 = course(&o, "Statistics");
    store.upsert_course(&c2).await.expect("course");
    let active = enrolment(&u, &c);
    let mut done = enrolment(&u, &c2);
    done.status = EnrolmentStatus::Completed;
    done.outcome = Some(Outcome::Distinction);
    done.progress = 1.0;
    done.enrolled_at = t0() + Duration::days(2);
    done.started_at = Some(t0() + Duration::days(3));
    done.completed_at = Some(t0() + Duration::days(60));
    store.upsert_enrolment(&active).await.expect("enrol");
    store.upsert_enrolment(&done).await.expect("enrol");
    assert_eq!(
        store.enrolments_of_user(u.id).await.expect("list"),
        vec![active, done]
    );
}

async fn an_invalid_enrolment_is_rejected_and_nothing_is_stored(store: Store) {
    let (_, u, c) = seeded(&store).await;
    let mut e = enrolment(&u, &c);
    e.progress = 1.7;
    let err = store
        .upsert_enrolment(&e)
        .await
        .expect_err("progress out of range");
    assert!(
        matches!(err, StoreError::Invalid(ref r) if r.field == "progress"),
        "{err:?}"
    );
    assert!(
        store
            .enrolments_of_user(u.id)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn an_enrolment_for_an_unknown_course_is_a_conflict(store: Store) {
    let (o, u, _) = seeded(&store).await;
    let ghost = course(&o, "Never stored");
    let err = store
        .upsert_enrolment(&enrolment(&u, &ghost))
        .await
        .expect_err("unknown course");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                kind: ConflictKind::UnknownReference,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn timestamps_keep_microsecond_precision_in_utc(store: Store) {
    let mut o = org("Acme");
    o.created_at = Utc
        .timestamp_opt(1_760_000_000, 123_456_000)
        .single()
        .expect("valid");
    store.upsert_organization(&o).await.expect("insert");
    let read = store
        .organization(o.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read.created_at, o.created_at);
}

async fn an_organisations_records_load_without_any_other_organisations(store: Store) {
    let (a, ua, ca) = seeded(&store).await;
    let b = org("Globex");
    store.upsert_organization(&b).await.expect("org");
    let ub = user(&b, "bo@globex.test", &[Role::Learner]);
    store.upsert_user(&ub).await.expect("user");
    let cb = course(&b, "Globex course");
    store.upsert_course(&cb).await.expect("course");
    store
        .upsert_enrolment(&enrolment(&ua, &ca))
        .await
        .expect("enrol");
    store
        .upsert_enrolment(&enrolment(&ub, &cb))
        .await
        .expect("enrol");
    store
        .add_course_trainer(cb.id, ub.id)
        .await
        .expect("trainer");

    let records = store.load_records(a.id).await.expect("load");
    assert_eq!(records.organization.map(|o| o.id), Some(a.id));
    assert_eq!(
        records.users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![ua.id]
    );
    assert_eq!(
        records.courses.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ca.id]
    );
    assert_eq!(records.enrolments.len(), 1);
    assert_eq!(records.enrolments[0].user_id, ua.id);
    assert!(records.course_trainers.is_empty());
    let other = store.load_records(b.id).await.expect("load");
    assert_eq!(other.course_trainers, vec![(cb.id, ub.id)]);
}

/// Issue 19: every write of records moves the records version on (results
/// computed from older records are then out of date); a failed or refused
/// write and a dry run do not.
async fn the_records_version_moves_with_every_write_of_records(store: Store) {
    use lumen::store::import::Commit;
    use lumen_core::model::{Change, Record};
    let start = store.records_version().await.expect("version");
    let o = org("Versioned");
    store.upsert_organization(&o).await.expect("org");
    let v1 = store.records_version().await.expect("version");
    assert!(v1 > start);
    let u = user(&o, "v@x.test", &[Role::Learner]);
    store
        .apply(&[Change::Upsert(Record::User(u.clone()))])
        .await
        .expect("apply");
    let v2 = store.records_version().await.expect("version");
    assert!(v2 > v1);
    // A refused write changes nothing.
    let mut orphan = user(&o, "orphan@x.test", &[Role::Learner]);
    orphan.organization_id = Uuid::new_v4();
    assert!(
        store
            .apply(&[Change::Upsert(Record::User(orphan.clone()))])
            .await
            .is_err()
    );
    assert_eq!(store.records_version().await.expect("version"), v2);
    // An import: a dry run and an all-refused batch change nothing; stored
    // records do.
    let other = user(&o, "w@x.test", &[Role::Learner]);
    let refused = store
        .import_records(&[Record::User(other.clone())], Commit::Never)
        .await
        .expect("dry run");
    assert!(refused.is_empty());
    assert_eq!(store.records_version().await.expect("version"), v2);
    let refused = store
        .import_records(&[Record::User(orphan)], Commit::Accepted)
        .await
        .expect("import");
    assert_eq!(refused.len(), 1);
    assert_eq!(store.records_version().await.expect("version"), v2);
    store
        .import_records(&[Record::User(other)], Commit::Accepted)
        .await
        .expect("import");
    assert!(store.records_version().await.expect("version") > v2);
}

/// Twelve schedules added at once by one owner with a cap of 3: exactly
/// three are added, on both databases (the count and the insert cannot
/// interleave between two requests).
async fn concurrent_schedules_of_one_owner_stay_within_the_cap(store: Store) {
    let (_, owner, _) = seeded(&store).await;
    let mut adds = tokio::task::JoinSet::new();
    for n in 0..12 {
        let store = store.clone();
        let row = lumen::store::ScheduleRow {
            id: Uuid::new_v4(),
            owner_id: owner.id,
            name: format!("schedule {n}"),
            cron: "0 7 * * 1".into(),
            report_type: "learner".into(),
            format: "csv".into(),
            time_range: "30d".into(),
            analytics: "[]".into(),
            created_at: t0(),
            organization_id: Some(owner.organization_id),
        };
        adds.spawn(async move { store.add_report_schedule_within(&row, 3).await });
    }
    let mut added = 0;
    while let Some(result) = adds.join_next().await {
        if result.expect("task").expect("no store error") {
            added += 1;
        }
    }
    assert_eq!(added, 3);
    assert_eq!(
        store
            .report_schedules_of(owner.id)
            .await
            .expect("read")
            .len(),
        3
    );
}
