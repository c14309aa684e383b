//! Learner analytics (docs/analytics.md §5): velocity, skill-gap,
//! engagement, mastery, performance and content-effectiveness of one
//! learner. Pure functions of a [`Dataset`], the learner and a [`Window`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::common::{
    Event, EventKind, Steps, active_at, active_days, active_in, activity_count, best_attempt,
    composite, end, events, late, level_label, mean, median, passed, r2, r4, score_percent,
    time_spent, whole_seconds,
};
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::{
    Assessment, AssessmentAttempt, ContentInteraction, ContentType, Enrolment, EnrolmentStatus,
    Skill, User,
};

// ---- constants (§10) ----

/// Velocity status thresholds on r = currentPace / targetPace.
const ON_TRACK_RATIO: f64 = 1.0;
const BEHIND_RATIO: f64 = 0.6;
/// Velocity trend threshold, percent.
const VELOCITY_TREND_PERCENT: f64 = 10.0;
/// Score trend threshold, points.
const SCORE_TREND_POINTS: f64 = 5.0;
const WEEKS_PER_SKILL_LEVEL: f64 = 2.0;
/// Skill levels are on 0–5; outputs on 0–1.
const LEVEL_SCALE: f64 = 5.0;
const ENGAGEMENT_WEIGHTS: [f64; 4] = [0.30, 0.25, 0.20, 0.25];
const PERFORMANCE_WEIGHTS: [f64; 3] = [0.60, 0.25, 0.15];
const STRENGTH_MEAN: f64 = 70.0;
const IMPROVEMENT_MEAN: f64 = 50.0;
const MIN_EVIDENCE: usize = 2;
const LEAD_IN_DAYS: i64 = 14;
const SESSION_GAP_SECONDS: i64 = 30 * 60;
const PREFERRED_STYLE_SHARE: f64 = 0.40;
const LIFT_POINTS: f64 = 5.0;
const MAX_TRY_RECOMMENDATIONS: usize = 3;
const LEARNING_PATH_LENGTH: usize = 5;

// ---- shared helpers ----

/// The subject, or 404 when unknown or without any enrolment or activity
/// event up to now (§5 preamble).
fn subject<'a>(ds: &'a Dataset, learner: Uuid, w: &Window) -> Result<&'a User, AnalyticError> {
    let not_found = || AnalyticError::NotFound(format!("learner {learner} not found"));
    let user = ds.user(learner).ok_or_else(not_found)?;
    let enrolled = ds.enrolments_of(learner).any(|e| e.enrolled_at <= w.now);
    let active = events(ds, learner).iter().any(|e| e.at <= w.now);
    if enrolled || active {
        Ok(user)
    } else {
        Err(not_found())
    }
}

fn skill(ds: &Dataset, id: Uuid) -> Option<&Skill> {
    ds.records.skills.iter().find(|s| s.id == id)
}

fn skill_name(ds: &Dataset, id: Uuid) -> String {
    skill(ds, id).map_or_else(|| id.to_string(), |s| s.name.clone())
}

/// The latest level of each skill of a user assessed at or before `at`,
/// with its date.
fn latest_levels(
    ds: &Dataset,
    user: Uuid,
    at: DateTime<Utc>,
) -> BTreeMap<Uuid, (DateTime<Utc>, f64)> {
    let mut latest: BTreeMap<Uuid, (DateTime<Utc>, f64)> = BTreeMap::new();
    for l in ds.skill_levels_of(user).filter(|l| l.assessed_at <= at) {
        let entry = latest.entry(l.skill_id).or_insert((l.assessed_at, l.level));
        if l.assessed_at >= entry.0 {
            *entry = (l.assessed_at, l.level);
        }
    }
    latest
}

fn course_title(ds: &Dataset, course: Uuid) -> String {
    ds.course(course)
        .map_or_else(|| course.to_string(), |c| c.title.clone())
}

/// A timestamp `weeks` weeks after `t`, truncated to whole seconds; `None`
/// when out of range.
fn add_weeks(t: DateTime<Utc>, weeks: f64) -> Option<DateTime<Utc>> {
    let millis = weeks * 7.0 * 86_400_000.0;
    if !millis.is_finite() {
        return None;
    }
    let d = Duration::try_milliseconds(millis as i64)?;
    t.checked_add_signed(d).map(whole_seconds)
}

/// Weighted course score (§2.5) of (weight, score percent) pairs; equal
/// weights when every weight is 0. `None` when empty.
fn weighted_score(scores: &[(f64, f64)]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let total: f64 = scores.iter().map(|(w, _)| w).sum();
    if total > 0.0 {
        Some(scores.iter().map(|(w, s)| w * s).sum::<f64>() / total)
    } else {
        mean(scores.iter().map(|(_, s)| *s))
    }
}

fn status_str(s: EnrolmentStatus) -> &'static str {
    s.as_str()
}

/// One result (§2.5): the best attempt on an assessment within a window.
struct ScoredResult<'a> {
    assessment: &'a Assessment,
    best: &'a AssessmentAttempt,
    percent: f64,
    attempts: usize,
}

/// Results in `w` on assessments of any course the learner is or was
/// enrolled in (as of `w.now`).
fn results<'a>(ds: &'a Dataset, learner: Uuid, w: &Window) -> Vec<ScoredResult<'a>> {
    let courses: BTreeSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| e.enrolled_at <= w.now)
        .map(|e| e.course_id)
        .collect();
    let mut out = Vec::new();
    for a in ds
        .records
        .assessments
        .iter()
        .filter(|a| courses.contains(&a.course_id))
    {
        if let Some(best) = best_attempt(ds, learner, a, |t| w.contains(t)) {
            let attempts = ds
                .attempts_of(learner)
                .filter(|x| x.assessment_id == a.id && w.contains(x.submitted_at))
                .count();
            out.push(ScoredResult {
                assessment: a,
                best,
                percent: score_percent(best, a),
                attempts,
            });
        }
    }
    out.sort_by(|x, y| {
        x.best
            .submitted_at
            .cmp(&y.best.submitted_at)
            .then(x.assessment.id.cmp(&y.assessment.id))
    });
    out
}

// =====================================================================
// 5.1 velocity
// =====================================================================

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Velocity {
    #[serde(flatten)]
    pub header: Header,
    /// Percentage points of course per week.
    pub current_pace: f64,
    pub target_pace: Option<f64>,
    /// `accelerating` | `steady` | `decelerating`.
    pub trend: &'static str,
    pub trend_percentage: Option<f64>,
    pub estimated_completion: Option<DateTime<Utc>>,
    /// `on-track` | `behind` | `at-risk` | `no-deadline`.
    pub status: &'static str,
    pub courses: Vec<VelocityCourse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VelocityCourse {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: String,
    /// 100 × `enrolments.progress`, as recorded upstream.
    pub progress: f64,
    /// Steps done by now (all time).
    pub steps_done: usize,
    pub steps_total: usize,
    pub pace: f64,
    pub target_pace: Option<f64>,
    pub course_end: Option<DateTime<Utc>>,
    pub estimated_completion: Option<DateTime<Utc>>,
    pub status: &'static str,
}

fn pace_status(has_end: bool, pace: f64, target: f64) -> &'static str {
    if !has_end {
        return "no-deadline";
    }
    if target == 0.0 {
        return "on-track";
    }
    let r = pace / target;
    if r >= ON_TRACK_RATIO {
        "on-track"
    } else if r >= BEHIND_RATIO {
        "behind"
    } else {
        "at-risk"
    }
}

