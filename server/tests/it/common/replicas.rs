//! Rollgate as a team runs it in production, on one machine: two `rollgate` processes on one
//! PostgreSQL and one cluster (the sandbox, reached through a kubeconfig as a real one would
//! be, and CodePipeline, SSM and the SQS queue of CodePipeline's events through
//! `AWS_ENDPOINT_URL_*`), behind a round-robin proxy that
//! polls `/readyz` as a load balancer does. Each replica reaches the cluster through a
//! [`Link`] the test can freeze, to stop a replica in the middle of a change.
//!
//! Used by the `replicas` test and by `scripts/ha-demo.sh`, which runs it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use backend::audit::Caller;
use backend::auth::{NewPassword, UserName, accounts};
use backend::clock::Timestamp;
use futures_util::TryStreamExt;
use testkit::store::{Flavour, TestStore, fresh};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The people of the team: a viewer, a deployer, and four who may approve.
pub const PEOPLE: [(&str, &str); 6] = [
    ("vera", "viewer"),
    ("dana", "deployer"),
    ("avery", "approver"),
    ("ada", "admin"),
    ("blair", "approver"),
    ("casey", "approver"),
];

pub fn password(name: &str) -> String {
    format!("{name}-replicas-password")
}

/// Seconds a replica goes on serving after SIGTERM (`drain_seconds`): several polls of the
/// proxy's.
const DRAIN_SECONDS: u32 = 2;
const PROXY_POLL: Duration = Duration::from_millis(100);

pub struct Replicas {
    pub sandbox: sandbox::Sandbox,
    pub store: TestStore,
    pub replicas: Vec<Replica>,
    pub proxy: Proxy,
    pub dir: tempfile::TempDir,
}

impl Replicas {
    /// The sandbox, a fresh PostgreSQL database with the team's accounts, replicas A and B,
    /// and the proxy in front of them.
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// The same, `production` configured further by `extra` (TOML under its
    /// `[[environment]]`, such as a `[[environment.recurring_freeze]]`).
    pub async fn start_with(extra: &str) -> Self {
        let sandbox = sandbox::Sandbox::start_with(sandbox::Options {
            world: sandbox::World::Demo,
            ..sandbox::Options::default()
        })
        .await
        .expect("the sandbox starts");
        sandbox.seeded().await;
        let store = fresh(Flavour::Postgres).await;
        for (name, _) in PEOPLE {
            let user = UserName::parse(name).expect("a user name");
            let secret = NewPassword::parse(&password(name)).expect("a password");
            accounts::add(&store.store, &Caller::new("test"), &user, &secret, Timestamp::now())
                .await
                .expect("an account");
        }
        let dir = tempfile::tempdir().expect("a folder for the replicas");
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("pkg")).expect("pkg dir");
        std::fs::write(site.join("pkg/rollgate.css"), "body{color:red}\n").expect("css");
        std::fs::write(site.join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>")
            .expect("favicon");
        let mut replicas = Vec::new();
        for name in ["a", "b"] {
            let link = Link::start(sandbox.endpoints.kubernetes).await;
            let kubeconfig = dir.path().join(format!("kubeconfig-{name}"));
            let direct = format!("https://{}", sandbox.endpoints.kubernetes);
            let through_link = format!("https://{}", link.addr);
            std::fs::write(&kubeconfig, sandbox.kubeconfig().replace(&direct, &through_link))
                .expect("a kubeconfig");
            let config = dir.path().join(format!("rollgate-{name}.toml"));
            let listen = free_port();
            std::fs::write(&config, config_toml(listen, &store.url, &site, &kubeconfig) + extra)
                .expect("a config");
            let log = dir.path().join(format!("rollgate-{name}.log"));
            let mut replica = Replica { name, addr: listen, config, log, link, child: None, starts: 0 };
            replica.launch(&sandbox);
            replicas.push(replica);
        }
        for replica in &mut replicas {
            replica.wait_until_serving().await;
        }
        let proxy = Proxy::start(replicas.iter().map(|r| (r.name, r.addr)).collect()).await;
        Self { sandbox, store, replicas, proxy, dir }
    }

