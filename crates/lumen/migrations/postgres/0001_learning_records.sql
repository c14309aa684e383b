-- Lumen learning records (PRODUCT §5): Lumen's canonical model of what happened.
-- Every table that an upstream feeds carries (source, external_id): the upstream
-- service and its id, unique together, so collection upserts and never duplicates.
-- The SQLite twin of this file is ../sqlite/0001_learning_records.sql; keep them in step.

CREATE TABLE organizations (
    id           UUID PRIMARY KEY,
    source       TEXT,
    external_id  TEXT,
    name         TEXT NOT NULL,
    -- show learners' names on leaderboards to other learners (gamification privacy)
    leaderboard_names BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);

CREATE TABLE departments (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    parent_id       UUID REFERENCES departments(id) ON DELETE SET NULL,
    source          TEXT,
    external_id     TEXT,
    name            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX departments_org ON departments (organization_id);

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    department_id   UUID REFERENCES departments(id) ON DELETE SET NULL,
    source          TEXT,
    external_id     TEXT,
    email           TEXT NOT NULL,
    full_name       TEXT NOT NULL,
    job_role        TEXT,
    time_zone       TEXT NOT NULL DEFAULT 'UTC',
    avatar_url      TEXT,
    leaderboard_opt_out BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash   TEXT,
    last_login_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_org ON users (organization_id);
CREATE INDEX users_department ON users (department_id);

CREATE TABLE user_roles (
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('learner', 'trainer', 'org-admin')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE courses (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    source          TEXT,
    external_id     TEXT,
    title           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published', 'archived')),
    starts_at       TIMESTAMPTZ,
    length_days     INTEGER CHECK (length_days IS NULL OR length_days > 0),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX courses_org ON courses (organization_id);

CREATE TABLE course_units (
    id          UUID PRIMARY KEY,
    course_id   UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    source      TEXT,
    external_id TEXT,
    title       TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, external_id)
);
CREATE INDEX course_units_course ON course_units (course_id);

CREATE TABLE course_trainers (
    course_id  UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    trainer_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (course_id, trainer_id)
);
CREATE INDEX course_trainers_trainer ON course_trainers (trainer_id);

-- Direct trainer↔learner links (mentoring, coaching) outside a course.
CREATE TABLE trainer_learners (
    trainer_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    learner_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (trainer_id, learner_id)
);
CREATE INDEX trainer_learners_learner ON trainer_learners (learner_id);

CREATE TABLE enrolments (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    course_id      UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    source         TEXT,
    external_id    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('active', 'completed', 'withdrawn')),
    -- set when status = 'completed': pass, distinction or fail
    outcome        TEXT CHECK (outcome IS NULL OR outcome IN ('pass', 'distinction', 'fail')),
    progress       DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    enrolled_at    TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    last_active_at TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    withdrawn_at   TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id),
    UNIQUE (user_id, course_id)
);
CREATE INDEX enrolments_course ON enrolments (course_id);

CREATE TABLE content_items (
    id               UUID PRIMARY KEY,
    course_id        UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    unit_id          UUID REFERENCES course_units(id) ON DELETE SET NULL,
    source           TEXT,
    external_id      TEXT,
    title            TEXT NOT NULL,
    content_type     TEXT NOT NULL CHECK (content_type IN ('video', 'reading', 'interactive', 'quiz', 'lab', 'forum', 'resource', 'other')),
    duration_seconds INTEGER CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
    UNIQUE (source, external_id)
);
CREATE INDEX content_items_course ON content_items (course_id);

CREATE TABLE content_interactions (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content_item_id    UUID NOT NULL REFERENCES content_items(id) ON DELETE CASCADE,
    source             TEXT,
    external_id        TEXT,
    occurred_at        TIMESTAMPTZ NOT NULL,
    -- NULL when the source does not measure time (e.g. click logs)
    time_spent_seconds INTEGER CHECK (time_spent_seconds IS NULL OR time_spent_seconds >= 0),
    clicks             INTEGER NOT NULL DEFAULT 1 CHECK (clicks >= 0),
    completed          BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (source, external_id)
);
CREATE INDEX content_interactions_user_time ON content_interactions (user_id, occurred_at);
CREATE INDEX content_interactions_item ON content_interactions (content_item_id);

