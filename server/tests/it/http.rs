//! The server over HTTP: pages, health, assets and middleware, with the sandbox running.

use crate::common;

use common::TestPortal;

/// `/` sends a signed-in visitor to the Overview, anyone else to sign in.
#[tokio::test]
async fn root_redirects_to_the_overview() {
    let portal = TestPortal::sandbox().await;
    let anonymous = portal.anonymous.get(portal.url("/")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 303);
    assert_eq!(anonymous.headers()["location"], "/sign-in?next=%2F");
    // A browser's navigation accepts HTML: it gets a real redirect.
    let response = portal.http.get(portal.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/overview");
}

/// Every area renders on the server with what the environment's systems hold; none is a
/// "not connected" placeholder any more.
#[tokio::test]
async fn every_area_renders_what_is_configured() {
    let portal = TestPortal::sandbox().await;
    let cases = [
        ("/staging/pipelines", "Pipelines", "myapp-staging"),
        ("/production/pipelines", "Pipelines", "myapp-production"),
        ("/staging/deployments", "Deployments", "myapp-deployment"),
        ("/staging/tokens", "Tokens", "k8s-bear-token"),
        ("/production/approvals", "Approvals", "needs 1 approval from someone other"),
        ("/staging/approvals", "Approvals", "is not protected"),
        ("/staging/audit", "Audit", "Records are never edited or removed"),
    ];
    for (path, heading, configured) in cases {
        let (status, html) = portal.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(&format!("<h1>{heading}</h1>")), "{path}: no heading");
        assert!(html.contains(configured), "{path}: {configured:?} missing");
        assert!(!html.contains("Not connected"), "{path}: a not-connected placeholder");
        assert!(html.contains(">vera</span>"), "{path}: the signed-in user is not shown");
        assert!(html.contains(&format!("<title>{heading} · ")), "{path}: title");
        for area in ["Pipelines", "Deployments", "Tokens", "Approvals", "Audit"] {
            assert!(html.contains(&format!(">{area}</a>")), "{path}: nav link {area}");
        }
    }
}

