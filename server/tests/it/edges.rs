//! What a stranger can put in front of a person through a link, tried the way an attacker
//! would: where the sign-in form sends a browser afterwards (`next`), where a form post
//! returns to (`return_to`), what a page's error banner says, and names that reach the
//! cluster.

use crate::common;

use app::api::changes::ApproveChange;
use app::api::deployments::GetDeployment;
use app::error::ApiError;
use common::TestPortal;
use common::sso::cookie_named;
use leptos::server_fn::ServerFn;
use leptos::server_fn::error::ServerFnUrlError;

/// Values of `next` a hostile link would carry, and what browsers make of them.
const HOSTILE: &[&str] = &[
    "//evil.example/x",
    "/\t/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(document.cookie)",
    "／／evil.example",
    "http://127.0.0.1@evil.example/",
];

/// After signing in, the browser goes to a page of this site and nowhere else, whatever the
/// link put in `next` — parsed as a browser parses it, not as a string.
#[tokio::test]
async fn sign_in_never_sends_a_browser_elsewhere() {
    let p = TestPortal::sandbox().await;
    for next in HOSTILE.iter().copied().chain(["%2F%2Fevil.example", "%09/evil.example"]) {
        let response = p
            .anonymous
            .post(p.url("/auth/sign-in"))
            .form(&[("username", "vera"), ("password", "vera-viewer-demo"), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 303, "{next:?}");
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with('/') && !to.starts_with("//") && !to.contains('\\'), "{next:?} → {to}");
        assert!(!to.contains("evil.example") || to.starts_with("/%"), "{next:?} → {to}");
    }
    let kept = p
        .anonymous
        .post(p.url("/auth/sign-in"))
        .form(&[
            ("username", "vera"),
            ("password", "vera-viewer-demo"),
            ("next", "/production/audit?actor=ada"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["location"], "/production/audit?actor=ada");
    // Single sign-on keeps `next` through the provider: the same rule when it starts.
    for next in HOSTILE {
        let started =
            p.anonymous.get(p.url("/auth/oidc/start")).query(&[("next", next)]).send().await.unwrap();
        assert_eq!(started.status().as_u16(), 303, "{next:?}");
    }
}

/// A form post goes back to the page it names only when that is a page of this site.
#[tokio::test]
async fn form_posts_return_only_to_this_site() {
    let p = TestPortal::sandbox().await;
    let ada = p.as_role(backend::policy::Role::Admin).await;
    let put = |return_to: &'static str| {
        ada.post(p.url(<app::api::tokens::PutTokenVersion as ServerFn>::PATH))
            .header("accept", "application/json")
            .form(&[
                ("env", "staging"),
                ("name", "/rollgate/staging/api-url"),
                ("value", "https://api.staging.example"),
                ("return_to", return_to),
            ])
            .send()
    };
    for return_to in HOSTILE {
        let response = put(return_to).await.unwrap();
        assert!(response.status().as_u16() < 400, "{return_to:?}: {}", response.status());
        let to = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(!to.contains("evil.example") && !to.starts_with("//"), "{return_to:?} → {to}");
    }
    let back = put("/staging/tokens?p=/rollgate/staging/api-url").await.unwrap();
    assert_eq!(back.headers()["location"], "/staging/tokens?p=/rollgate/staging/api-url");
}

/// The error banner shows only what the server said to this browser about its own post:
/// a link carrying an error in its URL shows nothing; a failed plain form post shows its
/// error once, on the page it came from, and the URL carries no error text.
#[tokio::test]
async fn error_banners_show_only_this_browsers_own_errors() {
    let p = TestPortal::sandbox().await;
    let planted = ApiError::Refused("Your session expired: sign in again at evil.example".into());
    let link = ServerFnUrlError::new(<ApproveChange as ServerFn>::PATH, planted)
        .to_url(&p.url("/production/approvals"))
        .unwrap();
    let page = p.http.get(link.as_str()).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("evil.example"), "a link made the page say what it wanted");

    // vera (a viewer) posts the approval form the way a browser without JavaScript does.
    let referer = p.url("/production/approvals");
    let posted = p
        .http
        .post(p.url(<ApproveChange as ServerFn>::PATH))
        .header("accept", "text/html")
        .header("referer", &referer)
        .form(&[("id", "no-such-request"), ("comment", "")])
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_redirection(), "{}", posted.status());
    let to = posted.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, "/production/approvals", "back to the page, with no error in the URL");
    let flash = cookie_named(&posted, "rollgate-flash").expect("the error travels in a cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
        assert!(flash.contains(attribute), "{attribute} missing from {flash}");
    }
    let flash = flash.split(';').next().unwrap().to_owned();
    let shown =
        p.anonymous.get(p.url(&to)).header("cookie", format!("{}; {flash}", p.cookie)).send().await.unwrap();
    let cleared = cookie_named(&shown, "rollgate-flash").is_some_and(|c| c.contains("Max-Age=0"));
    let html = shown.text().await.unwrap();
    assert!(html.contains("There is no change request no-such-request."), "the error is shown");
    assert!(cleared, "shown once: the page clears it");
}

/// A deployment name reaches the cluster client only if Kubernetes would accept it: the
/// same check everywhere, in words.
#[tokio::test]
async fn names_are_checked_before_they_reach_the_cluster() {
    let p = TestPortal::sandbox().await;
    for bad in ["../secrets", "MyApp", "a/b", "-x", "x".repeat(254).as_str(), "a..b"] {
        let get = GetDeployment { env: "staging".into(), namespace: "staging".into(), name: bad.into() };
        let response = p.call(&p.http, &get).await;
        assert_eq!(response.status().as_u16(), 400, "{bad:?}");
        assert!(response.text().await.unwrap().contains("is not a deployment name"), "{bad:?}");
    }
    let dotted =
        GetDeployment { env: "staging".into(), namespace: "staging".into(), name: "myapp.v2".into() };
    assert_eq!(p.call(&p.http, &dotted).await.status().as_u16(), 404, "a valid name that does not exist");
    let logs = p.get("/live/staging/deployments/staging/myapp-deployment/logs?pod=..%2F..%2Fetc").await;
    assert_eq!(logs.status().as_u16(), 400);
}
