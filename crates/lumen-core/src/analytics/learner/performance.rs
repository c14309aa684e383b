//! performance (docs/analytics.md §5.5): the learner's assessment performance.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: f64,
    /// Mean score percent of the learner's results in W (one result per
    /// assessment: the best attempt), 0–100.
    pub average_score: f64,
    /// 100 × passed results / results in W (one per assessment), 0–100.
    pub pass_rate: f64,
    pub on_time_rate: Option<f64>,
    pub components: PerformanceComponents,
    pub weights: PerformanceComponents,
    pub assessment_scores: Vec<AssessmentScore>,
    pub course_progress: Vec<CourseProgress>,
    /// Seconds, null when not measured.
    pub time_spent: Option<i64>,
    pub strengths: Vec<AreaScore>,
    pub areas_for_improvement: Vec<AreaScore>,
    pub trend: PerformanceTrend,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceComponents {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentScore {
    pub assessment_id: Uuid,
    pub title: String,
    pub course_id: Uuid,
    pub kind: &'static str,
    pub score_percent: f64,
    /// Attempts in W.
    pub attempts: usize,
    pub submitted_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub passed: bool,
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseProgress {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: String,
    pub status: &'static str,
    pub outcome: Option<&'static str>,
    pub progress: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaScore {
    /// The assessment kind.
    pub area: &'static str,
    pub average_score: f64,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTrend {
    pub previous_average_score: Option<f64>,
    pub change: Option<f64>,
}

pub fn performance(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Performance, AnalyticError> {
    const NAME: &str = "performance";
    learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
    let res = results(ds, learner, w);
    if res.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_SCORED_ATTEMPTS",
            "performance needs at least 1 scored assessment attempt in the window",
            "scoredAttemptsInWindow",
            1.0,
            0.0,
        ));
    }
    let mut header = Header::new(NAME, Some(learner), w);
    let n = res.len() as f64;
    let average = mean(res.iter().map(|r| r.percent)).unwrap_or(0.0);
    let pass_rate = 100.0 * res.iter().filter(|r| passed(r.best, r.assessment)).count() as f64 / n;
    let with_due: Vec<&ScoredResult> = res
        .iter()
        .filter(|r| r.assessment.due_at.is_some())
        .collect();
    let on_time = (!with_due.is_empty()).then(|| {
        100.0
            * with_due
                .iter()
                .filter(|r| !late(ds, learner, r.assessment))
                .count() as f64
            / with_due.len() as f64
    });
    let components = [Some(average), Some(pass_rate), on_time];
    let (overall, weights) = composite(
        &PERFORMANCE_WEIGHTS
            .iter()
            .zip(components)
            .map(|(w, x)| (*w, x))
            .collect::<Vec<_>>(),
    )
    .unwrap_or((average, vec![Some(1.0), None, None]));
    let three = |v: &[Option<f64>], round: fn(f64) -> f64| PerformanceComponents {
        average_score: v.first().copied().flatten().map(round),
        pass_rate: v.get(1).copied().flatten().map(round),
        on_time_rate: v.get(2).copied().flatten().map(round),
    };

    let assessment_scores = res
        .iter()
        .map(|r| AssessmentScore {
            assessment_id: r.assessment.id,
            title: r.assessment.title.clone(),
            course_id: r.assessment.course_id,
            kind: r.assessment.kind.as_str(),
            score_percent: r2(r.percent),
            attempts: r.attempts,
            submitted_at: whole_seconds(r.best.submitted_at),
            due_at: r.assessment.due_at.map(whole_seconds),
            passed: passed(r.best, r.assessment),
            late: late(ds, learner, r.assessment),
        })
        .collect();

    let mut enrolments: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| active_in(e, w))
        .collect();
    enrolments.sort_by(|a, b| a.enrolled_at.cmp(&b.enrolled_at).then(a.id.cmp(&b.id)));
    let course_progress = enrolments
        .iter()
        .map(|e| CourseProgress {
            enrolment_id: e.id,
            course_id: e.course_id,
            course_title: course_title(ds, e.course_id),
            status: status_str(e.status),
            outcome: e.outcome.map(|o| o.as_str()),
            progress: r2(100.0 * e.progress),
        })
        .collect();

    let spent = time_spent(ds, learner, w);
    if spent.is_none() {
        header.note("NO_TIME_SPENT_DATA");
    }

    let mut by_kind: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for r in &res {
        by_kind
            .entry(r.assessment.kind.as_str())
            .or_default()
            .push(r.percent);
    }
    let groups: Vec<(&'static str, f64, usize)> = by_kind
        .into_iter()
        .filter_map(|(k, v)| mean(v.iter().copied()).map(|m| (k, m, v.len())))
        .collect();
    let area = |&(area, m, count): &(&'static str, f64, usize)| AreaScore {
        area,
        average_score: r2(m),
        count,
    };
    // A strength or a weakness needs at least MIN_EVIDENCE results: one
    // result is an anecdote (§5.5).
    if groups
        .iter()
        .any(|g| g.2 < MIN_EVIDENCE && (g.1 >= STRENGTH_MEAN || g.1 < IMPROVEMENT_MEAN))
    {
        header.note("FEW_RESULTS_PER_AREA");
    }
    let groups: Vec<_> = groups.into_iter().filter(|g| g.2 >= MIN_EVIDENCE).collect();
    let mut strong: Vec<_> = groups.iter().filter(|g| g.1 >= STRENGTH_MEAN).collect();
    strong.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let mut weak: Vec<_> = groups.iter().filter(|g| g.1 < IMPROVEMENT_MEAN).collect();
    weak.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));

    let previous = mean(
        results(ds, learner, &w.previous())
            .iter()
            .map(|r| r.percent),
    );

    Ok(Performance {
        header,
        overall_performance: r2(overall),
        average_score: r2(average),
        pass_rate: r2(pass_rate),
        on_time_rate: on_time.map(r2),
        components: three(&components, r2),
        weights: three(&weights, r4),
        assessment_scores,
        course_progress,
        time_spent: spent,
        strengths: strong.into_iter().map(area).collect(),
        areas_for_improvement: weak.into_iter().map(area).collect(),
        trend: PerformanceTrend {
            previous_average_score: previous.map(r2),
            change: previous.map(|p| r2(average - p)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::learner::tests::*;

    fn performance_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        assessment(&mut r, 300, 100, 100.0, 30.0, Some(50.0)); // A quiz
        assessment(&mut r, 301, 100, 100.0, 30.0, Some(60.0)); // B exam, pass 50
        assessment(&mut r, 302, 100, 20.0, 40.0, None); // C assignment
        r.assessments[0].kind = AssessmentKind::Quiz;
        r.assessments[1].kind = AssessmentKind::Exam;
        r.assessments[1].pass_score = Some(50.0);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        r.enrolments[e].progress = 0.4;
        item(&mut r, 200, 100, ContentType::Video);
        attempt(&mut r, ME, 300, 1, 60.0, 20.0); // W'
        attempt(&mut r, ME, 300, 2, 30.0, 45.0);
        attempt(&mut r, ME, 300, 3, 80.0, 48.0);
        attempt(&mut r, ME, 301, 1, 45.0, 62.0); // late (due 60)
        attempt(&mut r, ME, 302, 1, 10.0, 65.0); // 50 %
        interact(&mut r, ME, 200, 50.0, 3, Some(600), false);
        interact(&mut r, ME, 200, 51.0, 3, None, false);
        r
    }

    #[test]
    fn performance_by_hand() {
        // now = day 70, 30d: W = (40, 70], W' = (10, 40].
        // Results: A 80 (passed, on time: first attempt day 20 ≤ 50),
        //          B 45 (< pass 50: failed; first attempt 62 > 60: late),
        //          C 50 (≥ 40 %: passed, no due date).
        // averageScore = (80 + 45 + 50) / 3 = 58.3333
        // passRate = 100 × 2 / 3 = 66.6667; onTimeRate = 100 × 1 / 2 = 50
        // overall = 0.6 × 58.3333 + 0.25 × 66.6667 + 0.15 × 50
        //         = 35 + 16.6667 + 7.5 = 59.1667
        // W': A 60 → previous 60, change −1.6667.
        let p = performance(&ds(performance_fixture()), id(ME), &w30(70.0)).expect("perf");
        assert_eq!(p.average_score, 58.33);
        assert_eq!(p.pass_rate, 66.67);
        assert_eq!(p.on_time_rate, Some(50.0));
        assert_eq!(p.overall_performance, 59.17);
        assert_eq!(p.weights.average_score, Some(0.6));
        assert_eq!(p.weights.pass_rate, Some(0.25));
        assert_eq!(p.weights.on_time_rate, Some(0.15));
        assert_eq!(p.components.pass_rate, Some(66.67));
        let scores: Vec<_> = p
            .assessment_scores
            .iter()
            .map(|s| (s.kind, s.score_percent, s.attempts, s.passed, s.late))
            .collect();
        assert_eq!(
            scores,
            [
                ("quiz", 80.0, 2, true, false),
                ("exam", 45.0, 1, false, true),
                ("assignment", 50.0, 1, true, false),
            ]
        );
        assert_eq!(p.assessment_scores[0].submitted_at, day(48.0));
        assert_eq!(p.time_spent, Some(600));
        assert_eq!(p.course_progress.len(), 1);
        assert_eq!(p.course_progress[0].progress, 40.0);
        assert_eq!(p.course_progress[0].status, "active");
        // quiz (80) and exam (45) rest on one result each: no strength,
        // no area for improvement, and the note says why.
        assert!(p.strengths.is_empty());
        assert!(p.areas_for_improvement.is_empty());
        assert_eq!(p.trend.previous_average_score, Some(60.0));
        assert_eq!(p.trend.change, Some(-1.67));
        assert_eq!(p.header.notes, ["FEW_RESULTS_PER_AREA"]);
    }

    #[test]
    fn strengths_need_two_results() {
        // A second quiz (D, 90 %) in W: quiz = (80 + 90) / 2 = 85 over 2
        // results → a strength; exam 45 still rests on one result → left
        // out, with the note.
        let mut r = performance_fixture();
        assessment(&mut r, 303, 100, 100.0, 0.0, None);
        r.assessments[3].kind = AssessmentKind::Quiz;
        attempt(&mut r, ME, 303, 1, 90.0, 66.0);
        let p = performance(&ds(r), id(ME), &w30(70.0)).expect("perf");
        assert_eq!(
            p.strengths,
            [AreaScore {
                area: "quiz",
                average_score: 85.0,
                count: 2
            }]
        );
        assert!(p.areas_for_improvement.is_empty());
        assert_eq!(p.header.notes, ["FEW_RESULTS_PER_AREA"]);
    }

    #[test]
    fn performance_needs_a_scored_attempt_in_the_window() {
        // At day 100 (W = (70, 100]) nothing was submitted.
        assert_eq!(
            reason(performance(&ds(performance_fixture()), id(ME), &w30(100.0)).expect_err("422")),
            "NO_SCORED_ATTEMPTS"
        );
    }
}
