//! The deployment controller, after Kubernetes' own: one replica set per pod template, named
//! `<deployment>-<pod-template-hash>` and numbered by the `deployment.kubernetes.io/revision`
//! annotation; rolling updates stepped within maxSurge and maxUnavailable; Recreate; pause;
//! rollback by template (an old replica set whose template matches comes back with a new
//! revision); `revisionHistoryLimit`; and the status and conditions `kubectl rollout status`
//! reads, including `ProgressDeadlineExceeded`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::super::store::{Store, metadata_mut, now_rfc3339};
use super::super::table::parse_rfc3339;
use super::{by_controller, deployments, events, int_at, owner_reference, replicasets, str_at};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const TEMPLATE_HASH: &str = "pod-template-hash";

pub fn reconcile_all(store: &Store) {
    let Ok(all) = store.list(deployments(), None, |_| true, None, None) else { return };
    let Ok(sets) = store.list(replicasets(), None, |_| true, None, None) else { return };
    let mut owned = by_controller(&sets.items);
    for d in &all.items {
        let sets = owned.remove(d.uid()).unwrap_or_default();
        reconcile(store, &d.value(), sets.iter().map(|rs| Arc::new(rs.value())).collect());
    }
}

/// FNV-32a of the template, encoded with Kubernetes' safe alphabet, as the
/// `pod-template-hash` label looks.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let text = serde_json::to_string(&without_hash(template)).unwrap_or_default();
    let hash = text.bytes().fold(2_166_136_261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    hash.to_string().bytes().map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char).collect()
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(TEMPLATE_HASH);
    }
    t
}

fn revision(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(object: &Value) -> i64 {
    object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

/// An int-or-percent of `total`, rounded up (surge) or down (unavailable).
fn resolve(value: Option<&Value>, total: i64, default_percent: i64, round_up: bool) -> i64 {
    let percent = |p: i64| if round_up { (p * total + 99) / 100 } else { p * total / 100 };
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim_end_matches('%').parse().map(percent).unwrap_or(0),
        _ => percent(default_percent),
    }
}

fn reconcile(store: &Store, d: &Value, owned: Vec<Arc<Value>>) {
    let namespace = str_at(d, "/metadata/namespace").to_owned();
    let desired = replicas(d).max(0);
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool).unwrap_or(false);
    let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let template_key = without_hash(&template);
    let max_revision = owned.iter().map(|rs| revision(rs)).max().unwrap_or(0);

    let new_rs = owned
        .iter()
        .find(|rs| rs.pointer("/spec/template").map(without_hash).as_ref() == Some(&template_key))
        .cloned();
    let new_rs = match new_rs {
        Some(rs) if revision(&rs) < max_revision && !paused => {
            // A rollback to an old template: that replica set becomes the newest revision.
            let previous = revision(&rs);
            let revised =
                store.modify(replicasets(), &namespace, str_at(&rs, "/metadata/name"), false, |o| {
                    let annotations = annotations_mut(o);
                    annotations.insert(REVISION.into(), json!((max_revision + 1).to_string()));
                    annotations.insert(
                        "deployment.kubernetes.io/revision-history".into(),
                        json!(previous.to_string()),
                    );
                    if let Some(cause) = change_cause(d) {
                        annotations.insert(CHANGE_CAUSE.into(), cause);
                    }
                    Ok(())
                });
            revised.ok()
        }
        Some(rs) => Some(rs),
        None if !paused => create_replica_set(store, d, &template, max_revision + 1, desired, &owned),
        None => None,
    };
    let olds: Vec<&Arc<Value>> = owned
        .iter()
        .filter(|rs| new_rs.as_ref().is_none_or(|n| n["metadata"]["uid"] != rs["metadata"]["uid"]))
        .collect();

    if let Some(new_rs) = &new_rs {
        // The deployment carries its current revision too (`kubectl rollout undo` patches it).
        let current = revision(new_rs).to_string();
        if d.pointer("/metadata/annotations").and_then(|a| a.get(REVISION)).and_then(Value::as_str)
            != Some(&current)
        {
            let _ = store.modify(deployments(), &namespace, str_at(d, "/metadata/name"), false, |o| {
                annotations_mut(o).insert(REVISION.into(), json!(current));
                Ok(())
            });
        }
    }
    if !paused {
        if let Some(new_rs) = &new_rs {
            scale(store, d, new_rs, &olds, desired);
        }
        clean_up_history(store, d, &olds);
    }
    update_status(store, d, new_rs.as_deref(), &owned, desired, paused);
}

/// Why the deployment last changed, as `kubectl rollout history` shows it: copied onto the
/// replica set that becomes the new revision, as the real controller does.
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

fn change_cause(d: &Value) -> Option<Value> {
    d.pointer("/metadata/annotations").and_then(|a| a.get(CHANGE_CAUSE)).cloned()
}

