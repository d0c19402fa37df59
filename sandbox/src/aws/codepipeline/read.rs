//! The read operations and the shapes they answer with: pipelines, their state (the token of
//! a waiting approval is here), executions, action executions and tags.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::super::{AwsError, Input, ids};
use super::model::{ActionRun, ActionStatus, Behaviour, Execution, Pipeline, Position};
use super::{CpError, State};

pub fn arn(name: &str) -> String {
    format!("arn:aws:codepipeline:{}:{}:{name}", ids::DEFAULT_REGION, ids::ACCOUNT)
}

/// `maxResults`/`nextToken` paging over a list whose items have stable string keys.
pub(super) fn page<T>(
    items: Vec<(String, T)>,
    input: &Input,
    max: i64,
    default: i64,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let size = input.int_in("maxResults", 1..=max)?.unwrap_or(default) as usize;
    let start = match input.str("nextToken")? {
        None => 0,
        Some(token) => {
            let key = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(CpError::InvalidNextToken)?;
            items.iter().position(|(k, _)| *k == key).map(|i| i + 1).ok_or(CpError::InvalidNextToken)?
        }
    };
    let more = items.len() > start + size;
    let taken: Vec<(String, T)> = items.into_iter().skip(start).take(size).collect();
    let next = if more { taken.last().map(|(k, _)| URL_SAFE_NO_PAD.encode(k)) } else { None };
    Ok((taken.into_iter().map(|(_, t)| t).collect(), next))
}

pub(super) fn with_token(mut out: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    out
}

pub fn list_pipelines(state: &State, input: &Input) -> Result<Value, AwsError> {
    let items = state
        .pipelines
        .values()
        .map(|p| {
            let summary = json!({
                "name": p.name,
                "version": 1,
                "pipelineType": p.declaration["pipelineType"],
                "executionMode": p.mode.as_str(),
                "created": ids::epoch(p.created),
                "updated": ids::epoch(p.updated),
            });
            (p.name.clone(), summary)
        })
        .collect();
    let (pipelines, next) = page(items, input, 1000, 1000)?;
    Ok(with_token(json!({ "pipelines": pipelines }), next))
}

pub fn get_pipeline(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("name")?;
    let pipeline = state.pipeline(name)?;
    if let Some(version) = input.int("version")?
        && version != 1
    {
        return Err(CpError::PipelineVersionNotFound(name.to_owned(), version).into());
    }
    Ok(json!({
        "pipeline": pipeline.declaration,
        "metadata": { "pipelineArn": arn(name), "created": ids::epoch(pipeline.created), "updated": ids::epoch(pipeline.updated) },
    }))
}

fn action_execution_json(run: &ActionRun, behaviour: Behaviour) -> Value {
    let mut out = json!({
        "actionExecutionId": run.id,
        "status": run.status.as_str(),
        "lastStatusChange": ids::epoch(run.updated),
    });
    if let Some(summary) = &run.summary {
        out["summary"] = json!(summary);
    }
    if let (Some(token), ActionStatus::InProgress) = (&run.token, run.status) {
        out["token"] = json!(token);
    }
    if let Some(by) = &run.updated_by {
        out["lastUpdatedBy"] = json!(by);
    }
    if let Some(id) = &run.external_id {
        out["externalExecutionId"] = json!(id);
    }
    if let Some((code, message)) = &run.error {
        out["errorDetails"] = json!({ "code": code, "message": message });
    }
    if behaviour == Behaviour::Deploy && run.status == ActionStatus::InProgress {
        out["percentComplete"] = json!(50);
    }
    out
}

