//! course-health (docs/analytics.md §6.2): health of the trainer's courses.

use super::*;

pub const HEALTH_WEIGHTS: [f64; 4] = [0.30, 0.30, 0.20, 0.20];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseHealth {
    #[serde(flatten)]
    pub header: Header,
    pub overall_health: f64,
    pub courses: Vec<CourseHealthRow>,
    pub issues: Vec<HealthIssue>,
    pub recommendations: Vec<HealthRecommendation>,
    pub alerts: Vec<HealthIssue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseHealthRow {
    pub course_id: Uuid,
    pub title: String,
    pub health_score: Option<f64>,
    /// `healthy` | `needs-attention` | `critical` | `no-learners`.
    pub status: &'static str,
    pub components: HealthComponents,
    /// Effective weights of the present components (4 decimals).
    pub weights: HealthComponents,
    pub enrolments_in_window: usize,
    pub active_enrolments: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthComponents {
    pub engagement: Option<f64>,
    pub retention: Option<f64>,
    /// Mean over learners with a result in W of each learner's pass share
    /// (100 × passed results / results; each learner counts once), 0–100.
    pub pass_rate: Option<f64>,
    pub submission: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthIssue {
    pub code: &'static str,
    pub course_id: Uuid,
    /// `high` | `normal`.
    pub severity: &'static str,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthRecommendation {
    pub code: &'static str,
    pub course_id: Uuid,
    pub text: &'static str,
}

/// (code, threshold, high-severity threshold, recommendation) per component,
/// in component order.
const HEALTH_ISSUES: [(&str, f64, f64, &str); 4] = [
    (
        "LOW_ENGAGEMENT",
        50.0,
        30.0,
        "Send a course-wide nudge and review the activities of the current unit.",
    ),
    (
        "HIGH_WITHDRAWAL",
        90.0,
        80.0,
        "Contact recent leavers and check workload and schedule.",
    ),
    (
        "LOW_PASS_RATE",
        60.0,
        40.0,
        "Review the hardest assessments and add revision material.",
    ),
    (
        "MISSED_SUBMISSIONS",
        70.0,
        50.0,
        "Remind learners of deadlines; consider extensions where policy allows.",
    ),
];

fn health_status(score: f64) -> &'static str {
    if score >= 70.0 {
        "healthy"
    } else if score >= 50.0 {
        "needs-attention"
    } else {
        "critical"
    }
}

/// Submission over (assessment of c due in W, enrolment active at due_at)
/// pairs: (submitted, due).
fn submission_pairs(ds: &Dataset, course: Uuid, w: &Window) -> (usize, usize) {
    let mut submitted = 0;
    let mut due = 0;
    for a in ds.assessments_of_course(course) {
        let Some(due_at) = a.due_at.filter(|t| w.contains(*t)) else {
            continue;
        };
        for e in ds.enrolments_in(course).filter(|e| active_at(e, due_at)) {
            due += 1;
            if ds
                .attempts_of(e.user_id)
                .any(|x| x.assessment_id == a.id && x.submitted_at <= w.now)
            {
                submitted += 1;
            }
        }
    }
    (submitted, due)
}

pub fn course_health(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
) -> Result<CourseHealth, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    let mut recommendations = Vec::new();
    let mut alerts = Vec::new();
    let mut weighted = Vec::new();

    for c in &courses {
        let stats = CourseStats::of(ds, c.id, w);
        let n = stats.in_window.len();
        if n == 0 {
            let none = HealthComponents {
                engagement: None,
                retention: None,
                pass_rate: None,
                submission: None,
            };
            rows.push(CourseHealthRow {
                course_id: c.id,
                title: c.title.clone(),
                health_score: None,
                status: "no-learners",
                components: none,
                weights: none,
                enrolments_in_window: 0,
                active_enrolments: stats.active.len(),
            });
            continue;
        }
        let active = stats.active.len();
        let engagement =
            (active > 0).then(|| 100.0 * stats.active_engaged(ds, c.id, w) as f64 / active as f64);
        let retention = Some(100.0 * (1.0 - stats.withdrawals as f64 / n as f64));
        let pass = stats.pass_rate();
        let (submitted, due) = submission_pairs(ds, c.id, w);
        let submission = (due > 0).then(|| 100.0 * submitted as f64 / due as f64);
        let values = [engagement, retention, pass, submission];
        let parts: Vec<(f64, Option<f64>)> = HEALTH_WEIGHTS.iter().copied().zip(values).collect();
        // Retention is always present here, so the composite exists.
        let (score, eff) = composite(&parts).unwrap_or((0.0, vec![None; 4]));
        let status = health_status(score);
        weighted.push((n as f64, Some(score)));

        for ((code, limit, high, text), value) in HEALTH_ISSUES.iter().zip(values) {
            let Some(v) = value.filter(|v| *v < *limit) else {
                continue;
            };
            let issue = HealthIssue {
                code,
                course_id: c.id,
                severity: if v < *high { "high" } else { "normal" },
                value: r2(v),
            };
            if issue.severity == "high" {
                alerts.push(issue.clone());
            }
            issues.push(issue);
            recommendations.push(HealthRecommendation {
                code,
                course_id: c.id,
                text,
            });
        }
        if status == "critical" {
            alerts.push(HealthIssue {
                code: "COURSE_CRITICAL",
                course_id: c.id,
                severity: "high",
                value: r2(score),
            });
        }
        let comp = |v: [Option<f64>; 4], f: fn(Option<f64>) -> Option<f64>| HealthComponents {
            engagement: f(v[0]),
            retention: f(v[1]),
            pass_rate: f(v[2]),
            submission: f(v[3]),
        };
        rows.push(CourseHealthRow {
            course_id: c.id,
            title: c.title.clone(),
            health_score: Some(r2(score)),
            status,
            components: comp(values, opt_r2),
            weights: comp([eff[0], eff[1], eff[2], eff[3]], opt_r4),
            enrolments_in_window: n,
            active_enrolments: active,
        });
    }

    let Some(overall) = weighted_mean(weighted) else {
        return Err(AnalyticError::insufficient(
            "course-health",
            "NO_LEARNERS_IN_WINDOW",
            "course-health needs at least 1 enrolment active in the window in the trainer's courses",
            "enrolmentsInWindow",
            1.0,
            0.0,
        ));
    };

    Ok(CourseHealth {
        header: Header::new("course-health", Some(trainer), w),
        overall_health: r2(overall),
        courses: rows,
        issues,
        recommendations,
        alerts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::trainer::tests::*;

    /// The worked example of §6.5: "Data 101" (course 10), now = day 100,
    /// W = (70, 100].
    fn worked_example() -> Records {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        r.courses[0].title = "Data 101".into();
        trainer_with(&mut r, T, &[10]);
        assessment(&mut r, 50, 10, 100.0, 50.0, Some(85.0)); // due in W
        assessment(&mut r, 51, 10, 100.0, 50.0, None); // never due
        for n in 1..=22u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        // Learner 21 withdraws before the due date, learner 22 after it.
        withdraw(&mut r, 20, 75.0);
        withdraw(&mut r, 21, 90.0);
        // Due pairs: learners 1..20 and 22 = 21; submitted: 1..13 and 22 = 14.
        for n in (1..=13).chain([22]) {
            let score = if n <= 3 { 30.0 } else { 80.0 };
            attempt(&mut r, n, 50, 1, score, 84.0);
        }
        // A2: learners 1..15 and 22 = 16 results; 1..3 fail. 14 + 16 = 30
        // results, 6 failed, 24 passed. Per learner (16 with a result):
        // 1..3 pass 0 of 2, the other 13 pass all → passRate 1300 / 16 =
        // 81.25 (over results it would be 80).
        for n in (1..=15).chain([22]) {
            let score = if n <= 3 { 20.0 } else { 90.0 };
            attempt(&mut r, n, 51, 1, score, 88.0);
        }
        // Active now with an event tied to the course in W: 1..15 (attempts);
        // learners 16..20 only clicked before W.
        item(&mut r, 60, 10, ContentType::Video);
        interact(&mut r, 14, 60, 95.0, 3, None, false);
        for n in 16..=20 {
            interact(&mut r, n, 60, 50.0, 2, None, false);
        }
        r
    }

    #[test]
    fn course_health_reproduces_the_worked_example() {
        let ds = Dataset::new(worked_example());
        let h = course_health(&ds, id(T), &window(100.0)).expect("health");
        let c = &h.courses[0];
        assert_eq!(c.enrolments_in_window, 22);
        assert_eq!(c.active_enrolments, 20);
        assert_eq!(
            c.components,
            HealthComponents {
                engagement: Some(75.0),
                retention: Some(90.91),
                pass_rate: Some(81.25),
                submission: Some(66.67),
            }
        );
        assert_eq!(
            c.weights,
            HealthComponents {
                engagement: Some(0.3),
                retention: Some(0.3),
                pass_rate: Some(0.2),
                submission: Some(0.2),
            }
        );
        // 0.3·75 + 0.3·90.909091 + 0.2·81.25 + 0.2·66.666667 = 79.356061
        assert_eq!(c.health_score, Some(79.36));
        assert_eq!(c.status, "healthy");
        assert_eq!(h.overall_health, 79.36);
        assert_eq!(
            h.issues,
            vec![HealthIssue {
                code: "MISSED_SUBMISSIONS",
                course_id: id(10),
                severity: "normal",
                value: 66.67,
            }]
        );
        assert_eq!(h.recommendations.len(), 1);
        assert_eq!(
            h.recommendations[0].text,
            "Remind learners of deadlines; consider extensions where policy allows."
        );
        assert!(h.alerts.is_empty());
    }

    #[test]
    fn course_health_flags_critical_courses_and_lists_empty_ones() {
        // Course 10: 4 enrolments active in W = (70, 100], 2 withdrawn in W,
        // 2 active, none with an event: engagement 0 (high), retention
        // 100 × (1 − 2/4) = 50 (high); no result, nothing due. Weights
        // 0.3/0.3 → 0.5/0.5; health = 0.5·0 + 0.5·50 = 25 → critical.
        // Course 11 (draft) is not in C(T); course 12 has no learner in W.
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        course(&mut r, 11, 0.0, None);
        r.courses[1].status = CourseStatus::Draft;
        course(&mut r, 12, 0.0, None);
        trainer_with(&mut r, T, &[10, 11, 12]);
        for n in 1..=4u128 {
            user(&mut r, n, &[Role::Learner], None);
            enrol(&mut r, 100 + n, n, 10, 0.0);
        }
        withdraw(&mut r, 0, 80.0);
        withdraw(&mut r, 1, 90.0);
        let i = enrol(&mut r, 200, 1, 12, 0.0);
        withdraw(&mut r, i, 60.0); // ended before W
        let h = course_health(&Dataset::new(r), id(T), &window(100.0)).expect("health");
        assert_eq!(h.courses.len(), 2);
        let c = &h.courses[0];
        assert_eq!(c.health_score, Some(25.0));
        assert_eq!(c.status, "critical");
        assert_eq!(c.weights.engagement, Some(0.5));
        assert_eq!(c.weights.pass_rate, None);
        assert_eq!(h.courses[1].status, "no-learners");
        assert_eq!(h.courses[1].health_score, None);
        assert_eq!(h.overall_health, 25.0);
        let codes: Vec<_> = h
            .alerts
            .iter()
            .map(|a| (a.code, a.severity, a.value))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("LOW_ENGAGEMENT", "high", 0.0),
                ("HIGH_WITHDRAWAL", "high", 50.0),
                ("COURSE_CRITICAL", "high", 25.0),
            ]
        );
        assert_eq!(h.issues.len(), 2);
        assert_eq!(h.recommendations.len(), 2);
    }

    #[test]
    fn course_health_needs_learners_and_a_trainer_with_courses() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        let i = enrol(&mut r, 101, 1, 10, 0.0);
        withdraw(&mut r, i, 50.0);
        user(&mut r, 901, &[Role::Trainer], None); // no course
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            course_health(&ds, id(T), &w).map_err(reason),
            Err("NO_LEARNERS_IN_WINDOW")
        );
        assert_eq!(
            course_health(&ds, id(901), &w).map_err(reason),
            Err("NOT_FOUND")
        );
        assert_eq!(
            course_health(&ds, id(999), &w).map_err(reason),
            Err("NOT_FOUND")
        );
    }
}