/// Unknown environments and paths are 404s, said in words.
#[tokio::test]
async fn not_found_pages() {
    let portal = TestPortal::sandbox().await;
    let (status, html) = portal.page("/qa/pipelines").await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no environment named “qa”. Configured: staging, production."), "{html}");
    for path in ["/staging/nothing-here", "/a/b/c", "/staging"] {
        let (status, html) = portal.page(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Page not found"), "{path}");
    }
}

/// The theme chosen earlier (cookie) is rendered on the server, so the first paint is right.
#[tokio::test]
async fn theme_cookie_renders_on_server() {
    let portal = TestPortal::sandbox().await;
    let html = |cookie: &'static str| {
        let cookie = format!("{}; {cookie}", portal.cookie);
        let request = portal.http.get(portal.url("/staging/pipelines")).header("cookie", cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert!(html("rollgate-theme=dark").await.contains(r#"<html lang="en" data-theme="dark""#));
    assert!(html("a=b; rollgate-theme=light").await.contains(r#"data-theme="light""#));
    assert!(!html("rollgate-theme=<script>").await.contains("data-theme"));
}

/// Anyone may ask whether Rollgate is live and ready; only a signed-in person sees the
/// upstreams behind the answer.
#[tokio::test]
async fn health_and_readiness() {
    let portal = TestPortal::sandbox().await;
    let live = portal.get("/healthz").await;
    assert_eq!(live.status().as_u16(), 200);
    let anonymous = portal.anonymous.get(portal.url("/readyz")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 200);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "ready": true }));
    let ready = portal.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
    let upstreams = body["upstreams"].as_array().unwrap();
    assert_eq!(upstreams.len(), 6, "{body}");
    assert!(upstreams.iter().all(|u| u["state"] == "reachable"), "{body}");
}

/// Readiness reflects upstream connectivity: a cluster nobody listens on makes it 503.
#[tokio::test]
async fn readiness_fails_when_an_upstream_is_down() {
    // Bound but not listening: connections are refused, and the port stays ours (a listener
    // dropped here could hand its port to one of the sandbox's endpoints).
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = held.local_addr().unwrap();
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    config.environments[1].cluster = backend::config::ClusterConnection::Url {
        server: format!("http://{closed}").parse().unwrap(),
        token: backend::config::TokenSource::Env("K8S_TOKEN".into()),
        certificate_authority: None,
    };
    let portal = TestPortal::with_config(config).await;
    let anonymous = portal.anonymous.get(portal.url("/readyz")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 503, "orchestrators read the status without a session");
    let told = anonymous.text().await.unwrap();
    assert_eq!(told, r#"{"ready":false}"#, "no environments, endpoints or errors for strangers");
    let ready = portal.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false);
    let upstreams = body["upstreams"].as_array().unwrap();
    let state = |env: &str, system: &str| {
        upstreams
            .iter()
            .find(|u| u["environment"] == env && u["system"] == system)
            .unwrap_or_else(|| panic!("{env} {system}: {body}"))
    };
    assert!(
        upstreams.iter().filter(|u| u["environment"] == "staging").all(|u| u["state"] == "reachable"),
        "{body}"
    );
    let cluster = state("production", "Kubernetes API");
    assert_eq!(cluster["state"], "unreachable");
    assert!(cluster["reason"].as_str().unwrap().contains(&closed.port().to_string()), "{body}");
    // The Deployments page says why in words (here: the token the URL cluster needs is missing).
    let list: app::model::DeploymentList = portal
        .call(
            &portal.http,
            &app::api::deployments::ListDeployments {
                env: "production".into(),
                text: String::new(),
                health: Default::default(),
                order: Default::default(),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(list.rows.is_empty());
    assert!(
        list.problems.iter().any(|(ns, why)| ns == "production" && why.contains("K8S_TOKEN is not set")),
        "{:?}",
        list.problems
    );
}

/// Every response carries a request id; a caller's own id is kept.
#[tokio::test]
async fn request_ids() {
    let portal = TestPortal::sandbox().await;
    let generated = portal.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept =
        portal.http.get(portal.url("/healthz")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
}

/// Pages and assets are compressed for clients that ask; unhashed assets revalidate.
#[tokio::test]
async fn compression_and_asset_caching() {
    let portal = TestPortal::sandbox().await;
    for encoding in ["br", "gzip"] {
        let page = portal
            .http
            .get(portal.url("/staging/pipelines"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(page.headers()["content-encoding"], encoding);
    }
    let css = portal
        .http
        .get(portal.url("/pkg/rollgate.css"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);
    assert_eq!(css.headers()["content-encoding"], "br");
    assert_eq!(css.headers()["cache-control"], "no-cache", "test builds have no hashed names");
    let favicon = portal.get("/favicon.svg").await;
    assert_eq!(favicon.status().as_u16(), 200);
    assert_eq!(portal.get("/pkg/missing.wasm").await.status().as_u16(), 404);
}

/// The sandbox's endpoints answer in their protocols' own words.
#[tokio::test]
async fn sandbox_front_doors() {
    let portal = TestPortal::sandbox().await;
    let sandbox = portal.running.portal.sandbox.clone().unwrap();
    // The sandbox cluster is served over TLS with its own CA.
    let ca = &portal.running.sandbox.as_ref().unwrap().cluster_ca_pem;
    let cluster = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let version: serde_json::Value =
        cluster.get(sandbox.kubernetes.join("/version").unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["major"], "1");
    let missing =
        cluster.get(sandbox.kubernetes.join("/apis/apps/v1/nothing").unwrap()).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401, "the cluster's API needs a token");
    let status: serde_json::Value = missing.json().await.unwrap();
    assert_eq!((status["kind"].as_str(), status["reason"].as_str()), (Some("Status"), Some("Unauthorized")));

    for (url, prefix) in [(&sandbox.codepipeline, "CodePipeline_20150709"), (&sandbox.ssm, "AmazonSSM")] {
        let no_target = portal.http.post(url.clone()).body("{}").send().await.unwrap();
        assert_eq!(no_target.status().as_u16(), 400);
        let body: serde_json::Value = no_target.json().await.unwrap();
        assert_eq!(body["__type"], "MissingAction");
        let wrong = portal
            .http
            .post(url.clone())
            .header("x-amz-target", format!("{prefix}.DoSomething"))
            .header("content-type", "application/x-amz-json-1.1")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 400);
        let body: serde_json::Value = wrong.json().await.unwrap();
        assert_eq!(body["__type"], "UnknownOperationException");
    }
}

/// Shutdown lets the server finish and stop listening.
#[tokio::test]
async fn graceful_shutdown() {
    let portal = TestPortal::sandbox().await;
    let addr = portal.running.addr;
    assert_eq!(portal.get("/healthz").await.status().as_u16(), 200);
    portal.running.shutdown().await.expect("clean shutdown");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening after shutdown");
}

/// `rollgate healthcheck` (the container's HEALTHCHECK) succeeds against a serving portal and
/// fails, saying why, when nothing listens.
#[tokio::test]
async fn healthcheck_command() {
    let portal = TestPortal::sandbox().await;
    let run = |listen: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .arg("healthcheck")
            .env_remove("ROLLGATE_CONFIG")
            .env("ROLLGATE_LISTEN", listen)
            .output()
            .expect("run rollgate")
    };
    let addr = portal.running.addr;
    let ok = tokio::task::spawn_blocking(move || run(addr.to_string())).await.unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let unspecified = format!("0.0.0.0:{}", addr.port());
    let ok = tokio::task::spawn_blocking(move || run(unspecified)).await.unwrap();
    assert!(ok.status.success(), "0.0.0.0 is asked on loopback");

    // Bound but not listening: connections are refused, and the port stays ours (a listener
    // dropped here could hand its port to one of the sandbox's endpoints).
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = held.local_addr().unwrap();
    let down = tokio::task::spawn_blocking(move || run(closed.to_string())).await.unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot connect"));
}

/// With `sandbox_state`, the embedded sandbox writes its world to the file, and a restarted
/// portal's sandbox carries on from it (same admin token, so kubeconfigs keep working).
#[tokio::test]
async fn the_embedded_sandbox_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).expect("default config");
    config.sandbox_state = Some(state.clone());
    let first = TestPortal::with_config(config.clone()).await;
    let token = first.running.sandbox.as_ref().unwrap().admin_token.clone();
    first.running.shutdown().await.expect("clean shutdown");
    let saved = std::fs::read_to_string(&state).expect("the state file is written at shutdown");
    assert!(saved.contains("\"rollgate-deployer\""), "the seeded service accounts are in the file");

    let second = TestPortal::with_config(config).await;
    assert_eq!(second.running.sandbox.as_ref().unwrap().admin_token, token);
}
