//! Bulk writes for imports (`lumen import`): many records per transaction,
//! with multi-row `INSERT … ON CONFLICT` for the high-volume kinds
//! (interactions, attempts), and per-record failures instead of one failure
//! for the batch. `impl_import_store!` expands to the implementation for a
//! pool type, like `impl_store!`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use lumen_core::model::Record;

use super::{StoreError, StoreResult};

/// Rows per multi-row `INSERT` (9 columns each: well under SQLite's 32,766
/// and PostgreSQL's 65,535 bind parameters).
pub const ROWS_PER_INSERT: usize = 1000;

/// A record the store refused, by its position in the batch.
#[derive(Debug)]
pub struct Refused {
    pub index: usize,
    pub error: StoreError,
}

/// When `import_records` commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The accepted records, whatever was refused.
    Accepted,
    /// Everything, or nothing if one record was refused.
    AllOrNothing,
    /// Nothing: only find what would be refused.
    Never,
}

#[async_trait]
pub trait ImportStore {
    /// Upserts `records` in one transaction. Each record is written whole or
    /// not at all (a user with its roles); a record that breaks a rule
    /// (validation, unknown reference, duplicate key) is refused with its
    /// reason; `commit` says what is then kept. Records may only reference
    /// records earlier in the batch or already stored.
    async fn import_records(&self, records: &[Record], commit: Commit)
    -> StoreResult<Vec<Refused>>;

    /// Enrolments by `status` or, when completed, `completed/<outcome>`.
    async fn enrolment_outcomes(&self) -> StoreResult<BTreeMap<String, i64>>;
}

