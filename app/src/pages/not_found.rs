//! The page for paths that lead nowhere, served with status 404.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <main class="page not-found">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. It may have been mistyped, or the environment it names is no longer configured."</p>
            <p>
                <a href="/overview">"Go to the overview"</a>
            </p>
        </main>
    }
}
