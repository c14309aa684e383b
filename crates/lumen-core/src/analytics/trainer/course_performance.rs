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
    pub active_learners: usize,
    pub average_score: Option<f64>,
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
    pub previous_overall_performance: Option<f64>,
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

/// overallPerformance over courses with a performanceScore, weighted by
/// enrolmentsInWindow.
fn overall_performance(ds: &Dataset, courses: &[&Course], w: &Window) -> Option<f64> {
    weighted_mean(courses.iter().map(|c| {
        let stats = CourseStats::of(ds, c.id, w);
        (stats.in_window.len() as f64, performance_score(&stats))
    }))
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
    }
    let rows: Vec<Row> = courses
        .iter()
        .map(|c| {
            let stats = CourseStats::of(ds, c.id, w);
            let score = performance_score(&stats);
            let previous = performance_score(&CourseStats::of(ds, c.id, &previous));
            Row {
                course: c,
                stats,
                score,
                previous,
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
    let previous_overall = overall_performance(ds, &courses, &previous);
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
        header: Header::new("course-performance", Some(trainer), w),
        overall_performance: opt_r2(overall),
        courses: out_rows,
        trends: CoursePerformanceTrends {
            previous_overall_performance: opt_r2(previous_overall),
            change: opt_r2(difference(overall, previous_overall)),
        },
        insights,
    })
}

/// Distinct learners enrolled in c (at any time) with ≥ 1 event tied to c in W.
fn active_learners(ds: &Dataset, course: Uuid, w: &Window) -> usize {
    let users: HashSet<Uuid> = ds.enrolments_in(course).map(|e| e.user_id).collect();
    users
        .into_iter()
        .filter(|u| has_event_tied(ds, *u, course, w))
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
    ///      passRate 2/3 = 66.666667. L3 completed (pass) day 80, L4
    ///      withdrew day 90 → completionRate 50. 4 in window, 2 active
    ///      (L1, L2, progress 0.4 and 0.6 → averageProgress 50).
    ///      score = 0.5·55 + 0.3·66.666667 + 0.2·50 = 27.5 + 20 + 10 = 57.5
    ///      withdrawals 1/4 = 0.25 > 0.20 → HIGH_WITHDRAWAL 25.
    ///   W′: L1 on A50 100 (pass) at day 60 → averageScore 100,
    ///      passRate 100, nothing finished → score 100 (weights 0.5/0.3).
    ///      change = 57.5 − 100 = −42.5 → DECLINING.
    /// Course 11 "B": learner 5 enrolled day 0, one result 100 in W;
    ///   score = (0.5·100 + 0.3·100) / 0.8 = 100, no previous (no result in W′).
    /// overall = (4·57.5 + 1·100) / 5 = 330 / 5 = 66;
    /// previous overall = course A only (B has a learner in W′ but no
    /// result) = 100; change = −34.
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
        assert_eq!(p.overall_performance, Some(66.0));
        assert_eq!(p.trends.previous_overall_performance, Some(100.0));
        assert_eq!(p.trends.change, Some(-34.0));
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
                pass_rate: Some(66.67),
                completion_rate: Some(50.0),
                average_progress: Some(50.0),
                performance_score: Some(57.5),
                previous_performance_score: Some(100.0),
                change: Some(-42.5),
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
                ("HIGH_WITHDRAWAL", id(10), "warning", 25.0),
                ("DECLINING", id(10), "warning", -42.5),
                ("TOP_COURSE", id(11), "info", 100.0),
            ]
        );
        assert_eq!(
            p.insights[1].message,
            "Performance in A fell by 42.50 points since the previous window."
        );
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
