//! The simulated CodePipeline: pipelines whose executions really run, on a clock, through
//! Source (a simulated repository), Test, Build (images pushed to the sandbox registry), manual
//! Approval (a token, an expiry) and Deploy (the deployment's image set in the sandbox cluster,
//! done when the rollout completes); the SUPERSEDED, QUEUED and PARALLEL execution modes, stage
//! conditions and their rules, stop, retry (by hand or automatic), rollback (by hand or
//! automatic), stage transitions, and the custom-action job API for deploy workers.
//!
//! - `model`: pipelines, executions, stage and action runs, jobs.
//! - `repository`: the simulated source repositories.
//! - `declaration`: a pipeline declaration read and checked (CreatePipeline, the demo).
//! - `engine`: the clock that moves executions along.
//! - `events`: the state-change events it publishes (to the sandbox's SQS queue).
//! - `actions`: what each kind of action does when it starts and while it runs.
//! - `conditions`: stage conditions and their rules, ListRuleExecutions, OverrideStageCondition.
//! - `read`: the read operations and the shapes they answer with.
//! - `start`: StartPipelineExecution.
//! - `approval`: PutApprovalResult.
//! - `control`: stop, retry, roll back, enable and disable transitions.
//! - `jobs`: PollForJobs, AcknowledgeJob, PutJobSuccessResult, PutJobFailureResult.
//! - `demo`: `myapp-staging` and `myapp-production` with their history.

mod actions;
mod approval;
pub(crate) mod conditions;
mod control;
mod declaration;
pub(crate) mod demo;
mod engine;
pub(crate) mod events;
mod jobs;
mod model;
mod read;
mod repository;
mod start;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use super::sqs::Queues;
use super::{AwsError, Caller, Input, Service};
use crate::kubernetes::Store;
use crate::registry::Registry;
use model::{Job, Pipeline};
use repository::Repository;

/// How long each kind of action takes. Deploy has no timing of its own: it lasts as long as
/// the rollout in the sandbox cluster.
#[derive(Debug, Clone, Copy)]
pub struct PipelineTimings {
    /// Fetching the source revision.
    pub source: Duration,
    /// A test run.
    pub test: Duration,
    /// A build (and image push).
    pub build: Duration,
    /// How long a manual approval waits before it fails as expired (AWS: 7 days).
    pub approval_timeout: Duration,
    /// What a minute of a rule's `WaitTime` lasts in the sandbox.
    pub rule_minute: Duration,
}

impl Default for PipelineTimings {
    fn default() -> Self {
        Self {
            source: Duration::from_secs(2),
            test: Duration::from_secs(8),
            build: Duration::from_secs(10),
            approval_timeout: Duration::from_secs(7 * 86_400),
            rule_minute: Duration::from_secs(1),
        }
    }
}

/// A failure to inject into the next action of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The next test run fails.
    Tests,
    /// The next build breaks.
    Build,
}

/// What can go wrong, named as CodePipeline names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CpError {
    #[error("{0}")]
    Validation(String),
    // AWS's own words (the SDKs' smoke tests against AWS read them).
    #[error("Account '123456789012' does not have a pipeline with name '{0}'")]
    PipelineNotFound(String),
    #[error("Pipeline '{0}' has no version {1}")]
    PipelineVersionNotFound(String, i64),
    #[error("Pipeline execution with ID '{0}' not found in pipeline '{1}'")]
    PipelineExecutionNotFound(String, String),
    #[error("Stage '{0}' not found in pipeline '{1}'")]
    StageNotFound(String, String),
    #[error("Action '{0}' not found in stage '{1}'")]
    ActionNotFound(String, String),
    #[error("{0}")]
    StageNotRetryable(String),
    #[error("The approval token is not valid for action '{0}': it is not the token of this approval")]
    InvalidApprovalToken(String),
    #[error("The approval request for action '{0}' has already been completed")]
    ApprovalAlreadyCompleted(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotStoppable(String),
    #[error("{0}")]
    DuplicatedStop(String),
    #[error("{0}")]
    UnableToRollback(String),
    #[error("The resource with ARN '{0}' was not found")]
    ResourceNotFound(String),
    #[error("'{0}' is not a valid ARN")]
    InvalidArn(String),
    #[error("The next token is not valid")]
    InvalidNextToken,
    #[error("No pipeline uses the action type {0}")]
    ActionTypeNotFound(String),
    #[error("The job '{0}' was not found")]
    JobNotFound(String),
    #[error("The nonce does not match the job's")]
    InvalidNonce,
    #[error("{0}")]
    InvalidJobState(String),
    #[error("{0}")]
    InvalidStructure(String),
    #[error("A pipeline named '{0}' already exists")]
    PipelineNameInUse(String),
    #[error("{0}")]
    ConditionNotOverridable(String),
    #[error("{0}")]
    NotLatestExecution(String),
}

