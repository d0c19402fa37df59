-- When the replica running a change last renewed its claim: a change whose claim went
-- unrenewed for the lease lost its runner, whenever it was claimed.
ALTER TABLE change_requests ADD COLUMN heartbeat_at BIGINT;
