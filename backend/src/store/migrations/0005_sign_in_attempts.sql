-- Sign-in attempts, counted per user name and per source address in fixed windows: one row
-- per (scope, subject), reserved with one atomic upsert before the password is checked, so
-- parallel guesses cannot all slip in between a count and its write (they could with the
-- failure rows this replaces, whose counts start afresh at the upgrade).
CREATE TABLE sign_in_attempts (
    -- 'name' or 'address'
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX sign_in_attempts_by_window ON sign_in_attempts (window_start);

DROP TABLE sign_in_failures;
