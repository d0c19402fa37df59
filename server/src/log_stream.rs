//! `GET /live/{env}/deployments/{namespace}/{deployment}/logs`: a deployment's pod logs as
//! server-sent events, relayed from the cluster's log endpoint as they arrive.
//!
//! Query: `pod` (one pod of the deployment; absent or `*` interleaves all of them, following
//! pods that appear later), `container`, `previous`, `tail` (lines), `since` (seconds, or
//! `90s`, `15m`, `2h`, `1d`), `timestamps`, `follow` (default on). Needs the View permission.
//!
//! Events, each small and plain (no JSON, so the browser needs no parser):
//! - `pods`: one data line per pod of the deployment, `name\treason\trestarts\tcontainers\tinit`
//!   (container lists comma-separated); sent first and whenever the pods change.
//! - `lines`: the first data line names the pod, every further one is a log line.
//! - `notice`: `pod\tlevel\tmessage` (level `error` or `info`): a pod's log cannot be read,
//!   ended, or lines were skipped because the reader fell behind.
//! - `end`: nothing more will come; the browser should not reconnect.
//!
//! Memory per stream is bounded: a small channel of events to the response, and per pod a
//! bounded backlog; when a slow reader lets the backlog fill, further lines are counted and
//! skipped (and the reader told how many) instead of stalling the cluster's stream.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backend::Portal;
use backend::kube::ClusterError;
use backend::kube::names::{self, NameKind};
use backend::kube::summary::PodSummary;
use backend::kube::watch::{Link, Update};
use futures_util::io::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Events waiting for the response body (each at most [`MAX_EVENT`] bytes).
const CHANNEL_EVENTS: usize = 32;
/// The most log bytes framed into one event.
const MAX_EVENT: usize = 64 * 1024;
/// A pod's backlog while the reader is behind; lines beyond it are skipped and counted.
const MAX_BACKLOG: usize = 1024 * 1024;
/// A line longer than this is cut (a runaway line must not hold memory).
const MAX_LINE: usize = 16 * 1024;
/// The most lines `tail` may ask for (the viewer keeps at most this many).
pub const MAX_TAIL: i64 = 100_000;
/// A comment now and then, so idle streams are not cut by proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a pod with a backlog retries handing it over while its log is quiet.
const BACKLOG_RETRY: Duration = Duration::from_millis(100);

/// The query as sent; every field is checked by [`LogQuery::parse`].
#[derive(serde::Deserialize, Default)]
pub struct RawQuery {
    pod: Option<String>,
    container: Option<String>,
    previous: Option<String>,
    tail: Option<String>,
    since: Option<String>,
    timestamps: Option<String>,
    follow: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// `None`: every pod of the deployment.
    pub pod: Option<String>,
    pub container: Option<String>,
    pub previous: bool,
    pub tail: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    pub follow: bool,
}

impl LogQuery {
    pub fn parse(raw: RawQuery) -> Result<Self, String> {
        let name = |kind: NameKind, value: Option<String>| -> Result<Option<String>, String> {
            match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => names::check(kind, &v).map(|()| Some(v)).map_err(|e| format!("{e}.")),
            }
        };
        let pod = match raw.pod.as_deref().map(str::trim) {
            Some("*") => None,
            _ => name(NameKind::Pod, raw.pod)?,
        };
        let tail = match raw.tail.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => match t.parse::<i64>() {
                Ok(n) if (0..=MAX_TAIL).contains(&n) => Some(n),
                _ => return Err(format!("tail {t:?} must be a whole number of lines from 0 to {MAX_TAIL}.")),
            },
        };
        let since_seconds = match raw.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_duration(s).ok_or_else(|| {
                format!(
                    "since {s:?} must be a positive duration such as 300, 90s, 15m, 2h or 1d (at most 30d)."
                )
            })?),
        };
        Ok(Self {
            pod,
            container: name(NameKind::Container, raw.container)?,
            previous: flag("previous", raw.previous, false)?,
            tail,
            since_seconds,
            timestamps: flag("timestamps", raw.timestamps, false)?,
            follow: flag("follow", raw.follow, true)?,
        })
    }
}

