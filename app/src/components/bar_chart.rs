//! A bar chart drawn on the server as SVG (no chart library, nothing in the wasm), with its
//! figures in a table beside it: the table is what a screen reader and a careful reader use,
//! the chart what the eye takes in.

use leptos::prelude::*;

/// One bar: its label (the part of the period), its value, and the value in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub shown: String,
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 20.0;

/// `bars` as a chart titled `title`, with `id` naming it for its caption and table.
#[component]
pub fn BarChart(id: String, title: String, column: &'static str, bars: Vec<Bar>) -> impl IntoView {
    let max = bars.iter().filter_map(|b| b.value).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 { (HEIGHT - TOP - BOTTOM) / max } else { 0.0 };
    let slot = WIDTH / bars.len().max(1) as f64;
    let width = (slot * 0.7).max(1.0);
    let base = HEIGHT - BOTTOM;
    let rects = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = i as f64 * slot + (slot - width) / 2.0;
            let h = b.value.map(|v| (v * scale).max(if v > 0.0 { 1.5 } else { 0.0 })).unwrap_or(0.0);
            let tip = format!("{}: {}", b.label, b.shown);
            view! {
                <rect x=format!("{x:.1}") y=format!("{:.1}", base - h) width=format!("{width:.1}") height=format!("{h:.1}") class=if b.value.is_some() { "bar" } else { "bar none" }>
                    <title>{tip}</title>
                </rect>
            }
        })
        .collect_view();
    let first = bars.first().map(|b| b.label.clone()).unwrap_or_default();
    let last = bars.last().map(|b| b.label.clone()).unwrap_or_default();
    let top =
        bars.iter().filter(|b| b.value == Some(max)).map(|b| b.shown.clone()).next().unwrap_or_default();
    let (title_id, desc_id) = (format!("{id}-title"), format!("{id}-desc"));
    let labelled_by = format!("{title_id} {desc_id}");
    let description = if top.is_empty() {
        format!("{} bars from {first} to {last}, none with data.", bars.len())
    } else {
        format!("{} bars from {first} to {last}; the highest is {top}.", bars.len())
    };
    let rows = bars
        .iter()
        .map(|b| view! { <tr><th scope="row">{b.label.clone()}</th><td>{b.shown.clone()}</td></tr> })
        .collect_view();
    view! {
        <div class="chart-pair">
            <svg class="bar-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby=labelled_by data-chart=id.clone()>
                <title id=title_id>{title.clone()}</title>
                <desc id=desc_id>{description}</desc>
                <line x1="0" y1=format!("{base}") x2=format!("{WIDTH}") y2=format!("{base}") class="axis" />
                <text x="0" y="11" class="label">{if top.is_empty() { "no data".to_owned() } else { format!("max {top}") }}</text>
                {rects}
                <text x="0" y=format!("{}", HEIGHT - 4.0) class="label">{first}</text>
                <text x=format!("{WIDTH}") y=format!("{}", HEIGHT - 4.0) class="label end">{last}</text>
            </svg>
            <div class="chart-figures">
                <table class="table compact" aria-label=format!("{title}: the figures")>
                    <thead>
                        <tr>
                            <th scope="col">"From"</th>
                            <th scope="col">{column}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </div>
    }
}
