//! The Tokens page against the sandbox: every parameter operation through its server
//! function, who may do what, the reveal rules (never a value outside an admin's reveal, not
//! in pages, errors or logs), and the cluster token: read from SSM, refreshed when its version
//! moves, rotated through a change request, and left in use when a rotation fails midway.

#[path = "it/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use app::api::audit::ListAudit;
use app::api::changes::RequestChange;
use app::api::deployments::GetDeployment;
use app::api::tokens::{
    CreateToken, DeleteToken, GetToken, LabelTokenVersion, ListTokens, PutTokenVersion, RevealToken,
};
use app::model::tokens::{ParameterDetail, RevealedValue, TokensView};
use app::model::{AuditPage, ChangeView};
use backend::policy::Role::{self, *};
use common::TestPortal;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use testkit::store::Flavour;

fn s(v: &str) -> String {
    v.to_owned()
}

const CLUSTER_TOKEN: &str = "/rollgate/staging/k8s-bear-token";
const PRODUCTION_TOKEN: &str = "/rollgate/production/k8s-bear-token";

/// The sandbox with production (protected) reached, like staging, with a token kept in SSM.
fn production_token_in_ssm() -> backend::Config {
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    config.environments[1].cluster = backend::config::ClusterConnection::SandboxToken {
        token: backend::config::TokenSource::SsmParameter(s(PRODUCTION_TOKEN)),
    };
    config
}

/// Everything logged by this test binary, at debug level: grepped for values.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    })
    .clone()
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

fn create(name: &str, kind: &str, value: &str) -> CreateToken {
    CreateToken {
        env: s("staging"),
        name: s(name),
        kind: s(kind),
        value: s(value),
        key_id: None,
        description: Some(s("made by the tokens test")),
        tags: Some(s("owner=release-eng\nteam=web")),
        allowed_pattern: None,
        tier: None,
        return_to: None,
    }
}

fn put(name: &str, value: &str) -> PutTokenVersion {
    PutTokenVersion { env: s("staging"), name: s(name), value: s(value), return_to: None }
}

fn rotate_cluster_token(env: &str, parameter: &str) -> RequestChange {
    RequestChange {
        parameter: Some(s(parameter)),
        ..common::request_change(env, "rotate-token", "quarterly rotation")
    }
}

async fn audit(p: &TestPortal, client: &reqwest::Client, action: &str) -> AuditPage {
    let query =
        ListAudit { env: s("staging"), actor: s(""), action: s(action), from: s(""), until: s(""), page: 0 };
    p.call(client, &query).await.json().await.expect("audit page")
}

/// The audited steps of cluster-token rotations, newest first: (action, result).
async fn cluster_steps(p: &TestPortal, client: &reqwest::Client) -> Vec<(String, String)> {
    let page = audit(p, client, "").await;
    page.rows
        .into_iter()
        .filter(|r| r.action.starts_with("token.cluster."))
        .map(|r| (r.action, r.result))
        .collect()
}

/// A fresh token of staging's deployer ServiceAccount, issued with the cluster's admin
/// credentials (as someone rotating the token outside Rollgate would).
async fn fresh_cluster_token(p: &TestPortal) -> String {
    let kubeconfig = match common::real_cluster() {
        Some(path) => kube::config::Kubeconfig::read_from(path).unwrap(),
        None => {
            kube::config::Kubeconfig::from_yaml(&p.running.sandbox.as_ref().unwrap().kubeconfig()).unwrap()
        }
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let api = kube::Api::<ServiceAccount>::namespaced(client, "staging");
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(3600), ..Default::default() }),
        ..Default::default()
    };
    api.create_token_request("rollgate-deployer", &Default::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .unwrap()
}

fn myapp() -> GetDeployment {
    GetDeployment { env: s("staging"), namespace: s("staging"), name: s("myapp-deployment") }
}

