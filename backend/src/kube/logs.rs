//! A deployment's pod logs, read from the cluster as they arrive: one reader per pod (the one
//! asked for, or every pod, including pods that appear later while following), each pod's
//! lines in order, and what went wrong as typed errors.
//!
//! Memory per follower is bounded: a small channel of events, and per pod a bounded backlog;
//! when a slow consumer lets the backlog fill, further lines are counted and skipped (and the
//! consumer told how many) instead of stalling the cluster's stream.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::io::AsyncBufReadExt;
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinSet;

use super::names::{ContainerName, DeploymentName, Namespace, PodName};
use super::summary::PodSummary;
use super::watch::{Link, NamespaceWatch, Update, Watches};
use super::{ClusterError, Clusters};

/// The most lines `tail` may ask for (the viewer keeps at most this many).
pub const MAX_TAIL: i64 = 100_000;
/// Events waiting for the consumer.
const CHANNEL_EVENTS: usize = 32;
/// The most log bytes read into one [`LogEvent::Lines`].
const MAX_BATCH: usize = 64 * 1024;
/// A pod's backlog while the consumer is behind; lines beyond it are skipped and counted.
/// Room for a few of the longest lines.
const MAX_BACKLOG: usize = 4 * 1024 * 1024;
/// Lines up to this many bytes pass whole; a longer one is cut here with [`cut_marker`]
/// saying how much is missing (a runaway line must not hold memory). Download reads the
/// cluster's log as it is ([`download`]).
pub const MAX_LINE: usize = 1024 * 1024;
/// How often a pod with a backlog retries handing it over while its log is quiet.
const BACKLOG_RETRY: Duration = Duration::from_millis(100);

/// What to read; each field as the pods log endpoint takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// `None`: every pod of the deployment.
    pub pod: Option<PodName>,
    /// `None`: each pod's first container.
    pub container: Option<ContainerName>,
    /// The container's previous instance (it restarted).
    pub previous: bool,
    /// Lines from the end, at most [`MAX_TAIL`].
    pub tail: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    /// Keep reading as lines arrive (and read pods that appear later).
    pub follow: bool,
}

impl LogOptions {
    /// The cluster's log request for `container`.
    fn params(&self, container: &str, follow: bool) -> LogParams {
        LogParams {
            container: Some(container.to_owned()),
            follow,
            previous: self.previous,
            tail_lines: self.tail,
            since_seconds: self.since_seconds,
            timestamps: self.timestamps,
            ..LogParams::default()
        }
    }
}

/// What a follower hears, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// The deployment's pods: first, and whenever they change.
    Pods(Vec<PodSummary>),
    /// Complete lines of one pod's log (valid UTF-8, no line ending; a line longer than
    /// [`MAX_LINE`] is cut there and ends with [`cut_marker`]).
    Lines { pod: String, lines: Vec<String> },
    /// A pod's log cannot be read, or broke off.
    Failed { pod: String, error: PodLogError },
    /// Lines of a pod that were dropped because the consumer fell behind.
    Skipped { pod: String, lines: usize },
    /// A followed container's log ended: it stopped, or its pod was deleted.
    Ended { pod: String, container: String },
    /// Nothing more will come.
    End(Ending),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ending {
    #[error("The log stream ended.")]
    Complete,
    #[error("Deployment {0} was deleted.")]
    DeploymentDeleted(String),
}

/// Why following could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowError {
    #[error("There is no deployment “{deployment}” in namespace {namespace}.")]
    NoDeployment { namespace: String, deployment: String },
    #[error("Pod “{pod}” is not a pod of {deployment} (it may have been replaced); pick another.")]
    NotItsPod { pod: String, deployment: String },
    #[error("The cluster has not answered yet; try again shortly.")]
    NotConnected,
    #[error(transparent)]
    Pod(PodLogError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Why one pod's log cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodLogError {
    #[error("Pod {pod} has no container “{container}”{}.", listed(.containers))]
    NoSuchContainer { pod: String, container: String, containers: Vec<String> },
    #[error("Pod {pod} has no containers.")]
    NoContainers { pod: String },
    #[error("Pod {pod} no longer exists (it was replaced or deleted).")]
    PodGone { pod: String },
    #[error(
        "Container {container} of {pod} has no previous instance: it has not restarted, or its earlier log is gone."
    )]
    NoPreviousInstance { pod: String, container: String },
    #[error("Container {container} of {pod} has not started yet: {detail}")]
    NotStarted { pod: String, container: String, detail: String },
    #[error("The cluster refused the log request for {pod}: {detail}")]
    Refused { pod: String, detail: String },
    #[error("The log of {pod} broke off: {error}")]
    BrokeOff { pod: String, error: ClusterError },
    #[error(transparent)]
    Cluster(ClusterError),
}

