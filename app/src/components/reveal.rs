//! Revealing one secret value: masked by default, shown on a click (an audited call of
//! `reveal_token`, answered with `Cache-Control: no-store`), hidden again after
//! [`SHOW_FOR`], and copied to the clipboard on request. The value lives only in this
//! island's memory in the browser: it is never rendered by the server.

use std::time::Duration;

use leptos::prelude::*;

/// How long a revealed value stays on screen.
pub const SHOW_FOR: Duration = Duration::from_secs(30);

#[island]
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
            match crate::api::tokens::reveal_token(env.get_value(), name.get_value(), None).await {
                Ok(revealed) => {
                    value.set(Some(revealed.value));
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
                Err(e) => error.set(Some(e.to_string())),
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
