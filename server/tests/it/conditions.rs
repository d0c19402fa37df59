//! CodePipeline V2 through Rollgate's server functions on the sandbox: production's Deploy
//! entry condition (its error alarm) shown live, its rule results, and an override that is a
//! change request under four eyes (the requester cannot approve it; a forged one naming an older
//! execution fails in CodePipeline's words; a failure condition cannot be overridden at all);
//! a release with variables and a source revision, refused in words when the pipeline does not
//! declare the variable; and what CodePipeline does by itself in QUEUED and PARALLEL pipelines
//! (queued executions, automatic retry and rollback, a refused stage rollback).

use std::time::Duration;

use app::api::changes::{ApproveChange, ListChanges};
use app::api::pipelines::RequestPipelineChange;
use app::model::ChangeView;
use aws_sdk_codepipeline::types::PipelineExecutionStatus;
use backend::policy::Role;

use crate::common::TestPortal;
use crate::pipelines::{ask, decide, detail, portal, release_production, s, wait_until};

const PIPELINE: &str = "myapp-production";
const ALARM: &str = "myapp-production-errors";

fn sandbox(p: &TestPortal) -> &sandbox::Sandbox {
    p.running.sandbox.as_ref().expect("the sandbox runs")
}

fn entry_checking(v: &app::model::pipelines::PipelineView) -> Option<String> {
    v.stages
        .iter()
        .find(|s| s.name == "Deploy")
        .and_then(|s| s.conditions.iter().find(|c| c.kind == "before-entry"))
        .and_then(|c| c.checking.clone())
}

