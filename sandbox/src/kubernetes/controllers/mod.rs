//! The controllers that make the sandbox cluster move: the deployment controller (replica
//! sets per template, rolling updates, status and conditions), the replica set controller
//! (pods), and a simulated kubelet (pod phases, readiness, image pulls).
//!
//! They are level-triggered, like Kubernetes' own: each pass compares what is with what
//! should be and takes one step, writing through the same store (and so the same resource
//! versions, conflicts and watch events) as any API client. A pass runs when the store has
//! changed since the last one, and at least every [`RESYNC`] for what only time changes (a
//! rollout's deadline); the kubelet skips pods that have settled.

mod deployment;
mod events;
mod kubelet;
mod replicaset;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::object::Object;
use super::resources::{self, ResourceType};
use super::store::Store;
use crate::registry::Registry;

pub use kubelet::Timings;

/// How often the controllers look.
const TICK: Duration = Duration::from_millis(100);

/// How often the deployment and replica set controllers look even when nothing changed.
const RESYNC: Duration = Duration::from_secs(1);

/// How long events are kept after they last happened, as an API server's default `--event-ttl`.
const EVENT_TTL: Duration = Duration::from_secs(3600);
/// How many events are kept at most (the most recent).
const EVENTS_KEPT: usize = 10_000;
/// How often old events are swept.
const EVENT_SWEEP: Duration = Duration::from_secs(10);

/// Runs the controllers on the current runtime until it shuts down.
pub fn spawn(store: Store, registry: Registry, timings: Timings) {
    tokio::spawn(async move {
        let mut kubelet = kubelet::Kubelet::new(registry, timings);
        let mut seen_version = 0;
        let mut last_resync = Instant::now();
        let mut last_sweep = Instant::now();
        loop {
            if store.current_version() != seen_version || last_resync.elapsed() >= RESYNC {
                seen_version = store.current_version();
                last_resync = Instant::now();
                deployment::reconcile_all(&store);
                replicaset::reconcile_all(&store);
            }
            kubelet.reconcile_all(&store);
            if last_sweep.elapsed() >= EVENT_SWEEP {
                last_sweep = Instant::now();
                events::expire(&store, EVENT_TTL, EVENTS_KEPT);
            }
            tokio::time::sleep(TICK).await;
        }
    });
}

/// Objects grouped by the uid of the object that controls them.
fn by_controller(objects: &[Object]) -> HashMap<&str, Vec<Object>> {
    let mut groups: HashMap<&str, Vec<Object>> = HashMap::new();
    for object in objects {
        if let Some(uid) = object.controller() {
            groups.entry(uid).or_default().push(object.clone());
        }
    }
    groups
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
