//! The configuration Rollgate starts from.
//!
//! The file is TOML (`rollgate.example.toml` documents every key); a few top-level keys can be
//! overridden with `ROLLGATE_<KEY>` environment variables, which is how a container sets them.
//! Loading ([`load`]) turns serde's and figment's messages into [`ConfigError`]s that name the
//! key; [`validate`] then checks what types cannot say (DNS names, regions, SSM paths).

mod load;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

pub use load::{Source, load};

/// What went wrong with the configuration, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), problem: problem.into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the portal listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the team's state (sessions, change requests, audit) is kept; SQLite by default.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Start the embedded sandbox (simulated cluster, CodePipeline and SSM) and point the
    /// environments whose cluster is `kind = "sandbox"` at it.
    #[serde(default)]
    pub sandbox: bool,
    /// The folder cargo-leptos built (`pkg/` with the wasm, JS and CSS). Defaults to `site`
    /// next to the binary, then `target/site` under the working directory.
    #[serde(default)]
    pub site_root: Option<PathBuf>,
    /// The environments, in the order the switcher shows them.
    #[serde(default, rename = "environment")]
    pub environments: Vec<Environment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// A DNS label (`staging`, `prod-eu`): it appears in URLs.
    pub name: String,
    /// How people call it; defaults to the name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Changes here need approval from someone other than the requester.
    #[serde(default)]
    pub protected: bool,
    /// How many such approvals a change needs when the environment is protected.
    #[serde(default = "default_required_approvals")]
    pub required_approvals: u8,
    pub cluster: ClusterConnection,
    /// The namespaces whose deployments this environment shows.
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub aws: AwsSettings,
    /// SSM Parameter Store paths whose parameters the Tokens page shows.
    #[serde(default)]
    pub ssm_prefixes: Vec<String>,
}

impl Environment {
    pub fn title(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }
}

/// How Rollgate reaches an environment's Kubernetes API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClusterConnection {
    /// The embedded sandbox cluster (needs `sandbox = true`).
    Sandbox,
    /// A context of a kubeconfig file (`$KUBECONFIG` or `~/.kube/config` unless `path` is set).
    Kubeconfig {
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// The service account of the pod Rollgate runs in.
    InCluster,
    /// An API server URL and a bearer token, as the walk-through's Lambda does it.
    Url { server: Url, token: TokenSource },
}

/// Where a cluster bearer token comes from. Never the token itself: config files get copied.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenSource {
    /// A SecureString in SSM Parameter Store, e.g. `/rollgate/staging/k8s-bear-token`.
    SsmParameter(String),
    /// A file holding the token (a mounted secret).
    File(PathBuf),
    /// An environment variable holding the token.
    Env(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Defaults to `AWS_REGION` / `AWS_DEFAULT_REGION`.
    #[serde(default)]
    pub region: Option<String>,
    /// A named profile of the shared AWS config; the default credential chain otherwise.
    #[serde(default)]
    pub profile: Option<String>,
    /// The CodePipeline pipelines this environment releases through.
    #[serde(default)]
    pub pipelines: Vec<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3000))
}

fn default_database_url() -> String {
    "sqlite://rollgate.db?mode=rwc".to_owned()
}

fn default_required_approvals() -> u8 {
    1
}

impl Config {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}
