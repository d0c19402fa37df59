//! StartPipelineExecution: resolves the declared variables, picks the commit (the branch head
//! or a `sourceRevisions` override) and queues the execution at the first stage; a repeated
//! `clientRequestToken` returns the execution it started before.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input, ids};
use super::model::{Execution, ExecutionStatus, Pipeline, Position};
use super::{CpError, State};

pub(super) fn new_execution(
    pipeline: &Pipeline,
    trigger: &'static str,
    detail: String,
    now: SystemTime,
) -> Execution {
    Execution {
        id: ids::uuid(),
        status: ExecutionStatus::InProgress,
        summary: None,
        started: now,
        updated: now,
        trigger_type: trigger,
        trigger_detail: detail,
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
        conditions: Vec::new(),
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
    // The repositories have one branch each: a source on another branch finds no commit.
    let branch = source.config("BranchName").unwrap_or("main");
    let mut commit = repository.filter(|r| r.branch == branch).and_then(|r| r.head()).cloned();
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
    let now = SystemTime::now();
    let mut execution = new_execution(pipeline, "StartPipelineExecution", caller.arn(), now);
    execution.variables = variables;
    // An empty repository starts an execution all the same, whose source action fails (as
    // on AWS); the execution's commit stays the empty one, which `Commit::exists` tells.
    if let Some(commit) = commit {
        execution.commit = commit;
    }
    execution.request = token.map(|t| (t.to_owned(), fingerprint));
    let id = execution.id.clone();
    state.pipeline_mut(name)?.executions.push(execution);
    Ok(json!({ "pipelineExecutionId": id }))
}
