//! The AWS side of the tests: the SDK configured the way Rollgate builds it, for an endpoint
//! (the sandbox's or moto's); the AWS CLI run against one; moto's server as a second opinion.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::Credentials;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The shared SDK configuration: endpoint override, a region, static credentials, one
/// hyper + rustls (ring) client; retries off so tests see the first error as it is.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_with(endpoint, RetryConfig::disabled()).await
}

/// The same, with the retries a test wants (the SDK's standard ones, for moto).
pub async fn sdk_config_with(endpoint: &str, retries: RetryConfig) -> SdkConfig {
    let http = Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .retry_config(retries)
        .http_client(http)
        .load()
        .await
}

pub async fn ssm(endpoint: &str) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk_config(endpoint).await)
}

pub async fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(endpoint).await)
}

pub async fn codepipeline(endpoint: &str) -> aws_sdk_codepipeline::Client {
    aws_sdk_codepipeline::Client::new(&sdk_config(endpoint).await)
}

/// The AWS error code of a failed call (`ParameterNotFound`, `ThrottlingException`, ...).
#[track_caller]
pub fn code<T, E: aws_sdk_ssm::error::ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, E>,
) -> String {
    match result {
        Ok(_) => panic!("expected an error, the call succeeded"),
        Err(e) => e.code().map(str::to_owned).unwrap_or_else(|| panic!("an error without a code: {e:?}")),
    }
}

/// What the AWS CLI printed.
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "aws failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("aws printed no JSON ({e}): {}", self.stdout))
    }
}

/// Runs `aws --endpoint-url <endpoint> <args>` with dummy credentials, no config files, no
/// stdin, off the async runtime (the sandbox serves on it meanwhile).
pub async fn aws_cli(endpoint: &str, args: &[&str]) -> CliOutput {
    let home = tempfile::tempdir().expect("a temporary HOME");
    let mut command = Command::new("aws");
    command
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(["--output", "json"])
        .args(args)
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("credentials"))
        .env("AWS_PAGER", "")
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the CLI thread")
        .unwrap_or_else(|e| panic!("cannot run the AWS CLI (`aws`): {e}; scripts/setup.sh installs it"));
    CliOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// moto's server on a free loopback port, stopped when dropped. A machine without
/// `moto_server` fails the test with a message that says how to install it.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install it with `pip install 'moto[server]'` (scripts/setup.sh does)")
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {addr} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint: format!("http://{addr}") }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `aws codepipeline create-pipeline --pipeline file://<the declaration>` plus `extra`.
pub async fn create_pipeline(endpoint: &str, pipeline: &serde_json::Value, extra: &[&str]) -> CliOutput {
    let dir = tempfile::tempdir().expect("a folder for the declaration");
    let file = dir.path().join("pipeline.json");
    std::fs::write(&file, pipeline.to_string()).expect("the declaration written");
    let argument = format!("file://{}", file.display());
    let mut args = vec!["codepipeline", "create-pipeline", "--pipeline", &argument];
    args.extend_from_slice(extra);
    aws_cli(endpoint, &args).await
}

/// A V2 pipeline for the tests: Source (the sandbox repository `web`), Test (retried once by
/// CodePipeline itself when it fails) and Build, in execution mode `mode`, declaring the
/// variable `GATE` (default `open`). When `gated`, Build's success condition checks `GATE` and
/// rolls Build back when it is not `open`.
pub fn v2_pipeline(name: &str, mode: &str, gated: bool) -> serde_json::Value {
    use serde_json::json;
    let codebuild = |stage: &str, category: &str| {
        json!({ "name": stage, "actions": [{
            "name": stage,
            "actionTypeId": { "category": category, "owner": "AWS", "provider": "CodeBuild", "version": "1" },
            "configuration": { "ProjectName": "web", "EnvironmentVariables": "[{\"name\":\"IMAGE_REPO_NAME\",\"value\":\"web\"}]" },
        }]})
    };
    let mut test = codebuild("Test", "Test");
    test["onFailure"] = json!({ "result": "RETRY", "retryConfiguration": { "retryMode": "FAILED_ACTIONS" } });
    let mut build = codebuild("Build", "Build");
    if gated {
        build["onSuccess"] = json!({ "conditions": [{ "result": "ROLLBACK", "rules": [{
            "name": "GateIsOpen",
            "ruleTypeId": { "category": "Rule", "owner": "AWS", "provider": "VariableCheck", "version": "1" },
            "configuration": { "Variable": "#{variables.GATE}", "Operator": "EQ", "Value": "open" },
        }]}]});
    }
    json!({
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/test",
        "artifactStore": { "type": "S3", "location": "bucket" },
        "pipelineType": "V2",
        "executionMode": mode,
        "variables": [{ "name": "GATE", "defaultValue": "open" }],
        "stages": [
            { "name": "Source", "actions": [{
                "name": "Source",
                "actionTypeId": { "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1" },
                "configuration": { "RepositoryName": "web", "BranchName": "main" },
            }]},
            test,
            build,
        ],
    })
}