/// Create, browse, history, label, a new version, delete (with the typed confirmation), each
/// audited; names and values checked with the error in words.
#[tokio::test(flavor = "multi_thread")]
async fn every_parameter_operation() {
    let _ = logs();
    let p = TestPortal::sandbox().await;
    let ada = p.as_role(Admin).await;
    let name = "/rollgate/staging/service/api-key";

    let created = p.call(&ada, &create(name, "SecureString", "first-value-1")).await;
    assert_eq!(created.status().as_u16(), 200, "{}", created.text().await.unwrap());
    let again = p.call(&ada, &create(name, "SecureString", "x")).await;
    assert_eq!(again.status().as_u16(), 409);
    assert!(again.text().await.unwrap().contains("already exists"));

    let view: TokensView = p.call(&p.http, &ListTokens { env: s("staging") }).await.json().await.unwrap();
    let row = view.parameters.iter().find(|r| r.name == name).expect("listed");
    assert_eq!((row.kind.as_str(), row.version, row.tier.as_str()), ("SecureString", 1, "Standard"));
    assert_eq!(row.key_id.as_deref(), Some("alias/aws/ssm"));
    assert_eq!(row.description.as_deref(), Some("made by the tokens test"));
    assert!(row.tags.contains(&(s("owner"), s("release-eng"))));
    assert!(
        view.parameters.iter().all(|r| r.name.starts_with("/rollgate/staging/")),
        "only staging's prefix"
    );
    assert!(view.parameters.iter().any(|r| r.name == CLUSTER_TOKEN));
    assert!(view.manage_denied.is_some() && view.reveal_denied.is_some(), "vera is a viewer");

    let v2: i64 = p.call(&ada, &put(name, "second-value-2")).await.json().await.unwrap();
    assert_eq!(v2, 2);
    let label = LabelTokenVersion {
        env: s("staging"),
        name: s(name),
        version: s("1"),
        labels: s("previous, golden"),
        return_to: None,
    };
    assert_eq!(p.call(&ada, &label).await.status().as_u16(), 200);
    let bad_label = LabelTokenVersion { labels: s("1st"), ..label.clone() };
    let refused = p.call(&ada, &bad_label).await;
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("is not a label"));

    let detail: ParameterDetail =
        p.call(&p.http, &GetToken { env: s("staging"), name: s(name) }).await.json().await.unwrap();
    let versions: Vec<i64> = detail.history.iter().map(|v| v.version).collect();
    assert_eq!(versions, [2, 1], "newest first");
    assert_eq!(detail.history[1].labels, ["previous", "golden"]);
    assert!(detail.parameter.labels.contains(&(s("golden"), 1)));

    // Rules in words, before anything is sent.
    for (bad, says) in [
        (create("/rollgate/production/x", "String", "v"), "not under staging's prefixes"),
        (create("/rollgate/staging/a b", "String", "v"), "contains ' '"),
        (create("/rollgate/staging/big", "String", &"x".repeat(4097)), "choose the Advanced tier"),
        (create("/rollgate/staging/list", "StringList", "a,b"), "StringList"),
        (
            CreateToken {
                allowed_pattern: Some(s(r"\d+")),
                ..create("/rollgate/staging/n", "String", "abc")
            },
            "allowed pattern",
        ),
    ] {
        let response = p.call(&ada, &bad).await;
        assert_eq!(response.status().as_u16(), 400);
        let body = response.text().await.unwrap();
        assert!(body.contains(says), "{says}: {body}");
    }
    let advanced = CreateToken {
        tier: Some(s("Advanced")),
        ..create("/rollgate/staging/big", "String", &"x".repeat(5000))
    };
    assert_eq!(p.call(&ada, &advanced).await.status().as_u16(), 200);

    // Delete needs the name typed again; the cluster token cannot be deleted from here.
    let delete = |confirmation: &str| DeleteToken {
        env: s("staging"),
        name: s(name),
        confirmation: s(confirmation),
        return_to: None,
    };
    let mismatch = p.call(&ada, &delete("api-key")).await;
    assert_eq!(mismatch.status().as_u16(), 400);
    assert!(mismatch.text().await.unwrap().contains("type its full name again"));
    assert_eq!(p.call(&ada, &delete(name)).await.status().as_u16(), 200);
    let gone = p.call(&p.http, &GetToken { env: s("staging"), name: s(name) }).await;
    assert_eq!(gone.status().as_u16(), 404);
    let cluster = DeleteToken {
        env: s("staging"),
        name: s(CLUSTER_TOKEN),
        confirmation: s(CLUSTER_TOKEN),
        return_to: None,
    };
    let kept = p.call(&ada, &cluster).await;
    assert_eq!(kept.status().as_u16(), 409);
    assert!(kept.text().await.unwrap().contains("holds the token Rollgate reaches"));

    let trail = audit(&p, &ada, "").await;
    let actions: Vec<(&str, &str)> =
        trail.rows.iter().map(|r| (r.action.as_str(), r.result.as_str())).collect();
    for expected in [
        ("token.create", "succeeded"),
        ("token.rotate", "succeeded"),
        ("token.label", "succeeded"),
        ("token.label", "refused"),
        ("token.delete", "refused"),
        ("token.delete", "succeeded"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
}

/// Only admins change or reveal; a reveal is audited and `no-store`; the value appears in no
/// other response, page or log line.
#[tokio::test(flavor = "multi_thread")]
async fn reveal_rules_and_no_value_anywhere_else() {
    let _ = logs();
    let p = TestPortal::sandbox().await;
    let ada = p.as_role(Admin).await;
    let secret = format!("s3cret-{}", backend::ids::random_hex(8));
    let name = "/rollgate/staging/db-password";
    assert_eq!(p.call(&ada, &create(name, "SecureString", &secret)).await.status().as_u16(), 200);

    let reveal = RevealToken { env: s("staging"), name: s(name), version: None };
    for role in [Viewer, Deployer, Approver] {
        let response = p.call(&p.as_role(role).await, &reveal).await;
        assert_eq!(response.status().as_u16(), 403, "{role:?}");
        assert!(!response.text().await.unwrap().contains(&secret));
        let change = p.call(&p.as_role(role).await, &put(name, "other-value")).await;
        assert_eq!(change.status().as_u16(), 403, "{role:?} changes");
    }

    let response = p.call(&ada, &reveal).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let revealed: RevealedValue = response.json().await.unwrap();
    assert_eq!((revealed.value.as_str(), revealed.version), (secret.as_str(), 1));
    let trail = audit(&p, &ada, "token.reveal").await;
    let record =
        trail.rows.iter().find(|r| r.target.as_deref() == Some(name)).expect("the reveal is audited");
    assert_eq!((record.actor.as_str(), record.result.as_str()), ("ada", "succeeded"));

    // Every other response: lists, detail, pages (plain and selected), errors, the audit.
    let mut bodies = Vec::new();
    for client in [&p.http, &ada] {
        bodies.push(p.call(client, &ListTokens { env: s("staging") }).await.text().await.unwrap());
        bodies
            .push(p.call(client, &GetToken { env: s("staging"), name: s(name) }).await.text().await.unwrap());
        for path in ["/staging/tokens".to_owned(), format!("/staging/tokens?p={name}")] {
            let html = client.get(p.url(&path)).send().await.unwrap().text().await.unwrap();
            assert!(html.contains(name), "{path} shows the parameter");
            bodies.push(html);
        }
    }
    bodies.push(p.call(&ada, &create(name, "SecureString", &secret)).await.text().await.unwrap());
    let pattern = CreateToken {
        allowed_pattern: Some(s(r"\d+")),
        ..create("/rollgate/staging/pin", "String", &secret)
    };
    bodies.push(p.call(&ada, &pattern).await.text().await.unwrap());
    bodies.push(
        p.call(&ada, &put(name, &format!("{secret}\n{}", "x".repeat(5000)))).await.text().await.unwrap(),
    );
    bodies.push(serde_json::to_string(&audit(&p, &ada, "").await.rows).unwrap());
    for body in &bodies {
        assert!(!body.contains(&secret), "a value leaked: {}", &body[..body.len().min(400)]);
    }
    assert!(logged().contains("token"), "the logs were captured");
    assert!(!logged().contains(&secret), "the value is in the logs");
}

/// Writes the staging cluster token as someone outside Rollgate would (the AWS CLI, the
/// walk-through's Lambda); returns the new version.
async fn write_elsewhere(p: &TestPortal, value: &str) -> i64 {
    let env = p.running.portal.config.environment("staging").expect("staging");
    let ssm = p.running.portal.aws.ssm(env).await;
    let put = ssm.put_parameter().name(CLUSTER_TOKEN).value(value).overwrite(true).send().await;
    put.expect("the sandbox's SSM takes the write").version
}

/// The staging cluster is reached with the token kept in SSM; a new version written there
/// (outside Rollgate) is picked up; an invalid one is refused with the 401 in words; a good
/// one again recovers.
#[tokio::test(flavor = "multi_thread")]
async fn cluster_client_follows_the_ssm_parameter() {
    let _ = logs();
    let p = TestPortal::sandbox().await;
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200);
    assert_eq!(p.running.portal.clusters.token_version("staging"), Some(1));

    let token = fresh_cluster_token(&p).await;
    assert_eq!(write_elsewhere(&p, &token).await, 2);
    tokio::time::sleep(backend::kube::client::VERSION_CHECK + Duration::from_millis(200)).await;
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200);
    assert_eq!(p.running.portal.clusters.token_version("staging"), Some(2), "rebuilt on the new version");

    write_elsewhere(&p, "not-a-token").await;
    tokio::time::sleep(backend::kube::client::VERSION_CHECK + Duration::from_millis(200)).await;
    let refused = p.call(&p.http, &myapp()).await;
    assert_eq!(refused.status().as_u16(), 502);
    let body = refused.text().await.unwrap();
    assert!(body.contains("The cluster refused Rollgate's credentials (401)"), "{body}");

    write_elsewhere(&p, &token).await;
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200, "a 401 drops the client");
    assert!(!logged().contains(&token), "the cluster token is in the logs");
}

