//! The PATCH flavours clients send: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! Kubernetes' strategic merge patch, which merges the lists it knows by a key (containers and
//! env by name, ports by containerPort, ...) and understands kubectl's directives
//! (`$patch: delete|replace`, `$setElementOrder/<list>`, `$retainKeys`,
//! `$deleteFromPrimitiveList/<list>`).

use serde_json::{Map, Value};

use super::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Applies a patch of the given type. An apply configuration is merged strategically: the
/// sandbox keeps no field ownership, so `force` is what every apply gets.
pub fn apply(kind: PatchType, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    match kind {
        PatchType::Merge => {
            merge_patch(target, patch);
            Ok(())
        }
        PatchType::Json => json_patch(target, patch),
        PatchType::Strategic | PatchType::Apply => strategic_merge_patch(target, patch),
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// RFC 6902 operations, applied in order; any failure leaves `target` untouched.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let operations = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array of operations"))?;
    let mut doc = target.clone();
    for op in operations {
        let field = |name: &str| {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request(format!("JSON patch operation without {name:?}: {op}")))
        };
        let path = field("path")?;
        match field("op")? {
            "add" => add(&mut doc, path, op.get("value").cloned().unwrap_or(Value::Null))?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, op.get("value").cloned().unwrap_or(Value::Null))?;
            }
            "move" => {
                let value = remove(&mut doc, field("from")?)?;
                add(&mut doc, path, value)?;
            }
            "copy" => {
                let value = doc
                    .pointer(field("from")?)
                    .cloned()
                    .ok_or_else(|| missing(field("from").unwrap_or("")))?;
                add(&mut doc, path, value)?;
            }
            "test" => {
                if doc.pointer(path) != op.get("value") {
                    return Err(ApiError::bad_request(format!("JSON patch test failed at {path}")));
                }
            }
            other => return Err(ApiError::bad_request(format!("unknown JSON patch operation {other:?}"))),
        }
    }
    *target = doc;
    Ok(())
}

fn missing(path: &str) -> ApiError {
    ApiError::bad_request(format!("JSON patch path {path:?} does not exist"))
}

fn split_pointer(path: &str) -> Result<(String, String), ApiError> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| ApiError::bad_request(format!("invalid JSON pointer {path:?}")))?;
    Ok((parent.to_owned(), last.replace("~1", "/").replace("~0", "~")))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, key) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(key, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = if key == "-" { items.len() } else { key.parse().map_err(|_| missing(path))? };
            if index > items.len() {
                return Err(missing(path));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, key) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => map.remove(&key).ok_or_else(|| missing(path)),
        Some(Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| missing(path))?;
            if index >= items.len() {
                return Err(missing(path));
            }
            Ok(items.remove(index))
        }
        _ => Err(missing(path)),
    }
}

/// The merge key of the lists strategic merge patch merges element-wise, by the list's field
/// name (the same names in pod templates and pods). Other lists are replaced whole, and so is a
/// list whose patch items lack the key (a Service's `ports`, keyed by `port`, for instance).
fn merge_key(list: &str) -> Option<&'static str> {
    Some(match list {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => {
            "name"
        }
        "conditions" => "type",
        "readinessGates" => "conditionType",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        _ => return None,
    })
}

/// Kubernetes' strategic merge patch over JSON.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else { return Ok(()) };
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let keyed = |items: &[Value], k: &str| items.iter().all(|i| i.get(k).is_some());
        match (value, merge_key(key)) {
            (Value::Array(items), Some(merge_key)) if keyed(items, merge_key) => {
                let current = map.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                let before = current.as_array().cloned().unwrap_or_default();
                merge_list(current, items, merge_key)?;
                match patch.get(&format!("$setElementOrder/{key}")).and_then(Value::as_array) {
                    Some(order) => reorder(current, order, merge_key),
                    None => order_as_patched(current, &before, items, merge_key),
                }
                // The API omits empty lists (Go's omitempty), so a list emptied by deletes goes.
                if current.as_array().is_some_and(Vec::is_empty) {
                    map.remove(key);
                }
            }
            (Value::Object(_), _) => {
                strategic_merge_patch(map.entry(key.clone()).or_insert(Value::Null), value)?;
            }
            _ => {
                map.insert(key.clone(), value.clone());
            }
        }
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<&Value> = value.as_array().map(|v| v.iter().collect()).unwrap_or_default();
            if let Some(Value::Array(items)) = map.get_mut(list) {
                items.retain(|item| !remove.contains(&item));
            }
        }
    }
    Ok(())
}

fn merge_list(current: &mut Value, patch_items: &[Value], key: &str) -> Result<(), ApiError> {
    if !current.is_array() {
        *current = Value::Array(Vec::new());
    }
    let Some(items) = current.as_array_mut() else { return Ok(()) };
    for patch_item in patch_items {
        let Some(id) = patch_item.get(key).cloned() else { continue };
        let position = items.iter().position(|i| i.get(key) == Some(&id));
        match patch_item.get("$patch").and_then(Value::as_str) {
            Some("delete") => {
                if let Some(p) = position {
                    items.remove(p);
                }
            }
            Some("replace") => {
                let mut replacement = patch_item.clone();
                if let Some(m) = replacement.as_object_mut() {
                    m.remove("$patch");
                }
                match position {
                    Some(p) => items[p] = replacement,
                    None => items.push(replacement),
                }
            }
            _ => match position {
                Some(p) => strategic_merge_patch(&mut items[p], patch_item)?,
                None => {
                    let mut fresh = Value::Null;
                    strategic_merge_patch(&mut fresh, patch_item)?;
                    items.push(fresh);
                }
            },
        }
    }
    Ok(())
}

