use serde_json::json;

use super::*;
use crate::kubernetes::resources;

fn checked_in() -> &'static Types {
    TYPES.as_ref().expect("the checked-in descriptors load, with runtime.Unknown and TypeMeta")
}

#[test]
fn every_served_kind_and_its_list_has_a_message() {
    let types = checked_in();
    for rt in resources::TYPES {
        let api_version = rt.api_version();
        assert!(message_type(types, &api_version, rt.kind).is_some(), "{api_version} {}", rt.kind);
        if rt.kind != "SelfSubjectAccessReview" {
            assert!(
                message_type(types, &api_version, &rt.list_kind()).is_some(),
                "{api_version} {}",
                rt.list_kind()
            );
        }
    }
    for (api_version, kind) in [("v1", "Status"), ("authentication.k8s.io/v1", "TokenRequest")] {
        assert!(message_type(types, api_version, kind).is_some(), "{api_version} {kind}");
    }
    assert!(message_type(types, "meta.k8s.io/v1", "Table").is_none(), "tables are answered in JSON");
}

#[test]
fn negotiation_follows_quality_then_order() {
    assert!(preferred("application/vnd.kubernetes.protobuf, */*"));
    assert!(preferred("application/vnd.kubernetes.protobuf,application/json"));
    assert!(preferred("application/json;q=0.5, application/vnd.kubernetes.protobuf"));
    assert!(!preferred("application/json, application/vnd.kubernetes.protobuf"));
    assert!(!preferred("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
    assert!(!preferred("application/vnd.kubernetes.protobuf;q=0"));
    assert!(!preferred(""));
}

/// Everything the JSON of a deployment holds survives protobuf and back: inline volume
/// sources and probe handlers, quantities, int-or-strings, times and a meaningful zero.
#[test]
fn a_deployment_round_trips() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "staging",
            "labels": {"app": "web", "tier": ""},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "generation": 4,
            "creationTimestamp": "2026-12-03T10:11:12Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:spec": {"f:replicas": {}}}, "time": "2026-12-03T10:11:12Z"}],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "registry.example/web:4f2a9c1",
                        "command": ["serve", ""],
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": "bearer"}}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                        "securityContext": {"runAsUser": 0, "readOnlyRootFilesystem": true},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}}],
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
        "status": {"observedGeneration": 4, "replicas": 2,
                   "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2026-12-03T10:11:13Z"}]},
    });
    let encoded = encode(&deployment).unwrap();
    assert!(encoded.starts_with(MAGIC));
    assert_eq!(decode(&encoded).unwrap(), deployment);
}

#[test]
fn zero_values_go_writes_are_left_out_of_the_json() {
    // What Go writes for `kubectl create namespace qa`: every non-pointer field, zero or not.
    let namespace = checked_in().pool.get_message_by_name("api.core.v1.Namespace").unwrap();
    let meta = checked_in().pool.get_message_by_name("apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap();
    let time = checked_in().pool.get_message_by_name("apimachinery.pkg.apis.meta.v1.Time").unwrap();
    let mut metadata = DynamicMessage::new(meta);
    metadata.set_field_by_name("name", Field::String("qa".into()));
    metadata.set_field_by_name("namespace", Field::String(String::new()));
    metadata.set_field_by_name("generation", Field::I64(0));
    metadata.set_field_by_name("creationTimestamp", Field::Message(DynamicMessage::new(time)));
    let mut message = DynamicMessage::new(namespace);
    message.set_field_by_name("metadata", Field::Message(metadata));
    let body = wrap(checked_in(), "v1", "Namespace", message.encode_to_vec());
    assert_eq!(
        decode(&body).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qa"}})
    );
}

#[test]
fn bad_bodies_are_bad_requests() {
    let status = |body: &[u8]| decode(body).unwrap_err();
    assert!(status(b"{\"kind\": \"Namespace\"}").message.contains("k8s\\x00"));
    assert!(status(b"k8s\0\xff\xff\xff").message.contains("runtime.Unknown"));
    assert!(status(&wrap(checked_in(), "v1", "", Vec::new())).message.contains("does not name its kind"));
    assert!(status(&wrap(checked_in(), "v1", "Widget", Vec::new())).message.contains("no kind \"Widget\""));
    let error = status(&wrap(checked_in(), "v1", "Namespace", vec![0x0a, 0x05, 0x01]));
    assert_eq!(error.code, 400);
    assert!(error.message.contains("not valid protobuf"), "{}", error.message);
}
