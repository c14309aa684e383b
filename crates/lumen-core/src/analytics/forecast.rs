//! forecast (docs/analytics.md §9.2): where the learner's score is heading
//! (least squares on weekly mean scores, 90 % prediction interval) and when
//! each active enrolment will be finished (mean weekly progress, 90 %
//! interval on the pace), with what-if scenarios.
//!
//! Drop-off risk (§9.1) is computed elsewhere and passed in as plain data
//! ([`DropOffInput`]), so this module does not depend on that code.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::common::{Steps, events, mean, r2, r4, score_percent, whole_seconds};
use super::{AnalyticError, Dataset, Header, Window};
use crate::model::{Course, Enrolment, EnrolmentStatus};

const ANALYTIC: &str = "forecast";
/// History H reaches back at least this far (12 weeks).
pub const HISTORY_MIN_DAYS: i64 = 84;
/// The horizon is at most this long.
pub const HORIZON_MAX_DAYS: i64 = 90;
/// Scored weeks needed for a performance projection.
pub const MIN_SCORED_WEEKS: usize = 3;
/// Level of every interval.
pub const INTERVAL_LEVEL: f64 = 0.90;
/// Scenario effects (§9.2, §10).
pub const SCENARIO_SCORE_SHIFT: f64 = 5.0;
pub const IMPROVED_PACE: f64 = 1.25;
pub const DECLINED_PACE: f64 = 0.75;
pub const IMPROVED_RISK: f64 = 0.75;
pub const DECLINED_RISK: f64 = 1.25;
/// |slope| above which the score trend counts as positive / negative.
pub const TREND_THRESHOLD: f64 = 0.5;

const SECONDS_PER_WEEK: f64 = 7.0 * 86_400.0;

// ---------------------------------------------------------------- inputs

/// What forecast needs from drop-off-risk (§9.1) for the same learner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForecastInputs {
    /// `None` when drop-off risk could not be computed: completion
    /// probabilities are then null and the note `NO_DROP_OFF_RISK` is added.
    pub drop_off: Option<DropOffInput>,
}

