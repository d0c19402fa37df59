//! `/`: the landing page after sign-in is the Overview (what runs where).

use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn Home() -> impl IntoView {
    view! { <Redirect path="/overview" /> }
}