fn flag(key: &str, value: Option<String>, default: bool) -> Result<bool, String> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some("false" | "0" | "off" | "no") => Ok(false),
        Some(other) => Err(format!("{key} {other:?} must be true or false.")),
    }
}

/// Seconds, with an optional unit: `300`, `90s`, `15m`, `2h`, `1d`; 1 second to 30 days.
fn parse_duration(text: &str) -> Option<i64> {
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number.parse().ok()?;
    let seconds = n.checked_mul(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    })?;
    (1..=30 * 86_400).contains(&seconds).then_some(seconds)
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

pub async fn stream(
    State(portal): State<Portal>,
    Path((env, namespace, deployment)): Path<(String, String, String)>,
    viewer: crate::streams::Viewer,
    axum::Extension(closing): axum::Extension<crate::streams::Closing>,
    query: Result<Query<RawQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(environment) = portal.config.environment(&env) else {
        return refuse(StatusCode::NOT_FOUND, format!("There is no environment named “{env}”."));
    };
    if !environment.namespaces.contains(&namespace) {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("Namespace “{namespace}” is not one of {}'s namespaces.", environment.title()),
        );
    }
    let query = match query {
        Ok(Query(raw)) => match LogQuery::parse(raw) {
            Ok(q) => q,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
        },
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("Bad query: {e}")),
    };
    if let Err(e) = names::check(NameKind::Deployment, &deployment) {
        return refuse(StatusCode::BAD_REQUEST, format!("{e}."));
    }
    let watch = portal.watches.namespace(&env, &namespace);
    let link = watch.synced().await;
    let Some(state) = watch.get(&deployment) else {
        return match link {
            Link::Live => refuse(
                StatusCode::NOT_FOUND,
                format!("There is no deployment “{deployment}” in namespace {namespace}."),
            ),
            Link::Connecting | Link::Reconnecting(_) => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                match link {
                    Link::Reconnecting(why) => format!("The cluster cannot be reached: {why}"),
                    _ => "The cluster has not answered yet; try again shortly.".into(),
                },
            ),
        };
    };
    if let Some(pod) = &query.pod
        && !state.pods.iter().any(|p| &p.name == pod)
    {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("Pod “{pod}” is not a pod of {deployment} (it may have been replaced); pick another."),
        );
    }
    let client = match portal.clusters.client(&env).await {
        Ok(client) => client,
        Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };

    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_EVENTS);
    let relay = Relay {
        portal: portal.clone(),
        env,
        deployment,
        api: kube::Api::namespaced(client, &namespace),
        query: Arc::new(query),
        tx,
    };
    tokio::spawn(relay.run(watch, state.pods.clone()));

    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    // Ends at shutdown; dropping the receiver stops the relay's readers.
    let mut response = Body::from_stream(closing.while_allowed(&portal, viewer, body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Reverse proxies (nginx) would otherwise hold the events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One stream: a task per pod reading its log, and this supervisor keeping the pod list.
struct Relay {
    portal: Portal,
    env: String,
    deployment: String,
    api: kube::Api<Pod>,
    query: Arc<LogQuery>,
    tx: mpsc::Sender<Bytes>,
}

impl Relay {
    async fn run(self, watch: backend::kube::watch::NamespaceWatch, mut pods: Vec<PodSummary>) {
        let mut updates = watch.subscribe().updates;
        if self.tx.send(pods_event(&pods)).await.is_err() {
            return;
        }
        let mut readers = JoinSet::new();
        let mut started = HashSet::new();
        self.start_readers(&pods, &mut readers, &mut started);
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        loop {
            tokio::select! {
                _ = self.tx.closed() => return,
                _ = keep_alive.tick() => {
                    let _ = self.tx.try_send(Bytes::from_static(b": keep-alive\n\n"));
                }
                done = readers.join_next(), if !readers.is_empty() => {
                    let _ = done;
                    // A single pod's stream, or every stream when not following, is complete.
                    if readers.is_empty() && (!self.query.follow || self.query.pod.is_some()) {
                        let _ = self.tx.send(event("end", "The log stream ended.")).await;
                        return;
                    }
                }
                update = updates.recv(), if self.query.follow => match update {
                    Ok(Update::Changed(state)) if state.summary.name == self.deployment => {
                        if state.pods != pods {
                            pods = state.pods.clone();
                            if self.tx.send(pods_event(&pods)).await.is_err() {
                                return;
                            }
                            if self.query.pod.is_none() {
                                self.start_readers(&pods, &mut readers, &mut started);
                            }
                        }
                    }
                    Ok(Update::Removed(name)) if name == self.deployment => {
                        let _ = self
                            .tx
                            .send(event("end", &format!("Deployment {name} was deleted.")))
                            .await;
                        return;
                    }
                    Ok(_) => {}
                    // Fell behind the watch: read the current state instead.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(state) = watch.get(&self.deployment) {
                            pods = state.pods.clone();
                            let _ = self.tx.send(pods_event(&pods)).await;
                            if self.query.pod.is_none() {
                                self.start_readers(&pods, &mut readers, &mut started);
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                },
            }
        }
    }

    /// Starts reading each pod not read yet (the one asked for, or all of them).
    fn start_readers(&self, pods: &[PodSummary], readers: &mut JoinSet<()>, started: &mut HashSet<String>) {
        for pod in pods {
            if self.query.pod.as_ref().is_some_and(|p| p != &pod.name) || !started.insert(pod.name.clone()) {
                continue;
            }
            let reader = PodReader {
                portal: self.portal.clone(),
                env: self.env.clone(),
                api: self.api.clone(),
                query: self.query.clone(),
                tx: self.tx.clone(),
                pod: pod.clone(),
            };
            readers.spawn(reader.run());
        }
    }
}

struct PodReader {
    portal: Portal,
    env: String,
    api: kube::Api<Pod>,
    query: Arc<LogQuery>,
    tx: mpsc::Sender<Bytes>,
    pod: PodSummary,
}

impl PodReader {
    async fn run(self) {
        let name = self.pod.name.clone();
        let container = match &self.query.container {
            Some(c) if self.pod.container_names.contains(c) || self.pod.init_container_names.contains(c) => {
                c.clone()
            }
            Some(c) => {
                let mut all = self.pod.init_container_names.clone();
                all.extend(self.pod.container_names.iter().cloned());
                self.notice(
                    "error",
                    &format!("Pod {name} has no container “{c}”; its containers are: {}.", all.join(", ")),
                )
                .await;
                return;
            }
            None => match self.pod.container_names.first() {
                Some(c) => c.clone(),
                None => {
                    self.notice("error", &format!("Pod {name} has no containers.")).await;
                    return;
                }
            },
        };
        let params = LogParams {
            container: Some(container.clone()),
            follow: self.query.follow && !self.query.previous,
            previous: self.query.previous,
            tail_lines: self.query.tail,
            since_seconds: self.query.since_seconds,
            timestamps: self.query.timestamps,
            ..LogParams::default()
        };
        let reader = match self.api.log_stream(&name, &params).await {
            Ok(reader) => reader,
            Err(e) => {
                let message = self.describe(e, &container);
                self.notice("error", &message).await;
                return;
            }
        };
        let mut reader = Box::pin(reader);
        let mut framer = Framer::new(&name);
        let mut backlog = Backlog::default();
        loop {
            if !backlog.flush(&self.tx) {
                return;
            }
            let read = if backlog.is_empty() {
                Ok(reader.fill_buf().await)
            } else {
                // Wake up now and then to hand the backlog over even if the log is quiet.
                tokio::time::timeout(BACKLOG_RETRY, reader.fill_buf()).await
            };
            let chunk = match read {
                Err(_) => continue,
                Ok(Err(e)) => {
                    let _ = backlog.flush_all(&self.tx).await;
                    let error = ClusterError::Unreachable(e.to_string());
                    self.notice("error", &format!("The log of {name} broke off: {error}")).await;
                    return;
                }
                Ok(Ok([])) => break,
                Ok(Ok(chunk)) => chunk,
            };
            let take = chunk.len().min(MAX_EVENT);
            let events = framer.push(&chunk[..take]);
            reader.consume_unpin(take);
            for ev in events {
                if !backlog.offer(ev, &self.tx) {
                    return;
                }
            }
        }
        if let Some(last) = framer.finish()
            && !backlog.offer(last, &self.tx)
        {
            return;
        }
        if !backlog.flush_all(&self.tx).await {
            return;
        }
        if self.query.follow && !self.query.previous {
            self.notice(
                "info",
                &format!(
                    "The log of {name} ({container}) ended: the container stopped or the pod was deleted."
                ),
            )
            .await;
        }
    }

    /// A log request's failure in words a reader can act on.
    fn describe(&self, error: kube::Error, container: &str) -> String {
        let name = &self.pod.name;
        let error = ClusterError::from(error);
        self.portal.clusters.saw(&self.env, &error);
        match &error {
            ClusterError::NotFound(_) => format!("Pod {name} no longer exists (it was replaced or deleted)."),
            ClusterError::Invalid(m) if m.contains("previous terminated container") => format!(
                "Container {container} of {name} has no previous instance: it has not restarted, \
                 or its earlier log is gone."
            ),
            ClusterError::Invalid(m) if m.contains("is not valid for pod") => {
                format!("Pod {name} has no container “{container}”.")
            }
            ClusterError::Invalid(m) if m.contains("waiting to start") => {
                format!("Container {container} of {name} has not started yet: {m}")
            }
            ClusterError::Invalid(m) => format!("The cluster refused the log request for {name}: {m}"),
            other => other.to_string(),
        }
    }

    async fn notice(&self, level: &str, message: &str) {
        let _ = self.tx.send(notice(&self.pod.name, level, message)).await;
    }
}

/// Lines a pod could not hand over yet, bounded; lines beyond the bound are counted.
#[derive(Default)]
struct Backlog {
    events: VecDeque<(Bytes, usize)>,
    bytes: usize,
    skipped: usize,
    pod: String,
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.skipped == 0
    }

    /// Hands `ev` over, or keeps it if the reader is behind. False once the reader is gone.
    fn offer(&mut self, ev: Framed, tx: &mpsc::Sender<Bytes>) -> bool {
        self.pod = ev.pod.clone();
        if !self.flush(tx) {
            return false;
        }
        if self.events.is_empty() && self.skipped == 0 {
            match tx.try_send(ev.bytes) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(bytes)) => {
                    self.keep(bytes, ev.lines);
                    return true;
                }
            }
        }
        self.keep(ev.bytes, ev.lines);
        true
    }

    fn keep(&mut self, bytes: Bytes, lines: usize) {
        if self.bytes + bytes.len() > MAX_BACKLOG {
            self.skipped += lines;
        } else {
            self.bytes += bytes.len();
            self.events.push_back((bytes, lines));
        }
    }

    /// Hands over what the channel takes now, without waiting. False once the reader is gone.
    fn flush(&mut self, tx: &mpsc::Sender<Bytes>) -> bool {
        while let Some((bytes, lines)) = self.events.pop_front() {
            let len = bytes.len();
            match tx.try_send(bytes) {
                Ok(()) => self.bytes -= len,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(bytes)) => {
                    self.events.push_front((bytes, lines));
                    return true;
                }
            }
        }
        if self.skipped > 0 {
            let message = format!(
                "{} lines of {} were skipped: the browser fell behind the log.",
                self.skipped, self.pod
            );
            match tx.try_send(notice(&self.pod, "info", &message)) {
                Ok(()) => self.skipped = 0,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(_)) => {}
            }
        }
        true
    }

    /// Hands everything over, waiting for the reader. False once the reader is gone.
    async fn flush_all(&mut self, tx: &mpsc::Sender<Bytes>) -> bool {
        while let Some((bytes, _)) = self.events.pop_front() {
            if tx.send(bytes).await.is_err() {
                return false;
            }
        }
        self.bytes = 0;
        if self.skipped > 0 {
            let message = format!(
                "{} lines of {} were skipped: the browser fell behind the log.",
                self.skipped, self.pod
            );
            self.skipped = 0;
            return tx.send(notice(&self.pod, "info", &message)).await.is_ok();
        }
        true
    }
}

