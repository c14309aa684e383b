//! Learning records: the upserts and reads of each kind, `apply` (a batch
//! of changes in one transaction), an organisation's records for the
//! analytics, and counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use lumen_core::analytics::dataset::Records;
use lumen_core::model::{
    Change, Course, Department, Enrolment, InvalidRecord, Organization, Origin, Record, RecordKey,
};
use serde::Serialize;
use uuid::Uuid;

use super::{ConflictKind, Store, StoreError, StoreResult, Tx};

/// How many learning records are stored, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordCounts {
    pub organizations: i64,
    pub users: i64,
    pub courses: i64,
    pub enrolments: i64,
}

/// The learning-records tables, in dependency order.
pub const LEARNING_RECORD_TABLES: [&str; 19] = [
    "organizations",
    "departments",
    "users",
    "trainer_learners",
    "courses",
    "course_units",
    "course_trainers",
    "enrolments",
    "trainer_feedback",
    "content_items",
    "content_interactions",
    "assessments",
    "assessment_attempts",
    "skills",
    "user_skill_levels",
    "job_role_skill_requirements",
    "org_skill_targets",
    "lab_sessions",
    "assistant_questions",
];

impl Store {
    pub async fn upsert_organization(&self, org: &Organization) -> StoreResult<()> {
        self.write_one(&Record::Organization(org.clone())).await
    }

