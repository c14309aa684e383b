//! The memoised fast path answers exactly what a from-scratch computation
//! answers: every analytic of the registry, every subject of random
//! organisations, through one shared [`Memo`] (in a random order, several
//! windows) against [`Inputs`] without a memo, then again after random
//! records are added (a new dataset version with a new memo).

use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::testkit::*;
use super::{ANALYTICS, AnalyticError, Dataset, Inputs, Memo, SubjectKind, TimeRange, Window};
use crate::Role;
use crate::analytics::dataset::Records;
use crate::model::*;

/// A small deterministic generator (xorshift64*), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn days(&mut self, from: f64, to: f64) -> f64 {
        from + (to - from) * (self.below(10_000) as f64 / 10_000.0)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

const DEPARTMENTS: [u128; 2] = [500, 501];
const SKILLS: [u128; 3] = [600, 601, 602];
const NOW: f64 = 120.0;

/// Ids: courses 100.., items 1000.., assessments 2000.., learners 10..,
/// trainers 90.., admin 99, enrolments 3000.., then fresh ids 10_000+.
struct Org {
    records: Records,
    learners: Vec<u128>,
    trainers: Vec<u128>,
    courses: Vec<u128>,
    items: Vec<(u128, u128)>,
    assessments: Vec<(u128, u128)>,
    next_id: u128,
}

fn random_org(rng: &mut Rng) -> Org {
    let mut r = records();
    department(&mut r, DEPARTMENTS[0], "Engineering");
    department(&mut r, DEPARTMENTS[1], "Sales");
    for (n, name) in SKILLS.iter().zip(["Rust", "SQL", "Writing"]) {
        skill(&mut r, *n, name);
    }
    let mut org = Org {
        records: r,
        learners: Vec::new(),
        trainers: Vec::new(),
        courses: Vec::new(),
        items: Vec::new(),
        assessments: Vec::new(),
        next_id: 10_000,
    };
    let r = &mut org.records;
    let n_courses = 2 + rng.below(4) as u128;
    for c in 0..n_courses {
        let course_id = 100 + c;
        course(
            r,
            course_id,
            rng.days(0.0, 60.0),
            rng.chance(70).then(|| 30 + rng.below(120) as u32),
        );
        org.courses.push(course_id);
        for i in 0..(1 + rng.below(4) as u128) {
            let item_id = 1000 + c * 10 + i;
            let kind = rng.pick(&[ContentType::Video, ContentType::Reading, ContentType::Quiz]);
            item(r, item_id, course_id, kind);
            org.items.push((item_id, course_id));
        }
        for a in 0..(1 + rng.below(3) as u128) {
            let a_id = 2000 + c * 10 + a;
            let due = rng.chance(70).then(|| rng.days(40.0, NOW + 10.0));
            assessment(r, a_id, course_id, 100.0, rng.below(3) as f64 * 25.0, due);
            org.assessments.push((a_id, course_id));
        }
    }
    for t in 0..(1 + rng.below(2) as u128) {
        let trainer = 90 + t;
        user(r, trainer, &[Role::Trainer], Some(DEPARTMENTS[0]));
        org.trainers.push(trainer);
    }
    user(r, 99, &[Role::OrgAdmin], None);
    for &c in &org.courses {
        let t = rng.pick(&org.trainers);
        r.course_trainers.push((id(c), id(t)));
    }
    let n_learners = 6 + rng.below(20) as u128;
    let mut enrolment = 3000;
    for l in 0..n_learners {
        let learner = 10 + l;
        let dept = match rng.below(3) {
            0 => None,
            d => Some(DEPARTMENTS[d as usize - 1]),
        };
        let roles: &[Role] = if rng.chance(10) {
            &[Role::Learner, Role::Trainer]
        } else {
            &[Role::Learner]
        };
        user(r, learner, roles, dept);
        if rng.chance(50) {
            r.users.last_mut().expect("user").job_role = Some("Engineer".into());
        }
        org.learners.push(learner);
        r.trainer_learners
            .push((id(rng.pick(&org.trainers)), id(learner)));
        for &c in &org.courses {
            if !rng.chance(55) {
                continue;
            }
            let enrolled = rng.days(0.0, NOW - 5.0);
            let i = enrol(r, enrolment, learner, c, enrolled);
            enrolment += 1;
            let at = rng.days(enrolled, NOW);
            match rng.below(6) {
                0 => complete(r, i, at, Outcome::Pass),
                1 => complete(r, i, at, Outcome::Fail),
                2 => withdraw(r, i, at),
                _ => r.enrolments[i].progress = rng.below(100) as f64 / 100.0,
            }
        }
        for s in SKILLS {
            if rng.chance(50) {
                level(r, learner, s, rng.below(6) as f64, rng.days(0.0, NOW));
            }
        }
    }
    r.requirements.push(SkillRequirement {
        organization_id: id(ORG),
        job_role: "Engineer".into(),
        skill_id: id(SKILLS[0]),
        required_level: 3.0,
    });
    r.targets.push(SkillTarget {
        organization_id: id(ORG),
        skill_id: id(SKILLS[1]),
        target_level: 4.0,
        priority: 1.0,
        target_date: None,
    });
    for _ in 0..(org.learners.len() * 8) {
        add_activity(&mut org, rng);
    }
    org
}

