//! Authorization as a cluster's RBAC authorizer decides it: a ServiceAccount may do what the
//! Roles and ClusterRoles bound to it (by RoleBindings in the request's namespace and by
//! ClusterRoleBindings) allow, matched on API group, resource and subresource, verb and
//! object name. The admin token may do anything. Discovery and the OpenAPI documents are open
//! to every authenticated caller, as `system:discovery` makes them on a real cluster.
//!
//! Refusals carry the API server's own `Status` wording, which clients show as it is.

use serde_json::{Value, json};

use super::auth::Identity;
use super::resources::{self, ResourceType};
use super::status::ApiError;
use super::store::Store;

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    /// Empty at the cluster scope.
    pub namespace: String,
    /// Empty for requests on a collection.
    pub name: String,
}

impl Attributes {
    fn plural_and_sub(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// Whether `identity` may do what `attributes` says; the refusal is a 403 `Status`.
pub fn authorize(store: &Store, identity: &Identity, attributes: &Attributes) -> Result<(), ApiError> {
    if allows(store, identity, attributes) {
        return Ok(());
    }
    let user = user_name(identity);
    let what = if attributes.group.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}.{}", attributes.resource, attributes.group)
    };
    let object = if attributes.name.is_empty() { what } else { format!("{what} \"{}\"", attributes.name) };
    let scope = if attributes.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", attributes.namespace)
    };
    Err(ApiError::forbidden(
        format!(
            "{object} is forbidden: User \"{user}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
            attributes.verb,
            attributes.plural_and_sub(),
            attributes.group
        ),
        json!({ "name": attributes.name, "group": attributes.group, "kind": attributes.resource }),
    ))
}

/// The decision alone (SelfSubjectAccessReview asks for it).
pub fn allows(store: &Store, identity: &Identity, attributes: &Attributes) -> bool {
    let Identity::ServiceAccount { namespace, name } = identity else { return true };
    let subject = Subject { namespace, name };
    // Cluster-wide grants, then those of the request's namespace.
    let cluster_wide = bindings(store, "clusterrolebindings", None)
        .into_iter()
        .filter(|b| subject.is_named_in(b))
        .flat_map(|b| rules_of(store, &b, None));
    let namespaced = if attributes.namespace.is_empty() {
        Vec::new()
    } else {
        bindings(store, "rolebindings", Some(&attributes.namespace))
    };
    let in_namespace = namespaced
        .into_iter()
        .filter(|b| subject.is_named_in(b))
        .flat_map(|b| rules_of(store, &b, Some(&attributes.namespace)));
    cluster_wide.chain(in_namespace).any(|rule| rule_allows(&rule, attributes))
}

/// `system:serviceaccount:<namespace>:<name>`, or the admin's name.
pub fn user_name(identity: &Identity) -> String {
    match identity {
        Identity::Admin => "kubernetes-admin".to_owned(),
        Identity::ServiceAccount { namespace, name } => format!("system:serviceaccount:{namespace}:{name}"),
    }
}

struct Subject<'a> {
    namespace: &'a str,
    name: &'a str,
}

impl Subject<'_> {
    /// A binding names a ServiceAccount by kind, name and namespace, its user name, or one of
    /// the groups every ServiceAccount is in.
    fn is_named_in(&self, binding: &Value) -> bool {
        let user = format!("system:serviceaccount:{}:{}", self.namespace, self.name);
        let groups = [
            "system:authenticated".to_owned(),
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{}", self.namespace),
        ];
        binding["subjects"].as_array().into_iter().flatten().any(|s| {
            let field = |f: &str| s[f].as_str().unwrap_or("");
            match field("kind") {
                "ServiceAccount" => field("name") == self.name && field("namespace") == self.namespace,
                "User" => field("name") == user,
                "Group" => groups.iter().any(|g| g == field("name")),
                _ => false,
            }
        })
    }
}

fn rbac_type(plural: &str) -> &'static ResourceType {
    resources::lookup("rbac.authorization.k8s.io", "v1", plural).expect("the sandbox serves RBAC")
}

fn bindings(store: &Store, plural: &str, namespace: Option<&str>) -> Vec<Value> {
    store
        .list(rbac_type(plural), namespace, |_| true, None, None)
        .map(|page| page.items.iter().map(|o| o.value()).collect())
        .unwrap_or_default()
}

