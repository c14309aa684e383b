//! Organisation analytics (docs/analytics.md §7): learning-velocity,
//! strategic-alignment, learning-culture and org-performance, each with a
//! per-department breakdown under k-anonymity (§2.8).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::common::{
    self, Event, Steps, best_attempt, completion_rate, end, events, finished_in, is_active,
    level_label, mean, median, passed, r2, r4, score_percent, successful,
};
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::{ContentType, EnrolmentStatus, Outcome, SkillTarget, User};

const COHORT_BELOW_K: &str = "COHORT_BELOW_K";

// ---------------------------------------------------------------------------
// Populations and departments (§2.3, §2.8)
// ---------------------------------------------------------------------------

/// L(org), ordered by id.
fn org_learners(ds: &Dataset, org: Uuid) -> Vec<&User> {
    let mut out: Vec<&User> = ds.learners().filter(|u| u.organization_id == org).collect();
    out.sort_by_key(|u| u.id);
    out
}

/// 404 when the organisation has no learner or no enrolment (§7).
fn check_found<'a>(ds: &'a Dataset, org: Uuid, w: &Window) -> Result<Vec<&'a User>, AnalyticError> {
    let learners = org_learners(ds, org);
    if learners.is_empty() {
        return Err(AnalyticError::NotFound(format!(
            "organisation {org} has no learner"
        )));
    }
    let any_enrolment = learners
        .iter()
        .any(|u| ds.enrolments_of(u.id).any(|e| e.enrolled_at <= w.now));
    if !any_enrolment {
        return Err(AnalyticError::NotFound(format!(
            "organisation {org} has no enrolment"
        )));
    }
    Ok(learners)
}

/// One department (or the pseudo-department `unassigned`) and its learners.
struct Group<'a> {
    id: Option<Uuid>,
    name: String,
    parent: Option<Uuid>,
    members: Vec<&'a User>,
}

impl Group<'_> {
    fn suppressed(&self, k: usize) -> bool {
        self.members.len() < k
    }
}

/// The organisation's departments (by name, then id; empty ones included),
/// then learners of departments unknown to the records, then `unassigned`
/// (learners without a department) when there are any.
fn departments<'a>(ds: &'a Dataset, org: Uuid, learners: &[&'a User]) -> Vec<Group<'a>> {
    let mut depts: Vec<_> = ds
        .records
        .departments
        .iter()
        .filter(|d| d.organization_id == org)
        .collect();
    depts.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut groups: Vec<Group<'a>> = depts
        .iter()
        .map(|d| Group {
            id: Some(d.id),
            name: d.name.clone(),
            parent: d.parent_id,
            members: learners
                .iter()
                .copied()
                .filter(|u| u.department_id == Some(d.id))
                .collect(),
        })
        .collect();
    let known: HashSet<Uuid> = depts.iter().map(|d| d.id).collect();
    let mut unknown: Vec<Uuid> = learners
        .iter()
        .filter_map(|u| u.department_id)
        .filter(|d| !known.contains(d))
        .collect();
    unknown.sort();
    unknown.dedup();
    for d in unknown {
        groups.push(Group {
            id: Some(d),
            name: d.to_string(),
            parent: None,
            members: learners
                .iter()
                .copied()
                .filter(|u| u.department_id == Some(d))
                .collect(),
        });
    }
    let unassigned: Vec<&User> = learners
        .iter()
        .copied()
        .filter(|u| u.department_id.is_none())
        .collect();
    if !unassigned.is_empty() {
        groups.push(Group {
            id: None,
            name: "unassigned".into(),
            parent: None,
            members: unassigned,
        });
    }
    groups
}

fn suppressed_reason(suppressed: bool) -> Option<&'static str> {
    suppressed.then_some(COHORT_BELOW_K)
}

/// A department named in a benchmark, with its value.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentValue {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub value: f64,
}

/// Highest, lowest (first in row order on ties) and mean of department values.
fn extremes(
    values: &[(Option<Uuid>, String, f64)],
) -> (
    Option<DepartmentValue>,
    Option<DepartmentValue>,
    Option<f64>,
) {
    let pick = |better: fn(f64, f64) -> bool| {
        let mut best: Option<&(Option<Uuid>, String, f64)> = None;
        for v in values {
            if best.is_none_or(|b| better(v.2, b.2)) {
                best = Some(v);
            }
        }
        best.map(|(id, name, value)| DepartmentValue {
            department_id: *id,
            department_name: name.clone(),
            value: r2(*value),
        })
    };
    (
        pick(|a, b| a > b),
        pick(|a, b| a < b),
        mean(values.iter().map(|v| v.2)).map(r2),
    )
}

/// A generated insight or recommendation text, optionally about a department.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgRecommendation {
    pub code: &'static str,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    pub text: String,
}

/// Per-learner activity events, computed once.
fn events_by_learner(ds: &Dataset, learners: &[&User]) -> HashMap<Uuid, Vec<Event>> {
    learners.iter().map(|u| (u.id, events(ds, u.id))).collect()
}

fn active_count(learners: &[&User], evs: &HashMap<Uuid, Vec<Event>>, w: &Window) -> usize {
    learners
        .iter()
        .filter(|u| evs.get(&u.id).is_some_and(|e| is_active(e, w)))
        .count()
}

fn days(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 86_400_000.0
}

// ---------------------------------------------------------------------------
// §7.1 learning-velocity
// ---------------------------------------------------------------------------

