//! What a browser does around single sign-on, shared by the tests against the sandbox's
//! provider and against a certified one: the redirects, the cookies, and what Rollgate then
//! lets the signed-in person do.

use backend::audit::{Filter, Record};

use super::TestPortal;

/// A client that shows each redirect instead of following it.
pub fn plain() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn cookie_named(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// The browser arriving at Rollgate's callback: the response (a redirect either way).
pub async fn callback(url: &reqwest::Url, login_cookie: Option<&str>) -> reqwest::Response {
    let mut request = plain().get(url.clone());
    if let Some(cookie) = login_cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The session cookie a callback set (`name=value`), else where it sent the browser.
pub fn session_or_where(response: &reqwest::Response) -> Result<String, String> {
    assert_eq!(response.status().as_u16(), 303, "{}", location(response));
    match cookie_named(response, "rollgate-session") {
        Some(cookie) => Ok(cookie.split(';').next().unwrap().to_owned()),
        None => Err(location(response)),
    }
}

pub fn signed_in_client(portal: &TestPortal, cookie: &str) -> reqwest::Client {
    portal.client_with(cookie)
}

/// The role the signed-in person holds in `env`, as the server functions see it; the error
/// body when they may not even look.
pub async fn role_in(portal: &TestPortal, cookie: &str, env: &str) -> Result<String, String> {
    let client = signed_in_client(portal, cookie);
    let response = portal.call(&client, &app::api::GetEnvironmentOverview { name: env.into() }).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    if status == 200 {
        Ok(body["access"]["role"].as_str().unwrap().to_owned())
    } else {
        Err(body.to_string())
    }
}

/// The audited sign-ins, newest first.
pub async fn sign_ins(portal: &TestPortal) -> Vec<Record> {
    let filter = Filter { action: Some("sign-in".into()), ..Filter::default() };
    backend::audit::list(&portal.running.portal.store, &filter, 0, 100).await.unwrap().records
}