/// The drop-off-risk answer, reduced to what forecast uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DropOffInput {
    /// `"logistic-regression"` or `"heuristic"`, echoed as `model`.
    pub model: String,
    pub enrolments: Vec<EnrolmentRiskInput>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnrolmentRiskInput {
    pub enrolment_id: Uuid,
    /// 0–1, unrounded.
    pub risk_score: f64,
    /// Descending contribution, as §9.1 lists them.
    pub risk_factors: Vec<RiskFactorInput>,
    pub interventions: Vec<InterventionInput>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskFactorInput {
    pub factor: String,
    pub value: f64,
    pub contribution: f64,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterventionInput {
    pub code: String,
    pub text: String,
    pub factor: String,
}

// ---------------------------------------------------------------- output

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    #[serde(flatten)]
    pub header: Header,
    pub forecast_period: ForecastPeriod,
    pub confidence: ForecastConfidence,
    pub predictions: ForecastPredictions,
    pub scenarios: ForecastScenarios,
    pub influencing_factors: Vec<InfluencingFactor>,
    pub recommendations: Vec<ForecastAdvice>,
    /// The drop-off model behind `completionProbability`; null when no
    /// drop-off risk was available.
    pub model: Option<String>,
}

/// (now, now + h].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastPeriod {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastConfidence {
    /// Always 0.90.
    pub level: f64,
    /// `high` (≥ 8 scored weeks), `medium` (5–7), `low` (fewer).
    pub rating: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastPredictions {
    pub performance: Option<PerformanceProjection>,
    pub completion: Vec<CompletionProjection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceProjection {
    /// Mean of the last (newest) 4 points' scores.
    pub current_average: f64,
    pub projected_score: f64,
    pub lower: f64,
    pub upper: f64,
    /// b, points per week.
    pub slope_per_week: f64,
    /// The regression points, oldest first.
    pub points: Vec<ScorePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScorePoint {
    pub week_start: DateTime<Utc>,
    pub week_end: DateTime<Utc>,
    /// x = −j for bucket j (0 = the newest week).
    pub x: i64,
    /// y = mean score percent of the week's attempts.
    pub average_score: f64,
    pub attempts: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompletionProjection {
    pub enrolment_id: Uuid,
    pub course_id: Uuid,
    pub course_title: String,
    pub projected_completion: Option<DateTime<Utc>>,
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
    pub projected_progress_at_course_end: Option<f64>,
    pub completion_probability: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastScenarios {
    pub current: ForecastScenario,
    pub improved: ForecastScenario,
    pub declined: ForecastScenario,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastScenario {
    pub projected_score: Option<f64>,
    pub completion: Vec<ScenarioCompletion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioCompletion {
    pub enrolment_id: Uuid,
    pub projected_completion: Option<DateTime<Utc>>,
    pub completion_probability: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfluencingFactor {
    /// `scoreTrend`, or a drop-off risk factor name (§9.1).
    pub factor: String,
    /// Null for `scoreTrend`.
    pub enrolment_id: Option<Uuid>,
    /// b for `scoreTrend` (points per week); the raw feature otherwise.
    pub value: f64,
    /// The drop-off contribution; null for `scoreTrend`.
    pub contribution: Option<f64>,
    /// `positive` | `negative` | `neutral`.
    pub effect: &'static str,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForecastAdvice {
    /// `review_recent_topics`, `increase_pace`, or a drop-off intervention code.
    pub code: String,
    pub text: String,
    pub enrolment_id: Option<Uuid>,
}

// ---------------------------------------------------------------- statistics

/// One-sided 0.95 quantiles of Student's t, df = 1 … 30.
const T95: [f64; 30] = [
    6.313_752, 2.919_986, 2.353_363, 2.131_847, 2.015_048, 1.943_180, 1.894_579, 1.859_548,
    1.833_113, 1.812_461, 1.795_885, 1.782_288, 1.770_933, 1.761_310, 1.753_050, 1.745_884,
    1.739_607, 1.734_064, 1.729_133, 1.724_718, 1.720_743, 1.717_144, 1.713_872, 1.710_882,
    1.708_141, 1.705_618, 1.703_288, 1.701_131, 1.699_127, 1.697_261,
];
/// The 0.95 quantile of the standard normal.
const Z95: f64 = 1.644_853_626_951_472;

/// t₀.₉₅,df (the multiplier of a two-sided 90 % interval). Table for
/// df ≤ 30; beyond, the Cornish–Fisher expansion around the normal
/// quantile (error < 1e−5 for df > 30). `None` for df = 0.
pub fn t95(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T95[df - 1]),
        _ => {
            let z = Z95;
            let v = df as f64;
            let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
            Some(
                z + (z3 + z) / (4.0 * v)
                    + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
                    + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v),
            )
        }
    }
}

/// An ordinary least-squares line y = a + b·x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearFit {
    pub n: usize,
    pub x_mean: f64,
    pub y_mean: f64,
    pub sxx: f64,
    /// b
    pub slope: f64,
    /// a
    pub intercept: f64,
    /// s = √(SSE / (n − 2))
    pub residual_sd: f64,
}

impl LinearFit {
    /// Fits at least 3 points with distinct x values (`None` otherwise).
    pub fn fit(points: &[(f64, f64)]) -> Option<LinearFit> {
        let n = points.len();
        if n < 3 {
            return None;
        }
        let x_mean = mean(points.iter().map(|p| p.0))?;
        let y_mean = mean(points.iter().map(|p| p.1))?;
        let sxx: f64 = points.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let sxy: f64 = points
            .iter()
            .map(|p| (p.0 - x_mean) * (p.1 - y_mean))
            .sum();
        let slope = sxy / sxx;
        let intercept = y_mean - slope * x_mean;
        let sse: f64 = points
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        Some(LinearFit {
            n,
            x_mean,
            y_mean,
            sxx,
            slope,
            intercept,
            residual_sd: (sse / (n - 2) as f64).sqrt(),
        })
    }

    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// Half-width of the 90 % prediction interval at x:
    /// t₀.₉₅,ₙ₋₂ · s · √(1 + 1/n + (x − x̄)² / Sxx).
    pub fn prediction_half_width(&self, x: f64) -> f64 {
        let t = t95(self.n - 2).unwrap_or(f64::NAN);
        t * self.residual_sd
            * (1.0 + 1.0 / self.n as f64 + (x - self.x_mean).powi(2) / self.sxx).sqrt()
    }
}

/// Sample standard deviation (n − 1); `None` below 2 values.
fn sample_sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values.iter().copied())?;
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

fn clamp_score(x: f64) -> f64 {
    x.clamp(0.0, 100.0)
}

/// now + weeks, `None` when not finite, negative or beyond any sensible date.
fn add_weeks(now: DateTime<Utc>, weeks: f64) -> Option<DateTime<Utc>> {
    let secs = weeks * SECONDS_PER_WEEK;
    if !secs.is_finite() || secs < 0.0 || secs > 1.0e11 {
        return None;
    }
    Duration::try_seconds(secs as i64)
        .and_then(|d| now.checked_add_signed(d))
        .map(whole_seconds)
}

/// Formats a number for a text: 2 decimals, trailing zeros dropped.
fn num(x: f64) -> String {
    format!("{}", r2(x) + 0.0)
}

// ---------------------------------------------------------------- history

/// H = (now − max(R, 84 d), now] cut into week buckets, newest first:
/// bucket j = (now − 7(j+1) d, now − 7j d] ∩ H.
pub fn history_buckets(w: &Window) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let days = w.range.days().max(HISTORY_MIN_DAYS);
    let start = w.now - Duration::days(days);
    (0..(days + 6) / 7)
        .map(|j| {
            let e = w.now - Duration::days(7 * j);
            let s = (w.now - Duration::days(7 * (j + 1))).max(start);
            (s, e)
        })
        .collect()
}

fn in_bucket(t: DateTime<Utc>, (s, e): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    t > s && t <= e
}

/// h = min(R, 90 d).
pub fn horizon_days(w: &Window) -> i64 {
    w.range.days().min(HORIZON_MAX_DAYS)
}

/// Active enrolments (status `active`, enrolled by now), by `enrolled_at`
/// then id.
fn active_enrolments(ds: &Dataset, learner: Uuid, now: DateTime<Utc>) -> Vec<&Enrolment> {
    let mut v: Vec<&Enrolment> = ds
        .enrolments_of(learner)
        .filter(|e| e.status == EnrolmentStatus::Active && e.enrolled_at <= now)
        .collect();
    v.sort_by_key(|e| (e.enrolled_at, e.id));
    v
}

/// courseEnd(c, e) = start(c, e) + length_days (§2.4).
fn course_end(course: &Course, e: &Enrolment) -> Option<DateTime<Utc>> {
    let start = course.starts_at.unwrap_or(e.enrolled_at);
    course
        .length_days
        .map(|d| start + Duration::days(i64::from(d)))
}

/// 404 unless the learner exists and has an enrolment or an activity event.
pub(crate) fn require_learner(ds: &Dataset, learner: Uuid) -> Result<(), AnalyticError> {
    if ds.user(learner).is_none() {
        return Err(AnalyticError::NotFound(format!("learner {learner} not found")));
    }
    if ds.enrolments_of(learner).next().is_none() && events(ds, learner).is_empty() {
        return Err(AnalyticError::NotFound(format!(
            "learner {learner} has no learning records"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- forecast

/// The performance part: `None` below 3 scored weeks.
struct Performance {
    fit: LinearFit,
    projected: f64,
    lower: f64,
    upper: f64,
    current_average: f64,
    points: Vec<ScorePoint>,
}

fn performance(ds: &Dataset, learner: Uuid, w: &Window) -> (usize, Option<Performance>) {
    let buckets = history_buckets(w);
    let mut points = Vec::new();
    for (j, &b) in buckets.iter().enumerate().rev() {
        let scores: Vec<f64> = ds
            .attempts_of(learner)
            .filter(|a| in_bucket(a.submitted_at, b))
            .filter_map(|a| ds.assessment(a.assessment_id).map(|x| score_percent(a, x)))
            .collect();
        if let Some(y) = mean(scores.iter().copied()) {
            points.push(ScorePoint {
                week_start: whole_seconds(b.0),
                week_end: whole_seconds(b.1),
                x: -(j as i64),
                average_score: y,
                attempts: scores.len(),
            });
        }
    }
    let n = points.len();
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.x as f64, p.average_score))
        .collect();
    let Some(fit) = LinearFit::fit(&xy) else {
        return (n, None);
    };
    let x_star = horizon_days(w) as f64 / 7.0;
    let y_hat = fit.predict(x_star);
    let half = fit.prediction_half_width(x_star);
    let current_average = mean(xy.iter().rev().take(4).map(|p| p.1)).unwrap_or(fit.y_mean);
    for p in &mut points {
        p.average_score = r2(p.average_score);
    }
    (
        n,
        Some(Performance {
            fit,
            projected: clamp_score(y_hat),
            lower: clamp_score(y_hat - half),
            upper: clamp_score(y_hat + half),
            current_average,
            points,
        }),
    )
}

/// Per active enrolment: the weekly pace over H and what it implies.
struct Completion<'a> {
    enrolment: &'a Enrolment,
    course_title: String,
    /// 100 × (1 − doneShare(e, now)); `None` without steps.
    remaining: Option<f64>,
    done_share: Option<f64>,
    /// q̄
    pace: Option<f64>,
    /// t₀.₉₅,ₘ₋₁ · s_q / √m
    pace_half_width: Option<f64>,
    end: Option<DateTime<Utc>>,
    risk: Option<&'a EnrolmentRiskInput>,
}

impl Completion<'_> {
    /// now + r / pace weeks; now when nothing remains; `None` when the pace
    /// is not positive.
    fn at_pace(&self, now: DateTime<Utc>, pace: Option<f64>) -> Option<DateTime<Utc>> {
        let r = self.remaining?;
        if r <= 0.0 {
            return Some(whole_seconds(now));
        }
        match pace {
            Some(q) if q > 0.0 => add_weeks(now, r / q),
            _ => None,
        }
    }

    fn probability(&self, risk_factor: f64) -> Option<f64> {
        self.risk
            .map(|r| 1.0 - (risk_factor * r.risk_score).clamp(0.0, 1.0))
    }

    /// targetPace of §5.1: remaining / max(1, weeks to the course end).
    fn target_pace(&self, now: DateTime<Utc>) -> Option<f64> {
        let end = self.end?;
        let r = self.remaining?;
        let weeks_left = ((end - now).num_seconds() as f64 / SECONDS_PER_WEEK).max(1.0);
        Some(if r <= 0.0 { 0.0 } else { r / weeks_left })
    }
}

fn completion<'a>(
    ds: &'a Dataset,
    learner: Uuid,
    w: &Window,
    e: &'a Enrolment,
    risk: Option<&'a EnrolmentRiskInput>,
) -> Completion<'a> {
    let course = ds.course(e.course_id);
    let steps = Steps::of(ds, e.course_id);
    let done_share = steps.done_share(ds, learner, w.now);
    let mut pace = None;
    let mut pace_half_width = None;
    if !steps.is_empty() {
        let done = steps.done_at(ds, learner);
        let q: Vec<f64> = history_buckets(w)
            .into_iter()
            .filter(|b| b.1 > e.enrolled_at)
            .map(|b| {
                100.0 * done.iter().filter(|t| in_bucket(**t, b)).count() as f64
                    / steps.len() as f64
            })
            .collect();
        pace = mean(q.iter().copied());
        pace_half_width = sample_sd(&q).and_then(|sd| {
            t95(q.len() - 1).map(|t| t * sd / (q.len() as f64).sqrt())
        });
    }
    Completion {
        enrolment: e,
        course_title: course.map(|c| c.title.clone()).unwrap_or_default(),
        remaining: done_share.map(|d| 100.0 * (1.0 - d)),
        done_share,
        pace,
        pace_half_width,
        end: course.and_then(|c| course_end(c, e)),
        risk,
    }
}

/// Forecast of the learner's score and course completions (§9.2).
pub fn forecast(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    inputs: &ForecastInputs,
) -> Result<Forecast, AnalyticError> {
    require_learner(ds, learner)?;
    let mut header = Header::new(ANALYTIC, Some(learner), w);
    let now = w.now;

    let (scored_weeks, perf) = performance(ds, learner, w);
    let active = active_enrolments(ds, learner, now);
    if perf.is_none() && active.is_empty() {
        return Err(AnalyticError::InsufficientData {
            analytic: ANALYTIC,
            reason: "INSUFFICIENT_HISTORY",
            message: format!(
                "forecast needs at least {MIN_SCORED_WEEKS} scored weeks in the history or 1 active enrolment"
            ),
            minimum: BTreeMap::from([
                ("scoredWeeks".to_owned(), MIN_SCORED_WEEKS as f64),
                ("activeEnrolments".to_owned(), 1.0),
            ]),
            found: BTreeMap::from([
                ("scoredWeeks".to_owned(), scored_weeks as f64),
                ("activeEnrolments".to_owned(), 0.0),
            ]),
        });
    }
    if perf.is_none() {
        header.note("INSUFFICIENT_SCORE_HISTORY");
    }
    if active.is_empty() {
        header.note("NO_ACTIVE_ENROLMENT");
    }
    if inputs.drop_off.is_none() && !active.is_empty() {
        header.note("NO_DROP_OFF_RISK");
    }

    let risk_of = |e: &Enrolment| {
        inputs
            .drop_off
            .as_ref()
            .and_then(|d| d.enrolments.iter().find(|r| r.enrolment_id == e.id))
    };
    let completions: Vec<Completion> = active
        .iter()
        .map(|e| completion(ds, learner, w, e, risk_of(e)))
        .collect();
    if completions.iter().any(|c| c.remaining.is_none()) {
        header.note("NO_STEPS");
    }

    // Predictions.
    let completion_out: Vec<CompletionProjection> = completions
        .iter()
        .map(|c| {
            let upper = c.pace.zip(c.pace_half_width).map(|(q, d)| q + d);
            let lower = c.pace.zip(c.pace_half_width).map(|(q, d)| q - d);
            let finished = c.remaining.is_some_and(|r| r <= 0.0);
            let bounded = |pace: Option<f64>| {
                if finished || c.pace_half_width.is_some() {
                    c.at_pace(now, pace)
                } else {
                    None
                }
            };
            CompletionProjection {
                enrolment_id: c.enrolment.id,
                course_id: c.enrolment.course_id,
                course_title: c.course_title.clone(),
                projected_completion: c.at_pace(now, c.pace),
                // The upper pace gives the earliest date, the lower the latest.
                earliest: bounded(upper),
                latest: bounded(lower),
                projected_progress_at_course_end: c.end.and_then(|end| {
                    let share = c.done_share?;
                    let q = c.pace?;
                    let weeks_left = ((end - now).num_seconds() as f64 / SECONDS_PER_WEEK).max(0.0);
                    Some(r2((100.0 * share + q * weeks_left).min(100.0)))
                }),
                completion_probability: c.probability(1.0).map(r4),
            }
        })
        .collect();

    // Scenarios.
    let scenario = |shift: f64, pace_factor: f64, risk_factor: f64| ForecastScenario {
        projected_score: perf
            .as_ref()
            .map(|p| r2(clamp_score(p.projected + shift))),
        completion: completions
            .iter()
            .map(|c| ScenarioCompletion {
                enrolment_id: c.enrolment.id,
                projected_completion: c.at_pace(now, c.pace.map(|q| q * pace_factor)),
                completion_probability: c.probability(risk_factor).map(r4),
            })
            .collect(),
    };
    let scenarios = ForecastScenarios {
        current: scenario(0.0, 1.0, 1.0),
        improved: scenario(SCENARIO_SCORE_SHIFT, IMPROVED_PACE, IMPROVED_RISK),
        declined: scenario(-SCENARIO_SCORE_SHIFT, DECLINED_PACE, DECLINED_RISK),
    };

    // Influencing factors and advice.
    let mut factors = Vec::new();
    let mut advice: Vec<ForecastAdvice> = Vec::new();
    if let Some(p) = &perf {
        let b = p.fit.slope;
        let effect = if b > TREND_THRESHOLD {
            "positive"
        } else if b < -TREND_THRESHOLD {
            "negative"
        } else {
            "neutral"
        };
        factors.push(InfluencingFactor {
            factor: "scoreTrend".into(),
            enrolment_id: None,
            value: r2(b),
            contribution: None,
            effect,
            description: format!("Scores change by {} points per week", num(b)),
        });
        if b < -TREND_THRESHOLD {
            advice.push(ForecastAdvice {
                code: "review_recent_topics".into(),
                text: format!(
                    "Review recent topics before the next assessment: your scores fall by {} points a week.",
                    num(-b)
                ),
                enrolment_id: None,
            });
        }
    }
    for (c, out) in completions.iter().zip(&completion_out) {
        if let Some(risk) = c.risk {
            for f in risk.risk_factors.iter().take(3) {
                factors.push(InfluencingFactor {
                    factor: f.factor.clone(),
                    enrolment_id: Some(c.enrolment.id),
                    value: r4(f.value),
                    contribution: Some(r4(f.contribution)),
                    effect: "negative",
                    description: f.description.clone(),
                });
            }
        }
        let late = match (c.end, c.remaining) {
            (Some(end), Some(r)) if r > 0.0 => out.projected_completion.is_none_or(|t| t > end),
            _ => false,
        };
        if late && let Some(x) = c.target_pace(now) {
            advice.push(ForecastAdvice {
                code: "increase_pace".into(),
                text: format!(
                    "Increase your weekly pace in {} to {} points/week to finish by the course end.",
                    c.course_title,
                    num(x)
                ),
                enrolment_id: Some(c.enrolment.id),
            });
        }
    }
    for c in &completions {
        for i in c.risk.map(|r| r.interventions.as_slice()).unwrap_or(&[]) {
            let dup = advice
                .iter()
                .any(|a| a.code == i.code && a.enrolment_id == Some(c.enrolment.id));
            if !dup {
                advice.push(ForecastAdvice {
                    code: i.code.clone(),
                    text: i.text.clone(),
                    enrolment_id: Some(c.enrolment.id),
                });
            }
        }
    }

    let rating = match scored_weeks {
        n if n >= 8 => "high",
        n if n >= 5 => "medium",
        _ => "low",
    };
    Ok(Forecast {
        header,
        forecast_period: ForecastPeriod {
            from: whole_seconds(now),
            to: whole_seconds(now + Duration::days(horizon_days(w))),
        },
        confidence: ForecastConfidence {
            level: INTERVAL_LEVEL,
            rating,
        },
        predictions: ForecastPredictions {
            performance: perf.map(|p| PerformanceProjection {
                current_average: r2(p.current_average),
                projected_score: r2(p.projected),
                lower: r2(p.lower),
                upper: r2(p.upper),
                slope_per_week: r2(p.fit.slope),
                points: p.points,
            }),
            completion: completion_out,
        },
        scenarios,
        influencing_factors: factors,
        recommendations: advice,
        model: inputs.drop_off.as_ref().map(|d| d.model.clone()),
    })
}
