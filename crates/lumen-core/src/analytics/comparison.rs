//! Comparison analytics (docs/analytics.md §8): `peer` (§8.1) and
//! `skill-demand` (§8.2). Both are k-anonymous (§2.8): cohorts below the
//! threshold are suppressed, never padded, and no individual peer's value,
//! id, name or rank position is ever part of the output.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::common::{self, mean, percentile, r2};
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::User;

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
    if hidden.len() == 1 && counts[hidden[0]] > 0 {
        if let Some(smallest) = (0..10).filter(|&i| shown[i]).min_by_key(|&i| counts[i]) {
            shown[smallest] = false;
        }
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

/// The organisation's learners (the dataset holds one organisation; the
/// filter keeps isolation explicit).
fn org_learners(ds: &Dataset, org: Uuid) -> Vec<&User> {
    ds.learners().filter(|u| u.organization_id == org).collect()
}

/// The subject exists, is a learner, and has some record (§1.2, §5).
fn check_learner<'a>(
    ds: &'a Dataset,
    learner: Uuid,
    w: &Window,
) -> Result<&'a User, AnalyticError> {
    let not_found = || AnalyticError::NotFound(format!("learner {learner} not found"));
    let user = ds
        .user(learner)
        .filter(|u| u.roles.contains(&crate::Role::Learner))
        .ok_or_else(not_found)?;
    if ds
        .records
        .organization
        .as_ref()
        .is_some_and(|o| o.id != user.organization_id)
    {
        return Err(not_found());
    }
    let has_records = ds.enrolments_of(learner).any(|e| e.enrolled_at <= w.now)
        || common::events(ds, learner).iter().any(|e| e.at <= w.now);
    if !has_records {
        return Err(AnalyticError::NotFound(format!(
            "learner {learner} has no learning records"
        )));
    }
    Ok(user)
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
    let subject = check_learner(ds, learner, w)?;
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
    let learners = org_learners(ds, org);
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
    let mut skills: Vec<(String, Uuid)> = own_levels
        .keys()
        .map(|s| (skill_name(ds, *s), *s))
        .collect();
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

fn skill_name(ds: &Dataset, skill: Uuid) -> String {
    ds.records
        .skills
        .iter()
        .find(|s| s.id == skill)
        .map_or_else(|| skill.to_string(), |s| s.name.clone())
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
    let learners = org_learners(ds, org);
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
            let skill = ds.records.skills.iter().find(|s| s.id == id);
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
            if population.is_empty() {
                if let Some(t) = target {
                    population = learners.iter().map(|u| (u.id, t.target_level)).collect();
                }
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
