-- Quorum on CodePipeline's manual approvals: each person's answer to one waiting approval
-- (found by its token), with the groups they were in when they answered, so the tally does
-- not change when the configuration or a provider's groups do.
CREATE TABLE pipeline_votes (
    environment TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    stage TEXT NOT NULL,
    action TEXT NOT NULL,
    token TEXT NOT NULL,
    execution TEXT NOT NULL,
    voter TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL,
    -- A JSON array of strings.
    voter_groups TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (environment, pipeline, token, voter)
);

-- The answer Rollgate gives CodePipeline for a token, once: the caller whose vote decided it
-- claims the row (`sending`) and alone calls PutApprovalResult (`sent`, or `failed` with the
-- error, claimable again; so is a `sending` claim left for a minute by a replica that
-- stopped). `outside`: CodePipeline's approval was answered elsewhere (the console, the CLI),
-- noticed once.
CREATE TABLE pipeline_answers (
    environment TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    token TEXT NOT NULL,
    stage TEXT NOT NULL,
    action TEXT NOT NULL,
    execution TEXT NOT NULL,
    -- The action execution's id, which CodePipeline keeps once the token is spent.
    action_execution TEXT,
    decision TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    error TEXT,
    PRIMARY KEY (environment, pipeline, token)
);
