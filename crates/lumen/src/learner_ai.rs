//! Learner AI suggestions for the recommendations analytic. A request never
//! waits on the upstream (ENGINEERING: no inline upstream calls): it uses the
//! last answer cached for the learner, and when that is missing or older
//! than 6 hours it asks for a fresh one in the background.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lumen_core::analytics::recommendations::AiSuggestion;
use lumen_core::model::sources;
use serde::Deserialize;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::collector::feeds::{CONTENT_STUDIO, COURSE_BUILDER, SKILLS_ENGINE, rid};
use crate::store::Store;
use crate::upstream::Upstreams;

pub const SERVICE: &str = "learner-ai";
const MAX_AGE: Duration = Duration::hours(6);

/// Per learner: when the answer arrived, and the suggestions.
type Cache = HashMap<Uuid, (DateTime<Utc>, Vec<AiSuggestion>)>;

pub struct LearnerAi {
    store: Store,
    upstreams: Arc<Upstreams>,
    cache: Arc<RwLock<Cache>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    generated_at: DateTime<Utc>,
    recommendations: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    confidence: Option<f64>,
    course_id: Option<String>,
    content_item_id: Option<String>,
    skill_id: Option<String>,
}

impl LearnerAi {
    /// Asks the Learner AI client of `upstreams` about learners of `store`.
    pub fn new(store: Store, upstreams: Arc<Upstreams>) -> Self {
        Self {
            store,
            upstreams,
            cache: Arc::default(),
        }
    }

    /// The learner's cached suggestions; `None` when Learner AI is not
    /// configured or has not answered for this learner yet.
    pub async fn suggestions(&self, learner: Uuid) -> Option<Vec<AiSuggestion>> {
        self.upstreams.clients.get(SERVICE)?;
        let cached = self.cache.read().await.get(&learner).cloned();
        if cached
            .as_ref()
            .is_none_or(|(at, _)| Utc::now() - *at > MAX_AGE)
        {
            self.refresh_in_background(learner);
        }
        cached.map(|(_, s)| s)
    }

    fn refresh_in_background(&self, learner: Uuid) {
        let (store, upstreams) = (self.store.clone(), self.upstreams.clone());
        let cache = self.cache.clone();
        tokio::spawn(async move {
            match fetch(&store, &upstreams, learner).await {
                Ok(Some(suggestions)) => {
                    cache
                        .write()
                        .await
                        .insert(learner, (Utc::now(), suggestions));
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(%learner, error = %err, "Learner AI unavailable"),
            }
        });
    }
}

/// Why Learner AI could not be asked (logged; the request goes on without).
#[derive(Debug, thiserror::Error)]
enum LearnerAiError {
    #[error(transparent)]
    Upstream(#[from] crate::upstream::UpstreamError),
    #[error("malformed answer: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Asks Learner AI about a learner known to the Directory.
async fn fetch(
    store: &Store,
    upstreams: &Upstreams,
    learner: Uuid,
) -> Result<Option<Vec<AiSuggestion>>, LearnerAiError> {
    let Some(client) = upstreams.clients.get(SERVICE) else {
        return Ok(None);
    };
    let Some(user) = store.user(learner).await? else {
        return Ok(None);
    };
    let Some(origin) = user.origin.filter(|o| o.source == sources::DIRECTORY) else {
        return Ok(None);
    };
    let body = match client
        .get(
            &format!("/api/v1/learners/{}/recommendations", origin.external_id),
            &[],
        )
        .await
    {
        Ok(body) => body,
        Err(crate::upstream::UpstreamError::Status(404)) => return Ok(Some(Vec::new())),
        Err(err) => return Err(err.into()),
    };
    let answer: Answer = serde_json::from_str(&body)?;
    Ok(Some(
        answer
            .recommendations
            .into_iter()
            .map(|i| {
                // Lumen's ids, so duplicates across sources can be recognised.
                let target_id = i
                    .course_id
                    .map(|c| rid(COURSE_BUILDER, "course", &c))
                    .or(i
                        .content_item_id
                        .map(|c| rid(CONTENT_STUDIO, "content-item", &c)))
                    .or(i.skill_id.map(|s| rid(SKILLS_ENGINE, "skill", &s)))
                    .map(|id| id.to_string());
                AiSuggestion {
                    kind: i.kind,
                    target_id,
                    title: i.title,
                    score: i.confidence,
                    generated_at: answer.generated_at,
                }
            })
            .collect(),
    ))
}
