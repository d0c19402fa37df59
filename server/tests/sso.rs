//! Single sign-on end to end: Rollgate's OIDC client against the sandbox's OpenID Connect
//! provider, through the HTTP routes a browser follows (start → provider page → callback).

mod common;

use app::api::GetEnvironmentOverview;
use backend::audit::{Filter, Outcome};
use backend::config::{OidcIssuer, Source, load};
use common::TestPortal;
use reqwest::header::{HeaderMap, HeaderValue};
use sandbox::oidc::Flaw;

/// Where one browser's sign-in got to.
struct Browser {
    /// The `rollgate-sso` cookie `start` gave it.
    login_cookie: String,
    /// The provider's authorize URL `start` sent it to.
    authorize: reqwest::Url,
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn cookie_named(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// `GET /auth/oidc/start` as a browser on the sign-in page.
async fn start(portal: &TestPortal, next: &str) -> Browser {
    let response = plain().get(portal.url(&format!("/auth/oidc/start?next={next}"))).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303, "{}", location(&response));
    let set = cookie_named(&response, "rollgate-sso").expect("a login cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/auth/oidc", "Max-Age=600"] {
        assert!(set.contains(attribute), "{attribute} missing from {set}");
    }
    let issuer = portal.running.sandbox.as_ref().unwrap().oidc.url().to_owned();
    let authorize = reqwest::Url::parse(&location(&response)).unwrap();
    assert!(authorize.as_str().starts_with(&format!("{issuer}/authorize?")), "{authorize}");
    Browser { login_cookie: set.split(';').next().unwrap().to_owned(), authorize }
}

/// The provider's page, then picking `person` (or declining with `None`): the callback URL
/// the provider sends the browser back to.
async fn at_provider(browser: &Browser, person: Option<&str>) -> reqwest::Url {
    let page = plain().get(browser.authorize.clone()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Olivia Okafor") && html.contains("Decline"), "{html}");
    let mut form: Vec<(String, String)> = browser.authorize.query_pairs().into_owned().collect();
    match person {
        Some(name) => form.push(("person".into(), name.into())),
        None => form.push(("deny".into(), "1".into())),
    }
    let mut post = browser.authorize.clone();
    post.set_query(None);
    let decided = plain().post(post).form(&form).send().await.unwrap();
    assert_eq!(decided.status().as_u16(), 303);
    reqwest::Url::parse(&location(&decided)).unwrap()
}

/// The browser arriving at the callback: the response (a redirect either way).
async fn callback(url: &reqwest::Url, login_cookie: Option<&str>) -> reqwest::Response {
    let mut request = plain().get(url.clone());
    if let Some(cookie) = login_cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The whole way for `person`: the session cookie on success, else where the browser was sent.
async fn sign_in(portal: &TestPortal, person: &str) -> Result<String, String> {
    let browser = start(portal, "%2Fproduction%2Fapprovals").await;
    let back = at_provider(&browser, Some(person)).await;
    let response = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(response.status().as_u16(), 303);
    match cookie_named(&response, "rollgate-session") {
        Some(cookie) => Ok(cookie.split(';').next().unwrap().to_owned()),
        None => Err(location(&response)),
    }
}

fn signed_in_client(portal: &TestPortal, cookie: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("origin", HeaderValue::from_str(&portal.base).unwrap());
    headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The role the signed-in person holds in `env`, as the server functions see it; the error
/// body when they may not even look.
async fn role_in(portal: &TestPortal, cookie: &str, env: &str) -> Result<String, String> {
    let client = signed_in_client(portal, cookie);
    let response = portal.call(&client, &GetEnvironmentOverview { name: env.into() }).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    if status == 200 {
        Ok(body["access"]["role"].as_str().unwrap().to_owned())
    } else {
        Err(body.to_string())
    }
}

async fn sign_ins(portal: &TestPortal) -> Vec<backend::audit::Record> {
    let filter = Filter { action: Some("sign-in".into()), ..Filter::default() };
    backend::audit::list(&portal.running.portal.store, &filter, 0, 100).await.unwrap().records
}

/// A person from a mapped group signs in through the provider and gets the session a
/// password gives (same cookie rules) and the role their group maps to; the sign-in is
/// audited with the groups.
#[tokio::test]
async fn groups_map_to_roles() {
    let portal = TestPortal::sandbox().await;
    let browser = start(&portal, "%2Fproduction%2Fapprovals").await;
    let back = at_provider(&browser, Some("olivia")).await;
    assert!(back.as_str().starts_with(&portal.url("/auth/oidc/callback?code=")), "{back}");
    let response = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/production/approvals");
    let session = cookie_named(&response, "rollgate-session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(attribute), "{attribute} missing from {session}");
    }
    assert!(cookie_named(&response, "rollgate-sso").unwrap().contains("Max-Age=0"), "login cookie cleared");
    let cookie = session.split(';').next().unwrap().to_owned();
    let page =
        signed_in_client(&portal, &cookie).get(portal.url("/production/approvals")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains(">olivia</span>"));
    assert_eq!(role_in(&portal, &cookie, "production").await.unwrap(), "approver");
    assert_eq!(role_in(&portal, &cookie, "staging").await.unwrap(), "approver");

    // devon's group maps to deployer, but production's own mapping makes it viewer there.
    let devon = sign_in(&portal, "devon").await.unwrap();
    assert_eq!(role_in(&portal, &devon, "staging").await.unwrap(), "deployer");
    assert_eq!(role_in(&portal, &devon, "production").await.unwrap(), "viewer");
    // pat is in two groups: the higher role wins, in every environment.
    let pat = sign_in(&portal, "pat").await.unwrap();
    assert_eq!(role_in(&portal, &pat, "production").await.unwrap(), "admin");

    let trail = sign_ins(&portal).await;
    let olivia = trail.iter().find(|r| r.actor == "olivia").expect("olivia's sign-in audited");
    assert_eq!(olivia.result, Outcome::Succeeded);
    assert_eq!(olivia.detail.as_deref(), Some("single sign-on (Sandbox SSO); groups: release-managers"));

    // A second sign-in finds the same account, and signing out ends the session.
    let again = sign_in(&portal, "olivia").await.unwrap();
    let out = signed_in_client(&portal, &again).post(portal.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(role_in(&portal, &again, "staging").await.unwrap_err().contains("SignInRequired"));
}

/// A config role for the name wins over the groups: an admin can pin or demote one person.
#[tokio::test]
async fn a_configured_role_for_the_name_wins() {
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.roles.insert("pat".into(), backend::policy::Role::Viewer);
    let portal = TestPortal::with_config(config).await;
    let pat = sign_in(&portal, "pat").await.unwrap();
    assert_eq!(role_in(&portal, &pat, "production").await.unwrap(), "viewer");
}

/// Signed in, but no group of theirs is mapped: no role anywhere, told so in words.
#[tokio::test]
async fn unmapped_groups_give_no_role() {
    let portal = TestPortal::sandbox().await;
    let casey = sign_in(&portal, "casey").await.unwrap();
    let refused = role_in(&portal, &casey, "production").await.unwrap_err();
    assert!(refused.contains("You have no role in Production"), "{refused}");
    let trail = sign_ins(&portal).await;
    assert_eq!(trail[0].detail.as_deref(), Some("single sign-on (Sandbox SSO); groups: contractors"));
}

/// An answer whose state is not this browser's sign-in's is refused, and the sign-in is used
/// up; without the login cookie nothing is found at all.
#[tokio::test]
async fn wrong_state_or_no_login_cookie() {
    let portal = TestPortal::sandbox().await;
    let browser = start(&portal, "%2F").await;
    let back = at_provider(&browser, Some("olivia")).await;
    let mut forged = back.clone();
    let pairs: Vec<(String, String)> = back
        .query_pairs()
        .into_owned()
        .map(|(k, v)| if k == "state" { (k, "forged-state".into()) } else { (k, v) })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let response = callback(&forged, Some(&browser.login_cookie)).await;
    assert!(cookie_named(&response, "rollgate-session").is_none());
    assert_eq!(location(&response), "/sign-in?error=sso-state&next=%2F");
    let replay = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(location(&replay), "/sign-in?error=sso-expired&next=%2F", "used once");

    let other = start(&portal, "%2F").await;
    let back = at_provider(&other, Some("olivia")).await;
    let response = callback(&back, None).await;
    assert_eq!(location(&response), "/sign-in?error=sso-expired&next=%2F");
    let (_, html) = portal.page("/sign-in?error=sso-state").await;
    assert!(html.contains("does not belong to this sign-in"), "the page says it in words");
    let failed = sign_ins(&portal).await;
    assert!(
        !failed
            .iter()
            .any(|r| r.detail.as_deref().is_some_and(|d| d.contains("not started in this browser"))),
        "a callback for no sign-in begun here is not audited: anyone can send one"
    );
    assert!(failed.iter().any(|r| r.result == Outcome::Failed
        && r.detail.as_deref().is_some_and(|d| d.contains("does not belong to this sign-in"))));
}

/// A code obtained for one sign-in, brought back to another (with that one's cookie and
/// state): the provider refuses it because the other sign-in's PKCE verifier does not match.
#[tokio::test]
async fn a_code_from_another_sign_in_fails_pkce() {
    let portal = TestPortal::sandbox().await;
    let victim = start(&portal, "%2F").await;
    let stolen = at_provider(&victim, Some("pat")).await;
    let attacker = start(&portal, "%2F").await;
    let own = at_provider(&attacker, Some("casey")).await;
    let code = stolen.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let state = own.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let mut mixed = own.clone();
    mixed.query_pairs_mut().clear().append_pair("code", &code).append_pair("state", &state);
    let response = callback(&mixed, Some(&attacker.login_cookie)).await;
    assert!(cookie_named(&response, "rollgate-session").is_none());
    assert_eq!(location(&response), "/sign-in?error=sso-exchange&next=%2F");
    let trail = sign_ins(&portal).await;
    let detail = trail[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("PKCE verification failed"), "{detail}");
}

/// ID tokens that fail a check are refused: wrong nonce, expired, a signature by a key the
/// provider does not publish, another audience, another issuer.
#[tokio::test]
async fn untrustworthy_id_tokens_are_refused() {
    let portal = TestPortal::sandbox().await;
    let issuer = &portal.running.sandbox.as_ref().unwrap().oidc;
    for (flaw, reason) in [
        (Flaw::WrongNonce, "nonce"),
        (Flaw::Expired, "expire"),
        (Flaw::ForeignSignature, "signature"),
        (Flaw::WrongAudience, "audience"),
        (Flaw::WrongIssuer, "issuer"),
    ] {
        issuer.spoil_next_token(flaw);
        let refused = sign_in(&portal, "olivia").await.unwrap_err();
        assert_eq!(refused, "/sign-in?error=sso-token&next=%2F", "{flaw:?}");
        let detail = sign_ins(&portal).await[0].detail.clone().unwrap_or_default().to_lowercase();
        assert!(detail.contains(reason), "{flaw:?}: {detail}");
    }
    // The provider is fine again: the next sign-in works.
    assert!(sign_in(&portal, "olivia").await.is_ok());
}

/// Declining at the provider comes back as an error the sign-in page words.
#[tokio::test]
async fn declining_at_the_provider() {
    let portal = TestPortal::sandbox().await;
    let browser = start(&portal, "%2F").await;
    let back = at_provider(&browser, None).await;
    assert!(back.query_pairs().any(|(k, v)| k == "error" && v == "access_denied"));
    let response = callback(&back, Some(&browser.login_cookie)).await;
    assert_eq!(location(&response), "/sign-in?error=sso-denied&next=%2F");
    let (_, html) = portal.page("/sign-in?error=sso-denied").await;
    assert!(html.contains("did not sign you in"), "{html}");
}

/// A disabled account cannot sign in through the provider either, and loses its sessions.
#[tokio::test]
async fn disabled_accounts_stay_out() {
    let portal = TestPortal::sandbox().await;
    let olivia = sign_in(&portal, "olivia").await.unwrap();
    let name = backend::auth::UserName::parse("olivia").unwrap();
    let store = &portal.running.portal.store;
    let cli = backend::audit::Caller::new("cli");
    let now = backend::clock::Timestamp::now();
    backend::auth::accounts::set_disabled(store, &cli, &name, true, now).await.unwrap();
    assert!(role_in(&portal, &olivia, "staging").await.unwrap_err().contains("SignInRequired"));
    assert_eq!(sign_in(&portal, "olivia").await.unwrap_err(), "/sign-in?error=sso-disabled&next=%2F");
    let users = backend::auth::accounts::list(store).await.unwrap();
    let account = users.iter().find(|u| u.name == "olivia").unwrap();
    assert!(!account.has_password, "single sign-on accounts have no password");
}

/// The sign-in page offers the provider when one is configured; without one there is no
/// button and the start route says single sign-on is off.
#[tokio::test]
async fn off_when_not_configured() {
    let portal = TestPortal::sandbox().await;
    let (_, html) = portal.page("/sign-in").await;
    assert!(html.contains("Sign in with Sandbox SSO"), "{html}");
    assert!(html.contains("href=\"/auth/oidc/start?next=%2F\""), "{html}");

    let mut config = load(&Source::SandboxDefault).unwrap();
    config.auth.oidc = None;
    for env in &mut config.environments {
        env.group_roles.clear();
    }
    let portal = TestPortal::with_config(config).await;
    let (_, html) = portal.page("/sign-in").await;
    assert!(!html.contains("Sign in with"), "{html}");
    let response = plain().get(portal.url("/auth/oidc/start?next=%2F")).send().await.unwrap();
    assert_eq!(location(&response), "/sign-in?error=sso-off&next=%2F");
    let callback = plain().get(portal.url("/auth/oidc/callback?code=x&state=y")).send().await.unwrap();
    assert_eq!(location(&callback), "/sign-in?error=sso-off&next=%2F");
}

/// A provider that does not answer: the start route sends the browser back to the sign-in
/// page, which says so; local accounts still work.
#[tokio::test]
async fn unreachable_provider() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = load(&Source::SandboxDefault).unwrap();
    let oidc = config.auth.oidc.as_mut().unwrap();
    oidc.issuer = OidcIssuer::Url(format!("http://127.0.0.1:{port}/realms/acme"));
    oidc.client_id = Some("rollgate".into());
    let portal = TestPortal::with_config(config).await;
    let response = plain().get(portal.url("/auth/oidc/start?next=%2Fstaging")).send().await.unwrap();
    assert_eq!(location(&response), "/sign-in?error=sso-unreachable&next=%2Fstaging");
    assert!(cookie_named(&response, "rollgate-sso").is_none());
    let (_, html) = portal.page("/sign-in?error=sso-unreachable").await;
    assert!(html.contains("cannot be reached just now"), "{html}");
    assert!(portal.sign_in("dana", common::demo_user(backend::policy::Role::Deployer).1).await.is_ok());
}
