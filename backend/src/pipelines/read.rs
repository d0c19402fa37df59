//! Reading a pipeline: its stages and actions as they are now (GetPipelineState), its
//! executions (ListPipelineExecutions, paged) and what each action of one execution did
//! (ListActionExecutions), cut down to the plain facts the pages show.

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::primitives::DateTime;
use aws_sdk_codepipeline::types::{self as aws, ActionExecutionFilter};

use super::conditions::ConditionKind;
use super::{PipelineError, signature};

/// A pipeline as GetPipelineState shows it, with its latest execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineState {
    pub name: String,
    pub version: Option<i32>,
    pub stages: Vec<StageState>,
    /// The newest execution, with the commit it carries.
    pub latest: Option<Execution>,
    /// What each action of the latest execution did (start, end, the revision it saw).
    pub latest_actions: Vec<ActionRun>,
}

impl PipelineState {
    /// An execution is moving: the poller looks more often.
    pub fn running(&self) -> bool {
        self.latest.as_ref().is_some_and(|e| e.status == "InProgress" || e.status == "Stopping")
            || self.stages.iter().any(|s| s.status.as_deref() == Some("InProgress"))
    }

    /// The manual approval waiting for an answer, if any: (stage, action, token, execution).
    pub fn waiting_approval(&self) -> Option<(&StageState, &ActionState)> {
        self.stages.iter().find_map(|s| s.actions.iter().find(|a| a.waiting_approval()).map(|a| (s, a)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageState {
    pub name: String,
    /// The stage's latest execution status (InProgress, Succeeded, Failed, Stopped, …).
    pub status: Option<String>,
    pub execution_id: Option<String>,
    /// Set when the transition into this stage is disabled.
    pub disabled: Option<DisabledTransition>,
    /// An execution waiting at the disabled transition.
    pub inbound_execution: Option<String>,
    /// Every execution waiting to enter, oldest first (QUEUED and PARALLEL modes queue several).
    pub inbound_executions: Vec<String>,
    pub actions: Vec<ActionState>,
    /// Its conditions (entry, success, failure) with their latest checks.
    pub conditions: Vec<ConditionState>,
    /// How often its latest run was retried, when it was.
    pub retries: Option<StageRetries>,
}

/// A stage condition as GetPipelineState shows it: its latest check and each rule's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionState {
    pub kind: ConditionKind,
    /// InProgress, Succeeded, Failed, Overridden, … (none before its first check).
    pub status: Option<String>,
    pub summary: Option<String>,
    pub changed_ms: Option<i64>,
    pub rules: Vec<RuleState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleState {
    pub name: String,
    pub status: Option<String>,
    pub summary: Option<String>,
    pub changed_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRetries {
    pub automatic: i32,
    pub manual: i32,
    /// AutomatedStageRetry or ManualStageRetry.
    pub latest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledTransition {
    pub by: String,
    pub reason: String,
    pub at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionState {
    pub name: String,
    pub status: Option<String>,
    pub execution_id: Option<String>,
    pub action_execution_id: Option<String>,
    pub changed_ms: Option<i64>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub external_url: Option<String>,
    /// The revision the action last saw (a source action's commit).
    pub revision: Option<String>,
    /// Present while a manual approval waits: what PutApprovalResult needs.
    pub token: Option<String>,
    pub updated_by: Option<String>,
}

impl ActionState {
    pub fn waiting_approval(&self) -> bool {
        self.token.is_some() && self.status.as_deref() == Some("InProgress")
    }
}

/// One execution from ListPipelineExecutions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub id: String,
    pub status: String,
    pub status_summary: Option<String>,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    pub trigger: String,
    /// STANDARD or ROLLBACK.
    pub kind: String,
    /// SUPERSEDED, QUEUED or PARALLEL (V2 pipelines say).
    pub mode: Option<String>,
    pub revisions: Vec<Revision>,
}

impl Execution {
    /// The commit this execution carries (its first source revision).
    pub fn commit(&self) -> Option<&Revision> {
        self.revisions.first()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub action: String,
    pub id: String,
    /// A commit's message.
    pub summary: Option<String>,
    pub url: Option<String>,
}

/// What one action of an execution did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRun {
    /// The pipeline execution it ran in.
    pub execution: String,
    pub stage: String,
    pub action: String,
    pub status: String,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub external_id: Option<String>,
    /// A source action's output: the commit and its author.
    pub commit: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// When the commit was authored (`AuthorDate`).
    pub authored_ms: Option<i64>,
    /// A build action's output: the image it pushed.
    pub image: Option<String>,
    pub updated_by: Option<String>,
    /// Whether it is a manual approval.
    pub approval: bool,
}

/// One page of history and the token of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub executions: Vec<Execution>,
    pub next: Option<String>,
}

pub fn millis(t: Option<&DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

/// The pipeline's state with its latest execution and that execution's actions: three calls.
pub async fn state(client: &Client, pipeline: &str) -> Result<PipelineState, PipelineError> {
    let stages = stages(client, pipeline).await?;
    let (latest, latest_actions) = latest(client, pipeline).await?;
    Ok(stages.with(latest, latest_actions))
}

/// What GetPipelineState says: the stages and their actions as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    pub name: String,
    pub version: Option<i32>,
    pub stages: Vec<StageState>,
}

impl Stages {
    pub fn with(self, latest: Option<Execution>, latest_actions: Vec<ActionRun>) -> PipelineState {
        PipelineState { name: self.name, version: self.version, stages: self.stages, latest, latest_actions }
    }
}

/// The stages as they are now: one call, which tells whether anything moved since the last.
pub async fn stages(client: &Client, pipeline: &str) -> Result<Stages, PipelineError> {
    let out = client.get_pipeline_state().name(pipeline).send().await.map_err(PipelineError::from_sdk)?;
    Ok(Stages {
        name: out.pipeline_name().unwrap_or(pipeline).to_owned(),
        version: out.pipeline_version(),
        stages: out.stage_states().iter().map(stage).collect(),
    })
}

/// The newest execution and what its actions did: two calls.
pub async fn latest(
    client: &Client,
    pipeline: &str,
) -> Result<(Option<Execution>, Vec<ActionRun>), PipelineError> {
    let latest = history(client, pipeline, 1, None).await?.executions.into_iter().next();
    let latest_actions = match &latest {
        Some(e) => actions(client, pipeline, &e.id).await?,
        None => Vec::new(),
    };
    Ok((latest, latest_actions))
}

fn stage(s: &aws::StageState) -> StageState {
    let transition = s.inbound_transition_state();
    let disabled = transition.filter(|t| !t.enabled()).map(|t| {
        let (reason, by) = signature::read(t.disabled_reason().unwrap_or(""));
        DisabledTransition {
            by: by.or(t.last_changed_by()).unwrap_or("someone").to_owned(),
            reason: reason.to_owned(),
            at_ms: millis(t.last_changed_at()),
        }
    });
    StageState {
        name: s.stage_name().unwrap_or("").to_owned(),
        status: s.latest_execution().map(|l| l.status().as_str().to_owned()),
        execution_id: s.latest_execution().map(|l| l.pipeline_execution_id().to_owned()),
        disabled,
        inbound_execution: s.inbound_execution().map(|e| e.pipeline_execution_id().to_owned()),
        inbound_executions: s
            .inbound_executions()
            .iter()
            .map(|e| e.pipeline_execution_id().to_owned())
            .collect(),
        actions: s.action_states().iter().map(action).collect(),
        conditions: [
            (ConditionKind::BeforeEntry, s.before_entry_condition_state()),
            (ConditionKind::OnSuccess, s.on_success_condition_state()),
            (ConditionKind::OnFailure, s.on_failure_condition_state()),
        ]
        .into_iter()
        .filter_map(|(kind, state)| state.map(|c| condition(kind, c)))
        .collect(),
        retries: s.retry_stage_metadata().map(|r| StageRetries {
            automatic: r.auto_stage_retry_attempt().unwrap_or(0),
            manual: r.manual_stage_retry_attempt().unwrap_or(0),
            latest: r.latest_retry_trigger().map(|t| t.as_str().to_owned()),
        }),
    }
}

fn condition(kind: ConditionKind, c: &aws::StageConditionState) -> ConditionState {
    // A stage has one condition of each kind; its rules are the first condition's.
    let first = c.condition_states().first();
    let latest = first.and_then(|f| f.latest_execution());
    ConditionState {
        kind,
        status: c.latest_execution().and_then(|l| l.status()).map(|s| s.as_str().to_owned()),
        summary: c.latest_execution().and_then(|l| l.summary()).map(str::to_owned),
        changed_ms: millis(latest.and_then(|l| l.last_status_change())),
        rules: first
            .map(|f| f.rule_states())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let latest = r.latest_execution();
                RuleState {
                    name: r.rule_name().unwrap_or("").to_owned(),
                    status: latest.and_then(|l| l.status()).map(|s| s.as_str().to_owned()),
                    summary: latest.and_then(|l| l.summary()).map(str::to_owned),
                    changed_ms: millis(latest.and_then(|l| l.last_status_change())),
                }
            })
            .collect(),
    }
}

fn action(a: &aws::ActionState) -> ActionState {
    let latest = a.latest_execution();
    let (summary, by) = latest.and_then(|l| l.summary()).map(signature::read).unzip();
    ActionState {
        name: a.action_name().unwrap_or("").to_owned(),
        status: latest.and_then(|l| l.status()).map(|s| s.as_str().to_owned()),
        execution_id: None,
        action_execution_id: latest.and_then(|l| l.action_execution_id()).map(str::to_owned),
        changed_ms: millis(latest.and_then(|l| l.last_status_change())),
        summary: summary.map(str::to_owned),
        error: latest
            .and_then(|l| l.error_details())
            .map(|e| format!("{}: {}", e.code().unwrap_or("Error"), e.message().unwrap_or(""))),
        external_url: latest.and_then(|l| l.external_execution_url()).map(str::to_owned),
        revision: a.current_revision().map(|r| r.revision_id().to_owned()),
        token: latest.and_then(|l| l.token()).map(str::to_owned),
        updated_by: by.flatten().or(latest.and_then(|l| l.last_updated_by())).map(str::to_owned),
    }
}

/// A page of executions, newest first.
pub async fn history(
    client: &Client,
    pipeline: &str,
    page_size: i32,
    next: Option<&str>,
) -> Result<History, PipelineError> {
    let out = client
        .list_pipeline_executions()
        .pipeline_name(pipeline)
        .max_results(page_size)
        .set_next_token(next.map(str::to_owned))
        .send()
        .await
        .map_err(PipelineError::from_sdk)?;
    Ok(History {
        executions: out.pipeline_execution_summaries().iter().map(execution).collect(),
        next: out.next_token().map(str::to_owned),
    })
}

/// "StartPipelineExecution (arn:…:user/dana)".
fn trigger(t: Option<&aws::ExecutionTrigger>) -> String {
    t.map(|t| {
        let kind = t.trigger_type().map(|k| k.as_str().to_owned()).unwrap_or_default();
        match t.trigger_detail().filter(|d| !d.is_empty()) {
            Some(detail) => format!("{kind} ({detail})"),
            None => kind,
        }
    })
    .unwrap_or_default()
}

fn execution(e: &aws::PipelineExecutionSummary) -> Execution {
    Execution {
        id: e.pipeline_execution_id().unwrap_or("").to_owned(),
        status: e.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        status_summary: e.status_summary().map(|t| signature::read(t).0.to_owned()),
        started_ms: millis(e.start_time()),
        updated_ms: millis(e.last_update_time()),
        trigger: trigger(e.trigger()),
        kind: e.execution_type().map(|k| k.as_str().to_owned()).unwrap_or_else(|| "STANDARD".into()),
        mode: e.execution_mode().map(|m| m.as_str().to_owned()),
        revisions: e
            .source_revisions()
            .iter()
            .map(|r| Revision {
                action: r.action_name().to_owned(),
                id: r.revision_id().unwrap_or("").to_owned(),
                summary: r.revision_summary().map(str::to_owned),
                url: r.revision_url().map(str::to_owned),
            })
            .collect(),
    }
}

/// Execution `id` (GetPipelineExecution; its start is the earliest of its actions').
pub async fn execution_by_id(
    client: &Client,
    pipeline: &str,
    id: &str,
    runs: &[ActionRun],
) -> Result<Execution, PipelineError> {
    let out = client
        .get_pipeline_execution()
        .pipeline_name(pipeline)
        .pipeline_execution_id(id)
        .send()
        .await
        .map_err(PipelineError::from_sdk)?;
    let e = out.pipeline_execution().ok_or_else(|| PipelineError::NotFound(format!("execution {id}")))?;
    Ok(Execution {
        id: id.to_owned(),
        status: e.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        status_summary: e.status_summary().map(|t| signature::read(t).0.to_owned()),
        started_ms: runs.iter().filter_map(|r| r.started_ms).min(),
        updated_ms: runs.iter().filter_map(|r| r.updated_ms).max(),
        trigger: trigger(e.trigger()),
        kind: e.execution_type().map(|k| k.as_str().to_owned()).unwrap_or_else(|| "STANDARD".into()),
        mode: e.execution_mode().map(|m| m.as_str().to_owned()),
        revisions: e
            .artifact_revisions()
            .iter()
            .map(|r| Revision {
                action: r.name().unwrap_or("").to_owned(),
                id: r.revision_id().unwrap_or("").to_owned(),
                summary: r.revision_summary().map(str::to_owned),
                url: r.revision_url().map(str::to_owned),
            })
            .collect(),
    })
}

/// What each action of execution `id` did, in pipeline order as listed by AWS (newest first).
pub async fn actions(client: &Client, pipeline: &str, id: &str) -> Result<Vec<ActionRun>, PipelineError> {
    let out = client
        .list_action_executions()
        .pipeline_name(pipeline)
        .filter(ActionExecutionFilter::builder().pipeline_execution_id(id).build())
        .send()
        .await
        .map_err(PipelineError::from_sdk)?;
    Ok(out.action_execution_details().iter().map(action_run).collect())
}

/// The newest action runs of every recent execution of `pipeline`, newest first: up to
/// `pages` pages of 100 (one call each).
pub async fn recent_actions(
    client: &Client,
    pipeline: &str,
    pages: usize,
) -> Result<Vec<ActionRun>, PipelineError> {
    let mut runs = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..pages {
        let out = client
            .list_action_executions()
            .pipeline_name(pipeline)
            .max_results(100)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(PipelineError::from_sdk)?;
        runs.extend(out.action_execution_details().iter().map(action_run));
        match out.next_token() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    Ok(runs)
}

fn action_run(d: &aws::ActionExecutionDetail) -> ActionRun {
    let output = d.output();
    let result = output.and_then(|o| o.execution_result());
    let variable = |name: &str| output.and_then(|o| o.output_variables()).and_then(|v| v.get(name)).cloned();
    let (summary, by) = result.and_then(|r| r.external_execution_summary()).map(signature::read).unzip();
    ActionRun {
        execution: d.pipeline_execution_id().unwrap_or("").to_owned(),
        stage: d.stage_name().unwrap_or("").to_owned(),
        action: d.action_name().unwrap_or("").to_owned(),
        status: d.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        started_ms: millis(d.start_time()),
        updated_ms: millis(d.last_update_time()),
        summary: summary.map(str::to_owned),
        error: result
            .and_then(|r| r.error_details())
            .map(|e| format!("{}: {}", e.code().unwrap_or("Error"), e.message().unwrap_or(""))),
        external_id: result.and_then(|r| r.external_execution_id()).map(str::to_owned),
        commit: variable("CommitId"),
        author: variable("AuthorDisplayName"),
        message: variable("CommitMessage"),
        authored_ms: variable("AuthorDate")
            .and_then(|t| crate::clock::Timestamp::parse_rfc3339(&t).ok())
            .map(|t| t.millis()),
        image: variable("IMAGE_URI"),
        updated_by: by.flatten().or(d.updated_by()).map(str::to_owned),
        approval: d
            .input()
            .and_then(|i| i.action_type_id())
            .is_some_and(|t| t.category() == &aws_sdk_codepipeline::types::ActionCategory::Approval),
    }
}

/// The names of every pipeline the credentials can see (for validation and the moto test).
pub async fn names(client: &Client) -> Result<Vec<String>, PipelineError> {
    let mut names = Vec::new();
    let mut next = None;
    loop {
        let out =
            client.list_pipelines().set_next_token(next).send().await.map_err(PipelineError::from_sdk)?;
        names.extend(out.pipelines().iter().filter_map(|p| p.name()).map(str::to_owned));
        match out.next_token() {
            Some(token) => next = Some(token.to_owned()),
            None => return Ok(names),
        }
    }
}

/// What a pipeline's declaration says that its state does not: the execution mode, the
/// variables a release may set, the source actions a revision override names, the stages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declaration {
    /// SUPERSEDED, QUEUED or PARALLEL.
    pub mode: String,
    pub variables: Vec<DeclaredVariable>,
    pub source_actions: Vec<String>,
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredVariable {
    pub name: String,
    pub default: Option<String>,
    pub description: Option<String>,
}

/// The pipeline's declaration (GetPipeline).
pub async fn declaration(client: &Client, pipeline: &str) -> Result<Declaration, PipelineError> {
    let out = client.get_pipeline().name(pipeline).send().await.map_err(PipelineError::from_sdk)?;
    let Some(p) = out.pipeline() else { return Ok(Declaration::default()) };
    Ok(Declaration {
        mode: p.execution_mode().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "SUPERSEDED".into()),
        variables: p
            .variables()
            .iter()
            .map(|v| DeclaredVariable {
                name: v.name().to_owned(),
                default: v.default_value().map(str::to_owned),
                description: v.description().map(str::to_owned),
            })
            .collect(),
        source_actions: p
            .stages()
            .first()
            .map(|s| s.actions().iter().map(|a| a.name().to_owned()).collect())
            .unwrap_or_default(),
        stages: p.stages().iter().map(|s| s.name().to_owned()).collect(),
    })
}

/// The stage names of the pipeline's declaration, in order (GetPipeline).
pub async fn stage_names(client: &Client, pipeline: &str) -> Result<Vec<String>, PipelineError> {
    declaration(client, pipeline).await.map(|d| d.stages)
}
