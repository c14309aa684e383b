//! learning-velocity (docs/analytics.md §7.1): how fast the organisation
//! learns, by department.

use super::*;

/// A learner's velocity (§5.1), as far as the organisation needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pace {
    current: f64,
    /// (current, previous) mean pace over the learner's comparable
    /// enrolments (§5.1); `None` when none is comparable.
    comparable: Option<(f64, f64)>,
    /// `on-track` | `behind` | `at-risk` | `overdue` | `no-deadline`.
    status: &'static str,
}

/// §5.1 per learner: `None` when the learner has no active enrolment in a
/// course with steps.
fn learner_pace(
    ds: &Dataset,
    user: Uuid,
    w: &Window,
    steps: &mut HashMap<Uuid, Steps>,
) -> Option<Pace> {
    let mut per: Vec<common::EnrolmentPace> = Vec::new();
    for e in ds
        .enrolments_of(user)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
    {
        let s = steps
            .entry(e.course_id)
            .or_insert_with(|| Steps::of(ds, e.course_id));
        per.extend(common::enrolment_pace(ds, e, s, w));
    }
    if per.is_empty() {
        return None;
    }
    let with_end: Vec<_> = per.iter().filter(|p| p.target.is_some()).collect();
    let basis: Vec<_> = if with_end.is_empty() {
        per.iter().collect()
    } else {
        with_end.clone()
    };
    let current = mean(basis.iter().map(|p| p.pace)).unwrap_or_default();
    let pairs: Vec<(f64, f64)> = basis.iter().filter_map(|p| p.comparable).collect();
    let comparable = mean(pairs.iter().map(|p| p.0)).zip(mean(pairs.iter().map(|p| p.1)));
    let target = mean(with_end.iter().filter_map(|p| p.target));
    let status = common::pace_status(target, current, with_end.iter().any(|p| p.overdue));
    Some(Pace {
        current,
        comparable,
        status,
    })
}

/// The velocity figures of a set of learners (unrounded).
struct VelocityCore {
    overall: Option<f64>,
    on_track_share: Option<f64>,
    completions: usize,
    per_active: Option<f64>,
    median_days: Option<f64>,
}

