//! Drop-off models per organisation, trained on first use and again after
//! 24 hours, held in memory. Training is single-flight per organisation:
//! concurrent cold requests wait for one training instead of each running
//! their own. A retrained model that fails the quality gate does not
//! replace one that passed: the previous model keeps answering and the
//! rejected run's gate result is kept beside it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use lumen_core::analytics::Dataset;
use tokio::sync::RwLock;
use uuid::Uuid;

/// Drop-off models by organisation, retrained when older than a day.
#[derive(Default)]
pub struct Models {
    by_org: RwLock<HashMap<Uuid, Arc<ModelEntry>>>,
    /// One lock per organisation, held while its model trains.
    training: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// Trainings run so far (every organisation).
    trainings: AtomicU64,
}

pub struct ModelEntry {
    /// The latest training run (the served model may be older).
    pub trained_at: DateTime<Utc>,
    pub model: Option<lumen_core::analytics::dropoff::DropoffModel>,
    /// The latest run's evaluation when it failed the gate while an older
    /// model that passed is kept.
    pub rejected: Option<lumen_core::analytics::dropoff::Evaluation>,
}

impl Models {
    async fn fresh(&self, org: Uuid, now: DateTime<Utc>) -> Option<Arc<ModelEntry>> {
        let by_org = self.by_org.read().await;
        let entry = by_org.get(&org)?;
        (now - entry.trained_at < Duration::hours(24)).then(|| entry.clone())
    }

    /// The organisation's model, trained now if missing or older than 24 h.
    /// `None` inside when there was not enough history to train one.
    pub async fn get(&self, org: Uuid, ds: &Arc<Dataset>, now: DateTime<Utc>) -> Arc<ModelEntry> {
        if let Some(entry) = self.fresh(org, now).await {
            return entry;
        }
        let lock = self
            .training
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(org)
            .or_default()
            .clone();
        let _training = lock.lock().await;
        // Another request may have trained it while this one waited.
        if let Some(entry) = self.fresh(org, now).await {
            return entry;
        }
        self.trainings.fetch_add(1, Ordering::Relaxed);
        let data = ds.clone();
        let model = tokio::task::spawn_blocking(move || {
            lumen_core::analytics::dropoff::train(&data, now).ok()
        })
        .await
        .ok()
        .flatten();
        let previous = self.by_org.read().await.get(&org).cloned();
        let entry = Arc::new(keep_or_replace(previous.as_deref(), model, now));
        self.by_org.write().await.insert(org, entry.clone());
        entry
    }

    /// How many trainings have run, for tests and diagnostics.
    pub fn trainings(&self) -> u64 {
        self.trainings.load(Ordering::Relaxed)
    }

    /// Every trained model's evaluation, for `/api/status`.
    pub async fn evaluations(
        &self,
    ) -> Vec<(Uuid, Option<lumen_core::analytics::dropoff::Evaluation>)> {
        self.by_org
            .read()
            .await
            .iter()
            .map(|(org, e)| (*org, e.model.as_ref().map(|m| m.evaluation.clone())))
            .collect()
    }
}

