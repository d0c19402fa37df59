//! CodePipeline V2 through the AWS SDK and the AWS CLI: the QUEUED and PARALLEL execution modes,
//! stage conditions (an entry condition that waits on a CloudWatch alarm, passes, fails or is
//! overridden; a success condition whose failure rolls the stage back), automatic stage retry,
//! ListRuleExecutions, the declarations and requests CodePipeline refuses, and the alarms set
//! through the sandbox's CloudWatch (AWS JSON 1.0).

use crate::codepipeline::{quick, run, stage_state, start_with as start, wait_for};
use crate::support;
use testkit::aws::{create_pipeline, v2_pipeline};

use std::time::Duration;

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ApprovalResult, ApprovalStatus, ConditionExecutionStatus, ConditionType, ExecutionMode, ExecutionType,
    PipelineExecutionStatus, PipelineVariable, RetryTrigger, RuleExecutionFilter, RuleExecutionStatus,
    StageState, StageTransitionType, TriggerType,
};
use sandbox::{Failure, Sandbox, World};
use serde_json::{Value, json};
use support::code;

use PipelineExecutionStatus as Status;

const ALARM: &str = "myapp-production-errors";

/// Polls the stage's state until `ready` holds.
async fn stage_until(
    client: &Client,
    pipeline: &str,
    stage: &str,
    ready: impl Fn(&StageState) -> bool,
) -> StageState {
    for _ in 0..600 {
        let state = stage_state(client, pipeline, stage).await;
        if ready(&state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{pipeline}'s stage {stage} never got there: {:?}", stage_state(client, pipeline, stage).await);
}

fn entry_status(s: &StageState) -> Option<ConditionExecutionStatus> {
    s.before_entry_condition_state().and_then(|c| c.latest_execution()).and_then(|l| l.status()).cloned()
}

/// Releases production through its approval; returns the execution.
async fn release_production(client: &Client) -> String {
    let id = run(client, "myapp-production").await;
    let approval = stage_until(client, "myapp-production", "Approval", |s| {
        s.action_states().first().and_then(|a| a.latest_execution()).and_then(|l| l.token()).is_some()
            && s.latest_execution().is_some_and(|l| l.pipeline_execution_id() == id)
    })
    .await;
    let token = approval.action_states()[0].latest_execution().unwrap().token().unwrap().to_owned();
    let result = ApprovalResult::builder().status(ApprovalStatus::Approved).summary("ok").build().unwrap();
    client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approval")
        .action_name("ManualApproval")
        .token(token)
        .result(result)
        .send()
        .await
        .expect("approved");
    id
}

/// Production's Deploy is entered only while its error alarm is quiet: OK passes at once; a
/// firing alarm makes the rule wait (ListRuleExecutions and GetPipelineState show it), an
/// override (through the CLI) lets the execution in, an alarm that clears passes, one that
/// keeps firing fails the execution in words. Overrides CodePipeline refuses are refused.
#[tokio::test(flavor = "multi_thread")]
async fn entry_condition_on_an_alarm() {
    let (sandbox, client) = start(World::Demo, Duration::from_secs(1)).await;
    let endpoint = support::url(sandbox.endpoints.codepipeline);

    let quiet = release_production(&client).await;
    wait_for(&client, "myapp-production", &quiet, Status::Succeeded).await;
    let deploy = stage_state(&client, "myapp-production", "Deploy").await;
    assert_eq!(entry_status(&deploy), Some(ConditionExecutionStatus::Succeeded));
    let rule = &deploy.before_entry_condition_state().unwrap().condition_states()[0].rule_states()[0];
    assert_eq!(rule.rule_name(), Some("NoProductionErrors"));
    assert_eq!(rule.latest_execution().unwrap().summary(), Some("Alarm myapp-production-errors is OK"));

    // Firing: the rule waits (30 min of WaitTime, a second each here); overridden by hand.
    sandbox.aws.set_alarm(ALARM, "ALARM");
    let held = release_production(&client).await;
    stage_until(&client, "myapp-production", "Deploy", |s| {
        entry_status(s) == Some(ConditionExecutionStatus::InProgress)
    })
    .await;
    let filter = RuleExecutionFilter::builder().pipeline_execution_id(&held).build();
    let rules =
        client.list_rule_executions().pipeline_name("myapp-production").filter(filter).send().await.unwrap();
    let waiting = &rules.rule_execution_details()[0];
    assert_eq!((waiting.rule_name(), waiting.stage_name()), (Some("NoProductionErrors"), Some("Deploy")));
    assert_eq!(waiting.status(), Some(&RuleExecutionStatus::InProgress));
    let override_with = |execution: &str, kind: ConditionType| {
        client
            .override_stage_condition()
            .pipeline_name("myapp-production")
            .stage_name("Deploy")
            .pipeline_execution_id(execution)
            .condition_type(kind)
            .send()
    };
    assert_eq!(
        code(override_with(&held, ConditionType::OnSuccess).await),
        "ConditionNotOverridableException"
    );
    assert_eq!(
        code(override_with(&quiet, ConditionType::BeforeEntry).await),
        "NotLatestPipelineExecutionException"
    );
    let cli = [
        "codepipeline",
        "override-stage-condition",
        "--pipeline-name",
        "myapp-production",
        "--stage-name",
        "Deploy",
        "--pipeline-execution-id",
        &held,
        "--condition-type",
        "BEFORE_ENTRY",
    ];
    assert!(support::aws_cli(&endpoint, &cli).await.success);
    wait_for(&client, "myapp-production", &held, Status::Succeeded).await;
    let deploy = stage_state(&client, "myapp-production", "Deploy").await;
    assert_eq!(entry_status(&deploy), Some(ConditionExecutionStatus::Overridden));
    let again = support::aws_cli(&endpoint, &cli).await;
    assert!(again.stderr.contains("ConditionNotOverridableException"), "{}", again.stderr);

    // The alarm clears while the rule waits: it passes.
    let cleared = release_production(&client).await;
    stage_until(&client, "myapp-production", "Deploy", |s| {
        entry_status(s) == Some(ConditionExecutionStatus::InProgress)
    })
    .await;
    sandbox.aws.set_alarm(ALARM, "OK");
    wait_for(&client, "myapp-production", &cleared, Status::Succeeded).await;
    let listed = support::aws_cli(
        &endpoint,
        &[
            "codepipeline",
            "list-rule-executions",
            "--pipeline-name",
            "myapp-production",
            "--filter",
            &format!("pipelineExecutionId={cleared}"),
        ],
    )
    .await
    .json();
    let detail = &listed["ruleExecutionDetails"][0];
    assert_eq!(detail["status"], "Succeeded");
    assert_eq!(
        detail["output"]["executionResult"]["externalExecutionSummary"],
        "Alarm myapp-production-errors changed to OK"
    );

    // It keeps firing past the wait: the execution fails at the gate, saying why.
    sandbox.aws.set_pipeline_timings(quick(Duration::from_millis(10)));
    sandbox.aws.set_alarm(ALARM, "ALARM");
    let failed = release_production(&client).await;
    let why = wait_for(&client, "myapp-production", &failed, Status::Failed).await.unwrap_or_default();
    assert!(why.contains("entry condition of stage Deploy was not met"), "{why}");
    assert!(why.contains("stayed ALARM"), "{why}");
}

fn gate(value: &str) -> PipelineVariable {
    PipelineVariable::builder().name("GATE").value(value).build().unwrap()
}

/// A failed test run is retried once by itself (GetPipelineState says so); a success condition
/// that is not met fails the execution and CodePipeline rolls the stage back to the last
/// execution that succeeded in it (an execution of type ROLLBACK, triggered automatically).
#[tokio::test(flavor = "multi_thread")]
async fn automatic_retry_and_rollback() {
    let (sandbox, client) = start(World::Empty, Duration::from_millis(10)).await;
    let endpoint = support::url(sandbox.endpoints.codepipeline);
    sandbox.aws.commit("web", "First", "Lee Nakamura");
    create_pipeline(&endpoint, &v2_pipeline("web", "QUEUED", true), &[]).await.json();

    sandbox.aws.fail_next(Failure::Tests);
    let good = run(&client, "web").await;
    wait_for(&client, "web", &good, Status::Succeeded).await;
    let test = stage_state(&client, "web", "Test").await;
    let retried = test.retry_stage_metadata().expect("retry metadata");
    assert_eq!(retried.auto_stage_retry_attempt(), Some(1));
    assert_eq!(retried.latest_retry_trigger(), Some(&RetryTrigger::AutomatedStageRetry));

    sandbox.aws.commit("web", "Second", "Lee Nakamura");
    let closed =
        client.start_pipeline_execution().name("web").variables(gate("closed")).send().await.unwrap();
    let closed = closed.pipeline_execution_id().unwrap().to_owned();
    let why = wait_for(&client, "web", &closed, Status::Failed).await.unwrap_or_default();
    assert!(why.contains("success condition of stage Build was not met"), "{why}");
    assert!(why.contains("GateIsOpen"), "{why}");
    let executions = client.list_pipeline_executions().pipeline_name("web").send().await.unwrap();
    let rollback = executions.pipeline_execution_summaries()[0].clone();
    assert_eq!(rollback.execution_type(), Some(&ExecutionType::Rollback));
    assert_eq!(rollback.execution_mode(), Some(&ExecutionMode::Queued));
    assert_eq!(rollback.trigger().and_then(|t| t.trigger_type()), Some(&TriggerType::AutomatedRollback));
    assert_eq!(
        rollback.rollback_metadata().and_then(|m| m.rollback_target_pipeline_execution_id()),
        Some(good.as_str())
    );
    let id = rollback.pipeline_execution_id().unwrap();
    wait_for(&client, "web", id, Status::Succeeded).await;
    let filter = RuleExecutionFilter::builder().pipeline_execution_id(&closed).build();
    let rules = client.list_rule_executions().pipeline_name("web").filter(filter).send().await.unwrap();
    let rule = &rules.rule_execution_details()[0];
    assert_eq!(rule.status(), Some(&RuleExecutionStatus::Failed));
    let said = rule.output().and_then(|o| o.execution_result()).and_then(|r| r.external_execution_summary());
    assert_eq!(said, Some("#{variables.GATE} is \"closed\": it should be one that equals \"open\""));
}

/// QUEUED executions wait their turn (none is superseded); PARALLEL ones run side by side, and
/// their stages cannot be rolled back.
#[tokio::test(flavor = "multi_thread")]
async fn queued_and_parallel_modes() {
    let (sandbox, client) = start(World::Empty, Duration::from_millis(10)).await;
    let endpoint = support::url(sandbox.endpoints.codepipeline);
    sandbox.aws.commit("web", "First", "Lee Nakamura");
    let queued = v2_pipeline("queued", "QUEUED", false);
    create_pipeline(&endpoint, &queued, &[]).await.json();
    client
        .disable_stage_transition()
        .pipeline_name("queued")
        .stage_name("Build")
        .transition_type(StageTransitionType::Inbound)
        .reason("hold")
        .send()
        .await
        .unwrap();
    let ids = [run(&client, "queued").await, run(&client, "queued").await, run(&client, "queued").await];
    stage_until(&client, "queued", "Build", |s| s.inbound_executions().len() == 3).await;
    client
        .enable_stage_transition()
        .pipeline_name("queued")
        .stage_name("Build")
        .transition_type(StageTransitionType::Inbound)
        .send()
        .await
        .unwrap();
    for id in &ids {
        wait_for(&client, "queued", id, Status::Succeeded).await;
    }

    let parallel = v2_pipeline("parallel", "PARALLEL", false);
    create_pipeline(&endpoint, &parallel, &[]).await.json();
    let (a, b) = (run(&client, "parallel").await, run(&client, "parallel").await);
    wait_for(&client, "parallel", &a, Status::Succeeded).await;
    wait_for(&client, "parallel", &b, Status::Succeeded).await;
    let actions = client.list_action_executions().pipeline_name("parallel").send().await.unwrap();
    let tests: Vec<_> =
        actions.action_execution_details().iter().filter(|d| d.stage_name() == Some("Test")).collect();
    let (first, second) = (tests[0], tests[1]);
    assert!(
        first.start_time().unwrap() < second.last_update_time().unwrap()
            && second.start_time().unwrap() < first.last_update_time().unwrap(),
        "both executions were in Test at once"
    );
    let refused = client
        .rollback_stage()
        .pipeline_name("parallel")
        .stage_name("Build")
        .target_pipeline_execution_id(&a)
        .send()
        .await;
    assert_eq!(code(refused), "UnableToRollbackStageException");
}

/// What CodePipeline refuses of V2 declarations is refused, in words.
#[tokio::test(flavor = "multi_thread")]
async fn v2_declarations_refused() {
    let (sandbox, _client) = start(World::Empty, Duration::from_millis(10)).await;
    let endpoint = support::url(sandbox.endpoints.codepipeline);
    let refused = |stderr: &str, words: &str| {
        assert!(stderr.contains(words), "expected {words:?} in: {stderr}");
    };
    let out = create_pipeline(&endpoint, &v2_pipeline("p1", "PARALLEL", true), &[]).await;
    refused(&out.stderr, "Rollback is not supported for pipelines in PARALLEL execution mode");
    let mut v1 = v2_pipeline("p2", "QUEUED", true);
    v1["pipelineType"] = json!("V1");
    refused(&create_pipeline(&endpoint, &v1, &[]).await.stderr, "only available for V2 pipelines");
    let mut lambda = v2_pipeline("p3", "QUEUED", true);
    lambda["stages"][2]["onSuccess"]["conditions"][0]["rules"][0]["ruleTypeId"]["provider"] =
        json!("LambdaInvoke");
    refused(&create_pipeline(&endpoint, &lambda, &[]).await.stderr, "does not run LambdaInvoke rules");
    let mut skip = v2_pipeline("p4", "QUEUED", true);
    skip["stages"][2]["onSuccess"]["conditions"][0]["result"] = json!("SKIP");
    refused(&create_pipeline(&endpoint, &skip, &[]).await.stderr, "onSuccess must be one of FAIL, ROLLBACK");
    let mode = v2_pipeline("p5", "SOMETIMES", false);
    refused(&create_pipeline(&endpoint, &mode, &[]).await.stderr, "[QUEUED, SUPERSEDED, PARALLEL]");
}

/// `GraniteServiceVersion20100801.<operation>` on the sandbox's CloudWatch, as AWS JSON 1.0.
async fn cloudwatch(sandbox: &Sandbox, operation: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/", sandbox.endpoints.cloudwatch))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header("X-Amz-Target", format!("GraniteServiceVersion20100801.{operation}"))
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

/// The demo's alarm is listed and fired through CloudWatch's own operations; the entry condition
/// sees it; an alarm that does not exist, or a state that is none, is refused as CloudWatch
/// refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn alarms_through_cloudwatch() {
    let (sandbox, client) = start(World::Demo, Duration::from_secs(1)).await;
    let (status, listed) = cloudwatch(&sandbox, "DescribeAlarms", json!({ "AlarmNames": [ALARM] })).await;
    assert_eq!(status, 200);
    assert_eq!(listed["MetricAlarms"][0]["StateValue"], "OK");
    let fire =
        json!({ "AlarmName": ALARM, "StateValue": "ALARM", "StateReason": "5xx above 5% for 3 minutes" });
    assert_eq!(cloudwatch(&sandbox, "SetAlarmState", fire).await.0, 200);
    let (_, firing) = cloudwatch(&sandbox, "DescribeAlarms", json!({ "StateValue": "ALARM" })).await;
    assert_eq!(firing["MetricAlarms"][0]["StateReason"], "5xx above 5% for 3 minutes");
    let held = release_production(&client).await;
    let deploy = stage_until(&client, "myapp-production", "Deploy", |s| {
        entry_status(s) == Some(ConditionExecutionStatus::InProgress)
    })
    .await;
    assert_eq!(deploy.latest_execution().map(|l| l.pipeline_execution_id()), Some(held.as_str()));
    let clear = json!({ "AlarmName": ALARM, "StateValue": "OK", "StateReason": "recovered" });
    assert_eq!(cloudwatch(&sandbox, "SetAlarmState", clear).await.0, 200);
    wait_for(&client, "myapp-production", &held, Status::Succeeded).await;

    let missing = json!({ "AlarmName": "nope", "StateValue": "OK", "StateReason": "x" });
    let (status, said) = cloudwatch(&sandbox, "SetAlarmState", missing).await;
    assert_eq!((status, said["__type"].as_str()), (404, Some("ResourceNotFound")));
    let bad = json!({ "AlarmName": ALARM, "StateValue": "RED", "StateReason": "x" });
    assert_eq!(cloudwatch(&sandbox, "SetAlarmState", bad).await.0, 400);
}