fn velocity_core(
    ds: &Dataset,
    learners: &[&User],
    paces: &HashMap<Uuid, Pace>,
    evs: &HashMap<Uuid, Vec<Event>>,
    w: &Window,
    k: usize,
) -> VelocityCore {
    let ps: Vec<&Pace> = learners.iter().filter_map(|u| paces.get(&u.id)).collect();
    let with_status = ps.iter().filter(|p| p.status != "no-deadline").count();
    let on_track = ps.iter().filter(|p| p.status == "on-track").count();
    let completed: Vec<f64> = learners
        .iter()
        .flat_map(|u| ds.enrolments_of(u.id))
        .filter(|e| successful(e) && finished_in(e, w))
        .filter_map(|e| end(e).map(|t| days(t - e.started_at.unwrap_or(e.enrolled_at))))
        .collect();
    let active = active_count(learners, evs, w);
    VelocityCore {
        overall: mean(ps.iter().map(|p| p.current)),
        on_track_share: (with_status > 0).then(|| 100.0 * on_track as f64 / with_status as f64),
        completions: completed.len(),
        per_active: (active > 0).then(|| completed.len() as f64 / active as f64),
        // A median of fewer than k values is (close to) one person's value (§2.8).
        median_days: if completed.len() >= k {
            median(completed.iter().copied())
        } else {
            None
        },
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityDepartment {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub overall_velocity: Option<f64>,
    pub on_track_share: Option<f64>,
    pub completions_in_window: Option<usize>,
    pub completions_per_active_learner: Option<f64>,
    pub median_days_to_complete: Option<f64>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityTrends {
    /// Learners whose pace can be compared: ≥ 1 enrolment open for at
    /// least half of W′ (§5.1). The two velocities below are over them only.
    pub comparable_learners: usize,
    /// Mean current pace of the comparable learners (their comparable
    /// enrolments); null when there are none.
    pub comparable_velocity: Option<f64>,
    /// Mean pace of the same learners and enrolments in W′; null when
    /// there are none.
    pub previous_overall_velocity: Option<f64>,
    /// 100 × (comparableVelocity − previousOverallVelocity) /
    /// previousOverallVelocity; null when not comparable or previous = 0.
    pub change_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityBenchmarks {
    pub fastest_department: Option<DepartmentValue>,
    pub slowest_department: Option<DepartmentValue>,
    pub department_average: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityInsight {
    /// `SLOW_DEPARTMENT` | `FAST_DEPARTMENT` | `LOW_ON_TRACK` | `VELOCITY_DROP`.
    pub code: &'static str,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    /// The value that triggered it (velocity, onTrackShare or changePercent).
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LearningVelocity {
    #[serde(flatten)]
    pub header: Header,
    pub overall_velocity: f64,
    pub on_track_share: Option<f64>,
    pub completions_in_window: usize,
    pub completions_per_active_learner: Option<f64>,
    pub median_days_to_complete: Option<f64>,
    pub department_breakdown: Vec<VelocityDepartment>,
    pub trends: VelocityTrends,
    pub benchmarks: VelocityBenchmarks,
    pub insights: Vec<VelocityInsight>,
    pub recommendations: Vec<OrgRecommendation>,
}

/// §7.1: how fast the organisation moves through its courses.
pub fn learning_velocity(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<LearningVelocity, AnalyticError> {
    let learners = check_found(ds, org, w)?;
    let mut steps = HashMap::new();
    let paces: HashMap<Uuid, Pace> = learners
        .iter()
        .filter_map(|u| learner_pace(ds, u.id, w, &mut steps).map(|p| (u.id, p)))
        .collect();
    if paces.is_empty() {
        return Err(AnalyticError::insufficient(
            "learning-velocity",
            "NO_PACE_DATA",
            "learning-velocity needs at least 1 learner with an active enrolment in a course with steps",
            "learnersWithPace",
            1.0,
            0.0,
        ));
    }
    let evs = events_by_learner(ds, &learners);
    let core = velocity_core(ds, &learners, &paces, &evs, w, k);
    let overall = core.overall.unwrap_or_default();
    // The trend compares like with like (§5.1): comparable enrolments only.
    let pairs: Vec<(f64, f64)> = learners
        .iter()
        .filter_map(|u| paces.get(&u.id).and_then(|p| p.comparable))
        .collect();
    let comparable_now = mean(pairs.iter().map(|p| p.0));
    let previous = mean(pairs.iter().map(|p| p.1));
    let change_percent = comparable_now
        .zip(previous)
        .filter(|(_, p)| *p != 0.0)
        .map(|(c, p)| 100.0 * (c - p) / p);

    let mut rows = Vec::new();
    let mut bench = Vec::new();
    let mut insights = Vec::new();
    let mut recommendations = Vec::new();
    for g in departments(ds, org, &learners) {
        let suppressed = g.suppressed(k);
        let c = (!suppressed).then(|| velocity_core(ds, &g.members, &paces, &evs, w, k));
        if let Some(v) = c.as_ref().and_then(|c| c.overall) {
            bench.push((g.id, g.name.clone(), v));
            let code = if v < 0.75 * overall {
                Some("SLOW_DEPARTMENT")
            } else if v > 1.25 * overall {
                Some("FAST_DEPARTMENT")
            } else {
                None
            };
            if let Some(code) = code {
                insights.push(VelocityInsight {
                    code,
                    department_id: g.id,
                    department_name: Some(g.name.clone()),
                    value: r2(v),
                });
            }
            if code == Some("SLOW_DEPARTMENT") {
                recommendations.push(OrgRecommendation {
                    code: "SLOW_DEPARTMENT",
                    department_id: g.id,
                    department_name: Some(g.name.clone()),
                    text: "review workload and protected learning time".into(),
                });
            }
        }
        rows.push(VelocityDepartment {
            department_id: g.id,
            department_name: g.name.clone(),
            parent_id: g.parent,
            learners: g.members.len(),
            overall_velocity: c.as_ref().and_then(|c| c.overall).map(r2),
            on_track_share: c.as_ref().and_then(|c| c.on_track_share).map(r2),
            completions_in_window: c.as_ref().map(|c| c.completions),
            completions_per_active_learner: c.as_ref().and_then(|c| c.per_active).map(r2),
            median_days_to_complete: c.as_ref().and_then(|c| c.median_days).map(r2),
            suppressed,
            suppressed_reason: suppressed_reason(suppressed),
        });
    }
    if let Some(share) = core.on_track_share.filter(|s| *s < 50.0) {
        insights.push(VelocityInsight {
            code: "LOW_ON_TRACK",
            department_id: None,
            department_name: None,
            value: r2(share),
        });
        recommendations.push(OrgRecommendation {
            code: "LOW_ON_TRACK",
            department_id: None,
            department_name: None,
            text: "revisit course deadlines and pacing plans".into(),
        });
    }
    if let Some(change) = change_percent.filter(|c| *c < -10.0) {
        insights.push(VelocityInsight {
            code: "VELOCITY_DROP",
            department_id: None,
            department_name: None,
            value: r2(change),
        });
        recommendations.push(OrgRecommendation {
            code: "VELOCITY_DROP",
            department_id: None,
            department_name: None,
            text: "check for seasonal load or content problems".into(),
        });
    }
    let (fastest, slowest, average) = extremes(&bench);
    let mut header = Header::new("learning-velocity", Some(org), w);
    if pairs.is_empty() {
        header.note("TREND_NOT_COMPARABLE");
    }
    Ok(LearningVelocity {
        header,
        overall_velocity: r2(overall),
        on_track_share: core.on_track_share.map(r2),
        completions_in_window: core.completions,
        completions_per_active_learner: core.per_active.map(r2),
        median_days_to_complete: core.median_days.map(r2),
        department_breakdown: rows,
        trends: VelocityTrends {
            comparable_learners: pairs.len(),
            comparable_velocity: comparable_now.map(r2),
            previous_overall_velocity: previous.map(r2),
            change_percent: change_percent.map(r2),
        },
        benchmarks: VelocityBenchmarks {
            fastest_department: fastest,
            slowest_department: slowest,
            department_average: average,
        },
        insights,
        recommendations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::org::tests::*;

    /// Course 1: starts day 0, 84 days long, 4 assessments (no completion
    /// tracking, so 4 steps). Course 2: no length, 2 assessments.
    /// Dept A = {11, 12, 14}, dept B = {13}.
    fn velocity_fixture() -> Records {
        let mut r = records();
        department(&mut r, A, "A");
        department(&mut r, B, "B");
        for (u, d) in [(11, A), (12, A), (14, A), (13, B)] {
            learner(&mut r, u, Some(d));
        }
        course(&mut r, 1, 0.0, Some(84));
        course(&mut r, 2, 0.0, None);
        for a in 1..=4 {
            assessment(&mut r, a, 1, 100.0, 25.0, None);
        }
        assessment(&mut r, 21, 2, 100.0, 50.0, None);
        assessment(&mut r, 22, 2, 100.0, 50.0, None);
        enrol(&mut r, 901, 11, 1, 0.0);
        attempt(&mut r, 11, 1, 1, 50.0, 20.0); // W′
        attempt(&mut r, 11, 2, 1, 50.0, 40.0); // W
        attempt(&mut r, 11, 3, 1, 50.0, 50.0); // W
        enrol(&mut r, 902, 12, 2, 0.0);
        attempt(&mut r, 12, 21, 1, 50.0, 45.0);
        enrol(&mut r, 903, 13, 1, 0.0);
        // Completions: 14 started day 40, done day 50 (10 days); 12 enrolled
        // and started day 31, done day 55 (24 days).
        let e = enrol(&mut r, 904, 14, 2, 38.0);
        r.enrolments[e].started_at = Some(day(40.0));
        complete(&mut r, e, 50.0, Outcome::Pass);
        let e = enrol(&mut r, 905, 12, 1, 31.0);
        complete(&mut r, e, 55.0, Outcome::Distinction);
        // A withdrawal is not a completion.
        let e = enrol(&mut r, 906, 13, 2, 0.0);
        withdraw(&mut r, e, 45.0);
        r
    }

    #[test]
    fn learning_velocity_by_hand() {
        let ds = Dataset::new(velocity_fixture());
        let v = learning_velocity(&ds, org(), &win(), 2).expect("velocity");
        // weeks(W) = 30/7.
        // 11: 2 of 4 steps in W → pace 100·2/4/(30/7) = 35/3 = 11.666667; prev
        //     1 step in W′ → 35/6; remaining 25 over (84−60)/7 = 24/7 weeks →
        //     target 175/24 = 7.291667; r = 1.6 → on-track.
        // 12: course 2 has no end: 1 of 2 steps → 35/3; prev 0; no-deadline.
        // 13: nothing done: pace 0, target 100/(24/7) = 29.17 → at-risk.
        // overall = (35/3 + 35/3 + 0)/3 = 70/9 = 7.777778;
        // previous = (35/6)/3 = 35/18 = 1.944444; change = +300 %.
        assert_eq!(v.overall_velocity, 7.78);
        assert_eq!(v.trends.previous_overall_velocity, Some(1.94));
        assert_eq!(v.trends.comparable_velocity, Some(7.78));
        assert_eq!(v.trends.comparable_learners, 3);
        assert_eq!(v.trends.change_percent, Some(300.0));
        // on-track 1 of {11 on-track, 13 at-risk} = 50 (not < 50: no LOW_ON_TRACK).
        assert_eq!(v.on_track_share, Some(50.0));
        // Completions in W: 14 (10 days) and 12 (24 days); active learners
        // 11 and 12 → 2/2 = 1; median (k = 2 reached) = 17.
        assert_eq!(v.completions_in_window, 2);
        assert_eq!(v.completions_per_active_learner, Some(1.0));
        assert_eq!(v.median_days_to_complete, Some(17.0));
        // Dept A {11, 12, 14}: velocity (35/3 + 35/3)/2 = 11.67 > 1.25 · 7.78
        // → FAST_DEPARTMENT; on-track 1/1; both completions; median 17.
        let a = &v.department_breakdown[0];
        assert_eq!(a.department_id, Some(id(A)));
        assert_eq!(a.learners, 3);
        assert_eq!(a.overall_velocity, Some(11.67));
        assert_eq!(a.on_track_share, Some(100.0));
        assert_eq!(a.completions_in_window, Some(2));
        assert_eq!(a.median_days_to_complete, Some(17.0));
        assert!(!a.suppressed);
        // Dept B has 1 < k = 2 learners: counts only.
        let b = &v.department_breakdown[1];
        assert_eq!(b.learners, 1);
        assert!(b.suppressed);
        assert_eq!(b.suppressed_reason, Some("COHORT_BELOW_K"));
        assert_eq!(b.overall_velocity, None);
        assert_eq!(b.completions_in_window, None);
        assert_eq!(v.department_breakdown.len(), 2);
        // Benchmarks over A only.
        let fastest = v.benchmarks.fastest_department.clone().expect("fastest");
        assert_eq!((fastest.department_id, fastest.value), (Some(id(A)), 11.67));
        assert_eq!(v.benchmarks.department_average, Some(11.67));
        assert_eq!(v.insights.len(), 1);
        assert_eq!(v.insights[0].code, "FAST_DEPARTMENT");
        assert!(v.recommendations.is_empty());
    }

    #[test]
    fn learning_velocity_medians_need_k_values_and_insights_fire() {
        let ds = Dataset::new(velocity_fixture());
        // k = 5: both departments suppressed, the median of 2 completions hidden.
        let v = learning_velocity(&ds, org(), &win(), 5).expect("velocity");
        assert_eq!(v.median_days_to_complete, None);
        assert!(v.department_breakdown.iter().all(|d| d.suppressed));
        assert_eq!(v.benchmarks.fastest_department, None);
        // Nothing done in W by 11 and 12 after their first steps: with the W
        // attempts moved to W′ the pace drops.
        let mut r = velocity_fixture();
        for a in &mut r.attempts {
            if a.submitted_at > day(30.0) {
                a.submitted_at = day(25.0);
            }
        }
        let ds = Dataset::new(r);
        let v = learning_velocity(&ds, org(), &win(), 5).expect("velocity");
        // 11: 0 in W (prev 3/4 → 17.5), 13: 0 → both at-risk; 12: prev 35/3.
        assert_eq!(v.overall_velocity, 0.0);
        assert_eq!(v.on_track_share, Some(0.0));
        assert_eq!(v.trends.change_percent, Some(-100.0));
        let codes: Vec<_> = v.insights.iter().map(|i| i.code).collect();
        assert_eq!(codes, ["LOW_ON_TRACK", "VELOCITY_DROP"]);
        assert_eq!(v.recommendations.len(), 2);
    }

    #[test]
    fn learning_velocity_trend_leaves_out_enrolments_that_began_after_the_previous_window_opened() {
        // Learner 15 (dept B) enrolled in course 2 at day 40 (inside W =
        // (30, 60]) and did both steps in W: pace 100 · 2/2 / (30/7) =
        // 23.333333, no previous window to compare → not comparable.
        // overall = (35/3 + 35/3 + 0 + 70/3) / 4 = 11.666667; the trend is
        // over 11, 12 and 13 as before: 70/9 = 7.78 against 35/18 = 1.94,
        // +300 %. (The old rule: previous (35/6)/4 = 1.458333, +700 %.)
        let mut r = velocity_fixture();
        learner(&mut r, 15, Some(B));
        enrol(&mut r, 907, 15, 2, 40.0);
        attempt(&mut r, 15, 21, 1, 50.0, 41.0);
        attempt(&mut r, 15, 22, 1, 50.0, 42.0);
        let v = learning_velocity(&Dataset::new(r), org(), &win(), 2).expect("velocity");
        assert_eq!(v.overall_velocity, 11.67);
        assert_eq!(v.trends.comparable_learners, 3);
        assert_eq!(v.trends.comparable_velocity, Some(7.78));
        assert_eq!(v.trends.previous_overall_velocity, Some(1.94));
        assert_eq!(v.trends.change_percent, Some(300.0));
        assert!(v.header.notes.is_empty());
    }

    #[test]
    fn learning_velocity_without_steps_is_insufficient() {
        let mut r = records();
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, Some(84));
        enrol(&mut r, 901, 11, 1, 0.0);
        let ds = Dataset::new(r);
        let e = learning_velocity(&ds, org(), &win(), 5).expect_err("no steps");
        assert_eq!(reason(e), "NO_PACE_DATA");
    }
}
