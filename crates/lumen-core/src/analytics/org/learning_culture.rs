//! learning-culture (docs/analytics.md §7.3): the organisation's learning
//! culture.

use super::*;

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::analytics::org::tests::*;

    /// §7.5: 10 learners, dept A = 11…16, dept B = 21…24; W = (day 30, day 60],
    /// week buckets (53, 60], (46, 53], (39, 46], (32, 39], (30, 32].
    pub(in crate::analytics::org) fn culture_fixture() -> Records {
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
}
