-- Durable job queue (PRODUCT §5 "Jobs") and the database cache layers
-- (L2 per-subject results, L3 monthly roll-ups). Twin of the PostgreSQL
-- file; see it for the comments. SQLite has no partitions: L3 is one table
-- keyed by month, and retention deletes whole months.

CREATE TABLE jobs (
    id             BLOB PRIMARY KEY,
    kind           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    owner_id       BLOB,
    parent_id      BLOB,
    singleton_key  TEXT,
    state          TEXT NOT NULL
                   CHECK (state IN ('queued', 'active', 'retrying', 'completed', 'cancelled', 'dead')),
    priority       INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after      TEXT NOT NULL,
    lease_until    TEXT,
    worker         TEXT,
    progress_done  INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    result         TEXT,
    last_error     TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
);
CREATE UNIQUE INDEX jobs_singleton ON jobs (singleton_key)
    WHERE state IN ('queued', 'active', 'retrying');
CREATE INDEX jobs_claim ON jobs (state, run_after);
CREATE INDEX jobs_parent ON jobs (parent_id);
CREATE INDEX jobs_owner ON jobs (owner_id, created_at);

CREATE TABLE job_schedules (
    name       TEXT PRIMARY KEY,
    cron       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    owner_id   BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE job_schedule_slots (
    name   TEXT NOT NULL,
    slot   TEXT NOT NULL,
    job_id BLOB NOT NULL,
    PRIMARY KEY (name, slot)
);

CREATE TABLE analytics_results (
    kind            TEXT NOT NULL,
    subject_id      BLOB NOT NULL,
    time_range      TEXT NOT NULL,
    organization_id BLOB NOT NULL,
    data            TEXT NOT NULL,
    data_source     TEXT NOT NULL,
    computed_at     TEXT NOT NULL,
    batch_id        BLOB,
    PRIMARY KEY (kind, subject_id, time_range)
);
CREATE INDEX analytics_results_computed ON analytics_results (computed_at);
CREATE INDEX analytics_results_batch ON analytics_results (batch_id);

-- month: first day of the month, as a DATE would be ('2026-11-01').
CREATE TABLE analytics_rollups (
    month           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    subject_id      BLOB NOT NULL,
    time_range      TEXT NOT NULL,
    organization_id BLOB NOT NULL,
    data            TEXT NOT NULL,
    data_source     TEXT NOT NULL,
    computed_at     TEXT NOT NULL,
    PRIMARY KEY (month, kind, subject_id, time_range)
);
