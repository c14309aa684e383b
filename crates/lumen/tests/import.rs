//! `lumen import PATH` on small fixture files (tests/fixtures/import): every
//! record kind, idempotence, and every kind of bad record, lenient and
//! strict, on SQLite and PostgreSQL.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use lumen::import::{BadRecord, ImportReport, Options, import_path};
use lumen::store::Store;
use lumen_core::import::Kind;
use support::on_both_databases;

on_both_databases!(
    |db| db.store();
    every_record_kind_imports_and_importing_twice_stores_nothing_twice,
    bad_records_are_reported_with_file_line_and_reason_and_good_ones_imported,
    strict_imports_nothing_from_a_file_with_a_bad_record,
);

fn fixtures(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(dir)
}

fn options(strict: bool) -> Options {
    Options {
        name: "fixture".to_owned(),
        strict,
        now: DateTime::<Utc>::from_timestamp(1_750_000_000, 0).expect("time"),
    }
}

/// Non-empty lines of a fixture file.
fn lines(dir: &str, kind: Kind) -> i64 {
    std::fs::read_to_string(fixtures(dir).join(format!("{}.ndjson", kind.file_stem())))
        .expect("fixture")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as i64
}

/// The table each kind is stored in.
fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Organizations => "organizations",
        Kind::Departments => "departments",
        Kind::Users => "users",
        Kind::TrainerLearners => "trainer_learners",
        Kind::Courses => "courses",
        Kind::CourseUnits => "course_units",
        Kind::CourseTrainers => "course_trainers",
        Kind::Enrolments => "enrolments",
        Kind::TrainerFeedback => "trainer_feedback",
        Kind::ContentItems => "content_items",
        Kind::Interactions => "content_interactions",
        Kind::Assessments => "assessments",
        Kind::Attempts => "assessment_attempts",
        Kind::Skills => "skills",
        Kind::SkillLevels => "user_skill_levels",
        Kind::SkillRequirements => "job_role_skill_requirements",
        Kind::SkillTargets => "org_skill_targets",
        Kind::LabSessions => "lab_sessions",
        Kind::AssistantQuestions => "assistant_questions",
    }
}

async fn import(store: &Store, dir: &str, strict: bool) -> ImportReport {
    import_path(store, &fixtures(dir), &options(strict))
        .await
        .expect("import runs")
}

async fn every_record_kind_imports_and_importing_twice_stores_nothing_twice(store: Store) {
    let report = import(&store, "good", false).await;
    assert_eq!(report.bad().collect::<Vec<_>>(), Vec::<&BadRecord>::new());
    assert_eq!(report.files.len(), Kind::ALL.len(), "one file per kind");
    let expected: BTreeMap<&str, i64> = Kind::ALL
        .iter()
        .map(|k| (table(*k), lines("good", *k)))
        .collect();
    let counts = store.table_counts().await.expect("counts");
    for (table, n) in &expected {
        assert_eq!(counts.get(*table), Some(n), "{table}");
    }
    assert_eq!(report.stored() as i64, expected.values().sum::<i64>());

    // Records reference each other by their own ids.
    let ada = store
        .user_by_email("ada@acme.example")
        .await
        .expect("read")
        .expect("ada");
    let enrolments = store.enrolments_of_user(ada.id).await.expect("read");
    assert_eq!(enrolments.len(), 1);
    let course = store
        .course(enrolments[0].course_id)
        .await
        .expect("read")
        .expect("course");
    assert_eq!(course.title, "Rust 101");
    assert_eq!(course.organization_id, ada.organization_id);

    let again = import(&store, "good", false).await;
    assert_eq!(again.bad().count(), 0);
    assert_eq!(store.table_counts().await.expect("counts"), counts);
    assert_eq!(
        store.user(ada.id).await.expect("read").expect("ada"),
        ada,
        "a second import writes the same values"
    );
}

/// (line, start of the reason) of a file's bad records.
fn bad_of(report: &ImportReport, file: &str) -> Vec<(usize, String)> {
    report
        .bad()
        .filter(|b| b.file.file_name().and_then(|n| n.to_str()) == Some(file))
        .map(|b| (b.line, b.reason.clone()))
        .collect()
}

fn assert_reasons(found: &[(usize, String)], expected: &[(usize, &str)]) {
    assert_eq!(
        found.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        expected.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        "bad lines: {found:?}"
    );
    for ((line, reason), (_, want)) in found.iter().zip(expected) {
        assert!(
            reason.contains(want),
            "line {line}: {reason:?} should mention {want:?}"
        );
    }
}

