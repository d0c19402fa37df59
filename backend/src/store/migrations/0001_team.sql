-- The team's state. Portable SQL: it runs unchanged on SQLite and PostgreSQL, so times are
-- BIGINT milliseconds since the Unix epoch (UTC), flags BIGINT 0/1, and ids are TEXT made by
-- Rollgate (random, or ordered where paging needs an order).

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    -- argon2id in PHC format; NULL for accounts that only sign in through single sign-on.
    password_hash TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A session is found by the SHA-256 of its cookie value, so the table alone cannot be replayed.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);

-- Failed sign-ins, counted per user name and per source address to slow down guessing.
CREATE TABLE sign_in_failures (
    user_name TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_user ON sign_in_failures (user_name, at);
CREATE INDEX sign_in_failures_by_ip ON sign_in_failures (source_ip, at);

-- Append-only: the application has no statement that updates or deletes a record.
-- The id sorts in time order (zero-padded milliseconds, then a random suffix).
CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    source_ip TEXT,
    environment TEXT,
    target TEXT,
    action TEXT NOT NULL,
    before_value TEXT,
    after_value TEXT,
    commit_sha TEXT,
    request_id TEXT,
    result TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_environment ON audit (environment, at);
CREATE INDEX audit_by_actor ON audit (actor, at);

-- At most one lock per environment: locking a locked environment is refused by the key.
CREATE TABLE locks (
    environment TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    locked_by TEXT NOT NULL,
    locked_at BIGINT NOT NULL,
    ends_at BIGINT
);

CREATE TABLE change_requests (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    -- The typed action as JSON (backend::changes::Action), what the executor runs.
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    -- What the change will do, as the executor previewed it when requested.
    diff_before TEXT NOT NULL,
    diff_after TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    required_approvals BIGINT NOT NULL,
    -- Approvals so far. Every approval first updates this row, which serialises approvers of
    -- one request on both databases (a row lock on PostgreSQL, the write lock on SQLite).
    approval_count BIGINT NOT NULL DEFAULT 0,
    -- Set when an admin requested through a lock or freeze, saying why.
    override_reason TEXT,
    -- pending → approved → executing → executed | failed; pending → rejected | expired.
    -- Every move is a conditional UPDATE on the state it leaves, so only one caller wins it.
    state TEXT NOT NULL,
    executed_by TEXT,
    finished_at BIGINT,
    outcome TEXT
);
CREATE INDEX change_requests_by_state ON change_requests (environment, state, requested_at);

CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES change_requests (id),
    approver TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);
