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
    /// The visitor's role here and what it lets them do.
    pub access: Access,
    pub lock: Option<LockView>,
    /// Why changes are held right now (a lock or a freeze window), in words.
    pub hold: Option<String>,
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

/// Whether the visitor may do something, and if not, why (shown next to what is disabled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Allowed {
    Yes,
    No(String),
}

impl Allowed {
    pub fn yes(&self) -> bool {
        matches!(self, Allowed::Yes)
    }

    pub fn why_not(&self) -> Option<String> {
        match self {
            Allowed::Yes => None,
            Allowed::No(why) => Some(why.clone()),
        }
    }
}

/// The signed-in person in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Access {
    pub user: String,
    pub role: String,
    pub request: Allowed,
    pub approve: Allowed,
    pub lock: Allowed,
    pub override_hold: Allowed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockView {
    pub reason: String,
    pub locked_by: String,
    pub locked_at: String,
    pub ends_at: Option<String>,
}

/// One audit record, times in RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub time: String,
    pub actor: String,
    pub source_ip: Option<String>,
    pub target: Option<String>,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub commit: Option<String>,
    pub request_id: Option<String>,
    pub result: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    pub by: String,
    pub approved: bool,
    pub comment: String,
    pub at: String,
}

/// A change request as the Approvals page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    pub id: String,
    pub kind: String,
    pub description: String,
    pub target: String,
    pub before: String,
    pub after: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: String,
    pub expires_at: String,
    pub required_approvals: i64,
    pub approvals: i64,
    pub state: String,
    pub decisions: Vec<DecisionView>,
    pub outcome: Option<String>,
    pub override_reason: Option<String>,
    /// Whether the visitor may approve or reject this one, and why not.
    pub can_decide: Allowed,
}