fn listed(containers: &[String]) -> String {
    if containers.is_empty() {
        String::new()
    } else {
        format!("; its containers are: {}", containers.join(", "))
    }
}

impl PodLogError {
    /// The cluster's refusal of a log request. The API server says why only in the message
    /// of a 400 (no reason code tells these apart), so its wording is read here and nowhere
    /// else.
    fn of(pod: &str, container: &str, error: &ClusterError) -> Self {
        let (pod, container) = (pod.to_owned(), container.to_owned());
        match error {
            ClusterError::NotFound(_) => Self::PodGone { pod },
            ClusterError::Invalid(m) if m.contains("previous terminated container") => {
                Self::NoPreviousInstance { pod, container }
            }
            ClusterError::Invalid(m) if m.contains("is not valid for pod") => {
                Self::NoSuchContainer { pod, container, containers: Vec::new() }
            }
            ClusterError::Invalid(m) if m.contains("waiting to start") => {
                Self::NotStarted { pod, container, detail: m.clone() }
            }
            ClusterError::Invalid(m) => Self::Refused { pod, detail: m.clone() },
            other => Self::Cluster(other.clone()),
        }
    }
}

/// Follows the logs of `deployment`'s pods as `options` say. The stream ends after
/// [`LogEvent::End`] (or when the deployment's pods are all read, without following);
/// dropping it stops every reader.
pub async fn follow(
    clusters: &Clusters,
    watches: &Watches,
    environment: &str,
    namespace: &Namespace,
    deployment: &DeploymentName,
    options: LogOptions,
) -> Result<BoxStream<'static, LogEvent>, FollowError> {
    let watch = watches.namespace(environment, namespace);
    let pods = deployment_pods(&watch, namespace, deployment, None).await?;
    if let Some(pod) = &options.pod
        && !pods.iter().any(|p| p.name == pod.as_str())
    {
        return Err(FollowError::NotItsPod { pod: pod.to_string(), deployment: deployment.to_string() });
    }
    let client = clusters.client(environment).await?;
    let (tx, rx) = mpsc::channel(CHANNEL_EVENTS);
    let relay = Relay {
        clusters: clusters.clone(),
        environment: environment.to_owned(),
        deployment: deployment.to_string(),
        api: kube::Api::namespaced(client, namespace),
        options: Arc::new(options),
        tx,
    };
    tokio::spawn(relay.run(watch, pods));
    Ok(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (event, rx)) })
        .boxed())
}

/// The pods of `deployment` as its namespace's watch sees them, or why there are none to read.
async fn deployment_pods(
    watch: &NamespaceWatch,
    namespace: &Namespace,
    deployment: &DeploymentName,
    only: Option<&PodName>,
) -> Result<Vec<PodSummary>, FollowError> {
    let link = watch.synced().await;
    let Some(state) = watch.get(deployment) else {
        return Err(match link {
            Link::Live => FollowError::NoDeployment {
                namespace: namespace.to_string(),
                deployment: deployment.to_string(),
            },
            Link::Connecting => FollowError::NotConnected,
            Link::Reconnecting(why) => ClusterError::Unreachable(why).into(),
        });
    };
    match only {
        None => Ok(state.pods.clone()),
        Some(pod) => match state.pods.iter().find(|p| p.name == pod.as_str()) {
            Some(found) => Ok(vec![found.clone()]),
            None => Err(FollowError::NotItsPod { pod: pod.to_string(), deployment: deployment.to_string() }),
        },
    }
}

/// Bytes of a log as the cluster sends them.
pub type LogBytes = BoxStream<'static, std::io::Result<Vec<u8>>>;

