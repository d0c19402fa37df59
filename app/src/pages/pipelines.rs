//! Pipelines: the CodePipeline pipelines an environment releases through.

use leptos::prelude::*;

use crate::components::overview::{PageTitle, WithOverview};
use crate::components::upstream::{NotConnectedList, UpstreamCard};
use crate::model::{EnvironmentOverview, SystemKind};

#[component]
pub fn PipelinesPage() -> impl IntoView {
    view! {
        <PageTitle area="Pipelines" />
        <h1>"Pipelines"</h1>
        <WithOverview render=render />
    }
}

fn render(o: EnvironmentOverview) -> AnyView {
    let region = o.aws_region.clone().unwrap_or_else(|| "from AWS_REGION".to_owned());
    let profile = o.aws_profile.clone().unwrap_or_else(|| "default credential chain".to_owned());
    view! {
        <p class="lede">
            "Releases of " <strong>{o.summary.title.clone()}</strong> " go through these AWS CodePipeline pipelines (region "
            <code>{region}</code> ", credentials: " {profile} ")."
        </p>
        <NotConnectedList
            caption="Configured pipelines"
            items=o.pipelines.clone()
            empty="No pipelines are configured for this environment (aws.pipelines)."
        />
        <p class="muted">
            "Rollgate does not read pipeline stages and executions in this build: each pipeline is shown as configured, not connected."
        </p>
        <UpstreamCard overview=o system=SystemKind::CodePipeline />
    }
    .into_any()
}
