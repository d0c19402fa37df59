//! The operations that steer executions: stop (finish or abandon), retry a failed stage, roll
//! a stage back to an earlier successful execution, and disable or enable a stage transition.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input};
use super::model::{
    ActionRun, ActionStatus, Disabled, Execution, ExecutionMode, ExecutionStatus, Pipeline, Position,
    StageStatus, Stop, Wait,
};
use super::start::new_execution;
use super::{CpError, State};

fn find_execution<'a>(pipeline: &'a mut Pipeline, id: &str) -> Result<&'a mut Execution, CpError> {
    let name = pipeline.name.clone();
    pipeline.execution_mut(id).ok_or_else(|| CpError::PipelineExecutionNotFound(id.to_owned(), name))
}

/// Abandons every action in progress of the execution's current stage, now.
fn abandon(execution: &mut Execution, now: SystemTime) {
    if let Position::In(stage) | Position::Entering(stage) = execution.position
        && let Some(run) = execution.stage_run_mut(stage)
    {
        for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::InProgress) {
            action.status = ActionStatus::Abandoned;
            action.wait = Wait::Nothing;
            action.updated = now;
        }
        run.status = StageStatus::Stopped;
    }
    for check in execution.conditions.iter_mut() {
        super::conditions::abandon(check, now);
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
    if abandon_now || matches!(execution.position, Position::Waiting(_) | Position::Entering(_)) {
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

pub(super) fn stage_of(pipeline: &Pipeline, stage: &str) -> Result<usize, CpError> {
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
    if pipeline.executions.iter().any(|e| e.holds(stage)) {
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
        run.retries.manual += 1;
        run.retries.latest = Some("ManualStageRetry");
    }
    execution.replaced.extend(replaced);
    execution.status = ExecutionStatus::InProgress;
    execution.summary = None;
    execution.stop = None;
    execution.position = Position::In(stage);
    execution.updated = now;
    Ok(json!({ "pipelineExecutionId": id }))
}

pub fn rollback(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let stage_name = input.required_str("stageName")?;
    let target_id = input.required_str("targetPipelineExecutionId")?;
    let pipeline = state.pipeline(name)?;
    let stage = stage_of(pipeline, stage_name)?;
    if pipeline.mode == ExecutionMode::Parallel {
        return Err(CpError::UnableToRollback(format!(
            "Pipeline {name} runs in PARALLEL execution mode, where stages cannot be rolled back"
        ))
        .into());
    }
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
        e.status.running()
            && matches!(e.position, Position::In(s) | Position::Entering(s) | Position::Waiting(s) if s == stage)
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
    let mut execution = new_execution(pipeline, "ManualRollback", caller.arn(), now);
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
