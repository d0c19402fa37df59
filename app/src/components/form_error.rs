//! Forms on the team pages are plain HTML forms posting to server functions: they work before
//! and without the wasm, and keep the browser's download small (no client-side form
//! machinery). On success the server sends the browser back to the page, which renders the
//! new state; on failure it sends it back with the error in the query (`__path`, `__err`),
//! which [`FormError`] shows next to the form that failed.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

use crate::error::ApiError;

/// The error of the last post to the server function at `path`, if it failed.
#[component]
pub fn FormError(path: &'static str) -> impl IntoView {
    let query = use_query_map();
    move || {
        let q = query.read();
        (q.get("__path").as_deref() == Some(path)).then(|| q.get("__err")).flatten().map(|err| {
            let error: ApiError = ServerFnUrlError::<ApiError>::decode_err(&err);
            view! { <p class="notice bad" role="alert">{error.to_string()}</p> }
        })
    }
}
