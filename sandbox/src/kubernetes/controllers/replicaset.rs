//! The replica set controller: keeps as many pods as a replica set asks for, made from its
//! template, and reports how many exist, are ready and are available.

use serde_json::{Value, json};

use super::super::object::Object;
use super::super::store::Store;
use super::{by_controller, events, int_at, owner_reference, pods, replicasets, str_at};

pub fn reconcile_all(store: &Store) {
    let Ok(sets) = store.list(replicasets(), None, |_| true, None, None) else { return };
    let Ok(all_pods) = store.list(pods(), None, |_| true, None, None) else { return };
    let mut owned = by_controller(&all_pods.items);
    for rs in &sets.items {
        let pods = owned.remove(rs.uid()).unwrap_or_default();
        reconcile(store, &rs.value(), &pods);
    }
}

fn reconcile(store: &Store, rs: &Value, owned: &[Object]) {
    let namespace = str_at(rs, "/metadata/namespace");
    let name = str_at(rs, "/metadata/name");
    let desired = rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0) as usize;
    let mut current = owned.len();
    let mut deleted: Vec<String> = Vec::new();
    if current < desired {
        let missing = desired - current;
        current += (0..missing).filter(|_| create_pod(store, rs).is_ok()).count();
    } else if current > desired {
        // Not-ready pods go first, then the newest, as the real controller ranks them.
        let mut victims: Vec<(bool, Value)> = owned.iter().map(|p| (p.is_ready(), p.value())).collect();
        victims.sort_by_key(|(ready, p)| {
            (*ready, std::cmp::Reverse(str_at(p, "/metadata/creationTimestamp").to_owned()))
        });
        for (_, pod) in victims.iter().take(current - desired) {
            let pod_name = str_at(pod, "/metadata/name");
            if store.delete(pods(), namespace, pod_name).is_ok() {
                current -= 1;
                deleted.push(pod_name.to_owned());
                events::emit(
                    store,
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod_name}"),
                    "replicaset-controller",
                );
            }
        }
    }
    // Counted over the pods that are left: a deleted pod is no longer available.
    let ready = owned.iter().filter(|p| p.is_ready() && !deleted.iter().any(|d| d == p.name())).count();
    let status = json!({
        "replicas": current,
        "fullyLabeledReplicas": current,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": int_at(rs, "/metadata/generation"),
    });
    if rs.get("status") != Some(&status) {
        let _ = store.modify(super::replicasets(), namespace, name, true, |object| {
            object["status"] = status;
            Ok(())
        });
    }
}

fn create_pod(store: &Store, rs: &Value) -> Result<(), super::super::status::ApiError> {
    let namespace = str_at(rs, "/metadata/namespace");
    let name = str_at(rs, "/metadata/name");
    let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut metadata = template.get("metadata").cloned().unwrap_or(json!({}));
    metadata["generateName"] = json!(format!("{name}-"));
    metadata["ownerReferences"] = owner_reference(rs);
    let pod = json!({
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
        "status": { "phase": "Pending", "qosClass": "BestEffort" },
    });
    let created = store.create(pods(), namespace, pod)?;
    events::emit(
        store,
        rs,
        "Normal",
        "SuccessfulCreate",
        &format!("Created pod: {}", str_at(&created, "/metadata/name")),
        "replicaset-controller",
    );
    Ok(())
}
