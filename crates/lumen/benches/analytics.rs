//! Analytics compute time at the simulator's scales (docs/performance.md,
//! "Analytics compute time").
//!
//! The dataset is built without a database: every feed of the simulator is
//! paged through its in-process router, every item goes through the
//! collector's own parser, and the records of the main organisation (the one
//! holding `learner@demo.lumen.test`) are filtered the way
//! `Store::load_records` filters them, then indexed with `Dataset::new`.
//! The analytics run through `lumen::analytics::run`, the function the API
//! calls, with the inputs `compute_with` gives it (30-day window at the
//! simulator's now, k = 5, the organisation's trained drop-off model, no
//! Learner AI suggestions).
//!
//! Run: `cargo bench -p lumen --bench analytics` (a filter such as
//! `cargo bench -p lumen --bench analytics -- set` narrows it). Building the
//! Large dataset takes a while (once per run); it is skipped when no
//! selected benchmark needs it. The fixture's sizes, one-shot timings and
//! the drop-off model's evaluation are printed to stderr.
//!
//! No assertion on time: the numbers are for reading, not for gating.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use divan::{Bencher, black_box};
use http_body_util::BodyExt;
use lumen::collector::feeds::{self, FEEDS};
use lumen::simulate::{Scale, SimConfig, SimHandle};
use lumen_core::Role;
use lumen_core::analytics::dataset::Records;
use lumen_core::analytics::dropoff::{self, DropoffModel};
use lumen_core::analytics::{Analytic, Inputs, Memo, SubjectKind};
use lumen_core::analytics::{Dataset, TimeRange, Window, comparison, learner, trainer};
use lumen_core::model::{Change, Organization, Record};
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

/// The demo's seed (`lumen demo`, `lumen simulate` default).
const SEED: u64 = 42;
/// A fixed simulated present, so every run sees the same bytes.
const NOW: &str = "2025-10-01T00:00:00Z";
/// `LUMEN_K_ANONYMITY` default.
const K: usize = 5;
const PAGE: usize = 1000;
const LEARNER_EMAIL: &str = "learner@demo.lumen.test";
const TRAINER_EMAIL: &str = "trainer@demo.lumen.test";

fn main() {
    divan::main();
}

// ---- the fixture ----

struct Fixture {
    ds: Dataset,
    w: Window,
    org: Uuid,
    learner: Uuid,
    trainer: Uuid,
    model: Option<DropoffModel>,
    /// Learners whose peer metrics `peer` asks for (the demo learner's).
    peer_calls: Vec<Uuid>,
    /// Learners whose signals `student-distribution` asks for (the demo
    /// trainer's).
    signal_calls: Vec<Uuid>,
    /// The dataset's memo, as the service keeps it beside a warm dataset:
    /// shared by every sample of the `warm` benchmarks.
    memo: Memo,
}

impl Fixture {
    fn ctx(&self) -> Inputs<'_> {
        self.ctx_with(None)
    }

    fn ctx_with<'a>(&'a self, memo: Option<&'a Memo>) -> Inputs<'a> {
        Inputs {
            ds: &self.ds,
            w: &self.w,
            k: K,
            model: self.model.as_ref(),
            ai: None,
            memo,
        }
    }

    /// A role's bundle through `memo`, as the service computes it.
    fn run_set_memo(
        &self,
        role: Role,
        memo: &Memo,
    ) -> Vec<Result<Value, lumen_core::analytics::AnalyticError>> {
        let ctx = self.ctx_with(Some(memo));
        Analytic::bundle(role)
            .map(|kind| (kind.compute)(self.subject(kind), &ctx))
            .collect()
    }

    /// The subject an analytic of `kind` is computed for.
    fn subject(&self, kind: &Analytic) -> Uuid {
        match kind.subject {
            SubjectKind::Learner => self.learner,
            SubjectKind::Trainer => self.trainer,
            SubjectKind::Organization | SubjectKind::CallersOrganization => self.org,
        }
    }

    /// Every analytic of a role's bundle, as `compute_with` runs them.
    fn run_set(&self, role: Role) -> Vec<Result<Value, lumen_core::analytics::AnalyticError>> {
        self.run_set_except(role, None)
    }

    fn run_set_except(
        &self,
        role: Role,
        except: Option<&str>,
    ) -> Vec<Result<Value, lumen_core::analytics::AnalyticError>> {
        let ctx = self.ctx();
        Analytic::bundle(role)
            .filter(|kind| Some(kind.name) != except)
            .map(|kind| (kind.compute)(self.subject(kind), &ctx))
            .collect()
    }
}