/// The credential Rollgate reaches a protected cluster with is swapped only by a rotation
/// (a change request someone else approves): an admin's direct put, create or delete of that
/// parameter is refused in words that point to "Rotate", and audited; labels, which never
/// move what Rollgate reads, are allowed.
#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_token_is_written_only_by_rotation() {
    let _ = logs();
    let parameter = PRODUCTION_TOKEN;
    let p = TestPortal::demo_world(production_token_in_ssm(), Flavour::Sqlite).await;
    let ada = p.as_role(Admin).await;
    let in_production = |mut call: PutTokenVersion| {
        call.env = s("production");
        call
    };
    let direct = p.call(&ada, &in_production(put(parameter, "a-token-ada-made-herself"))).await;
    assert_eq!(direct.status().as_u16(), 409);
    let body = direct.text().await.unwrap();
    assert!(body.contains("Rotate the cluster token"), "{body}");
    assert!(body.contains("approved by someone else where Production is protected"), "{body}");
    let delete =
        DeleteToken { env: s("production"), name: s(parameter), confirmation: s(parameter), return_to: None };
    assert_eq!(p.call(&ada, &delete).await.status().as_u16(), 409);
    let create = CreateToken { env: s("production"), ..create(parameter, "SecureString", "another-token") };
    let created = p.call(&ada, &create).await;
    assert_eq!(created.status().as_u16(), 409);
    assert!(created.text().await.unwrap().contains("Rotate the cluster token"));
    let label = LabelTokenVersion {
        env: s("production"),
        name: s(parameter),
        version: s("1"),
        labels: s("seeded"),
        return_to: None,
    };
    assert_eq!(p.call(&ada, &label).await.status().as_u16(), 200, "a label moves nothing Rollgate reads");

    let detail: ParameterDetail =
        p.call(&ada, &GetToken { env: s("production"), name: s(parameter) }).await.json().await.unwrap();
    assert_eq!(detail.parameter.version, 1, "nothing was written");
    let query = ListAudit {
        env: s("production"),
        actor: s("ada"),
        action: s(""),
        from: s(""),
        until: s(""),
        page: 0,
    };
    let trail: AuditPage = p.call(&ada, &query).await.json().await.unwrap();
    let refused: Vec<_> =
        trail.rows.iter().filter(|r| r.result == "refused").map(|r| r.action.as_str()).collect();
    assert_eq!(refused, ["token.create", "token.delete", "token.rotate"]);
    // The way that works: a rotation, which waits for someone else in production.
    let asked: ChangeView =
        p.call(&ada, &rotate_cluster_token("production", parameter)).await.json().await.unwrap();
    assert_eq!(asked.state, "pending");
}

