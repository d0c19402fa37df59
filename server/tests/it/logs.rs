//! Pod logs as server-sent events, against the sandbox's demo pods: the walk-through's greeting,
//! a crash-looping pod's previous container, tail/since/timestamps, following, the errors in
//! words, bad parameters and access.

use crate::common;

use std::time::{Duration, Instant};

use backend::config::{Source, load};
use common::TestPortal;

const STREAM: &str = "/live/staging/deployments/staging";

#[derive(Debug, Clone)]
struct Event {
    name: String,
    data: Vec<String>,
}

impl Event {
    /// For `lines`: the pod and its lines.
    fn lines(&self) -> Option<(&str, &[String])> {
        (self.name == "lines").then(|| (self.data[0].as_str(), &self.data[1..]))
    }
}

/// Reads events until `done` says so, the stream ends, or `wait` passes.
async fn read_events(
    mut response: reqwest::Response,
    wait: Duration,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + wait;
    let mut buffer = String::new();
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => return events,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = Event { name: "message".into(), data: Vec::new() };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = name.to_owned();
                } else if let Some(data) = line.strip_prefix("data:") {
                    event.data.push(data.strip_prefix(' ').unwrap_or(data).to_owned());
                }
            }
            if !event.data.is_empty() || event.name != "message" {
                events.push(event);
            }
        }
        if done(&events) || events.iter().any(|e| e.name == "end") {
            return events;
        }
    }
}

async fn open(portal: &TestPortal, path: &str) -> reqwest::Response {
    let response = portal.get(path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response
}

/// The stream's complete answer (not following).
async fn all_events(portal: &TestPortal, path: &str) -> Vec<Event> {
    read_events(open(portal, path).await, Duration::from_secs(20), |_| false).await
}

/// The deployment's pods as the stream's first event lists them, once `replicas` pods of one
/// revision have started (the demo world is still being released when the server starts):
/// (name, reason, containers).
async fn pods(portal: &TestPortal, deployment: &str, replicas: usize) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let response = portal.get(&format!("{STREAM}/{deployment}/logs")).await;
        if response.status().as_u16() == 200 {
            let events = read_events(response, Duration::from_secs(10), |e| !e.is_empty()).await;
            assert_eq!(events[0].name, "pods", "{events:?}");
            let pods: Vec<(String, String, String)> = events[0]
                .data
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    (f[0].to_owned(), f[1].to_owned(), f[3].to_owned())
                })
                .collect();
            let revision = |name: &str| name.rsplit_once('-').map(|(r, _)| r.to_owned());
            let started = pods
                .iter()
                .all(|(_, reason, _)| !["Pending", "ContainerCreating"].contains(&reason.as_str()));
            if pods.len() == replicas
                && started
                && pods.iter().all(|p| revision(&p.0) == revision(&pods[0].0))
            {
                return pods;
            }
        }
        assert!(Instant::now() < deadline, "{deployment} did not settle");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Why the tests that read container logs do not run on `../shared/k8s-real`.
const NO_KUBELET: &str = "a control plane without a kubelet has no container logs to read";

