//! CodePipeline through the AWS SDK (the client Rollgate uses) and the AWS CLI: the demo
//! pipelines and their history, full executions of `myapp-production` (approve, reject, stop,
//! retry), supersede, transitions, rollback, idempotent starts, expiry, a rollout that misses
//! its deadline, the custom-action job API, errors named as AWS names them, and the pipeline
//! declarations moto also serves, run against moto too.

use crate::support;

use std::time::Duration;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionExecutionFilter, ActionOwner, ActionTypeId, ApprovalResult, ApprovalStatus,
    ExecutionDetails, FailureDetails, FailureType, PipelineExecutionStatus, PipelineVariable,
    SourceRevisionOverride, SourceRevisionType, StageRetryMode, StageTransitionType,
};
use sandbox::{Endpoints, Failure, PipelineTimings, Sandbox, World};
use serde_json::{Value, json};
use support::code;

use PipelineExecutionStatus as Status;

/// The demo world with quick actions: each takes a tenth of a second or so.
async fn demo() -> (support::ModelChecked, Client) {
    start(World::Demo).await
}

async fn start(world: World) -> (support::ModelChecked, Client) {
    start_with(world, PipelineTimings::default().rule_minute).await
}

/// The sandbox with quick actions, a minute of a rule's `WaitTime` lasting `rule_minute`.
pub(crate) async fn start_with(world: World, rule_minute: Duration) -> (support::ModelChecked, Client) {
    let sandbox = Sandbox::start(Endpoints::any_free(), world).await.expect("sandbox starts");
    sandbox.aws.set_pipeline_timings(quick(rule_minute));
    let client = support::codepipeline(&support::url(sandbox.endpoints.codepipeline)).await;
    (support::ModelChecked::new(sandbox), client)
}

/// Each action a tenth of a second or so.
pub(crate) fn quick(rule_minute: Duration) -> PipelineTimings {
    PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(120),
        rule_minute,
    }
}

pub(crate) async fn run(client: &Client, pipeline: &str) -> String {
    let started = client.start_pipeline_execution().name(pipeline).send().await.expect("started");
    started.pipeline_execution_id().expect("an execution id").to_owned()
}

pub(crate) async fn status(client: &Client, pipeline: &str, id: &str) -> (Status, Option<String>) {
    let out = client
        .get_pipeline_execution()
        .pipeline_name(pipeline)
        .pipeline_execution_id(id)
        .send()
        .await
        .expect("execution");
    let execution = out.pipeline_execution.expect("an execution");
    (execution.status.expect("a status"), execution.status_summary)
}

