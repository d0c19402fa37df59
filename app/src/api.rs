//! Server functions. Each is thin: authorize (one call, [`guard`]), ask the backend, map to
//! the model. Their bodies compile only into the server; the browser gets a typed HTTP call.
//! Every one checks who is asking: 401 before sign-in, 403 without the right role.
//!
//! - this module: the signed-in person, the environments and their overview.
//! - [`audit`]: the audit trail. [`blocked`]: blocked commits. [`changes`]: change requests
//!   and approvals.
//!   [`deployments`]: the Deployments pages.
//!   [`locks`]: deploy locks. [`tokens`]: SSM parameters (the Tokens page).
//!   [`pipelines`]: the Pipelines pages and their actions.

pub mod audit;
pub mod blocked;
pub mod changes;
pub mod delivery;
pub mod deployments;
#[cfg(feature = "ssr")]
pub(crate) mod guard;
pub mod locks;
pub mod notifications;
pub mod overview;
pub mod pipelines;
pub mod tokens;

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::{EnvironmentOverview, EnvironmentSummary};

/// The signed-in person's name.
#[server]
pub async fn who_am_i() -> Result<String, ApiError> {
    Ok(guard::signed_in()?.user)
}

/// The configured environments, in switcher order.
#[server]
pub async fn list_environments() -> Result<Vec<EnvironmentSummary>, ApiError> {
    guard::signed_in()?;
    let portal = guard::portal()?;
    Ok(portal.config.environments.iter().map(ssr::summary).collect())
}

/// What one environment is configured with, whether its upstreams answer, whether changes
/// are held, and what the visitor may do there.
#[server]
pub async fn get_environment_overview(name: String) -> Result<EnvironmentOverview, ApiError> {
    let portal = guard::portal()?;
    let (caller, role) = guard::authorize(&portal, &name, backend::policy::Permission::View)?;
    ssr::overview(&portal, &name, &caller.user, role).await.map_err(guard::with_status)
}

/// The value of the cookie `wanted` the request being rendered carries (server only).
#[cfg(feature = "ssr")]
pub(crate) fn request_cookie(wanted: &str) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

#[cfg(feature = "ssr")]
mod ssr {
    //! Mapping from the backend's types to the model the pages render.

    use std::time::SystemTime;

    use backend::Portal;
    use backend::clock::Timestamp;
    use backend::config::{ClusterConnection, Environment, TokenSource};
    use backend::policy::{Permission, Role, locks};
    use backend::upstream::{self, System};

    use super::guard;
    use crate::error::ApiError;
    use crate::model::{
        Access, Allowed, EnvironmentOverview, EnvironmentSummary, LockView, Reachability, SystemKind,
        UpstreamView,
    };

    /// What `user` may do in `environment`, with the reasons for what they may not.
    pub fn access(portal: &Portal, environment: &str, user: &str, role: Role) -> Access {
        let allowed =
            |permission| match backend::policy::authorize(&portal.config, user, environment, permission) {
                Ok(_) => Allowed::Yes,
                Err(denied) => Allowed::No(denied.to_string()),
            };
        Access {
            user: user.to_owned(),
            role: role.as_str().to_owned(),
            request: allowed(Permission::RequestChange),
            approve: allowed(Permission::Approve),
            lock: allowed(Permission::Lock),
            override_hold: allowed(Permission::Override),
        }
    }

    pub fn summary(env: &Environment) -> EnvironmentSummary {
        EnvironmentSummary { name: env.name.clone(), title: env.title().to_owned(), protected: env.protected }
    }

    pub async fn overview(
        portal: &Portal,
        name: &str,
        user: &str,
        role: Role,
    ) -> Result<EnvironmentOverview, ApiError> {
        let config = &portal.config;
        let env = config.environment(name).ok_or_else(|| ApiError::UnknownEnvironment {
            name: name.to_owned(),
            known: config.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        let now = Timestamp::now();
        let lock = locks::current(&portal.store, name, now)
            .await
            .map_err(|e| guard::internal("reading the lock", e))?;
        let hold =
            locks::hold(&portal.store, env, now).await.map_err(|e| guard::internal("reading the lock", e))?;
        Ok(EnvironmentOverview {
            access: access(portal, name, user, role),
            lock: lock.map(|l| LockView {
                reason: l.reason,
                locked_by: l.locked_by,
                locked_at: Timestamp(l.locked_at).rfc3339(),
                ends_at: l.ends_at.map(|t| Timestamp(t).rfc3339()),
            }),
            hold: hold.map(|h| h.to_string()),
            block_on_rollback: env.block_on_rollback,
            summary: summary(env),
            required_approvals: env.required_approvals,
            sandbox: env.cluster.is_sandbox(),
            cluster_connection: describe_cluster(&env.cluster),
            namespaces: env.namespaces.clone(),
            aws_region: env.aws.region.clone(),
            aws_profile: env.aws.profile.clone(),
            pipelines: env.aws.pipelines.clone(),
            ssm_prefixes: env.ssm_prefixes.clone(),
            database: backend::store::redacted_database_url(&config.database_url),
            upstreams: portal.upstreams.for_environment(name).into_iter().map(view_of).collect(),
        })
    }

    fn describe_cluster(cluster: &ClusterConnection) -> String {
        match cluster {
            ClusterConnection::Sandbox => "the embedded sandbox cluster".into(),
            ClusterConnection::InCluster => "the service account of Rollgate's pod (in-cluster)".into(),
            ClusterConnection::Kubeconfig { context, path } => format!(
                "kubeconfig {}, context {}",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "from $KUBECONFIG or ~/.kube/config".into()),
                context.as_deref().unwrap_or("(current)")
            ),
            ClusterConnection::Url { server, token, certificate_authority } => format!(
                "{server} with a bearer token from {}{}",
                token_source(token),
                certificate_authority
                    .as_ref()
                    .map(|ca| format!(", its CA from {}", ca.display()))
                    .unwrap_or_default()
            ),
            ClusterConnection::SandboxToken { token } => {
                format!("the embedded sandbox cluster with a bearer token from {}", token_source(token))
            }
        }
    }

    fn token_source(token: &TokenSource) -> String {
        match token {
            TokenSource::SsmParameter(name) => format!("SSM parameter {name}"),
            TokenSource::File(path) => format!("file {}", path.display()),
            TokenSource::Env(var) => format!("environment variable {var}"),
        }
    }

    fn view_of(status: upstream::UpstreamStatus) -> UpstreamView {
        let ago = |t: SystemTime| SystemTime::now().duration_since(t).map(|d| d.as_secs()).unwrap_or(0);
        UpstreamView {
            system: match status.system {
                System::Kubernetes => SystemKind::Kubernetes,
                System::CodePipeline => SystemKind::CodePipeline,
                System::Ssm => SystemKind::Ssm,
            },
            label: status.system.label().to_owned(),
            endpoint: status.endpoint.map(|u| u.to_string()),
            reachability: match status.reachability {
                upstream::Reachability::NotChecked => Reachability::NotChecked,
                upstream::Reachability::Reachable { checked, latency } => Reachability::Reachable {
                    latency_ms: latency.as_millis().try_into().unwrap_or(u64::MAX),
                    checked_secs_ago: ago(checked),
                },
                upstream::Reachability::Unreachable { checked, reason } => {
                    Reachability::Unreachable { reason, checked_secs_ago: ago(checked) }
                }
                upstream::Reachability::Unresolved(reason) => Reachability::Unresolved { reason },
            },
        }
    }
}
