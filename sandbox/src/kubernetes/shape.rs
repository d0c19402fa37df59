//! What an object must look like before it is stored: the checks a real API server's
//! validation makes for the fields the sandbox and its controllers rely on. A bad object is
//! `422 Invalid` with the fields at fault, never a crash later in a controller.

use serde_json::{Map, Value};

use super::resources::ResourceType;
use super::status::{ApiError, Cause};

pub fn validate(rt: &ResourceType, name: &str, object: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let mut check = |field: &str, ok: bool, message: &str| {
        if !ok {
            causes.push(Cause { field: field.to_owned(), message: message.to_owned() });
        }
    };
    let is_object_or_absent = |v: Option<&Value>| v.is_none_or(Value::is_object);
    check("metadata", is_object_or_absent(object.get("metadata")), "must be an object");
    for map in ["labels", "annotations"] {
        let value = object.pointer(&format!("/metadata/{map}"));
        check(&format!("metadata.{map}"), value.is_none_or(is_string_map), "must be a map of strings");
    }
    check("spec", is_object_or_absent(object.get("spec")), "must be an object");
    check("status", is_object_or_absent(object.get("status")), "must be an object");
    match rt.kind {
        "Deployment" | "ReplicaSet" => workload(object, &mut check),
        "Pod" => pod_spec(object.get("spec"), "spec", &mut check),
        "Role" | "ClusterRole" => {
            check("rules", object.get("rules").is_none_or(Value::is_array), "must be a list of rules")
        }
        "RoleBinding" | "ClusterRoleBinding" => binding(rt.kind, object, &mut check),
        _ => {}
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(rt, name, causes)) }
}

fn binding(kind: &str, object: &Value, check: &mut impl FnMut(&str, bool, &str)) {
    let role_kind = object.pointer("/roleRef/kind").and_then(Value::as_str);
    let supported: &[&str] = if kind == "RoleBinding" { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    check(
        "roleRef.kind",
        role_kind.is_some_and(|k| supported.contains(&k)),
        &format!("Unsupported value: supported values: {}", supported.join(", ")),
    );
    let role_name = object.pointer("/roleRef/name").and_then(Value::as_str);
    check("roleRef.name", role_name.is_some_and(|n| !n.is_empty()), "Required value");
    check("subjects", object.get("subjects").is_none_or(Value::is_array), "must be a list of subjects");
}

fn is_string_map(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.values().all(Value::is_string))
}

fn non_negative(value: Option<&Value>) -> bool {
    value.is_none_or(|v| v.as_i64().is_some_and(|n| n >= 0))
}

fn int_or_percent(value: Option<&Value>) -> bool {
    value.is_none_or(|v| {
        v.as_i64().is_some_and(|n| n >= 0)
            || v.as_str().and_then(|s| s.strip_suffix('%')).and_then(|n| n.parse::<u32>().ok()).is_some()
    })
}

fn workload(object: &Value, check: &mut impl FnMut(&str, bool, &str)) {
    let spec = object.get("spec");
    check("spec", spec.is_some_and(Value::is_object), "Required value");
    let at = |p: &str| object.pointer(p);
    check("spec.replicas", non_negative(at("/spec/replicas")), "must be greater than or equal to 0");
    for field in ["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"] {
        check(
            &format!("spec.{field}"),
            non_negative(at(&format!("/spec/{field}"))),
            "must be greater than or equal to 0",
        );
    }
    let strategy = at("/spec/strategy/type").map(|t| t.as_str().unwrap_or(""));
    check(
        "spec.strategy.type",
        strategy.is_none_or(|t| t == "RollingUpdate" || t == "Recreate"),
        "Unsupported value: supported values: \"Recreate\", \"RollingUpdate\"",
    );
    for field in ["maxSurge", "maxUnavailable"] {
        check(
            &format!("spec.strategy.rollingUpdate.{field}"),
            int_or_percent(at(&format!("/spec/strategy/rollingUpdate/{field}"))),
            "must be a non-negative integer or a percentage",
        );
    }
    let selector = at("/spec/selector/matchLabels");
    check("spec.selector", selector.is_some_and(is_string_map), "Required value: a map of labels to match");
    let labels = at("/spec/template/metadata/labels");
    check("spec.template.metadata.labels", labels.is_none_or(is_string_map), "must be a map of strings");
    if let (Some(Value::Object(selector)), Some(Value::Object(labels))) = (selector, labels) {
        check(
            "spec.template.metadata.labels",
            matches(selector, labels),
            "Invalid value: `selector` does not match template `labels`",
        );
    }
    check("spec.template", at("/spec/template").is_some_and(Value::is_object), "Required value");
    pod_spec(at("/spec/template/spec"), "spec.template.spec", check);
}

fn matches(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn pod_spec(spec: Option<&Value>, field: &str, check: &mut impl FnMut(&str, bool, &str)) {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_array);
    check(&format!("{field}.containers"), containers.is_some_and(|c| !c.is_empty()), "Required value");
    for (i, c) in containers.into_iter().flatten().enumerate() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let dns_label = !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        check(&format!("{field}.containers[{i}].name"), dns_label, "Invalid value: must be a DNS label");
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        check(&format!("{field}.containers[{i}].image"), !image.trim().is_empty(), "Required value");
        for list in ["command", "args"] {
            let ok = c.get(list).is_none_or(|l| l.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
            check(&format!("{field}.containers[{i}].{list}"), ok, "must be a list of strings");
        }
        let env_ok = c.get("env").is_none_or(|env| {
            env.as_array().is_some_and(|vars| {
                vars.iter().all(|v| v.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
            })
        });
        check(&format!("{field}.containers[{i}].env"), env_ok, "every variable needs a name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::resources::lookup;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        }})
    }

    fn fields(result: Result<(), ApiError>) -> Vec<String> {
        let details = result.expect_err("invalid").details.unwrap_or_default();
        details["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn workloads() {
        let rt = lookup("apps", "v1", "deployments").unwrap();
        assert!(validate(rt, "d", &deployment()).is_ok());
        let mut bad = deployment();
        bad["spec"]["replicas"] = json!(-1);
        bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "b"});
        bad["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
        assert_eq!(
            fields(validate(rt, "d", &bad)),
            ["spec.replicas", "spec.template.metadata.labels", "spec.template.spec.containers[0].image"]
        );
        assert_eq!(fields(validate(rt, "d", &json!({"spec": 5}))).first().map(String::as_str), Some("spec"));
        let labels = json!({"metadata": {"labels": {"a": 1}}, "spec": deployment()["spec"]});
        assert_eq!(fields(validate(rt, "d", &labels)), ["metadata.labels"]);
    }
}
