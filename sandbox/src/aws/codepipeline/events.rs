//! The state-change events CodePipeline publishes to EventBridge: "CodePipeline Pipeline
//! Execution State Change" and its stage and action siblings, in EventBridge's envelope. The
//! engine compares every execution, stage run and action run with what it last published
//! after each tick, so every way a status moves (the clock, start, stop, retry, approvals,
//! rollback) is published once, without each operation having to remember to.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::State;
use super::model::{ActionStatus, ExecutionStatus, StageStatus};
use crate::aws::ids;

pub const EXECUTION: &str = "CodePipeline Pipeline Execution State Change";
pub const STAGE: &str = "CodePipeline Stage Execution State Change";
pub const ACTION: &str = "CodePipeline Action Execution State Change";

/// An execution, one of its stages, or one action of that stage.
type Key = (String, String, Option<usize>, Option<usize>);

/// The statuses last published.
#[derive(Default)]
pub struct Published {
    seen: HashMap<Key, &'static str>,
}

/// What every status is now, without publishing: what was there before the clock started
/// (the demo's history, a restored state) is not news.
pub fn baseline(state: &mut State) {
    let _ = changes(state);
}

/// The events of everything whose status moved since the last call, each an EventBridge event
/// as a queue target receives it (the message body), oldest change first.
pub fn changes(state: &mut State) -> Vec<String> {
    let State { pipelines, published, .. } = state;
    let now = crate::kubernetes::rfc3339(SystemTime::now());
    let mut out = Vec::new();
    for pipeline in pipelines.values() {
        let version = pipeline.declaration.get("version").and_then(Value::as_i64).unwrap_or(1);
        let envelope = |detail_type: &str, detail: Value| {
            json!({
                "version": "0",
                "id": ids::uuid(),
                "detail-type": detail_type,
                "source": "aws.codepipeline",
                "account": ids::ACCOUNT,
                "time": now,
                "region": ids::DEFAULT_REGION,
                "resources": [format!("arn:aws:codepipeline:{}:{}:{}", ids::DEFAULT_REGION, ids::ACCOUNT, pipeline.name)],
                "detail": detail,
            })
            .to_string()
        };
        for execution in &pipeline.executions {
            let key = |stage: Option<usize>, action: Option<usize>| {
                (pipeline.name.clone(), execution.id.clone(), stage, action)
            };
            let base = json!({
                "pipeline": pipeline.name,
                "execution-id": execution.id,
                "version": version,
                "pipeline-execution-attempt": 1,
            });
            let with = |extra: Value| {
                let mut detail = base.clone();
                if let (Some(d), Some(e)) = (detail.as_object_mut(), extra.as_object()) {
                    d.extend(e.clone());
                }
                detail
            };
            let moved = |seen: &mut HashMap<Key, &'static str>, key: Key, now: &'static str| {
                let before = seen.insert(key, now);
                (before != Some(now)).then_some(before)
            };
            let exec_now = execution.status.as_str();
            let exec_event = moved(&mut published.seen, key(None, None), exec_now).map(|before| {
                let state = execution_state(execution.status, before);
                let mut detail = with(json!({ "state": state }));
                if state == "STARTED" {
                    detail["execution-trigger"] = json!({
                        "trigger-type": execution.trigger_type,
                        "trigger-detail": execution.trigger_detail,
                    });
                }
                (state, envelope(EXECUTION, detail))
            });
            let mut stage_events = Vec::new();
            for run in &execution.stages {
                let Some(decl) = pipeline.stages.get(run.stage) else { continue };
                let stage = |extra: Value| {
                    let mut detail = with(json!({ "stage": decl.name }));
                    if let (Some(d), Some(e)) = (detail.as_object_mut(), extra.as_object()) {
                        d.extend(e.clone());
                    }
                    detail
                };
                let stage_event = moved(&mut published.seen, key(Some(run.stage), None), run.status.as_str())
                    .map(|before| {
                        let state = stage_state(run.status, before);
                        (state, envelope(STAGE, stage(json!({ "state": state }))))
                    });
                let mut action_events = Vec::new();
                for action in &run.actions {
                    let status = match action.status {
                        ActionStatus::Pending => "Pending",
                        other => other.as_str(),
                    };
                    let Some(declared) = decl.actions.get(action.action) else { continue };
                    if moved(&mut published.seen, key(Some(run.stage), Some(action.action)), status).is_none()
                        || action.status == ActionStatus::Pending
                    {
                        continue;
                    }
                    let type_id = &declared.type_id;
                    let mut detail = stage(json!({
                        "action": declared.name,
                        "state": action_state(action.status),
                        "region": ids::DEFAULT_REGION,
                        "type": {
                            "owner": type_id.get("owner"),
                            "provider": type_id.get("provider"),
                            "category": type_id.get("category"),
                            "version": type_id.get("version"),
                        },
                    }));
                    if action.status != ActionStatus::InProgress {
                        detail["execution-result"] = json!({
                            "external-execution-id": action.external_id,
                            "external-execution-summary": action.summary,
                        });
                    }
                    action_events.push(envelope(ACTION, detail));
                }
                around(&mut stage_events, stage_event, action_events);
            }
            around(&mut out, exec_event, stage_events);
        }
    }
    out
}

/// Appends `inner` (a stage's action events, or an execution's stage events) with the event of
/// what holds them: before them when it starts, after them when it ends.
fn around(out: &mut Vec<String>, outer: Option<(&str, String)>, inner: Vec<String>) {
    match outer {
        Some(("STARTED" | "RESUMED", event)) => {
            out.push(event);
            out.extend(inner);
        }
        Some((_, event)) => {
            out.extend(inner);
            out.push(event);
        }
        None => out.extend(inner),
    }
}

/// EventBridge's words for an execution's status; a failed or stopped execution running again
/// (a retry) is RESUMED.
fn execution_state(status: ExecutionStatus, before: Option<&str>) -> &'static str {
    match status {
        ExecutionStatus::InProgress if matches!(before, Some("Failed" | "Stopped")) => "RESUMED",
        ExecutionStatus::InProgress => "STARTED",
        ExecutionStatus::Stopping => "STOPPING",
        ExecutionStatus::Stopped => "STOPPED",
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Superseded => "SUPERSEDED",
        ExecutionStatus::Failed => "FAILED",
    }
}

fn stage_state(status: StageStatus, before: Option<&str>) -> &'static str {
    match status {
        StageStatus::InProgress if matches!(before, Some("Failed" | "Stopped")) => "RESUMED",
        StageStatus::InProgress => "STARTED",
        StageStatus::Stopping => "STOPPING",
        StageStatus::Stopped => "STOPPED",
        StageStatus::Succeeded => "SUCCEEDED",
        StageStatus::Failed => "FAILED",
        StageStatus::Skipped => "SKIPPED",
    }
}

fn action_state(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Pending | ActionStatus::InProgress => "STARTED",
        ActionStatus::Abandoned => "ABANDONED",
        ActionStatus::Succeeded => "SUCCEEDED",
        ActionStatus::Failed => "FAILED",
    }
}
