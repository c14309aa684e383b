//! mastery (docs/analytics.md §5.4): what the learner has mastered.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mastery {
    #[serde(flatten)]
    pub header: Header,
    pub overall_mastery: f64,
    /// `mastered` | `proficient` | `developing` | `beginning`.
    pub level: &'static str,
    /// Points vs. the same computed as of now − R; null when nothing existed then.
    pub change: Option<f64>,
    pub previous_overall_mastery: Option<f64>,
    pub course_mastery: Vec<CourseMastery>,
    pub skill_mastery: Vec<SkillMastery>,
    pub learning_path: Vec<PathEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseMastery {
    pub course_id: Uuid,
    pub course_title: String,
    pub mastery: Option<f64>,
    /// Mastery label, null when mastery is null.
    pub level: Option<&'static str>,
    /// 100 × attempted / assessments of the course; null without assessments.
    pub assessed_share: Option<f64>,
    /// The enrolment's status: `active` | `completed`.
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillMastery {
    pub skill_id: Uuid,
    pub skill_name: String,
    pub mastery: f64,
    pub level: &'static str,
    pub last_assessed: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathEntry {
    pub course_id: Uuid,
    pub unit_id: Option<Uuid>,
    pub title: String,
    /// The unit's position; 0 for a course without units.
    pub position: i32,
    /// `in-progress` | `not-started` (mastered entries are left out).
    pub status: &'static str,
    pub mastery: Option<f64>,
}

fn mastery_label(x: f64) -> &'static str {
    if x >= 80.0 {
        "mastered"
    } else if x >= 60.0 {
        "proficient"
    } else if x >= 40.0 {
        "developing"
    } else {
        "beginning"
    }
}

/// The enrolment counts for mastery at `t`: enrolled by then and not
/// withdrawn by then.
fn held_at(e: &Enrolment, t: DateTime<Utc>) -> bool {
    e.enrolled_at <= t
        && !(e.status == EnrolmentStatus::Withdrawn && end(e).is_some_and(|x| x <= t))
}

/// Weighted score over `assessments` of enrolment `e` as of `t` (best
/// attempt up to `t`), with each *required* assessment the learner did not
/// attempt counted as 0: one whose `due_at` ≤ t, or any, once `e` has
/// ended by `t`. `None` when nothing was attempted (no evidence at all).
/// Also how many were attempted, and how many there are.
fn mastery_of<'a>(
    ds: &Dataset,
    learner: Uuid,
    e: &Enrolment,
    assessments: impl Iterator<Item = &'a Assessment>,
    t: DateTime<Utc>,
) -> (Option<f64>, usize, usize) {
    let ended = end(e).is_some_and(|x| x <= t);
    let mut scores = Vec::new();
    let (mut attempted, mut total) = (0, 0);
    for a in assessments {
        total += 1;
        if let Some(best) = best_attempt(ds, learner, a, |s| s <= t) {
            attempted += 1;
            scores.push((a.weight, score_percent(best, a)));
        } else if ended || a.due_at.is_some_and(|d| d <= t) {
            scores.push((a.weight, 0.0));
        }
    }
    let m = if attempted > 0 {
        weighted_score(&scores)
    } else {
        None
    };
    (m, attempted, total)
}

/// Courses held at `t` (one per course, the latest enrolment).
fn held_courses(ds: &Dataset, learner: Uuid, t: DateTime<Utc>) -> Vec<&Enrolment> {
    let mut by_course: BTreeMap<Uuid, &Enrolment> = BTreeMap::new();
    for e in ds.enrolments_of(learner).filter(|e| held_at(e, t)) {
        let entry = by_course.entry(e.course_id).or_insert(e);
        if e.enrolled_at > entry.enrolled_at {
            *entry = e;
        }
    }
    by_course.into_values().collect()
}

