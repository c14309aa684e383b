//! `lumen model evaluate --oulad DIR`: the drop-off model judged on OULAD's
//! real outcomes with a temporal split (docs/analytics.md §9.5). The
//! records are mapped exactly as `lumen import oulad` stores them, but kept
//! in memory; the evaluation itself is `lumen_core::analytics::evaluation`.

use std::path::Path;

use lumen_core::analytics::Dataset;
use lumen_core::analytics::evaluation::{self, Evaluation};
use serde::Serialize;

use crate::import::oulad::Oulad;

/// (module, training presentation, test presentation).
pub const SPLITS: [(&str, &str, &str); 2] = [("AAA", "2013J", "2014J"), ("BBB", "2013B", "2013J")];
/// Prediction days.
pub const DAYS: [i64; 4] = [30, 60, 90, 120];

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleEvaluation {
    pub module: String,
    pub train: String,
    pub test: String,
    pub evaluations: Vec<Evaluation>,
}

/// Evaluates every split of [`SPLITS`] at [`DAYS`] (or at `days`).
pub fn evaluate_oulad(dir: &Path, days: &[i64]) -> anyhow::Result<Vec<ModuleEvaluation>> {
    let mut out = Vec::new();
    for (module, train, test) in SPLITS {
        let data = Oulad::open(dir, &[module])?;
        let ds = Dataset::new(data.records()?);
        out.push(evaluate_split(&ds, &data, module, train, test, days)?);
    }
    Ok(out)
}

/// The course ids of a split's training and test presentations.
fn split_courses(
    data: &Oulad,
    module: &str,
    train: &str,
    test: &str,
) -> anyhow::Result<(uuid::Uuid, uuid::Uuid)> {
    let course = |p: &str| {
        data.presentation(module, p)
            .map(|x| x.course_id())
            .ok_or_else(|| anyhow::anyhow!("presentation {module} {p} is not in the data"))
    };
    Ok((course(train)?, course(test)?))
}

/// One module's split on an already loaded dataset.
pub fn evaluate_split(
    ds: &Dataset,
    data: &Oulad,
    module: &str,
    train: &str,
    test: &str,
    days: &[i64],
) -> anyhow::Result<ModuleEvaluation> {
    let (train_course, test_course) = split_courses(data, module, train, test)?;
    let mut evaluations = Vec::new();
    for &day in days {
        evaluations.extend(
            evaluation::evaluate(ds, train_course, test_course, day, &data.demographics)
                .ok_or_else(|| anyhow::anyhow!("{module}: a course has no start date"))?,
        );
    }
    Ok(ModuleEvaluation {
        module: module.to_owned(),
        train: train.to_owned(),
        test: test.to_owned(),
        evaluations,
    })
}

/// The feature ablation of §9.5: per module and day, ROC-AUC / ECE on
/// non-completion with each feature set, as a Markdown table.
pub fn ablation_oulad(dir: &Path, days: &[i64]) -> anyhow::Result<String> {
    let mut header = String::from("| module (train → test) | day |");
    let mut rule = String::from("|---|---:|");
    for (name, _) in lumen_core::analytics::dropoff::FEATURE_SETS {
        header.push_str(&format!(" {name} |"));
        rule.push_str("---:|");
    }
    let mut s = format!("{header}\n{rule}\n");
    for (module, train, test) in SPLITS {
        let data = Oulad::open(dir, &[module])?;
        let ds = Dataset::new(data.records()?);
        let (train_course, test_course) = split_courses(&data, module, train, test)?;
        for &day in days {
            let row = evaluation::ablation(&ds, train_course, test_course, day)
                .ok_or_else(|| anyhow::anyhow!("{module}: a course has no start date"))?;
            s.push_str(&format!("| {module} {train} → {test} | {day} |"));
            for (_, auc, ece) in row {
                s.push_str(&format!(" {} / {} |", f3(auc), f3(ece)));
            }
            s.push('\n');
        }
    }
    Ok(s)
}

/// The fairness audit of §9.5 (`--fairness`): per module, day and
/// subgroup of the test presentation.
pub fn fairness_oulad(
    dir: &Path,
    days: &[i64],
) -> anyhow::Result<Vec<(String, Vec<evaluation::Subgroup>)>> {
    let mut out = Vec::new();
    for (module, train, test) in SPLITS {
        let data = Oulad::open(dir, &[module])?;
        let ds = Dataset::new(data.records()?);
        let (train_course, test_course) = split_courses(&data, module, train, test)?;
        let mut groups = Vec::new();
        for &day in days {
            groups.extend(
                evaluation::fairness(&ds, train_course, test_course, day, &data.demographics)
                    .ok_or_else(|| anyhow::anyhow!("{module}: a course has no start date"))?,
            );
        }
        out.push((format!("{module} {train} → {test}"), groups));
    }
    Ok(out)
}

/// The fairness audit as a Markdown table.
pub fn fairness_markdown(results: &[(String, Vec<evaluation::Subgroup>)]) -> String {
    let mut s = String::from(
        "| module (train → test) | day | attribute | group | n (positives) | ROC-AUC | mean predicted | observed | ECE | flag rate | TPR | FPR |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (split, groups) in results {
        for g in groups {
            s.push_str(&format!(
                "| {split} | {} | {} | {} | {} ({}) | {} | {:.3} | {:.3} | {} | {:.3} | {} | {} |\n",
                g.day,
                g.attribute,
                g.group,
                g.n,
                g.positives,
                f3(g.roc_auc),
                g.mean_predicted,
                g.observed_rate,
                f3(g.ece),
                g.flag_rate,
                f3(g.true_positive_rate),
                f3(g.false_positive_rate),
            ));
        }
    }
    s
}

fn f3(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
}

/// The evaluation as a Markdown table (one row per module, day, target and
/// model).
pub fn markdown(results: &[ModuleEvaluation]) -> String {
    let mut s = String::from(
        "| module (train → test) | day | target | test n (positives) | model | ROC-AUC | PR-AUC | MCC @ threshold | Brier | ECE |\n\
         |---|---:|---|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        for e in &m.evaluations {
            for sc in &e.scores {
                s.push_str(&format!(
                    "| {} {} → {} | {} | {} | {} ({}) | {} | {} | {} | {:.3} @ {:.2} | {} | {} |\n",
                    m.module,
                    m.train,
                    m.test,
                    e.day,
                    e.target.as_str(),
                    e.test_population,
                    e.test_positives,
                    sc.model,
                    f3(sc.roc_auc),
                    f3(sc.pr_auc),
                    sc.mcc,
                    sc.threshold,
                    f3(sc.brier),
                    f3(sc.ece),
                ));
            }
        }
    }
    s
}
