//! `lumen import`: bulk import of learning records from files
//! (docs/import.md), and of the OULAD dataset (`oulad`).
//!
//! Every bad record is reported with its file, line and reason. A file with
//! bad records imports its good ones (default) or nothing (`strict`); a
//! record is never written in part. Ids derive from the import's source and
//! the records' own ids, so importing twice stores nothing twice.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use lumen_core::import::{self, Kind};
use lumen_core::model::Record;
use uuid::Uuid;

use crate::store::import::Commit;
use crate::store::{ConflictKind, Store, StoreError};

pub mod oulad;

/// Why an import could not run (bad records are not errors: they are
/// reported, see `BadRecord`).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file or directory cannot be read; `what` says which (and where).
    #[error("{what}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file whose name is not `<kind>.ndjson`; the whole explanation.
    #[error("{0}")]
    NotAnImportFile(String),
    #[error("{}: no .ndjson files", .0.display())]
    NoFiles(PathBuf),
    #[error("cannot name the import after its directory: give --name")]
    NoName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `ImportError::Read` with `what` as its explanation.
fn unreadable(what: String) -> impl FnOnce(std::io::Error) -> ImportError {
    move |source| ImportError::Read { what, source }
}

/// Records per transaction when not strict.
pub const BATCH: usize = 5000;

/// One record that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file itself (e.g. its header).
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub file: PathBuf,
    /// Records read (good and bad).
    pub records: usize,
    pub stored: usize,
    pub bad: Vec<BadRecord>,
    /// Wall time spent on the file (reading, mapping, writing).
    pub seconds: f64,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
    pub seconds: f64,
}

impl ImportReport {
    pub fn stored(&self) -> usize {
        self.files.iter().map(|f| f.stored).sum()
    }

    pub fn bad(&self) -> impl Iterator<Item = &BadRecord> {
        self.files.iter().flat_map(|f| f.bad.iter())
    }

    /// One line per file, the bad records, and a total, for the terminal.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        for b in self.bad() {
            writeln!(out, "bad record {b}")?;
        }
        for f in &self.files {
            writeln!(
                out,
                "{:<60} read {:>9}  stored {:>9}  bad {:>6}  {:>7.1} s {:>8.0} records/s",
                f.file.display(),
                f.records,
                f.stored,
                f.bad.len(),
                f.seconds,
                f.stored as f64 / f.seconds.max(1e-9)
            )?;
        }
        writeln!(
            out,
            "total: stored {} records in {:.1} s ({:.0} records/s), {} bad",
            self.stored(),
            self.seconds,
            self.stored() as f64 / self.seconds.max(1e-9),
            self.bad().count()
        )
    }
}

/// A progress bar on standard error over bytes of input (drawn only on a
/// terminal).
#[derive(Clone)]
pub struct Progress {
    done: Arc<AtomicU64>,
    total: u64,
    records: Arc<AtomicU64>,
    started: Instant,
    draw: bool,
}

impl Progress {
    pub fn new(total_bytes: u64) -> Self {
        Self {
            done: Arc::new(AtomicU64::new(0)),
            total: total_bytes.max(1),
            records: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
            draw: std::io::stderr().is_terminal(),
        }
    }

    /// A reader that advances the bar by the bytes it reads.
    pub fn reader<R: Read>(&self, inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            done: self.done.clone(),
        }
    }

    pub fn stored(&self, records: usize) {
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.redraw();
    }

    fn redraw(&self) {
        if !self.draw {
            return;
        }
        let share = (self.done.load(Ordering::Relaxed) as f64 / self.total as f64).min(1.0);
        let records = self.records.load(Ordering::Relaxed);
        let rate = records as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let filled = (share * 30.0).round() as usize;
        eprint!(
            "\r[{}{}] {:>3.0}%  {records} records  {rate:.0}/s ",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            share * 100.0
        );
    }

    pub fn finish(&self) {
        if self.draw {
            self.done.store(self.total, Ordering::Relaxed);
            self.redraw();
            eprintln!();
        }
    }
}

