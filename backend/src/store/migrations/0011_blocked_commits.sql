-- Commits nobody may release again through Rollgate (after a rollback, say): who blocked it,
-- why, when, and once a change request lifted the block, who and when. A commit is kept as
-- written (a short or full hash, lowercase) and matches any hash it is a prefix of.
CREATE TABLE blocked_commits (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    commit_hash TEXT NOT NULL,
    reason TEXT NOT NULL,
    blocked_by TEXT NOT NULL,
    blocked_at BIGINT NOT NULL,
    -- The change request whose execution blocked it (a rollback), if one did.
    change_id TEXT,
    unblocked_by TEXT,
    unblocked_at BIGINT,
    unblock_change TEXT
);
CREATE INDEX blocked_commits_by_environment ON blocked_commits (environment, unblocked_at);

-- A change request that blocks the commits it takes out of service once it has run (a
-- rollback on the rollback page), with the reason given.
ALTER TABLE change_requests ADD COLUMN block_reason TEXT;

-- What the release guard did to an execution carrying a blocked commit (disabled the
-- transition into a Deploy stage, stopped it, enabled the transition again), once across
-- replicas: the replica that inserts the row acts.
CREATE TABLE guard_actions (
    environment TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    execution TEXT NOT NULL,
    step TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (environment, pipeline, execution, step)
);
