//! Least privilege on the cluster: the Roles `rollgate rbac` prints are what the sandbox's
//! environments run with (every test on staging proves them enough), they apply with the real
//! kubectl, they open nothing else, and a missing verb is named in Rollgate's own words.

use std::process::{Command, Stdio};

use app::api::changes::RequestChange;
use app::model::ChangeView;
use backend::policy::Role;
use serde_json::{Value, json};

use crate::common::TestPortal;

fn s(v: &str) -> String {
    v.to_owned()
}

fn scale_staging(replicas: &str) -> RequestChange {
    RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        replicas: Some(s(replicas)),
        ..crate::common::request_change("staging", "scale", "rbac test")
    }
}

/// Staging reaches the sandbox with its deployer's token; the sandbox enforces the Role
/// Rollgate generated for it. Without `update` on deployments, a scale fails and says which
/// permission the cluster refused, for which object.
#[tokio::test(flavor = "multi_thread")]
async fn a_verb_missing_from_the_role_is_named_when_the_change_fails() {
    // On the sandbox's own cluster even with ROLLGATE_TEST_CLUSTER=real: its RBAC is the subject.
    let p = TestPortal::with_config(backend::config::load(&backend::config::Source::SandboxDefault).unwrap())
        .await;
    let dana = p.as_role(Role::Deployer).await;
    let done: ChangeView = p.call(&dana, &scale_staging("3")).await.json().await.unwrap();
    assert_eq!(done.state, "executed", "the generated Role lets a scale through: {:?}", done.outcome);

    let config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    let mut objects = backend::kube::rbac::for_sandbox(&config);
    let role = objects.iter_mut().find(|o| o["kind"] == "Role").expect("a Role for staging");
    for rule in role["rules"].as_array_mut().unwrap() {
        if rule["resources"] == json!(["deployments"]) {
            rule["verbs"] = json!(["get", "list", "watch"]);
        }
    }
    let sandbox = p.running.sandbox.as_ref().unwrap();
    sandbox.apply(objects).unwrap();

    let failed: ChangeView = p.call(&dana, &scale_staging("2")).await.json().await.unwrap();
    assert_eq!(failed.state, "failed");
    let outcome = failed.outcome.unwrap_or_default();
    assert!(outcome.contains("does not allow Rollgate's account"), "{outcome}");
    assert!(outcome.contains("`rollgate rbac` prints the Roles Rollgate needs"), "{outcome}");
    assert!(
        outcome.contains(
            "deployments.apps \"myapp-deployment\" is forbidden: User \"system:serviceaccount:staging:rollgate-deployer\" cannot update resource \"deployments\" in API group \"apps\" in the namespace \"staging\""
        ),
        "{outcome}"
    );
}

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn rollgate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .env_remove("ROLLGATE_CONFIG")
        .output()
        .expect("run rollgate");
    assert!(out.status.success(), "rollgate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// What `rollgate rbac` prints is what `kubectl apply -f -` takes; a token of the bound
/// account then reads and changes deployments in its namespace, and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_printed_rbac_applies_with_kubectl_and_opens_only_what_it_says() {
    let yaml = rollgate(&["rbac"]);
    for why in
        ["deployments.apps get, list, watch, update:", "pods/log get:", "serviceaccounts/token create:"]
    {
        assert!(yaml.contains(why), "{why} in\n{yaml}");
    }
    let sandbox =
        sandbox::Sandbox::start(sandbox::Endpoints::any_free(), sandbox::World::Demo).await.unwrap();
    sandbox.seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin");
    sandbox.write_kubeconfig(&admin).unwrap();
    let (ok, out) = tokio::task::block_in_place(|| kubectl(&admin, &["apply", "-f", "-"], &yaml));
    assert!(ok, "{out}");
    assert!(out.contains("role.rbac.authorization.k8s.io/rollgate-staging created"), "{out}");
    assert!(out.contains("rolebinding.rbac.authorization.k8s.io/rollgate-staging created"), "{out}");

    // A token of staging's deployer account, asked for as Rollgate's rotation asks.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.cluster_ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "{}/api/v1/namespaces/staging/serviceaccounts/rollgate-deployer/token",
        sandbox.cluster_url()
    );
    let issued: Value = http
        .post(url)
        .bearer_auth(&sandbox.admin_token)
        .json(&json!({ "spec": { "expirationSeconds": 3600 } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["status"]["token"].as_str().unwrap();
    let as_deployer_with = |args: &[&str], input: &str| {
        let mut all = vec!["--token", token];
        all.extend_from_slice(args);
        tokio::task::block_in_place(|| kubectl(&admin, &all, input))
    };
    let as_deployer = |args: &[&str]| as_deployer_with(args, "");
    let (ok, out) = as_deployer(&["get", "deployments", "-n", "staging"]);
    assert!(ok && out.contains("myapp-deployment"), "{out}");
    // Rollgate writes a deployment whole (update), never by patch: `kubectl replace` works,
    // `kubectl scale` (a patch of the scale subresource) does not.
    // (The sandbox's controllers write the status meanwhile: a stale read is read again.)
    let mut replaced = String::new();
    for _ in 0..10 {
        let (ok, current) =
            as_deployer(&["get", "deployment", "myapp-deployment", "-n", "staging", "-o", "json"]);
        assert!(ok, "{current}");
        let (ok, out) = as_deployer_with(&["replace", "-f", "-"], &current);
        replaced = out;
        if ok || !replaced.contains("(Conflict)") {
            break;
        }
    }
    assert!(replaced.contains("replaced"), "{replaced}");
    for (args, words) in [
        (
            &["scale", "deployment/myapp-deployment", "-n", "staging", "--replicas", "2"][..],
            "resource \"deployments/scale\" in API group \"apps\"",
        ),
        (
            &["delete", "deployment", "myapp-deployment", "-n", "staging"][..],
            "cannot delete resource \"deployments\"",
        ),
        (
            &["get", "deployments", "-n", "production"][..],
            "cannot list resource \"deployments\" in API group \"apps\" in the namespace \"production\"",
        ),
        (
            &["get", "namespaces"][..],
            "cannot list resource \"namespaces\" in API group \"\" at the cluster scope",
        ),
        (&["get", "services", "-n", "staging"][..], "cannot list resource \"services\""),
    ] {
        let (ok, out) = as_deployer(args);
        assert!(!ok, "{args:?} must be refused: {out}");
        assert!(out.contains("Forbidden") || out.contains("forbidden"), "{out}");
        assert!(out.contains(words), "{args:?}: {out}");
    }
    // What an attacker holding the token would try first: bind itself to more.
    let escalate = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: mine, namespace: staging}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: rollgate-deployer, namespace: staging}]\n";
    let (ok, out) = as_deployer_with(&["create", "-f", "-"], escalate);
    assert!(!ok && out.contains("cannot create resource \"rolebindings\""), "{out}");
}

