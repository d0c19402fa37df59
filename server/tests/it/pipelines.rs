//! Pipelines through Rollgate's server functions, against the sandbox's CodePipeline through
//! the AWS SDK: list and detail, release on a protected environment (approved by someone
//! other than the starter), reject, stop, retry, freeze and unfreeze a transition, redeploy an
//! earlier commit, roll a stage back; one poller's AWS calls with 1 and with 50 live viewers
//! (polled; `pipeline_events` has the pushed side);
//! AWS errors in words.

use crate::common;

use std::time::Duration;

use app::api::changes::ApproveChange;
use app::api::pipelines::{
    CompareExecutions, DecidePipelineApproval, GetPipeline, ListPipelineApprovals, ListPipelines,
    RequestPipelineChange, RetryStage, SetStageTransition, StopExecution,
};
use app::model::ChangeView;
use app::model::pipelines::{ApprovalView, ExecutionComparison, PipelineDetail, PipelineView};
use backend::pipelines::PollTimings;
use backend::policy::Role;
use common::TestPortal;
use sandbox::{Failure, PipelineTimings};

pub(crate) fn s(v: &str) -> String {
    v.to_owned()
}

/// The sandbox with quick pipeline actions and quick pollers.
pub(crate) async fn portal() -> TestPortal {
    quick(TestPortal::sandbox().await)
}

/// `p` with quick pipeline actions and quick pollers.
pub(crate) fn quick(p: TestPortal) -> TestPortal {
    p.running.sandbox.as_ref().expect("the sandbox runs").aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(300),
        ..Default::default()
    });
    p.running.portal.pipelines.set_timings(PollTimings {
        running: Duration::from_millis(150),
        idle: Duration::from_millis(300),
        max_backoff: Duration::from_secs(2),
        linger: Duration::from_secs(60),
        pushed_running: Duration::from_millis(150),
        pushed_idle: Duration::from_millis(300),
        reads_per_second: 1000.0,
    });
    p
}

pub(crate) async fn detail(p: &TestPortal, env: &str, name: &str) -> PipelineDetail {
    let response = p.call(&p.http, &GetPipeline { env: s(env), name: s(name), page: s("") }).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a pipeline")
}

