//! The Pipelines pages' CodePipeline calls that moto's server also serves — list, get, start,
//! list executions, get an execution — as one scenario, run against the sandbox's CodePipeline
//! and against moto's: the same code agrees with a third party. (moto answers the other calls,
//! state, approvals, retry, stop, rollback, with HTTP 500: the sandbox tests cover those.)

use std::process::{Command, Stdio};

use aws_config::retry::RetryConfig;
use backend::pipelines::inputs::ReleaseInputs;
use backend::pipelines::{PipelineError, executor, read};

/// The trust policy moto wants the pipeline's IAM role to have.
pub const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub const PIPELINE: &str = r#"{
  "name": "calls-staging",
  "roleArn": "arn:aws:iam::123456789012:role/calls",
  "artifactStore": { "type": "S3", "location": "bucket" },
  "stages": [
    { "name": "Source", "actions": [{
      "name": "Source",
      "actionTypeId": { "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1" },
      "configuration": { "RepositoryName": "calls", "BranchName": "main" },
      "outputArtifacts": [{ "name": "SourceArtifact" }]
    }]},
    { "name": "Test", "actions": [{
      "name": "UnitTests",
      "actionTypeId": { "category": "Test", "owner": "AWS", "provider": "CodeBuild", "version": "1" },
      "configuration": { "ProjectName": "calls-tests" },
      "inputArtifacts": [{ "name": "SourceArtifact" }]
    }]}
  ]
}"#;

async fn client(endpoint: &str) -> aws_sdk_codepipeline::Client {
    aws_sdk_codepipeline::Client::new(&testkit::aws::sdk_config_with(endpoint, RetryConfig::standard()).await)
}

/// The AWS CLI against `endpoint`; panics with its output unless it succeeds.
fn aws(endpoint: &str, args: &[&str]) {
    let out = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_PAGER", "")
        .stdin(Stdio::null())
        .output()
        .expect("the AWS CLI runs (scripts/setup.sh installs it)");
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Creates the pipeline with the CLI, then reads, starts and follows it through Rollgate's code.
async fn scenario(endpoint: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.json");
    std::fs::write(&file, PIPELINE).unwrap();
    aws(endpoint, &["codepipeline", "create-pipeline", "--pipeline", &format!("file://{}", file.display())]);
    let client = client(endpoint).await;

    assert!(read::names(&client).await.unwrap().contains(&"calls-staging".to_owned()));
    assert_eq!(read::stage_names(&client, "calls-staging").await.unwrap(), ["Source", "Test"]);
    assert!(matches!(read::stage_names(&client, "nope").await, Err(PipelineError::NotFound(_))));

    let id = executor::start(&client, "calls-staging", "rollgate-calls-1".into(), &ReleaseInputs::default())
        .await
        .unwrap();
    assert_eq!(id.len(), 36, "an execution id: {id}");
    let history = read::history(&client, "calls-staging", 10, None).await.unwrap();
    let listed = history.executions.iter().find(|e| e.id == id).expect("the started execution is listed");
    assert!(["InProgress", "Succeeded"].contains(&listed.status.as_str()), "{listed:?}");
    let got = read::execution_by_id(&client, "calls-staging", &id, &[]).await.unwrap();
    assert_eq!(got.id, id);
    assert!(["InProgress", "Succeeded"].contains(&got.status.as_str()), "{got:?}");
    assert!(matches!(
        read::execution_by_id(&client, "calls-staging", "00000000-0000-0000-0000-000000000000", &[]).await,
        Err(PipelineError::NotFound(_))
    ));
    assert!(matches!(
        executor::start(&client, "nope", "rollgate-calls-2".into(), &ReleaseInputs::default()).await,
        Err(PipelineError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn against_the_sandbox() {
    let sandbox = sandbox::Sandbox::start(sandbox::Endpoints::any_free(), sandbox::World::Empty)
        .await
        .expect("sandbox");
    sandbox.aws.commit("calls", "Initial commit", "Lee Nakamura");
    scenario(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
}

/// moto's server (`pip install 'moto[server]'`, which scripts/setup.sh does); it wants the
/// pipeline's IAM role to exist.
#[tokio::test(flavor = "multi_thread")]
async fn against_moto() {
    let moto = testkit::aws::Moto::start();
    aws(
        &moto.endpoint,
        &["iam", "create-role", "--role-name", "calls", "--assume-role-policy-document", TRUST],
    );
    scenario(&moto.endpoint).await;
}