/// Expands to `impl ImportStore for $store` (invoked beside `impl_store!`,
/// whose private `write_record` it reuses).
macro_rules! impl_import_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::import::ImportStore for $store {
            async fn import_records(
                &self,
                records: &[lumen_core::model::Record],
                commit: $crate::store::import::Commit,
            ) -> $crate::store::StoreResult<Vec<$crate::store::import::Refused>> {
                use $crate::store::import::Commit;
                // Fast path: everything valid and accepted in one go.
                if commit != Commit::Never && records.iter().all(|r| r.validate().is_ok()) {
                    let mut tx = self.pool.begin().await?;
                    if Self::write_bulk(&mut tx, records).await.is_ok() {
                        tx.commit().await?;
                        return Ok(Vec::new());
                    }
                    tx.rollback().await?;
                }
                // Slow path: record by record, each in a savepoint.
                let mut refused = Vec::new();
                let mut tx = self.pool.begin().await?;
                for (index, record) in records.iter().enumerate() {
                    if let Err(e) = record.validate() {
                        refused.push($crate::store::import::Refused { index, error: e.into() });
                        continue;
                    }
                    sqlx::query("SAVEPOINT import_record").execute(&mut *tx).await?;
                    match Self::write_record(&mut tx, record).await {
                        Ok(()) => {
                            sqlx::query("RELEASE SAVEPOINT import_record")
                                .execute(&mut *tx)
                                .await?;
                        }
                        Err(error) => {
                            sqlx::query("ROLLBACK TO SAVEPOINT import_record")
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("RELEASE SAVEPOINT import_record")
                                .execute(&mut *tx)
                                .await?;
                            refused.push($crate::store::import::Refused { index, error });
                        }
                    }
                }
                let keep = match commit {
                    Commit::Accepted => true,
                    Commit::AllOrNothing => refused.is_empty(),
                    Commit::Never => false,
                };
                if keep {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                Ok(refused)
            }

            async fn enrolment_outcomes(
                &self,
            ) -> $crate::store::StoreResult<std::collections::BTreeMap<String, i64>> {
                let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT status, outcome, COUNT(*) FROM enrolments GROUP BY status, outcome",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(status, outcome, n)| match outcome {
                        Some(o) => (format!("{status}/{o}"), n),
                        None => (status, n),
                    })
                    .collect())
            }
        }

        impl $store {
            /// Writes the records in order; runs of interactions and of
            /// attempts go as multi-row inserts.
            async fn write_bulk(
                conn: &mut <$db as sqlx::Database>::Connection,
                records: &[lumen_core::model::Record],
            ) -> $crate::store::StoreResult<()> {
                use lumen_core::model::Record as R;
                let mut i = 0;
                while i < records.len() {
                    let run = |pred: fn(&R) -> bool| {
                        records[i..].iter().take_while(|r| pred(r)).count()
                    };
                    let interactions = run(|r| matches!(r, R::ContentInteraction(_)));
                    let attempts = run(|r| matches!(r, R::AssessmentAttempt(_)));
                    if interactions > 1 {
                        let rows: Vec<&lumen_core::model::ContentInteraction> = records
                            [i..i + interactions]
                            .iter()
                            .filter_map(|r| match r {
                                R::ContentInteraction(x) => Some(x),
                                _ => None,
                            })
                            .collect();
                        for chunk in rows.chunks($crate::store::import::ROWS_PER_INSERT) {
                            Self::insert_interactions(conn, chunk).await?;
                        }
                        i += interactions;
                    } else if attempts > 1 {
                        let rows: Vec<&lumen_core::model::AssessmentAttempt> = records
                            [i..i + attempts]
                            .iter()
                            .filter_map(|r| match r {
                                R::AssessmentAttempt(x) => Some(x),
                                _ => None,
                            })
                            .collect();
                        for chunk in rows.chunks($crate::store::import::ROWS_PER_INSERT) {
                            Self::insert_attempts(conn, chunk).await?;
                        }
                        i += attempts;
                    } else {
                        Self::write_record(conn, &records[i]).await?;
                        i += 1;
                    }
                }
                Ok(())
            }

            async fn insert_interactions(
                conn: &mut <$db as sqlx::Database>::Connection,
                rows: &[&lumen_core::model::ContentInteraction],
            ) -> $crate::store::StoreResult<()> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO content_interactions (id, user_id, content_item_id, source, external_id, \
                     occurred_at, time_spent_seconds, clicks, completed) ",
                );
                q.push_values(rows, |mut b, i| {
                    let (source, external_id) = $crate::store::common::origin_parts(&i.origin);
                    b.push_bind(i.id)
                        .push_bind(i.user_id)
                        .push_bind(i.content_item_id)
                        .push_bind(source.map(str::to_owned))
                        .push_bind(external_id.map(str::to_owned))
                        .push_bind(i.occurred_at)
                        .push_bind(i.time_spent_seconds)
                        .push_bind(i.clicks)
                        .push_bind(i.completed);
                });
                q.push(
                    " ON CONFLICT (id) DO UPDATE SET \
                     user_id = excluded.user_id, content_item_id = excluded.content_item_id, \
                     source = excluded.source, external_id = excluded.external_id, \
                     occurred_at = excluded.occurred_at, time_spent_seconds = excluded.time_spent_seconds, \
                     clicks = excluded.clicks, completed = excluded.completed",
                );
                q.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_attempts(
                conn: &mut <$db as sqlx::Database>::Connection,
                rows: &[&lumen_core::model::AssessmentAttempt],
            ) -> $crate::store::StoreResult<()> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO assessment_attempts (id, assessment_id, user_id, source, external_id, \
                     attempt_number, score, started_at, submitted_at) ",
                );
                q.push_values(rows, |mut b, a| {
                    let (source, external_id) = $crate::store::common::origin_parts(&a.origin);
                    b.push_bind(a.id)
                        .push_bind(a.assessment_id)
                        .push_bind(a.user_id)
                        .push_bind(source.map(str::to_owned))
                        .push_bind(external_id.map(str::to_owned))
                        .push_bind(a.attempt_number)
                        .push_bind(a.score)
                        .push_bind(a.started_at)
                        .push_bind(a.submitted_at);
                });
                q.push(
                    " ON CONFLICT (id) DO UPDATE SET \
                     assessment_id = excluded.assessment_id, user_id = excluded.user_id, \
                     source = excluded.source, external_id = excluded.external_id, \
                     attempt_number = excluded.attempt_number, score = excluded.score, \
                     started_at = excluded.started_at, submitted_at = excluded.submitted_at",
                );
                q.build().execute(&mut *conn).await?;
                Ok(())
            }
        }
    };
}
