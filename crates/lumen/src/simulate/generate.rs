//! Generation of the deterministic synthetic organisation.
//!
//! Every learner's whole timeline (up to [`HORIZON_DAYS`] after the
//! configured `now`) is generated up front. The served data is the part of
//! it that lies at or before the simulated `now`: immutable events
//! (interactions, attempts, skill levels, …) are revealed as `now` moves,
//! and the mutable records (enrolments, user status) are recomputed for it.
//! So [`Org::set_now`] is all `advance` needs.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::model::*;
use super::rng::Rng;
use super::{Persona, Scale, SimConfig};

pub(crate) const DAY: i64 = 86_400;
/// Days of history before `now`.
pub(crate) const HISTORY_DAYS: i64 = 182;
/// Days after the configured `now` for which activity is pre-generated;
/// `advance` beyond it shows no new activity.
pub(crate) const HORIZON_DAYS: i64 = 90;
/// Activity probability factor on Saturdays and Sundays.
const WEEKEND: f64 = 0.35;

const FIRST: [&str; 32] = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Dennis",
    "Margaret",
    "Ken",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Hedy",
    "Edsger",
    "Karen",
    "Donald",
    "Sophie",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Annie",
    "Guido",
    "Joan",
    "Bjarne",
    "Mary",
    "Vint",
    "Katherine",
    "Brian",
    "Evelyn",
    "James",
    "Lynn",
    "Yukihiro",
];
const LAST: [&str; 32] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Ritchie",
    "Hamilton",
    "Thompson",
    "Allen",
    "Backus",
    "Perlman",
    "Berners",
    "Lamarr",
    "Dijkstra",
    "Jones",
    "Knuth",
    "Wilson",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Easley",
    "Rossum",
    "Clarke",
    "Stroustrup",
    "Keller",
    "Cerf",
    "Johnson",
    "Kernighan",
    "Boyd",
    "Gosling",
    "Conway",
    "Matsumoto",
];
const TIME_ZONES: [&str; 8] = [
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
];
/// (name, category, owned by the main organisation rather than platform-wide)
const SKILLS: [(&str, &str, bool); 12] = [
    ("SQL", "data", false),
    ("Python", "programming", false),
    ("Data Modelling", "data", false),
    ("Cloud Fundamentals", "platform", false),
    ("Stream Processing", "data", false),
    ("Communication", "soft-skills", false),
    ("Negotiation", "sales", false),
    ("Customer Empathy", "soft-skills", false),
    ("Financial Analysis", "finance", false),
    ("Security Awareness", "compliance", false),
    ("Leadership", "soft-skills", true),
    ("Rust", "programming", true),
];
/// Skills (indices into SKILLS) a job role needs.
fn role_skills(role: &str) -> &'static [usize] {
    match role {
        "software-engineer" => &[1, 3, 9, 11],
        "data-engineer" => &[0, 1, 2, 4],
        "sales-associate" => &[5, 6, 7],
        "support-specialist" => &[5, 7, 9],
        "financial-analyst" => &[0, 8, 5],
        "hr-partner" => &[5, 10, 9],
        "trainer" => &[5, 10],
        _ => &[],
    }
}
/// (name, parent index, job role of its learners)
const MAIN_DEPARTMENTS: [(&str, Option<usize>, &str); 6] = [
    ("Engineering", None, "software-engineer"),
    ("Data Engineering", Some(0), "data-engineer"),
    ("Sales", None, "sales-associate"),
    ("Customer Success", None, "support-specialist"),
    ("Finance", None, "financial-analyst"),
    ("People & Culture", None, "hr-partner"),
];
const SECOND_DEPARTMENTS: [(&str, Option<usize>, &str); 1] = [("Analytics", None, "data-engineer")];
/// (course title, skills it develops)
const TOPICS: [(&str, &[usize]); 18] = [
    ("SQL Foundations", &[0]),
    ("Python for Data", &[1]),
    ("Data Modelling in Practice", &[2, 0]),
    ("Cloud Fundamentals", &[3]),
    ("Streaming with Kafka", &[4]),
    ("Effective Communication", &[5]),
    ("Negotiation Skills", &[6]),
    ("Customer Empathy Workshop", &[7]),
    ("Financial Analysis Essentials", &[8]),
    ("Security Awareness", &[9]),
    ("Leading Teams", &[10]),
    ("Rust for Engineers", &[11]),
    ("Advanced SQL", &[0]),
    ("Data Pipelines", &[4, 1]),
    ("Presenting with Impact", &[5]),
    ("Handling Difficult Conversations", &[7, 5]),
    ("Budgeting and Forecasting", &[8]),
    ("Secure Coding", &[9, 1]),
];
const UNIT_NAMES: [&str; 6] = [
    "Introduction",
    "Core Concepts",
    "Hands-on Practice",
    "Deeper Dive",
    "Case Studies",
    "Review and Next Steps",
];
const QUESTION_TOPICS: [&str; 12] = [
    "joins",
    "window functions",
    "error handling",
    "data types",
    "performance",
    "testing",
    "deployment",
    "terminology",
    "assessment format",
    "deadlines",
    "lab setup",
    "examples",
];

/// Size of one organisation.
struct Spec {
    name: &'static str,
    domain: &'static str,
    leaderboard_names: bool,
    departments: &'static [(&'static str, Option<usize>, &'static str)],
    learners: usize,
    trainers: usize,
    courses: usize,
    enrol: (i64, i64),
    demo: bool,
}

fn main_spec(scale: Scale) -> Spec {
    let (learners, trainers, courses) = match scale {
        Scale::Small => (40, 4, 6),
        Scale::Medium => (500, 20, 40),
        Scale::Large => (20_000, 200, 300),
    };
    Spec {
        name: "Demo Organisation",
        domain: "demo-org.example",
        leaderboard_names: false,
        departments: &MAIN_DEPARTMENTS,
        learners,
        trainers,
        courses,
        enrol: (2, 4),
        demo: true,
    }
}

fn second_spec() -> Spec {
    Spec {
        name: "Northwind Training",
        domain: "northwind.example",
        leaderboard_names: true,
        departments: &SECOND_DEPARTMENTS,
        learners: 8,
        trainers: 1,
        courses: 2,
        enrol: (1, 2),
        demo: false,
    }
}

/// How an enrolment ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Completed(&'static str),
    Withdrawn,
}

/// The whole timeline of one enrolment.
#[derive(Clone, Debug)]
pub(crate) struct EnrolPlan {
    pub id: Uuid,
    pub user: Uuid,
    pub course: Uuid,
    pub course_idx: usize,
    pub enrolled_at: i64,
    /// (time of the last event of an active day, progress after it)
    pub snapshots: Vec<(i64, f64)>,
    pub end: Option<(i64, End)>,
}

