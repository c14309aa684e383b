//! student-distribution (docs/analytics.md §6.3): how the trainer's learners
//! are spread.

use super::*;

/// What student-distribution needs from other families about one learner:
/// their engagement level (§5.3) and their drop-off risk per active
/// enrolment (§9.1). The lead wires in the real analytics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnerSignals {
    /// `high` | `medium` | `low` (§5.3 `level`); `None` when not computable.
    pub engagement_level: Option<&'static str>,
    /// Learner-level drop-off risk (0–1): the maximum over their active
    /// enrolments (§9.1). Used for an enrolment that `enrolment_risks` does
    /// not list, only when the learner has a single active enrolment (then
    /// both are the same number).
    pub risk_score: Option<f64>,
    /// Drop-off risk of each active enrolment: (enrolment id, riskScore 0–1).
    pub enrolment_risks: Vec<(Uuid, f64)>,
    /// `"logistic-regression"` | `"heuristic"` (§9.1 `model`).
    pub model: Option<&'static str>,
}

impl LearnerSignals {
    /// From the learner's engagement and drop-off risk answers, when they have them.
    pub fn new(
        engagement: Option<&crate::analytics::learner::Engagement>,
        risk: Option<&crate::analytics::dropoff::DropoffRisk>,
    ) -> Self {
        LearnerSignals {
            engagement_level: engagement.map(|e| e.level),
            risk_score: risk.map(|r| r.risk_score),
            enrolment_risks: risk
                .map(|r| {
                    r.enrolments
                        .iter()
                        .map(|e| (e.enrolment_id, e.risk_score))
                        .collect()
                })
                .unwrap_or_default(),
            model: risk.map(|r| r.model),
        }
    }
}

/// riskLevel `high` (§9.1).
pub const HIGH_RISK: f64 = 0.6;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudentDistribution {
    #[serde(flatten)]
    pub header: Header,
    pub total_students: usize,
    pub direct_learners: usize,
    pub distribution: Distributions,
    pub demographics: Demographics,
    pub key_performance_indicators: StudentKpis,
    pub at_risk_learners: Vec<AtRiskLearner>,
}