static MEDIUM: LazyLock<Fixture> = LazyLock::new(|| build(Scale::Medium));
static LARGE: LazyLock<Fixture> = LazyLock::new(|| build(Scale::Large));

fn fixture(scale: Scale) -> &'static Fixture {
    match scale {
        Scale::Large => &LARGE,
        _ => &MEDIUM,
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn build(scale: Scale) -> Fixture {
    let now: DateTime<Utc> = NOW.parse().expect("valid NOW");
    eprintln!("\n[fixture {scale}] seed {SEED}, now {NOW}");

    let t = Instant::now();
    let sim = SimHandle::new(SimConfig {
        seed: SEED,
        scale,
        now,
    });
    eprintln!(
        "[fixture {scale}] simulator generated in {}",
        secs(t.elapsed())
    );

    let t = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let (orgs, all, served, rejected) = runtime.block_on(collect(&sim));
    eprintln!(
        "[fixture {scale}] {served} items paged and parsed in {} ({rejected} rejected)",
        secs(t.elapsed())
    );

    let learner_org = all
        .users
        .iter()
        .find(|u| u.email == LEARNER_EMAIL)
        .map(|u| u.organization_id)
        .expect("the demo learner exists");
    let records = only_org(orgs, all, learner_org);
    let sizes = sizes(&records);
    eprintln!(
        "[fixture {scale}] main organisation: {} records: {sizes:?}",
        sizes.values().sum::<usize>()
    );

    let t = Instant::now();
    let ds = Dataset::new(records);
    eprintln!("[fixture {scale}] Dataset::new in {}", secs(t.elapsed()));
    let (bytes, n) = (
        lumen::datasets::estimated_bytes(&ds),
        lumen::datasets::record_count(&ds),
    );
    eprintln!(
        "[fixture {scale}] estimated size {:.1} MiB for {n} records: {:.0} bytes per record",
        bytes as f64 / (1024.0 * 1024.0),
        bytes as f64 / n.max(1) as f64
    );

    let learner = user_id(&ds, LEARNER_EMAIL);
    let trainer = user_id(&ds, TRAINER_EMAIL);
    eprintln!(
        "[fixture {scale}] learners {}, trainers {}",
        ds.users_with_role(Role::Learner).count(),
        ds.users_with_role(Role::Trainer).count()
    );

    let w = Window::new(TimeRange::Days30, sim.now());
    let t = Instant::now();
    let trained = dropoff::train(&ds, w.now);
    let train_time = t.elapsed();
    eprintln!(
        "[fixture {scale}] drop-off model trained in {}",
        secs(train_time)
    );
    let model = match trained {
        Ok(m) => {
            eprintln!(
                "[fixture {scale}] evaluation: {}",
                serde_json::to_string(&m.evaluation).unwrap_or_default()
            );
            Some(m)
        }
        Err(e) => {
            eprintln!("[fixture {scale}] no model: {e:?}");
            None
        }
    };

    let mut fx = Fixture {
        ds,
        w,
        org: learner_org,
        learner,
        trainer,
        model,
        peer_calls: Vec::new(),
        signal_calls: Vec::new(),
        memo: Memo::default(),
    };

    // What each analytic returns here, and how long it takes once.
    for role in [Role::Learner, Role::Trainer, Role::OrgAdmin] {
        let ctx = fx.ctx();
        for kind in Analytic::bundle(role) {
            if scale == Scale::Large && kind.name == "peer" {
                eprintln!("[fixture {scale}] {role:?}/peer: skipped (see peer_member_metrics)");
                continue;
            }
            let t = Instant::now();
            let result = (kind.compute)(fx.subject(kind), &ctx);
            let took = t.elapsed();
            let outcome = match &result {
                Ok(v) => format!("ok, {} bytes of JSON", v.to_string().len()),
                Err(e) => format!("error {e:?}"),
            };
            eprintln!(
                "[fixture {scale}] {role:?}/{}: once {:.1} ms, {outcome}",
                kind.name,
                took.as_secs_f64() * 1e3
            );
        }
    }

    // Which learners the per-learner closures are called for. At Large,
    // running `peer` once takes too long (see docs/performance.md): its
    // calls are every learner of the organisation, of which the benchmark
    // times a sample.
    fx.peer_calls = if scale == Scale::Large {
        let mut all: Vec<Uuid> = fx.ds.learners().map(|u| u.id).collect();
        all.sort();
        all
    } else {
        peer_calls(&fx)
    };
    fx.signal_calls = signal_calls(&fx);

    // The memo: what the first request of a window pays once, then
    // whether every analytic answers what it answers without a memo.
    for role in [Role::Learner, Role::Trainer, Role::OrgAdmin] {
        let t = Instant::now();
        let fast = fx.run_set_memo(role, &fx.memo);
        eprintln!(
            "[fixture {scale}] {role:?} set through the memo, first time: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let ctx = fx.ctx();
        for (kind, fast) in Analytic::bundle(role).zip(fast) {
            if scale == Scale::Large && kind.name == "peer" {
                continue;
            }
            let slow = (kind.compute)(fx.subject(kind), &ctx);
            assert_eq!(fast, slow, "{} differs through the memo", kind.name);
        }
    }
    eprintln!(
        "[fixture {scale}] peer asks metrics of {} learners ({} distinct); \
         student-distribution asks signals of {} learners ({} distinct)",
        fx.peer_calls.len(),
        fx.peer_calls.iter().collect::<HashSet<_>>().len(),
        fx.signal_calls.len(),
        fx.signal_calls.iter().collect::<HashSet<_>>().len(),
    );
    fx
}

fn user_id(ds: &Dataset, email: &str) -> Uuid {
    ds.records
        .users
        .iter()
        .find(|u| u.email == email)
        .map(|u| u.id)
        .unwrap_or_else(|| panic!("{email} is in the main organisation"))
}

/// Pages through every feed and parses every item with the collector's
/// parsers. Returns the organisations, every other record (all
/// organisations), the number of items served and of items rejected.
async fn collect(sim: &SimHandle) -> (Vec<Organization>, Records, usize, usize) {
    let router = sim.router();
    let mut orgs = Vec::new();
    let mut all = Records::default();
    let mut ctx = feeds::Context::default();
    let (mut served, mut rejected) = (0, 0);
    for feed in &FEEDS {
        if feed.name == "assessment-attempts" {
            ctx.assessment_max = all
                .assessments
                .iter()
                .map(|a| (a.id, a.max_score))
                .collect();
        }
        let mut cursor: Option<String> = None;
        loop {
            let mut uri = format!("/{}{}?limit={PAGE}", feed.service, feed.path);
            if let Some(c) = &cursor {
                uri.push_str("&cursor=");
                uri.push_str(c);
            }
            let req = Request::builder()
                .uri(&uri)
                .header("authorization", "Bearer x")
                .body(Body::empty())
                .expect("request");
            let resp = router.clone().oneshot(req).await.expect("response");
            assert_eq!(resp.status(), StatusCode::OK, "{uri}");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            let mut page: Value = serde_json::from_slice(&body).expect("JSON page");
            let items = match page.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => panic!("{uri}: no items"),
            };
            served += items.len();
            for item in &items {
                match feed.parse(item, &ctx) {
                    Ok(parsed) => match parsed.change {
                        Change::Upsert(record) => push(&mut orgs, &mut all, record),
                        Change::Delete(key) => panic!("{uri}: unexpected tombstone {key:?}"),
                    },
                    Err(_) => rejected += 1,
                }
            }
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
    }
    (orgs, all, served, rejected)
}

fn push(orgs: &mut Vec<Organization>, r: &mut Records, record: Record) {
    match record {
        Record::Organization(x) => orgs.push(x),
        Record::Department(x) => r.departments.push(x),
        Record::User(x) => r.users.push(x),
        Record::TrainerLearner {
            trainer_id,
            learner_id,
        } => r.trainer_learners.push((trainer_id, learner_id)),
        Record::Course(x) => r.courses.push(x),
        Record::CourseUnit(x) => r.units.push(x),
        Record::CourseTrainer {
            course_id,
            trainer_id,
        } => r.course_trainers.push((course_id, trainer_id)),
        Record::Enrolment(x) => r.enrolments.push(x),
        Record::TrainerFeedback(x) => r.feedback.push(x),
        Record::ContentItem(x) => r.content_items.push(x),
        Record::ContentInteraction(x) => r.interactions.push(x),
        Record::Assessment(x) => r.assessments.push(x),
        Record::AssessmentAttempt(x) => r.attempts.push(x),
        Record::Skill(x) => r.skills.push(x),
        Record::SkillLevel(x) => r.skill_levels.push(x),
        Record::SkillRequirement(x) => r.requirements.push(x),
        Record::SkillTarget(x) => r.targets.push(x),
        Record::LabSession(x) => r.lab_sessions.push(x),
        Record::AssistantQuestion(x) => r.questions.push(x),
    }
}

/// The organisation's records, filtered as `Store::load_records` does.
fn only_org(orgs: Vec<Organization>, all: Records, org: Uuid) -> Records {
    let users: HashSet<Uuid> = all
        .users
        .iter()
        .filter(|u| u.organization_id == org)
        .map(|u| u.id)
        .collect();
    let courses: HashSet<Uuid> = all
        .courses
        .iter()
        .filter(|c| c.organization_id == org)
        .map(|c| c.id)
        .collect();
    let by_user = |u: &Uuid| users.contains(u);
    let by_course = |c: &Uuid| courses.contains(c);
    Records {
        organization: orgs.into_iter().find(|o| o.id == org),
        departments: keep(all.departments, |d| d.organization_id == org),
        users: keep(all.users, |u| u.organization_id == org),
        courses: keep(all.courses, |c| c.organization_id == org),
        units: keep(all.units, |u| by_course(&u.course_id)),
        course_trainers: keep(all.course_trainers, |(c, _)| by_course(c)),
        trainer_learners: keep(all.trainer_learners, |(t, _)| by_user(t)),
        enrolments: keep(all.enrolments, |e| by_course(&e.course_id)),
        content_items: keep(all.content_items, |i| by_course(&i.course_id)),
        interactions: keep(all.interactions, |i| by_user(&i.user_id)),
        assessments: keep(all.assessments, |a| by_course(&a.course_id)),
        attempts: keep(all.attempts, |a| by_user(&a.user_id)),
        skills: keep(all.skills, |s| s.organization_id.is_none_or(|o| o == org)),
        skill_levels: keep(all.skill_levels, |l| by_user(&l.user_id)),
        requirements: keep(all.requirements, |r| r.organization_id == org),
        targets: keep(all.targets, |t| t.organization_id == org),
        feedback: keep(all.feedback, |f| by_course(&f.course_id)),
        lab_sessions: keep(all.lab_sessions, |l| by_user(&l.user_id)),
        questions: keep(all.questions, |q| by_user(&q.user_id)),
    }
}

fn keep<T>(mut v: Vec<T>, f: impl Fn(&T) -> bool) -> Vec<T> {
    v.retain(f);
    v.shrink_to_fit();
    v
}

fn sizes(r: &Records) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("organization", usize::from(r.organization.is_some())),
        ("departments", r.departments.len()),
        ("users", r.users.len()),
        ("courses", r.courses.len()),
        ("units", r.units.len()),
        ("course_trainers", r.course_trainers.len()),
        ("trainer_learners", r.trainer_learners.len()),
        ("enrolments", r.enrolments.len()),
        ("content_items", r.content_items.len()),
        ("interactions", r.interactions.len()),
        ("assessments", r.assessments.len()),
        ("attempts", r.attempts.len()),
        ("skills", r.skills.len()),
        ("skill_levels", r.skill_levels.len()),
        ("requirements", r.requirements.len()),
        ("targets", r.targets.len()),
        ("feedback", r.feedback.len()),
        ("lab_sessions", r.lab_sessions.len()),
        ("questions", r.questions.len()),
    ])
}

