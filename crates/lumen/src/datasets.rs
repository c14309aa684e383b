//! Warm organisation datasets: each organisation's learning records, loaded
//! and indexed once (`Store::load_records`, `Dataset::new`) and kept in
//! memory with their [`Memo`], so a computation reuses them instead of
//! reloading the organisation.
//!
//! **Change watermark.** The database's records version
//! (`Store::records_version`, one row moved on in the same transaction as
//! every write of learning records: `apply`, single-record writes and bulk
//! imports, which are what the collector, the importers and `lumen user`
//! write through, from any process). A warm dataset remembers the version
//! read before it was loaded; once it has moved, the next computation loads
//! the organisation again (a write during a load is caught the same way).
//! Reading the version is one single-row query, paid by computations only
//! (a cache hit never asks for a dataset). The version is global, so a
//! write for one organisation also reloads the others: a reload, never a
//! stale answer.
//!
//! **Memory.** Datasets are kept within `LUMEN_DATASET_CACHE_MB` by their
//! estimated size ([`estimated_bytes`]); the least recently used
//! organisations are dropped first, and a dataset larger than the whole
//! budget is used once and not kept. Holders of an `Arc` (a running
//! computation, a batch worker) keep theirs alive until they finish.
//!
//! **Single flight.** Concurrent requests for one organisation that is not
//! warm wait for one load.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{Arc, Mutex};

use lumen_core::analytics::{Dataset, Memo};
use uuid::Uuid;

use crate::store::{Store, StoreError};

/// One organisation's dataset with the memo of its analytics.
#[derive(Clone)]
pub struct Warm {
    pub ds: Arc<Dataset>,
    pub memo: Arc<Memo>,
    /// `Store::records_version` read before the records were loaded.
    pub version: i64,
}

/// Why an organisation's dataset could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("no such organisation")]
    NoSuchOrganization,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("indexing the records failed: {0}")]
    Join(String),
}

struct Slot {
    warm: Warm,
    bytes: u64,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<Uuid, Slot>,
    bytes: u64,
    tick: u64,
}

/// The warm datasets of this process (held by `AppState`).
pub struct Datasets {
    budget: u64,
    inner: Mutex<Inner>,
    loading: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// What the cache holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub organizations: usize,
    pub bytes: u64,
}

impl Datasets {
    /// Keeps datasets up to `budget` bytes in all.
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
            loading: Mutex::default(),
        }
    }

    pub fn usage(&self) -> Usage {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Usage {
            organizations: inner.slots.len(),
            bytes: inner.bytes,
        }
    }

    /// The organisation's warm dataset at the store's current version,
    /// loading it when it is missing or out of date.
    pub async fn get(&self, store: &Store, org: Uuid) -> Result<Warm, DatasetError> {
        let version = store.records_version().await?;
        if let Some(warm) = self.fresh(org, version) {
            return Ok(warm);
        }
        let flight = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(org).or_default().clone()
        };
        let _turn = flight.lock().await;
        // Loaded by the request we waited for?
        let result = match self.fresh(org, version) {
            Some(warm) => Ok(warm),
            None => self.load(store, org, version).await,
        };
        {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            // The map's own reference and ours: nobody else waits.
            if Arc::strong_count(&flight) <= 2 {
                loading.remove(&org);
            }
        }
        result
    }

    /// Drops the organisation's warm dataset.
    pub fn forget(&self, org: Uuid) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = inner.slots.remove(&org) {
            inner.bytes -= slot.bytes;
        }
    }

    /// The warm dataset of `org` if it was loaded at `version` or later.
    fn fresh(&self, org: Uuid, version: i64) -> Option<Warm> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let slot = inner.slots.get_mut(&org)?;
        if slot.warm.version < version {
            return None;
        }
        slot.last_used = tick;
        Some(slot.warm.clone())
    }

    async fn load(&self, store: &Store, org: Uuid, version: i64) -> Result<Warm, DatasetError> {
        let records = store.load_records(org).await?;
        if records.organization.is_none() {
            self.forget(org);
            return Err(DatasetError::NoSuchOrganization);
        }
        let (ds, bytes) = tokio::task::spawn_blocking(move || {
            let ds = Dataset::new(records);
            let bytes = estimated_bytes(&ds);
            (ds, bytes)
        })
        .await
        .map_err(|e| DatasetError::Join(e.to_string()))?;
        let warm = Warm {
            ds: Arc::new(ds),
            memo: Arc::new(Memo::default()),
            version,
        };
        self.keep(org, warm.clone(), bytes);
        Ok(warm)
    }

    /// Keeps `warm` within the budget, dropping least recently used
    /// organisations first.
    fn keep(&self, org: Uuid, warm: Warm, bytes: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.slots.remove(&org) {
            inner.bytes -= old.bytes;
        }
        if bytes > self.budget {
            return;
        }
        while inner.bytes + bytes > self.budget {
            let Some(lru) = inner
                .slots
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(slot) = inner.slots.remove(&lru) {
                inner.bytes -= slot.bytes;
                tracing::info!(organization = %lru, bytes = slot.bytes, "warm dataset evicted");
            }
        }
        inner.tick += 1;
        let last_used = inner.tick;
        inner.bytes += bytes;
        inner.slots.insert(
            org,
            Slot {
                warm,
                bytes,
                last_used,
            },
        );
    }
}

