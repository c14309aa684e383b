//! Offline evaluation of the drop-off model on real outcomes with a temporal
//! split (docs/analytics.md §9.5): train on an earlier course, test on a
//! later one, both judged at the same prediction day d.
//!
//! At day d (instant `t` = course start + d days) the population of a course
//! is its enrolments active at t (registered, not yet withdrawn or ended);
//! features read only records with timestamps ≤ t (`dropoff::course_features`,
//! the service's own features). Three models are scored on the same rows:
//! the service's model (its inputs `dropoff::MODEL_FEATURES`, standardised,
//! L2 logistic regression with λ = `dropoff::LAMBDA`), a demographics-only
//! logistic regression, and the rule "no activity in the last 14 days" (with
//! the positive rate of each group on the training course as its
//! probability). `ablation` refits on other feature sets, `fairness` splits
//! the model's figures by protected attribute (never a model input).

use std::collections::HashMap;

use chrono::Duration;
use serde::Serialize;
use uuid::Uuid;

use super::Dataset;
use super::common::active_at;
use super::dropoff::{self, Features};
use super::logistic;
use super::metrics::{self, ReliabilityBin};
use crate::model::{Enrolment, EnrolmentStatus};

/// What is predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Withdrawn, or completed with outcome `fail` (PRODUCT §8's drop-off).
    NonCompletion,
    /// Withdrawn only.
    Withdrawal,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::NonCompletion, Target::Withdrawal];

    pub fn label(self, e: &Enrolment) -> bool {
        match self {
            Target::NonCompletion => e.dropped_off() == Some(true),
            Target::Withdrawal => e.status == EnrolmentStatus::Withdrawn,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Target::NonCompletion => "non-completion",
            Target::Withdrawal => "withdrawal",
        }
    }
}

pub const MODEL: &str = "dropoff-model";
pub const DEMOGRAPHICS: &str = "demographics-only";
pub const INACTIVE_14D: &str = "no-activity-14d";

/// Scores of one model on the test course.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scores {
    pub model: &'static str,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// At `threshold`, chosen on the training course (best MCC).
    pub mcc: f64,
    pub threshold: f64,
    pub brier: Option<f64>,
    /// Expected calibration error: Σ over the 10 bins of
    /// (count / n)·|mean predicted − observed rate|.
    pub ece: Option<f64>,
    pub reliability_bins: Vec<ReliabilityBin>,
}

/// One evaluation: a target at a prediction day, three models.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub day: i64,
    pub target: Target,
    pub train_population: usize,
    pub train_positives: usize,
    pub test_population: usize,
    pub test_positives: usize,
    pub scores: Vec<Scores>,
}

/// Rows of one course at one day: the population and its inputs.
struct Rows<'a> {
    enrolments: Vec<&'a Enrolment>,
    features: Vec<Features>,
    demographics: Vec<Vec<f64>>,
}

fn rows<'a>(
    ds: &'a Dataset,
    course: Uuid,
    day: i64,
    demographics: &HashMap<Uuid, Vec<f64>>,
) -> Option<Rows<'a>> {
    let start = ds.course(course)?.starts_at?;
    let t = start + Duration::days(day);
    let mut enrolments: Vec<&Enrolment> = ds
        .enrolments_in(course)
        .filter(|e| active_at(e, t))
        .collect();
    enrolments.sort_by_key(|e| e.id);
    let features = dropoff::course_features(ds, course, &enrolments, t);
    let width = demographics.values().next().map_or(0, Vec::len);
    let demographics = enrolments
        .iter()
        .map(|e| {
            demographics
                .get(&e.id)
                .cloned()
                .unwrap_or_else(|| vec![0.0; width])
        })
        .collect();
    Some(Rows {
        enrolments,
        features,
        demographics,
    })
}

/// Per-column mean and population standard deviation of the training rows.
struct Standardiser {
    means: Vec<f64>,
    sds: Vec<f64>,
}

impl Standardiser {
    fn fit(rows: &[Vec<f64>]) -> Self {
        let width = rows.first().map_or(0, Vec::len);
        let n = rows.len().max(1) as f64;
        let means: Vec<f64> = (0..width)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let sds = (0..width)
            .map(|j| (rows.iter().map(|r| (r[j] - means[j]).powi(2)).sum::<f64>() / n).sqrt())
            .collect();
        Self { means, sds }
    }