// ---- the per-learner closures, as `lumen::analytics::run` builds them ----

/// The closure `run` gives `comparison::peer`.
fn peer_metrics(ds: &Dataset, w: &Window, l: Uuid) -> comparison::PeerMetrics {
    comparison::PeerMetrics::of(ds, l, w)
}

/// The closure `run` gives `trainer::student_distribution`.
fn learner_signals(fx: &Fixture, l: Uuid) -> trainer::LearnerSignals {
    trainer::LearnerSignals::new(
        learner::engagement(&fx.ds, l, &fx.w).ok().as_ref(),
        dropoff::drop_off_risk(&fx.ds, l, &fx.w, fx.model.as_ref())
            .ok()
            .as_ref(),
    )
}

fn peer_calls(fx: &Fixture) -> Vec<Uuid> {
    let calls = RefCell::new(Vec::new());
    let metrics = |l: Uuid| {
        calls.borrow_mut().push(l);
        peer_metrics(&fx.ds, &fx.w, l)
    };
    let _ = comparison::peer(&fx.ds, fx.learner, &fx.w, K, &metrics);
    calls.into_inner()
}

fn signal_calls(fx: &Fixture) -> Vec<Uuid> {
    let calls = RefCell::new(Vec::new());
    let signals = |l: Uuid| {
        calls.borrow_mut().push(l);
        learner_signals(fx, l)
    };
    let _ = trainer::student_distribution(&fx.ds, fx.trainer, &fx.w, K, &signals);
    calls.into_inner()
}