/// A `lines` event ready to send.
struct Framed {
    pod: String,
    bytes: Bytes,
    lines: usize,
}

/// Cuts a pod's log bytes into complete lines and frames them as `lines` events.
struct Framer {
    pod: String,
    partial: Vec<u8>,
}

impl Framer {
    fn new(pod: &str) -> Self {
        Self { pod: pod.to_owned(), partial: Vec::new() }
    }

    fn push(&mut self, chunk: &[u8]) -> Vec<Framed> {
        self.partial.extend_from_slice(chunk);
        let mut out = Vec::new();
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let complete = std::mem::replace(&mut self.partial, rest);
            out.push(self.frame(complete[..end].split(|b| *b == b'\n')));
        }
        if self.partial.len() > MAX_LINE {
            let long = std::mem::take(&mut self.partial);
            out.push(self.frame(std::iter::once(&long[..])));
        }
        out
    }

    fn finish(&mut self) -> Option<Framed> {
        let last = std::mem::take(&mut self.partial);
        (!last.is_empty()).then(|| self.frame(std::iter::once(&last[..])))
    }

    fn frame<'a>(&self, lines: impl Iterator<Item = &'a [u8]>) -> Framed {
        let mut bytes = Vec::with_capacity(MAX_EVENT + 64);
        bytes.extend_from_slice(b"event: lines\ndata: ");
        bytes.extend_from_slice(self.pod.as_bytes());
        bytes.push(b'\n');
        let mut count = 0;
        for line in lines {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = &line[..line.len().min(MAX_LINE)];
            bytes.extend_from_slice(b"data: ");
            push_text(&mut bytes, line);
            bytes.push(b'\n');
            count += 1;
        }
        bytes.push(b'\n');
        Framed { pod: self.pod.clone(), bytes: Bytes::from(bytes), lines: count }
    }
}

