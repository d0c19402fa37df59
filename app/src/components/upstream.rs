//! An upstream system as a card: where it is and whether it answered the last check.

use leptos::prelude::*;

use crate::model::{EnvironmentOverview, Reachability, SystemKind, UpstreamView};

#[component]
pub fn UpstreamCard(overview: EnvironmentOverview, system: SystemKind) -> impl IntoView {
    match overview.upstream(system).cloned() {
        Some(view) => view! { <UpstreamDetails view /> }.into_any(),
        None => view! {
            <section class="card upstream">
                <p class="muted">"Nothing in this environment's configuration uses this system."</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
fn UpstreamDetails(view: UpstreamView) -> impl IntoView {
    let (class, words) = describe(&view.reachability);
    let label = view.label.clone();
    view! {
        <section class="card upstream" aria-label=label>
            <div class="card-row">
                <h2>{view.label}</h2>
                <span class=format!("chip {class}")>{words}</span>
            </div>
            <dl class="facts">
                <dt>"Endpoint"</dt>
                <dd>
                    <code>{view.endpoint.unwrap_or_else(|| "unknown".to_owned())}</code>
                </dd>
            </dl>
        </section>
    }
}

fn describe(reachability: &Reachability) -> (&'static str, String) {
    match reachability {
        Reachability::NotChecked => ("neutral", "Not checked yet".to_owned()),
        Reachability::Reachable { latency_ms, checked_secs_ago } => {
            ("ok", format!("Reachable ({latency_ms} ms, checked {checked_secs_ago} s ago)"))
        }
        Reachability::Unreachable { reason, checked_secs_ago } => {
            ("bad", format!("Unreachable: {reason} (checked {checked_secs_ago} s ago)"))
        }
        Reachability::Unresolved { reason } => ("bad", format!("Not configured: {reason}")),
    }
}

/// Configured items that Rollgate does not read yet, each marked "not connected".
#[component]
pub fn NotConnectedList(caption: &'static str, items: Vec<String>, empty: &'static str) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <table class="table">
            <caption>{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>
                {items
                    .into_iter()
                    .map(|item| {
                        view! {
                            <tr>
                                <td>
                                    <code>{item}</code>
                                </td>
                                <td>
                                    <span class="chip neutral">"Not connected"</span>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
