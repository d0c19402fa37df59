//! Events, as controllers and the kubelet record them (`kubectl get events`). The same
//! occurrence about the same object is one event whose `count` grows, as the API server's
//! event aggregation does, and events expire an hour after they last happened.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::super::object::Object;
use super::super::resources::{self, ResourceType};
use super::super::store::{Store, now_rfc3339};
use super::super::table::parse_rfc3339;

fn events() -> Option<&'static ResourceType> {
    resources::lookup("", "v1", "events")
}

/// Records an event about `object` (best effort: an event that cannot be written is dropped,
/// as a real component does under pressure).
pub fn emit(store: &Store, object: &Value, kind: &str, reason: &str, message: &str, source: &str) {
    let Some(events) = events() else { return };
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let uid = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    // Named by what happened to which object, so a repeat finds the event it repeats.
    let key = [uid, kind, reason, message, source].join("\u{0}");
    let hash =
        key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let event_name = format!("{name}.{hash:016x}");
    let now = now_rfc3339();
    let repeated = store.modify(events, namespace, &event_name, false, |event| {
        event["count"] = json!(event["count"].as_i64().unwrap_or(1) + 1);
        event["lastTimestamp"] = json!(now);
        Ok(())
    });
    if repeated.is_ok() {
        return;
    }
    let event = json!({
        "metadata": { "name": event_name },
        "involvedObject": {
            "apiVersion": object["apiVersion"],
            "kind": object["kind"],
            "name": name,
            "namespace": namespace,
            "uid": uid,
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

/// Deletes the events that last happened longer than `ttl` ago, and the oldest beyond
/// `keep`: a real cluster keeps its events in etcd, on disk; the sandbox keeps them in memory.
pub fn expire(store: &Store, ttl: Duration, keep: usize) {
    let Some(events) = events() else { return };
    let Some(cutoff) = SystemTime::now().checked_sub(ttl) else { return };
    let cutoff = cutoff.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let Ok(all) = store.list(events, None, |_| true, None, None) else { return };
    let mut all: Vec<EventTime> = all.items.iter().filter_map(Object::parse).collect();
    let last = |event: &EventTime| {
        event.last_timestamp.as_ref().and_then(Value::as_str).and_then(parse_rfc3339).unwrap_or(0)
    };
    all.sort_by_key(|event| std::cmp::Reverse(last(event)));
    let beyond = all.split_off(keep.min(all.len()));
    let expired = all.into_iter().filter(|event| last(event) < cutoff).chain(beyond);
    for event in expired {
        let _ = store.delete(events, &event.metadata.namespace, &event.metadata.name);
    }
}

/// What expiry reads of an event.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    #[serde(default)]
    metadata: EventName,
    last_timestamp: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
struct EventName {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
}
