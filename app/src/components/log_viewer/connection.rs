//! The browser side of the stream: one EventSource at a time, opened again with every change
//! of the selection. A lost connection is closed and reopened with back-off, asking for the
//! lines since the last one seen; lines seen already (by pod and timestamp) are skipped, so
//! nothing shows twice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use super::buffer::{Kind, Line, timestamp_key};
use super::protocol::{parse_notice, parse_pods};
use super::{Link, Viewer};

/// The longest wait between reconnection attempts.
const MAX_BACK_OFF: Duration = Duration::from_secs(15);

struct Connection {
    source: EventSource,
    _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
}

/// Per pod: the last timestamp seen and how many lines carried it.
#[derive(Default)]
struct Seen {
    last: HashMap<String, (String, u32)>,
    /// While resuming: lines at the last timestamp still to skip.
    skip: HashMap<String, u32>,
    /// When the last line arrived (ms, performance clock).
    at: f64,
    attempt: u32,
    /// Which connection is current; older ones' callbacks are ignored.
    generation: u32,
}

thread_local! {
    static CURRENT: RefCell<Option<Connection>> = const { RefCell::new(None) };
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or(0.0)
}

/// Connects now and again whenever the selection changes.
pub fn start(viewer: Viewer) {
    Effect::new(move |_| {
        viewer.selection.track();
        open(viewer, false);
    });
    on_cleanup(close);
}

fn close() {
    CURRENT.with(|c| {
        if let Some(old) = c.borrow_mut().take() {
            old.source.close();
        }
    });
}

fn open(viewer: Viewer, resume: bool) {
    close();
    let generation = SEEN.with(|s| {
        let mut s = s.borrow_mut();
        if !resume {
            *s = Seen { generation: s.generation, ..Seen::default() };
        } else {
            s.skip = s.last.iter().map(|(pod, (_, n))| (pod.clone(), *n)).collect();
        }
        s.generation += 1;
        s.generation
    });
    let resume_after =
        resume.then(|| SEEN.with(|s| ((now_ms() - s.borrow().at) / 1000.0).ceil().max(0.0) as u64));
    if !resume {
        viewer.buffer.update_value(|b| b.clear());
        viewer.unseen.set(0);
        viewer.current.set(None);
        viewer.follow.set(true);
        viewer.link.set(Link::Connecting);
        bump(viewer);
    }
    let url = viewer.target.with_value(|t| viewer.selection.with_untracked(|s| t.url(s, resume_after)));
    let source = match EventSource::new(&url) {
        Ok(s) => s,
        Err(_) => {
            viewer.link.set(Link::Failed("This browser cannot open the log stream.".into()));
            return;
        }
    };
    let current = move || SEEN.with(|s| s.borrow().generation == generation);
    let mut handlers = Vec::new();
    let mut on = |name: &str, mut f: Box<dyn FnMut(String)>| {
        let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if current() {
                f(ev.data().as_string().unwrap_or_default());
            }
        });
        let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        handlers.push(handler);
    };
    on(
        "open",
        Box::new(move |_| {
            SEEN.with(|s| s.borrow_mut().attempt = 0);
            viewer.link.set(Link::Live);
        }),
    );
    on("pods", Box::new(move |data| viewer.pods.set(parse_pods(&data))));
    on("lines", Box::new(move |data| lines(viewer, &data)));
    on(
        "notice",
        Box::new(move |data| {
            let (pod, error, message) = parse_notice(&data);
            viewer.buffer.update_value(|b| {
                let pod = b.pod_index(pod);
                b.push(Line {
                    pod,
                    timestamp: None,
                    text: message.into(),
                    styles: Vec::new(),
                    kind: if error { Kind::Error } else { Kind::Info },
                });
            });
            changed(viewer, 1);
        }),
    );
    on(
        "end",
        Box::new(move |data| {
            close();
            viewer.link.set(Link::Ended(if data.is_empty() { "The log stream ended.".into() } else { data }));
        }),
    );
    on(
        "error",
        Box::new(move |_| {
            let closed = CURRENT
                .with(|c| c.borrow().as_ref().is_some_and(|c| c.source.ready_state() == EventSource::CLOSED));
            let never_opened = viewer.link.get_untracked() == Link::Connecting;
            close();
            if closed && never_opened && !resume {
                viewer.link.set(Link::Failed(
                    "The server refused the log stream: the pod may be gone, or your session ended. \
                     Pick another pod, or reload the page."
                        .into(),
                ));
                return;
            }
            let attempt = SEEN.with(|s| {
                let mut s = s.borrow_mut();
                s.attempt += 1;
                s.attempt
            });
            viewer.link.set(Link::Reconnecting(attempt));
            let wait = (Duration::from_millis(500) * 2u32.saturating_pow(attempt.min(6))).min(MAX_BACK_OFF);
            set_timeout(
                move || {
                    if current() {
                        open(viewer, true);
                    }
                },
                wait,
            );
        }),
    );
    CURRENT.with(|c| *c.borrow_mut() = Some(Connection { source, _handlers: handlers }));
}

/// A `lines` event: the pod, then its lines, each starting with its timestamp.
fn lines(viewer: Viewer, data: &str) {
    let mut parts = data.split('\n');
    let Some(pod) = parts.next() else { return };
    let mut added = 0;
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        seen.at = now_ms();
        viewer.buffer.update_value(|b| {
            let index = b.pod_index(pod);
            for line in parts {
                let key = timestamp_key(line.split(' ').next().unwrap_or(""));
                if skip_seen(&mut seen, pod, &key) {
                    continue;
                }
                b.push_log(index, line, true);
                added += 1;
            }
        });
    });
    changed(viewer, added);
}

/// Whether a resumed stream repeats this line; records it otherwise.
fn skip_seen(seen: &mut Seen, pod: &str, key: &str) -> bool {
    if let Some((last, _)) = seen.last.get(pod)
        && key < last.as_str()
    {
        return true;
    }
    if let Some(left) = seen.skip.get_mut(pod)
        && *left > 0
        && seen.last.get(pod).is_some_and(|(last, _)| last == key)
    {
        *left -= 1;
        return true;
    }
    seen.skip.remove(pod);
    match seen.last.get_mut(pod) {
        Some((last, n)) if last == key => *n += 1,
        _ => {
            seen.last.insert(pod.to_owned(), (key.to_owned(), 1));
        }
    }
    false
}

thread_local! {
    static FRAME_PENDING: RefCell<bool> = const { RefCell::new(false) };
}

fn changed(viewer: Viewer, added: u64) {
    if !viewer.follow.get_untracked() && added > 0 {
        viewer.unseen.update(|n| *n += added);
    }
    bump(viewer);
}

/// Redraws once per animation frame however many events arrived in it.
fn bump(viewer: Viewer) {
    let already = FRAME_PENDING.with(|p| std::mem::replace(&mut *p.borrow_mut(), true));
    if !already {
        request_animation_frame(move || {
            FRAME_PENDING.with(|p| *p.borrow_mut() = false);
            viewer.version.update(|v| *v += 1);
        });
    }
}
