//! `/metrics` from the outside: who may read it (a bearer token on the main address, or a
//! separate address; nobody when neither is configured), that Prometheus's own checker
//! accepts it, and that what people do shows in it. The process's metrics are shared by the
//! tests running beside this one, so counts are checked as "at least".

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{TestPortal, request_change};
use crate::pipelines::s;

use app::api::changes::RequestChange;
use app::api::pipelines::GetPipeline;
use app::api::tokens::ListTokens;
use backend::config::{SecretSource, Source, load};
use backend::policy::Role;

const TOKEN: &str = "metrics-token-for-the-test-0123456789";

/// The value of the series `name` whose labels include `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, number) = line.rsplit_once(' ')?;
        let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
        let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (series_name == name && all).then(|| number.parse().ok()).flatten()
    })
}

/// `promtool check metrics` (Debian's prometheus package) on `text`: the format, and its
/// naming rules (counters end in `_total`, units in the name, help on every family).
pub(crate) fn promtool(args: &[&str], stdin: Option<&str>) -> Option<(bool, String)> {
    let spawned = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            // The test command installs it and says so: there a missing promtool fails.
            assert!(std::env::var_os("ROLLGATE_TESTS_NEED_PROMTOOL").is_none(), "promtool: {e}");
            let _ = writeln!(std::io::stderr(), "SKIPPED the promtool check: {e}");
            return None;
        }
    };
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("write to promtool");
    drop(input);
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), said))
}

async fn bearer_portal() -> (TestPortal, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.metrics.bearer_token = Some(SecretSource::File(file));
    (TestPortal::with_config(config).await, dir)
}

async fn scrape(p: &TestPortal, token: &str) -> reqwest::Response {
    p.anonymous.get(p.url("/metrics")).bearer_auth(token).send().await.unwrap()
}

/// Without the token nobody reads them, a session (even an admin's) included; a token
/// guessed but for its last character is refused like any other.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_bearer_token_reads_them() {
    let (p, _dir) = bearer_portal().await;
    let anonymous = p.anonymous.get(p.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let admin = p.as_role(Role::Admin).await;
    assert_eq!(admin.get(p.url("/metrics")).send().await.unwrap().status().as_u16(), 401, "a session");
    let almost = &TOKEN[..TOKEN.len() - 1];
    for wrong in [almost, "", "Bearer", &format!("{TOKEN}x")] {
        assert_eq!(scrape(&p, wrong).await.status().as_u16(), 401, "{wrong:?}");
    }
    let basic =
        p.anonymous.get(p.url("/metrics")).basic_auth("prometheus", Some(TOKEN)).send().await.unwrap();
    assert_eq!(basic.status().as_u16(), 401, "the token as a password");
    let ok = scrape(&p, TOKEN).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
}

/// On a separate address they need no token, and the main address does not serve them.
#[tokio::test(flavor = "multi_thread")]
async fn a_separate_address_serves_them_alone() {
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = TestPortal::with_config(config).await;
    let at = p.running.metrics_addr.expect("the metrics listener");
    let text = reqwest::get(format!("http://{at}/metrics")).await.unwrap();
    assert_eq!(text.status().as_u16(), 200);
    assert!(text.text().await.unwrap().contains("# TYPE rollgate_http_requests_total counter"));
    let other = reqwest::get(format!("http://{at}/")).await.unwrap();
    assert_eq!(other.status().as_u16(), 404, "nothing else there");
    let main = p.anonymous.get(p.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status().as_u16(), 404, "not on the main address");
    assert!(main.text().await.unwrap().contains("not served on this address"));
}

#[test]
fn both_ways_at_once_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.toml");
    std::fs::write(
        &path,
        "[metrics]\nlisten = \"0.0.0.0:9464\"\nbearer_token = { env = \"T\" }\n\n[[environment]]\nname = \"prod\"\n\
         cluster = { kind = \"in-cluster\" }\nnamespaces = [\"web\"]\n",
    )
    .unwrap();
    let error = load(&Source::File(path)).unwrap_err().to_string();
    assert!(error.starts_with("metrics:") && error.contains("not both"), "{error}");
}

