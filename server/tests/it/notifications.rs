//! Outgoing notifications against a local HTTP receiver: every kind of target gets its body
//! (Slack, Teams, a signed JSON webhook, a CloudEvent carrying a CDEvent), the webhook's
//! signature checks out with its key and carries the time, an approval waiting links to the
//! request, a receiver that fails is retried until it answers (and given up after the last
//! attempt), a secret's new value never travels, and "send a test" works for whom it should.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::api::changes::{ApproveChange, ListChanges, RequestChange};
use app::api::notifications::{GetNotifications, SendTestNotification};
use app::api::tokens::RevealToken;
use app::model::ChangeView;
use app::model::notifications::NotificationsView;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use backend::config::{NotifyFormat, NotifyKind, NotifyTarget, SecretSource, Source, load};
use backend::notify::format::signature;
use backend::policy::Role;
use serde_json::Value;

use crate::common::{TestPortal, request_change};
use crate::pipelines::s;

const KEY: &str = "webhook-signing-key";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

/// A local HTTP receiver: records every POST; `/fail-N/…` answers 500 to its first N requests
/// of each event kind.
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    seen: Arc<Mutex<HashMap<String, u32>>>,
    pub addr: Option<SocketAddr>,
}

impl Receiver {
    pub async fn start() -> Self {
        let mut receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        receiver.addr = Some(listener.local_addr().expect("its address"));
        let app =
            axum::Router::new().route("/{*path}", axum::routing::post(take)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr.expect("started"))
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (15 s at most) until `n` requests to `path` arrived whose event is `event`.
    pub async fn wait_for(&self, path: &str, event: &str, n: usize) -> Vec<Received> {
        self.wait_about(path, event, None, n).await
    }

    /// [`Self::wait_for`] the events about `subject` (a JSON webhook's).
    pub async fn wait_about(
        &self,
        path: &str,
        event: &str,
        subject: Option<&str>,
        n: usize,
    ) -> Vec<Received> {
        for _ in 0..150 {
            let found: Vec<Received> = self
                .got()
                .into_iter()
                .filter(|r| r.path == path && r.header("x-rollgate-event") == event)
                .filter(|r| subject.is_none_or(|s| r.json()["subject"] == s))
                .collect();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} did not get {n} {event}: {:#?}", self.got());
    }
}

async fn take(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    // Failures are counted per event kind, so another event cannot use them up.
    let event = headers.get("x-rollgate-event").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let count = {
        let mut seen = r.seen.lock().unwrap();
        let n = seen.entry(format!("{path} {event}")).or_default();
        *n += 1;
        *n
    };
    r.got.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into(),
    });
    let fails: u32 =
        path.strip_prefix("fail-").and_then(|rest| rest.split('/').next()?.parse().ok()).unwrap_or(0);
    if count <= fails { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

/// Checks a webhook's `X-Rollgate-Signature` as a receiver would: the HMAC of "<t>.<body>"
/// with the key, and a time within five minutes.
pub fn signed_by(r: &Received, key: &str) -> bool {
    let header = r.header("x-rollgate-signature");
    let Some(t) =
        header.strip_prefix("t=").and_then(|rest| rest.split(',').next()).and_then(|t| t.parse::<i64>().ok())
    else {
        return false;
    };
    let now = backend::clock::Timestamp::now().millis() / 1000;
    (now - t).abs() <= 300 && header == signature(key, t, &r.body)
}

fn file_with(dir: &std::path::Path, name: &str, text: &str) -> SecretSource {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a secret file");
    SecretSource::File(path)
}

fn target(
    dir: &std::path::Path,
    name: &str,
    kind: NotifyKind,
    format: NotifyFormat,
    url: &str,
) -> NotifyTarget {
    NotifyTarget {
        name: name.to_owned(),
        kind,
        url: file_with(dir, &format!("{name}-url"), url),
        secret: (kind == NotifyKind::Webhook).then(|| file_with(dir, &format!("{name}-key"), KEY)),
        format,
        events: Vec::new(),
    }
}

/// The demo world with every kind of target on staging and a flaky webhook on production.
async fn portal(receiver: &Receiver, dir: &std::path::Path, max_attempts: u32) -> TestPortal {
    portal_with(receiver, dir, max_attempts, |_| {}).await
}

async fn portal_with(
    receiver: &Receiver,
    dir: &std::path::Path,
    max_attempts: u32,
    change: impl FnOnce(&mut backend::Config),
) -> TestPortal {
    let mut config = load(&Source::SandboxDefault).expect("the sandbox's configuration");
    change(&mut config);
    config.public_url = Some("https://rollgate.test".parse().unwrap());
    config.notifications.retry_seconds = 1;
    config.notifications.max_attempts = max_attempts;
    let staging = &mut config.environments[0];
    staging.notify = vec![
        target(dir, "hook", NotifyKind::Webhook, NotifyFormat::Json, &receiver.url("hook")),
        target(dir, "events", NotifyKind::Webhook, NotifyFormat::Cloudevents, &receiver.url("events")),
        target(dir, "slack", NotifyKind::Slack, NotifyFormat::Json, &receiver.url("slack")),
        target(dir, "teams", NotifyKind::Teams, NotifyFormat::Json, &receiver.url("teams")),
    ];
    let production = &mut config.environments[1];
    production.notify =
        vec![target(dir, "flaky", NotifyKind::Webhook, NotifyFormat::Json, &receiver.url("fail-2/flaky"))];
    TestPortal::demo_world(config, testkit::store::Flavour::Sqlite).await
}

async fn log(p: &TestPortal, env: &str) -> NotificationsView {
    p.call(&p.http, &GetNotifications { env: s(env) }).await.json().await.expect("the notifications")
}

/// A change that runs in staging is told to every target in its format; the webhook's body
/// is signed and its deep link is absolute.
#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_target_gets_its_body() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = portal(&receiver, dir.path(), 8).await;
    let dana = p.as_role(Role::Deployer).await;
    let scale = RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        replicas: Some(s("3")),
        ..request_change("staging", "scale", "more traffic")
    };
    let done: ChangeView = p.call(&dana, &scale).await.json().await.unwrap();
    assert_eq!(done.state, "executed");
    let link = format!("https://rollgate.test/staging/approvals#change-{}", done.id);