// ---- the benchmarks ----

const SCALES: [Scale; 2] = [Scale::Medium, Scale::Large];

/// (a) The learner bundle for learner@demo.lumen.test. Medium only: at
/// Large one run of `peer` alone takes tens of minutes (see
/// `peer_member_metrics`).
#[divan::bench(args = [Scale::Medium], sample_size = 1, sample_count = 20, max_time = 60)]
fn set_learner(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set(Role::Learner)));
}

/// (a') The learner bundle without `peer`, at both scales.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 20, max_time = 60)]
fn set_learner_without_peer(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_except(Role::Learner, Some("peer"))));
}

/// (b) The trainer bundle for trainer@demo.lumen.test.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 20, max_time = 60)]
fn set_trainer(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set(Role::Trainer)));
}

/// (c) The organisation bundle for the main organisation.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 20, max_time = 60)]
fn set_organization(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set(Role::OrgAdmin)));
}

/// Training the drop-off model on the whole organisation.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 5, max_time = 60)]
fn train_dropoff(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(dropoff::train(&fx.ds, fx.w.now)));
}

/// One analytic of a bundle, for the breakdown of the sets.
#[derive(Clone, Copy, Debug)]
struct One {
    scale: Scale,
    kind: &'static Analytic,
}

impl fmt::Display for One {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.scale, self.kind.name)
    }
}