/// Asks until `accept` takes the events (pods start a moment after the sandbox does).
async fn until_ok(portal: &TestPortal, path: &str, accept: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let events = all_events(portal, path).await;
        if accept(&events) {
            return events;
        }
        assert!(Instant::now() < deadline, "{path}: {events:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn notices(events: &[Event]) -> Vec<String> {
    events.iter().filter(|e| e.name == "notice").map(|e| e.data.join("\n")).collect()
}

fn all_lines(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(Event::lines)
        .flat_map(|(pod, lines)| lines.iter().map(move |l| (pod.to_owned(), l.clone())))
        .collect()
}

/// The walk-through's pods print their greeting; all pods' logs come interleaved, each line
/// tagged with its pod.
#[tokio::test]
async fn every_pod_of_the_walkthrough_greets() {
    if crate::common::skipped_on_real_cluster(NO_KUBELET) {
        return;
    }
    let portal = TestPortal::sandbox().await;
    let pods = pods(&portal, "myapp-deployment", 2).await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(pods.iter().all(|(_, _, containers)| containers == "myapp-container"), "{pods:?}");
    let path = format!("{STREAM}/myapp-deployment/logs?follow=false");
    let events = until_ok(&portal, &path, |e| all_lines(e).len() == 2).await;
    let lines = all_lines(&events);
    for (pod, _, _) in &pods {
        assert!(lines.contains(&(pod.clone(), "Hello Kubernetes!".to_owned())), "{pod}: {lines:?}");
    }
    assert_eq!(events.last().map(|e| e.name.as_str()), Some("end"));

    // One pod alone, with its timestamps.
    let one = &pods[0].0;
    let events = all_events(&portal, &format!("{path}&pod={one}&timestamps=true")).await;
    let lines = all_lines(&events);
    assert_eq!(lines.len(), 1, "{events:?}");
    let (stamp, text) = lines[0].1.split_once(' ').expect("a timestamp");
    assert_eq!(text, "Hello Kubernetes!");
    assert!(stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T', "{stamp}");

    // A container the pod does not have, and a previous instance it never had.
    let events = all_events(&portal, &format!("{path}&pod={one}&container=sidecar")).await;
    assert!(notices(&events).iter().any(|n| n.contains("has no container “sidecar”")), "{events:?}");
    let events = all_events(&portal, &format!("{path}&pod={one}&previous=true")).await;
    assert!(notices(&events).iter().any(|n| n.contains("has no previous instance")), "{events:?}");
}

/// The crash-looping worker's previous container says why it failed.
#[tokio::test]
async fn a_crash_looping_pods_previous_container() {
    if crate::common::skipped_on_real_cluster(NO_KUBELET) {
        return;
    }
    let portal = TestPortal::sandbox().await;
    let pods = pods(&portal, "payments-worker", 1).await;
    let pod = &pods[0].0;
    let path = format!("{STREAM}/payments-worker/logs?pod={pod}&previous=true");
    let events = until_ok(&portal, &path, |e| !all_lines(e).is_empty()).await;
    let lines: Vec<String> = all_lines(&events).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        ["payments-worker starting", "fatal: cannot reach queue at amqp://queue.staging.svc:5671"],
        "{events:?}"
    );
    assert_eq!(events.last().map(|e| e.name.as_str()), Some("end"));
}

/// An application's request log: tail and since cut it; following brings new lines.
#[tokio::test]
async fn tail_since_and_follow() {
    if crate::common::skipped_on_real_cluster(NO_KUBELET) {
        return;
    }
    let portal = TestPortal::sandbox().await;
    let pods = pods(&portal, "checkout-api", 3).await;
    let pod = &pods[0].0;
    let base = format!("{STREAM}/checkout-api/logs?pod={pod}");
    // Wait until the pod has logged a few seconds' worth.
    let events = until_ok(&portal, &format!("{base}&follow=false"), |e| all_lines(e).len() >= 5).await;
    let everything = all_lines(&events).len();
    let tail = all_lines(&all_events(&portal, &format!("{base}&follow=false&tail=2")).await);
    assert_eq!(tail.len(), 2, "{tail:?}");
    let since = all_lines(&all_events(&portal, &format!("{base}&follow=false&since=2s")).await);
    assert!(!since.is_empty() && since.len() <= 3 && since.len() < everything, "{since:?} of {everything}");
    let long_ago = all_lines(&all_events(&portal, &format!("{base}&follow=false&since=1d")).await);
    assert!(long_ago.len() >= everything, "{} < {everything}", long_ago.len());

    // Following: the last line, then the next ones as they are printed (one a second).
    let response = open(&portal, &format!("{base}&tail=1")).await;
    let events = read_events(response, Duration::from_secs(10), |e| all_lines(e).len() >= 3).await;
    assert!(all_lines(&events).len() >= 3, "{events:?}");
    assert!(events.iter().all(|e| e.name != "end"));
}

/// Bad parameters are refused with a reason; unknown places are 404; nothing is compressed.
#[tokio::test]
async fn bad_requests_are_refused_in_words() {
    let portal = TestPortal::sandbox().await;
    pods(&portal, "checkout-api", 3).await;
    let cases = [
        ("/live/staging/deployments/staging/myapp-deployment/logs?tail=-1", 400, "tail"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?tail=lots", 400, "whole number"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?since=yesterday", 400, "since"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?follow=maybe", 400, "true or false"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?pod=Not_A_Pod", 400, "is not a pod name"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?container=a%20b", 400, "container"),
        ("/live/staging/deployments/staging/myapp-deployment/logs?pod=myapp-gone-1", 404, "not a pod of"),
        ("/live/staging/deployments/staging/no-such-app/logs", 404, "no deployment"),
        ("/live/staging/deployments/production/myapp-deployment/logs", 404, "not one of"),
        ("/live/nowhere/deployments/staging/myapp-deployment/logs", 404, "no environment"),
    ];
    for (path, status, words) in cases {
        let response = portal.get(path).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains(words), "{path}: {body}");
    }

    // A browser asks for compression; the events must not wait in a compressor.
    let response = portal
        .http
        .get(portal.url(&format!("{STREAM}/checkout-api/logs")))
        .header("accept", "text/event-stream")
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("content-encoding").is_none(), "{:?}", response.headers());
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = read_events(response, Duration::from_secs(10), |e| !e.is_empty()).await;
    assert_eq!(events.first().map(|e| e.name.as_str()), Some("pods"));
}