    let hook = &receiver.wait_for("hook", "change-executed", 1).await[0];
    assert!(signed_by(hook, KEY), "{:?}", hook.headers);
    assert!(!signed_by(hook, "another key"));
    let body = hook.json();
    assert_eq!(body["link"], link.as_str());
    assert_eq!(body["subject"], "staging/myapp-deployment");
    assert!(
        body["title"].as_str().unwrap().contains("dana's change ran: scale staging/myapp-deployment to 3")
    );
    assert!(!hook.header("x-rollgate-delivery").is_empty());

    let ce = &receiver.wait_for("events", "change-executed", 1).await[0];
    assert_eq!(ce.header("content-type"), "application/cloudevents+json");
    assert!(signed_by(ce, KEY));
    let ce = ce.json();
    assert_eq!((ce["specversion"].as_str(), ce["source"].as_str()), (Some("1.0"), Some("/rollgate/staging")));
    assert_eq!(ce["type"], "dev.cdevents.change.merged.0.2.0");
    assert_eq!(ce["data"]["subject"]["content"]["url"], link.as_str());

    let slack = &receiver.wait_for("slack", "change-executed", 1).await[0];
    assert!(slack.header("x-rollgate-signature").is_empty(), "Slack checks its URL, not a signature");
    assert!(slack.json()["text"].as_str().unwrap().ends_with(&format!("<{link}|Open in Rollgate>")));
    let teams = &receiver.wait_for("teams", "change-executed", 1).await[0];
    assert_eq!(teams.json()["attachments"][0]["content"]["actions"][0]["url"], link.as_str());

    // The log shows each delivered with the receiver's answer.
    let view = log(&p, "staging").await;
    let delivered: Vec<(&str, &str, Option<i64>)> = view
        .deliveries
        .iter()
        .filter(|d| d.event == "change-executed")
        .map(|d| (d.target.as_str(), d.state.as_str(), d.attempts.first().and_then(|a| a.status)))
        .collect();
    assert_eq!(delivered.len(), 4, "{delivered:?}");
    assert!(delivered.iter().all(|(_, state, status)| *state == "delivered" && *status == Some(200)));
    let executed =
        receiver.got().into_iter().filter(|r| r.header("x-rollgate-event") == "change-executed").count();
    assert_eq!(executed, 4, "each target once");
}

