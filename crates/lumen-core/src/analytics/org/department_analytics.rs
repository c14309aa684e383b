//! department-analytics (docs/analytics.md §7.6, seed 002's
//! `GET /analytics/organization/department-analytics/:orgId`): the
//! department breakdowns the four organisation analytics compute, joined
//! per department, so a front end gets every department figure in one
//! answer. Nothing is computed here that those analytics do not compute;
//! the same k-anonymity suppression applies to each part.

use super::*;

/// One department (or `unassigned`) with its row of each organisation
/// analytic's breakdown; a part is `null` when that analytic could not be
/// computed for the organisation (see `notes`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentBreakdown {
    pub department_id: Option<Uuid>,
    pub department_name: String,
    pub parent_id: Option<Uuid>,
    pub learners: usize,
    pub learning_velocity: Option<VelocityDepartment>,
    pub learning_culture: Option<CultureDepartment>,
    pub performance: Option<PerformanceDepartment>,
    pub strategic_alignment: Option<AlignmentDepartment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentAnalytics {
    #[serde(flatten)]
    pub header: Header,
    /// In the breakdowns' order: departments by name, then departments
    /// unknown to the records, then `unassigned`.
    pub departments: Vec<DepartmentBreakdown>,
}

/// §7.6: every department's figures from the four organisation analytics.
/// 404 as they are (no learner or no enrolment); a part that cannot be
/// computed (e.g. strategic alignment without skill targets) is `null`, with
/// a note (`NO_LEARNING_VELOCITY`, `NO_LEARNING_CULTURE`,
/// `NO_ORG_PERFORMANCE`, `NO_STRATEGIC_ALIGNMENT`); when no part can,
/// learning-velocity's error.
pub fn department_analytics(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<DepartmentAnalytics, AnalyticError> {
    let mut header = Header::new("department-analytics", Some(org), w);
    let velocity = learning_velocity(ds, org, w, k).map(|v| v.department_breakdown);
    if let Err(AnalyticError::NotFound(message)) = &velocity {
        return Err(AnalyticError::NotFound(message.clone()));
    }
    let first_error = velocity.as_ref().err().cloned();
    let velocity = part(&mut header, velocity, "NO_LEARNING_VELOCITY");
    let culture = part(
        &mut header,
        learning_culture(ds, org, w, k).map(|c| c.department_breakdown),
        "NO_LEARNING_CULTURE",
    );
    let performance = part(
        &mut header,
        org_performance(ds, org, w, k).map(|p| p.department_performance),
        "NO_ORG_PERFORMANCE",
    );
    let alignment = part(
        &mut header,
        strategic_alignment(ds, org, w, k).map(|a| a.department_breakdown),
        "NO_STRATEGIC_ALIGNMENT",
    );
    // The departments, from the first part that has them (they all group
    // the same way, §2.8).
    let keys: Vec<Key> = None
        .or_else(|| velocity.as_deref().map(keys_of))
        .or_else(|| culture.as_deref().map(keys_of))
        .or_else(|| performance.as_deref().map(keys_of))
        .or_else(|| alignment.as_deref().map(keys_of))
        .ok_or_else(|| first_error.expect("learning-velocity failed"))?;
    let departments = keys
        .into_iter()
        .map(|key| DepartmentBreakdown {
            learning_velocity: row_of(&velocity, &key),
            learning_culture: row_of(&culture, &key),
            performance: row_of(&performance, &key),
            strategic_alignment: row_of(&alignment, &key),
            department_id: key.0,
            department_name: key.1,
            parent_id: key.2,
            learners: key.3,
        })
        .collect();
    Ok(DepartmentAnalytics {
        header,
        departments,
    })
}

/// A part of the answer: its rows, or `None` and a note when its analytic
/// cannot be computed.
fn part<T>(header: &mut Header, result: Result<T, AnalyticError>, note: &'static str) -> Option<T> {
    if result.is_err() {
        header.note(note);
    }
    result.ok()
}

/// A department as every breakdown names it: id, name, parent, learners.
type Key = (Option<Uuid>, String, Option<Uuid>, usize);

/// A row of one of the four breakdowns.
trait Row: Clone {
    fn key(&self) -> Key;
}

macro_rules! rows {
    ($($row:ty),+) => {$(
        impl Row for $row {
            fn key(&self) -> Key {
                (self.department_id, self.department_name.clone(), self.parent_id, self.learners)
            }
        }
    )+};
}
rows!(
    VelocityDepartment,
    CultureDepartment,
    PerformanceDepartment,
    AlignmentDepartment
);

fn keys_of<T: Row>(rows: &[T]) -> Vec<Key> {
    rows.iter().map(Row::key).collect()
}

/// The row of department `key` among a part's rows.
fn row_of<T: Row>(rows: &Option<Vec<T>>, key: &Key) -> Option<T> {
    let same = |k: Key| k.0 == key.0 && k.1 == key.1;
    rows.as_ref()?.iter().find(|r| same(r.key())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::org::tests::*;

    #[test]
    fn department_analytics_joins_the_four_breakdowns_row_by_row() {
        let ds = Dataset::new(super::super::learning_culture::tests::culture_fixture());
        let (w, k) = (win(), 5);
        let d = department_analytics(&ds, org(), &w, k).expect("departments");
        // §7.5's fixture: departments A (6 learners) and B (4 < k, suppressed).
        let names: Vec<&str> = d
            .departments
            .iter()
            .map(|r| r.department_name.as_str())
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(
            (d.departments[0].learners, d.departments[1].learners),
            (6, 4)
        );
        let culture = learning_culture(&ds, org(), &w, k).expect("culture");
        for (i, row) in d.departments.iter().enumerate() {
            assert_eq!(
                row.learning_culture.as_ref(),
                Some(&culture.department_breakdown[i])
            );
        }
        let a = d.departments[0].learning_culture.as_ref().expect("A");
        assert_eq!(a.overall_culture, Some(55.42));
        assert!(
            d.departments[1]
                .learning_culture
                .as_ref()
                .expect("B")
                .suppressed
        );
        // Each other part: the analytic's own row, or absent with its note.
        let check = |part: Option<Vec<Key>>, got: Vec<Option<Key>>, note: &str| match part {
            Some(keys) => assert_eq!(got, keys.into_iter().map(Some).collect::<Vec<_>>()),
            None => {
                assert!(got.iter().all(Option::is_none));
                assert!(d.header.notes.contains(&note), "{note}");
            }
        };
        let rows =
            |f: fn(&DepartmentBreakdown) -> Option<Key>| d.departments.iter().map(f).collect();
        check(
            learning_velocity(&ds, org(), &w, k)
                .ok()
                .map(|v| keys_of(&v.department_breakdown)),
            rows(|r| r.learning_velocity.as_ref().map(Row::key)),
            "NO_LEARNING_VELOCITY",
        );
        check(
            org_performance(&ds, org(), &w, k)
                .ok()
                .map(|p| keys_of(&p.department_performance)),
            rows(|r| r.performance.as_ref().map(Row::key)),
            "NO_ORG_PERFORMANCE",
        );
        check(
            strategic_alignment(&ds, org(), &w, k)
                .ok()
                .map(|a| keys_of(&a.department_breakdown)),
            rows(|r| r.strategic_alignment.as_ref().map(Row::key)),
            "NO_STRATEGIC_ALIGNMENT",
        );
        // The fixture has no course steps: velocity is one of the absent parts.
        assert!(d.header.notes.contains(&"NO_LEARNING_VELOCITY"));
    }

    #[test]
    fn department_analytics_of_an_organisation_without_learners_is_not_found() {
        let ds = Dataset::new(records());
        assert!(matches!(
            department_analytics(&ds, org(), &win(), 5),
            Err(AnalyticError::NotFound(_))
        ));
    }
}