/// Reads the pipeline until `done` holds (30 s at most).
pub(crate) async fn wait_until(
    p: &TestPortal,
    env: &str,
    name: &str,
    what: &str,
    done: impl Fn(&PipelineView) -> bool,
) -> PipelineView {
    let mut last = None;
    for _ in 0..300 {
        let live = detail(p, env, name).await.live;
        if done(&live) {
            return live;
        }
        last = Some(live);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = last.map(|v| {
        let stages: Vec<_> = v.stages.iter().map(|s| (s.name.clone(), s.status.clone(), s.current)).collect();
        format!("latest {:?}, stages {stages:?}", v.latest.map(|e| (e.id, e.status)))
    });
    panic!("{name} did not reach: {what}; last seen: {seen:?}");
}

pub(crate) fn latest_status(v: &PipelineView) -> &str {
    v.latest.as_ref().map(|e| e.status.as_str()).unwrap_or("")
}

pub(crate) fn ask(env: &str, pipeline: &str, kind: &str) -> RequestPipelineChange {
    RequestPipelineChange {
        env: s(env),
        pipeline: s(pipeline),
        kind: s(kind),
        commit: None,
        stage: None,
        execution: None,
        variables: None,
        revision_action: None,
        revision_kind: None,
        revision_value: None,
        condition: None,
        reason: s("pipelines test"),
        return_to: None,
    }
}

async fn image(p: &TestPortal, namespace: &str) -> String {
    let detail = app::api::deployments::GetDeployment {
        env: s(namespace),
        namespace: s(namespace),
        name: s("myapp-deployment"),
    };
    let d: app::model::DeploymentDetail = p.call(&p.http, &detail).await.json().await.expect("deployment");
    d.containers[0].image.clone()
}

pub(crate) async fn approvals(p: &TestPortal, env: &str) -> Vec<ApprovalView> {
    p.call(&p.http, &ListPipelineApprovals { env: s(env) }).await.json().await.expect("approvals")
}

pub(crate) async fn waiting_approval(p: &TestPortal, env: &str) -> ApprovalView {
    for _ in 0..300 {
        if let Some(a) = approvals(p, env).await.into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no approval waited in {env}");
}

pub(crate) fn decide(a: &ApprovalView, decision: &str, comment: &str) -> DecidePipelineApproval {
    DecidePipelineApproval {
        env: a.env.clone(),
        pipeline: a.pipeline.clone(),
        stage: a.stage.clone(),
        action: a.action.clone(),
        token: a.token.clone(),
        decision: s(decision),
        comment: s(comment),
        override_reason: None,
        return_to: None,
    }
}

/// Requests a production release as `requester` and has avery approve the change request;
/// returns the execution's approval once it waits.
pub(crate) async fn release_production(p: &TestPortal, requester: &reqwest::Client) -> ApprovalView {
    let asked: String =
        p.call(requester, &ask("production", "myapp-production", "start")).await.json().await.expect("asked");
    assert_eq!(asked, "pending", "production is protected: the release waits for approval");
    let avery = p.as_role(Role::Approver).await;
    let changes: Vec<ChangeView> =
        p.call(&avery, &app::api::changes::ListChanges { env: s("production") }).await.json().await.unwrap();
    let request = changes.iter().find(|c| c.state == "pending" && c.kind == "release").expect("the request");
    let approved: ChangeView = p
        .call(&avery, &ApproveChange { id: request.id.clone(), comment: s("go") })
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved.state, "executed", "{:?}", approved.outcome);
    assert!(approved.outcome.unwrap_or_default().starts_with("started execution"));
    waiting_approval(p, "production").await
}

/// The list shows each pipeline's stages and latest execution with its commit; the detail
/// adds the history, paged, with the commit and trigger of each execution.
#[tokio::test(flavor = "multi_thread")]
async fn list_and_detail() {
    let p = portal().await;
    let list: Vec<PipelineView> =
        p.call(&p.http, &ListPipelines { env: s("staging") }).await.json().await.expect("pipelines");
    assert_eq!(list.len(), 1);
    let staging = &list[0];
    assert_eq!(staging.name, "myapp-staging");
    let stages: Vec<_> = staging.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["Source", "Test", "Build", "Deploy"]);
    let latest = staging.latest.as_ref().expect("a latest execution");
    assert_eq!(latest.status, "Succeeded");
    let commit = latest.commit.as_ref().expect("its commit");
    assert_eq!(commit.short, "e93d5f1");
    assert!(commit.message.is_some());
    assert_eq!(commit.author.as_deref(), Some("Dana Whitfield"), "from the source action's output");
    assert!(staging.problem.is_none());

    let production = detail(&p, "production", "myapp-production").await;
    assert!(production.stages.contains(&s("Approval")));
    assert!(production.history.len() >= 2);
    assert_eq!(production.history[0].status, "Failed", "the demo's rejected release");
    let first_page = GetPipeline { env: s("staging"), name: s("myapp-staging"), page: s("") };
    let page: PipelineDetail = p.call(&p.http, &first_page).await.json().await.unwrap();
    assert_eq!(page.history.len(), 5);
    let unknown = p.call(&p.http, &GetPipeline { env: s("staging"), name: s("nope"), page: s("") }).await;
    assert_eq!(unknown.status().as_u16(), 404);
    let bad_page = GetPipeline { env: s("staging"), name: s("myapp-staging"), page: s("garbage") };
    let refused = p.call(&p.http, &bad_page).await;
    assert_eq!(refused.status().as_u16(), 409);
    assert!(refused.text().await.unwrap().contains("InvalidNextTokenException"));
}

