//! What the benchmarks share: `rollgate` as its own process, with a user "bench" signed in;
//! the sandbox's CodePipeline called directly; live viewers of a stream.
// Each benchmark compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

/// A running `rollgate serve`, stopped when dropped.
pub struct Rollgate {
    child: Child,
    pub base: String,
}

impl Drop for Rollgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rollgate {
    /// Starts it in `dir` with `environments` (TOML for one or more `[[environment]]`, one
    /// named "bench" where the user "bench" is a viewer) and `env` added to its environment;
    /// returns once it is ready.
    pub async fn start(dir: &Path, environments: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join("rollgate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{}/store.db?mode=rwc\"\n\
                 [roles]\nbench = \"viewer\"\n{environments}",
                dir.display()
            ),
        )
        .unwrap();
        let rollgate = env!("CARGO_BIN_EXE_rollgate");
        let mut add = Command::new(rollgate)
            .args(["--config", config.to_str().unwrap(), "user", "add", "bench"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        add.stdin.take().unwrap().write_all(b"bench-password-1\n").unwrap();
        assert!(add.wait().unwrap().success(), "the bench user is created");
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        let child = Command::new(rollgate)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("ROLLGATE_SITE_ROOT", &site)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let rollgate = Self { child, base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/readyz", rollgate.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rollgate
    }

    /// Starts it with its AWS calls going to `sandbox`'s CodePipeline and SQS the production
    /// way: the default credential chain, with endpoints and static keys in the environment and
    /// no config files.
    pub async fn on_sandbox_aws(dir: &Path, environments: &str, sandbox: &sandbox::Sandbox) -> Self {
        let none = dir.join("none");
        let none = none.to_str().unwrap();
        let codepipeline = format!("http://{}", sandbox.endpoints.codepipeline);
        let sqs = format!("http://{}", sandbox.endpoints.sqs);
        let aws_env = [
            ("AWS_ENDPOINT_URL_CODEPIPELINE", codepipeline.as_str()),
            ("AWS_ENDPOINT_URL_SQS", sqs.as_str()),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", none),
            ("AWS_SHARED_CREDENTIALS_FILE", none),
        ];
        Self::start(dir, environments, &aws_env).await
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client with the user "bench" signed in.
    pub async fn signed_in(&self) -> reqwest::Client {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let response = http
            .post(format!("{}/auth/sign-in", self.base))
            .header("origin", &self.base)
            .form(&[("username", "bench"), ("password", "bench-password-1")])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection() || response.status().is_success());
        http
    }
}

/// The sandbox's CodePipeline, called directly (as the console or another tool would).
pub struct Aws {
    pub http: reqwest::Client,
    pub endpoint: String,
}

impl Aws {
    pub fn new(sandbox: &sandbox::Sandbox) -> Self {
        Self { http: reqwest::Client::new(), endpoint: format!("http://{}", sandbox.endpoints.codepipeline) }
    }

    pub async fn call(&self, operation: &str, body: Value) -> Value {
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("CodePipeline_20150709.{operation}"))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=bench/20261129/us-east-1/codepipeline/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{operation}: {status} {value}");
        value
    }
}

/// A viewer: reads a stream, handing each message's data on with when it came.
pub fn viewer(
    http: reqwest::Client,
    url: String,
    messages: Option<mpsc::UnboundedSender<(Instant, String)>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut response = http.get(&url).send().await.unwrap();
        assert!(response.status().is_success(), "{url}: {}", response.status());
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                if let (Some(messages), false) = (&messages, data.is_empty()) {
                    let _ = messages.send((Instant::now(), data.join("\n")));
                }
            }
        }
    })
}
