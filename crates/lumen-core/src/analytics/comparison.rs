//! Comparison analytics (docs/analytics.md §8): `peer` (§8.1) and
//! `skill-demand` (§8.2). Both are k-anonymous (§2.8): cohorts below the
//! threshold are suppressed, never padded, and no individual peer's value,
//! id, name or rank position is ever part of the output.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::common::{self, mean, percentile, r2};
use super::{AnalyticError, Dataset, Header, Window};

/// Reason of a cohort below the threshold (§2.8).
pub const COHORT_BELOW_K: &str = "COHORT_BELOW_K";
/// Reason of a cohort whose difference with another published cohort
/// would isolate too few people (§2.8, complementary suppression).
pub const COMPLEMENT_BELOW_K: &str = "COMPLEMENT_BELOW_K";
/// The subject has no department (§8.1).
pub const NO_DEPARTMENT: &str = "NO_DEPARTMENT";

/// The smallest cohort ever shown: k, and never fewer than 3 members (the
/// subject plus two peers), so that a mean never reveals one peer (§2.8).
fn threshold(k: usize) -> usize {
    k.max(3)
}

// ---------------------------------------------------------------------------
// peer (§8.1)
// ---------------------------------------------------------------------------

/// A learner's metrics computed by the learner analytics; `None` where that
/// analytic would answer 404 or 422 for the learner.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeerMetrics {
    /// Engagement `overallScore` (§5.3), 0–100.
    pub engagement: Option<f64>,
    /// Performance `averageScore` (§5.5), 0–100.
    pub performance: Option<f64>,
    /// Velocity `currentPace` (§5.1), points per week.
    pub velocity: Option<f64>,
    /// Mastery `overallMastery` (§5.4), 0–100.
    pub mastery: Option<f64>,
}

impl PeerMetrics {
    /// The learner's metrics from the learner analytics, as `peer` compares them.
    pub fn of(ds: &Dataset, learner: Uuid, w: &Window) -> Self {
        use super::learner as l;
        PeerMetrics {
            engagement: l::engagement(ds, learner, w).ok().map(|e| e.overall_score),
            performance: l::performance(ds, learner, w).ok().map(|p| p.average_score),
            velocity: l::velocity(ds, learner, w).ok().map(|v| v.current_pace),
            mastery: l::mastery(ds, learner, w).ok().map(|m| m.overall_mastery),
        }
    }

    /// [`PeerMetrics::of`] without engagement (`None`), for a caller that
    /// computes engagement with its baselines.
    pub fn without_engagement(ds: &Dataset, learner: Uuid, w: &Window) -> Self {
        use super::learner as l;
        PeerMetrics {
            engagement: None,
            performance: l::performance(ds, learner, w).ok().map(|p| p.average_score),
            velocity: l::velocity(ds, learner, w).ok().map(|v| v.current_pace),
            mastery: l::mastery(ds, learner, w).ok().map(|m| m.overall_mastery),
        }
    }
}

/// The compared metrics, in output order: (name, accessor, on 0–100,
/// recommendation).
type Metric = (
    &'static str,
    fn(&PeerMetrics) -> Option<f64>,
    bool,
    &'static str,
);

