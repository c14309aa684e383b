//! Offline evaluation of the drop-off model on real outcomes with a temporal
//! split (docs/analytics.md §9.5): train on an earlier course, test on a
//! later one, both judged at the same prediction day d.
//!
//! At day d (instant `t` = course start + d days) the population of a course
//! is its enrolments active at t (registered, not yet withdrawn or ended);
//! features read only records with timestamps ≤ t (`dropoff::course_features`,
//! the service's own features). Three models are scored on the same rows:
//! the service's model (its 8 features, standardised, L2 logistic regression
//! with λ = `dropoff::LAMBDA`), a demographics-only logistic regression, and
//! the rule "no activity in the last 14 days" (with the positive rate of
//! each group on the training course as its probability).

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
    let scores: Vec<f64> = train.iter().filter_map(|f| f.mean_score_pct).collect();
    let default = if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64 / 100.0
    };
    let v = |set: &[Features]| -> Vec<Vec<f64>> {
        set.iter().map(|f| f.vector(default).to_vec()).collect()
    };
    (v(train), v(test))
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

fn score(
    model: &'static str,
    p_train: &[f64],
    y_train: &[bool],
    p_test: &[f64],
    y_test: &[bool],
) -> Scores {
    let threshold = metrics::best_threshold(p_train, y_train);
    let bins = metrics::reliability_bins(p_test, y_test);
    let n = p_test.len();
    let ece = (n > 0).then(|| {
        bins.iter()
            .filter_map(|b| {
                Some(b.count as f64 / n as f64 * (b.mean_predicted? - b.observed_rate?).abs())
            })
            .sum::<f64>()
    });
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
