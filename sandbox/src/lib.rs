//! The embedded sandbox: simulated Kubernetes, CodePipeline and SSM endpoints on loopback, so
//! Rollgate's real clients can run, be demonstrated and be tested without a cluster or an AWS
//! account.
//!
//! - [`Sandbox::start`] binds one loopback listener per system and serves it on the current
//!   Tokio runtime; the returned [`Endpoints`] are what the server points its clients at.
//! - `kubernetes`: the simulated Kubernetes API server (discovery, resources, watches) and
//!   its controllers and kubelet.
//! - `registry`: the container images pods can pull.
//! - `aws`: the simulated CodePipeline and SSM Parameter Store behind one AWS JSON 1.1 front
//!   door (target header, body parsing, error shapes, throttling).
//! - [`oidc`]: an OpenID Connect provider with demo people, for single sign-on.

mod aws;
mod kubernetes;
pub mod oidc;
mod registry;
mod state_file;
mod tls;

pub use aws::{Access, Aws, Exchange, Failure, OperationCalls, PipelineTimings, RateLimit};
pub use kubernetes::controllers::Timings;
pub use registry::Registry;

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the sandbox's {system} endpoint on {addr}: {source}")]
    Bind { system: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot read the sandbox's state from {path}: {reason}")]
    State { path: PathBuf, reason: String },
}

/// What the sandbox starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum World {
    /// Namespaces and service accounts only: what tests build on.
    #[default]
    Empty,
    /// The demo world: the walk-through's app and a few others, with release history.
    Demo,
}

/// Where the sandbox's systems listen.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    pub kubernetes: SocketAddr,
    pub codepipeline: SocketAddr,
    pub ssm: SocketAddr,
    /// SQS, holding the queue CodePipeline's events are delivered to
    /// (`rollgate-pipeline-events`).
    pub sqs: SocketAddr,
    /// The OpenID Connect provider (plain HTTP on loopback).
    pub oidc: SocketAddr,
    /// CloudWatch's alarms, which stage conditions watch.
    pub cloudwatch: SocketAddr,
}

/// A running sandbox. Its servers stop when the runtime that started them shuts down.
pub struct Sandbox {
    pub endpoints: Endpoints,
    /// The container registry pods pull from; builds push their images here.
    pub registry: Registry,
    /// The cluster's bearer token with every right (it is in the kubeconfig).
    pub admin_token: String,
    /// The certificate authority the cluster's serving certificate chains to, PEM-encoded.
    pub cluster_ca_pem: String,
    /// Control of the simulated CodePipeline and SSM (throttling, timings, failures).
    pub aws: Aws,
    /// The OpenID Connect provider: its issuer URL, Rollgate's client registration, faults.
    pub oidc: oidc::Issuer,
    /// How many API requests the cluster has served.
    pub cluster_requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    seeded: tokio::sync::watch::Receiver<bool>,
    state: Option<state_file::StateFile>,
    store: kubernetes::Store,
}

/// How a sandbox starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoints: Endpoints,
    pub world: World,
    pub timings: Timings,
    /// Where the sandbox keeps its world across restarts; in memory only when `None`. A file
    /// that exists is loaded instead of seeding `world`.
    pub state_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            endpoints: Endpoints::any_free(),
            world: World::Empty,
            timings: Timings::default(),
            state_file: None,
        }
    }
}

impl Sandbox {
    /// Binds the three endpoints on `127.0.0.1` (port 0 picks a free port) and starts serving,
    /// in memory.
    pub async fn start(endpoints: Endpoints, world: World) -> Result<Self, SandboxError> {
        Self::start_with(Options { endpoints, world, ..Options::default() }).await
    }

