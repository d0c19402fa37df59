//! The demo world: the walk-through's `myapp-deployment` in `staging` and `production` with a
//! few released revisions whose images are tagged by commit hashes, a few more applications of
//! different sizes, one whose current release cannot pull its image and misses its progress
//! deadline, and one that crash-loops. Built through the same store and controllers as everything else: each
//! release is a template change the deployment controller turns into a replica set.

use std::time::Duration;

use serde_json::{Value, json};

use super::controllers::{deployments, replicasets};
use super::store::Store;
use crate::registry::Registry;

/// The demo repository's history, oldest first: (commit, message).
pub const MYAPP_COMMITS: [(&str, &str); 4] = [
    ("4d1c9a7", "Initial release of myapp"),
    ("8e2f6b3", "Add order history endpoint"),
    ("b7a04c2", "Fix rounding in cart totals"),
    ("e93d5f1", "Cache product lookups"),
];

struct App {
    namespace: &'static str,
    name: &'static str,
    replicas: i64,
    /// Images of its releases, oldest first; the last is what runs now.
    releases: Vec<String>,
    walkthrough: bool,
    progress_deadline: i64,
    /// A shell script to run instead of the image's own command.
    script: Option<&'static str>,
}

pub async fn seed(store: Store, registry: Registry) {
    for (commit, _) in MYAPP_COMMITS {
        registry.push("myapp", commit);
    }
    for tag in ["2f0c8d1", "71be9a4"] {
        registry.push("checkout-api", tag);
    }
    registry.push("report-worker", "5a6e2c0");
    let myapp = |n: usize| MYAPP_COMMITS[..n].iter().map(|(c, _)| format!("myapp:{c}")).collect::<Vec<_>>();
    let apps = [
        App {
            namespace: "staging",
            name: "myapp-deployment",
            replicas: 2,
            releases: myapp(4),
            walkthrough: true,
            progress_deadline: 600,
            script: None,
        },
        App {
            namespace: "production",
            name: "myapp-deployment",
            replicas: 2,
            releases: myapp(3),
            walkthrough: true,
            progress_deadline: 600,
            script: None,
        },
        App {
            namespace: "staging",
            name: "checkout-api",
            replicas: 3,
            releases: vec!["checkout-api:2f0c8d1".into(), "checkout-api:71be9a4".into()],
            walkthrough: false,
            progress_deadline: 600,
            script: None,
        },
        App {
            namespace: "production",
            name: "checkout-api",
            replicas: 6,
            releases: vec!["checkout-api:2f0c8d1".into()],
            walkthrough: false,
            progress_deadline: 600,
            script: None,
        },
        App {
            namespace: "production",
            name: "storefront",
            replicas: 4,
            releases: vec!["nginx:1.25".into(), "nginx:1.27".into()],
            walkthrough: false,
            progress_deadline: 600,
            script: None,
        },
        // Its latest build was never pushed: the rollout cannot pull the image.
        App {
            namespace: "staging",
            name: "report-worker",
            replicas: 1,
            releases: vec!["report-worker:5a6e2c0".into(), "report-worker:c0ffee1".into()],
            walkthrough: false,
            progress_deadline: 30,
            script: None,
        },
        // Its queue address is wrong: the container exits at start and crash-loops.
        App {
            namespace: "staging",
            name: "payments-worker",
            replicas: 1,
            releases: vec!["busybox:1.36".into()],
            walkthrough: false,
            progress_deadline: 600,
            script: Some(
                "echo \"payments-worker starting\" && echo \"fatal: cannot reach queue at ${QUEUE_URL}\" && exit 1",
            ),
        },
    ];
    for app in apps {
        release_history(&store, &app).await;
    }
}

fn deployment(app: &App, image: &str) -> Value {
    let mut container = json!({ "name": app.name.trim_end_matches("-deployment"), "image": image });
    if app.walkthrough {
        container["name"] = json!("myapp-container");
        container["command"] = json!(["sh", "-c", "echo ${DEMO_GREETING} && sleep 3600"]);
        container["env"] = json!([{ "name": "DEMO_GREETING", "value": "Hello Kubernetes!" }]);
    } else if let Some(script) = app.script {
        container["command"] = json!(["sh", "-c", script]);
        container["env"] = json!([{ "name": "QUEUE_URL", "value": "amqp://queue.staging.svc:5671" }]);
    } else {
        container["ports"] = json!([{ "containerPort": 8080, "protocol": "TCP" }]);
    }
    let app_label = if app.walkthrough { "myapp" } else { app.name };
    json!({
        "metadata": { "name": app.name, "labels": { "app": app_label } },
        "spec": {
            "replicas": app.replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": app.progress_deadline,
            "selector": { "matchLabels": { "app": app_label } },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
            "template": { "metadata": { "labels": { "app": app_label } }, "spec": { "containers": [container] } },
        },
    })
}

/// Creates the deployment at its first release, then releases each later image once the
/// controller has made the previous release's replica set.
async fn release_history(store: &Store, app: &App) {
    let Some((first, later)) = app.releases.split_first() else { return };
    if store.create(deployments(), app.namespace, deployment(app, first)).is_err() {
        return;
    }
    for (released, image) in (1..).zip(later) {
        wait_for_replica_sets(store, app, released).await;
        let _ = store.modify(deployments(), app.namespace, app.name, false, |d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
            Ok(())
        });
    }
}

async fn wait_for_replica_sets(store: &Store, app: &App, count: usize) {
    for _ in 0..100 {
        let owned = store
            .list(
                replicasets(),
                Some(app.namespace),
                |rs| rs.name().starts_with(&format!("{}-", app.name)),
                None,
                None,
            )
            .map(|page| page.items.len())
            .unwrap_or(0);
        if owned >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
