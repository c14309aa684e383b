//! recommendations (docs/analytics.md §9.3): what the learner should do
//! next, ranked by `rankScore` = 100 × source weight × strength, each with
//! a reason built from a fixed template.
//!
//! skill-gap (§5.2), content-effectiveness (§5.6), engagement (§5.3) and
//! the Learner AI suggestions come in as plain data
//! ([`RecommendationInputs`]); deadlines and the catalogue are read from
//! the dataset.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::common::{
    LearnerRule, Steps, best_attempt, learner_subject, mean, r2, r4, score_percent,
};
use super::{Dataset, Header, Window};
use crate::model::{AssessmentKind, ContentItem, ContentType, CourseStatus, EnrolmentStatus};

const ANALYTIC: &str = "recommendations";
/// Deadlines within this many days are candidates.
pub const DEADLINE_DAYS: f64 = 14.0;
/// A skill gap of this size (0–1, i.e. 2 levels) has full strength.
pub const FULL_GAP_SIZE: f64 = 0.4;
/// A content lift of this many points has full strength.
pub const FULL_LIFT: f64 = 20.0;
/// Content types need at least this lift and evidence (§5.6).
pub const MIN_LIFT: f64 = 5.0;
pub const MIN_EVIDENCE: u32 = 2;
/// Learner AI suggestions older than this are left out.
pub const AI_MAX_AGE_HOURS: i64 = 6;
/// Strength of an AI suggestion without a score.
pub const AI_DEFAULT_SCORE: f64 = 0.5;
/// At most this many recommendations are returned.
pub const TOP: usize = 10;
/// A strongest assessment kind must average at least this (a §5.5 strength).
pub const STRENGTH_MEAN: f64 = 70.0;
/// The `missingSources` name of the Learner AI service.
pub const LEARNER_AI: &str = "learner-ai";

// ---------------------------------------------------------------- inputs

/// The other analytics' answers that recommendations build on.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationInputs {
    /// `LUMEN_K_ANONYMITY` (≥ 2), for the catalogue source.
    pub k_anonymity: usize,
    /// skill-gap (§5.2); `None` when it answered 422 (note `NO_SKILL_DATA`).
    pub skill_gap: Option<SkillGapInput>,
    /// content-effectiveness (§5.6); `None` when it answered 422 (note
    /// `NO_CONTENT_ACTIVITY`).
    pub content: Option<ContentInput>,
    /// engagement (§5.3) trend, for an insight; `None` when unavailable.
    pub engagement: Option<EngagementInput>,
    /// `None`: the Learner AI service is unavailable; `Some(list)`: the
    /// stored suggestions for the learner (stale ones are filtered here).
    pub ai_suggestions: Option<Vec<AiSuggestion>>,
}