pub fn velocity(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Velocity, AnalyticError> {
    const NAME: &str = "velocity";
    subject(ds, learner, w)?;
    let active: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
        .collect();
    if active.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_ACTIVE_ENROLMENT",
            "velocity needs at least 1 active enrolment",
            "activeEnrolments",
            1.0,
            0.0,
        ));
    }
    let prev = w.previous();
    struct Row<'a> {
        e: &'a Enrolment,
        steps_total: usize,
        steps_done: usize,
        pace: f64,
        prev_pace: f64,
        target: Option<f64>,
        course_end: Option<DateTime<Utc>>,
        estimated: Option<DateTime<Utc>>,
    }
    let mut rows: Vec<Row> = Vec::new();
    for e in active {
        let steps = Steps::of(ds, e.course_id);
        if steps.is_empty() {
            continue;
        }
        let total = steps.len() as f64;
        let done_at: Vec<DateTime<Utc>> = steps
            .done_at(ds, learner)
            .into_iter()
            .filter(|t| *t <= w.now)
            .collect();
        let in_w = done_at.iter().filter(|t| w.contains(**t)).count() as f64;
        let in_prev = done_at.iter().filter(|t| prev.contains(**t)).count() as f64;
        let pace = 100.0 * in_w / total / w.weeks();
        let prev_pace = 100.0 * in_prev / total / w.weeks();
        let remaining = 100.0 * (1.0 - done_at.len() as f64 / total);
        let course = ds.course(e.course_id);
        let start = course.and_then(|c| c.starts_at).unwrap_or(e.enrolled_at);
        let course_end = course
            .and_then(|c| c.length_days)
            .map(|d| start + Duration::days(i64::from(d)));
        let target = course_end.map(|ce| {
            let weeks_left =
                ((ce - w.now).num_milliseconds() as f64 / (7.0 * 86_400_000.0)).max(1.0);
            if remaining <= 0.0 {
                0.0
            } else {
                remaining / weeks_left
            }
        });
        let estimated = if remaining <= 0.0 {
            Some(whole_seconds(w.now))
        } else if pace > 0.0 {
            add_weeks(w.now, remaining / pace)
        } else {
            None
        };
        rows.push(Row {
            e,
            steps_total: steps.len(),
            steps_done: done_at.len(),
            pace,
            prev_pace,
            target,
            course_end,
            estimated,
        });
    }
    if rows.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_STEPS",
            "velocity needs at least 1 active enrolment in a course with at least 1 step",
            "activeEnrolmentsWithSteps",
            1.0,
            0.0,
        ));
    }
    let with_end: Vec<&Row> = rows.iter().filter(|r| r.target.is_some()).collect();
    let basis: Vec<&Row> = if with_end.is_empty() {
        rows.iter().collect()
    } else {
        with_end.clone()
    };
    let current = mean(basis.iter().map(|r| r.pace)).unwrap_or(0.0);
    let previous = mean(basis.iter().map(|r| r.prev_pace)).unwrap_or(0.0);
    let target = mean(with_end.iter().filter_map(|r| r.target));
    let status = match target {
        None => "no-deadline",
        Some(t) => pace_status(true, current, t),
    };
    let trend_percentage = (previous > 0.0).then(|| 100.0 * (current - previous) / previous);
    let trend = match trend_percentage {
        Some(p) if p > VELOCITY_TREND_PERCENT => "accelerating",
        Some(p) if p < -VELOCITY_TREND_PERCENT => "decelerating",
        Some(_) => "steady",
        None if current > 0.0 => "accelerating",
        None => "steady",
    };
    let estimated_completion = rows
        .iter()
        .map(|r| r.estimated)
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.into_iter().max());
    let courses = rows
        .iter()
        .map(|r| VelocityCourse {
            enrolment_id: r.e.id,
            course_id: r.e.course_id,
            course_title: course_title(ds, r.e.course_id),
            progress: r2(100.0 * r.e.progress),
            steps_done: r.steps_done,
            steps_total: r.steps_total,
            pace: r2(r.pace),
            target_pace: r.target.map(r2),
            course_end: r.course_end.map(whole_seconds),
            estimated_completion: r.estimated,
            status: pace_status(r.target.is_some(), r.pace, r.target.unwrap_or(0.0)),
        })
        .collect();
    Ok(Velocity {
        header: Header::new(NAME, Some(learner), w),
        current_pace: r2(current),
        target_pace: target.map(r2),
        trend,
        trend_percentage: trend_percentage.map(r2),
        estimated_completion,
        status,
        courses,
    })
}

// =====================================================================
// 5.2 skill-gap
// =====================================================================

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
    let user = subject(ds, learner, w)?;
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
            skill_name: skill_name(ds, id),
            category: skill(ds, id).and_then(|s| s.category.clone()),
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
                name: skill_name(ds, id),
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

