//! kube-rs, the client Rollgate uses, against the sandbox cluster: typed create and patch, a
//! rollout awaited through kube-runtime, logs, optimistic concurrency, and the watcher
//! resuming from a resource version.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use sandbox::{Endpoints, Sandbox, World};
use serde_json::json;

async fn client() -> (Sandbox, kube::Client) {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    // As Rollgate connects to any cluster: from a kubeconfig (server, CA, token, namespace).
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig()).expect("a kubeconfig");
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("a config");
    let client = kube::Client::try_from(config).expect("a client");
    (sandbox, client)
}

fn myapp() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "myapp-deployment", "labels": { "app": "myapp" } },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "myapp" } },
            "template": {
                "metadata": { "labels": { "app": "myapp" } },
                "spec": { "containers": [{
                    "name": "myapp-container",
                    "image": "busybox",
                    "command": ["sh", "-c", "echo ${DEMO_GREETING} && sleep 3600"],
                    "env": [{ "name": "DEMO_GREETING", "value": "Hello Kubernetes!" }]
                }] }
            }
        }
    }))
    .expect("a Deployment")
}

async fn rolled_out(api: &Api<Deployment>) {
    let done = await_condition(api.clone(), "myapp-deployment", conditions::is_deployment_completed());
    tokio::time::timeout(Duration::from_secs(30), done).await.expect("rollout in time").expect("watch works");
}

/// Create, roll out, change the greeting with a strategic merge patch, roll out again, and
/// read the new greeting from the new pods' logs.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_patch_and_read_logs() {
    let (_sandbox, client) = client().await;
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    deployments.create(&PostParams::default(), &myapp()).await.expect("created");
    rolled_out(&deployments).await;

    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "myapp-container", "env": [{"name": "DEMO_GREETING", "value": "Another Hello Kubernetes!"}]}
    ]}}}});
    deployments
        .patch("myapp-deployment", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patched");
    // The status must first show the new generation before "completed" means this rollout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rolled_out(&deployments).await;

    let pods: Api<Pod> = Api::default_namespaced(client);
    let list = pods.list(&ListParams::default().labels("app=myapp")).await.expect("pods");
    assert_eq!(list.items.len(), 2);
    for pod in list.items {
        let name = pod.metadata.name.expect("a name");
        let logs = pods.logs(&name, &LogParams::default()).await.expect("logs");
        assert_eq!(logs, "Another Hello Kubernetes!\n", "{name}");
    }
}

/// A replace carrying an outdated resourceVersion fails with the API's 409.
#[tokio::test(flavor = "multi_thread")]
async fn stale_replace_conflicts() {
    let (_sandbox, client) = client().await;
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    let created = deployments.create(&PostParams::default(), &myapp()).await.expect("created");
    let mut first = created.clone();
    first.spec.replicas = Some(3);
    deployments.replace("myapp-deployment", &PostParams::default(), &first).await.expect("first write");
    let mut stale = created;
    stale.spec.replicas = Some(5);
    match deployments.replace("myapp-deployment", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => assert_eq!((status.code, status.reason.as_str()), (409, "Conflict")),
        other => panic!("expected a 409 Conflict, got {other:?}"),
    }
}

/// kube-runtime's watcher lists, then watches: it sees the objects and their changes.
#[tokio::test(flavor = "multi_thread")]
async fn watcher_sees_changes() {
    let (_sandbox, client) = client().await;
    let deployments: Api<Deployment> = Api::default_namespaced(client);
    let events = watcher(deployments.clone(), watcher::Config::default()).boxed();
    deployments.create(&PostParams::default(), &myapp()).await.expect("created");
    let seen = events
        .try_filter_map(|event| async move {
            Ok(match event {
                watcher::Event::Apply(d) | watcher::Event::InitApply(d) => d.metadata.name,
                _ => None,
            })
        })
        .take(1)
        .try_collect::<Vec<_>>();
    let seen =
        tokio::time::timeout(Duration::from_secs(10), seen).await.expect("in time").expect("watch works");
    assert_eq!(seen, ["myapp-deployment"]);
}