/// A production request waiting for approval is told with a link to it; the receiver's two
/// failures are retried with doubling waits and logged; the approval's result follows.
#[tokio::test(flavor = "multi_thread")]
async fn approval_waiting_is_retried_until_taken() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = portal(&receiver, dir.path(), 8).await;
    let dana = p.as_role(Role::Deployer).await;
    let scale = RequestChange {
        namespace: Some(s("production")),
        deployment: Some(s("myapp-deployment")),
        replicas: Some(s("4")),
        ..request_change("production", "scale", "weekend traffic")
    };
    let asked = p.call(&dana, &scale).await.text().await.unwrap();
    let asked: ChangeView = serde_json::from_str(&asked).expect(&asked);
    assert_eq!(asked.state, "pending");
    let tries = receiver.wait_for("fail-2/flaky", "approval-waiting", 3).await;
    assert_eq!(tries.len(), 3, "two failures, then taken; no more");
    let ids: Vec<&str> = tries.iter().map(|t| t.header("x-rollgate-delivery")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "a retry is the same delivery: {ids:?}");
    let body = tries[2].json();
    assert_eq!(
        body["link"],
        format!("https://rollgate.test/production/approvals#change-{}", asked.id).as_str()
    );
    assert!(body["title"].as_str().unwrap().starts_with("dana asks: scale production/myapp-deployment to 4"));

    let view = log(&p, "production").await;
    let waiting = view.deliveries.iter().find(|d| d.event == "approval-waiting").expect("logged");
    assert_eq!(waiting.state, "delivered");
    let statuses: Vec<Option<i64>> = waiting.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    let gaps: Vec<i64> = waiting.attempts.windows(2).map(|w| w[1].at_ms - w[0].at_ms).collect();
    assert!(gaps[0] >= 1000 && gaps[1] >= 2000, "the waits double: {gaps:?}");

    let avery = p.as_role(Role::Approver).await;
    let approved = p.call(&avery, &ApproveChange { id: asked.id.clone(), comment: s("ok") }).await;
    let approved: ChangeView = serde_json::from_str(&approved.text().await.unwrap()).expect("approved");
    assert_eq!(approved.state, "executed");
    let ran = &receiver.wait_for("fail-2/flaky", "change-executed", 1).await[0];
    assert!(ran.json()["detail"].as_str().unwrap().starts_with("approved by avery"));
}