/// Releases production (dana asks, avery approves the request, avery and ada meet the
/// approval's quorum) and returns the execution.
async fn released(p: &TestPortal) -> String {
    let dana = p.as_role(Role::Deployer).await;
    let (avery, ada) = (p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(p, &dana).await;
    for who in [&avery, &ada] {
        let answered = p.call(who, &decide(&approval, "approve", "fine")).await;
        assert_eq!(answered.status().as_u16(), 200, "{}", answered.text().await.unwrap_or_default());
    }
    approval.execution
}

fn over(execution: &str, condition: &str) -> RequestPipelineChange {
    RequestPipelineChange {
        stage: Some(s("Deploy")),
        execution: Some(execution.to_owned()),
        condition: Some(s(condition)),
        ..ask("production", PIPELINE, "override-condition")
    }
}

async fn pending(p: &TestPortal, who: &reqwest::Client, kind: &str) -> ChangeView {
    let changes: Vec<ChangeView> =
        p.call(who, &ListChanges { env: s("production") }).await.json().await.expect("the changes");
    changes.into_iter().find(|c| c.state == "pending" && c.kind == kind).expect("a pending request")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_override_of_an_entry_condition_is_a_change_request_under_four_eyes() {
    let p = portal().await;
    let (vera, dana, avery) =
        (p.as_role(Role::Viewer).await, p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await);

    // A quiet alarm: the check passes, the page shows it and what the rule found.
    let first = released(&p).await;
    wait_until(&p, "production", PIPELINE, "released", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == first && e.status == "Succeeded")
    })
    .await;
    let shown = detail(&p, "production", PIPELINE).await;
    let deploy = shown.live.stages.iter().find(|s| s.name == "Deploy").unwrap();
    let entry = &deploy.conditions[0];
    assert_eq!((entry.kind.as_str(), entry.words.as_str()), ("before-entry", "entry condition"));
    assert_eq!(entry.status.as_deref(), Some("Succeeded"));
    assert_eq!(entry.rules[0].summary.as_deref(), Some("Alarm myapp-production-errors is OK"));
    assert_eq!(entry.checking, None, "nothing to override");
    let rule = shown.rules.iter().find(|r| r.rule == "NoProductionErrors").expect("the rule's run");
    assert_eq!((rule.provider.as_str(), rule.status.as_str()), ("CloudWatchAlarm", "Succeeded"));
    assert!(rule.checked.contains("AlarmName: myapp-production-errors"), "{}", rule.checked);
    assert_eq!(shown.mode, "SUPERSEDED");

    // The alarm fires: the next release waits at Deploy's entry.
    sandbox(&p).aws.set_alarm(ALARM, "ALARM");
    let held = released(&p).await;
    let live = wait_until(&p, "production", PIPELINE, "held at Deploy's entry", |v| {
        entry_checking(v).as_deref() == Some(held.as_str())
    })
    .await;
    assert!(live.running);

    // Who may not ask, cannot; a failure condition is no overridable one.
    assert_eq!(p.call(&vera, &over(&held, "before-entry")).await.status().as_u16(), 403);
    let failure = p.call(&dana, &over(&held, "on-failure")).await;
    assert_eq!(failure.status().as_u16(), 400);
    assert!(failure.text().await.unwrap().contains("cannot be overridden"));
    let nonsense = p.call(&dana, &over(&held, "whenever")).await;
    assert_eq!(nonsense.status().as_u16(), 400);

    // A forged request naming the earlier execution: four eyes let it through, CodePipeline
    // refuses it, in words, and the held release still waits.
    let forged: String = p.call(&dana, &over(&first, "before-entry")).await.json().await.unwrap();
    assert_eq!(forged, "pending");
    let request = pending(&p, &avery, "override condition").await;
    let done: ChangeView =
        p.call(&avery, &ApproveChange { id: request.id, comment: s("ok") }).await.json().await.unwrap();
    assert_eq!(done.state, "failed");
    let outcome = done.outcome.unwrap_or_default();
    assert!(outcome.contains("not the latest execution"), "{outcome}");
    assert_eq!(
        entry_checking(&detail(&p, "production", PIPELINE).await.live).as_deref(),
        Some(held.as_str())
    );

    // The real one: dana asks, cannot approve her own request, avery does.
    let asked: String = p.call(&dana, &over(&held, "before-entry")).await.json().await.unwrap();
    assert_eq!(asked, "pending", "production is protected");
    let request = pending(&p, &dana, "override condition").await;
    assert!(
        request.description.contains("override the entry condition of Deploy"),
        "{}",
        request.description
    );
    let own = p.call(&dana, &ApproveChange { id: request.id.clone(), comment: s("mine") }).await;
    assert_eq!(own.status().as_u16(), 409, "nobody approves their own request");
    // Fifty approvals at once (avery, and ada, an admin): one counts, the override is sent once.
    let overrides = || {
        sandbox(&p)
            .aws
            .codepipeline_calls_by_operation()
            .get("OverrideStageCondition")
            .map_or(0, |c| c.answered)
    };
    let sent_before = overrides();
    let ada = p.as_role(Role::Admin).await;
    let approve = ApproveChange { id: request.id.clone(), comment: s("alarm is a known flake") };
    let answers = futures_util::future::join_all(
        (0..50).map(|i| p.call(if i % 2 == 0 { &avery } else { &ada }, &approve)),
    )
    .await;
    let mut executed = Vec::new();
    for answer in answers {
        let status = answer.status().as_u16();
        if status == 200 {
            executed.push(answer.json::<ChangeView>().await.unwrap());
        } else {
            assert_eq!(status, 409, "a second decision is refused in words");
        }
    }
    assert_eq!(executed.len(), 1, "one approval counts");
    assert_eq!(executed[0].state, "executed", "{:?}", executed[0].outcome);
    assert_eq!(overrides() - sent_before, 1, "CodePipeline is asked once");
    wait_until(&p, "production", PIPELINE, "released past the alarm", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == held && e.status == "Succeeded")
    })
    .await;
    let shown = detail(&p, "production", PIPELINE).await;
    let deploy = shown.live.stages.iter().find(|s| s.name == "Deploy").unwrap();
    assert_eq!(deploy.conditions[0].status.as_deref(), Some("Overridden"));
    let trail = backend::audit::list(
        &p.running.portal.store,
        &backend::audit::Filter { action: Some(s("change.execute")), ..Default::default() },
        0,
        20,
    )
    .await
    .unwrap();
    let executed = trail
        .records
        .iter()
        .filter_map(|r| r.detail.as_deref())
        .find(|d| d.contains("overrode the entry condition of Deploy"))
        .expect("audited");
    assert!(executed.contains("approved by avery") || executed.contains("approved by ada"), "{executed}");
    sandbox(&p).aws.set_alarm(ALARM, "OK");
}