pub fn get_state(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("name")?;
    let pipeline = state.pipeline(name)?;
    let stages: Vec<Value> = pipeline
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let latest = pipeline.latest_in_stage(i);
            let actions: Vec<Value> = stage
                .actions
                .iter()
                .enumerate()
                .map(|(a, decl)| {
                    let mut out = json!({ "actionName": decl.name });
                    let run = latest.and_then(|(_, r)| r.actions.iter().find(|x| x.action == a));
                    if let Some(run) = run.filter(|r| r.status != ActionStatus::Pending) {
                        out["latestExecution"] = action_execution_json(run, decl.behaviour);
                    }
                    if decl.behaviour == Behaviour::Source
                        && let Some((execution, _)) = latest.filter(|(e, _)| e.commit.exists())
                    {
                        out["currentRevision"] = json!({ "revisionId": execution.commit.id, "revisionChangeId": execution.commit.id, "created": ids::epoch(execution.commit.date) });
                    }
                    out
                })
                .collect();
            let transition = match pipeline.disabled.get(&i) {
                Some(d) => json!({ "enabled": false, "disabledReason": d.reason, "lastChangedBy": d.by, "lastChangedAt": ids::epoch(d.at) }),
                None => json!({ "enabled": true }),
            };
            let mut out = json!({ "stageName": stage.name, "actionStates": actions });
            if i > 0 {
                out["inboundTransitionState"] = transition;
            }
            if let Some((execution, run)) = latest {
                out["latestExecution"] = json!({ "pipelineExecutionId": execution.id, "status": run.status.as_str() });
                if let Some(trigger) = run.retries.latest {
                    out["retryStageMetadata"] = json!({
                        "autoStageRetryAttempt": run.retries.automatic,
                        "manualStageRetryAttempt": run.retries.manual,
                        "latestRetryTrigger": trigger,
                    });
                }
            }
            super::conditions::stage_state(pipeline, i, &mut out);
            let inbound: Vec<Value> = pipeline
                .executions
                .iter()
                .filter(|e| e.status.running() && e.position == Position::Waiting(i))
                .map(|e| json!({ "pipelineExecutionId": e.id, "status": "InProgress" }))
                .collect();
            if let Some(first) = inbound.first() {
                out["inboundExecution"] = first.clone();
                out["inboundExecutions"] = json!(inbound);
            }
            out
        })
        .collect();
    Ok(json!({
        "pipelineName": name,
        "pipelineVersion": 1,
        "stageStates": stages,
        "created": ids::epoch(pipeline.created),
        "updated": ids::epoch(pipeline.updated),
    }))
}

fn source_revisions(pipeline: &Pipeline, execution: &Execution) -> Value {
    let region = ids::DEFAULT_REGION;
    let repository = pipeline.stages[0].actions[0].config("RepositoryName").unwrap_or("");
    json!([{
        "actionName": pipeline.stages[0].actions[0].name,
        "revisionId": execution.commit.id,
        "revisionSummary": execution.commit.message,
        "revisionUrl": format!("https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repository}/commit/{}?region={region}", execution.commit.id),
    }])
}

fn execution_common(pipeline: &Pipeline, execution: &Execution) -> Value {
    let mut out = json!({
        "pipelineExecutionId": execution.id,
        "status": execution.status.as_str(),
        "trigger": { "triggerType": execution.trigger_type, "triggerDetail": execution.trigger_detail },
        "executionMode": pipeline.mode.as_str(),
        "executionType": if execution.rollback_of.is_some() { "ROLLBACK" } else { "STANDARD" },
    });
    if let Some(summary) = &execution.summary {
        out["statusSummary"] = json!(summary);
    }
    if let Some(target) = &execution.rollback_of {
        out["rollbackMetadata"] = json!({ "rollbackTargetPipelineExecutionId": target });
    }
    out
}

pub fn list_executions(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let pipeline = state.pipeline(name)?;
    let succeeded_in = match input.value("filter") {
        Some(filter) => {
            let stage = filter.pointer("/succeededInStage/stageName").and_then(Value::as_str);
            match stage {
                Some(stage) => Some(
                    pipeline
                        .stage_index(stage)
                        .ok_or_else(|| CpError::StageNotFound(stage.to_owned(), name.to_owned()))?,
                ),
                None => None,
            }
        }
        None => None,
    };
    let items = pipeline
        .executions
        .iter()
        .rev()
        .filter(|e| {
            succeeded_in.is_none_or(|s| {
                e.stage_run(s).is_some_and(|r| r.status == super::model::StageStatus::Succeeded)
            })
        })
        .map(|e| {
            let mut summary = execution_common(pipeline, e);
            summary["startTime"] = json!(ids::epoch(e.started));
            summary["lastUpdateTime"] = json!(ids::epoch(e.updated));
            summary["sourceRevisions"] =
                if e.commit.exists() { source_revisions(pipeline, e) } else { json!([]) };
            if let Some(stop) = &e.stop {
                summary["stopTrigger"] = json!({ "reason": stop.reason.clone().unwrap_or_default() });
            }
            (e.id.clone(), summary)
        })
        .collect();
    let (summaries, next) = page(items, input, 100, 100)?;
    Ok(with_token(json!({ "pipelineExecutionSummaries": summaries }), next))
}

