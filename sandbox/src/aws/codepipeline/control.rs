//! The operations that change executions: start (variables, source overrides, idempotency),
//! stop (finish or abandon), retry a failed stage, approve or reject, roll a stage back to an
//! earlier successful execution, and disable or enable a stage transition.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input, ids};
use super::actions;
use super::model::{
    ActionRun, ActionStatus, Behaviour, Disabled, Execution, ExecutionStatus, Pipeline, Position,
    StageStatus, Stop, Wait,
};
use super::{CpError, State};

fn new_execution(pipeline: &Pipeline, trigger: &'static str, caller: &Caller, now: SystemTime) -> Execution {
    Execution {
        id: ids::uuid(),
        status: ExecutionStatus::InProgress,
        summary: None,
        started: now,
        updated: now,
        trigger_type: trigger,
        trigger_detail: caller.arn(),
        rollback_of: None,
        variables: Vec::new(),
        commit: super::repository::Commit {
            id: String::new(),
            message: String::new(),
            author: String::new(),
            date: now,
        },
        image: None,
        position: Position::Waiting(0),
        last_stage: pipeline.stages.len().saturating_sub(1),
        stages: Vec::new(),
        replaced: Vec::new(),
        stop: None,
        request: None,
    }
}

fn resolve_variables(pipeline: &Pipeline, input: &Input) -> Result<Vec<(String, String)>, AwsError> {
    let mut given: Vec<(String, String)> = Vec::new();
    for v in input.structures("variables")? {
        let (name, value) = (v.required_str("name")?, v.required_str("value")?);
        if !pipeline.variables.iter().any(|d| d.name == name) {
            return Err(CpError::Validation(format!(
                "Variable '{name}' is not declared in pipeline '{}'",
                pipeline.name
            ))
            .into());
        }
        if given.iter().any(|(n, _)| n == name) {
            return Err(CpError::Validation(format!("Variable '{name}' is given more than once")).into());
        }
        if value.chars().count() > 1000 {
            return Err(CpError::Validation(format!(
                "The value of variable '{name}' is longer than 1000 characters"
            ))
            .into());
        }
        given.push((name.to_owned(), value.to_owned()));
    }
    pipeline
        .variables
        .iter()
        .map(|d| {
            let value = given
                .iter()
                .find(|(n, _)| *n == d.name)
                .map(|(_, v)| v.clone())
                .or_else(|| d.default.clone());
            value.map(|v| (d.name.clone(), v)).ok_or_else(|| {
                CpError::Validation(format!("Variable '{}' has no default value and was not given", d.name))
                    .into()
            })
        })
        .collect()
}

pub fn start(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("name")?;
    let token = input.str("clientRequestToken")?;
    if let Some(t) = token
        && (t.is_empty() || t.len() > 128 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(AwsError::constraint(
            "clientRequestToken",
            t,
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$",
        ));
    }
    let fingerprint =
        json!({ "variables": input.value("variables"), "sourceRevisions": input.value("sourceRevisions") });
    let pipeline = state.pipeline(name)?;
    if let Some(t) = token
        && let Some(existing) =
            pipeline.executions.iter().find(|e| e.request.as_ref().is_some_and(|(r, _)| r == t))
    {
        if existing.request.as_ref().is_some_and(|(_, f)| *f == fingerprint) {
            return Ok(json!({ "pipelineExecutionId": existing.id }));
        }
        return Err(CpError::Conflict(format!(
            "clientRequestToken {t} already started execution {} with different parameters",
            existing.id
        ))
        .into());
    }
    let variables = resolve_variables(pipeline, input)?;
    let source = &pipeline.stages[0].actions[0];
    let repository_name = source.config("RepositoryName").unwrap_or("");
    let repository = state.repositories.get(repository_name);
    let mut commit = repository.and_then(|r| r.head()).cloned();
    for o in input.structures("sourceRevisions")? {
        let action = o.required_str("actionName")?;
        let kind = o.required_str("revisionType")?;
        let revision = o.required_str("revisionValue")?;
        if !pipeline.stages[0].actions.iter().any(|a| a.name == action) {
            return Err(CpError::Validation(format!(
                "sourceRevisions: '{action}' is not a source action of pipeline '{name}'"
            ))
            .into());
        }
        if kind != "COMMIT_ID" {
            return Err(CpError::Validation(format!(
                "sourceRevisions: revisionType {kind} does not apply to CodeCommit source actions; use COMMIT_ID"
            ))
            .into());
        }
        let found = repository.and_then(|r| r.find(revision)).ok_or_else(|| {
            CpError::Validation(format!(
                "sourceRevisions: commit {revision} not found in repository {repository_name}"
            ))
        })?;
        commit = Some(found.clone());
    }
    let Some(commit) = commit else {
        let branch = repository.map_or("main", |r| r.branch.as_str());
        return Err(CpError::Validation(format!(
            "Repository {repository_name} has no commits on branch {branch} to build"
        ))
        .into());
    };
    let now = SystemTime::now();
    let mut execution = new_execution(pipeline, "StartPipelineExecution", caller, now);
    execution.variables = variables;
    execution.commit = commit;
    execution.request = token.map(|t| (t.to_owned(), fingerprint));
    let id = execution.id.clone();
    state.pipeline_mut(name)?.executions.push(execution);
    Ok(json!({ "pipelineExecutionId": id }))
}

