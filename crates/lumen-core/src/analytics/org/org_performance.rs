//! org-performance (docs/analytics.md §7.4): the organisation's learning
//! performance.

use super::*;

const PERFORMANCE_WEIGHTS: [f64; 4] = [0.35, 0.25, 0.25, 0.15];

/// A learner's results in a window: (score percent, passed), one per assessment.
fn results(ds: &Dataset, user: Uuid, w: &Window) -> Vec<(f64, bool)> {
    let mut ids: Vec<Uuid> = ds
        .attempts_of(user)
        .filter(|a| w.contains(a.submitted_at))
        .map(|a| a.assessment_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| ds.assessment(id))
        .filter_map(|a| {
            best_attempt(ds, user, a, |t| w.contains(t))
                .map(|best| (score_percent(best, a), passed(best, a)))
        })
        .collect()
}

/// The four metrics of a set of learners and their composite (unrounded).
struct PerformanceCore {
    metrics: [Option<f64>; 4],
    overall: Option<f64>,
    weights: Vec<Option<f64>>,
    results: usize,
    finished: usize,
}

fn performance_core(
    ds: &Dataset,
    learners: &[&User],
    w: &Window,
    skill_attainment: Option<f64>,
) -> PerformanceCore {
    let per_learner: Vec<Vec<(f64, bool)>> =
        learners.iter().map(|u| results(ds, u.id, w)).collect();
    let all: Vec<&(f64, bool)> = per_learner.iter().flatten().collect();
    let average_score = mean(
        per_learner
            .iter()
            .filter_map(|r| mean(r.iter().map(|x| x.0))),
    );
    // Both averages are means over learners (each learner counts once).
    let pass_rate = mean(
        per_learner
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| 100.0 * r.iter().filter(|x| x.1).count() as f64 / r.len() as f64),
    );
    let finished: Vec<_> = learners
        .iter()
        .flat_map(|u| ds.enrolments_of(u.id))
        .filter(|e| finished_in(e, w))
        .collect();
    let metrics = [
        average_score,
        pass_rate,
        completion_rate(finished.iter().copied()),
        skill_attainment,
    ];
    let parts: Vec<(f64, Option<f64>)> = PERFORMANCE_WEIGHTS.iter().copied().zip(metrics).collect();
    let composite = common::composite(&parts);
    PerformanceCore {
        metrics,
        overall: composite.as_ref().map(|c| c.0),
        weights: composite.map_or_else(|| vec![None; 4], |c| c.1),
        results: all.len(),
        finished: finished.len(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceWeights {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceMetrics {
    /// Mean over learners with a result in W of each learner's mean score
    /// percent (each learner counts once), 0–100.
    pub average_score: Option<f64>,
    /// Mean over learners with a result in W of each learner's pass share
    /// (100 × passed results / results; each learner counts once), 0–100.
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
    /// Effective weights (§2.7).
    pub weights: PerformanceWeights,
}

impl PerformanceMetrics {
    fn of(c: &PerformanceCore) -> Self {
        let wt = |i: usize| c.weights.get(i).copied().flatten().map(r4);
        PerformanceMetrics {
            average_score: c.metrics[0].map(r2),
            pass_rate: c.metrics[1].map(r2),
            completion_rate: c.metrics[2].map(r2),
            skill_attainment: c.metrics[3].map(r2),
            weights: PerformanceWeights {
                average_score: wt(0),
                pass_rate: wt(1),
                completion_rate: wt(2),
                skill_attainment: wt(3),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceDepartment {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub overall_performance: Option<f64>,
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPerformanceIndicators {
    pub total_learners: usize,
    pub active_learners: usize,
    /// Enrolments with `enrolled_at` in W.
    pub enrolments_in_window: usize,
    pub successful_completions: usize,
    pub withdrawals: usize,
    pub failures: usize,
    /// Results (best attempt per learner and assessment) in W.
    pub assessments_submitted: usize,
    /// Mean 100 × progress of the active enrolments; null when none.
    pub average_progress: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessImpact {
    pub skill_level_gains: usize,
    pub learners_with_skill_gain: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBenchmarks {
    pub best_department: Option<DepartmentValue>,
    pub worst_department: Option<DepartmentValue>,
    pub department_average: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPerformanceTrends {
    pub previous_overall_performance: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPerformance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: f64,
    pub performance_metrics: PerformanceMetrics,
    pub department_performance: Vec<PerformanceDepartment>,
    pub key_performance_indicators: KeyPerformanceIndicators,
    pub business_impact: BusinessImpact,
    pub benchmarks: PerformanceBenchmarks,
    pub trends: OrgPerformanceTrends,
    pub recommendations: Vec<OrgRecommendation>,
}

/// §7.4: how well the organisation learns, in results.
pub fn org_performance(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<OrgPerformance, AnalyticError> {
    let learners = check_found(ds, org, w)?;
    let mut header = Header::new("org-performance", Some(org), w);
    let targets = targets_with_populations(ds, org, &learners, w).ok();
    if targets.is_none() {
        header.note("NO_SKILL_TARGETS");
    }
    let now_levels = levels_at(ds, &learners, w.now);
    let then_levels = levels_at(ds, &learners, w.start());
    let alignment = |within: Option<&HashSet<Uuid>>, levels: &Levels| {
        targets
            .as_ref()
            .and_then(|t| overall_alignment(t, within, levels))
    };

    let core = performance_core(ds, &learners, w, alignment(None, &now_levels));
    let overall = match core.overall {
        Some(o) if core.results + core.finished > 0 => o,
        _ => {
            return Err(AnalyticError::insufficient(
                "org-performance",
                "NO_RESULTS_IN_WINDOW",
                "org-performance needs at least 1 assessment result or 1 finished enrolment in the window",
                "resultsOrFinishedEnrolmentsInWindow",
                1.0,
                0.0,
            ));
        }
    };

    let prev_w = w.previous();
    let prev = performance_core(ds, &learners, &prev_w, alignment(None, &then_levels));
    let previous = if prev.results + prev.finished > 0 {
        prev.overall
    } else {
        None
    };

    // KPIs.
    let evs = events_by_learner(ds, &learners);
    let enrolments: Vec<_> = learners
        .iter()
        .flat_map(|u| ds.enrolments_of(u.id))
        .filter(|e| e.enrolled_at <= w.now)
        .collect();
    let finished: Vec<_> = enrolments.iter().filter(|e| finished_in(e, w)).collect();
    let kpis = KeyPerformanceIndicators {
        total_learners: learners.len(),
        active_learners: active_count(&learners, &evs, w),
        enrolments_in_window: enrolments
            .iter()
            .filter(|e| w.contains(e.enrolled_at))
            .count(),
        successful_completions: finished.iter().filter(|e| successful(e)).count(),
        withdrawals: finished
            .iter()
            .filter(|e| e.status == EnrolmentStatus::Withdrawn)
            .count(),
        failures: finished
            .iter()
            .filter(|e| e.status == EnrolmentStatus::Completed && e.outcome == Some(Outcome::Fail))
            .count(),
        assessments_submitted: core.results,
        average_progress: mean(
            enrolments
                .iter()
                .filter(|e| e.status == EnrolmentStatus::Active)
                .map(|e| 100.0 * e.progress),
        )
        .map(r2),
    };

    // Skill-level gains: latest level now above the latest level at now − R.
    let mut gains = 0;
    let mut gainers = 0;
    for u in &learners {
        let (Some(now_l), Some(then_l)) = (now_levels.get(&u.id), then_levels.get(&u.id)) else {
            continue;
        };
        let n = now_l
            .iter()
            .filter(|(s, l)| then_l.get(*s).is_some_and(|t| **l > *t))
            .count();
        gains += n;
        gainers += usize::from(n > 0);
    }
    header.note("NO_BUSINESS_OUTCOME_DATA");

    // Departments.
    let mut rows = Vec::new();
    let mut bench = Vec::new();
    let mut recommendations = Vec::new();
    let metrics = |i: usize| core.metrics[i];
    if let Some(p) = metrics(1).filter(|p| *p < 60.0) {
        recommendations.push(OrgRecommendation {
            code: "LOW_PASS_RATE",
            department_id: None,
            department_name: None,
            text: format!(
                "Pass rate is {:.2}%: strengthen assessment preparation",
                r2(p)
            ),
        });
    }
    if let Some(c) = metrics(2).filter(|c| *c < 50.0) {
        recommendations.push(OrgRecommendation {
            code: "LOW_COMPLETION_RATE",
            department_id: None,
            department_name: None,
            text: format!("Completion rate is {:.2}%: investigate withdrawals", r2(c)),
        });
    }
    for g in departments(ds, org, &learners) {
        let suppressed = g.suppressed(k);
        let c = (!suppressed).then(|| {
            let ids: HashSet<Uuid> = g.members.iter().map(|u| u.id).collect();
            performance_core(ds, &g.members, w, alignment(Some(&ids), &now_levels))
        });
        if let Some(v) = c.as_ref().and_then(|c| c.overall) {
            bench.push((g.id, g.name.clone(), v));
            if v < overall - 10.0 {
                recommendations.push(OrgRecommendation {
                    code: "DEPARTMENT_BEHIND",
                    department_id: g.id,
                    department_name: Some(g.name.clone()),
                    text: format!(
                        "support department {}: overall performance {:.2} against {:.2} for the organisation",
                        g.name,
                        r2(v),
                        r2(overall)
                    ),
                });
            }
        }
        let m = |i: usize| c.as_ref().and_then(|c| c.metrics[i]).map(r2);
        rows.push(PerformanceDepartment {
            department_id: g.id,
            department_name: g.name.clone(),
            parent_id: g.parent,
            learners: g.members.len(),
            overall_performance: c.as_ref().and_then(|c| c.overall).map(r2),
            average_score: m(0),
            pass_rate: m(1),
            completion_rate: m(2),
            skill_attainment: m(3),
            suppressed,
            suppressed_reason: suppressed_reason(suppressed),
        });
    }
    let (best, worst, average) = extremes(&bench);

    Ok(OrgPerformance {
        header,
        overall_performance: r2(overall),
        performance_metrics: PerformanceMetrics::of(&core),
        department_performance: rows,
        key_performance_indicators: kpis,
        business_impact: BusinessImpact {
            skill_level_gains: gains,
            learners_with_skill_gain: gainers,
        },
        benchmarks: PerformanceBenchmarks {
            best_department: best,
            worst_department: worst,
            department_average: average,
        },
        trends: OrgPerformanceTrends {
            previous_overall_performance: previous.map(r2),
            change: previous.map(|p| r2(overall - p)),
        },
        recommendations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::org::tests::*;

    /// Dept A = {11, 12}, dept B = {13}. Assessment 31 (max 100), 32 (max 50),
    /// no pass score (pass ≥ 40 %).
    fn performance_fixture() -> Records {
        let mut r = records();
        department(&mut r, A, "A");
        department(&mut r, B, "B");
        for (u, d) in [(11, A), (12, A), (13, B)] {
            learner(&mut r, u, Some(d));
        }
        course(&mut r, 1, 0.0, None);
        course(&mut r, 2, 0.0, None);
        assessment(&mut r, 31, 1, 100.0, 50.0, None);
        assessment(&mut r, 32, 1, 50.0, 50.0, None);
        attempt(&mut r, 11, 31, 1, 80.0, 40.0);
        attempt(&mut r, 11, 31, 2, 60.0, 41.0);
        attempt(&mut r, 11, 32, 1, 20.0, 45.0);
        attempt(&mut r, 12, 31, 1, 30.0, 50.0);
        attempt(&mut r, 13, 32, 1, 45.0, 50.0);
        let e = enrol(&mut r, 901, 11, 1, 0.0);
        r.enrolments[e].progress = 0.5;
        let e = enrol(&mut r, 902, 12, 1, 0.0);
        withdraw(&mut r, e, 55.0);
        let e = enrol(&mut r, 903, 13, 1, 0.0);
        complete(&mut r, e, 58.0, Outcome::Pass);
        let e = enrol(&mut r, 904, 11, 2, 35.0);
        complete(&mut r, e, 50.0, Outcome::Fail);
        // Skill levels: 11 gains (2 → 3), 12 has no level at day 30.
        level(&mut r, 11, 501, 2.0, 10.0);
        level(&mut r, 11, 501, 3.0, 40.0);
        level(&mut r, 12, 501, 2.0, 45.0);
        r
    }

    #[test]
    fn org_performance_by_hand() {
        let ds = Dataset::new(performance_fixture());
        let p = org_performance(&ds, org(), &win(), 2).expect("performance");
        // Results: 11 → 80 % (best of 80, 60) and 40 % (20/50, passed);
        // 12 → 30 % (failed); 13 → 90 %. Learner means 60, 30, 90 → 60.
        // passRate per learner: 11 2/2, 12 0/1, 13 1/1 → 200/3 = 66.666667
        // (over results: 3/4). Finished in W: withdrawn, pass, fail →
        // 33.333333. No targets → skill attainment absent; weights 0.35,
        // 0.25, 0.25 / 0.85. overall = (21 + 16.666667 + 8.333333)/0.85 =
        // 46/0.85 = 54.117647.
        let m = &p.performance_metrics;
        assert_eq!(
            (
                m.average_score,
                m.pass_rate,
                m.completion_rate,
                m.skill_attainment
            ),
            (Some(60.0), Some(66.67), Some(33.33), None)
        );
        assert_eq!(m.weights.average_score, Some(0.4118));
        assert_eq!(m.weights.pass_rate, Some(0.2941));
        assert_eq!(m.weights.skill_attainment, None);
        assert_eq!(p.overall_performance, 54.12);
        let k = &p.key_performance_indicators;
        assert_eq!(
            (k.total_learners, k.active_learners, k.enrolments_in_window),
            (3, 3, 1)
        );
        assert_eq!(
            (k.successful_completions, k.withdrawals, k.failures),
            (1, 1, 1)
        );
        assert_eq!(
            (k.assessments_submitted, k.average_progress),
            (4, Some(50.0))
        );
        assert_eq!(p.business_impact.skill_level_gains, 1);
        assert_eq!(p.business_impact.learners_with_skill_gain, 1);
        assert_eq!(
            p.header.notes,
            ["NO_SKILL_TARGETS", "NO_BUSINESS_OUTCOME_DATA"]
        );
        // Dept A {11, 12}: means 60, 30 → 45; pass shares 100, 0 → 50;
        // finished fail + withdrawn → 0; (15.75 + 12.5 + 0)/0.85 =
        // 33.235294.
        let a = &p.department_performance[0];
        assert_eq!(a.overall_performance, Some(33.24));
        assert_eq!(
            (a.average_score, a.pass_rate, a.completion_rate),
            (Some(45.0), Some(50.0), Some(0.0))
        );
        // Dept B: 1 < k = 2 learners.
        let b = &p.department_performance[1];
        assert_eq!(
            (b.learners, b.overall_performance, b.average_score),
            (1, None, None)
        );
        assert_eq!(
            (b.suppressed, b.suppressed_reason),
            (true, Some("COHORT_BELOW_K"))
        );
        let best = p.benchmarks.best_department.clone().expect("best");
        assert_eq!((best.department_id, best.value), (Some(id(A)), 33.24));
        assert_eq!(p.benchmarks.department_average, Some(33.24));
        // Nothing in W′ (day 0 … 30): no previous value.
        assert_eq!(p.trends.previous_overall_performance, None);
        assert_eq!(p.trends.change, None);
        // completionRate 33.33 < 50; A is 33.24 < 54.12 − 10.
        let codes: Vec<_> = p.recommendations.iter().map(|r| r.code).collect();
        assert_eq!(codes, ["LOW_COMPLETION_RATE", "DEPARTMENT_BEHIND"]);
    }

    #[test]
    fn org_performance_uses_strategic_alignment_as_skill_attainment() {
        let mut r = performance_fixture();
        skill(&mut r, 501, "Rust");
        target(&mut r, 501, 4.0, 1.0);
        let ds = Dataset::new(r);
        let p = org_performance(&ds, org(), &win(), 2).expect("performance");
        // No requirement → everyone: (3/4 + 2/4 + 0)/3 = 41.666667;
        // overall = 21 + 16.666667 + 8.333333 + 0.15·41.666667 = 52.25.
        assert_eq!(p.performance_metrics.skill_attainment, Some(41.67));
        assert_eq!(p.overall_performance, 52.25);
        assert_eq!(p.header.notes, ["NO_BUSINESS_OUTCOME_DATA"]);
        // Dept A {11, 12}: (0.75 + 0.5)/2 = 62.5.
        assert_eq!(p.department_performance[0].skill_attainment, Some(62.5));
    }

    #[test]
    fn org_performance_without_results_is_insufficient() {
        let mut r = records();
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, None);
        enrol(&mut r, 901, 11, 1, 0.0);
        assessment(&mut r, 31, 1, 100.0, 50.0, None);
        attempt(&mut r, 11, 31, 1, 80.0, 10.0); // in W′ only
        let ds = Dataset::new(r);
        let e = org_performance(&ds, org(), &win(), 5).expect_err("no results");
        assert_eq!(reason(e), "NO_RESULTS_IN_WINDOW");
    }
}
