//! The server tested from the outside, through HTTP against the embedded sandbox: a module
//! per area, each test a story. One binary, because linking the whole server once instead of
//! once per file is most of what building the tests costs. (`tests/tokens.rs` stays apart: it
//! captures every log line of its process to prove no secret is logged.)

mod common;

mod access;
mod auth;
mod blocked;
mod cli;
mod conditions;
mod delivery;
mod edges;
mod four_eyes;
mod freezes;
mod http;
mod iam;
mod live;
mod logs;
mod metrics;
mod notifications;
mod overview;
mod pipeline_events;
mod pipeline_fleet;
mod pipelines;
mod quorum;
mod rbac;
mod replicas;
mod sso;
mod sso_oidc_provider;
