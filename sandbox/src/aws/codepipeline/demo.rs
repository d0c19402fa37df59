//! The demo world's pipelines: `myapp-staging` (Source, Test, Build, Deploy to `staging`) and
//! `myapp-production` (the same with a manual approval before Deploy), built from the
//! repository whose history the sandbox cluster's releases come from, with a recent history of
//! executions: successes, a commit whose tests failed, and a rejected release. Production's
//! Deploy stage has an entry condition: its error alarm (`PRODUCTION_ALARM`, OK) must not fire.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::super::ids;
use super::actions::{self, source_variables};
use super::declaration;
use super::model::{
    ActionRun, Behaviour, Execution, ExecutionStatus, Pipeline, Position, StageRun, StageStatus,
};
use super::repository::{Commit, Repository};
use super::{Pipelines, State};
use crate::kubernetes::demo::MYAPP_COMMITS;

/// The demo repository's commits beyond the released ones: full hashes for the short ones
/// the cluster's images carry, authors, and two commits of their own (one whose tests fail,
/// and the branch head, not built yet).
const HISTORY: [(&str, &str, &str); 6] = [
    ("4d1c9a7", "4d1c9a70e6b25f8813c4a0d97e2b61f5c3a8d092", "Dana Whitfield"),
    ("8e2f6b3", "8e2f6b31c7d94a0e5f28b6173d9ce40a8b5f1c27", "Priya Raman"),
    ("b7a04c2", "b7a04c2d58e13f96a0c7b2e4d19f8a63c5e07b14", "Tomás Ortega"),
    ("c41f0e8", "c41f0e85a2d7b93c6e1f40a8d2b75e9c3f6a1d08", "Priya Raman"),
    ("e93d5f1", "e93d5f17b04c2a8e6d39f15b7a0c4e82d6f3b9a5", "Dana Whitfield"),
    ("f5b8d20", "f5b8d204e7a13c9b5d60f28a4e7c1b93d5a0f6e2", "Tomás Ortega"),
];

