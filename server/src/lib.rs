//! The `rollgate` server.
//!
//! - [`cli`]: the command line.
//! - [`telemetry`]: logs (JSON when not on a terminal).
//! - [`site`]: where the compiled site (wasm, JS, CSS) is and how Leptos is told about it.
//! - [`router`]: every HTTP route (pages, server functions, assets, health) and the middleware
//!   around them (request ids, tracing, compression, caching).
//! - [`health`]: liveness and readiness.
//! - [`auth`]: the session cookie, who is asking, sign-in and sign-out endpoints.
//! - [`oidc`]: single sign-on's start and callback endpoints.
//! - [`security`]: the same-origin (CSRF) check and the security headers.
//! - [`flash`]: a failed form post's error carried back in a cookie, never in the URL.
//! - [`audit_export`]: the audit trail as a CSV or JSON download.
//! - [`delivery_export`]: the rollouts behind the delivery figures as a CSV download.
//! - [`live`]: the deployments as server-sent events; [`streams`]: what streams share (who
//!   may keep one open, and the end at shutdown).
//! - [`log_stream`]: a deployment's pod logs as server-sent events.
//! - [`metrics`]: `/metrics` for Prometheus, and the HTTP request metrics.
//!
//! [`start`] wires one process: the sandbox when configured, the portal state, the upstream
//! monitor and the HTTP server; tests use it to run the whole server in-process.

pub mod audit_export;
pub mod auth;
pub mod cli;
pub mod delivery_export;
pub mod flash;
pub mod health;
pub mod live;
pub mod log_stream;
pub mod metrics;
pub mod oidc;
pub mod pipeline_stream;
pub mod router;
pub mod security;
pub mod site;
pub mod streams;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backend::upstream::SandboxEndpoints;
use backend::{Config, Portal};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often upstream connectivity is re-checked.
const PROBE_INTERVAL: Duration = Duration::from_secs(15);
/// How often each replica looks for changes a stopped replica left behind: two cheap queries,
/// often enough that a lost runner's change is marked within seconds of its lease running out.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Sandbox(#[from] sandbox::SandboxError),
    #[error("cannot give the sandbox's environments their RBAC: {0}")]
    SandboxRbac(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Site(#[from] site::SiteError),
    #[error(transparent)]
    Store(#[from] backend::store::StoreError),
    #[error(transparent)]
    Config(#[from] backend::ConfigError),
    #[error("metrics.bearer_token: {0}")]
    MetricsToken(String),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A server started by [`start`].
pub struct Running {
    pub addr: SocketAddr,
    /// Where `metrics.listen` serves `/metrics`, when configured.
    pub metrics_addr: Option<SocketAddr>,
    pub portal: Portal,
    /// The embedded sandbox, when this process runs one.
    pub sandbox: Option<sandbox::Sandbox>,
    shutdown: oneshot::Sender<()>,
    closing: tokio::sync::watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    metrics_server: Option<JoinHandle<std::io::Result<()>>>,
    recovery: JoinHandle<()>,
}

impl Running {
    /// Shuts down without losing work: `/readyz` answers 503 and streams end at once; new
    /// connections are taken for `drain_seconds` more; then in-flight requests, the recovery
    /// sweep under way and every change this replica claimed run to their end.
    pub async fn shutdown(self) -> Result<(), StartError> {
        let _ = self.closing.send(true);
        tokio::time::sleep(Duration::from_secs(self.portal.config.drain_seconds.into())).await;
        let _ = self.shutdown.send(());
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        let served = match self.server.await {
            Ok(result) => result.map_err(StartError::Serve),
            Err(join) => Err(StartError::Serve(std::io::Error::other(join))),
        };
        let _ = self.recovery.await;
        self.portal.changes.drain().await;
        // Last: what is still running above may need the embedded cluster.
        if let Some(sandbox) = &self.sandbox {
            sandbox.shutdown().await;
        }
        served
    }
}

/// Starts the sandbox (when configured), the upstream monitor and the HTTP server.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let sandbox = if config.sandbox {
        let options = sandbox::Options {
            world: sandbox::World::Demo,
            state_file: config.sandbox_state.clone(),
            ..sandbox::Options::default()
        };
        let sandbox = sandbox::Sandbox::start_with(options).await?;
        // Its environments get exactly the permissions `rollgate rbac` prints for a cluster.
        sandbox.apply(backend::kube::rbac::for_sandbox(&config)).map_err(StartError::SandboxRbac)?;
        Some(sandbox)
    } else {
        None
    };
    let sandbox_issuer = sandbox.as_ref().map(|s| backend::auth::oidc::SandboxIssuer {
        issuer: s.oidc.url().to_owned(),
        client_id: s.oidc.client_id().to_owned(),
        client_secret: s.oidc.client_secret().to_owned(),
    });
    let sso = oidc::SsoState(
        backend::auth::oidc::Sso::from_config(&config, sandbox_issuer.as_ref())?.map(Arc::new),
    );
    let listen = config.listen;
    let options = site::leptos_options(&config, listen)?;
    let metrics_token = match &config.metrics.bearer_token {
        Some(source) => metrics::MetricsToken(Some(source.read().map_err(StartError::MetricsToken)?.into())),
        None => metrics::MetricsToken(None),
    };
    let metrics_listen = config.metrics.listen;
    let portal = Portal::open(config, sandbox.as_ref().map(sandbox_endpoints)).await?;
    // The first check runs before the first request could ask for readiness.
    portal.upstreams.check_now().await;
    portal.upstreams.spawn(PROBE_INTERVAL);

    let listener =
        TcpListener::bind(listen).await.map_err(|source| StartError::Listen { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: listen, source })?;
    let (closing, streams_closing) = streams::Closing::new();
    let recovery = spawn_recovery(portal.changes.clone(), closing.subscribe());
    let (metrics_addr, metrics_server) = match metrics_listen {
        Some(at) => {
            let listener =
                TcpListener::bind(at).await.map_err(|source| StartError::Listen { addr: at, source })?;
            let bound = listener.local_addr().map_err(|source| StartError::Listen { addr: at, source })?;
            let mut closed = closing.subscribe();
            let app = metrics::router(portal.clone());
            let server = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = closed.wait_for(|closed| *closed).await;
                    })
                    .await
            });
            tracing::info!(addr = %bound, "metrics on http://{bound}/metrics");
            (Some(bound), Some(server))
        }
        None => (None, None),
    };
    let app = router::build(portal.clone(), options, sso, streams_closing, metrics_token);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%addr, sandbox = portal.sandbox.is_some(), "rollgate listening on http://{addr}");
    Ok(Running { addr, metrics_addr, portal, sandbox, shutdown, closing, server, metrics_server, recovery })
}

