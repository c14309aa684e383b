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
/// 404 as they are (no learner or no enrolment); a part that fails (e.g.
/// strategic alignment without skill targets) is `null`, with a note
/// (`NO_LEARNING_CULTURE`, `NO_ORG_PERFORMANCE`, `NO_STRATEGIC_ALIGNMENT`).
pub fn department_analytics(
    ds: &Dataset,
    org: Uuid,
    w: &Window,
    k: usize,
) -> Result<DepartmentAnalytics, AnalyticError> {
    let velocity = learning_velocity(ds, org, w, k)?;
    let mut header = Header::new("department-analytics", Some(org), w);
    let mut part = |result: Result<_, AnalyticError>, note| {
        if result.is_err() {
            header.note(note);
        }
        result.ok()
    };
    let culture = part(
        learning_culture(ds, org, w, k).map(|c| c.department_breakdown),
        "NO_LEARNING_CULTURE",
    );
    let performance = part(
        org_performance(ds, org, w, k).map(|p| p.department_performance),
        "NO_ORG_PERFORMANCE",
    );
    let alignment = part(
        strategic_alignment(ds, org, w, k).map(|a| a.department_breakdown),
        "NO_STRATEGIC_ALIGNMENT",
    );
    fn row_of<T: Clone>(
        rows: &Option<Vec<T>>,
        id: Option<Uuid>,
        name: &str,
        key: impl Fn(&T) -> (Option<Uuid>, &str),
    ) -> Option<T> {
        rows.as_ref()?
            .iter()
            .find(|r| key(r) == (id, name))
            .cloned()
    }
    let departments = velocity
        .department_breakdown
        .into_iter()
        .map(|v| {
            let (id, name) = (v.department_id, v.department_name.clone());
            DepartmentBreakdown {
                learning_culture: row_of(&culture, id, &name, |c| {
                    (c.department_id, c.department_name.as_str())
                }),
                performance: row_of(&performance, id, &name, |p| {
                    (p.department_id, p.department_name.as_str())
                }),
                strategic_alignment: row_of(&alignment, id, &name, |a| {
                    (a.department_id, a.department_name.as_str())
                }),
                department_id: id,
                department_name: name,
                parent_id: v.parent_id,
                learners: v.learners,
                learning_velocity: Some(v),
            }
        })
        .collect();
    Ok(DepartmentAnalytics {
        header,
        departments,
    })
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
        let v = learning_velocity(&ds, org(), &w, k).unwrap();
        let c = learning_culture(&ds, org(), &w, k).unwrap();
        let p = org_performance(&ds, org(), &w, k).unwrap();
        assert_eq!(d.departments.len(), v.department_breakdown.len());
        assert!(!d.departments.is_empty());
        for (i, row) in d.departments.iter().enumerate() {
            assert_eq!(
                row.learning_velocity.as_ref(),
                Some(&v.department_breakdown[i])
            );
            assert_eq!(
                row.learning_culture.as_ref(),
                Some(&c.department_breakdown[i])
            );
            assert_eq!(row.performance.as_ref(), Some(&p.department_performance[i]));
            assert_eq!(
                row.department_name,
                v.department_breakdown[i].department_name
            );
        }
        // The fixture has no skill targets: alignment is absent, and said so.
        match strategic_alignment(&ds, org(), &w, k) {
            Ok(a) => {
                for (i, row) in d.departments.iter().enumerate() {
                    assert_eq!(
                        row.strategic_alignment.as_ref(),
                        Some(&a.department_breakdown[i])
                    );
                }
            }
            Err(_) => {
                assert!(
                    d.departments
                        .iter()
                        .all(|r| r.strategic_alignment.is_none())
                );
                assert!(d.header.notes.contains(&"NO_STRATEGIC_ALIGNMENT"));
            }
        }
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