/// Bytes of one index entry (a key and a position in a hash table, with
/// its control byte and spare capacity), charged once per record.
const INDEX_BYTES_PER_RECORD: u64 = 64;

/// The dataset's estimated size in memory: every record's struct, the
/// text it owns, and its share of the indexes. The memo is not counted
/// (it grows with the windows asked; at most eight windows are kept).
pub fn estimated_bytes(ds: &Dataset) -> u64 {
    fn table<T>(v: &[T], text: impl Fn(&T) -> usize) -> u64 {
        (size_of_val(v) + v.iter().map(text).sum::<usize>()) as u64
            + v.len() as u64 * INDEX_BYTES_PER_RECORD
    }
    fn opt(s: &Option<String>) -> usize {
        s.as_ref().map_or(0, String::len)
    }
    fn origin(o: &Option<lumen_core::model::Origin>) -> usize {
        o.as_ref()
            .map_or(0, |o| o.source.len() + o.external_id.len())
    }
    let r = &ds.records;
    table(&r.departments, |d| d.name.len() + origin(&d.origin))
        + table(&r.users, |u| {
            u.email.len()
                + origin(&u.origin)
                + u.full_name.len()
                + u.time_zone.len()
                + opt(&u.job_role)
                + opt(&u.avatar_url)
                + u.roles.len() * size_of::<lumen_core::Role>()
        })
        + table(&r.courses, |c| c.title.len() + origin(&c.origin))
        + table(&r.units, |u| u.title.len() + origin(&u.origin))
        + table(&r.course_trainers, |_| 0)
        + table(&r.trainer_learners, |_| 0)
        + table(&r.enrolments, |e| origin(&e.origin))
        + table(&r.content_items, |c| c.title.len() + origin(&c.origin))
        + table(&r.interactions, |i| origin(&i.origin))
        + table(&r.assessments, |a| a.title.len() + origin(&a.origin))
        + table(&r.attempts, |a| origin(&a.origin))
        + table(&r.skills, |s| {
            s.name.len() + opt(&s.category) + origin(&s.origin)
        })
        + table(&r.skill_levels, |l| opt(&l.source))
        + table(&r.requirements, |q| q.job_role.len())
        + table(&r.targets, |_| 0)
        + table(&r.feedback, |f| origin(&f.origin))
        + table(&r.lab_sessions, |l| l.exercise.len() + origin(&l.origin))
        + table(&r.questions, |q| opt(&q.topic) + origin(&q.origin))
}

/// Learning records in a dataset (for bytes per record).
pub fn record_count(ds: &Dataset) -> u64 {
    let r = &ds.records;
    [
        r.departments.len(),
        r.users.len(),
        r.courses.len(),
        r.units.len(),
        r.course_trainers.len(),
        r.trainer_learners.len(),
        r.enrolments.len(),
        r.content_items.len(),
        r.interactions.len(),
        r.assessments.len(),
        r.attempts.len(),
        r.skills.len(),
        r.skill_levels.len(),
        r.requirements.len(),
        r.targets.len(),
        r.feedback.len(),
        r.lab_sessions.len(),
        r.questions.len(),
    ]
    .iter()
    .sum::<usize>() as u64
}