/// Without `$setElementOrder`, a merged list is ordered as the API server's
/// `normalizeElementOrder` does: the patch's elements in patch order and the others in their
/// old order, merged so that two elements of the old list keep their old order, and where
/// either is new to the list, the patch's comes first (so a new env var leads the list).
fn order_as_patched(current: &mut Value, before: &[Value], patch_items: &[Value], key: &str) {
    let Some(items) = current.as_array_mut() else { return };
    let old_position = |item: &Value| before.iter().position(|b| b.get(key) == item.get(key));
    let patch_position = |item: &Value| patch_items.iter().position(|p| p.get(key) == item.get(key));
    let (mut patched, server_only): (Vec<Value>, Vec<Value>) =
        std::mem::take(items).into_iter().partition(|item| patch_position(item).is_some());
    patched.sort_by_key(|item| patch_position(item));
    let (mut left, mut right) = (patched.into_iter().peekable(), server_only.into_iter().peekable());
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let right_first = matches!((old_position(l), old_position(r)), (Some(a), Some(b)) if b < a);
        items.extend(if right_first { right.next() } else { left.next() });
    }
    items.extend(left);
    items.extend(right);
}

/// `$setElementOrder/<list>`: the listed elements first, in that order; the rest after.
fn reorder(current: &mut Value, order: &[Value], key: &str) {
    let Some(items) = current.as_array_mut() else { return };
    let mut ordered = Vec::with_capacity(items.len());
    for wanted in order {
        if let Some(id) = wanted.get(key)
            && let Some(p) = items.iter().position(|i| i.get(key) == Some(id))
        {
            ordered.push(items.remove(p));
        }
    }
    ordered.append(items);
    *items = ordered;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "app", "image": "busybox", "env": [
                {"name": "DEMO_GREETING", "value": "Hello Kubernetes!"},
                {"name": "LOG_LEVEL", "value": "info"}
            ]},
            {"name": "sidecar", "image": "envoy:1"}
        ]}}}})
    }

    #[test]
    fn merge_patches() {
        let mut d = deployment();
        merge_patch(
            &mut d,
            &json!({"spec": {"replicas": 4, "paused": true}, "metadata": {"labels": {"a": "b"}}}),
        );
        assert_eq!(d["spec"]["replicas"], 4);
        assert_eq!(d["spec"]["paused"], true);
        assert_eq!(d["metadata"]["labels"]["a"], "b");
        merge_patch(&mut d, &json!({"spec": {"paused": null}}));
        assert!(d["spec"].get("paused").is_none());
    }

    /// What `kubectl set image` and `kubectl set env` send.
    /// As the real API server orders them (found by scripts/conformance.sh): a new element
    /// leads, elements already there keep their order.
    #[test]
    fn merged_lists_are_ordered_as_the_api_server_orders_them() {
        let mut d = deployment();
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "MODE", "value": "blue"}, {"name": "LOG_LEVEL", "value": "debug"}]}
        ]}}}});
        strategic_merge_patch(&mut d, &patch).unwrap();
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        let names: Vec<&str> = env.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["MODE", "DEMO_GREETING", "LOG_LEVEL"]);
    }

    #[test]
    fn strategic_merge_by_name() {
        let mut d = deployment();
        strategic_merge_patch(
            &mut d,
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"name": "app", "image": "myapp:3f2a9c1",
                    "$setElementOrder/env": [{"name": "DEMO_GREETING"}, {"name": "LOG_LEVEL"}],
                    "env": [{"name": "DEMO_GREETING", "value": "Another Hello Kubernetes!"}]}]
            }}}}),
        )
        .unwrap();
        let containers = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "myapp:3f2a9c1");
        assert_eq!(containers[0]["env"][0]["value"], "Another Hello Kubernetes!");
        assert_eq!(containers[0]["env"][1]["value"], "info");
        assert_eq!(containers[1]["image"], "envoy:1", "the other container is untouched");

        strategic_merge_patch(
            &mut d,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "app",
                "env": [{"$patch": "delete", "name": "LOG_LEVEL"}]}]}}}}),
        )
        .unwrap();
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env.as_array().unwrap().len(), 1);

        // Items without the merge key replace the list, as for lists with no merge key.
        let mut svc = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        strategic_merge_patch(&mut svc, &json!({"spec": {"ports": [{"port": 8080}]}})).unwrap();
        assert_eq!(svc["spec"]["ports"], json!([{"port": 8080}]));
    }

    /// What `kubectl rollout undo` sends, and the failure cases.
    #[test]
    fn json_patches() {
        let mut d = deployment();
        json_patch(
            &mut d,
            &json!([
                {"op": "replace", "path": "/spec/template", "value": {"spec": {"containers": [{"name": "app", "image": "old"}]}}},
                {"op": "add", "path": "/metadata", "value": {"annotations": {"a/b": "1"}}},
                {"op": "test", "path": "/spec/replicas", "value": 2}
            ]),
        )
        .unwrap();
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "old");
        assert_eq!(d.pointer("/metadata/annotations/a~1b").unwrap(), "1");
        let before = d.clone();
        let err = json_patch(
            &mut d,
            &json!([{"op": "remove", "path": "/spec/replicas"}, {"op": "remove", "path": "/nope/x"}]),
        );
        assert_eq!(err.unwrap_err().code, 400);
        assert_eq!(d, before, "a failed patch changes nothing");
    }
}
