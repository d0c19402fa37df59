//! Rollgate's server-only domain. Nothing here is compiled into the browser's wasm.
//!
//! - [`config`]: the portal's configuration: one TOML file plus `ROLLGATE_*` overrides,
//!   parsed into validated types at start so a bad value fails before anything serves.
//! - [`upstream`]: where each environment's cluster, CodePipeline and SSM endpoints live,
//!   and a monitor that keeps checking whether they answer (readiness and the pages read it).
//! - [`portal`]: the one per-process state every request and server function is handed.
//! - [`store`]: the team store (SQLite or PostgreSQL) and its schema.
//! - [`auth`]: local accounts, sign-in with attempt limits, server-side sessions.
//! - [`roles`]: the roles and the permissions each carries; [`policy`]: who holds which role
//!   where, and whether they may.
//! - [`changes`]: the four-eyes desk: change requests, approvals and their exactly-once
//!   execution, for any kind of change.
//! - [`dispatch`]: which changes exist (one per system) and who carries each out.
//! - [`audit`]: the append-only trail of who did what, and its CSV/JSON export.
//! - [`kube`]: Kubernetes clients, shared watches, revisions, and deployment changes.
//! - [`tokens`]: SSM parameters under each environment's prefixes, the cluster token and
//!   its rotation.
//! - [`pipelines`]: CodePipeline: pipelines read and shared pollers, release actions.
//! - [`overview`]: what runs where across the environments, and the commits between two.
//! - [`delivery`]: the delivery figures (DORA) of each environment's applications.
//! - [`notify`]: outgoing notifications (Slack, Teams, signed webhooks, CloudEvents), sent
//!   once across replicas and retried across restarts.
//! - [`aws`]: AWS clients for an environment. [`backoff`]: jittered waits after failures. [`image_ref`]: image references checked.
//! - [`iam`]: the IAM policy the configuration needs (`rollgate iam-policy`), as
//!   `kube::rbac` holds the Kubernetes Roles.
//! - [`metrics`]: the process's metrics for Prometheus, recorded where things happen.
//! - [`clock`], [`ids`], [`user_name`], [`dns`]: instants as stored and shown; random ids
//!   and secrets; user names; DNS-1123 names.

// The test kit's store file, compiled into the unit tests, names this crate `backend`.
#[cfg(test)]
extern crate self as backend;

pub mod audit;
pub mod auth;
pub mod aws;
pub mod backoff;
pub mod changes;
mod checked;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod dispatch;
pub mod dns;
pub mod iam;
pub mod ids;
pub mod image_ref;
pub mod kube;
pub mod metrics;
pub mod notify;
pub mod overview;
pub mod pipelines;
pub mod policy;
pub mod portal;
pub mod roles;
pub mod store;
pub mod tokens;
pub mod upstream;
pub mod user_name;

pub use config::{Config, ConfigError};
pub use portal::Portal;
