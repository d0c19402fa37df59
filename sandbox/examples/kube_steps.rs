//! The kube-rs half of `scripts/conformance.sh`: the calls Rollgate's cluster code makes, through
//! the client it makes them with, against one cluster. Prints a JSON list of
//! `[step, what it gave]` for `scripts/conformance.py` to compare between the real API server
//! and the sandbox.
//!
//!     cargo run --release -p sandbox --example kube_steps -- <kubeconfig> <namespace>

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

/// What a call gave, in words that do not change from run to run.
fn outcome<T>(result: Result<T, kube::Error>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => ok(value),
        Err(kube::Error::Api(status)) => format!("{} {}: {}", status.code, status.reason, status.message),
        Err(other) => format!("error: {other}"),
    }
}

fn deployment(ns: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": { "name": "kr", "namespace": ns, "labels": { "app": "kr" } },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "kr" } },
            "template": {
                "metadata": { "labels": { "app": "kr" } },
                "spec": { "containers": [{ "name": "kr", "image": "nginx:1.25" }] },
            },
        },
    }))
    .expect("a deployment")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kubeconfig, ns] = args.as_slice() else {
        return Err("usage: kube_steps <kubeconfig> <namespace>".into());
    };
    let config =
        Config::from_custom_kubeconfig(Kubeconfig::read_from(kubeconfig)?, &KubeConfigOptions::default())
            .await?;
    let client = Client::try_from(config)?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut steps: Vec<(&str, String)> = Vec::new();

    let created = deployments.create(&PostParams::default(), &deployment(ns)).await;
    steps.push(("create", outcome(created, |d| format!("created {}", d.metadata.name.unwrap_or_default()))));
    let listed = deployments.list(&ListParams::default().labels("app=kr")).await;
    steps.push((
        "list by label",
        outcome(listed, |l| {
            l.items.iter().filter_map(|d| d.metadata.name.clone()).collect::<Vec<_>>().join(",")
        }),
    ));
    let got = deployments.get("kr").await;
    steps.push(("get", outcome(got, |d| format!("replicas {:?}", d.spec.replicas))));
    let stale = deployments.get("kr").await?;
    let patched = deployments
        .patch("kr", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 2 } })))
        .await;
    steps.push(("merge patch", outcome(patched, |d| format!("replicas {:?}", d.spec.replicas))));
    let replaced = deployments.replace("kr", &PostParams::default(), &stale).await;
    steps.push(("replace a stale read", outcome(replaced, |_| "replaced".into())));
    steps.push(("get a missing one", outcome(deployments.get("nope").await, |_| "found".into())));

    // A watch from the resourceVersion before a label change, bookmarks allowed.
    let rv = deployments.get("kr").await?.metadata.resource_version.unwrap_or_default();
    deployments
        .patch(
            "kr",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "seen": "yes" } } })),
        )
        .await?;
    let params = WatchParams::default().fields("metadata.name=kr").timeout(3); // bookmarks are asked for unless disabled
    let mut seen: Vec<String> = Vec::new();
    {
        use futures_util::StreamExt;
        let mut events = deployments.watch(&params, &rv).await?.boxed();
        while let Some(event) = events.next().await {
            // What arrives before the label is the controller's status writes: timing.
            let line = match event? {
                WatchEvent::Added(d) | WatchEvent::Modified(d) | WatchEvent::Deleted(d) => {
                    format!(
                        "event seen={}",
                        d.metadata.labels.unwrap_or_default().get("seen").cloned().unwrap_or_default()
                    )
                }
                WatchEvent::Bookmark(_) => continue,
                WatchEvent::Error(e) => format!("error {} {}", e.code, e.reason),
            };
            if !seen.contains(&line) && (line != "event seen=" || !seen.is_empty()) {
                seen.push(line);
            }
        }
    }
    steps.push(("watch from a resourceVersion", seen.join("; ")));

    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let account = serde_json::from_value(json!({ "metadata": { "name": "kr-robot" } }))?;
    steps.push((
        "create a service account",
        outcome(accounts.create(&PostParams::default(), &account).await, |_| "created".into()),
    ));
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..Default::default() }),
        ..Default::default()
    };
    let token = accounts.create_token_request("kr-robot", &PostParams::default(), &request).await;
    steps.push((
        "token request",
        outcome(token, |t| {
            format!(
                "a token: {}",
                t.status.and_then(|s| s.token).is_some_and(|token| token.split('.').count() == 3)
            )
        }),
    ));
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.clone()),
                verb: Some("patch".into()),
                group: Some("apps".into()),
                resource: Some("deployments".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let reviewed = reviews.create(&PostParams::default(), &review).await;
    steps.push((
        "self subject access review",
        outcome(reviewed, |r| format!("allowed {:?}", r.status.map(|s| s.allowed))),
    ));
    let deleted = deployments.delete("kr", &DeleteParams::default()).await;
    steps.push((
        "delete",
        outcome(deleted, |either| if either.is_left() { "deleting".into() } else { "deleted".into() }),
    ));
    println!("{}", serde_json::to_string(&steps)?);
    Ok(())
}
