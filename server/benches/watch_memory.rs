//! Rollgate watching a big cluster: a `rollgate` process whose one environment has 1,000
//! deployments and 10,000 pods over 10 namespaces (on a sandbox cluster in this process),
//! followed by 1 and then 100 browsers' worth of live streams. Measures the server's
//! resident memory and the cluster requests it makes for 1 viewer versus 100.
//!
//! `cargo bench -p server --bench watch_memory` (the README's "Measurements" lists the latest
//! run). Targets: under 150 MB resident; the same number of cluster requests for 100 viewers
//! as for 1.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

const NAMESPACES: usize = 10;
const DEPLOYMENTS: usize = 1_000;
const REPLICAS: usize = 10;
const VIEWERS: usize = 100;

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn deployment(name: &str) -> Value {
    json!({
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "replicas": REPLICAS,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": "nginx:1.27" }] }
            }
        }
    })
}

/// Reads a stream until its first message (the snapshot) is complete; returns its size.
async fn snapshot(mut response: reqwest::Response) -> (usize, reqwest::Response) {
    let mut text = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(start) = text.find("data: {\"Snapshot\"")
            && text[start..].contains("\n\n")
        {
            break;
        }
    }
    (text.len(), response)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let options = sandbox::Options { world: sandbox::World::Empty, ..sandbox::Options::default() };
    let cluster = sandbox::Sandbox::start_with(options).await.expect("the sandbox starts");
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    let api = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cluster.cluster_ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = cluster.cluster_url();
    let token = format!("Bearer {}", cluster.admin_token);
    let send = |r: reqwest::RequestBuilder| {
        let token = token.clone();
        async move { r.header("authorization", token).send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let started = Instant::now();
    for n in 0..NAMESPACES {
        send(
            api.post(format!("{url}/api/v1/namespaces"))
                .json(&json!({ "metadata": { "name": format!("bench-{n}") } })),
        )
        .await;
    }
    stream::iter(0..DEPLOYMENTS)
        .for_each_concurrent(16, |i| {
            let request = api
                .post(format!("{url}/apis/apps/v1/namespaces/bench-{}/deployments", i % NAMESPACES))
                .json(&deployment(&format!("app-{i:04}")));
            let send = &send;
            async move {
                send(request).await;
            }
        })
        .await;
    loop {
        let list = send(api.get(format!("{url}/apis/apps/v1/deployments"))).await;
        let items = list["items"].as_array().unwrap();
        let ready =
            items.iter().filter(|d| d["status"]["readyReplicas"].as_u64() == Some(REPLICAS as u64)).count();
        if ready == DEPLOYMENTS {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "only {ready} deployments became ready");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "cluster filled: {DEPLOYMENTS} deployments, {} pods ready in {:.0} s",
        DEPLOYMENTS * REPLICAS,
        started.elapsed().as_secs_f64()
    );

    // The portal, as its own process, on that cluster through the kubeconfig.
    let namespaces: Vec<String> = (0..NAMESPACES).map(|n| format!("\"bench-{n}\"")).collect();
    let environment = format!(
        "[[environment]]\nname = \"bench\"\nnamespaces = [{}]\n\
         cluster = {{ kind = \"kubeconfig\", path = \"{}\" }}\n",
        namespaces.join(", "),
        kubeconfig.display()
    );
    let portal = support::Rollgate::start(dir.path(), &environment, &[]).await;
    let http = portal.signed_in().await;
    let base = portal.base.clone();
    let pid = portal.pid();
    let idle = rss_mb(pid);

    let requests = cluster.cluster_requests.clone();
    let before = requests.load(Ordering::Relaxed);
    let begun = Instant::now();
    let open = || http.get(format!("{base}/live/bench/deployments")).send();
    let (bytes, first) = snapshot(open().await.unwrap()).await;
    let synced = begun.elapsed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let one_viewer = rss_mb(pid);
    let after_one = requests.load(Ordering::Relaxed);

    let begun = Instant::now();
    let streams: Vec<_> = stream::iter(0..VIEWERS)
        .map(|_| async { snapshot(open().await.unwrap()).await.1 })
        .buffer_unordered(16)
        .collect()
        .await;
    let hundred_took = begun.elapsed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let hundred = rss_mb(pid);
    let after_hundred = requests.load(Ordering::Relaxed);
    let arc = Arc::new(streams);
    drop(first);

    println!("rollgate resident memory: {idle:.0} MB before any watch");
    println!(
        "1 viewer: first snapshot of {DEPLOYMENTS} deployments ({bytes} bytes) after {:.2} s; {one_viewer:.0} MB resident",
        synced.as_secs_f64()
    );
    println!(
        "{VIEWERS} more viewers: all snapshots after {:.2} s; {hundred:.0} MB resident (target < 150 MB)",
        hundred_took.as_secs_f64()
    );
    println!(
        "cluster requests: {} for the first viewer, {} more for {VIEWERS} more viewers",
        after_one - before,
        after_hundred - after_one
    );
    drop(arc);
}
