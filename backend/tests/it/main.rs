//! The backend's AWS calls run as scenarios against the sandbox and against moto's server, so
//! Rollgate's own code is checked to agree with a third party: `parameter_store` and
//! `pipeline_calls` hold each side to what Rollgate expects (and `pipeline_events` the consumer
//! of CodePipeline's events on each side's SQS), `differential` compares the two
//! sides' answers step by step. One binary, linked once.

mod differential;
mod parameter_store;
mod pipeline_calls;
mod pipeline_events;
