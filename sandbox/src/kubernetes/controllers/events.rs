//! Events, as controllers and the kubelet record them (`kubectl get events`).

use serde_json::{Value, json};

use super::super::resources;
use super::super::store::{Store, now_rfc3339};

/// Records an event about `object` (best effort: an event that cannot be written is dropped,
/// as a real component does under pressure).
pub fn emit(store: &Store, object: &Value, kind: &str, reason: &str, message: &str, source: &str) {
    let Some(events) = resources::lookup("", "v1", "events") else { return };
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let now = now_rfc3339();
    let event = json!({
        "metadata": { "generateName": format!("{name}.") },
        "involvedObject": {
            "apiVersion": object["apiVersion"],
            "kind": object["kind"],
            "name": name,
            "namespace": namespace,
            "uid": object["metadata"]["uid"],
            "resourceVersion": object["metadata"]["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "source": { "component": source },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": source,
    });
    let _ = store.create(events, namespace, event);
}
