//! AWS clients for an environment: its region and profile, the default credential chain
//! (which honours `AWS_ENDPOINT_URL_*`), and one light HTTP client (hyper 1, rustls with
//! ring). On the sandbox they point at its endpoints with dummy credentials; nothing else
//! differs.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::Credentials;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::config::Environment;
use crate::upstream::SandboxEndpoints;

/// The region the sandbox claims when an environment names none.
const SANDBOX_REGION: &str = "us-east-1";

/// The SSM client of `env`; `sandbox` when the environment runs on the embedded sandbox.
pub async fn ssm_client(env: &Environment, sandbox: Option<&SandboxEndpoints>) -> aws_sdk_ssm::Client {
    let shared = shared_config(env, sandbox.is_some()).await;
    let mut builder = aws_sdk_ssm::config::Builder::from(&shared);
    if let Some(sandbox) = sandbox {
        builder = builder.endpoint_url(sandbox.ssm.as_str());
    }
    aws_sdk_ssm::Client::from_conf(builder.build())
}

/// The CodePipeline client of `env`; every request it sends (retries included) adds one to
/// `calls`, so the number of AWS calls Rollgate makes can be read and tested.
pub async fn codepipeline_client(
    env: &Environment,
    sandbox: Option<&SandboxEndpoints>,
    calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> aws_sdk_codepipeline::Client {
    let shared = shared_config(env, sandbox.is_some()).await;
    let mut builder = aws_sdk_codepipeline::config::Builder::from(&shared)
        .interceptor(crate::pipelines::CallCounter(calls))
        .timeout_config(
            aws_sdk_codepipeline::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_secs(10))
                .build(),
        );
    if let Some(sandbox) = sandbox {
        builder = builder.endpoint_url(sandbox.codepipeline.as_str());
    }
    aws_sdk_codepipeline::Client::from_conf(builder.build())
}

async fn shared_config(env: &Environment, on_sandbox: bool) -> SdkConfig {
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