impl Default for RecommendationInputs {
    fn default() -> Self {
        Self {
            k_anonymity: 5,
            skill_gap: None,
            content: None,
            engagement: None,
            ai_suggestions: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkillGapInput {
    /// `"job-role"` | `"organization-targets"`.
    pub requirement_source: String,
    /// `summary.coveragePercent` (0–100), unrounded.
    pub coverage_percent: Option<f64>,
    /// The gaps with gapLevels > 0 (others are ignored).
    pub gaps: Vec<GapInput>,
}

impl From<&super::learner::SkillGap> for SkillGapInput {
    fn from(g: &super::learner::SkillGap) -> Self {
        SkillGapInput {
            requirement_source: g.requirement_source.to_owned(),
            coverage_percent: Some(g.summary.coverage_percent),
            gaps: g
                .gaps
                .iter()
                .filter(|x| x.gap_size > 0.0)
                .map(|x| GapInput {
                    skill_id: x.skill_id,
                    skill_name: x.skill_name.clone(),
                    // skill-gap reports levels on 0–1 (level / 5).
                    gap_levels: (x.required_level - x.current_level) * 5.0,
                    required_level: x.required_level * 5.0,
                    assessed: x.assessed,
                    action: if x.assessed {
                        "complete_course"
                    } else {
                        "take_skill_assessment"
                    }
                    .to_owned(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GapInput {
    pub skill_id: Uuid,
    pub skill_name: String,
    /// required − current, in levels (0–5), unrounded.
    pub gap_levels: f64,
    /// required level, 0–5.
    pub required_level: f64,
    pub assessed: bool,
    /// §5.2 action: `take_skill_assessment` | `complete_course` | `practice`.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContentInput {
    pub types: Vec<ContentTypeInput>,
    pub preferred_learning_style: Option<String>,
    pub best_time_of_day: Option<String>,
    /// Minutes.
    pub optimal_session_length: Option<f64>,
}

impl From<&super::learner::ContentEffectiveness> for ContentInput {
    fn from(c: &super::learner::ContentEffectiveness) -> Self {
        ContentInput {
            types: c
                .content_types
                .iter()
                .filter_map(|t| {
                    Some(ContentTypeInput {
                        content_type: t.content_type.parse().ok()?,
                        lift: t.lift,
                        evidence: t.evidence as u32,
                    })
                })
                .collect(),
            preferred_learning_style: Some(c.preferred_learning_style.to_owned()),
            best_time_of_day: c.best_time_of_day.map(str::to_owned),
            optimal_session_length: c.optimal_session_length,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContentTypeInput {
    pub content_type: ContentType,
    /// effectivenessScore − averageScore (points), unrounded; `None` below
    /// the evidence minimum.
    pub lift: Option<f64>,
    pub evidence: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngagementInput {
    /// `trends.change` (points), `None` when there was no previous score.
    pub change: Option<f64>,
    /// `up` | `down` | `stable`.
    pub direction: String,
}

impl From<&super::learner::Engagement> for EngagementInput {
    fn from(e: &super::learner::Engagement) -> Self {
        EngagementInput {
            change: e.trends.change,
            direction: e.trends.direction.to_owned(),
        }
    }
}

/// One stored Learner AI suggestion (§11 item 4).
#[derive(Debug, Clone, PartialEq)]
pub struct AiSuggestion {
    /// `item_type`: `course` | `content` | `assessment` | `skill` | other.
    pub kind: String,
    /// `item_ref`, when the suggestion targets a known item.
    pub target_id: Option<String>,
    pub title: String,
    /// The service's own score (0–1), if it gives one.
    pub score: Option<f64>,
    pub generated_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- output

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendations {
    #[serde(flatten)]
    pub header: Header,
    pub recommendations: Vec<RankedRecommendation>,
    pub personalized_insights: Vec<PersonalizedInsight>,
    pub learning_preferences: LearningPreferences,
    pub career_alignment: Option<CareerAlignment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RankedRecommendation {
    /// 1 … 10.
    pub rank: usize,
    /// `deadline` | `skill-gap` | `learner-ai` | `content-type` | `catalogue`.
    pub source: &'static str,
    /// `assessment` | `skill` | `content` | `course` | `external`.
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub title: String,
    /// 100 × weight × strength (0–100).
    pub rank_score: f64,
    pub reason: String,
    /// The numbers behind the score: always `weight` and `strength`, plus
    /// the source's own (see §9.3).
    pub evidence: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalizedInsight {
    /// `engagement_trend` | `best_time_of_day` | `strongest_assessment_kind`.
    pub code: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LearningPreferences {
    pub preferred_learning_style: Option<String>,
    pub best_time_of_day: Option<String>,
    pub optimal_session_length: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CareerAlignment {
    pub job_role: Option<String>,
    pub coverage_percent: Option<f64>,
    pub requirement_source: String,
}

// ---------------------------------------------------------------- ranking

/// The sources in the table's order (their index breaks rankScore ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Deadline,
    SkillGap,
    LearnerAi,
    ContentType,
    Catalogue,
}

impl Source {
    fn weight(self) -> f64 {
        match self {
            Source::Deadline => 1.0,
            Source::SkillGap => 0.9,
            Source::LearnerAi => 0.8,
            Source::ContentType => 0.6,
            Source::Catalogue => 0.5,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Source::Deadline => "deadline",
            Source::SkillGap => "skill-gap",
            Source::LearnerAi => LEARNER_AI,
            Source::ContentType => "content-type",
            Source::Catalogue => "catalogue",
        }
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    source: Source,
    target_type: &'static str,
    target_id: Option<String>,
    title: String,
    strength: f64,
    reason: String,
    evidence: Vec<(&'static str, f64)>,
}

impl Candidate {
    fn rank_score(&self) -> f64 {
        100.0 * self.source.weight() * self.strength
    }
}

/// rankScore desc, then source in table order, then target id (missing
/// last), then title.
fn ranking(a: &Candidate, b: &Candidate) -> Ordering {
    b.rank_score()
        .total_cmp(&a.rank_score())
        .then(a.source.cmp(&b.source))
        .then_with(|| match (&a.target_id, &b.target_id) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.title.cmp(&b.title))
}

/// Formats a number for a text: 2 decimals, trailing zeros dropped.
fn num(x: f64) -> String {
    format!("{}", r2(x) + 0.0)
}

fn plural(x: f64, one: &str, many: &str) -> String {
    let word = if r2(x) == 1.0 { one } else { many };
    format!("{} {word}", num(x))
}

fn content_type_label(t: ContentType) -> String {
    let s = t.as_str();
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn ai_target_type(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "course" => "course",
        "content" | "content_item" | "content-item" => "content",
        "assessment" => "assessment",
        "skill" => "skill",
        _ => "external",
    }
}

// ---------------------------------------------------------------- sources

fn deadlines(ds: &Dataset, learner: Uuid, w: &Window) -> Vec<Candidate> {
    let now = w.now;
    let mut out = Vec::new();
    let active: HashSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= now)
        .map(|e| e.course_id)
        .collect();
    for a in ds
        .records
        .assessments
        .iter()
        .filter(|a| active.contains(&a.course_id))
    {
        let Some(due) = a.due_at else { continue };
        if due <= now || due > now + Duration::days(DEADLINE_DAYS as i64) {
            continue;
        }
        let submitted = ds
            .attempts_of(learner)
            .any(|x| x.assessment_id == a.id && x.submitted_at <= now);
        if submitted {
            continue;
        }
        let days = (due - now).num_seconds() as f64 / 86_400.0;
        let strength = 1.0 - days / DEADLINE_DAYS;
        out.push(Candidate {
            source: Source::Deadline,
            target_type: "assessment",
            target_id: Some(a.id.to_string()),
            title: a.title.clone(),
            strength,
            reason: format!("Due in {}; not submitted yet", plural(days, "day", "days")),
            evidence: vec![("daysUntilDue", r2(days))],
        });
    }
    out
}

fn skill_gaps(input: &SkillGapInput) -> Vec<Candidate> {
    let below = if input.requirement_source == "organization-targets" {
        "your organisation's target"
    } else {
        "what your role requires"
    };
    input
        .gaps
        .iter()
        .filter(|g| g.gap_levels > 0.0)
        .map(|g| {
            let gap_size = g.gap_levels / 5.0;
            let title = match g.action.as_str() {
                "take_skill_assessment" => format!("Take a skill assessment in {}", g.skill_name),
                "complete_course" => format!("Complete a course in {}", g.skill_name),
                "practice" => format!("Practise {}", g.skill_name),
                _ => format!("Improve {}", g.skill_name),
            };
            let mut reason = format!(
                "{} is {} below {below}",
                g.skill_name,
                plural(g.gap_levels, "level", "levels")
            );
            if !g.assessed {
                reason.push_str(" (never assessed)");
            }
            Candidate {
                source: Source::SkillGap,
                target_type: "skill",
                target_id: Some(g.skill_id.to_string()),
                title,
                strength: (gap_size / FULL_GAP_SIZE).min(1.0),
                reason,
                evidence: vec![
                    ("gapLevels", r2(g.gap_levels)),
                    ("gapSize", r4(gap_size)),
                    ("requiredLevel", r4(g.required_level / 5.0)),
                ],
            }
        })
        .collect()
}

fn fresh_ai(list: &[AiSuggestion], now: DateTime<Utc>) -> Vec<&AiSuggestion> {
    list.iter()
        .filter(|s| {
            s.generated_at <= now && now - s.generated_at < Duration::hours(AI_MAX_AGE_HOURS)
        })
        .collect()
}

fn ai_candidates(fresh: &[&AiSuggestion]) -> Vec<Candidate> {
    fresh
        .iter()
        .map(|s| {
            let score = s.score.map(|x| x.clamp(0.0, 1.0));
            let reason = match score {
                Some(x) => format!("Suggested by Learner AI (score {})", num_4(x)),
                None => "Suggested by Learner AI".to_owned(),
            };
            let mut evidence = Vec::new();
            if let Some(x) = score {
                evidence.push(("aiScore", r4(x)));
            }
            Candidate {
                source: Source::LearnerAi,
                target_type: ai_target_type(&s.kind),
                target_id: s.target_id.clone(),
                title: s.title.clone(),
                strength: score.unwrap_or(AI_DEFAULT_SCORE),
                reason,
                evidence,
            }
        })
        .collect()
}

fn num_4(x: f64) -> String {
    format!("{}", r4(x) + 0.0)
}

/// For each type with lift ≥ 5 and evidence ≥ 2: the first item of that
/// type the learner has not done, over the active enrolments (by
/// `enrolled_at`, then course id), by unit position (items without a unit
/// last), title, then id.
fn content_candidates(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    input: &ContentInput,
) -> Vec<Candidate> {
    let now = w.now;
    let mut enrolments: Vec<_> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= now)
        .collect();
    enrolments.sort_by_key(|e| (e.enrolled_at, e.course_id));
    let unit_position = |item: &ContentItem| {
        item.unit_id
            .and_then(|u| ds.unit(u))
            .map_or(i64::MAX, |u| i64::from(u.position))
    };
    let mut out = Vec::new();
    for t in &input.types {
        let Some(lift) = t.lift else { continue };
        if lift < MIN_LIFT || t.evidence < MIN_EVIDENCE {
            continue;
        }
        let mut found = None;
        for e in &enrolments {
            let tracks_completion = !Steps::of(ds, e.course_id).content_items.is_empty();
            let mut items: Vec<&ContentItem> = ds
                .content_of_course(e.course_id)
                .filter(|i| i.content_type == t.content_type)
                .filter(|i| {
                    !ds.interactions_of(learner).any(|x| {
                        x.content_item_id == i.id
                            && x.occurred_at <= now
                            && (x.completed || !tracks_completion)
                    })
                })
                .collect();
            items.sort_by(|a, b| {
                unit_position(a)
                    .cmp(&unit_position(b))
                    .then_with(|| a.title.cmp(&b.title))
                    .then(a.id.cmp(&b.id))
            });
            if let Some(first) = items.first() {
                found = Some(*first);
                break;
            }
        }
        let Some(item) = found else { continue };
        out.push(Candidate {
            source: Source::ContentType,
            target_type: "content",
            target_id: Some(item.id.to_string()),
            title: item.title.clone(),
            strength: (lift / FULL_LIFT).min(1.0),
            reason: format!(
                "{} content was followed by scores {} points above your average",
                content_type_label(t.content_type),
                num(lift)
            ),
            evidence: vec![("lift", r2(lift)), ("evidence", f64::from(t.evidence))],
        });
    }
    out
}

/// Published courses the learner is not enrolled in, adopted by ≥ k of
/// the department's ≥ k learners.
fn catalogue(ds: &Dataset, learner: Uuid, w: &Window, k: usize) -> Vec<Candidate> {
    let now = w.now;
    let Some(user) = ds.user(learner) else {
        return Vec::new();
    };
    let department: Vec<Uuid> = ds
        .learners()
        .filter(|u| u.organization_id == user.organization_id)
        .filter(|u| u.department_id == user.department_id)
        .map(|u| u.id)
        .collect();
    if department.len() < k {
        return Vec::new();
    }
    let in_department: HashSet<Uuid> = department.iter().copied().collect();
    let mine: HashSet<Uuid> = ds.enrolments_of(learner).map(|e| e.course_id).collect();
    let mut out = Vec::new();
    for c in &ds.records.courses {
        if c.status != CourseStatus::Published
            || c.organization_id != user.organization_id
            || mine.contains(&c.id)
        {
            continue;
        }
        let enrolled: HashSet<Uuid> = ds
            .enrolments_in(c.id)
            .filter(|e| e.enrolled_at <= now && in_department.contains(&e.user_id))
            .map(|e| e.user_id)
            .collect();
        if enrolled.len() < k {
            continue;
        }
        let share = enrolled.len() as f64 / department.len() as f64;
        out.push(Candidate {
            source: Source::Catalogue,
            target_type: "course",
            target_id: Some(c.id.to_string()),
            title: c.title.clone(),
            strength: share,
            reason: format!("Used by {} % of your department", num(100.0 * share)),
            evidence: vec![
                ("departmentLearners", department.len() as f64),
                ("enrolledLearners", enrolled.len() as f64),
            ],
        });
    }
    out
}

// ---------------------------------------------------------------- insights

fn kind_label(k: AssessmentKind) -> &'static str {
    match k {
        AssessmentKind::Quiz => "quiz",
        AssessmentKind::Assignment => "assignment",
        AssessmentKind::Exam => "exam",
        AssessmentKind::Lab => "lab",
        AssessmentKind::Other => "other",
    }
}

/// The kind with the highest mean result in W among §5.5 strengths (mean
/// ≥ 70), over assessments of courses the learner is or was enrolled in;
/// ties by kind name.
fn strongest_kind(ds: &Dataset, learner: Uuid, w: &Window) -> Option<(AssessmentKind, f64)> {
    let courses: HashSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| e.enrolled_at <= w.now)
        .map(|e| e.course_id)
        .collect();
    let mut by_kind: BTreeMap<&'static str, (AssessmentKind, Vec<f64>)> = BTreeMap::new();
    for a in ds
        .records
        .assessments
        .iter()
        .filter(|a| courses.contains(&a.course_id))
    {
        if let Some(best) = best_attempt(ds, learner, a, |t| w.contains(t)) {
            by_kind
                .entry(kind_label(a.kind))
                .or_insert((a.kind, Vec::new()))
                .1
                .push(score_percent(best, a));
        }
    }
    by_kind
        .into_values()
        // A strength needs at least 2 results, as in performance (§5.5).
        .filter(|(_, v)| v.len() >= 2)
        .filter_map(|(k, v)| mean(v).map(|m| (k, m)))
        .filter(|(_, m)| *m >= STRENGTH_MEAN)
        // max_by keeps the last of equals; iterate reversed so the first name wins.
        .rev()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn insights(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    inputs: &RecommendationInputs,
) -> Vec<PersonalizedInsight> {
    let mut out = Vec::new();
    if let Some(e) = &inputs.engagement
        && let Some(change) = e.change
    {
        let text = match e.direction.as_str() {
            "up" => format!(
                "Your engagement is up {} points on the previous period.",
                num(change.abs())
            ),
            "down" => format!(
                "Your engagement is down {} points on the previous period.",
                num(change.abs())
            ),
            _ => "Your engagement is steady compared with the previous period.".to_owned(),
        };
        out.push(PersonalizedInsight {
            code: "engagement_trend",
            text,
        });
    }
    if let Some(band) = inputs
        .content
        .as_ref()
        .and_then(|c| c.best_time_of_day.as_ref())
    {
        out.push(PersonalizedInsight {
            code: "best_time_of_day",
            // "at night", not "in the night" (§9.3).
            text: if *band == "night" {
                "You are most active at night.".to_owned()
            } else {
                format!("You are most active in the {band}.")
            },
        });
    }
    if let Some((kind, m)) = strongest_kind(ds, learner, w) {
        out.push(PersonalizedInsight {
            code: "strongest_assessment_kind",
            text: format!(
                "Your strongest assessments are {} ({} % on average).",
                kind_label(kind),
                num(m)
            ),
        });
    }
    out
}

// ---------------------------------------------------------------- analytic

/// Ranked, explained recommendations for the learner (§9.3).
pub fn recommendations(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    inputs: &RecommendationInputs,
) -> Result<Recommendations, super::AnalyticError> {
    learner_subject(ds, learner, w, LearnerRule::PREDICTIVE)?;
    let mut header = Header::new(ANALYTIC, Some(learner), w);
    let mut all = Vec::new();

    let c = deadlines(ds, learner, w);
    if c.is_empty() {
        header.note("NO_UPCOMING_DEADLINES");
    }
    all.extend(c);

    match &inputs.skill_gap {
        None => header.note("NO_SKILL_DATA"),
        Some(sg) => {
            let c = skill_gaps(sg);
            if c.is_empty() {
                header.note("NO_SKILL_GAPS");
            }
            all.extend(c);
        }
    }

    match &inputs.ai_suggestions {
        None => header.missing_sources.push(LEARNER_AI.to_owned()),
        Some(list) => {
            let fresh = fresh_ai(list, w.now);
            if fresh.is_empty() && !list.is_empty() {
                // Only stale suggestions: the service has not answered lately.
                header.missing_sources.push(LEARNER_AI.to_owned());
            } else if fresh.is_empty() {
                header.note("NO_AI_SUGGESTIONS");
            }
            all.extend(ai_candidates(&fresh));
        }
    }

    match &inputs.content {
        None => header.note("NO_CONTENT_ACTIVITY"),
        Some(ci) => {
            let c = content_candidates(ds, learner, w, ci);
            if c.is_empty() {
                header.note("NO_EFFECTIVE_CONTENT");
            }
            all.extend(c);
        }
    }

    let c = catalogue(ds, learner, w, inputs.k_anonymity.max(2));
    if c.is_empty() {
        header.note("NO_CATALOGUE_MATCH");
    }
    all.extend(c);

    all.sort_by(ranking);
    let mut seen: HashSet<(&'static str, String)> = HashSet::new();
    let mut ranked = Vec::new();
    for cand in all {
        if let Some(id) = &cand.target_id
            && !seen.insert((cand.target_type, id.clone()))
        {
            continue; // a duplicate target: the higher one is already in
        }
        if ranked.len() == TOP {
            break;
        }
        let mut evidence: BTreeMap<String, f64> = cand
            .evidence
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        evidence.insert("weight".into(), cand.source.weight());
        evidence.insert("strength".into(), r4(cand.strength));
        ranked.push(RankedRecommendation {
            rank: ranked.len() + 1,
            source: cand.source.name(),
            target_type: cand.target_type,
            target_id: cand.target_id.clone(),
            title: cand.title.clone(),
            rank_score: r2(cand.rank_score()),
            reason: cand.reason.clone(),
            evidence,
        });
    }

    let personalized_insights = insights(ds, learner, w, inputs);
    let learning_preferences = match &inputs.content {
        Some(c) => LearningPreferences {
            preferred_learning_style: c.preferred_learning_style.clone(),
            best_time_of_day: c.best_time_of_day.clone(),
            optimal_session_length: c.optimal_session_length.map(r2),
        },
        None => LearningPreferences {
            preferred_learning_style: None,
            best_time_of_day: None,
            optimal_session_length: None,
        },
    };
    let career_alignment = inputs.skill_gap.as_ref().map(|sg| CareerAlignment {
        job_role: ds.user(learner).and_then(|u| u.job_role.clone()),
        coverage_percent: sg.coverage_percent.map(r2),
        requirement_source: sg.requirement_source.clone(),
    });

    Ok(Recommendations {
        header,
        recommendations: ranked,
        personalized_insights,
        learning_preferences,
        career_alignment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::*;
    use crate::analytics::{AnalyticError, TimeRange};
    use crate::model::CourseUnit;

    const LEARNER: u128 = 10;
    const DEPT: u128 = 7;
    const COURSE: u128 = 3;
    const REACT: u128 = 60;
    const SQL: u128 = 61;

    fn now() -> DateTime<Utc> {
        day(100.0)
    }

    fn window() -> Window {
        Window::new(TimeRange::Days30, now())
    }

    fn unit(r: &mut Records, n: u128, course: u128, position: i32) {
        r.units.push(CourseUnit {
            id: id(n),
            course_id: id(course),
            origin: None,
            title: format!("Unit {n}"),
            position,
        });
    }

    /// Learner 10 in department 7 (6 learners: 10 … 15), active in course 3.
    fn fixture() -> Records {
        let mut r = records();
        for n in LEARNER..=15 {
            user(&mut r, n, &[Role::Learner], Some(DEPT));
        }
        course(&mut r, COURSE, 0.0, None);
        enrol(&mut r, 100, LEARNER, COURSE, 0.0);
        // Deadlines: 30 due in 3 days, 31 in 10 days; 32 due tomorrow but
        // submitted (score 80), 33 due in 20 days, 34 already past.
        for (n, due) in [
            (30, 103.0),
            (31, 110.0),
            (32, 101.0),
            (33, 120.0),
            (34, 99.0),
        ] {
            assessment(&mut r, n, COURSE, 100.0, 10.0, Some(due));
        }
        attempt(&mut r, LEARNER, 32, 1, 80.0, 99.0);
        // Quiz items: 51 (unit 1) is first; 52 (unit 1, opened) is skipped;
        // 50 in unit 2; 53 has no unit.
        unit(&mut r, 40, COURSE, 1);
        unit(&mut r, 41, COURSE, 2);
        for (n, u) in [(50, Some(41)), (51, Some(40)), (52, Some(40)), (53, None)] {
            item(&mut r, n, COURSE, ContentType::Quiz);
            if let Some(it) = r.content_items.last_mut() {
                it.unit_id = u.map(id);
            }
        }
        interact(&mut r, LEARNER, 52, 98.0, 3, None, false);
        // Catalogue: course 4 taken by 5 of the 6 department learners, 5 by
        // 4 (< k), 6 is a draft.
        for c in [4, 5, 6] {
            course(&mut r, c, 0.0, None);
        }
        if let Some(c) = r.courses.last_mut() {
            c.status = CourseStatus::Draft;
        }
        let mut e = 200;
        for (c, users) in [(4, 11..=15), (5, 11..=14), (6, 11..=15)] {
            for u in users {
                e += 1;
                enrol(&mut r, e, u, c, 10.0);
            }
        }
        r
    }

    fn inputs() -> RecommendationInputs {
        RecommendationInputs {
            k_anonymity: 5,
            skill_gap: Some(SkillGapInput {
                requirement_source: "job-role".into(),
                coverage_percent: Some(100.0 / 3.0),
                gaps: vec![
                    GapInput {
                        skill_id: id(REACT),
                        skill_name: "React".into(),
                        gap_levels: 2.0,
                        required_level: 4.0,
                        assessed: true,
                        action: "complete_course".into(),
                    },
                    GapInput {
                        skill_id: id(SQL),
                        skill_name: "SQL".into(),
                        gap_levels: 1.0,
                        required_level: 1.0,
                        assessed: false,
                        action: "take_skill_assessment".into(),
                    },
                ],
            }),
            content: Some(ContentInput {
                types: vec![
                    ContentTypeInput {
                        content_type: ContentType::Quiz,
                        lift: Some(12.0),
                        evidence: 3,
                    },
                    ContentTypeInput {
                        content_type: ContentType::Video,
                        lift: Some(4.0),
                        evidence: 5,
                    },
                    ContentTypeInput {
                        content_type: ContentType::Reading,
                        lift: Some(30.0),
                        evidence: 1,
                    },
                ],
                preferred_learning_style: Some("practice".into()),
                best_time_of_day: Some("evening".into()),
                optimal_session_length: Some(42.123),
            }),
            engagement: Some(EngagementInput {
                change: Some(6.5),
                direction: "up".into(),
            }),
            ai_suggestions: Some(vec![
                AiSuggestion {
                    kind: "course".into(),
                    target_id: Some(id(4).to_string()),
                    title: "Course 4".into(),
                    score: Some(0.9),
                    generated_at: now() - Duration::hours(1),
                },
                AiSuggestion {
                    kind: "article".into(),
                    target_id: None,
                    title: "Read: hooks in depth".into(),
                    score: None,
                    generated_at: now() - Duration::hours(2),
                },
                // Same target as the SQL gap with the same rankScore 45.
                AiSuggestion {
                    kind: "skill".into(),
                    target_id: Some(id(SQL).to_string()),
                    title: "Learn SQL".into(),
                    score: Some(0.5625),
                    generated_at: now() - Duration::hours(3),
                },
                // Stale (7 h): left out.
                AiSuggestion {
                    kind: "course".into(),
                    target_id: Some(id(5).to_string()),
                    title: "Course 5".into(),
                    score: Some(1.0),
                    generated_at: now() - Duration::hours(7),
                },
            ]),
        }
    }

    #[test]
    fn candidates_are_ranked_by_weight_times_strength_and_explained() {
        let ds = Dataset::new(fixture());
        let out = recommendations(&ds, id(LEARNER), &window(), &inputs()).expect("ok");
        // rankScore = 100 × weight × strength:
        //   React gap 2 levels: 0.9 × min(1, 0.4 / 0.4) = 90
        //   assessment 30 due in 3 days: 1.0 × (1 − 3/14) = 78.571429
        //   AI course 4: 0.8 × 0.9 = 72 (beats catalogue course 4: 0.5 × 5/6 = 41.67)
        //   SQL gap 1 level: 0.9 × (0.2 / 0.4) = 45 (ties AI "Learn SQL" 0.8 × 0.5625
        //     = 45 on the same target: skill-gap comes first in the table)
        //   AI article without a score: 0.8 × 0.5 = 40
        //   quiz item 51: 0.6 × min(1, 12 / 20) = 36
        //   assessment 31 due in 10 days: 1.0 × (1 − 10/14) = 28.571429
        let got: Vec<(usize, &str, &str, Option<String>, f64)> = out
            .recommendations
            .iter()
            .map(|r| {
                (
                    r.rank,
                    r.source,
                    r.target_type,
                    r.target_id.clone(),
                    r.rank_score,
                )
            })
            .collect();
        let s = |n: u128| Some(id(n).to_string());
        assert_eq!(
            got,
            vec![
                (1, "skill-gap", "skill", s(REACT), 90.0),
                (2, "deadline", "assessment", s(30), 78.57),
                (3, "learner-ai", "course", s(4), 72.0),
                (4, "skill-gap", "skill", s(SQL), 45.0),
                (5, "learner-ai", "external", None, 40.0),
                (6, "content-type", "content", s(51), 36.0),
                (7, "deadline", "assessment", s(31), 28.57),
            ]
        );
        let reasons: Vec<&str> = out
            .recommendations
            .iter()
            .map(|r| r.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            vec![
                "React is 2 levels below what your role requires",
                "Due in 3 days; not submitted yet",
                "Suggested by Learner AI (score 0.9)",
                "SQL is 1 level below what your role requires (never assessed)",
                "Suggested by Learner AI",
                "Quiz content was followed by scores 12 points above your average",
                "Due in 10 days; not submitted yet",
            ]
        );
        let titles: Vec<&str> = out
            .recommendations
            .iter()
            .map(|r| r.title.as_str())
            .collect();
        assert_eq!(titles[0], "Complete a course in React");
        assert_eq!(titles[3], "Take a skill assessment in SQL");
        assert_eq!(titles[5], "Item 51");
        let ev = &out.recommendations[1].evidence;
        assert_eq!(ev.get("daysUntilDue"), Some(&3.0));
        assert_eq!(ev.get("weight"), Some(&1.0));
        assert_eq!(ev.get("strength"), Some(&0.7857));
        assert_eq!(out.recommendations[0].evidence.get("gapSize"), Some(&0.4));

        assert!(out.header.missing_sources.is_empty());
        assert!(out.header.notes.is_empty(), "{:?}", out.header.notes);
        let insights: Vec<&str> = out
            .personalized_insights
            .iter()
            .map(|i| i.text.as_str())
            .collect();
        assert_eq!(
            insights,
            vec![
                "Your engagement is up 6.5 points on the previous period.",
                "You are most active in the evening.",
                // One assignment result (80 %) is no strength (§5.5).
            ]
        );
        assert_eq!(
            out.learning_preferences,
            LearningPreferences {
                preferred_learning_style: Some("practice".into()),
                best_time_of_day: Some("evening".into()),
                optimal_session_length: Some(42.12),
            }
        );
        assert_eq!(
            out.career_alignment,
            Some(CareerAlignment {
                job_role: None,
                coverage_percent: Some(33.33),
                requirement_source: "job-role".into(),
            })
        );
    }

    #[test]
    fn the_strongest_kind_needs_two_results() {
        // The fixture has one assignment result (32: 80 %): not a strength.
        // A second (34: 90 %) makes assignment the strongest, (80 + 90) / 2
        // = 85.
        let mut r = fixture();
        let w = window();
        assert_eq!(
            strongest_kind(&Dataset::new(r.clone()), id(LEARNER), &w),
            None
        );
        attempt(&mut r, LEARNER, 34, 1, 90.0, 99.5);
        assert_eq!(
            strongest_kind(&Dataset::new(r), id(LEARNER), &w),
            Some((AssessmentKind::Assignment, 85.0))
        );
    }

    #[test]
    fn the_catalogue_answers_when_the_department_reaches_k() {
        // Without the AI suggestion of course 4, the catalogue proposes it:
        // 5 of 6 department learners → 0.5 × 5/6 = 41.67.
        let ds = Dataset::new(fixture());
        let mut inp = inputs();
        inp.ai_suggestions = Some(Vec::new());
        let out = recommendations(&ds, id(LEARNER), &window(), &inp).expect("ok");
        let cat: Vec<&RankedRecommendation> = out
            .recommendations
            .iter()
            .filter(|r| r.source == "catalogue")
            .collect();
        assert_eq!(cat.len(), 1);
        assert_eq!(cat[0].target_id, Some(id(4).to_string()));
        assert_eq!(cat[0].rank_score, 41.67);
        assert_eq!(cat[0].reason, "Used by 83.33 % of your department");
        assert_eq!(cat[0].evidence.get("enrolledLearners"), Some(&5.0));
        // The service answered with nothing: a note, not a missing source.
        assert!(out.header.missing_sources.is_empty());
        assert_eq!(out.header.notes, vec!["NO_AI_SUGGESTIONS"]);
        // With k = 6 neither course reaches k.
        inp.k_anonymity = 6;
        let out = recommendations(&ds, id(LEARNER), &window(), &inp).expect("ok");
        assert!(out.recommendations.iter().all(|r| r.source != "catalogue"));
        assert!(out.header.notes.contains(&"NO_CATALOGUE_MATCH"));
    }

    #[test]
    fn learner_ai_unavailable_or_stale_is_a_missing_source() {
        let ds = Dataset::new(fixture());
        let mut inp = inputs();
        inp.ai_suggestions = None;
        let out = recommendations(&ds, id(LEARNER), &window(), &inp).expect("ok");
        assert_eq!(out.header.missing_sources, vec!["learner-ai".to_owned()]);
        assert!(out.recommendations.iter().all(|r| r.source != "learner-ai"));
        // The other sources still answer; course 4 now comes from the catalogue.
        assert_eq!(out.recommendations[0].source, "skill-gap");
        assert!(out.recommendations.iter().any(|r| r.source == "catalogue"));

        // Only suggestions older than 6 h: also missing.
        inp.ai_suggestions = Some(vec![AiSuggestion {
            kind: "course".into(),
            target_id: None,
            title: "Old".into(),
            score: Some(1.0),
            generated_at: now() - Duration::hours(6),
        }]);
        let out = recommendations(&ds, id(LEARNER), &window(), &inp).expect("ok");
        assert_eq!(out.header.missing_sources, vec!["learner-ai".to_owned()]);
        assert!(out.recommendations.iter().all(|r| r.title != "Old"));
    }

    #[test]
    fn at_most_ten_are_returned() {
        let mut r = fixture();
        for n in 0..12 {
            assessment(&mut r, 300 + n, COURSE, 100.0, 1.0, Some(100.5 + n as f64));
        }
        let ds = Dataset::new(r);
        let out = recommendations(&ds, id(LEARNER), &window(), &inputs()).expect("ok");
        assert_eq!(out.recommendations.len(), TOP);
        let ranks: Vec<usize> = out.recommendations.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, (1..=10).collect::<Vec<_>>());
        // Due in half a day: 1 − 0.5/14 = 0.964286 → 96.43.
        assert_eq!(out.recommendations[0].rank_score, 96.43);
        assert_eq!(
            out.recommendations[0].reason,
            "Due in 0.5 days; not submitted yet"
        );
    }

    #[test]
    fn an_empty_list_is_a_valid_answer_with_notes() {
        let mut r = records();
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, COURSE, 0.0, None);
        enrol(&mut r, 100, LEARNER, COURSE, 0.0);
        let ds = Dataset::new(r);
        let inp = RecommendationInputs {
            ai_suggestions: Some(Vec::new()),
            ..RecommendationInputs::default()
        };
        let out = recommendations(&ds, id(LEARNER), &window(), &inp).expect("ok");
        assert!(out.recommendations.is_empty());
        assert_eq!(
            out.header.notes,
            vec![
                "NO_UPCOMING_DEADLINES",
                "NO_SKILL_DATA",
                "NO_AI_SUGGESTIONS",
                "NO_CONTENT_ACTIVITY",
                "NO_CATALOGUE_MATCH",
            ]
        );
        assert!(out.personalized_insights.is_empty());
        assert_eq!(out.career_alignment, None);
        assert_eq!(out.learning_preferences.preferred_learning_style, None);
    }

    #[test]
    fn unknown_learners_and_learners_without_records_are_not_found() {
        let mut r = fixture();
        user(&mut r, 99, &[Role::Learner], None);
        let ds = Dataset::new(r);
        for who in [id(99), id(12345)] {
            assert!(matches!(
                recommendations(&ds, who, &window(), &inputs()),
                Err(AnalyticError::NotFound(_))
            ));
        }
    }
}