impl EnrolPlan {
    /// The enrolment record as served at time `t`, if it exists by then.
    pub(crate) fn state_at(&self, t: i64) -> Option<Enrolment> {
        if self.enrolled_at > t {
            return None;
        }
        let k = self.snapshots.partition_point(|s| s.0 <= t);
        let started_at = (k > 0).then(|| Ts(self.snapshots[0].0));
        let (last_active_at, progress) = if k > 0 {
            (Some(Ts(self.snapshots[k - 1].0)), self.snapshots[k - 1].1)
        } else {
            (None, 0.0)
        };
        let mut e = Enrolment {
            id: self.id,
            user_id: self.user,
            course_id: self.course,
            status: "active",
            outcome: None,
            progress,
            enrolled_at: Ts(self.enrolled_at),
            started_at,
            last_active_at,
            completed_at: None,
            withdrawn_at: None,
            updated_at: Ts(self.enrolled_at.max(last_active_at.map_or(0, |t| t.0))),
        };
        match self.end {
            Some((at, End::Completed(outcome))) if at <= t => {
                e.status = "completed";
                e.outcome = Some(outcome);
                e.completed_at = Some(Ts(at));
                e.updated_at = Ts(e.updated_at.0.max(at));
            }
            Some((at, End::Withdrawn)) if at <= t => {
                e.status = "withdrawn";
                e.withdrawn_at = Some(Ts(at));
                e.updated_at = Ts(e.updated_at.0.max(at));
            }
            _ => {}
        }
        Some(e)
    }

    /// "pass" | "distinction" | "fail" | "withdrawn" | "active" at the end
    /// of the generated timeline.
    pub(crate) fn final_outcome(&self) -> &'static str {
        match self.end {
            Some((_, End::Completed(o))) => o,
            Some((_, End::Withdrawn)) => "withdrawn",
            None => "active",
        }
    }
}

/// Per-user data that is not served as such.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub id: Uuid,
    pub created_at: i64,
    pub org: usize,
    pub persona: Option<Persona>,
    /// Sign-in times, sorted.
    pub logins: Vec<i64>,
    pub suspended_at: Option<i64>,
    /// Indices into `Org::plans`.
    pub plans: Vec<usize>,
    /// Indices into SKILLS: the skills of the user's job role.
    pub skills: Vec<usize>,
}

/// A course as the generator and the recommendations see it.
#[derive(Clone, Debug)]
pub(crate) struct CourseCtx {
    pub id: Uuid,
    pub org: usize,
    pub title: String,
    pub starts_at: Option<i64>,
    pub length_days: i64,
    pub items: Vec<ItemCtx>,
    pub units: Vec<UnitCtx>,
    pub exam: AsmCtx,
    pub trainers: Vec<Uuid>,
    pub skills: &'static [usize],
}

#[derive(Clone, Debug)]
pub(crate) struct ItemCtx {
    pub id: Uuid,
    pub title: String,
    pub content_type: &'static str,
    pub duration: Option<u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct UnitCtx {
    /// One past the index of the unit's last item in `CourseCtx::items`.
    pub end_item: usize,
    pub assessment: AsmCtx,
}

#[derive(Clone, Debug)]
pub(crate) struct AsmCtx {
    pub id: Uuid,
    pub kind: &'static str,
    pub max: f64,
    pub pass: Option<f64>,
    pub weight: f64,
}

/// The simulated platform: every feed plus the timelines behind them.
pub(crate) struct Org {
    pub seed: u64,
    pub now: i64,
    pub organizations: Feed<Organization>,
    pub departments: Feed<Department>,
    pub users: Feed<User>,
    pub trainer_learners: Feed<TrainerLearner>,
    pub courses: Feed<Course>,
    pub course_units: Feed<CourseUnit>,
    pub course_trainers: Feed<CourseTrainer>,
    pub enrolments: Feed<Enrolment>,
    pub trainer_feedback: Feed<TrainerFeedback>,
    pub content_items: Feed<ContentItem>,
    pub content_interactions: Feed<ContentInteraction>,
    pub assessments: Feed<Assessment>,
    pub assessment_attempts: Feed<AssessmentAttempt>,
    pub skills: Feed<Skill>,
    pub skill_levels: Feed<SkillLevel>,
    pub job_role_requirements: Feed<JobRoleRequirement>,
    pub skill_targets: Feed<SkillTarget>,
    pub lab_sessions: Feed<LabSession>,
    pub assistant_questions: Feed<AssistantQuestion>,
    pub user_status: Feed<UserStatus>,
    pub plans: Vec<EnrolPlan>,
    pub accounts: Vec<Account>,
    pub user_index: HashMap<Uuid, usize>,
    pub course_ctx: Vec<CourseCtx>,
    pub skill_ids: Vec<Uuid>,
}

/// Served feed names, in collection order.
pub(crate) const FEEDS: [&str; 20] = [
    "organizations",
    "departments",
    "users",
    "trainer-learners",
    "courses",
    "course-units",
    "course-trainers",
    "enrolments",
    "trainer-feedback",
    "content-items",
    "content-interactions",
    "assessments",
    "assessment-attempts",
    "skills",
    "skill-levels",
    "job-role-requirements",
    "skill-targets",
    "lab-sessions",
    "assistant-questions",
    "user-status",
];

impl Org {
    /// Moves the simulated clock and recomputes what is served.
    pub(crate) fn set_now(&mut self, now: i64) {
        self.now = now;
        self.organizations.reveal(now);
        self.departments.reveal(now);
        self.users.reveal(now);
        self.trainer_learners.reveal(now);
        self.courses.reveal(now);
        self.course_units.reveal(now);
        self.course_trainers.reveal(now);
        self.trainer_feedback.reveal(now);
        self.content_items.reveal(now);
        self.content_interactions.reveal(now);
        self.assessments.reveal(now);
        self.assessment_attempts.reveal(now);
        self.skills.reveal(now);
        self.skill_levels.reveal(now);
        self.job_role_requirements.reveal(now);
        self.skill_targets.reveal(now);
        self.lab_sessions.reveal(now);
        self.assistant_questions.reveal(now);
        self.enrolments = Feed::new(self.plans.iter().filter_map(|p| p.state_at(now)).collect());
        self.enrolments.reveal(now);
        self.user_status = Feed::new(self.accounts.iter().map(|a| a.status_at(now)).collect());
        self.user_status.reveal(now);
    }

    /// Served items per feed.
    pub(crate) fn counts(&self) -> BTreeMap<&'static str, usize> {
        let n = [
            self.organizations.visible,
            self.departments.visible,
            self.users.visible,
            self.trainer_learners.visible,
            self.courses.visible,
            self.course_units.visible,
            self.course_trainers.visible,
            self.enrolments.visible,
            self.trainer_feedback.visible,
            self.content_items.visible,
            self.content_interactions.visible,
            self.assessments.visible,
            self.assessment_attempts.visible,
            self.skills.visible,
            self.skill_levels.visible,
            self.job_role_requirements.visible,
            self.skill_targets.visible,
            self.lab_sessions.visible,
            self.assistant_questions.visible,
            self.user_status.visible,
        ];
        FEEDS.iter().copied().zip(n).collect()
    }

