//! A simulated kubelet on one node: pods are scheduled, their images pulled from the sandbox
//! registry, their containers started and, after a readiness delay, marked ready. An image the
//! registry does not have fails with `ErrImagePull`, then `ImagePullBackOff`. The delays are
//! configurable so demos can be watched and tests stay quick.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use std::time::SystemTime;

use super::super::logs;
use super::super::object::Object;
use super::super::store::{Store, now_rfc3339, rfc3339};
use super::super::table::parse_rfc3339;
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
    /// How long a container whose command fails runs before it exits.
    pub crash_after: Duration,
    /// The first restart back-off; it doubles per restart, up to ten times this.
    pub back_off: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            pull: Duration::from_millis(300),
            start: Duration::from_millis(300),
            ready: Duration::from_millis(600),
            crash_after: Duration::from_secs(1),
            back_off: Duration::from_secs(2),
        }
    }
}

/// One container's state as the kubelet reports it.
struct ContainerRun {
    state: Value,
    ready: bool,
    restarts: u32,
    last_state: Value,
}

impl ContainerRun {
    fn waiting(reason: &str, message: Option<String>) -> Self {
        let mut waiting = json!({ "reason": reason });
        if let Some(m) = message {
            waiting["message"] = json!(m);
        }
        Self { state: json!({ "waiting": waiting }), ready: false, restarts: 0, last_state: json!({}) }
    }
}

/// A started container: running (and ready after the delay) if its command does not fail;
/// otherwise runs, exits with its code, waits out a doubling back-off and starts again:
/// `CrashLoopBackOff`, with its restart count and last termination.
fn run_state(
    container: &Value,
    name: &str,
    since_start: Duration,
    started_at: SystemTime,
    t: Timings,
) -> ContainerRun {
    let Some(code) = logs::exit_code(container) else {
        return ContainerRun {
            state: json!({ "running": { "startedAt": rfc3339(started_at) } }),
            ready: since_start >= t.ready,
            restarts: 0,
            last_state: json!({}),
        };
    };
    let terminated = |from: Duration, to: Duration| {
        json!({ "terminated": {
            "exitCode": code,
            "reason": "Error",
            "startedAt": rfc3339(started_at + from),
            "finishedAt": rfc3339(started_at + to),
        } })
    };
    let (mut start, mut restarts, mut last) = (Duration::ZERO, 0u32, json!({}));
    loop {
        let end = start + t.crash_after;
        if since_start < end {
            return ContainerRun {
                state: json!({ "running": { "startedAt": rfc3339(started_at + start) } }),
                ready: false,
                restarts,
                last_state: last,
            };
        }
        let back_off = (t.back_off * 2u32.saturating_pow(restarts.min(16))).min(t.back_off * 10);
        let restart_at = end + back_off;
        if since_start < restart_at || restarts > 100_000 {
            return ContainerRun {
                state: json!({ "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!("back-off {}s restarting failed container={name}", back_off.as_secs()),
                } }),
                ready: false,
                restarts: restarts + 1,
                last_state: terminated(start, end),
            };
        }
        last = terminated(start, end);
        restarts += 1;
        start = restart_at;
    }
}

pub struct Kubelet {
    registry: Registry,
    timings: Timings,
    /// Each pod this kubelet runs, by uid.
    seen: HashMap<String, PodClock>,
}

struct PodClock {
    /// When this kubelet first saw the pod, monotonic and wall-clock: the pod's clock.
    first_seen: Instant,
    wall: SystemTime,
    /// The resource version at which the pod was running and ready with nothing left to do;
    /// until the pod changes, there is nothing to look at.
    settled_at: Option<u64>,
}

impl Kubelet {
    pub fn new(registry: Registry, timings: Timings) -> Self {
        Self { registry, timings, seen: HashMap::new() }
    }

