//! The deployments stream (`/live/{env}/deployments`): who may open it, what it carries, and
//! that the cluster's load does not grow with the number of people watching. And every live
//! stream (deployments, logs, pipelines): it ends soon after the session or role that let it
//! open does.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use app::model::LiveEvent;
use backend::auth::{NewPassword, UserName, accounts};
use backend::clock::Timestamp;
use backend::policy::Role;
use common::TestPortal;
use tokio::time::Instant;

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
        namespace: Some("staging".into()),
        deployment: Some("checkout-api".into()),
        replicas: Some("5".into()),
        ..crate::common::request_change("staging", "scale", "stream test")
    };
    assert_eq!(p.call(&dana, &scale).await.status().as_u16(), 200);
    let events = reader.await.unwrap();
    let LiveEvent::Snapshot { deployments, namespaces } = &events[0] else { panic!("{:?}", events[0]) };
    assert_eq!(namespaces, &["staging"]);
    assert_eq!(deployments.len(), 1, "only the followed deployment");
    assert!(!deployments[0].pods.is_empty(), "a followed deployment comes with its pods");
    assert!(deployments[0].html.is_none(), "the table's markup only in the list's stream");
    let last = events.last().unwrap();
    let LiveEvent::Changed(d) = last else { panic!("no change arrived: {events:?}") };
    assert_eq!(d.row.changed_by.as_deref(), Some("dana"));
}

/// The list's stream sends each row with the markup the table shows (the browser renders no
/// row itself), and no pods.
#[tokio::test]
async fn the_list_stream_carries_each_row_as_the_table_shows_it() {
    let p = TestPortal::sandbox().await;
    let vera = p.as_role(Role::Viewer).await;
    let stream = vera.get(p.url("/live/staging/deployments")).send().await.unwrap();
    let events = read_events(stream, |e| matches!(e, LiveEvent::Snapshot { .. })).await;
    let Some(LiveEvent::Snapshot { deployments, .. }) = events.last() else {
        panic!("no snapshot: {events:?}")
    };
    assert!(!deployments.is_empty());
    for d in deployments {
        let html = d.html.as_deref().expect("a row's markup");
        let (ns, name) = (&d.row.namespace, &d.row.name);
        assert!(html.starts_with(&format!("<tr data-deployment=\"{ns}/{name}\"")), "{html}");
        assert!(html.contains(&format!("href=\"/staging/deployments/{ns}/{name}\"")), "{html}");
        assert!(html.contains(&format!("data-health=\"{}\"", d.row.health.word())), "{html}");
        assert!(html.ends_with("</tr>") && d.pods.is_empty(), "{html}");
    }
}

