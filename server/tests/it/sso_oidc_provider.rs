//! Single sign-on against a certified OpenID Provider rather than the sandbox's own: npm's
//! `oidc-provider` (panva's, OpenID Certified), run with Node by each test from
//! `tests/oidc-provider/provider.mjs`, and Rollgate's real HTTP routes (start → provider →
//! callback). What the provider cannot do by itself (another audience, a wrong clock, a key
//! rotation on request) it does through test-only switches the script documents.
//!
//! The tests skip themselves, saying so, when `node` or the npm package is missing
//! (`scripts/setup.sh` runs `npm ci`); anything else that goes wrong fails them.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use backend::Config;
use backend::audit::Outcome;
use backend::config::{NameBinding, OidcIssuer, SecretSource, Source, load};
use backend::policy::Role;
use common::TestPortal;
use common::sso::{callback, cookie_named, location, plain, role_in, session_or_where, sign_ins};
use serde_json::{Value, json};

/// The provider, in a Node process of its own; killed (and reaped) when dropped.
struct Provider {
    child: Option<Child>,
    issuer: String,
    secret_file: tempfile::NamedTempFile,
    /// What the script writes to stderr (oidc-provider's development warnings, a crash).
    log: tempfile::NamedTempFile,
}

/// Says why a test is skipped where `cargo test` shows it (it captures only the print
/// macros, not the stream itself). The README's test command installs the provider and sets
/// `ROLLGATE_TESTS_NEED_NODE`: there a missing provider fails the test instead of passing
/// unseen.
fn skip(test: &str, why: &str) {
    assert!(std::env::var_os("ROLLGATE_TESTS_NEED_NODE").is_none(), "{test}: {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A client secret for this run only.
fn random_secret() -> String {
    use std::hash::{BuildHasher, RandomState};
    (0..4).map(|i| format!("{:016x}", RandomState::new().hash_one(i))).collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_owned()
}

impl Provider {
    /// Starts the provider, or says why this test is skipped and returns `None`.
    fn start(test: &str) -> Option<Self> {
        if Command::new("node").arg("--version").output().is_err() {
            skip(test, "`node` is not installed (the certified provider runs on Node)");
            return None;
        }
        if !workspace().join("node_modules/oidc-provider/package.json").exists() {
            skip(test, "the npm package oidc-provider is missing; run scripts/setup.sh (npm ci)");
            return None;
        }
        let secret = random_secret();
        let mut secret_file = tempfile::NamedTempFile::new().unwrap();
        secret_file.write_all(secret.as_bytes()).unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("node")
            .arg(workspace().join("server/tests/oidc-provider/provider.mjs"))
            .env("OP_CLIENT_SECRET", &secret)
            // Closed when this process ends however it ends: the script then exits too.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut provider = Self { child: Some(child), issuer: String::new(), secret_file, log };
        match serde_json::from_str::<Value>(&line).ok().and_then(|v| Some(v["issuer"].as_str()?.to_owned())) {
            Some(issuer) => provider.issuer = issuer,
            None => {
                provider.stop();
                let log = std::fs::read_to_string(provider.log.path()).unwrap_or_default();
                panic!("the provider did not start: {line:?}\n{log}");
            }
        }
        Some(provider)
    }

    /// The sandbox's configuration signing in through this provider, as Rollgate would be
    /// registered at it.
    fn config(&self) -> Config {
        let mut config = load(&Source::SandboxDefault).unwrap();
        let oidc = config.auth.oidc.as_mut().unwrap();
        oidc.display_name = "Test OP".into();
        oidc.issuer = OidcIssuer::Url(self.issuer.clone());
        oidc.client_id = Some("rollgate".into());
        oidc.client_secret = Some(SecretSource::File(self.secret_file.path().to_owned()));
        config
    }

    /// Rollgate started with `config`, registered at the provider under its callback.
    async fn rollgate(&self, config: Config) -> TestPortal {
        let portal = TestPortal::with_config(config).await;
        self.switch("client", json!({ "redirect_uri": portal.url("/auth/oidc/callback") })).await;
        portal
    }

    /// One of the script's test-only switches.
    async fn switch(&self, name: &str, body: Value) -> Value {
        let response =
            plain().post(format!("{}/-/{name}", self.issuer)).json(&body).send().await.expect("the provider");
        assert_eq!(response.status().as_u16(), 200, "{name}");
        response.json().await.unwrap()
    }

    async fn fetches(&self) -> (u64, u64) {
        let stats: Value =
            plain().get(format!("{}/-/stats", self.issuer)).send().await.unwrap().json().await.unwrap();
        (stats["discovery"].as_u64().unwrap(), stats["jwks"].as_u64().unwrap())
    }

    /// The provider goes away, as a crashed or unreachable one would.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
        // A failing test shows what the provider said (the harness prints a failure's output).
        if std::thread::panicking() {
            eprintln!(
                "the provider's log:\n{}",
                std::fs::read_to_string(self.log.path()).unwrap_or_default()
            );
        }
    }
}

/// A browser that started a sign-in at Rollgate and is at the provider's authorize URL.
struct Browser {
    login_cookie: String,
    authorize: reqwest::Url,
}

async fn start(portal: &TestPortal, provider: &Provider) -> Result<Browser, String> {
    let response = plain().get(portal.url("/auth/oidc/start?next=%2Fstaging")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let to = location(&response);
    if !to.starts_with(&provider.issuer) {
        return Err(to);
    }
    let authorize = reqwest::Url::parse(&to).unwrap();
    let login_cookie = cookie_named(&response, "rollgate-sso").expect("a login cookie");
    Ok(Browser { login_cookie: login_cookie.split(';').next().unwrap().to_owned(), authorize })
}

/// The browser at the provider: follows its redirects with its own cookies, logs in as
/// `account` where the provider asks who it is, and stops where the provider sends it back to
/// Rollgate.
async fn at_provider(portal: &TestPortal, browser: &Browser, account: &str) -> reqwest::Url {
    let jar = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let back = portal.url("/auth/oidc/callback");
    let mut url = browser.authorize.clone();
    let mut logged_in = false;
    for _ in 0..10 {
        let response = jar.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 303, "{url}: {}", response.text().await.unwrap_or_default());
        let mut next = url.join(&location(&response)).unwrap();
        if next.as_str().starts_with(&back) {
            return next;
        }
        if next.path().starts_with("/interaction/") && !logged_in {
            next.query_pairs_mut().append_pair("account", account);
            logged_in = true;
        }
        url = next;
    }
    panic!("the provider never sent the browser back to Rollgate");
}

/// The whole way as `account`: the session cookie, else where the browser ended up.
async fn sign_in(portal: &TestPortal, provider: &Provider, account: &str) -> Result<String, String> {
    let browser = start(portal, provider).await?;
    let back = at_provider(portal, &browser, account).await;
    session_or_where(&callback(&back, Some(&browser.login_cookie)).await)
}

/// The detail of the newest audited sign-in.
async fn last_sign_in(portal: &TestPortal) -> (Outcome, String) {
    let record = sign_ins(portal).await.remove(0);
    (record.result, record.detail.unwrap_or_default())
}

/// The code flow with PKCE against a certified provider: Rollgate asks for S256, the groups
/// claim maps to roles as configured, the sign-in is audited with them; a code brought back
/// to another sign-in fails the provider's PKCE check.
#[tokio::test]
async fn code_flow_with_pkce_and_groups() {
    let Some(provider) = Provider::start("code_flow_with_pkce_and_groups") else { return };
    let portal = provider.rollgate(provider.config()).await;
    let browser = start(&portal, &provider).await.unwrap();
    let asked: Vec<(String, String)> = browser.authorize.query_pairs().into_owned().collect();
    for (key, value) in [("code_challenge_method", "S256"), ("scope", "openid profile email groups")] {
        assert!(asked.contains(&(key.into(), value.into())), "{key} in {}", browser.authorize);
    }
    let back = at_provider(&portal, &browser, "olivia").await;
    let response = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(location(&response), "/staging");
    let olivia = session_or_where(&response).unwrap();
    assert_eq!(role_in(&portal, &olivia, "production").await.unwrap(), "approver");
    assert_eq!(last_sign_in(&portal).await.1, "single sign-on (Test OP); groups: release-managers");

    let devon = sign_in(&portal, &provider, "devon").await.unwrap();
    assert_eq!(role_in(&portal, &devon, "staging").await.unwrap(), "deployer");
    assert_eq!(role_in(&portal, &devon, "production").await.unwrap(), "viewer");

    let victim = start(&portal, &provider).await.unwrap();
    let stolen = at_provider(&portal, &victim, "olivia").await;
    let attacker = start(&portal, &provider).await.unwrap();
    let own = at_provider(&portal, &attacker, "devon").await;
    let pair =
        |url: &reqwest::Url, key: &str| url.query_pairs().find(|(k, _)| k == key).unwrap().1.into_owned();
    let mut mixed = own.clone();
    mixed
        .query_pairs_mut()
        .clear()
        .append_pair("code", &pair(&stolen, "code"))
        .append_pair("state", &pair(&own, "state"));
    let response = callback(&mixed, Some(&attacker.login_cookie)).await;
    assert_eq!(session_or_where(&response).unwrap_err(), "/sign-in?error=sso-exchange&next=%2F");
    let (outcome, detail) = last_sign_in(&portal).await;
    assert_eq!(outcome, Outcome::Failed);
    // The code, client and redirect are good; only the verifier is another sign-in's. The
    // provider does not say why it refuses a grant.
    assert!(
        detail.contains("refused to complete the sign-in") && detail.contains("invalid_grant"),
        "{detail}"
    );
}

/// The provider rotates its signing key after Rollgate cached the old key set: the next
/// token's signature matches no cached key, so Rollgate fetches the keys once more and signs
/// the person in; the key set is otherwise not fetched again.
#[tokio::test]
async fn a_rotated_signing_key_is_fetched_again() {
    let Some(provider) = Provider::start("a_rotated_signing_key_is_fetched_again") else { return };
    let portal = provider.rollgate(provider.config()).await;
    assert!(sign_in(&portal, &provider, "olivia").await.is_ok());
    assert_eq!(provider.fetches().await, (1, 1), "discovery and keys, once");
    assert!(sign_in(&portal, &provider, "devon").await.is_ok());
    assert_eq!(provider.fetches().await, (1, 1), "cached");

    provider.switch("rotate", json!({})).await;
    let devon = sign_in(&portal, &provider, "devon").await.expect("signed in with the new key");
    assert_eq!(role_in(&portal, &devon, "staging").await.unwrap(), "deployer");
    assert_eq!(provider.fetches().await, (2, 2), "fetched again for the unknown key, once");
    assert!(sign_in(&portal, &provider, "olivia").await.is_ok());
    assert_eq!(provider.fetches().await, (2, 2));
}

/// An ID token addressed to another client (signed by the provider's own key) is refused.
#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let Some(provider) = Provider::start("a_token_for_another_audience_is_refused") else { return };
    let portal = provider.rollgate(provider.config()).await;
    provider.switch("audience", json!({ "aud": "another-client" })).await;
    assert_eq!(sign_in(&portal, &provider, "olivia").await.unwrap_err(), "/sign-in?error=sso-token&next=%2F");
    let (outcome, detail) = last_sign_in(&portal).await;
    assert_eq!(outcome, Outcome::Failed);
    assert!(detail.contains("cannot be trusted") && detail.contains("audience"), "{detail}");
    let (_, html) = portal.page("/sign-in?error=sso-token").await;
    assert!(html.contains("could not be verified, so you were not signed in"), "{html}");
    assert!(sign_in(&portal, &provider, "olivia").await.is_ok(), "the next token is for Rollgate");
}