/// A count and its share of the distribution's population (0–100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub count: usize,
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Distributions {
    /// Learners by learner-score band (% of totalStudents).
    pub performance: PerformanceBands,
    /// Enrolments active in W by current status (% of those enrolments).
    pub status: StatusCounts,
    /// Active enrolments by 100 × progress (% of active enrolments).
    pub progress: Vec<ProgressBin>,
    /// Learners by engagement level (% of totalStudents).
    pub engagement: EngagementLevels,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBands {
    pub excellent: Share,
    pub good: Share,
    pub average: Share,
    pub below_average: Share,
    pub failing: Share,
    pub no_scores: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    pub active: Share,
    pub completed: Share,
    pub withdrawn: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressBin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngagementLevels {
    pub high: Share,
    pub medium: Share,
    pub low: Share,
    /// Learners whose engagement could not be computed.
    pub no_data: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Demographics {
    pub by_department: Vec<Category>,
    pub by_job_role: Vec<Category>,
}

/// A demographic category; categories with fewer than k learners are merged
/// into `"other"` (listed last).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub name: String,
    pub count: usize,
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudentKpis {
    /// Mean over learners with a result in W of each learner's mean score
    /// percent (each learner counts once), 0–100.
    pub average_score: Option<f64>,
    /// Mean over learners with a result in W of each learner's pass share
    /// (100 × passed results / results; each learner counts once), 0–100.
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub average_progress: Option<f64>,
    pub active_share: f64,
    pub at_risk_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AtRiskLearner {
    pub user_id: Uuid,
    pub full_name: String,
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub risk_score: f64,
    pub risk_level: &'static str,
    pub model: Option<&'static str>,
}

fn share(count: usize, total: usize) -> Share {
    Share {
        count,
        percent: if total == 0 {
            0.0
        } else {
            r2(100.0 * count as f64 / total as f64)
        },
    }
}

/// Learner-score band of §6.3 (on the unrounded score).
fn band(score: f64) -> usize {
    if score >= 85.0 {
        0
    } else if score >= 70.0 {
        1
    } else if score >= 55.0 {
        2
    } else if score >= 40.0 {
        3
    } else {
        4
    }
}

/// Categories by count desc, then name; those below k merged into "other".
fn categories(names: impl IntoIterator<Item = String>, k: usize, total: usize) -> Vec<Category> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in names {
        *counts.entry(n).or_default() += 1;
    }
    let mut out: Vec<Category> = Vec::new();
    let mut other = 0;
    for (name, count) in counts {
        if count < k {
            other += count;
        } else {
            out.push(Category {
                name,
                count,
                percent: share(count, total).percent,
            });
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    if other > 0 {
        out.push(Category {
            name: "other".into(),
            count: other,
            percent: share(other, total).percent,
        });
    }
    out
}

pub fn student_distribution(
    ds: &Dataset,
    trainer: Uuid,
    w: &Window,
    k: usize,
    per_learner: &dyn Fn(Uuid) -> LearnerSignals,
) -> Result<StudentDistribution, AnalyticError> {
    let courses = trainer_courses(ds, trainer)?;
    let course_ids: HashSet<Uuid> = courses.iter().map(|c| c.id).collect();
    let is_learner = |u: Uuid| ds.user(u).is_some_and(|u| u.roles.contains(&Role::Learner));

    // The trainer's learners' enrolments in C(T).
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .flat_map(|c| ds.enrolments_in(c.id))
        .filter(|e| is_learner(e.user_id))
        .collect();
    let in_window: Vec<&Enrolment> = enrolments
        .iter()
        .copied()
        .filter(|e| active_in(e, w))
        .collect();
    if in_window.is_empty() {
        return Err(AnalyticError::insufficient(
            "student-distribution",
            "NO_LEARNERS_IN_WINDOW",
            "student-distribution needs at least 1 enrolment active in the window in the \
             trainer's courses",
            "enrolmentsInWindow",
            1.0,
            0.0,
        ));
    }
    let students: Vec<Uuid> = {
        let mut s: Vec<Uuid> = in_window.iter().map(|e| e.user_id).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let student_set: HashSet<Uuid> = students.iter().copied().collect();
    let total = students.len();
    let active: Vec<&Enrolment> = enrolments
        .iter()
        .copied()
        .filter(|e| active_at(e, w.now))
        .collect();

    // Results of the trainer's learners on C(T) in W.
    let results: Vec<Outcome> = courses
        .iter()
        .flat_map(|c| results_of_course(ds, c.id, w))
        .filter(|r| student_set.contains(&r.user))
        .collect();
    let scores = learner_scores(&results);

    // Performance bands.
    let mut bands = [0usize; 6];
    for s in &students {
        bands[scores.get(s).map_or(5, |v| band(*v))] += 1;
    }
    let performance = PerformanceBands {
        excellent: share(bands[0], total),
        good: share(bands[1], total),
        average: share(bands[2], total),
        below_average: share(bands[3], total),
        failing: share(bands[4], total),
        no_scores: share(bands[5], total),
    };

    // Status of the enrolments active in W.
    let status_count = |s: EnrolmentStatus| {
        share(
            in_window.iter().filter(|e| e.status == s).count(),
            in_window.len(),
        )
    };
    let status = StatusCounts {
        active: status_count(EnrolmentStatus::Active),
        completed: status_count(EnrolmentStatus::Completed),
        withdrawn: status_count(EnrolmentStatus::Withdrawn),
    };

    // Progress bins of active enrolments.
    let progress = [(0.0, 25.0), (25.0, 50.0), (50.0, 75.0), (75.0, 100.0)]
        .into_iter()
        .map(|(from, to)| {
            let count = active
                .iter()
                .filter(|e| {
                    let p = 100.0 * e.progress;
                    p >= from && (p < to || (to == 100.0 && p <= to))
                })
                .count();
            ProgressBin {
                from,
                to,
                count,
                percent: (!active.is_empty())
                    .then(|| r2(100.0 * count as f64 / active.len() as f64)),
            }
        })
        .collect();

    // Signals from the other families.
    let signals: HashMap<Uuid, LearnerSignals> =
        students.iter().map(|u| (*u, per_learner(*u))).collect();
    let level_count = |level: Option<&str>| {
        share(
            signals
                .values()
                .filter(|s| s.engagement_level == level)
                .count(),
            total,
        )
    };
    let engagement = EngagementLevels {
        high: level_count(Some("high")),
        medium: level_count(Some("medium")),
        low: level_count(Some("low")),
        no_data: share(
            signals
                .values()
                .filter(|s| !matches!(s.engagement_level, Some("high" | "medium" | "low")))
                .count(),
            total,
        ),
    };

    // Demographics.
    let users: Vec<_> = students.iter().filter_map(|u| ds.user(*u)).collect();
    let dept_name = |d: Option<Uuid>| match d {
        None => "unassigned".to_owned(),
        Some(d) => ds
            .records
            .departments
            .iter()
            .find(|x| x.id == d)
            .map_or_else(|| "unassigned".to_owned(), |x| x.name.clone()),
    };
    let demographics = Demographics {
        by_department: categories(users.iter().map(|u| dept_name(u.department_id)), k, total),
        by_job_role: categories(
            users
                .iter()
                .map(|u| u.job_role.clone().unwrap_or_else(|| "unspecified".into())),
            k,
            total,
        ),
    };

    // At-risk enrolments: the learners' active enrolments in C(T) at high risk.
    let mut at_risk: Vec<(f64, AtRiskLearner)> = Vec::new();
    for e in &active {
        let Some(sig) = signals.get(&e.user_id) else {
            continue;
        };
        let learner_active = ds
            .enrolments_of(e.user_id)
            .filter(|x| active_at(x, w.now))
            .count();
        let risk = sig
            .enrolment_risks
            .iter()
            .find(|(id, _)| *id == e.id)
            .map(|(_, r)| *r)
            .or_else(|| sig.risk_score.filter(|_| learner_active == 1));
        let Some(risk) = risk.filter(|r| *r >= HIGH_RISK) else {
            continue;
        };
        at_risk.push((
            risk,
            AtRiskLearner {
                user_id: e.user_id,
                full_name: ds
                    .user(e.user_id)
                    .map(|u| u.full_name.clone())
                    .unwrap_or_default(),
                enrolment_id: e.id,
                course_id: e.course_id,
                risk_score: r4(risk),
                risk_level: "high",
                model: sig.model,
            },
        ));
    }
    at_risk.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.enrolment_id.cmp(&b.1.enrolment_id))
    });
    let at_risk_count = at_risk
        .iter()
        .map(|(_, a)| a.user_id)
        .collect::<HashSet<_>>()
        .len();

    let engaged = students
        .iter()
        .filter(|u| {
            events(ds, **u)
                .iter()
                .any(|e| e.course.is_some_and(|c| course_ids.contains(&c)) && w.contains(e.at))
        })
        .count();

    let kpis = StudentKpis {
        average_score: opt_r2(mean(scores.values().copied())),
        pass_rate: opt_r2(pass_rate(&results)),
        completion_rate: opt_r2(completion_rate(
            enrolments.iter().copied().filter(|e| finished_in(e, w)),
        )),
        average_progress: opt_r2(mean(active.iter().map(|e| 100.0 * e.progress))),
        active_share: r2(100.0 * engaged as f64 / total as f64),
        at_risk_count,
    };

    Ok(StudentDistribution {
        header: Header::new("student-distribution", Some(trainer), w),
        total_students: total,
        direct_learners: ds
            .records
            .trainer_learners
            .iter()
            .filter(|(t, _)| *t == trainer)
            .count(),
        distribution: Distributions {
            performance,
            status,
            progress,
            engagement,
        },
        demographics,
        key_performance_indicators: kpis,
        at_risk_learners: at_risk.into_iter().map(|(_, a)| a).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::trainer::tests::*;

    fn signals(u: Uuid) -> LearnerSignals {
        let n = u.as_u128();
        LearnerSignals {
            engagement_level: match n {
                1 | 2 => Some("high"),
                3 => Some("medium"),
                4 => Some("low"),
                _ => None,
            },
            risk_score: match n {
                4 => Some(0.7),
                5 => Some(0.9),
                _ => Some(0.1),
            },
            enrolment_risks: match n {
                // Learner 4's active enrolment in course 10 is high risk;
                // learner 5 has two active enrolments, only one listed.
                4 => vec![(id(104), 0.7)],
                5 => vec![(id(105), 0.65), (id(305), 0.9)],
                _ => Vec::new(),
            },
            model: Some("heuristic"),
        }
    }

    /// now = day 100, W = (70, 100], k = 2.
    /// Course 10: learners 1..5 (dept D1 for 1..3, D2 for 4, none for 5;
    /// job role "analyst" for 1, 2). Learner 6 withdrew before W (not a
    /// student); learner 3 completed (pass) in W. Learner 7 is an enrolled
    /// trainer (not a learner).
    /// Results in W: L1 90 (pass), L2 72 & 100 on two assessments → 86,
    /// L3 50, L4 20 (fail) → scores 90, 86, 50, 20; L5 none.
    /// Bands: excellent 2, belowAverage 1, failing 1, noScores 1 (of 5 →
    /// 40, 20, 20, 20 %).
    /// averageScore = (90 + 86 + 50 + 20) / 4 = 61.5; passRate per learner:
    /// L1 1/1, L2 2/2, L3 1/1, L4 0/1 → 300 / 4 = 75 (over results: 4/5). completionRate: L3 completed pass = 100.
    /// Active enrolments: 1, 2, 4, 5 with progress 0.1, 0.3, 0.5, 1.0 →
    /// bins 1,1,1,1; averageProgress = (10 + 30 + 50 + 100) / 4 = 47.5.
    /// Events tied to course in W: L1..L4 (attempts) → activeShare 80.
    /// Departments with k = 2: D1 3, other (D2 1 + unassigned 1) 2.
    /// At risk: 105 (0.65) of learner 5 (305 is another trainer's course)
    /// and 104 (0.7) of learner 4 → ordered 104, 105; atRiskCount 2.
    fn distribution_fixture() -> Records {
        let mut r = records();
        for (n, name) in [(70u128, "D1"), (71, "D2")] {
            r.departments.push(crate::model::Department {
                id: id(n),
                organization_id: id(ORG),
                parent_id: None,
                origin: None,
                name: name.into(),
                created_at: t0(),
                updated_at: t0(),
            });
        }
        course(&mut r, 10, 0.0, None);
        course(&mut r, 30, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        r.trainer_learners.push((id(T), id(1)));
        r.trainer_learners.push((id(T), id(9)));
        r.trainer_learners.push((id(901), id(2)));
        assessment(&mut r, 50, 10, 100.0, 50.0, None);
        assessment(&mut r, 51, 10, 100.0, 50.0, None);
        for n in 1..=6u128 {
            let dept = match n {
                1..=3 => Some(70),
                4 => Some(71),
                _ => None,
            };
            user(&mut r, n, &[Role::Learner], dept);
        }
        for u in r
            .users
            .iter_mut()
            .filter(|u| u.id == id(1) || u.id == id(2))
        {
            u.job_role = Some("analyst".into());
        }
        user(&mut r, 7, &[Role::Trainer], None);
        let progress = [0.1, 0.3, 0.0, 0.5, 1.0];
        for n in 1..=5u128 {
            let i = enrol(&mut r, 100 + n, n, 10, 0.0);
            r.enrolments[i].progress = progress[n as usize - 1];
        }
        complete(&mut r, 2, 80.0, Grade::Pass);
        let i = enrol(&mut r, 106, 6, 10, 0.0);
        withdraw(&mut r, i, 60.0);
        enrol(&mut r, 107, 7, 10, 0.0);
        enrol(&mut r, 305, 5, 30, 0.0);
        attempt(&mut r, 1, 50, 1, 90.0, 80.0);
        attempt(&mut r, 2, 50, 1, 72.0, 80.0);
        attempt(&mut r, 2, 51, 1, 100.0, 81.0);
        attempt(&mut r, 3, 50, 1, 50.0, 75.0);
        attempt(&mut r, 4, 50, 1, 20.0, 82.0);
        attempt(&mut r, 7, 50, 1, 0.0, 82.0); // not a learner: ignored
        r
    }

    #[test]
    fn student_distribution_by_hand() {
        let ds = Dataset::new(distribution_fixture());
        let d = student_distribution(&ds, id(T), &window(100.0), 2, &signals).expect("dist");
        assert_eq!(d.total_students, 5);
        assert_eq!(d.direct_learners, 2);
        let p = &d.distribution.performance;
        assert_eq!(
            p.excellent,
            Share {
                count: 2,
                percent: 40.0
            }
        );
        assert_eq!(p.good.count, 0);
        assert_eq!(
            p.below_average,
            Share {
                count: 1,
                percent: 20.0
            }
        );
        assert_eq!(p.failing.count, 1);
        assert_eq!(p.no_scores.count, 1);
        let s = &d.distribution.status;
        assert_eq!(
            (s.active.count, s.completed.count, s.withdrawn.count),
            (4, 1, 0)
        );
        assert_eq!(s.active.percent, 80.0);
        let bins: Vec<usize> = d.distribution.progress.iter().map(|b| b.count).collect();
        assert_eq!(bins, vec![1, 1, 1, 1]);
        assert_eq!(d.distribution.progress[3].percent, Some(25.0));
        let e = &d.distribution.engagement;
        assert_eq!(
            (e.high.count, e.medium.count, e.low.count, e.no_data.count),
            (2, 1, 1, 1)
        );
        assert_eq!(
            d.demographics.by_department,
            vec![
                Category {
                    name: "D1".into(),
                    count: 3,
                    percent: 60.0
                },
                Category {
                    name: "other".into(),
                    count: 2,
                    percent: 40.0
                },
            ]
        );
        assert_eq!(
            d.demographics.by_job_role,
            vec![
                Category {
                    name: "unspecified".into(),
                    count: 3,
                    percent: 60.0
                },
                Category {
                    name: "analyst".into(),
                    count: 2,
                    percent: 40.0
                },
            ]
        );
        let k = &d.key_performance_indicators;
        assert_eq!(k.average_score, Some(61.5));
        assert_eq!(k.pass_rate, Some(75.0));
        assert_eq!(k.completion_rate, Some(100.0));
        assert_eq!(k.average_progress, Some(47.5));
        assert_eq!(k.active_share, 80.0);
        assert_eq!(k.at_risk_count, 2);
        let risk: Vec<_> = d
            .at_risk_learners
            .iter()
            .map(|a| (a.enrolment_id, a.risk_score, a.risk_level))
            .collect();
        assert_eq!(risk, vec![(id(104), 0.7, "high"), (id(105), 0.65, "high")]);
        assert_eq!(d.at_risk_learners[0].full_name, "User 4");
    }

    #[test]
    fn student_distribution_needs_learners_in_the_window() {
        let mut r = records();
        course(&mut r, 10, 0.0, None);
        trainer_with(&mut r, T, &[10]);
        user(&mut r, 1, &[Role::Learner], None);
        enrol(&mut r, 101, 1, 10, 200.0); // enrolled after now
        let ds = Dataset::new(r);
        let w = window(100.0);
        assert_eq!(
            student_distribution(&ds, id(T), &w, 5, &signals).map_err(reason),
            Err("NO_LEARNERS_IN_WINDOW")
        );
        assert_eq!(
            student_distribution(&ds, id(999), &w, 5, &signals).map_err(reason),
            Err("NOT_FOUND")
        );
    }
}
