//! What the simulated CodePipeline keeps: pipelines (their declaration as given and the parts
//! the engine runs), their executions, each execution's stage runs, action runs and condition
//! runs, and the custom-action jobs waiting for a worker.

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
    /// The namespace its output variables are read under (`#{SourceVariables.CommitId}`).
    pub namespace: Option<String>,
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
    /// Checked before an execution enters: when not met, the result (FAIL or SKIP) engages.
    pub before_entry: Option<ConditionDecl>,
    /// Checked when every action has succeeded: when not met, FAIL or ROLLBACK engages.
    pub on_success: Option<ConditionDecl>,
    /// What happens when the stage fails.
    pub on_failure: Option<FailureDecl>,
}

impl StageDecl {
    pub fn condition(&self, kind: ConditionKind) -> Option<&ConditionDecl> {
        match kind {
            ConditionKind::BeforeEntry => self.before_entry.as_ref(),
            ConditionKind::OnSuccess => self.on_success.as_ref(),
        }
    }
}

/// The order in which executions go through a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionMode {
    /// A newer execution waiting at a stage replaces an older one waiting there.
    Superseded,
    /// Executions wait their turn at each stage, oldest first.
    Queued,
    /// Executions run side by side; stages are not locked.
    Parallel,
}

impl ExecutionMode {
    pub fn parse(mode: &str) -> Option<Self> {
        match mode {
            "SUPERSEDED" => Some(Self::Superseded),
            "QUEUED" => Some(Self::Queued),
            "PARALLEL" => Some(Self::Parallel),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Superseded => "SUPERSEDED",
            Self::Queued => "QUEUED",
            Self::Parallel => "PARALLEL",
        }
    }
}

/// The stage conditions that are checked by rules (an on-failure result needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    BeforeEntry,
    OnSuccess,
}

impl ConditionKind {
    /// As OverrideStageCondition names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeEntry => "BEFORE_ENTRY",
            Self::OnSuccess => "ON_SUCCESS",
        }
    }
}

/// What a condition does when its rules are not met, or a failed stage does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionResult {
    Fail,
    Skip,
    Rollback,
    Retry,
}

impl ConditionResult {
    pub fn parse(result: &str) -> Option<Self> {
        match result {
            "FAIL" => Some(Self::Fail),
            "SKIP" => Some(Self::Skip),
            "ROLLBACK" => Some(Self::Rollback),
            "RETRY" => Some(Self::Retry),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
            Self::Rollback => "ROLLBACK",
            Self::Retry => "RETRY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Contains,
    Matches,
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// VariableCheck: a resolved variable compared with a value.
    Variable { variable: String, operator: Operator, value: String },
    /// CloudWatchAlarm: met unless the alarm is in one of `states`; while it is, the rule waits
    /// up to `wait_minutes` for it to leave them.
    Alarm { alarm: String, states: Vec<String>, wait_minutes: u32 },
}

#[derive(Debug, Clone)]
pub struct RuleDecl {
    pub name: String,
    pub check: Check,
    /// `ruleTypeId` as declared.
    pub type_id: Value,
    pub configuration: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ConditionDecl {
    pub result: ConditionResult,
    pub rules: Vec<RuleDecl>,
}

#[derive(Debug, Clone)]
pub struct FailureDecl {
    /// ROLLBACK (to the last execution that succeeded in the stage) or RETRY (once).
    pub result: ConditionResult,
    /// For RETRY: every action again, not only the failed ones.
    pub retry_all: bool,
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
    pub mode: ExecutionMode,
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

    /// The newest run of a stage's condition of `kind`, with its execution.
    pub fn latest_condition(&self, stage: usize, kind: ConditionKind) -> Option<(&Execution, &ConditionRun)> {
        self.executions
            .iter()
            .flat_map(|e| e.conditions.iter().map(move |c| (e, c)))
            .filter(|(_, c)| c.stage == stage && c.kind == kind)
            .max_by_key(|(_, c)| c.sequence)
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
    /// Its entry condition is being checked: it holds the stage.
    Entering(usize),
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
    /// Every check of a stage condition it went through, oldest first.
    pub conditions: Vec<ConditionRun>,
}

impl Execution {
    pub fn stage_run(&self, stage: usize) -> Option<&StageRun> {
        self.stages.iter().find(|r| r.stage == stage)
    }

    pub fn stage_run_mut(&mut self, stage: usize) -> Option<&mut StageRun> {
        self.stages.iter_mut().find(|r| r.stage == stage)
    }

    /// Whether it holds `stage`: running its actions or checking its entry condition.
    pub fn holds(&self, stage: usize) -> bool {
        self.status.running()
            && matches!(self.position, Position::In(s) | Position::Entering(s) if s == stage)
    }

    /// Its newest check of a stage's condition of `kind`.
    pub fn condition_mut(&mut self, stage: usize, kind: ConditionKind) -> Option<&mut ConditionRun> {
        self.conditions.iter_mut().rev().find(|c| c.stage == stage && c.kind == kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    InProgress,
    Stopping,
    Stopped,
    Succeeded,
    Failed,
    /// Its entry condition was not met and its result was SKIP.
    Skipped,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Skipped => "Skipped",
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
    pub retries: Retries,
}

impl StageRun {
    pub fn new(stage: usize, status: StageStatus, entered: u64, actions: Vec<ActionRun>) -> Self {
        Self { stage, status, entered, actions, retries: Retries::default() }
    }
}

/// How often a stage run was retried, and by what last (GetPipelineState's `retryStageMetadata`).
#[derive(Debug, Clone, Default)]
pub struct Retries {
    pub automatic: u32,
    pub manual: u32,
    pub latest: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    InProgress,
    Succeeded,
    Failed,
    Overridden,
    Abandoned,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Overridden => "Overridden",
            Self::Abandoned => "Abandoned",
        }
    }
}

/// One check of a stage condition for one execution.
#[derive(Debug, Clone)]
pub struct ConditionRun {
    pub stage: usize,
    pub kind: ConditionKind,
    pub status: ConditionStatus,
    pub summary: Option<String>,
    /// A pipeline-wide sequence number: which check came last.
    pub sequence: u64,
    pub updated: SystemTime,
    /// One per declared rule, in declaration order.
    pub rules: Vec<RuleRun>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStatus {
    InProgress,
    Abandoned,
    Succeeded,
    Failed,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Abandoned => "Abandoned",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleRun {
    pub id: String,
    pub rule: usize,
    pub status: RuleStatus,
    pub started: SystemTime,
    pub updated: SystemTime,
    /// When a waiting rule gives up.
    pub until: Option<SystemTime>,
    pub summary: Option<String>,
    pub error: Option<(&'static str, String)>,
    /// Its configuration with the variables it names resolved.
    pub resolved: BTreeMap<String, String>,
    pub updated_by: Option<String>,
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
