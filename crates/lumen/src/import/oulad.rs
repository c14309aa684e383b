//! `lumen import oulad DIR`: reads the OULAD files (docs/oulad.md) and maps
//! them with `lumen_core::oulad` into learning records, either into the
//! store or into memory (for `lumen model evaluate`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use lumen_core::analytics::dataset::Records;
use lumen_core::model::Record;
use lumen_core::oulad::{
    self, AssessmentRow, ClickNumbering, Clicks, Presentation, Registration, Row, Site,
    StudentInfo, Submission,
};
use uuid::Uuid;

use super::{BadRecord, FileReport, ImportReport, Progress, store_records};
use crate::store::Store;
use crate::store::import::Commit;

/// Interactions per transaction.
const CLICK_BATCH: usize = 20_000;

fn open(path: &Path, progress: Option<&Progress>) -> anyhow::Result<Box<dyn BufRead>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let raw: Box<dyn Read> = match progress {
        Some(p) => Box::new(p.reader(file)),
        None => Box::new(file),
    };
    let gz = path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, raw))
    })
}

/// Rows of one table with their line numbers (the header is line 1); rows
/// that do not parse are bad records.
struct Table<R> {
    path: PathBuf,
    rows: Vec<(usize, R)>,
    bad: Vec<BadRecord>,
}

