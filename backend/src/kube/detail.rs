//! Everything known about one deployment: its live state from the shared watch, and from the
//! cluster its containers' env, revisions, conditions and recent events.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

use super::events::{self, EventSummary};
use super::history::{self, Revision};
use super::summary::{self, DeploymentSummary};
use super::watch::{DeploymentState, Watches};
use super::{ClusterError, Clusters};

/// How many events are read.
const RECENT_EVENTS: usize = 30;

#[derive(Debug, Clone)]
pub struct ContainerEnv {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct DeploymentFacts {
    pub state: DeploymentState,
    pub containers: Vec<ContainerEnv>,
    /// Newest first.
    pub revisions: Vec<Revision>,
    pub conditions: Vec<Condition>,
    pub events: Vec<EventSummary>,
}

pub async fn read(
    clusters: &Clusters,
    watches: &Watches,
    env: &str,
    namespace: &str,
    name: &str,
) -> Result<DeploymentFacts, ClusterError> {
    let client = clusters.client(env).await?;
    let d = match Api::<Deployment>::namespaced(client.clone(), namespace).get(name).await {
        Ok(d) => d,
        Err(e) => {
            let e = ClusterError::from(e);
            clusters.saw(env, &e);
            return Err(match e {
                ClusterError::NotFound(_) => {
                    ClusterError::NotFound(format!("There is no deployment {namespace}/{name}."))
                }
                other => other,
            });
        }
    };
    let revisions = history::revisions(&client, &d).await?;
    let events = events::recent(&client, namespace, name, RECENT_EVENTS).await?;
    // The live part comes from the shared watch, so the page and its stream agree.
    let watch = watches.namespace(env, namespace);
    watch.synced().await;
    let state = match watch.get(name) {
        Some(state) => (*state).clone(),
        None => {
            let summary = DeploymentSummary::of(&d)
                .ok_or_else(|| ClusterError::Other(format!("{namespace}/{name} has no name or namespace")))?;
            let health = summary::health(&summary, std::iter::empty());
            DeploymentState { summary, health, pods: Vec::new() }
        }
    };
    let containers = d
        .spec
        .template
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| ContainerEnv {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            env: history::env_lines(c.env.as_deref().unwrap_or_default()),
        })
        .collect();
    let conditions = d
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| Condition {
            kind: c.type_.clone().unwrap_or_default(),
            status: c.status.clone().unwrap_or_default(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
        })
        .collect();
    Ok(DeploymentFacts { state, containers, revisions, conditions, events })
}