fn find_execution<'a>(pipeline: &'a mut Pipeline, id: &str) -> Result<&'a mut Execution, CpError> {
    let name = pipeline.name.clone();
    pipeline.execution_mut(id).ok_or_else(|| CpError::PipelineExecutionNotFound(id.to_owned(), name))
}

/// Abandons every action in progress of the execution's current stage, now.
fn abandon(execution: &mut Execution, now: SystemTime) {
    if let Position::In(stage) = execution.position
        && let Some(run) = execution.stage_run_mut(stage)
    {
        for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::InProgress) {
            action.status = ActionStatus::Abandoned;
            action.wait = Wait::Nothing;
            action.updated = now;
        }
        run.status = StageStatus::Stopped;
    }
    execution.status = ExecutionStatus::Stopped;
    execution.summary = execution.stop.as_ref().and_then(|s| s.reason.clone());
    execution.position = Position::Done;
    execution.updated = now;
}

pub fn stop(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let id = input.required_str("pipelineExecutionId")?;
    let abandon_now = input.bool("abandon")?.unwrap_or(false);
    let reason = input.str("reason")?;
    if reason.is_some_and(|r| r.chars().count() > 200) {
        return Err(AwsError::constraint(
            "reason",
            "...",
            "Member must have length less than or equal to 200",
        ));
    }
    let execution = find_execution(state.pipeline_mut(name)?, id)?;
    match execution.status {
        ExecutionStatus::Stopping if !abandon_now => {
            return Err(CpError::DuplicatedStop(format!(
                "Execution {id} is already stopping; stop it with abandon to end it at once"
            ))
            .into());
        }
        ExecutionStatus::InProgress | ExecutionStatus::Stopping => {}
        other => {
            return Err(CpError::NotStoppable(format!(
                "Execution {id} is {}: only an execution in progress can be stopped",
                other.as_str()
            ))
            .into());
        }
    }
    let now = SystemTime::now();
    execution.stop = Some(Stop { reason: reason.map(str::to_owned) });
    if abandon_now || matches!(execution.position, Position::Waiting(_)) {
        abandon(execution, now);
    } else {
        execution.status = ExecutionStatus::Stopping;
        execution.updated = now;
        if let Position::In(stage) = execution.position
            && let Some(run) = execution.stage_run_mut(stage)
        {
            run.status = StageStatus::Stopping;
        }
    }
    Ok(json!({ "pipelineExecutionId": id }))
}

fn stage_of(pipeline: &Pipeline, stage: &str) -> Result<usize, CpError> {
    pipeline.stage_index(stage).ok_or_else(|| CpError::StageNotFound(stage.to_owned(), pipeline.name.clone()))
}