/// A learner's velocity (§5.1), as far as the organisation needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pace {
    current: f64,
    previous: f64,
    /// `on-track` | `behind` | `at-risk` | `no-deadline`.
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
    let prev_w = w.previous();
    // (pace, prevPace, targetPace when the course has an end)
    let mut per: Vec<(f64, f64, Option<f64>)> = Vec::new();
    for e in ds
        .enrolments_of(user)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
    {
        let s = steps
            .entry(e.course_id)
            .or_insert_with(|| Steps::of(ds, e.course_id));
        if s.is_empty() {
            continue;
        }
        let total = s.len() as f64;
        let done = s.done_at(ds, user);
        let in_w = done.iter().filter(|t| w.contains(**t)).count() as f64;
        let in_prev = done.iter().filter(|t| prev_w.contains(**t)).count() as f64;
        let done_now = done.iter().filter(|t| **t <= w.now).count();
        let pace = 100.0 * in_w / total / w.weeks();
        let prev = 100.0 * in_prev / total / w.weeks();
        let remaining = 100.0 * (1.0 - done_now as f64 / total);
        let target = ds.course(e.course_id).and_then(|c| {
            c.length_days.map(|len| {
                let start = c.starts_at.unwrap_or(e.enrolled_at);
                let course_end = start + Duration::days(i64::from(len));
                let weeks_left = (days(course_end - w.now) / 7.0).max(1.0);
                if done_now >= s.len() {
                    0.0
                } else {
                    remaining / weeks_left
                }
            })
        });
        per.push((pace, prev, target));
    }
    if per.is_empty() {
        return None;
    }
    let with_end: Vec<_> = per.iter().filter(|p| p.2.is_some()).collect();
    if with_end.is_empty() {
        return Some(Pace {
            current: mean(per.iter().map(|p| p.0)).unwrap_or_default(),
            previous: mean(per.iter().map(|p| p.1)).unwrap_or_default(),
            status: "no-deadline",
        });
    }
    let current = mean(with_end.iter().map(|p| p.0)).unwrap_or_default();
    let previous = mean(with_end.iter().map(|p| p.1)).unwrap_or_default();
    let target = mean(with_end.iter().filter_map(|p| p.2)).unwrap_or_default();
    let status = if target == 0.0 || current / target >= 1.0 {
        "on-track"
    } else if current / target >= 0.6 {
        "behind"
    } else {
        "at-risk"
    };
    Some(Pace {
        current,
        previous,
        status,
    })
}

