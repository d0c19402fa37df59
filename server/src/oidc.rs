//! Single sign-on over HTTP: two plain routes around [`backend::auth::oidc::Sso`].
//!
//! - `GET /auth/oidc/start?next=…`: begins a sign-in and sends the browser to the provider,
//!   with a short-lived cookie (`rollgate-sso`: HttpOnly, SameSite=Lax so it comes back on the
//!   provider's top-level redirect, Path=/auth/oidc, ten minutes) tying the sign-in to this
//!   browser. A link, not a form: the page's CSP (`form-action 'self'`) would stop a form
//!   from being redirected to another site.
//! - `GET /auth/oidc/callback?code=…&state=…`: completes it; on success the session cookie is
//!   set exactly as a password sign-in sets it, and the browser goes where it was going.
//!
//! Every failure goes back to the sign-in page with a code it words (never a blank page).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use backend::Portal;
use backend::auth::Visitor;
use backend::auth::oidc::{LOGIN_COOKIE, LOGIN_SECS, ProviderReply, Sso};
use backend::clock::Timestamp;
use serde::Deserialize;
use url::Url;

use crate::auth::{cookie, encode, is_tls, safe_next, session_cookie_header};

pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// The configured provider, if single sign-on is on; handed to the routes as an extension.
#[derive(Clone, Default)]
pub struct SsoState(pub Option<Arc<Sso>>);

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// `GET /auth/oidc/start`.
pub async fn start(
    State(portal): State<Portal>,
    Extension(SsoState(sso)): Extension<SsoState>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let next = safe_next(&query.next);
    let Some(sso) = sso else { return back_to_sign_in("sso-off", &next) };
    let Some(redirect) = redirect_url(&portal, &headers) else {
        return back_to_sign_in("sso-unreachable", &next);
    };
    match sso.begin(&portal.store, &redirect, &next, Timestamp::now()).await {
        Ok(begun) => {
            let mut response = Redirect::to(begun.authorize_url.as_str()).into_response();
            set_login_cookie(&mut response, &begun.cookie, LOGIN_SECS, is_tls(&portal, &headers));
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on cannot start");
            back_to_sign_in(e.code(), &next)
        }
    }
}

/// `GET /auth/oidc/callback`.
pub async fn callback(
    State(portal): State<Portal>,
    Extension(SsoState(sso)): Extension<SsoState>,
    Extension(visitor): Extension<Visitor>,
    headers: HeaderMap,
    Query(reply): Query<ProviderReply>,
) -> Response {
    let Some(sso) = sso else { return back_to_sign_in("sso-off", "/") };
    let caller = backend::audit::Caller {
        user: String::new(),
        source_ip: visitor.source_ip.clone(),
        request_id: visitor.request_id.clone(),
    };
    let login = cookie(&headers, LOGIN_COOKIE);
    let tls = is_tls(&portal, &headers);
    let finished =
        sso.finish(&portal.store, &portal.config, &caller, login.as_deref(), &reply, Timestamp::now()).await;
    let mut response = match finished {
        Ok(done) => {
            tracing::info!(user = %done.user, groups = ?done.identity.groups, "signed in through single sign-on");
            portal.config.sso_accounts.remember(done.user.as_str(), Some(done.identity));
            let mut response = Redirect::to(&safe_next(&done.next)).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                session_cookie_header(&done.token, portal.sessions.max_secs, tls),
            );
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on failed");
            back_to_sign_in(e.code(), "/")
        }
    };
    // The sign-in under way is over, either way.
    set_login_cookie(&mut response, "", 0, tls);
    response
}

/// Where the provider sends people back: configured, derived from `public_url`, or from the
/// address this request was sent to.
fn redirect_url(portal: &Portal, headers: &HeaderMap) -> Option<Url> {
    let config = &portal.config;
    if let Some(url) = config.auth.oidc.as_ref().and_then(|o| o.redirect_url.clone()) {
        return Some(url);
    }
    if let Some(base) = &config.public_url {
        return base.join(CALLBACK_PATH).ok();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let scheme = if is_tls(portal, headers) { "https" } else { "http" };
    Url::parse(&format!("{scheme}://{host}{CALLBACK_PATH}")).ok()
}

fn back_to_sign_in(code: &str, next: &str) -> Response {
    Redirect::to(&format!("/sign-in?error={code}&next={}", encode(next))).into_response()
}

fn set_login_cookie(response: &mut Response, value: &str, max_age: i64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{LOGIN_COOKIE}={value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
