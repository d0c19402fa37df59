//! Part of a page that the server keeps current: rendered on the server like the rest, then
//! replaced by each message of the server-sent events at `url`, which is that part rendered
//! again (keeping what the person is typing in it). The markup is the server's (escaped by Leptos like any page), so none of the part's
//! components reach the wasm: the island holds only this follower. Times in it written with
//! [`TimeAgo`](super::live::TimeAgo) or [`TimeSince`](super::live::TimeSince) keep counting.
//!
//! A page of several such parts follows them all through one stream (`keyed`): each message
//! then starts with a line naming its part, the element whose `data-fragment` is that name. One
//! stream per page, because a browser opens at most six connections to a server over HTTP/1.1
//! and an open stream holds one: a page of fifty live parts would otherwise stall.

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice};

/// How often "… ago" texts are brought up to date.
#[cfg(feature = "hydrate")]
const TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// The part, followed live from `url`.
#[component]
pub fn LiveFragment(url: String, keyed: bool, children: Children) -> impl IntoView {
    // What the island follows is written around it rather than given as props: an island
    // with props brings a JSON parser (and, with its error messages, float formatting) into
    // the wasm every page downloads, and this is the one island every live page has.
    view! {
        <div class="live-source" data-url=url data-keyed=keyed.then_some("")>
            <Follower>{children()}</Follower>
        </div>
    }
}

#[island]
fn Follower(children: Children) -> impl IntoView {
    let connection = RwSignal::new(Connection::Connecting);
    let part = NodeRef::<leptos::html::Div>::new();

    #[cfg(feature = "hydrate")]
    part.on_load(move |el| {
        let el = web_sys::Element::clone(&el);
        let Some(source) = el.closest(".live-source").ok().flatten() else { return };
        let url = source.get_attribute("data-url").unwrap_or_default();
        let keyed = source.has_attribute("data-keyed");
        let root = el.clone();
        super::live::follow_text(
            &url,
            move |message| {
                if !keyed {
                    swap(&root, &message);
                } else if let Some((key, html)) = message.split_once('\n')
                    && let Some(target) = child_named(&root, key)
                {
                    swap(&target, html);
                }
            },
            connection,
        );
        if let Ok(handle) = set_interval_with_handle(move || super::live::refresh_times(&el), TICK) {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <ConnectionNotice connection />
        <div class="live-fragment" data-live=move || connection.get().word() node_ref=part>
            {children()}
        </div>
    }
}

/// The element in `part` that a keyed message names (compared, not put in a selector: names
/// are the server's, but need no escaping this way). Searched below `part`, not only among its
/// children: hydrated islands wrap what the server rendered in `<leptos-children>`.
#[cfg(feature = "hydrate")]
fn child_named(part: &web_sys::Element, key: &str) -> Option<web_sys::Element> {
    use leptos::wasm_bindgen::JsCast;

    let named = part.query_selector_all("[data-fragment]").ok()?;
    (0..named.length())
        .filter_map(|i| named.item(i)?.dyn_into::<web_sys::Element>().ok())
        .find(|el| el.get_attribute("data-fragment").as_deref() == Some(key))
}

/// Puts the new markup in, keeping what the person was typing: a text field's value (when it
/// differs from what the server wrote) and the focus with its cursor go to the field of the
/// same form in the new markup — the same form meaning the same hidden fields, so a comment
/// typed for one approval never lands on another.
#[cfg(feature = "hydrate")]
fn swap(part: &web_sys::Element, html: &str) {
    use leptos::wasm_bindgen::JsCast;
    use web_sys::HtmlInputElement;

    let fields = |root: &web_sys::Element| -> Vec<HtmlInputElement> {
        let Ok(list) = root.query_selector_all("input:not([type=hidden])") else {
            return Vec::new();
        };
        (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<HtmlInputElement>().ok()).collect()
    };
    let key = |input: &HtmlInputElement| -> String {
        let mut key = input.name();
        let hidden = input
            .closest("form")
            .ok()
            .flatten()
            .and_then(|f| f.query_selector_all("input[type=hidden]").ok());
        if let Some(hidden) = hidden {
            for i in 0..hidden.length() {
                if let Some(h) = hidden.item(i).and_then(|n| n.dyn_into::<HtmlInputElement>().ok()) {
                    key.push_str(&format!("|{}={}", h.name(), h.value()));
                }
            }
        }
        key
    };
    let active = leptos::prelude::document().active_element();
    let mut typed = Vec::new();
    let mut focus = None;
    for input in fields(part) {
        let k = key(&input);
        if active.as_ref().is_some_and(|a| a == input.unchecked_ref::<web_sys::Element>()) {
            focus = Some((
                k.clone(),
                input.selection_start().ok().flatten(),
                input.selection_end().ok().flatten(),
            ));
        }
        if input.value() != input.default_value() {
            typed.push((k, input.value()));
        }
    }
    part.set_inner_html(html);
    for input in fields(part) {
        let k = key(&input);
        if let Some((_, value)) = typed.iter().find(|(t, _)| *t == k) {
            input.set_value(value);
        }
        if let Some((_, start, end)) = focus.as_ref().filter(|(f, _, _)| *f == k) {
            let _ = input.focus();
            if let (Some(start), Some(end)) = (start, end) {
                let _ = input.set_selection_range(*start, *end);
            }
        }
    }
    super::live::refresh_times(part);
}
