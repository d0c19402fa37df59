//! Where each environment's upstream systems live, and whether they answer.
//!
//! Resolution follows the same rules the clients will: the sandbox's loopback endpoints, a
//! kubeconfig context's server, the in-cluster service host, and for AWS the
//! `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL` overrides before the regional endpoint.
//! The [`UpstreamMonitor`] re-checks every target on an interval with a TCP connect, which
//! works the same for plain-HTTP sandboxes and TLS endpoints and carries no credentials.
//! Readiness and the pages read its last result; nobody waits on a probe.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::net::TcpStream;
use url::Url;

use crate::config::{ClusterConnection, Config, Environment};

/// The three systems Rollgate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    Kubernetes,
    CodePipeline,
    Ssm,
}

impl System {
    pub fn label(self) -> &'static str {
        match self {
            System::Kubernetes => "Kubernetes API",
            System::CodePipeline => "AWS CodePipeline",
            System::Ssm => "AWS SSM Parameter Store",
        }
    }

    /// Its name in metrics: `kubernetes`, `codepipeline`, `ssm`.
    pub fn id(self) -> &'static str {
        match self {
            System::Kubernetes => "kubernetes",
            System::CodePipeline => "codepipeline",
            System::Ssm => "ssm",
        }
    }

    fn aws_service_id(self) -> &'static str {
        match self {
            System::Kubernetes => "",
            System::CodePipeline => "CODEPIPELINE",
            System::Ssm => "SSM",
        }
    }

    fn aws_endpoint_prefix(self) -> &'static str {
        match self {
            System::Kubernetes => "",
            System::CodePipeline => "codepipeline",
            System::Ssm => "ssm",
        }
    }
}

/// The embedded sandbox's endpoints, when it runs.
#[derive(Debug, Clone)]
pub struct SandboxEndpoints {
    pub kubernetes: Url,
    /// The kubeconfig the sandbox hands out (its CA and admin token): Rollgate connects to
    /// the sandbox cluster through it, as it would through any kubeconfig.
    pub kubeconfig: String,
    pub codepipeline: Url,
    pub ssm: Url,
    /// SQS, holding the queue the sandbox's CodePipeline sends its events to.
    pub sqs: Url,
}

/// One upstream of one environment, resolved to an endpoint or to the reason it could not be.
#[derive(Debug, Clone)]
pub struct Target {
    pub environment: String,
    pub system: System,
    pub endpoint: Result<Url, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reachability {
    NotChecked,
    Reachable {
        checked: SystemTime,
        latency: Duration,
    },
    Unreachable {
        checked: SystemTime,
        reason: String,
    },
    /// The endpoint itself is unknown (a missing kubeconfig context, no AWS region, ...).
    Unresolved(String),
}

#[derive(Debug, Clone)]
pub struct UpstreamStatus {
    pub environment: String,
    pub system: System,
    pub endpoint: Option<Url>,
    pub reachability: Reachability,
}

/// Every upstream the configuration names, in environment order.
pub fn resolve(config: &Config, sandbox: Option<&SandboxEndpoints>) -> Vec<Target> {
    let mut targets = Vec::new();
    for env in &config.environments {
        let target = |system, endpoint| Target { environment: env.name.clone(), system, endpoint };
        targets.push(target(System::Kubernetes, cluster_endpoint(env, sandbox)));
        let on_sandbox = env.aws_on_sandbox();
        if !env.aws.pipelines.is_empty() {
            targets.push(target(
                System::CodePipeline,
                aws_endpoint(env, System::CodePipeline, on_sandbox, sandbox),
            ));
        }
        let token_in_ssm = env.cluster.token_parameter().is_some();
        if !env.ssm_prefixes.is_empty() || token_in_ssm {
            targets.push(target(System::Ssm, aws_endpoint(env, System::Ssm, on_sandbox, sandbox)));
        }
    }
    targets
}

fn cluster_endpoint(env: &Environment, sandbox: Option<&SandboxEndpoints>) -> Result<Url, String> {
    match &env.cluster {
        ClusterConnection::Sandbox | ClusterConnection::SandboxToken { .. } => {
            sandbox.map(|s| s.kubernetes.clone()).ok_or_else(|| "the sandbox is not running".to_owned())
        }
        ClusterConnection::Url { server, .. } => Ok(server.clone()),
        ClusterConnection::InCluster => {
            let host = std::env::var("KUBERNETES_SERVICE_HOST")
                .map_err(|_| "not running in a pod: KUBERNETES_SERVICE_HOST is not set".to_owned())?;
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".to_owned());
            let host = if host.contains(':') { format!("[{host}]") } else { host };
            Url::parse(&format!("https://{host}:{port}")).map_err(|e| format!("in-cluster address: {e}"))
        }
        ClusterConnection::Kubeconfig { context, path } => {
            kubeconfig_server(path.as_ref(), context.as_deref())
        }
    }
}

fn aws_endpoint(
    env: &Environment,
    system: System,
    on_sandbox: bool,
    sandbox: Option<&SandboxEndpoints>,
) -> Result<Url, String> {
    if on_sandbox {
        return sandbox
            .map(|s| if system == System::Ssm { s.ssm.clone() } else { s.codepipeline.clone() })
            .ok_or_else(|| "the sandbox is not running".to_owned());
    }
    let over = std::env::var(format!("AWS_ENDPOINT_URL_{}", system.aws_service_id()))
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"));
    if let Ok(url) = over {
        return Url::parse(&url).map_err(|e| format!("endpoint override {url:?}: {e}"));
    }
    let region = env
        .aws
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .ok_or_else(|| "no AWS region: set aws.region for this environment or AWS_REGION".to_owned())?;
    Url::parse(&format!("https://{}.{region}.amazonaws.com", system.aws_endpoint_prefix()))
        .map_err(|e| format!("regional endpoint: {e}"))
}

/// The parts of a kubeconfig that say where a context's API server is.
#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Vec<Named<KubeContext>>,
    #[serde(default)]
    clusters: Vec<Named<KubeCluster>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster")]
    item: T,
}