/// The Tokens page shows when the cluster token expires without decrypting it for anyone:
/// the expiry is the one Rollgate read when it took the token into use.
#[tokio::test(flavor = "multi_thread")]
async fn listing_tokens_never_decrypts_the_cluster_token() {
    let _ = logs();
    let p = TestPortal::sandbox().await;
    let aws = &p.running.sandbox.as_ref().unwrap().aws;
    // Rollgate's own client reads its token (one decrypting read, whoever looks first).
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200);
    let before = aws.decrypting_reads();
    for role in [Viewer, Deployer, Approver, Admin, Viewer, Viewer] {
        let view: TokensView =
            p.call(&p.as_role(role).await, &ListTokens { env: s("staging") }).await.json().await.unwrap();
        let cluster = view.cluster.expect("staging's cluster token is in SSM");
        assert_eq!(cluster.expiry_state, "ok", "{cluster:?}");
        assert!(cluster.expires.is_some(), "the expiry is shown: {cluster:?}");
    }
    assert_eq!(aws.decrypting_reads(), before, "no listing decrypted anything");
}

/// Rotation through a change request: only admins ask; each step audited; Rollgate switches
/// to the new version; a failure midway (the write refused) leaves the old token in use.
#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_cluster_token() {
    let _ = logs();
    let p = TestPortal::sandbox().await;
    let ada = p.as_role(Admin).await;
    let dana = p.as_role(Deployer).await;
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200);

    let refused = p.call(&dana, &rotate_cluster_token("staging", CLUSTER_TOKEN)).await;
    assert_eq!(refused.status().as_u16(), 403, "deployers may not rotate secrets");
    let other = p.call(&ada, &rotate_cluster_token("staging", "/rollgate/staging/api-url")).await;
    assert_eq!(other.status().as_u16(), 409);
    assert!(other.text().await.unwrap().contains("give /rollgate/staging/api-url a new version"));

    let done: ChangeView =
        p.call(&ada, &rotate_cluster_token("staging", CLUSTER_TOKEN)).await.json().await.unwrap();
    assert_eq!(done.state, "executed", "{:?}", done.outcome);
    assert!(done.outcome.as_deref().unwrap_or("").contains("version 2 in use"), "{:?}", done.outcome);
    assert_eq!(p.running.portal.clusters.token_version("staging"), Some(2));
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200, "Rollgate keeps working");
    let view: TokensView = p.call(&ada, &ListTokens { env: s("staging") }).await.json().await.unwrap();
    let cluster = view.cluster.expect("staging's cluster token is in SSM");
    assert_eq!((cluster.version, cluster.in_use), (Some(2), Some(2)));
    assert_eq!(cluster.expiry_state, "ok");
    assert!(
        cluster.expires_in.as_deref().unwrap_or("").starts_with("in 29 days")
            || cluster.expires_in.as_deref().unwrap_or("").starts_with("in 30 days"),
        "{cluster:?}"
    );
    let steps = cluster_steps(&p, &ada).await;
    let mut seen: Vec<(&str, &str)> = steps.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    seen.reverse();
    assert_eq!(
        seen,
        [
            ("token.cluster.request", "succeeded"),
            ("token.cluster.verify", "succeeded"),
            ("token.cluster.write", "succeeded"),
            ("token.cluster.switch", "succeeded")
        ]
    );

    // The write refused after a token was issued and verified: nothing changes.
    p.running.sandbox.as_ref().unwrap().aws.refuse_next("PutParameter");
    let failed: ChangeView =
        p.call(&ada, &rotate_cluster_token("staging", CLUSTER_TOKEN)).await.json().await.unwrap();
    assert_eq!(failed.state, "failed");
    assert!(
        failed.outcome.as_deref().unwrap_or("").contains("The old token stays in use"),
        "{:?}",
        failed.outcome
    );
    let view: TokensView = p.call(&ada, &ListTokens { env: s("staging") }).await.json().await.unwrap();
    let cluster = view.cluster.unwrap();
    assert_eq!((cluster.version, cluster.in_use), (Some(2), Some(2)), "still version 2");
    assert_eq!(p.call(&p.http, &myapp()).await.status().as_u16(), 200, "still working on the old token");
    let steps = cluster_steps(&p, &ada).await;
    let latest: Vec<(&str, &str)> = steps.iter().take(3).map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        latest,
        [
            ("token.cluster.write", "failed"),
            ("token.cluster.verify", "succeeded"),
            ("token.cluster.request", "succeeded")
        ]
    );
    let executions = audit(&p, &ada, "change.execute").await;
    assert_eq!(executions.rows[0].result, "failed");

    // Production reaches the sandbox through its kubeconfig: there is no SSM token to rotate.
    let production =
        p.call(&ada, &rotate_cluster_token("production", "/rollgate/production/k8s-bear-token")).await;
    let body = production.text().await.unwrap();
    assert!(
        body.contains("cluster token is not kept in SSM"),
        "production uses the sandbox kubeconfig: {body}"
    );
}

