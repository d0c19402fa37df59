//! Data the server functions return: plain, serialisable, and free of secrets by construction
//! (no token values, no database passwords).

use serde::{Deserialize, Serialize};

pub mod delivery;
pub mod deployment_query;
pub mod notifications;
pub mod overview;
pub mod pipelines;
pub mod tokens;

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
    /// Whether a rollback blocks the commit it takes out of service unless told not to.
    pub block_on_rollback: bool,
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

/// A deployment as the Deployments page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeploymentRow {
    pub namespace: String,
    pub name: String,
    pub images: Vec<ImageView>,
    pub desired: i32,
    /// Pods of every revision.
    pub current: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub health: Health,
    /// The metadata.generation the row was made from (a write's precondition).
    pub generation: i64,
    pub revision: Option<String>,
    pub strategy: String,
    /// The last change, in milliseconds since the epoch (rendered relative in the browser).
    pub last_change_ms: Option<i64>,
    /// Who made the current generation through Rollgate ("dana, approved by avery").
    pub changed_by: Option<String>,
}

impl DeploymentRow {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageView {
    pub container: String,
    pub image: String,
    /// The short commit hash, when the tag is one.
    pub commit: Option<String>,
}

/// A deployment's health in words; `Degraded` carries the reason (ProgressDeadlineExceeded,
/// CrashLoopBackOff, ImagePullBackOff, ErrImagePull, Unschedulable).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    Complete,
    Progressing,
    Paused,
    Degraded(String),
}

impl Health {
    pub fn word(&self) -> &str {
        match self {
            Health::Complete => "Complete",
            Health::Progressing => "Progressing",
            Health::Paused => "Paused",
            Health::Degraded(_) => "Degraded",
        }
    }

    /// The CSS class of its chip.
    pub fn class(&self) -> &'static str {
        match self {
            Health::Complete => "ok",
            Health::Progressing | Health::Paused => "neutral",
            Health::Degraded(_) => "bad",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodView {
    pub name: String,
    pub phase: String,
    /// "1/1"
    pub ready: String,
    pub restarts: i32,
    pub reason: Option<String>,
    pub node: Option<String>,
    pub started_ms: Option<i64>,
    /// Its pod-template-hash: which revision it runs.
    pub template_hash: Option<String>,
}

/// A deployment with its pods: what the detail page follows live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentLive {
    pub row: DeploymentRow,
    pub pods: Vec<PodView>,
    /// The row's markup as the Deployments table shows it: sent by the list's stream only,
    /// so the browser shows rows without rendering them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// Whether the server's watch of a namespace is connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LinkView {
    Connecting,
    Live,
    Reconnecting(String),
}

/// One message of the deployments stream (`/live/{env}/deployments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LiveEvent {
    /// Everything now in `namespaces`, replacing what the page had of them (sent first, and
    /// after a lag).
    Snapshot {
        namespaces: Vec<String>,
        deployments: Vec<DeploymentLive>,
    },
    Changed(Box<DeploymentLive>),
    Removed {
        namespace: String,
        name: String,
    },
    Link {
        namespace: String,
        link: LinkView,
    },
}

/// The deployments of an environment, for the first render of the page: the first rows a
/// query selects (at most [`deployment_query::FIRST_ROWS`]), and how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentList {
    pub rows: Vec<DeploymentRow>,
    /// How many deployments the query selects.
    pub matched: usize,
    /// How many deployments the environment's namespaces hold.
    pub total: usize,
    /// Namespaces whose watch is not live, with the reason.
    pub problems: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionView {
    pub number: u32,
    pub replica_set: String,
    pub images: Vec<ImageView>,
    pub created_ms: Option<i64>,
    pub replicas: i32,
    pub ready: i32,
    pub live: bool,
    /// The pipeline execution that put this revision there, when one of the environment's
    /// pipelines rolls the deployment out.
    pub release: Option<ReleaseView>,
}

/// A pipeline execution that released a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseView {
    pub pipeline: String,
    pub execution: String,
    pub status: String,
    /// The short commit hash and its message.
    pub commit: String,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionView {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub object: String,
    pub count: i32,
    pub last_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
}

/// Everything the deployment page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub live: DeploymentLive,
    pub containers: Vec<ContainerView>,
    pub revisions: Vec<RevisionView>,
    /// Why the releases of the revisions could not be read from the pipelines, in words.
    pub releases_problem: Option<String>,
    pub conditions: Vec<ConditionView>,
    pub events: Vec<EventView>,
    pub paused: bool,
    /// The latest change requests for this deployment, newest first.
    pub changes: Vec<ChangeView>,
}

/// What a change would do, before it is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewView {
    pub before: String,
    pub after: String,
    /// The commits the change takes out of service (a rollback may block them).
    pub retires: Vec<String>,
    /// The generation the preview was made from.
    pub generation: i64,
}

/// A blocked commit (the Blocked page), lifted or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub commit: String,
    pub reason: String,
    pub by: String,
    pub at: String,
    /// The change request whose execution blocked it (a rollback).
    pub change: Option<String>,
    /// Who lifted it and when (a change request's requester and approvers).
    pub lifted_by: Option<String>,
    pub lifted_at: Option<String>,
}

/// The freeze calendar of an environment: what holds now and what falls in the next 30 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeCalendar {
    /// What holds now, in words ("deploys are frozen until …").
    pub holding: Option<String>,
    pub windows: Vec<FreezeView>,
    /// One per day from today (UTC), with how much of it is frozen.
    pub days: Vec<DayView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeView {
    pub reason: String,
    /// In the freeze's own time zone ("Fri 04 Dec 16:00 CET"), and UTC.
    pub starts: String,
    pub ends: String,
    pub starts_utc: String,
    pub ends_utc: String,
    pub holds_now: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayView {
    /// `2026-12-05`.
    pub date: String,
    /// "Sat 5".
    pub label: String,
    /// `none`, `part` or `all`.
    pub frozen: String,
}
