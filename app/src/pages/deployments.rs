//! Deployments: the Kubernetes deployments in an environment's namespaces.

use leptos::prelude::*;

use crate::components::lock_panel::LockPanel;
use crate::components::overview::{PageTitle, WithOverview};
use crate::components::upstream::{NotConnectedList, UpstreamCard};
use crate::model::{EnvironmentOverview, SystemKind};

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    view! {
        <PageTitle area="Deployments" />
        <h1>"Deployments"</h1>
        <WithOverview render=render />
        <LockPanel />
    }
}

fn render(o: EnvironmentOverview) -> AnyView {
    view! {
        <p class="lede">
            <strong>{o.summary.title.clone()}</strong> " runs on " {o.cluster_connection.clone()} "."
        </p>
        <NotConnectedList
            caption="Namespaces"
            items=o.namespaces.clone()
            empty="No namespaces are configured for this environment."
        />
        <p class="muted">
            "Rollgate does not list deployments in this build: each namespace is shown as configured, not connected."
        </p>
        <UpstreamCard overview=o system=SystemKind::Kubernetes />
    }
    .into_any()
}