#[derive(Deserialize)]
struct KubeContext {
    cluster: String,
}

#[derive(Deserialize)]
struct KubeCluster {
    server: String,
}

fn kubeconfig_server(path: Option<&PathBuf>, context: Option<&str>) -> Result<Url, String> {
    let path = match path {
        Some(p) => p.clone(),
        None => match std::env::var_os("KUBECONFIG") {
            // Like kubectl, the first file of a KUBECONFIG list.
            Some(list) => {
                std::env::split_paths(&list).next().ok_or_else(|| "KUBECONFIG is empty".to_owned())?
            }
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".kube/config"))
                .ok_or_else(|| "no kubeconfig: neither KUBECONFIG nor HOME is set".to_owned())?,
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let kubeconfig: Kubeconfig =
        serde_yaml::from_str(&text).map_err(|e| format!("{} is not a kubeconfig: {e}", path.display()))?;
    let context_name = context
        .map(str::to_owned)
        .or(kubeconfig.current_context)
        .ok_or_else(|| format!("{} has no current-context and none is configured", path.display()))?;
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .ok_or_else(|| format!("context {context_name:?} is not in {}", path.display()))?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.item.cluster)
        .ok_or_else(|| format!("cluster {:?} is not in {}", context.item.cluster, path.display()))?;
    Url::parse(&cluster.item.server).map_err(|e| format!("server {:?}: {e}", cluster.item.server))
}

