//! The Deployments page's table, live. The server renders the first rows of the page's query
//! ([`DeploymentQuery`]); the stream `/live/{env}/deployments` then hands the browser every
//! row (its first message), which it filters and sorts itself and puts on the page only as far
//! as the screen shows: the rows above and below are empty space of their height. A page of
//! 2,000 deployments costs the browser about what a page of thirty does.
//!
//! The rows' markup is the server's, sent with each row in the stream ([`row_html`]): the
//! browser keeps what it filters and sorts by and the markup to show, so none of the row's
//! components reach the wasm. Nor does a JSON parser: the island takes no props (it reads
//! where it starts from the markup the server wrote, `Start`) and reads the stream's JSON
//! with the browser's own parser (`wire`).
//!
//! - `screen`: which rows are on screen, and their elements.
//! - `wire`: the stream's messages, as far as the table reads them.

#[cfg(feature = "hydrate")]
mod screen;
#[cfg(feature = "hydrate")]
mod wire;

use std::collections::BTreeMap;
#[cfg(feature = "hydrate")]
use std::sync::Arc;

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice};
use crate::model::deployment_query::{Choice, DeploymentQuery, HealthFilter, Order};
use crate::model::{DeploymentList, DeploymentRow};
#[cfg(feature = "hydrate")]
use crate::model::{Health, deployment_query::Listed};

/// Rows put on the page beyond each edge of the screen, so a short scroll shows rows at once.
#[cfg(feature = "hydrate")]
const OVERSCAN: usize = 10;

/// The table of an environment's deployments, starting from `list`, the server's first rows
/// of `query`.
#[component]
pub fn DeploymentTable(env: String, query: DeploymentQuery, list: DeploymentList) -> impl IntoView {
    provide_context(Start {
        env,
        query,
        matched: list.matched,
        total: list.total,
        problems: list.problems,
        rows: list.rows,
    });
    view! { <Table /> }
}

/// Where the table starts. It reaches the island as context on the server and, in the
/// browser, as what the server wrote (attributes, and the notices): an island with props
/// brings a JSON parser into its download.
#[derive(Clone, Default)]
struct Start {
    env: String,
    query: DeploymentQuery,
    matched: usize,
    total: usize,
    /// Namespaces whose watch is not live, with the reason.
    problems: Vec<(String, String)>,
    /// The first rows (on the server only: in the browser they are the page's).
    rows: Vec<DeploymentRow>,
}

impl Start {
    /// The browser's: a page has one table, already in the document when its island starts.
    #[cfg(feature = "hydrate")]
    fn from_page() -> Option<Self> {
        use leptos::wasm_bindgen::JsCast;

        let el = document().query_selector("div.deployment-table").ok()??;
        let get = |name: &str| el.get_attribute(&format!("data-{name}")).unwrap_or_default();
        let notices = el.query_selector_all("p[data-namespace]").ok()?;
        let problems = (0..notices.length())
            .filter_map(|i| notices.item(i)?.dyn_into::<web_sys::Element>().ok())
            .map(|p| {
                (
                    p.get_attribute("data-namespace").unwrap_or_default(),
                    p.get_attribute("data-why").unwrap_or_default(),
                )
            })
            .collect();
        Some(Start {
            env: get("env"),
            query: DeploymentQuery::from_params(Some(&get("q")), Some(&get("health")), Some(&get("sort"))),
            matched: get("matched").parse().unwrap_or_default(),
            total: get("total").parse().unwrap_or_default(),
            problems,
            rows: Vec::new(),
        })
    }
}

/// A row as the browser holds it: what the query reads, and the row's markup.
#[cfg(feature = "hydrate")]
#[derive(Debug, Clone, PartialEq)]
struct Held {
    name: String,
    namespace: String,
    images: Vec<String>,
    health: Health,
    last_change_ms: Option<i64>,
    html: Arc<str>,
}

