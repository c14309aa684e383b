//! strategic-alignment (docs/analytics.md §7.2): skills against the
//! organisation's strategic targets.

use super::*;

/// Latest level per (learner, skill) at an instant.
pub(super) type Levels = HashMap<Uuid, HashMap<Uuid, f64>>;

pub(super) fn levels_at(ds: &Dataset, learners: &[&User], at: DateTime<Utc>) -> Levels {
    learners
        .iter()
        .map(|u| (u.id, ds.skill_levels_at(u.id, at)))
        .collect()
}

fn org_targets(ds: &Dataset, org: Uuid) -> Vec<&SkillTarget> {
    let mut t: Vec<&SkillTarget> = ds
        .records
        .targets
        .iter()
        .filter(|t| t.organization_id == org)
        .collect();
    t.sort_by_key(|t| t.skill_id);
    t
}

/// L_s: learners whose job role requires s, or everyone when none does.
fn target_population<'a>(
    ds: &Dataset,
    org: Uuid,
    skill: Uuid,
    learners: &[&'a User],
) -> Vec<&'a User> {
    let roles: HashSet<&str> = ds
        .records
        .requirements
        .iter()
        .filter(|r| r.organization_id == org && r.skill_id == skill)
        .map(|r| r.job_role.as_str())
        .collect();
    let required: Vec<&User> = learners
        .iter()
        .copied()
        .filter(|u| u.job_role.as_deref().is_some_and(|j| roles.contains(j)))
        .collect();
    if required.is_empty() {
        learners.to_vec()
    } else {
        required
    }
}

/// One target's figures over a population (unrounded).
struct Goal {
    attainment: f64,
    average_level: Option<f64>,
    assessed_share: f64,
    at_target_share: f64,
}

fn goal(target: &SkillTarget, members: &[&User], levels: &Levels) -> Option<Goal> {
    if members.is_empty() {
        return None;
    }
    let n = members.len() as f64;
    let level = |u: &User| {
        levels
            .get(&u.id)
            .and_then(|l| l.get(&target.skill_id))
            .copied()
    };
    let attain = |l: f64| {
        if target.target_level == 0.0 {
            1.0
        } else {
            (l / target.target_level).min(1.0)
        }
    };
    let assessed: Vec<f64> = members.iter().filter_map(|u| level(u)).collect();
    Some(Goal {
        attainment: 100.0
            * members
                .iter()
                .map(|u| attain(level(u).unwrap_or(0.0)))
                .sum::<f64>()
            / n,
        average_level: mean(assessed.iter().copied()),
        assessed_share: 100.0 * assessed.len() as f64 / n,
        at_target_share: 100.0
            * members
                .iter()
                .filter(|u| level(u).unwrap_or(0.0) >= target.target_level)
                .count() as f64
            / n,
    })
}

/// overallAlignment = Σ π·attainment / Σ π over the targets whose population
/// (L_s, restricted to `within` when given) is not empty.
pub(super) fn overall_alignment(
    targets: &[(&SkillTarget, Vec<&User>)],
    within: Option<&HashSet<Uuid>>,
    levels: &Levels,
) -> Option<f64> {
    let mut num = 0.0;
    let mut den = 0.0;
    for (t, pop) in targets {
        let members: Vec<&User> = pop
            .iter()
            .copied()
            .filter(|u| within.is_none_or(|d| d.contains(&u.id)))
            .collect();
        if let Some(g) = goal(t, &members, levels) {
            num += t.priority * g.attainment;
            den += t.priority;
        }
    }
    (den > 0.0).then(|| num / den)
}