/// Keeps the last reachability of every target, refreshed in the background.
#[derive(Clone)]
pub struct UpstreamMonitor {
    targets: Arc<Vec<Target>>,
    statuses: Arc<RwLock<Vec<UpstreamStatus>>>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl UpstreamMonitor {
    pub fn new(targets: Vec<Target>) -> Self {
        let statuses = targets
            .iter()
            .map(|t| UpstreamStatus {
                environment: t.environment.clone(),
                system: t.system,
                endpoint: t.endpoint.as_ref().ok().cloned(),
                reachability: match &t.endpoint {
                    Ok(_) => Reachability::NotChecked,
                    Err(reason) => Reachability::Unresolved(reason.clone()),
                },
            })
            .collect();
        Self { targets: Arc::new(targets), statuses: Arc::new(RwLock::new(statuses)) }
    }

    /// Probes every resolved target once, concurrently, and records the results.
    pub async fn check_now(&self) {
        let probes = self.targets.iter().enumerate().filter_map(|(i, t)| {
            let url = t.endpoint.as_ref().ok()?.clone();
            Some(async move { (i, probe(&url).await) })
        });
        let mut set = tokio::task::JoinSet::new();
        for p in probes {
            set.spawn(p);
        }
        while let Some(Ok((i, result))) = set.join_next().await {
            let checked = SystemTime::now();
            let reachability = match result {
                Ok(latency) => Reachability::Reachable { checked, latency },
                Err(reason) => Reachability::Unreachable { checked, reason },
            };
            if let Ok(mut statuses) = self.statuses.write() {
                statuses[i].reachability = reachability;
            }
        }
    }

    /// Re-checks every `interval` until the runtime stops.
    pub fn spawn(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.check_now().await;
                tokio::time::sleep(interval).await;
            }
        })
    }

    pub fn snapshot(&self) -> Vec<UpstreamStatus> {
        self.statuses.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn for_environment(&self, environment: &str) -> Vec<UpstreamStatus> {
        self.snapshot().into_iter().filter(|s| s.environment == environment).collect()
    }

    /// Ready when every upstream answered its last probe.
    pub fn is_ready(&self) -> bool {
        self.snapshot().iter().all(|s| matches!(s.reachability, Reachability::Reachable { .. }))
    }
}

async fn probe(url: &Url) -> Result<Duration, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let started = std::time::Instant::now();
    match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Err(format!("no answer from {host}:{port} within {}s", PROBE_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    fn sandbox_endpoints(port: u16) -> SandboxEndpoints {
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        SandboxEndpoints {
            kubernetes: url.clone(),
            kubeconfig: String::new(),
            codepipeline: url.clone(),
            ssm: url.clone(),
            sqs: url,
        }
    }

    /// The default sandbox configuration names a cluster, CodePipeline and SSM per environment.
    #[test]
    fn sandbox_default_resolves_every_system() {
        let config = load(&Source::SandboxDefault).unwrap();
        let targets = resolve(&config, Some(&sandbox_endpoints(1)));
        let systems: Vec<_> = targets.iter().map(|t| (t.environment.as_str(), t.system)).collect();
        assert_eq!(
            systems,
            [
                ("staging", System::Kubernetes),
                ("staging", System::CodePipeline),
                ("staging", System::Ssm),
                ("production", System::Kubernetes),
                ("production", System::CodePipeline),
                ("production", System::Ssm),
            ]
        );
        assert!(targets.iter().all(|t| t.endpoint.is_ok()));
        let without = resolve(&config, None);
        assert!(without.iter().all(|t| t.endpoint.as_ref().unwrap_err().contains("sandbox")));
    }

    #[test]
    fn kubeconfig_context_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: one, user: u}\n- name: b\n  context: {cluster: two}\nclusters:\n- name: one\n  cluster: {server: 'https://one.example:6443'}\n- name: two\n  cluster: {server: 'https://two.example'}\n",
        )
        .unwrap();
        assert_eq!(kubeconfig_server(Some(&path), None).unwrap().as_str(), "https://one.example:6443/");
        assert_eq!(kubeconfig_server(Some(&path), Some("b")).unwrap().as_str(), "https://two.example/");
        let missing = kubeconfig_server(Some(&path), Some("c")).unwrap_err();
        assert!(missing.contains("context \"c\""), "{missing}");
    }

    /// A listening port is reachable; a closed one is reported with the address.
    #[tokio::test]
    async fn monitor_reports_reachability() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let target = |port: u16| Target {
            environment: "e".into(),
            system: System::Kubernetes,
            endpoint: Ok(Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
        };
        let monitor = UpstreamMonitor::new(vec![target(open)]);
        assert!(!monitor.is_ready(), "ready before any probe");
        monitor.check_now().await;
        assert!(monitor.is_ready());

        let monitor = UpstreamMonitor::new(vec![target(open), target(closed)]);
        monitor.check_now().await;
        assert!(!monitor.is_ready());
        match &monitor.snapshot()[1].reachability {
            Reachability::Unreachable { reason, .. } => {
                assert!(reason.contains(&closed.to_string()), "{reason}")
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
    }
}
