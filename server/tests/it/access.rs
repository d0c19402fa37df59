//! Who may use what, proved for every route: every page the app's router lists, every HTTP
//! route of the server's own table (`server::router::routes`), and every registered server
//! function. A route or server function that appears without an entry here fails
//! `every_route_and_server_function_checks_who_asks`.
//!
//! The configuration gives each role to a different person in each environment (`p-approver`
//! approves in production only, `s-approver` in staging only), so a check made against the
//! wrong environment cannot pass: for a production route, no session → 401 (a page: the
//! sign-in page), a role only in staging → 403, the right role in production → through, and
//! a cross-site POST → 403. The same table drives the fuzzing of every server function.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use app::api::audit::ListAudit;
use app::api::changes::{ApproveChange, ListChanges, RejectChange, RequestChange};
use app::api::deployments::{GetDeployment, ListDeployments, PreviewRollback};
use app::api::locks::{LockEnvironment, UnlockEnvironment};
use app::api::pipelines::{
    CompareExecutions, DecidePipelineApproval, GetPipeline, ListPipelineApprovals, ListPipelines,
    RequestPipelineChange, RetryStage, SetStageTransition, StopExecution,
};
use app::api::tokens::{
    CreateToken, DeleteToken, GetToken, LabelTokenVersion, ListTokens, PutTokenVersion, RevealToken,
};
use app::api::{GetEnvironmentOverview, ListEnvironments, WhoAmI};
use backend::audit::Caller;
use backend::clock::Timestamp;
use backend::dispatch::Ask;
use backend::kube::change::DeploymentChange;
use backend::kube::names::{DeploymentName, Namespace};
use backend::policy::Role::{self, *};
use common::TestPortal;
use leptos::server_fn::ServerFn;
use server::router::Access;

const ANYONE: &[Role] = &[Viewer, Deployer, Approver, Admin];
const ENVIRONMENTS: [&str; 2] = ["staging", "production"];

fn s(v: &str) -> String {
    v.to_owned()
}

/// The person holding `role` in `env` and no role anywhere else.
fn person(env: &str, role: Role) -> String {
    format!("{}-{}", &env[..1], role.as_str())
}

/// One server function called with arguments aimed at production, and the roles (there)
/// that may call it; `None` for those any signed-in person may call.
struct Case {
    path: &'static str,
    allowed: Option<&'static [Role]>,
    fields: Vec<(String, String)>,
}

