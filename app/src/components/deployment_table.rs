//! The Deployments page's table, live. The server renders the first rows of the page's query
//! ([`DeploymentQuery`]); the stream `/live/{env}/deployments` then hands the browser every
//! row (its first message), which it filters and sorts itself and renders only as far as the
//! screen shows: the rows above and below are empty space of their height. A page of 2,000
//! deployments costs the browser about what a page of thirty does.
//!
//! Each row has its own signal, and the order is a list of keys: a change to one deployment
//! re-renders at most its row, and only while it is on screen.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice, HealthChip, ProgressBar, ago, clock, utc};
use crate::model::deployment_query::{Choice, DeploymentQuery, FIRST_ROWS, HealthFilter, Order};
use crate::model::{DeploymentList, DeploymentRow};
#[cfg(feature = "hydrate")]
use crate::model::{LinkView, LiveEvent};

/// Rows rendered beyond each edge of the screen, so a short scroll shows rows at once.
#[cfg(feature = "hydrate")]
const OVERSCAN: usize = 10;

/// Which of the shown rows are rendered: `count` from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    count: usize,
}

#[island(lazy)]
pub fn DeploymentTable(
    env: String,
    query: DeploymentQuery,
    list: DeploymentList,
    rendered_at_ms: i64,
) -> impl IntoView {
    let DeploymentList { rows: first, matched: matched_on_server, total: total_on_server, problems } = list;
    let rows =
        RwSignal::new(first.into_iter().map(|r| (r.key(), ArcRwSignal::new(Arc::new(r)))).collect::<Rows>());
    // Until the stream's first snapshot the browser holds only the server's first rows.
    let held_all = RwSignal::new(false);
    let links = RwSignal::new(problems.into_iter().collect::<BTreeMap<String, String>>());
    let connection = RwSignal::new(Connection::Connecting);
    let now = clock(rendered_at_ms);
    let rendered_query = query.clone();
    let query = RwSignal::new(query);
    let span = RwSignal::new(Span { start: 0, count: FIRST_ROWS });
    let body = NodeRef::<leptos::html::Tbody>::new();
    let above = NodeRef::<leptos::html::Tr>::new();
    let below = NodeRef::<leptos::html::Tr>::new();

    #[cfg(feature = "hydrate")]
    super::live::follow(
        &format!("/live/{env}/deployments"),
        move |event| apply(rows, links, held_all, event),
        connection,
    );

    // The keys of the rows the query selects, in its order. It reads every row (filter and
    // sort depend on them) but yields only keys, so what depends on it changes only when the
    // selection or the order does.
    let shown = Memo::new(move |_| {
        let held: Vec<Arc<DeploymentRow>> = rows.with(|rows| rows.values().map(ArcRwSignal::get).collect());
        query.with(|q| {
            q.select(held.iter().map(|r| &**r)).into_iter().map(DeploymentRow::key).collect::<Vec<_>>()
        })
    });
    // Counts include the rows not held yet, as long as the server's counts still apply.
    let matched = Signal::derive(move || {
        if held_all.get() || query.with(|q| *q != rendered_query) {
            shown.with(Vec::len)
        } else {
            matched_on_server
        }
    });
    let total = move || if held_all.get() { rows.with(BTreeMap::len) } else { total_on_server };
    let on_screen = Memo::new(move |_| {
        let Span { start, count } = span.get();
        shown.with(|keys| {
            let start = start.min(keys.len());
            keys[start..(start + count).min(keys.len())].to_vec()
        })
    });
    let row_of = move |key: &str| rows.with_untracked(|rows| rows.get(key).cloned());

    #[cfg(feature = "hydrate")]
    follow_the_screen(body, [above, below], span, shown, matched);

    let change = move |edit: &dyn Fn(&mut DeploymentQuery)| {
        query.update(|q| edit(q));
        #[cfg(feature = "hydrate")]
        query.with_untracked(show_in_address);
    };
    let initial = query.get_untracked();

    view! {
        <ConnectionNotice connection />
        {move || {
            links
                .get()
                .into_iter()
                .map(|(ns, why)| view! { <p class="notice bad" role="alert">{format!("Namespace {ns}: {why}")}</p> })
                .collect_view()
        }}
        // A plain form: without the script, Enter asks the server for the same view.
        <form class="filters deployments-filters" method="get" on:submit=|e| e.prevent_default()>
            <label>
                "Filter"
                <input
                    type="search"
                    name="q"
                    placeholder="name, namespace, image or commit"
                    value=initial.text
                    on:input=move |e| change(&|q| q.text = event_target_value(&e))
                />
            </label>
            <label>
                "Health"
                <select name="health" on:change=move |e| change(&|q| q.health = HealthFilter::parse(&event_target_value(&e)))>
                    {options(initial.health)}
                </select>
            </label>
            <label>
                "Sort by"
                <select name="sort" on:change=move |e| change(&|q| q.order = Order::parse(&event_target_value(&e)))>
                    {options(initial.order)}
                </select>
            </label>
            <span class="muted count">{move || format!("{} of {}", matched.get(), total())}</span>
        </form>
        <div class="table-scroll">
            <table class="table deployments" data-held=move || if held_all.get() { "all" } else { "first" }>
                <thead>
                    <tr>
                        <th scope="col">"Deployment"</th>
                        <th scope="col">"Image"</th>
                        <th scope="col">"Rollout"</th>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Last change"</th>
                    </tr>
                </thead>
                <tbody node_ref=body>
                    <tr class="spacer" aria-hidden="true" node_ref=above>
                        <td colspan="5"></td>
                    </tr>
                    <For each=move || on_screen.get() key=|key| key.clone() let:key>
                        {row_of(&key).map(|row| view! { <Row env=env.clone() row now /> })}
                    </For>
                    <tr class="spacer" aria-hidden="true" node_ref=below>
                        <td colspan="5"></td>
                    </tr>
                </tbody>
            </table>
        </div>
        {move || {
            (total() == 0)
                .then(|| view! { <p class="muted">"No deployments in this environment's namespaces."</p> })
        }}
    }
}

