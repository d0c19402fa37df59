//! The sandbox cluster at scale: one `rollgate-sandbox` process holding 1,000 deployments and
//! 10,000 pods. Measures its memory, how long a full pod list takes, and how quickly changes
//! reach 100 concurrent watchers while the cluster is busy rolling out.
//!
//! `cargo bench -p sandbox --bench scale` (the README's "Measurements" lists the latest run).
//! Targets: under 300 MB resident, a full pod list under 200 ms, no watcher more than one
//! second behind.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

const NAMESPACES: usize = 10;
const DEPLOYMENTS: usize = 1_000;
const REPLICAS: usize = 10;
const WATCHERS: usize = 100;
const LIST_RUNS: usize = 11;
/// Changes per second made for the watchers, and for how long.
const CHANGE_RATE: u64 = 200;
const CHANGE_SECONDS: u64 = 15;
/// Deployments restarted (a rolling update of every pod) while the watchers watch.
const RESTARTED: usize = 100;

struct Cluster {
    child: Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate-sandbox"))
            .args(["--world", "empty", "--kubeconfig"])
            .arg(&kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("rollgate-sandbox starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("it prints its endpoints");
        let ready: Value = serde_json::from_str(&line).expect("a JSON line");
        let config: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&kubeconfig).expect("a kubeconfig")).unwrap();
        let token = config["users"][0]["user"]["token"].as_str().unwrap().to_owned();
        let ca = config["clusters"][0]["cluster"]["certificate-authority-data"].as_str().unwrap();
        let ca = base64::engine::general_purpose::STANDARD.decode(ca).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .default_headers(headers)
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        Self { child, url: ready["kubernetes"].as_str().unwrap().to_owned(), http, _dir: dir }
    }

    /// Resident and peak resident memory of the sandbox process, in MB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert!(status.is_success(), "{status}: {body}");
        body
    }
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": REPLICAS,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{
                    "name": "app",
                    "image": "nginx:1.27",
                    "env": [{ "name": "GREETING", "value": "hello" }],
                }] }
            }
        }
    })
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let cluster = Arc::new(Cluster::start());
    let (idle, _) = cluster.memory();
    println!("sandbox started: {idle:.0} MB resident");

    // 1. Fill it: 1,000 deployments of 10 replicas over 10 namespaces, and wait until every
    //    pod is ready.
    let started = Instant::now();
    for n in 0..NAMESPACES {
        let namespace = json!({ "metadata": { "name": format!("bench-{n}") } });
        cluster.send(cluster.http.post(format!("{}/api/v1/namespaces", cluster.url)).json(&namespace)).await;
    }
    stream::iter(0..DEPLOYMENTS)
        .for_each_concurrent(16, |i| {
            let cluster = cluster.clone();
            async move {
                let url =
                    format!("{}/apis/apps/v1/namespaces/bench-{}/deployments", cluster.url, i % NAMESPACES);
                cluster.send(cluster.http.post(url).json(&deployment(&format!("app-{i:04}")))).await;
            }
        })
        .await;
    let created = started.elapsed();
    loop {
        let list = cluster.send(cluster.http.get(format!("{}/apis/apps/v1/deployments", cluster.url))).await;
        let ready = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"]["readyReplicas"].as_u64() == Some(REPLICAS as u64))
            .count();
        if ready == DEPLOYMENTS {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "only {ready} deployments became ready");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let converged = started.elapsed();
    // Settled: the controllers have had a quiet moment (and swept their old events).
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (settled, _) = cluster.memory();
    let mut held = Vec::new();
    for (path, kind) in [("apis/apps/v1/replicasets", "replica sets"), ("api/v1/events", "events")] {
        let list = cluster.send(cluster.http.get(format!("{}/{path}", cluster.url))).await;
        held.push(format!("{} {kind}", list["items"].as_array().map_or(0, Vec::len)));
    }
    println!("settled, the cluster also holds {}", held.join(" and "));
    println!(
        "created {DEPLOYMENTS} deployments in {:.1} s; all {} pods ready after {:.1} s; {settled:.0} MB resident",
        created.as_secs_f64(),
        DEPLOYMENTS * REPLICAS,
        converged.as_secs_f64()
    );

    // 2. Full pod list: the whole response, all namespaces, as one JSON body.
    let mut list_ms = Vec::new();
    let mut pod_count = 0;
    let mut body_bytes = 0;
    for _ in 0..LIST_RUNS {
        let begun = Instant::now();
        let body = cluster
            .http
            .get(format!("{}/api/v1/pods", cluster.url))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        list_ms.push(begun.elapsed().as_secs_f64() * 1000.0);
        body_bytes = body.len();
        pod_count = serde_json::from_slice::<Value>(&body).unwrap()["items"].as_array().unwrap().len();
    }
    assert_eq!(pod_count, DEPLOYMENTS * REPLICAS, "the list holds every pod");
    let list_median = median(list_ms.clone());
    let list_max = list_ms.iter().copied().fold(0.0, f64::max);
    println!(
        "full pod list ({pod_count} pods, {:.1} MB): median {list_median:.0} ms, max {list_max:.0} ms over {LIST_RUNS} runs",
        body_bytes as f64 / 1e6
    );

    // 3. 100 watchers of every deployment, while deployments are changed at a steady rate and
    //    100 others roll out all their pods. A change carries its sequence number; a watcher's
    //    lag is from the moment the change was sent to the moment it arrived.
    let list = cluster.send(cluster.http.get(format!("{}/apis/apps/v1/deployments", cluster.url))).await;
    let version = list["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    let epoch = Instant::now();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let cluster = cluster.clone();
        let version = version.clone();
        watchers.push(tokio::spawn(async move { watch(&cluster, &version, epoch).await }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..RESTARTED {
        // The restarted deployments are in the first namespace; the changed ones are not.
        let name = format!("app-{:04}", i * NAMESPACES);
        let url = format!("{}/apis/apps/v1/namespaces/bench-0/deployments/{name}", cluster.url);
        let patch = json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": "bench" } } } } });
        cluster
            .send(cluster.http.patch(url).header("content-type", "application/merge-patch+json").json(&patch))
            .await;
    }
    let changes = CHANGE_RATE * CHANGE_SECONDS;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / CHANGE_RATE));
    let changed_from = Instant::now();
    for seq in 0..changes {
        ticker.tick().await;
        // Deployment i lives in namespace bench-(i % 10): skip the restarted ones (i % 10 == 0).
        let k = seq as usize % (DEPLOYMENTS - DEPLOYMENTS / NAMESPACES);
        let i = k / (NAMESPACES - 1) * NAMESPACES + 1 + k % (NAMESPACES - 1);
        let url = format!(
            "{}/apis/apps/v1/namespaces/bench-{}/deployments/app-{i:04}",
            cluster.url,
            i % NAMESPACES
        );
        let sent = epoch.elapsed().as_nanos().to_string();
        let patch =
            json!({ "metadata": { "annotations": { "bench/sent": sent, "bench/seq": seq.to_string() } } });
        let cluster = cluster.clone();
        tokio::spawn(async move {
            cluster
                .send(
                    cluster
                        .http
                        .patch(url)
                        .header("content-type", "application/merge-patch+json")
                        .json(&patch),
                )
                .await
        });
    }
    let change_seconds = changed_from.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (busy, peak) = cluster.memory();
    let mut lags = Vec::new();
    let mut received_min = usize::MAX;
    let mut delivered = 0;
    for watcher in watchers {
        watcher.abort();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for result in RESULTS.lock().unwrap().drain(..) {
        received_min = received_min.min(result.stamped);
        delivered += result.events;
        lags.extend(result.lags_ms);
    }
    lags.sort_by(f64::total_cmp);
    let p = |q: f64| lags[((lags.len() - 1) as f64 * q) as usize];
    println!(
        "{WATCHERS} watchers: {delivered} events delivered ({:.0}/s); every watcher got {received_min} of {changes} changes; lag median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        delivered as f64 / (change_seconds + 3.0),
        p(0.5),
        p(0.99),
        p(1.0)
    );
    println!("memory while busy: {busy:.0} MB resident, peak {peak:.0} MB");
    println!();
    println!("| measure | target | result |");
    println!("|---|---|---|");
    println!(
        "| resident memory, 1,000 deployments + 10,000 pods settled | < 300 MB | {settled:.0} MB (peak {peak:.0} MB) |"
    );
    println!(
        "| full pod list ({pod_count} pods, {:.1} MB JSON), median of {LIST_RUNS} | < 200 ms | {list_median:.0} ms (max {list_max:.0}) |",
        body_bytes as f64 / 1e6
    );
    println!(
        "| {WATCHERS} watchers, {CHANGE_RATE} changes/s for {CHANGE_SECONDS} s during {RESTARTED} rollouts: max lag | < 1 s | {:.0} ms (p99 {:.0} ms, {:.0} events/s delivered) |",
        p(1.0),
        p(0.99),
        delivered as f64 / (change_seconds + 3.0)
    );
    println!(
        "| time to create 1,000 deployments and have 10,000 pods ready | | {:.0} s |",
        converged.as_secs_f64()
    );
}

#[derive(serde::Deserialize)]
struct Event {
    object: Object,
}

#[derive(serde::Deserialize)]
struct Object {
    metadata: Metadata,
}

#[derive(serde::Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    annotations: Stamp,
}

#[derive(serde::Deserialize, Default)]
struct Stamp {
    #[serde(rename = "bench/seq")]
    seq: Option<String>,
    #[serde(rename = "bench/sent")]
    sent: Option<String>,
}

struct WatchResult {
    events: usize,
    stamped: usize,
    lags_ms: Vec<f64>,
}

static RESULTS: std::sync::Mutex<Vec<WatchResult>> = std::sync::Mutex::new(Vec::new());

/// Watches every deployment from `version`, noting when each stamped change arrives. Its
/// findings are published as it goes, since the benchmark ends it by aborting it.
async fn watch(cluster: &Cluster, version: &str, epoch: Instant) {
    let url = format!(
        "{}/apis/apps/v1/deployments?watch=1&resourceVersion={version}&timeoutSeconds=600",
        cluster.url
    );
    let response = cluster.http.get(url).send().await.expect("the watch starts");
    assert!(response.status().is_success());
    let slot = {
        let mut results = RESULTS.lock().unwrap();
        results.push(WatchResult { events: 0, stamped: 0, lags_ms: Vec::new() });
        results.len() - 1
    };
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut buffer = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            // Only the fields the benchmark needs: the watcher should not be the bottleneck.
            let Ok(event) = serde_json::from_slice::<Event>(&line) else { continue };
            let arrived = epoch.elapsed().as_nanos() as f64;
            let metadata = event.object.metadata;
            let mut results = RESULTS.lock().unwrap();
            let result = &mut results[slot];
            result.events += 1;
            let (Some(seq), Some(sent)) = (metadata.annotations.seq, metadata.annotations.sent) else {
                continue;
            };
            if seen.get(&metadata.name) == Some(&seq) {
                continue;
            }
            seen.insert(metadata.name, seq);
            result.stamped += 1;
            result.lags_ms.push((arrived - sent.parse::<f64>().unwrap_or(arrived)) / 1e6);
        }
    }
}