/// The shipped Kustomize overlays render, and their configurations load and print RBAC that
/// names no wildcard.
#[test]
fn the_kubernetes_manifests_render_and_their_configurations_load() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/kubernetes");
    for overlay in ["base", "overlays/eks"] {
        let out = Command::new("kubectl")
            .args(["kustomize", &format!("{root}/{overlay}")])
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "{overlay}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        for kind in [
            "Namespace",
            "ServiceAccount",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "ConfigMap",
        ] {
            assert!(text.contains(&format!("\nkind: {kind}\n")), "{overlay} has no {kind}");
        }
        assert!(text.contains("readOnlyRootFilesystem: true") && text.contains("runAsNonRoot: true"));
        assert!(text.contains("containerPort: 9464"), "{overlay}: the metrics port");
        let config = format!("{root}/{overlay}/rollgate.toml");
        if std::path::Path::new(&config).exists() {
            rollgate(&["--config", &config, "check-config"]);
            let policy = rollgate(&["--config", &config, "iam-policy", "--account", "123456789012"]);
            let policy: serde_json::Value = serde_json::from_str(&policy).expect("the IAM policy is JSON");
            assert!(!policy["Statement"].as_array().unwrap().is_empty(), "{overlay}: {policy}");
            let yaml = rollgate(&["--config", &config, "rbac"]);
            assert!(
                yaml.contains("kind: RoleBinding") && !yaml.contains("'*'") && !yaml.contains("\"*\""),
                "{yaml}"
            );
        }
    }
}