    pub async fn start_with(options: Options) -> Result<Self, SandboxError> {
        let ports = options.endpoints;
        let kubernetes = bind("Kubernetes API", ports.kubernetes).await?;
        let codepipeline = bind("CodePipeline", ports.codepipeline).await?;
        let ssm = bind("SSM", ports.ssm).await?;
        let sqs = bind("SQS", ports.sqs).await?;
        let oidc_listener = bind("OpenID Connect", ports.oidc).await?;
        let cloudwatch = bind("CloudWatch", ports.cloudwatch).await?;
        let endpoints = Endpoints {
            kubernetes: local_addr(&kubernetes),
            codepipeline: local_addr(&codepipeline),
            ssm: local_addr(&ssm),
            sqs: local_addr(&sqs),
            oidc: local_addr(&oidc_listener),
            cloudwatch: local_addr(&cloudwatch),
        };
        let oidc = oidc::Issuer::new(format!("http://{}", endpoints.oidc));
        let tls = tls::ServingTls::generate()?;
        let saved = match &options.state_file {
            Some(path) => state_file::load(path)?,
            None => None,
        };
        let restored = saved.is_some();
        let (cluster, registry) = match saved {
            Some(saved) => (saved.cluster, saved.registry),
            None => (kubernetes::Cluster::seeded(), Registry::seeded()),
        };
        let admin_token = cluster.tokens.admin().to_owned();
        let store = cluster.store.clone();
        let cluster_requests = cluster.requests.clone();
        kubernetes::controllers::spawn(cluster.store.clone(), registry.clone(), options.timings);
        let (seeded_tx, seeded) = tokio::sync::watch::channel(true);
        if options.world == World::Demo && !restored {
            seeded_tx.send_replace(false);
            let (store, registry) = (cluster.store.clone(), registry.clone());
            tokio::spawn(async move {
                kubernetes::demo::seed(store, registry).await;
                seeded_tx.send_replace(true);
            });
        }
        let state = options.state_file.map(|path| {
            state_file::StateFile::keep(path, cluster.store.clone(), cluster.tokens.clone(), registry.clone())
        });
        let (aws, aws_routers) = aws::start(&cluster, &registry, options.world);
        serve(tls.listener(kubernetes), kubernetes::router(cluster));
        serve(codepipeline, aws_routers.codepipeline);
        serve(ssm, aws_routers.ssm);
        aws.set_sqs_endpoint(format!("http://{}", endpoints.sqs));
        serve(sqs, aws_routers.sqs);
        serve(cloudwatch, aws_routers.cloudwatch);
        serve(oidc_listener, oidc::router(oidc.clone()));
        tracing::info!(
            kubernetes = %endpoints.kubernetes,
            codepipeline = %endpoints.codepipeline,
            ssm = %endpoints.ssm,
            sqs = %endpoints.sqs,
            oidc = %endpoints.oidc,
            cloudwatch = %endpoints.cloudwatch,
            restored,
            "sandbox started"
        );
        tracing::info!(
            "sandbox AWS: aws --endpoint-url http://{} codepipeline list-pipelines; aws --endpoint-url http://{} ssm get-parameters-by-path --path /rollgate --recursive --with-decryption",
            endpoints.codepipeline,
            endpoints.ssm
        );
        Ok(Self {
            endpoints,
            registry,
            admin_token,
            cluster_ca_pem: tls.ca_pem,
            aws,
            oidc,
            cluster_requests,
            seeded,
            state,
            store,
        })
    }

    /// Creates or replaces objects in the cluster as its admin would with `kubectl apply`
    /// (JSON in the API's shapes): how the portal gives the environments it runs on the
    /// sandbox the RBAC `rollgate rbac` prints for a real cluster.
    pub fn apply(&self, objects: impl IntoIterator<Item = serde_json::Value>) -> Result<(), String> {
        objects.into_iter().try_for_each(|object| kubernetes::apply(&self.store, object))
    }

    /// Waits until the demo world's releases are all rolled out (at once for other worlds).
    pub async fn seeded(&self) {
        let mut seeded = self.seeded.clone();
        let _ = seeded.wait_for(|done| *done).await;
    }

    /// Writes the state file one last time (when there is one); call before the process exits.
    pub async fn shutdown(&self) {
        if let Some(state) = &self.state
            && let Err(e) = state.save_now().await
        {
            tracing::warn!(error = %e, "cannot save the sandbox's state");
        }
    }
}

impl Sandbox {
    /// Where the sandbox cluster's API is served.
    pub fn cluster_url(&self) -> String {
        format!("https://{}", self.endpoints.kubernetes)
    }

    /// A kubeconfig that points kubectl (or any client) at the sandbox cluster as its admin,
    /// trusting the sandbox's CA, with the `staging` namespace as the default.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.cluster_ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: rollgate-sandbox\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n\
             contexts:\n- name: rollgate-sandbox\n  context:\n    cluster: rollgate-sandbox\n    user: rollgate-sandbox-admin\n    namespace: staging\n\
             current-context: rollgate-sandbox\nusers:\n- name: rollgate-sandbox-admin\n  user:\n    token: {}\n",
            self.cluster_url(),
            self.admin_token
        )
    }

    /// Writes [`Sandbox::kubeconfig`] to `path`, creating its folder; readable by its owner
    /// only, since it holds the admin token.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        options.open(path)?.write_all(self.kubeconfig().as_bytes())
    }
}

impl Endpoints {
    /// Free ports on loopback, chosen by the OS.
    pub fn any_free() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self { kubernetes: any, codepipeline: any, ssm: any, sqs: any, oidc: any, cloudwatch: any }
    }
}

async fn bind(system: &'static str, addr: SocketAddr) -> Result<TcpListener, SandboxError> {
    TcpListener::bind(addr).await.map_err(|source| SandboxError::Bind { system, addr, source })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    // A bound listener always has a local address; fall back to loopback:0 rather than panic.
    listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn serve<L: axum::serve::Listener>(listener: L, router: axum::Router)
where
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "sandbox endpoint stopped");
        }
    });
}