/// Without a session: 401 (an EventSource cannot follow a redirect to a sign-in page).
/// Signed in without a role in the environment: 403.
#[tokio::test]
async fn logs_need_a_role() {
    let portal = TestPortal::sandbox().await;
    let path = format!("{STREAM}/myapp-deployment/logs");
    let response = portal.anonymous.get(portal.url(&path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let mut config = load(&Source::SandboxDefault).expect("config");
    config.roles.remove("vera");
    let portal = TestPortal::with_config(config).await;
    let response = portal.get(&path).await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no role"), "{body}");
}

/// Long lines are never silently changed: a 200,000-character line arrives whole; one of
/// 2,200,000 is cut at 1 MiB with a marker saying how much is missing, and the short line
/// after it is untouched; Download reads the cluster's log with every line whole, for one pod
/// or for all of them (each line led by its pod).
#[tokio::test]
async fn long_lines_arrive_whole_or_cut_in_words_and_download_has_them_whole() {
    if crate::common::skipped_on_real_cluster(NO_KUBELET) {
        return;
    }
    use backend::kube::logs::{MAX_LINE, cut_marker};
    use k8s_openapi::api::apps::v1::Deployment;

    let portal = TestPortal::sandbox().await;
    let sandbox = portal.running.sandbox.as_ref().expect("sandbox");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let deployments = kube::Api::<Deployment>::namespaced(kube::Client::try_from(config).unwrap(), "staging");
    let long: String = (0..200_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let huge = long.repeat(11);
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "long-lines" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "long-lines" } },
            "template": {
                "metadata": { "labels": { "app": "long-lines" } },
                "spec": { "containers": [{
                    "name": "talker",
                    "image": "busybox:1.36",
                    "env": [{ "name": "L", "value": long }],
                    "command": ["sh", "-c", format!("echo ${{L}}; echo {}; echo short && sleep 3600", "${L}".repeat(11))],
                }] },
            },
        },
    }))
    .unwrap();
    deployments.create(&Default::default(), &deployment).await.expect("the deployment is created");
    let pod = pods(&portal, "long-lines", 1).await.remove(0).0;

    let path = format!("{STREAM}/long-lines/logs?follow=false");
    let events = until_ok(&portal, &path, |e| all_lines(e).len() == 3).await;
    let lines: Vec<String> = all_lines(&events).into_iter().map(|(_, line)| line).collect();
    assert!(lines[0] == long, "the 200,000-character line arrives whole ({} characters)", lines[0].len());
    assert!(
        lines[1] == format!("{}{}", &huge[..MAX_LINE], cut_marker(huge.len() - MAX_LINE)),
        "the long one is cut at 1 MiB, saying how much: …{}",
        &lines[1][lines[1].len().saturating_sub(80)..]
    );
    assert_eq!(lines[2], "short");

    let download = |query: String| {
        portal
            .http
            .get(portal.url(&format!("/staging/deployments/staging/long-lines/logs/download{query}")))
            .send()
    };
    let one = download(format!("?pod={pod}")).await.unwrap();
    assert_eq!(one.status().as_u16(), 200);
    assert_eq!(one.headers()["content-disposition"], format!("attachment; filename=\"{pod}.log\"").as_str());
    assert!(one.text().await.unwrap() == format!("{long}\n{huge}\nshort\n"), "one pod's log, whole");
    let all = download(String::new()).await.unwrap();
    assert_eq!(all.headers()["content-disposition"], "attachment; filename=\"long-lines-all-pods.log\"");
    let text = all.text().await.unwrap();
    assert!(
        text == format!("{pod} {long}\n{pod} {huge}\n{pod} short\n"),
        "every pod's, each line led by its pod"
    );

    let refused = download("?pod=long-lines-gone".into()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 404);
    assert!(refused.text().await.unwrap().contains("is not a pod of long-lines"));
    let refused = download(format!("?pod={pod}&container=sidecar")).await.unwrap();
    assert_eq!(refused.status().as_u16(), 404);
    assert!(refused.text().await.unwrap().contains("has no container “sidecar”"));
    let anonymous = portal
        .anonymous
        .get(portal.url(&format!("/staging/deployments/staging/long-lines/logs/download?pod={pod}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 303, "Download needs a session: sign in first");
    let location = anonymous.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/sign-in?next="), "{location}");
}