fn for_each_row<R: Row>(
    path: &Path,
    progress: Option<&Progress>,
    mut f: impl FnMut(usize, Result<R, String>),
) -> anyhow::Result<()> {
    let mut lines = open(path, progress)?.lines();
    let header = lines
        .next()
        .transpose()?
        .with_context(|| format!("{}: empty file", path.display()))?;
    oulad::check_header::<R>(&header).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let line = line.with_context(|| format!("cannot read {}:{line_no}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        f(line_no, oulad::parse_row::<R>(&line).map_err(|e| e.0));
    }
    Ok(())
}

fn read_table<R: Row>(dir: &Path, name: &str) -> anyhow::Result<Table<R>> {
    let path = dir.join(name);
    let mut table = Table {
        path: path.clone(),
        rows: Vec::new(),
        bad: Vec::new(),
    };
    for_each_row::<R>(&path, None, |line, row| match row {
        Ok(r) => table.rows.push((line, r)),
        Err(reason) => table.bad.push(BadRecord {
            file: path.clone(),
            line,
            reason,
        }),
    })?;
    Ok(table)
}

/// The clickstream files of `dir`: `studentVle*.csv` or `studentVle*.csv.gz`.
pub fn clickstream_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("studentVle") && (n.ends_with(".csv") || n.ends_with(".csv.gz"))
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One stage of the mapping: records from one file, with their lines.
pub struct Stage {
    pub file: PathBuf,
    pub records: Vec<(usize, Record)>,
    pub bad: Vec<BadRecord>,
}

/// The OULAD tables that fit in memory, mapped; the clickstream is read
/// separately ([`Oulad::for_each_click`]).
pub struct Oulad {
    dir: PathBuf,
    /// Presentations by key (`AAA-2013J`).
    presentations: BTreeMap<String, Presentation>,
    /// Only these modules (all when empty).
    modules: HashSet<String>,
    pub stages: Vec<Stage>,
    /// Demographic vector of each enrolment, by enrolment id.
    pub demographics: HashMap<Uuid, Vec<f64>>,
}

impl Oulad {
    /// Reads and maps every table but the clickstream, keeping only the
    /// presentations of `modules` (all when empty).
    pub fn open(dir: &Path, modules: &[&str]) -> anyhow::Result<Self> {
        let modules: HashSet<String> = modules.iter().map(|m| (*m).to_owned()).collect();
        let keep = |module: &str| modules.is_empty() || modules.contains(module);
        let mut stages = Vec::new();

        let courses = read_table::<Presentation>(dir, Presentation::FILE)?;
        let presentations: BTreeMap<String, Presentation> = courses
            .rows
            .iter()
            .filter(|(_, p)| keep(&p.module))
            .map(|(_, p)| (p.key(), p.clone()))
            .collect();

        // Learners and their regions (departments) come from studentInfo.
        let infos = read_table::<StudentInfo>(dir, StudentInfo::FILE)?;
        let mut learners = Vec::new();
        let mut regions = BTreeMap::new();
        let mut students = HashSet::new();
        for (line, info) in infos.rows.iter().filter(|(_, i)| keep(&i.module)) {
            regions.entry(info.region.clone()).or_insert(*line);
            if students.insert(info.student.clone()) {
                learners.push((*line, Record::User(info.learner())));
            }
        }
        let mut people = vec![(0, Record::Organization(oulad::organization()))];
        people.extend(
            regions
                .into_iter()
                .map(|(region, line)| (line, Record::Department(oulad::department(&region)))),
        );
        people.extend(learners);
        stages.push(Stage {
            file: infos.path.clone(),
            records: people,
            bad: infos.bad,
        });

        stages.push(Stage {
            file: courses.path,
            records: courses
                .rows
                .iter()
                .filter(|(_, p)| keep(&p.module))
                .map(|(line, p)| (*line, Record::Course(p.course())))
                .collect(),
            bad: courses.bad,
        });

        // Enrolments: studentRegistration, with the final result of studentInfo.
        let regs = read_table::<Registration>(dir, Registration::FILE)?;
        let info_by_key: HashMap<String, &StudentInfo> =
            infos.rows.iter().map(|(_, i)| (i.key(), i)).collect();
        let mut enrolments = Vec::new();
        let mut bad = regs.bad;
        let mut demographics = HashMap::new();
        for (line, reg) in regs.rows.iter().filter(|(_, r)| keep(&r.module)) {
            let p = presentations.get(&oulad::presentation_key(&reg.module, &reg.presentation));
            match (p, info_by_key.get(&reg.key())) {
                (Some(p), Some(info)) => {
                    demographics.insert(info.enrolment_id(), info.demographics());
                    enrolments.push((*line, Record::Enrolment(oulad::enrolment(p, info, reg))));
                }
                (None, _) => bad.push(BadRecord {
                    file: regs.path.clone(),
                    line: *line,
                    reason: format!("unknown presentation {} {}", reg.module, reg.presentation),
                }),
                (_, None) => bad.push(BadRecord {
                    file: regs.path.clone(),
                    line: *line,
                    reason: "no studentInfo row for this registration".to_owned(),
                }),
            }
        }
        stages.push(Stage {
            file: regs.path,
            records: enrolments,
            bad,
        });

        let sites = read_table::<Site>(dir, Site::FILE)?;
        stages.push(Stage {
            file: sites.path,
            records: sites
                .rows
                .iter()
                .filter(|(_, s)| keep(&s.module))
                .map(|(line, s)| (*line, Record::ContentItem(s.content_item())))
                .collect(),
            bad: sites.bad,
        });

        let assessments = read_table::<AssessmentRow>(dir, AssessmentRow::FILE)?;
        let mut records = Vec::new();
        let mut bad = assessments.bad;
        let mut assessment_start: HashMap<String, DateTime<Utc>> = HashMap::new();
        for (line, a) in assessments.rows.iter().filter(|(_, a)| keep(&a.module)) {
            let mapped = presentations
                .get(&a.key())
                .ok_or_else(|| format!("unknown presentation {}", a.key()))
                .and_then(|p| {
                    assessment_start.insert(a.assessment.clone(), p.start);
                    a.assessment(p.start).map_err(|e| e.0)
                });
            match mapped {
                Ok(x) => records.push((*line, Record::Assessment(x))),
                Err(reason) => bad.push(BadRecord {
                    file: assessments.path.clone(),
                    line: *line,
                    reason,
                }),
            }
        }
        stages.push(Stage {
            file: assessments.path,
            records,
            bad,
        });

        // Submissions of assessments outside `modules` are skipped silently.
        let path = dir.join(Submission::FILE);
        let mut records = Vec::new();
        let mut bad = Vec::new();
        for_each_row::<Submission>(&path, None, |line, row| {
            let mapped = row.and_then(|s| match assessment_start.get(&s.assessment) {
                Some(start) => s.attempt(*start).map(Some).map_err(|e| e.0),
                None if modules.is_empty() => Err(format!("unknown assessment {}", s.assessment)),
                None => Ok(None),
            });
            match mapped {
                Ok(Some(a)) => records.push((line, Record::AssessmentAttempt(a))),
                Ok(None) => {}
                Err(reason) => bad.push(BadRecord {
                    file: path.clone(),
                    line,
                    reason,
                }),
            }
        })?;
        stages.push(Stage {
            file: path,
            records,
            bad,
        });

        Ok(Self {
            dir: dir.to_owned(),
            presentations,
            modules,
            stages,
            demographics,
        })
    }

    pub fn presentation(&self, module: &str, presentation: &str) -> Option<&Presentation> {
        self.presentations
            .get(&oulad::presentation_key(module, presentation))
    }

    /// Reads the clickstream files in order, calling `batch` with up to
    /// `size` interactions at a time (with their lines) and `bad` for rows
    /// that cannot be mapped.
    pub fn for_each_click(
        &self,
        progress: Option<&Progress>,
        mut batch: impl FnMut(&Path, Vec<(usize, Record)>) -> anyhow::Result<()>,
        size: usize,
    ) -> anyhow::Result<Vec<BadRecord>> {
        let mut bad = Vec::new();
        for path in clickstream_files(&self.dir)? {
            let mut numbering = ClickNumbering::default();
            let mut pending = Vec::with_capacity(size);
            let mut failure = None;
            for_each_row::<Clicks>(&path, progress, |line, row| {
                if failure.is_some() {
                    return;
                }
                if let Ok(c) = &row
                    && !(self.modules.is_empty() || self.modules.contains(&c.module))
                {
                    return;
                }
                let mapped = row.and_then(|c| {
                    let p = self
                        .presentation(&c.module, &c.presentation)
                        .ok_or_else(|| {
                            format!("unknown presentation {} {}", c.module, c.presentation)
                        })?;
                    let n = numbering.next(&c).map_err(|e| e.0)?;
                    Ok(c.interaction(p.start, n))
                });
                match mapped {
                    Ok(i) => {
                        pending.push((line, Record::ContentInteraction(i)));
                        if pending.len() >= size
                            && let Err(e) = batch(&path, std::mem::take(&mut pending))
                        {
                            failure = Some(e);
                        }
                    }
                    Err(reason) => bad.push(BadRecord {
                        file: path.clone(),
                        line,
                        reason,
                    }),
                }
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            if !pending.is_empty() {
                batch(&path, pending)?;
            }
        }
        Ok(bad)
    }

    /// Every record in memory, for the analytics (`Dataset::new`).
    pub fn records(&self) -> anyhow::Result<Records> {
        let mut r = Records::default();
        let mut interactions = Vec::new();
        self.for_each_click(
            None,
            |_, batch| {
                interactions.extend(batch.into_iter().filter_map(|(_, rec)| match rec {
                    Record::ContentInteraction(i) => Some(i),
                    _ => None,
                }));
                Ok(())
            },
            CLICK_BATCH,
        )?;
        for stage in &self.stages {
            for (_, record) in &stage.records {
                match record.clone() {
                    Record::Organization(o) => r.organization = Some(o),
                    Record::Department(d) => r.departments.push(d),
                    Record::User(u) => r.users.push(u),
                    Record::Course(c) => r.courses.push(c),
                    Record::Enrolment(e) => r.enrolments.push(e),
                    Record::ContentItem(c) => r.content_items.push(c),
                    Record::Assessment(a) => r.assessments.push(a),
                    Record::AssessmentAttempt(a) => r.attempts.push(a),
                    _ => {}
                }
            }
        }
        r.interactions = interactions;
        Ok(r)
    }
}

/// Total bytes of the files an import reads, for the progress bar.
fn input_bytes(dir: &Path) -> anyhow::Result<u64> {
    Ok(clickstream_files(dir)?
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum())
}

/// `lumen import oulad DIR`: every OULAD record into the store.
pub async fn import(store: &Store, dir: &Path) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let mut data = Oulad::open(dir, &[])?;
    let progress = Progress::new(input_bytes(dir)?);
    let mut report = ImportReport::default();
    for stage in std::mem::take(&mut data.stages) {
        let stage_started = Instant::now();
        let records = stage.records.len() + stage.bad.len();
        let mut bad = stage.bad;
        let stored = store_records(
            store,
            &stage.file,
            stage.records,
            Commit::Accepted,
            &mut bad,
            &progress,
        )
        .await?;
        report.files.push(FileReport {
            file: stage.file,
            records,
            stored,
            bad,
            seconds: stage_started.elapsed().as_secs_f64(),
        });
    }

    // The clickstream: read on a blocking thread, written here, batch by batch.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(PathBuf, Vec<(usize, Record)>)>(2);
    let reader_progress = progress.clone();
    let reader = tokio::task::spawn_blocking(move || {
        data.for_each_click(
            Some(&reader_progress),
            |path, batch| {
                tx.blocking_send((path.to_owned(), batch))
                    .map_err(|_| anyhow::anyhow!("import stopped"))
            },
            CLICK_BATCH,
        )
    });
    // Each file's wall time: from the end of the previous batch (its
    // reading overlaps the previous write) to the end of its last write.
    let mut clicks: BTreeMap<PathBuf, FileReport> = BTreeMap::new();
    let mut last = Instant::now();
    while let Some((path, batch)) = rx.recv().await {
        let entry = clicks.entry(path.clone()).or_insert_with(|| FileReport {
            file: path.clone(),
            records: 0,
            stored: 0,
            bad: Vec::new(),
            seconds: 0.0,
        });
        entry.records += batch.len();
        entry.stored += store_records(
            store,
            &path,
            batch,
            Commit::Accepted,
            &mut entry.bad,
            &progress,
        )
        .await?;
        entry.seconds += last.elapsed().as_secs_f64();
        last = Instant::now();
    }
    let unmapped = reader.await.context("clickstream reader")??;
    for b in unmapped {
        let entry = clicks.entry(b.file.clone()).or_insert_with(|| FileReport {
            file: b.file.clone(),
            records: 0,
            stored: 0,
            bad: Vec::new(),
            seconds: 0.0,
        });
        entry.records += 1;
        entry.bad.push(b);
    }
    report.files.extend(clicks.into_values());
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One analytic on imported OULAD data: `Ok` with the notes it states (what
/// it did without), or why it has no answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub analytic: &'static str,
    pub outcome: Result<Vec<String>, String>,
}

/// The default as-of instant of [`coverage`]: day 120 of AAA 2014J
/// (2015-01-29), the latest presentation with a clickstream.
pub fn coverage_instant() -> DateTime<Utc> {
    oulad::presentation_start("2014J").unwrap_or_default() + chrono::Duration::days(120)
}

/// Runs every analytic on an OULAD organisation as of `as_of` (windows of
/// 90 days): the learner ones for the learner with the most clicks in the
/// 90 days before, the organisation ones for the organisation. The trainer
/// ones have no subject: OULAD has no tutors. No drop-off model is trained
/// (`drop-off-risk` would answer with the heuristic).
pub fn coverage(ds: &lumen_core::analytics::Dataset, as_of: DateTime<Utc>) -> Vec<Coverage> {
    use lumen_core::Role;
    use lumen_core::analytics::{Analytic, AnalyticError, Inputs, SubjectKind, TimeRange, Window};

    let w = Window::new(TimeRange::Days90, as_of);
    let mut clicks: HashMap<Uuid, i64> = HashMap::new();
    for i in &ds.records.interactions {
        if w.contains(i.occurred_at) {
            *clicks.entry(i.user_id).or_default() += i64::from(i.clicks);
        }
    }
    let learner = clicks
        .into_iter()
        .max_by_key(|(u, n)| (*n, *u))
        .map(|(u, _)| u);
    let org = ds.records.organization.as_ref().map(|o| o.id);
    let inputs = Inputs {
        ds,
        w: &w,
        k: 5,
        model: None,
        ai: None,
        memo: None,
    };
    [Role::Learner, Role::Trainer, Role::OrgAdmin]
        .iter()
        .flat_map(|r| Analytic::bundle(*r))
        .map(|kind| {
            let subject = match kind.subject {
                SubjectKind::Learner => learner,
                SubjectKind::Organization | SubjectKind::CallersOrganization => org,
                SubjectKind::Trainer => None,
            };
            let outcome = match subject {
                None if kind.subject == SubjectKind::Trainer => {
                    Err("no trainer in the data (OULAD has no tutors)".to_owned())
                }
                None => Err("no subject with activity at this date".to_owned()),
                Some(s) => match (kind.compute)(s, &inputs) {
                    Ok(v) => Ok(v
                        .get("notes")
                        .and_then(|n| n.as_array())
                        .map(|n| n.iter().map(|x| x.to_string()).collect())
                        .unwrap_or_default()),
                    Err(AnalyticError::InsufficientData {
                        reason, message, ..
                    }) => Err(format!("{reason}: {message}")),
                    Err(AnalyticError::NotFound(m)) => Err(m),
                },
            };
            Coverage {
                analytic: kind.name,
                outcome,
            }
        })
        .collect()
}

/// Prints the stored enrolments by outcome.
pub async fn print_outcomes(store: &Store, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    writeln!(out, "enrolments by outcome:")?;
    for (outcome, n) in store.enrolment_outcomes().await? {
        writeln!(out, "  {outcome:<24} {n:>7}")?;
    }
    Ok(())
}

/// Prints [`coverage`] of the stored OULAD organisation at
/// [`coverage_instant`].
pub async fn print_coverage(store: &Store, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let records = store.load_records(oulad::organization().id).await?;
    let ds = lumen_core::analytics::Dataset::new(records);
    let as_of = coverage_instant();
    writeln!(
        out,
        "analytics on this data as of {} (90-day windows):",
        as_of.to_rfc3339()
    )?;
    for c in tokio::task::block_in_place(|| coverage(&ds, as_of)) {
        match c.outcome {
            Ok(notes) if notes.is_empty() => writeln!(out, "  {:<24} works", c.analytic)?,
            Ok(notes) => writeln!(
                out,
                "  {:<24} works without: {}",
                c.analytic,
                notes.join(", ")
            )?,
            Err(reason) => writeln!(out, "  {:<24} lacks inputs: {reason}", c.analytic)?,
        }
    }
    Ok(())
}