CREATE TABLE assessments (
    id          UUID PRIMARY KEY,
    course_id   UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    unit_id     UUID REFERENCES course_units(id) ON DELETE SET NULL,
    source      TEXT,
    external_id TEXT,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('quiz', 'assignment', 'exam', 'lab', 'other')),
    max_score   DOUBLE PRECISION NOT NULL CHECK (max_score > 0),
    pass_score  DOUBLE PRECISION CHECK (pass_score IS NULL OR pass_score >= 0),
    -- weight in the course grade, percent (0..100)
    weight      DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (weight >= 0 AND weight <= 100),
    due_at      TIMESTAMPTZ,
    UNIQUE (source, external_id)
);
CREATE INDEX assessments_course ON assessments (course_id);

CREATE TABLE assessment_attempts (
    id             UUID PRIMARY KEY,
    assessment_id  UUID NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source         TEXT,
    external_id    TEXT,
    attempt_number INTEGER NOT NULL DEFAULT 1 CHECK (attempt_number >= 1),
    score          DOUBLE PRECISION NOT NULL CHECK (score >= 0),
    started_at     TIMESTAMPTZ,
    submitted_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id),
    UNIQUE (assessment_id, user_id, attempt_number)
);
CREATE INDEX assessment_attempts_user ON assessment_attempts (user_id, submitted_at);

CREATE TABLE skills (
    id              UUID PRIMARY KEY,
    -- NULL: a platform-wide skill; otherwise the organisation's own
    organization_id UUID REFERENCES organizations(id) ON DELETE CASCADE,
    source          TEXT,
    external_id     TEXT,
    name            TEXT NOT NULL,
    category        TEXT,
    UNIQUE (source, external_id)
);

-- Skill levels on a 0..5 scale, one row per assessment so history is kept.
CREATE TABLE user_skill_levels (
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    skill_id    UUID NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    level       DOUBLE PRECISION NOT NULL CHECK (level >= 0 AND level <= 5),
    assessed_at TIMESTAMPTZ NOT NULL,
    source      TEXT,
    PRIMARY KEY (user_id, skill_id, assessed_at)
);

CREATE TABLE job_role_skill_requirements (
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    job_role        TEXT NOT NULL,
    skill_id        UUID NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    required_level  DOUBLE PRECISION NOT NULL CHECK (required_level >= 0 AND required_level <= 5),
    PRIMARY KEY (organization_id, job_role, skill_id)
);

CREATE TABLE org_skill_targets (
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    skill_id        UUID NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    target_level    DOUBLE PRECISION NOT NULL CHECK (target_level >= 0 AND target_level <= 5),
    -- relative importance, > 0; strategic alignment weights by it
    priority        DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (priority > 0),
    target_date     TIMESTAMPTZ,
    PRIMARY KEY (organization_id, skill_id)
);

CREATE TABLE trainer_feedback (
    id           UUID PRIMARY KEY,
    course_id    UUID NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    trainer_id   UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    learner_id   UUID REFERENCES users(id) ON DELETE SET NULL,
    source       TEXT,
    external_id  TEXT,
    rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    submitted_at TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX trainer_feedback_trainer ON trainer_feedback (trainer_id);

CREATE TABLE lab_sessions (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    course_id   UUID REFERENCES courses(id) ON DELETE SET NULL,
    source      TEXT,
    external_id TEXT,
    exercise    TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    attempts    INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 0),
    solved      BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (source, external_id)
);
CREATE INDEX lab_sessions_user ON lab_sessions (user_id, started_at);

CREATE TABLE assistant_questions (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    course_id   UUID REFERENCES courses(id) ON DELETE SET NULL,
    source      TEXT,
    external_id TEXT,
    asked_at    TIMESTAMPTZ NOT NULL,
    topic       TEXT,
    resolved    BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (source, external_id)
);
CREATE INDEX assistant_questions_user ON assistant_questions (user_id, asked_at);