pub fn get_execution(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let id = input.required_str("pipelineExecutionId")?;
    let pipeline = state.pipeline(name)?;
    let execution = pipeline
        .execution(id)
        .ok_or_else(|| CpError::PipelineExecutionNotFound(id.to_owned(), name.to_owned()))?;
    let mut out = execution_common(pipeline, execution);
    out["pipelineName"] = json!(name);
    out["pipelineVersion"] = json!(1);
    let revision = &source_revisions(pipeline, execution)[0];
    out["artifactRevisions"] = if !execution.commit.exists() {
        json!([])
    } else {
        json!([{
            "name": "SourceArtifact",
            "revisionId": execution.commit.id,
            "revisionChangeIdentifier": execution.commit.id,
            "revisionSummary": execution.commit.message,
            "created": ids::epoch(execution.commit.date),
            "revisionUrl": revision["revisionUrl"],
        }])
    };
    out["variables"] =
        execution.variables.iter().map(|(k, v)| json!({ "name": k, "resolvedValue": v })).collect();
    Ok(json!({ "pipelineExecution": out }))
}

pub fn list_action_executions(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let pipeline = state.pipeline(name)?;
    let only = input.value("filter").and_then(|f| f["pipelineExecutionId"].as_str().map(str::to_owned));
    if let Some(id) = &only
        && pipeline.execution(id).is_none()
    {
        return Err(CpError::PipelineExecutionNotFound(id.clone(), name.to_owned()).into());
    }
    let mut runs: Vec<(&Execution, usize, &ActionRun)> = Vec::new();
    for execution in pipeline.executions.iter().filter(|e| only.as_ref().is_none_or(|id| *id == e.id)) {
        for run in &execution.stages {
            runs.extend(
                run.actions
                    .iter()
                    .filter(|a| a.status != ActionStatus::Pending)
                    .map(|a| (execution, run.stage, a)),
            );
        }
        runs.extend(execution.replaced.iter().map(|(stage, a)| (execution, *stage, a)));
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.2.started));
    let items = runs
        .into_iter()
        .map(|(execution, stage, run)| {
            let decl = &pipeline.stages[stage].actions[run.action];
            let mut result = json!({});
            if let Some(id) = &run.external_id {
                result["externalExecutionId"] = json!(id);
            }
            if let Some(summary) = &run.summary {
                result["externalExecutionSummary"] = json!(summary);
            }
            if let Some((code, message)) = &run.error {
                result["errorDetails"] = json!({ "code": code, "message": message });
            }
            let variables: serde_json::Map<String, Value> = run.output_variables.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let mut detail = json!({
                "pipelineExecutionId": execution.id,
                "actionExecutionId": run.id,
                "pipelineVersion": 1,
                "stageName": pipeline.stages[stage].name,
                "actionName": decl.name,
                "startTime": ids::epoch(run.started),
                "lastUpdateTime": ids::epoch(run.updated),
                "status": run.status.as_str(),
                "input": { "actionTypeId": decl.type_id, "configuration": decl.configuration, "resolvedConfiguration": decl.configuration, "region": ids::DEFAULT_REGION },
                "output": { "executionResult": result, "outputVariables": variables },
            });
            if let Some(by) = &run.updated_by {
                detail["updatedBy"] = json!(by);
            }
            (run.id.clone(), detail)
        })
        .collect();
    let (details, next) = page(items, input, 100, 100)?;
    Ok(with_token(json!({ "actionExecutionDetails": details }), next))
}

pub fn list_tags(state: &State, input: &Input) -> Result<Value, AwsError> {
    let resource = input.required_str("resourceArn")?;
    let prefix = format!("arn:aws:codepipeline:{}:{}:", ids::DEFAULT_REGION, ids::ACCOUNT);
    if !resource.starts_with("arn:aws:codepipeline:") || resource.split(':').count() != 6 {
        return Err(CpError::InvalidArn(resource.to_owned()).into());
    }
    let pipeline = resource
        .strip_prefix(&prefix)
        .and_then(|name| state.pipelines.get(name))
        .ok_or_else(|| CpError::ResourceNotFound(resource.to_owned()))?;
    let tags: Vec<Value> = pipeline.tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    Ok(json!({ "tags": tags }))
}
