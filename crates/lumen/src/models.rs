//! Drop-off models per organisation, trained on first use and again after
//! 24 hours, held in memory. Training is single-flight per organisation:
//! concurrent cold requests wait for one training instead of each running
//! their own.

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
    pub trained_at: DateTime<Utc>,
    pub model: Option<lumen_core::analytics::dropoff::DropoffModel>,
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
        let entry = Arc::new(ModelEntry {
            trained_at: now,
            model,
        });
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
}
