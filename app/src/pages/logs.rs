//! Logs: a deployment's pod logs, followed live (`/:env/deployments/:namespace/:name/logs`).
//!
//! The page is server HTML around the [`LogViewer`] island; the query (`pod`, `container`,
//! `previous`, `tail`, `since`) picks what the viewer opens with, so a link can point at a
//! crash-looping pod's previous container.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::log_viewer::LogViewer;
use crate::components::overview::PageTitle;

#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_params_map().get_untracked();
    let query = use_query_map().get_untracked();
    let param = |k: &str| params.get(k).unwrap_or_default();
    let get = |k: &str| query.get(k).unwrap_or_default();
    let (env, namespace, name) = (param("env"), param("namespace"), param("name"));
    let previous = matches!(get("previous").as_str(), "true" | "1" | "on");
    let back = format!("/{env}/deployments/{namespace}/{name}");

    view! {
        <PageTitle area="Logs" />
        <nav class="breadcrumbs" aria-label="Breadcrumbs">
            <a href=format!("/{env}/deployments")>"Deployments"</a>
            " / "
            <a href=back>{format!("{namespace}/{name}")}</a>
            " / Logs"
        </nav>
        <h1>{format!("Logs of {name}")}</h1>
        <p class="lede">
            "Live from the cluster. Log text is shown as text; colour codes are rendered. "
            "Scroll up to pause following; the newest 100,000 lines are kept."
        </p>
        <LogViewer
            env
            namespace
            deployment=name
            pod=get("pod")
            container=get("container")
            previous
            tail=get("tail")
            since=get("since")
        />
    }
}