fn stored(report: &ImportReport, file: &str) -> usize {
    report
        .files
        .iter()
        .find(|f| f.file.file_name().and_then(|n| n.to_str()) == Some(file))
        .map(|f| f.stored)
        .expect("file reported")
}

const BAD_USERS: [(usize, &str); 6] = [
    (2, "malformed JSON"),
    (3, "missing field `email`"),
    (4, "duplicates a unique value"),
    (5, "duplicate id: line 1"),
    (6, "invalid record: email"),
    (7, "references a record that does not exist"),
];
const BAD_ENROLMENTS: [(usize, &str); 4] = [
    (2, "unknown value \"paused\""),
    (3, "references a record that does not exist"),
    (4, "invalid record: outcome"),
    (5, "invalid type"),
];
const BAD_INTERACTIONS: [(usize, &str); 3] = [
    (2, "references a record that does not exist"),
    (3, "unknown field `mood`"),
    (4, "invalid record: clicks"),
];

async fn bad_records_are_reported_with_file_line_and_reason_and_good_ones_imported(store: Store) {
    import(&store, "good", false).await;
    let before = store.table_counts().await.expect("counts");
    let report = import(&store, "bad", false).await;
    assert_reasons(&bad_of(&report, "users.ndjson"), &BAD_USERS);
    assert_reasons(&bad_of(&report, "enrolments.ndjson"), &BAD_ENROLMENTS);
    assert_reasons(&bad_of(&report, "interactions.ndjson"), &BAD_INTERACTIONS);
    assert_eq!(stored(&report, "users.ndjson"), 1);
    assert_eq!(stored(&report, "enrolments.ndjson"), 1);
    assert_eq!(stored(&report, "interactions.ndjson"), 2);

    let after = store.table_counts().await.expect("counts");
    let grew = |t: &str| after[t] - before[t];
    assert_eq!(grew("users"), 1);
    assert_eq!(grew("enrolments"), 1);
    assert_eq!(grew("content_interactions"), 2);
    let cy = store
        .user_by_email("cy@acme.example")
        .await
        .expect("read")
        .expect("the good line of a bad file is stored");
    assert_eq!(cy.roles, vec![lumen_core::Role::Learner], "with its role");
    assert!(
        store
            .user_by_email("cy2@acme.example")
            .await
            .expect("read")
            .is_none(),
        "a duplicate id does not overwrite the first"
    );
}

async fn strict_imports_nothing_from_a_file_with_a_bad_record(store: Store) {
    import(&store, "good", false).await;
    let before = store.table_counts().await.expect("counts");
    let report = import(&store, "bad", true).await;
    // The same records are reported, and no file stores anything.
    assert_reasons(&bad_of(&report, "users.ndjson"), &BAD_USERS[..]);
    for file in ["users.ndjson", "enrolments.ndjson", "interactions.ndjson"] {
        assert_eq!(stored(&report, file), 0, "{file}");
    }
    assert_eq!(store.table_counts().await.expect("counts"), before);

    // A file whose only problem is found by the store (an unknown
    // reference) also stores nothing, not even its good lines.
    let dir = std::env::temp_dir().join(format!("lumen-import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("interactions.ndjson"),
        "{\"id\":\"s1\",\"userId\":\"u1\",\"contentItemId\":\"v1\",\"occurredAt\":\"2025-01-12T10:00:00Z\"}\n\
         {\"id\":\"s2\",\"userId\":\"u1\",\"contentItemId\":\"v1\",\"occurredAt\":\"2025-01-13T10:00:00Z\"}\n\
         {\"id\":\"s3\",\"userId\":\"nobody\",\"contentItemId\":\"v1\",\"occurredAt\":\"2025-01-14T10:00:00Z\"}\n",
    )
    .expect("write");
    let report = import_path(&store, &dir, &options(true))
        .await
        .expect("import runs");
    assert_reasons(
        &bad_of(&report, "interactions.ndjson"),
        &[(3, "references a record that does not exist")],
    );
    assert_eq!(stored(&report, "interactions.ndjson"), 0);
    assert_eq!(store.table_counts().await.expect("counts"), before);
    let report = import_path(&store, &dir, &options(false))
        .await
        .expect("import runs");
    assert_eq!(
        stored(&report, "interactions.ndjson"),
        2,
        "lenient: the good ones"
    );
    let _ = std::fs::remove_dir_all(dir);
}