/// Polls until the execution reaches `wanted` (failing fast on another final status).
pub(crate) async fn wait_for(client: &Client, pipeline: &str, id: &str, wanted: Status) -> Option<String> {
    for _ in 0..600 {
        let (now, summary) = status(client, pipeline, id).await;
        if now == wanted {
            return summary;
        }
        let last = matches!(now, Status::Succeeded | Status::Failed | Status::Stopped | Status::Superseded);
        assert!(!last, "{pipeline} {id} ended {now:?} ({summary:?}), not {wanted:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{pipeline} {id} did not reach {wanted:?} within 30 s");
}

/// The stage state of `stage` from GetPipelineState.
pub(crate) async fn stage_state(
    client: &Client,
    pipeline: &str,
    stage: &str,
) -> aws_sdk_codepipeline::types::StageState {
    let state = client.get_pipeline_state().name(pipeline).send().await.expect("state");
    state.stage_states().iter().find(|s| s.stage_name() == Some(stage)).cloned().expect("the stage")
}

/// The token of the approval waiting in GetPipelineState, once there is one.
async fn approval_token(client: &Client, pipeline: &str) -> String {
    for _ in 0..600 {
        let approval = stage_state(client, pipeline, "Approval").await;
        let latest = approval.action_states().first().and_then(|a| a.latest_execution());
        if let Some(token) = latest.and_then(|l| l.token()) {
            return token.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no approval waited within 30 s");
}

fn decision(status: ApprovalStatus, summary: &str) -> ApprovalResult {
    ApprovalResult::builder().status(status).summary(summary).build().expect("a result")
}

/// The deployment's first container image, read through the Kubernetes API (waiting for the
/// demo world to have created it).
async fn image(sandbox: &Sandbox, namespace: &str, name: &str) -> String {
    for _ in 0..100 {
        let image = image_now(sandbox, namespace, name).await;
        if !image.is_empty() {
            return image;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no deployment {namespace}/{name}");
}

async fn image_now(sandbox: &Sandbox, namespace: &str, name: &str) -> String {
    let url = format!("{}/apis/apps/v1/namespaces/{namespace}/deployments/{name}", sandbox.cluster_url());
    let d: Value = support::cluster_http(sandbox)
        .get(url)
        .bearer_auth(&sandbox.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    d.pointer("/spec/template/spec/containers/0/image").and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The demo pipelines, their declarations, tags and history (including a failed execution).
#[tokio::test(flavor = "multi_thread")]
async fn demo_pipelines_and_history() {
    let (_sandbox, client) = demo().await;
    let listed = client.list_pipelines().send().await.unwrap();
    let names: Vec<_> = listed.pipelines().iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, ["myapp-production", "myapp-staging"]);
    let production = client.get_pipeline().name("myapp-production").send().await.unwrap();
    let stages: Vec<_> = production.pipeline().unwrap().stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Source", "Test", "Build", "Approval", "Deploy"]);
    let arn = production.metadata().unwrap().pipeline_arn().unwrap().to_owned();
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "environment" && t.value() == "production"));

    let staging = client.list_pipeline_executions().pipeline_name("myapp-staging").send().await.unwrap();
    let history: Vec<_> = staging
        .pipeline_execution_summaries()
        .iter()
        .map(|e| {
            (e.status().unwrap().clone(), e.source_revisions()[0].revision_id().unwrap()[..7].to_owned())
        })
        .collect();
    assert_eq!(
        history,
        [
            (Status::Succeeded, "e93d5f1".to_owned()),
            (Status::Failed, "c41f0e8".to_owned()),
            (Status::Succeeded, "b7a04c2".to_owned()),
            (Status::Succeeded, "8e2f6b3".to_owned()),
            (Status::Succeeded, "4d1c9a7".to_owned()),
        ]
    );
    let production =
        client.list_pipeline_executions().pipeline_name("myapp-production").send().await.unwrap();
    let rejected = &production.pipeline_execution_summaries()[0];
    assert_eq!(rejected.status(), Some(&Status::Failed));
    let state = stage_state(&client, "myapp-production", "Approval").await;
    let approval = state.action_states()[0].latest_execution().unwrap();
    assert_eq!(approval.status().map(|s| s.as_str()), Some("Failed"));
    assert!(approval.last_updated_by().unwrap().ends_with("user/sam.okafor"));
}

/// The walk-through's release: start → the approval waits (Deploy has not run) → approve via
/// the SDK → Deploy sets the commit's image and the rollout completes → Succeeded.
#[tokio::test(flavor = "multi_thread")]
async fn production_release_is_approved_and_rolled_out() {
    let (sandbox, client) = demo().await;
    let head = sandbox.aws.commit("myapp", "Add gift wrapping", "Priya Raman");
    let id = run(&client, "myapp-production").await;
    let token = approval_token(&client, "myapp-production").await;
    assert_eq!(status(&client, "myapp-production", &id).await.0, Status::InProgress);
    let deploy = stage_state(&client, "myapp-production", "Deploy").await;
    assert_ne!(
        deploy.latest_execution().map(|l| l.pipeline_execution_id()),
        Some(id.as_str()),
        "Deploy waits for the approval"
    );
    assert!(sandbox.registry.has(&format!("myapp:{}", &head[..7])), "Build pushed the image");

    client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approval")
        .action_name("ManualApproval")
        .token(&token)
        .result(decision(ApprovalStatus::Approved, "Release it"))
        .send()
        .await
        .expect("approved");
    wait_for(&client, "myapp-production", &id, Status::Succeeded).await;
    assert_eq!(image(&sandbox, "production", "myapp-deployment").await, format!("myapp:{}", &head[..7]));

    let actions = client
        .list_action_executions()
        .pipeline_name("myapp-production")
        .filter(ActionExecutionFilter::builder().pipeline_execution_id(&id).build())
        .send()
        .await
        .unwrap();
    let source =
        actions.action_execution_details().iter().find(|a| a.action_name() == Some("Source")).unwrap();
    let variables = source.output().unwrap().output_variables().unwrap();
    assert_eq!(variables.get("CommitId"), Some(&head));
    assert_eq!(variables.get("AuthorDisplayName").map(String::as_str), Some("Priya Raman"));
    let approval = actions
        .action_execution_details()
        .iter()
        .find(|a| a.action_name() == Some("ManualApproval"))
        .unwrap();
    assert!(approval.updated_by().unwrap().ends_with(":user/test"), "who approved: the caller's identity");
    assert_eq!(actions.action_execution_details().len(), 5);

    // The token is spent.
    let again = client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approval")
        .action_name("ManualApproval")
        .token(&token)
        .result(decision(ApprovalStatus::Approved, "twice"))
        .send()
        .await;
    assert_eq!(code(again), "ApprovalAlreadyCompletedException");
}

/// A rejected approval fails the execution and nothing is deployed; wrong tokens are refused.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_release_fails() {
    let (sandbox, client) = demo().await;
    let head = sandbox.aws.commit("myapp", "Try a new checkout flow", "Tomás Ortega");
    let id = run(&client, "myapp-production").await;
    let token = approval_token(&client, "myapp-production").await;
    let approve = |token: &str, status: ApprovalStatus| {
        client
            .put_approval_result()
            .pipeline_name("myapp-production")
            .stage_name("Approval")
            .action_name("ManualApproval")
            .token(token)
            .result(decision(status, "Not during the sale"))
            .send()
    };
    assert_eq!(
        code(approve("3f1c2a9e-0000-4000-8000-000000000000", ApprovalStatus::Approved).await),
        "InvalidApprovalTokenException"
    );
    assert_eq!(code(approve("not-a-token", ApprovalStatus::Approved).await), "ValidationException");
    let wrong_stage = client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approve")
        .action_name("ManualApproval")
        .token(&token)
        .result(decision(ApprovalStatus::Approved, "x"))
        .send()
        .await;
    assert_eq!(code(wrong_stage), "StageNotFoundException");
    approve(&token, ApprovalStatus::Rejected).await.expect("rejected");
    let summary = wait_for(&client, "myapp-production", &id, Status::Failed).await;
    assert!(summary.unwrap_or_default().contains("Rejected"), "the summary says it was rejected");
    assert!(sandbox.registry.has(&format!("myapp:{}", &head[..7])), "it was built");
    assert_ne!(
        image(&sandbox, "production", "myapp-deployment").await,
        format!("myapp:{}", &head[..7]),
        "but not deployed"
    );
}

/// Stop with abandon ends a waiting approval at once (Stopped, the approval Abandoned); stop
/// and wait lets the running action finish and starts nothing after it.
#[tokio::test(flavor = "multi_thread")]
async fn stop_abandons_or_finishes() {
    let (sandbox, client) = demo().await;
    let id = run(&client, "myapp-production").await;
    approval_token(&client, "myapp-production").await;
    client
        .stop_pipeline_execution()
        .pipeline_name("myapp-production")
        .pipeline_execution_id(&id)
        .abandon(true)
        .reason("Wrong commit")
        .send()
        .await
        .expect("stopped");
    assert_eq!(
        status(&client, "myapp-production", &id).await,
        (Status::Stopped, Some("Wrong commit".into()))
    );
    let approval = stage_state(&client, "myapp-production", "Approval").await;
    assert_eq!(
        approval.action_states()[0].latest_execution().unwrap().status().unwrap().as_str(),
        "Abandoned"
    );
    let again = client
        .stop_pipeline_execution()
        .pipeline_name("myapp-production")
        .pipeline_execution_id(&id)
        .send()
        .await;
    assert_eq!(code(again), "PipelineExecutionNotStoppableException");

    sandbox.aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_secs(2),
        build: Duration::from_millis(100),
        approval_timeout: Duration::from_secs(120),
        ..Default::default()
    });
    let id = run(&client, "myapp-staging").await;
    for _ in 0..100 {
        let test = stage_state(&client, "myapp-staging", "Test").await;
        if test.latest_execution().map(|l| l.pipeline_execution_id()) == Some(id.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop =
        || client.stop_pipeline_execution().pipeline_name("myapp-staging").pipeline_execution_id(&id).send();
    stop().await.expect("stopping");
    assert_eq!(status(&client, "myapp-staging", &id).await.0, Status::Stopping);
    assert_eq!(code(stop().await), "DuplicatedStopRequestException");
    wait_for(&client, "myapp-staging", &id, Status::Stopped).await;
    let test = stage_state(&client, "myapp-staging", "Test").await;
    assert_eq!(
        test.action_states()[0].latest_execution().unwrap().status().unwrap().as_str(),
        "Succeeded",
        "the test run finished"
    );
    let build = stage_state(&client, "myapp-staging", "Build").await;
    assert_ne!(
        build.latest_execution().map(|l| l.pipeline_execution_id()),
        Some(id.as_str()),
        "Build never started"
    );
}

/// An injected test failure fails the execution; retrying the failed stage runs the tests
/// again, and the execution goes on to approval and deployment.
#[tokio::test(flavor = "multi_thread")]
async fn retry_after_injected_test_failure() {
    let (sandbox, client) = demo().await;
    sandbox.aws.fail_next(Failure::Tests);
    let id = run(&client, "myapp-production").await;
    let summary = wait_for(&client, "myapp-production", &id, Status::Failed).await.unwrap_or_default();
    assert!(summary.contains("Tests failed"), "{summary}");
    let retry = |stage: &str| {
        client
            .retry_stage_execution()
            .pipeline_name("myapp-production")
            .stage_name(stage)
            .pipeline_execution_id(&id)
            .retry_mode(StageRetryMode::FailedActions)
            .send()
    };
    assert_eq!(code(retry("Build").await), "StageNotRetryableException");
    assert_eq!(code(retry("Nope").await), "StageNotFoundException");
    retry("Test").await.expect("retried");
    let token = approval_token(&client, "myapp-production").await;
    client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approval")
        .action_name("ManualApproval")
        .token(token)
        .result(decision(ApprovalStatus::Approved, "Tests pass now"))
        .send()
        .await
        .unwrap();
    wait_for(&client, "myapp-production", &id, Status::Succeeded).await;
    let actions = client
        .list_action_executions()
        .pipeline_name("myapp-production")
        .filter(ActionExecutionFilter::builder().pipeline_execution_id(&id).build())
        .send()
        .await
        .unwrap();
    let mut tests: Vec<_> = actions
        .action_execution_details()
        .iter()
        .filter(|a| a.stage_name() == Some("Test"))
        .map(|a| a.status().unwrap().as_str().to_owned())
        .collect();
    tests.sort();
    assert_eq!(tests, ["Failed", "Succeeded"], "both test runs are listed");
    assert_eq!(
        code(retry("Test").await),
        "StageNotRetryableException",
        "a succeeded stage has nothing to retry"
    );
}

/// With Deploy's inbound transition disabled, executions wait at it; a newer one supersedes
/// the waiting one; enabling the transition lets the newest through.
#[tokio::test(flavor = "multi_thread")]
async fn supersede_at_a_disabled_transition() {
    let (sandbox, client) = demo().await;
    client
        .disable_stage_transition()
        .pipeline_name("myapp-staging")
        .stage_name("Deploy")
        .transition_type(StageTransitionType::Inbound)
        .reason("Hold for the demo")
        .send()
        .await
        .unwrap();
    let first = run(&client, "myapp-staging").await;
    let inbound = |state: aws_sdk_codepipeline::types::StageState| {
        state.inbound_execution().map(|e| e.pipeline_execution_id().to_owned())
    };
    for _ in 0..100 {
        if inbound(stage_state(&client, "myapp-staging", "Deploy").await).as_deref() == Some(first.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deploy = stage_state(&client, "myapp-staging", "Deploy").await;
    assert_eq!(deploy.inbound_transition_state().unwrap().disabled_reason(), Some("Hold for the demo"));
    assert_eq!(inbound(deploy).as_deref(), Some(first.as_str()));
    let head = sandbox.aws.commit("myapp", "Tune cache expiry", "Dana Whitfield");
    let second = run(&client, "myapp-staging").await;
    let summary = wait_for(&client, "myapp-staging", &first, Status::Superseded).await;
    assert!(summary.unwrap_or_default().contains(&second));
    client
        .enable_stage_transition()
        .pipeline_name("myapp-staging")
        .stage_name("Deploy")
        .transition_type(StageTransitionType::Inbound)
        .send()
        .await
        .unwrap();
    wait_for(&client, "myapp-staging", &second, Status::Succeeded).await;
    assert_eq!(image(&sandbox, "staging", "myapp-deployment").await, format!("myapp:{}", &head[..7]));
}

/// RollbackStage deploys an earlier successful execution's image again, as a ROLLBACK
/// execution; a failed or unknown target is refused.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_an_earlier_execution() {
    let (sandbox, client) = demo().await;
    let history = client.list_pipeline_executions().pipeline_name("myapp-staging").send().await.unwrap();
    let by_commit = |prefix: &str| {
        history
            .pipeline_execution_summaries()
            .iter()
            .find(|e| e.source_revisions()[0].revision_id().unwrap().starts_with(prefix))
            .and_then(|e| e.pipeline_execution_id())
            .unwrap()
            .to_owned()
    };
    let rollback = |target: String| {
        client
            .rollback_stage()
            .pipeline_name("myapp-staging")
            .stage_name("Deploy")
            .target_pipeline_execution_id(target)
            .send()
    };
    assert_eq!(code(rollback(by_commit("c41f0e8")).await), "UnableToRollbackStageException");
    assert_eq!(
        code(rollback("0e0e0e0e-0000-4000-8000-000000000000".into()).await),
        "PipelineExecutionNotFoundException"
    );
    assert_eq!(
        code(rollback(by_commit("e93d5f1")).await),
        "UnableToRollbackStageException",
        "already the latest"
    );
    let id = rollback(by_commit("b7a04c2")).await.unwrap().pipeline_execution_id().to_owned();
    wait_for(&client, "myapp-staging", &id, Status::Succeeded).await;
    assert_eq!(image(&sandbox, "staging", "myapp-deployment").await, "myapp:b7a04c2");
    let execution = client
        .get_pipeline_execution()
        .pipeline_name("myapp-staging")
        .pipeline_execution_id(&id)
        .send()
        .await
        .unwrap();
    let execution = execution.pipeline_execution().unwrap();
    assert_eq!(execution.execution_type().map(|t| t.as_str()), Some("ROLLBACK"));
    assert_eq!(
        execution.rollback_metadata().unwrap().rollback_target_pipeline_execution_id(),
        Some(by_commit("b7a04c2").as_str())
    );
}

/// Variables, a source revision override, and clientRequestToken idempotency.
#[tokio::test(flavor = "multi_thread")]
async fn start_with_variables_revisions_and_idempotency() {
    let (_sandbox, client) = demo().await;
    let variable =
        |name: &str, value: &str| PipelineVariable::builder().name(name).value(value).build().unwrap();
    let revision = |value: &str| {
        SourceRevisionOverride::builder()
            .action_name("Source")
            .revision_type(SourceRevisionType::CommitId)
            .revision_value(value)
            .build()
            .unwrap()
    };
    let start = |token: &str, note: &str| {
        client
            .start_pipeline_execution()
            .name("myapp-staging")
            .client_request_token(token)
            .variables(variable("RELEASE_NOTE", note))
            .source_revisions(revision("8e2f6b3"))
            .send()
    };
    let first = start("release-42", "hotfix").await.unwrap().pipeline_execution_id().unwrap().to_owned();
    let again = start("release-42", "hotfix").await.unwrap().pipeline_execution_id().unwrap().to_owned();
    assert_eq!(first, again, "the same token starts nothing new");
    assert_eq!(code(start("release-42", "other").await), "ConflictException");
    let execution = client
        .get_pipeline_execution()
        .pipeline_name("myapp-staging")
        .pipeline_execution_id(&first)
        .send()
        .await
        .unwrap();
    let execution = execution.pipeline_execution().unwrap();
    assert!(execution.artifact_revisions()[0].revision_id().unwrap().starts_with("8e2f6b3"));
    assert_eq!(execution.variables()[0].resolved_value(), Some("hotfix"));
    let unknown_variable =
        client.start_pipeline_execution().name("myapp-staging").variables(variable("NOPE", "x")).send().await;
    assert_eq!(code(unknown_variable), "ValidationException");
    let unknown_commit = client
        .start_pipeline_execution()
        .name("myapp-staging")
        .source_revisions(revision("0000000"))
        .send()
        .await;
    assert_eq!(code(unknown_commit), "ValidationException");
    let missing = client.start_pipeline_execution().name("nope").send().await;
    assert_eq!(code(missing), "PipelineNotFoundException");
}

/// An approval nobody answers expires and fails the execution.
#[tokio::test(flavor = "multi_thread")]
async fn approval_expires() {
    let (sandbox, client) = demo().await;
    sandbox.aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(50),
        test: Duration::from_millis(50),
        build: Duration::from_millis(50),
        approval_timeout: Duration::from_millis(400),
        ..Default::default()
    });
    let id = run(&client, "myapp-production").await;
    let summary = wait_for(&client, "myapp-production", &id, Status::Failed).await;
    assert!(summary.unwrap_or_default().contains("expired"));
}

/// A pipeline created through the CLI from JSON, whose deployment crash-loops: Deploy fails
/// when the rollout exceeds its progress deadline.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_fails_past_the_progress_deadline() {
    let (sandbox, client) = start(World::Empty).await;
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 1, "progressDeadlineSeconds": 1,
            "selector": { "matchLabels": { "app": "web" } },
            "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [
                { "name": "web", "image": "busybox", "command": ["sh", "-c", "echo cannot start && exit 1"] }
            ] } }
        }
    });
    let url = format!("{}/apis/apps/v1/namespaces/staging/deployments", sandbox.cluster_url());
    let created = support::cluster_http(&sandbox)
        .post(url)
        .bearer_auth(&sandbox.admin_token)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    sandbox.aws.commit("web", "First version", "Lee Nakamura");
    create_with_cli(&sandbox, &pipeline_json("web-staging", "web", deploy_eks("web"))).await;
    let id = run(&client, "web-staging").await;
    let summary = wait_for(&client, "web-staging", &id, Status::Failed).await;
    assert!(summary.unwrap_or_default().contains("ProgressDeadlineExceeded"));
}

