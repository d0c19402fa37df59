//! Pipelines: the CodePipeline pipelines an environment releases through, each with its latest
//! execution, a status chip per stage, the commit in flight and how long it has been running;
//! one waiting for an approval stands out. Live from the pipelines' shared pollers.

use leptos::either::Either;
use leptos::prelude::*;

use crate::api::pipelines::list_pipelines;
use crate::components::live::now_ms;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle, page_status};
use crate::components::pipeline_live::PipelinesLive;
use crate::error::ApiError;

#[component]
pub fn PipelinesPage() -> impl IntoView {
    let env = use_environment_name();
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    let pipelines = Resource::new(move || env.get(), list_pipelines);
    view! {
        <PageTitle area="Pipelines" />
        <h1>"Pipelines"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let list = pipelines.await.inspect_err(page_status)?;
                let can_approve = o.access.approve.yes();
                let body = if list.is_empty() {
                    Either::Left(view! { <p class="muted">"No pipelines are configured for this environment (aws.pipelines)."</p> })
                } else {
                    Either::Right(view! { <PipelinesLive env=env.get_untracked() views=list can_approve now_ms=now_ms() /> })
                };
                Ok::<_, ApiError>(view! {
                    <p class="lede">
                        "Releases of " <strong>{o.summary.title.clone()}</strong> " go through these AWS CodePipeline pipelines."
                    </p>
                    {body}
                })
            })}
        </Suspense>
    }
}
