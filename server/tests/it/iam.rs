//! The IAM policy `rollgate iam-policy` prints, proved against what Rollgate asks AWS for:
//! every feature that reaches AWS runs once against the sandbox, which records each IAM
//! action and resource it is asked for. The policy must allow each of them, and each action
//! of each statement must have been used on each of the statement's resources: it allows
//! nothing the run did not need.

use crate::common::{TestPortal, request_change};
use crate::pipelines::{ask, decide, detail, latest_status, quick, s, wait_until, waiting_approval};

use app::api::changes::RequestChange;
use app::api::pipelines::{
    CompareExecutions, ListPipelineApprovals, ListPipelines, RetryStage, SetStageTransition, StopExecution,
};
use app::api::tokens::{
    CreateToken, DeleteToken, GetToken, LabelTokenVersion, ListTokens, PutTokenVersion, RevealToken,
};
use app::model::ChangeView;
use backend::config::{Source, load};
use backend::policy::Role;
use sandbox::{Access, Failure};
use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const PIPELINE: &str = "myapp-production";
const CLUSTER_TOKEN: &str = "/rollgate/production/k8s-bear-token";

/// One environment, so that every statement's resources can all be used by one run: the
/// demo's production pipeline (it has an approval), not protected (each change runs when
/// asked; four-eyes has its own tests), reached with the cluster token kept in SSM.
const TOUR: &str = r#"
sandbox = true

[roles]
vera = "viewer"
dana = "deployer"
avery = "approver"
ada = "admin"

[[environment]]
name = "production"
cluster = { kind = "sandbox-token", token = { ssm-parameter = "/rollgate/production/k8s-bear-token" } }
namespaces = ["production"]
ssm_prefixes = ["/rollgate/production/"]
aws = { region = "us-east-1", pipelines = ["myapp-production"], events_queue = "rollgate-pipeline-events", deploys = [
  { pipeline = "myapp-production", stage = "Deploy", namespace = "production", deployment = "myapp-deployment" },
] }
"#;

/// IAM's wildcards: `*` any run of characters (slashes too), `?` any one.
fn matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().expect("a list").iter().map(|s| s.as_str().expect("a string")).collect()
}

/// Whether an Allow statement of `policy` covers `access` (the policy has no Deny).
fn allows(policy: &Value, access: &Access) -> bool {
    policy["Statement"].as_array().expect("statements").iter().any(|st| {
        st["Effect"] == "Allow"
            && strings(&st["Action"])
                .iter()
                .any(|a| matches(&a.to_lowercase(), &access.action.to_lowercase()))
            && strings(&st["Resource"]).iter().any(|r| matches(r, &access.resource))
    })
}

/// Each statement's (action, resource) that no access used.
fn unused(policy: &Value, accesses: &[Access]) -> Vec<String> {
    let mut out = Vec::new();
    for st in policy["Statement"].as_array().expect("statements") {
        for action in strings(&st["Action"]) {
            for resource in strings(&st["Resource"]) {
                if !accesses.iter().any(|a| a.action == action && matches(resource, &a.resource)) {
                    out.push(format!("{} {action} on {resource}", st["Sid"]));
                }
            }
        }
    }
    out
}

