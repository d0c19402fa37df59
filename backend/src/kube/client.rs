//! One Kubernetes client per environment, built the way its `cluster` setting says: the
//! embedded sandbox (through the kubeconfig the sandbox hands out), a kubeconfig context, the
//! pod's service account, or a URL (or the sandbox's) with a bearer token from SSM, a file or
//! a variable. Clients are built on first use and kept; one that met a 401 or could not
//! connect is dropped so the next call reads the credentials again. A token kept in SSM is
//! read through [`crate::tokens`] (whose client is built once per environment) and also
//! watched: at most every [`VERSION_CHECK`] a call asks Parameter Store for the parameter's
//! version (no decryption) and rebuilds the client when it moved, so a token rotated
//! elsewhere is picked up before the old one stops working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::ClusterError;
use crate::config::{ClusterConnection, Config, Environment, TokenSource};
use crate::tokens::Tokens;
use crate::upstream::SandboxEndpoints;

/// How long connecting may take before the cluster is called unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a cached client's SSM token parameter is checked for a new version.
pub const VERSION_CHECK: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Cached {
    client: kube::Client,
    /// The SSM parameter version the client's token came from (SSM tokens only).
    token_version: Option<i64>,
    /// When the client's token says it expires (a ServiceAccount token is a JWT), read once
    /// when the token was, so showing it never needs the secret again.
    token_expires_ms: Option<i64>,
    checked: Instant,
}

#[derive(Clone)]
pub struct Clusters {
    config: Arc<Config>,
    sandbox: Option<SandboxEndpoints>,
    /// Where a token kept in SSM is read from.
    tokens: Tokens,
    clients: Arc<Mutex<HashMap<String, Cached>>>,
}

impl Clusters {
    pub fn new(config: Arc<Config>, sandbox: Option<SandboxEndpoints>, tokens: Tokens) -> Self {
        Self { config, sandbox, tokens, clients: Arc::default() }
    }

    fn environment(&self, environment: &str) -> Result<&Environment, ClusterError> {
        self.config
            .environment(environment)
            .ok_or_else(|| ClusterError::setup(environment, "no such environment"))
    }

    fn cached(&self, environment: &str) -> Option<Cached> {
        self.clients.lock().ok().and_then(|c| c.get(environment).cloned())
    }

    /// The client of `environment`'s cluster.
    pub async fn client(&self, environment: &str) -> Result<kube::Client, ClusterError> {
        let env = self.environment(environment)?;
        if let Some(cached) = self.cached(environment) {
            let due = cached.checked.elapsed() >= VERSION_CHECK;
            let Some(parameter) = env.cluster.token_parameter().filter(|_| due) else {
                return Ok(cached.client);
            };
            match self.tokens.parameters(env).await.version(parameter).await {
                Ok(version) if Some(version) == cached.token_version => {
                    self.install(environment, Cached { checked: Instant::now(), ..cached.clone() });
                    return Ok(cached.client);
                }
                Ok(_) => {
                    tracing::info!(environment, parameter, "the cluster token parameter has a new version")
                }
                Err(e) => {
                    // Parameter Store may be down while the cluster is fine: keep the client.
                    tracing::warn!(environment, parameter, error = %e, "cannot check the cluster token's version");
                    self.install(environment, Cached { checked: Instant::now(), ..cached.clone() });
                    return Ok(cached.client);
                }
            }
        }
        let (token, token_version) = match self.token_source(env) {
            Some(source) => {
                let (token, version) =
                    self.read_token(env, source).await.map_err(|e| ClusterError::setup(&env.name, e))?;
                (Some(token), version)
            }
            None => (None, None),
        };
        let token_expires_ms = token.as_deref().and_then(jwt_expiry);
        let client = self.build(env, token).await?;
        self.install(
            environment,
            Cached { client: client.clone(), token_version, token_expires_ms, checked: Instant::now() },
        );
        Ok(client)
    }

    /// A client of `environment`'s cluster that authenticates with `token` instead of the
    /// configured credentials (a new token being verified before it is switched to).
    pub async fn client_with_token(
        &self,
        environment: &str,
        token: &str,
    ) -> Result<kube::Client, ClusterError> {
        let env = self.environment(environment)?;
        self.build(env, Some(token.to_owned())).await
    }

    /// Makes `client` (built from the token of `version` of the SSM token parameter, which
    /// expires at `expires_ms`) the one `environment`'s calls use from now on.
    pub fn switch(&self, environment: &str, client: kube::Client, version: i64, expires_ms: Option<i64>) {
        let cached = Cached {
            client,
            token_version: Some(version),
            token_expires_ms: expires_ms,
            checked: Instant::now(),
        };
        self.install(environment, cached);
    }

    /// The SSM parameter version the current client's token came from, if cached.
    pub fn token_version(&self, environment: &str) -> Option<i64> {
        self.cached(environment).and_then(|c| c.token_version)
    }

