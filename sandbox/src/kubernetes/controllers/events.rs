//! Events, as controllers and the kubelet record them (`kubectl get events`). The same
//! occurrence about the same object is one event whose `count` grows, and from the tenth
//! different message of one reason about one object within ten minutes, further ones are
//! combined into one "(combined from similar events)" event, as client-go's event correlator
//! does for every component. Events expire an hour after they last happened.

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
    let similar = similar(store, namespace, name, uid, kind, reason, source);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let since = i64::try_from(now.as_secs()).unwrap_or(i64::MAX) - AGGREGATE_WINDOW_SECS;
    let recent_messages =
        similar.iter().filter(|e| !e.message.starts_with(COMBINED) && e.last_seconds() >= since).count();
    let combine = !similar.iter().any(|e| e.message == message) && recent_messages + 1 >= AGGREGATE_AFTER;
    let message = if combine { format!("{COMBINED}{message}") } else { message.to_owned() };
    let repeats =
        similar.iter().find(|e| if combine { e.message.starts_with(COMBINED) } else { e.message == message });
    let timestamp = now_rfc3339();
    if let Some(repeated) = repeats {
        let counted = store.modify(events, namespace, &repeated.metadata.name, false, |event| {
            event["count"] = json!(event["count"].as_i64().unwrap_or(1) + 1);
            event["lastTimestamp"] = json!(timestamp);
            event["message"] = json!(message);
            Ok(())
        });
        if counted.is_ok() {
            return;
        }
    }
    let mut event = json!({
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
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
        "reportingComponent": source,
    });
    // Named as client-go names them, so a listing is in the order they happened.
    for nanos in now.as_nanos().. {
        event["metadata"] = json!({ "name": format!("{name}.{nanos:x}") });
        match store.create(events, namespace, event.clone()) {
            Err(error) if error.reason == "AlreadyExists" => continue,
            _ => break,
        }
    }
}

/// client-go's correlator: the number of different messages of one reason about one object
/// from which they are combined, and how recent they must be.
const AGGREGATE_AFTER: usize = 10;
const AGGREGATE_WINDOW_SECS: i64 = 600;
const COMBINED: &str = "(combined from similar events): ";

/// What the correlator reads of an event.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Similar {
    metadata: EventName,
    #[serde(default)]
    involved_object: Involved,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    source: Source,
    #[serde(default)]
    message: String,
    last_timestamp: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct Involved {
    #[serde(default)]
    uid: String,
}

#[derive(serde::Deserialize, Default)]
struct Source {
    #[serde(default)]
    component: String,
}

impl Similar {
    fn last_seconds(&self) -> i64 {
        self.last_timestamp.as_deref().and_then(parse_rfc3339).unwrap_or(0)
    }
}

/// The events of `reason` from `source` about the object. Only the events named after the
/// object are read, so recording stays cheap however many events a namespace holds.
fn similar(
    store: &Store,
    namespace: &str,
    name: &str,
    uid: &str,
    kind: &str,
    reason: &str,
    source: &str,
) -> Vec<Similar> {
    let Some(events) = events() else { return Vec::new() };
    let prefix = format!("{name}.");
    let Ok(page) = store.list(events, Some(namespace), |event| event.name().starts_with(&prefix), None, None)
    else {
        return Vec::new();
    };
    page.items
        .iter()
        .filter_map(Object::parse::<Similar>)
        .filter(|e| {
            e.involved_object.uid == uid
                && e.kind == kind
                && e.reason == reason
                && e.source.component == source
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The tenth different message about one object, and every new one after it, land in one
    /// combined event; a message already recorded on its own still counts there.
    #[test]
    fn similar_events_are_combined_from_the_tenth() {
        let store = Store::new();
        let namespaces = resources::lookup("", "v1", "namespaces").unwrap();
        store.create(namespaces, "", json!({"metadata": {"name": "staging"}})).unwrap();
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web", "namespace": "staging", "uid": "u1"}});
        for step in 1..=12 {
            emit(
                &store,
                &deployment,
                "Normal",
                "ScalingReplicaSet",
                &format!("Scaled up to {step}"),
                "deployment-controller",
            );
        }
        emit(&store, &deployment, "Normal", "ScalingReplicaSet", "Scaled up to 1", "deployment-controller");
        emit(&store, &deployment, "Warning", "Failed", "other reason", "deployment-controller");
        let all = store.list(events().unwrap(), Some("staging"), |_| true, None, None).unwrap();
        let mut seen: Vec<(String, i64)> = all
            .items
            .iter()
            .map(|e| {
                let e = e.value();
                (e["message"].as_str().unwrap().to_owned(), e["count"].as_i64().unwrap())
            })
            .collect();
        seen.sort();
        let mut expected: Vec<(String, i64)> = (1..=9).map(|n| (format!("Scaled up to {n}"), 1)).collect();
        expected[0].1 = 2;
        expected.push(("(combined from similar events): Scaled up to 12".into(), 3));
        expected.push(("other reason".into(), 1));
        expected.sort();
        assert_eq!(seen, expected);
    }
}
