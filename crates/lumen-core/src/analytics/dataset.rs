//! One organisation's learning records, as the analytics read them, with
//! the indexes every family needs. The service loads it; tests build it by
//! hand.

use std::collections::HashMap as StdHashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Role;
use crate::model::{
    Assessment, AssessmentAttempt, AssistantQuestion, ContentInteraction, ContentItem, Course,
    CourseUnit, Department, Enrolment, LabSession, Organization, Skill, SkillLevel,
    SkillRequirement, SkillTarget, TrainerFeedback, User,
};

/// The indexes' maps: foldhash instead of SipHash (no untrusted keys
/// choose the buckets; every analytic goes through these look-ups).
/// Fixed seed: the same layout in every run. No index is iterated, so
/// nothing depends on the order.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::FixedState>;

/// The records of one organisation. Build with [`Dataset::new`] after
/// filling the vectors (order does not matter).
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub organization: Option<Organization>,
    pub departments: Vec<Department>,
    pub users: Vec<User>,
    pub courses: Vec<Course>,
    pub units: Vec<CourseUnit>,
    /// (course, trainer)
    pub course_trainers: Vec<(Uuid, Uuid)>,
    /// (trainer, learner)
    pub trainer_learners: Vec<(Uuid, Uuid)>,
    pub enrolments: Vec<Enrolment>,
    pub content_items: Vec<ContentItem>,
    pub interactions: Vec<ContentInteraction>,
    pub assessments: Vec<Assessment>,
    pub attempts: Vec<AssessmentAttempt>,
    pub skills: Vec<Skill>,
    pub skill_levels: Vec<SkillLevel>,
    pub requirements: Vec<SkillRequirement>,
    pub targets: Vec<SkillTarget>,
    pub feedback: Vec<TrainerFeedback>,
    pub lab_sessions: Vec<LabSession>,
    pub questions: Vec<AssistantQuestion>,
}

impl Records {
    /// Puts every table in one order (by id, or by key where a table has
    /// none), so that no analytic depends on the order a database returned
    /// its rows in: SQLite and PostgreSQL give the same answers.
    pub fn sort(&mut self) {
        self.departments.sort_by_key(|r| r.id);
        self.users.sort_by_key(|r| r.id);
        self.courses.sort_by_key(|r| r.id);
        self.units.sort_by_key(|r| r.id);
        self.course_trainers.sort_unstable();
        self.trainer_learners.sort_unstable();
        self.enrolments.sort_by_key(|r| r.id);
        self.content_items.sort_by_key(|r| r.id);
        self.interactions.sort_by_key(|r| r.id);
        self.assessments.sort_by_key(|r| r.id);
        self.attempts.sort_by_key(|r| r.id);
        self.skills.sort_by_key(|r| r.id);
        self.skill_levels.sort_by(|a, b| {
            (a.user_id, a.skill_id, a.assessed_at).cmp(&(b.user_id, b.skill_id, b.assessed_at))
        });
        self.requirements.sort_by(|a, b| {
            (a.organization_id, &a.job_role, a.skill_id).cmp(&(
                b.organization_id,
                &b.job_role,
                b.skill_id,
            ))
        });
        self.targets
            .sort_by_key(|r| (r.organization_id, r.skill_id));
        self.feedback.sort_by_key(|r| r.id);
        self.lab_sessions.sort_by_key(|r| r.id);
        self.questions.sort_by_key(|r| r.id);
    }
}

/// [`Records`] with indexes (positions into the vectors).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub records: Records,
    users: HashMap<Uuid, usize>,
    courses: HashMap<Uuid, usize>,
    items: HashMap<Uuid, usize>,
    assessments: HashMap<Uuid, usize>,
    skills: HashMap<Uuid, usize>,
    enrolments_by_user: HashMap<Uuid, Vec<usize>>,
    enrolments_by_course: HashMap<Uuid, Vec<usize>>,
    interactions_by_user: HashMap<Uuid, Vec<usize>>,
    attempts_by_user: HashMap<Uuid, Vec<usize>>,
    attempts_by_assessment: HashMap<Uuid, Vec<usize>>,
    labs_by_user: HashMap<Uuid, Vec<usize>>,
    questions_by_user: HashMap<Uuid, Vec<usize>>,
    levels_by_user: HashMap<Uuid, Vec<usize>>,
    trainers_by_course: HashMap<Uuid, Vec<Uuid>>,
    courses_by_trainer: HashMap<Uuid, Vec<Uuid>>,
    assessments_by_course: HashMap<Uuid, Vec<usize>>,
    items_by_course: HashMap<Uuid, Vec<usize>>,
    units: HashMap<Uuid, usize>,
    units_by_course: HashMap<Uuid, Vec<usize>>,
    /// Per course, the earliest completed content interaction.
    first_completion: HashMap<Uuid, DateTime<Utc>>,
}