#[test]
fn wildcards_as_iam_reads_them() {
    assert!(matches(
        "arn:aws:ssm:*:*:parameter/rollgate/*",
        "arn:aws:ssm:us-east-1:1:parameter/rollgate/a/b"
    ));
    assert!(matches("a?c", "abc"));
    assert!(matches("*", ""));
    assert!(!matches("arn:aws:codepipeline:r:1:myapp", "arn:aws:codepipeline:r:1:myapp-staging"));
    assert!(!matches("parameter/rollgate/staging/*", "parameter/rollgate/staging"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_allows_every_aws_call_and_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tour.toml");
    std::fs::write(&file, TOUR).unwrap();
    let printed = rollgate(&["--config", file.to_str().unwrap(), "iam-policy", "--account", ACCOUNT]);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let policy: Value = serde_json::from_slice(&printed.stdout).expect("the printed policy is JSON");
    let config = load(&Source::File(file)).expect("the tour's configuration");
    let p = quick(TestPortal::with_config(config).await);
    let sandbox = p.running.sandbox.as_ref().expect("the sandbox runs");
    sandbox.aws.record_exchanges();
    let dana = p.as_role(Role::Deployer).await;
    let avery = p.as_role(Role::Approver).await;
    let ada = p.as_role(Role::Admin).await;
    let ok = |what: &str, response: reqwest::Response| {
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{what}");
        response
    };

    // Reading: the list, a pipeline's detail, approvals, a deployment its stage rolls out.
    ok("list", p.call(&p.http, &ListPipelines { env: s("production") }).await);
    ok("approvals", p.call(&p.http, &ListPipelineApprovals { env: s("production") }).await);
    let deployment = app::api::deployments::GetDeployment {
        env: s("production"),
        namespace: s("production"),
        name: s("myapp-deployment"),
    };
    ok("deployment", p.call(&p.http, &deployment).await);

    // A release whose tests fail, retried, then approved by someone other than the releaser.
    sandbox.aws.fail_next(Failure::Tests);
    let asked: String =
        ok("release", p.call(&dana, &ask("production", PIPELINE, "start")).await).json().await.unwrap();
    assert_eq!(asked, "executed");
    let failed = wait_until(&p, "production", PIPELINE, "tests failed", |v| {
        latest_status(v) == "Failed"
            && v.stages.iter().any(|s| s.name == "Test" && s.current && s.status.as_deref() == Some("Failed"))
    })
    .await;
    let execution = failed.latest.expect("an execution").id;
    let retry = RetryStage {
        env: s("production"),
        pipeline: s(PIPELINE),
        execution: execution.clone(),
        stage: s("Test"),
        mode: s("failed"),
        override_reason: None,
        return_to: None,
    };
    ok("retry", p.call(&dana, &retry).await);
    let approval = waiting_approval(&p, "production").await;
    ok("approve", p.call(&avery, &decide(&approval, "approve", "Ship it")).await);
    wait_until(&p, "production", PIPELINE, "released", |v| {
        v.latest.as_ref().is_some_and(|e| e.id == execution && e.status == "Succeeded")
    })
    .await;

    // Two executions side by side; Deploy rolled back to an earlier success.
    let history = detail(&p, "production", PIPELINE).await.history;
    let failure = history.iter().find(|e| e.status == "Failed").expect("the demo's rejected release");
    let compare = CompareExecutions {
        env: s("production"),
        name: s(PIPELINE),
        a: execution.clone(),
        b: failure.id.clone(),
    };
    ok("compare", p.call(&p.http, &compare).await);
    let earlier =
        history.iter().find(|e| e.status == "Succeeded" && e.id != execution).expect("an earlier success");
    let rollback = app::api::pipelines::RequestPipelineChange {
        stage: Some(s("Deploy")),
        execution: Some(earlier.id.clone()),
        ..ask("production", PIPELINE, "rollback-stage")
    };
    let asked: String = ok("rollback", p.call(&dana, &rollback).await).json().await.unwrap();
    assert_eq!(asked, "executed");
    wait_until(&p, "production", PIPELINE, "rolled back", |v| {
        v.latest.as_ref().is_some_and(|e| e.kind == "ROLLBACK" && e.status == "Succeeded")
    })
    .await;

    // A release stopped while it waits for approval.
    ok("second release", p.call(&dana, &ask("production", PIPELINE, "start")).await);
    let waiting = waiting_approval(&p, "production").await;
    let stop = StopExecution {
        env: s("production"),
        pipeline: s(PIPELINE),
        execution: waiting.execution.clone(),
        abandon: Some(s("true")),
        reason: s("Wrong commit"),
        override_reason: None,
        return_to: None,
    };
    ok("stop", p.call(&dana, &stop).await);
    wait_until(&p, "production", PIPELINE, "stopped", |v| latest_status(v) == "Stopped").await;

    // A release held at Deploy's entry condition while the error alarm fires, let through by an
    // override (a change request).
    sandbox.aws.set_alarm("myapp-production-errors", "ALARM");
    ok("held release", p.call(&dana, &ask("production", PIPELINE, "start")).await);
    let waiting = waiting_approval(&p, "production").await;
    ok("approve the held release", p.call(&avery, &decide(&waiting, "approve", "Ship it")).await);
    let held = wait_until(&p, "production", PIPELINE, "held at the entry condition", |v| {
        v.stages.iter().any(|s| s.name == "Deploy" && s.conditions.iter().any(|c| c.checking.is_some()))
    })
    .await;
    let over = app::api::pipelines::RequestPipelineChange {
        stage: Some(s("Deploy")),
        execution: held.latest.as_ref().map(|e| e.id.clone()),
        condition: Some(s("before-entry")),
        ..ask("production", PIPELINE, "override-condition")
    };
    let asked: String = ok("override", p.call(&dana, &over).await).json().await.unwrap();
    assert_eq!(asked, "executed");
    wait_until(&p, "production", PIPELINE, "released past the alarm", |v| latest_status(v) == "Succeeded")
        .await;
    sandbox.aws.set_alarm("myapp-production-errors", "OK");

    // The transition into Deploy frozen and thawed.
    let transition = |enable: &str, reason: Option<String>| SetStageTransition {
        env: s("production"),
        pipeline: s(PIPELINE),
        stage: s("Deploy"),
        enable: s(enable),
        reason,
        override_reason: None,
        return_to: None,
    };
    ok("freeze", p.call(&dana, &transition("false", Some(s("Code freeze")))).await);
    ok("thaw", p.call(&dana, &transition("true", None)).await);

    // Every parameter operation, and the cluster token's rotation.
    let name = "/rollgate/production/service/api-key";
    let create = CreateToken {
        env: s("production"),
        name: s(name),
        kind: s("SecureString"),
        value: s("first-value-1"),
        key_id: None,
        description: Some(s("made by the IAM test")),
        tags: Some(s("owner=release-eng")),
        allowed_pattern: None,
        tier: None,
        return_to: None,
    };
    ok("create", p.call(&ada, &create).await);
    ok("tokens", p.call(&ada, &ListTokens { env: s("production") }).await);
    ok("token", p.call(&ada, &GetToken { env: s("production"), name: s(name) }).await);
    let put =
        PutTokenVersion { env: s("production"), name: s(name), value: s("second-value-2"), return_to: None };
    ok("new version", p.call(&ada, &put).await);
    let label = LabelTokenVersion {
        env: s("production"),
        name: s(name),
        version: s("1"),
        labels: s("previous"),
        return_to: None,
    };
    ok("label", p.call(&ada, &label).await);
    ok("reveal", p.call(&ada, &RevealToken { env: s("production"), name: s(name), version: None }).await);
    let delete = DeleteToken { env: s("production"), name: s(name), confirmation: s(name), return_to: None };
    ok("delete", p.call(&ada, &delete).await);
    let rotate = RequestChange {
        parameter: Some(s(CLUSTER_TOKEN)),
        ..request_change("production", "rotate-token", "quarterly rotation")
    };
    let rotated: ChangeView = ok("rotate", p.call(&ada, &rotate).await).json().await.unwrap();
    assert_eq!(rotated.state, "executed", "{:?}", rotated.outcome);

    let accesses = sandbox.aws.accesses();
    let refused: Vec<&Access> = accesses.iter().filter(|a| !allows(&policy, a)).collect();
    assert!(refused.is_empty(), "the policy refuses {refused:#?}\npolicy: {policy:#}");
    let unused = unused(&policy, &accesses);
    assert!(unused.is_empty(), "the policy allows what no feature used: {unused:#?}\nused: {accesses:#?}");

    // Every answer the tour got has the shapes and errors of AWS's own models, and every
    // operation Rollgate called was answered at least once while recording.
    let exchanges = sandbox.aws.exchanges();
    let problems = testkit::aws_model::Models::load()
        .check(exchanges.iter().map(|e| (e.service, e.operation.as_str(), e.status, &e.body)));
    assert!(problems.is_empty(), "answers unlike AWS's models:\n{}", problems.join("\n"));
    let unanswered: Vec<&str> = accesses
        .iter()
        .filter_map(|a| a.action.strip_prefix("ssm:").or_else(|| a.action.strip_prefix("codepipeline:")))
        .filter(|operation| !exchanges.iter().any(|e| e.operation == *operation))
        .collect();
    assert!(unanswered.is_empty(), "called but not checked against the model: {unanswered:?}");
    eprintln!(
        "checked {} answers of {} operations against AWS's models",
        exchanges.len(),
        exchanges.iter().map(|e| &e.operation).collect::<std::collections::BTreeSet<_>>().len()
    );

    // What the configuration does not name stays refused: other pipelines, other paths,
    // anything on a pipeline's stages but transitions and approvals.
    let access = |action: &str, resource: &str| Access { action: s(action), resource: s(resource) };
    for outside in [
        access(
            "codepipeline:StartPipelineExecution",
            "arn:aws:codepipeline:us-east-1:123456789012:myapp-staging",
        ),
        access("codepipeline:DeletePipeline", "arn:aws:codepipeline:us-east-1:123456789012:myapp-production"),
        access("codepipeline:UpdatePipeline", "arn:aws:codepipeline:us-east-1:123456789012:myapp-production"),
        access(
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/rollgate/staging/k8s-bear-token",
        ),
        access("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/rollgate/production"),
        access("ssm:PutParameter", "arn:aws:ssm:us-east-1:999999999999:parameter/rollgate/production/x"),
        access("ssm:GetParametersByPath", "arn:aws:ssm:us-east-1:123456789012:parameter/rollgate/production"),
        access("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/any"),
        access("iam:PassRole", "*"),
    ] {
        assert!(!allows(&policy, &outside), "{outside:?} is allowed");
    }
}

fn rollgate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .env_remove("ROLLGATE_CONFIG")
        .output()
        .expect("run rollgate")
}

/// `rollgate iam-policy --events` prints the EventBridge rule and the queue policy for the
/// sandbox's queue; the rule's pattern matches the events the sandbox's CodePipeline sends,
/// and only those of the configured pipelines.
#[tokio::test(flavor = "multi_thread")]
async fn the_event_rule_matches_codepipelines_events() {
    let out = rollgate(&["iam-policy", "--events", "--account", ACCOUNT]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let delivery = &printed["deliveries"][0];
    assert_eq!(printed["deliveries"].as_array().unwrap().len(), 1, "one queue, both environments");
    assert_eq!(delivery["queue"], "arn:aws:sqs:us-east-1:123456789012:rollgate-pipeline-events");
    let policy = &delivery["queuePolicy"]["Statement"][0];
    assert_eq!(policy["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(policy["Action"], "sqs:SendMessage");
    assert_eq!(
        policy["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:aws:events:us-east-1:123456789012:rule/rollgate-pipeline-events"
    );
    let pattern = &delivery["rule"]["EventPattern"];
    assert_eq!(pattern["detail"]["pipeline"], serde_json::json!(["myapp-production", "myapp-staging"]));

    // EventBridge's matching for this pattern's shape: each listed field's value is one of the
    // listed values.
    let matched = |event: &Value| {
        let one_of = |list: &Value, value: &Value| list.as_array().unwrap().contains(value);
        one_of(&pattern["source"], &event["source"])
            && one_of(&pattern["detail-type"], &event["detail-type"])
            && one_of(&pattern["detail"]["pipeline"], &event["detail"]["pipeline"])
    };
    let sandbox =
        sandbox::Sandbox::start(sandbox::Endpoints::any_free(), sandbox::World::Demo).await.unwrap();
    let sqs = testkit::aws::sqs(&format!("http://{}", sandbox.endpoints.sqs)).await;
    let url =
        sqs.get_queue_url().queue_name("rollgate-pipeline-events").send().await.unwrap().queue_url.unwrap();
    let codepipeline =
        testkit::aws::codepipeline(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    codepipeline.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while kinds.len() < 3 && std::time::Instant::now() < deadline {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        for message in got.unwrap().messages() {
            let mut event: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            assert!(matched(&event), "the rule does not match {event:#}");
            kinds.insert(event["detail-type"].as_str().unwrap().to_owned());
            event["detail"]["pipeline"] = Value::from("someone-elses");
            assert!(!matched(&event), "another pipeline's events are not taken");
        }
    }
    assert_eq!(kinds.len(), 3, "execution, stage and action changes: {kinds:?}");
}

/// `rollgate iam-policy` prints the document the tour above proves, as JSON; without an
/// account it says the ARNs name any; a bad account id or key ARN is refused in words.
#[test]
fn the_command_prints_the_policy() {
    let out = rollgate(&["iam-policy", "--account", ACCOUNT]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let config = load(&Source::SandboxDefault).unwrap();
    assert_eq!(printed, backend::iam::policy(&config, Some(&ACCOUNT.parse().unwrap())));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));

    let any = rollgate(&["iam-policy"]);
    assert!(any.status.success());
    assert!(String::from_utf8_lossy(&any.stdout).contains("arn:aws:codepipeline:us-east-1:*:myapp-staging"));
    assert!(String::from_utf8_lossy(&any.stderr).contains("pass --account"));

    let bad = rollgate(&["iam-policy", "--account", "12345"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("twelve digits"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    let file = |key: &str| {
        format!(
            "[[environment]]\nname = \"prod\"\ncluster = {{ kind = \"in-cluster\" }}\nnamespaces = [\"web\"]\n\
             ssm_prefixes = [\"/web/\"]\naws = {{ region = \"eu-west-1\", kms_keys = [\"{key}\"] }}\n"
        )
    };
    std::fs::write(&path, file("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab")).unwrap();
    let keys = rollgate(&["--config", path.to_str().unwrap(), "iam-policy", "--account", ACCOUNT]);
    assert!(keys.status.success(), "{}", String::from_utf8_lossy(&keys.stderr));
    let policy: Value = serde_json::from_slice(&keys.stdout).unwrap();
    let statement = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "UseParameterKeys");
    assert_eq!(statement.unwrap()["Resource"][0], "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab");
    std::fs::write(&path, file("alias/web")).unwrap();
    let alias = rollgate(&["--config", path.to_str().unwrap(), "iam-policy"]);
    assert_eq!(alias.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&alias.stderr);
    assert!(stderr.contains("aws.kms_keys[0]") && stderr.contains("not by an alias"), "{stderr}");
}
