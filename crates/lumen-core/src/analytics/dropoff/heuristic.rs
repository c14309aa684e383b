//! The drop-off heuristic (docs/analytics.md §9.1): transparent points per
//! factor, and the factors and interventions shown for either scorer.

use super::*;

/// The heuristic's factors in table order.
pub(super) const HEURISTIC_FACTORS: [&str; 6] = [
    "daysSinceLastActivity",
    "activity14",
    "submittedShare",
    "meanScorePct",
    "lateShare",
    "progressGap",
];

/// Points of each heuristic factor, in [`HEURISTIC_FACTORS`] order.
pub fn heuristic_points(f: &Features) -> [u32; 6] {
    let d = f.days_since_last_activity;
    let recency = if d >= 21.0 {
        30
    } else if d >= 14.0 {
        20
    } else if d >= 7.0 {
        10
    } else {
        0
    };
    let (a14, m14) = (f.activity14 as f64, f.median14);
    let activity = if m14 > 0.0 && a14 == 0.0 {
        20
    } else if m14 > 0.0 && a14 < 0.5 * m14 {
        10
    } else {
        0
    };
    let submitted = match f.submitted_share {
        Some(s) if s < 0.5 => 20,
        Some(s) if s < 0.8 => 10,
        _ => 0,
    };
    let score = match f.mean_score_pct {
        Some(s) if s < 40.0 => 15,
        Some(s) if s < 55.0 => 8,
        _ => 0,
    };
    let late = match f.late_share {
        Some(s) if s > 0.5 => 5,
        _ => 0,
    };
    let gap = match f.progress_gap {
        Some(g) if g > 0.30 => 10,
        Some(g) if g > 0.15 => 5,
        _ => 0,
    };
    [recency, activity, submitted, score, late, gap]
}

fn value_of(factor: &str, f: &Features) -> f64 {
    match factor {
        "daysSinceLastActivity" => r2(f.days_since_last_activity),
        "activity14" => f.activity14 as f64,
        "activity14Rel" => r4(f.activity14_rel),
        "activity28Rel" => r4(f.activity28_rel),
        "submittedShare" => r4(f.submitted_share.unwrap_or(1.0)),
        "meanScorePct" => f.mean_score_pct.map_or(0.0, |p| r4(p / 100.0)),
        "lateShare" => r4(f.late_share.unwrap_or(0.0)),
        "progressGap" => r4(f.progress_gap.unwrap_or(0.0)),
        "enrolmentAgeDays" => r2(f.enrolment_age_days),
        "activityTotal" => f.activity_total as f64,
        "activeDaysShare" => r4(f.active_days_share),
        "activity7Rel" => r4(f.activity7_rel),
        "paceTrend" => r4(f.pace_trend),
        "activityPercentile" => r4(f.activity_percentile),
        "progressPercentile" => r4(f.progress_percentile),
        "dueScorePct" => f.due_score_pct.map_or(0.0, |p| r4(p / 100.0)),
        "scoreTrend" => f.score_trend.map_or(0.0, |d| r4(d / 100.0)),
        "registrationLeadDays" => r2(f.registration_lead_days),
        "dueScorePercentile" => r4(f.due_score_percentile.unwrap_or(0.5)),
        "meanScorePercentile" => r4(f.mean_score_percentile.unwrap_or(0.5)),
        _ => 0.0,
    }
}