/// A log line as event data: valid UTF-8, and no carriage return (which would end the data
/// line early); a stray one is shown as ␍.
fn push_text(out: &mut Vec<u8>, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    if text.contains('\r') {
        out.extend_from_slice(text.replace('\r', "␍").as_bytes());
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn event(name: &str, data: &str) -> Bytes {
    let mut out = format!("event: {name}\n");
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(&line.replace('\r', ""));
        out.push('\n');
    }
    if data.is_empty() {
        out.push_str("data:\n");
    }
    out.push('\n');
    Bytes::from(out)
}

fn notice(pod: &str, level: &str, message: &str) -> Bytes {
    let message = message.replace(['\n', '\r', '\t'], " ");
    event("notice", &format!("{pod}\t{level}\t{message}"))
}

fn pods_event(pods: &[PodSummary]) -> Bytes {
    let clean = |s: &str| s.replace(['\n', '\r', '\t', ','], " ");
    let lines: Vec<String> = pods
        .iter()
        .map(|p| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                p.name,
                clean(p.reason.as_deref().unwrap_or(&p.phase)),
                p.restarts,
                p.container_names.join(","),
                p.init_container_names.join(",")
            )
        })
        .collect();
    if lines.is_empty() { event("pods", "") } else { event("pods", &lines.join("\n")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LogQuery, String> {
        let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| (*v).to_owned());
        LogQuery::parse(RawQuery {
            pod: get("pod"),
            container: get("container"),
            previous: get("previous"),
            tail: get("tail"),
            since: get("since"),
            timestamps: get("timestamps"),
            follow: get("follow"),
        })
    }

    #[test]
    fn queries_are_checked() {
        let q = parse(&[("pod", "web-1"), ("tail", "50"), ("since", "15m"), ("previous", "true")]).unwrap();
        assert_eq!(q.pod.as_deref(), Some("web-1"));
        assert_eq!((q.tail, q.since_seconds, q.previous, q.follow), (Some(50), Some(900), true, true));
        assert_eq!(parse(&[("pod", "*")]).unwrap().pod, None);
        assert!(parse(&[("tail", "-1")]).unwrap_err().contains("tail"));
        assert!(parse(&[("tail", "100001")]).unwrap_err().contains("100000"));
        assert!(parse(&[("since", "0")]).unwrap_err().contains("since"));
        assert!(parse(&[("since", "3w")]).unwrap_err().contains("since"));
        assert!(parse(&[("follow", "maybe")]).unwrap_err().contains("true or false"));
        assert!(parse(&[("container", "Bad Name")]).unwrap_err().contains("container"));
        assert!(parse(&[("pod", "../etc")]).unwrap_err().contains("pod"));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("31d"), None);
    }

    #[test]
    fn lines_are_framed_as_events() {
        let mut framer = Framer::new("p-1");
        let out = framer.push(b"one\r\ntw");
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].bytes[..], b"event: lines\ndata: p-1\ndata: one\n\n");
        let out = framer.push(b"o\nthree\rhalf\nfour");
        assert_eq!(&out[0].bytes[..], "event: lines\ndata: p-1\ndata: two\ndata: three␍half\n\n".as_bytes());
        assert_eq!(out[0].lines, 2);
        assert_eq!(&framer.finish().unwrap().bytes[..], b"event: lines\ndata: p-1\ndata: four\n\n");
        assert!(framer.finish().is_none());
    }

    #[test]
    fn a_slow_reader_bounds_the_backlog() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut backlog = Backlog::default();
        let mut framer = Framer::new("p");
        let mut line = vec![b'x'; 1000];
        line.push(b'\n');
        let mut sent_lines = 0;
        for _ in 0..5000 {
            for ev in framer.push(&line) {
                sent_lines += ev.lines;
                assert!(backlog.offer(ev, &tx));
            }
        }
        assert!(backlog.bytes <= MAX_BACKLOG);
        assert!(backlog.skipped > 0);
        let skipped = backlog.skipped;
        let mut received = 0;
        let mut notices = Vec::new();
        loop {
            while let Ok(bytes) = rx.try_recv() {
                let text = String::from_utf8_lossy(&bytes).to_string();
                if text.starts_with("event: notice") {
                    notices.push(text);
                } else {
                    received += text.lines().filter(|l| l.starts_with("data: x")).count();
                }
            }
            if backlog.is_empty() {
                break;
            }
            assert!(backlog.flush(&tx));
        }
        while let Ok(bytes) = rx.try_recv() {
            let text = String::from_utf8_lossy(&bytes).to_string();
            if text.starts_with("event: notice") {
                notices.push(text);
            } else {
                received += text.lines().filter(|l| l.starts_with("data: x")).count();
            }
        }
        assert_eq!(received + skipped, sent_lines);
        assert!(notices[0].contains(&format!("{skipped} lines of p were skipped")), "{notices:?}");
    }
}