/// The number of requests the cluster serves does not depend on how many people watch: each
/// namespace has one watch in the server, however many streams read it.
#[tokio::test]
async fn one_viewer_or_a_hundred_cost_the_cluster_the_same() {
    if crate::common::skipped_on_real_cluster(
        "it counts the sandbox API server's requests; a real one's counters mix in its controllers' traffic",
    ) {
        return;
    }
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

/// The three kinds of stream, in staging.
const STREAMS: [&str; 3] = [
    "/live/staging/deployments",
    "/live/staging/deployments/staging/myapp-deployment/logs",
    "/live/staging/pipelines/myapp-staging",
];

/// Opens `path` with `cookie` and reads it in the background; the handle resolves, when the
/// stream has ended, to the moment it did.
async fn follow(p: &TestPortal, cookie: &str, path: &str) -> tokio::task::JoinHandle<Instant> {
    let mut response = p.client_with(cookie).get(p.url(path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
    tokio::spawn(async move {
        while let Ok(Ok(Some(_))) = tokio::time::timeout(Duration::from_secs(60), response.chunk()).await {}
        Instant::now()
    })
}

/// An open stream is not a pass: each kind ends within 5 s of the end of the session that
/// opened it — sign-out, the account disabled, a new password, idle or absolute expiry — or
/// of the loss of the role that let it open; a stream whose session lives on stays open.
#[tokio::test(flavor = "multi_thread")]
async fn streams_end_with_their_session_or_role() {
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    let causes = ["signed-out", "disabled", "new-password", "idle", "expired"];
    for name in causes {
        config.roles.insert(name.to_owned(), Role::Viewer);
    }
    let p = TestPortal::with_config(config).await;
    let store = p.running.portal.store.clone();
    let mut cookies = Vec::new();
    for name in causes {
        cookies.push((name, p.account(name).await));
    }
    // devon's role in staging comes from his group (developers → deployer).
    cookies.push(("lost-role", p.sso_sign_in("devon").await.expect("devon signs in")));
    let mut open = Vec::new();
    for (cause, cookie) in &cookies {
        for path in STREAMS {
            open.push((*cause, path, follow(&p, cookie, path).await));
        }
    }
    let control: Vec<_> = {
        let mut v = Vec::new();
        for path in STREAMS {
            v.push(follow(&p, &p.cookie, path).await);
        }
        v
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (cause, path, stream) in &open {
        assert!(!stream.is_finished(), "{cause}: {path} ended before anything happened");
    }

    let now = Timestamp::now();
    let cli = backend::audit::Caller::new("test");
    let (signed_out, _) = &cookies[0];
    assert_eq!(*signed_out, "signed-out");
    let sign_out = p.client_with(&cookies[0].1).post(p.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(sign_out.status().as_u16(), 303);
    accounts::set_disabled(&store, &cli, &UserName::parse("disabled").unwrap(), true, now).await.unwrap();
    let password = NewPassword::parse("a brand new password").unwrap();
    accounts::set_password(&store, &cli, &UserName::parse("new-password").unwrap(), &password, now)
        .await
        .unwrap();
    // Time passing, as the store sees it: idle for longer than allowed, past the absolute end.
    let idle_ms = p.running.portal.sessions.idle_secs * 1000;
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - $1 WHERE user_name = 'idle'")
        .bind(idle_ms + 1000)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE user_name = 'expired'")
        .bind(now.millis() - 1)
        .execute(store.pool())
        .await
        .unwrap();
    // devon signs in again elsewhere, and the provider no longer lists his group.
    sqlx::query("UPDATE users SET sso_groups = '[\"contractors\"]' WHERE name = 'devon'")
        .execute(store.pool())
        .await
        .unwrap();
    let changed = Instant::now();

    for (cause, path, stream) in open {
        let ended = tokio::time::timeout(Duration::from_secs(10), stream)
            .await
            .unwrap_or_else(|_| panic!("{cause}: {path} still open 10 s later"))
            .unwrap();
        let after = ended.saturating_duration_since(changed);
        assert!(after <= Duration::from_secs(5), "{cause}: {path} ended {after:?} later");
    }
    for stream in control {
        assert!(!stream.is_finished(), "a live session's stream stays open");
    }
}

/// The Deployments page's first rows come from the server, filtered and sorted as the address
/// asks; a hand-made call gets the same, and a value it does not know is refused in words.
#[tokio::test]
async fn the_server_selects_the_first_rows_of_a_view() {
    use app::api::deployments::ListDeployments;
    use app::model::deployment_query::{HealthFilter, Order};
    use app::model::{DeploymentList, Health};
    use leptos::server_fn::ServerFn;

    let p = TestPortal::sandbox().await;
    let vera = p.as_role(Role::Viewer).await;
    let list = |text: &str, health, order| ListDeployments {
        env: "staging".into(),
        text: text.into(),
        health,
        order,
    };
    let read = |response: reqwest::Response| async move {
        assert_eq!(response.status().as_u16(), 200);
        response.json::<DeploymentList>().await.expect("a DeploymentList")
    };
    let all = read(p.call(&vera, &list("", HealthFilter::All, Order::Name)).await).await;
    assert_eq!(all.matched, all.total);
    let names: Vec<&str> = all.rows.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");

    // The demo's health settles over time (payments-worker crash-loops after a while): check
    // the order and the filters against what each row says now.
    let rank = |h: &Health| match h {
        Health::Degraded(_) => 0,
        Health::Progressing => 1,
        Health::Paused => 2,
        Health::Complete => 3,
    };
    let worst = read(p.call(&vera, &list("", HealthFilter::All, Order::Health)).await).await;
    let ranks: Vec<u8> = worst.rows.iter().map(|r| rank(&r.health)).collect();
    assert!(ranks.is_sorted(), "worst health first: {ranks:?}");
    let payments = read(p.call(&vera, &list("PAYMENTS", HealthFilter::All, Order::Name)).await).await;
    assert_eq!((payments.matched, payments.total), (1, all.total), "any case, the others counted");
    assert_eq!(payments.rows[0].name, "payments-worker");
    let (its, other) = match payments.rows[0].health {
        Health::Degraded(_) => (HealthFilter::Degraded, HealthFilter::Complete),
        Health::Progressing => (HealthFilter::Progressing, HealthFilter::Degraded),
        Health::Paused => (HealthFilter::Paused, HealthFilter::Degraded),
        Health::Complete => (HealthFilter::Complete, HealthFilter::Degraded),
    };
    let same = read(p.call(&vera, &list("payments", its, Order::Name)).await).await;
    let different = read(p.call(&vera, &list("payments", other, Order::Name)).await).await;
    assert!(same.matched == 1 && different.matched == 0 && different.rows.is_empty());

    let odd = vera
        .post(p.url(ListDeployments::PATH))
        .header("accept", "application/json")
        .form(&[("env", "staging"), ("text", ""), ("health", "Sickly"), ("order", "Name")])
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status().as_u16(), 400);
    assert!(odd.text().await.unwrap().contains("Sickly"));
}