/// The issue's story on the sandbox: dana releases myapp-production (a change request avery
/// approves), it reaches the manual approval; dana may not answer it (a deployer), ada cannot
/// approve a release she started herself; avery approves, Deploy rolls the commit out. Then
/// the previous commit is redeployed from the history.
#[tokio::test(flavor = "multi_thread")]
async fn release_approved_by_someone_else_then_redeploy() {
    let p = portal().await;
    let sandbox = p.running.sandbox.as_ref().unwrap();
    let head = sandbox.aws.commit("myapp", "Add gift wrapping", "Priya Raman");
    let dana = p.as_role(Role::Deployer).await;
    let ada = p.as_role(Role::Admin).await;
    let avery = p.as_role(Role::Approver).await;

    let approval = release_production(&p, &dana).await;
    assert_eq!(approval.started_by.as_deref(), Some("dana"));
    assert_eq!(approval.commit.as_ref().map(|c| c.short.clone()), Some(head[..7].to_owned()));
    let live = detail(&p, "production", "myapp-production").await.live;
    assert!(live.approval.is_some(), "the waiting approval stands out");

    let by_deployer = p.call(&dana, &decide(&approval, "approve", "me")).await;
    assert_eq!(by_deployer.status().as_u16(), 403);

    // Production's approval needs two people, one of them from security (the sandbox's rule).
    let approved = p.call(&avery, &decide(&approval, "approve", "Ship it")).await;
    assert_eq!(approved.status().as_u16(), 200, "{}", approved.text().await.unwrap_or_default());
    let approved = p.call(&ada, &decide(&approval, "approve", "Security is fine")).await;
    assert_eq!(approved.status().as_u16(), 200, "{}", approved.text().await.unwrap_or_default());
    let live =
        wait_until(&p, "production", "myapp-production", "Succeeded", |v| latest_status(v) == "Succeeded")
            .await;
    assert_eq!(image(&p, "production").await, format!("myapp:{}", &head[..7]));

    // The Deploy stage shows the deployment it rolls out (aws.deploys), as the cluster has it.
    let deploy = live.stages.iter().find(|s| s.name == "Deploy").expect("the Deploy stage");
    let target = deploy.target.as_ref().expect("Deploy is mapped to myapp-deployment");
    assert_eq!((target.namespace.as_str(), target.deployment.as_str()), ("production", "myapp-deployment"));
    let row = target.row.as_ref().expect("the watch has it");
    assert_eq!(row.images[0].commit.as_deref(), Some(&head[..7]));
    assert!(live.stages.iter().filter(|s| s.name != "Deploy").all(|s| s.target.is_none()));

    // The deployment's live revision names the execution and commit that released it.
    let deployment = app::api::deployments::GetDeployment {
        env: s("production"),
        namespace: s("production"),
        name: s("myapp-deployment"),
    };
    let d: app::model::DeploymentDetail = p.call(&p.http, &deployment).await.json().await.unwrap();
    assert!(d.releases_problem.is_none(), "{:?}", d.releases_problem);
    let released = d.revisions.iter().find(|r| r.live).and_then(|r| r.release.clone()).expect("released by");
    assert_eq!(
        (released.execution.as_str(), released.commit.as_str()),
        (approval.execution.as_str(), &head[..7])
    );
    assert_eq!(released.pipeline, "myapp-production");

    // The live stream sends the card as HTML rendered for this viewer, the rollout in it.
    let response = p.get("/live/production/pipelines/myapp-production?detail=true").await;
    assert_eq!(response.status().as_u16(), 200);
    let card = first_event(response).await;
    assert!(card.contains(r#"data-pipeline="myapp-production""#), "{card}");
    assert!(card.contains(r#"data-deployment="production/myapp-deployment""#), "{card}");
    assert!(card.contains(r#"class="rollout""#), "the rollout's progress bar: {card}");
    assert!(card.contains(r#"data-action="Deploy""#), "the detail shape lists actions: {card}");
    assert!(!card.contains("<script"), "{card}");

    // Redeploy the commit before it, picked from the history.
    let history = detail(&p, "production", "myapp-production").await.history;
    let previous = history
        .iter()
        .filter(|e| e.status == "Succeeded")
        .filter_map(|e| e.commit.clone())
        .find(|c| c.id != head)
        .expect("an earlier successful commit");
    let mut redeploy = ask("production", "myapp-production", "redeploy");
    redeploy.commit = Some(previous.id.clone());
    let asked: String = p.call(&dana, &redeploy).await.json().await.unwrap();
    assert_eq!(asked, "pending");
    let changes: Vec<ChangeView> =
        p.call(&avery, &app::api::changes::ListChanges { env: s("production") }).await.json().await.unwrap();
    let request = changes.iter().find(|c| c.state == "pending").expect("the redeploy request");
    assert_eq!(request.kind, "redeploy commit");
    let done: ChangeView = p
        .call(&avery, &ApproveChange { id: request.id.clone(), comment: s("ok") })
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done.state, "executed", "{:?}", done.outcome);
    let approval = waiting_approval(&p, "production").await;
    assert_eq!(approval.commit.as_ref().map(|c| c.id.clone()), Some(previous.id.clone()));
    assert_eq!(approval.started_by.as_deref(), Some("dana"));
    for approver in [&ada, &avery] {
        let approved = p.call(approver, &decide(&approval, "approve", "Back to the previous commit")).await;
        assert_eq!(approved.status().as_u16(), 200);
    }
    wait_until(&p, "production", "myapp-production", "the redeploy succeeded", |v| {
        latest_status(v) == "Succeeded"
            && v.latest.as_ref().and_then(|e| e.commit.as_ref()).map(|c| &c.id) == Some(&previous.id)
    })
    .await;
    assert_eq!(image(&p, "production").await, format!("myapp:{}", previous.short));
}

/// The first message of a server-sent event stream (20 s at most).
async fn first_event(mut response: reqwest::Response) -> String {
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            if !data.is_empty() {
                return data.join("\n");
            }
        }
    }
    panic!("no event came: {buffer}");
}

/// Two executions side by side: the demo's last success against its rejected release.
#[tokio::test(flavor = "multi_thread")]
async fn two_executions_side_by_side() {
    let p = portal().await;
    let history = detail(&p, "production", "myapp-production").await.history;
    let rejected = history.iter().find(|e| e.status == "Failed").expect("the demo's rejected release");
    let succeeded = history.iter().find(|e| e.status == "Succeeded").expect("a success");
    let ask = |a: &str, b: &str| CompareExecutions {
        env: s("production"),
        name: s("myapp-production"),
        a: s(a),
        b: s(b),
    };
    let c: ExecutionComparison =
        p.call(&p.http, &ask(&succeeded.id, &rejected.id)).await.json().await.unwrap();
    assert_eq!(c.a.execution.id, succeeded.id);
    assert_eq!(c.b.execution.status, "Failed");
    assert_eq!(c.a.execution.commit.as_ref().map(|c| &c.id), succeeded.commit.as_ref().map(|c| &c.id));
    assert!(c.a.image.as_deref().is_some_and(|i| i.starts_with("myapp:")), "{:?}", c.a.image);
    let row =
        |stage: &str| c.actions.iter().find(|a| a.stage == stage).unwrap_or_else(|| panic!("{stage}: {c:?}"));
    assert!(!row("Source").differs);
    let approval = row("Approval");
    assert!(approval.differs, "approved in one, rejected in the other");
    assert_eq!(approval.b.as_ref().map(|o| o.status.as_str()), Some("Failed"));
    let deploy = row("Deploy");
    assert_eq!(deploy.a.as_ref().map(|o| o.status.as_str()), Some("Succeeded"));
    assert!(deploy.b.is_none(), "the rejected release never deployed");
    let order: Vec<&str> = c.actions.iter().map(|a| a.stage.as_str()).collect();
    assert_eq!(order, ["Source", "Test", "Build", "Approval", "Deploy"]);

    let bad = p.call(&p.http, &ask("not-an-id", &rejected.id)).await;
    assert_eq!(bad.status().as_u16(), 400);
    let unknown = p.call(&p.http, &ask("00000000-0000-0000-0000-000000000000", &rejected.id)).await;
    assert_eq!(unknown.status().as_u16(), 404, "{}", unknown.text().await.unwrap_or_default());
}

/// A rejected approval fails the execution; nothing is deployed.
#[tokio::test(flavor = "multi_thread")]
async fn reject_fails_the_release() {
    let p = portal().await;
    let before = image(&p, "production").await;
    let dana = p.as_role(Role::Deployer).await;
    let avery = p.as_role(Role::Approver).await;
    let approval = release_production(&p, &dana).await;
    let rejected = p.call(&avery, &decide(&approval, "reject", "Not during the sale")).await;
    assert_eq!(rejected.status().as_u16(), 200);
    let live = wait_until(&p, "production", "myapp-production", "Failed", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == approval.execution && e.status == "Failed")
    })
    .await;
    assert!(live.approval.is_none());
    assert_eq!(image(&p, "production").await, before);
}

/// On staging (not protected) a release starts at once; a failed test stage is retried and
/// the execution goes on; a running execution is stopped (abandoned) with a reason.
#[tokio::test(flavor = "multi_thread")]
async fn retry_and_stop() {
    let p = portal().await;
    let sandbox = p.running.sandbox.as_ref().unwrap();
    let dana = p.as_role(Role::Deployer).await;
    let vera = p.as_role(Role::Viewer).await;
    sandbox.aws.fail_next(Failure::Tests);
    let asked: String = p.call(&dana, &ask("staging", "myapp-staging", "start")).await.json().await.unwrap();
    assert_eq!(asked, "executed", "staging runs a release at once");
    let failed = wait_until(&p, "staging", "myapp-staging", "Test failed", |v| {
        latest_status(v) == "Failed"
            && v.stages.iter().any(|s| s.name == "Test" && s.current && s.status.as_deref() == Some("Failed"))
    })
    .await;
    let test = failed.stages.iter().find(|s| s.name == "Test").unwrap();
    assert!(test.actions[0].error.is_some(), "the action's error is shown");
    let execution = failed.latest.unwrap().id;
    let retry = |stage: &str| RetryStage {
        env: s("staging"),
        pipeline: s("myapp-staging"),
        execution: execution.clone(),
        stage: s(stage),
        mode: s("failed"),
        override_reason: None,
        return_to: None,
    };
    assert_eq!(p.call(&vera, &retry("Test")).await.status().as_u16(), 403);
    let not_retryable = p.call(&dana, &retry("Build")).await;
    assert_eq!(not_retryable.status().as_u16(), 409);
    assert!(not_retryable.text().await.unwrap().contains("StageNotRetryableException"));
    assert_eq!(p.call(&dana, &retry("Test")).await.status().as_u16(), 200);
    wait_until(&p, "staging", "myapp-staging", "Succeeded after the retry", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == execution && e.status == "Succeeded")
    })
    .await;

    sandbox.aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_secs(30),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(300),
        ..Default::default()
    });
    p.call(&dana, &ask("staging", "myapp-staging", "start")).await;
    let running = wait_until(&p, "staging", "myapp-staging", "testing", |v| {
        v.stages.iter().any(|s| s.name == "Test" && s.current && s.status.as_deref() == Some("InProgress"))
    })
    .await;
    assert!(running.running);
    let id = running.latest.unwrap().id;
    let stop = StopExecution {
        env: s("staging"),
        pipeline: s("myapp-staging"),
        execution: id.clone(),
        abandon: Some(s("true")),
        reason: s("Wrong commit"),
        override_reason: None,
        return_to: None,
    };
    assert_eq!(p.call(&dana, &stop).await.status().as_u16(), 200);
    let stopped =
        wait_until(&p, "staging", "myapp-staging", "Stopped", |v| latest_status(v) == "Stopped").await;
    assert_eq!(stopped.latest.unwrap().summary.as_deref(), Some("Wrong commit"));
}

