//! Server functions. Each is thin: find the portal state, ask the backend, map to the model.
//! Their bodies compile only into the server; the browser gets a typed HTTP call.

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::{EnvironmentOverview, EnvironmentSummary};

/// The configured environments, in switcher order.
#[server]
pub async fn list_environments() -> Result<Vec<EnvironmentSummary>, ApiError> {
    let portal = ssr::portal()?;
    Ok(portal.config.environments.iter().map(ssr::summary).collect())
}

/// What one environment is configured with and whether its upstreams answer.
#[server]
pub async fn get_environment_overview(name: String) -> Result<EnvironmentOverview, ApiError> {
    let portal = ssr::portal()?;
    ssr::overview(&portal, &name)
}

#[cfg(feature = "ssr")]
mod ssr {
    //! Mapping from the backend's types to the model the pages render.

    use std::time::SystemTime;

    use backend::Portal;
    use backend::config::{ClusterConnection, Environment, TokenSource};
    use backend::upstream::{self, System};
    use leptos::prelude::use_context;

    use crate::error::ApiError;
    use crate::model::{EnvironmentOverview, EnvironmentSummary, Reachability, SystemKind, UpstreamView};

    pub fn portal() -> Result<Portal, ApiError> {
        use_context::<Portal>().ok_or_else(|| {
            ApiError::Misconfigured("the portal state was not provided to this request".into())
        })
    }

    pub fn summary(env: &Environment) -> EnvironmentSummary {
        EnvironmentSummary { name: env.name.clone(), title: env.title().to_owned(), protected: env.protected }
    }

    pub fn overview(portal: &Portal, name: &str) -> Result<EnvironmentOverview, ApiError> {
        let config = &portal.config;
        let env = config.environment(name).ok_or_else(|| ApiError::UnknownEnvironment {
            name: name.to_owned(),
            known: config.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        Ok(EnvironmentOverview {
            summary: summary(env),
            required_approvals: env.required_approvals,
            sandbox: env.cluster == ClusterConnection::Sandbox,
            cluster_connection: describe_cluster(&env.cluster),
            namespaces: env.namespaces.clone(),
            aws_region: env.aws.region.clone(),
            aws_profile: env.aws.profile.clone(),
            pipelines: env.aws.pipelines.clone(),
            ssm_prefixes: env.ssm_prefixes.clone(),
            database: backend::portal::redacted_database_url(&config.database_url),
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
            ClusterConnection::Url { server, token } => {
                let source = match token {
                    TokenSource::SsmParameter(name) => format!("SSM parameter {name}"),
                    TokenSource::File(path) => format!("file {}", path.display()),
                    TokenSource::Env(var) => format!("environment variable {var}"),
                };
                format!("{server} with a bearer token from {source}")
            }
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
