//! Pieces the live deployment islands share: following `/live/…` with an EventSource, the
//! rollout progress bar, the health chip, and times (UTC, and "5 min ago" against a clock
//! that starts at the server's render time so the browser hydrates the same text).

use leptos::prelude::*;

use crate::model::{DeploymentRow, Health};

/// Whether the browser's stream is open (only the browser ever opens one).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Open,
    Reconnecting,
}

impl Connection {
    /// For pages and tests to tell (`data-live`).
    pub fn word(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Open => "open",
            Connection::Reconnecting => "reconnecting",
        }
    }
}

/// Follows the server-sent events at `url`: each message is handed to `on_event`, and the
/// stream's state to `connection`. The browser reconnects by itself after an error; the
/// server then starts over with a snapshot.
#[cfg(feature = "hydrate")]
pub fn follow<E: serde::de::DeserializeOwned + 'static>(
    url: &str,
    on_event: impl Fn(E) + 'static,
    connection: RwSignal<Connection>,
) {
    follow_text(
        url,
        move |text| {
            if let Ok(event) = serde_json::from_str(&text) {
                on_event(event);
            }
        },
        connection,
    );
}

/// [`follow`], with each message's text as it came.
#[cfg(feature = "hydrate")]
pub fn follow_text(url: &str, on_text: impl Fn(String) + 'static, connection: RwSignal<Connection>) {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new(url) else {
        connection.set(Connection::Reconnecting);
        return;
    };
    let message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        if let Some(text) = e.data().as_string() {
            on_text(text);
        }
    });
    let open = Closure::<dyn Fn()>::new(move || connection.set(Connection::Open));
    let error = Closure::<dyn Fn()>::new(move || connection.set(Connection::Reconnecting));
    source.set_onmessage(Some(message.as_ref().unchecked_ref()));
    source.set_onopen(Some(open.as_ref().unchecked_ref()));
    source.set_onerror(Some(error.as_ref().unchecked_ref()));
    // The handlers live as long as the page: the stream is the page's whole life.
    message.forget();
    open.forget();
    error.forget();
}

/// A clock for "… ago": starts at the server's render time, ticks in the browser.
pub fn clock(rendered_at_ms: i64) -> RwSignal<i64> {
    let now = RwSignal::new(rendered_at_ms);
    #[cfg(feature = "hydrate")]
    {
        let tick = move || now.set(js_sys_now());
        tick();
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(15)) {
            on_cleanup(move || handle.clear());
        }
    }
    now
}

#[cfg(feature = "hydrate")]
pub fn js_sys_now() -> i64 {
    window().performance().map(|p| (p.time_origin() + p.now()) as i64).unwrap_or_default()
}

/// The server's clock, for "… ago" on the first render.
pub fn now_ms() -> i64 {
    #[cfg(feature = "ssr")]
    {
        backend::clock::Timestamp::now().millis()
    }
    #[cfg(not(feature = "ssr"))]
    {
        0
    }
}

/// "12 s ago", "5 min ago", "3 h ago", "2 d ago".
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    format!("{} ago", duration(then_ms, now_ms))
}

/// "12 s", "5 min", "3 h", "2 d".
pub fn duration(from_ms: i64, to_ms: i64) -> String {
    let secs = ((to_ms - from_ms) / 1000).max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    }
}

/// "5 min ago" in a page rendered on the server and sent live as HTML: the
/// [`LiveFragment`](super::live_fragment::LiveFragment) around it keeps the text current.
#[component]
pub fn TimeAgo(ms: i64, now_ms: i64) -> impl IntoView {
    view! { <time data-ago=ms title=utc(ms)>{ago(ms, now_ms)}</time> }
}

/// "5 min" since `ms`, kept current like [`TimeAgo`].
#[component]
pub fn TimeSince(ms: i64, now_ms: i64) -> impl IntoView {
    view! { <time data-since=ms title=utc(ms)>{duration(ms, now_ms)}</time> }
}

/// Brings the "… ago" and "… since" texts under `root` ([`TimeAgo`], [`TimeSince`]) up to date.
#[cfg(feature = "hydrate")]
pub fn refresh_times(root: &web_sys::Element) {
    use leptos::wasm_bindgen::JsCast;

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

/// `2026-11-29 10:24 UTC`.
pub fn utc(ms: i64) -> String {
    use chrono::{DateTime, Datelike, Timelike};
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month(), t.day(), t.hour(), t.minute())
        }
        None => String::new(),
    }
}

/// Desired, updated, ready and available replicas as one bar: available fills it, ready but
/// not yet available and updated but not ready show as lighter parts.
#[component]
pub fn ProgressBar(row: DeploymentRow) -> impl IntoView {
    let desired = row.desired.max(1);
    // A width class (w0 … w100), not a style attribute: the Content-Security-Policy allows no
    // inline styles, in served HTML or set from script.
    let pct = |part: &str, n: i32| format!("{part} w{}", (n.clamp(0, desired) * 100) / desired);
    let available = row.available.min(row.desired);
    let ready = row.ready.min(row.desired).max(available);
    let updated = row.updated.min(row.desired).max(ready);
    let label = format!(
        "{} of {} desired: {} updated, {} ready, {} available",
        row.desired, row.desired, row.updated, row.ready, row.available
    );
    let title = label.clone();
    view! {
        <div class="rollout" title=title>
            <div class="bar" role="img" aria-label=label>
                <span class=pct("available", available)></span>
                <span class=pct("ready", ready - available)></span>
                <span class=pct("updated", updated - ready)></span>
            </div>
            <span class="counts" data-ready=row.ready data-desired=row.desired data-updated=row.updated>
                {format!("{}/{} ready · {} updated · {} available", row.ready, row.desired, row.updated, row.available)}
            </span>
        </div>
    }
}

#[component]
pub fn HealthChip(health: Health) -> impl IntoView {
    let class = format!("chip {}", health.class());
    let word = health.word().to_owned();
    let reason = match &health {
        Health::Degraded(why) => Some(why.clone()),
        _ => None,
    };
    let data = word.clone();
    view! {
        <span class=class data-health=data>
            {word}
            {reason.map(|r| view! { <span class="reason">{format!(": {r}")}</span> })}
        </span>
    }
}

/// The stream's state in words, when it is not simply live.
#[component]
pub fn ConnectionNotice(connection: RwSignal<Connection>) -> impl IntoView {
    move || match connection.get() {
        Connection::Reconnecting => Some(view! {
            <p class="notice warn live-state" role="status" data-connection="reconnecting">
                "Connection to Rollgate lost: reconnecting… What you see may be out of date."
            </p>
        }),
        Connection::Connecting | Connection::Open => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_947_840_000), "2026-11-29 10:24 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(ago(0, 59_000), "59 s ago");
        assert_eq!(ago(0, 300_000), "5 min ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3 d ago");
    }
}
