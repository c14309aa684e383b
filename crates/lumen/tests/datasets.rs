//! Warm organisation datasets (`lumen::datasets`) on both databases: a
//! second request reuses the loaded dataset, a write of learning records
//! (from any connection to the database) makes the next request load
//! again (and see the write), the memory
//! budget drops the least recently used organisation, concurrent first
//! requests load once, and an unknown organisation is an error.

mod support;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use lumen::datasets::{DatasetError, Datasets, estimated_bytes};
use lumen::store::Store;
use lumen_core::Role;
use lumen_core::model::{Organization, Origin, User};
use support::on_both_databases;
use uuid::Uuid;

on_both_databases!(
    a_warm_dataset_is_reused_until_records_are_written,
    the_budget_drops_the_least_recently_used_organisation,
    concurrent_first_requests_load_once,
    an_unknown_organisation_is_not_kept,
);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
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

fn user(org: &Organization, email: &str) -> User {
    let origin = Origin::new("directory", email);
    User {
        id: origin.record_id("user"),
        organization_id: org.id,
        department_id: None,
        origin: Some(origin),
        email: email.to_owned(),
        full_name: format!("Person {email}"),
        job_role: None,
        time_zone: "UTC".into(),
        avatar_url: None,
        leaderboard_opt_out: false,
        roles: vec![Role::Learner],
        last_login_at: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

async fn seeded(store: &Store, name: &str, users: usize) -> Organization {
    let o = org(name);
    store.upsert_organization(&o).await.expect("org");
    for n in 0..users {
        store
            .upsert_user(&user(&o, &format!("u{n}@{name}.test")))
            .await
            .expect("user");
    }
    o
}

const MB: u64 = 1024 * 1024;

async fn a_warm_dataset_is_reused_until_records_are_written(db: &support::TestDb) {
    let store = db.store();
    let a = seeded(&store, "alpha", 3).await;
    let cache = Datasets::new(64 * MB);
    let first = cache.get(&store, a.id).await.expect("load");
    assert_eq!(first.ds.records.users.len(), 3);
    let again = cache.get(&store, a.id).await.expect("warm");
    assert!(Arc::ptr_eq(&first.ds, &again.ds), "reused, not reloaded");
    assert!(
        Arc::ptr_eq(&first.memo, &again.memo),
        "the memo goes with it"
    );
    assert_eq!(cache.usage().organizations, 1);
    assert_eq!(cache.usage().bytes, estimated_bytes(&first.ds));

    // A write through another pool on the same database, as another
    // process (a `lumen worker` collecting, `lumen import`) would make it:
    // the watermark is the database's.
    let elsewhere = Store::open(&db.url(), 2).await.expect("second pool");
    elsewhere
        .upsert_user(&user(&a, "late@alpha.test"))
        .await
        .expect("user");
    let after = cache.get(&store, a.id).await.expect("reload");
    assert!(!Arc::ptr_eq(&first.ds, &after.ds), "loaded again");
    assert!(!Arc::ptr_eq(&first.memo, &after.memo), "with a new memo");
    assert!(after.version > first.version);
    assert_eq!(after.ds.records.users.len(), 4, "sees the write");
    assert_eq!(cache.usage().organizations, 1);
}

async fn the_budget_drops_the_least_recently_used_organisation(db: &support::TestDb) {
    let store = db.store();
    let a = seeded(&store, "alpha", 3).await;
    let b = seeded(&store, "beta", 3).await;
    let c = seeded(&store, "gamma", 3).await;
    // A budget that holds two of these organisations, not three.
    let probe = Datasets::new(64 * MB);
    let one = estimated_bytes(&probe.get(&store, a.id).await.expect("a").ds);
    let cache = Datasets::new(2 * one + one / 2);
    let first_a = cache.get(&store, a.id).await.expect("a");
    cache.get(&store, b.id).await.expect("b");
    // a is used again, so b is now the least recently used.
    cache.get(&store, a.id).await.expect("a again");
    cache.get(&store, c.id).await.expect("c");
    assert_eq!(cache.usage().organizations, 2);
    assert!(cache.usage().bytes <= 2 * one + one / 2);
    let a_again = cache.get(&store, a.id).await.expect("a kept");
    assert!(Arc::ptr_eq(&first_a.ds, &a_again.ds), "a was kept");
    let before = cache.usage();
    cache.get(&store, b.id).await.expect("b loaded again");
    assert_eq!(cache.usage().organizations, 2, "b in, another out");
    assert_eq!(before.organizations, 2);

    // A budget of 0 keeps nothing: every request loads.
    let none = Datasets::new(0);
    let x = none.get(&store, a.id).await.expect("a");
    let y = none.get(&store, a.id).await.expect("a");
    assert!(!Arc::ptr_eq(&x.ds, &y.ds));
    assert_eq!(none.usage().organizations, 0);
}

async fn concurrent_first_requests_load_once(db: &support::TestDb) {
    let store = db.store();
    let a = seeded(&store, "alpha", 5).await;
    let cache = Arc::new(Datasets::new(64 * MB));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (cache, store) = (cache.clone(), store.clone());
            tokio::spawn(async move { cache.get(&store, a.id).await.expect("load").ds })
        })
        .collect();
    let mut loaded = Vec::new();
    for t in tasks {
        loaded.push(t.await.expect("task"));
    }
    assert!(
        loaded.iter().all(|ds| Arc::ptr_eq(ds, &loaded[0])),
        "every request got the one load"
    );
}

async fn an_unknown_organisation_is_not_kept(db: &support::TestDb) {
    let store = db.store();
    let cache = Datasets::new(64 * MB);
    let err = cache.get(&store, Uuid::new_v4()).await.err();
    assert!(matches!(err, Some(DatasetError::NoSuchOrganization)));
    assert_eq!(cache.usage().organizations, 0);
}
