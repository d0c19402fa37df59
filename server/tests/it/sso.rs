//! Single sign-on end to end: Rollgate's OIDC client against the sandbox's OpenID Connect
//! provider, through the HTTP routes a browser follows (start → provider page → callback).

use crate::common;

use backend::audit::Outcome;
use backend::config::{NameBinding, OidcIssuer, Source, load};
use backend::policy::Role;
use common::TestPortal;
use common::sso::{
    callback, cookie_named, location, plain, role_in, session_or_where, sign_ins, signed_in_client,
};
use sandbox::oidc::Flaw;
use serde_json::json;

/// Where one browser's sign-in got to.
struct Browser {
    /// The `rollgate-sso` cookie `start` gave it.
    login_cookie: String,
    /// The provider's authorize URL `start` sent it to.
    authorize: reqwest::Url,
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

/// The whole way for `person`: the session cookie on success, else where the browser was sent.
async fn sign_in(portal: &TestPortal, person: &str) -> Result<String, String> {
    let browser = start(portal, "%2Fproduction%2Fapprovals").await;
    let back = at_provider(&browser, Some(person)).await;
    session_or_where(&callback(&back, Some(&browser.login_cookie)).await)
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

/// A config role for the name wins over the groups when the name is bound to the person:
/// an admin can pin or demote one person.
#[tokio::test]
async fn a_configured_role_for_a_bound_name_wins() {
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.roles.insert("pat".into(), Role::Viewer);
    let names = &mut config.auth.oidc.as_mut().unwrap().names;
    names.insert("pat".into(), NameBinding { subject: Some("sandbox-pat".into()), email: None });
    let portal = TestPortal::with_config(config).await;
    let pat = sign_in(&portal, "pat").await.unwrap();
    assert_eq!(role_in(&portal, &pat, "production").await.unwrap(), "viewer");
}

fn claims(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap()
}

/// The sandbox's configuration with `root`, an admin by name who has no local account (as
/// one expecting to sign in through single sign-on would), and `names` under auth.oidc.names.
fn with_root_admin(names: &[(&str, NameBinding)]) -> backend::Config {
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.roles.insert("root".into(), Role::Admin);
    let oidc = config.auth.oidc.as_mut().unwrap();
    oidc.names.extend(names.iter().map(|(name, binding)| (name.to_string(), binding.clone())));
    config
}

/// A provider token that claims an admin's name signs nobody in: not `root` (admin by name,
/// no local account: before names were bound, the token's bearer became that admin), not
/// `ada` (admin by name, a local account), not even with a verified email. The refusal is
/// audited and worded; the local admin still signs in with her password.
#[tokio::test]
async fn a_token_claiming_an_admins_name_is_refused() {
    let portal = TestPortal::with_config(with_root_admin(&[])).await;
    let issuer = &portal.running.sandbox.as_ref().unwrap().oidc;
    for name in ["root", "ada"] {
        issuer.claim_next(claims(json!({ "preferred_username": name })));
        let refused = sign_in(&portal, "casey").await.unwrap_err();
        assert_eq!(refused, "/sign-in?error=sso-unbound&next=%2F", "{name}");
        let record = sign_ins(&portal).await.remove(0);
        assert_eq!((record.actor.as_str(), record.result), (name, Outcome::Refused));
        let detail = record.detail.unwrap_or_default();
        assert!(
            detail.contains(&format!(
                "The name {name} has roles in Rollgate's configuration but is not bound to single sign-on; \
                 ask an admin to bind it to you under auth.oidc.names."
            )),
            "{detail}"
        );
    }
    let users = backend::auth::accounts::list(&portal.running.portal.store).await.unwrap();
    assert!(!users.iter().any(|u| u.name == "root"), "no account was made");
    let (_, html) = portal.page("/sign-in?error=sso-unbound").await;
    assert!(
        html.contains("not bound to you; ask an admin to bind it to you under auth.oidc.names"),
        "{html}"
    );
    assert!(portal.sign_in("ada", common::demo_user(Role::Admin).1).await.is_ok());
    // casey, as herself, is still welcome (with no role: her group maps to none).
    assert!(sign_in(&portal, "casey").await.is_ok());
}

/// A name bound to a subject goes to that subject only, with the name's role; bound to an
/// email, to whoever the provider vouches for with that email verified, not merely claimed.
#[tokio::test]
async fn a_bound_name_gets_its_role() {
    let by_subject = NameBinding { subject: Some("sandbox-casey".into()), email: None };
    let portal = TestPortal::with_config(with_root_admin(&[("root", by_subject)])).await;
    let issuer = &portal.running.sandbox.as_ref().unwrap().oidc;
    issuer.claim_next(claims(json!({ "preferred_username": "root" })));
    assert_eq!(sign_in(&portal, "devon").await.unwrap_err(), "/sign-in?error=sso-unbound&next=%2F");
    let detail = sign_ins(&portal).await[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("The name root is bound to another single-sign-on identity"), "{detail}");
    issuer.claim_next(claims(json!({ "preferred_username": "root" })));
    let root = sign_in(&portal, "casey").await.unwrap();
    assert_eq!(role_in(&portal, &root, "production").await.unwrap(), "admin");

    let by_email = NameBinding { subject: None, email: Some("Root@Corp.example".into()) };
    let portal = TestPortal::with_config(with_root_admin(&[("root", by_email)])).await;
    let issuer = &portal.running.sandbox.as_ref().unwrap().oidc;
    let claimed =
        json!({ "preferred_username": "root", "email": "root@corp.example", "email_verified": false });
    issuer.claim_next(claims(claimed));
    assert_eq!(sign_in(&portal, "devon").await.unwrap_err(), "/sign-in?error=sso-unbound&next=%2F");
    issuer.claim_next(claims(json!({ "preferred_username": "root", "email": "root@corp.example" })));
    let root = sign_in(&portal, "devon").await.unwrap();
    // Read back from the store on each request: the verified email is what binds it.
    assert_eq!(role_in(&portal, &root, "staging").await.unwrap(), "admin");
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
    assert!(portal.sign_in("dana", common::demo_user(Role::Deployer).1).await.is_ok());
}
