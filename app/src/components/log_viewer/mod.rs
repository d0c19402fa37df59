//! The pod log viewer: an island that follows a deployment's pod logs over server-sent events
//! (see the server's `log_stream`) and shows them in a virtualized list.
//!
//! - [`buffer`]: the lines held (bounded), ANSI styles, timestamps, search matches.
//! - [`protocol`]: the stream's URL and the plain text of its events.
//! - `connection` (browser only): the EventSource, reconnecting with back-off and resuming
//!   where it broke off without repeating lines.
//! - `view`: rows of fixed height; only those in sight (and a few more) are in the DOM, so
//!   100,000 lines scroll as smoothly as 100.

// The buffer and protocol are driven by the browser-only connection; the server renders the
// empty viewer.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub mod buffer;
#[cfg(feature = "hydrate")]
mod connection;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub mod protocol;
pub mod rows;

use leptos::prelude::*;

use buffer::LogBuffer;
use protocol::{PodInfo, Selection};

/// The height of one row, in CSS pixels (the stylesheet's `.log-row` says the same).
pub const ROW_PX: f64 = 18.0;

/// Where the stream stands, in words.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Connecting,
    Live,
    Reconnecting(u32),
    Ended(String),
    Failed(String),
}

/// Everything the island's parts share; all of it is `Copy`.
#[derive(Clone, Copy)]
pub struct Viewer {
    pub target: StoredValue<protocol::Target>,
    pub selection: RwSignal<Selection>,
    pub pods: RwSignal<Vec<PodInfo>>,
    pub link: RwSignal<Link>,
    pub buffer: StoredValue<LogBuffer>,
    /// Bumped (at most once a frame) when the buffer changed.
    pub version: RwSignal<u64>,
    pub timestamps: RwSignal<bool>,
    pub wrap: RwSignal<bool>,
    /// Keep the newest line in sight; off while the reader scrolls up.
    pub follow: RwSignal<bool>,
    /// Lines that arrived while not following.
    pub unseen: RwSignal<u64>,
    pub scroll_top: RwSignal<f64>,
    pub viewport: RwSignal<(f64, f64)>,
    pub search: RwSignal<String>,
    /// Which match is current (index into the matches).
    pub current: RwSignal<Option<usize>>,
    pub scroller: NodeRef<leptos::html::Div>,
    pub layout: StoredValue<rows::Layout>,
}

/// The viewer of one deployment's logs, starting from the reader's choices in the address.
#[component]
pub fn LogViewer(
    env: String,
    namespace: String,
    deployment: String,
    pod: String,
    container: String,
    previous: bool,
    tail: String,
    since: String,
) -> impl IntoView {
    let tail = if tail.is_empty() { protocol::DEFAULT_TAIL.to_owned() } else { tail };
    provide_context(Start {
        target: protocol::Target { env, namespace, deployment },
        selection: Selection { pod, container, previous, tail, since },
    });
    view! { <Logs /> }
}

/// Where the viewer starts. It reaches the island as context on the server and, in the
/// browser, as the attributes the server wrote on the viewer: an island with props brings
/// a JSON parser (and, with its error messages, float formatting) into its download, which
/// the log stream (plain text) does not otherwise need.
#[derive(Clone, Default)]
struct Start {
    target: protocol::Target,
    selection: Selection,
}

impl Start {
    /// The browser's: a page has one log viewer, already in the document when its island
    /// starts.
    #[cfg(feature = "hydrate")]
    fn from_page() -> Option<Self> {
        let el = document().query_selector("section.log-viewer").ok()??;
        let get = |name: &str| el.get_attribute(&format!("data-{name}")).unwrap_or_default();
        Some(Start {
            target: protocol::Target {
                env: get("env"),
                namespace: get("namespace"),
                deployment: get("deployment"),
            },
            selection: Selection {
                pod: get("pod"),
                container: get("container"),
                previous: el.has_attribute("data-previous"),
                tail: get("tail"),
                since: get("since"),
            },
        })
    }
}

