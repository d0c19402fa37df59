//! The OpenAPI v3 documents kubectl reads before it writes from a file (`kubectl create -f`,
//! `kubectl apply -f`): from them it learns that the server validates fields itself (the
//! `fieldValidation` parameter), so it sends its objects instead of validating them against
//! a schema first. The documents describe the paths and that parameter, not the types' schemas:
//! kubectl then computes apply patches from the types it was built with, as it does for any
//! built-in kind.

use serde_json::{Map, Value, json};

use super::resources::{self, ResourceType, TYPES};

/// `GET /openapi/v3`: where each group version's document is.
pub fn root() -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions() {
        let path = prefix(group, version);
        paths.insert(
            path.trim_start_matches('/').to_owned(),
            json!({ "serverRelativeURL": format!("/openapi/v3{path}?hash={}", super::MINOR) }),
        );
    }
    json!({ "paths": paths })
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`.
pub fn group_version(group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> =
        TYPES.iter().filter(|t| t.group == group && t.version == version).collect();
    if types.is_empty() {
        return None;
    }
    let field_validation = json!({
        "name": "fieldValidation",
        "in": "query",
        "description": "how the server treats unknown or duplicate fields: Ignore, Warn or Strict",
        "schema": { "type": "string", "uniqueItems": true },
    });
    let mut paths = Map::new();
    for t in types {
        let gvk = json!({ "group": t.group, "version": t.version, "kind": t.kind });
        let collection = match t.namespaced {
            true => format!("{}/namespaces/{{namespace}}/{}", prefix(group, version), t.plural),
            false => format!("{}/{}", prefix(group, version), t.plural),
        };
        let operation = |id: &str| {
            json!({
                "operationId": format!("{id}{}", t.kind),
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [field_validation],
                "responses": { "200": { "description": "OK" } },
            })
        };
        paths.insert(collection.clone(), json!({ "post": operation("create") }));
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({ "put": operation("replace"), "patch": operation("patch") }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": format!("v1.{}.0", super::MINOR) },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut gvs = vec![("", "v1")];
    gvs.extend(resources::groups());
    gvs
}

fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") }
}
