//! Deployments: every deployment in the environment's namespaces with its image, rollout
//! progress and health, live. The address carries the view (`?q=…&health=…&sort=…`), so the
//! server renders the first rows of exactly what a shared link shows.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::deployments::list_deployments;
use crate::components::deployment_table::DeploymentTable;
use crate::components::lock_panel::LockPanel;
use crate::components::overview::use_environment_name;
use crate::components::overview::{PageTitle, page_status};
use crate::model::deployment_query::DeploymentQuery;

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let env = use_environment_name();
    // Read once: the page is rendered on the server only (links and the form load a new one),
    // so the resource follows the environment alone, as every other page's does.
    let query = use_query_map().with_untracked(|p| {
        DeploymentQuery::from_params(p.get_str("q"), p.get_str("health"), p.get_str("sort"))
    });
    let wanted = query.clone();
    let list = Resource::new(
        move || env.get(),
        move |env| {
            let q = wanted.clone();
            list_deployments(env, q.text, q.health, q.order)
        },
    );
    view! {
        <PageTitle area="Deployments" />
        <h1>"Deployments"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let query = query.clone();
                Suspend::new(async move {
                    let list = list.await.inspect_err(page_status)?;
                    Ok::<_, crate::error::ApiError>(view! {
                        <DeploymentTable
                            env=env.get_untracked()
                            query
                            list
                        />
                    })
                })
            }}
        </Suspense>
        <LockPanel />
    }
}
