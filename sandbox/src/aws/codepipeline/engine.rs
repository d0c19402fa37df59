//! The clock: every tick, executions waiting at a stage boundary are superseded (SUPERSEDED
//! mode) or let in (one at a time per stage unless the mode is PARALLEL), entry conditions are
//! checked, the actions of running stages start (by run order), are polled, and finish; a stage
//! whose actions all succeeded checks its success condition; a stage that finishes moves its
//! execution on, fails it (retrying it once or rolling the stage back when its `onFailure` says
//! so), or stops it.
//!
//! Rollback executions skip stage conditions: a rollback must not wait on the alarm that
//! caused it.

use std::time::SystemTime;

use super::State;
use super::actions::{self, Clock, Subject};
use super::conditions::{self, Context};
use super::model::{
    ActionRun, ActionStatus, ConditionKind, ConditionResult, ConditionStatus, Execution, ExecutionMode,
    ExecutionStatus, Pipeline, Position, StageDecl, StageRun, StageStatus,
};
use super::start::new_execution;
use crate::kubernetes::Store;
use crate::registry::Registry;

pub fn advance(state: &mut State, store: &Store, registry: &Registry) {
    let now = SystemTime::now();
    let State { pipelines, timings, injected, jobs, sequence, alarms, .. } = state;
    let mut clock = Clock { now, timings: *timings, injected, jobs, store, registry };
    let cx = Context { now, timings: *timings, alarms };
    for pipeline in pipelines.values_mut() {
        if pipeline.mode == ExecutionMode::Superseded {
            supersede(pipeline, now);
        }
        enter(pipeline, sequence, &cx);
        for index in 0..pipeline.executions.len() {
            check_entry(pipeline, index, &cx);
            if let Some(stage) = run_stage(pipeline, index, sequence, &mut clock, &cx) {
                roll_back(pipeline, index, stage, now);
            }
        }
    }
}

/// In SUPERSEDED mode only the newest execution waiting at a boundary keeps waiting.
fn supersede(pipeline: &mut Pipeline, now: SystemTime) {
    for stage in 0..pipeline.stages.len() {
        let waiting: Vec<usize> = (0..pipeline.executions.len())
            .filter(|&i| {
                let e = &pipeline.executions[i];
                e.status == ExecutionStatus::InProgress && e.position == Position::Waiting(stage)
            })
            .collect();
        let Some((&newest, older)) = waiting.split_last() else { continue };
        let newest = pipeline.executions[newest].id.clone();
        for &i in older {
            let e = &mut pipeline.executions[i];
            e.status = ExecutionStatus::Superseded;
            e.summary = Some(format!("Superseded by execution {newest}"));
            e.position = Position::Done;
            e.updated = now;
        }
    }
}

/// Lets waiting executions into stages whose transition is enabled and that no other running
/// execution holds (any number at once in PARALLEL mode); in a stage with an entry condition,
/// the actions wait until it is met.
fn enter(pipeline: &mut Pipeline, sequence: &mut u64, cx: &Context) {
    for i in 0..pipeline.executions.len() {
        let Position::Waiting(stage) = pipeline.executions[i].position else { continue };
        if pipeline.executions[i].status != ExecutionStatus::InProgress
            || pipeline.disabled.contains_key(&stage)
        {
            continue;
        }
        if pipeline.mode != ExecutionMode::Parallel && pipeline.executions.iter().any(|e| e.holds(stage)) {
            continue;
        }
        // A rollback does not wait on the conditions (the alarm that caused it may still fire).
        let entry = pipeline.stages[stage]
            .before_entry
            .clone()
            .filter(|_| pipeline.executions[i].rollback_of.is_none());
        start_stage(pipeline, i, stage, sequence, cx.now);
        if let Some(decl) = entry {
            *sequence += 1;
            let execution = &pipeline.executions[i];
            let run = conditions::start(
                &decl,
                stage,
                ConditionKind::BeforeEntry,
                *sequence,
                &pipeline.stages,
                execution,
                cx,
            );
            let e = &mut pipeline.executions[i];
            e.conditions.push(run);
            // The stage is entered; its actions wait for the entry condition.
            e.position = Position::Entering(stage);
        }
    }
}