    pub async fn organization(&self, id: Uuid) -> StoreResult<Option<Organization>> {
        let row: Option<OrganizationRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, source, external_id, name, leaderboard_names, created_at, updated_at \
                 FROM organizations WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(Into::into))
    }

    pub async fn upsert_department(&self, dept: &Department) -> StoreResult<()> {
        self.write_one(&Record::Department(dept.clone())).await
    }

    pub async fn departments(&self, organization_id: Uuid) -> StoreResult<Vec<Department>> {
        let rows: Vec<DepartmentRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organization_id, parent_id, source, external_id, name, created_at, \
                 updated_at FROM departments WHERE organization_id = $1 ORDER BY name, id",
            )
            .bind(organization_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn upsert_course(&self, course: &Course) -> StoreResult<()> {
        self.write_one(&Record::Course(course.clone())).await
    }

    pub async fn course(&self, id: Uuid) -> StoreResult<Option<Course>> {
        let row: Option<CourseRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organization_id, source, external_id, title, status, starts_at, \
                 length_days, created_at, updated_at FROM courses WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(TryInto::try_into).transpose()
    }

    /// Validates the enrolment's invariants first.
    pub async fn upsert_enrolment(&self, enrolment: &Enrolment) -> StoreResult<()> {
        enrolment.validate()?;
        self.write_one(&Record::Enrolment(enrolment.clone())).await
    }

    pub async fn enrolments_of_user(&self, user_id: Uuid) -> StoreResult<Vec<Enrolment>> {
        let rows: Vec<EnrolmentRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, course_id, source, external_id, status, outcome, progress, \
                 enrolled_at, started_at, last_active_at, completed_at, withdrawn_at, updated_at \
                 FROM enrolments WHERE user_id = $1 ORDER BY enrolled_at, id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Makes `trainer_id` a trainer of `course_id` (idempotent).
    pub async fn add_course_trainer(&self, course_id: Uuid, trainer_id: Uuid) -> StoreResult<()> {
        self.apply(&[Change::Upsert(Record::CourseTrainer {
            course_id,
            trainer_id,
        })])
        .await
    }

    /// Links a learner to a trainer outside any course (idempotent).
    pub async fn add_trainer_learner(&self, trainer_id: Uuid, learner_id: Uuid) -> StoreResult<()> {
        self.apply(&[Change::Upsert(Record::TrainerLearner {
            trainer_id,
            learner_id,
        })])
        .await
    }

    /// Applies changes in one transaction: all or nothing. Each upserted
    /// record is validated first; references must resolve.
    pub async fn apply(&self, changes: &[Change]) -> StoreResult<()> {
        for change in changes {
            if let Change::Upsert(record) = change {
                record.validate()?;
            }
        }
        let mut tx = self.begin().await?;
        for change in changes {
            match change {
                Change::Upsert(record) => write_record(&mut tx, record).await?,
                Change::Delete(key) => delete_record(&mut tx, key).await?,
            }
        }
        if !changes.is_empty() {
            bump_records_version(&mut tx).await?;
        }
        tx.commit().await
    }

    /// Writes one record (a user with their roles) in its own transaction,
    /// without validating it.
    pub(super) async fn write_one(&self, record: &Record) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        write_record(&mut tx, record).await?;
        bump_records_version(&mut tx).await?;
        tx.commit().await
    }

    /// The version of the learning records: it moves on with every write
    /// of records (in the writing transaction), so a result stored with the
    /// version it was computed from can tell it is out of date.
    pub async fn records_version(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT version FROM records_version WHERE id = 1")
                .fetch_optional(pool)
                .await?
                .unwrap_or(0)
        }))
    }

    pub async fn record_counts(&self) -> StoreResult<RecordCounts> {
        let (organizations, users, courses, enrolments): (i64, i64, i64, i64) =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM organizations), (SELECT COUNT(*) FROM users), \
                 (SELECT COUNT(*) FROM courses), (SELECT COUNT(*) FROM enrolments)",
                )
                .fetch_one(pool)
                .await?
            });
        Ok(RecordCounts {
            organizations,
            users,
            courses,
            enrolments,
        })
    }

    /// Rows in each learning-records table, by table name.
    pub async fn table_counts(&self) -> StoreResult<BTreeMap<String, i64>> {
        type Sixteen = (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        );
        let (row, rest): (Sixteen, (i64, i64, i64)) = on_pool!(self, |pool| {
            (
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM organizations), (SELECT COUNT(*) FROM departments), \
                 (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM trainer_learners), \
                 (SELECT COUNT(*) FROM courses), (SELECT COUNT(*) FROM course_units), \
                 (SELECT COUNT(*) FROM course_trainers), (SELECT COUNT(*) FROM enrolments), \
                 (SELECT COUNT(*) FROM trainer_feedback), (SELECT COUNT(*) FROM content_items), \
                 (SELECT COUNT(*) FROM content_interactions), (SELECT COUNT(*) FROM assessments), \
                 (SELECT COUNT(*) FROM assessment_attempts), (SELECT COUNT(*) FROM skills), \
                 (SELECT COUNT(*) FROM user_skill_levels), \
                 (SELECT COUNT(*) FROM job_role_skill_requirements)",
            )
            .fetch_one(pool)
            .await?,
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM org_skill_targets), (SELECT COUNT(*) FROM lab_sessions), \
                 (SELECT COUNT(*) FROM assistant_questions)",
            )
            .fetch_one(pool)
            .await?,
        )
        });
        let values = [
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11,
            row.12, row.13, row.14, row.15, rest.0, rest.1, rest.2,
        ];
        Ok(LEARNING_RECORD_TABLES
            .iter()
            .zip(values)
            .map(|(t, n)| (t.to_string(), n))
            .collect())
    }

    /// Every assessment's maximum score, to check attempts against.
    pub async fn assessment_max_scores(&self) -> StoreResult<HashMap<Uuid, f64>> {
        let rows: Vec<(Uuid, f64)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, max_score FROM assessments")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Every learning record of one organisation, for the analytics.
    pub async fn load_records(&self, org: Uuid) -> StoreResult<Records> {
        let organization = self.organization(org).await?;
        let departments = self.departments(org).await?;
        let users = self.users(Some(org)).await?;
        on_pool!(self, |pool| {
            let courses: Vec<CourseRow> = sqlx::query_as(
                "SELECT id, organization_id, source, external_id, title, status, starts_at, \
                 length_days, created_at, updated_at FROM courses WHERE organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let units: Vec<UnitRow> = sqlx::query_as(
                "SELECT u.id, u.course_id, u.source, u.external_id, u.title, u.position \
                 FROM course_units u JOIN courses c ON c.id = u.course_id \
                 WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let course_trainers: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT ct.course_id, ct.trainer_id FROM course_trainers ct \
                 JOIN courses c ON c.id = ct.course_id WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let trainer_learners: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT tl.trainer_id, tl.learner_id FROM trainer_learners tl \
                 JOIN users u ON u.id = tl.trainer_id WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let enrolments: Vec<EnrolmentRow> = sqlx::query_as(
                "SELECT e.id, e.user_id, e.course_id, e.source, e.external_id, e.status, e.outcome, \
                 e.progress, e.enrolled_at, e.started_at, e.last_active_at, e.completed_at, \
                 e.withdrawn_at, e.updated_at \
                 FROM enrolments e JOIN courses c ON c.id = e.course_id WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let content_items: Vec<ItemRow> = sqlx::query_as(
                "SELECT i.id, i.course_id, i.unit_id, i.source, i.external_id, i.title, \
                 i.content_type, i.duration_seconds FROM content_items i \
                 JOIN courses c ON c.id = i.course_id WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let interactions: Vec<InteractionRow> = sqlx::query_as(
                "SELECT i.id, i.user_id, i.content_item_id, i.occurred_at, i.time_spent_seconds, \
                 i.clicks, i.completed FROM content_interactions i \
                 JOIN users u ON u.id = i.user_id WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let assessments: Vec<AssessmentRow> = sqlx::query_as(
                "SELECT a.id, a.course_id, a.unit_id, a.source, a.external_id, a.title, a.kind, \
                 a.max_score, a.pass_score, a.weight, a.due_at FROM assessments a \
                 JOIN courses c ON c.id = a.course_id WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let attempts: Vec<AttemptRow> = sqlx::query_as(
                "SELECT t.id, t.assessment_id, t.user_id, t.attempt_number, t.score, t.started_at, \
                 t.submitted_at FROM assessment_attempts t \
                 JOIN users u ON u.id = t.user_id WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let skills: Vec<SkillRow> = sqlx::query_as(
                "SELECT id, organization_id, name, category FROM skills \
                 WHERE organization_id = $1 OR organization_id IS NULL",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let skill_levels: Vec<LevelRow> = sqlx::query_as(
                "SELECT l.user_id, l.skill_id, l.level, l.assessed_at, l.source \
                 FROM user_skill_levels l JOIN users u ON u.id = l.user_id \
                 WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let requirements: Vec<RequirementRow> = sqlx::query_as(
                "SELECT organization_id, job_role, skill_id, required_level \
                 FROM job_role_skill_requirements WHERE organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let targets: Vec<TargetRow> = sqlx::query_as(
                "SELECT organization_id, skill_id, target_level, priority, target_date \
                 FROM org_skill_targets WHERE organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let feedback: Vec<FeedbackRow> = sqlx::query_as(
                "SELECT f.id, f.course_id, f.trainer_id, f.learner_id, f.rating, f.submitted_at \
                 FROM trainer_feedback f JOIN courses c ON c.id = f.course_id \
                 WHERE c.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let lab_sessions: Vec<LabRow> = sqlx::query_as(
                "SELECT l.id, l.user_id, l.course_id, l.exercise, l.started_at, l.ended_at, \
                 l.attempts, l.solved FROM lab_sessions l JOIN users u ON u.id = l.user_id \
                 WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            let questions: Vec<QuestionRow> = sqlx::query_as(
                "SELECT q.id, q.user_id, q.course_id, q.asked_at, q.topic, q.resolved \
                 FROM assistant_questions q JOIN users u ON u.id = q.user_id \
                 WHERE u.organization_id = $1",
            )
            .bind(org)
            .fetch_all(pool)
            .await?;
            Ok(Records {
                organization,
                departments,
                users,
                courses: courses
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<StoreResult<_>>()?,
                units: units.into_iter().map(Into::into).collect(),
                course_trainers,
                trainer_learners,
                enrolments: enrolments
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<StoreResult<_>>()?,
                content_items: content_items
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<StoreResult<_>>()?,
                interactions: interactions.into_iter().map(Into::into).collect(),
                assessments: assessments
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<StoreResult<_>>()?,
                attempts: attempts.into_iter().map(Into::into).collect(),
                skills: skills.into_iter().map(Into::into).collect(),
                skill_levels: skill_levels.into_iter().map(Into::into).collect(),
                requirements: requirements.into_iter().map(Into::into).collect(),
                targets: targets.into_iter().map(Into::into).collect(),
                feedback: feedback.into_iter().map(Into::into).collect(),
                lab_sessions: lab_sessions.into_iter().map(Into::into).collect(),
                questions: questions.into_iter().map(Into::into).collect(),
            })
        })
    }
}

/// Upserts one record; callers run it in a transaction (a user and their
/// roles are written together).
/// Moves the records version on, inside the transaction that writes records.
pub(super) async fn bump_records_version(tx: &mut Tx) -> StoreResult<()> {
    on_pool!(tx(tx), |conn| {
        sqlx::query("UPDATE records_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

pub(super) async fn write_record(tx: &mut Tx, record: &Record) -> StoreResult<()> {
    use Record as R;
    on_pool!(tx(tx), |conn| match record {
        R::Organization(org) => {
            let (source, external_id) = origin_parts(&org.origin);
            sqlx::query(
                "INSERT INTO organizations (id, source, external_id, name, leaderboard_names, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET source = excluded.source, \
                 external_id = excluded.external_id, name = excluded.name, \
                 leaderboard_names = excluded.leaderboard_names, updated_at = excluded.updated_at",
            )
            .bind(org.id)
            .bind(source)
            .bind(external_id)
            .bind(&org.name)
            .bind(org.leaderboard_names)
            .bind(org.created_at)
            .bind(org.updated_at)
            .execute(conn)
            .await?;
        }
        R::Department(dept) => {
            let (source, external_id) = origin_parts(&dept.origin);
            sqlx::query(
                "INSERT INTO departments (id, organization_id, parent_id, source, external_id, name, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, \
                 parent_id = excluded.parent_id, source = excluded.source, \
                 external_id = excluded.external_id, name = excluded.name, \
                 updated_at = excluded.updated_at",
            )
            .bind(dept.id)
            .bind(dept.organization_id)
            .bind(dept.parent_id)
            .bind(source)
            .bind(external_id)
            .bind(&dept.name)
            .bind(dept.created_at)
            .bind(dept.updated_at)
            .execute(conn)
            .await?;
        }
        R::User(user) => {
            let (source, external_id) = origin_parts(&user.origin);
            sqlx::query(
                "INSERT INTO users (id, organization_id, department_id, source, external_id, email, \
                 full_name, job_role, time_zone, avatar_url, leaderboard_opt_out, last_login_at, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, \
                 department_id = excluded.department_id, source = excluded.source, \
                 external_id = excluded.external_id, email = excluded.email, \
                 full_name = excluded.full_name, job_role = excluded.job_role, \
                 time_zone = excluded.time_zone, avatar_url = excluded.avatar_url, \
                 leaderboard_opt_out = excluded.leaderboard_opt_out, \
                 last_login_at = excluded.last_login_at, updated_at = excluded.updated_at",
            )
            .bind(user.id)
            .bind(user.organization_id)
            .bind(user.department_id)
            .bind(source)
            .bind(external_id)
            .bind(&user.email)
            .bind(&user.full_name)
            .bind(&user.job_role)
            .bind(&user.time_zone)
            .bind(&user.avatar_url)
            .bind(user.leaderboard_opt_out)
            .bind(user.last_login_at)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *conn)
                .await?;
            for role in &user.roles {
                sqlx::query(
                    "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(user.id)
                .bind(role.as_str())
                .execute(&mut *conn)
                .await?;
            }
        }
        R::TrainerLearner {
            trainer_id,
            learner_id,
        } => {
            sqlx::query(
                "INSERT INTO trainer_learners (trainer_id, learner_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(trainer_id)
            .bind(learner_id)
            .execute(conn)
            .await?;
        }
        R::Course(course) => {
            let (source, external_id) = origin_parts(&course.origin);
            let length_days = course
                .length_days
                .map(|d| {
                    i32::try_from(d).map_err(|_| InvalidRecord {
                        field: "lengthDays",
                        reason: "too large".into(),
                    })
                })
                .transpose()?;
            sqlx::query(
                "INSERT INTO courses (id, organization_id, source, external_id, title, status, \
                 starts_at, length_days, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, \
                 source = excluded.source, external_id = excluded.external_id, \
                 title = excluded.title, status = excluded.status, starts_at = excluded.starts_at, \
                 length_days = excluded.length_days, updated_at = excluded.updated_at",
            )
            .bind(course.id)
            .bind(course.organization_id)
            .bind(source)
            .bind(external_id)
            .bind(&course.title)
            .bind(course.status.as_str())
            .bind(course.starts_at)
            .bind(length_days)
            .bind(course.created_at)
            .bind(course.updated_at)
            .execute(conn)
            .await?;
        }
        R::CourseUnit(u) => {
            let (source, external_id) = origin_parts(&u.origin);
            sqlx::query(
                "INSERT INTO course_units (id, course_id, source, external_id, title, position) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 course_id = excluded.course_id, source = excluded.source, \
                 external_id = excluded.external_id, title = excluded.title, \
                 position = excluded.position",
            )
            .bind(u.id)
            .bind(u.course_id)
            .bind(source)
            .bind(external_id)
            .bind(&u.title)
            .bind(u.position)
            .execute(conn)
            .await?;
        }
        R::CourseTrainer {
            course_id,
            trainer_id,
        } => {
            sqlx::query(
                "INSERT INTO course_trainers (course_id, trainer_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(course_id)
            .bind(trainer_id)
            .execute(conn)
            .await?;
        }
        R::Enrolment(e) => {
            // A learner and a course of different organisations: no route
            // would ever show it, and it would leak one tenant's data into
            // another's analytics. Missing ones fail on the foreign keys.
            let orgs: Option<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT u.organization_id, c.organization_id FROM users u, courses c \
                 WHERE u.id = $1 AND c.id = $2",
            )
            .bind(e.user_id)
            .bind(e.course_id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some((learner_org, course_org)) = orgs
                && learner_org != course_org
            {
                return Err(StoreError::Conflict {
                    kind: ConflictKind::CrossOrganization,
                    message: format!(
                        "enrolment {}: learner {} and course {} are in different organisations",
                        e.id, e.user_id, e.course_id
                    ),
                });
            }
            let (source, external_id) = origin_parts(&e.origin);
            sqlx::query(
                "INSERT INTO enrolments (id, user_id, course_id, source, external_id, status, \
                 outcome, progress, enrolled_at, started_at, last_active_at, completed_at, \
                 withdrawn_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                 course_id = excluded.course_id, source = excluded.source, \
                 external_id = excluded.external_id, status = excluded.status, \
                 outcome = excluded.outcome, progress = excluded.progress, \
                 enrolled_at = excluded.enrolled_at, started_at = excluded.started_at, \
                 last_active_at = excluded.last_active_at, completed_at = excluded.completed_at, \
                 withdrawn_at = excluded.withdrawn_at, updated_at = excluded.updated_at",
            )
            .bind(e.id)
            .bind(e.user_id)
            .bind(e.course_id)
            .bind(source)
            .bind(external_id)
            .bind(e.status.as_str())
            .bind(e.outcome.map(|o| o.as_str()))
            .bind(e.progress)
            .bind(e.enrolled_at)
            .bind(e.started_at)
            .bind(e.last_active_at)
            .bind(e.completed_at)
            .bind(e.withdrawn_at)
            .bind(e.updated_at)
            .execute(conn)
            .await?;
        }
        R::TrainerFeedback(f) => {
            let (source, external_id) = origin_parts(&f.origin);
            sqlx::query(
                "INSERT INTO trainer_feedback (id, course_id, trainer_id, learner_id, source, \
                 external_id, rating, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET course_id = excluded.course_id, \
                 trainer_id = excluded.trainer_id, learner_id = excluded.learner_id, \
                 source = excluded.source, external_id = excluded.external_id, \
                 rating = excluded.rating, submitted_at = excluded.submitted_at",
            )
            .bind(f.id)
            .bind(f.course_id)
            .bind(f.trainer_id)
            .bind(f.learner_id)
            .bind(source)
            .bind(external_id)
            .bind(f.rating)
            .bind(f.submitted_at)
            .execute(conn)
            .await?;
        }
        R::ContentItem(c) => {
            let (source, external_id) = origin_parts(&c.origin);
            sqlx::query(
                "INSERT INTO content_items (id, course_id, unit_id, source, external_id, title, \
                 content_type, duration_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET course_id = excluded.course_id, \
                 unit_id = excluded.unit_id, source = excluded.source, \
                 external_id = excluded.external_id, title = excluded.title, \
                 content_type = excluded.content_type, duration_seconds = excluded.duration_seconds",
            )
            .bind(c.id)
            .bind(c.course_id)
            .bind(c.unit_id)
            .bind(source)
            .bind(external_id)
            .bind(&c.title)
            .bind(c.content_type.as_str())
            .bind(c.duration_seconds)
            .execute(conn)
            .await?;
        }
        R::ContentInteraction(i) => {
            let (source, external_id) = origin_parts(&i.origin);
            sqlx::query(
                "INSERT INTO content_interactions (id, user_id, content_item_id, source, \
                 external_id, occurred_at, time_spent_seconds, clicks, completed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET \
                 user_id = excluded.user_id, content_item_id = excluded.content_item_id, \
                 source = excluded.source, external_id = excluded.external_id, \
                 occurred_at = excluded.occurred_at, \
                 time_spent_seconds = excluded.time_spent_seconds, clicks = excluded.clicks, \
                 completed = excluded.completed",
            )
            .bind(i.id)
            .bind(i.user_id)
            .bind(i.content_item_id)
            .bind(source)
            .bind(external_id)
            .bind(i.occurred_at)
            .bind(i.time_spent_seconds)
            .bind(i.clicks)
            .bind(i.completed)
            .execute(conn)
            .await?;
        }
        R::Assessment(a) => {
            let (source, external_id) = origin_parts(&a.origin);
            sqlx::query(
                "INSERT INTO assessments (id, course_id, unit_id, source, external_id, title, kind, \
                 max_score, pass_score, weight, due_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET course_id = excluded.course_id, \
                 unit_id = excluded.unit_id, source = excluded.source, \
                 external_id = excluded.external_id, title = excluded.title, kind = excluded.kind, \
                 max_score = excluded.max_score, pass_score = excluded.pass_score, \
                 weight = excluded.weight, due_at = excluded.due_at",
            )
            .bind(a.id)
            .bind(a.course_id)
            .bind(a.unit_id)
            .bind(source)
            .bind(external_id)
            .bind(&a.title)
            .bind(a.kind.as_str())
            .bind(a.max_score)
            .bind(a.pass_score)
            .bind(a.weight)
            .bind(a.due_at)
            .execute(conn)
            .await?;
        }
        R::AssessmentAttempt(a) => {
            let (source, external_id) = origin_parts(&a.origin);
            sqlx::query(
                "INSERT INTO assessment_attempts (id, assessment_id, user_id, source, external_id, \
                 attempt_number, score, started_at, submitted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET \
                 assessment_id = excluded.assessment_id, user_id = excluded.user_id, \
                 source = excluded.source, external_id = excluded.external_id, \
                 attempt_number = excluded.attempt_number, score = excluded.score, \
                 started_at = excluded.started_at, submitted_at = excluded.submitted_at",
            )
            .bind(a.id)
            .bind(a.assessment_id)
            .bind(a.user_id)
            .bind(source)
            .bind(external_id)
            .bind(a.attempt_number)
            .bind(a.score)
            .bind(a.started_at)
            .bind(a.submitted_at)
            .execute(conn)
            .await?;
        }
        R::Skill(k) => {
            let (source, external_id) = origin_parts(&k.origin);
            sqlx::query(
                "INSERT INTO skills (id, organization_id, source, external_id, name, category) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 organization_id = excluded.organization_id, source = excluded.source, \
                 external_id = excluded.external_id, name = excluded.name, \
                 category = excluded.category",
            )
            .bind(k.id)
            .bind(k.organization_id)
            .bind(source)
            .bind(external_id)
            .bind(&k.name)
            .bind(&k.category)
            .execute(conn)
            .await?;
        }
        R::SkillLevel(l) => {
            sqlx::query(
                "INSERT INTO user_skill_levels (user_id, skill_id, level, assessed_at, source) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, skill_id, assessed_at) DO UPDATE SET \
                 level = excluded.level, source = excluded.source",
            )
            .bind(l.user_id)
            .bind(l.skill_id)
            .bind(l.level)
            .bind(l.assessed_at)
            .bind(&l.source)
            .execute(conn)
            .await?;
        }
        R::SkillRequirement(r) => {
            sqlx::query(
                "INSERT INTO job_role_skill_requirements (organization_id, job_role, skill_id, \
                 required_level) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (organization_id, job_role, skill_id) DO UPDATE SET \
                 required_level = excluded.required_level",
            )
            .bind(r.organization_id)
            .bind(&r.job_role)
            .bind(r.skill_id)
            .bind(r.required_level)
            .execute(conn)
            .await?;
        }
        R::SkillTarget(t) => {
            sqlx::query(
                "INSERT INTO org_skill_targets (organization_id, skill_id, target_level, priority, \
                 target_date) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (organization_id, skill_id) DO UPDATE SET \
                 target_level = excluded.target_level, priority = excluded.priority, \
                 target_date = excluded.target_date",
            )
            .bind(t.organization_id)
            .bind(t.skill_id)
            .bind(t.target_level)
            .bind(t.priority)
            .bind(t.target_date)
            .execute(conn)
            .await?;
        }
        R::LabSession(l) => {
            let (source, external_id) = origin_parts(&l.origin);
            sqlx::query(
                "INSERT INTO lab_sessions (id, user_id, course_id, source, external_id, exercise, \
                 started_at, ended_at, attempts, solved) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                 course_id = excluded.course_id, source = excluded.source, \
                 external_id = excluded.external_id, exercise = excluded.exercise, \
                 started_at = excluded.started_at, ended_at = excluded.ended_at, \
                 attempts = excluded.attempts, solved = excluded.solved",
            )
            .bind(l.id)
            .bind(l.user_id)
            .bind(l.course_id)
            .bind(source)
            .bind(external_id)
            .bind(&l.exercise)
            .bind(l.started_at)
            .bind(l.ended_at)
            .bind(l.attempts)
            .bind(l.solved)
            .execute(conn)
            .await?;
        }
        R::AssistantQuestion(q) => {
            let (source, external_id) = origin_parts(&q.origin);
            sqlx::query(
                "INSERT INTO assistant_questions (id, user_id, course_id, source, external_id, \
                 asked_at, topic, resolved) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                 course_id = excluded.course_id, source = excluded.source, \
                 external_id = excluded.external_id, asked_at = excluded.asked_at, \
                 topic = excluded.topic, resolved = excluded.resolved",
            )
            .bind(q.id)
            .bind(q.user_id)
            .bind(q.course_id)
            .bind(source)
            .bind(external_id)
            .bind(q.asked_at)
            .bind(&q.topic)
            .bind(q.resolved)
            .execute(conn)
            .await?;
        }
    });
    Ok(())
}

/// Deletes one record (an upstream tombstone).
async fn delete_record(tx: &mut Tx, key: &RecordKey) -> StoreResult<()> {
    use RecordKey as K;
    let table_sql = |table: &str| -> StoreResult<&'static str> {
        Ok(match table {
            "organizations" => "DELETE FROM organizations WHERE id = $1",
            "departments" => "DELETE FROM departments WHERE id = $1",
            "users" => "DELETE FROM users WHERE id = $1",
            "courses" => "DELETE FROM courses WHERE id = $1",
            "course_units" => "DELETE FROM course_units WHERE id = $1",
            "enrolments" => "DELETE FROM enrolments WHERE id = $1",
            "trainer_feedback" => "DELETE FROM trainer_feedback WHERE id = $1",
            "content_items" => "DELETE FROM content_items WHERE id = $1",
            "content_interactions" => "DELETE FROM content_interactions WHERE id = $1",
            "assessments" => "DELETE FROM assessments WHERE id = $1",
            "assessment_attempts" => "DELETE FROM assessment_attempts WHERE id = $1",
            "skills" => "DELETE FROM skills WHERE id = $1",
            "lab_sessions" => "DELETE FROM lab_sessions WHERE id = $1",
            "assistant_questions" => "DELETE FROM assistant_questions WHERE id = $1",
            other => {
                return Err(StoreError::Corrupt(format!(
                    "no table {other} to delete from"
                )));
            }
        })
    };
    on_pool!(tx(tx), |conn| {
        let query = match key {
            K::Id { table, id } => sqlx::query(table_sql(table)?).bind(*id),
            K::TrainerLearner {
                trainer_id,
                learner_id,
            } => sqlx::query(
                "DELETE FROM trainer_learners WHERE trainer_id = $1 AND learner_id = $2",
            )
            .bind(*trainer_id)
            .bind(*learner_id),
            K::CourseTrainer {
                course_id,
                trainer_id,
            } => {
                sqlx::query("DELETE FROM course_trainers WHERE course_id = $1 AND trainer_id = $2")
                    .bind(*course_id)
                    .bind(*trainer_id)
            }
            K::SkillLevel {
                user_id,
                skill_id,
                assessed_at,
            } => sqlx::query(
                "DELETE FROM user_skill_levels WHERE user_id = $1 AND skill_id = $2 \
                 AND assessed_at = $3",
            )
            .bind(*user_id)
            .bind(*skill_id)
            .bind(*assessed_at),
            K::SkillRequirement {
                organization_id,
                job_role,
                skill_id,
            } => sqlx::query(
                "DELETE FROM job_role_skill_requirements WHERE organization_id = $1 \
                 AND job_role = $2 AND skill_id = $3",
            )
            .bind(*organization_id)
            .bind(job_role.clone())
            .bind(*skill_id),
            K::SkillTarget {
                organization_id,
                skill_id,
            } => sqlx::query(
                "DELETE FROM org_skill_targets WHERE organization_id = $1 AND skill_id = $2",
            )
            .bind(*organization_id)
            .bind(*skill_id),
        };
        query.execute(conn).await?;
    });
    Ok(())
}

pub(super) fn origin(source: Option<String>, external_id: Option<String>) -> Option<Origin> {
    match (source, external_id) {
        (Some(source), Some(external_id)) => Some(Origin {
            source,
            external_id,
        }),
        _ => None,
    }
}

pub(super) fn origin_parts(origin: &Option<Origin>) -> (Option<&str>, Option<&str>) {
    match origin {
        Some(o) => (Some(o.source.as_str()), Some(o.external_id.as_str())),
        None => (None, None),
    }
}

/// A text column holding one of a Rust enum's names.
pub(super) fn parse<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: Uuid,
    source: Option<String>,
    external_id: Option<String>,
    name: String,
    leaderboard_names: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OrganizationRow> for Organization {
    fn from(r: OrganizationRow) -> Self {
        Organization {
            id: r.id,
            origin: origin(r.source, r.external_id),
            name: r.name,
            leaderboard_names: r.leaderboard_names,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DepartmentRow {
    id: Uuid,
    organization_id: Uuid,
    parent_id: Option<Uuid>,
    source: Option<String>,
    external_id: Option<String>,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Self {
        Department {
            id: r.id,
            organization_id: r.organization_id,
            parent_id: r.parent_id,
            origin: origin(r.source, r.external_id),
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CourseRow {
    id: Uuid,
    organization_id: Uuid,
    source: Option<String>,
    external_id: Option<String>,
    title: String,
    status: String,
    starts_at: Option<DateTime<Utc>>,
    length_days: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CourseRow> for Course {
    type Error = StoreError;
    fn try_from(r: CourseRow) -> StoreResult<Self> {
        Ok(Course {
            id: r.id,
            organization_id: r.organization_id,
            origin: origin(r.source, r.external_id),
            title: r.title,
            status: parse("courses.status", &r.status)?,
            starts_at: r.starts_at,
            length_days: r
                .length_days
                .map(|d| {
                    u32::try_from(d).map_err(|_| StoreError::Corrupt(format!("length_days = {d}")))
                })
                .transpose()?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EnrolmentRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Uuid,
    source: Option<String>,
    external_id: Option<String>,
    status: String,
    outcome: Option<String>,
    progress: f64,
    enrolled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    last_active_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EnrolmentRow> for Enrolment {
    type Error = StoreError;
    fn try_from(r: EnrolmentRow) -> StoreResult<Self> {
        Ok(Enrolment {
            id: r.id,
            user_id: r.user_id,
            course_id: r.course_id,
            origin: origin(r.source, r.external_id),
            status: parse("enrolments.status", &r.status)?,
            outcome: r
                .outcome
                .as_deref()
                .map(|o| parse("enrolments.outcome", o))
                .transpose()?,
            progress: r.progress,
            enrolled_at: r.enrolled_at,
            started_at: r.started_at,
            last_active_at: r.last_active_at,
            completed_at: r.completed_at,
            withdrawn_at: r.withdrawn_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UnitRow {
    id: Uuid,
    course_id: Uuid,
    source: Option<String>,
    external_id: Option<String>,
    title: String,
    position: i32,
}

impl From<UnitRow> for lumen_core::model::CourseUnit {
    fn from(r: UnitRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            origin: origin(r.source, r.external_id),
            title: r.title,
            position: r.position,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    course_id: Uuid,
    unit_id: Option<Uuid>,
    source: Option<String>,
    external_id: Option<String>,
    title: String,
    content_type: String,
    duration_seconds: Option<i32>,
}

impl TryFrom<ItemRow> for lumen_core::model::ContentItem {
    type Error = StoreError;
    fn try_from(r: ItemRow) -> StoreResult<Self> {
        Ok(Self {
            id: r.id,
            course_id: r.course_id,
            unit_id: r.unit_id,
            origin: origin(r.source, r.external_id),
            title: r.title,
            content_type: parse("content_items.content_type", &r.content_type)?,
            duration_seconds: r.duration_seconds,
        })
    }
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    id: Uuid,
    user_id: Uuid,
    content_item_id: Uuid,
    occurred_at: DateTime<Utc>,
    time_spent_seconds: Option<i32>,
    clicks: i32,
    completed: bool,
}

impl From<InteractionRow> for lumen_core::model::ContentInteraction {
    fn from(r: InteractionRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            content_item_id: r.content_item_id,
            origin: None,
            occurred_at: r.occurred_at,
            time_spent_seconds: r.time_spent_seconds,
            clicks: r.clicks,
            completed: r.completed,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AssessmentRow {
    id: Uuid,
    course_id: Uuid,
    unit_id: Option<Uuid>,
    source: Option<String>,
    external_id: Option<String>,
    title: String,
    kind: String,
    max_score: f64,
    pass_score: Option<f64>,
    weight: f64,
    due_at: Option<DateTime<Utc>>,
}

impl TryFrom<AssessmentRow> for lumen_core::model::Assessment {
    type Error = StoreError;
    fn try_from(r: AssessmentRow) -> StoreResult<Self> {
        Ok(Self {
            id: r.id,
            course_id: r.course_id,
            unit_id: r.unit_id,
            origin: origin(r.source, r.external_id),
            title: r.title,
            kind: parse("assessments.kind", &r.kind)?,
            max_score: r.max_score,
            pass_score: r.pass_score,
            weight: r.weight,
            due_at: r.due_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: Uuid,
    assessment_id: Uuid,
    user_id: Uuid,
    attempt_number: i32,
    score: f64,
    started_at: Option<DateTime<Utc>>,
    submitted_at: DateTime<Utc>,
}

impl From<AttemptRow> for lumen_core::model::AssessmentAttempt {
    fn from(r: AttemptRow) -> Self {
        Self {
            id: r.id,
            assessment_id: r.assessment_id,
            user_id: r.user_id,
            origin: None,
            attempt_number: r.attempt_number,
            score: r.score,
            started_at: r.started_at,
            submitted_at: r.submitted_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SkillRow {
    id: Uuid,
    organization_id: Option<Uuid>,
    name: String,
    category: Option<String>,
}

impl From<SkillRow> for lumen_core::model::Skill {
    fn from(r: SkillRow) -> Self {
        Self {
            id: r.id,
            organization_id: r.organization_id,
            origin: None,
            name: r.name,
            category: r.category,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LevelRow {
    user_id: Uuid,
    skill_id: Uuid,
    level: f64,
    assessed_at: DateTime<Utc>,
    source: Option<String>,
}

impl From<LevelRow> for lumen_core::model::SkillLevel {
    fn from(r: LevelRow) -> Self {
        Self {
            user_id: r.user_id,
            skill_id: r.skill_id,
            level: r.level,
            assessed_at: r.assessed_at,
            source: r.source,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RequirementRow {
    organization_id: Uuid,
    job_role: String,
    skill_id: Uuid,
    required_level: f64,
}

impl From<RequirementRow> for lumen_core::model::SkillRequirement {
    fn from(r: RequirementRow) -> Self {
        Self {
            organization_id: r.organization_id,
            job_role: r.job_role,
            skill_id: r.skill_id,
            required_level: r.required_level,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    organization_id: Uuid,
    skill_id: Uuid,
    target_level: f64,
    priority: f64,
    target_date: Option<DateTime<Utc>>,
}

impl From<TargetRow> for lumen_core::model::SkillTarget {
    fn from(r: TargetRow) -> Self {
        Self {
            organization_id: r.organization_id,
            skill_id: r.skill_id,
            target_level: r.target_level,
            priority: r.priority,
            target_date: r.target_date,
        }
    }
}

#[derive(sqlx::FromRow)]
struct FeedbackRow {
    id: Uuid,
    course_id: Uuid,
    trainer_id: Uuid,
    learner_id: Option<Uuid>,
    rating: i32,
    submitted_at: DateTime<Utc>,
}

impl From<FeedbackRow> for lumen_core::model::TrainerFeedback {
    fn from(r: FeedbackRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            trainer_id: r.trainer_id,
            learner_id: r.learner_id,
            origin: None,
            rating: r.rating,
            submitted_at: r.submitted_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LabRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Option<Uuid>,
    exercise: String,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    attempts: i32,
    solved: bool,
}

impl From<LabRow> for lumen_core::model::LabSession {
    fn from(r: LabRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            course_id: r.course_id,
            origin: None,
            exercise: r.exercise,
            started_at: r.started_at,
            ended_at: r.ended_at,
            attempts: r.attempts,
            solved: r.solved,
        }
    }
}

#[derive(sqlx::FromRow)]
struct QuestionRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Option<Uuid>,
    asked_at: DateTime<Utc>,
    topic: Option<String>,
    resolved: bool,
}

impl From<QuestionRow> for lumen_core::model::AssistantQuestion {
    fn from(r: QuestionRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            course_id: r.course_id,
            origin: None,
            asked_at: r.asked_at,
            topic: r.topic,
            resolved: r.resolved,
        }
    }
}
