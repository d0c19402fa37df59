//! The Deployments page's table, live. The server renders the first rows of the page's query
//! ([`DeploymentQuery`]); the stream `/live/{env}/deployments` then hands the browser every
//! row (its first message), which it filters and sorts itself and puts on the page only as far
//! as the screen shows: the rows above and below are empty space of their height. A page of
//! 2,000 deployments costs the browser about what a page of thirty does.
//!
//! The rows' markup is the server's, sent with each row in the stream ([`row_html`]): the
//! browser keeps a row's data to filter and sort by, and its HTML to show, so none of the
//! row's components reach the wasm. Rows on screen are kept by key as elements, and only
//! those that change, arrive or leave are touched.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice};
use crate::model::deployment_query::{Choice, DeploymentQuery, HealthFilter, Order};
use crate::model::{DeploymentList, DeploymentRow};
#[cfg(feature = "hydrate")]
use crate::model::{LinkView, LiveEvent};

/// Rows put on the page beyond each edge of the screen, so a short scroll shows rows at once.
#[cfg(feature = "hydrate")]
const OVERSCAN: usize = 10;

/// A row as the browser holds it: its data, and its markup once the stream has sent it (the
/// first rows' markup is already in the page).
#[derive(Debug, Clone, PartialEq)]
struct Held {
    row: DeploymentRow,
    html: Option<Arc<str>>,
}

/// The rows by `namespace/name`, each with its own signal.
type Rows = BTreeMap<String, ArcRwSignal<Arc<Held>>>;

