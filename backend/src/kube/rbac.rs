//! The Kubernetes permissions Rollgate uses, as the RBAC Roles and RoleBindings that grant
//! exactly them: what `rollgate rbac` prints for a configuration.
//!
//! [`NAMESPACE_GRANTS`] is the one list of the API requests the `kube` module makes in an
//! environment's namespaces; a request missing from it fails under the generated Role, which
//! the RBAC tests (on the sandbox's authorizer and on a real API server) would show. Nothing
//! is cluster-scoped: Rollgate reads and changes only the configured namespaces.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::{ClusterConnection, Config, Environment};
use crate::kube::credential;

/// API requests of one kind of object, and what Rollgate does with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The API group ("" for the core group).
    pub group: &'static str,
    /// The resource, with its subresource where the request names one (`pods/log`).
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    /// Why, in words, for the generated file and the README.
    pub why: &'static str,
}

/// What Rollgate asks of each namespace an environment shows.
pub const NAMESPACE_GRANTS: &[Grant] = &[
    Grant {
        group: "apps",
        resource: "deployments",
        verbs: &["get", "list", "watch", "update"],
        why: "the Deployments page and its live rows (list, watch), a deployment's page (get), \
              and the changes people approve: deploy, set env, restart, scale, roll back (update, \
              with the resourceVersion read, so a concurrent edit is refused rather than lost)",
    },
    Grant {
        group: "apps",
        resource: "replicasets",
        verbs: &["list"],
        why: "a deployment's revisions, and the pod template a rollback restores",
    },
    Grant { group: "", resource: "pods", verbs: &["list", "watch"], why: "pods and rollout progress, live" },
    Grant { group: "", resource: "pods/log", verbs: &["get"], why: "live pod logs" },
    Grant { group: "", resource: "events", verbs: &["list"], why: "a deployment's recent events" },
];

/// What rotating the cluster token asks of the namespace of the ServiceAccount it renews,
/// for that one account (`resourceNames`).
pub const TOKEN_GRANT: Grant = Grant {
    group: "",
    resource: "serviceaccounts/token",
    verbs: &["create"],
    why: "rotating the cluster token kept in SSM: a new token of this ServiceAccount only",
};

/// The identity Rollgate uses in an environment, and so the subject its RoleBindings name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

/// `rollgate/rollgate`: the account the manifests in `deploy/kubernetes` create.
impl Default for ServiceAccount {
    fn default() -> Self {
        Self { namespace: "rollgate".into(), name: "rollgate".into() }
    }
}

impl std::fmt::Display for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl std::str::FromStr for ServiceAccount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self { namespace: namespace.to_owned(), name: name.to_owned() })
            }
            _ => Err(format!("{s:?} is not NAMESPACE/NAME")),
        }
    }
}

/// One environment's RBAC: its Roles and RoleBindings, and who they bind.
#[derive(Debug, Clone)]
pub struct EnvironmentRbac {
    pub environment: String,
    /// Who the bindings name, and why that identity.
    pub subject: ServiceAccount,
    pub subject_reason: &'static str,
    pub roles: Vec<Role>,
    pub bindings: Vec<RoleBinding>,
}

/// The RBAC each environment needs. `own` is the ServiceAccount Rollgate's pods run as (the
/// identity of `in-cluster` environments, and assumed for `kubeconfig` ones). Environments on
/// the embedded sandbox with its admin credentials need none and are left out.
pub fn for_config(config: &Config, own: &ServiceAccount) -> Vec<EnvironmentRbac> {
    config.environments.iter().filter_map(|env| for_environment(env, own)).collect()
}

/// The RBAC of the environments that run on the embedded sandbox, as JSON objects: the
/// sandbox enforces it, so the demo and the tests run with exactly what a real cluster gets.
pub fn for_sandbox(config: &Config) -> Vec<serde_json::Value> {
    let on_sandbox =
        |name: &str| config.environments.iter().any(|e| e.name == name && e.cluster.is_sandbox());
    for_config(config, &ServiceAccount::default())
        .into_iter()
        .filter(|r| on_sandbox(&r.environment))
        .flat_map(|r| r.objects())
        .collect()
}

