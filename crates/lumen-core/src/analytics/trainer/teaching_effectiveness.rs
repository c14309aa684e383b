//! teaching-effectiveness (docs/analytics.md §6.4): how effective the
//! trainer's teaching is.

use super::*;

pub const TEACHING_WEIGHTS: [f64; 4] = [0.35, 0.25, 0.25, 0.15];
const METRIC_NAMES: [&str; 4] = ["learnerOutcomes", "scoreLevel", "feedback", "engagement"];
/// Observations a metric needs in each window before its change is read
/// with confidence (§6.4).
pub const MIN_TREND_SAMPLE: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingEffectiveness {
    #[serde(flatten)]
    pub header: Header,
    pub overall_effectiveness: f64,
    pub metrics: TeachingMetrics,
    /// Effective weights of the present metrics (4 decimals).
    pub weights: TeachingMetrics,
    pub strengths: Vec<MetricNote>,
    pub areas_for_improvement: Vec<MetricNote>,
    pub trends: TeachingTrends,
    pub benchmarks: Vec<Benchmark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingMetrics {
    pub learner_outcomes: Option<f64>,
    pub score_level: Option<f64>,
    pub feedback: Option<f64>,
    pub engagement: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricNote {
    pub metric: &'static str,
    pub value: f64,
    pub percentile: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeachingTrends {
    pub previous_overall_effectiveness: Option<f64>,
    pub change: Option<f64>,
    /// `sufficient` | `low`: `low` when a metric present in W or W′ rests
    /// on fewer than 3 observations there (finished enrolments, learners
    /// with a result, ratings, active enrolments); null without a change.
    pub confidence: Option<&'static str>,
    /// The metrics that make the confidence low, in metric order.
    pub low_evidence: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Benchmark {
    /// A metric name or `overallEffectiveness`.
    pub metric: &'static str,
    pub percentile: Option<f64>,
    pub cohort_average: Option<f64>,
    pub cohort_size: Option<usize>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

/// A trainer's four metrics in a window (unrounded): learnerOutcomes,
/// scoreLevel, feedback, engagement.
pub type TrainerMetrics = [Option<f64>; 4];

/// The four metrics of trainer `t` in W (unrounded).
pub fn teaching_metrics(ds: &Dataset, t: Uuid, w: &Window) -> TrainerMetrics {
    let courses = courses_of(ds, t);
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .flat_map(|c| ds.enrolments_in(c.id))
        .collect();
    let outcomes = completion_rate(enrolments.iter().copied().filter(|e| finished_in(e, w)));
    let results: Vec<Outcome> = courses
        .iter()
        .flat_map(|c| results_of_course(ds, c.id, w))
        .collect();
    let score = average_score(&results);
    let feedback = mean(
        ds.records
            .feedback
            .iter()
            .filter(|f| f.trainer_id == t && w.contains(f.submitted_at))
            .map(|f| f64::from(f.rating)),
    )
    .map(|m| 100.0 * (m - 1.0) / 4.0);
    let active: Vec<&&Enrolment> = enrolments.iter().filter(|e| active_at(e, w.now)).collect();
    let engagement = (!active.is_empty()).then(|| {
        let n = active
            .iter()
            .filter(|e| has_event_tied(ds, e.user_id, e.course_id, w))
            .count();
        100.0 * n as f64 / active.len() as f64
    });
    [outcomes, score, feedback, engagement]
}

/// How many observations each metric of trainer `t` rests on in W:
/// finished enrolments, learners with a result, ratings, active enrolments.
fn teaching_evidence(ds: &Dataset, t: Uuid, w: &Window) -> [usize; 4] {
    let courses = courses_of(ds, t);
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .flat_map(|c| ds.enrolments_in(c.id))
        .collect();
    let results: Vec<Outcome> = courses
        .iter()
        .flat_map(|c| results_of_course(ds, c.id, w))
        .collect();
    [
        enrolments.iter().filter(|e| finished_in(e, w)).count(),
        learner_scores(&results).len(),
        ds.records
            .feedback
            .iter()
            .filter(|f| f.trainer_id == t && w.contains(f.submitted_at))
            .count(),
        enrolments.iter().filter(|e| active_at(e, w.now)).count(),
    ]
}

/// overallEffectiveness and the effective weights; `None` when none of
/// learnerOutcomes, scoreLevel, feedback is present.
fn effectiveness(metrics: &[Option<f64>; 4]) -> Option<(f64, Vec<Option<f64>>)> {
    if metrics[..3].iter().all(Option::is_none) {
        return None;
    }
    let parts: Vec<(f64, Option<f64>)> = TEACHING_WEIGHTS.iter().copied().zip(*metrics).collect();
    composite(&parts)
}

fn benchmark(metric: &'static str, subject: Option<f64>, cohort: &[f64], k: usize) -> Benchmark {
    // `cohort` holds the defined values of the organisation's trainers, the
    // subject's included when defined.
    if cohort.len() < k {
        return Benchmark {
            metric,
            percentile: None,
            cohort_average: None,
            cohort_size: None,
            suppressed: true,
            suppressed_reason: Some("COHORT_BELOW_K"),
        };
    }
    Benchmark {
        metric,
        percentile: subject.map(|v| r2(percentile(v, cohort))),
        cohort_average: opt_r2(mean(cohort.iter().copied())),
        cohort_size: Some(cohort.len()),
        suppressed: false,
        suppressed_reason: None,
    }
}

/// Every trainer's metrics in W (the benchmark cohort of
/// [`teaching_effectiveness`]), computed once.
pub fn every_trainers_metrics(ds: &Dataset, w: &Window) -> HashMap<Uuid, TrainerMetrics> {
    ds.users_with_role(Role::Trainer)
        .map(|u| (u.id, teaching_metrics(ds, u.id, w)))
        .collect()
}

pub fn teaching_effectiveness(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
    k: usize,
) -> Result<TeachingEffectiveness, AnalyticError> {
    teaching_effectiveness_with(ds, trainer, w, k, &|t| teaching_metrics(ds, t, w))
}

/// [`teaching_effectiveness`] with each trainer's metrics in W from
/// `metrics_of` (e.g. [`every_trainers_metrics`], computed once).
pub fn teaching_effectiveness_with(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
    k: usize,
    metrics_of: &dyn Fn(Uuid) -> TrainerMetrics,
) -> Result<TeachingEffectiveness, AnalyticError> {
    trainer_courses(ds, trainer)?;
    let metrics = metrics_of(trainer);
    let Some((overall, eff)) = effectiveness(&metrics) else {
        return Err(AnalyticError::insufficient(
            "teaching-effectiveness",
            "NO_TEACHING_EVIDENCE",
            "teaching-effectiveness needs a finished enrolment, a scored attempt or a feedback \
             rating in the window",
            "evidenceMetrics",
            1.0,
            0.0,
        ));
    };
    let previous_metrics = teaching_metrics(ds, trainer, &w.previous());
    let previous = effectiveness(&previous_metrics).map(|(s, _)| s);
    // A change resting on one rating or two results is not a trend.
    let (now_n, prev_n) = (
        teaching_evidence(ds, trainer, w),
        teaching_evidence(ds, trainer, &w.previous()),
    );
    let low_evidence: Vec<&'static str> = (0..4)
        .filter(|i| {
            (metrics[*i].is_some() && now_n[*i] < MIN_TREND_SAMPLE)
                || (previous_metrics[*i].is_some() && prev_n[*i] < MIN_TREND_SAMPLE)
        })
        .map(|i| METRIC_NAMES[i])
        .collect();
    let confidence = previous.map(|_| {
        if low_evidence.is_empty() {
            "sufficient"
        } else {
            "low"
        }
    });

    // Cohort: the organisation's trainers (T included), values unrounded.
    let mut trainers: Vec<Uuid> = ds.users_with_role(Role::Trainer).map(|u| u.id).collect();
    trainers.push(trainer);
    trainers.sort_unstable();
    trainers.dedup();
    let cohort_values: Vec<[Option<f64>; 5]> = trainers
        .iter()
        .map(|t| {
            let m = if *t == trainer {
                metrics
            } else {
                metrics_of(*t)
            };
            let o = effectiveness(&m).map(|(s, _)| s);
            [m[0], m[1], m[2], m[3], o]
        })
        .collect();
    let subject = [
        metrics[0],
        metrics[1],
        metrics[2],
        metrics[3],
        Some(overall),
    ];
    let names = [
        METRIC_NAMES[0],
        METRIC_NAMES[1],
        METRIC_NAMES[2],
        METRIC_NAMES[3],
        "overallEffectiveness",
    ];
    let benchmarks: Vec<Benchmark> = (0..5)
        .map(|i| {
            let cohort: Vec<f64> = cohort_values.iter().filter_map(|v| v[i]).collect();
            benchmark(names[i], subject[i], &cohort, k)
        })
        .collect();

    let mut strengths = Vec::new();
    let mut areas = Vec::new();
    for i in 0..4 {
        let Some(value) = metrics[i] else { continue };
        let cohort: Vec<f64> = cohort_values.iter().filter_map(|v| v[i]).collect();
        let pct = (cohort.len() >= k).then(|| percentile(value, &cohort));
        let (strong, weak) = match pct {
            Some(p) => (p >= 75.0, p <= 25.0),
            None => (value >= 75.0, value < 50.0),
        };
        let note = MetricNote {
            metric: METRIC_NAMES[i],
            value: r2(value),
            percentile: opt_r2(pct),
        };
        if strong {
            strengths.push(note);
        } else if weak {
            areas.push(note);
        }
    }

    let as_metrics = |v: [Option<f64>; 4], f: fn(Option<f64>) -> Option<f64>| TeachingMetrics {
        learner_outcomes: f(v[0]),
        score_level: f(v[1]),
        feedback: f(v[2]),
        engagement: f(v[3]),
    };
    Ok(TeachingEffectiveness {
        header: Header::new("teaching-effectiveness", Some(trainer), w),
        overall_effectiveness: r2(overall),
        metrics: as_metrics(metrics, opt_r2),
        weights: as_metrics([eff[0], eff[1], eff[2], eff[3]], opt_r4),
        strengths,
        areas_for_improvement: areas,
        trends: TeachingTrends {
            previous_overall_effectiveness: opt_r2(previous),
            change: opt_r2(difference(Some(overall), previous)),
            confidence,
            low_evidence: if previous.is_some() {
                low_evidence
            } else {
                Vec::new()
            },
        },
        benchmarks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::trainer::tests::*;

    /// now = day 100, W = (70, 100], W′ = (40, 70].
    /// Trainer T, course 10, learners 1..4:
    ///   L1 completed pass (day 80), L2 completed fail (day 85) →
    ///   learnerOutcomes 50. Results: L1 80, L3 60 → scoreLevel 70.
    ///   Feedback in W: 5, 4 → mean 4.5 → 100 × 3.5 / 4 = 87.5 (a rating
    ///   of 1 at day 20 is outside W). Active: L3, L4; L3 has an event →
    ///   engagement 50.
    ///   overall = 0.35·50 + 0.25·70 + 0.25·87.5 + 0.15·50
    ///           = 17.5 + 17.5 + 21.875 + 7.5 = 64.375
    ///   W′: L3 scored 40 at day 50 → scoreLevel 40; engagement 100·1/4
    ///   (all four active at day 70, L3 has an event in W′) = 25;
    ///   previous = (0.25·40 + 0.15·25) / 0.40 = (10 + 3.75) / 0.4 = 34.375;
    ///   change = 30.
    /// Other trainers 901..904 each with one feedback rating in W:
    ///   901: 5 → 100, 902: 1 → 0, 903: 3 → 50, 904: 2 → 25. Their
    ///   overall = feedback alone.
    /// Cohorts (k = 5): feedback: [87.5, 100, 0, 50, 25] → n = 5,
    ///   percentile of 87.5 = 100 × (3 + 0.5) / 5 = 70, mean = 262.5/5 = 52.5.
    ///   overall: [64.375, 100, 0, 50, 25] → percentile 70, mean 47.875.
    ///   Other metrics: n = 1 < 5 → suppressed: strengths by value ≥ 75
    ///   (none), areas by value < 50 (none, engagement = 50 and
    ///   learnerOutcomes = 50). Feedback percentile 70 is neither.
    fn teaching_fixture() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        item(&mut r, 60, 10, ContentType::Reading);
        for n in 1..=4u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        complete(&mut r, 0, 80.0, Grade::Pass);
        complete(&mut r, 1, 85.0, Grade::Fail);
        attempt(&mut r, 1, 50, 1, 80.0, 75.0);
        attempt(&mut r, 3, 50, 1, 40.0, 50.0);
        attempt(&mut r, 3, 50, 2, 60.0, 90.0);
        feedback(&mut r, T, 10, 5, 90.0);
        feedback(&mut r, T, 10, 4, 91.0);
        feedback(&mut r, T, 10, 1, 20.0);
        for (t, rating) in [(901u128, 5), (902, 1), (903, 3), (904, 2)] {
            user(&mut r, t, &[Role::Trainer], None);
            feedback(&mut r, t, 10, rating, 95.0);
        }
        r
    }

    #[test]
    fn teaching_effectiveness_by_hand() {
        let ds = Dataset::new(teaching_fixture());
        let t = teaching_effectiveness(&ds, id(T), &window(100.0), 5).expect("teaching");
        assert_eq!(
            t.metrics,
            TeachingMetrics {
                learner_outcomes: Some(50.0),
                score_level: Some(70.0),
                feedback: Some(87.5),
                engagement: Some(50.0),
            }
        );
        assert_eq!(t.overall_effectiveness, 64.38);
        assert_eq!(
            t.weights,
            TeachingMetrics {
                learner_outcomes: Some(0.35),
                score_level: Some(0.25),
                feedback: Some(0.25),
                engagement: Some(0.15),
            }
        );
        assert_eq!(t.trends.previous_overall_effectiveness, Some(34.38));
        assert_eq!(t.trends.change, Some(30.0));
        // Evidence: W has 2 finished, 2 learners with results, 2 ratings,
        // 2 active enrolments; W′ 1 learner with a result and 4 active.
        // All present metrics but W′ engagement rest on < 3 observations.
        assert_eq!(t.trends.confidence, Some("low"));
        assert_eq!(
            t.trends.low_evidence,
            ["learnerOutcomes", "scoreLevel", "feedback", "engagement"]
        );
        let feedback = &t.benchmarks[2];
        assert_eq!(
            *feedback,
            Benchmark {
                metric: "feedback",
                percentile: Some(70.0),
                cohort_average: Some(52.5),
                cohort_size: Some(5),
                suppressed: false,
                suppressed_reason: None,
            }
        );
        assert!(t.benchmarks[0].suppressed);
        assert_eq!(t.benchmarks[0].suppressed_reason, Some("COHORT_BELOW_K"));
        assert_eq!(t.benchmarks[4].percentile, Some(70.0));
        assert_eq!(t.benchmarks[4].cohort_average, Some(47.88));
        assert!(t.strengths.is_empty());
        assert!(t.areas_for_improvement.is_empty());

        // Lowering T's ratings in W to 1 makes feedback 0 → cohort
        // [0, 100, 0, 50, 25], percentile 100 × (0 + 0.5·2) / 5 = 20 ≤ 25 →
        // area for improvement.
        let mut r = teaching_fixture();
        for f in r.feedback.iter_mut().filter(|f| f.trainer_id == id(T)) {
            f.rating = 1;
        }
        let ds = Dataset::new(r);
        let t = teaching_effectiveness(&ds, id(T), &window(100.0), 5).expect("teaching");
        assert_eq!(
            t.areas_for_improvement,
            vec![MetricNote {
                metric: "feedback",
                value: 0.0,
                percentile: Some(20.0),
            }]
        );
    }

    #[test]
    fn a_trend_on_fewer_than_three_observations_has_low_confidence() {
        // now = day 100, W = (70, 100], W′ = (40, 70]. Six active
        // enrolments (engagement on 6 in both windows), nobody finished
        // (learnerOutcomes absent), learners 1..3 scored in both windows,
        // three ratings in each window: every present metric rests on ≥ 3
        // observations → sufficient.
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        for n in 1..=6u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        for n in 1..=3u128 {
            attempt(&mut r, n, 50, 1, 50.0, 50.0);
            attempt(&mut r, n, 50, 2, 70.0, 80.0);
        }
        for (rating, at) in [
            (3, 50.0),
            (3, 55.0),
            (4, 60.0),
            (5, 80.0),
            (4, 85.0),
            (5, 90.0),
        ] {
            feedback(&mut r, T, 10, rating, at);
        }
        let t = teaching_effectiveness(&Dataset::new(r.clone()), id(T), &window(100.0), 5)
            .expect("effectiveness");
        assert!(t.trends.change.is_some());
        assert_eq!(t.trends.confidence, Some("sufficient"));
        assert!(t.trends.low_evidence.is_empty());
        // With one rating left in W the feedback change rests on a single
        // rating: low confidence, naming feedback.
        r.feedback.retain(|f| f.submitted_at <= day(80.0));
        let t = teaching_effectiveness(&Dataset::new(r), id(T), &window(100.0), 5)
            .expect("effectiveness");
        assert_eq!(t.trends.confidence, Some("low"));
        assert_eq!(t.trends.low_evidence, ["feedback"]);
    }

    #[test]
    fn teaching_effectiveness_needs_evidence_beyond_engagement() {
        // Only engagement is present: an active enrolment with an event.
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 0.0);
        item(&mut r, 60, 10, ContentType::Video);
        interact(&mut r, 1, 60, 90.0, 4, None, false);
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            teaching_effectiveness(&ds, id(T), &w, 5).map_err(reason),
            Err("NO_TEACHING_EVIDENCE")
        );
        assert_eq!(
            teaching_effectiveness(&ds, id(1), &w, 5).map_err(reason),
            Err("NOT_FOUND")
        );
    }
}