/// The entry after a training run at `now`: the new model, unless it fails
/// the quality gate while the previous one passed (then the previous model
/// stays, with the rejected run's evaluation).
fn keep_or_replace(
    previous: Option<&ModelEntry>,
    new: Option<lumen_core::analytics::dropoff::DropoffModel>,
    now: DateTime<Utc>,
) -> ModelEntry {
    let new_passes = new.as_ref().is_some_and(|m| m.passes_gate());
    match previous.and_then(|p| p.model.as_ref()) {
        Some(old) if old.passes_gate() && !new_passes => ModelEntry {
            trained_at: now,
            model: Some(old.clone()),
            rejected: new.map(|m| m.evaluation),
        },
        _ => ModelEntry {
            trained_at: now,
            model: new,
            rejected: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumen_core::analytics::dataset::Records;

    #[tokio::test]
    async fn concurrent_cold_requests_train_once_per_organisation() {
        let models = Models::default();
        let ds = Arc::new(Dataset::new(Records::default()));
        let now = Utc::now();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        // Sixteen cold requests at once, two organisations.
        let calls = (0..16).map(|i| models.get(if i % 2 == 0 { a } else { b }, &ds, now));
        let entries = futures::future::join_all(calls).await;
        assert_eq!(models.trainings(), 2, "one training per organisation");
        assert!(entries.iter().all(|e| e.trained_at == now));
        // Warm: no more training.
        models.get(a, &ds, now).await;
        assert_eq!(models.trainings(), 2);
        // A day later it retrains, once.
        let later = now + Duration::hours(25);
        futures::future::join_all((0..4).map(|_| models.get(a, &ds, later))).await;
        assert_eq!(models.trainings(), 3);
    }

    /// A model whose gate result is `passes` (only the gate matters here).
    fn model(
        passes: bool,
        trained_at: DateTime<Utc>,
    ) -> lumen_core::analytics::dropoff::DropoffModel {
        let at = trained_at.to_rfc3339();
        serde_json::from_value(serde_json::json!({
            "featureNames": [], "means": [], "sds": [], "coefficients": [],
            "intercept": 0.0, "lambda": 10.0, "threshold": 0.5, "meanScoreDefault": 0.6,
            "validationRocAuc": if passes { 0.8 } else { 0.6 },
            "trainedAt": at,
            "evaluation": {
                "rocAuc": if passes { 0.8 } else { 0.6 }, "prAuc": null, "mcc": 0.0,
                "threshold": 0.5, "brierScore": null, "reliabilityBins": [], "baseRate": null,
                "sampleSize": {"trainingEnrolments": 0, "validationEnrolments": 0,
                    "trainingSnapshots": 0, "validationSnapshots": 0, "positives": 0, "negatives": 0},
                "gate": {"finishedEnrolments": 300, "dropOffs": 100, "successfulCompletions": 200,
                    "validationDropOffs": 20, "validationCompletions": 40,
                    "rocAuc": if passes { 0.8 } else { 0.6 }},
                "trainedAt": at,
                "passesGate": passes,
                "gateReason": if passes { serde_json::Value::Null } else { "ROC_AUC_BELOW_0.70".into() },
            },
        }))
        .expect("a model")
    }

    #[test]
    fn a_retrained_model_below_the_gate_does_not_replace_one_that_passed() {
        let day1 = Utc::now();
        let day2 = day1 + Duration::days(1);
        let good = keep_or_replace(None, Some(model(true, day1)), day1);
        assert!(good.model.as_ref().is_some_and(|m| m.passes_gate()));
        // Day 2: the new run fails the gate; day 1's model stays, the rejection is kept.
        let kept = keep_or_replace(Some(&good), Some(model(false, day2)), day2);
        assert_eq!(kept.trained_at, day2);
        assert_eq!(kept.model.as_ref().map(|m| m.trained_at), Some(day1));
        assert_eq!(
            kept.rejected
                .as_ref()
                .and_then(|e| e.gate_reason.as_deref()),
            Some("ROC_AUC_BELOW_0.70")
        );
        // No model at all on day 2 (not enough history): also kept.
        let kept = keep_or_replace(Some(&good), None, day2);
        assert_eq!(kept.model.as_ref().map(|m| m.trained_at), Some(day1));
        // A passing run replaces it.
        let replaced = keep_or_replace(Some(&kept), Some(model(true, day2)), day2);
        assert_eq!(replaced.model.as_ref().map(|m| m.trained_at), Some(day2));
        assert!(replaced.rejected.is_none());
        // Without a passing predecessor the new run is served as it is.
        let first = keep_or_replace(None, Some(model(false, day1)), day1);
        assert!(first.model.as_ref().is_some_and(|m| !m.passes_gate()));
        let next = keep_or_replace(Some(&first), Some(model(false, day2)), day2);
        assert_eq!(next.model.as_ref().map(|m| m.trained_at), Some(day2));
    }
}
