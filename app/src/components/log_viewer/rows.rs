//! The virtualized list: a spacer as tall as every row together, and in it only the rows in
//! sight (plus a margin) at their offset. Rows are [`ROW_PX`] high; with wrapping a line takes
//! as many rows as its characters need at the list's width, kept in a running layout that
//! grows with the buffer instead of being measured in the DOM.

use std::collections::VecDeque;

use leptos::either::Either;
use leptos::prelude::*;

use super::buffer::{Kind, Line, LogBuffer, MAX_LINES, Style, match_ranges};
use super::{ROW_PX, Viewer, group};

/// Rows rendered above and below the visible ones.
const OVERSCAN: usize = 20;
/// The width a row's pod tag takes, in characters (the stylesheet agrees).
const POD_TAG_CHARS: usize = 16;
const TIMESTAMP_CHARS: usize = 31;

/// Where each line starts, in rows, when lines wrap.
#[derive(Default)]
pub struct Layout {
    /// What the layout was built for: (characters per row, extra characters per line).
    key: (usize, usize),
    /// The absolute number of the first line in `starts`.
    first: u64,
    /// Row where each line starts (absolute, counted from the first line ever laid out).
    starts: VecDeque<u64>,
    /// Rows of everything laid out so far.
    end: u64,
}

impl Layout {
    fn update(&mut self, b: &LogBuffer, per_row: usize, extra: usize) {
        if self.key != (per_row, extra) || self.first + (self.starts.len() as u64) > b.added {
            *self = Layout { key: (per_row, extra), first: b.first_number(), ..Layout::default() };
        }
        while self.first < b.first_number() && self.starts.pop_front().is_some() {
            self.first += 1;
        }
        self.first = self.first.max(b.first_number());
        let known = self.first + self.starts.len() as u64;
        let skip = (known - b.first_number()) as usize;
        for line in b.lines.iter().skip(skip) {
            self.starts.push_back(self.end);
            self.end += rows_of(line, per_row, extra);
        }
    }

    fn base(&self) -> u64 {
        self.starts.front().copied().unwrap_or(self.end)
    }

    fn total(&self) -> u64 {
        self.end - self.base()
    }

    /// The row where line `i` (of those held) starts.
    fn row_of(&self, i: usize) -> u64 {
        self.starts.get(i).map_or(self.total(), |s| s - self.base())
    }

    /// The line showing row `row`.
    fn line_at(&self, row: u64) -> usize {
        let target = row + self.base();
        self.starts.partition_point(|s| *s <= target).saturating_sub(1)
    }
}

fn rows_of(line: &Line, per_row: usize, extra: usize) -> u64 {
    let chars: usize = line.text.chars().map(|c| if c == '\t' { 8 } else { 1 }).sum::<usize>() + extra;
    chars.div_ceil(per_row.max(1)).max(1) as u64
}

/// `rows` rows' height in CSS: whole pixels, as rows are (formatting a float would bring its
/// code into the wasm).
fn px(rows: u64) -> String {
    format!("{}px", rows * ROW_PX as u64)
}

/// Geometry of what is shown now.
struct Frame {
    /// Rows before the first line (the "dropped" marker).
    lead: u64,
    total_rows: u64,
    first_line: usize,
    first_row: u64,
    lines_shown: usize,
}

