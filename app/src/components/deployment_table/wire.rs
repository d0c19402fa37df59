//! The deployments stream's messages ([`LiveEvent`](crate::model::LiveEvent) as JSON), read
//! with the browser's own JSON parser as far as the table needs them: a parser compiled into
//! the wasm would weigh more than the whole table.

use std::sync::Arc;

use leptos::wasm_bindgen::JsValue;
use web_sys::js_sys::{Array, JSON, Reflect};

use super::Held;
use crate::model::Health;

pub enum Event {
    /// Every row of `namespaces`, replacing what the table had of them.
    Snapshot {
        namespaces: Vec<String>,
        rows: Vec<Held>,
    },
    Changed(Held),
    /// By key (`namespace/name`).
    Removed(String),
    /// A namespace's watch: `reconnecting` says why, `None` when it is live again.
    Link {
        namespace: String,
        reconnecting: Option<String>,
    },
}

/// One message; `None` for one the table does not read (or that is not what it expects).
pub fn parse(text: &str) -> Option<Event> {
    let message = JSON::parse(text).ok()?;
    if let Some(s) = field(&message, "Snapshot") {
        let namespaces = items(&field(&s, "namespaces")?).iter().filter_map(JsValue::as_string).collect();
        let rows = items(&field(&s, "deployments")?).iter().filter_map(held).collect();
        Some(Event::Snapshot { namespaces, rows })
    } else if let Some(d) = field(&message, "Changed") {
        held(&d).map(Event::Changed)
    } else if let Some(r) = field(&message, "Removed") {
        Some(Event::Removed(format!("{}/{}", text_of(&r, "namespace")?, text_of(&r, "name")?)))
    } else if let Some(l) = field(&message, "Link") {
        let link = field(&l, "link")?;
        let reconnecting = field(&link, "Reconnecting").map(|why| why.as_string().unwrap_or_default());
        Some(Event::Link { namespace: text_of(&l, "namespace")?, reconnecting })
    } else {
        None
    }
}

/// A `DeploymentLive` of the list's stream: its row and the row's markup.
fn held(d: &JsValue) -> Option<Held> {
    let row = field(d, "row")?;
    let health = field(&row, "health")?;
    let health = match health.as_string().as_deref() {
        Some("Complete") => Health::Complete,
        Some("Progressing") => Health::Progressing,
        Some("Paused") => Health::Paused,
        _ => Health::Degraded(text_of(&health, "Degraded").unwrap_or_default()),
    };
    Some(Held {
        name: text_of(&row, "name")?,
        namespace: text_of(&row, "namespace")?,
        images: items(&field(&row, "images")?).iter().filter_map(|i| text_of(i, "image")).collect(),
        health,
        last_change_ms: field(&row, "last_change_ms").and_then(|ms| ms.as_f64()).map(|ms| ms as i64),
        html: Arc::from(text_of(d, "html")?),
    })
}

/// `value[name]`, when there is one (not undefined or null).
fn field(value: &JsValue, name: &str) -> Option<JsValue> {
    if !value.is_object() {
        return None;
    }
    Reflect::get(value, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn text_of(value: &JsValue, name: &str) -> Option<String> {
    field(value, name)?.as_string()
}

fn items(value: &JsValue) -> Vec<JsValue> {
    if Array::is_array(value) { Array::from(value).iter().collect() } else { Vec::new() }
}
