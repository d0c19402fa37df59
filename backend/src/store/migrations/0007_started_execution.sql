-- The CodePipeline execution a change started (a release, a redeploy of an earlier commit, a
-- stage rollback), in a column of its own: the approval of that execution is refused to the
-- person who asked for it, and the check must not depend on how an outcome is worded.
ALTER TABLE change_requests ADD COLUMN started_execution TEXT;
CREATE INDEX change_requests_by_started_execution ON change_requests (environment, started_execution);
