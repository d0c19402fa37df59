//! The Deployments page's table, live: rendered on the server from the shared watches, then
//! kept current in the browser by `/live/{env}/deployments`. Filter by text and health, sort
//! by name, namespace, health or last change.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice, HealthChip, ProgressBar, ago, clock, utc};
use crate::model::{DeploymentRow, Health};
#[cfg(feature = "hydrate")]
use crate::model::{LinkView, LiveEvent};

#[island]
pub fn DeploymentTable(
    env: String,
    rows: Vec<DeploymentRow>,
    problems: Vec<(String, String)>,
    rendered_at_ms: i64,
) -> impl IntoView {
    let rows = RwSignal::new(rows.into_iter().map(|r| (r.key(), r)).collect::<BTreeMap<_, _>>());
    let links = RwSignal::new(problems.into_iter().collect::<BTreeMap<String, String>>());
    let connection = RwSignal::new(Connection::Connecting);
    let now = clock(rendered_at_ms);
    let text = RwSignal::new(String::new());
    let health = RwSignal::new(String::from("all"));
    let sort = RwSignal::new(String::from("name"));

    #[cfg(feature = "hydrate")]
    super::live::follow(
        &format!("/live/{env}/deployments"),
        move |event| apply(rows, links, event),
        connection,
    );

    let shown = Memo::new(move |_| {
        let needle = text.get().trim().to_lowercase();
        let wanted = health.get();
        let mut list: Vec<DeploymentRow> = rows.with(|rows| {
            rows.values()
                .filter(|r| wanted == "all" || r.health.word().eq_ignore_ascii_case(&wanted))
                .filter(|r| needle.is_empty() || matches(r, &needle))
                .cloned()
                .collect()
        });
        match sort.get().as_str() {
            "namespace" => list.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))),
            "health" => list.sort_by_key(|r| (severity(&r.health), r.name.clone())),
            "changed" => list.sort_by_key(|r| std::cmp::Reverse(r.last_change_ms)),
            _ => list.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace))),
        }
        list
    });
    let total = move || rows.with(BTreeMap::len);
    let env_for_rows = env.clone();

    view! {
        <ConnectionNotice connection />
        {move || {
            links
                .get()
                .into_iter()
                .map(|(ns, why)| view! { <p class="notice bad" role="alert">{format!("Namespace {ns}: {why}")}</p> })
                .collect_view()
        }}
        <div class="filters deployments-filters">
            <label>
                "Filter"
                <input
                    type="search"
                    placeholder="name, namespace, image or commit"
                    prop:value=move || text.get()
                    on:input=move |e| text.set(event_target_value(&e))
                />
            </label>
            <label>
                "Health"
                <select on:change=move |e| health.set(event_target_value(&e))>
                    <option value="all">"All"</option>
                    <option value="degraded">"Degraded"</option>
                    <option value="progressing">"Progressing"</option>
                    <option value="paused">"Paused"</option>
                    <option value="complete">"Complete"</option>
                </select>
            </label>
            <label>
                "Sort by"
                <select on:change=move |e| sort.set(event_target_value(&e))>
                    <option value="name">"Name"</option>
                    <option value="namespace">"Namespace"</option>
                    <option value="health">"Health (worst first)"</option>
                    <option value="changed">"Last change (newest first)"</option>
                </select>
            </label>
            <span class="muted count">{move || format!("{} of {}", shown.with(Vec::len), total())}</span>
        </div>
        <div class="table-scroll">
            <table class="table deployments">
                <thead>
                    <tr>
                        <th scope="col">"Deployment"</th>
                        <th scope="col">"Image"</th>
                        <th scope="col">"Rollout"</th>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Last change"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || shown.get() key=|r| r.clone() let:row>
                        <Row env=env_for_rows.clone() row now />
                    </For>
                </tbody>
            </table>
        </div>
        {move || {
            (total() == 0)
                .then(|| view! { <p class="muted">"No deployments in this environment's namespaces."</p> })
        }}
    }
}

#[component]
fn Row(env: String, row: DeploymentRow, now: RwSignal<i64>) -> impl IntoView {
    let href = format!("/{env}/deployments/{}/{}", row.namespace, row.name);
    let changed = row.last_change_ms;
    let by = row.changed_by.clone();
    view! {
        <tr data-deployment=row.key() data-health=row.health.word().to_owned()>
            <td>
                <a href=href class="name">{row.name.clone()}</a>
                <div class="muted">{row.namespace.clone()}</div>
            </td>
            <td>
                {row
                    .images
                    .iter()
                    .map(|i| {
                        view! {
                            <div class="image" title=i.image.clone()>
                                {i.commit.clone().map(|c| view! { <code class="commit">{c}</code> " " })}
                                <span class="ref">{i.image.clone()}</span>
                            </div>
                        }
                    })
                    .collect_view()}
            </td>
            <td>
                <ProgressBar row=row.clone() />
            </td>
            <td>
                <HealthChip health=row.health.clone() />
            </td>
            <td>
                {changed
                    .map(|t| {
                        view! {
                            <span title=utc(t)>{move || ago(t, now.get())}</span>
                        }
                    })}
                {by.map(|b| view! { <div class="muted">{format!("by {b}")}</div> })}
            </td>
        </tr>
    }
}

fn matches(r: &DeploymentRow, needle: &str) -> bool {
    r.name.to_lowercase().contains(needle)
        || r.namespace.to_lowercase().contains(needle)
        || r.images.iter().any(|i| i.image.to_lowercase().contains(needle))
}

fn severity(h: &Health) -> u8 {
    match h {
        Health::Degraded(_) => 0,
        Health::Progressing => 1,
        Health::Paused => 2,
        Health::Complete => 3,
    }
}

#[cfg(feature = "hydrate")]
fn apply(
    rows: RwSignal<BTreeMap<String, DeploymentRow>>,
    links: RwSignal<BTreeMap<String, String>>,
    event: LiveEvent,
) {
    match event {
        LiveEvent::Snapshot { namespaces, deployments } => rows.update(|rows| {
            rows.retain(|_, r| !namespaces.contains(&r.namespace));
            rows.extend(deployments.into_iter().map(|d| (d.row.key(), d.row)));
        }),
        LiveEvent::Changed(d) => rows.update(|rows| {
            rows.insert(d.row.key(), d.row);
        }),
        LiveEvent::Removed { namespace, name } => rows.update(|rows| {
            rows.remove(&format!("{namespace}/{name}"));
        }),
        LiveEvent::Link { namespace, link } => links.update(|links| match link {
            LinkView::Live | LinkView::Connecting => {
                links.remove(&namespace);
            }
            LinkView::Reconnecting(why) => {
                links.insert(namespace, format!("the cluster watch is reconnecting ({why})"));
            }
        }),
    }
}