#[component]
pub fn Rows(viewer: Viewer) -> impl IntoView {
    let layout = viewer.layout;
    let measure = NodeRef::<leptos::html::Span>::new();
    let char_px = RwSignal::new(7.8);
    let multi = move || viewer.selection.with(|s| s.pod.is_empty());

    #[cfg(feature = "hydrate")]
    {
        let measure_all = move || {
            if let Some(el) = viewer.scroller.get_untracked() {
                viewer.viewport.set((f64::from(el.client_width()), f64::from(el.client_height())));
            }
            if let Some(span) = measure.get_untracked() {
                let w = f64::from(span.offset_width()) / 10.0;
                if w > 0.0 {
                    char_px.set(w);
                }
            }
        };
        Effect::new(move |_| measure_all());
        let _ = window_event_listener(leptos::ev::resize, move |_| measure_all());
        // New lines while following: keep the newest in sight.
        Effect::new(move |_| {
            viewer.version.track();
            viewer.wrap.track();
            if viewer.follow.get_untracked() {
                scroll_to_end(viewer);
            }
        });
    }

    let frame = move |b: &LogBuffer| -> Frame {
        let (width, height) = viewer.viewport.get();
        let height = if height > 0.0 { height } else { 600.0 };
        let lead = u64::from(b.dropped > 0);
        let (total_rows, line_rows) = if viewer.wrap.get() {
            let extra = if viewer.timestamps.get() { TIMESTAMP_CHARS } else { 0 }
                + if multi() { POD_TAG_CHARS } else { 0 };
            let per_row = ((width - 16.0) / char_px.get()).floor().max(20.0) as usize;
            layout.update_value(|l| l.update(b, per_row, extra));
            (lead + layout.with_value(Layout::total), true)
        } else {
            (lead + b.lines.len() as u64, false)
        };
        let visible = (height / ROW_PX).ceil() as u64 + 1;
        let top_row = if viewer.follow.get() {
            total_rows.saturating_sub(visible)
        } else {
            (viewer.scroll_top.get() / ROW_PX).floor() as u64
        };
        let from_row = top_row.saturating_sub(OVERSCAN as u64).max(lead);
        let to_row = (top_row + visible + OVERSCAN as u64).min(total_rows);
        let (first_line, last_line) = if line_rows {
            layout.with_value(|l| {
                (l.line_at(from_row - lead), l.line_at(to_row.saturating_sub(lead + 1)).min(b.lines.len()))
            })
        } else {
            ((from_row - lead) as usize, (to_row - lead) as usize)
        };
        let first_row = if line_rows {
            lead + layout.with_value(|l| l.row_of(first_line))
        } else {
            lead + first_line as u64
        };
        let lines_shown = (last_line + usize::from(line_rows)).saturating_sub(first_line).min(b.lines.len());
        Frame { lead, total_rows, first_line, first_row, lines_shown }
    };

    let body = move || {
        viewer.version.track();
        let show_ts = viewer.timestamps.get();
        let wrap = viewer.wrap.get();
        let multi = multi();
        let query = viewer.search.get().to_ascii_lowercase();
        let current = viewer.current.get();
        viewer.buffer.with_value(|b| {
            let f = frame(b);
            let current_row = current.and_then(|i| b.match_rows().nth(i));
            let per_row = layout.with_value(|l| l.key.0);
            let extra = layout.with_value(|l| l.key.1);
            let rows = b
                .lines
                .iter()
                .enumerate()
                .skip(f.first_line)
                .take(f.lines_shown)
                .map(|(i, line)| {
                    let pod = if multi { b.pods.get(line.pod as usize).cloned() } else { None };
                    let height = wrap.then(|| px(rows_of(line, per_row, extra)));
                    row(line, pod, line.pod, show_ts, &query, current_row == Some(i), height)
                })
                .collect_view();
            let dropped = (f.lead > 0).then(|| {
                view! {
                    <div class="log-row log-dropped">
                        {format!(
                            "… {} older lines dropped: the viewer keeps the newest {}. Download keeps what is loaded.",
                            group(b.dropped),
                            group(MAX_LINES as u64)
                        )}
                    </div>
                }
            });
            let empty = b.lines.is_empty().then(|| view! { <p class="log-empty">"No log lines yet."</p> });
            let total = px(f.total_rows);
            let offset = format!("translateY({})", px(f.first_row - f.lead));
            view! {
                {dropped}
                {empty}
                <div class="log-space" style:height=total>
                    <div class="log-window" style:transform=offset>{rows}</div>
                </div>
            }
        })
    };

    super::part(view! {
        <div
            class="log-scroll"
            class:wrap=move || viewer.wrap.get()
            class:multi=multi
            node_ref=viewer.scroller
            tabindex="0"
            role="log"
            aria-label="Log lines"
            on:scroll=move |_| on_scroll(viewer)
        >
            <span class="log-measure" aria-hidden="true" node_ref=measure>"0000000000"</span>
            {body}
        </div>
    })
}

fn row(
    line: &Line,
    pod: Option<String>,
    pod_index: u16,
    show_ts: bool,
    query: &str,
    current: bool,
    height: Option<String>,
) -> impl IntoView + use<> {
    let kind = match line.kind {
        Kind::Log => "",
        Kind::Info => " notice-info",
        Kind::Error => " notice-error",
    };
    let class = format!("log-row{kind}{}", if current { " current-match" } else { "" });
    let tag = pod.map(|p| {
        let short = short_pod(&p);
        view! { <span class=format!("log-pod pod-c{}", pod_index % 8) title=p>{short}</span> }
    });
    let ts = show_ts
        .then(|| line.timestamp.clone())
        .flatten()
        .map(|t| view! { <span class="log-ts">{t.to_string()}</span> });
    let pieces = pieces(&line.text, &line.styles, &match_ranges(&line.text, query))
        .into_iter()
        .map(|(text, class)| match class {
            None => Either::Left(text),
            Some(class) => Either::Right(view! { <span class=class>{text}</span> }),
        })
        .collect_view();
    view! { <div class=class style:height=height>{tag}{ts}<span class="log-text">{pieces}</span></div> }
}