pub fn retry(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let stage_name = input.required_str("stageName")?;
    let id = input.required_str("pipelineExecutionId")?;
    let all = match input.required_str("retryMode")? {
        "FAILED_ACTIONS" => false,
        "ALL_ACTIONS" => true,
        other => {
            return Err(AwsError::constraint(
                "retryMode",
                other,
                "Member must satisfy enum value set: [FAILED_ACTIONS, ALL_ACTIONS]",
            ));
        }
    };
    let entered = state.next_sequence();
    let pipeline = state.pipeline_mut(name)?;
    let stage = stage_of(pipeline, stage_name)?;
    let not_retryable = |why: String| -> AwsError { CpError::StageNotRetryable(why).into() };
    let execution = pipeline
        .execution(id)
        .ok_or_else(|| CpError::PipelineExecutionNotFound(id.to_owned(), name.to_owned()))?;
    let run = execution.stage_run(stage);
    if execution.status.running()
        || !run.is_some_and(|r| matches!(r.status, StageStatus::Failed | StageStatus::Stopped))
    {
        return Err(not_retryable(format!(
            "Stage {stage_name} of execution {id} has not failed or stopped; there is nothing to retry"
        )));
    }
    if pipeline.latest_in_stage(stage).is_some_and(|(latest, _)| latest.id != id) {
        return Err(not_retryable(format!(
            "A newer execution has entered stage {stage_name}; only the latest execution in a stage can be retried"
        )));
    }
    if pipeline.executions.iter().any(|e| e.status.running() && e.position == Position::In(stage)) {
        return Err(not_retryable(format!("Stage {stage_name} is running another execution")));
    }
    let now = SystemTime::now();
    let execution = find_execution(pipeline, id)?;
    let mut replaced = Vec::new();
    if let Some(run) = execution.stage_run_mut(stage) {
        for action in run.actions.iter_mut() {
            let rerun = all || matches!(action.status, ActionStatus::Failed | ActionStatus::Abandoned);
            if rerun && action.status != ActionStatus::Pending {
                replaced.push((stage, action.clone()));
                *action = ActionRun::pending(action.action, now);
            }
        }
        run.status = StageStatus::InProgress;
        run.entered = entered;
    }
    execution.replaced.extend(replaced);
    execution.status = ExecutionStatus::InProgress;
    execution.summary = None;
    execution.stop = None;
    execution.position = Position::In(stage);
    execution.updated = now;
    Ok(json!({ "pipelineExecutionId": id }))
}

