//! Pages of an environment render from its overview, loaded once by the layout.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::error::ApiError;
use crate::model::EnvironmentOverview;

/// The environment named by the first path segment.
pub fn use_environment_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("env").unwrap_or_default())
}

/// The layout's overview resource, handed to the pages through context.
#[derive(Clone, Copy)]
pub struct OverviewResource(pub Resource<Result<EnvironmentOverview, ApiError>>);

/// The page title: the area, then the environment.
#[component]
pub fn PageTitle(area: &'static str) -> impl IntoView {
    let env = use_environment_name();
    // The server writes the head after the body, and under load the route's signals are
    // sometimes disposed by then (a `get` panicked the request): it falls back to the name
    // the page was rendered for. In the browser the title follows the route.
    let rendered_for = env.get_untracked();
    view! {
        <Title text=move || format!("{area} · {}", env.try_get().unwrap_or_else(|| rendered_for.clone())) />
    }
}

/// A page that failed says so to the browser too: an unknown environment or deployment is a
/// 404, a refusal a 403, a cluster that failed a 502. (Server functions called while a page
/// renders leave the status alone, as for a form post; the page sets it.)
pub fn page_status(error: &ApiError) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = error;
}