fn deploy_eks(name: &str) -> Value {
    json!({
        "name": "Deploy",
        "actionTypeId": { "category": "Deploy", "owner": "AWS", "provider": "EKS", "version": "1" },
        "configuration": { "ClusterName": "rollgate-sandbox", "Namespace": "staging", "DeploymentName": name, "ContainerName": name },
    })
}

fn deploy_worker() -> Value {
    json!({
        "name": "Deploy",
        "actionTypeId": { "category": "Deploy", "owner": "Custom", "provider": "RollgateDeployWorker", "version": "1" },
        "configuration": { "Namespace": "staging" },
    })
}

fn pipeline_json(name: &str, repository: &str, deploy: Value) -> Value {
    json!({
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/test",
        "artifactStore": { "type": "S3", "location": "bucket" },
        "stages": [
            { "name": "Source", "actions": [{
                "name": "Source",
                "actionTypeId": { "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1" },
                "configuration": { "RepositoryName": repository, "BranchName": "main" },
                "outputArtifacts": [{ "name": "SourceArtifact" }]
            }]},
            { "name": "Build", "actions": [{
                "name": "Build",
                "actionTypeId": { "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1" },
                "configuration": { "ProjectName": "p", "EnvironmentVariables": format!("[{{\"name\":\"IMAGE_REPO_NAME\",\"value\":\"{repository}\"}}]") }
            }]},
            { "name": "Deploy", "actions": [deploy] }
        ]
    })
}