/// The organisation's targets with their populations L_s; `Err` with the
/// §7.2 reason when there are none.
pub(super) fn targets_with_populations<'a>(
    ds: &'a Dataset,
    org: Uuid,
    learners: &[&'a User],
    w: &Window,
) -> Result<Vec<(&'a SkillTarget, Vec<&'a User>)>, &'static str> {
    let targets = org_targets(ds, org);
    if targets.is_empty() {
        let has_requirements = ds
            .records
            .requirements
            .iter()
            .any(|r| r.organization_id == org);
        let has_levels = learners
            .iter()
            .any(|u| ds.skill_levels_of(u.id).any(|l| l.assessed_at <= w.now));
        return Err(if has_requirements || has_levels {
            "NO_SKILL_TARGETS"
        } else {
            "NO_SKILL_DATA"
        });
    }
    Ok(targets
        .into_iter()
        .map(|t| (t, target_population(ds, org, t.skill_id, learners)))
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategicGoal {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub target_level: f64,
    pub priority: f64,
    pub target_date: Option<DateTime<Utc>>,
    pub average_level: Option<f64>,
    pub attainment: f64,
    pub assessed_share: f64,
    pub at_target_share: f64,
    /// `met` | `partial` | `gap`.
    pub status: &'static str,
    pub learners: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSkillGap {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub weighted_gap: f64,
    pub attainment: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlignmentRecommendation {
    pub skill_id: Uuid,
    pub skill_name: String,
    /// `assess` | `train`.
    pub action: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlignmentDepartment {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub overall_alignment: Option<f64>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategicAlignment {
    #[serde(flatten)]
    pub header: Header,
    pub overall_alignment: f64,
    pub change: f64,
    pub strategic_goals: Vec<StrategicGoal>,
    pub skill_gaps: Vec<OrgSkillGap>,
    /// Always null: needs a course↔skill link (§11, `NO_COURSE_SKILL_LINK`).
    pub resource_allocation: Option<f64>,
    pub recommendations: Vec<AlignmentRecommendation>,
    pub department_breakdown: Vec<AlignmentDepartment>,
}

fn goal_status(attainment: f64) -> &'static str {
    if attainment >= 90.0 {
        "met"
    } else if attainment >= 60.0 {
        "partial"
    } else {
        "gap"
    }
}

/// §7.2: how close people are to the organisation's strategic skill targets.
pub fn strategic_alignment(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<StrategicAlignment, AnalyticError> {
    let learners = check_found(ds, org, w)?;
    let targets = targets_with_populations(ds, org, &learners, w).map_err(|reason| {
        let (message, what) = if reason == "NO_SKILL_DATA" {
            ("strategic-alignment needs skill data", "skillRecords")
        } else {
            (
                "strategic-alignment needs at least 1 organisation skill target",
                "orgSkillTargets",
            )
        };
        AnalyticError::insufficient("strategic-alignment", reason, message, what, 1.0, 0.0)
    })?;
    let now_levels = levels_at(ds, &learners, w.now);
    let then_levels = levels_at(ds, &learners, w.start());
    let overall = overall_alignment(&targets, None, &now_levels).unwrap_or_default();
    let before = overall_alignment(&targets, None, &then_levels).unwrap_or_default();

    let mut goals = Vec::new();
    let mut gaps = Vec::new();
    for (t, pop) in &targets {
        let Some(g) = goal(t, pop, &now_levels) else {
            continue;
        };
        let name = ds.skill_name(t.skill_id);
        goals.push(StrategicGoal {
            skill_id: t.skill_id,
            skill_name: name.clone(),
            target_level: r2(t.target_level),
            priority: r2(t.priority),
            target_date: t.target_date.map(common::whole_seconds),
            average_level: g.average_level.map(r2),
            attainment: r2(g.attainment),
            assessed_share: r2(g.assessed_share),
            at_target_share: r2(g.at_target_share),
            status: goal_status(g.attainment),
            learners: pop.len(),
        });
        gaps.push((t.priority * (100.0 - g.attainment), name, t.skill_id, g));
    }
    goals.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then(a.skill_name.cmp(&b.skill_name))
            .then(a.skill_id.cmp(&b.skill_id))
    });
    gaps.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    gaps.truncate(10);
    let recommendations = gaps
        .iter()
        .filter(|g| g.0 > 0.0)
        .take(3)
        .map(|(_, name, skill, g)| {
            let (action, text) = if g.assessed_share < 50.0 {
                (
                    "assess",
                    format!(
                        "Assess {name}: only {:.2}% of the learners concerned have a level; attainment is {:.2}%",
                        r2(g.assessed_share),
                        r2(g.attainment)
                    ),
                )
            } else {
                (
                    "train",
                    format!(
                        "Train {name}: attainment is {:.2}% and {:.2}% of the learners concerned are at target",
                        r2(g.attainment),
                        r2(g.at_target_share)
                    ),
                )
            };
            AlignmentRecommendation {
                skill_id: *skill,
                skill_name: name.clone(),
                action,
                text,
            }
        })
        .collect();
    let skill_gaps = gaps
        .into_iter()
        .map(|(wg, name, skill, g)| OrgSkillGap {
            skill_id: skill,
            skill_name: name,
            weighted_gap: r2(wg),
            attainment: r2(g.attainment),
        })
        .collect();

    let department_breakdown = departments(ds, org, &learners)
        .into_iter()
        .map(|g| {
            let suppressed = g.suppressed(k);
            let ids: HashSet<Uuid> = g.members.iter().map(|u| u.id).collect();
            AlignmentDepartment {
                department_id: g.id,
                department_name: g.name,
                parent_id: g.parent,
                learners: g.members.len(),
                overall_alignment: if suppressed {
                    None
                } else {
                    overall_alignment(&targets, Some(&ids), &now_levels).map(r2)
                },
                suppressed,
                suppressed_reason: suppressed_reason(suppressed),
            }
        })
        .collect();

    let mut header = Header::new("strategic-alignment", Some(org), w);
    header.note("NO_COURSE_SKILL_LINK");
    Ok(StrategicAlignment {
        header,
        overall_alignment: r2(overall),
        change: r2(overall - before),
        strategic_goals: goals,
        skill_gaps,
        resource_allocation: None,
        recommendations,
        department_breakdown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::org::tests::*;

    /// Skills 501 (target 4, priority 2, required by job role "dev") and 502
    /// (target 3, priority 1, no requirement → everyone).
    /// Dept A = {11 dev, 12 dev, 13}, dept B = {14}.
    fn alignment_fixture() -> Records {
        let mut r = records();
        department(&mut r, A, "A");
        department(&mut r, B, "B");
        for (u, d) in [(11, A), (12, A), (13, A), (14, B)] {
            learner(&mut r, u, Some(d));
        }
        job(&mut r, 11, "dev");
        job(&mut r, 12, "dev");
        course(&mut r, 1, 0.0, None);
        enrol(&mut r, 901, 11, 1, 0.0);
        skill(&mut r, 501, "Rust");
        skill(&mut r, 502, "SQL");
        r.requirements.push(SkillRequirement {
            organization_id: org(),
            job_role: "dev".into(),
            skill_id: id(501),
            required_level: 3.0,
        });
        target(&mut r, 501, 4.0, 2.0);
        target(&mut r, 502, 3.0, 1.0);
        level(&mut r, 11, 501, 2.0, 10.0);
        level(&mut r, 11, 501, 4.0, 50.0);
        level(&mut r, 11, 502, 3.0, 50.0);
        level(&mut r, 13, 502, 1.5, 20.0);
        level(&mut r, 14, 502, 3.0, 5.0);
        r
    }

    #[test]
    fn strategic_alignment_by_hand() {
        let ds = Dataset::new(alignment_fixture());
        let s = strategic_alignment(&ds, org(), &win(), 3).expect("alignment");
        // Rust: L = {11, 12}: attainment (min(1, 4/4) + 0)/2 = 50; average
        // level 4 (11 only); assessed 50 %; at target 50 % → gap.
        // SQL: L = all 4: (1 + 0 + 0.5 + 1)/4 = 62.5; average (3+1.5+3)/3 =
        // 2.5; assessed 75 %; at target 50 % → partial.
        // overall = (2·50 + 1·62.5)/3 = 54.166667.
        // At day 30: Rust (2/4 + 0)/2 = 25; SQL (0 + 0 + 0.5 + 1)/4 = 37.5 →
        // (50 + 37.5)/3 = 29.166667; change = 25.
        assert_eq!(s.overall_alignment, 54.17);
        assert_eq!(s.change, 25.0);
        let rust = &s.strategic_goals[0];
        assert_eq!(rust.skill_name, "Rust");
        assert_eq!(
            (rust.attainment, rust.average_level, rust.assessed_share),
            (50.0, Some(4.0), 50.0)
        );
        assert_eq!(
            (rust.at_target_share, rust.status, rust.learners),
            (50.0, "gap", 2)
        );
        let sql = &s.strategic_goals[1];
        assert_eq!(
            (sql.attainment, sql.average_level, sql.assessed_share),
            (62.5, Some(2.5), 75.0)
        );
        assert_eq!(
            (sql.at_target_share, sql.status, sql.learners),
            (50.0, "partial", 4)
        );
        // weighted gaps: Rust 2·50 = 100, SQL 1·37.5 = 37.5.
        let gaps: Vec<_> = s
            .skill_gaps
            .iter()
            .map(|g| (g.skill_name.as_str(), g.weighted_gap))
            .collect();
        assert_eq!(gaps, [("Rust", 100.0), ("SQL", 37.5)]);
        // assessedShare 50 and 75 are not < 50 → train both.
        let actions: Vec<_> = s.recommendations.iter().map(|r| r.action).collect();
        assert_eq!(actions, ["train", "train"]);
        assert_eq!(s.resource_allocation, None);
        assert_eq!(s.header.notes, ["NO_COURSE_SKILL_LINK"]);
        // Dept A {11, 12, 13}: Rust over {11, 12} = 50, SQL over {11, 12, 13}
        // = (1 + 0 + 0.5)/3 = 50 → 50. Dept B has 1 < 3 learners.
        let a = &s.department_breakdown[0];
        assert_eq!(
            (a.learners, a.overall_alignment, a.suppressed),
            (3, Some(50.0), false)
        );
        let b = &s.department_breakdown[1];
        assert_eq!(
            (b.learners, b.overall_alignment, b.suppressed),
            (1, None, true)
        );
        assert_eq!(b.suppressed_reason, Some("COHORT_BELOW_K"));
    }

    #[test]
    fn strategic_alignment_recommends_assessment_when_few_are_assessed() {
        let mut r = alignment_fixture();
        r.skill_levels
            .retain(|l| l.user_id != id(11) || l.skill_id != id(501));
        let ds = Dataset::new(r);
        let s = strategic_alignment(&ds, org(), &win(), 3).expect("alignment");
        // Rust: nobody assessed → attainment 0, assessedShare 0 → assess.
        assert_eq!(s.strategic_goals[0].average_level, None);
        assert_eq!(s.recommendations[0].action, "assess");
        assert_eq!(s.skill_gaps[0].weighted_gap, 200.0);
    }

    #[test]
    fn strategic_alignment_without_targets_or_skill_data_is_insufficient() {
        let mut r = alignment_fixture();
        r.targets.clear();
        let ds = Dataset::new(r.clone());
        let e = strategic_alignment(&ds, org(), &win(), 3).expect_err("no targets");
        assert_eq!(reason(e), "NO_SKILL_TARGETS");
        r.requirements.clear();
        r.skill_levels.clear();
        let ds = Dataset::new(r);
        let e = strategic_alignment(&ds, org(), &win(), 3).expect_err("no skill data");
        assert_eq!(reason(e), "NO_SKILL_DATA");
    }
}