fn options<C: Choice>(chosen: C) -> impl IntoView {
    C::ALL
        .iter()
        .map(|c| view! { <option value=c.param() selected=*c == chosen>{c.label()}</option> })
        .collect_view()
}

#[component]
fn Row(env: String, row: ArcRwSignal<Arc<DeploymentRow>>, now: RwSignal<i64>) -> impl IntoView {
    let key = row.with_untracked(|r| r.key());
    let health_of = row.clone();
    view! {
        <tr data-deployment=key data-health=move || health_of.with(|r| r.health.word().to_owned())>
            {move || cells(&env, &row.get(), now)}
        </tr>
    }
}

fn cells(env: &str, row: &DeploymentRow, now: RwSignal<i64>) -> impl IntoView + use<> {
    let href = format!("/{env}/deployments/{}/{}", row.namespace, row.name);
    let changed = row.last_change_ms;
    let by = row.changed_by.clone();
    // Rows are all one height (the table renders only those on screen by position): one line
    // per image up to two, then a count of the rest.
    let more = row.images.len().saturating_sub(2);
    view! {
        <td>
            <a href=href class="name">{row.name.clone()}</a>
            <div class="muted">{row.namespace.clone()}</div>
        </td>
        <td>
            {row
                .images
                .iter()
                .take(if more > 0 { 1 } else { 2 })
                .map(|i| {
                    view! {
                        <div class="image" title=i.image.clone()>
                            {i.commit.clone().map(|c| view! { <code class="commit">{c}</code> " " })}
                            <span class="ref">{i.image.clone()}</span>
                        </div>
                    }
                })
                .collect_view()}
            {(more > 0).then(|| view! { <div class="muted more">{format!("and {} more", more + 1)}</div> })}
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
            {by.map(|b| view! { <div class="muted by">{format!("by {b}")}</div> })}
        </td>
    }
}

/// The rows by `namespace/name`, each with its own signal.
type Rows = BTreeMap<String, ArcRwSignal<Arc<DeploymentRow>>>;