#[island(lazy)]
pub fn DeploymentTable(env: String, query: DeploymentQuery, list: DeploymentList) -> impl IntoView {
    let DeploymentList { rows: first, matched: matched_on_server, total: total_on_server, problems } = list;
    // The server writes the first rows into the table body as HTML, spacers included: the
    // browser takes them over as they are (below) and never renders a row itself.
    #[cfg(feature = "ssr")]
    let first_html = Some(first_rows_html(&env, &first));
    #[cfg(not(feature = "ssr"))]
    let first_html: Option<String> = None;
    let rows = RwSignal::new(
        first.into_iter().map(|row| (row.key(), ArcRwSignal::new(Arc::new(Held { row, html: None })))).collect::<Rows>(),
    );
    // Until the stream's first snapshot the browser holds only the server's first rows.
    let held_all = RwSignal::new(false);
    let links = RwSignal::new(problems.into_iter().collect::<BTreeMap<String, String>>());
    let connection = RwSignal::new(Connection::Connecting);
    let rendered_query = query.clone();
    let query = RwSignal::new(query);
    let body = NodeRef::<leptos::html::Tbody>::new();

    #[cfg(feature = "hydrate")]
    super::live::follow(
        &format!("/live/{env}/deployments"),
        move |event| apply(rows, links, held_all, event),
        connection,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = &env;

    // The keys of the rows the query selects, in its order. It reads every row (filter and
    // sort depend on them) but yields only keys, so what depends on it changes only when the
    // selection or the order does.
    let shown = Memo::new(move |_| {
        let held: Vec<Arc<Held>> = rows.with(|rows| rows.values().map(ArcRwSignal::get).collect());
        query.with(|q| {
            q.select(held.iter().map(|h| &h.row)).into_iter().map(DeploymentRow::key).collect::<Vec<_>>()
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

    #[cfg(feature = "hydrate")]
    screen::follow(body, rows, shown, matched);

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
                <tbody node_ref=body inner_html=first_html></tbody>
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

/// The empty row standing for the rows above or below those on the page.
#[cfg(feature = "ssr")]
const SPACER: &str = r#"<tr class="spacer" aria-hidden="true"><td colspan="5"></td></tr>"#;

/// The table body the server sends: the first rows between the two spacers.
#[cfg(feature = "ssr")]
fn first_rows_html(env: &str, rows: &[DeploymentRow]) -> String {
    let now = super::live::now_ms();
    let mut html = String::from(SPACER);
    for row in rows {
        html.push_str(&row_html(env, row, now));
    }
    html.push_str(SPACER);
    html
}

/// One row's markup, as the table shows it and the stream sends it.
#[cfg(feature = "ssr")]
pub fn row_html(env: &str, row: &DeploymentRow, now_ms: i64) -> String {
    Owner::new().with(|| view! { <Row env=env.to_owned() row=row.clone() now_ms /> }.to_html())
}

#[cfg(feature = "ssr")]
#[component]
fn Row(env: String, row: DeploymentRow, now_ms: i64) -> impl IntoView {
    use super::live::{HealthChip, ProgressBar, TimeAgo};

    let href = format!("/{env}/deployments/{}/{}", row.namespace, row.name);
    // Rows are all one height (the table puts only those on screen on the page, by
    // position): one line per image up to two, then a count of the rest.
    let more = row.images.len().saturating_sub(2);
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
                {row.last_change_ms.map(|ms| view! { <TimeAgo ms now_ms /> })}
                {row.changed_by.clone().map(|b| view! { <div class="muted by">{format!("by {b}")}</div> })}
            </td>
        </tr>
    }
}

#[cfg(feature = "hydrate")]
fn apply(
    rows: RwSignal<Rows>,
    links: RwSignal<BTreeMap<String, String>>,
    held_all: RwSignal<bool>,
    event: LiveEvent,
) {
    let held = |d: crate::model::DeploymentLive| Held { html: d.html.map(Arc::from), row: d.row };
    match event {
        LiveEvent::Snapshot { namespaces, deployments } => {
            let fresh: BTreeMap<String, Held> = deployments.into_iter().map(|d| (d.row.key(), held(d))).collect();
            rows.update(|rows| {
                rows.retain(|key, row| {
                    fresh.contains_key(key) || !row.with_untracked(|r| namespaces.contains(&r.row.namespace))
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
                Some(signal) => put(&signal, held(*d)),
                None => rows.update(|rows| {
                    rows.insert(key, ArcRwSignal::new(Arc::new(held(*d))));
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
fn put(signal: &ArcRwSignal<Arc<Held>>, row: Held) {
    if signal.with_untracked(|r| **r != row) {
        signal.set(Arc::new(row));
    }
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

/// The browser's side of the table body: which rows are on screen, and their elements.
#[cfg(feature = "hydrate")]
mod screen {
    use std::collections::HashMap;
    use std::sync::Arc;

    use leptos::prelude::*;
    use leptos::wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlElement, HtmlTableSectionElement};

    use super::{Held, OVERSCAN, Rows};
    use crate::model::deployment_query::FIRST_ROWS;

    /// Which of the shown rows are on the page: `count` from `start`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Span {
        start: usize,
        count: usize,
    }

    /// A row on the page, and the markup it was made from (`None`: the server's first render).
    struct Placed {
        el: Element,
        html: Option<Arc<str>>,
    }

    /// Keeps `span` on the rows the screen shows as the page scrolls or resizes, puts those
    /// rows on the page, and keeps the spacers above and below them as tall as the rows they
    /// stand for (`matched` counts those not held yet). Heights are set through the style
    /// object, which the page's policy allows; a style attribute it would refuse.
    pub(super) fn follow(
        body: NodeRef<leptos::html::Tbody>,
        rows: RwSignal<Rows>,
        shown: Memo<Vec<String>>,
        matched: Signal<usize>,
    ) {
        let span = RwSignal::new(Span { start: 0, count: FIRST_ROWS });
        let on_screen = Memo::new(move |_| {
            let Span { start, count } = span.get();
            shown.with(|keys| {
                let start = start.min(keys.len());
                keys[start..(start + count).min(keys.len())].to_vec()
            })
        });
        let row_px = RwSignal::new(0.0_f64);
        let placed = StoredValue::new_local(HashMap::<String, Placed>::new());
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
        // "… ago" keeps counting in the rows on the page.
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if let Some(body) = body.get_untracked() {
                    super::super::live::refresh_times(&body);
                }
            },
            std::time::Duration::from_secs(15),
        ) {
            on_cleanup(move || handle.clear());
        }
        // The server's first rows are the page's until the stream's markup replaces them.
        body.on_load(move |body| {
            let Ok(first) = body.query_selector_all("tr[data-deployment]") else { return };
            placed.update_value(|placed| {
                for i in 0..first.length() {
                    if let Some(el) = first.item(i).and_then(|n| n.dyn_into::<Element>().ok())
                        && let Some(key) = el.get_attribute("data-deployment")
                    {
                        placed.insert(key, Placed { el, html: None });
                    }
                }
            });
        });
        // The rows on screen, on the page, in order.
        Effect::new(move |_| {
            let keys = on_screen.get();
            let wanted: Vec<(String, Arc<Held>)> = keys
                .into_iter()
                .filter_map(|key| {
                    let row = rows.with(|rows| rows.get(&key).cloned())?;
                    Some((key, row.get()))
                })
                .collect();
            if let Some(body) = body.get() {
                placed.update_value(|placed| place(&body, &wanted, placed));
            }
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
            let Some(body) = body.get() else { return };
            let set = |row: Option<Element>, rows: usize| {
                if let Some(row) = row.and_then(|r| r.dyn_into::<HtmlElement>().ok()) {
                    // Whole pixels: formatting a float would bring its code into the wasm.
                    let _ = row.style().set_property("height", &format!("{}px", (rows as f64 * px).round() as i64));
                }
            };
            set(body.first_element_child(), start);
            set(body.last_element_child(), matched.get().max(len).saturating_sub(end));
        });
    }

    /// Makes the body's rows between its two spacers be `wanted`, in order: rows that stay
    /// are neither moved nor made again (a link in focus keeps it), rows whose markup changed
    /// are replaced, the rest removed.
    fn place(body: &HtmlTableSectionElement, wanted: &[(String, Arc<Held>)], placed: &mut HashMap<String, Placed>) {
        let keep: std::collections::HashSet<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
        placed.retain(|key, p| {
            let stays = keep.contains(key.as_str());
            if !stays {
                p.el.remove();
            }
            stays
        });
        let (Some(above), Some(below)) = (body.first_element_child(), body.last_element_child()) else {
            return;
        };
        let mut next = above.next_element_sibling();
        for (key, held) in wanted {
            let current = placed.get(key).filter(|p| held.html.is_none() || p.html == held.html).map(|p| p.el.clone());
            let el = match current {
                Some(el) => el,
                None => {
                    let Some(el) = held.html.as_deref().and_then(element_of) else { continue };
                    if let Some(old) = placed.insert(key.clone(), Placed { el: el.clone(), html: held.html.clone() }) {
                        if next.as_ref() == Some(&old.el) {
                            next = old.el.next_element_sibling();
                        }
                        old.el.remove();
                    }
                    el
                }
            };
            if next.as_ref() == Some(&el) {
                next = el.next_element_sibling();
            } else {
                let _ = body.insert_before(&el, Some(next.as_ref().unwrap_or(&below)));
            }
        }
        super::super::live::refresh_times(body);
    }

    /// The row element that `html` (one `<tr>`) makes.
    fn element_of(html: &str) -> Option<Element> {
        let scratch = document().create_element("tbody").ok()?;
        scratch.set_inner_html(html);
        scratch.first_element_child()
    }

    /// The rows on screen, with `OVERSCAN` on each side. Rows are all one height, measured
    /// once from the first row on the page.
    fn screen_span(body: &HtmlTableSectionElement, row_px: RwSignal<f64>) -> Option<Span> {
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
}
