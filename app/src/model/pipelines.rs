//! What the Pipelines pages and their live stream (`/live/{env}/pipelines/{name}`) carry.

use serde::{Deserialize, Serialize};

/// A pipeline as its shared poller last read it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PipelineView {
    pub env: String,
    pub name: String,
    pub stages: Vec<StageView>,
    pub latest: Option<ExecutionView>,
    /// An execution is moving.
    pub running: bool,
    /// When the state shown was read from AWS.
    pub fetched_ms: Option<i64>,
    /// Why the latest read failed (the state shown is then older), in words.
    pub problem: Option<String>,
    /// Seconds until the poller reads again.
    pub next_in_secs: u64,
    /// CodePipeline's events refresh it as they happen (the environment's events queue
    /// answers); otherwise it is polled.
    pub pushed: bool,
    /// Why the environment's events queue does not answer, when it has one.
    pub feed_problem: Option<String>,
    /// The manual approval waiting for an answer.
    pub approval: Option<ApprovalView>,
}

impl PipelineView {
    /// What the card shows, as a number: two views with the same fingerprint render the same
    /// card. Left out: the age of the read (the page counts it itself), and what the card does
    /// not show of a stage's deployment (its last change moves with every status write of a
    /// rollout that waits, which would send every viewer the same card again).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut shown = Self { fetched_ms: None, next_in_secs: 0, ..self.clone() };
        for row in shown.stages.iter_mut().filter_map(|s| s.target.as_mut()).filter_map(|t| t.row.as_mut()) {
            row.last_change_ms = None;
            row.generation = 0;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        shown.hash(&mut hasher);
        hasher.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageView {
    pub name: String,
    pub status: Option<String>,
    pub execution_id: Option<String>,
    /// The execution this stage's status belongs to is the pipeline's latest one.
    pub current: bool,
    pub disabled: Option<DisabledView>,
    pub inbound_execution: Option<String>,
    /// Executions waiting to enter, oldest first (QUEUED and PARALLEL pipelines queue them).
    pub queued: Vec<String>,
    pub actions: Vec<ActionView>,
    /// Its conditions (entry, success, failure) as last checked.
    pub conditions: Vec<ConditionView>,
    /// "Retried automatically 1 time(s), by hand 0 time(s)", when its latest run was retried.
    pub retries: Option<String>,
    /// The Kubernetes deployment this stage rolls out (the environment's `aws.deploys`).
    pub target: Option<StageTarget>,
}

/// A Deploy stage's deployment, as the cluster's shared watch shows it now.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageTarget {
    pub namespace: String,
    pub deployment: String,
    /// `None` while the watch has not seen it (then `problem` says why, when known).
    pub row: Option<crate::model::DeploymentRow>,
    pub problem: Option<String>,
}

/// A stage condition and its rules, as the stage's latest check left them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConditionView {
    /// `before-entry`, `on-success` or `on-failure` (what an override names).
    pub kind: String,
    /// "entry condition", "success condition", "failure condition".
    pub words: String,
    /// InProgress, Succeeded, Failed, Overridden, … (none before its first check).
    pub status: Option<String>,
    pub summary: Option<String>,
    pub changed_ms: Option<i64>,
    pub rules: Vec<RuleView>,
    /// The execution it is checking now, which an override would let through.
    pub checking: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleView {
    pub name: String,
    pub status: Option<String>,
    pub summary: Option<String>,
    pub changed_ms: Option<i64>,
}

/// What one rule of an execution's condition checks did (ListRuleExecutions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRunView {
    pub stage: String,
    pub rule: String,
    pub provider: String,
    pub status: String,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    /// What it checked: "AlarmName: myapp-production-errors, WaitTime: 30".
    pub checked: String,
    pub updated_by: Option<String>,
}

/// A declared pipeline variable, for the release form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VariableView {
    pub name: String,
    pub default: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DisabledView {
    pub by: String,
    pub reason: String,
    pub at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActionView {
    pub name: String,
    pub status: Option<String>,
    pub started_ms: Option<i64>,
    /// When it ended (or last changed, while it runs).
    pub updated_ms: Option<i64>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub external_url: Option<String>,
    /// The revision the action saw (a commit, shortened).
    pub revision: Option<String>,
    pub updated_by: Option<String>,
    /// A manual approval answered in CodePipeline itself, not through Rollgate, in words.
    pub outside: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExecutionView {
    pub id: String,
    pub status: String,
    pub summary: Option<String>,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    pub trigger: String,
    /// STANDARD or ROLLBACK.
    pub kind: String,
    pub commit: Option<CommitView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommitView {
    pub id: String,
    pub short: String,
    pub message: Option<String>,
    pub author: Option<String>,
    pub url: Option<String>,
}

/// A manual approval waiting in a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApprovalView {
    pub env: String,
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    /// What PutApprovalResult needs; not a credential (AWS still checks the caller's role).
    pub token: String,
    pub execution: String,
    pub since_ms: Option<i64>,
    pub commit: Option<CommitView>,
    pub summary: Option<String>,
    /// Who asked Rollgate for the execution, when it was Rollgate.
    pub started_by: Option<String>,
    /// What holds changes in the environment back (a lock, a freeze), in words: answering
    /// then needs an admin's override with a reason.
    pub hold: Option<String>,
    /// Who must answer: "Needs 2 people, at least one from each of …".
    pub rule: String,
    /// Where the answers stand: "1 of 2: avery approved; waiting for someone from security".
    pub standing: String,
    pub votes: Vec<VoteView>,
    /// Why the decided answer has not reached CodePipeline yet (answering again re-sends it).
    pub unsent: Option<String>,
    /// When CodePipeline fails the approval unanswered (seven days after it began waiting).
    pub expires_ms: Option<i64>,
}

/// One person's answer to a manual approval.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VoteView {
    pub by: String,
    pub approve: bool,
    pub comment: String,
    pub at_ms: i64,
}

/// One pipeline in detail: its live state and a page of its history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PipelineDetail {
    pub live: PipelineView,
    pub history: Vec<ExecutionView>,
    /// The token of the next page of history.
    pub next: Option<String>,
    /// The stage names whose transitions may be frozen.
    pub stages: Vec<String>,
    /// SUPERSEDED, QUEUED or PARALLEL (no stage rollback in PARALLEL: CodePipeline refuses it).
    pub mode: String,
    /// The variables a release may set, with their defaults.
    pub variables: Vec<VariableView>,
    /// The source actions a revision override may name.
    pub source_actions: Vec<String>,
    /// What the rules of the latest execution's condition checks did.
    pub rules: Vec<RuleRunView>,
}

/// Two executions of one pipeline side by side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExecutionComparison {
    pub pipeline: String,
    pub a: ComparedExecution,
    pub b: ComparedExecution,
    /// Every action either execution ran, in pipeline order.
    pub actions: Vec<ActionComparison>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ComparedExecution {
    pub execution: ExecutionView,
    /// The image its build pushed.
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActionComparison {
    pub stage: String,
    pub action: String,
    pub a: Option<ActionOutcome>,
    pub b: Option<ActionOutcome>,
    /// The two ran differently (status, or what they did).
    pub differs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub status: String,
    /// What it did, or why it failed.
    pub detail: Option<String>,
}