impl From<CpError> for AwsError {
    fn from(e: CpError) -> Self {
        let kind = match &e {
            CpError::Validation(_) => "ValidationException",
            CpError::PipelineNotFound(_) => "PipelineNotFoundException",
            CpError::PipelineVersionNotFound(..) => "PipelineVersionNotFoundException",
            CpError::PipelineExecutionNotFound(..) => "PipelineExecutionNotFoundException",
            CpError::StageNotFound(..) => "StageNotFoundException",
            CpError::ActionNotFound(..) => "ActionNotFoundException",
            CpError::StageNotRetryable(_) => "StageNotRetryableException",
            CpError::InvalidApprovalToken(_) => "InvalidApprovalTokenException",
            CpError::ApprovalAlreadyCompleted(_) => "ApprovalAlreadyCompletedException",
            CpError::Conflict(_) => "ConflictException",
            CpError::NotStoppable(_) => "PipelineExecutionNotStoppableException",
            CpError::DuplicatedStop(_) => "DuplicatedStopRequestException",
            CpError::UnableToRollback(_) => "UnableToRollbackStageException",
            CpError::ResourceNotFound(_) => "ResourceNotFoundException",
            CpError::InvalidArn(_) => "InvalidArnException",
            CpError::InvalidNextToken => "InvalidNextTokenException",
            CpError::ActionTypeNotFound(_) => "ActionTypeNotFoundException",
            CpError::JobNotFound(_) => "JobNotFoundException",
            CpError::InvalidNonce => "InvalidNonceException",
            CpError::InvalidJobState(_) => "InvalidJobStateException",
            CpError::InvalidStructure(_) => "InvalidStructureException",
            CpError::PipelineNameInUse(_) => "PipelineNameInUseException",
            CpError::ConditionNotOverridable(_) => "ConditionNotOverridableException",
            CpError::NotLatestExecution(_) => "NotLatestPipelineExecutionException",
        };
        AwsError::client(kind, e.to_string())
    }
}

pub(crate) struct State {
    pub pipelines: BTreeMap<String, Pipeline>,
    pub repositories: BTreeMap<String, Repository>,
    pub timings: PipelineTimings,
    pub injected: Vec<Failure>,
    pub jobs: Vec<Job>,
    /// Orders stage entries across executions.
    pub sequence: u64,
    /// The statuses the events last told of.
    pub published: events::Published,
    /// The CloudWatch alarms stage conditions watch.
    pub alarms: conditions::Alarms,
}

impl State {
    pub fn pipeline(&self, name: &str) -> Result<&Pipeline, CpError> {
        self.pipelines.get(name).ok_or_else(|| CpError::PipelineNotFound(name.to_owned()))
    }

    pub fn pipeline_mut(&mut self, name: &str) -> Result<&mut Pipeline, CpError> {
        self.pipelines.get_mut(name).ok_or_else(|| CpError::PipelineNotFound(name.to_owned()))
    }

    pub fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }
}

/// The pipelines and what their actions reach: the cluster's store and the registry.
#[derive(Clone)]
pub(crate) struct Pipelines {
    state: Arc<Mutex<State>>,
    store: Store,
    registry: Registry,
    /// Where the events go: the sandbox's EventBridge rule targets its SQS queue.
    queues: Queues,
}

/// How often the engine looks at running executions.
const TICK: Duration = Duration::from_millis(50);