/// On a protected environment the rotation waits for someone else's approval, then runs.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_on_a_protected_environment_needs_four_eyes() {
    let _ = logs();
    let parameter = PRODUCTION_TOKEN;
    let p = TestPortal::demo_world(production_token_in_ssm(), Flavour::Sqlite).await;
    let ada = p.as_role(Admin).await;
    let avery = p.as_role(Approver).await;
    let get = GetDeployment { env: s("production"), namespace: s("production"), name: s("myapp-deployment") };
    assert_eq!(p.call(&p.http, &get).await.status().as_u16(), 200);

    let asked: ChangeView =
        p.call(&ada, &rotate_cluster_token("production", parameter)).await.json().await.unwrap();
    assert_eq!(asked.state, "pending");
    assert_eq!(asked.before, format!("{parameter} version 1"));
    assert_eq!(
        p.running.portal.clusters.token_version("production"),
        Some(1),
        "nothing runs before approval"
    );
    let self_approval =
        p.call(&ada, &app::api::changes::ApproveChange { id: asked.id.clone(), comment: s("") }).await;
    assert_eq!(self_approval.status().as_u16(), 409);
    let approved: ChangeView = p
        .call(&avery, &app::api::changes::ApproveChange { id: asked.id.clone(), comment: s("ok") })
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved.state, "executed", "{:?}", approved.outcome);
    assert_eq!(p.running.portal.clusters.token_version("production"), Some(2));
    assert_eq!(p.call(&p.http, &get).await.status().as_u16(), 200);
}

/// The role table for the Tokens server functions (kept here as well as in access.rs so a
/// failure points at tokens).
#[tokio::test(flavor = "multi_thread")]
async fn who_may_do_what() {
    let p = TestPortal::sandbox().await;
    let admins: &[Role] = &[Admin];
    p.check_access(ListTokens { env: s("staging") }, &[Viewer, Deployer, Approver, Admin]).await;
    p.check_access(RevealToken { env: s("staging"), name: s(CLUSTER_TOKEN), version: None }, admins).await;
    p.check_access(put("/rollgate/staging/api-url", "http://x"), admins).await;
}
