//! Kubernetes: clients per environment, the shared watches behind the Deployments page, a
//! deployment's revisions and pod logs, and the executor that carries out approved
//! deployment changes.
//!
//! - [`client`]: one client per environment, from its `cluster` setting; `counted`: the layer
//!   around each that counts its calls in the metrics.
//! - [`credential`]: the cluster token kept in SSM: when it expires, and its rotation.
//! - [`summary`]: deployments and pods cut down to what is shown, and health in words.
//! - [`watch`]: one watch per namespace, shared by every viewer.
//! - [`history`]: revisions from ReplicaSets.
//! - [`logs`]: a deployment's pod logs, followed as they arrive.
//! - [`change`]: the changes people ask for on a deployment, as the change desk keeps them.
//! - [`actions`]: the [`actions::Deployer`], which previews and carries them out.
//! - [`names`]: object names checked as the API server checks them.
//! - [`rbac`]: the permissions all of the above need, as Roles and RoleBindings.

pub mod actions;
pub mod change;
pub mod client;
mod counted;
pub mod credential;
pub mod detail;
mod error;
pub mod events;
pub mod history;
pub mod logs;
pub mod names;
pub mod rbac;
pub mod summary;
pub mod watch;

pub use client::Clusters;
pub use error::ClusterError;
