//! What the sandbox's tests share: the AWS side from the test kit (the SDK built the way
//! Rollgate builds it, the AWS CLI, moto's server), and the sandbox's own addresses.

use std::net::SocketAddr;

pub use testkit::aws::*;

/// An HTTP client for the sandbox cluster's API, trusting its CA (the API is served over TLS).
pub fn cluster_http(sandbox: &sandbox::Sandbox) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sandbox.cluster_ca_pem.as_bytes()).expect("a PEM certificate");
    reqwest::Client::builder().add_root_certificate(ca).build().expect("a client")
}

pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Binds `rules` to a ServiceAccount of `namespace` (a Role and its RoleBinding), as a cluster
/// admin would: a ServiceAccount token opens only what RBAC grants it.
pub fn grant(sandbox: &sandbox::Sandbox, namespace: &str, account: &str, rules: serde_json::Value) {
    let name = format!("test-{account}");
    let rbac = "rbac.authorization.k8s.io/v1";
    sandbox
        .apply([
            serde_json::json!({ "apiVersion": rbac, "kind": "Role", "metadata": { "name": name, "namespace": namespace }, "rules": rules }),
            serde_json::json!({
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": { "name": name, "namespace": namespace },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name },
                "subjects": [{ "kind": "ServiceAccount", "name": account, "namespace": namespace }],
            }),
        ])
        .expect("the sandbox takes the grant");
}

/// A sandbox whose AWS answers are checked against AWS's own models (shapes, enum values,
/// required members, declared errors and their status codes) when the test using it ends
/// without failing otherwise: every CodePipeline and SSM test checks what it was answered.
pub struct ModelChecked(sandbox::Sandbox);

impl ModelChecked {
    pub fn new(sandbox: sandbox::Sandbox) -> Self {
        sandbox.aws.record_exchanges();
        Self(sandbox)
    }
}

impl std::ops::Deref for ModelChecked {
    type Target = sandbox::Sandbox;

    fn deref(&self) -> &sandbox::Sandbox {
        &self.0
    }
}

impl Drop for ModelChecked {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let exchanges = self.0.aws.exchanges();
        let problems = testkit::aws_model::Models::load()
            .check(exchanges.iter().map(|e| (e.service, e.operation.as_str(), e.status, &e.body)));
        assert!(problems.is_empty(), "answers unlike AWS's models:\n{}", problems.join("\n"));
    }
}