fn index<T>(items: &[T], key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, usize> {
    items.iter().enumerate().map(|(i, x)| (key(x), i)).collect()
}

/// Like [`index`], but the first of duplicate ids wins.
fn first_index<T>(items: &[T], key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, usize> {
    let mut map = HashMap::default();
    for (i, x) in items.iter().enumerate() {
        map.entry(key(x)).or_insert(i);
    }
    map
}

fn group<T>(items: &[T], key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<usize>> {
    let mut map: HashMap<Uuid, Vec<usize>> = HashMap::default();
    for (i, x) in items.iter().enumerate() {
        map.entry(key(x)).or_default().push(i);
    }
    map
}

impl Dataset {
    pub fn new(mut records: Records) -> Self {
        records.sort();
        let mut trainers_by_course: HashMap<Uuid, Vec<Uuid>> = HashMap::default();
        let mut courses_by_trainer: HashMap<Uuid, Vec<Uuid>> = HashMap::default();
        for &(course, trainer) in &records.course_trainers {
            trainers_by_course.entry(course).or_default().push(trainer);
            courses_by_trainer.entry(trainer).or_default().push(course);
        }
        let item_course: HashMap<Uuid, Uuid> = records
            .content_items
            .iter()
            .map(|c| (c.id, c.course_id))
            .collect();
        let mut first_completion: HashMap<Uuid, DateTime<Utc>> = HashMap::default();
        for i in records.interactions.iter().filter(|i| i.completed) {
            if let Some(course) = item_course.get(&i.content_item_id) {
                let first = first_completion.entry(*course).or_insert(i.occurred_at);
                *first = (*first).min(i.occurred_at);
            }
        }
        Self {
            assessments_by_course: group(&records.assessments, |a| a.course_id),
            items_by_course: group(&records.content_items, |c| c.course_id),
            units: first_index(&records.units, |u| u.id),
            units_by_course: group(&records.units, |u| u.course_id),
            first_completion,
            users: index(&records.users, |u| u.id),
            courses: index(&records.courses, |c| c.id),
            items: index(&records.content_items, |c| c.id),
            assessments: index(&records.assessments, |a| a.id),
            skills: first_index(&records.skills, |s| s.id),
            enrolments_by_user: group(&records.enrolments, |e| e.user_id),
            enrolments_by_course: group(&records.enrolments, |e| e.course_id),
            interactions_by_user: group(&records.interactions, |i| i.user_id),
            attempts_by_user: group(&records.attempts, |a| a.user_id),
            attempts_by_assessment: group(&records.attempts, |a| a.assessment_id),
            labs_by_user: group(&records.lab_sessions, |l| l.user_id),
            questions_by_user: group(&records.questions, |q| q.user_id),
            levels_by_user: group(&records.skill_levels, |l| l.user_id),
            trainers_by_course,
            courses_by_trainer,
            records,
        }
    }

    pub fn user(&self, id: Uuid) -> Option<&User> {
        self.users.get(&id).map(|&i| &self.records.users[i])
    }
    pub fn course(&self, id: Uuid) -> Option<&Course> {
        self.courses.get(&id).map(|&i| &self.records.courses[i])
    }
    pub fn content_item(&self, id: Uuid) -> Option<&ContentItem> {
        self.items.get(&id).map(|&i| &self.records.content_items[i])
    }
    pub fn assessment(&self, id: Uuid) -> Option<&Assessment> {
        self.assessments
            .get(&id)
            .map(|&i| &self.records.assessments[i])
    }

    pub fn skill(&self, id: Uuid) -> Option<&Skill> {
        self.skills.get(&id).map(|&i| &self.records.skills[i])
    }
    /// The skill's name; its id when the skill is unknown.
    pub fn skill_name(&self, id: Uuid) -> String {
        self.skill(id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    }

    /// Users holding `role`.
    pub fn users_with_role(&self, role: Role) -> impl Iterator<Item = &User> {
        self.records
            .users
            .iter()
            .filter(move |u| u.roles.contains(&role))
    }
    pub fn learners(&self) -> impl Iterator<Item = &User> {
        self.users_with_role(Role::Learner)
    }

    fn pick<'a, T>(
        &self,
        all: &'a [T],
        map: &HashMap<Uuid, Vec<usize>>,
        key: Uuid,
    ) -> impl Iterator<Item = &'a T> {
        map.get(&key).into_iter().flatten().map(move |&i| &all[i])
    }

    pub fn enrolments_of(&self, user: Uuid) -> impl Iterator<Item = &Enrolment> {
        self.pick(&self.records.enrolments, &self.enrolments_by_user, user)
    }
    pub fn enrolments_in(&self, course: Uuid) -> impl Iterator<Item = &Enrolment> {
        self.pick(&self.records.enrolments, &self.enrolments_by_course, course)
    }
    pub fn interactions_of(&self, user: Uuid) -> impl Iterator<Item = &ContentInteraction> {
        self.pick(&self.records.interactions, &self.interactions_by_user, user)
    }
    pub fn attempts_of(&self, user: Uuid) -> impl Iterator<Item = &AssessmentAttempt> {
        self.pick(&self.records.attempts, &self.attempts_by_user, user)
    }
    pub fn attempts_on(&self, assessment: Uuid) -> impl Iterator<Item = &AssessmentAttempt> {
        self.pick(
            &self.records.attempts,
            &self.attempts_by_assessment,
            assessment,
        )
    }
    pub fn lab_sessions_of(&self, user: Uuid) -> impl Iterator<Item = &LabSession> {
        self.pick(&self.records.lab_sessions, &self.labs_by_user, user)
    }
    pub fn questions_of(&self, user: Uuid) -> impl Iterator<Item = &AssistantQuestion> {
        self.pick(&self.records.questions, &self.questions_by_user, user)
    }
    pub fn skill_levels_of(&self, user: Uuid) -> impl Iterator<Item = &SkillLevel> {
        self.pick(&self.records.skill_levels, &self.levels_by_user, user)
    }
    pub fn trainers_of(&self, course: Uuid) -> &[Uuid] {
        self.trainers_by_course
            .get(&course)
            .map_or(&[], Vec::as_slice)
    }
    /// Courses a trainer is assigned to (drafts included; C(T) filters them).
    pub fn courses_of_trainer(&self, trainer: Uuid) -> &[Uuid] {
        self.courses_by_trainer
            .get(&trainer)
            .map_or(&[], Vec::as_slice)
    }
    pub fn assessments_of_course(&self, course: Uuid) -> impl Iterator<Item = &Assessment> {
        self.pick(
            &self.records.assessments,
            &self.assessments_by_course,
            course,
        )
    }
    /// The course's units, in id order.
    pub fn units_of_course(&self, course: Uuid) -> impl Iterator<Item = &CourseUnit> {
        self.pick(&self.records.units, &self.units_by_course, course)
    }
    /// The unit (the first of duplicate ids).
    pub fn unit(&self, id: Uuid) -> Option<&CourseUnit> {
        self.units.get(&id).map(|&i| &self.records.units[i])
    }
    pub fn content_of_course(&self, course: Uuid) -> impl Iterator<Item = &ContentItem> {
        self.pick(&self.records.content_items, &self.items_by_course, course)
    }
    /// Some learner completed some content item of the course (at any time).
    pub fn course_records_completion(&self, course: Uuid) -> bool {
        self.first_completion.contains_key(&course)
    }
    /// When a content item of the course was first completed by anyone.
    pub fn first_completion_in(&self, course: Uuid) -> Option<DateTime<Utc>> {
        self.first_completion.get(&course).copied()
    }

    /// The latest level of each skill of a user assessed at or before `at`.
    pub fn skill_levels_at(&self, user: Uuid, at: DateTime<Utc>) -> StdHashMap<Uuid, f64> {
        let mut latest: StdHashMap<Uuid, (DateTime<Utc>, f64)> = StdHashMap::new();
        for l in self.skill_levels_of(user).filter(|l| l.assessed_at <= at) {
            let entry = latest.entry(l.skill_id).or_insert((l.assessed_at, l.level));
            if l.assessed_at >= entry.0 {
                *entry = (l.assessed_at, l.level);
            }
        }
        latest.into_iter().map(|(k, (_, v))| (k, v)).collect()
    }
}
