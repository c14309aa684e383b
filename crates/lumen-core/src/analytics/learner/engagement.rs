//! engagement (docs/analytics.md §5.3): how engaged the learner is.

use super::*;

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

/// The organisation-wide inputs of every learner's engagement score in one
/// window (§5.3's cohort medians): who is active in each course, and each
/// active learner's activity count and time spent. Built in one pass over
/// the learners; with it a learner's score costs one look-up per cohort
/// member instead of re-reading every member's records.
#[derive(Debug, Default)]
pub struct EngagementBaseline {
    /// Per course, the learners (role learner) with an enrolment active in
    /// the window, each once.
    active: HashMap<Uuid, Vec<Uuid>>,
    /// Per learner active somewhere: (activity count, time spent).
    activity: HashMap<Uuid, (i64, Option<i64>)>,
}

impl EngagementBaseline {
    pub fn new(ds: &Dataset, w: &Window) -> Self {
        let mut base = EngagementBaseline::default();
        for u in ds.learners() {
            let mut any = false;
            for e in ds.enrolments_of(u.id).filter(|e| active_in(e, w)) {
                let members = base.active.entry(e.course_id).or_default();
                if members.last() != Some(&u.id) {
                    members.push(u.id);
                }
                any = true;
            }
            if any {
                base.activity.insert(
                    u.id,
                    (
                        activity_count(&events(ds, u.id), w),
                        time_spent(ds, u.id, w),
                    ),
                );
            }
        }
        base
    }

    fn activity(&self, ds: &Dataset, u: Uuid, w: &Window) -> (i64, Option<i64>) {
        self.activity
            .get(&u)
            .copied()
            .unwrap_or_else(|| (activity_count(&events(ds, u), w), time_spent(ds, u, w)))
    }
}

/// `None` when the subject has no enrolment active in `w`.
fn engagement_score(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    base: Option<&EngagementBaseline>,
) -> Option<EngagementScore> {
    let courses: BTreeSet<Uuid> = ds
        .enrolments_of(learner)
        .filter(|e| active_in(e, w))
        .map(|e| e.course_id)
        .collect();
    if courses.is_empty() {
        return None;
    }
    let mut cohort: BTreeSet<Uuid> = match base {
        Some(base) => courses
            .iter()
            .filter_map(|c| base.active.get(c))
            .flatten()
            .copied()
            .collect(),
        None => ds
            .learners()
            .filter(|u| {
                ds.enrolments_of(u.id)
                    .any(|e| active_in(e, w) && courses.contains(&e.course_id))
            })
            .map(|u| u.id)
            .collect(),
    };
    cohort.insert(learner);
    // (activity count, time spent) of each cohort member.
    let members: Vec<(i64, Option<i64>)> = match base {
        Some(base) => cohort.iter().map(|&u| base.activity(ds, u, w)).collect(),
        None => cohort
            .iter()
            .map(|&u| (activity_count(&events(ds, u), w), time_spent(ds, u, w)))
            .collect(),
    };

    let own = events(ds, learner);
    let regularity = 100.0 * active_days(&own, w) as f64 / w.range.days() as f64;

    let a = activity_count(&own, w) as f64;
    let m = median(members.iter().map(|(count, _)| *count as f64)).unwrap_or(0.0);
    let activity = relative(a, m);

    let time_measured = members.iter().any(|(_, t)| t.is_some());
    let time = time_measured.then(|| {
        let tau = time_spent(ds, learner, w).unwrap_or(0) as f64;
        let m_tau = median(members.iter().map(|(_, t)| t.unwrap_or(0) as f64)).unwrap_or(0.0);
        relative(tau, m_tau)
    });

    let due: Vec<&Assessment> = match base {
        // The same assessments, found through the learner's courses.
        Some(_) => {
            let mut enrolled: Vec<Uuid> = ds.enrolments_of(learner).map(|e| e.course_id).collect();
            enrolled.sort_unstable();
            enrolled.dedup();
            enrolled
                .into_iter()
                .flat_map(|c| ds.assessments_of_course(c))
                .filter(|a| {
                    a.due_at.is_some_and(|due| {
                        w.contains(due)
                            && ds
                                .enrolments_of(learner)
                                .any(|e| e.course_id == a.course_id && active_at(e, due))
                    })
                })
                .collect()
        }
        None => ds
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
            .collect(),
    };
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
    engagement_with(ds, learner, w, None)
}

/// [`engagement`] with the window's and the previous window's
/// [`EngagementBaseline`] (`(w, w.previous())`): the same answer, without
/// re-reading every cohort member's records.
pub fn engagement_with(
    ds: &Dataset,
    learner: Uuid,
    w: &Window,
    bases: Option<(&EngagementBaseline, &EngagementBaseline)>,
) -> Result<Engagement, AnalyticError> {
    const NAME: &str = "engagement";
    learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
    let Some(now) = engagement_score(ds, learner, w, bases.map(|b| b.0)) else {
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

    let previous =
        engagement_score(ds, learner, &w.previous(), bases.map(|b| b.1)).map(|p| p.score);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::learner::tests::*;

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
}