/// The log as the cluster keeps it, read once (never followed), every line whole: what
/// Download saves. One pod's (`options.pod`), or every pod's of the deployment in turn, each
/// line led by its pod's name as the viewer shows them interleaved.
pub async fn download(
    clusters: &Clusters,
    watches: &Watches,
    environment: &str,
    namespace: &Namespace,
    deployment: &DeploymentName,
    options: &LogOptions,
) -> Result<LogBytes, FollowError> {
    let watch = watches.namespace(environment, namespace);
    let pods = deployment_pods(&watch, namespace, deployment, options.pod.as_ref()).await?;
    let client = clusters.client(environment).await?;
    let api: kube::Api<Pod> = kube::Api::namespaced(client, namespace);
    if let (Some(_), [pod]) = (&options.pod, pods.as_slice()) {
        // One pod: a refusal is the answer, with its status, before anything is sent.
        let container = container_of(pod, options.container.as_ref()).map_err(FollowError::Pod)?;
        return match api.log_stream(&pod.name, &options.params(&container, false)).await {
            Ok(reader) => Ok(bytes_of(reader)),
            Err(e) => {
                let error = ClusterError::from(e);
                clusters.saw(environment, &error);
                Err(FollowError::Pod(PodLogError::of(&pod.name, &container, &error)))
            }
        };
    }
    let options = options.clone();
    let sections = futures_util::stream::iter(pods).then(move |pod| {
        let (api, options) = (api.clone(), options.clone());
        async move {
            let body = match container_of(&pod, options.container.as_ref()) {
                Err(e) => said(&e),
                Ok(container) => match api.log_stream(&pod.name, &options.params(&container, false)).await {
                    Ok(reader) => bytes_of(reader),
                    Err(e) => said(&PodLogError::of(&pod.name, &container, &ClusterError::from(e))),
                },
            };
            prefixed(format!("{} ", pod.name).into_bytes(), body)
        }
    });
    Ok(sections.flatten().boxed())
}

