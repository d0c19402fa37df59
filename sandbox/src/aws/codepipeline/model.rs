//! What the simulated CodePipeline keeps: pipelines (their declaration as given and the parts
//! the engine runs), their executions, each execution's stage runs and action runs, and the
//! custom-action jobs waiting for a worker.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use super::repository::Commit;

/// What an action does when it runs, from its owner and provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// CodeCommit: picks the commit.
    Source,
    /// CodeBuild in the Test category: runs the tests.
    Test,
    /// CodeBuild in the Build category: builds and pushes `<repository>:<commit>`.
    Build,
    /// Manual approval: waits for PutApprovalResult or its expiry.
    Approval,
    /// EKS: sets the deployment's image and waits for the rollout.
    Deploy,
    /// A custom action: a job a worker polls for.
    Job,
}

#[derive(Debug, Clone)]
pub struct ActionDecl {
    pub name: String,
    pub behaviour: Behaviour,
    /// `actionTypeId` as declared.
    pub type_id: Value,
    pub run_order: i64,
    pub configuration: BTreeMap<String, String>,
}

impl ActionDecl {
    pub fn config(&self, key: &str) -> Option<&str> {
        self.configuration.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct StageDecl {
    pub name: String,
    pub actions: Vec<ActionDecl>,
}

#[derive(Debug, Clone)]
pub struct VariableDecl {
    pub name: String,
    pub default: Option<String>,
}

/// Why an inbound transition is disabled, and by whom.
#[derive(Debug, Clone)]
pub struct Disabled {
    pub reason: String,
    pub by: String,
    pub at: SystemTime,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    /// The declaration as GetPipeline returns it.
    pub declaration: Value,
    pub stages: Vec<StageDecl>,
    pub variables: Vec<VariableDecl>,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub tags: Vec<(String, String)>,
    /// Disabled inbound transitions, by stage index.
    pub disabled: BTreeMap<usize, Disabled>,
    /// Oldest first.
    pub executions: Vec<Execution>,
}

impl Pipeline {
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    pub fn execution(&self, id: &str) -> Option<&Execution> {
        self.executions.iter().find(|e| e.id == id)
    }

    pub fn execution_mut(&mut self, id: &str) -> Option<&mut Execution> {
        self.executions.iter_mut().find(|e| e.id == id)
    }

    /// The execution that entered stage `stage` last, with its run of that stage.
    pub fn latest_in_stage(&self, stage: usize) -> Option<(&Execution, &StageRun)> {
        self.executions
            .iter()
            .filter_map(|e| e.stage_run(stage).map(|run| (e, run)))
            .max_by_key(|(_, run)| run.entered)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    InProgress,
    Stopping,
    Stopped,
    Succeeded,
    Superseded,
    Failed,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Succeeded => "Succeeded",
            Self::Superseded => "Superseded",
            Self::Failed => "Failed",
        }
    }

    pub fn running(self) -> bool {
        matches!(self, Self::InProgress | Self::Stopping)
    }
}

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Waiting to enter this stage (its transition is disabled or another execution holds it).
    Waiting(usize),
    /// Running this stage.
    In(usize),
    Done,
}

#[derive(Debug, Clone)]
pub struct Stop {
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub status: ExecutionStatus,
    pub summary: Option<String>,
    pub started: SystemTime,
    pub updated: SystemTime,
    pub trigger_type: &'static str,
    pub trigger_detail: String,
    /// For a RollbackStage execution, the execution whose artifacts it deploys again.
    pub rollback_of: Option<String>,
    pub variables: Vec<(String, String)>,
    pub commit: Commit,
    /// The image the Build stage pushed (or a rollback target's).
    pub image: Option<String>,
    pub position: Position,
    /// The last stage this execution runs (a rollback runs one stage only).
    pub last_stage: usize,
    pub stages: Vec<StageRun>,
    /// Action runs that a retry replaced, kept for ListActionExecutions.
    pub replaced: Vec<(usize, ActionRun)>,
    pub stop: Option<Stop>,
    /// `clientRequestToken` and the request it came with, for idempotent starts.
    pub request: Option<(String, Value)>,
}

impl Execution {
    pub fn stage_run(&self, stage: usize) -> Option<&StageRun> {
        self.stages.iter().find(|r| r.stage == stage)
    }

    pub fn stage_run_mut(&mut self, stage: usize) -> Option<&mut StageRun> {
        self.stages.iter_mut().find(|r| r.stage == stage)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    InProgress,
    Stopping,
    Stopped,
    Succeeded,
    Failed,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StageRun {
    pub stage: usize,
    pub status: StageStatus,
    /// A pipeline-wide sequence number: which execution entered a stage last.
    pub entered: u64,
    /// One per declared action, in declaration order.
    pub actions: Vec<ActionRun>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    /// Not started yet (its run order has not come); not shown as an execution.
    Pending,
    InProgress,
    Abandoned,
    Succeeded,
    Failed,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending | Self::InProgress => "InProgress",
            Self::Abandoned => "Abandoned",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

/// What a running action waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    Nothing,
    /// Work that takes a set time (source, tests, build).
    Until(SystemTime),
    /// A manual approval, until it expires.
    Approval {
        expires: SystemTime,
    },
    /// A rollout of this deployment at or past this generation.
    Rollout {
        namespace: String,
        name: String,
        generation: i64,
    },
    /// A custom action's job.
    Job(String),
}

#[derive(Debug, Clone)]
pub struct ActionRun {
    pub id: String,
    pub action: usize,
    pub status: ActionStatus,
    pub wait: Wait,
    pub started: SystemTime,
    pub updated: SystemTime,
    pub summary: Option<String>,
    pub error: Option<(&'static str, String)>,
    pub token: Option<String>,
    pub updated_by: Option<String>,
    pub external_id: Option<String>,
    pub output_variables: Vec<(String, String)>,
}

impl ActionRun {
    pub fn pending(action: usize, now: SystemTime) -> Self {
        Self {
            id: super::super::ids::uuid(),
            action,
            status: ActionStatus::Pending,
            wait: Wait::Nothing,
            started: now,
            updated: now,
            summary: None,
            error: None,
            token: None,
            updated_by: None,
            external_id: None,
            output_variables: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Dispatched,
    InProgress,
    Succeeded,
    Failed,
}

/// A custom action's unit of work, as PollForJobs hands it out.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub nonce: String,
    pub status: JobStatus,
    pub pipeline: String,
    pub execution: String,
    pub stage: usize,
    pub action: usize,
    pub action_execution: String,
    pub continuation: Option<String>,
}
