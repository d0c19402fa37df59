//! Sign-in over HTTP: the session cookie, the middleware that finds out who is asking, and
//! the sign-in and sign-out form endpoints (single sign-on's are in [`crate::oidc`]; it
//! starts sessions with the same cookie).
//!
//! The cookie (`rollgate-session`) is HttpOnly (scripts never see it), SameSite=Lax (other
//! sites' forms and fetches do not carry it; following a link to Rollgate still does), and
//! Secure whenever the visitor came over TLS (`auth.behind_proxy` with
//! `X-Forwarded-Proto: https`). It holds a random token; the session lives in the store.
//!
//! Pages need a session: without one, a page request is redirected to `/sign-in?next=…`.
//! A server function called without one is answered 401 here, before Leptos decodes its
//! arguments, so an anonymous caller learns nothing from how its input is judged (a plain
//! HTML form post is sent to the sign-in page instead). Live streams answer 401 themselves
//! (a redirect means nothing to an EventSource).

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use backend::Portal;
use backend::auth::local_path::local_path;
use backend::auth::{SessionToken, SignInError, Visitor, sessions, sign_in};
use backend::clock::Timestamp;
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "rollgate-session";

/// Paths anyone may fetch: sign-in itself, health, the compiled site, live streams (they
/// answer 401 themselves: a redirect means nothing to an EventSource), and `/metrics` (it
/// checks its own bearer token: a scraper is not sent to a sign-in page).
fn is_public(path: &str) -> bool {
    matches!(path, "/sign-in" | "/healthz" | "/readyz" | "/metrics" | "/favicon.svg")
        || ["/auth/", "/pkg/", "/live/"].iter().any(|p| path.starts_with(p))
}

/// Server functions live under this prefix (Leptos's default).
const SERVER_FUNCTIONS: &str = "/api/";

/// Finds the visitor (session, source address, request id) and attaches it to the request.
pub async fn identify(
    State(portal): State<Portal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let mut visitor = Visitor {
        user: None,
        source_ip: Some(client_ip(&portal, headers, peer)),
        request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
        session: None,
    };
    if let Some(token) = session_cookie(headers) {
        match sessions::resolve(&portal.store, &token, Timestamp::now(), portal.sessions).await {
            Ok(found) => {
                visitor.user = found.map(|s| {
                    // The store is the truth (another replica may have signed this person in):
                    // what roles their identity and groups give is read from here on.
                    portal.config.sso_accounts.remember(&s.user, s.sso);
                    s.user
                });
                visitor.session = visitor.user.is_some().then_some(token);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the session store");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Rollgate cannot reach its store; try again shortly.",
                )
                    .into_response();
            }
        }
    }
    let path = request.uri().path().to_owned();
    if visitor.user.is_none() && path.starts_with(SERVER_FUNCTIONS) {
        let refusal = sign_in_required(request.headers());
        return after_reading_body(request, refusal).await;
    }
    if visitor.user.is_none() && !is_public(&path) {
        let wanted = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        return Redirect::to(&format!("/sign-in?next={}", encode(wanted))).into_response();
    }
    if let Some(user) = &visitor.user {
        tracing::Span::current().record("user", user.as_str());
    }
    request.extensions_mut().insert(visitor);
    next.run(request).await
}

