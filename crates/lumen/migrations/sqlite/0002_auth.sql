-- Local accounts' sessions and refresh tokens (PRODUCT §4).
-- A session is one login: a family of refresh tokens, each used once.
-- Reusing a spent token revokes the whole session; logout revokes it too.
-- Refresh tokens are stored as SHA-256 hashes, never in clear.

CREATE TABLE auth_sessions (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