fn start_stage(pipeline: &mut Pipeline, index: usize, stage: usize, sequence: &mut u64, now: SystemTime) {
    *sequence += 1;
    let actions = (0..pipeline.stages[stage].actions.len()).map(|a| ActionRun::pending(a, now)).collect();
    let e = &mut pipeline.executions[index];
    e.stages.retain(|r| r.stage != stage);
    e.stages.push(StageRun::new(stage, StageStatus::InProgress, *sequence, actions));
    e.position = Position::In(stage);
    e.updated = now;
}

/// Moves on from a stage that is done, or ends the execution after its last.
fn next_stage(e: &mut Execution, stage: usize, now: SystemTime) {
    if stage >= e.last_stage {
        e.position = Position::Done;
        e.status = ExecutionStatus::Succeeded;
    } else {
        e.position = Position::Waiting(stage + 1);
    }
    e.updated = now;
}

/// An execution checking an entry condition: let in when met or overridden; otherwise FAIL
/// fails it and SKIP skips the stage.
fn check_entry(pipeline: &mut Pipeline, index: usize, cx: &Context) {
    let Position::Entering(stage) = pipeline.executions[index].position else { return };
    if !pipeline.executions[index].status.running() {
        return;
    }
    let Some(decl) = pipeline.stages[stage].before_entry.clone() else { return };
    let e = &mut pipeline.executions[index];
    let Some(run) = e.condition_mut(stage, ConditionKind::BeforeEntry) else { return };
    conditions::poll(run, &decl, cx);
    let (status, summary) = (run.status, run.summary.clone().unwrap_or_default());
    let now = cx.now;
    match status {
        ConditionStatus::InProgress | ConditionStatus::Abandoned => {}
        ConditionStatus::Succeeded | ConditionStatus::Overridden => {
            e.position = Position::In(stage);
            e.updated = now;
        }
        ConditionStatus::Failed => {
            let stage_name = pipeline.stages[stage].name.clone();
            let e = &mut pipeline.executions[index];
            let skip = decl.result == ConditionResult::Skip;
            if let Some(run) = e.stage_run_mut(stage) {
                run.status = if skip { StageStatus::Skipped } else { StageStatus::Failed };
            }
            if skip {
                next_stage(e, stage, now);
            } else {
                e.status = ExecutionStatus::Failed;
                e.summary = Some(format!("The entry condition of stage {stage_name} was not met: {summary}"));
                e.position = Position::Done;
                e.updated = now;
            }
        }
    }
}

/// Runs the execution's current stage one tick; returns the stage to roll back when it failed
/// and rolls back by itself.
fn run_stage(
    pipeline: &mut Pipeline,
    index: usize,
    sequence: &mut u64,
    clock: &mut Clock,
    cx: &Context,
) -> Option<usize> {
    let Pipeline { name, stages, executions, .. } = pipeline;
    let execution = &mut executions[index];
    let Position::In(stage) = execution.position else { return None };
    if !execution.status.running() {
        return None;
    }
    let decl: &StageDecl = &stages[stage];
    let stopping = execution.status == ExecutionStatus::Stopping;
    let (id, commit) = (execution.id.clone(), execution.commit.clone());
    let run = execution.stages.iter_mut().find(|r| r.stage == stage)?;
    let mut subject =
        Subject { pipeline: name, execution: &id, stage, commit: &commit, image: &mut execution.image };
    for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::InProgress) {
        actions::poll(action, &decl.actions[action.action], &mut subject, clock);
    }
    if run.actions.iter().any(|a| a.status == ActionStatus::InProgress) {
        return None;
    }
    let now = clock.now;
    if let Some(failed) = run.actions.iter().find(|a| a.status == ActionStatus::Failed) {
        let why = failed.error.as_ref().map(|(_, m)| m.clone()).or_else(|| failed.summary.clone());
        return fail_stage(execution, decl, stage, why, sequence, now);
    }
    if stopping {
        run.status = StageStatus::Stopped;
        for check in execution.conditions.iter_mut() {
            conditions::abandon(check, now);
        }
        execution.status = ExecutionStatus::Stopped;
        execution.summary = execution.stop.as_ref().and_then(|s| s.reason.clone());
        execution.position = Position::Done;
        execution.updated = now;
        return None;
    }
    let next_order = run
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Pending)
        .map(|a| decl.actions[a.action].run_order)
        .min();
    if let Some(order) = next_order {
        for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::Pending) {
            let declared = &decl.actions[action.action];
            if declared.run_order == order {
                actions::start(action, declared, &mut subject, clock);
            }
        }
        execution.updated = now;
        return None;
    }
    let entered = run.entered;
    // Every action succeeded: the success condition (checked once per run of the stage).
    if let Some(condition) = decl.on_success.as_ref().filter(|_| execution.rollback_of.is_none()) {
        let checked = execution
            .conditions
            .iter()
            .rposition(|c| c.stage == stage && c.kind == ConditionKind::OnSuccess && c.sequence > entered);
        let Some(checked) = checked else {
            *sequence += 1;
            let check = conditions::start(
                condition,
                stage,
                ConditionKind::OnSuccess,
                *sequence,
                stages,
                execution,
                cx,
            );
            execution.conditions.push(check);
            execution.updated = now;
            return None;
        };
        let check = &mut execution.conditions[checked];
        conditions::poll(check, condition, cx);
        match check.status {
            ConditionStatus::InProgress | ConditionStatus::Abandoned => return None,
            ConditionStatus::Succeeded | ConditionStatus::Overridden => {}
            ConditionStatus::Failed => {
                let why = format!(
                    "The success condition of stage {} was not met: {}",
                    decl.name,
                    check.summary.clone().unwrap_or_default()
                );
                let rollback = fail_stage(execution, decl, stage, Some(why), sequence, now);
                if execution.status.running() {
                    return None; // retried
                }
                let engaged = condition.result == ConditionResult::Rollback;
                return rollback.or(engaged.then_some(stage));
            }
        }
    }
    if let Some(run) = execution.stage_run_mut(stage) {
        run.status = StageStatus::Succeeded;
    }
    next_stage(execution, stage, now);
    None
}

