//! Part of a page that the server keeps current: rendered on the server like the rest, then
//! replaced by each message of the server-sent events at `url`, which is that part rendered
//! again. The markup is the server's (escaped by Leptos like any page), so none of the part's
//! components reach the wasm: the island holds only this follower. Times in it written with
//! [`TimeAgo`](super::live::TimeAgo) or [`TimeSince`](super::live::TimeSince) keep counting.

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice};

/// How often "… ago" texts are brought up to date.
#[cfg(feature = "hydrate")]
const TICK: std::time::Duration = std::time::Duration::from_secs(5);

#[island]
pub fn LiveFragment(url: String, children: Children) -> impl IntoView {
    let connection = RwSignal::new(Connection::Connecting);
    let part = NodeRef::<leptos::html::Div>::new();

    #[cfg(feature = "hydrate")]
    {
        super::live::follow_text(
            &url,
            move |html| {
                if let Some(el) = part.get_untracked() {
                    el.set_inner_html(&html);
                    refresh_times(&el);
                }
            },
            connection,
        );
        let tick = move || {
            if let Some(el) = part.get_untracked() {
                refresh_times(&el);
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, TICK) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = &url;

    view! {
        <ConnectionNotice connection />
        <div class="live-fragment" node_ref=part>{children()}</div>
    }
}

#[cfg(feature = "hydrate")]
fn refresh_times(root: &web_sys::Element) {
    use leptos::wasm_bindgen::JsCast;

    use super::live::{ago, duration, js_sys_now};

    let Ok(times) = root.query_selector_all("time[data-ago],time[data-since]") else {
        return;
    };
    let now = js_sys_now();
    for i in 0..times.length() {
        let Some(el) = times.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) else {
            continue;
        };
        let text = if let Some(ms) = el.get_attribute("data-ago").and_then(|v| v.parse().ok()) {
            ago(ms, now)
        } else if let Some(ms) = el.get_attribute("data-since").and_then(|v| v.parse().ok()) {
            duration(ms, now)
        } else {
            continue;
        };
        el.set_text_content(Some(&text));
    }
}