async fn create_with_cli(sandbox: &Sandbox, pipeline: &Value) {
    let endpoint = support::url(sandbox.endpoints.codepipeline);
    let created = testkit::aws::create_pipeline(&endpoint, pipeline, &[]).await;
    assert_eq!(created.json()["pipeline"]["name"], pipeline["name"]);
}

/// What moto's CodePipeline also serves of declarations (pipelines and tags; its execution
/// calls are in backend/tests/it/pipeline_calls.rs and backend/tests/it/differential.rs): create a pipeline with the CLI, read it back
/// with the SDK.
async fn declaration_scenario(endpoint: &str) {
    let pipeline = pipeline_json("web-staging", "web", deploy_worker());
    let created = testkit::aws::create_pipeline(endpoint, &pipeline, &["--tags", "key=team,value=web"]).await;
    assert_eq!(created.json()["pipeline"]["name"], "web-staging");
    assert!(!testkit::aws::create_pipeline(endpoint, &pipeline, &[]).await.success, "the name is taken");
    let client = support::codepipeline(endpoint).await;
    let listed = client.list_pipelines().send().await.unwrap();
    assert!(listed.pipelines().iter().any(|p| p.name() == Some("web-staging")));
    let read = client.get_pipeline().name("web-staging").send().await.unwrap();
    let stages: Vec<_> = read.pipeline().unwrap().stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Source", "Build", "Deploy"]);
    let deploy = &read.pipeline().unwrap().stages()[2].actions()[0];
    assert_eq!(deploy.action_type_id().unwrap().owner(), &ActionOwner::Custom);
    let arn = read.metadata().unwrap().pipeline_arn().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:codepipeline:us-east-1:123456789012:web-staging");
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "web")]);
    assert_eq!(code(client.get_pipeline().name("nope").send().await), "PipelineNotFoundException");
}

