//! `/`: sends the visitor to the first configured environment.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::list_environments;

#[component]
pub fn Home() -> impl IntoView {
    let environments = Resource::new(|| (), |_| list_environments());
    view! {
        <main class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    environments
                        .await
                        .map(|list| match list.first() {
                            Some(first) => {
                                view! { <Redirect path=format!("/{}/pipelines", first.name) /> }
                                    .into_any()
                            }
                            None => view! { <p>"No environments are configured."</p> }.into_any(),
                        })
                })}
            </Suspense>
        </main>
    }
}
