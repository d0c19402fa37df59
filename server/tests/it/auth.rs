//! Signing in and out over HTTP, the session cookie, CSRF and the security headers.

use crate::common;

use backend::policy::Role;
use common::sso::cookie_named;
use common::{TestPortal, demo_user};

/// The demo users sign in with their documented passwords; the cookie is HttpOnly and
/// SameSite, the session works, sign-out ends it in the store.
#[tokio::test]
async fn sign_in_and_out() {
    let portal = TestPortal::sandbox().await;
    let (name, password) = demo_user(Role::Deployer);
    let response = portal
        .anonymous
        .post(portal.url("/auth/sign-in"))
        .form(&[("username", name), ("password", password), ("next", "/production/approvals")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/production/approvals");
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP without a TLS proxy: {cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = |session: String| {
        let request = portal.anonymous.get(portal.url("/production/approvals")).header("cookie", session);
        async move { request.send().await.unwrap() }
    };
    let signed_in = page(session.clone()).await;
    assert_eq!(signed_in.status().as_u16(), 200);
    assert!(signed_in.text().await.unwrap().contains(">dana</span>"));

    let out =
        portal.anonymous.post(portal.url("/auth/sign-out")).header("cookie", &session).send().await.unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = page(session).await;
    assert_eq!(after.status().as_u16(), 303, "the old cookie no longer works");
    assert_eq!(after.headers()["location"], "/sign-in?next=%2Fproduction%2Fapprovals");
}

/// Wrong passwords and unknown names get the same answer; repeated failures are throttled.
#[tokio::test]
async fn failed_sign_ins_are_limited() {
    let portal = TestPortal::sandbox().await;
    for _ in 0..5 {
        let location = portal.sign_in("dana", "not her password").await.unwrap_err();
        assert_eq!(location, "/sign-in?error=credentials&next=%2F");
    }
    assert_eq!(
        portal.sign_in("nobody", "whatever").await.unwrap_err(),
        "/sign-in?error=credentials&next=%2F"
    );
    let (_, password) = demo_user(Role::Deployer);
    let throttled = portal.sign_in("dana", password).await.unwrap_err();
    assert_eq!(throttled, "/sign-in?error=throttled&retry=15&next=%2F");
    let (_, html) = portal.page("/sign-in?error=throttled&retry=15").await;
    assert!(html.contains("Too many failed sign-ins; try again in 15 minute(s)."));
}

/// Fifty wrong passwords for one name posted at once: the name's limit (5) get a check, the
/// other 45 are refused unchecked, and the audit trail says the same; then even the right
/// password waits for the window.
#[tokio::test]
async fn parallel_guesses_over_http_get_the_limit_and_no_more() {
    let portal = std::sync::Arc::new(TestPortal::sandbox().await);
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let portal = std::sync::Arc::clone(&portal);
            tokio::spawn(
                async move { portal.sign_in("dana", &format!("guess number {i}")).await.unwrap_err() },
            )
        })
        .collect();
    let mut answers = Vec::new();
    for guess in guesses {
        answers.push(guess.await.unwrap());
    }
    let credentials = answers.iter().filter(|a| *a == "/sign-in?error=credentials&next=%2F").count();
    let throttled = answers.iter().filter(|a| a.starts_with("/sign-in?error=throttled&retry=15")).count();
    assert_eq!((credentials, throttled), (5, 45), "{answers:?}");
    let (_, password) = demo_user(Role::Deployer);
    assert!(portal.sign_in("dana", password).await.unwrap_err().contains("error=throttled"));

    let trail = backend::audit::list(
        &portal.running.portal.store,
        &backend::audit::Filter { actor: Some("dana".into()), ..Default::default() },
        0,
        100,
    )
    .await
    .unwrap();
    let said = |detail: &str| trail.records.iter().filter(|r| r.detail.as_deref() == Some(detail)).count();
    assert_eq!((said("wrong password"), said("too many failed attempts"), trail.total), (5, 46, 51));
}

/// A next= that leaves the site is ignored.
#[tokio::test]
async fn no_open_redirect() {
    let portal = TestPortal::sandbox().await;
    let (name, password) = demo_user(Role::Viewer);
    let response = portal
        .anonymous
        .post(portal.url("/auth/sign-in"))
        .form(&[("username", name), ("password", password), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/");
}

/// Requests that change things must come from this site: another Origin, or none at all,
/// is refused before anything runs; the same request from this site goes through.
#[tokio::test]
async fn cross_site_requests_are_refused() {
    let portal = TestPortal::sandbox().await;
    let path = <app::api::locks::LockEnvironment as leptos::server_fn::ServerFn>::PATH;
    let admin = portal.as_role(Role::Admin).await;
    let body = [("env", "staging"), ("reason", "csrf test"), ("until", "")];
    let evil = admin
        .post(portal.url(path))
        .header("origin", "http://evil.example")
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status().as_u16(), 403);
    assert!(evil.text().await.unwrap().contains("did not come from a Rollgate page"));
    // No Origin: the Referer decides.
    let bare = reqwest::Client::new();
    let cookie = portal.sign_in("ada", demo_user(Role::Admin).1).await.unwrap();
    let no_origin = bare.post(portal.url(path)).header("cookie", &cookie).form(&body).send().await.unwrap();
    assert_eq!(no_origin.status().as_u16(), 403);
    let foreign_referer = bare
        .post(portal.url(path))
        .header("cookie", &cookie)
        .header("referer", "http://evil.example/page")
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_referer.status().as_u16(), 403);
    let own_referer = bare
        .post(portal.url(path))
        .header("cookie", &cookie)
        .header("referer", portal.url("/staging/deployments"))
        .header("accept", "application/json")
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(own_referer.status().as_u16(), 200, "{}", own_referer.text().await.unwrap());
    let login_csrf = bare
        .post(portal.url("/auth/sign-in"))
        .header("origin", "http://evil.example")
        .form(&[("username", "dana"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(login_csrf.status().as_u16(), 403);
}

/// Pages carry a CSP whose nonce is the one on the hydration script; every response carries
/// the other headers; HSTS and Secure cookies only when a trusted proxy says TLS.
#[tokio::test]
async fn security_headers() {
    let portal = TestPortal::sandbox().await;
    // Every page, every time, its first load included (a browser refuses the hydration script
    // of a page whose policy lacks the nonce: the page never becomes interactive).
    let pages = [
        "/staging/pipelines",
        "/staging/pipelines/myapp-staging",
        "/staging/deployments",
        "/staging/deployments/staging/myapp-deployment",
        "/staging/approvals",
        "/staging/audit",
        "/nowhere",
    ];
    let mut nonces = std::collections::HashSet::new();
    for _ in 0..3 {
        for path in pages {
            let page = portal.get(path).await;
            let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
            let html = page.text().await.unwrap();
            let nonce =
                csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP");
            assert!(
                html.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: the page's scripts carry the CSP nonce"
            );
            assert!(nonces.insert(nonce.to_owned()), "{path}: a nonce is never reused");
        }
    }
    let page = portal.get("/staging/pipelines").await;
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    for directive in ["frame-ancestors 'none'", "script-src 'self' 'wasm-unsafe-eval'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(headers.get("strict-transport-security").is_none(), "plain HTTP");
    let health = portal.get("/healthz").await;
    let plain = health.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(plain.contains("frame-ancestors 'none'") && !plain.contains("nonce"), "{plain}");

    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    config.auth.behind_proxy = true;
    let proxied = TestPortal::with_config(config).await;
    let tls =
        proxied.http.get(proxied.url("/healthz")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(tls.headers()["strict-transport-security"], "max-age=31536000");
    let (name, password) = demo_user(Role::Viewer);
    let signed = proxied
        .anonymous
        .post(proxied.url("/auth/sign-in"))
        .header("x-forwarded-proto", "https")
        .header("origin", proxied.base.replace("http://", "https://"))
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap();
    assert!(signed.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
}

/// The session id never appears in the log output.
#[tokio::test]
async fn no_session_ids_in_logs() {
    let portal = TestPortal::sandbox().await;
    let token = portal.cookie.trim_start_matches("rollgate-session=").to_owned();
    assert!(token.len() >= 40, "a 32-byte token");
    let debug = format!("{:?}", backend::auth::SessionToken::from_cookie(&token));
    assert!(!debug.contains(&token));
}

/// A plain HTML form post (no wasm) that fails is sent back to its page with the error in a
/// one-time cookie of that browser (never in the URL), which the page shows; a script's call
/// gets the status instead.
#[tokio::test]
async fn form_posts_redirect_back_with_errors() {
    let portal = TestPortal::sandbox().await;
    let path = <app::api::locks::UnlockEnvironment as leptos::server_fn::ServerFn>::PATH;
    let deployer = portal.as_role(Role::Deployer).await;
    let back = portal.url("/staging/deployments");
    let post = |accept: &'static str| {
        deployer
            .post(portal.url(path))
            .header("accept", accept)
            .header("referer", &back)
            .form(&[("env", "staging")])
    };
    let failed = post("text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(failed.status().as_u16(), 302);
    let location = failed.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/staging/deployments");
    let flash = cookie_named(&failed, "rollgate-flash").expect("the error rides in a cookie");
    let flash = flash.split(';').next().unwrap().to_owned();
    let cookie = portal.sign_in("dana", demo_user(Role::Deployer).1).await.unwrap();
    let page = portal
        .anonymous
        .get(portal.url(&location))
        .header("cookie", format!("{cookie}; {flash}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("staging is not locked."), "the page shows the error");
    let api = post("application/json").send().await.unwrap();
    assert_eq!(api.status().as_u16(), 409, "a script's call gets the status");
}
