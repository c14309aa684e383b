-- Durable job queue (PRODUCT §5 "Jobs") and the database cache layers
-- (L2 per-subject results, L3 monthly roll-ups). See docs/ARCHITECTURE.md
-- "Serving path and jobs".

-- One row per job. `state`: queued → active → completed | cancelled, or
-- active → retrying (waits until run_after) → active … → dead after
-- max_attempts. An active job holds a lease (`lease_until`) that its worker
-- renews by heartbeat; a lease that runs out (the worker died) makes the job
-- claimable again.
CREATE TABLE jobs (
    id             UUID PRIMARY KEY,
    kind           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    owner_id       UUID,
    parent_id      UUID,
    -- at most one unfinished job per key (e.g. one pending refresh per result)
    singleton_key  TEXT,
    state          TEXT NOT NULL
                   CHECK (state IN ('queued', 'active', 'retrying', 'completed', 'cancelled', 'dead')),
    priority       INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after      TIMESTAMPTZ NOT NULL,
    lease_until    TIMESTAMPTZ,
    worker         TEXT,
    progress_done  BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    result         TEXT,
    last_error     TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX jobs_singleton ON jobs (singleton_key)
    WHERE state IN ('queued', 'active', 'retrying');
CREATE INDEX jobs_claim ON jobs (state, run_after);
CREATE INDEX jobs_parent ON jobs (parent_id);
CREATE INDEX jobs_owner ON jobs (owner_id, created_at);

-- Cron schedules; each fires one job per slot, across every instance.
CREATE TABLE job_schedules (
    name       TEXT PRIMARY KEY,
    cron       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    owner_id   UUID,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Slots already fired: the primary key makes "fire once" a race one
-- instance wins.
CREATE TABLE job_schedule_slots (
    name   TEXT NOT NULL,
    slot   TIMESTAMPTZ NOT NULL,
    job_id UUID NOT NULL,
    PRIMARY KEY (name, slot)
);

-- L2: the latest result of each analytic for each subject and time range,
-- kept 7 days after it was computed.
CREATE TABLE analytics_results (
    kind            TEXT NOT NULL,
    subject_id      UUID NOT NULL,
    time_range      TEXT NOT NULL,
    organization_id UUID NOT NULL,
    data            TEXT NOT NULL,
    data_source     TEXT NOT NULL,
    computed_at     TIMESTAMPTZ NOT NULL,
    -- the daily batch that computed it, if any
    batch_id        UUID,
    PRIMARY KEY (kind, subject_id, time_range)
);
CREATE INDEX analytics_results_computed ON analytics_results (computed_at);
CREATE INDEX analytics_results_batch ON analytics_results (batch_id);

-- L3: the last result of each month, kept 7 years; partitioned by month
-- (partitions are created on first write and by the retention job, which
-- also drops those past retention).
CREATE TABLE analytics_rollups (
    month           DATE NOT NULL,
    kind            TEXT NOT NULL,
    subject_id      UUID NOT NULL,
    time_range      TEXT NOT NULL,
    organization_id UUID NOT NULL,
    data            TEXT NOT NULL,
    data_source     TEXT NOT NULL,
    computed_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (month, kind, subject_id, time_range)
) PARTITION BY RANGE (month);