fn every_analytic() -> Vec<One> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for scale in SCALES {
        for role in [Role::Learner, Role::Trainer, Role::OrgAdmin] {
            for kind in Analytic::bundle(role) {
                let too_slow = scale == Scale::Large && kind.name == "peer";
                if !too_slow && seen.insert((scale, kind.name)) {
                    out.push(One { scale, kind });
                }
            }
        }
    }
    out
}

/// Each analytic of the three sets alone (same subject and inputs).
#[divan::bench(args = every_analytic(), sample_size = 1, sample_count = 10, max_time = 15)]
fn analytic(bencher: Bencher, one: One) {
    let fx = fixture(one.scale);
    let ctx = fx.ctx();
    let subject = fx.subject(one.kind);
    bencher.bench(|| black_box((one.kind.compute)(subject, &ctx)));
}

/// Only the per-member metrics `peer` computes (the same learners, in the
/// same order), without the rest of `peer`. Medium only (all members).
#[divan::bench(args = [Scale::Medium], sample_size = 1, sample_count = 10, max_time = 30)]
fn peer_member_metrics_only(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| {
        for &l in &fx.peer_calls {
            black_box(peer_metrics(&fx.ds, &fx.w, l));
        }
    });
}

/// Members whose metrics `peer_member_metrics` times per scale.
const MEMBER_SAMPLE: usize = 20;