fn annotations_mut(object: &mut Value) -> &mut Map<String, Value> {
    let meta = metadata_mut(object);
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta.insert("annotations".into(), json!({}));
    }
    meta["annotations"].as_object_mut().expect("annotations is an object")
}

fn create_replica_set(
    store: &Store,
    d: &Value,
    template: &Value,
    revision: i64,
    desired: i64,
    owned: &[Arc<Value>],
) -> Option<Arc<Value>> {
    let hash = template_hash(template);
    let namespace = str_at(d, "/metadata/namespace");
    let name = format!("{}-{hash}", str_at(d, "/metadata/name"));
    let mut template = template.clone();
    template["metadata"]["labels"][TEMPLATE_HASH] = json!(hash);
    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    selector["matchLabels"][TEMPLATE_HASH] = json!(hash);
    let surge = resolve(d.pointer("/spec/strategy/rollingUpdate/maxSurge"), desired, 25, true);
    // The first replica set of a deployment starts at full size; later ones start empty and
    // are scaled up by the rollout.
    let initial = if owned.is_empty() { desired } else { 0 };
    let rs = json!({
        "metadata": {
            "name": name,
            "labels": template["metadata"]["labels"],
            "annotations": {
                REVISION: revision.to_string(),
                "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                "deployment.kubernetes.io/max-replicas": (desired + surge).to_string(),
            },
            "ownerReferences": owner_reference(d),
        },
        "spec": { "replicas": initial, "selector": selector, "template": template },
    });
    let mut rs = rs;
    if let Some(cause) = change_cause(d) {
        rs["metadata"]["annotations"][CHANGE_CAUSE] = cause;
    }
    let created = store.create(replicasets(), namespace, rs).ok()?;
    if initial > 0 {
        events::emit(
            store,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled up replica set {name} from 0 to {initial}"),
            "deployment-controller",
        );
    }
    Some(created)
}

fn set_replicas(store: &Store, d: &Value, rs: &Value, to: i64) {
    let from = replicas(rs);
    if from == to {
        return;
    }
    let rs_name = str_at(rs, "/metadata/name");
    let updated = store.modify(replicasets(), str_at(rs, "/metadata/namespace"), rs_name, false, |o| {
        o["spec"]["replicas"] = json!(to);
        Ok(())
    });
    if updated.is_ok() {
        let direction = if to > from { "up" } else { "down" };
        events::emit(
            store,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled {direction} replica set {rs_name} from {from} to {to}"),
            "deployment-controller",
        );
    }
}

