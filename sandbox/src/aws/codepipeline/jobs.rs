//! The custom-action job API a deploy worker uses: a custom action in a running stage queues a
//! job; the worker polls for its action type, acknowledges with the job's nonce, and reports
//! success (with a continuation token to be called again) or failure.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Input, ids};
use super::actions;
use super::model::{ActionRun, ActionStatus, Behaviour, Job, JobStatus, Pipeline, Wait};
use super::read::arn;
use super::{CpError, State};

const FAILURE_TYPES: [&str; 6] = [
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
];

/// The action run a job works for, if it still waits for this job.
fn waiting_run<'a>(
    pipelines: &'a mut std::collections::BTreeMap<String, Pipeline>,
    job: &Job,
) -> Option<&'a mut ActionRun> {
    let execution = pipelines.get_mut(&job.pipeline)?.execution_mut(&job.execution)?;
    let run =
        execution.stage_run_mut(job.stage)?.actions.iter_mut().find(|a| a.id == job.action_execution)?;
    (run.status == ActionStatus::InProgress && run.wait == Wait::Job(job.id.clone())).then_some(run)
}

fn job_json(pipeline: &Pipeline, job: &Job) -> Value {
    let decl = &pipeline.stages[job.stage].actions[job.action];
    let mut data = json!({
        "actionTypeId": decl.type_id,
        "actionConfiguration": { "configuration": decl.configuration },
        "pipelineContext": {
            "pipelineName": pipeline.name,
            "stage": { "name": pipeline.stages[job.stage].name },
            "action": { "name": decl.name, "actionExecutionId": job.action_execution },
            "pipelineArn": arn(&pipeline.name),
            "pipelineExecutionId": job.execution,
        },
        "inputArtifacts": [],
        "outputArtifacts": [],
    });
    if let Some(token) = &job.continuation {
        data["continuationToken"] = json!(token);
    }
    json!({ "id": job.id, "nonce": job.nonce, "accountId": ids::ACCOUNT, "data": data })
}

pub fn poll(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let type_id = input.required_structure("actionTypeId")?;
    let wanted: Vec<&str> = ["category", "owner", "provider", "version"]
        .iter()
        .map(|f| type_id.required_str(f))
        .collect::<Result<_, _>>()?;
    if wanted[1] != "Custom" {
        return Err(
            CpError::Validation("Only custom actions (owner Custom) have jobs to poll for".into()).into()
        );
    }
    let batch = input.int_in("maxBatchSize", 1..=100)?.unwrap_or(1) as usize;
    let query: Vec<(String, String)> = input
        .value("queryParam")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default();
    let same_type = |t: &Value| {
        ["category", "owner", "provider", "version"].iter().zip(&wanted).all(|(f, w)| t[*f] == *w)
    };
    let known = state
        .pipelines
        .values()
        .flat_map(|p| p.stages.iter())
        .flat_map(|s| s.actions.iter())
        .any(|a| a.behaviour == Behaviour::Job && same_type(&a.type_id));
    if !known {
        return Err(CpError::ActionTypeNotFound(wanted.join("/")).into());
    }
    let State { pipelines, jobs, .. } = state;
    let mut handed = Vec::new();
    for job in jobs.iter_mut().filter(|j| j.status == JobStatus::Queued) {
        if handed.len() >= batch {
            break;
        }
        let Some(pipeline) = pipelines.get(&job.pipeline) else { continue };
        let decl = &pipeline.stages[job.stage].actions[job.action];
        let matches_query = query.iter().all(|(k, v)| decl.config(k) == Some(v.as_str()));
        if !same_type(&decl.type_id) || !matches_query {
            continue;
        }
        let still_waiting = pipeline
            .execution(&job.execution)
            .and_then(|e| e.stage_run(job.stage))
            .and_then(|r| r.actions.iter().find(|a| a.id == job.action_execution))
            .is_some_and(|a| a.status == ActionStatus::InProgress);
        if !still_waiting {
            continue;
        }
        job.status = JobStatus::Dispatched;
        handed.push(job_json(pipeline, job));
    }
    Ok(json!({ "jobs": handed }))
}