async fn executions(
    p: &TestPortal,
    pipeline: &str,
) -> Vec<aws_sdk_codepipeline::types::PipelineExecutionSummary> {
    let endpoint = format!("http://{}", sandbox(p).endpoints.codepipeline);
    let client = testkit::aws::codepipeline(&endpoint).await;
    let out = client.list_pipeline_executions().pipeline_name(pipeline).send().await.unwrap();
    out.pipeline_execution_summaries().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_with_variables_and_an_earlier_commit() {
    let p = portal().await;
    let dana = p.as_role(Role::Deployer).await;
    let with = |variables: &str, revision: &str| RequestPipelineChange {
        variables: Some(s(variables)),
        revision_action: Some(s("Source")),
        revision_kind: Some(s("commit-id")),
        revision_value: Some(s(revision)),
        ..ask("staging", "myapp-staging", "start")
    };
    let before = executions(&p, "myapp-staging").await.len();

    // The release form's variables come from the declaration, read once per pipeline version.
    let reads =
        || sandbox(&p).aws.codepipeline_calls_by_operation().get("GetPipeline").map_or(0, |c| c.answered);
    let first = detail(&p, "staging", "myapp-staging").await;
    assert_eq!(first.variables[0].name, "RELEASE_NOTE");
    assert_eq!(first.variables[0].default.as_deref(), Some("routine release"));
    assert_eq!(first.source_actions, ["Source"]);
    let read_once = reads();
    detail(&p, "staging", "myapp-staging").await;
    detail(&p, "staging", "myapp-staging").await;
    assert_eq!(reads(), read_once, "two more page views, no GetPipeline");

    // Refused in words, nothing started: an undeclared variable, a bad revision, a digest for
    // a commit.
    let undeclared = p.call(&dana, &with("COLOUR=blue", "")).await;
    let said = undeclared.text().await.unwrap();
    assert!(said.contains("myapp-staging declares no variable COLOUR; it declares RELEASE_NOTE"), "{said}");
    let bad = p.call(&dana, &with("", "main")).await;
    assert_eq!(bad.status().as_u16(), 400);
    let said = bad.text().await.unwrap();
    assert!(said.contains("Source revision:") && said.contains("is not a commit hash"), "{said}");
    let other = RequestPipelineChange { revision_action: Some(s("Checkout")), ..with("", "4d1c9a7") };
    let said = p.call(&dana, &other).await.text().await.unwrap();
    assert!(said.contains("has no source action Checkout"), "{said}");
    assert_eq!(executions(&p, "myapp-staging").await.len(), before);

    // Staging is not protected: it starts at once, with the note and the oldest commit.
    let asked: String =
        p.call(&dana, &with("RELEASE_NOTE=hotfix check", "4d1c9a7")).await.json().await.unwrap();
    assert_eq!(asked, "executed");
    let latest = executions(&p, "myapp-staging").await.remove(0);
    assert_eq!(latest.source_revisions()[0].revision_id(), Some("4d1c9a70e6b25f8813c4a0d97e2b61f5c3a8d092"));
    let id = latest.pipeline_execution_id().unwrap().to_owned();
    let endpoint = format!("http://{}", sandbox(&p).endpoints.codepipeline);
    let client = testkit::aws::codepipeline(&endpoint).await;
    let got = client
        .get_pipeline_execution()
        .pipeline_name("myapp-staging")
        .pipeline_execution_id(&id)
        .send()
        .await
        .unwrap();
    let variables = got.pipeline_execution().unwrap().variables();
    assert_eq!(variables[0].name(), Some("RELEASE_NOTE"));
    assert_eq!(variables[0].resolved_value(), Some("hotfix check"));
    for _ in 0..300 {
        let out = client
            .get_pipeline_execution()
            .pipeline_name("myapp-staging")
            .pipeline_execution_id(&id)
            .send()
            .await;
        let status = out.unwrap().pipeline_execution().and_then(|e| e.status().cloned());
        if status == Some(PipelineExecutionStatus::Succeeded) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the release with inputs did not succeed");
}

/// Two pipelines of a staging of their own: `web-queued` (QUEUED; Test retries by itself;
/// Build's success condition checks the `GATE` variable and rolls Build back when it is not
/// `open`) and `web-parallel` (PARALLEL).
const V2: &str = r#"
sandbox = true

[roles]
vera = "viewer"
dana = "deployer"
avery = "approver"
ada = "admin"

[[environment]]
name = "staging"
cluster = { kind = "sandbox" }
namespaces = ["staging"]
aws = { region = "us-east-1", pipelines = ["web-queued", "web-parallel"] }
"#;

fn stage<'a>(v: &'a app::model::pipelines::PipelineView, name: &str) -> &'a app::model::pipelines::StageView {
    v.stages.iter().find(|s| s.name == name).expect("the stage")
}

