//! An object as the store keeps it: its JSON, serialized once when it is written and shared
//! (not copied) by the store, the change log, list bodies and watch streams, plus the few
//! fields the controllers read on every pass. A JSON tree of a pod takes about seven times the
//! memory of its text, so a tree is only built when something needs the whole object.

use std::sync::Arc;

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A stored object. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Object(Arc<Stored>);

#[derive(Debug)]
struct Stored {
    json: Bytes,
    name: Box<str>,
    uid: Box<str>,
    resource_version: u64,
    /// The uid of the owner reference marked `controller`.
    controller: Option<Box<str>>,
    /// The `Ready` condition is `True` (pods).
    ready: bool,
}

impl Object {
    /// `value`, whose serialization is `json`.
    pub fn new(json: Bytes, value: &Value) -> Self {
        let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let controller = value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
            .and_then(|r| r["uid"].as_str())
            .map(Box::from);
        let ready = value
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        Self(Arc::new(Stored {
            json,
            name: text("/metadata/name").into(),
            uid: text("/metadata/uid").into(),
            resource_version: text("/metadata/resourceVersion").parse().unwrap_or(0),
            controller,
            ready,
        }))
    }

    /// An object serialized on its own (not as part of a watch event line).
    pub fn from_value(value: &Value) -> Self {
        // Serializing a Value cannot fail.
        Self::new(Bytes::from(serde_json::to_vec(value).unwrap_or_default()), value)
    }

    pub fn json(&self) -> &Bytes {
        &self.0.json
    }

    /// The whole object as a JSON tree.
    pub fn value(&self) -> Value {
        // The store wrote this text from a Value: it always parses back.
        serde_json::from_slice(&self.0.json).unwrap_or_default()
    }

    /// Just the fields of `T`: cheaper than [`value`](Object::value) when few are needed.
    pub fn parse<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.0.json).ok()
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn uid(&self) -> &str {
        &self.0.uid
    }

    pub fn resource_version(&self) -> u64 {
        self.0.resource_version
    }

    pub fn controller(&self) -> Option<&str> {
        self.0.controller.as_deref()
    }

    pub fn is_ready(&self) -> bool {
        self.0.ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn index_fields_come_from_the_object() {
        let pod = json!({
            "metadata": { "name": "web-1", "uid": "u1", "resourceVersion": "42",
                "ownerReferences": [{ "uid": "other" }, { "uid": "rs-1", "controller": true }] },
            "status": { "conditions": [{ "type": "Ready", "status": "True" }] },
        });
        let object = Object::from_value(&pod);
        assert_eq!((object.name(), object.uid(), object.resource_version()), ("web-1", "u1", 42));
        assert_eq!(object.controller(), Some("rs-1"));
        assert!(object.is_ready());
        assert_eq!(object.value(), pod);
        let bare = Object::from_value(&json!({ "metadata": { "name": "x" } }));
        assert_eq!((bare.controller(), bare.is_ready()), (None, false));
    }
}