fn job_index(state: &State, id: &str) -> Result<usize, CpError> {
    state.jobs.iter().position(|j| j.id == id).ok_or_else(|| CpError::JobNotFound(id.to_owned()))
}

pub fn acknowledge(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let id = input.required_str("jobId")?;
    let nonce = input.required_str("nonce")?;
    let index = job_index(state, id)?;
    let job = &mut state.jobs[index];
    if job.nonce != nonce {
        return Err(CpError::InvalidNonce.into());
    }
    let status = match job.status {
        JobStatus::Queued | JobStatus::Dispatched | JobStatus::InProgress => {
            job.status = JobStatus::InProgress;
            "InProgress"
        }
        JobStatus::Succeeded => "Succeeded",
        JobStatus::Failed => "Failed",
    };
    Ok(json!({ "status": status }))
}

/// The job, acknowledged and still wanted by its action.
fn in_progress<'a>(state: &'a mut State, id: &str) -> Result<(Job, &'a mut ActionRun), AwsError> {
    let index = job_index(state, id)?;
    let job = state.jobs[index].clone();
    if job.status != JobStatus::InProgress {
        return Err(CpError::InvalidJobState(format!(
            "Job {id} is not in progress: acknowledge it first, and report it once"
        ))
        .into());
    }
    let run = waiting_run(&mut state.pipelines, &job).ok_or_else(|| {
        CpError::InvalidJobState(format!(
            "The action job {id} works for is no longer in progress (stopped or abandoned)"
        ))
    })?;
    Ok((job, run))
}

pub fn succeed(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let id = input.required_str("jobId")?;
    let continuation = input.str("continuationToken")?;
    let details = input.value("executionDetails").cloned().unwrap_or(Value::Null);
    let summary = details["summary"].as_str().unwrap_or("Succeeded").to_owned();
    let external = details["externalExecutionId"].as_str().map(str::to_owned);
    let variables: Vec<(String, String)> = input
        .value("outputVariables")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default();
    let now = SystemTime::now();
    let (job, run) = in_progress(state, id)?;
    run.external_id = external.or(run.external_id.take());
    let next = match continuation {
        Some(token) => {
            let next = Job {
                id: ids::uuid(),
                nonce: ids::hex(&ids::random_bytes::<8>()),
                status: JobStatus::Queued,
                continuation: Some(token.to_owned()),
                ..job
            };
            run.summary = Some(summary);
            run.updated = now;
            run.wait = Wait::Job(next.id.clone());
            Some(next)
        }
        None => {
            run.output_variables = variables;
            actions::succeed(run, now, summary);
            None
        }
    };
    let index = job_index(state, id)?;
    state.jobs[index].status = JobStatus::Succeeded;
    state.jobs.extend(next);
    Ok(json!({}))
}

pub fn fail(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let id = input.required_str("jobId")?;
    let details = input.required_structure("failureDetails")?;
    let kind = details.required_str("type")?;
    let message = details.required_str("message")?.to_owned();
    let Some(kind) = FAILURE_TYPES.iter().find(|t| **t == kind) else {
        return Err(AwsError::constraint(
            "failureDetails.type",
            kind,
            &format!("Member must satisfy enum value set: [{}]", FAILURE_TYPES.join(", ")),
        ));
    };
    let external = details.str("externalExecutionId")?.map(str::to_owned);
    let now = SystemTime::now();
    let (_, run) = in_progress(state, id)?;
    run.external_id = external.or(run.external_id.take());
    actions::fail(run, now, kind, message);
    let index = job_index(state, id)?;
    state.jobs[index].status = JobStatus::Failed;
    Ok(json!({}))
}