/// The declaration scenario against the sandbox.
#[tokio::test(flavor = "multi_thread")]
async fn declarations_in_the_sandbox() {
    let (sandbox, _client) = start(World::Empty).await;
    declaration_scenario(&support::url(sandbox.endpoints.codepipeline)).await;
}

/// The same scenario against moto's server (which wants the pipeline's IAM role to exist).
#[tokio::test(flavor = "multi_thread")]
async fn declarations_in_moto() {
    let moto = support::Moto::start();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = ["iam", "create-role", "--role-name", "test", "--assume-role-policy-document", trust];
    support::aws_cli(&moto.endpoint, &role).await.json();
    declaration_scenario(&moto.endpoint).await;
}

/// As on AWS, a pipeline whose repository has no commits on its branch starts all the same,
/// and its source action fails saying so; the execution shows no revision.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_branch_fails_at_the_source() {
    let (sandbox, client) = start(World::Empty).await;
    create_with_cli(&sandbox, &pipeline_json("empty-staging", "empty", deploy_worker())).await;
    sandbox.aws.commit("other", "Initial", "Lee Nakamura");
    let mut on_release = pipeline_json("release-staging", "other", deploy_worker());
    on_release["stages"][0]["actions"][0]["configuration"]["BranchName"] = json!("release");
    create_with_cli(&sandbox, &on_release).await;
    for (pipeline, repository, branch) in
        [("empty-staging", "empty", "main"), ("release-staging", "other", "release")]
    {
        let id = run(&client, pipeline).await;
        wait_for(&client, pipeline, &id, Status::Failed).await;
        let source = stage_state(&client, pipeline, "Source").await;
        let error =
            source.action_states()[0].latest_execution().and_then(|e| e.error_details()).expect("an error");
        let expected = format!(
            "no branch named {branch} was found in the selected AWS CodeCommit repository {repository}"
        );
        assert!(error.message().unwrap_or("").contains(&expected), "{error:?}");
        let execution = client
            .get_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(&id)
            .send()
            .await
            .unwrap();
        assert!(execution.pipeline_execution().unwrap().artifact_revisions().is_empty());
    }
}