/// Freezing the transition into Deploy shows who froze it and why; unfreezing clears it.
#[tokio::test(flavor = "multi_thread")]
async fn disable_and_enable_a_transition() {
    let p = portal().await;
    let dana = p.as_role(Role::Deployer).await;
    let vera = p.as_role(Role::Viewer).await;
    let set = |enable: &str, reason: &str| SetStageTransition {
        env: s("staging"),
        pipeline: s("myapp-staging"),
        stage: s("Deploy"),
        enable: s(enable),
        reason: Some(s(reason)),
        override_reason: None,
        return_to: None,
    };
    assert_eq!(p.call(&vera, &set("false", "freeze")).await.status().as_u16(), 403);
    assert_eq!(p.call(&dana, &set("false", "")).await.status().as_u16(), 400, "a freeze needs a reason");
    let colon = p.call(&dana, &set("false", "freeze: the sale")).await;
    assert_eq!(colon.status().as_u16(), 400, "CodePipeline refuses a colon in a reason");
    assert!(colon.text().await.unwrap().contains("CodePipeline's rule"));
    assert_eq!(p.call(&dana, &set("false", "Code freeze for the sale")).await.status().as_u16(), 200);
    let frozen = wait_until(&p, "staging", "myapp-staging", "frozen", |v| {
        v.stages.iter().any(|s| s.name == "Deploy" && s.disabled.is_some())
    })
    .await;
    let disabled = frozen.stages.iter().find(|s| s.name == "Deploy").unwrap().disabled.clone().unwrap();
    assert_eq!(disabled.reason, "Code freeze for the sale");
    assert_eq!(disabled.by, "dana", "the person, not Rollgate's AWS identity");
    assert_eq!(p.call(&dana, &set("true", "")).await.status().as_u16(), 200);
    wait_until(&p, "staging", "myapp-staging", "unfrozen", |v| v.stages.iter().all(|s| s.disabled.is_none()))
        .await;
}