/// A stage failed: retried once when its `onFailure` says RETRY, otherwise the execution
/// fails; returns the stage to roll back when `onFailure` says ROLLBACK.
fn fail_stage(
    execution: &mut Execution,
    decl: &StageDecl,
    stage: usize,
    why: Option<String>,
    sequence: &mut u64,
    now: SystemTime,
) -> Option<usize> {
    let on_failure = decl.on_failure.as_ref();
    let run = execution.stage_run_mut(stage)?;
    if let Some(retry) = on_failure.filter(|f| f.result == ConditionResult::Retry)
        && run.retries.automatic == 0
    {
        let mut replaced = Vec::new();
        for action in run.actions.iter_mut() {
            let again =
                retry.retry_all || matches!(action.status, ActionStatus::Failed | ActionStatus::Abandoned);
            if again && action.status != ActionStatus::Pending {
                replaced.push((stage, action.clone()));
                *action = ActionRun::pending(action.action, now);
            }
        }
        run.retries.automatic += 1;
        run.retries.latest = Some("AutomatedStageRetry");
        // A new run of the stage: its success condition is checked again.
        *sequence += 1;
        run.entered = *sequence;
        execution.replaced.extend(replaced);
        execution.updated = now;
        return None;
    }
    run.status = StageStatus::Failed;
    execution.status = ExecutionStatus::Failed;
    execution.summary = why;
    execution.position = Position::Done;
    execution.updated = now;
    let rolls_back = on_failure.is_some_and(|f| f.result == ConditionResult::Rollback);
    (rolls_back && execution.rollback_of.is_none()).then_some(stage)
}

/// Starts an automated rollback of `stage` to the newest other execution that succeeded in it.
fn roll_back(pipeline: &mut Pipeline, failed: usize, stage: usize, now: SystemTime) {
    let failed_id = pipeline.executions[failed].id.clone();
    let target = pipeline
        .executions
        .iter()
        .filter(|e| e.id != failed_id)
        .filter_map(|e| e.stage_run(stage).filter(|r| r.status == StageStatus::Succeeded).map(|r| (e, r)))
        .max_by_key(|(_, r)| r.entered)
        .map(|(e, _)| e.clone());
    let Some(target) = target else {
        let e = &mut pipeline.executions[failed];
        let why = e.summary.take().unwrap_or_default();
        e.summary = Some(format!("{why} (no earlier successful execution of the stage to roll back to)"));
        return;
    };
    let mut execution = new_execution(pipeline, "AutomatedRollback", failed_id, now);
    execution.rollback_of = Some(target.id.clone());
    execution.commit = target.commit.clone();
    execution.image = target.image.clone();
    execution.variables = target.variables.clone();
    execution.position = Position::Waiting(stage);
    execution.last_stage = stage;
    pipeline.executions.push(execution);
}