#[cfg(feature = "hydrate")]
fn apply(
    rows: RwSignal<Rows>,
    links: RwSignal<BTreeMap<String, String>>,
    held_all: RwSignal<bool>,
    event: LiveEvent,
) {
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
                            rows.insert(key, ArcRwSignal::new(Arc::new(row)));
                        }
                    }
                }
            });
            // The first snapshot covers every namespace of the environment.
            held_all.set(true);
        }
        LiveEvent::Changed(d) => {
            let key = d.row.key();
            match rows.with_untracked(|rows| rows.get(&key).cloned()) {
                // A known deployment changes alone: the list of rows stays as it is.
                Some(signal) => put(&signal, d.row),
                None => rows.update(|rows| {
                    rows.insert(key, ArcRwSignal::new(Arc::new(d.row)));
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
fn put(signal: &ArcRwSignal<Arc<DeploymentRow>>, row: DeploymentRow) {
    if signal.with_untracked(|r| **r != row) {
        signal.set(Arc::new(row));
    }
}

/// Keeps `span` on the rows the screen shows as the page scrolls or resizes, and the spacers
/// above and below them as tall as the rows they stand for (`matched` counts those not held
/// yet). Heights are set through the style object, which the page's policy allows; a style
/// attribute it would refuse.
#[cfg(feature = "hydrate")]
fn follow_the_screen(
    body: NodeRef<leptos::html::Tbody>,
    [above, below]: [NodeRef<leptos::html::Tr>; 2],
    span: RwSignal<Span>,
    shown: Memo<Vec<String>>,
    matched: Signal<usize>,
) {
    let row_px = RwSignal::new(0.0_f64);
    let pending = StoredValue::new(false);
    let measure = move || {
        pending.set_value(false);
        if let Some(next) = body.get_untracked().and_then(|body| screen_span(&body, row_px))
            && span.get_untracked() != next
        {
            span.set(next);
        }
    };
    // At most one measurement a frame, however many scroll events arrive.
    let schedule = move || {
        if !pending.get_value() {
            pending.set_value(true);
            request_animation_frame(measure);
        }
    };
    let scrolled = window_event_listener(leptos::ev::scroll, move |_| schedule());
    let resized = window_event_listener(leptos::ev::resize, move |_| schedule());
    on_cleanup(move || {
        scrolled.remove();
        resized.remove();
    });
    // A new selection changes the page's height: measure again once it is drawn.
    Effect::new(move |_| {
        shown.track();
        schedule();
    });
    Effect::new(move |_| {
        let px = row_px.get();
        let Span { start, count } = span.get();
        let len = shown.with(Vec::len);
        let (start, end) = (start.min(len), (start + count).min(len));
        let set = |row: NodeRef<leptos::html::Tr>, rows: usize| {
            if let Some(row) = row.get_untracked() {
                let _ = web_sys::HtmlElement::style(&row)
                    .set_property("height", &format!("{}px", rows as f64 * px));
            }
        };
        set(above, start);
        set(below, matched.get().max(len).saturating_sub(end));
    });
}

/// The rows on screen, with `OVERSCAN` on each side. Rows are all one height, measured once
/// from the first row drawn.
#[cfg(feature = "hydrate")]
fn screen_span(body: &web_sys::HtmlTableSectionElement, row_px: RwSignal<f64>) -> Option<Span> {
    let mut px = row_px.get_untracked();
    if px <= 0.0 {
        px = body.query_selector("tr[data-deployment]").ok()??.get_bounding_client_rect().height();
        if px <= 0.0 {
            return None;
        }
        row_px.set(px);
    }
    let top = body.get_bounding_client_rect().top();
    let screen = window().inner_height().ok()?.as_f64()?;
    let first = (-top).max(0.0) / px;
    Some(Span {
        start: (first as usize).saturating_sub(OVERSCAN),
        count: (screen / px).ceil() as usize + 2 * OVERSCAN,
    })
}

/// Puts the view in the page's address, so a reload or a shared link shows the same.
#[cfg(feature = "hydrate")]
fn show_in_address(query: &DeploymentQuery) {
    let Ok(params) = web_sys::UrlSearchParams::new() else { return };
    for (name, value) in query.params() {
        params.append(name, &value);
    }
    let search = String::from(params.to_string());
    let Ok(path) = window().location().pathname() else { return };
    let address = if search.is_empty() { path } else { format!("{path}?{search}") };
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&address));
    }
}