/// The peer metrics of `MEMBER_SAMPLE` cohort members (evenly spread over
/// the cohort): `peer`'s cost is about cohort size / MEMBER_SAMPLE times
/// this.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 10, max_time = 60)]
fn peer_member_metrics(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    let step = (fx.peer_calls.len() / MEMBER_SAMPLE).max(1);
    let sample: Vec<Uuid> = fx
        .peer_calls
        .iter()
        .step_by(step)
        .take(MEMBER_SAMPLE)
        .copied()
        .collect();
    bencher.bench(|| {
        for &l in &sample {
            black_box(peer_metrics(&fx.ds, &fx.w, l));
        }
    });
}

/// Only the per-learner signals `student-distribution` computes.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 10, max_time = 30)]
fn distribution_signals_only(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| {
        for &l in &fx.signal_calls {
            black_box(learner_signals(fx, l));
        }
    });
}

/// The role sets through a memo already filled for the window (the
/// dataset is warm and another request or batch chunk of the window came
/// first): the steady state of serving and of the batch.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 30, max_time = 30)]
fn warm_set_learner(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::Learner, &fx.memo)));
}

#[divan::bench(args = SCALES, sample_size = 1, sample_count = 30, max_time = 30)]
fn warm_set_trainer(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::Trainer, &fx.memo)));
}

#[divan::bench(args = SCALES, sample_size = 1, sample_count = 30, max_time = 30)]
fn warm_set_organization(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::OrgAdmin, &fx.memo)));
}

/// The role sets through an empty memo (a new window, or a dataset just
/// loaded): includes building the window's baselines and, for the learner
/// set, every learner's peer metrics.
#[divan::bench(args = SCALES, sample_size = 1, sample_count = 10, max_time = 60)]
fn cold_memo_set_learner(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::Learner, &Memo::default())));
}

#[divan::bench(args = SCALES, sample_size = 1, sample_count = 10, max_time = 60)]
fn cold_memo_set_trainer(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::Trainer, &Memo::default())));
}

#[divan::bench(args = SCALES, sample_size = 1, sample_count = 10, max_time = 60)]
fn cold_memo_set_organization(bencher: Bencher, scale: Scale) {
    let fx = fixture(scale);
    bencher.bench(|| black_box(fx.run_set_memo(Role::OrgAdmin, &Memo::default())));
}