impl EnvironmentRbac {
    /// The Roles, then the RoleBindings, in the API's JSON.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        // The k8s-openapi types serialize to JSON without fail (string maps, no floats).
        let roles = self.roles.iter().filter_map(|r| serde_json::to_value(r).ok());
        roles.chain(self.bindings.iter().filter_map(|b| serde_json::to_value(b).ok())).collect()
    }
}

fn for_environment(env: &Environment, own: &ServiceAccount) -> Option<EnvironmentRbac> {
    let (subject, subject_reason) = match &env.cluster {
        ClusterConnection::Sandbox => return None,
        ClusterConnection::InCluster => (own.clone(), "the ServiceAccount Rollgate's pods run as"),
        ClusterConnection::Kubeconfig { .. } => (
            own.clone(),
            "the ServiceAccount Rollgate runs as; bind the kubeconfig context's user instead if it is another",
        ),
        ClusterConnection::Url { .. } | ClusterConnection::SandboxToken { .. } => {
            let (namespace, name) = credential::service_account(env);
            (
                ServiceAccount { namespace, name },
                "the ServiceAccount whose token the environment's cluster token is",
            )
        }
    };
    let mut rules: BTreeMap<&str, Vec<PolicyRule>> = BTreeMap::new();
    for namespace in &env.namespaces {
        rules.entry(namespace.as_str()).or_default().extend(NAMESPACE_GRANTS.iter().map(|g| rule(g, None)));
    }
    let (token_namespace, token_account) = credential::service_account(env);
    if env.cluster.token_parameter().is_some() && !token_namespace.is_empty() {
        rules.entry(token_namespace.as_str()).or_default().push(rule(&TOKEN_GRANT, Some(&token_account)));
    }
    let name = format!("rollgate-{}", env.name);
    let meta = |namespace: &str| ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "rollgate".to_owned()),
            ("rollgate.dev/environment".to_owned(), env.name.clone()),
        ])),
        ..Default::default()
    };
    let roles =
        rules.iter().map(|(ns, rules)| Role { metadata: meta(ns), rules: Some(rules.clone()) }).collect();
    let bindings = rules
        .keys()
        .map(|ns| RoleBinding {
            metadata: meta(ns),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Role".into(),
                name: name.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: subject.name.clone(),
                namespace: Some(subject.namespace.clone()),
                api_group: None,
            }]),
        })
        .collect();
    Some(EnvironmentRbac { environment: env.name.clone(), subject, subject_reason, roles, bindings })
}

fn rule(grant: &Grant, resource_name: Option<&str>) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![grant.group.to_owned()]),
        resources: Some(vec![grant.resource.to_owned()]),
        verbs: grant.verbs.iter().map(|v| (*v).to_owned()).collect(),
        resource_names: resource_name.map(|n| vec![n.to_owned()]),
        non_resource_urls: None,
    }
}

/// The manifests as `kubectl apply -f -` takes them: YAML documents, each environment's
/// headed by comments saying whom they bind and why each permission is there.
pub fn to_yaml(all: &[EnvironmentRbac]) -> Result<String, serde_yaml::Error> {
    let mut out = String::from(
        "# Rollgate's Kubernetes permissions, printed by `rollgate rbac` from its configuration.\n",
    );
    out.push_str("# Why each is there:\n");
    for g in NAMESPACE_GRANTS.iter().chain([&TOKEN_GRANT]) {
        let resource =
            if g.group.is_empty() { g.resource.to_owned() } else { format!("{}.{}", g.resource, g.group) };
        out.push_str(&format!("#   {resource} {}: {}\n", g.verbs.join(", "), words(g.why)));
    }
    if all.is_empty() {
        out.push_str(
            "# No environment needs any: each runs on the embedded sandbox with its admin credentials.\n",
        );
    }
    for env in all {
        out.push_str(&format!(
            "---\n# Environment {}: bound to ServiceAccount {}/{} ({}).\n",
            env.environment, env.subject.namespace, env.subject.name, env.subject_reason
        ));
        let mut first = true;
        for role in &env.roles {
            if !first {
                out.push_str("---\n");
            }
            first = false;
            out.push_str(&serde_yaml::to_string(role)?);
        }
        for binding in &env.bindings {
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(binding)?);
        }
    }
    Ok(out)
}