/// The answer to a server function called without a session: a plain form post goes to the
/// sign-in page (and back to the page it came from afterwards); a call from code gets 401
/// with the body the server function itself would have sent (`ApiError::SignInRequired`).
fn sign_in_required(headers: &HeaderMap) -> Response {
    let from_form =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if from_form {
        let back = headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| url::Url::parse(r).ok())
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|| "/".into());
        return Redirect::to(&format!("/sign-in?next={}", encode(&safe_next(&back)))).into_response();
    }
    let body = serde_json::to_string(&app::error::ApiError::SignInRequired).unwrap_or_default();
    (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The most of a refused request's body read before answering: what a handler would read
/// (axum's default body limit), so a refusal costs no more than an accepted request.
const REFUSED_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Gives a request refused before any handler ran its answer once its body is read. Closing a
/// connection with unread bytes in it makes the kernel reset it, and a client still sending
/// then sees a broken connection instead of the refusal; a body larger than the limit is not
/// worth reading, so that connection is closed after the answer (`Connection: close`).
pub(crate) async fn after_reading_body(request: Request, mut refusal: Response) -> Response {
    if axum::body::to_bytes(request.into_body(), REFUSED_BODY_LIMIT).await.is_err() {
        refusal.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    refusal
}

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /auth/sign-in`: on success a session cookie and a redirect to where the visitor was
/// going; otherwise back to the sign-in page with an error code (never the message itself,
/// so a link cannot make the page say something Rollgate did not).
pub async fn sign_in_form(
    State(portal): State<Portal>,
    request_headers: HeaderMap,
    axum::Extension(visitor): axum::Extension<Visitor>,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(&form.next);
    let caller = backend::audit::Caller {
        user: String::new(),
        source_ip: visitor.source_ip.clone(),
        request_id: visitor.request_id.clone(),
    };
    let settings = &portal.config.auth;
    match sign_in(&portal.store, settings, &caller, form.username.trim(), &form.password, Timestamp::now())
        .await
    {
        Ok((user, token)) => {
            tracing::info!(user = %user, "signed in");
            let cookie =
                session_cookie_header(&token, portal.sessions.max_secs, is_tls(&portal, &request_headers));
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let query = match &e {
                SignInError::BadCredentials => "error=credentials".to_owned(),
                SignInError::TooManyAttempts { retry_after_secs } => {
                    format!("error=throttled&retry={}", (retry_after_secs + 59) / 60)
                }
                SignInError::Busy => {
                    // Overload, not a wrong answer: the status and Retry-After tell scripts and
                    // proxies so, the words tell the person.
                    let retry = backend::auth::password::BUSY_WAIT.as_secs().to_string();
                    return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)], e.to_string())
                        .into_response();
                }
                SignInError::Store(store) => {
                    tracing::error!(error = %store, "sign-in failed in the store");
                    "error=unavailable".to_owned()
                }
            };
            Redirect::to(&format!("/sign-in?{query}&next={}", encode(&next))).into_response()
        }
    }
}

/// `POST /auth/sign-out`: ends the session in the store and clears the cookie.
pub async fn sign_out_form(
    State(portal): State<Portal>,
    headers: HeaderMap,
    axum::Extension(visitor): axum::Extension<Visitor>,
) -> Response {
    if let Some(token) = session_cookie(&headers)
        && let Err(e) = sessions::sign_out(&portal.store, &token, &visitor, Timestamp::now()).await
    {
        tracing::error!(error = %e, "cannot end the session");
        return (StatusCode::SERVICE_UNAVAILABLE, "Rollgate cannot reach its store; try again shortly.")
            .into_response();
    }
    let mut response = Redirect::to("/sign-in").into_response();
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn session_cookie_header(token: &SessionToken, max_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_secs}{secure}",
        token.cookie_value()
    );
    // The token is URL-safe base64, so the header is always valid.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn session_cookie(headers: &HeaderMap) -> Option<SessionToken> {
    cookie(headers, SESSION_COOKIE).map(|value| SessionToken::from_cookie(&value))
}

/// The value of the cookie `wanted`, if the request carries a non-empty one.
pub(crate) fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == wanted && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The visitor's address: the peer's, or behind a trusted proxy the last hop it appended.
fn client_ip(portal: &Portal, headers: &HeaderMap, peer: SocketAddr) -> String {
    if portal.config.auth.behind_proxy
        && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(last) = forwarded.rsplit(',').map(str::trim).find(|s| !s.is_empty())
    {
        return last.to_owned();
    }
    peer.ip().to_string()
}

/// Whether the visitor reached Rollgate over TLS (Rollgate itself serves plain HTTP, so only
/// a trusted proxy can say so).
pub fn is_tls(portal: &Portal, headers: &HeaderMap) -> bool {
    portal.config.auth.behind_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Where to go after signing in: a path on this site as a browser would resolve it (see
/// [`local_path`]), never the sign-in page itself; `/` otherwise.
pub(crate) fn safe_next(next: &str) -> String {
    local_path(next)
        .filter(|p| p != "/sign-in" && !p.starts_with("/sign-in?"))
        .unwrap_or_else(|| "/".to_owned())
}

pub(crate) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Methods that change nothing, which the CSRF check lets through.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    /// The sign-in form's `next`: a path on this site, never another site, never a loop.
    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/production/approvals?x=1"), "/production/approvals?x=1");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil",
            "/\t/evil.example",
            "",
            "/sign-in?next=/x",
            "/sign-in",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