fn describe(factor: &str, f: &Features) -> String {
    match factor {
        "daysSinceLastActivity" => format!(
            "No activity in this course for {:.1} days",
            f.days_since_last_activity
        ),
        "activity14" | "activity14Rel" => format!(
            "Activity in the last 14 days: {} vs a course median of {}",
            f.activity14, f.median14
        ),
        "activity28Rel" => format!(
            "Activity in the last 28 days: {} vs a course median of {}",
            f.activity28, f.median28
        ),
        "submittedShare" => format!(
            "{:.0} % of the assessments due so far were submitted",
            100.0 * f.submitted_share.unwrap_or(1.0)
        ),
        "meanScorePct" => format!("Mean best score {:.0} %", f.mean_score_pct.unwrap_or(0.0)),
        "lateShare" => format!(
            "{:.0} % of submissions were late",
            100.0 * f.late_share.unwrap_or(0.0)
        ),
        "progressGap" => format!(
            "{:.0} percentage points behind the course schedule",
            100.0 * f.progress_gap.unwrap_or(0.0)
        ),
        "enrolmentAgeDays" => format!("Enrolled {:.0} days ago", f.enrolment_age_days),
        "activityTotal" => format!("{} activities in this course so far", f.activity_total),
        "activeDaysShare" => format!(
            "Active on {:.0} % of the days since the course began",
            100.0 * f.active_days_share
        ),
        "activity7Rel" => format!(
            "Activity in the last 7 days: {} vs a course median of {}",
            f.activity7, f.median7
        ),
        "paceTrend" => {
            if f.pace_trend < 0.0 {
                format!(
                    "Activity in the last 14 days ({}) is below the learner's own earlier pace",
                    f.activity14
                )
            } else {
                format!(
                    "Activity in the last 14 days ({}) is at or above the learner's own earlier pace",
                    f.activity14
                )
            }
        }
        "activityPercentile" => format!(
            "More active so far than {:.0} % of the course's learners",
            100.0 * f.activity_percentile
        ),
        "progressPercentile" => format!(
            "Further along (assessments and content done) than {:.0} % of the course's learners",
            100.0 * f.progress_percentile
        ),
        "dueScorePct" => format!(
            "Average {:.0} % over the assessments due so far (missed ones count as 0)",
            f.due_score_pct.unwrap_or(0.0)
        ),
        "scoreTrend" => {
            let d = f.score_trend.unwrap_or(0.0);
            if d < 0.0 {
                format!("Latest score {:.0} points below the earlier average", -d)
            } else {
                format!("Latest score {d:.0} points above the earlier average")
            }
        }
        "dueScorePercentile" => format!(
            "Marks on the work due so far are above those of {:.0} % of the course's learners \
             (missed work counts as 0)",
            100.0 * f.due_score_percentile.unwrap_or(0.5)
        ),
        "meanScorePercentile" => format!(
            "Average mark ({:.0} %) is above those of {:.0} % of the course's learners",
            f.mean_score_pct.unwrap_or(0.0),
            100.0 * f.mean_score_percentile.unwrap_or(0.5)
        ),
        "registrationLeadDays" => {
            let d = f.registration_lead_days;
            if d >= 0.0 {
                format!("Registered {d:.0} days before the course began")
            } else {
                format!("Registered {:.0} days after the course began", -d)
            }
        }
        _ => String::new(),
    }
}

fn intervention(factor: &'static str, f: &Features) -> Intervention {
    let (code, text) = match factor {
        "daysSinceLastActivity" => (
            "reach_out",
            format!(
                "Contact the learner personally: no activity for {} days.",
                f.days_since_last_activity.floor()
            ),
        ),
        "activity14Rel" | "activity28Rel" | "activity14" | "activity7Rel" | "paceTrend"
        | "activityTotal" | "activeDaysShare" | "activityPercentile" => (
            "re_engagement_nudge",
            "Send a reminder pointing to the next activity.".to_owned(),
        ),
        "submittedShare" | "progressPercentile" => (
            "assessment_catch_up",
            "Agree a catch-up plan for missed assessments.".to_owned(),
        ),
        "meanScorePct"
        | "dueScorePct"
        | "scoreTrend"
        | "dueScorePercentile"
        | "meanScorePercentile" => (
            "tutoring",
            "Offer tutoring or revision material on low-scoring topics.".to_owned(),
        ),
        "lateShare" => (
            "time_management",
            "Help plan study time; remind before due dates.".to_owned(),
        ),
        "progressGap" => (
            "pacing_plan",
            "Agree a pacing plan to catch up with the schedule.".to_owned(),
        ),
        _ => (
            "check_in",
            "Check in on the learner's situation and goals.".to_owned(),
        ),
    };
    Intervention { code, text, factor }
}

/// Positive contributions, descending (ties in table order), at most 5,
/// and the interventions of the first 3 (deduplicated).
pub(super) fn factors_and_interventions(
    contributions: &[(&'static str, f64)],
    f: &Features,
) -> (Vec<RiskFactor>, Vec<Intervention>) {
    let mut positive: Vec<(usize, &'static str, f64)> = contributions
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| *c > 0.0)
        .map(|(i, (name, c))| (i, *name, *c))
        .collect();
    positive.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    positive.truncate(5);
    let factors: Vec<RiskFactor> = positive
        .iter()
        .map(|&(_, factor, c)| RiskFactor {
            factor,
            value: value_of(factor, f),
            contribution: r4(c),
            description: describe(factor, f),
        })
        .collect();
    let mut interventions: Vec<Intervention> = Vec::new();
    for &(_, factor, _) in positive.iter().take(3) {
        let i = intervention(factor, f);
        if !interventions.iter().any(|x| x.code == i.code) {
            interventions.push(i);
        }
    }
    (factors, interventions)
}
