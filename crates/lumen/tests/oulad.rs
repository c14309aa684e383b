//! OULAD (../shared/data/oulad, or `LUMEN_OULAD_DIR`): the import's counts
//! equal the dataset README's (SQLite and PostgreSQL), a second import
//! changes nothing, every analytic answers or names what it lacks, and the
//! drop-off evaluation reads no data from after the prediction day.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::Duration;
use lumen::import::oulad::Oulad;
use lumen::store::Store;
use lumen_core::analytics::Dataset;
use lumen_core::analytics::dataset::Records;
use lumen_core::analytics::evaluation::{self, Evaluation};
use support::TestDb;

/// The shared dataset, or `None` (skipped) outside CI when it is absent.
fn oulad_dir() -> Option<PathBuf> {
    let dir = std::env::var("LUMEN_OULAD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/oulad")
        });
    if dir.join("studentInfo.csv").exists() {
        Some(dir)
    } else {
        assert!(
            !support::in_ci(),
            "OULAD is required in CI: {}",
            dir.display()
        );
        eprintln!("SKIPPED: no OULAD at {}", dir.display());
        None
    }
}

// The dataset README's figures.
const LEARNERS: i64 = 28_785;
const ENROLMENTS: i64 = 32_593;
const PASS: i64 = 12_361;
const WITHDRAWN: i64 = 10_156;
const FAIL: i64 = 7_052;
const DISTINCTION: i64 = 3_024;
const ASSESSMENTS: i64 = 206;
const VLE_SITES: i64 = 6_364;
const SUBMISSIONS: i64 = 173_912;
const MISSING_SCORES: i64 = 173;
const CLICK_ROWS: i64 = 753_564 + 295_011;
const PRESENTATIONS: i64 = 22;

/// The full import, checked against the README; with `twice`, imported
/// again and checked that nothing changed (SQLite only: each import of the
/// 1.3 M records takes minutes in a debug build, and the second import runs
/// the same SQL on both databases, which tests/import.rs re-imports on both).
async fn import_counts_match_the_readme(store: Store, twice: bool) {
    let Some(dir) = oulad_dir() else { return };
    let report = lumen::import::oulad::import(&store, &dir)
        .await
        .expect("import");
    // The only bad rows: submissions without a score.
    let bad: Vec<_> = report.bad().collect();
    assert_eq!(bad.len() as i64, MISSING_SCORES, "{:?}", bad.first());
    assert!(bad.iter().all(|b| b.reason.starts_with("score missing")
        && b.file.ends_with("studentAssessment.csv.gz")
        && b.line >= 2));

    let counts = store.table_counts().await.expect("counts");
    assert_eq!(counts["users"], LEARNERS);
    assert_eq!(counts["organizations"], 1);
    assert_eq!(counts["departments"], 13, "one per region");
    assert_eq!(counts["courses"], PRESENTATIONS);
    assert_eq!(counts["enrolments"], ENROLMENTS);
    assert_eq!(counts["content_items"], VLE_SITES);
    assert_eq!(counts["assessments"], ASSESSMENTS);
    assert_eq!(counts["assessment_attempts"], SUBMISSIONS - MISSING_SCORES);
    assert_eq!(counts["content_interactions"], CLICK_ROWS);
    let outcomes = store.enrolment_outcomes().await.expect("outcomes");
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("completed/pass".to_owned(), PASS),
            ("completed/distinction".to_owned(), DISTINCTION),
            ("completed/fail".to_owned(), FAIL),
            ("withdrawn".to_owned(), WITHDRAWN),
        ])
    );

    if !twice {
        return;
    }
    let learner = lumen_core::oulad::id(lumen_core::import::id_kinds::USER, "11391");
    let enrolments = store.enrolments_of_user(learner).await.expect("read");
    let again = lumen::import::oulad::import(&store, &dir)
        .await
        .expect("second import");
    assert_eq!(again.bad().count() as i64, MISSING_SCORES);
    assert_eq!(store.table_counts().await.expect("counts"), counts);
    assert_eq!(
        store.enrolment_outcomes().await.expect("outcomes"),
        outcomes
    );
    assert_eq!(
        store.enrolments_of_user(learner).await.expect("read"),
        enrolments
    );
}

#[tokio::test]
async fn sqlite_import_counts_match_the_readme_and_a_second_import_changes_nothing() {
    let db = TestDb::sqlite().await;
    import_counts_match_the_readme(db.store(), true).await;
}

#[tokio::test]
async fn postgres_import_counts_match_the_readme() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    import_counts_match_the_readme(db.store(), false).await;
}

fn evaluate(ds: &Dataset, data: &Oulad, day: i64) -> Vec<Evaluation> {
    lumen::evaluate::evaluate_split(ds, data, "AAA", "2013J", "2014J", &[day])
        .expect("evaluate")
        .evaluations
}

