//! Pages of an environment render from its overview, loaded once by the layout.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::use_environment_name;
use crate::error::ApiError;
use crate::model::EnvironmentOverview;

/// The layout's overview resource, handed to the pages through context.
#[derive(Clone, Copy)]
pub struct OverviewResource(pub Resource<Result<EnvironmentOverview, ApiError>>);

/// Renders `render` with the overview once loaded; errors go to the layout's error boundary.
#[component]
pub fn WithOverview(render: fn(EnvironmentOverview) -> AnyView) -> impl IntoView {
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                overview.await.inspect_err(not_found_status).map(render)
            })}
        </Suspense>
    }
}

/// The page title: the area, then the environment.
#[component]
pub fn PageTitle(area: &'static str) -> impl IntoView {
    let env = use_environment_name();
    view! { <Title text=move || format!("{area} · {}", env.get()) /> }
}

/// An unknown environment is a missing page: say so to the browser too.
fn not_found_status(error: &ApiError) {
    #[cfg(feature = "ssr")]
    if matches!(error, ApiError::UnknownEnvironment { .. })
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = error;
}
