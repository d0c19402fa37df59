//! Light and dark themes. Without a choice the OS preference rules (CSS media query); the
//! toggle records an explicit choice in a cookie, which the server reads to render the first
//! paint in the chosen theme, so no inline script is needed.

use leptos::prelude::*;

/// The cookie that remembers an explicit theme choice; without it the OS preference rules.
pub const THEME_COOKIE: &str = "rollgate-theme";

#[island]
pub fn ThemeToggle() -> impl IntoView {
    view! {
        <button
            type="button"
            class="theme-toggle"
            aria-label="Switch between light and dark theme"
            title="Switch between light and dark theme"
            on:click=move |_| switch_theme()
        >
            <span class="theme-icon" aria-hidden="true"></span>
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn switch_theme() {
    use leptos::wasm_bindgen::JsCast;

    let document = document();
    let Some(root) = document.document_element() else { return };
    let current = root.get_attribute("data-theme").unwrap_or_else(|| {
        let prefers_dark =
            window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches());
        if prefers_dark { "dark" } else { "light" }.to_owned()
    });
    let next = if current == "dark" { "light" } else { "dark" };
    // Failing to set an attribute or cookie only loses the preference; nothing to report.
    let _ = root.set_attribute("data-theme", next);
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&format!("{}={next}; Path=/; Max-Age=31536000; SameSite=Lax", THEME_COOKIE));
    }
}

#[cfg(not(feature = "hydrate"))]
fn switch_theme() {}