/// Module AAA in memory, read once for the tests below.
fn aaa() -> Option<&'static (Oulad, Records)> {
    static AAA: OnceLock<Option<(Oulad, Records)>> = OnceLock::new();
    AAA.get_or_init(|| {
        let dir = oulad_dir()?;
        let data = Oulad::open(&dir, &["AAA"]).expect("open");
        let records = data.records().expect("records");
        Some((data, records))
    })
    .as_ref()
}

/// Every analytic answers on OULAD data or names the input it lacks.
#[test]
fn analytics_work_where_oulad_has_their_inputs_and_say_what_is_missing() {
    let Some((_, records)) = aaa() else { return };
    let ds = Dataset::new(records.clone());
    let coverage: BTreeMap<&str, Result<Vec<String>, String>> =
        lumen::import::oulad::coverage(&ds, lumen::import::oulad::coverage_instant())
            .into_iter()
            .map(|c| (c.analytic, c.outcome))
            .collect();
    assert_eq!(coverage.len(), lumen_core::analytics::ANALYTICS.len());
    for works in [
        "engagement",
        "performance",
        "content-effectiveness",
        "mastery",
        "learning-culture",
        // Its culture part (regions as departments) answers; the parts
        // without inputs are null with their notes.
        "department-analytics",
    ] {
        assert!(coverage[works].is_ok(), "{works}: {:?}", coverage[works]);
    }
    assert!(
        coverage["engagement"]
            .as_ref()
            .is_ok_and(|notes| notes.iter().any(|n| n.contains("NO_TIME_SPENT_DATA")))
    );
    for (lacking, reason) in [
        ("skill-gap", "NO_SKILL_DATA"),
        ("strategic-alignment", "NO_SKILL_DATA"),
        ("skill-demand", "NO_SKILL_DATA"),
        ("course-health", "no trainer"),
        ("drop-off-risk", "NO_ACTIVE_ENROLMENT"),
    ] {
        assert!(
            coverage[lacking]
                .as_ref()
                .is_err_and(|r| r.contains(reason)),
            "{lacking}: {:?}",
            coverage[lacking]
        );
    }
}

/// Moving a click from after the prediction day changes nothing; moving
/// one from before it does (so the check can fail).
#[test]
fn the_evaluation_reads_no_data_from_after_the_prediction_day() {
    let Some((data, records)) = aaa() else { return };
    let records = records.clone();
    let day = 60;
    let baseline = evaluate(&Dataset::new(records.clone()), data, day);
    assert_eq!(baseline.len(), evaluation::Target::ALL.len());
    assert!(baseline.iter().all(|e| e.test_population > 200));

    // Per presentation (training, test): a click of a learner still
    // enrolled at the end (so in the population at day d) on day ≥ d, and
    // one in the week before day d.
    let mut future = Vec::new();
    let mut past = Vec::new();
    for presentation in ["2013J", "2014J"] {
        let p = data
            .presentation("AAA", presentation)
            .expect("presentation");
        let t = p.start + Duration::days(day);
        let items: HashSet<_> = records
            .content_items
            .iter()
            .filter(|c| c.course_id == p.course_id())
            .map(|c| c.id)
            .collect();
        let finishers: HashSet<_> = records
            .enrolments
            .iter()
            .filter(|e| e.course_id == p.course_id() && e.completed_at.is_some())
            .map(|e| e.user_id)
            .collect();
        let pick = |before: bool| {
            records
                .interactions
                .iter()
                .position(|i| {
                    items.contains(&i.content_item_id)
                        && finishers.contains(&i.user_id)
                        && if before {
                            i.occurred_at < t && i.occurred_at >= t - Duration::days(7)
                        } else {
                            i.occurred_at >= t
                        }
                })
                .expect("a click on each side of the prediction day")
        };
        future.push(pick(false));
        past.push((pick(true), t));
    }

    // Future clicks move further on and grow: nothing changes.
    let mut moved = records.clone();
    for &i in &future {
        moved.interactions[i].occurred_at += Duration::days(30);
        moved.interactions[i].clicks *= 10;
    }
    assert_eq!(
        evaluate(&Dataset::new(moved), data, day),
        baseline,
        "a click after the prediction day changed the evaluation"
    );

    // A click of the week before day d moved past it does change it (of
    // the test presentation: its features, not the fitted model).
    let mut moved = records;
    let (i, t) = past[1];
    moved.interactions[i].occurred_at = t + Duration::days(1);
    let changed = evaluate(&Dataset::new(moved), data, day);
    assert_ne!(
        changed, baseline,
        "a click before the prediction day did not count"
    );
}