    fn apply(&self, rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(j, x)| {
                        if self.sds[j] > 0.0 {
                            (x - self.means[j]) / self.sds[j]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// Standardise on training, fit L2 logistic regression, predict both sides.
fn logistic_scores(train: &[Vec<f64>], y: &[bool], test: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let s = Standardiser::fit(train);
    let z_train = s.apply(train);
    let fit = logistic::fit(&z_train, y, dropoff::LAMBDA);
    let p_train = z_train.iter().map(|z| fit.predict(z)).collect();
    let p_test = s.apply(test).iter().map(|z| fit.predict(z)).collect();
    (p_train, p_test)
}

/// The service model's input vectors: `Features::vector` with the score
/// default set to the training mean, as `dropoff::train` does.
fn model_vectors(train: &[Features], test: &[Features]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let default = score_default(train);
    let v = |set: &[Features]| -> Vec<Vec<f64>> {
        set.iter().map(|f| f.vector(default).to_vec()).collect()
    };
    (v(train), v(test))
}

/// Rows restricted to `columns`, for the ablation.
fn select(rows: &[Vec<f64>], columns: &[usize]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| columns.iter().map(|&j| r[j]).collect())
        .collect()
}

/// The training mean of `meanScorePct` on 0–1 (0 without any).
fn score_default(train: &[Features]) -> f64 {
    let scores: Vec<f64> = train.iter().filter_map(|f| f.mean_score_pct).collect();
    if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64 / 100.0
    }
}

/// "No activity in the last 14 days", as a probability: the training
/// course's positive rate among inactive, resp. active, enrolments.
fn inactivity_scores(train: &[Features], y: &[bool], test: &[Features]) -> (Vec<f64>, Vec<f64>) {
    let inactive = |f: &Features| f.activity14 == 0;
    let overall = y.iter().filter(|v| **v).count() as f64 / y.len().max(1) as f64;
    let rate = |group: bool| {
        let members: Vec<bool> = train
            .iter()
            .zip(y)
            .filter(|(f, _)| inactive(f) == group)
            .map(|(_, y)| *y)
            .collect();
        if members.is_empty() {
            overall
        } else {
            members.iter().filter(|v| **v).count() as f64 / members.len() as f64
        }
    };
    let (p_inactive, p_active) = (rate(true), rate(false));
    let p = |set: &[Features]| -> Vec<f64> {
        set.iter()
            .map(|f| if inactive(f) { p_inactive } else { p_active })
            .collect()
    };
    (p(train), p(test))
}

/// Expected calibration error over the 10 reliability bins.
pub fn ece(p: &[f64], y: &[bool]) -> Option<f64> {
    let n = p.len();
    (n > 0).then(|| {
        metrics::reliability_bins(p, y)
            .iter()
            .filter_map(|b| {
                Some(b.count as f64 / n as f64 * (b.mean_predicted? - b.observed_rate?).abs())
            })
            .sum::<f64>()
    })
}

fn score(
    model: &'static str,
    p_train: &[f64],
    y_train: &[bool],
    p_test: &[f64],
    y_test: &[bool],
) -> Scores {
    let threshold = metrics::best_threshold(p_train, y_train);
    let bins = metrics::reliability_bins(p_test, y_test);
    let ece = ece(p_test, y_test);
    Scores {
        model,
        roc_auc: metrics::roc_auc(p_test, y_test),
        pr_auc: metrics::pr_auc(p_test, y_test),
        mcc: metrics::mcc(p_test, y_test, threshold),
        threshold,
        brier: metrics::brier(p_test, y_test),
        ece,
        reliability_bins: bins,
    }
}

/// Evaluates the three models at `day` for both targets: trained on
/// `train_course`'s population, tested on `test_course`'s. `demographics`
/// maps an enrolment id to its demographic vector (same width for all).
/// `None` when a course is unknown or has no start date.
pub fn evaluate(
    ds: &Dataset,
    train_course: Uuid,
    test_course: Uuid,
    day: i64,
    demographics: &HashMap<Uuid, Vec<f64>>,
) -> Option<Vec<Evaluation>> {
    let train = rows(ds, train_course, day, demographics)?;
    let test = rows(ds, test_course, day, demographics)?;
    let (m_train, m_test) = model_vectors(&train.features, &test.features);
    let evaluations = Target::ALL
        .into_iter()
        .map(|target| {
            let y_train: Vec<bool> = train.enrolments.iter().map(|e| target.label(e)).collect();
            let y_test: Vec<bool> = test.enrolments.iter().map(|e| target.label(e)).collect();
            let (p, q) = logistic_scores(&m_train, &y_train, &m_test);
            let model = score(MODEL, &p, &y_train, &q, &y_test);
            let (p, q) = logistic_scores(&train.demographics, &y_train, &test.demographics);
            let demographic = score(DEMOGRAPHICS, &p, &y_train, &q, &y_test);
            let (p, q) = inactivity_scores(&train.features, &y_train, &test.features);
            let inactive = score(INACTIVE_14D, &p, &y_train, &q, &y_test);
            Evaluation {
                day,
                target,
                train_population: y_train.len(),
                train_positives: y_train.iter().filter(|y| **y).count(),
                test_population: y_test.len(),
                test_positives: y_test.iter().filter(|y| **y).count(),
                scores: vec![model, demographic, inactive],
            }
        })
        .collect();
    Some(evaluations)
}

/// One row of the ablation: feature set name, ROC-AUC, ECE.
pub type AblationRow = (&'static str, Option<f64>, Option<f64>);

/// The ablation of §9.5: ROC-AUC and ECE on non-completion of a logistic
/// regression fitted like the model on each feature set of
/// `dropoff::FEATURE_SETS`: (set name, ROC-AUC, ECE).
pub fn ablation(
    ds: &Dataset,
    train_course: Uuid,
    test_course: Uuid,
    day: i64,
) -> Option<Vec<AblationRow>> {
    let none = HashMap::new();
    let train = rows(ds, train_course, day, &none)?;
    let test = rows(ds, test_course, day, &none)?;
    let default = score_default(&train.features);
    let all = |set: &[Features]| -> Vec<Vec<f64>> {
        set.iter().map(|f| f.all(default).to_vec()).collect()
    };
    let (a_train, a_test) = (all(&train.features), all(&test.features));
    let target = Target::NonCompletion;
    let y_train: Vec<bool> = train.enrolments.iter().map(|e| target.label(e)).collect();
    let y_test: Vec<bool> = test.enrolments.iter().map(|e| target.label(e)).collect();
    let out = dropoff::FEATURE_SETS
        .into_iter()
        .map(|(name, columns)| {
            let (_, q) = logistic_scores(
                &select(&a_train, columns),
                &y_train,
                &select(&a_test, columns),
            );
            (name, metrics::roc_auc(&q, &y_test), ece(&q, &y_test))
        })
        .collect();
    Some(out)
}

/// One subgroup's figures in the fairness audit (non-completion, the
/// calibrated service model, the training threshold).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subgroup {
    pub day: i64,
    /// `gender`, `disability`, `ageBand` or `imdBand`.
    pub attribute: &'static str,
    pub group: String,
    pub n: usize,
    pub positives: usize,
    pub roc_auc: Option<f64>,
    /// Mean predicted probability and observed rate: calibration in the large.
    pub mean_predicted: f64,
    pub observed_rate: f64,
    pub ece: Option<f64>,
    /// Share of the group flagged (p ≥ threshold).
    pub flag_rate: f64,
    /// Share of the group's non-completers flagged (recall); `None` without any.
    pub true_positive_rate: Option<f64>,
    /// Share of the group's completers flagged; `None` without any.
    pub false_positive_rate: Option<f64>,
}

/// The protected attributes of an OULAD demographic vector
/// (`oulad::DEMOGRAPHIC_FEATURES`: female, disability, age35plus, age55plus,
/// education, imdBand decile, imdMissing, …): (attribute, group) pairs.
/// They are never model inputs; they only split the audit.
pub fn protected_groups(v: &[f64]) -> Vec<(&'static str, String)> {
    let at = |j: usize| v.get(j).copied().unwrap_or(0.0);
    let age = if at(3) > 0.5 {
        "55+"
    } else if at(2) > 0.5 {
        "35–55"
    } else {
        "0–35"
    };
    let imd = if at(6) > 0.5 {
        "missing".to_owned()
    } else {
        let low = (at(5) / 2.0).floor() * 20.0;
        format!("{low:.0}–{:.0} %", low + 20.0)
    };
    vec![
        ("gender", if at(0) > 0.5 { "F" } else { "M" }.to_owned()),
        (
            "disability",
            if at(1) > 0.5 { "yes" } else { "no" }.to_owned(),
        ),
        ("ageBand", age.to_owned()),
        ("imdBand", imd),
    ]
}

/// The fairness audit of §9.5 at `day`: the service model (calibrated) on
/// non-completion, per subgroup of each protected attribute of the test
/// presentation. `demographics` must hold a vector per enrolment.
pub fn fairness(
    ds: &Dataset,
    train_course: Uuid,
    test_course: Uuid,
    day: i64,
    demographics: &HashMap<Uuid, Vec<f64>>,
) -> Option<Vec<Subgroup>> {
    let train = rows(ds, train_course, day, demographics)?;
    let test = rows(ds, test_course, day, demographics)?;
    let (m_train, m_test) = model_vectors(&train.features, &test.features);
    let target = Target::NonCompletion;
    let y_train: Vec<bool> = train.enrolments.iter().map(|e| target.label(e)).collect();
    let y_test: Vec<bool> = test.enrolments.iter().map(|e| target.label(e)).collect();
    let (p, q) = logistic_scores(&m_train, &y_train, &m_test);
    let threshold = metrics::best_threshold(&p, &y_train);
    let mut groups: std::collections::BTreeMap<(&'static str, String), Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, v) in test.demographics.iter().enumerate() {
        for key in protected_groups(v) {
            groups.entry(key).or_default().push(i);
        }
    }
    let share = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
    let out = groups
        .into_iter()
        .map(|((attribute, group), members)| {
            let p: Vec<f64> = members.iter().map(|&i| q[i]).collect();
            let y: Vec<bool> = members.iter().map(|&i| y_test[i]).collect();
            let n = y.len();
            let positives = y.iter().filter(|v| **v).count();
            let flagged = |want: Option<bool>| {
                p.iter()
                    .zip(&y)
                    .filter(|(pi, yi)| **pi >= threshold && want.is_none_or(|w| **yi == w))
                    .count()
            };
            Subgroup {
                day,
                attribute,
                group,
                n,
                positives,
                roc_auc: metrics::roc_auc(&p, &y),
                mean_predicted: p.iter().sum::<f64>() / n.max(1) as f64,
                observed_rate: positives as f64 / n.max(1) as f64,
                ece: ece(&p, &y),
                flag_rate: flagged(None) as f64 / n.max(1) as f64,
                true_positive_rate: share(flagged(Some(true)), positives),
                false_positive_rate: share(flagged(Some(false)), n - positives),
            }
        })
        .collect();
    Some(out)
}

#[cfg(test)]
mod reference_check {
    //! The fit and the metrics against scikit-learn's on a committed
    //! fixture (issue 14, item 5): `tests/reference/` holds the fixture, the
    //! script that made the expected numbers, and the numbers.

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/reference/fixture.csv");
    const EXPECTED: &str = include_str!("../../tests/reference/expected.json");

    fn close(what: &str, ours: f64, theirs: f64, tolerance: f64) {
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{what}: ours {ours}, scikit-learn {theirs}"
        );
    }

    #[test]
    fn fit_and_metrics_match_scikit_learn_on_the_fixture() {
        let expected: serde_json::Value = serde_json::from_str(EXPECTED).expect("expected.json");
        let number = |key: &str| expected[key].as_f64().expect("a number");
        let mut x: Vec<Vec<f64>> = Vec::new();
        let mut y: Vec<bool> = Vec::new();
        for line in FIXTURE.lines().skip(1) {
            let values: Vec<f64> = line
                .split(',')
                .map(|v| v.parse().expect("a number"))
                .collect();
            x.push(values[..3].to_vec());
            y.push(values[3] == 1.0);
        }
        assert_eq!(x.len(), 200);

        let fit = logistic::fit(&x, &y, number("lambda"));
        assert!(fit.converged, "{fit:?}");
        close("intercept", fit.intercept, number("intercept"), 1e-6);
        let coefficients = expected["coefficients"].as_array().expect("coefficients");
        assert_eq!(coefficients.len(), fit.coefficients.len());
        for (j, (ours, theirs)) in fit.coefficients.iter().zip(coefficients).enumerate() {
            close(
                &format!("coefficient {j}"),
                *ours,
                theirs.as_f64().expect("a number"),
                1e-6,
            );
        }

        let p: Vec<f64> = x.iter().map(|r| fit.predict(r)).collect();
        close(
            "ROC-AUC",
            metrics::roc_auc(&p, &y).expect("both classes"),
            number("rocAuc"),
            1e-9,
        );
        close(
            "PR-AUC",
            metrics::pr_auc(&p, &y).expect("positives"),
            number("prAuc"),
            1e-9,
        );
        close(
            "Brier",
            metrics::brier(&p, &y).expect("rows"),
            number("brier"),
            1e-8,
        );
        close("ECE", ece(&p, &y).expect("rows"), number("ece"), 1e-8);
    }
}
