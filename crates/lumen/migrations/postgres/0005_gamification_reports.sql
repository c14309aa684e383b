-- Gamification preferences and reports (docs/gamification.md, docs/reports.md).
-- Points, badges and streaks are not stored: they are recomputed from the
-- learning records. Only a learner's own choices and report files are kept.

-- A learner's leaderboard choice made in Lumen; when present it overrides
-- the Directory's users.leaderboard_opt_out.
CREATE TABLE gamification_preferences (
    user_id             UUID PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    leaderboard_opt_out BOOLEAN NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Scheduled reports: a cron schedule of one owner's report.
CREATE TABLE report_schedules (
    id          UUID PRIMARY KEY,
    owner_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    cron        TEXT NOT NULL,
    report_type TEXT NOT NULL CHECK (report_type IN ('learner', 'trainer', 'organization')),
    format      TEXT NOT NULL CHECK (format IN ('pdf', 'csv', 'json')),
    time_range  TEXT NOT NULL,
    analytics   TEXT NOT NULL, -- JSON array of analytic names; empty: the whole bundle
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX report_schedules_owner ON report_schedules (owner_id, created_at);

-- Reports: one generation request and, once done, its file in object storage.
CREATE TABLE reports (
    id           UUID PRIMARY KEY,
    owner_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    report_type  TEXT NOT NULL CHECK (report_type IN ('learner', 'trainer', 'organization')),
    format       TEXT NOT NULL CHECK (format IN ('pdf', 'csv', 'json')),
    time_range   TEXT NOT NULL,
    analytics    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'expired')),
    error        TEXT,
    job_id       UUID,
    schedule_id  UUID REFERENCES report_schedules(id) ON DELETE SET NULL,
    object_key   TEXT,
    file_name    TEXT,
    content_type TEXT,
    size_bytes   BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX reports_owner ON reports (owner_id, created_at);
CREATE INDEX reports_finished ON reports (status, finished_at);
