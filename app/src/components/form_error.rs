//! Forms on the team pages are plain HTML forms posting to server functions: they work before
//! and without the wasm, and keep the browser's download small (no client-side form
//! machinery). On success the server sends the browser back to the page, which renders the
//! new state; on failure it sends it back with the error in a short-lived cookie of that
//! browser (see [`crate::error::flash`]), which [`FormError`] shows next to the form that
//! failed, once. An error in the URL is never shown: a link could carry any text.

use leptos::prelude::*;

/// The error of this browser's last post to the server function at `path`, if it failed.
#[component]
pub fn FormError(path: &'static str) -> impl IntoView {
    posted_error(path).map(|error| view! { <p class="notice bad" role="alert">{error.to_string()}</p> })
}

#[cfg(feature = "ssr")]
fn posted_error(path: &str) -> Option<crate::error::ApiError> {
    use leptos::server_fn::error::ServerFnUrlError;

    use crate::error::{ApiError, flash};

    let value = crate::api::request_cookie(flash::COOKIE)?;
    let (posted_to, encoded) = flash::decode(&value)?;
    if posted_to != path {
        return None;
    }
    // Shown once: the page clears it.
    let clear = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", flash::COOKIE);
    if let (Some(response), Ok(clear)) =
        (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&clear))
    {
        response.append_header(http::header::SET_COOKIE, clear);
    }
    Some(ServerFnUrlError::<ApiError>::decode_err(encoded))
}

#[cfg(not(feature = "ssr"))]
fn posted_error(_path: &str) -> Option<crate::error::ApiError> {
    None
}
