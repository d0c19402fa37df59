//! PutApprovalResult: the token GetPipelineState shows for a waiting manual approval decides
//! it, once; a spent token is `ApprovalAlreadyCompletedException`, any other
//! `InvalidApprovalTokenException`.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input, ids};
use super::actions;
use super::control::stage_of;
use super::model::{ActionStatus, Behaviour};
use super::{CpError, State};

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
