//! Browser-facing protections: cross-site request forgery and security headers.
//!
//! CSRF: every request that may change something (any method but GET, HEAD and OPTIONS —
//! server functions, sign-in, sign-out) must come from a page of this site. Browsers send
//! `Origin` on such requests; when it is missing (some older browsers on same-origin form
//! posts), `Referer` stands in; with neither, or with another site's, the request is refused
//! with 403 before it reaches a handler. The session cookie's SameSite=Lax is the second
//! layer: other sites' posts do not carry it. No token is needed in forms, so server
//! functions and plain HTML forms work the same with and without JavaScript.
//!
//! Headers on every response: a Content-Security-Policy that allows scripts only from this
//! site or carrying the per-response nonce Leptos puts on its hydration script (plus
//! `wasm-unsafe-eval`, which compiling the wasm needs), no framing, no MIME sniffing, a
//! same-origin Referrer-Policy, and HSTS when the visitor came over TLS.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backend::Portal;
use leptos::prelude::use_context;

use crate::auth::{after_reading_body, is_safe, is_tls};

/// Refuses state-changing requests that do not come from this site's pages.
pub async fn same_origin_only(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || from_this_site(&portal, request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
    let refusal = (
        StatusCode::FORBIDDEN,
        "Refused: this request did not come from a Rollgate page (its Origin or Referer names another site, or neither was sent).",
    )
        .into_response();
    after_reading_body(request, refusal).await
}

fn from_this_site(portal: &Portal, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    let scheme = if is_tls(portal, headers) { "https" } else { "http" };
    let expected = format!("{scheme}://{host}");
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|o| o == expected);
    }
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.origin().ascii_serialization() == expected)
}

/// The CSP for a page whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// A request's script nonce, made by [`headers`]: Leptos writes it on its inline scripts
/// ([`provide_page_nonce`]) and [`headers`] names it in the page's CSP. The policy is set on
/// the response here, not through Leptos's response options, because those did not always
/// reach the response: now and then a page went out with the policy without a nonce, and
/// its browser refused the hydration script (the page never became interactive).
#[derive(Clone)]
struct PageNonce(leptos::nonce::Nonce);

/// Called while Leptos renders a page: its inline scripts carry this request's nonce.
pub fn provide_page_nonce() {
    if let Some(nonce) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageNonce>().cloned())
    {
        leptos::prelude::provide_context(nonce.0);
    }
}

/// The headers every response carries: the CSP (naming the request's nonce on HTML pages, the
/// only responses with inline scripts), and the rest.
pub async fn headers(State(portal): State<Portal>, mut request: Request, next: Next) -> Response {
    let tls = is_tls(&portal, request.headers());
    let nonce = leptos::nonce::Nonce::new();
    request.extensions_mut().insert(PageNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let html =
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(html.then_some(&*nonce))) {
        h.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}