/// Rolling Deploy back to an earlier successful execution redeploys its image; a failed
/// execution is refused as a target.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_stage_to_an_earlier_execution() {
    let p = portal().await;
    let dana = p.as_role(Role::Deployer).await;
    let history = detail(&p, "staging", "myapp-staging").await.history;
    let by_commit = |short: &str| {
        history.iter().find(|e| e.commit.as_ref().is_some_and(|c| c.short == short)).unwrap().id.clone()
    };
    let rollback = |execution: String| RequestPipelineChange {
        stage: Some(s("Deploy")),
        execution: Some(execution),
        ..ask("staging", "myapp-staging", "rollback-stage")
    };
    let refused = p.call(&dana, &rollback(by_commit("c41f0e8"))).await;
    assert_eq!(refused.status().as_u16(), 409);
    assert!(refused.text().await.unwrap().contains("only a successful execution"));
    let asked: String = p.call(&dana, &rollback(by_commit("b7a04c2"))).await.json().await.unwrap();
    assert_eq!(asked, "executed");
    let done = wait_until(&p, "staging", "myapp-staging", "rolled back", |v| {
        v.latest.as_ref().is_some_and(|e| e.kind == "ROLLBACK" && e.status == "Succeeded")
    })
    .await;
    assert!(done.latest.is_some());
    assert_eq!(image(&p, "staging").await, "myapp:b7a04c2");
}

