//! `GET /authorize` checks the request and shows a page listing the demo people; the page
//! posts back to `POST /authorize`, which sends the browser to the client's redirect URI with
//! a code (or `error=access_denied` when declined). Until the client and its redirect URI are
//! known good, errors are shown on the page, never redirected (RFC 6749 4.1.2.1).

use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{CLIENT_ID, Issuer, PEOPLE, Person, lock, random_token};

/// A code's life: the client exchanges it at once.
pub(super) const CODE_TTL: Duration = Duration::from_secs(60);

/// What a code stands for until it is exchanged.
pub(super) struct Grant {
    pub person: Person,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub issued: Instant,
}

#[derive(Debug, Deserialize)]
pub(super) struct AuthorizeRequest {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    /// On the page's post: who was picked.
    #[serde(default)]
    person: Option<String>,
    /// On the page's post: declined.
    #[serde(default)]
    deny: Option<String>,
}

enum Checked {
    /// Shown on the page: the redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the client.
    Redirect(String, &'static str, String),
}

fn check(request: &AuthorizeRequest) -> Result<(), Checked> {
    if request.client_id != CLIENT_ID {
        return Err(Checked::Page(format!("Unknown client_id {:?}.", request.client_id)));
    }
    let loopback = url::Url::parse(&request.redirect_uri).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    });
    if !loopback {
        return Err(Checked::Page(format!(
            "redirect_uri {:?} is not registered (the sandbox client may redirect to loopback addresses only).",
            request.redirect_uri
        )));
    }
    let back = |error: &'static str, description: &str| {
        Err(Checked::Redirect(request.redirect_uri.clone(), error, description.to_owned()))
    };
    if request.response_type != "code" {
        return back("unsupported_response_type", "only the authorization code flow (response_type=code)");
    }
    if !request.scope.split(' ').any(|s| s == "openid") {
        return back("invalid_scope", "the openid scope is required");
    }
    if request.code_challenge_method != "S256" || request.code_challenge.len() < 43 {
        return back("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256");
    }
    Ok(())
}

fn refuse(request: &AuthorizeRequest, checked: Checked) -> Response {
    match checked {
        Checked::Page(message) => {
            (StatusCode::BAD_REQUEST, Html(page_shell(&escape(&message)))).into_response()
        }
        Checked::Redirect(uri, error, description) => redirect_back(
            &uri,
            &[("error", error), ("error_description", &description)],
            request.state.as_deref(),
        ),
    }
}

pub(super) async fn page(Query(request): Query<AuthorizeRequest>) -> Response {
    if let Err(checked) = check(&request) {
        return refuse(&request, checked);
    }
    let hidden: String = [
        ("response_type", Some(request.response_type.as_str())),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("scope", Some(request.scope.as_str())),
        ("state", request.state.as_deref()),
        ("nonce", request.nonce.as_deref()),
        ("code_challenge", Some(request.code_challenge.as_str())),
        ("code_challenge_method", Some(request.code_challenge_method.as_str())),
    ]
    .iter()
    .filter_map(|(name, value)| {
        value.map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)))
    })
    .collect();
    let people: String = PEOPLE
        .iter()
        .map(|p| {
            format!(
                "<li><button type=\"submit\" name=\"person\" value=\"{0}\">{1} <small>({0}; groups: {2})</small></button></li>",
                p.username,
                escape(p.full_name),
                p.groups.join(", ")
            )
        })
        .collect();
    let body = format!(
        "<p>Rollgate asks who you are. Pick a demo person:</p>\
         <form method=\"post\" action=\"/authorize\">{hidden}<ul>{people}</ul>\
         <button type=\"submit\" name=\"deny\" value=\"1\" class=\"deny\">Decline</button></form>"
    );
    Html(page_shell(&body)).into_response()
}

pub(super) async fn decide(State(issuer): State<Issuer>, Form(request): Form<AuthorizeRequest>) -> Response {
    if let Err(checked) = check(&request) {
        return refuse(&request, checked);
    }
    let state = request.state.as_deref();
    if request.deny.is_some() {
        let description = "the person declined to sign in";
        return redirect_back(
            &request.redirect_uri,
            &[("error", "access_denied"), ("error_description", description)],
            state,
        );
    }
    let Some(person) = PEOPLE.iter().find(|p| Some(p.username) == request.person.as_deref()) else {
        return (StatusCode::BAD_REQUEST, Html(page_shell("Pick one of the people listed."))).into_response();
    };
    let code = random_token(24);
    let mut codes = lock(&issuer.inner.codes);
    codes.retain(|_, grant| grant.issued.elapsed() < CODE_TTL);
    codes.insert(
        code.clone(),
        Grant {
            person: *person,
            redirect_uri: request.redirect_uri.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            issued: Instant::now(),
        },
    );
    drop(codes);
    redirect_back(&request.redirect_uri, &[("code", &code)], state)
}

fn redirect_back(uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

fn page_shell(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox SSO</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         ul{{list-style:none;padding:0}}li{{margin:.5rem 0}}button{{font:inherit;padding:.5rem 1rem;width:100%;text-align:left;cursor:pointer}}\
         .deny{{width:auto}}small{{color:#555}}</style></head>\
         <body><h1>Sandbox SSO</h1>{body}<p><small>The Rollgate sandbox's identity provider: no passwords, demo people only.</small></p></body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