    pub fn replica(&mut self, name: &str) -> &mut Replica {
        self.replicas.iter_mut().find(|r| r.name == name).expect("a replica of that name")
    }

    /// Starts replica `name` again (after it stopped) on its address, and waits until it serves.
    pub async fn restart(&mut self, name: &str) {
        let sandbox = &self.sandbox;
        let replica = self.replicas.iter_mut().find(|r| r.name == name).expect("a replica of that name");
        replica.launch(sandbox);
        replica.wait_until_serving().await;
    }

    /// The store's answer to a query returning one number.
    pub async fn count(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(bind)
            .fetch_one(self.store.store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        // A failed run keeps the replicas' logs for whoever reads its report.
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("the replicas' logs are kept in {}", self.dir.path().display());
        }
    }
}

fn config_toml(listen: SocketAddr, database_url: &str, site: &Path, kubeconfig: &Path) -> String {
    let roles: String = PEOPLE.iter().map(|(name, role)| format!("{name} = \"{role}\"\n")).collect();
    format!(
        r#"listen = "{listen}"
database_url = "{database_url}"
sandbox = false
site_root = "{site}"
drain_seconds = {DRAIN_SECONDS}

[roles]
{roles}
[[environment]]
name = "production"
display_name = "Production"
protected = true
required_approvals = 2
namespaces = ["production"]
ssm_prefixes = ["/rollgate/production/"]
cluster = {{ kind = "kubeconfig", path = "{kubeconfig}" }}
aws = {{ region = "us-east-1", pipelines = ["myapp-production"], events_queue = "rollgate-pipeline-events", deploys = [
  {{ pipeline = "myapp-production", stage = "Deploy", namespace = "production", deployment = "myapp-deployment" }},
] }}
"#,
        site = site.display(),
        kubeconfig = kubeconfig.display(),
    )
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

/// One `rollgate` process, started again on the same address after it stops.
pub struct Replica {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub config: PathBuf,
    /// Its JSON log, every start appended.
    pub log: PathBuf,
    pub link: Link,
    child: Option<Child>,
    starts: u32,
}

impl Replica {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn launch(&mut self, sandbox: &sandbox::Sandbox) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("a log file");
        let err = log.try_clone().expect("the log file again");
        let child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .arg("--config")
            .arg(&self.config)
            .env_remove("ROLLGATE_CONFIG")
            .env_remove("ROLLGATE_DATABASE_URL")
            .env_remove("ROLLGATE_LISTEN")
            .env("RUST_LOG", "info")
            // The AWS default chain, as in production, finding the sandbox's endpoints and
            // static keys (the sandbox checks signatures, not who signed).
            .env("AWS_ENDPOINT_URL_CODEPIPELINE", format!("http://{}", sandbox.endpoints.codepipeline))
            .env("AWS_ENDPOINT_URL_SSM", format!("http://{}", sandbox.endpoints.ssm))
            .env("AWS_ENDPOINT_URL_SQS", format!("http://{}", sandbox.endpoints.sqs))
            .env("AWS_ACCESS_KEY_ID", "AKIDREPLICAS")
            .env("AWS_SECRET_ACCESS_KEY", "replicas-secret")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("rollgate starts");
        self.child = Some(child);
        self.starts += 1;
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = format!("{}/healthz", self.url());
        loop {
            if reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("replica {} exited with {status}; its log: {}", self.name, self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "replica {} does not serve; its log: {}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the replica runs").id()
    }

    /// Sends SIGTERM (a rolling restart) or SIGKILL (a lost node).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} replica {}", self.name);
    }

    /// Waits for the process to end; its exit status.
    pub async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut().expect("the replica was started");
            if let Some(status) = child.try_wait().expect("the replica's status") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} still runs; its log: {}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP relay between a replica and the cluster's API server (TLS passes through it
/// untouched). Frozen, it passes nothing on: requests the replica sends hang, as over a link
/// that went dead.
pub struct Link {
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
}

