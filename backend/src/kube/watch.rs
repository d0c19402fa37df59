//! One watch per environment and namespace, shared by everyone looking.
//!
//! A namespace's watch is started by the first request that needs it and then runs for the
//! life of the process: kube-runtime watchers of its deployments and pods (listing, watching
//! from the listed resourceVersion, relisting on 410 Gone, reconnecting with backoff). What
//! they see is cut down to [`DeploymentState`]s, and every state that changed is sent to the
//! subscribers: the number of requests to the cluster does not depend on how many people
//! watch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{broadcast, watch};

use super::summary::{DeploymentSummary, Health, PodSummary, health};
use super::{ClusterError, Clusters};
use crate::metrics;

/// How many updates a slow subscriber may fall behind before it is sent a fresh snapshot.
const UPDATE_BUFFER: usize = 4096;
/// How long a first request waits for the namespace's first listing.
const FIRST_SYNC: Duration = Duration::from_secs(10);
/// The wait before trying again when a client cannot even be built.
const SETUP_RETRY: Duration = Duration::from_secs(5);

/// A deployment with its pods and its health, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentState {
    pub summary: DeploymentSummary,
    pub health: Health,
    /// Its pods, by name.
    pub pods: Vec<PodSummary>,
}

/// Whether the namespace's watch is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// It failed and is trying again; the states shown are the last ones seen.
    Reconnecting(String),
}