/// With two attempts allowed, a receiver that fails twice is given up on, and the log says
/// so.
#[tokio::test(flavor = "multi_thread")]
async fn given_up_after_the_last_attempt() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = portal(&receiver, dir.path(), 2).await;
    let ada = p.as_role(Role::Admin).await;
    let sent = p
        .call(&ada, &SendTestNotification { env: s("production"), target: s("flaky"), return_to: None })
        .await;
    assert_eq!(sent.status().as_u16(), 200);
    receiver.wait_for("fail-2/flaky", "test", 2).await;
    for _ in 0..50 {
        let view = log(&p, "production").await;
        let test = view.deliveries.iter().find(|d| d.event == "test").expect("logged");
        if test.state == "failed" {
            assert_eq!(test.attempts.len(), 2);
            tokio::time::sleep(Duration::from_secs(3)).await;
            let tests = receiver.got().into_iter().filter(|r| r.header("x-rollgate-event") == "test").count();
            assert_eq!(tests, 2, "nothing after the last attempt");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the test notification was not given up on");
}

/// A viewer cannot send a test, nor to a target that does not exist; a deployer can, and the
/// test names her. A secret's rotation is told without its value.
#[tokio::test(flavor = "multi_thread")]
async fn tests_and_secrets() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = portal(&receiver, dir.path(), 8).await;
    let test = |target: &str| SendTestNotification { env: s("staging"), target: s(target), return_to: None };
    assert_eq!(p.call(&p.http, &test("hook")).await.status().as_u16(), 403, "a viewer");
    assert_eq!(p.call(&p.anonymous, &test("hook")).await.status().as_u16(), 401);
    let dana = p.as_role(Role::Deployer).await;
    assert_eq!(p.call(&dana, &test("nope")).await.status().as_u16(), 404);
    assert_eq!(p.call(&dana, &test("hook")).await.status().as_u16(), 200);
    let got = &receiver.wait_for("hook", "test", 1).await[0];
    assert!(signed_by(got, KEY));
    assert_eq!(got.json()["title"], "A test from Rollgate, sent by dana");
    assert!(receiver.got().iter().all(|r| r.path == "hook"), "a test goes to its target only");

    let ada = p.as_role(Role::Admin).await;
    let rotate = RequestChange {
        parameter: Some(s("/rollgate/staging/k8s-bear-token")),
        ..request_change("staging", "rotate-token", "quarterly rotation")
    };
    let rotated: ChangeView = p.call(&ada, &rotate).await.json().await.unwrap();
    assert_eq!(rotated.state, "executed", "{:?}", rotated.outcome);
    receiver.wait_for("hook", "change-executed", 1).await;
    receiver.wait_for("teams", "change-executed", 1).await;
    let value: app::model::tokens::RevealedValue = p
        .call(
            &ada,
            &RevealToken { env: s("staging"), name: s("/rollgate/staging/k8s-bear-token"), version: None },
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(value.value.len() > 20);
    for r in receiver.got() {
        assert!(!r.body.contains(&value.value), "{} carried the token", r.path);
    }
    let changes: Vec<ChangeView> =
        p.call(&ada, &ListChanges { env: s("staging") }).await.json().await.unwrap();
    assert!(changes.iter().any(|c| c.id == rotated.id));
}

/// A deploy of an image the registry does not have degrades the rollout (told once, with a
/// link to the deployment); rolling back recovers it (told too).
#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_degrades_and_recovers() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = portal(&receiver, dir.path(), 8).await;
    let dana = p.as_role(Role::Deployer).await;
    let deploy = RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        container: Some(s("myapp-container")),
        image: Some(s("myapp:0000000")),
        ..request_change("staging", "deploy-image", "an image that was never pushed")
    };
    let done: ChangeView = p.call(&dana, &deploy).await.json().await.unwrap();
    assert_eq!(done.state, "executed", "{:?}", done.outcome);
    const MYAPP: Option<&str> = Some("staging/myapp-deployment");
    let degraded = &receiver.wait_about("hook", "rollout-degraded", MYAPP, 1).await[0];
    let body = degraded.json();
    assert!(body["title"].as_str().unwrap().starts_with("staging/myapp-deployment is degraded: "), "{body}");
    assert_eq!(body["link"], "https://rollgate.test/staging/deployments/staging/myapp-deployment");

    let detail: app::model::DeploymentDetail = p
        .call(
            &dana,
            &app::api::deployments::GetDeployment {
                env: s("staging"),
                namespace: s("staging"),
                name: s("myapp-deployment"),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    let previous =
        detail.revisions.iter().filter(|r| !r.live).map(|r| r.number).max().expect("an earlier revision");
    let rollback = RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        revision: Some(previous.to_string()),
        ..request_change("staging", "rollback", "back to what worked")
    };
    let back: ChangeView = p.call(&dana, &rollback).await.json().await.unwrap();
    assert_eq!(back.state, "executed", "{:?}", back.outcome);
    receiver.wait_about("hook", "rollout-recovered", MYAPP, 1).await;
    let ce = receiver
        .got()
        .into_iter()
        .find(|r| r.path == "events" && r.header("x-rollgate-event") == "rollout-degraded")
        .expect("the CloudEvents target was told too");
    assert_eq!(ce.json()["type"], "dev.cdevents.incident.detected.0.2.0");
    let told = receiver
        .got()
        .into_iter()
        .filter(|r| r.path == "hook" && r.header("x-rollgate-event") == "rollout-degraded")
        .filter(|r| r.json()["subject"] == "staging/myapp-deployment")
        .count();
    assert_eq!(told, 1);
}

/// A freeze of production that began a minute ago is told (with a link to the calendar), and
/// a staging release started by hand in CodePipeline is told when it succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_freeze_and_a_pipeline_are_told() {
    use backend::clock::Timestamp;
    use backend::config::FreezeWindow;

    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let p = portal_with(&receiver, dir.path(), 8, |config| {
        config.environments[1].freezes.push(FreezeWindow {
            start: now.plus_secs(-60),
            end: now.plus_secs(3600),
            reason: "notifications test".into(),
        });
    })
    .await;
    let p = crate::pipelines::quick(p);
    let sandbox = p.running.sandbox.as_ref().expect("the sandbox runs");
    let client = testkit::aws::codepipeline(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    let started = client.start_pipeline_execution().name("myapp-staging").send().await.expect("started");
    let id = started.pipeline_execution_id().unwrap().to_owned();

    // Production's webhook fails twice before it takes it.
    let tries = receiver.wait_for("fail-2/flaky", "freeze-starting", 3).await;
    let body = tries[2].json();
    assert!(body["title"].as_str().unwrap().starts_with("A freeze holds Production until"), "{body}");
    assert!(body["title"].as_str().unwrap().ends_with(": notifications test"));
    assert_eq!(body["link"], "https://rollgate.test/production/calendar");

    let told = receiver.wait_about("hook", "pipeline-succeeded", Some("myapp-staging"), 1).await;
    let body = told[0].json();
    assert!(
        body["title"].as_str().unwrap().starts_with(&format!("myapp-staging succeeded: execution {id}")),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let freezes =
        receiver.got().into_iter().filter(|r| r.header("x-rollgate-event") == "freeze-starting").count();
    assert_eq!(freezes, 3, "one freeze, one notification: two failures and the one taken");
}