impl Link {
    async fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port for the link");
        let addr = listener.local_addr().expect("its address");
        let frozen = watch::Sender::new(false);
        let gate = frozen.subscribe();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let gate = gate.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(to).await else { return };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::join!(relay(in_read, out_write, gate.clone()), relay(out_read, in_write, gate));
                });
            }
        });
        Self { addr, frozen }
    }

    pub fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if gate.wait_for(|frozen| !*frozen).await.is_err() || to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The load balancer: each request goes to the next replica that last said it is ready and
/// not draining (or to any, when none did), on a new connection; a replica that refuses the
/// connection (stopped, or not yet listening) is skipped, since it cannot have seen the
/// request. Answers name the replica that served them (`x-served-by`).
pub struct Proxy {
    pub url: String,
    pub stats: Arc<ProxyStats>,
}

#[derive(Default)]
pub struct ProxyStats {
    /// Requests answered by each replica, in the order of `backends`.
    pub served: [AtomicU64; 2],
    /// Requests no replica answered.
    pub failed: AtomicU64,
}

struct Backends {
    list: Vec<(&'static str, SocketAddr, AtomicBool)>,
    next: AtomicUsize,
    client: reqwest::Client,
    stats: Arc<ProxyStats>,
}

impl Proxy {
    async fn start(backends: Vec<(&'static str, SocketAddr)>) -> Self {
        let stats = Arc::new(ProxyStats::default());
        let backends = Arc::new(Backends {
            list: backends.into_iter().map(|(name, addr)| (name, addr, AtomicBool::new(true))).collect(),
            next: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
            stats: stats.clone(),
        });
        let poller = backends.clone();
        tokio::spawn(async move {
            loop {
                for (_, addr, ready) in &poller.list {
                    let answer = poller
                        .client
                        .get(format!("http://{addr}/readyz"))
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await;
                    let serving = match answer {
                        Ok(response) => {
                            !response.text().await.unwrap_or_default().contains("\"draining\":true")
                        }
                        Err(_) => false,
                    };
                    ready.store(serving, Ordering::Relaxed);
                }
                tokio::time::sleep(PROXY_POLL).await;
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let app = axum::Router::new().fallback(forward).with_state(backends);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, stats }
    }
}

async fn forward(State(backends): State<Arc<Backends>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return (axum::http::StatusCode::BAD_REQUEST, "body too large").into_response();
    };
    let count = backends.list.len();
    let start = backends.next.fetch_add(1, Ordering::Relaxed);
    let any_ready = backends.list.iter().any(|(_, _, ready)| ready.load(Ordering::Relaxed));
    let order = (0..count).map(|i| (start + i) % count);
    let candidates: Vec<usize> =
        order.filter(|&i| !any_ready || backends.list[i].2.load(Ordering::Relaxed)).collect();
    // Once more round, in case the only ready one just stopped and the other just started.
    for &i in candidates.iter().chain(candidates.iter()) {
        let (name, addr, _) = &backends.list[i];
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut outgoing = backends.client.request(parts.method.clone(), format!("http://{addr}{path}"));
        for (header, value) in &parts.headers {
            if header != "connection" && header != "content-length" {
                outgoing = outgoing.header(header, value);
            }
        }
        match outgoing.body(body.clone()).send().await {
            Ok(answer) => {
                backends.stats.served[i].fetch_add(1, Ordering::Relaxed);
                let mut response = Response::builder().status(answer.status());
                for (header, value) in answer.headers() {
                    if header != "connection" && header != "transfer-encoding" && header != "content-length" {
                        response = response.header(header, value);
                    }
                }
                return response
                    .header("x-served-by", *name)
                    .body(Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other)))
                    .unwrap_or_else(|e| {
                        (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response()
                    });
            }
            Err(e) if e.is_connect() => continue,
            Err(e) => {
                backends.stats.failed.fetch_add(1, Ordering::Relaxed);
                return (axum::http::StatusCode::BAD_GATEWAY, format!("replica {name}: {e:?}"))
                    .into_response();
            }
        }
    }
    backends.stats.failed.fetch_add(1, Ordering::Relaxed);
    (axum::http::StatusCode::BAD_GATEWAY, "no replica took the connection").into_response()
}
