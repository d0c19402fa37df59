//! A simulated kubelet on one node: pods are scheduled, their images pulled from the sandbox
//! registry, their containers started and, after a readiness delay, marked ready. An image the
//! registry does not have fails with `ErrImagePull`, then `ImagePullBackOff`. The delays are
//! configurable so demos can be watched and tests stay quick.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::store::{Store, now_rfc3339};
use super::{events, pods, str_at};
use crate::registry::Registry;

/// The one node the sandbox has.
pub const NODE: &str = "sandbox-node-1";

/// How long each step of a pod's start takes.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// From scheduled to image pulled (or failed to pull).
    pub pull: Duration,
    /// From pulled to running.
    pub start: Duration,
    /// From running to ready.
    pub ready: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            pull: Duration::from_millis(300),
            start: Duration::from_millis(300),
            ready: Duration::from_millis(600),
        }
    }
}

pub struct Kubelet {
    registry: Registry,
    timings: Timings,
    /// When this kubelet first saw each pod (by uid): the pod's clock.
    seen: HashMap<String, Instant>,
}

impl Kubelet {
    pub fn new(registry: Registry, timings: Timings) -> Self {
        Self { registry, timings, seen: HashMap::new() }
    }

    pub fn reconcile_all(&mut self, store: &Store) {
        let Ok(all) = store.list(pods(), None, |_| true, None, None) else { return };
        let now = Instant::now();
        let live: std::collections::HashSet<&str> =
            all.items.iter().map(|p| str_at(p, "/metadata/uid")).collect();
        self.seen.retain(|uid, _| live.contains(uid.as_str()));
        for pod in &all.items {
            let uid = str_at(pod, "/metadata/uid").to_owned();
            let first_seen = *self.seen.entry(uid).or_insert(now);
            self.step(store, pod, now.duration_since(first_seen));
        }
    }

    fn step(&self, store: &Store, pod: &Value, age: Duration) {
        let namespace = str_at(pod, "/metadata/namespace");
        let name = str_at(pod, "/metadata/name");
        let containers: Vec<Value> =
            pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
        let missing: Vec<String> = containers
            .iter()
            .map(|c| str_at(c, "/image").to_owned())
            .filter(|image| !self.registry.has(image))
            .collect();
        let t = self.timings;
        let (phase, state, ready): (&str, Box<dyn Fn(&Value) -> Value>, bool) = if age < t.pull {
            ("Pending", Box::new(|_| json!({ "waiting": { "reason": "ContainerCreating" } })), false)
        } else if !missing.is_empty() {
            let reason = if age < t.pull * 4 { "ErrImagePull" } else { "ImagePullBackOff" };
            let registry = self.registry.clone();
            (
                "Pending",
                Box::new(move |c: &Value| {
                    let image = str_at(c, "/image");
                    if registry.has(image) {
                        json!({ "waiting": { "reason": "PodInitializing" } })
                    } else {
                        json!({ "waiting": {
                            "reason": reason,
                            "message": format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"),
                        } })
                    }
                }),
                false,
            )
        } else if age < t.pull + t.start {
            ("Pending", Box::new(|_| json!({ "waiting": { "reason": "ContainerCreating" } })), false)
        } else {
            let started = pod
                .pointer("/status/containerStatuses/0/state/running/startedAt")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(now_rfc3339);
            (
                "Running",
                Box::new(move |_| json!({ "running": { "startedAt": started } })),
                age >= t.pull + t.start + t.ready,
            )
        };

        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let running = phase == "Running";
                json!({
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": if running { json!(format!("sandbox-registry/{}", str_at(c, "/image"))) } else { json!("") },
                    "ready": ready,
                    "started": running,
                    "restartCount": 0,
                    "state": state(c),
                })
            })
            .collect();
        let condition =
            |kind: &str, ok: bool| json!({ "type": kind, "status": if ok { "True" } else { "False" } });
        let mut status = json!({
            "phase": phase,
            "hostIP": "10.0.0.1",
            "podIP": pod_ip(name),
            "qosClass": "BestEffort",
            "conditions": [
                condition("PodScheduled", true),
                condition("Initialized", true),
                condition("ContainersReady", ready),
                condition("Ready", ready),
            ],
            "containerStatuses": statuses,
        });
        let previous = pod.get("status").cloned().unwrap_or(Value::Null);
        status["startTime"] = previous.get("startTime").cloned().unwrap_or_else(|| json!(now_rfc3339()));
        carry_transition_times(&mut status, &previous);
        let scheduled = !str_at(pod, "/spec/nodeName").is_empty();
        if scheduled && previous == status {
            return;
        }
        let changed_phase = previous.get("phase") != status.get("phase");
        let pulled_fail = missing.first().cloned();
        if !scheduled {
            // The binding: a write to the pod itself, as the scheduler's is.
            let bound = store.modify(pods(), namespace, name, false, |object| {
                object["spec"]["nodeName"] = json!(NODE);
                Ok(())
            });
            if bound.is_err() {
                return;
            }
        }
        let result = store.modify(pods(), namespace, name, true, |object| {
            object["status"] = status.clone();
            Ok(())
        });
        let Ok(updated) = result else { return };
        if !scheduled {
            events::emit(
                store,
                &updated,
                "Normal",
                "Scheduled",
                &format!("Successfully assigned {namespace}/{name} to {NODE}"),
                "default-scheduler",
            );
            for c in &containers {
                events::emit(
                    store,
                    &updated,
                    "Normal",
                    "Pulling",
                    &format!("Pulling image \"{}\"", str_at(c, "/image")),
                    "kubelet",
                );
            }
        } else if changed_phase && phase == "Running" {
            for c in &containers {
                events::emit(
                    store,
                    &updated,
                    "Normal",
                    "Started",
                    &format!("Started container {}", str_at(c, "/name")),
                    "kubelet",
                );
            }
        } else if let Some(image) = pulled_fail {
            let reason = str_at(&status, "/containerStatuses/0/state/waiting/reason");
            if previous.pointer("/containerStatuses/0/state/waiting/reason").and_then(Value::as_str)
                != Some(reason)
            {
                let (kind, why, message) = if reason == "ErrImagePull" {
                    ("Warning", "Failed", format!("Failed to pull image \"{image}\": not found"))
                } else {
                    ("Normal", "BackOff", format!("Back-off pulling image \"{image}\""))
                };
                events::emit(store, &updated, kind, why, &message, "kubelet");
            }
        }
    }
}

/// Conditions keep the time they last changed, so they do not churn on every tick.
fn carry_transition_times(status: &mut Value, previous: &Value) {
    let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) else { return };
    for c in conditions {
        let before = previous
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|p| p["type"] == c["type"]));
        c["lastTransitionTime"] = match before {
            Some(p) if p["status"] == c["status"] => p["lastTransitionTime"].clone(),
            _ => json!(now_rfc3339()),
        };
    }
}

/// A stable, plausible pod IP from the pod's name.
fn pod_ip(name: &str) -> String {
    let hash = name.bytes().fold(2_166_136_261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    format!("10.244.{}.{}", (hash >> 8) & 0xff, (hash & 0xfe) + 1)
}