    pub(crate) fn personas(&self) -> BTreeMap<String, Persona> {
        self.accounts
            .iter()
            .filter_map(|a| a.persona.map(|p| (a.id.to_string(), p)))
            .collect()
    }

    pub(crate) fn outcomes(&self) -> BTreeMap<String, String> {
        self.plans
            .iter()
            .filter(|p| p.enrolled_at <= self.now)
            .map(|p| (p.id.to_string(), p.final_outcome().to_owned()))
            .collect()
    }

    /// Learner AI's answer for a learner at the current time; None when the
    /// id is not a learner's.
    pub(crate) fn recommendations(&self, learner: &str, limit: usize) -> Option<serde_json::Value> {
        use serde_json::json;
        let id = Uuid::parse_str(learner).ok()?;
        let acc = &self.accounts[*self.user_index.get(&id)?];
        acc.persona?;
        let hour = self.now.div_euclid(3600) * 3600;
        let mut rng = Rng::derive(self.seed, 901, id.as_u128() as u64 ^ hour as u64);
        let mut recs = Vec::new();
        let rec_id = |rng: &mut Rng| format!("rec-{:012x}", rng.next_u64() >> 16);
        let mut enrolled = HashSet::new();
        for &pi in &acc.plans {
            let plan = &self.plans[pi];
            enrolled.insert(plan.course_idx);
            let Some(state) = plan.state_at(self.now) else {
                continue;
            };
            if state.status != "active" {
                continue;
            }
            let course = &self.course_ctx[plan.course_idx];
            let done = (state.progress * course.items.len() as f64).round() as usize;
            if let Some(item) = course.items.get(done) {
                recs.push(json!({
                    "id": rec_id(&mut rng),
                    "type": "content",
                    "title": format!("Continue with {}", item.title),
                    "reason": format!("It is the next step in {}, where you are {:.0}% through.", course.title, state.progress * 100.0),
                    "priority": "high",
                    "confidence": (rng.uniform(0.7, 0.95) * 100.0).round() / 100.0,
                    "courseId": course.id,
                    "contentItemId": item.id,
                    "skillId": course.skills.first().map(|&s| self.skill_ids[s]),
                }));
            }
            if let Some(lab) = course.items.iter().find(|i| i.content_type == "lab") {
                recs.push(json!({
                    "id": rec_id(&mut rng),
                    "type": "lab",
                    "title": format!("Practise in DevLab: {}", lab.title),
                    "reason": "Hands-on practice consolidates what the course covered so far.",
                    "priority": "medium",
                    "confidence": (rng.uniform(0.5, 0.8) * 100.0).round() / 100.0,
                    "courseId": course.id,
                    "contentItemId": lab.id,
                    "skillId": null,
                }));
            }
        }
        for &s in &acc.skills {
            recs.push(json!({
                "id": rec_id(&mut rng),
                "type": "skill",
                "title": format!("Build your {} skill", SKILLS[s].0),
                "reason": format!("Your job role asks for a higher {} level than your latest assessment shows.", SKILLS[s].0),
                "priority": "medium",
                "confidence": (rng.uniform(0.4, 0.85) * 100.0).round() / 100.0,
                "courseId": null,
                "contentItemId": null,
                "skillId": self.skill_ids[s],
            }));
        }
        let others: Vec<usize> = (0..self.course_ctx.len())
            .filter(|&c| self.course_ctx[c].org == acc.org && !enrolled.contains(&c))
            .collect();
        if !others.is_empty() {
            let course = &self.course_ctx[*rng.pick(&others)];
            recs.push(json!({
                "id": rec_id(&mut rng),
                "type": "course",
                "title": format!("Explore {}", course.title),
                "reason": "Learners in your role often take this course next.",
                "priority": "low",
                "confidence": (rng.uniform(0.3, 0.7) * 100.0).round() / 100.0,
                "courseId": course.id,
                "contentItemId": null,
                "skillId": course.skills.first().map(|&s| self.skill_ids[s]),
            }));
        }
        recs.truncate(limit.min(50));
        Some(json!({
            "learnerId": id,
            "generatedAt": fmt_ts(hour),
            "modelVersion": "lumen-sim-1",
            "recommendations": recs,
        }))
    }
}

impl Account {
    pub(crate) fn status_at(&self, t: i64) -> UserStatus {
        let k = self.logins.partition_point(|&l| l <= t);
        let last = (k > 0).then(|| self.logins[k - 1]);
        let suspended = self.suspended_at.filter(|&s| s <= t);
        UserStatus {
            id: self.id,
            status: if suspended.is_some() {
                "suspended"
            } else {
                "active"
            },
            last_login_at: last.map(Ts),
            updated_at: Ts(self
                .created_at
                .max(last.unwrap_or(0))
                .max(suspended.unwrap_or(0))),
        }
    }
}

/// Everything generated, before sorting into feeds.
#[derive(Default)]
struct Out {
    organizations: Vec<Organization>,
    departments: Vec<Department>,
    users: Vec<User>,
    trainer_learners: Vec<TrainerLearner>,
    courses: Vec<Course>,
    course_units: Vec<CourseUnit>,
    course_trainers: Vec<CourseTrainer>,
    trainer_feedback: Vec<TrainerFeedback>,
    content_items: Vec<ContentItem>,
    content_interactions: Vec<ContentInteraction>,
    assessments: Vec<Assessment>,
    assessment_attempts: Vec<AssessmentAttempt>,
    skills: Vec<Skill>,
    skill_levels: Vec<SkillLevel>,
    job_role_requirements: Vec<JobRoleRequirement>,
    skill_targets: Vec<SkillTarget>,
    lab_sessions: Vec<LabSession>,
    assistant_questions: Vec<AssistantQuestion>,
    plans: Vec<EnrolPlan>,
    accounts: Vec<Account>,
}

/// Random streams (second argument of `Rng::derive`).
const S_STRUCTURE: u64 = 1;
const S_LEARNER: u64 = 2;
const S_SKILLS: u64 = 3;
const S_LOGINS: u64 = 4;

struct Gen {
    seed: u64,
    start: i64,
    now: i64,
    horizon: i64,
    out: Out,
    courses: Vec<CourseCtx>,
    skill_ids: Vec<Uuid>,
}

