//! The drop-off model (docs/analytics.md §9.1): logistic regression trained
//! on the organisation's finished enrolments, its evaluation and quality
//! gate.

use super::*;

/// Counts the quality gate looks at, and the validation ROC-AUC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateCheck {
    pub finished_enrolments: usize,
    pub drop_offs: usize,
    pub successful_completions: usize,
    /// Validation enrolments with at least one snapshot, by class.
    pub validation_drop_offs: usize,
    pub validation_completions: usize,
    pub roc_auc: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleSize {
    pub training_enrolments: usize,
    pub validation_enrolments: usize,
    pub training_snapshots: usize,
    pub validation_snapshots: usize,
    /// Validation snapshots labelled drop-off.
    pub positives: usize,
    /// Validation snapshots labelled successful completion.
    pub negatives: usize,
}

/// The hold-out evaluation of a training run (§9.1), 0–1 values rounded to
/// 4 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// MCC at `threshold` on the validation snapshots.
    pub mcc: f64,
    /// Chosen on the training snapshots.
    pub threshold: f64,
    pub brier_score: Option<f64>,
    pub reliability_bins: Vec<ReliabilityBin>,
    /// Share of validation snapshots labelled drop-off.
    pub base_rate: Option<f64>,
    pub sample_size: SampleSize,
    pub gate: GateCheck,
    pub trained_at: DateTime<Utc>,
    pub passes_gate: bool,
    /// The first gate condition that failed, e.g. `TOO_FEW_FINISHED_ENROLMENTS`.
    pub gate_reason: Option<String>,
}

/// A trained drop-off model with its evaluation (stored together, §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DropoffModel {
    pub feature_names: Vec<String>,
    /// Training means and (population) standard deviations of the features.
    pub means: Vec<f64>,
    pub sds: Vec<f64>,
    /// Slopes on the standardised features, in `feature_names` order.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    pub lambda: f64,
    pub threshold: f64,
    /// Default of `meanScorePct` (0–1): its training mean.
    pub mean_score_default: f64,
    /// Unrounded validation ROC-AUC (for `confidence`).
    pub validation_roc_auc: Option<f64>,
    pub evaluation: Evaluation,
    pub trained_at: DateTime<Utc>,
}

impl DropoffModel {
    pub fn passes_gate(&self) -> bool {
        self.evaluation.passes_gate
    }

    fn standardise(&self, x: &[f64; N_FEATURES]) -> [f64; N_FEATURES] {
        standardise(x, &self.means, &self.sds)
    }

    /// p and the contributions βⱼ·zⱼ (log-odds) of each feature.
    pub fn predict(&self, f: &Features) -> (f64, [f64; N_FEATURES]) {
        let z = self.standardise(&f.vector(self.mean_score_default));
        let mut contributions = [0.0; N_FEATURES];
        for (j, c) in contributions.iter_mut().enumerate() {
            *c = self.coefficients.get(j).copied().unwrap_or(0.0) * z[j];
        }
        let p = logistic::sigmoid(self.intercept + contributions.iter().sum::<f64>());
        (p, contributions)
    }
}

fn standardise(x: &[f64; N_FEATURES], means: &[f64], sds: &[f64]) -> [f64; N_FEATURES] {
    let mut z = [0.0; N_FEATURES];
    for j in 0..N_FEATURES {
        let sd = sds.get(j).copied().unwrap_or(0.0);
        if sd > 0.0 {
            z[j] = (x[j] - means.get(j).copied().unwrap_or(0.0)) / sd;
        }
    }
    z
}

/// One training row: an enrolment's features at a snapshot, and its label.
struct Snapshot {
    features: Features,
    drop_off: bool,
    enrolment: Uuid,
}

/// Snapshot instants of a finished enrolment: start + 14·j days, j ≥ 1,
/// with enrolled_at ≤ t_j < end(e) and t_j ≤ now.
fn snapshot_times(start: DateTime<Utc>, e: &Enrolment, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Some(end) = end(e) else {
        return Vec::new();
    };
    let step = Duration::days(SNAPSHOT_STEP_DAYS);
    let mut j: i32 = 1;
    if e.enrolled_at > start {
        // Skip straight to the first step at or after enrolled_at.
        let behind = (e.enrolled_at - start).num_seconds();
        j = j.max(i32::try_from(behind / step.num_seconds()).unwrap_or(i32::MAX - 1));
    }
    let mut out = Vec::new();
    loop {
        let t = start + step * j;
        if t >= end || t > now {
            break;
        }
        if t >= e.enrolled_at {
            out.push(t);
        }
        j += 1;
    }
    out
}