/// A token that expired long ago (issued half an hour ago by the provider's clock, for five
/// minutes) is refused, saying by how much.
#[tokio::test]
async fn an_expired_token_is_refused() {
    let Some(provider) = Provider::start("an_expired_token_is_refused") else { return };
    let portal = provider.rollgate(provider.config()).await;
    provider.switch("clock", json!({ "offset_secs": -1800 })).await;
    assert_eq!(sign_in(&portal, &provider, "olivia").await.unwrap_err(), "/sign-in?error=sso-token&next=%2F");
    let (outcome, detail) = last_sign_in(&portal).await;
    assert_eq!(outcome, Outcome::Failed);
    // Expired 1500 s ago, give or take the seconds between issuing and checking.
    let ago: u64 = detail
        .split_once("cannot be trusted: it expired ")
        .and_then(|(_, rest)| rest.split_once(" s ago"))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("no expiry in {detail}"));
    assert!((1495..=1505).contains(&ago), "{detail}");
    assert!(
        detail.contains("more than the 60 s allowed for the provider's clock and Rollgate's to differ"),
        "{detail}"
    );
}

/// Clocks that differ by less than Rollgate's 60 s leeway do not matter, whichever is ahead;
/// by more, the token is refused in words that point at the clocks.
#[tokio::test]
async fn clock_skew_within_and_beyond_the_leeway() {
    let Some(provider) = Provider::start("clock_skew_within_and_beyond_the_leeway") else { return };
    let portal = provider.rollgate(provider.config()).await;
    // The provider's tokens live 300 s: 330 s behind, one expired 30 s ago by Rollgate's clock.
    for (offset, within) in [(30, true), (-330, true), (300, false), (-600, false)] {
        provider.switch("clock", json!({ "offset_secs": offset })).await;
        let outcome = sign_in(&portal, &provider, "olivia").await;
        assert_eq!(outcome.is_ok(), within, "provider clock {offset:+} s: {outcome:?}");
        if !within {
            let (_, detail) = last_sign_in(&portal).await;
            let words = if offset > 0 { "s ahead of Rollgate's clock" } else { "s ago by Rollgate's clock" };
            assert!(detail.contains(words) && detail.contains("check that both keep time"), "{detail}");
        }
    }
}