/// The part of a pod name that tells pods of one deployment apart.
fn short_pod(name: &str) -> String {
    let parts: Vec<&str> = name.rsplitn(3, '-').collect();
    match parts.as_slice() {
        [id, hash, _] => format!("{hash}-{id}"),
        _ => name.to_owned(),
    }
}

/// A line cut where its style or a search match begins or ends: (text, classes).
fn pieces(text: &str, styles: &[(u32, Style)], marks: &[(usize, usize)]) -> Vec<(String, Option<String>)> {
    if styles.is_empty() && marks.is_empty() {
        return vec![(text.to_owned(), None)];
    }
    let mut cuts: Vec<usize> = vec![0, text.len()];
    cuts.extend(styles.iter().map(|(o, _)| *o as usize));
    cuts.extend(marks.iter().flat_map(|(a, b)| [*a, *b]));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter(|w| w[0] < w[1] && w[1] <= text.len())
        .map(|w| {
            let style =
                styles.iter().rev().find(|(o, _)| *o as usize <= w[0]).map(|(_, s)| *s).unwrap_or_default();
            let marked = marks.iter().any(|(a, b)| *a <= w[0] && w[0] < *b);
            let mut class = style.class();
            if marked {
                class.push_str(if class.is_empty() { "hit" } else { " hit" });
            }
            (text[w[0]..w[1]].to_owned(), (!class.is_empty()).then_some(class))
        })
        .collect()
}

fn on_scroll(viewer: Viewer) {
    let Some(el) = viewer.scroller.get_untracked() else { return };
    let top = f64::from(el.scroll_top());
    let height = f64::from(el.client_height());
    let at_bottom = top + height >= f64::from(el.scroll_height()) - ROW_PX * 1.5;
    let before = viewer.scroll_top.get_untracked();
    viewer.scroll_top.set(top);
    if at_bottom {
        if !viewer.follow.get_untracked() {
            viewer.follow.set(true);
            viewer.unseen.set(0);
        }
    } else if top < before - 1.0 && viewer.follow.get_untracked() {
        // The reader scrolled up: stop pulling the view down until they come back.
        viewer.follow.set(false);
    }
}

/// Scrolls to the newest line once the DOM has the rows.
pub fn scroll_to_end(viewer: Viewer) {
    request_animation_frame(move || {
        if let Some(el) = viewer.scroller.get_untracked() {
            let top = (el.scroll_height() - el.client_height()).max(0);
            viewer.scroll_top.set(f64::from(top));
            el.set_scroll_top(top);
        }
    });
}

/// Scrolls line `i` (of those held) into the upper part of the view.
pub fn scroll_to_line(viewer: Viewer, i: usize) {
    let lead = viewer.buffer.with_value(|b| u64::from(b.dropped > 0));
    let row =
        if viewer.wrap.get_untracked() { viewer.layout.with_value(|l| l.row_of(i)) } else { i as u64 } + lead;
    let (_, height) = viewer.viewport.get_untracked();
    let top = (row as f64 * ROW_PX - height / 3.0).max(0.0);
    viewer.scroll_top.set(top);
    request_animation_frame(move || {
        if let Some(el) = viewer.scroller.get_untracked() {
            el.set_scroll_top(top as i32);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_styles_and_matches() {
        let red = Style { fg: 2, bold: false };
        let p = pieces(
            "error: disk full",
            &[(0, red), (5, Style::default())],
            &match_ranges("error: disk full", "disk"),
        );
        assert_eq!(
            p,
            [
                ("error".to_owned(), Some("ansi-fg1".to_owned())),
                (": ".to_owned(), None),
                ("disk".to_owned(), Some("hit".to_owned())),
                (" full".to_owned(), None)
            ]
        );
        assert_eq!(short_pod("myapp-deployment-5d8f7c9b4-x7k2p"), "5d8f7c9b4-x7k2p");
    }

    #[test]
    fn wrapped_layout_follows_the_buffer() {
        let mut b = LogBuffer::default();
        for text in ["short", &"x".repeat(45), "y"] {
            b.push_log(0, text, false);
        }
        let mut l = Layout::default();
        l.update(&b, 20, 0);
        assert_eq!((l.total(), l.row_of(1), l.row_of(2), l.line_at(3)), (5, 1, 4, 1));
        b.push_log(0, "z", false);
        l.update(&b, 20, 0);
        assert_eq!((l.total(), l.line_at(5)), (6, 3));
    }
}