/// What CodePipeline does by itself, as Rollgate shows it: executions queued at a stage of a
/// QUEUED pipeline, a stage retried automatically, a stage rolled back automatically when its
/// success condition is not met (a release whose variable says so); and a PARALLEL pipeline,
/// whose stage rollback CodePipeline refuses, in its words.
#[tokio::test(flavor = "multi_thread")]
async fn queued_and_parallel_pipelines_and_what_codepipeline_does_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v2.toml");
    std::fs::write(&file, V2).unwrap();
    let config = backend::config::load(&backend::config::Source::File(file)).expect("the configuration");
    let p = crate::pipelines::quick(TestPortal::with_config(config).await);
    let dana = p.as_role(Role::Deployer).await;
    let sb = sandbox(&p);
    sb.aws.commit("web", "First", "Lee Nakamura");
    let endpoint = format!("http://{}", sb.endpoints.codepipeline);
    for (name, mode) in [("web-queued", "QUEUED"), ("web-parallel", "PARALLEL")] {
        let declared = testkit::aws::v2_pipeline(name, mode, mode == "QUEUED");
        testkit::aws::create_pipeline(&endpoint, &declared, &[]).await.json();
    }
    let client = testkit::aws::codepipeline(&endpoint).await;
    let release = |pipeline: &str, variables: &str| RequestPipelineChange {
        variables: Some(s(variables)),
        ..ask("staging", pipeline, "start")
    };

    // Two releases wait their turn at a closed gate into Build: the page lists both.
    client
        .disable_stage_transition()
        .pipeline_name("web-queued")
        .stage_name("Build")
        .transition_type(aws_sdk_codepipeline::types::StageTransitionType::Inbound)
        .reason("hold")
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        let asked: String = p.call(&dana, &release("web-queued", "")).await.json().await.unwrap();
        assert_eq!(asked, "executed", "staging here is not protected");
    }
    let queued = wait_until(&p, "staging", "web-queued", "two executions queued at Build", |v| {
        stage(v, "Build").queued.len() == 2
    })
    .await;
    assert_eq!(stage(&queued, "Build").queued.len(), 2);
    assert_eq!(detail(&p, "staging", "web-queued").await.mode, "QUEUED");
    client
        .enable_stage_transition()
        .pipeline_name("web-queued")
        .stage_name("Build")
        .transition_type(aws_sdk_codepipeline::types::StageTransitionType::Inbound)
        .send()
        .await
        .unwrap();
    wait_until(&p, "staging", "web-queued", "both through", |v| {
        stage(v, "Build").queued.is_empty() && v.latest.as_ref().is_some_and(|e| e.status == "Succeeded")
    })
    .await;

    // A failed test run retried by CodePipeline itself.
    sb.aws.fail_next(sandbox::Failure::Tests);
    p.call(&dana, &release("web-queued", "")).await.json::<String>().await.unwrap();
    let retried = wait_until(&p, "staging", "web-queued", "retried by itself", |v| {
        stage(v, "Test").retries.is_some() && v.latest.as_ref().is_some_and(|e| e.status == "Succeeded")
    })
    .await;
    assert_eq!(
        stage(&retried, "Test").retries.as_deref(),
        Some("Retried 1 time(s) automatically, 0 by hand; last by CodePipeline itself")
    );

    // A release whose GATE is closed: Build's success condition fails, CodePipeline rolls
    // Build back to the last execution that succeeded in it.
    let good = retried.latest.clone().expect("the retried release").id;
    p.call(&dana, &release("web-queued", "GATE=closed")).await.json::<String>().await.unwrap();
    let rolled = wait_until(&p, "staging", "web-queued", "rolled back by itself", |v| {
        v.latest.as_ref().is_some_and(|e| e.kind == "ROLLBACK" && e.status == "Succeeded")
    })
    .await;
    let rollback = rolled.latest.expect("the rollback");
    assert!(rollback.trigger.starts_with("AutomatedRollback"), "{}", rollback.trigger);
    let history = detail(&p, "staging", "web-queued").await.history;
    let failed = history.iter().find(|e| e.status == "Failed").expect("the closed release");
    let why = failed.summary.clone().unwrap_or_default();
    assert!(why.contains("success condition of stage Build was not met"), "{why}");
    assert_ne!(rollback.id, good);

    // PARALLEL: the page knows, and a stage rollback asked for anyway is refused in words.
    let asked: String = p.call(&dana, &release("web-parallel", "")).await.json().await.unwrap();
    assert_eq!(asked, "executed");
    let done = wait_until(&p, "staging", "web-parallel", "released", |v| {
        v.latest.as_ref().is_some_and(|e| e.status == "Succeeded")
    })
    .await;
    assert_eq!(detail(&p, "staging", "web-parallel").await.mode, "PARALLEL");
    let back = RequestPipelineChange {
        stage: Some(s("Build")),
        execution: done.latest.map(|e| e.id),
        ..ask("staging", "web-parallel", "rollback-stage")
    };
    let refused: String = p.call(&dana, &back).await.json().await.unwrap();
    assert_eq!(refused, "failed");
    let changes: Vec<ChangeView> =
        p.call(&dana, &ListChanges { env: s("staging") }).await.json().await.unwrap();
    let outcome = changes.iter().find(|c| c.kind == "roll back stage").and_then(|c| c.outcome.clone());
    assert!(outcome.as_deref().unwrap_or_default().contains("PARALLEL execution mode"), "{outcome:?}");
}

