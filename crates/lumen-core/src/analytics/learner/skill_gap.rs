//! skill-gap (docs/analytics.md §5.2): the skills the learner's role needs,
//! and the gaps.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillGap {
    #[serde(flatten)]
    pub header: Header,
    pub current_skills: Vec<CurrentSkill>,
    pub required_skills: Vec<RequiredSkill>,
    pub gaps: Vec<Gap>,
    pub recommendations: Vec<SkillRecommendation>,
    /// `job-role` | `organization-targets`.
    pub requirement_source: &'static str,
    pub summary: SkillGapSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentSkill {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub category: Option<String>,
    /// Level / 5 (0–1).
    pub mastery_level: f64,
    pub last_assessed: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequiredSkill {
    pub skill_id: Uuid,
    pub skill_name: String,
    /// 0–1.
    pub required_level: f64,
    /// `high` | `medium` | `low` | `none`.
    pub priority: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub current_level: f64,
    pub required_level: f64,
    pub gap_size: f64,
    pub priority: &'static str,
    pub assessed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillRecommendation {
    pub skill_id: Uuid,
    pub skill_name: String,
    /// `take_skill_assessment` | `complete_course` | `practice`.
    pub action: &'static str,
    pub estimated_time: String,
    pub estimated_weeks: u32,
    pub priority: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillGapSummary {
    pub required_count: usize,
    pub met_count: usize,
    pub coverage_percent: f64,
    /// Mean gapSize over the required skills (0–1).
    pub average_gap: f64,
}

fn gap_priority(gap_levels: f64) -> &'static str {
    if gap_levels >= 2.0 {
        "high"
    } else if gap_levels >= 1.0 {
        "medium"
    } else if gap_levels > 0.0 {
        "low"
    } else {
        "none"
    }
}

pub fn skill_gap(ds: &Dataset, learner: Uuid, w: &Window) -> Result<SkillGap, AnalyticError> {
    const NAME: &str = "skill-gap";
    let user = learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
    let org = user.organization_id;
    let levels = latest_levels(ds, learner, w.now);
    let org_requirements: Vec<_> = ds
        .records
        .requirements
        .iter()
        .filter(|r| r.organization_id == org)
        .collect();
    let targets: Vec<_> = ds
        .records
        .targets
        .iter()
        .filter(|t| t.organization_id == org)
        .collect();
    if org_requirements.is_empty() && targets.is_empty() && levels.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_SKILL_DATA",
            "skill-gap needs skill requirements, targets or levels; there are none",
            "skillRecords",
            1.0,
            0.0,
        ));
    }
    let by_role: Vec<(Uuid, f64)> = match &user.job_role {
        Some(role) => org_requirements
            .iter()
            .filter(|r| &r.job_role == role)
            .map(|r| (r.skill_id, r.required_level))
            .collect(),
        None => Vec::new(),
    };
    let (required, source) = if by_role.is_empty() {
        (
            targets
                .iter()
                .map(|t| (t.skill_id, t.target_level))
                .collect::<Vec<_>>(),
            "organization-targets",
        )
    } else {
        (by_role, "job-role")
    };
    if required.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_REQUIRED_SKILLS",
            "skill-gap needs at least 1 required skill (job role requirement or organisation target)",
            "requiredSkills",
            1.0,
            0.0,
        ));
    }

    let mut current_skills: Vec<CurrentSkill> = levels
        .iter()
        .map(|(&id, &(at, level))| CurrentSkill {
            skill_id: id,
            skill_name: ds.skill_name(id),
            category: ds.skill(id).and_then(|s| s.category.clone()),
            mastery_level: r4(level / LEVEL_SCALE),
            last_assessed: whole_seconds(at),
        })
        .collect();
    current_skills.sort_by(|a, b| {
        a.skill_name
            .cmp(&b.skill_name)
            .then(a.skill_id.cmp(&b.skill_id))
    });

    struct Req {
        id: Uuid,
        name: String,
        required: f64,
        current: f64,
        assessed: bool,
        gap_levels: f64,
    }
    let mut reqs: Vec<Req> = required
        .iter()
        .map(|&(id, req)| {
            let current = levels.get(&id).map(|&(_, l)| l);
            let cur = current.unwrap_or(0.0);
            Req {
                id,
                name: ds.skill_name(id),
                required: req,
                current: cur,
                assessed: current.is_some(),
                gap_levels: (req - cur).max(0.0),
            }
        })
        .collect();
    reqs.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let required_skills = reqs
        .iter()
        .map(|r| RequiredSkill {
            skill_id: r.id,
            skill_name: r.name.clone(),
            required_level: r4(r.required / LEVEL_SCALE),
            priority: gap_priority(r.gap_levels),
        })
        .collect();

    let mut open: Vec<&Req> = reqs.iter().filter(|r| r.gap_levels > 0.0).collect();
    open.sort_by(|a, b| {
        b.gap_levels
            .total_cmp(&a.gap_levels)
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    let gaps = open
        .iter()
        .map(|r| Gap {
            skill_id: r.id,
            skill_name: r.name.clone(),
            current_level: r4(r.current / LEVEL_SCALE),
            required_level: r4(r.required / LEVEL_SCALE),
            gap_size: r4(r.gap_levels / LEVEL_SCALE),
            priority: gap_priority(r.gap_levels),
            assessed: r.assessed,
        })
        .collect();
    let recommendations = open
        .iter()
        .map(|r| {
            let (action, weeks) = if !r.assessed {
                ("take_skill_assessment", 1)
            } else {
                let weeks = (WEEKS_PER_SKILL_LEVEL * r.gap_levels).ceil() as u32;
                if r.gap_levels >= 2.0 {
                    ("complete_course", weeks)
                } else {
                    ("practice", weeks)
                }
            };
            SkillRecommendation {
                skill_id: r.id,
                skill_name: r.name.clone(),
                action,
                estimated_time: format!("{weeks} week{}", if weeks == 1 { "" } else { "s" }),
                estimated_weeks: weeks,
                priority: gap_priority(r.gap_levels),
            }
        })
        .collect();

    let required_count = reqs.len();
    let met_count = reqs.iter().filter(|r| r.gap_levels == 0.0).count();
    let average_gap = mean(reqs.iter().map(|r| r.gap_levels / LEVEL_SCALE)).unwrap_or(0.0);
    Ok(SkillGap {
        header: Header::new(NAME, Some(learner), w),
        current_skills,
        required_skills,
        gaps,
        recommendations,
        requirement_source: source,
        summary: SkillGapSummary {
            required_count,
            met_count,
            coverage_percent: r2(100.0 * met_count as f64 / required_count as f64),
            average_gap: r4(average_gap),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::learner::tests::*;

    fn require(r: &mut Records, role: &str, skill_n: u128, level: f64) {
        r.requirements.push(SkillRequirement {
            organization_id: id(ORG),
            job_role: role.into(),
            skill_id: id(skill_n),
            required_level: level,
        });
    }

    fn skill_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        r.users[0].job_role = Some("dev".into());
        course(&mut r, 100, 0.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        testkit::skill(&mut r, 500, "Rust");
        testkit::skill(&mut r, 501, "SQL");
        testkit::skill(&mut r, 502, "Docker");
        level(&mut r, ME, 500, 2.0, 10.0);
        level(&mut r, ME, 500, 3.0, 20.0); // latest
        level(&mut r, ME, 501, 4.0, 15.0);
        level(&mut r, ME, 502, 5.0, 80.0); // after now: ignored
        require(&mut r, "dev", 500, 4.0);
        require(&mut r, "dev", 501, 3.0);
        require(&mut r, "dev", 502, 2.0);
        require(&mut r, "ops", 501, 5.0); // another role
        r
    }

    #[test]
    fn skill_gap_by_hand() {
        // Rust: 3 vs 4 → gap 1 level, gapSize 0.2, medium, practice, ⌈2×1⌉ = 2 weeks.
        // SQL: 4 vs 3 → met (none).
        // Docker: never assessed (the day-80 level is after now), 0 vs 2 →
        //   gap 2, gapSize 0.4, high, take_skill_assessment, 1 week.
        // summary: 3 required, 1 met, coverage 33.33, averageGap (0.2+0+0.4)/3 = 0.2.
        let g = skill_gap(&ds(skill_fixture()), id(ME), &w30(70.0)).expect("skill-gap");
        assert_eq!(g.requirement_source, "job-role");
        assert_eq!(g.current_skills.len(), 2);
        assert_eq!(g.current_skills[0].skill_name, "Rust");
        assert_eq!(g.current_skills[0].mastery_level, 0.6);
        assert_eq!(g.current_skills[0].last_assessed, day(20.0));
        assert_eq!(g.current_skills[1].mastery_level, 0.8);
        let names: Vec<_> = g.gaps.iter().map(|x| x.skill_name.as_str()).collect();
        assert_eq!(names, ["Docker", "Rust"]);
        assert_eq!(
            g.gaps[0],
            Gap {
                skill_id: id(502),
                skill_name: "Docker".into(),
                current_level: 0.0,
                required_level: 0.4,
                gap_size: 0.4,
                priority: "high",
                assessed: false,
            }
        );
        assert_eq!(g.gaps[1].current_level, 0.6);
        assert_eq!(g.gaps[1].gap_size, 0.2);
        assert_eq!(g.gaps[1].priority, "medium");
        let recs: Vec<_> = g
            .recommendations
            .iter()
            .map(|x| (x.action, x.estimated_weeks, x.estimated_time.as_str()))
            .collect();
        assert_eq!(
            recs,
            [
                ("take_skill_assessment", 1, "1 week"),
                ("practice", 2, "2 weeks")
            ]
        );
        let req: Vec<_> = g
            .required_skills
            .iter()
            .map(|x| (x.skill_name.as_str(), x.required_level, x.priority))
            .collect();
        assert_eq!(
            req,
            [
                ("Docker", 0.4, "high"),
                ("Rust", 0.8, "medium"),
                ("SQL", 0.6, "none")
            ]
        );
        assert_eq!(
            g.summary,
            SkillGapSummary {
                required_count: 3,
                met_count: 1,
                coverage_percent: 33.33,
                average_gap: 0.2,
            }
        );
    }

    #[test]
    fn skill_gap_falls_back_to_targets_and_complete_course_for_big_gaps() {
        // No job role → organisation targets: Rust target 5, current 3 →
        // gap 2 → high, complete_course, ⌈2×2⌉ = 4 weeks.
        let mut r = skill_fixture();
        r.users[0].job_role = None;
        r.targets.push(SkillTarget {
            organization_id: id(ORG),
            skill_id: id(500),
            target_level: 5.0,
            priority: 1.0,
            target_date: None,
        });
        let g = skill_gap(&ds(r), id(ME), &w30(70.0)).expect("skill-gap");
        assert_eq!(g.requirement_source, "organization-targets");
        assert_eq!(g.recommendations.len(), 1);
        assert_eq!(g.recommendations[0].action, "complete_course");
        assert_eq!(g.recommendations[0].estimated_weeks, 4);
        assert_eq!(g.recommendations[0].priority, "high");
        assert_eq!(g.summary.coverage_percent, 0.0);
        assert_eq!(g.summary.average_gap, 0.4);
    }

    #[test]
    fn skill_gap_needs_skill_data_and_a_required_skill() {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        let w = w30(70.0);
        assert_eq!(
            reason(skill_gap(&ds(r.clone()), id(ME), &w).expect_err("422")),
            "NO_SKILL_DATA"
        );
        testkit::skill(&mut r, 500, "Rust");
        level(&mut r, ME, 500, 2.0, 10.0);
        assert_eq!(
            reason(skill_gap(&ds(r), id(ME), &w).expect_err("422")),
            "NO_REQUIRED_SKILLS"
        );
    }
}