fn insufficient_history(
    message: &str,
    finished: usize,
    training: usize,
    validation: usize,
) -> AnalyticError {
    AnalyticError::InsufficientData {
        analytic: ANALYTIC,
        reason: "INSUFFICIENT_HISTORY",
        message: format!("drop-off-risk model training {message}"),
        minimum: BTreeMap::from([
            ("finishedEnrolments".to_owned(), 1.0),
            ("trainingSnapshots".to_owned(), 1.0),
            ("validationSnapshots".to_owned(), 1.0),
        ]),
        found: BTreeMap::from([
            ("finishedEnrolments".to_owned(), finished as f64),
            ("trainingSnapshots".to_owned(), training as f64),
            ("validationSnapshots".to_owned(), validation as f64),
        ]),
    }
}

/// Trains and evaluates the organisation's model at `now` (§9.1). The
/// model comes back with its evaluation even when it fails the gate
/// (`evaluation.passes_gate == false`); when nothing can be trained or
/// evaluated (no finished enrolment, or no snapshot on either side of the
/// split) the answer is `INSUFFICIENT_HISTORY`.
pub fn train(ds: &Dataset, now: DateTime<Utc>) -> Result<DropoffModel, AnalyticError> {
    // Finished enrolments, known by now.
    let finished: Vec<&Enrolment> = ds
        .records
        .enrolments
        .iter()
        .filter(|e| e.enrolled_at <= now && end(e).is_some_and(|t| t <= now))
        .collect();
    let drop_offs = finished
        .iter()
        .filter(|e| e.dropped_off() == Some(true))
        .count();
    if finished.is_empty() {
        return Err(insufficient_history("needs finished enrolments", 0, 0, 0));
    }

    // Split by time, whole courses together.
    let mut by_course: BTreeMap<Uuid, Vec<&Enrolment>> = BTreeMap::new();
    for e in &finished {
        by_course.entry(e.course_id).or_default().push(e);
    }
    let mut courses: Vec<(DateTime<Utc>, Uuid)> = by_course
        .keys()
        .map(|&c| {
            let start = ds.course(c).and_then(|x| x.starts_at).unwrap_or_else(|| {
                ds.enrolments_in(c)
                    .map(|e| e.enrolled_at)
                    .filter(|t| *t <= now)
                    .min()
                    .unwrap_or(now)
            });
            (start, c)
        })
        .collect();
    courses.sort();
    let needed = VALIDATION_SHARE * finished.len() as f64;
    let mut validation_courses = HashSet::new();
    let mut in_validation = 0usize;
    for (_, c) in courses.iter().rev() {
        if in_validation as f64 >= needed {
            break;
        }
        validation_courses.insert(*c);
        in_validation += by_course[c].len();
    }

    // Snapshots, course by course.
    let mut training = Vec::new();
    let mut validation = Vec::new();
    for (_, c) in &courses {
        let mut ctx = CourseContext::new(ds, *c, None);
        let target = if validation_courses.contains(c) {
            &mut validation
        } else {
            &mut training
        };
        for e in &by_course[c] {
            let drop_off = e.dropped_off() == Some(true);
            for t in snapshot_times(ctx.start(e), e, now) {
                target.push(Snapshot {
                    features: ctx.features(e, t),
                    drop_off,
                    enrolment: e.id,
                });
            }
        }
    }
    if training.is_empty() || validation.is_empty() {
        return Err(insufficient_history(
            "needs snapshots of finished enrolments in earlier and later courses",
            finished.len(),
            training.len(),
            validation.len(),
        ));
    }

    // Standardisation on the training rows; meanScorePct defaults to its training mean.
    let mean_score_default =
        common::mean(training.iter().filter_map(|s| s.features.mean_score_pct))
            .map_or(0.0, |m| m / 100.0);
    let rows = |set: &[Snapshot]| -> Vec<[f64; N_FEATURES]> {
        set.iter()
            .map(|s| s.features.vector(mean_score_default))
            .collect()
    };
    let raw_training = rows(&training);
    let raw_validation = rows(&validation);
    let n = raw_training.len() as f64;
    let means: Vec<f64> = (0..N_FEATURES)
        .map(|j| raw_training.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let sds: Vec<f64> = (0..N_FEATURES)
        .map(|j| {
            (raw_training
                .iter()
                .map(|r| (r[j] - means[j]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect();
    let z_training: Vec<[f64; N_FEATURES]> = raw_training
        .iter()
        .map(|r| standardise(r, &means, &sds))
        .collect();
    let z_validation: Vec<[f64; N_FEATURES]> = raw_validation
        .iter()
        .map(|r| standardise(r, &means, &sds))
        .collect();
    let y_training: Vec<bool> = training.iter().map(|s| s.drop_off).collect();
    let y_validation: Vec<bool> = validation.iter().map(|s| s.drop_off).collect();

    let fit = logistic::fit(&z_training, &y_training, LAMBDA);
    let p_training: Vec<f64> = z_training.iter().map(|z| fit.predict(z)).collect();
    let threshold = metrics::best_threshold(&p_training, &y_training);
    let p_validation: Vec<f64> = z_validation.iter().map(|z| fit.predict(z)).collect();

    let roc = metrics::roc_auc(&p_validation, &y_validation);
    let positives = y_validation.iter().filter(|y| **y).count();
    let negatives = y_validation.len() - positives;
    let mut validation_classes: HashMap<Uuid, bool> = HashMap::new();
    for s in &validation {
        validation_classes.insert(s.enrolment, s.drop_off);
    }
    let validation_drop_offs = validation_classes.values().filter(|d| **d).count();
    let gate = GateCheck {
        finished_enrolments: finished.len(),
        drop_offs,
        successful_completions: finished.len() - drop_offs,
        validation_drop_offs,
        validation_completions: validation_classes.len() - validation_drop_offs,
        roc_auc: roc.map(r4),
    };
    let gate_reason = if gate.finished_enrolments < GATE_MIN_FINISHED {
        Some("TOO_FEW_FINISHED_ENROLMENTS")
    } else if gate.drop_offs < GATE_MIN_PER_CLASS {
        Some("TOO_FEW_DROP_OFFS")
    } else if gate.successful_completions < GATE_MIN_PER_CLASS {
        Some("TOO_FEW_COMPLETIONS")
    } else if gate.validation_drop_offs < GATE_MIN_VALIDATION_PER_CLASS {
        Some("TOO_FEW_VALIDATION_DROP_OFFS")
    } else if gate.validation_completions < GATE_MIN_VALIDATION_PER_CLASS {
        Some("TOO_FEW_VALIDATION_COMPLETIONS")
    } else if roc.is_none_or(|auc| auc < GATE_MIN_ROC_AUC) {
        Some("ROC_AUC_BELOW_0.70")
    } else {
        None
    };
    let passes_gate = gate_reason.is_none();

    let evaluation = Evaluation {
        roc_auc: roc.map(r4),
        pr_auc: metrics::pr_auc(&p_validation, &y_validation).map(r4),
        mcc: r4(metrics::mcc(&p_validation, &y_validation, threshold)),
        threshold: r4(threshold),
        brier_score: metrics::brier(&p_validation, &y_validation).map(r4),
        reliability_bins: metrics::reliability_bins(&p_validation, &y_validation)
            .into_iter()
            .map(|b| ReliabilityBin {
                mean_predicted: b.mean_predicted.map(r4),
                observed_rate: b.observed_rate.map(r4),
                ..b
            })
            .collect(),
        base_rate: (!y_validation.is_empty())
            .then(|| r4(positives as f64 / y_validation.len() as f64)),
        sample_size: SampleSize {
            training_enrolments: finished.len() - in_validation,
            validation_enrolments: in_validation,
            training_snapshots: training.len(),
            validation_snapshots: validation.len(),
            positives,
            negatives,
        },
        gate,
        trained_at: common::whole_seconds(now),
        passes_gate,
        gate_reason: gate_reason.map(str::to_owned),
    };

    // Served model: refitted on every finished enrolment after passing,
    // with the same λ, means, sds, score default and threshold.
    let served: Fit = if passes_gate {
        let mut z_all = z_training;
        z_all.extend(z_validation);
        let mut y_all = y_training;
        y_all.extend(y_validation);
        logistic::fit(&z_all, &y_all, LAMBDA)
    } else {
        fit
    };

    Ok(DropoffModel {
        feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
        means,
        sds,
        coefficients: served.coefficients,
        intercept: served.intercept,
        lambda: LAMBDA,
        threshold,
        mean_score_default,
        validation_roc_auc: roc,
        evaluation,
        trained_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::dropoff::tests::*;

    #[test]
    fn snapshots_are_taken_only_while_the_enrolment_was_active() {
        let mut r = records();
        course(&mut r, 100, 0.0, Some(84));
        let i = enrol(&mut r, 1, 10, 100, 20.0);
        r.enrolments[i].status = EnrolmentStatus::Withdrawn;
        r.enrolments[i].withdrawn_at = Some(day(56.0));
        let e = r.enrolments[i].clone();
        // 14 < enrolled_at; 28, 42 kept; 56 = end is not before the end.
        assert_eq!(
            snapshot_times(day(0.0), &e, day(100.0)),
            vec![day(28.0), day(42.0)]
        );
        // Not after now.
        assert_eq!(snapshot_times(day(0.0), &e, day(41.0)), vec![day(28.0)]);
        let mut active = e.clone();
        active.status = EnrolmentStatus::Active;
        assert!(snapshot_times(day(0.0), &active, day(100.0)).is_empty());
    }

    /// An organisation with `courses` cohorts of `per_course` learners, every
    /// course 84 days long and starting 20 days after the previous one.
    /// Learners who will drop off fade out (fewer clicks, then none) and
    /// miss assessments; the others keep going. Deterministic (SplitMix64).
    fn synthetic(courses: u128, per_course: u128, seed: u64) -> Records {
        let mut rng = SplitMix64(seed);
        let mut r = records();
        for c in 0..courses {
            let course_id = 100 + c;
            let start = 20.0 * c as f64;
            course(&mut r, course_id, start, Some(84));
            let content = 10_000 + c;
            item(&mut r, content, course_id, ContentType::Video);
            for k in 0..3u128 {
                assessment(
                    &mut r,
                    20_000 + 10 * c + k,
                    course_id,
                    100.0,
                    1.0,
                    Some(start + 21.0 * (k + 1) as f64),
                );
            }
            for l in 0..per_course {
                let u = 100_000 + 1000 * c + l;
                user(&mut r, u, &[Role::Learner], None);
                let idx = enrol(&mut r, u, u, course_id, start);
                let drops = rng.uniform() < 0.4;
                // Dropping learners stop somewhere in days 5–55 of the course.
                let quit = if drops {
                    5.0 + 50.0 * rng.uniform()
                } else {
                    84.0
                };
                let intensity = if drops {
                    0.5 + rng.uniform()
                } else {
                    1.0 + rng.uniform()
                };
                let mut d = 1.0 + 3.0 * rng.uniform();
                while d < quit.min(83.0) {
                    let clicks = 1 + (10.0 * intensity * rng.uniform()) as i32;
                    interact(&mut r, u, content, start + d, clicks, None, false);
                    d += 1.0 + 4.0 * rng.uniform() / intensity;
                }
                for k in 0..3u128 {
                    let due = start + 21.0 * (k + 1) as f64;
                    if due - 2.0 < quit && rng.uniform() < 0.9 {
                        let score = if drops {
                            30.0 + 40.0 * rng.uniform()
                        } else {
                            50.0 + 45.0 * rng.uniform()
                        };
                        let at = due - 2.0 + 3.0 * rng.uniform();
                        attempt(&mut r, u, 20_000 + 10 * c + k, 1, score, at);
                    }
                }
                let e = &mut r.enrolments[idx];
                if drops && rng.uniform() < 0.75 {
                    e.status = EnrolmentStatus::Withdrawn;
                    e.withdrawn_at = Some(day(start + quit + 10.0));
                } else {
                    e.status = EnrolmentStatus::Completed;
                    e.outcome = Some(if drops { Outcome::Fail } else { Outcome::Pass });
                    e.completed_at = Some(day(start + 84.0));
                }
            }
        }
        r
    }

    #[test]
    fn training_passes_the_gate_on_a_learnable_organisation_and_the_model_answers() {
        let mut r = synthetic(12, 25, 7);
        let trained_now = day(20.0 * 11.0 + 84.0 + 1.0);
        // A live learner in a new course, idle for three weeks.
        course(&mut r, 900, 300.0, Some(84));
        item(&mut r, 901, 900, ContentType::Video);
        user(&mut r, LEARNER, &[Role::Learner], None);
        enrol(&mut r, 9000, LEARNER, 900, 300.0);
        interact(&mut r, LEARNER, 901, 302.0, 3, None, false);
        user(&mut r, 11, &[Role::Learner], None);
        enrol(&mut r, 9001, 11, 900, 300.0);
        interact(&mut r, 11, 901, 322.0, 30, None, false);
        let ds = Dataset::new(r);

        let model = train(&ds, trained_now).expect("trained");
        let ev = &model.evaluation;
        assert!(ev.passes_gate, "{ev:#?}");
        assert_eq!(ev.gate_reason, None);
        assert_eq!(ev.gate.finished_enrolments, 300);
        assert!(ev.roc_auc.expect("auc") >= 0.7);
        assert!(ev.sample_size.validation_enrolments >= 60);
        assert_eq!(
            ev.sample_size.training_enrolments + ev.sample_size.validation_enrolments,
            300
        );
        assert_eq!(
            ev.sample_size.positives + ev.sample_size.negatives,
            ev.sample_size.validation_snapshots
        );
        assert_eq!(
            ev.reliability_bins.iter().map(|b| b.count).sum::<usize>(),
            ev.sample_size.validation_snapshots
        );
        assert!(ev.brier_score.expect("brier") < 0.25);
        assert!(ev.threshold > 0.0 && ev.threshold < 1.0);
        // The planted effect: longer silence means more risk.
        assert!(model.coefficients[0] > 0.0, "{model:?}");
        // Deterministic.
        assert_eq!(train(&ds, trained_now).expect("again"), model);

        let w = Window::new(TimeRange::Days30, day(323.0));
        let out = drop_off_risk(&ds, id(LEARNER), &w, Some(&model)).expect("risk");
        assert_eq!(out.model, "logistic-regression");
        assert!(matches!(out.model_info, ModelInfo::LogisticRegression(_)));
        let idle = &out.enrolments[0];
        let busy = drop_off_risk(&ds, id(11), &w, Some(&model)).expect("risk");
        assert!(idle.risk_score > busy.risk_score, "{idle:?} vs {busy:?}");
        assert!(idle.confidence > 0.0 && idle.confidence <= 1.0);
        assert_eq!(
            idle.flagged,
            model
                .predict(&features(&ds, &enrolment(&ds, 9000), w.now))
                .0
                >= model.threshold
        );
        assert_eq!(out.risk_factors[0].factor, "daysSinceLastActivity");
        assert_eq!(out.interventions[0].code, "reach_out");
        // Contributions are βⱼ·zⱼ and add up to the log-odds.
        let f = features(&ds, &enrolment(&ds, 9000), w.now);
        let (p, c) = model.predict(&f);
        let logit = model.intercept + c.iter().sum::<f64>();
        assert!((logistic::sigmoid(logit) - p).abs() < 1e-12);
    }

    #[test]
    fn below_the_gate_the_heuristic_answers_and_says_why() {
        let mut r = synthetic(4, 6, 11);
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, 900, 100.0, Some(84));
        enrol(&mut r, 9000, LEARNER, 900, 100.0);
        let ds = Dataset::new(r);
        let model = train(&ds, day(150.0)).expect("trained");
        assert!(!model.passes_gate());
        assert_eq!(
            model.evaluation.gate_reason.as_deref(),
            Some("TOO_FEW_FINISHED_ENROLMENTS")
        );
        assert_eq!(model.evaluation.gate.finished_enrolments, 24);
        let out =
            drop_off_risk(&ds, id(LEARNER), &window_at(day(130.0)), Some(&model)).expect("risk");
        assert_eq!(out.model, "heuristic");
        match &out.model_info {
            ModelInfo::Heuristic(info) => {
                assert_eq!(info.reason, "BELOW_QUALITY_GATE");
                assert_eq!(info.gate.as_ref().map(|g| g.finished_enrolments), Some(24));
            }
            other => panic!("expected the heuristic, got {other:?}"),
        }
        assert!(out.confidence <= HEURISTIC_CONFIDENCE);
    }

    fn window_at(now: DateTime<Utc>) -> Window {
        Window::new(TimeRange::Days30, now)
    }

    #[test]
    fn training_needs_history_on_both_sides_of_the_split() {
        // Nothing finished.
        let ds = Dataset::new(worked_example());
        match train(&ds, now()) {
            Err(AnalyticError::InsufficientData { reason, found, .. }) => {
                assert_eq!(reason, "INSUFFICIENT_HISTORY");
                assert_eq!(found["finishedEnrolments"], 0.0);
            }
            other => panic!("expected 422, got {other:?}"),
        }
        // One course only: everything is validation, nothing to train on.
        let ds = Dataset::new(synthetic(1, 10, 3));
        match train(&ds, day(100.0)) {
            Err(AnalyticError::InsufficientData { found, .. }) => {
                assert_eq!(found["finishedEnrolments"], 10.0);
                assert_eq!(found["trainingSnapshots"], 0.0);
            }
            other => panic!("expected 422, got {other:?}"),
        }
    }
}
