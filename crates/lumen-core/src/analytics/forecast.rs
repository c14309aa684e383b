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

use super::common::{
    LearnerRule, Steps, add_weeks_ahead, learner_subject, mean, r2, r4, score_percent,
    whole_seconds,
};
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

impl From<&super::dropoff::DropoffRisk> for DropOffInput {
    fn from(r: &super::dropoff::DropoffRisk) -> Self {
        DropOffInput {
            model: r.model.to_owned(),
            enrolments: r
                .enrolments
                .iter()
                .map(|e| EnrolmentRiskInput {
                    enrolment_id: e.enrolment_id,
                    risk_score: e.risk_score,
                    risk_factors: e
                        .risk_factors
                        .iter()
                        .map(|f| RiskFactorInput {
                            factor: f.factor.to_owned(),
                            value: f.value,
                            contribution: f.contribution,
                            description: f.description.clone(),
                        })
                        .collect(),
                    interventions: e
                        .interventions
                        .iter()
                        .map(|i| InterventionInput {
                            code: i.code.to_owned(),
                            text: i.text.clone(),
                            factor: i.factor.to_owned(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
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
        let sxy: f64 = points.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
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
            Some(q) if q > 0.0 => add_weeks_ahead(now, r / q),
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
        pace_half_width =
            sample_sd(&q).and_then(|sd| t95(q.len() - 1).map(|t| t * sd / (q.len() as f64).sqrt()));
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
    learner_subject(ds, learner, w, LearnerRule::PREDICTIVE)?;
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
        projected_score: perf.as_ref().map(|p| r2(clamp_score(p.projected + shift))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::analytics::TimeRange;
    use crate::analytics::dataset::Records;
    use crate::analytics::testkit::*;
    use crate::model::Outcome;

    const LEARNER: u128 = 10;
    const COURSE: u128 = 3;
    const ENROLMENT: u128 = 100;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    fn secs(n: i64) -> Duration {
        Duration::seconds(n)
    }

    #[test]
    fn t_quantiles_come_from_the_table_then_cornish_fisher() {
        assert_eq!(t95(0), None);
        assert_eq!(t95(1), Some(6.313_752));
        assert_eq!(t95(2), Some(2.919_986));
        assert_eq!(t95(10), Some(1.812_461));
        assert_eq!(t95(30), Some(1.697_261));
        // Beyond the table: t(0.95, 40) = 1.683851, t(0.95, 120) = 1.657651.
        assert!(close(t95(40).unwrap_or(0.0), 1.683_851, 1e-5));
        assert!(close(t95(120).unwrap_or(0.0), 1.657_651, 1e-5));
        assert!(close(t95(100_000).unwrap_or(0.0), Z95, 1e-4));
    }

    #[test]
    fn least_squares_and_interval_match_hand_computation() {
        // x = −3, −2, −1, 0; y = 60, 62, 67, 71.
        // x̄ = −1.5, ȳ = 65, Sxx = 2.25 + 0.25 + 0.25 + 2.25 = 5,
        // Sxy = (−1.5)(−5) + (−0.5)(−3) + (0.5)(2) + (1.5)(6) = 19,
        // b = 19 / 5 = 3.8, a = 65 − 3.8 × (−1.5) = 70.7.
        // Fitted 59.3, 63.1, 66.9, 70.7 → residuals 0.7, −1.1, 0.1, 0.3,
        // SSE = 0.49 + 1.21 + 0.01 + 0.09 = 1.8, s = √(1.8 / 2) = 0.948683.
        let fit =
            LinearFit::fit(&[(-3.0, 60.0), (-2.0, 62.0), (-1.0, 67.0), (0.0, 71.0)]).expect("fit");
        assert_eq!(fit.n, 4);
        assert!(close(fit.x_mean, -1.5, 1e-12));
        assert!(close(fit.y_mean, 65.0, 1e-12));
        assert!(close(fit.sxx, 5.0, 1e-12));
        assert!(close(fit.slope, 3.8, 1e-12));
        assert!(close(fit.intercept, 70.7, 1e-12));
        assert!(close(fit.residual_sd, 0.9_f64.sqrt(), 1e-12));
        // x* = 30 / 7 = 4.285714: ŷ = 70.7 + 3.8 × 4.285714 = 86.985714;
        // half = t(0.95, 2) · s · √(1 + 1/4 + (4.285714 + 1.5)² / 5)
        //      = 2.919986 × 0.948683 × √(1.25 + 33.474490 / 5)
        //      = 2.770140 × √7.944898 = 2.770140 × 2.818670 = 7.808115.
        let x = 30.0 / 7.0;
        assert!(close(fit.predict(x), 86.985_714, 1e-6));
        assert!(close(fit.prediction_half_width(x), 7.808_115, 1e-6));
        // Fewer than 3 points, or one x only: no fit.
        assert_eq!(LinearFit::fit(&[(0.0, 1.0), (1.0, 2.0)]), None);
        assert_eq!(LinearFit::fit(&[(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]), None);
    }

    #[test]
    fn history_has_at_least_twelve_weeks_and_the_horizon_at_most_ninety_days() {
        let now = day(400.0);
        for (range, buckets, horizon) in [
            (TimeRange::Days7, 12, 7),
            (TimeRange::Days30, 12, 30),
            (TimeRange::Days90, 13, 90),
            (TimeRange::Year, 53, 90),
        ] {
            let w = Window::new(range, now);
            let b = history_buckets(&w);
            assert_eq!(b.len(), buckets, "{range}");
            assert_eq!(horizon_days(&w), horizon, "{range}");
            assert_eq!(b[0].1, now);
        }
        // 90d: 13 buckets, the oldest 6 days long (90 = 12 × 7 + 6).
        let b = history_buckets(&Window::new(TimeRange::Days90, now));
        assert_eq!(b[12].1 - b[12].0, Duration::days(6));
    }

    /// Course 3 starts on day 50 and lasts 100 days (ends day 150), with 10
    /// assessments (the steps). The learner enrolled on day 50 and
    /// attempted 5 of them: day 75 (60), 83 (62), 90 (60), 90.5 (74), 98 (71).
    fn fixture() -> Records {
        let mut r = records();
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, COURSE, 50.0, Some(100));
        enrol(&mut r, ENROLMENT, LEARNER, COURSE, 50.0);
        for a in 20..30 {
            assessment(&mut r, a, COURSE, 100.0, 10.0, None);
        }
        for (a, score, at) in [
            (20, 60.0, 75.0),
            (21, 62.0, 83.0),
            (22, 60.0, 90.0),
            (23, 74.0, 90.5),
            (24, 71.0, 98.0),
        ] {
            attempt(&mut r, LEARNER, a, 1, score, at);
        }
        r
    }

    fn risk_inputs(risk: f64) -> ForecastInputs {
        ForecastInputs {
            drop_off: Some(DropOffInput {
                model: "heuristic".into(),
                enrolments: vec![EnrolmentRiskInput {
                    enrolment_id: id(ENROLMENT),
                    risk_score: risk,
                    risk_factors: vec![
                        RiskFactorInput {
                            factor: "daysSinceLastActivity".into(),
                            value: 15.0,
                            contribution: 0.2,
                            description: "No activity for 15 days".into(),
                        },
                        RiskFactorInput {
                            factor: "submittedShare".into(),
                            value: 0.5,
                            contribution: 0.1,
                            description: "Half of the due work submitted".into(),
                        },
                        RiskFactorInput {
                            factor: "progressGap".into(),
                            value: 0.2,
                            contribution: 0.05,
                            description: "Behind schedule".into(),
                        },
                        RiskFactorInput {
                            factor: "lateShare".into(),
                            value: 0.6,
                            contribution: 0.05,
                            description: "Often late".into(),
                        },
                    ],
                    interventions: vec![InterventionInput {
                        code: "reach_out".into(),
                        text: "Contact the learner personally: no activity for 15 days.".into(),
                        factor: "daysSinceLastActivity".into(),
                    }],
                }],
            }),
        }
    }

    #[test]
    fn forecast_on_a_small_fixture_matches_hand_computation() {
        let ds = Dataset::new(fixture());
        let now = day(100.0);
        let w = Window::new(TimeRange::Days30, now);
        let f = forecast(&ds, id(LEARNER), &w, &risk_inputs(0.4)).expect("forecast");

        assert_eq!(f.header.analytic, "forecast");
        assert_eq!(f.header.subject_id, Some(id(LEARNER)));
        assert!(f.header.notes.is_empty(), "{:?}", f.header.notes);
        assert_eq!(f.forecast_period.from, now);
        assert_eq!(f.forecast_period.to, day(130.0));
        assert_eq!(f.model.as_deref(), Some("heuristic"));
        assert_eq!(f.confidence.level, 0.90);
        assert_eq!(f.confidence.rating, "low"); // 4 scored weeks

        // Buckets (now = day 100): j=0 (93,100] {71}, j=1 (86,93] {60, 74} → 67,
        // j=2 (79,86] {62}, j=3 (72,79] {60}: the points of the test above.
        let p = f.predictions.performance.as_ref().expect("performance");
        let ys: Vec<(i64, f64, usize)> = p
            .points
            .iter()
            .map(|p| (p.x, p.average_score, p.attempts))
            .collect();
        assert_eq!(
            ys,
            vec![(-3, 60.0, 1), (-2, 62.0, 1), (-1, 67.0, 2), (0, 71.0, 1)]
        );
        assert_eq!(p.points[0].week_start, day(72.0));
        assert_eq!(p.points[0].week_end, day(79.0));
        assert_eq!(p.current_average, 65.0); // mean of the last 4 points
        assert_eq!(p.slope_per_week, 3.8);
        // ŷ = 86.985714 ± 7.808115 → 79.177600, 94.793829.
        assert_eq!(p.projected_score, 86.99);
        assert_eq!(p.lower, 79.18);
        assert_eq!(p.upper, 94.79);

        // Completion: 8 buckets end after enrolled_at (ends 100, 93, …, 51 > 50);
        // steps done per bucket 1, 2, 1, 1, 0, 0, 0, 0 of 10 →
        // q = 10, 20, 10, 10, 0, 0, 0, 0; q̄ = 50 / 8 = 6.25;
        // s_q = √((3 × 3.75² + 13.75² + 4 × 6.25²) / 7) = √(387.5 / 7) = 7.440238;
        // δ = t(0.95, 7) · s_q / √8 = 1.894579 × 7.440238 / 2.828427 = 4.983731.
        // r = 100 × (1 − 5/10) = 50.
        // projected = now + 50 / 6.25 = 8 weeks = day 156;
        // earliest = now + 50 / 11.233731 = 4.450881 weeks = 2 691 892 s;
        // latest = now + 50 / 1.266269 = 39.486069 weeks = 23 881 174 s.
        // Course end day 150: weeksLeft = 50 / 7 → 50 + 6.25 × 7.142857 = 94.642857.
        let c = &f.predictions.completion;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].enrolment_id, id(ENROLMENT));
        assert_eq!(c[0].course_title, "Course 3");
        assert_eq!(c[0].projected_completion, Some(day(156.0)));
        assert_eq!(c[0].earliest, Some(now + secs(2_691_892)));
        assert_eq!(c[0].latest, Some(now + secs(23_881_174)));
        assert_eq!(c[0].projected_progress_at_course_end, Some(94.64));
        assert_eq!(c[0].completion_probability, Some(0.6));

        // Influencing factors: the trend (b = 3.8 > 0.5) and the first 3 risk factors.
        let names: Vec<(&str, &str)> = f
            .influencing_factors
            .iter()
            .map(|x| (x.factor.as_str(), x.effect))
            .collect();
        assert_eq!(
            names,
            vec![
                ("scoreTrend", "positive"),
                ("daysSinceLastActivity", "negative"),
                ("submittedShare", "negative"),
                ("progressGap", "negative"),
            ]
        );
        assert_eq!(f.influencing_factors[0].value, 3.8);
        assert_eq!(f.influencing_factors[1].enrolment_id, Some(id(ENROLMENT)));

        // Day 156 is after the course end (day 150): targetPace = 50 / max(1, 50/7) = 7.
        let codes: Vec<&str> = f.recommendations.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(codes, vec!["increase_pace", "reach_out"]);
        assert_eq!(
            f.recommendations[0].text,
            "Increase your weekly pace in Course 3 to 7 points/week to finish by the course end."
        );
    }

    #[test]
    fn scenarios_shift_score_pace_and_risk() {
        let ds = Dataset::new(fixture());
        let now = day(100.0);
        let w = Window::new(TimeRange::Days30, now);
        let f = forecast(&ds, id(LEARNER), &w, &risk_inputs(0.4)).expect("forecast");
        let s = &f.scenarios;
        // current = the prediction.
        assert_eq!(s.current.projected_score, Some(86.99));
        assert_eq!(
            s.current.completion[0].projected_completion,
            Some(day(156.0))
        );
        assert_eq!(s.current.completion[0].completion_probability, Some(0.6));
        // improved: 86.985714 + 5; pace 6.25 × 1.25 = 7.8125 → 50 / 7.8125 = 6.4 weeks
        // = 44.8 days; probability 1 − 0.75 × 0.4 = 0.7.
        assert_eq!(s.improved.projected_score, Some(91.99));
        assert_eq!(
            s.improved.completion[0].projected_completion,
            Some(day(144.8))
        );
        assert_eq!(s.improved.completion[0].completion_probability, Some(0.7));
        // declined: 86.985714 − 5; pace 4.6875 → 10.666667 weeks × 604 800 s
        // = 6 451 200 s; probability 1 − min(1, 1.25 × 0.4) = 0.5.
        assert_eq!(s.declined.projected_score, Some(81.99));
        assert_eq!(
            s.declined.completion[0].projected_completion,
            Some(now + secs(6_451_200))
        );
        assert_eq!(s.declined.completion[0].completion_probability, Some(0.5));

        // A risk of 0.9: declined = 1 − min(1, 1.125) = 0.
        let f = forecast(&ds, id(LEARNER), &w, &risk_inputs(0.9)).expect("forecast");
        assert_eq!(
            f.scenarios.declined.completion[0].completion_probability,
            Some(0.0)
        );
        assert_eq!(
            f.scenarios.improved.completion[0].completion_probability,
            Some(0.325)
        );
    }

    #[test]
    fn falling_scores_are_clamped_and_advise_a_review() {
        // 3 scored weeks 90, 60, 30 (x = −2, −1, 0): b = −30, a = 30, s = 0.
        // At x* = 1 (7d): ŷ = 0 → clamped; improved 5, declined 0.
        let mut r = records();
        user(&mut r, LEARNER, &[Role::Learner], None);
        course(&mut r, COURSE, 0.0, None);
        let e = enrol(&mut r, ENROLMENT, LEARNER, COURSE, 0.0);
        r.enrolments[e].status = EnrolmentStatus::Completed;
        r.enrolments[e].outcome = Some(Outcome::Pass);
        r.enrolments[e].completed_at = Some(day(99.0));
        assessment(&mut r, 20, COURSE, 50.0, 1.0, None);
        attempt(&mut r, LEARNER, 20, 1, 45.0, 85.0);
        attempt(&mut r, LEARNER, 20, 2, 30.0, 92.0);
        attempt(&mut r, LEARNER, 20, 3, 15.0, 99.0);
        let ds = Dataset::new(r);
        let w = Window::new(TimeRange::Days7, day(100.0));
        let f = forecast(&ds, id(LEARNER), &w, &ForecastInputs::default()).expect("forecast");
        let p = f.predictions.performance.as_ref().expect("performance");
        assert_eq!(p.slope_per_week, -30.0);
        assert_eq!((p.projected_score, p.lower, p.upper), (0.0, 0.0, 0.0));
        assert_eq!(p.current_average, 60.0);
        assert_eq!(f.scenarios.improved.projected_score, Some(5.0));
        assert_eq!(f.scenarios.declined.projected_score, Some(0.0));
        assert!(f.predictions.completion.is_empty());
        assert_eq!(f.header.notes, vec!["NO_ACTIVE_ENROLMENT"]);
        assert_eq!(f.model, None);
        assert_eq!(f.influencing_factors[0].effect, "negative");
        assert_eq!(f.recommendations[0].code, "review_recent_topics");
        assert_eq!(
            f.recommendations[0].text,
            "Review recent topics before the next assessment: your scores fall by 30 points a week."
        );
    }

    #[test]
    fn completion_alone_answers_without_score_history() {
        // 2 scored weeks only: performance null with a note; completion still answers.
        let mut r = fixture();
        r.attempts.retain(|a| a.submitted_at >= day(90.0));
        // A course without steps is listed with nulls.
        course(&mut r, 4, 60.0, Some(60));
        enrol(&mut r, 101, LEARNER, 4, 60.0);
        let ds = Dataset::new(r);
        let w = Window::new(TimeRange::Days30, day(100.0));
        let f = forecast(&ds, id(LEARNER), &w, &ForecastInputs::default()).expect("forecast");
        assert_eq!(f.predictions.performance, None);
        assert_eq!(f.scenarios.current.projected_score, None);
        assert_eq!(
            f.header.notes,
            vec!["INSUFFICIENT_SCORE_HISTORY", "NO_DROP_OFF_RISK", "NO_STEPS"]
        );
        let c = &f.predictions.completion;
        assert_eq!(c.len(), 2);
        // 3 steps done in buckets 0 and 1 (1 + 2 of 10): q̄ = 30 / 8 = 3.75;
        // r = 70 → 70 / 3.75 = 18.666667 weeks × 604 800 s = 11 289 600 s.
        assert_eq!(
            c[0].projected_completion,
            Some(day(100.0) + secs(11_289_600))
        );
        assert_eq!(c[0].completion_probability, None);
        assert_eq!(c[1].course_id, id(4));
        assert_eq!(
            (c[1].projected_completion, c[1].earliest, c[1].latest),
            (None, None, None)
        );
        assert_eq!(c[1].projected_progress_at_course_end, None);
    }

    #[test]
    fn no_active_enrolment_and_too_few_scored_weeks_is_insufficient_history() {
        let mut r = fixture();
        r.enrolments[0].status = EnrolmentStatus::Withdrawn;
        r.enrolments[0].withdrawn_at = Some(day(99.0));
        r.attempts.retain(|a| a.submitted_at >= day(90.0)); // 2 scored weeks
        let ds = Dataset::new(r);
        let w = Window::new(TimeRange::Days30, day(100.0));
        let err =
            forecast(&ds, id(LEARNER), &w, &ForecastInputs::default()).expect_err("insufficient");
        let AnalyticError::InsufficientData {
            analytic,
            reason,
            minimum,
            found,
            ..
        } = err
        else {
            panic!("expected INSUFFICIENT_DATA, got {err:?}");
        };
        assert_eq!((analytic, reason), ("forecast", "INSUFFICIENT_HISTORY"));
        assert_eq!(minimum.get("scoredWeeks"), Some(&3.0));
        assert_eq!(minimum.get("activeEnrolments"), Some(&1.0));
        assert_eq!(found.get("scoredWeeks"), Some(&2.0));
        assert_eq!(found.get("activeEnrolments"), Some(&0.0));
    }

    #[test]
    fn unknown_learners_and_learners_without_records_are_not_found() {
        let mut r = fixture();
        user(&mut r, 11, &[Role::Learner], None);
        let ds = Dataset::new(r);
        let w = Window::new(TimeRange::Days30, day(100.0));
        for who in [id(11), id(999)] {
            assert!(matches!(
                forecast(&ds, who, &w, &ForecastInputs::default()),
                Err(AnalyticError::NotFound(_))
            ));
        }
    }
}
