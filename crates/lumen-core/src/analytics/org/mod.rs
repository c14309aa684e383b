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

/// 404 when the organisation has no learner or no enrolment (§7).
fn check_found<'a>(ds: &'a Dataset, org: Uuid, w: &Window) -> Result<Vec<&'a User>, AnalyticError> {
    let learners = common::org_learners(ds, org);
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

mod department_analytics;
mod learning_culture;
mod learning_velocity;
mod org_performance;
mod strategic_alignment;

pub use department_analytics::*;
pub use learning_culture::*;
pub use learning_velocity::*;
pub use org_performance::*;
pub use strategic_alignment::*;

#[cfg(test)]
mod tests {
    use super::*;
    pub(super) use crate::Role;
    pub(super) use crate::analytics::TimeRange;
    pub(super) use crate::analytics::dataset::Records;
    pub(super) use crate::analytics::testkit::*;
    pub(super) use crate::model::{AssistantQuestion, SkillRequirement};

    pub(super) const A: u128 = 100;
    pub(super) const B: u128 = 200;

    pub(super) fn org() -> Uuid {
        id(ORG)
    }

    /// W = (day 30, day 60].
    pub(super) fn win() -> Window {
        Window::new(TimeRange::Days30, day(60.0))
    }

    pub(super) fn learner(r: &mut Records, n: u128, department: Option<u128>) {
        user(r, n, &[Role::Learner], department);
    }

    pub(super) fn question(r: &mut Records, user: u128, at: f64) {
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

    pub(super) fn target(r: &mut Records, skill: u128, level: f64, priority: f64) {
        r.targets.push(SkillTarget {
            organization_id: org(),
            skill_id: id(skill),
            target_level: level,
            priority,
            target_date: None,
        });
    }

    pub(super) fn job(r: &mut Records, user: u128, role: &str) {
        if let Some(u) = r.users.iter_mut().find(|u| u.id == id(user)) {
            u.job_role = Some(role.into());
        }
    }

    pub(super) fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }

    pub(super) fn not_found(r: Records) -> bool {
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
}
