//! A failed plain form post's error goes back to its page in a cookie, never in the URL.
//!
//! Leptos answers a server function posted by a plain HTML form with a redirect to the page
//! it came from; on failure it adds the error to that URL (`__path`, `__err`). A link can carry
//! the same parameters, so a page that showed them would say whatever a stranger wrote. This
//! layer takes them off the redirect and hands them to the posting browser in a short-lived
//! HttpOnly cookie ([`app::error::flash`]), which only the page's `FormError` reads, once.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use backend::Portal;
use backend::auth::local_path::local_path;

use app::error::flash;

use crate::auth::is_tls;

pub async fn carry_errors(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    let form_post = request.method() == Method::POST && request.uri().path().starts_with("/api/");
    let tls = is_tls(&portal, request.headers());
    let mut response = next.run(request).await;
    if !form_post || !response.status().is_redirection() {
        return response;
    }
    let Some(location) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return response;
    };
    let Some((back, error)) = split(location) else { return response };
    let secure = if tls { "; Secure" } else { "" };
    let cookie = error.and_then(|(path, encoded)| flash::encode(&path, &encoded)).map(|value| {
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            flash::COOKIE,
            flash::MAX_AGE_SECS
        )
    });
    let headers = response.headers_mut();
    if let Ok(back) = HeaderValue::from_str(&back) {
        headers.insert(header::LOCATION, back);
    }
    if let Some(Ok(cookie)) = cookie.map(|c| HeaderValue::from_str(&c)) {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The page a redirect goes back to, as a path on this site without the error parameters,
/// and the error they carried (server function path, encoded error). `None` when the redirect
/// leads elsewhere (a server function's own `return_to`, already checked).
fn split(location: &str) -> Option<(String, Option<(String, String)>)> {
    let url = url::Url::parse("http://rollgate.invalid/").ok()?.join(location).ok()?;
    let mut error_path = None;
    let mut error = None;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(k, v)| match k.as_ref() {
            "__path" => {
                error_path = Some(v.into_owned());
                None
            }
            "__err" => {
                error = Some(v.into_owned());
                None
            }
            _ => Some((k.into_owned(), v.into_owned())),
        })
        .collect();
    let mut back = url.clone();
    back.set_query(None);
    if !kept.is_empty() {
        back.query_pairs_mut().extend_pairs(kept);
    }
    let path = match back.query() {
        Some(q) => format!("{}?{q}", back.path()),
        None => back.path().to_owned(),
    };
    Some((local_path(&path)?, error_path.zip(error)))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn errors_leave_the_url() {
        let (back, error) =
            split("http://127.0.0.1:3000/production/approvals?tab=x&__path=%2Fapi%2Fapprove&__err=eyJ9")
                .unwrap();
        assert_eq!(back, "/production/approvals?tab=x");
        assert_eq!(error, Some(("/api/approve".to_owned(), "eyJ9".to_owned())));
        let (back, error) = split("/staging/tokens").unwrap();
        assert_eq!((back.as_str(), error), ("/staging/tokens", None));
    }
}
