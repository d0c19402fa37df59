//! AWS for every environment: one owner of the SDK's configuration and clients.
//!
//! An environment's shared configuration (region, profile, the default credential chain,
//! which honours `AWS_ENDPOINT_URL_*`, and one light HTTP client: hyper 1, rustls with ring)
//! is loaded once and kept, because loading it resolves credentials and builds a connector;
//! its SSM client is kept with it. On the sandbox they point at its endpoints with dummy
//! credentials; nothing else differs. CodePipeline clients count every request they send
//! ([`CallCounter`]), so the calls Rollgate makes can be read and tested: pages and actions
//! share one client per environment, each poller has its own so its calls are counted apart.
//! Every client also counts its calls in the metrics, by operation and outcome.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_codepipeline::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_codepipeline::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_codepipeline::error::BoxError;
use aws_sdk_ssm::config::Credentials;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::config::{Config, Environment};
use crate::metrics::{self, CallOutcome};
use crate::upstream::SandboxEndpoints;

/// The region the sandbox claims when an environment names none.
const SANDBOX_REGION: &str = "us-east-1";

/// Counts every request a client sends (each retry too).
#[derive(Debug, Clone)]
pub struct CallCounter(pub Arc<AtomicU64>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "RollgateCallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Counts every call a client makes in the metrics, by operation and outcome (each call once,
/// after its retries).
#[derive(Debug, Clone)]
struct UpstreamCalls(&'static str);

impl Intercept for UpstreamCalls {
    fn name(&self) -> &'static str {
        "RollgateUpstreamCalls"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
        let outcome = match context.response() {
            Some(response) => CallOutcome::of_status(response.status().as_u16()),
            None => CallOutcome::Unreachable,
        };
        metrics::upstream_call(self.0, operation, outcome);
        Ok(())
    }
}

/// The AWS clients of every environment, made on first use and kept. Cheap to clone.
#[derive(Clone)]
pub struct AwsClients {
    config: Arc<Config>,
    sandbox: Option<SandboxEndpoints>,
    shared: Arc<Mutex<HashMap<String, Shared>>>,
}

/// What one environment's clients are built from.
#[derive(Clone)]
struct Shared {
    sdk: SdkConfig,
    ssm: aws_sdk_ssm::Client,
}

impl AwsClients {
    pub fn new(config: Arc<Config>, sandbox: Option<SandboxEndpoints>) -> Self {
        Self { config, sandbox, shared: Arc::default() }
    }

    /// The SSM client of `env`.
    pub async fn ssm(&self, env: &Environment) -> aws_sdk_ssm::Client {
        self.shared(env).await.ssm
    }

    /// A CodePipeline client of `env` whose requests add to `calls`.
    pub async fn codepipeline(
        &self,
        env: &Environment,
        calls: Arc<AtomicU64>,
    ) -> aws_sdk_codepipeline::Client {
        let shared = self.shared(env).await;
        let mut builder = aws_sdk_codepipeline::config::Builder::from(&shared.sdk)
            .interceptor(CallCounter(calls))
            .interceptor(UpstreamCalls("codepipeline"))
            .timeout_config(
                aws_sdk_codepipeline::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(std::time::Duration::from_secs(10))
                    .build(),
            );
        if let Some(sandbox) = self.sandbox_of(env) {
            builder = builder.endpoint_url(sandbox.codepipeline.as_str());
        }
        aws_sdk_codepipeline::Client::from_conf(builder.build())
    }

    /// An SQS client of `env` for its events queue: long polls wait up to 20 s, so its
    /// attempts may take longer than other calls'.
    pub async fn sqs(&self, env: &Environment) -> aws_sdk_sqs::Client {
        let shared = self.shared(env).await;
        let mut builder =
            aws_sdk_sqs::config::Builder::from(&shared.sdk).interceptor(UpstreamCalls("sqs")).timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(std::time::Duration::from_secs(30))
                    .build(),
            );
        if let Some(sandbox) = self.sandbox_of(env) {
            builder = builder.endpoint_url(sandbox.sqs.as_str());
        }
        aws_sdk_sqs::Client::from_conf(builder.build())
    }

    /// The configuration's environment named `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.config.environment(name)
    }

    fn sandbox_of(&self, env: &Environment) -> Option<&SandboxEndpoints> {
        self.sandbox.as_ref().filter(|_| env.aws_on_sandbox())
    }

    async fn shared(&self, env: &Environment) -> Shared {
        if let Some(shared) = self.shared.lock().unwrap_or_else(|p| p.into_inner()).get(&env.name) {
            return shared.clone();
        }
        // Loaded outside the lock (it may resolve credentials); two first callers at once
        // both load, and the second's is kept: harmless.
        let sandbox = self.sandbox_of(env);
        let sdk = load(env, sandbox.is_some()).await;
        let mut ssm = aws_sdk_ssm::config::Builder::from(&sdk).interceptor(UpstreamCalls("ssm"));
        if let Some(sandbox) = sandbox {
            ssm = ssm.endpoint_url(sandbox.ssm.as_str());
        }
        let shared = Shared { ssm: aws_sdk_ssm::Client::from_conf(ssm.build()), sdk };
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).insert(env.name.clone(), shared.clone());
        shared
    }
}

async fn load(env: &Environment, on_sandbox: bool) -> SdkConfig {
    let http = Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(region) = &env.aws.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if on_sandbox {
        let region = env.aws.region.clone().unwrap_or_else(|| SANDBOX_REGION.to_owned());
        loader = loader.region(Region::new(region)).credentials_provider(Credentials::new(
            "sandbox",
            "sandbox",
            None,
            None,
            "rollgate-sandbox",
        ));
    } else if let Some(profile) = &env.aws.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// An SDK error with its causes, for messages people read (the SDK's own Display says
/// little more than "service error").
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_ssm::error::DisplayErrorContext(error).to_string()
}