/// A deploy worker's view: poll for the custom action's job, acknowledge it with its nonce,
/// ask to be called again with a continuation token, then report failure.
#[tokio::test(flavor = "multi_thread")]
async fn custom_action_jobs() {
    let (sandbox, client) = start(World::Empty).await;
    sandbox.aws.commit("worker", "Initial", "Lee Nakamura");
    create_with_cli(&sandbox, &pipeline_json("worker-staging", "worker", deploy_worker())).await;
    let type_id = |provider: &str| {
        ActionTypeId::builder()
            .category(ActionCategory::Deploy)
            .owner(ActionOwner::Custom)
            .provider(provider)
            .version("1")
            .build()
            .unwrap()
    };
    assert_eq!(
        code(client.poll_for_jobs().action_type_id(type_id("Nobody")).send().await),
        "ActionTypeNotFoundException"
    );
    let id = run(&client, "worker-staging").await;
    let poll = || async {
        for _ in 0..200 {
            let jobs =
                client.poll_for_jobs().action_type_id(type_id("RollgateDeployWorker")).send().await.unwrap();
            if let Some(job) = jobs.jobs().first() {
                return job.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no job within 10 s");
    };
    let job = poll().await;
    let context = job.data().unwrap().pipeline_context().unwrap();
    assert_eq!(
        (context.pipeline_name(), context.pipeline_execution_id()),
        (Some("worker-staging"), Some(id.as_str()))
    );
    let job_id = job.id().unwrap();
    assert_eq!(
        code(client.acknowledge_job().job_id(job_id).nonce("wrong").send().await),
        "InvalidNonceException"
    );
    let early = client.put_job_success_result().job_id(job_id).send().await;
    assert_eq!(code(early), "InvalidJobStateException", "a job is acknowledged before it is reported");
    client.acknowledge_job().job_id(job_id).nonce(job.nonce().unwrap()).send().await.unwrap();
    client
        .put_job_success_result()
        .job_id(job_id)
        .continuation_token("rollout-started")
        .execution_details(ExecutionDetails::builder().summary("Rollout started").build())
        .send()
        .await
        .unwrap();
    let next = poll().await;
    assert_eq!(next.data().unwrap().continuation_token(), Some("rollout-started"));
    assert_eq!(status(&client, "worker-staging", &id).await.0, Status::InProgress);
    client.acknowledge_job().job_id(next.id().unwrap()).nonce(next.nonce().unwrap()).send().await.unwrap();
    let failure =
        FailureDetails::builder().r#type(FailureType::JobFailed).message("Pods crash-loop").build().unwrap();
    client.put_job_failure_result().job_id(next.id().unwrap()).failure_details(failure).send().await.unwrap();
    let summary = wait_for(&client, "worker-staging", &id, Status::Failed).await;
    assert_eq!(summary.as_deref(), Some("Pods crash-loop"));
    assert_eq!(code(client.acknowledge_job().job_id("nope").nonce("x").send().await), "JobNotFoundException");
}

/// Errors named as AWS names them, bad declarations, and the throttling switch.
#[tokio::test(flavor = "multi_thread")]
async fn errors_and_throttling() {
    let (sandbox, client) = demo().await;
    assert_eq!(code(client.get_pipeline().name("nope").send().await), "PipelineNotFoundException");
    assert_eq!(
        code(client.get_pipeline().name("myapp-staging").version(7).send().await),
        "PipelineVersionNotFoundException"
    );
    let execution = client
        .get_pipeline_execution()
        .pipeline_name("myapp-staging")
        .pipeline_execution_id("0e0e0e0e-0000-4000-8000-000000000000")
        .send()
        .await;
    assert_eq!(code(execution), "PipelineExecutionNotFoundException");
    assert_eq!(
        code(client.list_tags_for_resource().resource_arn("not-an-arn").send().await),
        "InvalidArnException"
    );
    let missing = client
        .list_tags_for_resource()
        .resource_arn("arn:aws:codepipeline:us-east-1:123456789012:nope")
        .send()
        .await;
    assert_eq!(code(missing), "ResourceNotFoundException");
    let transition = client
        .disable_stage_transition()
        .pipeline_name("myapp-staging")
        .stage_name("Deploy")
        .transition_type(StageTransitionType::Inbound)
        .reason("no <html> here")
        .send()
        .await;
    assert_eq!(code(transition), "ValidationException");
    let page =
        client.list_pipeline_executions().pipeline_name("myapp-staging").max_results(2).send().await.unwrap();
    let next = page.next_token().expect("more pages").to_owned();
    let rest = client
        .list_pipeline_executions()
        .pipeline_name("myapp-staging")
        .next_token(next)
        .send()
        .await
        .unwrap();
    assert_eq!(page.pipeline_execution_summaries().len() + rest.pipeline_execution_summaries().len(), 5);
    let bad_token =
        client.list_pipeline_executions().pipeline_name("myapp-staging").next_token("garbage").send().await;
    assert_eq!(code(bad_token), "InvalidNextTokenException");

    sandbox.aws.set_throttling(true);
    assert_eq!(code(client.list_pipelines().send().await), "ThrottlingException");
    sandbox.aws.set_throttling(false);
    client.list_pipelines().send().await.expect("served again");

    let endpoint = support::url(sandbox.endpoints.codepipeline);
    let mut one_stage = pipeline_json("bad", "myapp", deploy_worker());
    one_stage["stages"].as_array_mut().unwrap().truncate(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, one_stage.to_string()).unwrap();
    let refused = support::aws_cli(
        &endpoint,
        &["codepipeline", "create-pipeline", "--pipeline", &format!("file://{}", file.display())],
    )
    .await;
    assert!(!refused.success && refused.stderr.contains("(InvalidStructureException)"), "{}", refused.stderr);
}

/// The AWS CLI reads pipeline state and history, releases myapp-production by hand as the
/// README shows (start, read the approval token, approve), and prints AWS's error names.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli() {
    let (sandbox, client) = demo().await;
    let endpoint = support::url(sandbox.endpoints.codepipeline);
    let state =
        support::aws_cli(&endpoint, &["codepipeline", "get-pipeline-state", "--name", "myapp-production"])
            .await
            .json();
    let stages: Vec<&str> =
        state["stageStates"].as_array().unwrap().iter().map(|s| s["stageName"].as_str().unwrap()).collect();
    assert_eq!(stages, ["Source", "Test", "Build", "Approval", "Deploy"]);
    assert_eq!(state["stageStates"][3]["latestExecution"]["status"], "Failed", "the rejected release");
    let listed = support::aws_cli(
        &endpoint,
        &["codepipeline", "list-pipeline-executions", "--pipeline-name", "myapp-staging"],
    )
    .await
    .json();
    assert_eq!(listed["pipelineExecutionSummaries"].as_array().unwrap().len(), 5);
    // The README's release by hand: start, read the approval token, approve.
    let start = ["codepipeline", "start-pipeline-execution", "--name", "myapp-production"];
    let started = support::aws_cli(&endpoint, &start).await.json();
    let id = started["pipelineExecutionId"].as_str().expect("an execution id").to_owned();
    let mut token = String::new();
    for _ in 0..100 {
        let read = ["codepipeline", "get-pipeline-state", "--name", "myapp-production"];
        let state = support::aws_cli(&endpoint, &read).await.json();
        if let Some(t) = state["stageStates"][3]["actionStates"][0]["latestExecution"]["token"].as_str() {
            token = t.to_owned();
            break;
        }
    }
    assert!(!token.is_empty(), "the approval waits with a token");
    let approve = [
        "codepipeline",
        "put-approval-result",
        "--pipeline-name",
        "myapp-production",
        "--stage-name",
        "Approval",
        "--action-name",
        "ManualApproval",
        "--result",
        "summary=Ship it,status=Approved",
        "--token",
        &token,
    ];
    assert!(support::aws_cli(&endpoint, &approve).await.json()["approvedAt"].is_number());
    wait_for(&client, "myapp-production", &id, Status::Succeeded).await;
    let missing = support::aws_cli(&endpoint, &["codepipeline", "get-pipeline", "--name", "nope"]).await;
    assert!(!missing.success && missing.stderr.contains("(PipelineNotFoundException)"), "{}", missing.stderr);
}

/// Above a configured rate the endpoint throttles each operation on its own, as AWS does: the
/// SDK without retries sees `ThrottlingException`, with its standard retries it gets through
/// (backing off), and every call is counted by operation.
#[tokio::test(flavor = "multi_thread")]
async fn throttles_each_operation_above_its_rate() {
    let (sandbox, client) = demo().await;
    sandbox.aws.limit_codepipeline_rate(Some(sandbox::RateLimit { per_second: 2.0, burst: 3 }));
    let mut refused = 0;
    for _ in 0..6 {
        if let Err(e) = client.get_pipeline_state().name("myapp-staging").send().await {
            assert_eq!(code(Err::<(), _>(e)), "ThrottlingException");
            refused += 1;
        }
    }
    assert!(refused >= 2, "at most the burst and a refill get through ({refused} of 6 refused)");
    client.list_pipelines().send().await.expect("another operation has its own bucket");

    let endpoint = support::url(sandbox.endpoints.codepipeline);
    let retries = aws_config::retry::RetryConfig::standard().with_max_attempts(5);
    let retrying = Client::new(&testkit::aws::sdk_config_with(&endpoint, retries).await);
    for _ in 0..4 {
        retrying.get_pipeline_state().name("myapp-staging").send().await.expect("retried until let through");
    }
    let calls = sandbox.aws.codepipeline_calls_by_operation();
    let state = calls["GetPipelineState"];
    assert!(state.throttled >= refused, "{calls:?}");
    assert_eq!(state.answered, 6 - refused + 4, "{calls:?}");
    sandbox.aws.limit_codepipeline_rate(None);
    for _ in 0..10 {
        client.get_pipeline_state().name("myapp-staging").send().await.expect("no limit any more");
    }
}