fn round_to(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn weekday_factor(day: i64) -> f64 {
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    if (day + 3).rem_euclid(7) >= 5 {
        WEEKEND
    } else {
        1.0
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

struct Learner {
    idx: usize,
    id: Uuid,
    persona: Persona,
    ability: f64,
    hour: i64,
}

impl Persona {
    fn activity(self) -> f64 {
        match self {
            Persona::Fast => 0.6,
            Persona::Steady => 0.55,
            Persona::Struggling => 0.45,
            Persona::Disengaging => 0.55,
        }
    }
    fn pace(self) -> f64 {
        match self {
            Persona::Fast => 1.5,
            Persona::Steady => 1.15,
            Persona::Struggling => 0.8,
            Persona::Disengaging => 1.0,
        }
    }
    fn ability(self) -> f64 {
        match self {
            Persona::Fast => 0.86,
            Persona::Steady => 0.74,
            Persona::Struggling => 0.5,
            Persona::Disengaging => 0.62,
        }
    }
    fn retry(self) -> f64 {
        match self {
            Persona::Fast => 0.9,
            Persona::Steady => 0.8,
            Persona::Struggling => 0.7,
            Persona::Disengaging => 0.3,
        }
    }
    fn growth(self) -> f64 {
        match self {
            Persona::Fast => 0.45,
            Persona::Steady => 0.3,
            Persona::Struggling => 0.15,
            Persona::Disengaging => 0.1,
        }
    }
    fn rating(self, rng: &mut Rng) -> u8 {
        let (lo, hi) = match self {
            Persona::Fast => (4, 5),
            Persona::Steady => (3, 5),
            Persona::Struggling => (2, 4),
            Persona::Disengaging => (1, 3),
        };
        rng.range(lo, hi) as u8
    }
}

/// Generates the organisation for `cfg`, with `now` set to `cfg.now`.
pub(crate) fn generate(cfg: &SimConfig) -> Org {
    let now = cfg.now.timestamp();
    let start = now - HISTORY_DAYS * DAY;
    let mut g = Gen {
        seed: cfg.seed,
        start,
        now,
        horizon: now + HORIZON_DAYS * DAY,
        out: Out::default(),
        courses: Vec::new(),
        skill_ids: Vec::new(),
    };
    let main = g.organisation(0, &main_spec(cfg.scale));
    g.skills(main);
    g.organisation(1, &second_spec());
    g.finish()
}

impl Gen {
    fn skills(&mut self, main_org: Uuid) {
        let mut rng = Rng::derive(self.seed, S_STRUCTURE, 1_000);
        for (i, &(name, category, own)) in SKILLS.iter().enumerate() {
            self.out.skills.push(Skill {
                id: self.skill_ids[i],
                organization_id: own.then_some(main_org),
                name: name.to_owned(),
                category: (i % 5 != 4).then_some(category),
                updated_at: Ts(self.start - 200 * DAY + rng.range(0, 10 * DAY)),
            });
        }
    }

    fn skill_usable(&self, skill: usize, org: usize) -> bool {
        !SKILLS[skill].2 || org == 0
    }

    /// Generates one organisation; returns its id.
    fn organisation(&mut self, org: usize, spec: &Spec) -> Uuid {
        let seed = self.seed;
        let start = self.start;
        let mut rng = Rng::derive(seed, S_STRUCTURE, org as u64);
        if self.skill_ids.is_empty() {
            let mut srng = Rng::derive(seed, S_STRUCTURE, 999);
            self.skill_ids = (0..SKILLS.len()).map(|_| srng.uuid()).collect();
        }
        let org_id = rng.uuid();
        let org_created = start - rng.range(400 * DAY, 800 * DAY);
        self.out.organizations.push(Organization {
            id: org_id,
            name: spec.name.to_owned(),
            leaderboard_names: spec.leaderboard_names,
            created_at: Ts(org_created),
            updated_at: Ts(org_created + rng.range(DAY, 300 * DAY)),
        });

        // Departments.
        let mut dept_ids = Vec::new();
        for (name, parent, _) in spec.departments {
            let id = rng.uuid();
            let created = org_created + rng.range(DAY, 60 * DAY);
            self.out.departments.push(Department {
                id,
                organization_id: org_id,
                parent_id: parent.map(|p: usize| dept_ids[p]),
                name: (*name).to_owned(),
                created_at: Ts(created),
                updated_at: Ts(created + rng.range(0, 200 * DAY)),
            });
            dept_ids.push(id);
        }

        // Users: (roles, department index, job role, persona, display name, email)
        struct NewUser {
            roles: Vec<&'static str>,
            dept: Option<usize>,
            job_role: Option<String>,
            persona: Option<Persona>,
            name: Option<&'static str>,
            email: Option<&'static str>,
        }
        let n_depts = spec.departments.len();
        let mut new_users: Vec<NewUser> = Vec::new();
        let learner_dept = |rng: &mut Rng| rng.index(n_depts);
        let persona_of = |rng: &mut Rng| {
            let u = rng.f64();
            if u < 0.35 {
                Persona::Steady
            } else if u < 0.55 {
                Persona::Fast
            } else if u < 0.8 {
                Persona::Struggling
            } else {
                Persona::Disengaging
            }
        };
        let mut generic_learners = spec.learners;
        let mut generic_trainers = spec.trainers;
        // Indices into new_users of trainers (teaching order) and learners.
        let mut trainers = Vec::new();
        let mut learners = Vec::new();
        if spec.demo {
            let data = spec
                .departments
                .iter()
                .position(|d| d.2 == "data-engineer")
                .unwrap_or(0);
            new_users.push(NewUser {
                roles: vec!["learner"],
                dept: Some(data),
                job_role: Some(spec.departments[data].2.to_owned()),
                persona: Some(Persona::Steady),
                name: Some("Demo Learner"),
                email: Some("learner@demo.lumen.test"),
            });
            learners.push(0);
            new_users.push(NewUser {
                roles: vec!["trainer"],
                dept: Some(data),
                job_role: Some("trainer".to_owned()),
                persona: None,
                name: Some("Demo Trainer"),
                email: Some("trainer@demo.lumen.test"),
            });
            trainers.push(1);
            new_users.push(NewUser {
                roles: vec!["org-admin"],
                dept: None,
                job_role: Some("administrator".to_owned()),
                persona: None,
                name: Some("Demo Org Admin"),
                email: Some("admin@demo.lumen.test"),
            });
            new_users.push(NewUser {
                roles: vec!["learner", "trainer"],
                dept: Some(0),
                job_role: Some(spec.departments[0].2.to_owned()),
                persona: Some(Persona::Steady),
                name: Some("Demo Learner-Trainer"),
                email: Some("multi@demo.lumen.test"),
            });
            trainers.push(3);
            learners.push(3);
            generic_learners = generic_learners.saturating_sub(2);
            generic_trainers = generic_trainers.saturating_sub(2);
        } else {
            new_users.push(NewUser {
                roles: vec!["org-admin"],
                dept: None,
                job_role: None,
                persona: None,
                name: None,
                email: None,
            });
        }
        for _ in 0..generic_trainers {
            trainers.push(new_users.len());
            let dept = rng.chance(0.7).then(|| learner_dept(&mut rng));
            new_users.push(NewUser {
                roles: vec!["trainer"],
                dept,
                job_role: Some("trainer".to_owned()),
                persona: None,
                name: None,
                email: None,
            });
        }
        for _ in 0..generic_learners {
            learners.push(new_users.len());
            let dept = learner_dept(&mut rng);
            let persona = persona_of(&mut rng);
            new_users.push(NewUser {
                roles: vec!["learner"],
                dept: Some(dept),
                job_role: Some(spec.departments[dept].2.to_owned()),
                persona: Some(persona),
                name: None,
                email: None,
            });
        }
        let first_account = self.out.accounts.len();
        for (i, nu) in new_users.iter().enumerate() {
            let id = rng.uuid();
            let first = *rng.pick(&FIRST);
            let last = *rng.pick(&LAST);
            let full_name = nu
                .name
                .map_or_else(|| format!("{first} {last}"), str::to_owned);
            let email = nu.email.map_or_else(
                || {
                    format!(
                        "{}.{}.{}@{}",
                        ascii_lower(first),
                        ascii_lower(last),
                        i + 1,
                        spec.domain
                    )
                },
                str::to_owned,
            );
            let created =
                org_created + rng.range(10 * DAY, (start - org_created - 30 * DAY).max(11 * DAY));
            let skills: Vec<usize> = nu
                .job_role
                .as_deref()
                .map(role_skills)
                .unwrap_or(&[])
                .iter()
                .copied()
                .filter(|&s| self.skill_usable(s, org))
                .collect();
            self.out.users.push(User {
                id,
                organization_id: org_id,
                department_id: nu.dept.map(|d| dept_ids[d]),
                email,
                full_name,
                job_role: nu.job_role.clone(),
                time_zone: TIME_ZONES[rng.index(TIME_ZONES.len())],
                avatar_url: rng
                    .chance(0.4)
                    .then(|| format!("https://avatars.demo.example/{id}.png")),
                leaderboard_opt_out: nu.email.is_none() && rng.chance(0.1),
                roles: nu.roles.clone(),
                created_at: Ts(created),
                updated_at: Ts(created + rng.range(0, start - created - DAY)),
            });
            self.out.accounts.push(Account {
                id,
                created_at: created,
                org,
                persona: nu.persona,
                logins: Vec::new(),
                suspended_at: None,
                plans: Vec::new(),
                skills,
            });
        }
        let uid = |i: usize| self.out.accounts[first_account + i].id;
        let trainer_ids: Vec<Uuid> = trainers.iter().map(|&i| uid(i)).collect();
        let learner_ids: Vec<Uuid> = learners.iter().map(|&i| uid(i)).collect();

        // Direct trainer↔learner links.
        let mut links = HashSet::new();
        if spec.demo {
            links.insert((trainer_ids[0], learner_ids[0]));
        }
        for &t in &trainer_ids {
            for _ in 0..rng.range(2, 5) {
                let l = *rng.pick(&learner_ids);
                if l != t {
                    links.insert((t, l));
                }
            }
        }
        let mut links: Vec<_> = links.into_iter().collect();
        links.sort();
        for (trainer_id, learner_id) in links {
            self.out.trainer_learners.push(TrainerLearner {
                id: rng.uuid(),
                trainer_id,
                learner_id,
                updated_at: Ts(start - rng.range(DAY, 90 * DAY)),
            });
        }

        // Courses with units, content items, assessments and trainers.
        let first_course = self.courses.len();
        let topics: Vec<usize> = (0..TOPICS.len())
            .filter(|&t| TOPICS[t].1.iter().all(|&s| self.skill_usable(s, org)))
            .collect();
        let mut topic_uses = HashMap::new();
        for c in 0..spec.courses {
            let topic = if org == 0 {
                topics[c % topics.len()]
            } else {
                topics[rng.index(topics.len())]
            };
            let uses = topic_uses.entry(topic).or_insert(0);
            *uses += 1;
            let title = if *uses == 1 {
                TOPICS[topic].0.to_owned()
            } else {
                format!("{} (cohort {})", TOPICS[topic].0, uses)
            };
            let course = self.course(&mut rng, org_id, org, title, TOPICS[topic].1);
            let mut course_trainers = vec![if spec.demo && c < 3 {
                trainer_ids[0]
            } else if spec.demo && c == 3 {
                trainer_ids[1]
            } else if trainer_ids.len() > 2 && spec.demo {
                trainer_ids[2 + c % (trainer_ids.len() - 2)]
            } else {
                trainer_ids[c % trainer_ids.len()]
            }];
            if rng.chance(0.25) {
                let other = *rng.pick(&trainer_ids);
                if !course_trainers.contains(&other) {
                    course_trainers.push(other);
                }
            }
            let updated = self.out.courses.last().map_or(start, |c| c.updated_at.0);
            for &trainer_id in &course_trainers {
                self.out.course_trainers.push(CourseTrainer {
                    id: rng.uuid(),
                    course_id: course.id,
                    trainer_id,
                    updated_at: Ts(updated + rng.range(60, 7200)),
                });
            }
            self.courses.push(CourseCtx {
                trainers: course_trainers,
                ..course
            });
        }
        let org_courses: Vec<usize> = (first_course..self.courses.len()).collect();

        // Learners: enrolments and their whole activity.
        for (li, &ui) in learners.iter().enumerate() {
            let acc_idx = first_account + ui;
            let id = self.out.accounts[acc_idx].id;
            let persona = new_users[ui].persona.unwrap_or(Persona::Steady);
            let mut lrng = Rng::derive(seed, S_LEARNER, ((org as u64) << 32) | li as u64);
            let learner = Learner {
                idx: acc_idx,
                id,
                persona,
                ability: persona.ability() + lrng.uniform(-0.06, 0.06),
                hour: *lrng.pick(&[8, 10, 12, 14, 19, 21]),
            };
            let teaches: Vec<usize> = org_courses
                .iter()
                .copied()
                .filter(|&c| self.courses[c].trainers.contains(&id))
                .collect();
            let mut chosen: Vec<usize> = Vec::new();
            if spec.demo && li == 0 {
                // The demo learner is part-way through two running courses, so
                // every learner analytic (pace, drop-off risk, forecast) has an
                // active enrolment to show, and has finished others.
                let running = |c: usize| {
                    let ctx = &self.courses[c];
                    ctx.starts_at.is_some_and(|s| {
                        s < self.now - 14 * DAY && self.now + 7 * DAY < s + ctx.length_days * DAY
                    })
                };
                chosen.extend(org_courses.iter().copied().filter(|&c| running(c)).take(2));
                let finished: Vec<usize> = org_courses
                    .iter()
                    .copied()
                    .filter(|c| !chosen.contains(c))
                    .take(3usize.saturating_sub(chosen.len()))
                    .collect();
                chosen.extend(finished);
            }
            let want = if spec.demo && li == 0 {
                5.min(org_courses.len())
            } else {
                lrng.range(spec.enrol.0, spec.enrol.1) as usize
            };
            let mut tries = 0;
            while chosen.len() < want && tries < 100 {
                tries += 1;
                let c = *lrng.pick(&org_courses);
                if !chosen.contains(&c) && !teaches.contains(&c) {
                    chosen.push(c);
                }
            }
            let mut logins = Vec::new();
            for c in chosen {
                let plan = self.enrolment(&mut lrng, &learner, c, &mut logins);
                let pi = self.out.plans.len();
                self.out.plans.push(plan);
                self.out.accounts[acc_idx].plans.push(pi);
            }
            logins.sort_unstable();
            logins.dedup();
            let acc = &mut self.out.accounts[acc_idx];
            if persona == Persona::Disengaging && lrng.chance(0.3) {
                acc.suspended_at = logins.last().map(|l| l + 45 * DAY);
            }
            acc.logins = logins;
            self.skill_history(&learner, org);
        }
        // Sign-ins of the people who are not learners.
        for (i, nu) in new_users.iter().enumerate() {
            if nu.persona.is_some() {
                continue;
            }
            let acc_idx = first_account + i;
            let mut lrng = Rng::derive(seed, S_LOGINS, acc_idx as u64);
            let mut logins = Vec::new();
            for day in start.div_euclid(DAY)..=self.horizon.div_euclid(DAY) {
                if weekday_factor(day) == 1.0 && lrng.chance(0.7) {
                    logins.push(day * DAY + 8 * 3600 + lrng.range(0, 7200));
                }
            }
            self.out.accounts[acc_idx].logins = logins;
        }

        // Job-role requirements and strategic skill targets.
        let mut roles: Vec<&str> = new_users
            .iter()
            .filter_map(|u| u.job_role.as_deref())
            .collect();
        roles.sort_unstable();
        roles.dedup();
        for role in roles {
            for &s in role_skills(role) {
                if self.skill_usable(s, org) {
                    self.out.job_role_requirements.push(JobRoleRequirement {
                        id: rng.uuid(),
                        organization_id: org_id,
                        job_role: role.to_owned(),
                        skill_id: self.skill_ids[s],
                        required_level: round_to(rng.uniform(2.0, 4.5), 0.5),
                        updated_at: Ts(start - rng.range(DAY, 60 * DAY)),
                    });
                }
            }
        }
        let targets: &[usize] = if org == 0 {
            &[0, 1, 4, 5, 9, 11]
        } else {
            &[0, 1]
        };
        for (i, &s) in targets.iter().enumerate() {
            self.out.skill_targets.push(SkillTarget {
                id: rng.uuid(),
                organization_id: org_id,
                skill_id: self.skill_ids[s],
                target_level: round_to(rng.uniform(3.0, 4.0), 0.5),
                priority: rng.range(1, 3) as f64,
                target_date: (i != 1)
                    .then(|| Ts((self.now.div_euclid(DAY) + rng.range(90, 365)) * DAY)),
                updated_at: Ts(start - rng.range(DAY, 30 * DAY)),
            });
        }
        org_id
    }

    /// One course with its units, items and assessments (trainers empty).
    fn course(
        &mut self,
        rng: &mut Rng,
        org_id: Uuid,
        org: usize,
        title: String,
        skills: &'static [usize],
    ) -> CourseCtx {
        let start = self.start;
        let id = rng.uuid();
        let cohort = rng.chance(0.75);
        let length_days = rng.range(28, 84);
        let starts_at = cohort
            .then(|| (start.div_euclid(DAY) + rng.range(7, HISTORY_DAYS + 14)) * DAY + 9 * 3600);
        let created = starts_at.unwrap_or(start).min(start) - rng.range(14 * DAY, 60 * DAY);
        let updated = created + rng.range(DAY, 10 * DAY);
        self.out.courses.push(Course {
            id,
            organization_id: org_id,
            title: title.clone(),
            status: "published",
            starts_at: starts_at.map(Ts),
            length_days: Some(length_days as u32),
            created_at: Ts(created),
            updated_at: Ts(updated),
        });
        let n_units = rng.range(3, 5) as usize;
        let mut items = Vec::new();
        let mut units = Vec::new();
        let unit_weight = round1(60.0 / n_units as f64);
        for u in 0..n_units {
            let unit_id = rng.uuid();
            self.out.course_units.push(CourseUnit {
                id: unit_id,
                course_id: id,
                title: format!(
                    "Unit {}: {}",
                    u + 1,
                    UNIT_NAMES[u.min(UNIT_NAMES.len() - 1)]
                ),
                position: u as u32,
                updated_at: Ts(updated + rng.range(60, 3600)),
            });
            let n_items = rng.range(3, 5) as usize;
            let mut has_lab = false;
            for k in 0..n_items {
                let content_type = if k == 0 {
                    "video"
                } else {
                    *rng.pick(&[
                        "reading",
                        "reading",
                        "video",
                        "interactive",
                        "quiz",
                        "lab",
                        "forum",
                        "resource",
                        "other",
                    ])
                };
                has_lab |= content_type == "lab";
                let duration = match content_type {
                    "video" => Some(rng.range(180, 1500) as u32),
                    "reading" => Some(rng.range(300, 1200) as u32),
                    "interactive" | "quiz" => Some(rng.range(300, 900) as u32),
                    "lab" => Some(rng.range(1200, 3600) as u32),
                    _ => None,
                };
                let label = match content_type {
                    "video" => "Video",
                    "reading" => "Reading",
                    "interactive" => "Exercise",
                    "quiz" => "Practice quiz",
                    "lab" => "Lab",
                    "forum" => "Discussion",
                    "resource" => "Resource",
                    _ => "Extra",
                };
                let item_title = format!("{label} {}.{}: {title}", u + 1, k + 1);
                let item_id = rng.uuid();
                self.out.content_items.push(ContentItem {
                    id: item_id,
                    course_id: id,
                    unit_id: (k != 4).then_some(unit_id),
                    title: item_title.clone(),
                    content_type,
                    duration_seconds: duration,
                    updated_at: Ts(updated + rng.range(3600, 5 * DAY)),
                });
                items.push(ItemCtx {
                    id: item_id,
                    title: item_title,
                    content_type,
                    duration,
                });
            }
            let kind = if has_lab {
                "lab"
            } else if rng.chance(0.1) {
                "other"
            } else if u % 2 == 0 {
                "quiz"
            } else {
                "assignment"
            };
            let (max, pass) = match kind {
                "quiz" => (10.0, Some(6.0)),
                "assignment" => (20.0, Some(10.0)),
                "lab" => (50.0, None),
                _ => (5.0, Some(2.5)),
            };
            let assessment = self.assessment(
                rng,
                id,
                Some(unit_id),
                format!("Unit {} {kind}: {title}", u + 1),
                kind,
                max,
                pass,
                unit_weight,
                starts_at.map(|s| s + length_days * DAY * (u as i64 + 1) / (n_units as i64 + 1)),
                updated,
            );
            units.push(UnitCtx {
                end_item: items.len(),
                assessment,
            });
        }
        let exam = self.assessment(
            rng,
            id,
            None,
            format!("Final exam: {title}"),
            "exam",
            100.0,
            Some(50.0),
            40.0,
            starts_at.map(|s| s + length_days * DAY),
            updated,
        );
        CourseCtx {
            id,
            org,
            title,
            starts_at,
            length_days,
            items,
            units,
            exam,
            trainers: Vec::new(),
            skills,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn assessment(
        &mut self,
        rng: &mut Rng,
        course_id: Uuid,
        unit_id: Option<Uuid>,
        title: String,
        kind: &'static str,
        max: f64,
        pass: Option<f64>,
        weight: f64,
        due: Option<i64>,
        updated: i64,
    ) -> AsmCtx {
        let id = rng.uuid();
        self.out.assessments.push(Assessment {
            id,
            course_id,
            unit_id,
            title,
            kind,
            max_score: max,
            pass_score: pass,
            weight,
            due_at: due.map(|d| Ts(d.div_euclid(DAY) * DAY + 23 * 3600)),
            updated_at: Ts(updated + rng.range(3600, 5 * DAY)),
        });
        AsmCtx {
            id,
            kind,
            max,
            pass,
            weight,
        }
    }

    /// Skill levels over time for one learner: several assessments for each
    /// skill of their role and of their courses.
    fn skill_history(&mut self, l: &Learner, org: usize) {
        let mut rng = Rng::derive(self.seed, S_SKILLS, l.idx as u64);
        let acc = &self.out.accounts[l.idx];
        let mut skills = acc.skills.clone();
        for &p in &acc.plans {
            for &s in self.courses[self.out.plans[p].course_idx].skills {
                if !skills.contains(&s) && self.skill_usable(s, org) {
                    skills.push(s);
                }
            }
        }
        for s in skills {
            let mut level = round1(rng.uniform(0.5, 2.5));
            let mut t = self.start + rng.range(0, 20 * DAY);
            while t <= self.horizon {
                self.out.skill_levels.push(SkillLevel {
                    id: rng.uuid(),
                    user_id: l.id,
                    skill_id: self.skill_ids[s],
                    level,
                    assessed_at: Ts(t),
                    updated_at: Ts(t + rng.range(0, 600)),
                });
                let growth = if l.persona == Persona::Disengaging && t - self.start > 60 * DAY {
                    0.0
                } else {
                    l.persona.growth()
                };
                level = round1((level + growth + rng.uniform(-0.1, 0.15)).clamp(0.0, 5.0));
                t += rng.range(25 * DAY, 45 * DAY);
            }
        }
    }

    /// One enrolment: its whole timeline and the events it produces.
    fn enrolment(
        &mut self,
        rng: &mut Rng,
        l: &Learner,
        ci: usize,
        logins: &mut Vec<i64>,
    ) -> EnrolPlan {
        let c = &self.courses[ci];
        let out = &mut self.out;
        let (start, horizon) = (self.start, self.horizon);
        let enrolled_at = match c.starts_at {
            Some(s) => (s - rng.range(0, 14 * DAY + 86_399)).max(start + rng.range(0, 8 * 3600)),
            None => start + rng.range(0, (HISTORY_DAYS + 21) * DAY),
        };
        let begin = enrolled_at.max(c.starts_at.unwrap_or(enrolled_at));
        let end_time = begin + c.length_days * DAY;
        let first_day = begin.div_euclid(DAY) + 1;
        let last_day = end_time.div_euclid(DAY);
        let n_items = c.items.len();
        let p_act = l.persona.activity();
        let expected_days = c.length_days as f64 * p_act * (5.0 + 2.0 * WEEKEND) / 7.0;
        let rate = n_items as f64 / expected_days.max(1.0) * l.persona.pace();
        let quit = rng.uniform(0.2, 0.6);
        let mut credit = 0.0;
        let mut pointer = 0;
        let mut best = vec![0.0f64; c.units.len()];
        let mut snapshots: Vec<(i64, f64)> = Vec::new();
        let mut end = None;
        let mut cut_by_horizon = false;
        let mut quitted = false;
        for day in first_day..=last_day {
            if day * DAY + DAY > horizon {
                cut_by_horizon = true;
                break;
            }
            let frac = (day - first_day) as f64 / c.length_days as f64;
            let mut p = p_act * weekday_factor(day);
            if l.persona == Persona::Disengaging {
                if frac >= quit {
                    quitted = true;
                    break;
                }
                p *= 1.0 - frac / quit;
            }
            if !rng.chance(p) {
                continue;
            }
            let hour = (l.hour + rng.range(-2, 2)).clamp(6, 22);
            let session = day * DAY + hour * 3600 + rng.range(0, 3599);
            logins.push(session);
            let mut t = session;
            let mut last = session;
            credit += rate * rng.uniform(0.5, 1.5);
            let mut to_complete = credit.floor() as usize;
            credit -= to_complete as f64;
            if pointer > 0 && rng.chance(0.25) {
                let item = &c.items[rng.index(pointer)];
                last = interaction(out, rng, l, item, false, &mut t);
            }
            if to_complete == 0 && pointer < n_items {
                last = interaction(out, rng, l, &c.items[pointer], false, &mut t);
            }
            while to_complete > 0 && pointer < n_items {
                to_complete -= 1;
                let item = &c.items[pointer];
                let partials = match l.persona {
                    Persona::Struggling => rng.range(1, 3),
                    _ => rng.range(0, 2),
                };
                for _ in 0..partials {
                    interaction(out, rng, l, item, false, &mut t);
                }
                let occurred = t;
                last = interaction(out, rng, l, item, true, &mut t);
                if item.content_type == "lab" {
                    let ended = rng.chance(0.95).then_some(last);
                    out.lab_sessions.push(LabSession {
                        id: rng.uuid(),
                        user_id: l.id,
                        course_id: Some(c.id),
                        exercise: item.title.clone(),
                        started_at: Ts(occurred),
                        ended_at: ended.map(Ts),
                        attempts: (match l.persona {
                            Persona::Struggling => rng.range(2, 6),
                            _ => rng.range(1, 4),
                        }) as u32,
                        solved: rng.chance(l.ability),
                        updated_at: Ts(ended.unwrap_or(occurred)),
                    });
                }
                pointer += 1;
                if let Some(u) = c.units.iter().position(|u| u.end_item == pointer) {
                    best[u] = attempts(out, rng, l, &c.units[u].assessment, &mut t);
                    last = t;
                }
                if pointer == n_items {
                    let exam = attempts(out, rng, l, &c.exam, &mut t);
                    last = t;
                    let total: f64 =
                        c.units.iter().map(|u| u.assessment.weight).sum::<f64>() + c.exam.weight;
                    let grade = (c
                        .units
                        .iter()
                        .zip(&best)
                        .map(|(u, b)| u.assessment.weight * b)
                        .sum::<f64>()
                        + c.exam.weight * exam)
                        / total;
                    let outcome = if grade >= 0.85 {
                        "distinction"
                    } else if grade >= 0.55 {
                        "pass"
                    } else {
                        "fail"
                    };
                    end = Some((last, End::Completed(outcome)));
                }
            }
            let q = match l.persona {
                Persona::Struggling => 0.3,
                Persona::Fast => 0.08,
                _ => 0.12,
            };
            if rng.chance(q) {
                let asked = rng.range(session, last);
                let resolved = rng.chance(0.75);
                out.assistant_questions.push(AssistantQuestion {
                    id: rng.uuid(),
                    user_id: l.id,
                    course_id: rng.chance(0.9).then_some(c.id),
                    asked_at: Ts(asked),
                    topic: rng.chance(0.85).then(|| *rng.pick(&QUESTION_TOPICS)),
                    resolved,
                    updated_at: Ts(asked + if resolved { rng.range(5, 600) } else { 0 }),
                });
            }
            let progress = (pointer as f64 / n_items as f64 * 10_000.0).round() / 10_000.0;
            snapshots.push((last, progress));
            if end.is_some() {
                break;
            }
        }
        let last_active = snapshots.last().map(|s| s.0);
        if end.is_none() && !cut_by_horizon {
            end = if quitted || last_active.is_none() {
                let at = last_active.unwrap_or(enrolled_at) + rng.range(5 * DAY, 15 * DAY);
                (at <= horizon).then_some((at, End::Withdrawn))
            } else {
                // Reached the end of the course without finishing it.
                let at = end_time.max(last_active.unwrap_or(end_time) + 3600);
                (at <= horizon).then_some((at, End::Completed("fail")))
            };
        }
        if let Some((at, how)) = end {
            let p = if how == End::Withdrawn { 0.15 } else { 0.55 };
            if rng.chance(p) && !c.trainers.is_empty() {
                let submitted = at + rng.range(3600, 3 * DAY);
                out.trainer_feedback.push(TrainerFeedback {
                    id: rng.uuid(),
                    course_id: c.id,
                    trainer_id: *rng.pick(&c.trainers),
                    learner_id: rng.chance(0.8).then_some(l.id),
                    rating: l.persona.rating(rng),
                    submitted_at: Ts(submitted),
                    updated_at: Ts(submitted),
                });
            }
        }
        EnrolPlan {
            id: rng.uuid(),
            user: l.id,
            course: c.id,
            course_idx: ci,
            enrolled_at,
            snapshots,
            end,
        }
    }

    fn finish(self) -> Org {
        let o = self.out;
        let user_index = o
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id, i))
            .collect();
        let mut org = Org {
            seed: self.seed,
            now: self.now,
            organizations: Feed::new(o.organizations),
            departments: Feed::new(o.departments),
            users: Feed::new(o.users),
            trainer_learners: Feed::new(o.trainer_learners),
            courses: Feed::new(o.courses),
            course_units: Feed::new(o.course_units),
            course_trainers: Feed::new(o.course_trainers),
            enrolments: Feed::default(),
            trainer_feedback: Feed::new(o.trainer_feedback),
            content_items: Feed::new(o.content_items),
            content_interactions: Feed::new(o.content_interactions),
            assessments: Feed::new(o.assessments),
            assessment_attempts: Feed::new(o.assessment_attempts),
            skills: Feed::new(o.skills),
            skill_levels: Feed::new(o.skill_levels),
            job_role_requirements: Feed::new(o.job_role_requirements),
            skill_targets: Feed::new(o.skill_targets),
            lab_sessions: Feed::new(o.lab_sessions),
            assistant_questions: Feed::new(o.assistant_questions),
            user_status: Feed::default(),
            plans: o.plans,
            accounts: o.accounts,
            user_index,
            course_ctx: self.courses,
            skill_ids: self.skill_ids,
        };
        org.set_now(self.now);
        org
    }
}

/// One content interaction starting at `*t`; moves `*t` past it and
/// returns its updatedAt (its end).
fn interaction(
    out: &mut Out,
    rng: &mut Rng,
    l: &Learner,
    item: &ItemCtx,
    completed: bool,
    t: &mut i64,
) -> i64 {
    let full = match item.duration {
        Some(d) => f64::from(d) * rng.uniform(0.6, 1.3),
        None => rng.uniform(60.0, 600.0),
    };
    let spent = if completed {
        full
    } else {
        full * rng.uniform(0.2, 0.6)
    };
    let spent = (spent as i64).clamp(5, 86_400);
    let occurred = *t;
    let end = occurred + spent;
    out.content_interactions.push(ContentInteraction {
        id: rng.uuid(),
        user_id: l.id,
        content_item_id: item.id,
        occurred_at: Ts(occurred),
        time_spent_seconds: (item.content_type != "resource" || rng.chance(0.5))
            .then_some(spent as u32),
        clicks: rng.range(1, (spent / 60 + 2).min(200)) as u32,
        completed,
        updated_at: Ts(end),
    });
    *t = end + rng.range(20, 300);
    end
}

/// A learner's attempts at one assessment, starting after `*t`; returns
/// the best score as a share of the maximum.
fn attempts(out: &mut Out, rng: &mut Rng, l: &Learner, a: &AsmCtx, t: &mut i64) -> f64 {
    let mut ability = l.ability;
    let mut best = 0.0f64;
    for n in 1..=3u32 {
        let duration = match a.kind {
            "quiz" => rng.range(300, 1200),
            "assignment" => rng.range(1800, 7200),
            "lab" => rng.range(1200, 3600),
            "exam" => rng.range(2700, 5400),
            _ => rng.range(600, 1800),
        };
        let started = *t + rng.range(60, 600);
        let submitted = started + duration;
        let share = (ability + rng.uniform(-0.15, 0.15)).clamp(0.0, 1.0);
        let score = round_to(share * a.max, 0.5).clamp(0.0, a.max);
        out.assessment_attempts.push(AssessmentAttempt {
            id: rng.uuid(),
            assessment_id: a.id,
            user_id: l.id,
            attempt_number: n,
            score,
            started_at: (a.kind != "assignment").then_some(Ts(started)),
            submitted_at: Ts(submitted),
            updated_at: Ts(submitted),
        });
        *t = submitted;
        best = best.max(score / a.max);
        let pass = a.pass.unwrap_or(a.max * 0.5);
        if score >= pass || !rng.chance(l.persona.retry()) {
            break;
        }
        ability += 0.08;
        *t += rng.range(600, 3600);
    }
    best
}