/// The approval token decides which execution is approved, so the server finds that
/// execution itself: ada, who asked for this release, cannot approve it by naming another
/// execution in a hand-made post, nor after the outcome's wording changes; a token nothing
/// waits with any more is refused in words.
#[tokio::test(flavor = "multi_thread")]
async fn the_releaser_cannot_approve_through_another_execution() {
    let p = portal().await;
    let ada = p.as_role(Role::Admin).await;
    let avery = p.as_role(Role::Approver).await;
    let approval = release_production(&p, &ada).await;
    let older = detail(&p, "production", "myapp-production")
        .await
        .history
        .into_iter()
        .find(|e| e.id != approval.execution)
        .expect("an older execution")
        .id;
    // What the browser's form used to send, with another execution's id: no longer read.
    let forged = p
        .http
        .post(p.url(<DecidePipelineApproval as leptos::server_fn::ServerFn>::PATH))
        .header("accept", "application/json")
        .header("cookie", p.sign_in("ada", "ada-admin-demo").await.unwrap())
        .form(&[
            ("env", "production"),
            ("pipeline", "myapp-production"),
            ("stage", approval.stage.as_str()),
            ("action", approval.action.as_str()),
            ("token", approval.token.as_str()),
            ("execution", older.as_str()),
            ("decision", "approve"),
            ("comment", "not mine, honest"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 409);
    assert!(forged.text().await.unwrap().contains("someone else must approve or reject it"));

    // Who started the execution is a column, not words in the outcome.
    sqlx::query("UPDATE change_requests SET outcome = 'reworded by a later version'")
        .execute(p.running.portal.store.pool())
        .await
        .unwrap();
    let own = p.call(&ada, &decide(&approval, "reject", "mine")).await;
    assert_eq!(own.status().as_u16(), 409, "rejecting one's own release is refused too");

    // Ada is security's only member and the releaser: avery's approval is counted, and the
    // release waits for someone from security who did not ask for it.
    let approved = p.call(&avery, &decide(&approval, "approve", "Ship it")).await;
    assert_eq!(approved.status().as_u16(), 200, "{}", approved.text().await.unwrap_or_default());
    let again = p.call(&avery, &decide(&approval, "approve", "again")).await;
    assert_eq!(again.status().as_u16(), 409);
    let text = again.text().await.unwrap();
    assert!(
        text.contains("You have answered this approval already: 1 of 2: avery approved; waiting for someone from security."),
        "{text}"
    );
    let still = waiting_approval(&p, "production").await;
    assert_eq!(still.token, approval.token, "CodePipeline was not answered");
}

/// Locks and freezes hold pipeline controls back like every change: approve, reject, retry,
/// stop and enabling a transition are refused while production is locked; an admin goes
/// through with a reason the audit record keeps; freezing a transition is never held back.
#[tokio::test(flavor = "multi_thread")]
async fn locks_hold_pipeline_controls() {
    let p = portal().await;
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(&p, &dana).await;
    let lock =
        app::api::locks::LockEnvironment { env: s("production"), reason: s("incident 42"), until: s("") };
    assert_eq!(p.call(&avery, &lock).await.status().as_u16(), 200);

    let nobody = s("0e0e0e0e-0000-4000-8000-000000000000");
    let stop = StopExecution {
        env: s("production"),
        pipeline: s("myapp-production"),
        execution: nobody.clone(),
        abandon: None,
        reason: s("held test"),
        override_reason: None,
        return_to: None,
    };
    let retry = RetryStage {
        env: s("production"),
        pipeline: s("myapp-production"),
        execution: nobody.clone(),
        stage: s("Test"),
        mode: s("failed"),
        override_reason: None,
        return_to: None,
    };
    let transition = |enable: &str| SetStageTransition {
        env: s("production"),
        pipeline: s("myapp-production"),
        stage: s("Deploy"),
        enable: s(enable),
        reason: Some(s("held test")),
        override_reason: None,
        return_to: None,
    };
    for (what, response) in [
        ("approve", p.call(&avery, &decide(&approval, "approve", "ok")).await),
        ("reject", p.call(&avery, &decide(&approval, "reject", "no")).await),
        ("stop", p.call(&dana, &stop).await),
        ("retry", p.call(&dana, &retry).await),
        ("enable a transition", p.call(&dana, &transition("true")).await),
    ] {
        assert_eq!(response.status().as_u16(), 409, "{what}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Changes are held: production is locked by avery: incident 42"),
            "{what}: {body}"
        );
    }
    assert_eq!(p.call(&dana, &transition("false")).await.status().as_u16(), 200, "a freeze is not held back");

    let overriding = |mut d: DecidePipelineApproval| {
        d.override_reason = Some(s("the fix for incident 42"));
        d
    };
    let by_approver = p.call(&avery, &overriding(decide(&approval, "approve", "ok"))).await;
    assert_eq!(by_approver.status().as_u16(), 403, "only admins override");
    let by_admin = p.call(&ada, &overriding(decide(&approval, "approve", "the fix"))).await;
    assert_eq!(by_admin.status().as_u16(), 200, "{}", by_admin.text().await.unwrap_or_default());
    let trail = backend::audit::list(
        &p.running.portal.store,
        &backend::audit::Filter { action: Some(s("pipeline.approve")), ..Default::default() },
        0,
        10,
    )
    .await
    .unwrap();
    let done = trail.records.iter().find(|r| r.result == backend::audit::Outcome::Succeeded).unwrap();
    let detail = done.detail.as_deref().unwrap_or("");
    assert!(
        detail.contains("override: the fix for incident 42 (overriding: production is locked"),
        "{detail}"
    );
    assert!(detail.contains(&approval.execution), "the record names the execution found: {detail}");
}

/// A freeze window in the configuration holds pipeline controls back as a lock does, and an
/// admin's reason goes through it.
#[tokio::test(flavor = "multi_thread")]
async fn freeze_windows_hold_pipeline_controls() {
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    let now = backend::clock::Timestamp::now();
    config.environments[1].freezes.push(backend::config::FreezeWindow {
        start: now.plus_secs(-3600),
        end: now.plus_secs(3600),
        reason: s("end-of-year freeze"),
    });
    let p = TestPortal::with_config(config).await;
    let stop = |override_reason: Option<&str>| StopExecution {
        env: s("production"),
        pipeline: s("myapp-production"),
        execution: s("0e0e0e0e-0000-4000-8000-000000000000"),
        abandon: None,
        reason: s("freeze test"),
        override_reason: override_reason.map(s),
        return_to: None,
    };
    let held = p.call(&p.as_role(Role::Deployer).await, &stop(None)).await;
    assert_eq!(held.status().as_u16(), 409);
    assert!(held.text().await.unwrap().contains("deploys are frozen until"));
    let through = p.call(&p.as_role(Role::Admin).await, &stop(Some("hotfix"))).await;
    let body = through.text().await.unwrap();
    assert!(!body.contains("frozen"), "the override went past the freeze: {body}");
}

/// One poller per pipeline: 50 live viewers cost AWS no more calls than one. The count comes
/// from the poller's own client (every request it sends, retries included).
#[tokio::test(flavor = "multi_thread")]
async fn poller_calls_do_not_grow_with_viewers() {
    // Polled, not pushed: the environments without their events queue.
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    for env in &mut config.environments {
        env.aws.events_queue = None;
    }
    let p = quick(TestPortal::with_config(config).await);
    let pipelines = &p.running.portal.pipelines;
    let poller = pipelines.poller("staging", "myapp-staging").unwrap();
    let url = p.url("/live/staging/pipelines/myapp-staging");
    let open = |n: usize| {
        let (http, url) = (p.http.clone(), url.clone());
        async move {
            let mut streams = Vec::new();
            for _ in 0..n {
                let response = http.get(&url).send().await.expect("stream");
                assert_eq!(response.status().as_u16(), 200);
                streams.push(response);
            }
            streams
        }
    };
    let window = Duration::from_secs(3);
    let one = open(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = poller.calls();
    tokio::time::sleep(window).await;
    let with_one = poller.calls() - start;
    let fifty = open(49).await;
    assert_eq!(poller.viewers(), 50);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = poller.calls();
    tokio::time::sleep(window).await;
    let with_fifty = poller.calls() - start;
    eprintln!("AWS calls in {window:?}: {with_one} with 1 viewer, {with_fifty} with 50");
    assert!(with_one >= 3, "the poller polls ({with_one})");
    // Three calls per read: at most one read apart, whatever the number of viewers.
    assert!(with_fifty <= with_one + 3, "{with_fifty} calls with 50 viewers, {with_one} with 1");
    drop((one, fifty));
}

/// Throttling: the poller backs off, keeps the last state and says why it is old; pages
/// show it in words.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_shown_and_backed_off() {
    let p = portal().await;
    let sandbox = p.running.sandbox.as_ref().unwrap();
    detail(&p, "staging", "myapp-staging").await;
    sandbox.aws.set_throttling(true);
    let list = || async {
        let list: Vec<PipelineView> =
            p.call(&p.http, &ListPipelines { env: s("staging") }).await.json().await.unwrap();
        list.into_iter().next().unwrap()
    };
    let mut seen = None;
    for _ in 0..100 {
        let v = list().await;
        if v.problem.is_some() {
            seen = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stale = seen.expect("the throttling shows");
    assert!(stale.problem.unwrap().contains("throttling"), "in words");
    assert!(stale.latest.is_some(), "the last state is kept");
    assert!(stale.fetched_ms.is_some());
    sandbox.aws.set_throttling(false);
    for _ in 0..100 {
        if list().await.problem.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the poller did not recover after throttling ended");
}