/// The rules of the role a binding refers to; a RoleBinding may refer to a ClusterRole, whose
/// rules then hold in the binding's namespace only (the caller asks there).
fn rules_of(store: &Store, binding: &Value, namespace: Option<&str>) -> Vec<Value> {
    let role_name = binding.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("");
    let role = match (binding.pointer("/roleRef/kind").and_then(Value::as_str), namespace) {
        (Some("ClusterRole"), _) => store.get(rbac_type("clusterroles"), "", role_name),
        (Some("Role"), Some(ns)) => store.get(rbac_type("roles"), ns, role_name),
        _ => return Vec::new(),
    };
    role.ok().and_then(|r| r.value()["rules"].as_array().cloned()).unwrap_or_default()
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let list = |field: &str| -> Vec<String> {
        rule[field].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let has = |items: &[String], wanted: &str| items.iter().any(|i| i == "*" || i == wanted);
    let resources = list("resources");
    let resource_matches = resources.iter().any(|r| {
        r == "*"
            || *r == a.plural_and_sub()
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
            || (!a.subresource.is_empty() && *r == format!("{}/*", a.resource))
    });
    let names = list("resourceNames");
    has(&list("verbs"), &a.verb)
        && has(&list("apiGroups"), &a.group)
        && resource_matches
        && (names.is_empty() || (!a.name.is_empty() && names.contains(&a.name)))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: whether the caller may do
/// what the review's `spec.resourceAttributes` describe (what `kubectl auth can-i` asks).
/// Requests for non-resource URLs are allowed, as discovery is.
pub fn self_subject_access_review(
    store: &Store,
    identity: &Identity,
    review: &Value,
) -> Result<Value, ApiError> {
    let spec = &review["spec"];
    let allowed = if let Some(attributes) = spec.get("resourceAttributes").filter(|a| a.is_object()) {
        let field = |f: &str| attributes[f].as_str().unwrap_or("").to_owned();
        let attributes = Attributes {
            verb: field("verb"),
            group: field("group"),
            resource: field("resource"),
            subresource: field("subresource"),
            namespace: field("namespace"),
            name: field("name"),
        };
        if attributes.verb.is_empty() || attributes.resource.is_empty() {
            return Err(ApiError::invalid_named(
                "SelfSubjectAccessReview",
                "",
                "spec.resourceAttributes: verb and resource are required",
            ));
        }
        allows(store, identity, &attributes)
    } else if spec.get("nonResourceAttributes").is_some_and(Value::is_object) {
        true
    } else {
        return Err(ApiError::invalid_named(
            "SelfSubjectAccessReview",
            "",
            "spec: exactly one of resourceAttributes or nonResourceAttributes must be set",
        ));
    };
    let mut answer = review.clone();
    answer["kind"] = json!("SelfSubjectAccessReview");
    answer["apiVersion"] = json!("authorization.k8s.io/v1");
    if !answer["metadata"].is_object() {
        answer["metadata"] = json!({});
    }
    answer["metadata"]["creationTimestamp"] = Value::Null;
    let reason = if matches!(identity, Identity::Admin) { "the admin token" } else { "allowed by RBAC" };
    answer["status"] =
        if allowed { json!({ "allowed": true, "reason": reason }) } else { json!({ "allowed": false }) };
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn account() -> Identity {
        Identity::ServiceAccount { namespace: "shop".into(), name: "rollgate".into() }
    }

    fn store_with(objects: &[(&str, &str, Value)]) -> Store {
        let store = Store::new();
        let ns = resources::lookup("", "v1", "namespaces").unwrap();
        for name in ["shop", "other"] {
            store.create(ns, "", json!({ "metadata": { "name": name } })).unwrap();
        }
        for (plural, namespace, object) in objects {
            store.create(rbac_type(plural), namespace, object.clone()).unwrap();
        }
        store
    }

    fn role(name: &str, rules: Value) -> Value {
        json!({ "metadata": { "name": name }, "rules": rules })
    }

    fn binding(name: &str, kind: &str, role: &str, subject: Value) -> Value {
        json!({
            "metadata": { "name": name },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role },
            "subjects": [subject],
        })
    }

    fn sa(ns: &str, name: &str) -> Value {
        json!({ "kind": "ServiceAccount", "name": name, "namespace": ns })
    }

    #[test]
    fn a_role_allows_exactly_its_verbs_resources_and_names_in_its_namespace() {
        let store = store_with(&[
            (
                "roles",
                "shop",
                role(
                    "deployer",
                    json!([
                        { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "update"] },
                        { "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] },
                        { "apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["rollgate"] },
                    ]),
                ),
            ),
            ("rolebindings", "shop", binding("deployer", "Role", "deployer", sa("shop", "rollgate"))),
        ]);
        let may = |a: Attributes| allows(&store, &account(), &a);
        assert!(may(attributes("update", "apps", "deployments", "", "shop", "web")));
        assert!(may(attributes("get", "apps", "deployments", "", "shop", "web")));
        assert!(!may(attributes("patch", "apps", "deployments", "", "shop", "web")), "patch is not update");
        assert!(!may(attributes("update", "apps", "deployments", "", "other", "web")), "another namespace");
        assert!(
            !may(attributes("update", "apps", "deployments", "scale", "shop", "web")),
            "a subresource is its own"
        );
        assert!(!may(attributes("get", "", "pods", "", "shop", "p")), "pods/log does not give pods");
        assert!(may(attributes("get", "", "pods", "log", "shop", "p")));
        assert!(may(attributes("create", "", "serviceaccounts", "token", "shop", "rollgate")));
        assert!(
            !may(attributes("create", "", "serviceaccounts", "token", "shop", "default")),
            "resourceNames"
        );
        assert!(!may(attributes("update", "", "deployments", "", "shop", "web")), "the wrong API group");
        assert!(allows(&store, &Identity::Admin, &attributes("delete", "", "namespaces", "", "", "shop")));
        let other = Identity::ServiceAccount { namespace: "shop".into(), name: "default".into() };
        assert!(!allows(&store, &other, &attributes("get", "apps", "deployments", "", "shop", "web")));
    }

    #[test]
    fn cluster_roles_hold_everywhere_through_cluster_bindings_and_in_one_namespace_through_role_bindings() {
        let reader =
            role("reader", json!([{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"] }]));
        let store = store_with(&[
            ("clusterroles", "", reader),
            ("rolebindings", "other", binding("read", "ClusterRole", "reader", sa("shop", "rollgate"))),
        ]);
        let list_in =
            |ns: &str| allows(&store, &account(), &attributes("list", "apps", "deployments", "", ns, ""));
        assert!(list_in("other"));
        assert!(!list_in("shop"));
        assert!(!list_in(""), "not at the cluster scope");
        let group = json!({ "kind": "Group", "name": "system:serviceaccounts:shop" });
        store
            .create(rbac_type("clusterrolebindings"), "", binding("all", "ClusterRole", "reader", group))
            .unwrap();
        assert!(list_in("shop") && list_in(""), "a cluster binding to the account's group");
    }

    #[test]
    fn refusals_are_worded_as_the_api_server_words_them() {
        let store = store_with(&[]);
        let error =
            authorize(&store, &account(), &attributes("update", "apps", "deployments", "", "shop", "web"))
                .unwrap_err();
        assert_eq!(error.code, 403);
        assert_eq!(error.reason, "Forbidden");
        assert_eq!(
            error.message,
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:shop:rollgate\" cannot update resource \"deployments\" in API group \"apps\" in the namespace \"shop\""
        );
        let error =
            authorize(&store, &account(), &attributes("list", "", "namespaces", "", "", "")).unwrap_err();
        assert_eq!(
            error.message,
            "namespaces is forbidden: User \"system:serviceaccount:shop:rollgate\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        );
        let error =
            authorize(&store, &account(), &attributes("get", "", "pods", "log", "shop", "p")).unwrap_err();
        assert!(error.message.contains("cannot get resource \"pods/log\""), "{}", error.message);
    }

    #[test]
    fn access_reviews_answer_for_the_caller() {
        let store = store_with(&[]);
        let review = |attributes: Value| json!({ "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": attributes });
        let ask = json!({ "resourceAttributes": { "verb": "list", "group": "apps", "resource": "deployments", "namespace": "shop" } });
        let answer = self_subject_access_review(&store, &account(), &review(ask.clone())).unwrap();
        assert_eq!(answer["status"]["allowed"], json!(false));
        let answer = self_subject_access_review(&store, &Identity::Admin, &review(ask)).unwrap();
        assert_eq!(answer["status"]["allowed"], json!(true));
        assert!(self_subject_access_review(&store, &account(), &review(json!({}))).is_err());
        let open = json!({ "nonResourceAttributes": { "path": "/api", "verb": "get" } });
        assert_eq!(
            self_subject_access_review(&store, &account(), &review(open)).unwrap()["status"]["allowed"],
            json!(true)
        );
    }
}