    pub fn reconcile_all(&mut self, store: &Store) {
        let Ok(all) = store.list(pods(), None, |_| true, None, None) else { return };
        let now = Instant::now();
        let live: std::collections::HashSet<&str> = all.items.iter().map(Object::uid).collect();
        self.seen.retain(|uid, _| live.contains(uid.as_str()));
        for object in &all.items {
            let (uid, version) = (object.uid(), object.resource_version());
            if self.seen.get(uid).is_some_and(|clock| clock.settled_at == Some(version)) {
                continue;
            }
            // Only a pod with something left to do is read whole.
            let pod = object.value();
            let clock = self.seen.entry(uid.to_owned()).or_insert_with(|| {
                // A pod that ran before (a restarted sandbox) keeps its age from its start time.
                let wall = str_at(&pod, "/status/startTime");
                let wall = parse_rfc3339(wall)
                    .and_then(|secs| u64::try_from(secs).ok())
                    .map_or_else(SystemTime::now, |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
                let age = SystemTime::now().duration_since(wall).unwrap_or_default();
                PodClock { first_seen: now.checked_sub(age).unwrap_or(now), wall, settled_at: None }
            });
            let (age, wall) = (now.duration_since(clock.first_seen), clock.wall);
            let settled = self.step(store, &pod, age, wall);
            if let Some(clock) = self.seen.get_mut(uid) {
                clock.settled_at = settled.then_some(version);
            }
        }
    }

    /// Moves the pod one step on; true when it is running and ready and nothing would change.
    fn step(&self, store: &Store, pod: &Value, age: Duration, first_seen: SystemTime) -> bool {
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
        let pulling_failed = age >= t.pull && !missing.is_empty();
        let phase = if age >= t.pull + t.start && missing.is_empty() { "Running" } else { "Pending" };
        // Wall-clock time the containers started, from this kubelet's own clock for the pod.
        let started_at = first_seen + t.pull + t.start;
        let runs: Vec<ContainerRun> = containers
            .iter()
            .map(|c| {
                let image = str_at(c, "/image");
                if age < t.pull {
                    ContainerRun::waiting("ContainerCreating", None)
                } else if pulling_failed && !self.registry.has(image) {
                    let reason = if age < t.pull * 4 { "ErrImagePull" } else { "ImagePullBackOff" };
                    let message = format!(
                        "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
                    );
                    ContainerRun::waiting(reason, Some(message))
                } else if pulling_failed {
                    ContainerRun::waiting("PodInitializing", None)
                } else if phase == "Pending" {
                    ContainerRun::waiting("ContainerCreating", None)
                } else {
                    run_state(c, str_at(c, "/name"), age - (t.pull + t.start), started_at, t)
                }
            })
            .collect();
        let ready = phase == "Running" && runs.iter().all(|r| r.ready);

        let statuses: Vec<Value> = containers
            .iter()
            .zip(&runs)
            .map(|(c, run)| {
                let image_id = if phase == "Running" {
                    format!("sandbox-registry/{}", str_at(c, "/image"))
                } else {
                    String::new()
                };
                json!({
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": image_id,
                    "ready": run.ready,
                    "started": run.state.get("running").is_some(),
                    "restartCount": run.restarts,
                    "state": run.state,
                    "lastState": run.last_state,
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
            let crash_looping = containers.iter().any(|c| logs::exit_code(c).is_some());
            return ready && !crash_looping;
        }
        let changed_phase = previous.get("phase") != status.get("phase");
        let pulled_fail = missing.first().cloned();
        let restarts =
            |st: &Value| st.pointer("/containerStatuses/0/restartCount").and_then(Value::as_u64).unwrap_or(0);
        let new_crash = restarts(&status) > restarts(&previous);
        if !scheduled {
            // The binding: a write to the pod itself, as the scheduler's is.
            let bound = store.modify(pods(), namespace, name, false, |object| {
                object["spec"]["nodeName"] = json!(NODE);
                Ok(())
            });
            if bound.is_err() {
                return false;
            }
        }
        let result = store.modify(pods(), namespace, name, true, |object| {
            object["status"] = status.clone();
            Ok(())
        });
        let Ok(updated) = result else { return false };
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
        } else if new_crash {
            let container = str_at(&containers[0], "/name");
            let message =
                format!("Back-off restarting failed container {container} in pod {name}_{namespace}");
            events::emit(store, &updated, "Warning", "BackOff", &message, "kubelet");
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
        false
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
