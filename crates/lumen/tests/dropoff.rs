//! The drop-off model judged on the simulator's ground truth: trained on the
//! organisation's finished enrolments (and validated inside `train` on
//! later, held-out courses), it must rank learners whose persona is
//! "disengaging" above "steady" ones among the enrolments still active.
//! Deterministic for a fixed seed. Figures are printed (run with
//! `--nocapture`) and quoted in docs/performance.md.

mod support;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use lumen::collector::Collector;
use lumen::collector::feeds::{DIRECTORY, rid};
use lumen::config::{Config, Secret, UPSTREAM_SERVICES, UpstreamConfig};
use lumen::simulate::{Persona, Scale, SimConfig, SimHandle};
use lumen::upstream::{Resilience, Upstreams};
use lumen_core::analytics::dropoff::{drop_off_risk, train};
use lumen_core::analytics::metrics::roc_auc;
use lumen_core::analytics::{Dataset, TimeRange, Window};
use lumen_core::model::EnrolmentStatus;
use support::TestDb;

#[tokio::test]
async fn the_model_ranks_disengaging_learners_above_steady_ones_on_simulated_ground_truth() {
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("date");
    let sim = SimHandle::new(SimConfig {
        seed: 5,
        scale: Scale::Medium,
        now,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = sim.clone();
    tokio::spawn(async move { server.serve(listener).await });
    let mut config = Config::default();
    for service in UPSTREAM_SERVICES {
        config.upstreams.insert(
            service,
            UpstreamConfig {
                base_url: format!("{base}/{service}"),
                token: Secret::new("t".into()),
            },
        );
    }
    let db = TestDb::sqlite().await;
    let store = db.store();
    let upstreams = Arc::new(
        Upstreams::from_config(&config, Resilience::from_config(&config)).expect("clients"),
    );
    Collector::new(store.clone(), upstreams)
        .run()
        .await
        .expect("collect");
    let admin = store
        .user_by_email("admin@demo.lumen.test")
        .await
        .expect("read")
        .expect("admin");
    let ds = Dataset::new(
        store
            .load_records(admin.organization_id)
            .await
            .expect("records"),
    );

    let model = train(&ds, now).expect("enough history to train");
    let eval = &model.evaluation;
    eprintln!(
        "drop-off model (held-out later courses): ROC-AUC {:?}, PR-AUC {:?}, MCC {:.3}, Brier {:?}, passes gate {}",
        eval.roc_auc, eval.pr_auc, eval.mcc, eval.brier_score, eval.passes_gate
    );
    assert!(eval.passes_gate, "{eval:?}");
    assert!(eval.roc_auc.unwrap_or(0.0) > 0.7);

    // Deterministic: the same data trains the same model.
    let again = train(&ds, now).expect("train");
    assert_eq!(
        serde_json::to_string(&model).ok(),
        serde_json::to_string(&again).ok()
    );

    // Rank the learners still enrolled by their risk, against their persona.
    let truth = sim.truth();
    let w = Window::new(TimeRange::Days30, now);
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for (directory_id, persona) in &truth.personas {
        let learner = rid(DIRECTORY, "user", directory_id);
        let active = ds
            .enrolments_of(learner)
            .any(|e| e.status == EnrolmentStatus::Active);
        if !active || !matches!(persona, Persona::Disengaging | Persona::Steady) {
            continue;
        }
        let risk = drop_off_risk(&ds, learner, &w, Some(&model))
            .expect("risk")
            .risk_score;
        scores.push(risk);
        labels.push(*persona == Persona::Disengaging);
    }
    let auc = roc_auc(&scores, &labels).expect("both personas present");
    let disengaging = labels.iter().filter(|l| **l).count();
    eprintln!(
        "disengaging vs steady among active learners: ROC-AUC {auc:.3} ({disengaging} disengaging, {} steady)",
        labels.len() - disengaging
    );
    assert!(
        auc > 0.6,
        "disengaging learners should rank above steady ones: AUC {auc:.3}"
    );
}
