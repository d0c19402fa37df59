//! The defaults a real API server writes into objects as it stores them (`pkg/apis/*/v1`
//! `SetDefaults_*`), for the kinds the sandbox's controllers run: what `kubectl get -o yaml`
//! and every client read back. Found missing by `scripts/conformance.sh`.

use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// Fills in what the client left out, never changing what it set.
pub fn apply(rt: &ResourceType, object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else { return };
    match rt.kind {
        "Deployment" => {
            fill(spec, "replicas", json!(1));
            fill(spec, "revisionHistoryLimit", json!(10));
            fill(spec, "progressDeadlineSeconds", json!(600));
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if let Some(strategy) = strategy.as_object_mut() {
                fill(strategy, "type", json!("RollingUpdate"));
                if strategy["type"] == "RollingUpdate" {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Some(rolling) = rolling.as_object_mut() {
                        fill(rolling, "maxSurge", json!("25%"));
                        fill(rolling, "maxUnavailable", json!("25%"));
                    }
                }
            }
            template(spec);
        }
        "ReplicaSet" => {
            fill(spec, "replicas", json!(1));
            template(spec);
        }
        "Pod" => pod_spec(spec),
        _ => {}
    }
}

fn template(spec: &mut Map<String, Value>) {
    let Some(template) = spec.get_mut("template").and_then(Value::as_object_mut) else { return };
    // Go writes a template's zero creation time as null.
    if let Some(metadata) = template.get_mut("metadata").and_then(Value::as_object_mut) {
        fill(metadata, "creationTimestamp", Value::Null);
    }
    if let Some(pod) = template.get_mut("spec").and_then(Value::as_object_mut) {
        pod_spec(pod);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    fill(spec, "restartPolicy", json!("Always"));
    fill(spec, "terminationGracePeriodSeconds", json!(30));
    fill(spec, "dnsPolicy", json!("ClusterFirst"));
    fill(spec, "securityContext", json!({}));
    fill(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(container) = container.as_object_mut() else { continue };
            let image = container.get("image").and_then(Value::as_str).unwrap_or("");
            fill(container, "imagePullPolicy", json!(pull_policy(image)));
            fill(container, "terminationMessagePath", json!("/dev/termination-log"));
            fill(container, "terminationMessagePolicy", json!("File"));
            fill(container, "resources", json!({}));
            for port in container.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(port) = port.as_object_mut() {
                    fill(port, "protocol", json!("TCP"));
                }
            }
        }
    }
}

/// `Always` for `:latest` or no tag (and no digest), `IfNotPresent` otherwise.
fn pull_policy(image: &str) -> &'static str {
    let name = image.rsplit('/').next().unwrap_or(image);
    match (image.contains('@'), name.split_once(':')) {
        (true, _) => "IfNotPresent",
        (false, Some((_, "latest"))) | (false, None) => "Always",
        (false, Some(_)) => "IfNotPresent",
    }
}

fn fill(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::resources;

    #[test]
    fn a_deployment_gets_the_api_servers_defaults() {
        let rt = resources::lookup("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                                    {"name": "side", "image": "registry:5000/envoy", "imagePullPolicy": "Never"}]}}}});
        apply(rt, &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}), "no rollingUpdate for Recreate");
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "Never", "what the client set stays");
        assert!(d["spec"]["template"]["metadata"]["creationTimestamp"].is_null());
        assert_eq!(pull_policy("registry:5000/envoy"), "Always");
        assert_eq!(pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }
}
