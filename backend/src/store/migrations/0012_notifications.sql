-- Notifications to send: one row per event and target, so an event several replicas notice
-- is kept once (the unique key), and a replica that claims a row (a lease) is the only one
-- sending it until it records the answer or the lease runs out.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    target TEXT NOT NULL,
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- pending, delivered, or failed (every attempt used)
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_until BIGINT,
    UNIQUE (environment, target, event_key)
);
CREATE INDEX notifications_due ON notifications (state, next_at);
CREATE INDEX notifications_by_environment ON notifications (environment, created_at);

-- Every attempt and the receiver's answer: the delivery log.
CREATE TABLE notification_attempts (
    notification TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    status INTEGER,
    answer TEXT NOT NULL,
    replica TEXT NOT NULL,
    PRIMARY KEY (notification, attempt)
);
