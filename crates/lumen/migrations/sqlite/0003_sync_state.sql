-- Collection state per upstream feed (issue: learning records from the nine
-- upstream services). `watermark` is the largest `updatedAt` stored from the
-- feed; the next run asks for `updatedSince = watermark - overlap`. `next_cursor`
-- is set while a run is part-way through a feed, so an interrupted run resumes.

CREATE TABLE sync_state (
    service          TEXT NOT NULL,
    feed             TEXT NOT NULL,
    watermark        TEXT,
    next_cursor      TEXT,
    last_attempt_at  TEXT,
    last_success_at  TEXT,
    last_error       TEXT,
    last_error_at    TEXT,
    records_synced   INTEGER NOT NULL DEFAULT 0,
    records_rejected INTEGER NOT NULL DEFAULT 0,
    -- runs in a row that stopped at a page with unresolved references
    blocked_runs     INTEGER NOT NULL DEFAULT 0,
    -- 'upstream' or 'mock' (LUMEN_MOCK_FALLBACK)
    origin           TEXT NOT NULL DEFAULT 'upstream',
    PRIMARY KEY (service, feed)
);

-- Rejected upstream records, counted by reason.
CREATE TABLE sync_rejections (
    service TEXT NOT NULL,
    feed    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    count   INTEGER NOT NULL DEFAULT 0,
    last_at TEXT NOT NULL,
    PRIMARY KEY (service, feed, reason)
);