/// `args` as the form fields a browser posts (what reqwest's `.form` sends).
fn fields<F: serde::Serialize>(args: &F) -> Vec<(String, String)> {
    let serde_json::Value::Object(map) = serde_json::to_value(args).expect("arguments serialize") else {
        panic!("server function arguments are a struct")
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect()
}

fn case<F: ServerFn + serde::Serialize>(args: F, allowed: Option<&'static [Role]>) -> Case {
    Case { path: F::PATH, allowed, fields: fields(&args) }
}

/// The portal: every role given to one person per environment, each signed in once.
struct Matrix {
    p: TestPortal,
    /// (environment, role) → that person's client.
    clients: BTreeMap<(&'static str, Role), reqwest::Client>,
    /// Signed in, with no role anywhere.
    nobody: reqwest::Client,
}

impl Matrix {
    async fn start() -> Self {
        let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
        config.roles.clear();
        for env in &mut config.environments {
            env.roles = Role::ALL.into_iter().map(|role| (person(&env.name, role), role)).collect();
        }
        let p = TestPortal::with_config(config).await;
        let mut clients = BTreeMap::new();
        for env in ENVIRONMENTS {
            for role in Role::ALL {
                let cookie = p.account(&person(env, role)).await;
                clients.insert((env, role), p.client_with(&cookie));
            }
        }
        let nobody = p.client_with(&p.account("no-role").await);
        Self { p, clients, nobody }
    }

    fn client(&self, env: &'static str, role: Role) -> &reqwest::Client {
        &self.clients[&(env, role)]
    }

    async fn post(&self, client: &reqwest::Client, case: &Case) -> (u16, String) {
        let response = client
            .post(self.p.url(case.path))
            .header("accept", "application/json")
            .form(&case.fields)
            .send()
            .await
            .expect("call");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// A pending production request by p-admin, made through the backend (so the admin row of
    /// the table meets the four-eyes rule, a 409, and the others their role's answer).
    async fn pending(&self) -> String {
        let action = DeploymentChange::Restart {
            namespace: Namespace::parse("production").unwrap(),
            deployment: DeploymentName::parse("myapp-deployment").unwrap(),
        };
        let requester = Caller::new(person("production", Admin));
        let changes = &self.p.running.portal.changes;
        let ask = Ask::new(action.into(), "access test");
        changes.request(&requester, "production", ask, Timestamp::now()).await.expect("request").id
    }

    /// One line per server function, every one aimed at production.
    async fn cases(&self) -> Vec<Case> {
        let prod = || s("production");
        let (pipeline, nobody) = (s("myapp-production"), s("0e0e0e0e-0000-4000-8000-000000000000"));
        let token = || s("/rollgate/production/api-url");
        let changer = || RequestChange {
            namespace: Some(prod()),
            deployment: Some(s("myapp-deployment")),
            ..crate::common::request_change("production", "restart", "access test")
        };
        let audit =
            ListAudit { env: prod(), actor: s(""), action: s(""), from: s(""), until: s(""), page: 0 };
        let created = |name: &str| CreateToken {
            env: prod(),
            name: s(name),
            kind: s("String"),
            value: s("v"),
            key_id: None,
            description: None,
            tags: None,
            allowed_pattern: None,
            tier: None,
            return_to: None,
        };
        let gone = s("/rollgate/production/access-test");
        let deployers: &'static [Role] = &[Deployer, Admin];
        let approvers: &'static [Role] = &[Approver, Admin];
        let lockers: &'static [Role] = &[Deployer, Approver, Admin];
        let admins: &'static [Role] = &[Admin];
        vec![
            case(WhoAmI {}, None),
            case(ListEnvironments {}, None),
            // Every environment at once: each visitor sees the ones their roles reach.
            case(app::api::overview::GetOverview {}, None),
            case(
                app::api::overview::CompareEnvironments {
                    app: s("myapp-deployment"),
                    left: prod(),
                    right: prod(),
                },
                Some(ANYONE),
            ),
            case(app::api::delivery::GetDelivery { env: prod(), days: s("7"), app: s("") }, Some(ANYONE)),
            case(app::api::notifications::GetNotifications { env: prod() }, Some(ANYONE)),
            case(
                app::api::notifications::SendTestNotification {
                    env: prod(),
                    target: s("nope"),
                    return_to: None,
                },
                Some(deployers),
            ),
            case(GetEnvironmentOverview { name: prod() }, Some(ANYONE)),
            case(audit, Some(ANYONE)),
            case(ListChanges { env: prod() }, Some(ANYONE)),
            case(app::api::blocked::ListBlocked { env: prod() }, Some(ANYONE)),
            case(app::api::locks::FreezeCalendar { env: prod() }, Some(ANYONE)),
            case(changer(), Some(deployers)),
            case(ApproveChange { id: self.pending().await, comment: s("ok") }, Some(approvers)),
            case(RejectChange { id: self.pending().await, comment: s("no") }, Some(approvers)),
            case(LockEnvironment { env: prod(), reason: s("access test"), until: s("") }, Some(lockers)),
            case(UnlockEnvironment { env: prod() }, Some(lockers)),
            case(
                ListDeployments {
                    env: prod(),
                    text: String::new(),
                    health: Default::default(),
                    order: Default::default(),
                },
                Some(ANYONE),
            ),
            case(GetDeployment { env: prod(), namespace: prod(), name: s("myapp-deployment") }, Some(ANYONE)),
            case(
                PreviewRollback { env: prod(), namespace: prod(), name: s("myapp-deployment"), revision: 1 },
                Some(ANYONE),
            ),
            case(ListTokens { env: prod() }, Some(ANYONE)),
            case(GetToken { env: prod(), name: token() }, Some(ANYONE)),
            case(RevealToken { env: prod(), name: token(), version: None }, Some(admins)),
            case(
                PutTokenVersion { env: prod(), name: token(), value: s("http://x"), return_to: None },
                Some(admins),
            ),
            case(
                LabelTokenVersion {
                    env: prod(),
                    name: token(),
                    version: s("1"),
                    labels: s("x"),
                    return_to: None,
                },
                Some(admins),
            ),
            case(created("/rollgate/production/access-test"), Some(admins)),
            case(
                DeleteToken { env: prod(), name: gone.clone(), confirmation: gone, return_to: None },
                Some(admins),
            ),
            case(ListPipelines { env: prod() }, Some(ANYONE)),
            case(GetPipeline { env: prod(), name: pipeline.clone(), page: s("") }, Some(ANYONE)),
            case(ListPipelineApprovals { env: prod() }, Some(ANYONE)),
            case(
                CompareExecutions {
                    env: prod(),
                    name: pipeline.clone(),
                    a: nobody.clone(),
                    b: nobody.clone(),
                },
                Some(ANYONE),
            ),
            case(
                RequestPipelineChange {
                    env: prod(),
                    pipeline: pipeline.clone(),
                    kind: s("start"),
                    commit: None,
                    stage: None,
                    execution: None,
                    variables: None,
                    revision_action: None,
                    revision_kind: None,
                    revision_value: None,
                    condition: None,
                    reason: s("access test"),
                    return_to: None,
                },
                Some(deployers),
            ),
            case(
                StopExecution {
                    env: prod(),
                    pipeline: pipeline.clone(),
                    execution: nobody.clone(),
                    abandon: None,
                    reason: s("access test"),
                    override_reason: None,
                    return_to: None,
                },
                Some(deployers),
            ),
            case(
                RetryStage {
                    env: prod(),
                    pipeline: pipeline.clone(),
                    execution: nobody.clone(),
                    stage: s("Test"),
                    mode: s("failed"),
                    override_reason: None,
                    return_to: None,
                },
                Some(deployers),
            ),
            case(
                DecidePipelineApproval {
                    env: prod(),
                    pipeline: pipeline.clone(),
                    stage: s("Approval"),
                    action: s("ManualApproval"),
                    token: nobody.clone(),
                    decision: s("approve"),
                    comment: s("access test"),
                    override_reason: None,
                    return_to: None,
                },
                Some(approvers),
            ),
            case(
                SetStageTransition {
                    env: prod(),
                    pipeline,
                    stage: s("Deploy"),
                    enable: s("true"),
                    reason: None,
                    override_reason: None,
                    return_to: None,
                },
                Some(lockers),
            ),
        ]
    }
}

/// The production pages, with their parameters filled in (`executions`: two of
/// myapp-production's, for the comparison page).
fn page_path(route: &str, executions: &(String, String)) -> String {
    let fill = [
        ("{env}", "production"),
        ("{namespace}", "production"),
        ("{revision}", "1"),
        ("{deployment}", "myapp-deployment"),
    ];
    let mut path = fill.iter().fold(route.to_owned(), |p, (k, v)| p.replace(k, v));
    let name = if path.contains("/pipelines/") { "myapp-production" } else { "myapp-deployment" };
    path = path.replace("{name}", name);
    if path.ends_with("/compare") && path.contains("/pipelines/") {
        path.push_str(&format!("?a={}&b={}", executions.0, executions.1));
    }
    path
}

/// The table: pages, the server's own routes and every server function, each with the
/// outcome for no session, a role only in the other environment, and the right role.
#[tokio::test(flavor = "multi_thread")]
async fn every_route_and_server_function_checks_who_asks() {
    let m = Matrix::start().await;
    let p = &m.p;

    // Pages: everything under an environment needs a role there.
    let pages: BTreeSet<String> =
        leptos_axum::generate_route_list(app::App).iter().map(|r| r.path().to_owned()).collect();
    let public_pages = ["/", "/sign-in"];
    let detail: app::model::pipelines::PipelineDetail = p
        .call(
            m.client("production", Viewer),
            &GetPipeline { env: s("production"), name: s("myapp-production"), page: s("") },
        )
        .await
        .json()
        .await
        .expect("myapp-production");
    let executions = (detail.history[0].id.clone(), detail.history[1].id.clone());
    let mut checked_pages = 0;
    for route in &pages {
        let path = page_path(route, &executions);
        let anonymous = p.anonymous.get(p.url(&path)).send().await.unwrap();
        if public_pages.contains(&route.as_str()) {
            assert!(anonymous.status().as_u16() < 500, "{path}");
            continue;
        }
        if route.starts_with("/overview") {
            // Every environment at once: anyone signed in sees the ones their roles reach; a
            // comparison needs both environments.
            assert_eq!(anonymous.status().as_u16(), 303, "{path} without a session");
            for role in Role::ALL {
                let staging_only = m.client("staging", role);
                if route == "/overview" {
                    let page = staging_only.get(p.url(&path)).send().await.unwrap();
                    assert_eq!(page.status().as_u16(), 200, "{path} as {role:?} of staging");
                    let html = page.text().await.unwrap();
                    assert!(html.contains("data-env=\"staging\""), "{path}: staging's column");
                    assert!(
                        !html.contains("data-env=\"production\""),
                        "{path}: no production column for {role:?} of staging"
                    );
                } else {
                    let compare = format!("{path}?app=myapp-deployment&left=staging&right=production");
                    let page = staging_only.get(p.url(&compare)).send().await.unwrap();
                    assert_eq!(page.status().as_u16(), 403, "{compare} as {role:?} of staging only");
                }
            }
            checked_pages += 1;
            continue;
        }
        assert!(route.starts_with("/{env}"), "a page outside an environment needs an entry here: {route}");
        assert_eq!(anonymous.status().as_u16(), 303, "{path} without a session");
        let to = anonymous.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/sign-in?next="), "{path} → {to}");
        for role in Role::ALL {
            let elsewhere = m.client("staging", role).get(p.url(&path)).send().await.unwrap();
            assert_eq!(elsewhere.status().as_u16(), 403, "{path} as {role:?} of staging only");
            let here = m.client("production", role).get(p.url(&path)).send().await.unwrap();
            assert_eq!(here.status().as_u16(), 200, "{path} as {role:?} of production");
        }
        checked_pages += 1;
    }
    assert!(checked_pages >= 10, "the app lists its pages: {pages:?}");

    // The server's own routes.
    let mut http_routes = 0;
    for route in server::router::routes() {
        http_routes += 1;
        let mut path = route
            .path
            .replace("{env}", "production")
            .replace("{namespace}", "production")
            .replace("{deployment}", "myapp-deployment")
            .replace("{name}", "myapp-production");
        if path.ends_with("/export") {
            path.push_str("?format=csv");
        }
        let send = |client: &reqwest::Client| {
            let request = client.request(route.method.clone(), p.url(&path));
            async move { request.send().await.unwrap() }
        };
        match route.access {
            Access::Public => {
                let status = send(&p.anonymous).await.status().as_u16();
                // Readiness may say 503 (an upstream not checked yet): that is its answer.
                let answered = status < 500 || path == "/readyz";
                assert!(![401, 403].contains(&status) && answered, "{path} is public: {status}");
            }
            Access::MetricsToken => {
                // Not configured here, so nobody reads them, signed in or not (tests/it/metrics.rs
                // has the token's own checks).
                assert_eq!(send(&p.anonymous).await.status().as_u16(), 404, "{path} anonymously");
                let admin = send(m.client("production", Admin)).await.status().as_u16();
                assert_eq!(admin, 404, "{path} with an admin's session");
            }
            Access::InEnvironment(permission) => {
                let anonymous = send(&p.anonymous).await.status().as_u16();
                let signed_out = if path.starts_with("/live/") { 401 } else { 303 };
                assert_eq!(anonymous, signed_out, "{path} without a session");
                for role in Role::ALL {
                    let elsewhere = send(m.client("staging", role)).await.status().as_u16();
                    assert_eq!(elsewhere, 403, "{path} as {role:?} of staging only");
                    let here = send(m.client("production", role)).await.status().as_u16();
                    let expected = if role.allows(permission) { 200 } else { 403 };
                    assert_eq!(here, expected, "{path} as {role:?} of production");
                }
            }
        }
        if route.method == http::Method::POST {
            let cross = m
                .client("production", Admin)
                .post(p.url(&path))
                .header("origin", "https://evil.example")
                .send()
                .await
                .unwrap();
            assert_eq!(cross.status().as_u16(), 403, "cross-site POST {path}");
        }
    }
    assert!(http_routes >= 10);

    // Every server function.
    let cases = m.cases().await;
    for case in &cases {
        let (status, body) = m.post(&p.anonymous, case).await;
        assert_eq!(status, 401, "{} without a session: {body}", case.path);
        assert!(body.contains("SignInRequired"), "{}: {body}", case.path);
        let (status, body) = m.post(&m.nobody, case).await;
        match case.allowed {
            None => assert!(status < 400, "{} for anyone signed in: {status} {body}", case.path),
            Some(_) => assert_eq!(status, 403, "{} with no role: {body}", case.path),
        }
        for role in Role::ALL {
            let Some(allowed) = case.allowed else { continue };
            let (status, body) = m.post(m.client("staging", role), case).await;
            assert_eq!(status, 403, "{} as {role:?} of staging only: {body}", case.path);
            assert!(body.contains("Forbidden"), "{}: {body}", case.path);
            let (status, body) = m.post(m.client("production", role), case).await;
            if allowed.contains(&role) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{} as {role:?}: {status} {body}",
                    case.path
                );
            } else {
                assert_eq!(status, 403, "{} as {role:?} of production: {body}", case.path);
            }
        }
        let cross = m
            .client("production", Admin)
            .post(p.url(case.path))
            .header("origin", "https://evil.example")
            .header("accept", "application/json")
            .form(&case.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status().as_u16(), 403, "cross-site POST {}", case.path);
    }
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.path).collect();
    let registered: BTreeSet<&str> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    assert!(missing.is_empty(), "server functions without an access line in this file: {missing:?}");
    assert_eq!(covered.len(), cases.len(), "one line per server function");
}

