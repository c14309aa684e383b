//! course-performance (docs/analytics.md §6.1): how the trainer's courses
//! perform.

use super::*;

pub const PERFORMANCE_WEIGHTS: [f64; 3] = [0.50, 0.30, 0.20];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: Option<f64>,
    pub courses: Vec<CoursePerformanceRow>,
    pub trends: CoursePerformanceTrends,
    pub insights: Vec<Insight>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformanceRow {
    pub course_id: Uuid,
    pub title: String,
    pub enrolments_in_window: usize,
    pub active_enrolments: usize,
    /// Learners with an event tied to the course in W while enrolled in it
    /// (nothing after a completion or withdrawal counts).
    pub active_learners: usize,
    /// Mean over learners with a result in W of each learner's mean score
    /// percent (each learner counts once), 0–100.
    pub average_score: Option<f64>,
    /// Mean over learners with a result in W of each learner's pass share
    /// (100 × passed results / results; each learner counts once), 0–100.
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub average_progress: Option<f64>,
    pub performance_score: Option<f64>,
    pub previous_performance_score: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePerformanceTrends {
    /// Courses with a performanceScore in both W and W′: the trend is
    /// computed over these only.
    pub comparable_courses: usize,
    /// overallPerformance in W over the comparable courses (weighted by
    /// enrolmentsInWindow in W); null when none.
    pub comparable_overall_performance: Option<f64>,
    /// overallPerformance in W′ over the same courses (weighted by their
    /// enrolments active in W′); null when none.
    pub previous_overall_performance: Option<f64>,
    /// comparableOverallPerformance − previousOverallPerformance; null when
    /// no course is comparable (note `TREND_NOT_COMPARABLE`).
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    pub code: &'static str,
    pub course_id: Uuid,
    /// `warning` | `info`.
    pub severity: &'static str,
    pub value: f64,
    pub message: String,
}

/// performanceScore of a course in W, with its enrolmentsInWindow; `None`
/// when the course has no enrolment active in W.
fn performance_score(stats: &CourseStats) -> Option<f64> {
    if stats.in_window.is_empty() {
        return None;
    }
    let [wa, wp, wc] = PERFORMANCE_WEIGHTS;
    composite(&[
        (wa, stats.average_score()),
        (wp, stats.pass_rate()),
        (wc, stats.completion_rate),
    ])
    .map(|(s, _)| s)
}

pub fn course_performance(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
) -> Result<CoursePerformance, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let previous = w.previous();

    struct Row<'a> {
        course: &'a Course,
        stats: CourseStats<'a>,
        score: Option<f64>,
        previous: Option<f64>,
        /// enrolments active in W′
        previous_weight: f64,
    }
    let rows: Vec<Row> = courses
        .iter()
        .map(|c| {
            let stats = CourseStats::of(ds, c.id, w);
            let score = performance_score(&stats);
            let previous_stats = CourseStats::of(ds, c.id, &previous);
            Row {
                course: c,
                stats,
                score,
                previous: performance_score(&previous_stats),
                previous_weight: previous_stats.in_window.len() as f64,
            }
        })
        .filter(|r| !r.stats.in_window.is_empty())
        .collect();

    let scored = rows.iter().filter(|r| r.score.is_some()).count();
    if scored == 0 {
        return Err(AnalyticError::insufficient(
            "course-performance",
            "NO_COURSE_RESULTS",
            "course-performance needs at least 1 course with a scored attempt or a finished \
             enrolment in the window",
            "coursesWithResults",
            1.0,
            0.0,
        ));
    }

    let overall = weighted_mean(
        rows.iter()
            .map(|r| (r.stats.in_window.len() as f64, r.score)),
    );
    // The trend compares like with like: only courses scored in both
    // windows (a course present in one window only says nothing about a
    // change).
    let comparable: Vec<&Row> = rows
        .iter()
        .filter(|r| r.score.is_some() && r.previous.is_some())
        .collect();
    let comparable_overall = weighted_mean(
        comparable
            .iter()
            .map(|r| (r.stats.in_window.len() as f64, r.score)),
    );
    let previous_overall =
        weighted_mean(comparable.iter().map(|r| (r.previous_weight, r.previous)));
    let mut header = Header::new("course-performance", Some(trainer), w);
    if comparable.is_empty() {
        header.note("TREND_NOT_COMPARABLE");
    }
    let top = if scored >= 2 {
        rows.iter().filter_map(|r| r.score).reduce(f64::max)
    } else {
        None
    };

    let mut out_rows = Vec::new();
    let mut insights = Vec::new();
    for r in &rows {
        let c = r.course;
        let pass = r.stats.pass_rate();
        let change = difference(r.score, r.previous);
        let mut insight = |code, severity, value: f64, message: String| {
            insights.push(Insight {
                code,
                course_id: c.id,
                severity,
                value: r2(value),
                message,
            });
        };
        if let Some(p) = pass.filter(|p| *p < 60.0) {
            insight(
                "LOW_PASS_RATE",
                "warning",
                p,
                format!("Pass rate in {} is {:.2} %, below 60 %.", c.title, r2(p)),
            );
        }
        if let Some(s) = r.stats.withdrawal_share().filter(|s| *s > 0.20) {
            insight(
                "HIGH_WITHDRAWAL",
                "warning",
                100.0 * s,
                format!(
                    "{:.2} % of the enrolments in {} were withdrawn in the window (more than 20 %).",
                    r2(100.0 * s),
                    c.title
                ),
            );
        }
        if let Some(cr) = r.stats.completion_rate.filter(|x| *x < 50.0) {
            insight(
                "LOW_COMPLETION",
                "warning",
                cr,
                format!(
                    "Completion rate in {} is {:.2} %, below 50 %.",
                    c.title,
                    r2(cr)
                ),
            );
        }
        if let Some(d) = change.filter(|d| *d <= -5.0) {
            insight(
                "DECLINING",
                "warning",
                d,
                format!(
                    "Performance in {} fell by {:.2} points since the previous window.",
                    c.title,
                    r2(-d)
                ),
            );
        }
        if let Some(d) = change.filter(|d| *d >= 5.0) {
            insight(
                "IMPROVING",
                "info",
                d,
                format!(
                    "Performance in {} rose by {:.2} points since the previous window.",
                    c.title,
                    r2(d)
                ),
            );
        }
        if let (Some(top), Some(s)) = (top, r.score)
            && s == top
        {
            insight(
                "TOP_COURSE",
                "info",
                s,
                format!(
                    "{} has the highest performance score ({:.2}).",
                    c.title,
                    r2(s)
                ),
            );
        }
        out_rows.push(CoursePerformanceRow {
            course_id: c.id,
            title: c.title.clone(),
            enrolments_in_window: r.stats.in_window.len(),
            active_enrolments: r.stats.active.len(),
            active_learners: active_learners(ds, c.id, w),
            average_score: opt_r2(r.stats.average_score()),
            pass_rate: opt_r2(pass),
            completion_rate: opt_r2(r.stats.completion_rate),
            average_progress: opt_r2(mean(r.stats.active.iter().map(|e| 100.0 * e.progress))),
            performance_score: opt_r2(r.score),
            previous_performance_score: opt_r2(r.previous),
            change: opt_r2(change),
        });
    }

    Ok(CoursePerformance {
        header,
        overall_performance: opt_r2(overall),
        courses: out_rows,
        trends: CoursePerformanceTrends {
            comparable_courses: comparable.len(),
            comparable_overall_performance: opt_r2(comparable_overall),
            previous_overall_performance: opt_r2(previous_overall),
            change: opt_r2(difference(comparable_overall, previous_overall)),
        },
        insights,
    })
}

