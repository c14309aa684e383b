//! Bulk writes for imports (`lumen import`): many records per transaction,
//! with multi-row `INSERT … ON CONFLICT` for the high-volume kinds
//! (interactions, attempts), and per-record failures instead of one failure
//! for the batch.

use std::collections::BTreeMap;

use lumen_core::model::{AssessmentAttempt, ContentInteraction, Record};

use super::records::{origin_parts, write_record};
use super::{Store, StoreError, StoreResult, Tx};

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

impl Store {
    /// Upserts `records` in one transaction. Each record is written whole or
    /// not at all (a user with its roles); a record that breaks a rule
    /// (validation, unknown reference, duplicate key) is refused with its
    /// reason; `commit` says what is then kept. Records may only reference
    /// records earlier in the batch or already stored.
    pub async fn import_records(
        &self,
        records: &[Record],
        commit: Commit,
    ) -> StoreResult<Vec<Refused>> {
        // Fast path: everything valid and accepted in one go.
        if commit != Commit::Never && records.iter().all(|r| r.validate().is_ok()) {
            let mut tx = self.begin().await?;
            if write_bulk(&mut tx, records).await.is_ok() {
                if !records.is_empty() {
                    super::records::bump_records_version(&mut tx).await?;
                }
                tx.commit().await?;
                return Ok(Vec::new());
            }
            tx.rollback().await?;
        }
        // Slow path: record by record, each in a savepoint.
        let mut refused = Vec::new();
        let mut tx = self.begin().await?;
        for (index, record) in records.iter().enumerate() {
            if let Err(e) = record.validate() {
                refused.push(Refused {
                    index,
                    error: e.into(),
                });
                continue;
            }
            tx.execute("SAVEPOINT import_record").await?;
            match write_record(&mut tx, record).await {
                Ok(()) => tx.execute("RELEASE SAVEPOINT import_record").await?,
                Err(error) => {
                    tx.execute("ROLLBACK TO SAVEPOINT import_record").await?;
                    tx.execute("RELEASE SAVEPOINT import_record").await?;
                    refused.push(Refused { index, error });
                }
            }
        }
        let keep = match commit {
            Commit::Accepted => true,
            Commit::AllOrNothing => refused.is_empty(),
            Commit::Never => false,
        };
        if keep {
            if refused.len() < records.len() {
                super::records::bump_records_version(&mut tx).await?;
            }
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(refused)
    }

    /// Enrolments by `status` or, when completed, `completed/<outcome>`.
    pub async fn enrolment_outcomes(&self) -> StoreResult<BTreeMap<String, i64>> {
        let rows: Vec<(String, Option<String>, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT status, outcome, COUNT(*) FROM enrolments GROUP BY status, outcome",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(status, outcome, n)| match outcome {
                Some(o) => (format!("{status}/{o}"), n),
                None => (status, n),
            })
            .collect())
    }
}

/// Writes the records in order; runs of interactions and of attempts go as
/// multi-row inserts.
async fn write_bulk(tx: &mut Tx, records: &[Record]) -> StoreResult<()> {
    let mut i = 0;
    while i < records.len() {
        let run = |pred: fn(&Record) -> bool| records[i..].iter().take_while(|r| pred(r)).count();
        let interactions = run(|r| matches!(r, Record::ContentInteraction(_)));
        let attempts = run(|r| matches!(r, Record::AssessmentAttempt(_)));
        if interactions > 1 {
            let rows: Vec<&ContentInteraction> = records[i..i + interactions]
                .iter()
                .filter_map(|r| match r {
                    Record::ContentInteraction(x) => Some(x),
                    _ => None,
                })
                .collect();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_interactions(tx, chunk).await?;
            }
            i += interactions;
        } else if attempts > 1 {
            let rows: Vec<&AssessmentAttempt> = records[i..i + attempts]
                .iter()
                .filter_map(|r| match r {
                    Record::AssessmentAttempt(x) => Some(x),
                    _ => None,
                })
                .collect();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_attempts(tx, chunk).await?;
            }
            i += attempts;
        } else {
            write_record(tx, &records[i]).await?;
            i += 1;
        }
    }
    Ok(())
}

async fn insert_interactions(tx: &mut Tx, rows: &[&ContentInteraction]) -> StoreResult<()> {
    on_pool!(tx(tx), |conn| {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO content_interactions (id, user_id, content_item_id, source, external_id, \
             occurred_at, time_spent_seconds, clicks, completed) ",
        );
        q.push_values(rows, |mut b, i| {
            let (source, external_id) = origin_parts(&i.origin);
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
        q.build().execute(conn).await?;
    });
    Ok(())
}

async fn insert_attempts(tx: &mut Tx, rows: &[&AssessmentAttempt]) -> StoreResult<()> {
    on_pool!(tx(tx), |conn| {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO assessment_attempts (id, assessment_id, user_id, source, external_id, \
             attempt_number, score, started_at, submitted_at) ",
        );
        q.push_values(rows, |mut b, a| {
            let (source, external_id) = origin_parts(&a.origin);
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
        q.build().execute(conn).await?;
    });
    Ok(())
}
