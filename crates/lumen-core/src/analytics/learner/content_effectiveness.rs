//! content-effectiveness (docs/analytics.md §5.6): which content works for
//! the learner.

use super::*;

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
    let user = learner_subject(ds, learner, w, LearnerRule::LEARNER)?;
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

        // Hours in the learner's own zone (users.time_zone), with its
        // daylight-saving rules at each interaction.
        let mut clicks = [0i64; 4];
        for (i, _, _) in &inter {
            let offset = utc_offset_at(&user.time_zone, i.occurred_at).unwrap_or_else(|| {
                header.note("TIME_ZONE_AS_UTC");
                0
            });
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
    use crate::analytics::learner::tests::*;

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
    fn best_time_of_day_is_in_the_learners_own_zone() {
        // Asia/Singapore (UTC+8, no DST). 217 clicks at 23:00 UTC = 07:00
        // local (morning; night in UTC), 88 clicks at 10:00 UTC = 18:00
        // local (evening; morning in UTC). Local: morning 217 > evening 88
        // → "morning" (in UTC it was "night").
        let mut r = records();
        user(&mut r, ME, L, None);
        r.users[0].time_zone = "Asia/Singapore".into();
        course(&mut r, 100, 0.0, None);
        enrol(&mut r, 1, ME, 100, 0.0);
        item(&mut r, 200, 100, ContentType::Video);
        interact(&mut r, ME, 200, hours(60.0, 23.0), 217, Some(600), false);
        interact(&mut r, ME, 200, hours(62.0, 10.0), 88, Some(600), false);
        let c = content_effectiveness(&ds(r.clone()), id(ME), &w30(70.0)).expect("ce");
        assert_eq!(c.best_time_of_day, Some("morning"));
        assert!(!c.header.notes.contains(&"TIME_ZONE_AS_UTC"));
        // An unknown zone is evaluated as UTC, and says so.
        r.users[0].time_zone = "Mars/Olympus".into();
        let c = content_effectiveness(&ds(r), id(ME), &w30(70.0)).expect("ce");
        assert_eq!(c.best_time_of_day, Some("night"));
        assert!(c.header.notes.contains(&"TIME_ZONE_AS_UTC"));
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
    fn hours_fall_in_four_bands() {
        assert_eq!(
            (band(4), band(5), band(12), band(17), band(22)),
            (3, 0, 1, 2, 3)
        );
    }
}