/// Distinct learners with ≥ 1 event tied to c in W at an instant when one
/// of their enrolments in c was open (enrolled_at ≤ t ≤ end(e)): nothing
/// after a completion or a withdrawal counts.
fn active_learners(ds: &Dataset, course: Uuid, w: &Window) -> usize {
    let mut by_user: BTreeMap<Uuid, Vec<&Enrolment>> = BTreeMap::new();
    for e in ds.enrolments_in(course) {
        by_user.entry(e.user_id).or_default().push(e);
    }
    by_user
        .into_iter()
        .filter(|(u, es)| {
            events(ds, *u).iter().any(|ev| {
                ev.course == Some(course)
                    && w.contains(ev.at)
                    && es
                        .iter()
                        .any(|e| e.enrolled_at <= ev.at && end(e).is_none_or(|t| ev.at <= t))
            })
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::trainer::tests::*;

    /// Two courses, now = day 100, W = (70, 100], W′ = (40, 70].
    ///
    /// Course 10 "A": learners 1..4 enrolled day 0.
    ///   W: results: L1 on A50 90 (pass), L1 on A51 70, L2 on A50 30 (fail).
    ///      learner scores: L1 (90 + 70)/2 = 80, L2 30 → averageScore 55;
    ///      passRate per learner: L1 2/2, L2 0/1 → (100 + 0)/2 = 50 (over
    ///      results it would be 2/3). L3 completed (pass) day 80, L4
    ///      withdrew day 90 → completionRate 50. 4 in window, 2 active
    ///      (L1, L2, progress 0.4 and 0.6 → averageProgress 50).
    ///      score = 0.5·55 + 0.3·50 + 0.2·50 = 27.5 + 15 + 10 = 52.5
    ///      withdrawals 1/4 = 0.25 > 0.20 → HIGH_WITHDRAWAL 25.
    ///   W′: L1 on A50 100 (pass) at day 60 → averageScore 100,
    ///      passRate 100, nothing finished → score 100 (weights 0.5/0.3).
    ///      change = 52.5 − 100 = −47.5 → DECLINING.
    /// Course 11 "B": learner 5 enrolled day 0, one result 100 in W;
    ///   score = (0.5·100 + 0.3·100) / 0.8 = 100, no previous (no result in W′).
    /// overall = (4·52.5 + 1·100) / 5 = 310 / 5 = 62;
    /// trend over the courses scored in both windows = A only (B has a
    /// learner in W′ but no result): 52.5 vs 100, change = −47.5.
    fn performance_fixture() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        r.courses[0].title = "A".into();
        course(&mut r, 11, 0.0, None);
        r.courses[1].title = "B".into();
        trainer_with(&mut r, T, &[10, 11]);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        assessment(&mut r, 51, 10, 100.0, 50.0, None);
        assessment(&mut r, 52, 11, 50.0, 100.0, None);
        for n in 1..=5u128 {
            user(&mut r, n, &[Role::Learner], None);
        }
        let e1 = enrol(&mut r, 101, 1, 10, 0.0);
        r.enrolments[e1].progress = 0.4;
        let e2 = enrol(&mut r, 102, 2, 10, 0.0);
        r.enrolments[e2].progress = 0.6;
        let e3 = enrol(&mut r, 103, 3, 10, 0.0);
        complete(&mut r, e3, 80.0, Grade::Pass);
        let e4 = enrol(&mut r, 104, 4, 10, 0.0);
        withdraw(&mut r, e4, 90.0);
        enrol(&mut r, 105, 5, 11, 0.0);
        attempt(&mut r, 1, 50, 1, 100.0, 60.0); // W′
        attempt(&mut r, 1, 50, 2, 90.0, 75.0);
        attempt(&mut r, 1, 50, 3, 60.0, 76.0); // best in W stays 90
        attempt(&mut r, 1, 51, 1, 70.0, 80.0);
        attempt(&mut r, 2, 50, 1, 30.0, 85.0);
        attempt(&mut r, 5, 52, 1, 50.0, 85.0);
        r
    }

    #[test]
    fn course_performance_on_two_courses() {
        let ds = Dataset::new(performance_fixture());
        let p = course_performance(&ds, id(T), &window(100.0)).expect("performance");
        assert_eq!(p.overall_performance, Some(62.0));
        // Trend over course A only (B has no score in W′): 52.5 vs 100.
        // (The old rule compared 62 over A and B with 100 over A: −38.)
        assert_eq!(p.trends.comparable_courses, 1);
        assert_eq!(p.trends.comparable_overall_performance, Some(52.5));
        assert_eq!(p.trends.previous_overall_performance, Some(100.0));
        assert_eq!(p.trends.change, Some(-47.5));
        let a = &p.courses[0];
        assert_eq!(
            *a,
            CoursePerformanceRow {
                course_id: id(10),
                title: "A".into(),
                enrolments_in_window: 4,
                active_enrolments: 2,
                // L1 and L2 have attempts in W; L3 and L4 have no event.
                active_learners: 2,
                average_score: Some(55.0),
                pass_rate: Some(50.0),
                completion_rate: Some(50.0),
                average_progress: Some(50.0),
                performance_score: Some(52.5),
                previous_performance_score: Some(100.0),
                change: Some(-47.5),
            }
        );
        let b = &p.courses[1];
        assert_eq!(b.performance_score, Some(100.0));
        assert_eq!(b.previous_performance_score, None);
        assert_eq!(b.change, None);
        let codes: Vec<_> = p
            .insights
            .iter()
            .map(|i| (i.code, i.course_id, i.severity, i.value))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("LOW_PASS_RATE", id(10), "warning", 50.0),
                ("HIGH_WITHDRAWAL", id(10), "warning", 25.0),
                ("DECLINING", id(10), "warning", -47.5),
                ("TOP_COURSE", id(11), "info", 100.0),
            ]
        );
        assert_eq!(
            p.insights[2].message,
            "Performance in A fell by 47.50 points since the previous window."
        );
    }

    #[test]
    fn active_learners_count_nothing_after_a_completion_or_withdrawal() {
        // Course A: L3 completed day 80 and opens content on day 85 (after:
        // not counted); L4 withdrew day 90, opened content on day 88
        // (before: counted) and day 95. Active: L1, L2 (attempts), L4 = 3.
        // (The old rule counted L3 too: 4.)
        let mut r = performance_fixture();
        item(&mut r, 60, 10, ContentType::Video);
        interact(&mut r, 3, 60, 85.0, 3, None, false);
        interact(&mut r, 4, 60, 88.0, 2, None, false);
        interact(&mut r, 4, 60, 95.0, 2, None, false);
        let p = course_performance(&Dataset::new(r.clone()), id(T), &window(100.0))
            .expect("performance");
        assert_eq!(p.courses[0].active_learners, 3);
        // Without L4's event before the withdrawal: 2.
        r.interactions.retain(|i| i.occurred_at != day(88.0));
        let p = course_performance(&Dataset::new(r), id(T), &window(100.0)).expect("performance");
        assert_eq!(p.courses[0].active_learners, 2);
    }

    #[test]
    fn a_course_scored_only_in_the_previous_window_does_not_enter_the_trend() {
        // Course C (12): L6 enrolled day 0, result 40 on day 45 (W′),
        // completed (pass) day 50 → not active in W: no row, and it must
        // not set the previous overall performance. The trend stays A's:
        // 52.5 vs 100. (The old rule: previous (4·100 + 1·s_C) / 5.)
        let mut r = performance_fixture();
        course(&mut r, 12, 0.0, None);
        r.course_trainers.push((id(12), id(T)));
        assessment(&mut r, 53, 12, 100.0, 100.0, None);
        user(&mut r, 6, &[Role::Learner], None);
        let e = enrol(&mut r, 106, 6, 12, 0.0);
        complete(&mut r, e, 50.0, Grade::Pass);
        attempt(&mut r, 6, 53, 1, 40.0, 45.0);
        let p = course_performance(&Dataset::new(r.clone()), id(T), &window(100.0))
            .expect("performance");
        assert_eq!(p.courses.len(), 2);
        assert_eq!(p.trends.previous_overall_performance, Some(100.0));
        assert_eq!(p.trends.change, Some(-47.5));
        assert!(p.header.notes.is_empty());
        // Only course C and B: nothing scored in both windows.
        r.course_trainers.retain(|(c, _)| *c != id(10));
        let p = course_performance(&Dataset::new(r), id(T), &window(100.0)).expect("performance");
        assert_eq!(p.trends.comparable_courses, 0);
        assert_eq!(p.trends.previous_overall_performance, None);
        assert_eq!(p.trends.change, None);
        assert_eq!(p.header.notes, ["TREND_NOT_COMPARABLE"]);
    }

    #[test]
    fn course_performance_needs_results() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 0.0);
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        attempt(&mut r, 1, 50, 1, 80.0, 20.0); // before W
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            course_performance(&ds, id(T), &w).map_err(reason),
            Err("NO_COURSE_RESULTS")
        );
        assert_eq!(
            course_performance(&ds, id(1), &w).map_err(reason),
            Err("NOT_FOUND")
        );
    }
}