/// Refusals given before any handler runs read what was sent first: fifty strangers posting
/// bodies up to the handlers' limit at once each get their 401 (not a reset connection), a
/// cross-site post its 403, and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn refused_requests_get_their_answer_whatever_they_send() {
    let p = TestPortal::sandbox().await;
    let path = ListDeployments::PATH;
    let calls = (0..50).map(|i| {
        let body = "x".repeat(1 << (10 + i % 11)); // 1 KiB to 1 MiB
        let (client, url) = (p.anonymous.clone(), p.url(path));
        async move {
            let sent = client
                .post(url)
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("env={body}"))
                .send()
                .await;
            let response = sent.unwrap_or_else(|e| panic!("stranger {i}: no answer: {e}"));
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    });
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("SignInRequired"), "{body}");
    }
    let cross = p
        .anonymous
        .post(p.url(path))
        .header("origin", "https://evil.example")
        .body(format!("env={}", "x".repeat(1 << 20)))
        .send()
        .await
        .expect("the cross-site post is answered");
    assert_eq!(cross.status().as_u16(), 403);
    assert_eq!(p.anonymous.get(p.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
}

/// A 403 says why and who may; a person with no role is told to ask for one.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_say_why() {
    let m = Matrix::start().await;
    let restart = m.cases().await.into_iter().find(|c| c.path == <RequestChange as ServerFn>::PATH).unwrap();
    let (status, body) = m.post(m.client("production", Viewer), &restart).await;
    assert_eq!(status, 403);
    assert!(
        body.contains(
            "As viewer in Production you may not request changes; that needs the deployer or admin role."
        ),
        "{body}"
    );
    let (status, body) = m.post(m.client("staging", Admin), &restart).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("You have no role in Production; ask an admin to add s-admin to its roles."),
        "{body}"
    );
    let unknown = m.p.call(m.client("production", Viewer), &GetEnvironmentOverview { name: s("qa") }).await;
    assert_eq!(unknown.status().as_u16(), 404);
}