/// Every replica looks now and then for changes another replica left behind when it stopped
/// (see `Changes::recover`); the store's claims keep them from doing the same work twice.
/// Stops at shutdown, never in the middle of a sweep.
fn spawn_recovery(
    changes: backend::dispatch::Changes,
    mut closing: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RECOVERY_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = closing.wait_for(|closed| *closed) => return,
            }
            match changes.recover(backend::clock::Timestamp::now()).await {
                Ok(r) if r.ran + r.interrupted > 0 => {
                    tracing::info!(
                        ran = r.ran,
                        interrupted = r.interrupted,
                        "recovered changes left by a stopped replica"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for changes left by a stopped replica"),
            }
        }
    })
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve_until_signal(config: Config) -> Result<(), StartError> {
    // Listening for SIGTERM before serving: one that arrives as soon as the address is logged
    // must shut down gracefully, not find the default action (exit at once).
    let terminated = termination();
    let running = start(config).await?;
    if let Some(sandbox) = &running.sandbox {
        // A fixed path, so a person can keep one kubectl command line across restarts.
        let path = std::env::temp_dir().join("rollgate-sandbox").join("kubeconfig");
        match sandbox.write_kubeconfig(&path) {
            Ok(()) => tracing::info!(
                kubeconfig = %path.display(),
                "sandbox cluster: kubectl --kubeconfig {} get deploy -A",
                path.display()
            ),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot write the sandbox kubeconfig")
            }
        }
    }
    terminated.await;
    tracing::info!("shutting down: finishing in-flight requests and changes");
    running.shutdown().await
}

/// Resolves at SIGTERM or Ctrl-C; SIGTERM is listened for from the moment this is called.
fn termination() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
    }
}

fn sandbox_endpoints(sandbox: &sandbox::Sandbox) -> SandboxEndpoints {
    let endpoints = sandbox.endpoints;
    let url = |scheme: &str, addr: SocketAddr| {
        url::Url::parse(&format!("{scheme}://{addr}")).expect("a URL made of a socket address parses")
    };
    SandboxEndpoints {
        kubernetes: url("https", endpoints.kubernetes),
        kubeconfig: sandbox.kubeconfig(),
        codepipeline: url("http", endpoints.codepipeline),
        ssm: url("http", endpoints.ssm),
        sqs: url("http", endpoints.sqs),
    }
}
