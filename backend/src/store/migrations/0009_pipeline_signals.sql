-- CodePipeline's events reach one replica (SQS hands each message to one consumer): it counts
-- the pipeline's `seq` up here, and every other replica, reading these rows each second,
-- refreshes the pipelines whose count moved.
CREATE TABLE pipeline_signals (
    environment TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    seq BIGINT NOT NULL,
    replica TEXT NOT NULL,
    PRIMARY KEY (environment, pipeline)
);
