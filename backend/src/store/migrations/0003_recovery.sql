-- When a replica claimed a change to run it, so another replica can tell a change whose
-- runner stopped (a crash, a lost node) from one still running.
ALTER TABLE change_requests ADD COLUMN claimed_at BIGINT;