/// An execution held at Deploy's entry condition has run none of Deploy's actions: when its
/// commit is blocked meanwhile, the release guard stops it there, and the cluster never runs it.
#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_commit_waiting_at_the_entry_condition_is_stopped_there() {
    use backend::audit::Caller;
    use backend::clock::Timestamp;
    use backend::policy::blocked::{self, CommitHash};

    let p = portal().await;
    sandbox(&p).aws.set_alarm(ALARM, "ALARM");
    let head = sandbox(&p).aws.commit("myapp", "Retry payments twice", "Priya Raman");
    let held = released(&p).await;
    wait_until(&p, "production", PIPELINE, "held at Deploy's entry", |v| {
        entry_checking(v).as_deref() == Some(held.as_str())
    })
    .await;
    let mut tx = p.running.portal.store.begin().await.unwrap();
    let commit = CommitHash::parse(&head[..7]).unwrap();
    blocked::block(
        &mut tx,
        &Caller::new("ada"),
        "production",
        &commit,
        "double charges, INC-44",
        None,
        Timestamp::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let stopped = wait_until(&p, "production", PIPELINE, "stopped by the guard", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == held && e.status == "Stopped")
    })
    .await;
    let summary = stopped.latest.and_then(|e| e.summary).unwrap_or_default();
    assert!(summary.contains("is blocked in Rollgate by ada: double charges, INC-44"), "{summary}");
    let get = app::api::deployments::GetDeployment {
        env: s("production"),
        namespace: s("production"),
        name: s("myapp-deployment"),
    };
    let d: app::model::DeploymentDetail = p.call(&p.http, &get).await.json().await.unwrap();
    assert!(!d.containers[0].image.ends_with(&head[..7]), "the blocked commit never ran");
    sandbox(&p).aws.set_alarm(ALARM, "OK");
}