    /// The SSM parameter version the current client's token came from and when that token
    /// expires, if a client is cached.
    pub fn token_in_use(&self, environment: &str) -> Option<(i64, Option<i64>)> {
        self.cached(environment).and_then(|c| Some((c.token_version?, c.token_expires_ms)))
    }

    fn install(&self, environment: &str, cached: Cached) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(environment.to_owned(), cached);
        }
    }

    /// Called with every error a call returned: forgets a client whose credentials or
    /// connection failed, so the next call builds a fresh one.
    pub fn saw(&self, environment: &str, error: &ClusterError) {
        if error.stale_client()
            && let Ok(mut clients) = self.clients.lock()
        {
            clients.remove(environment);
        }
    }

    fn token_source<'e>(&self, env: &'e Environment) -> Option<&'e TokenSource> {
        match &env.cluster {
            ClusterConnection::Url { token, .. } | ClusterConnection::SandboxToken { token } => Some(token),
            _ => None,
        }
    }

    /// Builds a client from the environment's connection; `token`, when given, replaces the
    /// credentials it carries.
    async fn build(&self, env: &Environment, token: Option<String>) -> Result<kube::Client, ClusterError> {
        let fail = |e: &dyn std::fmt::Display| ClusterError::setup(&env.name, e);
        let mut config = match &env.cluster {
            ClusterConnection::Sandbox | ClusterConnection::SandboxToken { .. } => {
                let sandbox = self.sandbox.as_ref().ok_or_else(|| fail(&"the sandbox is not running"))?;
                let kubeconfig = Kubeconfig::from_yaml(&sandbox.kubeconfig).map_err(|e| fail(&e))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| fail(&e))?
            }
            ClusterConnection::Kubeconfig { context, path } => {
                let kubeconfig = match path {
                    Some(path) => Kubeconfig::read_from(path),
                    None => Kubeconfig::read(),
                }
                .map_err(|e| fail(&e))?;
                let options = KubeConfigOptions { context: context.clone(), ..KubeConfigOptions::default() };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| fail(&e))?
            }
            ClusterConnection::InCluster => kube::Config::incluster().map_err(|e| fail(&e))?,
            ClusterConnection::Url { server, certificate_authority, .. } => {
                let uri = server.as_str().parse::<http::Uri>().map_err(|e| fail(&e))?;
                let mut config = kube::Config::new(uri);
                if let Some(path) = certificate_authority {
                    config.root_cert = Some(read_certificates(path).map_err(|e| fail(&e))?);
                    // kube re-reads the file, so a rotated CA is picked up without a restart.
                    config.root_cert_file = Some(path.clone());
                }
                config
            }
        };
        if let Some(token) = token {
            config.auth_info = kube::config::AuthInfo { token: Some(token.into()), ..Default::default() };
        }
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| fail(&e))?;
        Ok(builder.with_layer(&super::counted::CountCalls).build())
    }

    /// The bearer token of a token-authenticated cluster, read fresh each time a client is
    /// built, with the SSM parameter version it came from.
    async fn read_token(
        &self,
        env: &Environment,
        source: &TokenSource,
    ) -> Result<(String, Option<i64>), String> {
        let (token, version) = match source {
            TokenSource::File(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
                None,
            ),
            TokenSource::Env(var) => {
                (std::env::var(var).map_err(|_| format!("the token variable {var} is not set"))?, None)
            }
            TokenSource::SsmParameter(name) => {
                let (value, version) = self
                    .tokens
                    .parameters(env)
                    .await
                    .value(name, None)
                    .await
                    .map_err(|e| format!("cannot read the token from SSM parameter {name}: {e}"))?;
                (value, Some(version))
            }
        };
        let token = token.trim().to_owned();
        if token.is_empty() { Err("the cluster token is empty".into()) } else { Ok((token, version)) }
    }
}

/// The certificates (DER) of a PEM file, or why there are none.
pub fn read_certificates(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let blocks = pem::parse_many(&pem).map_err(|e| format!("{} is not a PEM file: {e}", path.display()))?;
    let certificates: Vec<Vec<u8>> =
        blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE").map(pem::Pem::into_contents).collect();
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")", path.display()));
    }
    Ok(certificates)
}

/// When a JWT says it expires (its `exp` claim), in milliseconds; `None` for an opaque token.
/// The signature is not checked: the cluster does that, this only reads the date.
pub fn jwt_expiry(token: &str) -> Option<i64> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let mut parts = token.trim().split('.');
    let (_, claims, _) = (parts.next()?, parts.next()?, parts.next()?);
    let json = URL_SAFE_NO_PAD.decode(claims.trim_end_matches('=')).ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&json).ok()?.get("exp")?.as_i64()?;
    exp.checked_mul(1000)
}
