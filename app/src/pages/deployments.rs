//! Deployments: every deployment in the environment's namespaces with its image, rollout
//! progress and health, live.

use leptos::prelude::*;

use crate::api::deployments::list_deployments;
use crate::components::deployment_table::DeploymentTable;
use crate::components::lock_panel::LockPanel;
use crate::components::overview::use_environment_name;
use crate::components::overview::{PageTitle, page_status};

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let env = use_environment_name();
    let list = Resource::new(move || env.get(), list_deployments);
    view! {
        <PageTitle area="Deployments" />
        <h1>"Deployments"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let list = list.await.inspect_err(page_status)?;
                Ok::<_, crate::error::ApiError>(view! {
                    <DeploymentTable
                        env=env.get_untracked()
                        rows=list.rows
                        problems=list.problems
                        rendered_at_ms=crate::components::live::now_ms()
                    />
                })
            })}
        </Suspense>
        <LockPanel />
    }
}
