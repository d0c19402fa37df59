//! The controllers that make the sandbox cluster move: the deployment controller (replica
//! sets per template, rolling updates, status and conditions), the replica set controller
//! (pods), and a simulated kubelet (pod phases, readiness, image pulls).
//!
//! They are level-triggered, like Kubernetes' own: every tick each one compares what is with
//! what should be and takes one step, writing through the same store (and so the same
//! resource versions, conflicts and watch events) as any API client.

mod deployment;
mod events;
mod kubelet;
mod replicaset;

use std::time::Duration;

use serde_json::Value;

use super::resources::{self, ResourceType};
use super::store::Store;
use crate::registry::Registry;

pub use kubelet::Timings;

/// How often the controllers look.
const TICK: Duration = Duration::from_millis(100);

/// Runs the controllers on the current runtime until it shuts down.
pub fn spawn(store: Store, registry: Registry, timings: Timings) {
    tokio::spawn(async move {
        let mut kubelet = kubelet::Kubelet::new(registry, timings);
        loop {
            deployment::reconcile_all(&store);
            replicaset::reconcile_all(&store);
            kubelet.reconcile_all(&store);
            tokio::time::sleep(TICK).await;
        }
    });
}

fn rt(group: &str, plural: &str) -> &'static ResourceType {
    let version = "v1";
    resources::lookup(group, version, plural).expect("a served resource type")
}

pub(super) fn deployments() -> &'static ResourceType {
    rt("apps", "deployments")
}

pub(super) fn replicasets() -> &'static ResourceType {
    rt("apps", "replicasets")
}

pub(super) fn pods() -> &'static ResourceType {
    rt("", "pods")
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int_at(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Whether `object` is controlled by the object with `uid`.
fn controlled_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid && r["controller"] == true))
}

fn owner_reference(owner: &Value) -> Value {
    serde_json::json!([{
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}
