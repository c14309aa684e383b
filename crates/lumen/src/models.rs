//! Drop-off models per organisation, trained on first use and again after
//! 24 hours, held in memory.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumen_core::analytics::Dataset;
use tokio::sync::RwLock;
use uuid::Uuid;

/// Drop-off models by organisation, retrained when older than a day.
#[derive(Default)]
pub struct Models {
    by_org: RwLock<HashMap<Uuid, Arc<ModelEntry>>>,
}

pub struct ModelEntry {
    pub trained_at: DateTime<Utc>,
    pub model: Option<lumen_core::analytics::dropoff::DropoffModel>,
}

impl Models {
    /// The organisation's model, trained now if missing or older than 24 h.
    /// `None` inside when there was not enough history to train one.
    pub async fn get(&self, org: Uuid, ds: &Arc<Dataset>, now: DateTime<Utc>) -> Arc<ModelEntry> {
        if let Some(entry) = self.by_org.read().await.get(&org)
            && now - entry.trained_at < Duration::hours(24)
        {
            return entry.clone();
        }
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