/// overallMastery at `t`, `None` when neither a course mastery nor a skill
/// level exists then.
fn overall_mastery_at(ds: &Dataset, learner: Uuid, t: DateTime<Utc>) -> Option<f64> {
    let courses: Vec<f64> = held_courses(ds, learner, t)
        .iter()
        .filter_map(|e| mastery_of(ds, learner, e, ds.assessments_of_course(e.course_id), t).0)
        .collect();
    let skills: Vec<f64> = latest_levels(ds, learner, t)
        .values()
        .map(|(_, l)| 100.0 * l / LEVEL_SCALE)
        .collect();
    match (mean(courses), mean(skills)) {
        (Some(c), Some(s)) => Some(0.5 * c + 0.5 * s),
        (c, s) => c.or(s),
    }
}

pub fn mastery(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Mastery, AnalyticError> {
    const NAME: &str = "mastery";
    learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
    let Some(overall) = overall_mastery_at(ds, learner, w.now) else {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_ASSESSED_WORK",
            "mastery needs at least 1 scored attempt on an enrolled course or 1 skill level",
            "assessedItems",
            1.0,
            0.0,
        ));
    };
    let previous = overall_mastery_at(ds, learner, w.start());
    let mut header = Header::new(NAME, Some(learner), w);

    let mut course_mastery: Vec<CourseMastery> = held_courses(ds, learner, w.now)
        .into_iter()
        .map(|e| {
            let (m, attempted, total) =
                mastery_of(ds, learner, e, ds.assessments_of_course(e.course_id), w.now);
            CourseMastery {
                course_id: e.course_id,
                course_title: course_title(ds, e.course_id),
                mastery: m.map(r2),
                level: m.map(mastery_label),
                assessed_share: (total > 0).then(|| r2(100.0 * attempted as f64 / total as f64)),
                status: status_str(e.status),
            }
        })
        .collect();
    course_mastery.sort_by(|a, b| {
        a.course_title
            .cmp(&b.course_title)
            .then(a.course_id.cmp(&b.course_id))
    });

    let mut skill_mastery: Vec<SkillMastery> = latest_levels(ds, learner, w.now)
        .into_iter()
        .map(|(id, (at, level))| {
            let m = 100.0 * level / LEVEL_SCALE;
            SkillMastery {
                skill_id: id,
                skill_name: ds.skill_name(id),
                mastery: r2(m),
                level: mastery_label(m),
                last_assessed: whole_seconds(at),
            }
        })
        .collect();
    skill_mastery.sort_by(|a, b| {
        a.skill_name
            .cmp(&b.skill_name)
            .then(a.skill_id.cmp(&b.skill_id))
    });
    if skill_mastery.is_empty() {
        header.note("NO_SKILL_DATA");
    }

    // Learning path over the active enrolments.
    let mut active: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
        .collect();
    active.sort_by(|a, b| {
        a.enrolled_at
            .cmp(&b.enrolled_at)
            .then(a.course_id.cmp(&b.course_id))
    });
    let mut path = Vec::new();
    for e in active {
        let mut units: Vec<_> = ds.units_of_course(e.course_id).collect();
        units.sort_by(|a, b| a.position.cmp(&b.position).then(a.title.cmp(&b.title)));
        let groups: Vec<(Option<Uuid>, String, i32, Vec<&Assessment>)> = if units.is_empty() {
            vec![(
                None,
                course_title(ds, e.course_id),
                0,
                ds.assessments_of_course(e.course_id).collect(),
            )]
        } else {
            units
                .iter()
                .map(|u| {
                    (
                        Some(u.id),
                        u.title.clone(),
                        u.position,
                        ds.assessments_of_course(e.course_id)
                            .filter(|a| a.unit_id == Some(u.id))
                            .collect(),
                    )
                })
                .collect()
        };
        for (unit_id, title, position, assessments) in groups {
            if assessments.is_empty() {
                continue;
            }
            let (m, attempted, total) = mastery_of(ds, learner, e, assessments.into_iter(), w.now);
            let status = if attempted == total && m.is_some_and(|m| m >= 80.0) {
                "mastered"
            } else if attempted > 0 {
                "in-progress"
            } else {
                "not-started"
            };
            if status != "mastered" {
                path.push(PathEntry {
                    course_id: e.course_id,
                    unit_id,
                    title,
                    position,
                    status,
                    mastery: m.map(r2),
                });
            }
        }
    }
    path.truncate(LEARNING_PATH_LENGTH);

    Ok(Mastery {
        header,
        overall_mastery: r2(overall),
        level: mastery_label(overall),
        change: previous.map(|p| r2(overall - p)),
        previous_overall_mastery: previous.map(r2),
        course_mastery,
        skill_mastery,
        learning_path: path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::learner::tests::*;

    fn mastery_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        course(&mut r, 101, 0.0, None);
        for (n, pos) in [(150, 1), (151, 2)] {
            r.units.push(CourseUnit {
                id: id(n),
                course_id: id(100),
                origin: None,
                title: format!("Unit {n}"),
                position: pos,
            });
        }
        assessment(&mut r, 300, 100, 100.0, 60.0, None); // A, unit 150
        assessment(&mut r, 301, 100, 50.0, 40.0, None); // B, unit 151
        assessment(&mut r, 310, 101, 10.0, 0.0, None); // C
        assessment(&mut r, 311, 101, 10.0, 0.0, None); // D
        r.assessments[0].unit_id = Some(id(150));
        r.assessments[1].unit_id = Some(id(151));
        enrol(&mut r, 1, ME, 100, 0.0);
        enrol(&mut r, 2, ME, 101, 0.0);
        attempt(&mut r, ME, 300, 1, 70.0, 30.0);
        attempt(&mut r, ME, 300, 2, 90.0, 50.0);
        attempt(&mut r, ME, 301, 1, 20.0, 55.0); // 40 %
        attempt(&mut r, ME, 310, 1, 8.0, 20.0); // 80 %
        testkit::skill(&mut r, 500, "Rust");
        level(&mut r, ME, 500, 3.0, 35.0);
        level(&mut r, ME, 500, 4.0, 60.0);
        r
    }

    #[test]
    fn mastery_by_hand() {
        // now = day 70, 30d → comparison point day 40.
        // Course 100: (60 × 90 + 40 × 40) / 100 = 70, assessedShare 100.
        // Course 101: only C (80 %), all weights 0 → equal → 80, share 50.
        // Skill Rust: 100 × 4 / 5 = 80.
        // overall = 0.5 × mean(70, 80) + 0.5 × 80 = 37.5 + 40 = 77.5 → proficient.
        // At day 40: course 100 = A's 70 (B not yet), course 101 = 80,
        // skill 3 → 60: 0.5 × 75 + 0.5 × 60 = 67.5; change = 10.
        // Path: course 100 unit 150 mastered (A 90 ≥ 80, all attempted) →
        // left out; unit 151 in-progress (40); course 101 has no units →
        // one entry, in-progress (80, D not attempted).
        let m = mastery(&ds(mastery_fixture()), id(ME), &w30(70.0)).expect("mastery");
        assert_eq!(m.overall_mastery, 77.5);
        assert_eq!(m.level, "proficient");
        assert_eq!(m.previous_overall_mastery, Some(67.5));
        assert_eq!(m.change, Some(10.0));
        assert_eq!(
            m.course_mastery[0],
            CourseMastery {
                course_id: id(100),
                course_title: "Course 100".into(),
                mastery: Some(70.0),
                level: Some("proficient"),
                assessed_share: Some(100.0),
                status: "active",
            }
        );
        assert_eq!(m.course_mastery[1].mastery, Some(80.0));
        assert_eq!(m.course_mastery[1].level, Some("mastered"));
        assert_eq!(m.course_mastery[1].assessed_share, Some(50.0));
        assert_eq!(m.skill_mastery.len(), 1);
        assert_eq!(m.skill_mastery[0].mastery, 80.0);
        assert_eq!(m.skill_mastery[0].last_assessed, day(60.0));
        assert!(m.header.notes.is_empty());
        let path: Vec<_> = m
            .learning_path
            .iter()
            .map(|p| (p.course_id, p.unit_id, p.position, p.status, p.mastery))
            .collect();
        assert_eq!(
            path,
            [
                (id(100), Some(id(151)), 2, "in-progress", Some(40.0)),
                (id(101), None, 0, "in-progress", Some(80.0)),
            ]
        );
        assert_eq!(m.learning_path[1].title, "Course 101");
    }

    #[test]
    fn mastery_without_skills_and_withdrawn_courses() {
        // Withdrawn course 101 is excluded; no skills → course part only:
        // overall = 70; at day 40: 70 → change 0. Note NO_SKILL_DATA.
        let mut r = mastery_fixture();
        r.skill_levels.clear();
        r.enrolments[1].status = EnrolmentStatus::Withdrawn;
        r.enrolments[1].withdrawn_at = Some(day(30.0));
        let m = mastery(&ds(r), id(ME), &w30(70.0)).expect("mastery");
        assert_eq!(m.overall_mastery, 70.0);
        assert_eq!(m.change, Some(0.0));
        assert_eq!(m.course_mastery.len(), 1);
        assert_eq!(m.header.notes, ["NO_SKILL_DATA"]);
    }

    #[test]
    fn unattempted_required_assessments_count_as_zero() {
        // now = day 70. Course 102 ended (completed, fail) day 60: both of
        // its assessments are required; only 320 attempted (80 %), 321
        // (same weight) never → (50 × 80 + 50 × 0) / 100 = 40, developing
        // (counting only the attempted one said 80, mastered).
        // Course 103 is active: 330 was due day 65 and not attempted → 0;
        // 331 (no due date) attempted 60 % → (50 × 60 + 50 × 0) / 100 = 30.
        // 332 (due day 90, later) is not required yet and stays out.
        // overall = mean(40, 30) = 35 → beginning.
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 102, 0.0, None);
        course(&mut r, 103, 0.0, None);
        assessment(&mut r, 320, 102, 100.0, 50.0, None);
        assessment(&mut r, 321, 102, 100.0, 50.0, None);
        assessment(&mut r, 330, 103, 100.0, 50.0, Some(65.0));
        assessment(&mut r, 331, 103, 100.0, 50.0, None);
        assessment(&mut r, 332, 103, 100.0, 50.0, Some(90.0));
        let e = enrol(&mut r, 1, ME, 102, 0.0);
        testkit::complete(&mut r, e, 60.0, crate::model::Outcome::Fail);
        enrol(&mut r, 2, ME, 103, 0.0);
        attempt(&mut r, ME, 320, 1, 80.0, 50.0);
        attempt(&mut r, ME, 331, 1, 60.0, 55.0);
        let m = mastery(&ds(r), id(ME), &w30(70.0)).expect("mastery");
        let courses: Vec<_> = m
            .course_mastery
            .iter()
            .map(|c| (c.course_id, c.mastery, c.level, c.assessed_share))
            .collect();
        assert_eq!(
            courses,
            [
                (id(102), Some(40.0), Some("developing"), Some(50.0)),
                (id(103), Some(30.0), Some("beginning"), Some(33.33)),
            ]
        );
        assert_eq!(m.overall_mastery, 35.0);
        assert_eq!(m.level, "beginning");
    }

    #[test]
    fn mastery_needs_assessed_work() {
        let mut r = mastery_fixture();
        r.skill_levels.clear();
        r.attempts.clear();
        // Nothing existed at day 40 either → both null (not reached: 422).
        assert_eq!(
            reason(mastery(&ds(r), id(ME), &w30(70.0)).expect_err("422")),
            "NO_ASSESSED_WORK"
        );
    }
}