/// One step of the rollout.
fn scale(store: &Store, d: &Value, new_rs: &Value, olds: &[&Arc<Value>], desired: i64) {
    let recreate = str_at(d, "/spec/strategy/type") == "Recreate";
    if recreate {
        let old_running: i64 = olds.iter().map(|rs| replicas(rs) + int_at(rs, "/status/replicas")).sum();
        for rs in olds {
            set_replicas(store, d, rs, 0);
        }
        if old_running == 0 {
            set_replicas(store, d, new_rs, desired);
        }
        return;
    }
    let surge = resolve(d.pointer("/spec/strategy/rollingUpdate/maxSurge"), desired, 25, true);
    let mut unavailable =
        resolve(d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"), desired, 25, false);
    // Both zero would never move; Kubernetes then allows one unavailable pod.
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let new_replicas = replicas(new_rs);
    let old_replicas: i64 = olds.iter().map(|rs| replicas(rs)).sum();

    // Scale up the new replica set within the surge.
    if new_replicas > desired {
        set_replicas(store, d, new_rs, desired);
    } else if new_replicas < desired {
        let room = desired + surge - (new_replicas + old_replicas);
        let up = room.min(desired - new_replicas);
        if up > 0 {
            set_replicas(store, d, new_rs, new_replicas + up);
        }
    }

    // Scale down old replica sets while enough pods stay available.
    if old_replicas == 0 {
        return;
    }
    let min_available = desired - unavailable;
    let available: i64 = int_at(new_rs, "/status/availableReplicas")
        + olds.iter().map(|rs| int_at(rs, "/status/availableReplicas")).sum::<i64>();
    // Old pods that are not available can go at once: removing them costs no availability.
    let old_unavailable: i64 =
        olds.iter().map(|rs| (replicas(rs) - int_at(rs, "/status/availableReplicas")).max(0)).sum();
    let mut budget = (available - min_available).max(0) + old_unavailable;
    let mut oldest_first: Vec<&&Arc<Value>> = olds.iter().filter(|rs| replicas(rs) > 0).collect();
    oldest_first.sort_by_key(|rs| revision(rs));
    for rs in oldest_first {
        if budget <= 0 {
            break;
        }
        let down = replicas(rs).min(budget);
        set_replicas(store, d, rs, replicas(rs) - down);
        budget -= down;
    }
}

/// A replica set's available pods, never more than it is asked to keep: its status can lag
/// a scale-down by a tick, and counting pods about to go would let a rollout outrun readiness.
fn available_of(rs: &Value) -> i64 {
    int_at(rs, "/status/availableReplicas").min(replicas(rs)).min(int_at(rs, "/status/replicas"))
}

/// Deletes the oldest empty replica sets beyond `revisionHistoryLimit` (default 10).
fn clean_up_history(store: &Store, d: &Value, olds: &[&Arc<Value>]) {
    let limit = d.pointer("/spec/revisionHistoryLimit").and_then(Value::as_i64).unwrap_or(10).max(0) as usize;
    let mut empty: Vec<&&Arc<Value>> =
        olds.iter().filter(|rs| replicas(rs) == 0 && int_at(rs, "/status/replicas") == 0).collect();
    if empty.len() <= limit {
        return;
    }
    empty.sort_by_key(|rs| revision(rs));
    for rs in &empty[..empty.len() - limit] {
        let _ = store.delete(replicasets(), str_at(rs, "/metadata/namespace"), str_at(rs, "/metadata/name"));
    }
}

fn update_status(
    store: &Store,
    d: &Value,
    new_rs: Option<&Value>,
    owned: &[Arc<Value>],
    desired: i64,
    paused: bool,
) {
    let sum = |path: &str| owned.iter().map(|rs| int_at(rs, path)).sum::<i64>();
    let total = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available: i64 = owned.iter().map(|rs| available_of(rs)).sum();
    let updated = new_rs.map(|rs| int_at(rs, "/status/replicas")).unwrap_or(0);
    let unavailable_allowed =
        resolve(d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"), desired, 25, false);
    let old_status = d.get("status").cloned().unwrap_or(json!({}));
    let now = now_rfc3339();
    let rs_name = new_rs.map(|rs| str_at(rs, "/metadata/name").to_owned()).unwrap_or_default();

    let progressed = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"]
        .iter()
        .zip([total, updated, ready, available])
        .any(|(k, v)| old_status.get(*k).and_then(Value::as_i64).unwrap_or(0) != v)
        || old_status.get("observedGeneration") != d.pointer("/metadata/generation");
    let complete = updated == desired && total == desired && available == desired;
    let previous = condition(&old_status, "Progressing");
    let deadline = d.pointer("/spec/progressDeadlineSeconds").and_then(Value::as_i64).unwrap_or(600);

    let progressing = if paused {
        ("Unknown", "DeploymentPaused", "Deployment is paused".to_owned())
    } else if complete {
        ("True", "NewReplicaSetAvailable", format!("ReplicaSet \"{rs_name}\" has successfully progressed."))
    } else if progressed {
        ("True", "ReplicaSetUpdated", format!("ReplicaSet \"{rs_name}\" is progressing."))
    } else {
        let last = previous
            .and_then(|c| c.get("lastUpdateTime"))
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .unwrap_or(i64::MAX);
        let now_secs = parse_rfc3339(&now).unwrap_or(0);
        let already_failed = previous.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
        if already_failed || now_secs.saturating_sub(last) > deadline {
            (
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            )
        } else {
            ("True", "ReplicaSetUpdated", format!("ReplicaSet \"{rs_name}\" is progressing."))
        }
    };
    let available_ok = available >= desired - unavailable_allowed;
    let conditions = vec![
        merged_condition(
            &old_status,
            "Available",
            if available_ok { "True" } else { "False" },
            if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
            if available_ok {
                "Deployment has minimum availability."
            } else {
                "Deployment does not have minimum availability."
            },
            &now,
            false,
        ),
        merged_condition(
            &old_status,
            "Progressing",
            progressing.0,
            progressing.1,
            &progressing.2,
            &now,
            progressed,
        ),
    ];
    let mut status = json!({
        "observedGeneration": int_at(d, "/metadata/generation"),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": conditions,
    });
    if desired - available > 0 {
        status["unavailableReplicas"] = json!(desired - available);
    }
    if old_status != status {
        let _ = store.modify(
            deployments(),
            str_at(d, "/metadata/namespace"),
            str_at(d, "/metadata/name"),
            true,
            |o| {
                o["status"] = status;
                Ok(())
            },
        );
    }
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status.get("conditions").and_then(Value::as_array).and_then(|cs| cs.iter().find(|c| c["type"] == kind))
}

/// A condition keeps its times unless it changes; `touched` (progress) refreshes lastUpdateTime.
fn merged_condition(
    old_status: &Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    touched: bool,
) -> Value {
    let previous = condition(old_status, kind);
    let same = previous.is_some_and(|c| c["status"] == status && c["reason"] == reason);
    let keep = |field: &str| previous.and_then(|c| c.get(field)).cloned().unwrap_or(json!(now));
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": if same && !touched { keep("lastUpdateTime") } else { json!(now) },
        "lastTransitionTime": if previous.is_some_and(|c| c["status"] == status) { keep("lastTransitionTime") } else { json!(now) },
    })
}