/// What people did, in the metrics: requests by route, calls to each system, the watch and
/// a stream open, a pipeline polled, sign-in failures and a lockout, a change pending and one
/// carried out, the upstreams up and the staging cluster token's time left; and the whole
/// text passes `promtool check metrics`.
#[tokio::test(flavor = "multi_thread")]
async fn what_happens_shows_and_promtool_accepts_it() {
    let (p, _dir) = bearer_portal().await;
    let dana = p.as_role(Role::Deployer).await;
    let ada = p.as_role(Role::Admin).await;
    assert_eq!(p.page("/staging/deployments").await.0, 200);
    p.call(&ada, &ListTokens { env: s("staging") }).await;
    let pipeline = GetPipeline { env: s("staging"), name: s("myapp-staging"), page: s("") };
    assert_eq!(p.call(&p.http, &pipeline).await.status().as_u16(), 200);
    let stream = p.http.get(p.url("/live/staging/deployments")).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    for _ in 0..6 {
        let _ = p.sign_in("metrics-nobody", "wrong password").await;
    }
    let scale = |env: &str, replicas: &str| RequestChange {
        namespace: Some(s(env)),
        deployment: Some(s("myapp-deployment")),
        replicas: Some(s(replicas)),
        ..request_change(env, "scale", "metrics test")
    };
    assert_eq!(p.call(&dana, &scale("staging", "3")).await.status().as_u16(), 200);
    assert_eq!(p.call(&dana, &scale("production", "4")).await.status().as_u16(), 200);

    let text = scrape(&p, TOKEN).await.text().await.unwrap();
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let v = value(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
        assert!(v >= min, "{name} {labels:?} = {v}, expected at least {min}");
    };
    at_least("rollgate_http_requests_total", &[("route", "/{env}/deployments"), ("status", "200")], 1.0);
    at_least("rollgate_http_request_duration_seconds_count", &[("route", "/{env}/deployments")], 1.0);
    at_least(
        "rollgate_upstream_calls_total",
        &[("system", "kubernetes"), ("operation", "watch deployments")],
        1.0,
    );
    at_least(
        "rollgate_upstream_calls_total",
        &[("system", "ssm"), ("operation", "DescribeParameters"), ("outcome", "ok")],
        1.0,
    );
    at_least(
        "rollgate_upstream_calls_total",
        &[("system", "codepipeline"), ("operation", "GetPipelineState"), ("outcome", "ok")],
        1.0,
    );
    at_least(
        "rollgate_watch_link",
        &[("environment", "staging"), ("namespace", "staging"), ("state", "live")],
        1.0,
    );
    at_least("rollgate_watch_listings_total", &[("environment", "staging"), ("resource", "pods")], 1.0);
    at_least("rollgate_open_streams", &[("kind", "deployments")], 1.0);
    at_least("rollgate_pipeline_poll_interval_seconds", &[("pipeline", "myapp-staging")], 0.0);
    at_least("rollgate_sign_in_failures_total", &[("method", "password")], 5.0);
    at_least("rollgate_sign_in_lockouts_total", &[], 1.0);
    at_least(
        "rollgate_change_executions_total",
        &[("environment", "staging"), ("kind", "scale"), ("outcome", "executed")],
        1.0,
    );
    at_least("rollgate_change_execution_duration_seconds_count", &[("kind", "scale")], 1.0);
    assert_eq!(
        value(&text, "rollgate_change_requests_open", &[("environment", "production"), ("state", "pending")]),
        Some(1.0),
        "this portal's store holds one pending request"
    );
    at_least("rollgate_upstream_up", &[("environment", "staging"), ("system", "kubernetes")], 1.0);
    // The sandbox's seeded token lives a year.
    at_least("rollgate_cluster_token_expires_in_seconds", &[("environment", "staging")], 300.0 * 86_400.0);
    drop(stream);

    if let Some((ok, said)) = promtool(&["check", "metrics"], Some(&text)) {
        assert!(ok, "promtool check metrics:\n{said}\n{text}");
    }
}

/// The example alert rules load in Prometheus's own checker, and their unit tests (each alert
/// fires on the series that should raise it, and only on those) pass.
#[test]
fn the_alert_rules_pass_promtool() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus");
    let rules = format!("{dir}/rules.yml");
    if let Some((ok, said)) = promtool(&["check", "rules", &rules], None) {
        assert!(ok && said.contains("SUCCESS: 3 rules found"), "{said}");
    }
    if let Some((ok, said)) = promtool(&["test", "rules", &format!("{dir}/rules.test.yml")], None) {
        assert!(ok && said.contains("SUCCESS"), "{said}");
    }
}
