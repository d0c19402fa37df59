//! One Kubernetes client per environment, built the way its `cluster` setting says: the
//! embedded sandbox (through the kubeconfig the sandbox hands out), a kubeconfig context, the
//! pod's service account, or a URL with a bearer token from SSM, a file or a variable.
//! Clients are built on first use and kept; one that met a 401 or could not connect is
//! dropped so the next call reads the credentials again (a rotated token is picked up).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::ClusterError;
use crate::aws;
use crate::config::{ClusterConnection, Config, Environment, TokenSource};
use crate::upstream::SandboxEndpoints;

/// How long connecting may take before the cluster is called unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Clusters {
    config: Arc<Config>,
    sandbox: Option<SandboxEndpoints>,
    clients: Arc<Mutex<HashMap<String, kube::Client>>>,
}

impl Clusters {
    pub fn new(config: Arc<Config>, sandbox: Option<SandboxEndpoints>) -> Self {
        Self { config, sandbox, clients: Arc::default() }
    }

    /// The client of `environment`'s cluster.
    pub async fn client(&self, environment: &str) -> Result<kube::Client, ClusterError> {
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(environment).cloned()) {
            return Ok(client);
        }
        let env = self
            .config
            .environment(environment)
            .ok_or_else(|| ClusterError::setup(environment, "no such environment"))?;
        let client = build(env, self.sandbox.as_ref()).await?;
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(environment.to_owned(), client.clone());
        }
        Ok(client)
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
}

async fn build(env: &Environment, sandbox: Option<&SandboxEndpoints>) -> Result<kube::Client, ClusterError> {
    let fail = |e: &dyn std::fmt::Display| ClusterError::setup(&env.name, e);
    let mut config = match &env.cluster {
        ClusterConnection::Sandbox => {
            let sandbox = sandbox.ok_or_else(|| fail(&"the sandbox is not running"))?;
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
        ClusterConnection::Url { server, token } => {
            let uri = server.as_str().parse::<http::Uri>().map_err(|e| fail(&e))?;
            let mut config = kube::Config::new(uri);
            let token = read_token(env, token).await.map_err(|e| fail(&e))?;
            config.auth_info.token = Some(token.into());
            config
        }
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    kube::Client::try_from(config).map_err(|e| fail(&e))
}

/// The bearer token of a `url` cluster, read fresh each time a client is built.
async fn read_token(env: &Environment, source: &TokenSource) -> Result<String, String> {
    let token = match source {
        TokenSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
        TokenSource::Env(var) => {
            std::env::var(var).map_err(|_| format!("the token variable {var} is not set"))?
        }
        TokenSource::SsmParameter(name) => aws::ssm_client(env, None)
            .await
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| format!("cannot read the token from SSM parameter {name}: {}", aws::describe(&e)))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| format!("SSM parameter {name} has no value"))?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() { Err("the cluster token is empty".into()) } else { Ok(token) }
}