/// A provider that is down: between its answer and Rollgate's code exchange, the sign-in
/// fails with the unreachable provider's words (audited); before Rollgate ever reached it,
/// the start does. Never a 5xx, and the sign-in page says it.
#[tokio::test]
async fn a_provider_that_is_down() {
    let Some(mut provider) = Provider::start("a_provider_that_is_down") else { return };
    let config = provider.config();
    let portal = provider.rollgate(config.clone()).await;
    let browser = start(&portal, &provider).await.unwrap();
    let back = at_provider(&portal, &browser, "olivia").await;
    provider.stop();
    let response = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(session_or_where(&response).unwrap_err(), "/sign-in?error=sso-unreachable&next=%2F");
    let (outcome, detail) = last_sign_in(&portal).await;
    assert_eq!(outcome, Outcome::Failed);
    assert!(detail.contains("The identity provider cannot be reached just now"), "{detail}");
    let (status, html) = portal.page("/sign-in?error=sso-unreachable").await;
    assert_eq!(status, 200);
    assert!(html.contains("cannot be reached just now; try again shortly"), "{html}");

    let fresh = TestPortal::with_config(config).await;
    let response = plain().get(fresh.url("/auth/oidc/start?next=%2Fstaging")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/sign-in?error=sso-unreachable&next=%2Fstaging");
}

/// A name with roles bound to an email: the provider's account that merely typed that address
/// (not verified) under the admin's name is refused; the one it verified gets the role.
#[tokio::test]
async fn a_name_bound_to_a_verified_email() {
    let Some(provider) = Provider::start("a_name_bound_to_a_verified_email") else { return };
    let mut config = provider.config();
    config.roles.insert("root".into(), Role::Admin);
    let binding = NameBinding { subject: None, email: Some("root@op.example".into()) };
    config.auth.oidc.as_mut().unwrap().names.insert("root".into(), binding);
    let portal = provider.rollgate(config).await;
    assert_eq!(
        sign_in(&portal, &provider, "mallory").await.unwrap_err(),
        "/sign-in?error=sso-unbound&next=%2F"
    );
    let (outcome, detail) = last_sign_in(&portal).await;
    assert_eq!(outcome, Outcome::Refused);
    assert!(detail.contains("The name root is bound to another single-sign-on identity"), "{detail}");
    let root = sign_in(&portal, &provider, "root").await.unwrap();
    assert_eq!(role_in(&portal, &root, "production").await.unwrap(), "admin");
    // mallory's groups would make her an admin by group; her claim to root's name gave nothing.
    let users = backend::auth::accounts::list(&portal.running.portal.store).await.unwrap();
    assert_eq!(users.iter().filter(|u| u.name == "root").count(), 1);
}
