//! Discovery: the documents clients read to learn which groups, versions and resources the
//! server has, and what kubectl's short names (`deploy`, `po`, `ns`, ...) stand for.

use serde_json::{Value, json};

use super::resources::{self, ResourceType, TYPES};

/// `GET /api`: the core group's versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

/// `GET /apis`: the named groups.
pub fn group_list() -> Value {
    let groups: Vec<Value> = resources::groups().into_iter().map(|(g, v)| group(g, v)).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `GET /apis/<group>`.
pub fn group_document(name: &str) -> Option<Value> {
    let (g, v) = resources::groups().into_iter().find(|(g, _)| *g == name)?;
    let mut doc = group(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn group(name: &str, version: &str) -> Value {
    let gv = json!({ "groupVersion": format!("{name}/{version}"), "version": version });
    json!({ "name": name, "versions": [gv.clone()], "preferredVersion": gv })
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`: the resources and their subresources.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> =
        TYPES.iter().filter(|t| t.group == group && t.version == version).collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in types {
        resources.push(json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": resources::verbs(),
            "shortNames": t.short_names,
        }));
        for sub in t.subresources {
            let (kind, verbs, sub_group, sub_version): (&str, &[&str], Option<&str>, Option<&str>) =
                match *sub {
                    "status" => (t.kind, &["get", "patch", "update"], None, None),
                    "scale" => ("Scale", &["get", "patch", "update"], Some("autoscaling"), Some("v1")),
                    "log" => ("Pod", &["get"], None, None),
                    "token" => ("TokenRequest", &["create"], Some("authentication.k8s.io"), Some("v1")),
                    _ => continue,
                };
            let mut entry = json!({
                "name": format!("{}/{sub}", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let (Some(g), Some(v)) = (sub_group, sub_version) {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