/// A deterministic source of junk (xorshift), so a failure can be replayed.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Up to `max` characters drawn from ASCII, controls, separators and far-away unicode.
    fn text(&mut self, max: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            "-",
            "/",
            ".",
            " ",
            "\t",
            "\n",
            "\0",
            "%",
            "&",
            "=",
            "+",
            "[",
            "]",
            "{",
            "}",
            "\"",
            "'",
            "<",
            "\\",
            ":",
            ";",
            "é",
            "ß",
            "中",
            "🚀",
            "\u{202e}",
            "../",
            "%2F",
            "production",
            "myapp",
        ];
        let len = (self.next() as usize) % (max + 1);
        (0..len).map(|_| PIECES[(self.next() as usize) % PIECES.len()]).collect()
    }
}

/// Every server function, called by strangers, by the wrong role and by the right one, with
/// random, oversized, missing and malformed fields: no answer is a 5xx, a stranger always
/// gets 401 whatever they send, and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn fuzzing_every_server_function_never_breaks_it() {
    let m = Matrix::start().await;
    let p = &m.p;
    let cases = m.cases().await;
    let mut junk = Junk(0x5eed_2026_1202);
    let huge = "x".repeat(1 << 20);
    let mut calls = 0;
    for case in &cases {
        let right = case.allowed.and_then(|a| a.first().copied()).unwrap_or(Viewer);
        let callers: [(&str, &reqwest::Client); 3] = [
            ("anonymous", &p.anonymous),
            ("another environment's", m.client("staging", right)),
            ("the right role", m.client("production", right)),
        ];
        let mut bodies: Vec<Vec<(String, String)>> = Vec::new();
        for _ in 0..4 {
            bodies.push(case.fields.iter().map(|(k, _)| (k.clone(), junk.text(40))).collect());
        }
        for (i, _) in case.fields.iter().enumerate() {
            let mut oversized = case.fields.clone();
            oversized[i].1 = huge.clone();
            bodies.push(oversized);
        }
        bodies.push(Vec::new());
        let mut extra = case.fields.clone();
        extra.push((junk.text(10), junk.text(10)));
        bodies.push(extra);
        for (who, client) in callers {
            for body in &bodies {
                let shown: Vec<_> =
                    body.iter().map(|(k, v)| (k, v.chars().take(40).collect::<String>())).collect();
                let response = client
                    .post(p.url(case.path))
                    .header("accept", "application/json")
                    .form(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{} as {who} with {shown:?}: no answer: {e}", case.path));
                let status = response.status().as_u16();
                assert!(status < 500, "{} as {who} with {shown:?}: {status}", case.path);
                if who == "anonymous" {
                    assert_eq!(status, 401, "{} as a stranger with {shown:?}", case.path);
                }
                calls += 1;
            }
            // Not a form at all.
            let raw = client
                .post(p.url(case.path))
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', b'&', b'%', 0x00, b'=', 0x80])
                .send()
                .await
                .expect("the server answers");
            let status = raw.status().as_u16();
            let said = raw.text().await.unwrap_or_default();
            assert!(status < 500, "{} as {who} with bytes: {status} {said}", case.path);
            calls += 1;
        }
    }
    assert!(calls > 500, "{calls} calls");
    assert_eq!(p.anonymous.get(p.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
    let still = p
        .call(
            m.client("production", Viewer),
            &ListDeployments {
                env: s("production"),
                text: String::new(),
                health: Default::default(),
                order: Default::default(),
            },
        )
        .await;
    assert_eq!(still.status().as_u16(), 200, "the server keeps serving");
}
