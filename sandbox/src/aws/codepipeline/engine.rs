//! The clock: every tick, executions waiting at a stage boundary are superseded or let in, and
//! the actions of running stages start (by run order), are polled, and finish; a stage that
//! finishes moves its execution on, fails it, or stops it.

use std::time::SystemTime;

use super::actions::{self, Clock, Subject};
use super::model::{ActionRun, ActionStatus, ExecutionStatus, Pipeline, Position, StageRun, StageStatus};
use super::{State, model::StageDecl};
use crate::kubernetes::Store;
use crate::registry::Registry;

pub fn advance(state: &mut State, store: &Store, registry: &Registry) {
    let now = SystemTime::now();
    let State { pipelines, timings, injected, jobs, sequence, .. } = state;
    let mut clock = Clock { now, timings: *timings, injected, jobs, store, registry };
    for pipeline in pipelines.values_mut() {
        supersede(pipeline, now);
        enter(pipeline, sequence, now);
        for index in 0..pipeline.executions.len() {
            run_stage(pipeline, index, &mut clock);
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
/// execution holds.
fn enter(pipeline: &mut Pipeline, sequence: &mut u64, now: SystemTime) {
    for i in 0..pipeline.executions.len() {
        let Position::Waiting(stage) = pipeline.executions[i].position else { continue };
        if pipeline.executions[i].status != ExecutionStatus::InProgress
            || pipeline.disabled.contains_key(&stage)
        {
            continue;
        }
        let held =
            pipeline.executions.iter().any(|e| e.status.running() && e.position == Position::In(stage));
        if held {
            continue;
        }
        *sequence += 1;
        let actions = (0..pipeline.stages[stage].actions.len()).map(|a| ActionRun::pending(a, now)).collect();
        let e = &mut pipeline.executions[i];
        e.stages.retain(|r| r.stage != stage);
        e.stages.push(StageRun { stage, status: StageStatus::InProgress, entered: *sequence, actions });
        e.position = Position::In(stage);
        e.updated = now;
    }
}

fn run_stage(pipeline: &mut Pipeline, index: usize, clock: &mut Clock) {
    let Pipeline { name, stages, executions, .. } = pipeline;
    let execution = &mut executions[index];
    let Position::In(stage) = execution.position else { return };
    if !execution.status.running() {
        return;
    }
    let decl: &StageDecl = &stages[stage];
    let stopping = execution.status == ExecutionStatus::Stopping;
    let last_stage = execution.last_stage;
    let (id, commit) = (execution.id.clone(), execution.commit.clone());
    let Some(run) = execution.stages.iter_mut().find(|r| r.stage == stage) else { return };
    let mut subject =
        Subject { pipeline: name, execution: &id, stage, commit: &commit, image: &mut execution.image };
    for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::InProgress) {
        actions::poll(action, &decl.actions[action.action], &mut subject, clock);
    }
    if run.actions.iter().any(|a| a.status == ActionStatus::InProgress) {
        return;
    }
    let now = clock.now;
    if let Some(failed) = run.actions.iter().find(|a| a.status == ActionStatus::Failed) {
        let why = failed.error.as_ref().map(|(_, m)| m.clone()).or_else(|| failed.summary.clone());
        run.status = StageStatus::Failed;
        execution.status = ExecutionStatus::Failed;
        execution.summary = why;
        execution.position = Position::Done;
        execution.updated = now;
        return;
    }
    if stopping {
        run.status = StageStatus::Stopped;
        execution.status = ExecutionStatus::Stopped;
        execution.summary = execution.stop.as_ref().and_then(|s| s.reason.clone());
        execution.position = Position::Done;
        execution.updated = now;
        return;
    }
    let next_order = run
        .actions
        .iter()
        .filter(|a| a.status == ActionStatus::Pending)
        .map(|a| decl.actions[a.action].run_order)
        .min();
    match next_order {
        Some(order) => {
            for action in run.actions.iter_mut().filter(|a| a.status == ActionStatus::Pending) {
                let declared = &decl.actions[action.action];
                if declared.run_order == order {
                    actions::start(action, declared, &mut subject, clock);
                }
            }
            execution.updated = now;
        }
        None => {
            run.status = StageStatus::Succeeded;
            execution.position =
                if stage >= last_stage { Position::Done } else { Position::Waiting(stage + 1) };
            if stage >= last_stage {
                execution.status = ExecutionStatus::Succeeded;
            }
            execution.updated = now;
        }
    }
}