fn bytes_of(reader: impl futures_util::AsyncBufRead + Send + 'static) -> LogBytes {
    futures_util::stream::unfold(Some(Box::pin(reader)), |reader| async move {
        let mut reader = reader?;
        match reader.fill_buf().await {
            Ok([]) => None,
            Ok(chunk) => {
                let chunk = chunk.to_vec();
                reader.consume_unpin(chunk.len());
                Some((Ok(chunk), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// A pod's log that cannot be read, in the downloaded file.
fn said(error: &PodLogError) -> LogBytes {
    futures_util::stream::once(std::future::ready(Ok(format!("⟪{error}⟫\n").into_bytes()))).boxed()
}

/// `body` with `prefix` at the start of each line, ending with a line break.
fn prefixed(prefix: Vec<u8>, body: LogBytes) -> LogBytes {
    let at_line_start = true;
    futures_util::stream::unfold(Some((body, at_line_start)), move |state| {
        let prefix = prefix.clone();
        async move {
            let (mut body, mut at_line_start) = state?;
            match body.next().await {
                Some(Ok(chunk)) => {
                    let mut out = Vec::with_capacity(chunk.len() + prefix.len());
                    for byte in chunk {
                        if at_line_start {
                            out.extend_from_slice(&prefix);
                        }
                        out.push(byte);
                        at_line_start = byte == b'\n';
                    }
                    Some((Ok(out), Some((body, at_line_start))))
                }
                Some(Err(e)) => Some((Err(e), None)),
                None if !at_line_start => Some((Ok(b"\n".to_vec()), None)),
                None => None,
            }
        }
    })
    .boxed()
}

/// One follower: a task per pod reading its log, and this supervisor keeping the pod list.
struct Relay {
    clusters: Clusters,
    environment: String,
    deployment: String,
    api: kube::Api<Pod>,
    options: Arc<LogOptions>,
    tx: mpsc::Sender<LogEvent>,
}

impl Relay {
    async fn run(self, watch: NamespaceWatch, mut pods: Vec<PodSummary>) {
        let mut updates = watch.subscribe().updates;
        if self.tx.send(LogEvent::Pods(pods.clone())).await.is_err() {
            return;
        }
        // Dropped on return, which stops every reader.
        let mut readers = JoinSet::new();
        let mut started = HashSet::new();
        self.start_readers(&pods, &mut readers, &mut started);
        let single_pod = self.options.pod.is_some();
        loop {
            tokio::select! {
                _ = self.tx.closed() => return,
                done = readers.join_next(), if !readers.is_empty() => {
                    let _ = done;
                    // A single pod's log, or every pod's when not following, is complete.
                    if readers.is_empty() && (!self.options.follow || single_pod) {
                        let _ = self.tx.send(LogEvent::End(Ending::Complete)).await;
                        return;
                    }
                }
                update = updates.recv(), if self.options.follow => match update {
                    Ok(Update::Changed(state)) if state.summary.name == self.deployment => {
                        if state.pods != pods {
                            pods = state.pods.clone();
                            if self.tx.send(LogEvent::Pods(pods.clone())).await.is_err() {
                                return;
                            }
                            if !single_pod {
                                self.start_readers(&pods, &mut readers, &mut started);
                            }
                        }
                    }
                    Ok(Update::Removed(name)) if name == self.deployment => {
                        let _ = self.tx.send(LogEvent::End(Ending::DeploymentDeleted(name))).await;
                        return;
                    }
                    Ok(_) => {}
                    // Fell behind the watch: read the current state instead.
                    Err(RecvError::Lagged(_)) => {
                        if let Some(state) = watch.get(&self.deployment) {
                            pods = state.pods.clone();
                            let _ = self.tx.send(LogEvent::Pods(pods.clone())).await;
                            if !single_pod {
                                self.start_readers(&pods, &mut readers, &mut started);
                            }
                        }
                    }
                    Err(RecvError::Closed) => {}
                },
            }
        }
    }

    /// Starts reading each pod not read yet (the one asked for, or all of them).
    fn start_readers(&self, pods: &[PodSummary], readers: &mut JoinSet<()>, started: &mut HashSet<String>) {
        for pod in pods {
            if self.options.pod.as_ref().is_some_and(|p| p.as_str() != pod.name)
                || !started.insert(pod.name.clone())
            {
                continue;
            }
            let reader = PodReader {
                clusters: self.clusters.clone(),
                environment: self.environment.clone(),
                api: self.api.clone(),
                options: self.options.clone(),
                tx: self.tx.clone(),
                pod: pod.clone(),
            };
            readers.spawn(reader.run());
        }
    }
}

struct PodReader {
    clusters: Clusters,
    environment: String,
    api: kube::Api<Pod>,
    options: Arc<LogOptions>,
    tx: mpsc::Sender<LogEvent>,
    pod: PodSummary,
}

impl PodReader {
    async fn run(self) {
        let container = match self.container() {
            Ok(container) => container,
            Err(error) => return self.fail(error).await,
        };
        let following = self.options.follow && !self.options.previous;
        let params = self.options.params(&container, following);
        let name = self.pod.name.clone();
        let reader = match self.api.log_stream(&name, &params).await {
            Ok(reader) => reader,
            Err(e) => {
                let error = ClusterError::from(e);
                self.clusters.saw(&self.environment, &error);
                return self.fail(PodLogError::of(&name, &container, &error)).await;
            }
        };
        let mut reader = Box::pin(reader);
        let mut splitter = LineSplitter::new();
        let mut backlog = Backlog::new(&name);
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
                    return self.fail(PodLogError::BrokeOff { pod: name, error }).await;
                }
                Ok(Ok([])) => break,
                Ok(Ok(chunk)) => chunk,
            };
            let take = chunk.len().min(MAX_BATCH);
            let batch = splitter.push(&chunk[..take]);
            reader.consume_unpin(take);
            for lines in batch {
                if !backlog.offer(lines, &self.tx) {
                    return;
                }
            }
        }
        if let Some(last) = splitter.finish()
            && !backlog.offer(last, &self.tx)
        {
            return;
        }
        if backlog.flush_all(&self.tx).await && following {
            let _ = self.tx.send(LogEvent::Ended { pod: name, container }).await;
        }
    }

    fn container(&self) -> Result<String, PodLogError> {
        container_of(&self.pod, self.options.container.as_ref())
    }

    async fn fail(&self, error: PodLogError) {
        let _ = self.tx.send(LogEvent::Failed { pod: self.pod.name.clone(), error }).await;
    }
}

/// The container asked for, if the pod has it, or the pod's first.
fn container_of(pod: &PodSummary, asked: Option<&ContainerName>) -> Result<String, PodLogError> {
    match asked {
        Some(c) if pod.container_names.iter().chain(&pod.init_container_names).any(|n| n == c.as_str()) => {
            Ok(c.to_string())
        }
        Some(c) => Err(PodLogError::NoSuchContainer {
            pod: pod.name.clone(),
            container: c.to_string(),
            containers: pod.init_container_names.iter().chain(&pod.container_names).cloned().collect(),
        }),
        None => {
            pod.container_names.first().cloned().ok_or(PodLogError::NoContainers { pod: pod.name.clone() })
        }
    }
}

/// A batch of lines the consumer has not taken yet, with its size.
struct Held {
    lines: Vec<String>,
    bytes: usize,
}

/// Lines a pod could not hand over yet, bounded; lines beyond the bound are counted.
struct Backlog {
    pod: String,
    held: VecDeque<Held>,
    bytes: usize,
    skipped: usize,
}

impl Backlog {
    fn new(pod: &str) -> Self {
        Self { pod: pod.to_owned(), held: VecDeque::new(), bytes: 0, skipped: 0 }
    }

    fn is_empty(&self) -> bool {
        self.held.is_empty() && self.skipped == 0
    }

    fn event(&self, lines: Vec<String>) -> LogEvent {
        LogEvent::Lines { pod: self.pod.clone(), lines }
    }

    /// Hands `lines` over, or keeps them if the consumer is behind. False once it is gone.
    fn offer(&mut self, lines: Vec<String>, tx: &mpsc::Sender<LogEvent>) -> bool {
        if !self.flush(tx) {
            return false;
        }
        let held = Held { bytes: lines.iter().map(String::len).sum(), lines };
        if self.is_empty() {
            match tx.try_reserve() {
                Ok(permit) => {
                    permit.send(self.event(held.lines));
                    return true;
                }
                Err(TrySendError::Closed(())) => return false,
                Err(TrySendError::Full(())) => {}
            }
        }
        self.keep(held);
        true
    }

    fn keep(&mut self, held: Held) {
        if self.bytes + held.bytes > MAX_BACKLOG {
            self.skipped += held.lines.len();
        } else {
            self.bytes += held.bytes;
            self.held.push_back(held);
        }
    }

    /// Hands over what the channel takes now, without waiting. False once the consumer is gone.
    fn flush(&mut self, tx: &mpsc::Sender<LogEvent>) -> bool {
        while !self.is_empty() {
            let permit = match tx.try_reserve() {
                Ok(permit) => permit,
                Err(TrySendError::Closed(())) => return false,
                Err(TrySendError::Full(())) => return true,
            };
            match self.held.pop_front() {
                Some(held) => {
                    self.bytes -= held.bytes;
                    permit.send(self.event(held.lines));
                }
                None => {
                    let lines = std::mem::take(&mut self.skipped);
                    permit.send(LogEvent::Skipped { pod: self.pod.clone(), lines });
                }
            }
        }
        true
    }

    /// Hands everything over, waiting for the consumer. False once it is gone.
    async fn flush_all(&mut self, tx: &mpsc::Sender<LogEvent>) -> bool {
        while let Some(held) = self.held.pop_front() {
            if tx.send(self.event(held.lines)).await.is_err() {
                return false;
            }
        }
        self.bytes = 0;
        if self.skipped > 0 {
            let lines = std::mem::take(&mut self.skipped);
            return tx.send(LogEvent::Skipped { pod: self.pod.clone(), lines }).await.is_ok();
        }
        true
    }
}

/// Cuts a pod's log bytes into complete lines. A line is held until it ends, and at most
/// [`MAX_LINE`] bytes of it: what goes past that is only counted, for its [`cut_marker`].
struct LineSplitter {
    partial: Vec<u8>,
    /// Characters of the current line past [`MAX_LINE`].
    cut: usize,
}

impl LineSplitter {
    fn new() -> Self {
        Self { partial: Vec::new(), cut: 0 }
    }

    /// The complete lines `chunk` finishes (one batch, empty when it finishes none).
    fn push(&mut self, chunk: &[u8]) -> Vec<Vec<String>> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.hold(&rest[..end]);
            lines.push(self.take());
            rest = &rest[end + 1..];
        }
        self.hold(rest);
        if lines.is_empty() { Vec::new() } else { vec![lines] }
    }

    /// The last line, if the log did not end with a line break.
    fn finish(&mut self) -> Option<Vec<String>> {
        (!self.partial.is_empty() || self.cut > 0).then(|| vec![self.take()])
    }

    fn hold(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial.len());
        if self.cut == 0 && bytes.len() <= room {
            self.partial.extend_from_slice(bytes);
            return;
        }
        let mut keep = 0;
        if self.cut == 0 {
            // Cut on a character boundary, so the kept part is valid UTF-8 where the log was.
            keep = room.min(bytes.len());
            while keep > 0 && keep < bytes.len() && is_continuation(bytes[keep]) {
                keep -= 1;
            }
            self.partial.extend_from_slice(&bytes[..keep]);
        }
        self.cut += bytes[keep..].iter().filter(|b| !is_continuation(**b)).count();
    }

    fn take(&mut self) -> String {
        if self.cut > 0
            && let Err(e) = std::str::from_utf8(&self.partial)
            && e.error_len().is_none()
        {
            // The limit fell inside a character a previous read had begun: it is cut too.
            self.partial.truncate(e.valid_up_to());
            self.cut += 1;
        }
        let mut text = line(&std::mem::take(&mut self.partial));
        if self.cut > 0 {
            text.push_str(&cut_marker(std::mem::take(&mut self.cut)));
        }
        text
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xc0 == 0x80
}

/// What ends a line cut at [`MAX_LINE`]: how much is missing, and where to find it.
pub fn cut_marker(characters: usize) -> String {
    format!(" ⟪… {characters} more characters cut; Download has the whole line⟫")
}

/// One line as text: without its line ending, valid UTF-8.
fn line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_become_lines() {
        let mut splitter = LineSplitter::new();
        assert_eq!(splitter.push(b"one\r\ntw"), vec![vec!["one".to_owned()]]);
        assert_eq!(
            splitter.push(b"o\nthree\rhalf\nfour"),
            vec![vec!["two".to_owned(), "three\rhalf".to_owned()]]
        );
        assert_eq!(splitter.finish(), Some(vec!["four".to_owned()]));
        assert_eq!(splitter.finish(), None);
        assert_eq!(line(&[b'a', 0xff, b'b']), "a\u{fffd}b");
    }

    /// A 200,000-character line arrives whole, however the reads split it; a 2 MiB one is cut
    /// at 1 MiB with a marker saying how much is missing, and the next line is untouched.
    #[test]
    fn long_lines_pass_whole_up_to_the_limit_then_are_cut_in_words() {
        let mut splitter = LineSplitter::new();
        let long: String = (0..200_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let mut got = Vec::new();
        for piece in format!("{long}\n").as_bytes().chunks(MAX_BATCH) {
            got.extend(splitter.push(piece).into_iter().flatten());
        }
        assert_eq!(got, vec![long]);

        // Two-byte characters, so the cut falls inside one unless it is placed with care.
        let huge = "é".repeat(1024 * 1024);
        let mut got = Vec::new();
        for piece in format!("x{huge}\nshort\n").as_bytes().chunks(MAX_BATCH) {
            got.extend(splitter.push(piece).into_iter().flatten());
        }
        assert_eq!(got.len(), 2, "the cut line and the short one");
        let kept = format!("x{}", "é".repeat((MAX_LINE - 1) / 2));
        assert_eq!(got[0], format!("{kept}{}", cut_marker(1024 * 1024 + 1 - kept.chars().count())));
        assert!(
            got[0].ends_with("524289 more characters cut; Download has the whole line⟫"),
            "{}",
            &got[0][got[0].len() - 80..]
        );
        assert_eq!(got[1], "short");
        assert_eq!(splitter.finish(), None);

        // Read one byte at a time, a character is split by every read, the one at the limit too.
        let cut_line = got[0].clone();
        let mut got = Vec::new();
        for byte in format!("x{huge}\n").as_bytes() {
            got.extend(splitter.push(std::slice::from_ref(byte)).into_iter().flatten());
        }
        assert_eq!(got, vec![cut_line]);

        // A cut line that never ends is still told at the end of the log.
        splitter.push(&vec![b'y'; MAX_LINE + 5]);
        let last = splitter.finish().unwrap();
        assert!(last[0].ends_with(&cut_marker(5)));
        assert_eq!(last[0].len(), MAX_LINE + cut_marker(5).len());
    }

    #[tokio::test]
    async fn downloaded_lines_are_led_by_their_pod() {
        let chunks: Vec<std::io::Result<Vec<u8>>> =
            vec![Ok(b"one\ntw".to_vec()), Ok(b"o\n".to_vec()), Ok(b"three".to_vec())];
        let body = prefixed(b"web-1 ".to_vec(), futures_util::stream::iter(chunks).boxed());
        let out: Vec<Vec<u8>> = body.map(|chunk| chunk.unwrap()).collect().await;
        assert_eq!(String::from_utf8(out.concat()).unwrap(), "web-1 one\nweb-1 two\nweb-1 three\n");
        let said = prefixed(b"web-2 ".to_vec(), said(&PodLogError::NoContainers { pod: "web-2".into() }));
        let out: Vec<Vec<u8>> = said.map(|chunk| chunk.unwrap()).collect().await;
        assert_eq!(String::from_utf8(out.concat()).unwrap(), "web-2 ⟪Pod web-2 has no containers.⟫\n");
    }

    #[test]
    fn a_slow_consumer_bounds_the_backlog() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut backlog = Backlog::new("p");
        let mut splitter = LineSplitter::new();
        let mut text = vec![b'x'; 1000];
        text.push(b'\n');
        let mut sent_lines = 0;
        for _ in 0..5000 {
            for lines in splitter.push(&text) {
                sent_lines += lines.len();
                assert!(backlog.offer(lines, &tx));
            }
        }
        assert!(backlog.bytes <= MAX_BACKLOG);
        assert!(backlog.skipped > 0);
        let skipped = backlog.skipped;
        let (mut received, mut told) = (0, Vec::new());
        let mut take = |rx: &mut mpsc::Receiver<LogEvent>| {
            while let Ok(event) = rx.try_recv() {
                match event {
                    LogEvent::Lines { lines, .. } => received += lines.len(),
                    LogEvent::Skipped { pod, lines } => told.push((pod, lines)),
                    other => panic!("{other:?}"),
                }
            }
        };
        while !backlog.is_empty() {
            take(&mut rx);
            assert!(backlog.flush(&tx));
        }
        take(&mut rx);
        assert_eq!(received + skipped, sent_lines);
        assert_eq!(told, vec![("p".to_owned(), skipped)]);
    }

    #[test]
    fn refusals_are_sorted_by_what_the_cluster_said() {
        let invalid = |m: &str| ClusterError::Invalid(m.to_owned());
        let of = |e: &ClusterError| PodLogError::of("web-1", "app", e);
        assert!(matches!(
            of(&ClusterError::NotFound("pods \"web-1\" not found".into())),
            PodLogError::PodGone { .. }
        ));
        let previous = invalid("previous terminated container \"app\" in pod \"web-1\" not found");
        assert!(matches!(of(&previous), PodLogError::NoPreviousInstance { .. }));
        let missing = of(&invalid("container sidecar is not valid for pod web-1"));
        assert_eq!(missing.to_string(), "Pod web-1 has no container “app”.");
        let waiting = invalid("container \"app\" in pod \"web-1\" is waiting to start: ContainerCreating");
        assert!(matches!(of(&waiting), PodLogError::NotStarted { .. }));
        assert!(matches!(of(&invalid("something else")), PodLogError::Refused { .. }));
        let down = ClusterError::Unreachable("connection refused".into());
        assert_eq!(of(&down).to_string(), down.to_string());
        let listed = PodLogError::NoSuchContainer {
            pod: "web-1".into(),
            container: "sidecar".into(),
            containers: vec!["init".into(), "app".into()],
        };
        assert_eq!(
            listed.to_string(),
            "Pod web-1 has no container “sidecar”; its containers are: init, app."
        );
    }
}