/// The velocity figures of a set of learners (unrounded).
struct VelocityCore {
    overall: Option<f64>,
    previous: Option<f64>,
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
        previous: mean(ps.iter().map(|p| p.previous)),
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
    pub previous_overall_velocity: f64,
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
    let previous = core.previous.unwrap_or_default();
    let change_percent = (previous != 0.0).then(|| 100.0 * (overall - previous) / previous);

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
    Ok(LearningVelocity {
        header: Header::new("learning-velocity", Some(org), w),
        overall_velocity: r2(overall),
        on_track_share: core.on_track_share.map(r2),
        completions_in_window: core.completions,
        completions_per_active_learner: core.per_active.map(r2),
        median_days_to_complete: core.median_days.map(r2),
        department_breakdown: rows,
        trends: VelocityTrends {
            previous_overall_velocity: r2(previous),
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

// ---------------------------------------------------------------------------
// §7.2 strategic-alignment
// ---------------------------------------------------------------------------

/// Latest level per (learner, skill) at an instant.
type Levels = HashMap<Uuid, HashMap<Uuid, f64>>;

fn levels_at(ds: &Dataset, learners: &[&User], at: DateTime<Utc>) -> Levels {
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

fn skill_name(ds: &Dataset, skill: Uuid) -> String {
    ds.records
        .skills
        .iter()
        .find(|s| s.id == skill)
        .map_or_else(|| skill.to_string(), |s| s.name.clone())
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
fn overall_alignment(
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
fn targets_with_populations<'a>(
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
        let name = skill_name(ds, t.skill_id);
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

// ---------------------------------------------------------------------------
// §7.3 learning-culture
// ---------------------------------------------------------------------------

const CULTURE_WEIGHTS: [f64; 5] = [0.30, 0.25, 0.20, 0.15, 0.10];
const CULTURE_NAMES: [&str; 5] = [
    "participation",
    "consistency",
    "completion",
    "collaboration",
    "growth",
];
const CULTURE_ADVICE: [&str; 5] = [
    "launch a visible learning campaign",
    "encourage weekly learning time",
    "review course length and deadlines",
    "seed forum discussions and promote the assistant",
    "publish new courses matched to roles",
];

/// The five dimensions of a set of learners and their composite (unrounded).
struct CultureCore {
    dims: [Option<f64>; 5],
    overall: f64,
    weights: Vec<Option<f64>>,
}

fn culture_core(
    ds: &Dataset,
    learners: &[&User],
    evs: &HashMap<Uuid, Vec<Event>>,
    w: &Window,
) -> Option<CultureCore> {
    if learners.is_empty() {
        return None;
    }
    let n = learners.len() as f64;
    let active: Vec<&User> = learners
        .iter()
        .copied()
        .filter(|u| evs.get(&u.id).is_some_and(|e| is_active(e, w)))
        .collect();
    let na = active.len() as f64;
    let buckets = w.week_buckets();
    let consistency = mean(active.iter().map(|u| {
        let e = evs.get(&u.id).map_or(&[][..], Vec::as_slice);
        let weeks = buckets
            .iter()
            .filter(|(s, t)| e.iter().any(|x| x.at > *s && x.at <= *t))
            .count();
        100.0 * weeks as f64 / buckets.len() as f64
    }));
    let completion = completion_rate(
        learners
            .iter()
            .flat_map(|u| ds.enrolments_of(u.id))
            .filter(|e| finished_in(e, w)),
    );
    let collaborating = active
        .iter()
        .filter(|u| {
            ds.interactions_of(u.id).any(|i| {
                w.contains(i.occurred_at)
                    && ds
                        .content_item(i.content_item_id)
                        .is_some_and(|c| c.content_type == ContentType::Forum)
            }) || ds.questions_of(u.id).any(|q| w.contains(q.asked_at))
        })
        .count() as f64;
    let growing = learners
        .iter()
        .filter(|u| ds.enrolments_of(u.id).any(|e| w.contains(e.enrolled_at)))
        .count() as f64;
    let dims = [
        Some(100.0 * na / n),
        consistency,
        completion,
        (na > 0.0).then(|| 100.0 * collaborating / na),
        Some(100.0 * growing / n),
    ];
    let parts: Vec<(f64, Option<f64>)> = CULTURE_WEIGHTS.iter().copied().zip(dims).collect();
    let (overall, weights) = common::composite(&parts)?;
    Some(CultureCore {
        dims,
        overall,
        weights,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CultureWeights {
    pub participation: Option<f64>,
    pub consistency: Option<f64>,
    pub completion: Option<f64>,
    pub collaboration: Option<f64>,
    pub growth: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CultureDimensions {
    pub participation: Option<f64>,
    pub consistency: Option<f64>,
    pub completion: Option<f64>,
    pub collaboration: Option<f64>,
    pub growth: Option<f64>,
    /// Effective weights (§2.7).
    pub weights: CultureWeights,
}

impl CultureDimensions {
    fn of(c: &CultureCore) -> Self {
        let d = |i: usize| c.dims[i].map(r2);
        let wt = |i: usize| c.weights.get(i).copied().flatten().map(r4);
        CultureDimensions {
            participation: d(0),
            consistency: d(1),
            completion: d(2),
            collaboration: d(3),
            growth: d(4),
            weights: CultureWeights {
                participation: wt(0),
                consistency: wt(1),
                completion: wt(2),
                collaboration: wt(3),
                growth: wt(4),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngagementMetrics {
    pub total_learners: usize,
    pub active_learners: usize,
    pub activity_per_active_learner: Option<f64>,
    /// Null when fewer than k learners were active.
    pub median_active_days: Option<f64>,
    /// Seconds; null when time spent is not measured.
    pub time_spent_per_active_learner: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LearningBehaviors {
    /// Percent of the clicks in W per content type.
    pub click_share_by_content_type: BTreeMap<String, f64>,
    pub assessment_attempts: usize,
    pub lab_sessions: usize,
    pub assistant_questions: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CulturalIndicator {
    pub dimension: &'static str,
    pub value: f64,
    /// `strong` | `developing` | `weak`.
    pub label: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CultureTrends {
    pub previous_overall_culture: Option<f64>,
    pub change: Option<f64>,
    /// `up` | `down` | `stable`.
    pub direction: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CultureDepartment {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub overall_culture: Option<f64>,
    pub culture_dimensions: Option<CultureDimensions>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CultureRecommendation {
    pub dimension: &'static str,
    pub text: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LearningCulture {
    #[serde(flatten)]
    pub header: Header,
    pub overall_culture: f64,
    pub level: &'static str,
    pub culture_dimensions: CultureDimensions,
    pub engagement_metrics: EngagementMetrics,
    pub learning_behaviors: LearningBehaviors,
    pub cultural_indicators: Vec<CulturalIndicator>,
    pub trends: CultureTrends,
    pub department_breakdown: Vec<CultureDepartment>,
    pub recommendations: Vec<CultureRecommendation>,
}

fn culture_label(x: f64) -> &'static str {
    if x >= 70.0 {
        "strong"
    } else if x >= 40.0 {
        "developing"
    } else {
        "weak"
    }
}

/// §7.3: whether learning is a habit in the organisation.
pub fn learning_culture(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<LearningCulture, AnalyticError> {
    let learners = check_found(ds, org, w)?;
    let evs = events_by_learner(ds, &learners);
    let core = culture_core(ds, &learners, &evs, w)
        .ok_or_else(|| AnalyticError::NotFound(format!("organisation {org} has no learner")))?;
    let mut header = Header::new("learning-culture", Some(org), w);

    // Engagement metrics over the active learners.
    let active: Vec<&User> = learners
        .iter()
        .copied()
        .filter(|u| evs.get(&u.id).is_some_and(|e| is_active(e, w)))
        .collect();
    let na = active.len();
    let ev = |u: &User| evs.get(&u.id).map_or(&[][..], Vec::as_slice);
    let activity: i64 = active
        .iter()
        .map(|u| common::activity_count(ev(u), w))
        .sum();
    let times: Vec<i64> = active
        .iter()
        .filter_map(|u| common::time_spent(ds, u.id, w))
        .collect();
    if times.is_empty() {
        header.note("NO_TIME_SPENT_DATA");
    }
    let engagement_metrics = EngagementMetrics {
        total_learners: learners.len(),
        active_learners: na,
        activity_per_active_learner: (na > 0).then(|| r2(activity as f64 / na as f64)),
        median_active_days: if na >= k && na > 0 {
            median(active.iter().map(|u| common::active_days(ev(u), w) as f64)).map(r2)
        } else {
            None
        },
        time_spent_per_active_learner: (!times.is_empty() && na > 0)
            .then(|| r2(times.iter().sum::<i64>() as f64 / na as f64)),
    };

    // Behaviours over the whole organisation in W.
    let mut clicks: BTreeMap<String, i64> = BTreeMap::new();
    let (mut attempts, mut labs, mut questions) = (0, 0, 0);
    for u in &learners {
        for i in ds
            .interactions_of(u.id)
            .filter(|i| w.contains(i.occurred_at))
        {
            if let Some(item) = ds.content_item(i.content_item_id) {
                *clicks
                    .entry(item.content_type.as_str().to_owned())
                    .or_default() += i64::from(i.clicks);
            }
        }
        attempts += ds
            .attempts_of(u.id)
            .filter(|a| w.contains(a.submitted_at))
            .count();
        labs += ds
            .lab_sessions_of(u.id)
            .filter(|l| w.contains(l.started_at))
            .count();
        questions += ds
            .questions_of(u.id)
            .filter(|q| w.contains(q.asked_at))
            .count();
    }
    let total_clicks: i64 = clicks.values().sum();
    let click_share_by_content_type = if total_clicks > 0 {
        clicks
            .into_iter()
            .map(|(t, c)| (t, r2(100.0 * c as f64 / total_clicks as f64)))
            .collect()
    } else {
        BTreeMap::new()
    };

    let cultural_indicators: Vec<CulturalIndicator> = CULTURE_NAMES
        .iter()
        .zip(core.dims)
        .filter_map(|(name, d)| {
            d.map(|x| CulturalIndicator {
                dimension: name,
                value: r2(x),
                label: culture_label(x),
            })
        })
        .collect();
    let recommendations = CULTURE_NAMES
        .iter()
        .zip(CULTURE_ADVICE)
        .zip(core.dims)
        .filter(|(_, d)| d.is_some_and(|x| x < 40.0))
        .map(|((name, text), _)| CultureRecommendation {
            dimension: name,
            text,
        })
        .collect();

    // W′: the same formula as if now were now − R (null when no enrolment existed then).
    let prev_w = w.previous();
    let had_enrolment = learners
        .iter()
        .any(|u| ds.enrolments_of(u.id).any(|e| e.enrolled_at <= prev_w.now));
    let previous = had_enrolment
        .then(|| culture_core(ds, &learners, &evs, &prev_w))
        .flatten()
        .map(|c| c.overall);
    let change = previous.map(|p| core.overall - p);
    let direction = match change {
        Some(c) if c > 5.0 => "up",
        Some(c) if c < -5.0 => "down",
        _ => "stable",
    };

    let department_breakdown = departments(ds, org, &learners)
        .into_iter()
        .map(|g| {
            let suppressed = g.suppressed(k);
            let c = if suppressed {
                None
            } else {
                culture_core(ds, &g.members, &evs, w)
            };
            CultureDepartment {
                department_id: g.id,
                department_name: g.name,
                parent_id: g.parent,
                learners: g.members.len(),
                overall_culture: c.as_ref().map(|c| r2(c.overall)),
                culture_dimensions: c.as_ref().map(CultureDimensions::of),
                suppressed,
                suppressed_reason: suppressed_reason(suppressed),
            }
        })
        .collect();

    Ok(LearningCulture {
        header,
        overall_culture: r2(core.overall),
        level: level_label(core.overall),
        culture_dimensions: CultureDimensions::of(&core),
        engagement_metrics,
        learning_behaviors: LearningBehaviors {
            click_share_by_content_type,
            assessment_attempts: attempts,
            lab_sessions: labs,
            assistant_questions: questions,
        },
        cultural_indicators,
        trends: CultureTrends {
            previous_overall_culture: previous.map(r2),
            change: change.map(r2),
            direction,
        },
        department_breakdown,
        recommendations,
    })
}

// ---------------------------------------------------------------------------
// §7.4 org-performance
// ---------------------------------------------------------------------------

const PERFORMANCE_WEIGHTS: [f64; 4] = [0.35, 0.25, 0.25, 0.15];

/// A learner's results in a window: (score percent, passed), one per assessment.
fn results(ds: &Dataset, user: Uuid, w: &Window) -> Vec<(f64, bool)> {
    let mut ids: Vec<Uuid> = ds
        .attempts_of(user)
        .filter(|a| w.contains(a.submitted_at))
        .map(|a| a.assessment_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| ds.assessment(id))
        .filter_map(|a| {
            best_attempt(ds, user, a, |t| w.contains(t))
                .map(|best| (score_percent(best, a), passed(best, a)))
        })
        .collect()
}

/// The four metrics of a set of learners and their composite (unrounded).
struct PerformanceCore {
    metrics: [Option<f64>; 4],
    overall: Option<f64>,
    weights: Vec<Option<f64>>,
    results: usize,
    finished: usize,
}

fn performance_core(
    ds: &Dataset,
    learners: &[&User],
    w: &Window,
    skill_attainment: Option<f64>,
) -> PerformanceCore {
    let per_learner: Vec<Vec<(f64, bool)>> =
        learners.iter().map(|u| results(ds, u.id, w)).collect();
    let all: Vec<&(f64, bool)> = per_learner.iter().flatten().collect();
    let average_score = mean(
        per_learner
            .iter()
            .filter_map(|r| mean(r.iter().map(|x| x.0))),
    );
    let pass_rate = (!all.is_empty())
        .then(|| 100.0 * all.iter().filter(|x| x.1).count() as f64 / all.len() as f64);
    let finished: Vec<_> = learners
        .iter()
        .flat_map(|u| ds.enrolments_of(u.id))
        .filter(|e| finished_in(e, w))
        .collect();
    let metrics = [
        average_score,
        pass_rate,
        completion_rate(finished.iter().copied()),
        skill_attainment,
    ];
    let parts: Vec<(f64, Option<f64>)> = PERFORMANCE_WEIGHTS.iter().copied().zip(metrics).collect();
    let composite = common::composite(&parts);
    PerformanceCore {
        metrics,
        overall: composite.as_ref().map(|c| c.0),
        weights: composite.map_or_else(|| vec![None; 4], |c| c.1),
        results: all.len(),
        finished: finished.len(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceWeights {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceMetrics {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
    /// Effective weights (§2.7).
    pub weights: PerformanceWeights,
}

impl PerformanceMetrics {
    fn of(c: &PerformanceCore) -> Self {
        let wt = |i: usize| c.weights.get(i).copied().flatten().map(r4);
        PerformanceMetrics {
            average_score: c.metrics[0].map(r2),
            pass_rate: c.metrics[1].map(r2),
            completion_rate: c.metrics[2].map(r2),
            skill_attainment: c.metrics[3].map(r2),
            weights: PerformanceWeights {
                average_score: wt(0),
                pass_rate: wt(1),
                completion_rate: wt(2),
                skill_attainment: wt(3),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceDepartment {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub overall_performance: Option<f64>,
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub completion_rate: Option<f64>,
    pub skill_attainment: Option<f64>,
    pub suppressed: bool,
    pub suppressed_reason: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPerformanceIndicators {
    pub total_learners: usize,
    pub active_learners: usize,
    /// Enrolments with `enrolled_at` in W.
    pub enrolments_in_window: usize,
    pub successful_completions: usize,
    pub withdrawals: usize,
    pub failures: usize,
    /// Results (best attempt per learner and assessment) in W.
    pub assessments_submitted: usize,
    /// Mean 100 × progress of the active enrolments; null when none.
    pub average_progress: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessImpact {
    pub skill_level_gains: usize,
    pub learners_with_skill_gain: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBenchmarks {
    pub best_department: Option<DepartmentValue>,
    pub worst_department: Option<DepartmentValue>,
    pub department_average: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPerformanceTrends {
    pub previous_overall_performance: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPerformance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: f64,
    pub performance_metrics: PerformanceMetrics,
    pub department_performance: Vec<PerformanceDepartment>,
    pub key_performance_indicators: KeyPerformanceIndicators,
    pub business_impact: BusinessImpact,
    pub benchmarks: PerformanceBenchmarks,
    pub trends: OrgPerformanceTrends,
    pub recommendations: Vec<OrgRecommendation>,
}

/// §7.4: how well the organisation learns, in results.
pub fn org_performance(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<OrgPerformance, AnalyticError> {
    let learners = check_found(ds, org, w)?;
    let mut header = Header::new("org-performance", Some(org), w);
    let targets = targets_with_populations(ds, org, &learners, w).ok();
    if targets.is_none() {
        header.note("NO_SKILL_TARGETS");
    }
    let now_levels = levels_at(ds, &learners, w.now);
    let then_levels = levels_at(ds, &learners, w.start());
    let alignment = |within: Option<&HashSet<Uuid>>, levels: &Levels| {
        targets
            .as_ref()
            .and_then(|t| overall_alignment(t, within, levels))
    };

    let core = performance_core(ds, &learners, w, alignment(None, &now_levels));
    let overall = match core.overall {
        Some(o) if core.results + core.finished > 0 => o,
        _ => {
            return Err(AnalyticError::insufficient(
                "org-performance",
                "NO_RESULTS_IN_WINDOW",
                "org-performance needs at least 1 assessment result or 1 finished enrolment in the window",
                "resultsOrFinishedEnrolmentsInWindow",
                1.0,
                0.0,
            ));
        }
    };

    let prev_w = w.previous();
    let prev = performance_core(ds, &learners, &prev_w, alignment(None, &then_levels));
    let previous = if prev.results + prev.finished > 0 {
        prev.overall
    } else {
        None
    };

    // KPIs.
    let evs = events_by_learner(ds, &learners);
    let enrolments: Vec<_> = learners
        .iter()
        .flat_map(|u| ds.enrolments_of(u.id))
        .filter(|e| e.enrolled_at <= w.now)
        .collect();
    let finished: Vec<_> = enrolments.iter().filter(|e| finished_in(e, w)).collect();
    let kpis = KeyPerformanceIndicators {
        total_learners: learners.len(),
        active_learners: active_count(&learners, &evs, w),
        enrolments_in_window: enrolments
            .iter()
            .filter(|e| w.contains(e.enrolled_at))
            .count(),
        successful_completions: finished.iter().filter(|e| successful(e)).count(),
        withdrawals: finished
            .iter()
            .filter(|e| e.status == EnrolmentStatus::Withdrawn)
            .count(),
        failures: finished
            .iter()
            .filter(|e| e.status == EnrolmentStatus::Completed && e.outcome == Some(Outcome::Fail))
            .count(),
        assessments_submitted: core.results,
        average_progress: mean(
            enrolments
                .iter()
                .filter(|e| e.status == EnrolmentStatus::Active)
                .map(|e| 100.0 * e.progress),
        )
        .map(r2),
    };

    // Skill-level gains: latest level now above the latest level at now − R.
    let mut gains = 0;
    let mut gainers = 0;
    for u in &learners {
        let (Some(now_l), Some(then_l)) = (now_levels.get(&u.id), then_levels.get(&u.id)) else {
            continue;
        };
        let n = now_l
            .iter()
            .filter(|(s, l)| then_l.get(*s).is_some_and(|t| **l > *t))
            .count();
        gains += n;
        gainers += usize::from(n > 0);
    }
    header.note("NO_BUSINESS_OUTCOME_DATA");

    // Departments.
    let mut rows = Vec::new();
    let mut bench = Vec::new();
    let mut recommendations = Vec::new();
    let metrics = |i: usize| core.metrics[i];
    if let Some(p) = metrics(1).filter(|p| *p < 60.0) {
        recommendations.push(OrgRecommendation {
            code: "LOW_PASS_RATE",
            department_id: None,
            department_name: None,
            text: format!(
                "Pass rate is {:.2}%: strengthen assessment preparation",
                r2(p)
            ),
        });
    }
    if let Some(c) = metrics(2).filter(|c| *c < 50.0) {
        recommendations.push(OrgRecommendation {
            code: "LOW_COMPLETION_RATE",
            department_id: None,
            department_name: None,
            text: format!("Completion rate is {:.2}%: investigate withdrawals", r2(c)),
        });
    }
    for g in departments(ds, org, &learners) {
        let suppressed = g.suppressed(k);
        let c = (!suppressed).then(|| {
            let ids: HashSet<Uuid> = g.members.iter().map(|u| u.id).collect();
            performance_core(ds, &g.members, w, alignment(Some(&ids), &now_levels))
        });
        if let Some(v) = c.as_ref().and_then(|c| c.overall) {
            bench.push((g.id, g.name.clone(), v));
            if v < overall - 10.0 {
                recommendations.push(OrgRecommendation {
                    code: "DEPARTMENT_BEHIND",
                    department_id: g.id,
                    department_name: Some(g.name.clone()),
                    text: format!(
                        "support department {}: overall performance {:.2} against {:.2} for the organisation",
                        g.name,
                        r2(v),
                        r2(overall)
                    ),
                });
            }
        }
        let m = |i: usize| c.as_ref().and_then(|c| c.metrics[i]).map(r2);
        rows.push(PerformanceDepartment {
            department_id: g.id,
            department_name: g.name.clone(),
            parent_id: g.parent,
            learners: g.members.len(),
            overall_performance: c.as_ref().and_then(|c| c.overall).map(r2),
            average_score: m(0),
            pass_rate: m(1),
            completion_rate: m(2),
            skill_attainment: m(3),
            suppressed,
            suppressed_reason: suppressed_reason(suppressed),
        });
    }
    let (best, worst, average) = extremes(&bench);

    Ok(OrgPerformance {
        header,
        overall_performance: r2(overall),
        performance_metrics: PerformanceMetrics::of(&core),
        department_performance: rows,
        key_performance_indicators: kpis,
        business_impact: BusinessImpact {
            skill_level_gains: gains,
            learners_with_skill_gain: gainers,
        },
        benchmarks: PerformanceBenchmarks {
            best_department: best,
            worst_department: worst,
            department_average: average,
        },
        trends: OrgPerformanceTrends {
            previous_overall_performance: previous.map(r2),
            change: previous.map(|p| r2(overall - p)),
        },
        recommendations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::*;
    use crate::model::{AssistantQuestion, SkillRequirement};

    const A: u128 = 100;
    const B: u128 = 200;

    fn org() -> Uuid {
        id(ORG)
    }

    /// W = (day 30, day 60].
    fn win() -> Window {
        Window::new(TimeRange::Days30, day(60.0))
    }

    fn learner(r: &mut Records, n: u128, department: Option<u128>) {
        user(r, n, &[Role::Learner], department);
    }

    fn question(r: &mut Records, user: u128, at: f64) {
        r.questions.push(AssistantQuestion {
            id: Uuid::new_v4(),
            user_id: id(user),
            course_id: None,
            origin: None,
            asked_at: day(at),
            topic: None,
            resolved: true,
        });
    }

    fn target(r: &mut Records, skill: u128, level: f64, priority: f64) {
        r.targets.push(SkillTarget {
            organization_id: org(),
            skill_id: id(skill),
            target_level: level,
            priority,
            target_date: None,
        });
    }

    fn job(r: &mut Records, user: u128, role: &str) {
        if let Some(u) = r.users.iter_mut().find(|u| u.id == id(user)) {
            u.job_role = Some(role.into());
        }
    }

    fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }

    fn not_found(r: Records) -> bool {
        let ds = Dataset::new(r);
        [
            learning_velocity(&ds, org(), &win(), 5).err(),
            strategic_alignment(&ds, org(), &win(), 5).err(),
            learning_culture(&ds, org(), &win(), 5).err(),
            org_performance(&ds, org(), &win(), 5).err(),
        ]
        .into_iter()
        .all(|e| matches!(e, Some(AnalyticError::NotFound(_))))
    }

    #[test]
    fn every_org_analytic_is_not_found_without_learners_or_enrolments() {
        let mut r = records();
        user(&mut r, 1000, &[Role::OrgAdmin], None);
        assert!(not_found(r.clone()));
        // A learner, but no enrolment.
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, None);
        assert!(not_found(r.clone()));
        // An enrolment only after now is ignored too.
        enrol(&mut r, 901, 11, 1, 70.0);
        assert!(not_found(r));
    }

    // ---- §7.1 learning-velocity ----

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
        assert_eq!(v.trends.previous_overall_velocity, 1.94);
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
    fn learning_velocity_without_steps_is_insufficient() {
        let mut r = records();
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, Some(84));
        enrol(&mut r, 901, 11, 1, 0.0);
        let ds = Dataset::new(r);
        let e = learning_velocity(&ds, org(), &win(), 5).expect_err("no steps");
        assert_eq!(reason(e), "NO_PACE_DATA");
    }

    // ---- §7.2 strategic-alignment ----

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

    // ---- §7.3 learning-culture: the worked example §7.5 ----

    /// §7.5: 10 learners, dept A = 11…16, dept B = 21…24; W = (day 30, day 60],
    /// week buckets (53, 60], (46, 53], (39, 46], (32, 39], (30, 32].
    fn culture_fixture() -> Records {
        let mut r = records();
        department(&mut r, A, "A");
        department(&mut r, B, "B");
        course(&mut r, 1, 0.0, None);
        course(&mut r, 2, 0.0, None);
        item(&mut r, 801, 1, ContentType::Video);
        item(&mut r, 802, 1, ContentType::Forum);
        let members = [
            (11, A),
            (12, A),
            (13, A),
            (14, A),
            (15, A),
            (16, A),
            (21, B),
            (22, B),
            (23, B),
            (24, B),
        ];
        for (n, (u, d)) in members.into_iter().enumerate() {
            learner(&mut r, u, Some(d));
            enrol(&mut r, 900 + n as u128, u, 1, 0.0);
        }
        // Active weeks: A 5, 4, 2, 1; B 3, 1 (one 2-click event per week).
        let bucket_day = [59.0, 52.0, 45.0, 38.0, 31.0];
        for (u, weeks) in [(11, 5), (12, 4), (13, 2), (14, 1), (21, 3), (22, 1)] {
            for d in &bucket_day[..weeks] {
                interact(&mut r, u, 801, *d, 2, None, false);
            }
        }
        // Collaboration: 11 on the forum, 21 asks the assistant.
        interact(&mut r, 11, 802, 58.0, 1, None, false);
        question(&mut r, 21, 57.0);
        // Finished in W: A 2 pass + 1 withdrawn, B 1 pass.
        let first = |r: &Records, u: u128| {
            r.enrolments
                .iter()
                .position(|e| e.user_id == id(u))
                .unwrap_or_default()
        };
        let (e11, e12, e13, e21) = (first(&r, 11), first(&r, 12), first(&r, 13), first(&r, 21));
        complete(&mut r, e11, 50.0, Outcome::Pass);
        complete(&mut r, e12, 50.0, Outcome::Pass);
        withdraw(&mut r, e13, 45.0);
        complete(&mut r, e21, 50.0, Outcome::Pass);
        // New enrolments in W: 11, 12 (A) and 21 (B).
        for (n, u) in [(950, 11), (951, 12), (952, 21)] {
            enrol(&mut r, n, u, 2, 40.0);
        }
        r
    }

    #[test]
    fn learning_culture_reproduces_the_worked_example() {
        let ds = Dataset::new(culture_fixture());
        let c = learning_culture(&ds, org(), &win(), 5).expect("culture");
        // §7.5: participation 60, consistency 53.33, completion 75,
        // collaboration 33.33, growth 30 → 54.333333 → 54.33, medium.
        let d = &c.culture_dimensions;
        assert_eq!(d.participation, Some(60.0));
        assert_eq!(d.consistency, Some(53.33));
        assert_eq!(d.completion, Some(75.0));
        assert_eq!(d.collaboration, Some(33.33));
        assert_eq!(d.growth, Some(30.0));
        assert_eq!(d.weights.participation, Some(0.3));
        assert_eq!(d.weights.growth, Some(0.1));
        assert_eq!(c.overall_culture, 54.33);
        assert_eq!(c.level, "medium");
        // Dept A: 66.67, 60, 66.67, 25, 33.33 → 55.416667 → 55.42.
        let a = &c.department_breakdown[0];
        assert_eq!((a.department_id, a.learners), (Some(id(A)), 6));
        assert_eq!(a.overall_culture, Some(55.42));
        let ad = a.culture_dimensions.as_ref().expect("dimensions");
        assert_eq!(
            (
                ad.participation,
                ad.consistency,
                ad.completion,
                ad.collaboration,
                ad.growth
            ),
            (
                Some(66.67),
                Some(60.0),
                Some(66.67),
                Some(25.0),
                Some(33.33)
            )
        );
        assert!(!a.suppressed);
        // Dept B: 4 < k = 5 → counts only.
        let b = &c.department_breakdown[1];
        assert_eq!((b.department_id, b.learners), (Some(id(B)), 4));
        assert_eq!(
            (b.overall_culture, b.culture_dimensions.is_none()),
            (None, true)
        );
        assert_eq!(
            (b.suppressed, b.suppressed_reason),
            (true, Some("COHORT_BELOW_K"))
        );
        assert_eq!(c.department_breakdown.len(), 2);
        // Indicators: strong ≥ 70, developing ≥ 40, weak < 40.
        let labels: Vec<_> = c
            .cultural_indicators
            .iter()
            .map(|i| (i.dimension, i.label))
            .collect();
        assert_eq!(
            labels,
            [
                ("participation", "developing"),
                ("consistency", "developing"),
                ("completion", "strong"),
                ("collaboration", "weak"),
                ("growth", "weak")
            ]
        );
        let recs: Vec<_> = c.recommendations.iter().map(|r| r.dimension).collect();
        assert_eq!(recs, ["collaboration", "growth"]);
    }

    #[test]
    fn learning_culture_engagement_behaviours_and_trend() {
        let ds = Dataset::new(culture_fixture());
        let c = learning_culture(&ds, org(), &win(), 5).expect("culture");
        // Activity: 2 clicks × 16 active weeks + 1 forum click + 1 question =
        // 34 over 6 active learners = 5.67. Active days: 5, 4, 2, 1, 3, 1 (11's
        // forum click and 21's question fall in day slots 1 and 2, separate
        // from day 59 = slot 0): 11 → 6 days, 21 → 4 days: {6, 4, 2, 1, 4, 1}
        // → median (2 + 4)/2 = 3.
        let m = &c.engagement_metrics;
        assert_eq!((m.total_learners, m.active_learners), (10, 6));
        assert_eq!(m.activity_per_active_learner, Some(5.67));
        assert_eq!(m.median_active_days, Some(3.0));
        assert_eq!(m.time_spent_per_active_learner, None);
        assert_eq!(c.header.notes, ["NO_TIME_SPENT_DATA"]);
        // Clicks: 32 video, 1 forum.
        let shares = &c.learning_behaviors.click_share_by_content_type;
        assert_eq!(shares.get("video"), Some(&96.97));
        assert_eq!(shares.get("forum"), Some(&3.03));
        assert_eq!(c.learning_behaviors.assistant_questions, 1);
        // W′ = (day 0, day 30]: no activity, nothing finished, no new
        // enrolment (day 0 is outside) → 0; change +54.33 → up.
        assert_eq!(c.trends.previous_overall_culture, Some(0.0));
        assert_eq!(c.trends.change, Some(54.33));
        assert_eq!(c.trends.direction, "up");
        // With k = 7, fewer than k active learners hide the median.
        let c = learning_culture(&ds, org(), &win(), 7).expect("culture");
        assert_eq!(c.engagement_metrics.median_active_days, None);
        assert!(c.department_breakdown.iter().all(|d| d.suppressed));
    }

    #[test]
    fn learning_culture_of_an_idle_organisation_is_zero_not_an_error() {
        // No minimum beyond 404: participation and growth are always present.
        let mut r = records();
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, None);
        enrol(&mut r, 901, 11, 1, 0.0);
        let ds = Dataset::new(r);
        let c = learning_culture(&ds, org(), &win(), 5).expect("culture");
        assert_eq!(c.overall_culture, 0.0);
        assert_eq!(c.culture_dimensions.consistency, None);
        assert_eq!(c.culture_dimensions.weights.participation, Some(0.75));
        assert_eq!(c.culture_dimensions.weights.growth, Some(0.25));
        // The learner has no department: an `unassigned` row, suppressed.
        let u = &c.department_breakdown[0];
        assert_eq!(
            (u.department_id, u.department_name.as_str()),
            (None, "unassigned")
        );
        assert!(u.suppressed);
    }

    // ---- §7.4 org-performance ----

    /// Dept A = {11, 12}, dept B = {13}. Assessment 31 (max 100), 32 (max 50),
    /// no pass score (pass ≥ 40 %).
    fn performance_fixture() -> Records {
        let mut r = records();
        department(&mut r, A, "A");
        department(&mut r, B, "B");
        for (u, d) in [(11, A), (12, A), (13, B)] {
            learner(&mut r, u, Some(d));
        }
        course(&mut r, 1, 0.0, None);
        course(&mut r, 2, 0.0, None);
        assessment(&mut r, 31, 1, 100.0, 50.0, None);
        assessment(&mut r, 32, 1, 50.0, 50.0, None);
        attempt(&mut r, 11, 31, 1, 80.0, 40.0);
        attempt(&mut r, 11, 31, 2, 60.0, 41.0);
        attempt(&mut r, 11, 32, 1, 20.0, 45.0);
        attempt(&mut r, 12, 31, 1, 30.0, 50.0);
        attempt(&mut r, 13, 32, 1, 45.0, 50.0);
        let e = enrol(&mut r, 901, 11, 1, 0.0);
        r.enrolments[e].progress = 0.5;
        let e = enrol(&mut r, 902, 12, 1, 0.0);
        withdraw(&mut r, e, 55.0);
        let e = enrol(&mut r, 903, 13, 1, 0.0);
        complete(&mut r, e, 58.0, Outcome::Pass);
        let e = enrol(&mut r, 904, 11, 2, 35.0);
        complete(&mut r, e, 50.0, Outcome::Fail);
        // Skill levels: 11 gains (2 → 3), 12 has no level at day 30.
        level(&mut r, 11, 501, 2.0, 10.0);
        level(&mut r, 11, 501, 3.0, 40.0);
        level(&mut r, 12, 501, 2.0, 45.0);
        r
    }

    #[test]
    fn org_performance_by_hand() {
        let ds = Dataset::new(performance_fixture());
        let p = org_performance(&ds, org(), &win(), 2).expect("performance");
        // Results: 11 → 80 % (best of 80, 60) and 40 % (20/50, passed);
        // 12 → 30 % (failed); 13 → 90 %. Learner means 60, 30, 90 → 60.
        // passRate 3/4 = 75. Finished in W: withdrawn, pass, fail → 33.333333.
        // No targets → skill attainment absent; weights 0.35, 0.25, 0.25 / 0.85.
        // overall = (21 + 18.75 + 8.333333)/0.85 = 56.568627.
        let m = &p.performance_metrics;
        assert_eq!(
            (
                m.average_score,
                m.pass_rate,
                m.completion_rate,
                m.skill_attainment
            ),
            (Some(60.0), Some(75.0), Some(33.33), None)
        );
        assert_eq!(m.weights.average_score, Some(0.4118));
        assert_eq!(m.weights.pass_rate, Some(0.2941));
        assert_eq!(m.weights.skill_attainment, None);
        assert_eq!(p.overall_performance, 56.57);
        let k = &p.key_performance_indicators;
        assert_eq!(
            (k.total_learners, k.active_learners, k.enrolments_in_window),
            (3, 3, 1)
        );
        assert_eq!(
            (k.successful_completions, k.withdrawals, k.failures),
            (1, 1, 1)
        );
        assert_eq!(
            (k.assessments_submitted, k.average_progress),
            (4, Some(50.0))
        );
        assert_eq!(p.business_impact.skill_level_gains, 1);
        assert_eq!(p.business_impact.learners_with_skill_gain, 1);
        assert_eq!(
            p.header.notes,
            ["NO_SKILL_TARGETS", "NO_BUSINESS_OUTCOME_DATA"]
        );
        // Dept A {11, 12}: means 60, 30 → 45; passed 2/3 = 66.67; finished
        // fail + withdrawn → 0; (15.75 + 16.666667 + 0)/0.85 = 38.137255.
        let a = &p.department_performance[0];
        assert_eq!(a.overall_performance, Some(38.14));
        assert_eq!(
            (a.average_score, a.pass_rate, a.completion_rate),
            (Some(45.0), Some(66.67), Some(0.0))
        );
        // Dept B: 1 < k = 2 learners.
        let b = &p.department_performance[1];
        assert_eq!(
            (b.learners, b.overall_performance, b.average_score),
            (1, None, None)
        );
        assert_eq!(
            (b.suppressed, b.suppressed_reason),
            (true, Some("COHORT_BELOW_K"))
        );
        let best = p.benchmarks.best_department.clone().expect("best");
        assert_eq!((best.department_id, best.value), (Some(id(A)), 38.14));
        assert_eq!(p.benchmarks.department_average, Some(38.14));
        // Nothing in W′ (day 0 … 30): no previous value.
        assert_eq!(p.trends.previous_overall_performance, None);
        assert_eq!(p.trends.change, None);
        // completionRate 33.33 < 50; A is 38.14 < 56.57 − 10.
        let codes: Vec<_> = p.recommendations.iter().map(|r| r.code).collect();
        assert_eq!(codes, ["LOW_COMPLETION_RATE", "DEPARTMENT_BEHIND"]);
    }

    #[test]
    fn org_performance_uses_strategic_alignment_as_skill_attainment() {
        let mut r = performance_fixture();
        skill(&mut r, 501, "Rust");
        target(&mut r, 501, 4.0, 1.0);
        let ds = Dataset::new(r);
        let p = org_performance(&ds, org(), &win(), 2).expect("performance");
        // No requirement → everyone: (3/4 + 2/4 + 0)/3 = 41.666667;
        // overall = 21 + 18.75 + 8.333333 + 0.15·41.666667 = 54.333333.
        assert_eq!(p.performance_metrics.skill_attainment, Some(41.67));
        assert_eq!(p.overall_performance, 54.33);
        assert_eq!(p.header.notes, ["NO_BUSINESS_OUTCOME_DATA"]);
        // Dept A {11, 12}: (0.75 + 0.5)/2 = 62.5.
        assert_eq!(p.department_performance[0].skill_attainment, Some(62.5));
    }

    #[test]
    fn org_performance_without_results_is_insufficient() {
        let mut r = records();
        learner(&mut r, 11, None);
        course(&mut r, 1, 0.0, None);
        enrol(&mut r, 901, 11, 1, 0.0);
        assessment(&mut r, 31, 1, 100.0, 50.0, None);
        attempt(&mut r, 11, 31, 1, 80.0, 10.0); // in W′ only
        let ds = Dataset::new(r);
        let e = org_performance(&ds, org(), &win(), 5).expect_err("no results");
        assert_eq!(reason(e), "NO_RESULTS_IN_WINDOW");
    }
}