fn message(short: &str) -> &'static str {
    match short {
        "c41f0e8" => "Switch checkout to the new payment client",
        "f5b8d20" => "Show delivery estimates on the cart page",
        other => MYAPP_COMMITS.iter().find(|(c, _)| *c == other).map(|(_, m)| *m).unwrap_or(""),
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// The CloudWatch alarm production's Deploy stage checks before it is entered.
pub const PRODUCTION_ALARM: &str = "myapp-production-errors";

fn repository(now: SystemTime) -> Repository {
    let count = HISTORY.len() as u32;
    let commits = (0u32..)
        .zip(HISTORY)
        .map(|(i, (short, id, author))| Commit {
            id: id.to_owned(),
            message: message(short).to_owned(),
            author: author.to_owned(),
            date: now - DAY * (2 * (count - i)) - Duration::from_secs(3600),
        })
        .collect();
    Repository { branch: "main".into(), commits }
}

fn declaration(name: &str, namespace: &str, approval: bool) -> Value {
    let mut stages = vec![
        json!({ "name": "Source", "actions": [{
            "name": "Source",
            "actionTypeId": { "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1" },
            "runOrder": 1,
            "configuration": { "RepositoryName": "myapp", "BranchName": "main", "PollForSourceChanges": "false" },
            "outputArtifacts": [{ "name": "SourceArtifact" }],
            "namespace": "SourceVariables",
        }]}),
        json!({ "name": "Test", "actions": [{
            "name": "UnitTests",
            "actionTypeId": { "category": "Test", "owner": "AWS", "provider": "CodeBuild", "version": "1" },
            "runOrder": 1,
            "configuration": { "ProjectName": "myapp-unit-tests" },
            "inputArtifacts": [{ "name": "SourceArtifact" }],
        }]}),
        json!({ "name": "Build", "actions": [{
            "name": "BuildImage",
            "actionTypeId": { "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1" },
            "runOrder": 1,
            "configuration": {
                "ProjectName": "myapp-image",
                "EnvironmentVariables": "[{\"name\":\"IMAGE_REPO_NAME\",\"value\":\"myapp\",\"type\":\"PLAINTEXT\"},{\"name\":\"IMAGE_TAG\",\"value\":\"#{SourceVariables.CommitId}\",\"type\":\"PLAINTEXT\"}]",
            },
            "inputArtifacts": [{ "name": "SourceArtifact" }],
            "outputArtifacts": [{ "name": "ImageArtifact" }],
        }]}),
    ];
    if approval {
        stages.push(json!({ "name": "Approval", "actions": [{
            "name": "ManualApproval",
            "actionTypeId": { "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1" },
            "runOrder": 1,
            "configuration": { "CustomData": "Approve the release of #{SourceVariables.CommitId} to production" },
        }]}));
    }
    let mut deploy = json!({ "name": "Deploy", "actions": [{
        "name": "Deploy",
        "actionTypeId": { "category": "Deploy", "owner": "AWS", "provider": "EKS", "version": "1" },
        "runOrder": 1,
        "configuration": {
            "ClusterName": "rollgate-sandbox",
            "Namespace": namespace,
            "DeploymentName": "myapp-deployment",
            "ContainerName": "myapp-container",
        },
        "inputArtifacts": [{ "name": "ImageArtifact" }],
    }]});
    if approval {
        // Production is not entered while its error alarm fires (for up to an hour).
        deploy["beforeEntry"] = json!({ "conditions": [{ "result": "FAIL", "rules": [{
            "name": "NoProductionErrors",
            "ruleTypeId": { "category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm", "version": "1" },
            "configuration": { "AlarmName": PRODUCTION_ALARM, "WaitTime": "60" },
        }]}]});
    }
    stages.push(deploy);
    json!({
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/rollgate-codepipeline",
        "artifactStore": { "type": "S3", "location": "rollgate-sandbox-artifacts" },
        "stages": stages,
        "variables": [{ "name": "RELEASE_NOTE", "defaultValue": "routine release", "description": "Shown with the release in Rollgate" }],
        "pipelineType": "V2",
        "executionMode": "SUPERSEDED",
    })
}

/// How a past execution ended.
enum Outcome {
    Succeeded { approver: &'static str },
    TestsFailed,
    Rejected { by: &'static str, why: &'static str },
}

fn user(name: &str) -> String {
    format!("arn:aws:iam::{}:user/{name}", ids::ACCOUNT)
}

/// A finished execution of `commit` that started at `started`, with every stage it reached.
fn past(
    pipeline: &Pipeline,
    commit: &Commit,
    started: SystemTime,
    outcome: &Outcome,
    sequence: &mut u64,
) -> Execution {
    let mut t = started;
    let mut stages = Vec::new();
    let mut image = None;
    let mut failure = None;
    for (i, stage) in pipeline.stages.iter().enumerate() {
        *sequence += 1;
        let mut runs = Vec::new();
        for (a, decl) in stage.actions.iter().enumerate() {
            let mut run = ActionRun::pending(a, t);
            t += match decl.behaviour {
                Behaviour::Source => Duration::from_secs(6),
                Behaviour::Test => Duration::from_secs(190),
                Behaviour::Build => Duration::from_secs(250),
                Behaviour::Approval => Duration::from_secs(2 * 3600),
                Behaviour::Deploy => Duration::from_secs(75),
                Behaviour::Job => Duration::from_secs(60),
            };
            match (decl.behaviour, outcome) {
                (Behaviour::Source, _) => {
                    run.external_id = Some(commit.id.clone());
                    run.output_variables = source_variables(decl, commit);
                    actions::succeed(&mut run, t, commit.message.clone());
                }
                (Behaviour::Test, Outcome::TestsFailed) => {
                    let why = format!("Tests failed for commit {}: 2 of 148 tests failed", commit.short());
                    actions::fail(&mut run, t, "JobFailed", why.clone());
                    failure = Some(why);
                }
                (Behaviour::Test, _) => {
                    actions::succeed(&mut run, t, format!("148 tests passed for commit {}", commit.short()))
                }
                (Behaviour::Build, _) => {
                    let built = format!("myapp:{}", commit.short());
                    run.output_variables = vec![("IMAGE_URI".into(), built.clone())];
                    actions::succeed(&mut run, t, format!("Built and pushed {built}"));
                    image = Some(built);
                }
                (Behaviour::Approval, Outcome::Rejected { by, why }) => {
                    run.updated_by = Some(user(by));
                    actions::fail(&mut run, t, "Rejected", format!("Rejected by {}: {why}", user(by)));
                    run.summary = Some((*why).to_owned());
                    failure = Some(format!("Rejected by {}: {why}", user(by)));
                }
                (Behaviour::Approval, Outcome::Succeeded { approver }) => {
                    run.updated_by = Some(user(approver));
                    actions::succeed(&mut run, t, "Looks good: release it".into());
                }
                (Behaviour::Deploy, _) => {
                    let namespace = decl.config("Namespace").unwrap_or("");
                    let shown = image.clone().unwrap_or_default();
                    run.external_id = Some(format!("{namespace}/myapp-deployment"));
                    actions::succeed(
                        &mut run,
                        t,
                        format!(
                            "Rolled out {shown} to {namespace}/myapp-deployment: 2 of 2 replicas available"
                        ),
                    );
                }
                _ => {}
            }
            runs.push(run);
            t += Duration::from_secs(3);
        }
        let status = if failure.is_some() { StageStatus::Failed } else { StageStatus::Succeeded };
        stages.push(StageRun::new(i, status, *sequence, runs));
        if failure.is_some() {
            break;
        }
    }
    Execution {
        id: ids::uuid(),
        status: if failure.is_some() { ExecutionStatus::Failed } else { ExecutionStatus::Succeeded },
        summary: failure,
        started,
        updated: t,
        trigger_type: "StartPipelineExecution",
        trigger_detail: user("dana.whitfield"),
        rollback_of: None,
        variables: vec![("RELEASE_NOTE".into(), "routine release".into())],
        commit: commit.clone(),
        image,
        position: Position::Done,
        last_stage: pipeline.stages.len() - 1,
        stages,
        replaced: Vec::new(),
        stop: None,
        request: None,
        conditions: Vec::new(),
    }
}

fn with_history(state: &mut State, mut pipeline: Pipeline, runs: &[(&str, u32, Outcome)]) {
    let now = SystemTime::now();
    let repository = &state.repositories["myapp"];
    for (short, days_ago, outcome) in runs {
        let Some(commit) = repository.find(short) else { continue };
        let execution = past(&pipeline, commit, now - DAY * *days_ago, outcome, &mut state.sequence);
        pipeline.executions.push(execution);
    }
    pipeline.created = now - DAY * 30;
    pipeline.updated = pipeline.created;
    state.pipelines.insert(pipeline.name.clone(), pipeline);
}

pub fn seed(pipelines: &Pipelines) {
    let mut state = pipelines.lock();
    let now = SystemTime::now();
    state.repositories.insert("myapp".into(), repository(now));
    let quiet = super::conditions::Alarm {
        state: "OK".into(),
        reason: "Threshold Crossed: no datapoints were greater than the threshold (5.0)".into(),
        updated: now - DAY,
    };
    state.alarms.insert(PRODUCTION_ALARM.into(), quiet);
    let tags =
        |env: &str| vec![("app".to_owned(), "myapp".to_owned()), ("environment".to_owned(), env.to_owned())];
    let ok = |approver| Outcome::Succeeded { approver };
    // The declarations are fixed and valid; the demo tests read both pipelines back.
    if let Ok(staging) =
        declaration::pipeline(declaration("myapp-staging", "staging", false), tags("staging"))
    {
        let runs = [
            ("4d1c9a7", 12, ok("")),
            ("8e2f6b3", 9, ok("")),
            ("b7a04c2", 6, ok("")),
            ("c41f0e8", 4, Outcome::TestsFailed),
            ("e93d5f1", 2, ok("")),
        ];
        with_history(&mut state, staging, &runs);
    }
    if let Ok(production) =
        declaration::pipeline(declaration("myapp-production", "production", true), tags("production"))
    {
        let runs = [
            ("4d1c9a7", 11, ok("sam.okafor")),
            ("8e2f6b3", 8, ok("sam.okafor")),
            ("b7a04c2", 5, ok("lee.nakamura")),
            (
                "e93d5f1",
                1,
                Outcome::Rejected {
                    by: "sam.okafor",
                    why: "Hold until the load test of the product cache is done",
                },
            ),
        ];
        with_history(&mut state, production, &runs);
    }
}
