//! Revealing one secret value: masked by default, shown on a click (an audited call of
//! `reveal_token`, answered with `Cache-Control: no-store`), hidden again after
//! [`SHOW_FOR`], and copied to the clipboard on request. The value lives only in this
//! island's memory in the browser: it is never rendered by the server.
//!
//! The island posts to the server function with the browser's `fetch` rather than through the
//! server-function client: it is the only island that calls one, and that client would add
//! about 20 KB (brotli) to every page's download.

use std::time::Duration;

use leptos::prelude::*;

/// How long a revealed value stays on screen.
pub const SHOW_FOR: Duration = Duration::from_secs(30);

#[island(lazy)]
pub fn RevealValue(env: String, name: String) -> impl IntoView {
    let value = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let copied = RwSignal::new(false);
    // Each reveal gets a number, so the timer of an earlier one does not hide a later one.
    let shown = RwSignal::new(0u32);
    let (env, name) = (StoredValue::new(env), StoredValue::new(name));

    let reveal = move |_| {
        error.set(None);
        copied.set(false);
        leptos::task::spawn_local(async move {
            match fetch_value(&env.get_value(), &name.get_value()).await {
                Ok(revealed) => {
                    value.set(Some(revealed));
                    let this = shown.get_untracked() + 1;
                    shown.set(this);
                    set_timeout(
                        move || {
                            if shown.get_untracked() == this {
                                value.set(None);
                                copied.set(false);
                            }
                        },
                        SHOW_FOR,
                    );
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let hide = move |_| {
        value.set(None);
        copied.set(false);
    };
    let copy = move |_| {
        if let Some(v) = value.get_untracked() {
            copy_to_clipboard(&v);
            copied.set(true);
        }
    };
    view! {
        <div class="reveal" data-revealed=move || value.with(|v| v.is_some()).to_string()>
            <code class="secret" aria-live="polite">
                {move || value.get().unwrap_or_else(|| "••••••••••••".to_owned())}
            </code>
            <Show
                when=move || value.with(|v| v.is_some())
                fallback=move || view! { <button type="button" on:click=reveal>"Reveal"</button> }
            >
                <button type="button" on:click=hide>"Hide"</button>
                <button type="button" on:click=copy>"Copy"</button>
                <span class="muted">{move || if copied.get() { "Copied. " } else { "" }} "Hidden again after 30 s."</span>
            </Show>
            {move || error.get().map(|e| view! { <p class="notice bad" role="alert">{e}</p> })}
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    // The promise is not awaited: a refused clipboard leaves the value on screen to copy.
    let _ = window().navigator().clipboard().write_text(text);
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_: &str) {}

/// Calls `reveal_token` as its form would (an URL-encoded POST; the browser adds the Origin
/// the server checks) and reads its JSON answer: the value, or the error in words.
#[cfg(feature = "hydrate")]
async fn fetch_value(env: &str, name: &str) -> Result<String, String> {
    use leptos::server_fn::ServerFn;
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use crate::api::tokens::RevealToken;
    use crate::error::ApiError;
    use crate::model::tokens::RevealedValue;

    let failed = |_: JsValue| "Could not reach the Rollgate server.".to_owned();
    let form = web_sys::UrlSearchParams::new().map_err(failed)?;
    form.append("env", env);
    form.append("name", name);
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&form.into());
    let request = web_sys::Request::new_with_str_and_init(RevealToken::PATH, &init).map_err(failed)?;
    request.headers().set("Accept", "application/json").map_err(failed)?;
    let response: web_sys::Response = JsFuture::from(window().fetch_with_request(&request))
        .await
        .and_then(JsCast::dyn_into)
        .map_err(failed)?;
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.map_err(failed)?.as_string().unwrap_or_default(),
        Err(e) => return Err(failed(e)),
    };
    if response.ok() {
        serde_json::from_str::<RevealedValue>(&text).map(|r| r.value).map_err(|e| e.to_string())
    } else {
        Err(serde_json::from_str::<ApiError>(&text).map(|e| e.to_string()).unwrap_or(text))
    }
}

#[cfg(not(feature = "hydrate"))]
async fn fetch_value(_: &str, _: &str) -> Result<String, String> {
    Err("Revealing needs JavaScript.".to_owned())
}