impl Pipelines {
    pub fn new(store: Store, registry: Registry, queues: Queues) -> Self {
        let state = State {
            pipelines: BTreeMap::new(),
            repositories: BTreeMap::new(),
            timings: PipelineTimings::default(),
            injected: Vec::new(),
            jobs: Vec::new(),
            sequence: 0,
            published: events::Published::default(),
            alarms: conditions::Alarms::new(),
        };
        Self { state: Arc::new(Mutex::new(state)), store, registry, queues }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Operations check before they change anything, so a poisoned lock still guards
        // consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the clock on the current runtime until it shuts down.
    pub fn spawn_engine(&self) {
        let pipelines = self.clone();
        events::baseline(&mut pipelines.lock());
        tokio::spawn(async move {
            loop {
                let published = {
                    let mut state = pipelines.lock();
                    engine::advance(&mut state, &pipelines.store, &pipelines.registry);
                    events::changes(&mut state)
                };
                for event in published {
                    pipelines.queues.send(super::sqs::EVENTS_QUEUE, event);
                }
                tokio::time::sleep(TICK).await;
            }
        });
    }

    pub fn set_timings(&self, timings: PipelineTimings) {
        self.lock().timings = timings;
    }

    pub fn fail_next(&self, failure: Failure) {
        self.lock().injected.push(failure);
    }

    /// Sets an alarm's state, creating the alarm if need be.
    pub fn set_alarm(&self, alarm: &str, state: &str, reason: &str) {
        let alarm_state = conditions::Alarm {
            state: state.to_owned(),
            reason: reason.to_owned(),
            updated: std::time::SystemTime::now(),
        };
        self.lock().alarms.insert(alarm.to_owned(), alarm_state);
    }

    /// Sets the state of an alarm that exists (alarms are never deleted); false when there is
    /// none of that name.
    pub fn change_alarm(&self, alarm: &str, state: &str, reason: &str) -> bool {
        let known = self.lock().alarms.contains_key(alarm);
        if known {
            self.set_alarm(alarm, state, reason);
        }
        known
    }

    pub fn alarms(&self) -> conditions::Alarms {
        self.lock().alarms.clone()
    }

    /// Adds a commit to a repository's branch (creating the repository on `main` if the
    /// sandbox has none of that name).
    pub fn commit(&self, repository: &str, message: &str, author: &str) -> String {
        let mut state = self.lock();
        let repository = state
            .repositories
            .entry(repository.to_owned())
            .or_insert_with(|| Repository { branch: "main".into(), commits: Vec::new() });
        repository.commit(message, author).id
    }
}

pub(crate) struct CodePipeline {
    pipelines: Pipelines,
}

impl CodePipeline {
    pub fn new(pipelines: Pipelines) -> Self {
        Self { pipelines }
    }
}

impl Service for CodePipeline {
    const TARGET_PREFIX: &'static str = "CodePipeline_20150709";
    const IAM_PREFIX: &'static str = "codepipeline";

    fn resources(&self, operation: &str, input: &Input, caller: &Caller) -> Vec<String> {
        let field = |name: &str| input.str(name).ok().flatten().unwrap_or("");
        let arn = |resource: String| {
            format!("arn:aws:codepipeline:{}:{}:{resource}", caller.region, super::ids::ACCOUNT)
        };
        let resource = match operation {
            "CreatePipeline" => input
                .value("pipeline")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            "GetPipeline" | "GetPipelineState" | "StartPipelineExecution" => field("name").to_owned(),
            "ListTagsForResource" => return vec![field("resourceArn").to_owned()],
            "DisableStageTransition" | "EnableStageTransition" => {
                format!("{}/{}", field("pipelineName"), field("stageName"))
            }
            "PutApprovalResult" => {
                format!("{}/{}/{}", field("pipelineName"), field("stageName"), field("actionName"))
            }
            "ListPipelineExecutions"
            | "GetPipelineExecution"
            | "ListActionExecutions"
            | "StopPipelineExecution"
            | "RetryStageExecution"
            | "ListRuleExecutions"
            | "RollbackStage" => field("pipelineName").to_owned(),
            "OverrideStageCondition" => format!("{}/{}", field("pipelineName"), field("stageName")),
            // Listing pipelines and the job worker's calls take no resource.
            _ => return vec!["*".to_owned()],
        };
        vec![arn(resource)]
    }

    fn call(&self, operation: &str, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
        let mut state = self.pipelines.lock();
        let state = &mut *state;
        match operation {
            "CreatePipeline" => declaration::create(state, input),
            "ListPipelines" => read::list_pipelines(state, input),
            "GetPipeline" => read::get_pipeline(state, input),
            "GetPipelineState" => read::get_state(state, input),
            "ListPipelineExecutions" => read::list_executions(state, input),
            "GetPipelineExecution" => read::get_execution(state, input),
            "ListActionExecutions" => read::list_action_executions(state, input),
            "ListRuleExecutions" => conditions::list_rule_executions(state, input),
            "OverrideStageCondition" => conditions::override_condition(state, input, caller),
            "ListTagsForResource" => read::list_tags(state, input),
            "StartPipelineExecution" => start::start(state, input, caller),
            "StopPipelineExecution" => control::stop(state, input),
            "RetryStageExecution" => control::retry(state, input),
            "PutApprovalResult" => approval::approve(state, input, caller),
            "RollbackStage" => control::rollback(state, input, caller),
            "DisableStageTransition" => control::disable_transition(state, input, caller),
            "EnableStageTransition" => control::enable_transition(state, input),
            "PollForJobs" => jobs::poll(state, input),
            "AcknowledgeJob" => jobs::acknowledge(state, input),
            "PutJobSuccessResult" => jobs::succeed(state, input),
            "PutJobFailureResult" => jobs::fail(state, input),
            other => Err(AwsError::unknown_operation(&format!(
                "{other} is not an operation the sandbox's CodePipeline serves"
            ))),
        }
    }
}
