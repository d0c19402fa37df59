//! The deployments stream (`/live/{env}/deployments`): who may open it, what it carries, and
//! that the cluster's load does not grow with the number of people watching.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use app::model::LiveEvent;
use backend::policy::Role;
use common::TestPortal;

/// Reads server-sent events from `response` until `done` says stop (or 20 s pass).
async fn read_events(
    mut response: reqwest::Response,
    mut done: impl FnMut(&LiveEvent) -> bool,
) -> Vec<LiveEvent> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            for data in block.lines().filter_map(|l| l.strip_prefix("data: ")) {
                let event: LiveEvent = serde_json::from_str(data).expect("a LiveEvent");
                let stop = done(&event);
                events.push(event);
                if stop {
                    return events;
                }
            }
        }
    }
    events
}

#[tokio::test]
async fn the_stream_needs_a_viewer_and_a_known_namespace() {
    let p = TestPortal::sandbox().await;
    let path = "/live/staging/deployments";
    assert_eq!(p.anonymous.get(p.url(path)).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(p.get("/live/qa/deployments").await.status().as_u16(), 404);
    assert_eq!(p.get("/live/staging/deployments?namespace=kube-system").await.status().as_u16(), 404);
    assert_eq!(p.get("/live/staging/deployments?name=myapp-deployment").await.status().as_u16(), 400);
    let ok = p.get(path).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.headers()["content-type"], "text/event-stream");
    assert!(ok.headers().get("content-encoding").is_none(), "a stream must not be compressed (buffered)");
}

#[tokio::test]
async fn a_change_reaches_the_stream() {
    let p = TestPortal::sandbox().await;
    let dana = p.as_role(Role::Deployer).await;
    let stream = dana
        .get(p.url("/live/staging/deployments?namespace=staging&name=checkout-api"))
        .send()
        .await
        .unwrap();
    let reader =
        tokio::spawn(read_events(stream, |e| matches!(e, LiveEvent::Changed(d) if d.row.desired == 5)));
    // Give the stream its snapshot before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scale = app::api::changes::RequestChange {
        env: "staging".into(),
        kind: "scale".into(),
        namespace: Some("staging".into()),
        deployment: Some("checkout-api".into()),
        container: None,
        image: None,
        replicas: Some("5".into()),
        revision: None,
        variables: None,
        parameter: None,
        reason: "stream test".into(),
        override_reason: None,
        seen: None,
        return_to: None,
    };
    assert_eq!(p.call(&dana, &scale).await.status().as_u16(), 200);
    let events = reader.await.unwrap();
    let LiveEvent::Snapshot { deployments, namespaces } = &events[0] else { panic!("{:?}", events[0]) };
    assert_eq!(namespaces, &["staging"]);
    assert_eq!(deployments.len(), 1, "only the followed deployment");
    assert!(!deployments[0].pods.is_empty(), "a followed deployment comes with its pods");
    let last = events.last().unwrap();
    let LiveEvent::Changed(d) = last else { panic!("no change arrived: {events:?}") };
    assert_eq!(d.row.changed_by.as_deref(), Some("dana"));
}

/// The number of requests the cluster serves does not depend on how many people watch: each
/// namespace has one watch in the server, however many streams read it.
#[tokio::test]
async fn one_viewer_or_a_hundred_cost_the_cluster_the_same() {
    let p = TestPortal::sandbox().await;
    let requests = p.running.sandbox.as_ref().unwrap().cluster_requests.clone();
    let open = |n: usize| {
        let p = &p;
        async move {
            let mut streams = Vec::new();
            for _ in 0..n {
                let response = p.get("/live/production/deployments").await;
                assert_eq!(response.status().as_u16(), 200);
                streams.push(response);
            }
            // Let every stream be served its snapshot.
            tokio::time::sleep(Duration::from_millis(500)).await;
            streams
        }
    };
    let one = open(1).await;
    let after_one = requests.load(Ordering::Relaxed);
    let hundred = open(100).await;
    let after_hundred = requests.load(Ordering::Relaxed);
    assert_eq!(after_hundred, after_one, "100 more viewers made {} more requests", after_hundred - after_one);
    drop((one, hundred));
}
