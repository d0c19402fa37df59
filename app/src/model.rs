//! Data the server functions return: plain, serialisable, and free of secrets by construction
//! (no token values, no database passwords).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
    pub name: String,
    pub title: String,
    pub protected: bool,
}

/// What an environment is configured with and whether its upstreams answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentOverview {
    pub summary: EnvironmentSummary,
    pub required_approvals: u8,
    pub sandbox: bool,
    /// How the cluster is reached, in words ("kubeconfig context eks-prod").
    pub cluster_connection: String,
    pub namespaces: Vec<String>,
    pub aws_region: Option<String>,
    pub aws_profile: Option<String>,
    pub pipelines: Vec<String>,
    pub ssm_prefixes: Vec<String>,
    /// The store's URL with any password masked.
    pub database: String,
    pub upstreams: Vec<UpstreamView>,
}

impl EnvironmentOverview {
    pub fn upstream(&self, system: SystemKind) -> Option<&UpstreamView> {
        self.upstreams.iter().find(|u| u.system == system)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SystemKind {
    Kubernetes,
    CodePipeline,
    Ssm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamView {
    pub system: SystemKind,
    pub label: String,
    pub endpoint: Option<String>,
    pub reachability: Reachability,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reachability {
    NotChecked,
    Reachable { latency_ms: u64, checked_secs_ago: u64 },
    Unreachable { reason: String, checked_secs_ago: u64 },
    Unresolved { reason: String },
}
