//! Tokens: the release secrets kept in SSM Parameter Store under an environment's prefixes.

use leptos::prelude::*;

use crate::components::overview::{PageTitle, WithOverview};
use crate::components::upstream::{NotConnectedList, UpstreamCard};
use crate::model::{EnvironmentOverview, SystemKind};

#[component]
pub fn TokensPage() -> impl IntoView {
    view! {
        <PageTitle area="Tokens" />
        <h1>"Tokens"</h1>
        <WithOverview render=render />
    }
}

fn render(o: EnvironmentOverview) -> AnyView {
    view! {
        <p class="lede">
            "The parameters of " <strong>{o.summary.title.clone()}</strong>
            " live in AWS SSM Parameter Store under these paths. Values are never loaded here."
        </p>
        <NotConnectedList
            caption="Parameter prefixes"
            items=o.ssm_prefixes.clone()
            empty="No SSM prefixes are configured for this environment (ssm_prefixes)."
        />
        <p class="muted">
            "Rollgate does not browse Parameter Store in this build: each prefix is shown as configured, not connected."
        </p>
        <UpstreamCard overview=o system=SystemKind::Ssm />
    }
    .into_any()
}