// =====================================================================
// 5.3 engagement
// =====================================================================

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Engagement {
    #[serde(flatten)]
    pub header: Header,
    pub overall_score: f64,
    /// `high` | `medium` | `low`.
    pub level: &'static str,
    pub components: EngagementComponents,
    /// Effective weights (sum 1), absent components null.
    pub weights: EngagementComponents,
    /// One per week bucket, newest last.
    pub weekly_engagement: Vec<WeeklyEngagement>,
    pub activity_breakdown: ActivityBreakdown,
    pub trends: EngagementTrends,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngagementComponents {
    pub regularity: Option<f64>,
    pub activity: Option<f64>,
    pub time_spent: Option<f64>,
    pub assessment_submission: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeeklyEngagement {
    pub week_start: DateTime<Utc>,
    pub week_end: DateTime<Utc>,
    pub active_days: usize,
    pub activity_count: i64,
    pub clicks: i64,
    pub time_spent_seconds: Option<i64>,
    pub assessment_attempts: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBreakdown {
    pub active_days: usize,
    pub activity_count: i64,
    pub clicks: i64,
    pub content_interactions: usize,
    pub time_spent_seconds: Option<i64>,
    pub assessment_attempts: usize,
    pub lab_sessions: usize,
    pub assistant_questions: usize,
    /// Clicks per content type.
    pub by_content_type: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EngagementTrends {
    pub previous_score: Option<f64>,
    pub change: Option<f64>,
    /// `up` | `down` | `stable`.
    pub direction: &'static str,
}

/// The unrounded engagement score of a window.
struct EngagementScore {
    components: [Option<f64>; 4],
    score: f64,
    weights: Vec<Option<f64>>,
    /// Time spent measured for some cohort interaction in the window.
    time_measured: bool,
}

/// `None` when the subject has no enrolment active in `w`.
fn engagement_score(ds: &Dataset, learner: Uuid, w: &Window) -> Option<EngagementScore> {
    let courses: BTreeSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| active_in(e, w))
        .map(|e| e.course_id)
        .collect();
    if courses.is_empty() {
        return None;
    }
    let mut cohort: BTreeSet<Uuid> = ds
        .learners()
        .filter(|u| {
            ds.enrolments_of(u.id)
                .any(|e| active_in(e, w) && courses.contains(&e.course_id))
        })
        .map(|u| u.id)
        .collect();
    cohort.insert(learner);

    let own = events(ds, learner);
    let regularity = 100.0 * active_days(&own, w) as f64 / w.range.days() as f64;

    let a = activity_count(&own, w) as f64;
    let m = median(
        cohort
            .iter()
            .map(|&u| activity_count(&events(ds, u), w) as f64),
    )
    .unwrap_or(0.0);
    let activity = relative(a, m);

    let time_measured = cohort.iter().any(|&u| time_spent(ds, u, w).is_some());
    let time = time_measured.then(|| {
        let tau = time_spent(ds, learner, w).unwrap_or(0) as f64;
        let m_tau = median(
            cohort
                .iter()
                .map(|&u| time_spent(ds, u, w).unwrap_or(0) as f64),
        )
        .unwrap_or(0.0);
        relative(tau, m_tau)
    });

    let due: Vec<&Assessment> = ds
        .records
        .assessments
        .iter()
        .filter(|a| {
            a.due_at.is_some_and(|due| {
                w.contains(due)
                    && ds
                        .enrolments_of(learner)
                        .any(|e| e.course_id == a.course_id && active_at(e, due))
            })
        })
        .collect();
    let submission = (!due.is_empty()).then(|| {
        let submitted = due
            .iter()
            .filter(|a| {
                ds.attempts_of(learner)
                    .any(|x| x.assessment_id == a.id && x.submitted_at <= w.now)
            })
            .count();
        100.0 * submitted as f64 / due.len() as f64
    });

    let components = [Some(regularity), Some(activity), time, submission];
    let (score, weights) = composite(
        &ENGAGEMENT_WEIGHTS
            .iter()
            .zip(components)
            .map(|(w, x)| (*w, x))
            .collect::<Vec<_>>(),
    )?;
    Some(EngagementScore {
        components,
        score,
        weights,
        time_measured,
    })
}

/// 100 × min(1, x / m); when m = 0: 100 if x > 0 else 0.
fn relative(x: f64, m: f64) -> f64 {
    if m > 0.0 {
        100.0 * (x / m).min(1.0)
    } else if x > 0.0 {
        100.0
    } else {
        0.0
    }
}

fn four(v: &[Option<f64>], round: fn(f64) -> f64) -> EngagementComponents {
    let get = |i: usize| v.get(i).copied().flatten().map(round);
    EngagementComponents {
        regularity: get(0),
        activity: get(1),
        time_spent: get(2),
        assessment_submission: get(3),
    }
}

pub fn engagement(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Engagement, AnalyticError> {
    const NAME: &str = "engagement";
    subject(ds, learner, w)?;
    let Some(now) = engagement_score(ds, learner, w) else {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_ENROLMENT_IN_WINDOW",
            "engagement needs at least 1 enrolment active in the window",
            "enrolmentsActiveInWindow",
            1.0,
            0.0,
        ));
    };
    let mut header = Header::new(NAME, Some(learner), w);
    if !now.time_measured {
        header.note("NO_TIME_SPENT_DATA");
    }

    let own = events(ds, learner);
    let interactions: Vec<&ContentInteraction> = ds
        .interactions_of(learner)
        .filter(|i| w.contains(i.occurred_at))
        .collect();
    let time_in = |from: DateTime<Utc>, to: DateTime<Utc>| -> Option<i64> {
        now.time_measured.then(|| {
            interactions
                .iter()
                .filter(|i| i.occurred_at > from && i.occurred_at <= to)
                .filter_map(|i| i.time_spent_seconds.map(i64::from))
                .sum()
        })
    };
    let count_kind = |kind: EventKind, from: DateTime<Utc>, to: DateTime<Utc>| {
        own.iter()
            .filter(|e| e.kind == kind && e.at > from && e.at <= to)
            .count()
    };
    let clicks_in = |from: DateTime<Utc>, to: DateTime<Utc>| -> i64 {
        own.iter()
            .filter(|e| e.kind == EventKind::Content && e.at > from && e.at <= to)
            .map(|e| e.count)
            .sum()
    };

    let mut weekly: Vec<WeeklyEngagement> = w
        .week_buckets()
        .into_iter()
        .map(|(from, to)| {
            let in_bucket: Vec<Event> = own
                .iter()
                .copied()
                .filter(|e| e.at > from && e.at <= to)
                .collect();
            WeeklyEngagement {
                week_start: whole_seconds(from),
                week_end: whole_seconds(to),
                active_days: active_days(&in_bucket, w),
                activity_count: activity_count(&in_bucket, w),
                clicks: clicks_in(from, to),
                time_spent_seconds: time_in(from, to),
                assessment_attempts: count_kind(EventKind::Attempt, from, to),
            }
        })
        .collect();
    weekly.reverse();

    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    for i in &interactions {
        if let Some(item) = ds.content_item(i.content_item_id) {
            *by_type
                .entry(item.content_type.as_str().to_owned())
                .or_default() += i64::from(i.clicks);
        }
    }
    let (from, to) = (w.start(), w.now);
    let breakdown = ActivityBreakdown {
        active_days: active_days(&own, w),
        activity_count: activity_count(&own, w),
        clicks: clicks_in(from, to),
        content_interactions: interactions.len(),
        time_spent_seconds: time_in(from, to),
        assessment_attempts: count_kind(EventKind::Attempt, from, to),
        lab_sessions: count_kind(EventKind::Lab, from, to),
        assistant_questions: count_kind(EventKind::Question, from, to),
        by_content_type: by_type,
    };

    let previous = engagement_score(ds, learner, &w.previous()).map(|p| p.score);
    let change = previous.map(|p| now.score - p);
    let direction = match change {
        Some(c) if c > SCORE_TREND_POINTS => "up",
        Some(c) if c < -SCORE_TREND_POINTS => "down",
        _ => "stable",
    };

    Ok(Engagement {
        header,
        overall_score: r2(now.score),
        level: level_label(now.score),
        components: four(&now.components, r2),
        weights: four(&now.weights, r4),
        weekly_engagement: weekly,
        activity_breakdown: breakdown,
        trends: EngagementTrends {
            previous_score: previous.map(r2),
            change: change.map(r2),
            direction,
        },
    })
}

// =====================================================================
// 5.4 mastery
// =====================================================================

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

/// Weighted score over the attempted ones of `assessments` (best attempt up
/// to `t`), and how many were attempted.
fn mastery_of<'a>(
    ds: &Dataset,
    learner: Uuid,
    assessments: impl Iterator<Item = &'a Assessment>,
    t: DateTime<Utc>,
) -> (Option<f64>, usize, usize) {
    let mut scores = Vec::new();
    let mut total = 0;
    for a in assessments {
        total += 1;
        if let Some(best) = best_attempt(ds, learner, a, |s| s <= t) {
            scores.push((a.weight, score_percent(best, a)));
        }
    }
    (weighted_score(&scores), scores.len(), total)
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
        .filter_map(|e| mastery_of(ds, learner, ds.assessments_of_course(e.course_id), t).0)
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
    subject(ds, learner, w)?;
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
                mastery_of(ds, learner, ds.assessments_of_course(e.course_id), w.now);
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
                skill_name: skill_name(ds, id),
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
        let mut units: Vec<_> = ds
            .records
            .units
            .iter()
            .filter(|u| u.course_id == e.course_id)
            .collect();
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
            let (m, attempted, total) = mastery_of(ds, learner, assessments.into_iter(), w.now);
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

// =====================================================================
// 5.5 performance
// =====================================================================

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    #[serde(flatten)]
    pub header: Header,
    pub overall_performance: f64,
    pub average_score: f64,
    pub pass_rate: f64,
    pub on_time_rate: Option<f64>,
    pub components: PerformanceComponents,
    pub weights: PerformanceComponents,
    pub assessment_scores: Vec<AssessmentScore>,
    pub course_progress: Vec<CourseProgress>,
    /// Seconds, null when not measured.
    pub time_spent: Option<i64>,
    pub strengths: Vec<AreaScore>,
    pub areas_for_improvement: Vec<AreaScore>,
    pub trend: PerformanceTrend,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceComponents {
    pub average_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentScore {
    pub assessment_id: Uuid,
    pub title: String,
    pub course_id: Uuid,
    pub kind: &'static str,
    pub score_percent: f64,
    /// Attempts in W.
    pub attempts: usize,
    pub submitted_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub passed: bool,
    pub late: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseProgress {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: String,
    pub status: &'static str,
    pub outcome: Option<&'static str>,
    pub progress: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaScore {
    /// The assessment kind.
    pub area: &'static str,
    pub average_score: f64,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceTrend {
    pub previous_average_score: Option<f64>,
    pub change: Option<f64>,
}

pub fn performance(ds: &Dataset, learner: Uuid, w: &Window) -> Result<Performance, AnalyticError> {
    const NAME: &str = "performance";
    subject(ds, learner, w)?;
    let res = results(ds, learner, w);
    if res.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_SCORED_ATTEMPTS",
            "performance needs at least 1 scored assessment attempt in the window",
            "scoredAttemptsInWindow",
            1.0,
            0.0,
        ));
    }
    let mut header = Header::new(NAME, Some(learner), w);
    let n = res.len() as f64;
    let average = mean(res.iter().map(|r| r.percent)).unwrap_or(0.0);
    let pass_rate = 100.0 * res.iter().filter(|r| passed(r.best, r.assessment)).count() as f64 / n;
    let with_due: Vec<&ScoredResult> = res
        .iter()
        .filter(|r| r.assessment.due_at.is_some())
        .collect();
    let on_time = (!with_due.is_empty()).then(|| {
        100.0
            * with_due
                .iter()
                .filter(|r| !late(ds, learner, r.assessment))
                .count() as f64
            / with_due.len() as f64
    });
    let components = [Some(average), Some(pass_rate), on_time];
    let (overall, weights) = composite(
        &PERFORMANCE_WEIGHTS
            .iter()
            .zip(components)
            .map(|(w, x)| (*w, x))
            .collect::<Vec<_>>(),
    )
    .unwrap_or((average, vec![Some(1.0), None, None]));
    let three = |v: &[Option<f64>], round: fn(f64) -> f64| PerformanceComponents {
        average_score: v.first().copied().flatten().map(round),
        pass_rate: v.get(1).copied().flatten().map(round),
        on_time_rate: v.get(2).copied().flatten().map(round),
    };

    let assessment_scores = res
        .iter()
        .map(|r| AssessmentScore {
            assessment_id: r.assessment.id,
            title: r.assessment.title.clone(),
            course_id: r.assessment.course_id,
            kind: r.assessment.kind.as_str(),
            score_percent: r2(r.percent),
            attempts: r.attempts,
            submitted_at: whole_seconds(r.best.submitted_at),
            due_at: r.assessment.due_at.map(whole_seconds),
            passed: passed(r.best, r.assessment),
            late: late(ds, learner, r.assessment),
        })
        .collect();

    let mut enrolments: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| active_in(e, w))
        .collect();
    enrolments.sort_by(|a, b| a.enrolled_at.cmp(&b.enrolled_at).then(a.id.cmp(&b.id)));
    let course_progress = enrolments
        .iter()
        .map(|e| CourseProgress {
            enrolment_id: e.id,
            course_id: e.course_id,
            course_title: course_title(ds, e.course_id),
            status: status_str(e.status),
            outcome: e.outcome.map(|o| o.as_str()),
            progress: r2(100.0 * e.progress),
        })
        .collect();

    let spent = time_spent(ds, learner, w);
    if spent.is_none() {
        header.note("NO_TIME_SPENT_DATA");
    }

    let mut by_kind: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for r in &res {
        by_kind
            .entry(r.assessment.kind.as_str())
            .or_default()
            .push(r.percent);
    }
    let groups: Vec<(&'static str, f64, usize)> = by_kind
        .into_iter()
        .filter_map(|(k, v)| mean(v.iter().copied()).map(|m| (k, m, v.len())))
        .collect();
    let area = |&(area, m, count): &(&'static str, f64, usize)| AreaScore {
        area,
        average_score: r2(m),
        count,
    };
    let mut strong: Vec<_> = groups.iter().filter(|g| g.1 >= STRENGTH_MEAN).collect();
    strong.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let mut weak: Vec<_> = groups.iter().filter(|g| g.1 < IMPROVEMENT_MEAN).collect();
    weak.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));

    let previous = mean(
        results(ds, learner, &w.previous())
            .iter()
            .map(|r| r.percent),
    );

    Ok(Performance {
        header,
        overall_performance: r2(overall),
        average_score: r2(average),
        pass_rate: r2(pass_rate),
        on_time_rate: on_time.map(r2),
        components: three(&components, r2),
        weights: three(&weights, r4),
        assessment_scores,
        course_progress,
        time_spent: spent,
        strengths: strong.into_iter().map(area).collect(),
        areas_for_improvement: weak.into_iter().map(area).collect(),
        trend: PerformanceTrend {
            previous_average_score: previous.map(r2),
            change: previous.map(|p| r2(average - p)),
        },
    })
}

// =====================================================================
// 5.6 content-effectiveness
// =====================================================================

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentEffectiveness {
    #[serde(flatten)]
    pub header: Header,
    pub content_effectiveness: Option<f64>,
    pub content_types: Vec<ContentTypeStats>,
    /// `visual` | `reading` | `hands-on` | `practice` | `social` | `mixed`.
    pub preferred_learning_style: &'static str,
    /// Minutes.
    pub optimal_session_length: Option<f64>,
    /// `morning` | `afternoon` | `evening` | `night`.
    pub best_time_of_day: Option<&'static str>,
    pub recommendations: Vec<ContentRecommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentTypeStats {
    pub content_type: &'static str,
    pub interactions: usize,
    pub clicks: i64,
    pub time_spent_seconds: Option<i64>,
    pub completion_rate: Option<f64>,
    pub effectiveness_score: Option<f64>,
    pub lift: Option<f64>,
    pub evidence: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentRecommendation {
    pub content_type: &'static str,
    /// `prefer` | `combine_with_practice` | `try`.
    pub action: &'static str,
    pub reason: String,
}

fn learning_style(t: ContentType) -> &'static str {
    match t {
        ContentType::Video => "visual",
        ContentType::Reading => "reading",
        ContentType::Interactive | ContentType::Lab => "hands-on",
        ContentType::Quiz => "practice",
        ContentType::Forum => "social",
        ContentType::Resource | ContentType::Other => "mixed",
    }
}

/// Fixed UTC offset (seconds east) of the zone names that need no time-zone
/// database: UTC aliases, `Etc/GMT±N` and `±HH:MM`. `None` otherwise.
fn fixed_offset(zone: &str) -> Option<i64> {
    const UTC: [&str; 12] = [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "UCT",
        "Etc/UCT",
        "Universal",
        "Etc/Universal",
        "Zulu",
        "Etc/Zulu",
        "Z",
        "Etc/Greenwich",
    ];
    if UTC.contains(&zone) {
        return Some(0);
    }
    if let Some(rest) = zone.strip_prefix("Etc/GMT") {
        // POSIX sign: Etc/GMT+5 is five hours *behind* UTC.
        let (sign, digits) = match rest.split_at_checked(1)? {
            ("+", d) => (-1, d),
            ("-", d) => (1, d),
            _ => return None,
        };
        let h: i64 = digits.parse().ok()?;
        return (h <= 14).then_some(sign * h * 3600);
    }
    let (sign, rest) = match zone.split_at_checked(1)? {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

const BANDS: [&str; 4] = ["morning", "afternoon", "evening", "night"];

fn band(local_hour: u32) -> usize {
    match local_hour {
        5..=11 => 0,
        12..=16 => 1,
        17..=21 => 2,
        _ => 3,
    }
}

pub fn content_effectiveness(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
) -> Result<ContentEffectiveness, AnalyticError> {
    const NAME: &str = "content-effectiveness";
    let user = subject(ds, learner, w)?;
    let mut inter: Vec<(&ContentInteraction, ContentType, Uuid)> = ds
        .interactions_of(learner)
        .filter(|i| w.contains(i.occurred_at))
        .filter_map(|i| {
            ds.content_item(i.content_item_id)
                .map(|c| (i, c.content_type, c.course_id))
        })
        .collect();
    if inter.is_empty() {
        return Err(AnalyticError::insufficient(
            NAME,
            "NO_CONTENT_ACTIVITY",
            "content-effectiveness needs at least 1 content interaction in the window",
            "contentInteractionsInWindow",
            1.0,
            0.0,
        ));
    }
    inter.sort_by_key(|a| a.0.occurred_at);
    let mut header = Header::new(NAME, Some(learner), w);
    let time_measured = inter.iter().any(|(i, _, _)| i.time_spent_seconds.is_some());
    if !time_measured {
        header.note("NO_TIME_SPENT_DATA");
    }

    // Courses that record completion (§2.6).
    let mut records_completion: HashMap<Uuid, bool> = HashMap::new();
    let mut tracks = |course: Uuid| -> bool {
        *records_completion
            .entry(course)
            .or_insert_with(|| !Steps::of(ds, course).content_items.is_empty())
    };

    // Outcomes: results in W and their lead-in clicks per type.
    let res = results(ds, learner, w);
    let average = mean(res.iter().map(|r| r.percent));
    let all_clicks: Vec<(&ContentInteraction, ContentType, Uuid)> = ds
        .interactions_of(learner)
        .filter(|i| i.occurred_at <= w.now)
        .filter_map(|i| {
            ds.content_item(i.content_item_id)
                .map(|c| (i, c.content_type, c.course_id))
        })
        .collect();
    // Per result: (score, clicks per type).
    let lead_in: Vec<(f64, BTreeMap<ContentTypeKey, i64>)> = res
        .iter()
        .map(|r| {
            let t = r.best.submitted_at;
            let from = t - Duration::days(LEAD_IN_DAYS);
            let mut clicks: BTreeMap<ContentTypeKey, i64> = BTreeMap::new();
            for (i, ty, course) in &all_clicks {
                if *course == r.assessment.course_id && i.occurred_at > from && i.occurred_at <= t {
                    *clicks.entry(ContentTypeKey(*ty)).or_default() += i64::from(i.clicks);
                }
            }
            (r.percent, clicks)
        })
        .collect();
    let (num, den) = lead_in.iter().fold((0.0, 0.0), |(n, d), (s, clicks)| {
        let c = clicks.values().sum::<i64>() as f64;
        (n + c * s, d + c)
    });
    let overall = (den > 0.0).then(|| num / den);

    // Per type.
    let mut by_type: BTreeMap<ContentTypeKey, Vec<&(&ContentInteraction, ContentType, Uuid)>> =
        BTreeMap::new();
    for x in &inter {
        by_type.entry(ContentTypeKey(x.1)).or_default().push(x);
    }
    let mut types = Vec::new();
    let mut lifts: Vec<(ContentType, f64, f64)> = Vec::new();
    for (key, rows) in &by_type {
        let ty = key.0;
        let clicks: i64 = rows.iter().map(|(i, _, _)| i64::from(i.clicks)).sum();
        let measured: Vec<i64> = rows
            .iter()
            .filter_map(|(i, _, _)| i.time_spent_seconds.map(i64::from))
            .collect();
        let tracked: Vec<_> = rows.iter().filter(|(_, _, c)| tracks(*c)).collect();
        let completion_rate = (!tracked.is_empty()).then(|| {
            100.0 * tracked.iter().filter(|(i, _, _)| i.completed).count() as f64
                / tracked.len() as f64
        });
        let used: Vec<(f64, i64)> = lead_in
            .iter()
            .filter_map(|(s, c)| c.get(key).filter(|c| **c > 0).map(|c| (*s, *c)))
            .collect();
        let evidence = used.len();
        let score = (evidence >= MIN_EVIDENCE).then(|| {
            used.iter().map(|(s, c)| s * *c as f64).sum::<f64>()
                / used.iter().map(|(_, c)| *c as f64).sum::<f64>()
        });
        let lift = score.zip(average).map(|(s, a)| s - a);
        if let (Some(l), Some(s)) = (lift, score) {
            lifts.push((ty, l, s));
        }
        types.push(ContentTypeStats {
            content_type: ty.as_str(),
            interactions: rows.len(),
            clicks,
            time_spent_seconds: (!measured.is_empty()).then(|| measured.iter().sum()),
            completion_rate: completion_rate.map(r2),
            effectiveness_score: score.map(r2),
            lift: lift.map(r2),
            evidence,
        });
    }

    // Preferred style: largest time spent (clicks when time is not measured).
    let amount = |rows: &Vec<&(&ContentInteraction, ContentType, Uuid)>| -> f64 {
        rows.iter()
            .map(|(i, _, _)| {
                if time_measured {
                    f64::from(i.time_spent_seconds.unwrap_or(0))
                } else {
                    f64::from(i.clicks)
                }
            })
            .sum()
    };
    let total: f64 = by_type.values().map(amount).sum();
    let top = by_type
        .iter()
        .map(|(k, rows)| (k.0, amount(rows)))
        // BTreeMap order is by type name; keep the first of equal maxima.
        .fold(None::<(ContentType, f64)>, |best, (t, a)| match best {
            Some((_, b)) if b >= a => best,
            _ => Some((t, a)),
        });
    let preferred = match top {
        Some((t, a)) if total > 0.0 && a / total >= PREFERRED_STYLE_SHARE => learning_style(t),
        _ => "mixed",
    };

    // Sessions and times of day.
    let day_precision = inter.iter().all(|(i, _, _)| {
        let t = i.occurred_at;
        t.hour() == 0 && t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0
    });
    let (optimal, best_time) = if day_precision {
        header.note("DAY_PRECISION_TIMESTAMPS");
        (None, None)
    } else {
        let spent = |i: &ContentInteraction| {
            Duration::seconds(i64::from(i.time_spent_seconds.unwrap_or(0)))
        };
        // (first start, last end, has completed)
        let mut sessions: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> = Vec::new();
        let mut prev_end: Option<DateTime<Utc>> = None;
        for (i, _, _) in &inter {
            let end_i = i.occurred_at + spent(i);
            match (prev_end, sessions.last_mut()) {
                (Some(pe), Some(s))
                    if i.occurred_at <= pe + Duration::seconds(SESSION_GAP_SECONDS) =>
                {
                    s.1 = end_i;
                    s.2 |= i.completed;
                }
                _ => sessions.push((i.occurred_at, end_i, i.completed)),
            }
            prev_end = Some(end_i);
        }
        let minutes = |s: &(DateTime<Utc>, DateTime<Utc>, bool)| {
            (s.1 - s.0).num_milliseconds() as f64 / 60_000.0
        };
        let completed: Vec<f64> = sessions.iter().filter(|s| s.2).map(minutes).collect();
        let optimal = if completed.is_empty() {
            median(sessions.iter().map(minutes))
        } else {
            median(completed)
        };

        let offset = fixed_offset(&user.time_zone).unwrap_or_else(|| {
            header.note("TIME_ZONE_AS_UTC");
            0
        });
        let mut clicks = [0i64; 4];
        for (i, _, _) in &inter {
            let local = i.occurred_at + Duration::seconds(offset);
            clicks[band(local.hour())] += i64::from(i.clicks);
        }
        let max = clicks.iter().copied().max().unwrap_or(0);
        let best = (max > 0)
            .then(|| clicks.iter().position(|c| *c == max))
            .flatten()
            .map(|k| BANDS[k]);
        (optimal, best)
    };

    // Recommendations.
    let mut recommendations = Vec::new();
    let avg = average.unwrap_or(0.0);
    let mut prefer: Vec<_> = lifts.iter().filter(|l| l.1 >= LIFT_POINTS).collect();
    prefer.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
    for (t, l, s) in prefer {
        recommendations.push(ContentRecommendation {
            content_type: t.as_str(),
            action: "prefer",
            reason: format!(
                "results after using {} averaged {:.2}%, {:+.2} points above your average of {:.2}%",
                t.as_str(),
                r2(*s),
                r2(*l),
                r2(avg)
            ),
        });
    }
    let mut combine: Vec<_> = lifts.iter().filter(|l| l.1 <= -LIFT_POINTS).collect();
    combine.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.as_str().cmp(b.0.as_str())));
    for (t, l, s) in combine {
        recommendations.push(ContentRecommendation {
            content_type: t.as_str(),
            action: "combine_with_practice",
            reason: format!(
                "results after using {} averaged {:.2}%, {:.2} points below your average of {:.2}%",
                t.as_str(),
                r2(*s),
                r2(-*l),
                r2(avg)
            ),
        });
    }
    let active_courses: BTreeSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= w.now)
        .map(|e| e.course_id)
        .collect();
    let mut unused: BTreeMap<ContentTypeKey, usize> = BTreeMap::new();
    for item in ds
        .records
        .content_items
        .iter()
        .filter(|c| active_courses.contains(&c.course_id))
        .filter(|c| !by_type.contains_key(&ContentTypeKey(c.content_type)))
    {
        *unused.entry(ContentTypeKey(item.content_type)).or_default() += 1;
    }
    let mut unused: Vec<(ContentTypeKey, usize)> = unused.into_iter().collect();
    unused.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (t, n) in unused.into_iter().take(MAX_TRY_RECOMMENDATIONS) {
        recommendations.push(ContentRecommendation {
            content_type: t.0.as_str(),
            action: "try",
            reason: format!(
                "{n} {} item{} in your active courses, none used in this period",
                t.0.as_str(),
                if n == 1 { "" } else { "s" }
            ),
        });
    }

    Ok(ContentEffectiveness {
        header,
        content_effectiveness: overall.map(r2),
        content_types: types,
        preferred_learning_style: preferred,
        optimal_session_length: optimal.map(r2),
        best_time_of_day: best_time,
        recommendations,
    })
}

/// A content type ordered by its name (map key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContentTypeKey(ContentType);

impl PartialOrd for ContentTypeKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ContentTypeKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::{self, *};
    use crate::model::{AssessmentKind, CourseUnit, SkillRequirement, SkillTarget};

    const ME: u128 = 10;
    const L: &[Role] = &[Role::Learner];

    fn ds(r: Records) -> Dataset {
        Dataset::new(r)
    }

    fn reason(e: AnalyticError) -> &'static str {
        match e {
            AnalyticError::InsufficientData { reason, .. } => reason,
            AnalyticError::NotFound(_) => "NOT_FOUND",
        }
    }

    fn w30(now: f64) -> Window {
        Window::new(TimeRange::Days30, day(now))
    }

    fn w7(now: f64) -> Window {
        Window::new(TimeRange::Days7, day(now))
    }

    fn hours(d: f64, h: f64) -> f64 {
        d + h / 24.0
    }

    /// Every analytic answers 404 for an unknown user and for a user with
    /// neither an enrolment nor an activity event.
    #[test]
    fn unknown_or_recordless_learners_are_not_found() {
        let mut r = records();
        user(&mut r, ME, L, None);
        let d = ds(r);
        let w = w30(70.0);
        for who in [id(ME), id(99)] {
            assert_eq!(reason(velocity(&d, who, &w).expect_err("404")), "NOT_FOUND");
            assert_eq!(
                reason(skill_gap(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(
                reason(engagement(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(reason(mastery(&d, who, &w).expect_err("404")), "NOT_FOUND");
            assert_eq!(
                reason(performance(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
            assert_eq!(
                reason(content_effectiveness(&d, who, &w).expect_err("404")),
                "NOT_FOUND"
            );
        }
    }

    // ---- velocity ----

    fn velocity_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, Some(84)); // ends day 84
        course(&mut r, 101, 0.0, None); // no deadline
        for a in 300..304 {
            assessment(&mut r, a, 100, 100.0, 25.0, None);
        }
        assessment(&mut r, 310, 101, 100.0, 50.0, None);
        assessment(&mut r, 311, 101, 100.0, 50.0, None);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        r.enrolments[e].progress = 0.6;
        enrol(&mut r, 2, ME, 101, 0.0);
        attempt(&mut r, ME, 300, 1, 50.0, 60.0); // W' = (56, 63]
        attempt(&mut r, ME, 301, 1, 50.0, 65.0); // W = (63, 70]
        attempt(&mut r, ME, 302, 1, 50.0, 68.0);
        attempt(&mut r, ME, 302, 2, 70.0, 69.0); // a second attempt is not a new step
        r
    }

    #[test]
    fn velocity_by_hand() {
        // now = day 70, 7d: weeks(W) = 1.
        // Course 100: 4 steps; 2 first done in W, 1 in W', 3 by now.
        //   pace = 100 × 2 / 4 / 1 = 50; prevPace = 100 × 1 / 4 = 25
        //   remaining = 100 × (1 − 3/4) = 25; weeksLeft = max(1, 14/7) = 2
        //   targetPace = 25 / 2 = 12.5; r = 4 → on-track
        //   estimatedCompletion = now + 25 / 50 × 7 d = day 73.5
        // Course 101: 2 steps, none done: pace 0, no deadline, no estimate.
        // D = {100}: currentPace = 50, targetPace = 12.5, status on-track;
        // trend = 100 × (50 − 25) / 25 = 100 % → accelerating;
        // learner estimatedCompletion null (course 101 has none).
        let d = ds(velocity_fixture());
        let v = velocity(&d, id(ME), &w7(70.0)).expect("velocity");
        assert_eq!(v.current_pace, 50.0);
        assert_eq!(v.target_pace, Some(12.5));
        assert_eq!(v.status, "on-track");
        assert_eq!(v.trend, "accelerating");
        assert_eq!(v.trend_percentage, Some(100.0));
        assert_eq!(v.estimated_completion, None);
        assert_eq!(v.courses.len(), 2);
        let c = v
            .courses
            .iter()
            .find(|c| c.course_id == id(100))
            .expect("course 100");
        assert_eq!(c.progress, 60.0);
        assert_eq!((c.steps_done, c.steps_total), (3, 4));
        assert_eq!(c.pace, 50.0);
        assert_eq!(c.target_pace, Some(12.5));
        assert_eq!(c.course_end, Some(day(84.0)));
        assert_eq!(c.estimated_completion, Some(day(73.5)));
        assert_eq!(c.status, "on-track");
        let c = v
            .courses
            .iter()
            .find(|c| c.course_id == id(101))
            .expect("course 101");
        assert_eq!(
            (c.pace, c.target_pace, c.status),
            (0.0, None, "no-deadline")
        );
        assert_eq!(c.estimated_completion, None);
    }

    #[test]
    fn velocity_behind_and_at_risk_and_deceleration() {
        // Only course 100, now = day 77 (W = (70, 77], W' = (63, 70]).
        // In W: 1 step (303 at day 75) → pace 25; in W': 2 → prevPace 50.
        // Done by now 4 of 4 → remaining 0 → targetPace 0 → on-track.
        let mut r = velocity_fixture();
        r.enrolments.retain(|e| e.course_id == id(100));
        attempt(&mut r, ME, 303, 1, 50.0, 75.0);
        let v = velocity(&ds(r.clone()), id(ME), &w7(77.0)).expect("velocity");
        assert_eq!(v.current_pace, 25.0);
        assert_eq!(v.target_pace, Some(0.0));
        assert_eq!(v.status, "on-track");
        assert_eq!(v.trend_percentage, Some(-50.0));
        assert_eq!(v.trend, "decelerating");
        assert_eq!(v.estimated_completion, Some(day(77.0)));

        // Without the step at day 75: pace 0 in W, remaining 25,
        // weeksLeft = max(1, 7/7) = 1 → target 25, r = 0 → at-risk.
        r.attempts.retain(|a| a.assessment_id != id(303));
        let v = velocity(&ds(r), id(ME), &w7(77.0)).expect("velocity");
        assert_eq!(v.current_pace, 0.0);
        assert_eq!(v.target_pace, Some(25.0));
        assert_eq!(v.status, "at-risk");
        assert_eq!(v.estimated_completion, None);
        assert_eq!(pace_status(true, 15.0, 20.0), "behind"); // r = 0.75
    }

    #[test]
    fn velocity_needs_an_active_enrolment_with_steps() {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        let w = w7(70.0);
        assert_eq!(
            reason(velocity(&ds(r.clone()), id(ME), &w).expect_err("422")),
            "NO_STEPS"
        );
        r.enrolments[e].status = EnrolmentStatus::Withdrawn;
        r.enrolments[e].withdrawn_at = Some(day(10.0));
        assert_eq!(
            reason(velocity(&ds(r), id(ME), &w).expect_err("422")),
            "NO_ACTIVE_ENROLMENT"
        );
    }

    // ---- skill-gap ----

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

    // ---- engagement ----

    /// §5.7: now = 2025-03-15T12:00:00Z = day 73.5, 7d.
    fn worked_example() -> Records {
        let mut r = records();
        course(&mut r, 100, 0.0, None);
        item(&mut r, 200, 100, ContentType::Video);
        item(&mut r, 201, 100, ContentType::Reading);
        assessment(&mut r, 300, 100, 100.0, 50.0, Some(72.5)); // due in W, submitted
        assessment(&mut r, 301, 100, 100.0, 50.0, Some(71.0)); // due in W, not submitted
        for (n, clicks) in [(ME, 0), (11, 40), (12, 60), (13, 80), (14, 200)] {
            user(&mut r, n, L, None);
            enrol(&mut r, n, n, 100, 50.0);
            if clicks > 0 {
                interact(&mut r, n, 200, 72.0, clicks, None, false);
            }
        }
        // The subject: slots 0, 1, 3, 6 (slot k = (now − (k+1)d, now − k·d]);
        // 30 + 30 + 30 + 29 clicks + 1 attempt = 120.
        interact(&mut r, ME, 200, 73.0, 30, None, false); // slot 0
        interact(&mut r, ME, 201, 72.0, 30, None, false); // slot 1
        interact(&mut r, ME, 200, 70.0, 30, None, false); // slot 3
        interact(&mut r, ME, 201, 67.0, 29, None, false); // slot 6
        attempt(&mut r, ME, 300, 1, 70.0, 73.0); // slot 0
        r
    }

    #[test]
    fn engagement_reproduces_the_worked_example() {
        let w = w7(73.5);
        assert_eq!(
            w.now.to_rfc3339(),
            "2025-03-15T12:00:00+00:00",
            "fixture's now"
        );
        let e = engagement(&ds(worked_example()), id(ME), &w).expect("engagement");
        assert_eq!(e.overall_score, 68.30);
        assert_eq!(e.level, "medium");
        assert_eq!(
            e.components,
            EngagementComponents {
                regularity: Some(57.14),
                activity: Some(100.0),
                time_spent: None,
                assessment_submission: Some(50.0),
            }
        );
        assert_eq!(
            e.weights,
            EngagementComponents {
                regularity: Some(0.375),
                activity: Some(0.3125),
                time_spent: None,
                assessment_submission: Some(0.3125),
            }
        );
        assert_eq!(e.header.notes, ["NO_TIME_SPENT_DATA"]);
        assert_eq!(e.weekly_engagement.len(), 1);
        let week = &e.weekly_engagement[0];
        assert_eq!(
            (week.active_days, week.activity_count, week.clicks),
            (4, 120, 119)
        );
        assert_eq!(
            (week.time_spent_seconds, week.assessment_attempts),
            (None, 1)
        );
        let b = &e.activity_breakdown;
        assert_eq!((b.active_days, b.activity_count, b.clicks), (4, 120, 119));
        assert_eq!((b.content_interactions, b.assessment_attempts), (4, 1));
        assert_eq!(b.by_content_type.get("video"), Some(&60));
        assert_eq!(b.by_content_type.get("reading"), Some(&59));
        // W' = (day 59.5, day 66.5]: enrolled (day 50), no activity by
        // anyone, nothing due → regularity 0, activity 0 → previous 0.
        assert_eq!(e.trends.previous_score, Some(0.0));
        assert_eq!(e.trends.change, Some(68.30));
        assert_eq!(e.trends.direction, "up");
    }

    #[test]
    fn engagement_with_time_spent_and_no_due_work() {
        // 30d, now = day 70, course 100; subject 10 and peers 11, 12.
        // Subject: 2 interactions (days 65, 69.5: slots 4 and 0), 10 + 10
        // clicks, 600 + 0 s. Peer 11: 40 clicks, 1800 s; peer 12: 0 events.
        // regularity = 100 × 2 / 30 = 6.6667
        // activity: counts 20, 40, 0 → m = 20 → 100 × min(1, 20/20) = 100
        // time: 600, 1800, 0 → m_τ = 600 → 100
        // nothing due → submission absent
        // score = (0.3 × 6.6667 + 0.25 × 100 + 0.2 × 100) / 0.75
        //       = (2 + 25 + 20) / 0.75 = 62.6667 → medium
        let mut r = records();
        course(&mut r, 100, 0.0, None);
        item(&mut r, 200, 100, ContentType::Video);
        for n in [ME, 11, 12] {
            user(&mut r, n, L, None);
            enrol(&mut r, n, n, 100, 10.0);
        }
        interact(&mut r, ME, 200, 65.0, 10, Some(600), false);
        interact(&mut r, ME, 200, 69.5, 10, Some(0), false);
        interact(&mut r, 11, 200, 66.0, 40, Some(1800), false);
        let e = engagement(&ds(r), id(ME), &w30(70.0)).expect("engagement");
        assert_eq!(e.components.regularity, Some(6.67));
        assert_eq!(e.components.activity, Some(100.0));
        assert_eq!(e.components.time_spent, Some(100.0));
        assert_eq!(e.components.assessment_submission, None);
        assert_eq!(e.overall_score, 62.67);
        assert_eq!(e.level, "medium");
        assert_eq!(e.weights.regularity, Some(0.4));
        assert_eq!(e.weights.time_spent, Some(0.2667));
        assert!(e.header.notes.is_empty());
        assert_eq!(e.weekly_engagement.len(), 5);
        let newest = &e.weekly_engagement[4];
        assert_eq!(newest.week_end, day(70.0));
        assert_eq!(newest.time_spent_seconds, Some(600));
        assert_eq!(e.weekly_engagement[0].time_spent_seconds, Some(0));
        assert_eq!(e.activity_breakdown.time_spent_seconds, Some(600));
    }

    #[test]
    fn engagement_needs_an_enrolment_in_the_window() {
        let mut r = worked_example();
        for e in r.enrolments.iter_mut().filter(|e| e.user_id == id(ME)) {
            e.status = EnrolmentStatus::Withdrawn;
            e.withdrawn_at = Some(day(60.0));
        }
        assert_eq!(
            reason(engagement(&ds(r), id(ME), &w7(73.5)).expect_err("422")),
            "NO_ENROLMENT_IN_WINDOW"
        );
    }

    // ---- mastery ----

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

    // ---- performance ----

    fn performance_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        assessment(&mut r, 300, 100, 100.0, 30.0, Some(50.0)); // A quiz
        assessment(&mut r, 301, 100, 100.0, 30.0, Some(60.0)); // B exam, pass 50
        assessment(&mut r, 302, 100, 20.0, 40.0, None); // C assignment
        r.assessments[0].kind = AssessmentKind::Quiz;
        r.assessments[1].kind = AssessmentKind::Exam;
        r.assessments[1].pass_score = Some(50.0);
        let e = enrol(&mut r, 1, ME, 100, 0.0);
        r.enrolments[e].progress = 0.4;
        item(&mut r, 200, 100, ContentType::Video);
        attempt(&mut r, ME, 300, 1, 60.0, 20.0); // W'
        attempt(&mut r, ME, 300, 2, 30.0, 45.0);
        attempt(&mut r, ME, 300, 3, 80.0, 48.0);
        attempt(&mut r, ME, 301, 1, 45.0, 62.0); // late (due 60)
        attempt(&mut r, ME, 302, 1, 10.0, 65.0); // 50 %
        interact(&mut r, ME, 200, 50.0, 3, Some(600), false);
        interact(&mut r, ME, 200, 51.0, 3, None, false);
        r
    }

    #[test]
    fn performance_by_hand() {
        // now = day 70, 30d: W = (40, 70], W' = (10, 40].
        // Results: A 80 (passed, on time: first attempt day 20 ≤ 50),
        //          B 45 (< pass 50: failed; first attempt 62 > 60: late),
        //          C 50 (≥ 40 %: passed, no due date).
        // averageScore = (80 + 45 + 50) / 3 = 58.3333
        // passRate = 100 × 2 / 3 = 66.6667; onTimeRate = 100 × 1 / 2 = 50
        // overall = 0.6 × 58.3333 + 0.25 × 66.6667 + 0.15 × 50
        //         = 35 + 16.6667 + 7.5 = 59.1667
        // W': A 60 → previous 60, change −1.6667.
        let p = performance(&ds(performance_fixture()), id(ME), &w30(70.0)).expect("perf");
        assert_eq!(p.average_score, 58.33);
        assert_eq!(p.pass_rate, 66.67);
        assert_eq!(p.on_time_rate, Some(50.0));
        assert_eq!(p.overall_performance, 59.17);
        assert_eq!(p.weights.average_score, Some(0.6));
        assert_eq!(p.weights.pass_rate, Some(0.25));
        assert_eq!(p.weights.on_time_rate, Some(0.15));
        assert_eq!(p.components.pass_rate, Some(66.67));
        let scores: Vec<_> = p
            .assessment_scores
            .iter()
            .map(|s| (s.kind, s.score_percent, s.attempts, s.passed, s.late))
            .collect();
        assert_eq!(
            scores,
            [
                ("quiz", 80.0, 2, true, false),
                ("exam", 45.0, 1, false, true),
                ("assignment", 50.0, 1, true, false),
            ]
        );
        assert_eq!(p.assessment_scores[0].submitted_at, day(48.0));
        assert_eq!(p.time_spent, Some(600));
        assert_eq!(p.course_progress.len(), 1);
        assert_eq!(p.course_progress[0].progress, 40.0);
        assert_eq!(p.course_progress[0].status, "active");
        assert_eq!(
            p.strengths,
            [AreaScore {
                area: "quiz",
                average_score: 80.0,
                count: 1
            }]
        );
        assert_eq!(p.areas_for_improvement.len(), 1);
        assert_eq!(p.areas_for_improvement[0].area, "exam");
        assert_eq!(p.trend.previous_average_score, Some(60.0));
        assert_eq!(p.trend.change, Some(-1.67));
        assert!(p.header.notes.is_empty());
    }

    #[test]
    fn performance_needs_a_scored_attempt_in_the_window() {
        // At day 100 (W = (70, 100]) nothing was submitted.
        assert_eq!(
            reason(performance(&ds(performance_fixture()), id(ME), &w30(100.0)).expect_err("422")),
            "NO_SCORED_ATTEMPTS"
        );
    }

    // ---- content-effectiveness ----

    fn content_fixture() -> Records {
        let mut r = records();
        user(&mut r, ME, L, None);
        course(&mut r, 100, 0.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        item(&mut r, 200, 100, ContentType::Video);
        item(&mut r, 210, 100, ContentType::Reading);
        item(&mut r, 220, 100, ContentType::Quiz);
        item(&mut r, 230, 100, ContentType::Forum);
        item(&mut r, 231, 100, ContentType::Forum);
        for a in 300..303 {
            assessment(&mut r, a, 100, 100.0, 30.0, None);
        }
        interact(&mut r, ME, 200, hours(50.0, 6.0), 10, Some(600), true);
        interact(
            &mut r,
            ME,
            210,
            hours(50.0, 6.0 + 20.0 / 60.0),
            5,
            Some(1200),
            false,
        );
        interact(&mut r, ME, 200, hours(58.0, 19.0), 20, Some(1800), false);
        interact(&mut r, ME, 210, hours(64.0, 13.0), 5, Some(600), true);
        attempt(&mut r, ME, 300, 1, 80.0, 52.0);
        attempt(&mut r, ME, 301, 1, 40.0, 60.0);
        attempt(&mut r, ME, 302, 1, 100.0, 66.0);
        r
    }

    #[test]
    fn content_effectiveness_by_hand() {
        // now = day 70, 30d. Results: A 80 (day 52), B 40 (day 60),
        // C 100 (day 66); averageScore = 220 / 3 = 73.3333.
        // Lead-in clicks (14 days before each result):
        //   A: video 10, reading 5; B: video 30, reading 5; C: video 20, reading 5.
        // video: evidence 3, (10×80 + 30×40 + 20×100) / 60 = 66.6667, lift −6.6667
        // reading: evidence 3, (5×80 + 5×40 + 5×100) / 15 = 73.3333, lift 0
        // overall = (15×80 + 35×40 + 25×100) / 75 = 5100 / 75 = 68
        // Time: video 2400 s, reading 1800 s → video 57 % ≥ 40 % → visual.
        // Completion recorded (course 100 has completed rows): 1/2 each = 50.
        // Sessions: [06:00–06:40] 40 min (completed), [19:00–19:30] 30 min,
        // [13:00–13:10] 10 min (completed) → median of 40, 10 = 25.
        // Bands: morning 15, afternoon 5, evening 20 → evening.
        // Recommendations: combine video; try forum (2 items), quiz (1).
        let c = content_effectiveness(&ds(content_fixture()), id(ME), &w30(70.0)).expect("ce");
        assert_eq!(c.content_effectiveness, Some(68.0));
        assert_eq!(
            c.content_types,
            [
                ContentTypeStats {
                    content_type: "reading",
                    interactions: 2,
                    clicks: 10,
                    time_spent_seconds: Some(1800),
                    completion_rate: Some(50.0),
                    effectiveness_score: Some(73.33),
                    lift: Some(0.0),
                    evidence: 3,
                },
                ContentTypeStats {
                    content_type: "video",
                    interactions: 2,
                    clicks: 30,
                    time_spent_seconds: Some(2400),
                    completion_rate: Some(50.0),
                    effectiveness_score: Some(66.67),
                    lift: Some(-6.67),
                    evidence: 3,
                },
            ]
        );
        assert_eq!(c.preferred_learning_style, "visual");
        assert_eq!(c.optimal_session_length, Some(25.0));
        assert_eq!(c.best_time_of_day, Some("evening"));
        let recs: Vec<_> = c
            .recommendations
            .iter()
            .map(|x| (x.content_type, x.action))
            .collect();
        assert_eq!(
            recs,
            [
                ("video", "combine_with_practice"),
                ("forum", "try"),
                ("quiz", "try"),
            ]
        );
        assert!(c.header.notes.is_empty());
    }

    #[test]
    fn content_effectiveness_on_day_precision_click_logs() {
        // OULAD-like: midnight timestamps, no time, no completion.
        // Clicks: video 30, reading 10 → video 75 % → visual (by clicks).
        // Single result (A 80): evidence 1 < 2 → effectivenessScore null;
        // overall = 80 (all lead-in clicks precede A).
        let mut r = records();
        user(&mut r, ME, L, None);
        r.users[0].time_zone = "Europe/Paris".into();
        course(&mut r, 100, 0.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        item(&mut r, 200, 100, ContentType::Video);
        item(&mut r, 210, 100, ContentType::Reading);
        assessment(&mut r, 300, 100, 100.0, 30.0, None);
        interact(&mut r, ME, 200, 60.0, 30, None, false);
        interact(&mut r, ME, 210, 61.0, 10, None, false);
        attempt(&mut r, ME, 300, 1, 80.0, 62.0);
        let c = content_effectiveness(&ds(r), id(ME), &w30(70.0)).expect("ce");
        assert_eq!(c.content_effectiveness, Some(80.0));
        assert_eq!(c.preferred_learning_style, "visual");
        assert_eq!(c.optimal_session_length, None);
        assert_eq!(c.best_time_of_day, None);
        assert_eq!(
            c.header.notes,
            ["NO_TIME_SPENT_DATA", "DAY_PRECISION_TIMESTAMPS"]
        );
        assert!(c.content_types.iter().all(|t| t.completion_rate.is_none()
            && t.effectiveness_score.is_none()
            && t.evidence == 1));
    }

    #[test]
    fn content_effectiveness_needs_an_interaction_in_the_window() {
        assert_eq!(
            reason(
                content_effectiveness(&ds(content_fixture()), id(ME), &w30(120.0))
                    .expect_err("422")
            ),
            "NO_CONTENT_ACTIVITY"
        );
    }

    #[test]
    fn fixed_offsets_need_no_time_zone_database() {
        assert_eq!(fixed_offset("UTC"), Some(0));
        assert_eq!(fixed_offset("Etc/GMT+5"), Some(-5 * 3600));
        assert_eq!(fixed_offset("Etc/GMT-8"), Some(8 * 3600));
        assert_eq!(fixed_offset("+05:30"), Some(5 * 3600 + 30 * 60));
        assert_eq!(fixed_offset("-0100"), Some(-3600));
        assert_eq!(fixed_offset("Europe/Paris"), None);
        assert_eq!(fixed_offset("nonsense"), None);
        assert_eq!(
            (band(4), band(5), band(12), band(17), band(22)),
            (3, 0, 1, 2, 3)
        );
    }
}