/// The same Role, judged by Kubernetes' own RBAC authorizer: Rollgate, holding only a token of
/// the ServiceAccount the printed RoleBinding names, shows a deployment and carries out
/// scale, set env, restart, deploying an image and rollback; without `update` the real API
/// server's refusal is what the person reads. (Pod logs are left out: this control plane has no kubelet.)
#[tokio::test(flavor = "multi_thread")]
async fn on_a_real_api_server_the_printed_role_is_enough() {
    use app::api::deployments::GetDeployment;
    use app::model::DeploymentDetail;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{Role as RbacRole, RoleBinding};
    use kube::api::{Api, DeleteParams, PostParams};

    let Some(kubeconfig_path) = crate::common::real_cluster() else {
        eprintln!(
            "skipped: set ROLLGATE_TEST_CLUSTER=real with ../shared/k8s-real up (scripts/tests-on-k8s-real.sh)"
        );
        return;
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(&kubeconfig_path).unwrap();
    let cluster = kubeconfig.clusters[0].cluster.clone().unwrap();
    let admin = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap(),
    )
    .unwrap();
    let ns = format!("rbac-{}", std::process::id());
    let post = PostParams::default();
    Api::<Namespace>::all(admin.clone())
        .create(&post, &object::<Namespace>(json!({ "metadata": { "name": ns } })))
        .await
        .unwrap();
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), &ns);
    accounts
        .create(&post, &object::<ServiceAccount>(json!({ "metadata": { "name": "rollgate" } })))
        .await
        .unwrap();
    let web: Deployment = object(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "busybox:1.36", "command": ["sleep", "3600"] }] },
            },
        },
    }));
    Api::<Deployment>::namespaced(admin.clone(), &ns).create(&post, &web).await.unwrap();

    // Rollgate's configuration: the demo's, with staging moved onto the real cluster, reached
    // through a kubeconfig holding the ServiceAccount's token alone.
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..Default::default() }),
        ..Default::default()
    };
    let issued = accounts.create_token_request("rollgate", &post, &request).await.unwrap();
    let token = issued.status.and_then(|s| s.token).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let account_kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &account_kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: rollgate\n  user:\n    token: {token}\ncontexts:\n- name: real\n  context: {{cluster: real, user: rollgate, namespace: {ns}}}\ncurrent-context: real\n",
            cluster.server.unwrap(),
            cluster.certificate_authority_data.unwrap(),
        ),
    )
    .unwrap();
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    let staging = &mut config.environments[0];
    staging.cluster =
        backend::config::ClusterConnection::Kubeconfig { context: None, path: Some(account_kubeconfig) };
    staging.namespaces = vec![ns.clone()];
    staging.aws.deploys.clear();
    let own: backend::kube::rbac::ServiceAccount = format!("{ns}/rollgate").parse().unwrap();
    let rbac = backend::kube::rbac::for_config(&config, &own);
    let staging_rbac = rbac.iter().find(|r| r.environment == "staging").unwrap();
    for role in &staging_rbac.roles {
        Api::<RbacRole>::namespaced(admin.clone(), &ns).create(&post, role).await.unwrap();
    }
    for binding in &staging_rbac.bindings {
        Api::<RoleBinding>::namespaced(admin.clone(), &ns).create(&post, binding).await.unwrap();
    }

    let p = TestPortal::with_config(config).await;
    let dana = p.as_role(Role::Deployer).await;
    let change = |kind: &str, extra: &dyn Fn(&mut RequestChange)| -> RequestChange {
        let mut c = scale_staging("2");
        c.kind = s(kind);
        c.namespace = Some(ns.clone());
        c.deployment = Some(s("web"));
        extra(&mut c);
        c
    };
    let steps: Vec<(&str, RequestChange)> = vec![
        ("scale", change("scale", &|_| {})),
        (
            "set-env",
            change("set-env", &|c: &mut RequestChange| {
                c.container = Some(s("web"));
                c.variables = Some(s("GREETING=hello"));
            }),
        ),
        ("restart", change("restart", &|_| {})),
        (
            "deploy-image",
            change("deploy-image", &|c: &mut RequestChange| {
                c.container = Some(s("web"));
                c.image = Some(s("registry.example.com/web:3f2a9c1"));
            }),
        ),
    ];
    for (what, request) in steps {
        let done: ChangeView = p.call(&dana, &request).await.json().await.unwrap();
        assert_eq!(done.state, "executed", "{what}: {:?}", done.outcome);
    }
    // The controller-manager numbers the newest revision a moment later; a rollback asked
    // for before that is refused as stale (the deployment changed since it was requested).
    let get = GetDeployment { env: s("staging"), namespace: ns.clone(), name: s("web") };
    let mut revisions = 0;
    for _ in 0..100 {
        let detail = p.call(&dana, &get).await;
        assert_eq!(detail.status().as_u16(), 200);
        let detail: DeploymentDetail = detail.json().await.unwrap();
        revisions = detail.revisions.len();
        if revisions >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        revisions, 4,
        "revisions read from ReplicaSets: scale keeps the template, set env, restart and the image change it"
    );
    let rollback = change("rollback", &|c: &mut RequestChange| c.revision = Some(s("1")));
    let done: ChangeView = p.call(&dana, &rollback).await.json().await.unwrap();
    assert_eq!(done.state, "executed", "rollback: {:?}", done.outcome);

    let mut narrowed = staging_rbac.roles[0].clone();
    for rule in narrowed.rules.iter_mut().flatten() {
        if rule.resources.as_deref() == Some(&[s("deployments")][..]) {
            rule.verbs.retain(|v| v != "update");
        }
    }
    let roles = Api::<RbacRole>::namespaced(admin.clone(), &ns);
    let current = roles.get(narrowed.metadata.name.as_deref().unwrap()).await.unwrap();
    narrowed.metadata.resource_version = current.metadata.resource_version;
    roles.replace(narrowed.metadata.name.as_deref().unwrap(), &post, &narrowed).await.unwrap();
    let failed: ChangeView = p
        .call(&dana, &change("scale", &|c: &mut RequestChange| c.replicas = Some(s("1"))))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed.state, "failed");
    let outcome = failed.outcome.unwrap_or_default();
    assert!(
        outcome.contains(&format!(
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:{ns}:rollgate\" cannot update resource \"deployments\" in API group \"apps\" in the namespace \"{ns}\""
        )),
        "{outcome}"
    );
    let _ = Api::<Namespace>::all(admin).delete(&ns, &DeleteParams::default()).await;
}