const METRICS: [Metric; 4] = [
    (
        "averageScore",
        |m| m.performance,
        true,
        "review the feedback on your recent assessments",
    ),
    (
        "engagementScore",
        |m| m.engagement,
        true,
        "plan short, regular sessions",
    ),
    (
        "currentPace",
        |m| m.velocity,
        false,
        "agree a pacing plan for your courses",
    ),
    (
        "overallMastery",
        |m| m.mastery,
        true,
        "revisit the units you have not mastered yet",
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    #[serde(flatten)]
    pub header: Header,
    pub user_ranking: UserRanking,
    pub performance_comparisons: Vec<Comparison>,
    pub skill_comparisons: Vec<SkillComparison>,
    pub anonymized_peer_data: Vec<PeerHistogram>,
    pub insights: Vec<PeerInsight>,
    pub recommendations: Vec<PeerRecommendation>,
    /// The k-anonymity parameter in force.
    pub k: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRanking {
    /// Mean of the non-suppressed organisation percentiles, 0–100.
    pub overall_percentile: Option<f64>,
    /// `top10` | `top25` | `aboveAverage` | `belowAverage` | `bottom25`.
    pub band: Option<&'static str>,
}

/// The subject against one cohort, for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub metric: &'static str,
    /// `organization` | `department` | `course`.
    pub cohort: &'static str,
    pub cohort_id: Option<Uuid>,
    pub cohort_name: Option<String>,
    /// The subject's own value.
    pub value: f64,
    pub percentile: Option<f64>,
    pub cohort_average: Option<f64>,
    pub cohort_size: Option<usize>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillComparison {
    pub skill_id: Uuid,
    pub skill_name: String,
    /// Metric `skillLevel` (0–5) in the `organization` cohort.
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerHistogram {
    pub metric: &'static str,
    pub cohort: &'static str,
    pub bins: Vec<HistogramBin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistogramBin {
    pub from: f64,
    pub to: f64,
    /// `null` when the bin holds fewer than k members (§2.8).
    pub count: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerInsight {
    /// `STRENGTH` | `IMPROVEMENT_AREA`.
    pub code: &'static str,
    pub metric: &'static str,
    pub cohort: &'static str,
    pub percentile: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerRecommendation {
    pub metric: &'static str,
    pub message: &'static str,
}

/// A cohort's values keyed by member, the subject included.
type Members = Vec<(Uuid, f64)>;

/// The published aggregates of one cohort, or why they are not.
struct Verdict {
    percentile: Option<f64>,
    average: Option<f64>,
    size: Option<usize>,
    reason: Option<&'static str>,
}

impl Verdict {
    fn published(&self) -> bool {
        self.reason.is_none()
    }
}

fn suppressed(reason: &'static str) -> Verdict {
    Verdict {
        percentile: None,
        average: None,
        size: None,
        reason: Some(reason),
    }
}

/// Percentile, mean and size of a cohort, or COHORT_BELOW_K.
fn judge(value: f64, members: &Members, k: usize) -> Verdict {
    if members.len() < threshold(k) {
        return suppressed(COHORT_BELOW_K);
    }
    let values: Vec<f64> = members.iter().map(|(_, v)| *v).collect();
    Verdict {
        percentile: Some(percentile(value, &values)),
        average: mean(values.iter().copied()),
        size: Some(values.len()),
        reason: None,
    }
}

/// Members in exactly one of the two cohorts.
fn symmetric_difference(a: &Members, b: &Members) -> usize {
    let a: BTreeSet<Uuid> = a.iter().map(|(u, _)| *u).collect();
    let b: BTreeSet<Uuid> = b.iter().map(|(u, _)| *u).collect();
    a.symmetric_difference(&b).count()
}

/// Two published cohorts whose memberships differ by exactly one person
/// would reveal that person's value by differencing the two means (§2.8).
fn isolates_one(a: &Members, b: &Members) -> bool {
    symmetric_difference(a, b) == 1
}

fn comparison(
    metric: &'static str,
    cohort: &'static str,
    cohort_id: Option<Uuid>,
    cohort_name: Option<String>,
    value: f64,
    v: &Verdict,
) -> Comparison {
    Comparison {
        metric,
        cohort,
        cohort_id,
        cohort_name,
        value: r2(value),
        percentile: v.percentile.map(r2),
        cohort_average: v.average.map(r2),
        cohort_size: v.size,
        suppressed: !v.published(),
        suppressed_reason: v.reason,
    }
}

fn band(p: f64) -> &'static str {
    if p >= 90.0 {
        "top10"
    } else if p >= 75.0 {
        "top25"
    } else if p >= 50.0 {
        "aboveAverage"
    } else if p >= 25.0 {
        "belowAverage"
    } else {
        "bottom25"
    }
}

/// Ten bins [0, 10), …, [90, 100]. A bin with fewer than k members (0
/// included) shows `null`; when exactly one bin is hidden and it is not
/// empty, the smallest shown bin is hidden too, so that the hidden members
/// cannot be located by subtracting the shown counts from the cohort size.
fn histogram(values: &[f64], k: usize) -> Vec<HistogramBin> {
    let mut counts = [0usize; 10];
    for v in values {
        let bin = (v / 10.0).floor().clamp(0.0, 9.0) as usize;
        counts[bin] += 1;
    }
    let min = threshold(k);
    let mut shown: Vec<bool> = counts.iter().map(|&c| c >= min).collect();
    let hidden: Vec<usize> = (0..10).filter(|&i| !shown[i]).collect();
    if hidden.len() == 1
        && counts[hidden[0]] > 0
        && let Some(smallest) = (0..10).filter(|&i| shown[i]).min_by_key(|&i| counts[i])
    {
        shown[smallest] = false;
    }
    (0..10)
        .map(|i| HistogramBin {
            from: 10.0 * i as f64,
            to: 10.0 * (i + 1) as f64,
            count: shown[i].then_some(counts[i]),
        })
        .collect()
}

/// Learner course score (§6): mean of the learner's result score percents
/// on the course's assessments in W; `None` without a result.
fn course_score(ds: &Dataset, user: Uuid, course: Uuid, w: &Window) -> Option<f64> {
    mean(ds.assessments_of_course(course).filter_map(|a| {
        common::best_attempt(ds, user, a, |t| w.contains(t)).map(|x| common::score_percent(x, a))
    }))
}

/// `GET /comparison/peer/:userId` (§8.1). `metrics` gives any learner's
/// learner-analytic results (engagement, performance, velocity, mastery).
pub fn peer(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    k: usize,
    metrics: &dyn Fn(Uuid) -> PeerMetrics,
) -> Result<Peer, AnalyticError> {
    let subject = common::learner_subject(ds, learner, w, common::LearnerRule::COMPARISON)?;
    let own = metrics(learner);
    let defined = METRICS
        .iter()
        .filter(|(_, get, ..)| get(&own).is_some())
        .count();
    if defined == 0 {
        return Err(AnalyticError::insufficient(
            "peer",
            "NO_COMPARABLE_METRIC",
            "peer needs at least 1 of averageScore, engagementScore, currentPace, overallMastery for the learner",
            "comparableMetrics",
            1.0,
            0.0,
        ));
    }
    let mut header = Header::new("peer", Some(learner), w);
    let org = subject.organization_id;
    let learners = common::org_learners(ds, org);
    let all: HashMap<Uuid, PeerMetrics> = learners
        .iter()
        .map(|u| (u.id, if u.id == learner { own } else { metrics(u.id) }))
        .collect();
    let org_name = ds.records.organization.as_ref().map(|o| o.name.clone());
    let department = subject.department_id;
    let department_name = department.and_then(|d| {
        ds.records
            .departments
            .iter()
            .find(|x| x.id == d)
            .map(|x| x.name.clone())
    });
    if department.is_none() {
        header.note(NO_DEPARTMENT);
    }

    let mut comparisons = Vec::new();
    let mut histograms = Vec::new();
    let mut insights = Vec::new();
    let mut recommendations = Vec::new();
    let mut org_percentiles = Vec::new();
    // The published averageScore cohorts, for the course cohorts' check.
    let mut score_cohorts: Vec<Members> = Vec::new();

    for (metric, get, bounded, advice) in METRICS {
        let Some(value) = get(&own) else { continue };
        let org_members: Members = learners
            .iter()
            .filter_map(|u| get(&all[&u.id]).map(|v| (u.id, v)))
            .collect();
        let org_v = judge(value, &org_members, k);
        comparisons.push(comparison(
            metric,
            "organization",
            Some(org),
            org_name.clone(),
            value,
            &org_v,
        ));
        if let Some(p) = org_v.percentile {
            org_percentiles.push(p);
            let code = if p >= 75.0 {
                Some("STRENGTH")
            } else if p <= 25.0 {
                Some("IMPROVEMENT_AREA")
            } else {
                None
            };
            if let Some(code) = code {
                insights.push(PeerInsight {
                    code,
                    metric,
                    cohort: "organization",
                    percentile: r2(p),
                });
                if code == "IMPROVEMENT_AREA" {
                    recommendations.push(PeerRecommendation {
                        metric,
                        message: advice,
                    });
                }
            }
            if bounded {
                let values: Vec<f64> = org_members.iter().map(|(_, v)| *v).collect();
                histograms.push(PeerHistogram {
                    metric,
                    cohort: "organization",
                    bins: histogram(&values, k),
                });
            }
            if metric == "averageScore" {
                score_cohorts.push(org_members.clone());
            }
        }

        let dept_v = match department {
            None => suppressed(NO_DEPARTMENT),
            Some(d) => {
                let members: Members = learners
                    .iter()
                    .filter(|u| u.department_id == Some(d))
                    .filter_map(|u| get(&all[&u.id]).map(|v| (u.id, v)))
                    .collect();
                let v = judge(value, &members, k);
                if v.published() && org_v.published() && isolates_one(&org_members, &members) {
                    suppressed(COMPLEMENT_BELOW_K)
                } else {
                    if v.published() && metric == "averageScore" {
                        score_cohorts.push(members);
                    }
                    v
                }
            }
        };
        comparisons.push(comparison(
            metric,
            "department",
            department,
            department_name.clone(),
            value,
            &dept_v,
        ));
    }

    // Course cohorts: every course where the subject's enrolment is active in W.
    let mut courses: Vec<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| common::active_in(e, w))
        .map(|e| e.course_id)
        .collect();
    courses.sort_by_key(|c| (ds.course(*c).map(|x| x.title.clone()), *c));
    courses.dedup();
    for course in courses {
        let Some(value) = course_score(ds, learner, course, w) else {
            continue;
        };
        let mut ids: Vec<Uuid> = ds
            .enrolments_in(course)
            .filter(|e| common::active_in(e, w))
            .map(|e| e.user_id)
            .filter(|u| all.contains_key(u))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let members: Members = ids
            .into_iter()
            .filter_map(|u| course_score(ds, u, course, w).map(|v| (u, v)))
            .collect();
        let mut v = judge(value, &members, k);
        if v.published() && score_cohorts.iter().any(|c| isolates_one(c, &members)) {
            v = suppressed(COMPLEMENT_BELOW_K);
        }
        comparisons.push(comparison(
            "courseScore",
            "course",
            Some(course),
            ds.course(course).map(|c| c.title.clone()),
            value,
            &v,
        ));
    }

    // Skills: organisation cohort of the latest levels.
    let own_levels = ds.skill_levels_at(learner, w.now);
    let mut skills: Vec<(String, Uuid)> =
        own_levels.keys().map(|s| (ds.skill_name(*s), *s)).collect();
    skills.sort();
    let levels: HashMap<Uuid, HashMap<Uuid, f64>> = if skills.is_empty() {
        HashMap::new()
    } else {
        learners
            .iter()
            .map(|u| (u.id, ds.skill_levels_at(u.id, w.now)))
            .collect()
    };
    let skill_comparisons = skills
        .into_iter()
        .map(|(name, skill)| {
            let value = own_levels[&skill];
            let members: Members = learners
                .iter()
                .filter_map(|u| levels[&u.id].get(&skill).map(|v| (u.id, *v)))
                .collect();
            let v = judge(value, &members, k);
            SkillComparison {
                skill_id: skill,
                skill_name: name,
                comparison: comparison(
                    "skillLevel",
                    "organization",
                    Some(org),
                    org_name.clone(),
                    value,
                    &v,
                ),
            }
        })
        .collect();

    let overall = mean(org_percentiles.iter().copied());
    Ok(Peer {
        header,
        user_ranking: UserRanking {
            overall_percentile: overall.map(r2),
            band: overall.map(band),
        },
        performance_comparisons: comparisons,
        skill_comparisons,
        anonymized_peer_data: histograms,
        insights,
        recommendations,
        k,
    })
}

// ---------------------------------------------------------------------------
// skill-demand (§8.2)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillDemand {
    #[serde(flatten)]
    pub header: Header,
    pub skill_demand: Vec<SkillDemandRow>,
    pub department_breakdown: Vec<DepartmentDemand>,
    /// Needs labour-market data the schema does not have (§11): always null.
    pub market_insights: Option<LabourMarketData>,
    pub industry_trends: Option<LabourMarketData>,
    pub geographic_distribution: Option<LabourMarketData>,
    pub salary_ranges: Option<LabourMarketData>,
}

/// Placeholder for the labour-market fields (§11 schema addition 2).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LabourMarketData {}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillDemandRow {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub category: Option<String>,
    pub required_by: usize,
    pub gap_learners: Option<usize>,
    pub gap_share: Option<f64>,
    pub demand_score: Option<f64>,
    /// `high` | `medium` | `low`.
    pub demand_level: Option<&'static str>,
    pub average_gap: Option<f64>,
    /// The organisation's target level (0–5), when the skill has a target.
    pub target_level: Option<f64>,
    pub priority: Option<f64>,
    pub trend: Option<DemandTrend>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemandTrend {
    pub previous_gap_learners: usize,
    pub change: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentDemand {
    /// `null` for the pseudo-department `unassigned`.
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub skill_demand: Vec<SkillDemandRow>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

/// One skill of the organisation's requirements or targets.
struct DemandSkill {
    id: Uuid,
    name: String,
    category: Option<String>,
    target_level: Option<f64>,
    priority: Option<f64>,
    /// L_s with each member's required level.
    population: Vec<(Uuid, f64)>,
}

/// Gap learners, Σ max(0, required − level), with levels as of `levels`.
fn gaps(
    population: &[(Uuid, f64)],
    skill: Uuid,
    levels: &HashMap<Uuid, HashMap<Uuid, f64>>,
) -> (usize, f64) {
    population.iter().fold((0, 0.0), |(n, sum), (u, required)| {
        match levels.get(u).and_then(|l| l.get(&skill)) {
            Some(level) => (
                n + usize::from(*level < *required),
                sum + (required - level).max(0.0),
            ),
            None => (n + 1, sum + required.max(0.0)),
        }
    })
}

/// A row over `members` ⊆ L_s; `workforce` is N of the scope (organisation
/// or department). Returns the row and its unrounded demand score.
fn demand_row(
    s: &DemandSkill,
    members: &[(Uuid, f64)],
    workforce: usize,
    now: &HashMap<Uuid, HashMap<Uuid, f64>>,
    before: &HashMap<Uuid, HashMap<Uuid, f64>>,
    reason: Option<&'static str>,
) -> (SkillDemandRow, f64) {
    let mut row = SkillDemandRow {
        skill_id: s.id,
        skill_name: s.name.clone(),
        category: s.category.clone(),
        required_by: members.len(),
        gap_learners: None,
        gap_share: None,
        demand_score: None,
        demand_level: None,
        average_gap: None,
        target_level: s.target_level.map(r2),
        priority: s.priority.map(r2),
        trend: None,
        suppressed: reason.is_some(),
        suppressed_reason: reason,
    };
    if reason.is_some() || members.is_empty() || workforce == 0 {
        return (row, 0.0);
    }
    let (gap, sum) = gaps(members, s.id, now);
    let (previous, _) = gaps(members, s.id, before);
    let demand = 100.0 * gap as f64 / workforce as f64;
    row.gap_learners = Some(gap);
    row.gap_share = Some(r2(100.0 * gap as f64 / members.len() as f64));
    row.demand_score = Some(r2(demand));
    row.demand_level = Some(if demand >= 30.0 {
        "high"
    } else if demand >= 10.0 {
        "medium"
    } else {
        "low"
    });
    row.average_gap = Some(r2(sum / members.len() as f64));
    row.trend = Some(DemandTrend {
        previous_gap_learners: previous,
        change: gap as i64 - previous as i64,
    });
    (row, demand)
}

/// Published rows by demandScore desc, then priority desc, then name;
/// suppressed rows after them by priority and name only (their hidden
/// values must not decide their position).
fn sort_rows(rows: &mut [(SkillDemandRow, f64)]) {
    rows.sort_by(|(a, da), (b, db)| {
        a.suppressed
            .cmp(&b.suppressed)
            .then(db.total_cmp(da))
            .then(
                b.priority
                    .unwrap_or(0.0)
                    .total_cmp(&a.priority.unwrap_or(0.0)),
            )
            .then(a.skill_name.cmp(&b.skill_name))
            .then(a.skill_id.cmp(&b.skill_id))
    });
}

/// `GET /comparison/skill-demand` (§8.2), for the caller's organisation.
pub fn skill_demand(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<SkillDemand, AnalyticError> {
    if ds.records.organization.as_ref().map(|o| o.id) != Some(org) {
        return Err(AnalyticError::NotFound(format!(
            "organisation {org} not found"
        )));
    }
    let learners = common::org_learners(ds, org);
    let enrolled = learners
        .iter()
        .any(|u| ds.enrolments_of(u.id).any(|e| e.enrolled_at <= w.now));
    if learners.is_empty() || !enrolled {
        return Err(AnalyticError::NotFound(format!(
            "organisation {org} has no learner or no enrolment"
        )));
    }
    let requirements: Vec<_> = ds
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
    let mut skill_ids: Vec<Uuid> = requirements
        .iter()
        .map(|r| r.skill_id)
        .chain(targets.iter().map(|t| t.skill_id))
        .collect();
    skill_ids.sort_unstable();
    skill_ids.dedup();
    if skill_ids.is_empty() {
        return Err(AnalyticError::insufficient(
            "skill-demand",
            "NO_SKILL_DATA",
            "skill-demand needs at least 1 skill requirement or target",
            "requirementsOrTargets",
            1.0,
            0.0,
        ));
    }

    let skills: Vec<DemandSkill> = skill_ids
        .into_iter()
        .map(|id| {
            let skill = ds.skill(id);
            let target = targets.iter().find(|t| t.skill_id == id);
            let mut population: Vec<(Uuid, f64)> = learners
                .iter()
                .filter_map(|u| {
                    let role = u.job_role.as_deref()?;
                    requirements
                        .iter()
                        .find(|r| r.skill_id == id && r.job_role == role)
                        .map(|r| (u.id, r.required_level))
                })
                .collect();
            if population.is_empty()
                && let Some(t) = target
            {
                population = learners.iter().map(|u| (u.id, t.target_level)).collect();
            }

            DemandSkill {
                id,
                name: skill.map_or_else(|| id.to_string(), |s| s.name.clone()),
                category: skill.and_then(|s| s.category.clone()),
                target_level: target.map(|t| t.target_level),
                priority: target.map(|t| t.priority),
                population,
            }
        })
        .collect();

    let levels_at = |at| -> HashMap<Uuid, HashMap<Uuid, f64>> {
        learners
            .iter()
            .map(|u| (u.id, ds.skill_levels_at(u.id, at)))
            .collect()
    };
    let now = levels_at(w.now);
    let before = levels_at(w.start());
    let min = threshold(k);
    let n = learners.len();

    let mut rows: Vec<(SkillDemandRow, f64)> = skills
        .iter()
        .map(|s| {
            let reason = (s.population.len() < min).then_some(COHORT_BELOW_K);
            demand_row(s, &s.population, n, &now, &before, reason)
        })
        .collect();
    sort_rows(&mut rows);

    // Departments: the organisation's, then `unassigned` when used.
    let mut departments: Vec<(Option<Uuid>, String, Option<Uuid>)> = ds
        .records
        .departments
        .iter()
        .filter(|d| d.organization_id == org)
        .map(|d| (Some(d.id), d.name.clone(), d.parent_id))
        .collect();
    departments.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    if learners.iter().any(|u| u.department_id.is_none()) {
        departments.push((None, "unassigned".to_owned(), None));
    }
    let department_of: HashMap<Uuid, Option<Uuid>> =
        learners.iter().map(|u| (u.id, u.department_id)).collect();
    let size = |d: Option<Uuid>| department_of.values().filter(|x| **x == d).count();

    // Per skill, which departments' rows are hidden: below the threshold,
    // plus complementary suppression so that the hidden rows together are
    // empty or hold ≥ k* members (otherwise organisation − shown rows
    // would reveal them).
    let mut hidden: HashMap<(Uuid, Option<Uuid>), &'static str> = HashMap::new();
    for s in &skills {
        let mut groups: Vec<(Option<Uuid>, &str, usize)> = departments
            .iter()
            .map(|(d, name, _)| {
                let members = s
                    .population
                    .iter()
                    .filter(|(u, _)| department_of[u] == *d)
                    .count();
                (*d, name.as_str(), members)
            })
            .filter(|(_, _, m)| *m > 0)
            .collect();
        let mut residual = 0;
        for (d, _, m) in &groups {
            if *m < min || size(*d) < min {
                hidden.insert((s.id, *d), COHORT_BELOW_K);
                residual += m;
            }
        }
        groups.retain(|(d, ..)| !hidden.contains_key(&(s.id, *d)));
        groups.sort_by(|a, b| a.2.cmp(&b.2).then(a.1.cmp(b.1)));
        let mut shown = groups.into_iter();
        while residual > 0 && residual < min {
            let Some((d, _, m)) = shown.next() else { break };
            hidden.insert((s.id, d), COMPLEMENT_BELOW_K);
            residual += m;
        }
    }

    let department_breakdown = departments
        .into_iter()
        .map(|(d, name, parent)| {
            let learners = size(d);
            if learners < min {
                return DepartmentDemand {
                    department_id: d,
                    department_name: name,
                    parent_id: parent,
                    learners,
                    skill_demand: Vec::new(),
                    suppressed: true,
                    suppressed_reason: Some(COHORT_BELOW_K),
                };
            }
            let mut rows: Vec<(SkillDemandRow, f64)> = skills
                .iter()
                .filter_map(|s| {
                    let members: Vec<(Uuid, f64)> = s
                        .population
                        .iter()
                        .filter(|(u, _)| department_of[u] == d)
                        .copied()
                        .collect();
                    (!members.is_empty()).then(|| {
                        let reason = hidden.get(&(s.id, d)).copied();
                        demand_row(s, &members, learners, &now, &before, reason)
                    })
                })
                .collect();
            sort_rows(&mut rows);
            DepartmentDemand {
                department_id: d,
                department_name: name,
                parent_id: parent,
                learners,
                skill_demand: rows.into_iter().map(|(r, _)| r).collect(),
                suppressed: false,
                suppressed_reason: None,
            }
        })
        .collect();

    let mut header = Header::new("skill-demand", None, w);
    header.note("NO_LABOUR_MARKET_DATA");
    Ok(SkillDemand {
        header,
        skill_demand: rows.into_iter().map(|(r, _)| r).collect(),
        department_breakdown,
        market_insights: None,
        industry_trends: None,
        geographic_distribution: None,
        salary_ranges: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::Role;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::*;
    use crate::model::{SkillRequirement, SkillTarget};

    // now = day 100, 30d: W = (day 70, day 100].
    fn w() -> Window {
        Window::new(TimeRange::Days30, day(100.0))
    }

    /// A learner with an enrolment (so they have records) in course 900.
    fn learner(r: &mut Records, n: u128, dept: Option<u128>) {
        user(r, n, &[Role::Learner], dept);
        enrol(r, 10_000 + n, n, 900, 60.0);
    }

    fn metrics_from(map: HashMap<u128, PeerMetrics>) -> impl Fn(Uuid) -> PeerMetrics {
        move |u: Uuid| map.get(&u.as_u128()).copied().unwrap_or_default()
    }

    fn score(v: f64) -> PeerMetrics {
        PeerMetrics {
            performance: Some(v),
            ..PeerMetrics::default()
        }
    }

    fn row<'a>(p: &'a Peer, metric: &str, cohort: &str) -> &'a Comparison {
        p.performance_comparisons
            .iter()
            .find(|c| c.metric == metric && c.cohort == cohort)
            .expect("comparison row")
    }

    /// §8.3: subject 10 (averageScore 72) in an organisation of 7 learners
    /// with the metric; department 500 holds the subject and 11, 12, 13;
    /// course 100 "Data 101" holds 10, 11, 12, 15, 16 with course scores
    /// 72, 55, 60, 80, 90.
    fn worked_example() -> (Dataset, HashMap<u128, PeerMetrics>) {
        let mut r = records();
        course(&mut r, 900, 0.0, None);
        course(&mut r, 100, 0.0, None);
        r.courses[1].title = "Data 101".into();
        assessment(&mut r, 200, 100, 100.0, 100.0, None);
        department(&mut r, 500, "Analytics");
        department(&mut r, 501, "Sales");
        let scores = [
            (10, 72.0),
            (11, 55.0),
            (12, 60.0),
            (13, 64.0),
            (14, 72.0),
            (15, 80.0),
            (16, 90.0),
        ];
        for (n, _) in scores {
            learner(&mut r, n, Some(if n <= 13 { 500 } else { 501 }));
        }
        for (n, s) in [(10, 72.0), (11, 55.0), (12, 60.0), (15, 80.0), (16, 90.0)] {
            enrol(&mut r, 20_000 + n, n, 100, 60.0);
            attempt(&mut r, n, 200, 1, s, 90.0);
        }
        let map = scores.iter().map(|(n, s)| (*n, score(*s))).collect();
        (Dataset::new(r), map)
    }

    #[test]
    fn worked_example_8_3_is_reproduced() {
        let (ds, map) = worked_example();
        let p = peer(&ds, id(10), &w(), 5, &metrics_from(map)).expect("peer");
        // Organisation: B = 3, E = 2 → 100 × 4 / 7 = 57.142857; mean 493 / 7 = 70.428571.
        let org = row(&p, "averageScore", "organization");
        assert_eq!(org.value, 72.0);
        assert_eq!(org.percentile, Some(57.14));
        assert_eq!(org.cohort_average, Some(70.43));
        assert_eq!(org.cohort_size, Some(7));
        assert!(!org.suppressed);
        assert_eq!(org.cohort_name.as_deref(), Some("Org"));
        // Department: 4 learners < k = 5.
        let dept = row(&p, "averageScore", "department");
        assert_eq!(
            (dept.percentile, dept.cohort_average, dept.cohort_size),
            (None, None, None)
        );
        assert!(dept.suppressed);
        assert_eq!(dept.suppressed_reason, Some(COHORT_BELOW_K));
        assert_eq!(dept.cohort_id, Some(id(500)));
        // Course "Data 101": B = 2, E = 1 → 100 × 2.5 / 5 = 50; mean 357 / 5 = 71.4.
        let course = row(&p, "courseScore", "course");
        assert_eq!(course.cohort_name.as_deref(), Some("Data 101"));
        assert_eq!(course.value, 72.0);
        assert_eq!(course.percentile, Some(50.0));
        assert_eq!(course.cohort_average, Some(71.4));
        assert_eq!(course.cohort_size, Some(5));
        assert!(!course.suppressed);
        // Course 900 (everyone enrolled, nobody scored): no course score, no row.
        assert_eq!(p.performance_comparisons.len(), 3);
        // Only averageScore defined → ranking from its organisation percentile.
        assert_eq!(p.user_ranking.overall_percentile, Some(57.14));
        assert_eq!(p.user_ranking.band, Some("aboveAverage"));
        assert_eq!(p.k, 5);
        assert_eq!(p.header.analytic, "peer");
        assert_eq!(p.header.subject_id, Some(id(10)));
        assert!(p.insights.is_empty() && p.recommendations.is_empty());
    }

    #[test]
    fn every_cohort_kind_is_suppressed_below_k() {
        let (ds, map) = worked_example();
        // k = 8: organisation (7), department (4) and course (5) all below.
        let p = peer(&ds, id(10), &w(), 8, &metrics_from(map)).expect("peer");
        for c in &p.performance_comparisons {
            assert!(c.suppressed, "{c:?}");
            assert_eq!(c.suppressed_reason, Some(COHORT_BELOW_K));
            assert_eq!(
                (c.percentile, c.cohort_average, c.cohort_size),
                (None, None, None)
            );
            assert_eq!(c.value, 72.0);
        }
        assert_eq!(
            p.performance_comparisons
                .iter()
                .map(|c| c.cohort)
                .collect::<Vec<_>>(),
            ["organization", "department", "course"]
        );
        assert_eq!(
            p.user_ranking,
            UserRanking {
                overall_percentile: None,
                band: None
            }
        );
        assert!(p.anonymized_peer_data.is_empty());
        assert!(p.insights.is_empty());
    }

    #[test]
    fn department_and_course_cohorts_are_shown_at_k() {
        let (ds, map) = worked_example();
        // k = 4: department {72, 55, 60, 64}: B = 3, E = 1 → 100 × 3.5 / 4 = 87.5;
        // mean 251 / 4 = 62.75. Organisation minus department = 3 learners.
        let p = peer(&ds, id(10), &w(), 4, &metrics_from(map)).expect("peer");
        let dept = row(&p, "averageScore", "department");
        assert_eq!(dept.percentile, Some(87.5));
        assert_eq!(dept.cohort_average, Some(62.75));
        assert_eq!(dept.cohort_size, Some(4));
        assert_eq!(dept.cohort_name.as_deref(), Some("Analytics"));
        // Course vs department differ by 13, 15, 16: shown.
        assert!(!row(&p, "courseScore", "course").suppressed);
    }

    #[test]
    fn a_cohort_one_member_away_from_another_is_suppressed() {
        let (mut ds, mut map) = worked_example();
        // Move 14 and 15 into department 500: department = {10..15} (6),
        // organisation = 7; the difference is learner 16 alone.
        for u in &mut ds.records.users {
            if u.id == id(14) || u.id == id(15) {
                u.department_id = Some(id(500));
            }
        }
        let ds = Dataset::new(ds.records);
        map.insert(99, score(1.0)); // not a learner of the dataset: ignored
        let p = peer(&ds, id(10), &w(), 5, &metrics_from(map)).expect("peer");
        assert!(!row(&p, "averageScore", "organization").suppressed);
        let dept = row(&p, "averageScore", "department");
        assert!(dept.suppressed);
        assert_eq!(dept.suppressed_reason, Some(COMPLEMENT_BELOW_K));
        assert_eq!(dept.cohort_size, None);
    }

    #[test]
    fn k_of_two_still_needs_two_peers() {
        let mut r = records();
        course(&mut r, 900, 0.0, None);
        learner(&mut r, 10, None);
        learner(&mut r, 11, None);
        let map = HashMap::from([(10, score(50.0)), (11, score(70.0))]);
        let p = peer(&Dataset::new(r), id(10), &w(), 2, &metrics_from(map)).expect("peer");
        // A mean of 2 with the subject's own value would reveal the peer's 70.
        let org = row(&p, "averageScore", "organization");
        assert!(org.suppressed);
        assert_eq!(org.cohort_average, None);
    }

    /// Six learners, no departments. Subject 10: engagement 85 (peers 40,
    /// 50, 60, 70, 80), averageScore 30 (peers 35, 45, 55, 65, 97.31),
    /// pace 10 (only 3 peers have one), no mastery. Skills: Rust levels
    /// 3 (subject), 1, 2, 3, 4, 5; Go: subject and one peer only.
    fn fixture() -> (Dataset, HashMap<u128, PeerMetrics>) {
        let mut r = records();
        course(&mut r, 900, 0.0, None);
        course(&mut r, 100, 0.0, None);
        assessment(&mut r, 200, 100, 100.0, 100.0, None);
        skill(&mut r, 300, "Rust");
        skill(&mut r, 301, "Go");
        let engagement = [85.0, 40.0, 50.0, 60.0, 70.0, 80.0];
        let scores = [30.0, 35.0, 45.0, 55.0, 65.0, 97.31];
        let pace = [Some(10.0), Some(8.0), Some(12.0), Some(20.0), None, None];
        let mut map = HashMap::new();
        for i in 0..6 {
            let n = 10 + i as u128;
            learner(&mut r, n, None);
            map.insert(
                n,
                PeerMetrics {
                    engagement: Some(engagement[i]),
                    performance: Some(scores[i]),
                    velocity: pace[i],
                    mastery: None,
                },
            );
        }
        // Course 100 with four members; 15 has a distinctive course score.
        for (n, s) in [(10, 50.0), (11, 60.0), (12, 70.0), (15, 93.7)] {
            enrol(&mut r, 20_000 + n, n, 100, 60.0);
            attempt(&mut r, n, 200, 1, s, 90.0);
        }
        level(&mut r, 10, 300, 1.0, 10.0); // superseded
        level(&mut r, 10, 300, 3.0, 50.0);
        for (n, l) in [(11, 1.0), (12, 2.0), (13, 3.0), (14, 4.0), (15, 5.0)] {
            level(&mut r, n, 300, l, 50.0);
        }
        level(&mut r, 10, 301, 2.0, 50.0);
        level(&mut r, 15, 301, 4.37, 50.0);
        level(&mut r, 11, 301, 1.0, 150.0); // after now: ignored
        (Dataset::new(r), map)
    }

    #[test]
    fn peer_fixture_by_hand() {
        let (ds, map) = fixture();
        let p = peer(&ds, id(10), &w(), 5, &metrics_from(map)).expect("peer");
        // engagement 85 among {85, 40, 50, 60, 70, 80}: B = 5, E = 1 →
        // 100 × 5.5 / 6 = 91.666667; mean 385 / 6 = 64.166667.
        let e = row(&p, "engagementScore", "organization");
        assert_eq!(
            (e.value, e.percentile, e.cohort_average, e.cohort_size),
            (85.0, Some(91.67), Some(64.17), Some(6))
        );
        // averageScore 30 among {30, 35, 45, 55, 65, 97.31}: B = 0, E = 1 →
        // 100 × 0.5 / 6 = 8.333333; mean 327.31 / 6 = 54.551667.
        let s = row(&p, "averageScore", "organization");
        assert_eq!((s.percentile, s.cohort_average), (Some(8.33), Some(54.55)));
        // pace: 4 learners have one (< 5).
        let v = row(&p, "currentPace", "organization");
        assert!(v.suppressed);
        assert_eq!(v.value, 10.0);
        // No mastery for the subject: no rows.
        assert!(
            !p.performance_comparisons
                .iter()
                .any(|c| c.metric == "overallMastery")
        );
        // No department: rows say so, and a note.
        let d = row(&p, "engagementScore", "department");
        assert_eq!(
            (d.suppressed, d.suppressed_reason, d.cohort_id),
            (true, Some(NO_DEPARTMENT), None)
        );
        assert_eq!(p.header.notes, vec![NO_DEPARTMENT]);
        // Course 100: 4 members < 5.
        assert!(row(&p, "courseScore", "course").suppressed);
        // Ranking: mean(91.666667, 8.333333) = 50 → aboveAverage.
        assert_eq!(p.user_ranking.overall_percentile, Some(50.0));
        assert_eq!(p.user_ranking.band, Some("aboveAverage"));
        // Insights and recommendations.
        assert_eq!(
            p.insights
                .iter()
                .map(|i| (i.code, i.metric, i.percentile))
                .collect::<Vec<_>>(),
            [
                ("IMPROVEMENT_AREA", "averageScore", 8.33),
                ("STRENGTH", "engagementScore", 91.67)
            ]
        );
        assert_eq!(
            p.recommendations,
            [PeerRecommendation {
                metric: "averageScore",
                message: "review the feedback on your recent assessments"
            }]
        );
        // Histograms for the two shown 0–100 metrics; every bin holds < 5.
        assert_eq!(
            p.anonymized_peer_data
                .iter()
                .map(|h| h.metric)
                .collect::<Vec<_>>(),
            ["averageScore", "engagementScore"]
        );
        for h in &p.anonymized_peer_data {
            assert_eq!(h.bins.len(), 10);
            assert!(h.bins.iter().all(|b| b.count.is_none()));
            assert_eq!((h.bins[9].from, h.bins[9].to), (90.0, 100.0));
        }
        // Skills, ordered by name: Go (2 members < 5), Rust.
        // Rust 3 among {3, 1, 2, 3, 4, 5}: B = 2, E = 2 → 100 × 3 / 6 = 50; mean 18 / 6 = 3.
        let names: Vec<&str> = p
            .skill_comparisons
            .iter()
            .map(|s| s.skill_name.as_str())
            .collect();
        assert_eq!(names, ["Go", "Rust"]);
        let go = &p.skill_comparisons[0].comparison;
        assert!(go.suppressed);
        assert_eq!(go.value, 2.0);
        let rust = &p.skill_comparisons[1];
        assert_eq!(rust.skill_id, id(300));
        assert_eq!(rust.comparison.metric, "skillLevel");
        assert_eq!(
            (
                rust.comparison.value,
                rust.comparison.percentile,
                rust.comparison.cohort_average,
                rust.comparison.cohort_size
            ),
            (3.0, Some(50.0), Some(3.0), Some(6))
        );
    }

    #[test]
    fn no_peer_value_id_or_name_appears() {
        let (ds, map) = fixture();
        for k in [2, 3, 5] {
            let p = peer(&ds, id(10), &w(), k, &metrics_from(map.clone())).expect("peer");
            let text = format!("{p:?}");
            // Peer 15's averageScore 97.31, course score 93.7, Go level 4.37.
            for secret in ["97.31", "93.7", "4.37"] {
                assert!(!text.contains(secret), "k = {k}: {secret} in {text}");
            }
            for n in 11..=15u128 {
                assert!(!text.contains(&id(n).to_string()), "k = {k}: id of {n}");
                assert!(!text.contains(&format!("User {n}")), "k = {k}: name of {n}");
                assert!(!text.contains(&format!("u{n}@")), "k = {k}: email of {n}");
            }
        }
    }

    #[test]
    fn histograms_hide_small_bins_and_a_lone_hidden_bin() {
        // 5 values in [50, 60), 1 in [90, 100]; every other bin empty.
        let h = histogram(&[50.0, 51.0, 52.0, 53.0, 59.9, 100.0], 5);
        let counts: Vec<Option<usize>> = h.iter().map(|b| b.count).collect();
        let mut expected = vec![None; 10];
        expected[5] = Some(5);
        assert_eq!(counts, expected);
        // Nine full bins and one bin with a single member: that bin alone
        // would be n − Σ shown, so the smallest shown bin is hidden too.
        let mut values: Vec<f64> = (0..9)
            .flat_map(|b| (0..5).map(move |i| 10.0 * b as f64 + i as f64))
            .collect();
        values.push(95.0);
        let h = histogram(&values, 5);
        assert_eq!(h[0].count, None);
        assert_eq!(h[9].count, None);
        assert!(h[1..9].iter().all(|b| b.count == Some(5)));
    }

    #[test]
    fn peer_errors() {
        let (ds, map) = fixture();
        let m = metrics_from(map);
        // Unknown user.
        assert!(matches!(
            peer(&ds, id(77), &w(), 5, &m),
            Err(AnalyticError::NotFound(_))
        ));
        // A trainer is not a learner.
        let mut r = ds.records.clone();
        user(&mut r, 40, &[Role::Trainer], None);
        // A learner with no enrolment and no activity.
        user(&mut r, 41, &[Role::Learner], None);
        // A learner with records but no metric.
        learner(&mut r, 42, None);
        let ds = Dataset::new(r);
        assert!(matches!(
            peer(&ds, id(40), &w(), 5, &m),
            Err(AnalyticError::NotFound(_))
        ));
        assert!(matches!(
            peer(&ds, id(41), &w(), 5, &m),
            Err(AnalyticError::NotFound(_))
        ));
        match peer(&ds, id(42), &w(), 5, &m) {
            Err(AnalyticError::InsufficientData {
                analytic,
                reason,
                found,
                ..
            }) => {
                assert_eq!((analytic, reason), ("peer", "NO_COMPARABLE_METRIC"));
                assert_eq!(found.get("comparableMetrics"), Some(&0.0));
            }
            other => panic!("expected 422, got {other:?}"),
        }
    }

    // ---- skill-demand ----

    /// N = 12 learners: department A (500) 10..15, department B (501)
    /// 16..20, 21 unassigned. Job roles: dev 10..16, ops 17..21.
    /// Requirements: dev → Rust (300) 3; ops → Kubernetes (301) 4;
    /// analyst → SQL (303) 2 (nobody is an analyst). Targets: Leadership
    /// (302) 2, priority 3; Rust 4, priority 5.
    fn demand_fixture() -> Dataset {
        let mut r = records();
        course(&mut r, 900, 0.0, None);
        department(&mut r, 500, "A");
        department(&mut r, 501, "B");
        for n in 10..=21u128 {
            let dept = match n {
                10..=15 => Some(500),
                16..=20 => Some(501),
                _ => None,
            };
            learner(&mut r, n, dept);
            let last = r.users.len() - 1;
            r.users[last].job_role = Some(if n <= 16 { "dev" } else { "ops" }.into());
        }
        skill(&mut r, 300, "Rust");
        skill(&mut r, 301, "Kubernetes");
        skill(&mut r, 302, "Leadership");
        skill(&mut r, 303, "SQL");
        for (role, s, l) in [("dev", 300, 3.0), ("ops", 301, 4.0), ("analyst", 303, 2.0)] {
            r.requirements.push(SkillRequirement {
                organization_id: id(ORG),
                job_role: role.into(),
                skill_id: id(s),
                required_level: l,
            });
        }
        for (s, l, p) in [(302, 2.0, 3.0), (300, 4.0, 5.0)] {
            r.targets.push(SkillTarget {
                organization_id: id(ORG),
                skill_id: id(s),
                target_level: l,
                priority: p,
                target_date: None,
            });
        }
        // Rust (W starts at day 70).
        level(&mut r, 10, 300, 4.0, 50.0);
        level(&mut r, 11, 300, 3.0, 80.0);
        level(&mut r, 12, 300, 2.0, 50.0);
        level(&mut r, 14, 300, 1.0, 50.0);
        level(&mut r, 14, 300, 3.0, 90.0);
        level(&mut r, 15, 300, 5.0, 50.0);
        level(&mut r, 16, 300, 0.0, 50.0);
        // Kubernetes.
        for (n, l) in [(17, 4.0), (18, 5.0), (19, 3.0), (21, 4.5)] {
            level(&mut r, n, 301, l, 50.0);
        }
        // Leadership.
        level(&mut r, 10, 302, 2.0, 50.0);
        level(&mut r, 11, 302, 3.0, 75.0);
        level(&mut r, 17, 302, 1.0, 50.0);
        Dataset::new(r)
    }

    #[test]
    fn skill_demand_fixture_by_hand() {
        let ds = demand_fixture();
        let d = skill_demand(&ds, id(ORG), &w(), 5).expect("skill-demand");
        assert_eq!(d.header.analytic, "skill-demand");
        assert_eq!(d.header.subject_id, None);
        assert_eq!(d.header.notes, vec!["NO_LABOUR_MARKET_DATA"]);
        assert_eq!(d.market_insights, None);
        assert_eq!(d.salary_ranges, None);
        let names: Vec<&str> = d
            .skill_demand
            .iter()
            .map(|s| s.skill_name.as_str())
            .collect();
        // Shown by demandScore (83.33, 25, 16.67), then suppressed by priority, name.
        assert_eq!(names, ["Leadership", "Rust", "Kubernetes", "SQL"]);

        // Leadership: target-only → all 12 learners, required 2. Met: 10 (2),
        // 11 (3). Gaps 10 → gapShare = demandScore = 100 × 10 / 12 = 83.333333.
        // averageGap = (0 + 0 + 1 (17 at 1) + 9 × 2) / 12 = 19 / 12 = 1.583333.
        // As of day 70, 11 had no level: 11 gaps, change −1.
        let l = &d.skill_demand[0];
        assert_eq!(l.required_by, 12);
        assert_eq!(l.gap_learners, Some(10));
        assert_eq!(l.gap_share, Some(83.33));
        assert_eq!(l.demand_score, Some(83.33));
        assert_eq!(l.demand_level, Some("high"));
        assert_eq!(l.average_gap, Some(1.58));
        assert_eq!((l.target_level, l.priority), (Some(2.0), Some(3.0)));
        assert_eq!(
            l.trend,
            Some(DemandTrend {
                previous_gap_learners: 11,
                change: -1
            })
        );
        assert_eq!(l.category.as_deref(), Some("tech"));

        // Rust: devs 10..16, required 3 (the role's, not the target's 4).
        // Gaps now: 12 (2), 13 (never), 16 (0) = 3; gapShare 100 × 3 / 7 =
        // 42.857143; demandScore 100 × 3 / 12 = 25 → medium; averageGap =
        // (1 + 3 + 3) / 7 = 1. As of day 70 also 11 (none yet) and 14 (1): 5.
        let rust = &d.skill_demand[1];
        assert_eq!(rust.required_by, 7);
        assert_eq!(rust.gap_learners, Some(3));
        assert_eq!(rust.gap_share, Some(42.86));
        assert_eq!(rust.demand_score, Some(25.0));
        assert_eq!(rust.demand_level, Some("medium"));
        assert_eq!(rust.average_gap, Some(1.0));
        assert_eq!((rust.target_level, rust.priority), (Some(4.0), Some(5.0)));
        assert_eq!(
            rust.trend,
            Some(DemandTrend {
                previous_gap_learners: 5,
                change: -2
            })
        );

        // Kubernetes: ops 17..21 (5), required 4. Gaps: 19 (3), 20 (never) → 2;
        // gapShare 40; demandScore 100 × 2 / 12 = 16.666667; averageGap (1 + 4) / 5 = 1.
        let k8s = &d.skill_demand[2];
        assert!(!k8s.suppressed);
        assert_eq!(
            (
                k8s.gap_learners,
                k8s.gap_share,
                k8s.demand_score,
                k8s.demand_level,
                k8s.average_gap
            ),
            (Some(2), Some(40.0), Some(16.67), Some("medium"), Some(1.0))
        );
        assert_eq!(
            k8s.trend,
            Some(DemandTrend {
                previous_gap_learners: 2,
                change: 0
            })
        );
        assert_eq!((k8s.target_level, k8s.priority), (None, None));

        // SQL: nobody holds the role and there is no target: requiredBy 0.
        let sql = &d.skill_demand[3];
        assert_eq!(
            (sql.required_by, sql.suppressed, sql.suppressed_reason),
            (0, true, Some(COHORT_BELOW_K))
        );
        assert_eq!(
            (sql.gap_learners, sql.demand_score, sql.trend.clone()),
            (None, None, None)
        );
    }

    #[test]
    fn skill_demand_departments_with_complementary_suppression() {
        let ds = demand_fixture();
        let d = skill_demand(&ds, id(ORG), &w(), 5).expect("skill-demand");
        let depts: Vec<(&str, usize, bool)> = d
            .department_breakdown
            .iter()
            .map(|x| (x.department_name.as_str(), x.learners, x.suppressed))
            .collect();
        assert_eq!(
            depts,
            [("A", 6, false), ("B", 5, false), ("unassigned", 1, true)]
        );
        let a = &d.department_breakdown[0];
        let b = &d.department_breakdown[1];
        let u = &d.department_breakdown[2];
        assert_eq!(
            (u.department_id, u.suppressed_reason),
            (None, Some(COHORT_BELOW_K))
        );
        assert!(u.skill_demand.is_empty());

        // A, Leadership: 10..15, required 2: gaps 12, 13, 14, 15 = 4 →
        // 100 × 4 / 6 = 66.666667 (share and demand, N_A = 6); averageGap
        // 8 / 6 = 1.333333; as of day 70 also 11: 5, change −1.
        // (Unassigned's 1 member is hidden; B's 5 are hidden with it so that
        // organisation − A − B cannot reveal one person.)
        let names: Vec<(&str, bool)> = a
            .skill_demand
            .iter()
            .map(|s| (s.skill_name.as_str(), s.suppressed))
            .collect();
        assert_eq!(names, [("Leadership", false), ("Rust", true)]);
        let l = &a.skill_demand[0];
        assert_eq!(
            (
                l.required_by,
                l.gap_learners,
                l.gap_share,
                l.demand_score,
                l.average_gap
            ),
            (6, Some(4), Some(66.67), Some(66.67), Some(1.33))
        );
        assert_eq!(
            l.trend,
            Some(DemandTrend {
                previous_gap_learners: 5,
                change: -1
            })
        );
        // A, Rust: 6 members, but B's single dev (16) would be Rust − A.
        let rust = &a.skill_demand[1];
        assert_eq!(
            (rust.required_by, rust.suppressed_reason, rust.gap_learners),
            (6, Some(COMPLEMENT_BELOW_K), None)
        );

        // B: every row hidden; ordered by priority (Rust 5, Leadership 3, none), then name.
        let rows: Vec<(&str, usize, Option<&str>)> = b
            .skill_demand
            .iter()
            .map(|s| (s.skill_name.as_str(), s.required_by, s.suppressed_reason))
            .collect();
        assert_eq!(
            rows,
            [
                ("Rust", 1, Some(COHORT_BELOW_K)),
                ("Leadership", 5, Some(COMPLEMENT_BELOW_K)),
                ("Kubernetes", 4, Some(COHORT_BELOW_K)),
            ]
        );
        assert!(
            b.skill_demand
                .iter()
                .all(|s| s.gap_learners.is_none() && s.average_gap.is_none())
        );
    }

    #[test]
    fn skill_demand_errors() {
        let ds = demand_fixture();
        assert!(matches!(
            skill_demand(&ds, id(2), &w(), 5),
            Err(AnalyticError::NotFound(_))
        ));
        // No learner.
        let mut r = records();
        skill(&mut r, 300, "Rust");
        let empty = Dataset::new(r);
        assert!(matches!(
            skill_demand(&empty, id(ORG), &w(), 5),
            Err(AnalyticError::NotFound(_))
        ));
        // Learners but no requirement or target (OULAD-like).
        let mut r = ds.records.clone();
        r.requirements.clear();
        r.targets.clear();
        match skill_demand(&Dataset::new(r), id(ORG), &w(), 5) {
            Err(AnalyticError::InsufficientData {
                analytic, reason, ..
            }) => {
                assert_eq!((analytic, reason), ("skill-demand", "NO_SKILL_DATA"));
            }
            other => panic!("expected 422, got {other:?}"),
        }
        // Everything below k: rows show requiredBy only.
        let d = skill_demand(&ds, id(ORG), &w(), 13).expect("skill-demand");
        assert!(
            d.skill_demand
                .iter()
                .all(|s| s.suppressed && s.demand_score.is_none())
        );
        assert!(d.department_breakdown.iter().all(|x| x.suppressed));
    }
}