pub struct CountingReader<R> {
    inner: R,
    done: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Why the store refused a record, in words.
pub fn refusal_reason(error: &StoreError) -> String {
    match error {
        StoreError::Conflict {
            kind: ConflictKind::UnknownReference,
            message,
        } => format!("references a record that does not exist ({message})"),
        StoreError::Conflict {
            kind: ConflictKind::Duplicate,
            message,
        } => format!("duplicates a unique value of another record ({message})"),
        other => other.to_string(),
    }
}

/// Lumen's id of a record that has one.
fn own_id(record: &Record) -> Option<Uuid> {
    Some(match record {
        Record::Organization(x) => x.id,
        Record::Department(x) => x.id,
        Record::User(x) => x.id,
        Record::Course(x) => x.id,
        Record::CourseUnit(x) => x.id,
        Record::Enrolment(x) => x.id,
        Record::TrainerFeedback(x) => x.id,
        Record::ContentItem(x) => x.id,
        Record::ContentInteraction(x) => x.id,
        Record::Assessment(x) => x.id,
        Record::AssessmentAttempt(x) => x.id,
        Record::Skill(x) => x.id,
        Record::LabSession(x) => x.id,
        Record::AssistantQuestion(x) => x.id,
        _ => return None,
    })
}

/// Writes numbered records (line, record) of one file with `commit`;
/// returns how many were stored, and adds the refused ones to `bad`.
/// `AllOrNothing` and `Never` take the whole file in one transaction.
pub async fn store_records(
    store: &Store,
    file: &Path,
    records: Vec<(usize, Record)>,
    commit: Commit,
    bad: &mut Vec<BadRecord>,
    progress: &Progress,
) -> Result<usize, ImportError> {
    let batch = match commit {
        Commit::Accepted => BATCH,
        Commit::AllOrNothing | Commit::Never => records.len().max(1),
    };
    let (lines, records): (Vec<usize>, Vec<Record>) = records.into_iter().unzip();
    let mut stored = 0;
    for (lines, rows) in lines.chunks(batch).zip(records.chunks(batch)) {
        let refused = store.import_records(rows, commit).await?;
        stored += match commit {
            Commit::Accepted => rows.len() - refused.len(),
            Commit::AllOrNothing if refused.is_empty() => rows.len(),
            _ => 0,
        };
        for r in refused {
            bad.push(BadRecord {
                file: file.to_owned(),
                line: lines[r.index],
                reason: refusal_reason(&r.error),
            });
        }
        progress.stored(rows.len());
    }
    Ok(stored)
}

/// The NDJSON files to import from `path` (a file or a directory), in
/// dependency order.
pub fn files_of(path: &Path) -> Result<Vec<(Kind, PathBuf)>, ImportError> {
    let candidates: Vec<PathBuf> = if path.is_dir() {
        let mut v = Vec::new();
        let cannot_read = || format!("cannot read {}", path.display());
        for entry in std::fs::read_dir(path).map_err(unreadable(cannot_read()))? {
            let p = entry.map_err(unreadable(cannot_read()))?.path();
            if p.is_file() {
                v.push(p);
            }
        }
        v
    } else {
        vec![path.to_owned()]
    };
    let mut files = Vec::new();
    for p in candidates {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let kind = name
            .strip_suffix(".ndjson")
            .and_then(Kind::from_file_stem)
            .ok_or_else(|| {
                let names: Vec<String> = Kind::ALL
                    .iter()
                    .map(|k| format!("{}.ndjson", k.file_stem()))
                    .collect();
                ImportError::NotAnImportFile(format!(
                    "{}: not an import file; expected one of {}",
                    p.display(),
                    names.join(", ")
                ))
            })?;
        files.push((kind, p));
    }
    if files.is_empty() {
        return Err(ImportError::NoFiles(path.to_owned()));
    }
    files.sort();
    Ok(files)
}

/// The default import name of `path`: a directory's name, or a file's
/// directory's name.
pub fn default_name(path: &Path) -> Result<String, ImportError> {
    let absolute = std::fs::canonicalize(path)
        .map_err(unreadable(format!("cannot read {}", path.display())))?;
    let dir = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent().unwrap_or(&absolute)
    };
    dir.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or(ImportError::NoName)
}

/// Options of `lumen import PATH`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records' ids derive from `import:<name>`.
    pub name: String,
    /// A file with a bad record imports nothing.
    pub strict: bool,
    /// Stamped on records whose lines carry no `createdAt` / `updatedAt`.
    pub now: DateTime<Utc>,
}

/// `lumen import PATH`: every NDJSON file of PATH, in dependency order.
pub async fn import_path(
    store: &Store,
    path: &Path,
    options: &Options,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let files = files_of(path)?;
    let total: u64 = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::new(total);
    let ctx = import::Context::new(&options.name, options.now);
    let mut report = ImportReport::default();
    for (kind, file) in files {
        let file_started = Instant::now();
        let reader = std::io::BufReader::new(
            progress.reader(
                std::fs::File::open(&file)
                    .map_err(unreadable(format!("cannot open {}", file.display())))?,
            ),
        );
        let mut good: Vec<(usize, Record)> = Vec::new();
        let mut bad = Vec::new();
        let mut seen: HashMap<Uuid, usize> = HashMap::new();
        let mut records = 0;
        for (i, line) in reader.lines().enumerate() {
            let line_no = i + 1;
            let line = line.map_err(unreadable(format!(
                "cannot read {}:{line_no}",
                file.display()
            )))?;
            if line.trim().is_empty() {
                continue;
            }
            records += 1;
            let bad_line = |reason: String| BadRecord {
                file: file.clone(),
                line: line_no,
                reason,
            };
            match import::parse_line(kind, &line, &ctx) {
                Ok(record) => {
                    if let Some(id) = own_id(&record)
                        && let Some(first) = seen.insert(id, line_no)
                    {
                        bad.push(bad_line(format!(
                            "duplicate id: line {first} has the same id"
                        )));
                        continue;
                    }
                    good.push((line_no, record));
                }
                Err(e) => bad.push(bad_line(e.0)),
            }
        }
        // Strict: a file with a bad line is still checked against the
        // store (so every bad record is reported), but nothing is kept.
        let commit = match (options.strict, bad.is_empty()) {
            (false, _) => Commit::Accepted,
            (true, true) => Commit::AllOrNothing,
            (true, false) => Commit::Never,
        };
        let stored = store_records(store, &file, good, commit, &mut bad, &progress).await?;
        bad.sort_by_key(|b| b.line);
        report.files.push(FileReport {
            file,
            records,
            stored,
            bad,
            seconds: file_started.elapsed().as_secs_f64(),
        });
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