#[island(lazy)]
fn Logs() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    let start = Start::from_page();
    #[cfg(not(feature = "hydrate"))]
    let start = use_context::<Start>();
    let Start { target, selection } = start.unwrap_or_default();
    // Written for the browser to read back (see `Start`).
    let data = (target.clone(), selection.clone());
    let viewer = Viewer {
        target: StoredValue::new(target),
        selection: RwSignal::new(selection),
        pods: RwSignal::new(Vec::new()),
        link: RwSignal::new(Link::Connecting),
        buffer: StoredValue::new(LogBuffer::default()),
        version: RwSignal::new(0),
        timestamps: RwSignal::new(false),
        wrap: RwSignal::new(false),
        follow: RwSignal::new(true),
        unseen: RwSignal::new(0),
        scroll_top: RwSignal::new(0.0),
        viewport: RwSignal::new((0.0, 0.0)),
        search: RwSignal::new(String::new()),
        current: RwSignal::new(None),
        scroller: NodeRef::new(),
        layout: StoredValue::new(rows::Layout::default()),
    };

    #[cfg(feature = "hydrate")]
    connection::start(viewer);

    let options = part(view! {
            <form class="log-options card" on:submit=|ev| ev.prevent_default()>
                <PodPicker viewer />
                <ContainerPicker viewer />
                <label class="check">
                    <input
                        type="checkbox"
                        name="previous"
                        prop:checked=move || viewer.selection.with(|s| s.previous)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            viewer.selection.update(|s| s.previous = on);
                        }
                    />
                    "Previous container"
                </label>
                <label>
                    "Last"
                    <input
                        type="number"
                        name="tail"
                        min="0"
                        max="100000"
                        class="tail"
                        prop:value=move || viewer.selection.with(|s| s.tail.clone())
                        on:change=move |ev| {
                            let tail = event_target_value(&ev);
                            viewer.selection.update(|s| s.tail = tail);
                        }
                    />
                    "lines"
                </label>
                <label>
                    "Since"
                    <select
                        name="since"
                        prop:value=move || viewer.selection.with(|s| s.since.clone())
                        on:change=move |ev| {
                            let since = event_target_value(&ev);
                            viewer.selection.update(|s| s.since = since);
                        }
                    >
                        {protocol::SINCE_CHOICES
                            .into_iter()
                            .map(|(value, label)| {
                                view! {
                                    <option
                                        value=value
                                        selected=move || viewer.selection.with(|s| s.since == value)
                                    >
                                        {label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
            </form>
    });
    let toolbar = part(view! {
            <div class="log-toolbar">
                <label class="check">
                    <input
                        type="checkbox"
                        name="timestamps"
                        prop:checked=move || viewer.timestamps.get()
                        on:change=move |ev| viewer.timestamps.set(event_target_checked(&ev))
                    />
                    "Timestamps"
                </label>
                <label class="check">
                    <input
                        type="checkbox"
                        name="wrap"
                        prop:checked=move || viewer.wrap.get()
                        on:change=move |ev| viewer.wrap.set(event_target_checked(&ev))
                    />
                    "Wrap lines"
                </label>
                <SearchBox viewer />
                <a
                    class="download button"
                    href=move || {
                        let timestamps = viewer.timestamps.get();
                        viewer.selection.with(|s| viewer.target.with_value(|t| t.download_url(s, timestamps)))
                    }
                    download
                >
                    "Download"
                </a>
            </div>
    });
    let (t, sel) = data;
    part(view! {
        <section
            class="log-viewer"
            aria-label="Pod logs"
            data-env=t.env
            data-namespace=t.namespace
            data-deployment=t.deployment
            data-pod=sel.pod
            data-container=sel.container
            data-previous=sel.previous.then_some("")
            data-tail=sel.tail
            data-since=sel.since
        >
            {options}
            {toolbar}
            <StatusBar viewer />
            <rows::Rows viewer />
        </section>
    })
}

#[component]
fn PodPicker(viewer: Viewer) -> impl IntoView {
    let options = move || {
        let chosen = viewer.selection.with(|s| s.pod.clone());
        let mut pods = viewer.pods.get();
        if !chosen.is_empty() && !pods.iter().any(|p| p.name == chosen) {
            pods.insert(0, PodInfo { name: chosen.clone(), ..PodInfo::default() });
        }
        pods.into_iter()
            .map(|p| {
                let label = p.label();
                let selected = p.name == chosen;
                view! { <option value=p.name selected=selected>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <label>
            "Pod"
            <select
                name="pod"
                on:change=move |ev| {
                    let pod = event_target_value(&ev);
                    viewer.selection.update(|s| {
                        s.pod = pod;
                        s.container.clear();
                    });
                }
            >
                <option value="" selected=move || viewer.selection.with(|s| s.pod.is_empty())>
                    "All pods (interleaved)"
                </option>
                {options}
            </select>
        </label>
    }
}

#[component]
fn ContainerPicker(viewer: Viewer) -> impl IntoView {
    let options = move || {
        let (pod, chosen) = viewer.selection.with(|s| (s.pod.clone(), s.container.clone()));
        let pods = viewer.pods.get();
        let info = pods.iter().find(|p| p.name == pod).or(pods.first()).cloned().unwrap_or_default();
        let mut names: Vec<(String, String)> =
            info.init.iter().map(|c| (c.clone(), format!("{c} (init)"))).collect();
        names.extend(info.containers.iter().map(|c| (c.clone(), c.clone())));
        if !chosen.is_empty() && !names.iter().any(|(n, _)| *n == chosen) {
            names.push((chosen.clone(), chosen.clone()));
        }
        let default = info.containers.first().cloned().unwrap_or_default();
        names
            .into_iter()
            .map(|(name, label)| {
                let selected = name == chosen || (chosen.is_empty() && name == default);
                view! { <option value=name selected=selected>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <label>
            "Container"
            <select
                name="container"
                on:change=move |ev| {
                    let container = event_target_value(&ev);
                    viewer.selection.update(|s| s.container = container);
                }
            >
                {options}
            </select>
        </label>
    }
}

#[component]
fn SearchBox(viewer: Viewer) -> impl IntoView {
    let count = move || {
        viewer.version.track();
        viewer.search.track();
        viewer.buffer.with_value(|b| b.match_count())
    };
    let label = move || {
        let total = count();
        match (viewer.search.with(String::is_empty), viewer.current.get()) {
            (true, _) => String::new(),
            (false, _) if total == 0 => "no matches".into(),
            (false, Some(i)) => format!("{} of {total}", (i + 1).min(total)),
            (false, None) => format!("{total} matches"),
        }
    };
    part(view! {
        <span class="log-search" role="search">
            <input
                type="search"
                name="search"
                placeholder="Search the loaded lines"
                aria-label="Search the loaded lines"
                prop:value=move || viewer.search.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    viewer.buffer.update_value(|b| b.search(&text));
                    viewer.current.set(None);
                    viewer.search.set(text);
                }
                on:keydown=move |ev| {
                    if ev.key() == "Enter" {
                        ev.prevent_default();
                        step_match(viewer, !ev.shift_key());
                    }
                }
            />
            <button type="button" title="Previous match" aria-label="Previous match" on:click=move |_| step_match(viewer, false)>
                "↑"
            </button>
            <button type="button" title="Next match" aria-label="Next match" on:click=move |_| step_match(viewer, true)>
                "↓"
            </button>
            <span class="match-count" aria-live="polite">{label}</span>
        </span>
    })
}

#[component]
fn StatusBar(viewer: Viewer) -> impl IntoView {
    let state = move || match viewer.link.get() {
        Link::Connecting => ("connecting", "Connecting…".to_owned()),
        Link::Live => ("live", "Live".to_owned()),
        Link::Reconnecting(n) => ("reconnecting", format!("Connection lost — reconnecting (attempt {n})…")),
        Link::Ended(why) => ("ended", why),
        Link::Failed(why) => ("failed", why),
    };
    let lines = move || {
        viewer.version.track();
        viewer.buffer.with_value(|b| {
            let mut s = format!("{} lines loaded", group(b.lines.len() as u64));
            if b.dropped > 0 {
                s.push_str(&format!(" · {} older lines dropped", group(b.dropped)));
            }
            s
        })
    };
    part(view! {
        <div class="log-status">
            {move || {
                let (class, text) = state();
                view! { <span class=format!("link {class}") role="status">{text}</span> }
            }}
            <span class="muted">{lines}</span>
            {move || {
                (!viewer.follow.get()).then(|| {
                    view! {
                        <button type="button" class="resume" on:click=move |_| resume(viewer)>
                            {move || match viewer.unseen.get() {
                                0 => "Paused · Resume auto-scroll".to_owned(),
                                n => format!("Paused · {} new lines · Resume auto-scroll", group(n)),
                            }}
                        </button>
                    }
                })
            }}
        </div>
    })
}

/// A part of the viewer, type-erased on the server: one nested type for all the parts is too
/// deep for the compiler there. Not in the browser: an erased view carries asynchronous
/// hydration code for its whole type (never run here), once a third of the viewer's wasm.
#[cfg(feature = "ssr")]
pub(crate) fn part(view: impl IntoView + 'static) -> AnyView {
    view.into_view().into_any()
}

#[cfg(not(feature = "ssr"))]
pub(crate) fn part<V: IntoView>(view: V) -> V {
    view
}

/// 12345 → "12,345".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn resume(viewer: Viewer) {
    viewer.follow.set(true);
    viewer.unseen.set(0);
    rows::scroll_to_end(viewer);
}

/// Moves to the next (or previous) match and scrolls it into sight.
fn step_match(viewer: Viewer, forward: bool) {
    let rows: Vec<usize> = viewer.buffer.with_value(|b| b.match_rows().collect());
    if rows.is_empty() {
        return;
    }
    let next = match viewer.current.get_untracked() {
        None if forward => 0,
        None => rows.len() - 1,
        Some(i) if forward => (i + 1) % rows.len(),
        Some(i) => (i + rows.len() - 1) % rows.len(),
    };
    viewer.current.set(Some(next));
    viewer.follow.set(false);
    rows::scroll_to_line(viewer, rows[next]);
}