/// The `why` texts are wrapped in the source; one line here.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use figment::Figment;
    use figment::providers::{Format, Toml};

    fn load_str(toml: &str) -> Config {
        Figment::from(Toml::string(toml)).extract().unwrap()
    }

    fn own() -> ServiceAccount {
        ServiceAccount::default()
    }

    #[test]
    fn each_environment_gets_a_role_per_namespace_and_the_token_grant_for_its_account_only() {
        let config = load_str(
            r#"
            [[environment]]
            name = "production"
            namespaces = ["shop", "payments"]
            cluster = { kind = "url", server = "https://k8s.example.com:6443", token = { ssm-parameter = "/rollgate/production/token" } }
            cluster_token = { service_account = "deployer", namespace = "release" }

            [[environment]]
            name = "staging"
            namespaces = ["shop"]
            cluster = { kind = "in-cluster" }
            "#,
        );
        let all = for_config(&config, &own());
        assert_eq!(all.len(), 2);
        let production = &all[0];
        assert_eq!(production.subject, "release/deployer".parse().unwrap());
        let namespaces: Vec<_> =
            production.roles.iter().map(|r| r.metadata.namespace.clone().unwrap()).collect();
        assert_eq!(namespaces, ["payments", "release", "shop"]);
        let release = &production.roles[1];
        let rules = release.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 1, "the token's namespace is not shown, so it gets the token grant alone");
        assert_eq!(rules[0].resources.as_deref(), Some(&["serviceaccounts/token".to_owned()][..]));
        assert_eq!(rules[0].resource_names.as_deref(), Some(&["deployer".to_owned()][..]));
        assert_eq!(rules[0].verbs, ["create"]);
        for role in &production.roles {
            for rule in role.rules.iter().flatten() {
                assert!(!rule.verbs.iter().any(|v| v == "*"), "no wildcard verbs");
                assert!(!rule.resources.iter().flatten().any(|r| r == "*"), "no wildcard resources");
            }
        }
        assert_eq!(production.bindings.len(), 3);

        let staging = &all[1];
        assert_eq!(staging.subject, own(), "in-cluster environments bind the pods' own account");
        assert_eq!(staging.roles.len(), 1);
        assert!(
            staging.roles[0].rules.iter().flatten().all(|r| r.resource_names.is_none()),
            "no token grant where the token is not kept in SSM"
        );
    }

    #[test]
    fn the_sandbox_with_admin_credentials_needs_none_and_the_yaml_says_so() {
        let config = backend_sandbox_config();
        let all = for_config(&config, &own());
        assert!(all.iter().all(|e| e.environment != "production"), "production runs as the sandbox's admin");
        let yaml = to_yaml(&all).unwrap();
        for document in yaml.split("---\n").skip(1) {
            let value: serde_yaml::Value = serde_yaml::from_str(document).unwrap();
            let kind = value["kind"].as_str().unwrap();
            assert!(kind == "Role" || kind == "RoleBinding", "{kind}");
            assert_eq!(value["apiVersion"].as_str(), Some("rbac.authorization.k8s.io/v1"));
        }
        assert!(for_config(&load_str(""), &own()).is_empty());
        let objects = for_sandbox(&config);
        assert!(!objects.is_empty(), "staging reaches the sandbox with a deployer token");
        assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "staging"), "{objects:?}");
        assert!(to_yaml(&[]).unwrap().contains("No environment needs any"));
    }

    #[test]
    fn service_accounts_are_namespace_slash_name() {
        assert_eq!(
            "a/b".parse::<ServiceAccount>(),
            Ok(ServiceAccount { namespace: "a".into(), name: "b".into() })
        );
        assert_eq!(
            ServiceAccount::default().to_string().parse::<ServiceAccount>(),
            Ok(ServiceAccount::default())
        );
        for bad in ["", "a", "/b", "a/", "a/b/c"] {
            assert!(bad.parse::<ServiceAccount>().is_err(), "{bad}");
        }
    }

    fn backend_sandbox_config() -> Config {
        crate::config::load(&Source::SandboxDefault).unwrap()
    }
}
