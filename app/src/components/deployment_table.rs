//! The Deployments page's table, live: rendered on the server from the shared watches, then
//! kept current in the browser by `/live/{env}/deployments`. Filter by text and health, sort
//! by name, namespace, health or last change.
//!
//! Each row has its own signal, and the order is a list of keys: a change to one deployment
//! re-renders one row, which keeps the table quick with hundreds of deployments.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice, HealthChip, ProgressBar, ago, clock, utc};
use crate::model::{DeploymentRow, Health};
#[cfg(feature = "hydrate")]
use crate::model::{LinkView, LiveEvent};

#[island(lazy)]
pub fn DeploymentTable(
    env: String,
    rows: Vec<DeploymentRow>,
    problems: Vec<(String, String)>,
    rendered_at_ms: i64,
) -> impl IntoView {
    let rows = RwSignal::new(rows.into_iter().map(|r| (r.key(), ArcRwSignal::new(r))).collect::<Rows>());
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

    // The keys of the rows shown, in order. It reads every row (filter and sort depend on
    // them) but yields only keys, so the list below changes only when the order does.
    let shown = Memo::new(move |_| {
        let needle = text.get().trim().to_lowercase();
        let wanted = health.get();
        let order = sort.get();
        rows.with(|rows| {
            let mut list: Vec<(SortKey, String)> = rows
                .iter()
                .filter_map(|(key, row)| {
                    row.with(|r| {
                        let keep = (wanted == "all" || r.health.word().eq_ignore_ascii_case(&wanted))
                            && (needle.is_empty() || matches(r, &needle));
                        keep.then(|| (sort_key(r, &order), key.clone()))
                    })
                })
                .collect();
            list.sort_unstable();
            list.into_iter().map(|(_, key)| key).collect::<Vec<String>>()
        })
    });
    let total = move || rows.with(BTreeMap::len);
    let row_of = move |key: &str| rows.with_untracked(|rows| rows.get(key).cloned());
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
                    <For each=move || shown.get() key=|key| key.clone() let:key>
                        {row_of(&key).map(|row| view! { <Row env=env_for_rows.clone() row now /> })}
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
fn Row(env: String, row: ArcRwSignal<DeploymentRow>, now: RwSignal<i64>) -> impl IntoView {
    let key = row.with_untracked(DeploymentRow::key);
    let health_of = row.clone();
    view! {
        <tr data-deployment=key data-health=move || health_of.with(|r| r.health.word().to_owned())>
            {move || cells(&env, row.get(), now)}
        </tr>
    }
}

fn cells(env: &str, row: DeploymentRow, now: RwSignal<i64>) -> impl IntoView + use<> {
    let href = format!("/{env}/deployments/{}/{}", row.namespace, row.name);
    let changed = row.last_change_ms;
    let by = row.changed_by.clone();
    view! {
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
    }
}

fn matches(r: &DeploymentRow, needle: &str) -> bool {
    r.name.to_lowercase().contains(needle)
        || r.namespace.to_lowercase().contains(needle)
        || r.images.iter().any(|i| i.image.to_lowercase().contains(needle))
}

/// What a row sorts by: one tuple shape for every order, so sorting compares plain values.
type SortKey = (u8, i64, String, String);

fn sort_key(r: &DeploymentRow, order: &str) -> SortKey {
    let (name, namespace) = (r.name.clone(), r.namespace.clone());
    match order {
        "namespace" => (0, 0, namespace, name),
        "health" => (severity(&r.health), 0, name, namespace),
        "changed" => (0, -r.last_change_ms.unwrap_or(i64::MIN + 1), name, namespace),
        _ => (0, 0, name, namespace),
    }
}

fn severity(h: &Health) -> u8 {
    match h {
        Health::Degraded(_) => 0,
        Health::Progressing => 1,
        Health::Paused => 2,
        Health::Complete => 3,
    }
}

/// The rows by `namespace/name`, each with its own signal.
type Rows = BTreeMap<String, ArcRwSignal<DeploymentRow>>;

#[cfg(feature = "hydrate")]
fn apply(rows: RwSignal<Rows>, links: RwSignal<BTreeMap<String, String>>, event: LiveEvent) {
    match event {
        LiveEvent::Snapshot { namespaces, deployments } => {
            let fresh: BTreeMap<String, DeploymentRow> =
                deployments.into_iter().map(|d| (d.row.key(), d.row)).collect();
            rows.update(|rows| {
                rows.retain(|key, row| {
                    fresh.contains_key(key) || !row.with_untracked(|r| namespaces.contains(&r.namespace))
                });
                for (key, row) in fresh {
                    match rows.get(&key) {
                        Some(signal) => put(signal, row),
                        None => {
                            rows.insert(key, ArcRwSignal::new(row));
                        }
                    }
                }
            });
        }
        LiveEvent::Changed(d) => {
            let key = d.row.key();
            match rows.with_untracked(|rows| rows.get(&key).cloned()) {
                // A known deployment changes alone: the list of rows stays as it is.
                Some(signal) => put(&signal, d.row),
                None => rows.update(|rows| {
                    rows.insert(key, ArcRwSignal::new(d.row));
                }),
            }
        }
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

#[cfg(feature = "hydrate")]
fn put(signal: &ArcRwSignal<DeploymentRow>, row: DeploymentRow) {
    if signal.with_untracked(|r| *r != row) {
        signal.set(row);
    }
}
