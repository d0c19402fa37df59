//! The browser's side of the table body: which rows are on screen, and their elements.

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
    held_all: RwSignal<bool>,
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
    // The rows on screen, on the page, in order (once the browser holds them all: until then
    // the server's first rows stay as they are).
    Effect::new(move |_| {
        if !held_all.get() {
            return;
        }
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
        let (start, end) = if held_all.get() {
            let len = shown.with(Vec::len);
            (start.min(len), (start + count).min(len))
        } else {
            (0, placed.with_value(HashMap::len))
        };
        let Some(body) = body.get() else { return };
        let set = |row: Option<Element>, rows: usize| {
            if let Some(row) = row.and_then(|r| r.dyn_into::<HtmlElement>().ok()) {
                // Whole pixels: formatting a float would bring its code into the wasm.
                let _ =
                    row.style().set_property("height", &format!("{}px", (rows as f64 * px).round() as i64));
            }
        };
        set(body.first_element_child(), start);
        set(body.last_element_child(), matched.get().max(end).saturating_sub(end));
    });
}

/// Makes the body's rows between its two spacers be `wanted`, in order: rows that stay
/// are neither moved nor made again (a link in focus keeps it), rows whose markup changed
/// are replaced, the rest removed.
fn place(
    body: &HtmlTableSectionElement,
    wanted: &[(String, Arc<Held>)],
    placed: &mut HashMap<String, Placed>,
) {
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
        let current =
            placed.get(key).filter(|p| p.html.as_deref() == Some(&*held.html)).map(|p| p.el.clone());
        let el = match current {
            Some(el) => el,
            None => {
                let Some(el) = element_of(&held.html) else { continue };
                if let Some(old) =
                    placed.insert(key.clone(), Placed { el: el.clone(), html: Some(held.html.clone()) })
                {
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