pub fn approve(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let stage_name = input.required_str("stageName")?;
    let action_name = input.required_str("actionName")?;
    let token = input.required_str("token")?;
    let result = input.required_structure("result")?;
    let summary = result.required_str("summary")?;
    let approved = match result.required_str("status")? {
        "Approved" => true,
        "Rejected" => false,
        other => {
            return Err(AwsError::constraint(
                "result.status",
                other,
                "Member must satisfy enum value set: [Approved, Rejected]",
            ));
        }
    };
    if summary.chars().count() > 512 {
        return Err(AwsError::constraint(
            "result.summary",
            "...",
            "Member must have length less than or equal to 512",
        ));
    }
    if !ids::is_uuid(token) {
        return Err(AwsError::constraint(
            "token",
            token,
            "Member must satisfy regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ));
    }
    let pipeline = state.pipeline_mut(name)?;
    let stage = stage_of(pipeline, stage_name)?;
    let action = pipeline.stages[stage]
        .actions
        .iter()
        .position(|a| a.name == action_name)
        .ok_or_else(|| CpError::ActionNotFound(action_name.to_owned(), stage_name.to_owned()))?;
    if pipeline.stages[stage].actions[action].behaviour != Behaviour::Approval {
        return Err(CpError::Validation(format!("Action {action_name} is not a manual approval")).into());
    }
    let now = SystemTime::now();
    for execution in pipeline.executions.iter_mut() {
        let completed = execution
            .replaced
            .iter()
            .any(|(s, a)| *s == stage && a.action == action && a.token.as_deref() == Some(token));
        if completed {
            return Err(CpError::ApprovalAlreadyCompleted(action_name.to_owned()).into());
        }
        let running = execution.status.running();
        let Some(run) = execution.stage_run_mut(stage) else { continue };
        let Some(approval) =
            run.actions.iter_mut().find(|a| a.action == action && a.token.as_deref() == Some(token))
        else {
            continue;
        };
        if approval.status != ActionStatus::InProgress || !running {
            return Err(CpError::ApprovalAlreadyCompleted(action_name.to_owned()).into());
        }
        approval.updated_by = Some(caller.arn());
        if approved {
            actions::succeed(approval, now, summary.to_owned());
        } else {
            actions::fail(approval, now, "Rejected", format!("Rejected by {}: {summary}", caller.arn()));
            approval.summary = Some(summary.to_owned());
        }
        return Ok(json!({ "approvedAt": ids::epoch(now) }));
    }
    Err(CpError::InvalidApprovalToken(action_name.to_owned()).into())
}

pub fn rollback(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let stage_name = input.required_str("stageName")?;
    let target_id = input.required_str("targetPipelineExecutionId")?;
    let pipeline = state.pipeline(name)?;
    let stage = stage_of(pipeline, stage_name)?;
    let target = pipeline
        .execution(target_id)
        .ok_or_else(|| CpError::PipelineExecutionNotFound(target_id.to_owned(), name.to_owned()))?;
    if target.stage_run(stage).is_none_or(|r| r.status != StageStatus::Succeeded) {
        return Err(CpError::UnableToRollback(format!(
            "Execution {target_id} did not succeed in stage {stage_name}; roll back to one that did"
        ))
        .into());
    }
    if pipeline.executions.iter().any(|e| {
        e.status.running() && matches!(e.position, Position::In(s) | Position::Waiting(s) if s == stage)
    }) {
        return Err(CpError::Conflict(format!(
            "Stage {stage_name} has an execution in progress; stop it or let it finish first"
        ))
        .into());
    }
    if pipeline.latest_in_stage(stage).is_some_and(|(latest, _)| latest.id == target_id) {
        return Err(CpError::UnableToRollback(format!(
            "Execution {target_id} is already the latest in stage {stage_name}"
        ))
        .into());
    }
    let now = SystemTime::now();
    let mut execution = new_execution(pipeline, "ManualRollback", caller, now);
    execution.rollback_of = Some(target_id.to_owned());
    execution.commit = target.commit.clone();
    execution.image = target.image.clone();
    execution.variables = target.variables.clone();
    execution.position = Position::Waiting(stage);
    execution.last_stage = stage;
    let id = execution.id.clone();
    state.pipeline_mut(name)?.executions.push(execution);
    Ok(json!({ "pipelineExecutionId": id }))
}

/// The stage whose inbound transition a request names (an outbound one is the next stage's
/// inbound). The first stage has none.
fn transition(pipeline: &Pipeline, input: &Input) -> Result<usize, AwsError> {
    let stage_name = input.required_str("stageName")?;
    let stage = stage_of(pipeline, stage_name)?;
    let target = match input.required_str("transitionType")? {
        "Inbound" => stage,
        "Outbound" => stage + 1,
        other => {
            return Err(AwsError::constraint(
                "transitionType",
                other,
                "Member must satisfy enum value set: [Inbound, Outbound]",
            ));
        }
    };
    if target == 0 || target >= pipeline.stages.len() {
        return Err(CpError::Validation(format!("Stage {stage_name} has no such transition")).into());
    }
    Ok(target)
}

pub fn disable_transition(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let reason = input.required_str("reason")?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || " !@().*?-".contains(c);
    if reason.is_empty() || reason.chars().count() > 300 || !reason.chars().all(allowed) {
        return Err(AwsError::constraint(
            "reason",
            reason,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9!@ \\(\\)\\.\\*\\?\\-]+ and have length between 1 and 300",
        ));
    }
    let pipeline = state.pipeline_mut(name)?;
    let stage = transition(pipeline, input)?;
    let disabled = Disabled { reason: reason.to_owned(), by: caller.arn(), at: SystemTime::now() };
    pipeline.disabled.insert(stage, disabled);
    Ok(json!({}))
}

pub fn enable_transition(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let pipeline = state.pipeline_mut(name)?;
    let stage = transition(pipeline, input)?;
    pipeline.disabled.remove(&stage);
    Ok(json!({}))
}