#[cfg(feature = "hydrate")]
impl Held {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[cfg(feature = "hydrate")]
impl Listed for Held {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn images(&self) -> impl Iterator<Item = &str> {
        self.images.iter().map(String::as_str)
    }
    fn health(&self) -> &Health {
        &self.health
    }
    fn last_change_ms(&self) -> Option<i64> {
        self.last_change_ms
    }
}

/// The rows by `namespace/name`, each with its own signal.
#[cfg(feature = "hydrate")]
type Rows = BTreeMap<String, ArcRwSignal<Arc<Held>>>;

#[island(lazy)]
fn Table() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    let start = Start::from_page();
    #[cfg(not(feature = "hydrate"))]
    let start = use_context::<Start>();
    let Start { env, query, matched: matched_on_server, total: total_on_server, problems, rows: first } =
        start.unwrap_or_default();
    // The server writes the first rows into the table body as HTML, spacers included: the
    // browser takes them over as they are and never renders a row itself.
    #[cfg(feature = "ssr")]
    let first_html = Some(first_rows_html(&env, &first));
    #[cfg(not(feature = "ssr"))]
    let first_html: Option<String> = {
        let _ = first;
        None
    };
    // Written for the browser to read back (see `Start`).
    let data_env = env.clone();
    let data_query = query.clone();
    let links = RwSignal::new(problems.into_iter().collect::<BTreeMap<String, String>>());
    // Until the stream's first snapshot the browser holds no row: the server's first rows
    // stay as they are, with its counts.
    let held_all = RwSignal::new(false);
    let connection = RwSignal::new(Connection::Connecting);
    let query = RwSignal::new(query);
    let body = NodeRef::<leptos::html::Tbody>::new();

    #[cfg(feature = "hydrate")]
    let (matched, total) = {
        let rows = RwSignal::new(Rows::new());
        super::live::follow_text(
            &format!("/live/{env}/deployments"),
            move |text| {
                if let Some(event) = wire::parse(&text) {
                    apply(rows, links, held_all, event);
                }
            },
            connection,
        );
        // The keys of the rows the query selects, in its order. It reads every row (filter
        // and sort depend on them) but yields only keys, so what depends on it changes only
        // when the selection or the order does.
        let shown = Memo::new(move |_| {
            let held: Vec<Arc<Held>> = rows.with(|rows| rows.values().map(ArcRwSignal::get).collect());
            query.with(|q| q.select(held.iter().map(|h| &**h)).into_iter().map(Held::key).collect::<Vec<_>>())
        });
        let matched =
            Signal::derive(move || if held_all.get() { shown.with(Vec::len) } else { matched_on_server });
        screen::follow(body, rows, shown, held_all, matched);
        (
            matched,
            Signal::derive(move || if held_all.get() { rows.with(BTreeMap::len) } else { total_on_server }),
        )
    };
    #[cfg(not(feature = "hydrate"))]
    let (matched, total) = {
        let _ = &env;
        (Signal::stored(matched_on_server), Signal::stored(total_on_server))
    };

    let change = move |edit: &dyn Fn(&mut DeploymentQuery)| {
        query.update(|q| edit(q));
        #[cfg(feature = "hydrate")]
        query.with_untracked(show_in_address);
    };
    let initial = query.get_untracked();

    view! {
        <div
            class="deployment-table"
            data-env=data_env
            data-q=data_query.text
            data-health=data_query.health.param()
            data-sort=data_query.order.param()
            data-matched=matched_on_server.to_string()
            data-total=total_on_server.to_string()
        >
            <ConnectionNotice connection />
            {move || {
                links
                    .get()
                    .into_iter()
                    .map(|(ns, why)| {
                        let text = format!("Namespace {ns}: {why}");
                        view! {
                            <p class="notice bad" role="alert" data-namespace=ns data-why=why>
                                {text}
                            </p>
                        }
                    })
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
                    <select
                        name="health"
                        on:change=move |e| change(&|q| q.health = HealthFilter::parse(&event_target_value(&e)))
                    >
                        {options(initial.health)}
                    </select>
                </label>
                <label>
                    "Sort by"
                    <select name="sort" on:change=move |e| change(&|q| q.order = Order::parse(&event_target_value(&e)))>
                        {options(initial.order)}
                    </select>
                </label>
                <span class="muted count">{move || format!("{} of {}", matched.get(), total.get())}</span>
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
                (total.get() == 0)
                    .then(|| view! { <p class="muted">"No deployments in this environment's namespaces."</p> })
            }}
        </div>
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
    event: wire::Event,
) {
    match event {
        wire::Event::Snapshot { namespaces, rows: fresh } => {
            let fresh: BTreeMap<String, Held> = fresh.into_iter().map(|h| (h.key(), h)).collect();
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
        wire::Event::Changed(row) => {
            let key = row.key();
            match rows.with_untracked(|rows| rows.get(&key).cloned()) {
                // A known deployment changes alone: the list of rows stays as it is.
                Some(signal) => put(&signal, row),
                None => rows.update(|rows| {
                    rows.insert(key, ArcRwSignal::new(Arc::new(row)));
                }),
            }
        }
        wire::Event::Removed(key) => rows.update(|rows| {
            rows.remove(&key);
        }),
        wire::Event::Link { namespace, reconnecting } => links.update(|links| match reconnecting {
            None => {
                links.remove(&namespace);
            }
            Some(why) => {
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