/// One random learning record of a learner (activity, attempt, skill level
/// or enrolment).
fn add_activity(org: &mut Org, rng: &mut Rng) {
    let learner = rng.pick(&org.learners);
    let at = rng.days(10.0, NOW);
    let r = &mut org.records;
    match rng.below(10) {
        0..=4 => {
            let (item_id, _) = rng.pick(&org.items);
            let seconds = rng.chance(60).then(|| rng.below(3600) as i32);
            interact(
                r,
                learner,
                item_id,
                at,
                1 + rng.below(40) as i32,
                seconds,
                rng.chance(40),
            );
        }
        5..=6 => {
            let (a, _) = rng.pick(&org.assessments);
            attempt(
                r,
                learner,
                a,
                1 + rng.below(2) as i32,
                rng.below(101) as f64,
                at,
            );
        }
        7 => level(r, learner, rng.pick(&SKILLS), rng.below(6) as f64, at),
        8 => {
            org.next_id += 1;
            r.lab_sessions.push(LabSession {
                id: id(org.next_id),
                user_id: id(learner),
                course_id: Some(id(rng.pick(&org.courses))),
                origin: None,
                exercise: "ex".into(),
                started_at: day(at),
                ended_at: Some(day(at + 0.02)),
                attempts: 1,
                solved: rng.chance(50),
            });
        }
        _ => {
            org.next_id += 1;
            let c = rng.pick(&org.courses);
            enrol(r, org.next_id, learner, c, at);
        }
    }
}

type Answer = Result<Value, AnalyticError>;

/// Every (analytic, subject) of the organisation.
fn every_question(org: &Org) -> Vec<(usize, Uuid)> {
    let mut out = Vec::new();
    for (n, a) in ANALYTICS.iter().enumerate() {
        let subjects: Vec<Uuid> = match a.subject {
            SubjectKind::Learner => org
                .learners
                .iter()
                .map(|l| id(*l))
                .chain([id(99)])
                .collect(),
            SubjectKind::Trainer => org.trainers.iter().map(|t| id(*t)).collect(),
            SubjectKind::Organization | SubjectKind::CallersOrganization => vec![id(ORG)],
        };
        out.extend(subjects.into_iter().map(|s| (n, s)));
    }
    out
}

fn answer(ds: &Dataset, w: &Window, memo: Option<&Memo>, (n, s): (usize, Uuid)) -> Answer {
    let inputs = Inputs {
        ds,
        w,
        k: 2,
        model: None,
        ai: None,
        memo,
    };
    (ANALYTICS[n].compute)(s, &inputs)
}

/// Asks every question of `org` in a random order through one memo, in
/// two windows, and compares each answer with the from-scratch one.
fn check(org: &Org, rng: &mut Rng) -> usize {
    let ds = Dataset::new(org.records.clone());
    let memo = Memo::default();
    let windows = [
        Window::new(TimeRange::Days30, day(NOW)),
        Window::new(TimeRange::Days7, day(NOW - 3.0)),
    ];
    let mut questions: Vec<(Window, (usize, Uuid))> = windows
        .iter()
        .flat_map(|w| every_question(org).into_iter().map(move |q| (*w, q)))
        .collect();
    for i in (1..questions.len()).rev() {
        questions.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut answered = 0;
    for (w, q) in questions {
        let fast = answer(&ds, &w, Some(&memo), q);
        let slow = answer(&ds, &w, None, q);
        assert_eq!(
            fast, slow,
            "{} for {} ({}) differs through the memo",
            ANALYTICS[q.0].name, q.1, w.range
        );
        answered += usize::from(slow.is_ok());
    }
    answered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn the_memo_answers_exactly_what_a_fresh_computation_answers(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mut org = random_org(&mut rng);
        check(&org, &mut rng);
        // A delta: records added, a new dataset version and a new memo.
        for _ in 0..(1 + rng.below(40)) {
            add_activity(&mut org, &mut rng);
        }
        check(&org, &mut rng);
    }
}

/// The generator makes organisations where most analytics answer (a test
/// comparing only errors would prove little).
#[test]
fn random_organisations_answer_most_questions() {
    let mut rng = Rng::new(7);
    let org = random_org(&mut rng);
    let questions = 2 * every_question(&org).len();
    let answered = check(&org, &mut rng);
    assert!(
        answered * 2 > questions,
        "only {answered} of {questions} questions answered"
    );
}