impl Link {
    /// One of [`metrics::WATCH_STATES`].
    fn metric_state(&self) -> &'static str {
        match self {
            Link::Connecting => "connecting",
            Link::Live => "live",
            Link::Reconnecting(_) => "reconnecting",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Update {
    Changed(Arc<DeploymentState>),
    Removed(String),
    Link(Link),
}

/// Everyone's watches, by environment and namespace.
#[derive(Clone)]
pub struct Watches {
    clusters: Clusters,
    running: Arc<Mutex<HashMap<(String, String), NamespaceWatch>>>,
}

impl Watches {
    pub fn new(clusters: Clusters) -> Self {
        Self { clusters, running: Arc::default() }
    }

    /// The watch of `namespace` in `environment`, started if nobody needed it before.
    pub fn namespace(&self, environment: &str, namespace: &str) -> NamespaceWatch {
        let key = (environment.to_owned(), namespace.to_owned());
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running
            .entry(key)
            .or_insert_with(|| NamespaceWatch::start(self.clusters.clone(), environment, namespace))
            .clone()
    }
}

#[derive(Clone)]
pub struct NamespaceWatch {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    updates: broadcast::Sender<Update>,
    link: watch::Sender<Link>,
    /// Where it watches, for the metrics.
    environment: String,
    namespace: String,
}

#[derive(Default)]
struct State {
    deployments: BTreeMap<String, DeploymentSummary>,
    /// Pods by their deployment's name, then by their own.
    pods: HashMap<String, BTreeMap<String, PodSummary>>,
    /// Which deployment each pod belongs to, for deletions.
    owner_of: HashMap<String, String>,
    shown: BTreeMap<String, Arc<DeploymentState>>,
}

/// What a subscriber starts from: every deployment now, and the updates after it.
pub struct Subscription {
    pub link: Link,
    pub snapshot: Vec<Arc<DeploymentState>>,
    pub updates: broadcast::Receiver<Update>,
}

impl NamespaceWatch {
    fn start(clusters: Clusters, environment: &str, namespace: &str) -> Self {
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        let (link, _) = watch::channel(Link::Connecting);
        let inner = Inner {
            state: RwLock::default(),
            updates,
            link,
            environment: environment.to_owned(),
            namespace: namespace.to_owned(),
        };
        metrics::watch_link(environment, namespace, Link::Connecting.metric_state());
        let watch = Self { inner: Arc::new(inner) };
        tokio::spawn(watch.clone().run(clusters, environment.to_owned(), namespace.to_owned()));
        watch
    }

    /// Waits (a little) for the first listing, so a page rendered right after start-up is
    /// not empty; returns the link as it then is.
    pub async fn synced(&self) -> Link {
        let mut link = self.inner.link.subscribe();
        let _ = tokio::time::timeout(FIRST_SYNC, link.wait_for(|l| *l != Link::Connecting)).await;
        link.borrow().clone()
    }

    pub fn subscribe(&self) -> Subscription {
        // Subscribing before reading means no update falls between the snapshot and the
        // stream; one may arrive twice, which is harmless (updates replace whole states).
        let updates = self.inner.updates.subscribe();
        let snapshot = self.read(|s| s.shown.values().cloned().collect());
        Subscription { link: self.inner.link.borrow().clone(), snapshot, updates }
    }

    pub fn link(&self) -> Link {
        self.inner.link.borrow().clone()
    }

    pub fn snapshot(&self) -> Vec<Arc<DeploymentState>> {
        self.read(|s| s.shown.values().cloned().collect())
    }

    pub fn get(&self, name: &str) -> Option<Arc<DeploymentState>> {
        self.read(|s| s.shown.get(name).cloned())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.state.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A full listing of `resource` begins (the first, or a relist).
    fn count_listing(&self, resource: &str) {
        metrics::watch_listing(&self.inner.environment, &self.inner.namespace, resource);
    }

    fn set_link(&self, link: Link) {
        let changed = self.inner.link.send_if_modified(|now| {
            if *now == link {
                false
            } else {
                *now = link.clone();
                true
            }
        });
        if changed {
            metrics::watch_link(&self.inner.environment, &self.inner.namespace, link.metric_state());
            let _ = self.inner.updates.send(Update::Link(link));
        }
    }

    async fn run(self, clusters: Clusters, environment: String, namespace: String) {
        loop {
            let client = match clusters.client(&environment).await {
                Ok(client) => client,
                Err(e) => {
                    self.set_link(Link::Reconnecting(e.to_string()));
                    tokio::time::sleep(SETUP_RETRY).await;
                    continue;
                }
            };
            let config = watcher::Config::default();
            let deployments =
                watcher::watcher(Api::<Deployment>::namespaced(client.clone(), &namespace), config.clone())
                    .default_backoff()
                    .map(|e| e.map(Seen::Deployment));
            let pods = watcher::watcher(Api::<Pod>::namespaced(client, &namespace), config)
                .default_backoff()
                .map(|e| e.map(Seen::Pod));
            let mut events = std::pin::pin!(stream::select(deployments, pods));
            let mut listing = Listing::default();
            while let Some(event) = events.next().await {
                match event {
                    Ok(seen) => self.apply(seen, &mut listing),
                    // A watch resumed from too old a version: the watcher relists by itself.
                    Err(watcher::Error::WatchError(status)) if status.code == 410 => {}
                    Err(e) => {
                        let error = ClusterError::from(watcher_error(e));
                        clusters.saw(&environment, &error);
                        self.set_link(Link::Reconnecting(error.to_string()));
                        if error.stale_client() {
                            // Build the client again (a rotated token, a moved endpoint).
                            break;
                        }
                    }
                }
            }
            tokio::time::sleep(SETUP_RETRY).await;
        }
    }

    fn apply(&self, seen: Seen, listing: &mut Listing) {
        let mut changed = Vec::new();
        {
            let mut state = self.inner.state.write().unwrap_or_else(|p| p.into_inner());
            match seen {
                Seen::Deployment(event) => match event {
                    Event::Apply(d) | Event::InitApply(d) if listing.deployments.is_some() => {
                        if let (Some(list), Some(s)) =
                            (listing.deployments.as_mut(), DeploymentSummary::of(&d))
                        {
                            list.insert(s.name.clone(), s);
                        }
                    }
                    Event::Apply(d) | Event::InitApply(d) => {
                        if let Some(s) = DeploymentSummary::of(&d) {
                            changed.push(s.name.clone());
                            state.deployments.insert(s.name.clone(), s);
                        }
                    }
                    Event::Delete(d) => {
                        if let Some(name) = d.metadata.name {
                            state.deployments.remove(&name);
                            changed.push(name);
                        }
                    }
                    Event::Init => {
                        self.count_listing("deployments");
                        listing.deployments = Some(BTreeMap::new());
                    }
                    Event::InitDone => {
                        let fresh = listing.deployments.take().unwrap_or_default();
                        changed.extend(state.deployments.keys().cloned());
                        changed.extend(fresh.keys().cloned());
                        state.deployments = fresh;
                        listing.deployments_listed = true;
                    }
                },
                Seen::Pod(event) => match event {
                    Event::Apply(p) | Event::InitApply(p) if listing.pods.is_some() => {
                        if let (Some(list), Some(s)) = (listing.pods.as_mut(), PodSummary::of(&p)) {
                            list.push(s);
                        }
                    }
                    Event::Apply(p) | Event::InitApply(p) => {
                        if let Some(s) = PodSummary::of(&p) {
                            changed.extend(state.put_pod(s));
                        }
                    }
                    Event::Delete(p) => {
                        if let Some(name) = p.metadata.name {
                            changed.extend(state.remove_pod(&name));
                        }
                    }
                    Event::Init => {
                        self.count_listing("pods");
                        listing.pods = Some(Vec::new());
                    }
                    Event::InitDone => {
                        changed.extend(state.pods.keys().cloned());
                        state.pods.clear();
                        state.owner_of.clear();
                        for pod in listing.pods.take().unwrap_or_default() {
                            changed.extend(state.put_pod(pod));
                        }
                        listing.pods_listed = true;
                    }
                },
            }
        }
        self.publish(changed);
        if listing.deployments_listed && listing.pods_listed {
            self.set_link(Link::Live);
        }
    }

    /// Works out the shown state of each named deployment again and sends what changed.
    fn publish(&self, mut names: Vec<String>) {
        names.sort_unstable();
        names.dedup();
        let mut updates = Vec::new();
        {
            let mut state = self.inner.state.write().unwrap_or_else(|p| p.into_inner());
            for name in names {
                let now = state.deployments.get(&name).map(|summary| {
                    let pods: Vec<PodSummary> =
                        state.pods.get(&name).map(|p| p.values().cloned().collect()).unwrap_or_default();
                    DeploymentState { health: health(summary, pods.iter()), summary: summary.clone(), pods }
                });
                match now {
                    Some(now) if state.shown.get(&name).is_some_and(|shown| **shown == now) => {}
                    Some(now) => {
                        let now = Arc::new(now);
                        state.shown.insert(name, now.clone());
                        updates.push(Update::Changed(now));
                    }
                    None => {
                        if state.shown.remove(&name).is_some() {
                            updates.push(Update::Removed(name));
                        }
                    }
                }
            }
        }
        for update in updates {
            // No subscriber is not an error.
            let _ = self.inner.updates.send(update);
        }
    }
}

impl State {
    /// Files a pod under its deployment; returns the deployments whose pods changed.
    fn put_pod(&mut self, pod: PodSummary) -> Vec<String> {
        let mut touched = self.remove_pod(&pod.name);
        if let Some(owner) = pod.deployment.clone() {
            self.owner_of.insert(pod.name.clone(), owner.clone());
            self.pods.entry(owner.clone()).or_default().insert(pod.name.clone(), pod);
            touched.push(owner);
        }
        touched
    }

    fn remove_pod(&mut self, name: &str) -> Vec<String> {
        let Some(owner) = self.owner_of.remove(name) else { return Vec::new() };
        if let Some(pods) = self.pods.get_mut(&owner) {
            pods.remove(name);
            if pods.is_empty() {
                self.pods.remove(&owner);
            }
        }
        vec![owner]
    }
}

enum Seen {
    Deployment(Event<Deployment>),
    Pod(Event<Pod>),
}

/// A relist in progress: objects buffered until the listing is complete, so a relist never
/// shows a half-empty namespace.
#[derive(Default)]
struct Listing {
    deployments: Option<BTreeMap<String, DeploymentSummary>>,
    pods: Option<Vec<PodSummary>>,
    deployments_listed: bool,
    pods_listed: bool,
}

fn watcher_error(e: watcher::Error) -> kube::Error {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => kube::Error::Api(status),
        other => kube::Error::Service(other.to_string().into()),
    }
}
