//! The process's metrics, for Prometheus (served by the server's `/metrics`, which says who
//! may read them).
//!
//! One set per process, made on first use. Counters and histograms are recorded where things
//! happen, through the functions here (one per kind of event); the gauges that describe the
//! world rather than this process (open change requests, upstream reachability, cluster token
//! expiry) are set by the scrape just before [`encode`].

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// How a call to an upstream system ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// It answered with success.
    Ok,
    /// It answered with an error (refused, not found, conflict, throttled, …).
    Error,
    /// No answer: no connection, a timeout, a broken stream.
    Unreachable,
}

impl CallOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Unreachable => "unreachable",
        }
    }

    /// From an HTTP status, when there was an answer.
    pub fn of_status(status: u16) -> Self {
        if status < 400 { CallOutcome::Ok } else { CallOutcome::Error }
    }
}

/// The states a namespace's watch reports (the deployments pages show the same).
pub const WATCH_STATES: [&str; 3] = ["connecting", "live", "reconnecting"];

struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    upstream_calls: IntCounterVec,
    upstream_up: IntGaugeVec,
    watch_link: IntGaugeVec,
    watch_listings: IntCounterVec,
    poll_interval: GaugeVec,
    pipeline_events: IntCounterVec,
    open_streams: IntGaugeVec,
    open_changes: IntGaugeVec,
    executions: IntCounterVec,
    execution_seconds: HistogramVec,
    sign_in_failures: IntCounterVec,
    sign_in_lockouts: IntCounter,
    token_expiry: GaugeVec,
}

/// Latency buckets (seconds) for page and API requests and for changes, which take longer.
const REQUEST_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const EXECUTION_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
            // Only a name registered twice fails, which the test of this module would show.
            registry.register(Box::new(c.clone())).expect("each metric is registered once");
            c
        }
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter"))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge"))
        };
        let float_gauge = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, GaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge"))
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            register(&registry, HistogramVec::new(opts, labels).expect("a valid histogram"))
        };
        Self {
            http_requests: counter(
                "rollgate_http_requests_total",
                "HTTP requests answered, by route (as declared), method and status.",
                &["route", "method", "status"],
            ),
            http_seconds: histogram(
                "rollgate_http_request_duration_seconds",
                "Time to answer an HTTP request (to the headers, for a stream), by route and method.",
                &["route", "method"],
                &REQUEST_BUCKETS,
            ),
            upstream_calls: counter(
                "rollgate_upstream_calls_total",
                "Calls to Kubernetes, CodePipeline and SSM, by system, operation and outcome (ok, error, unreachable).",
                &["system", "operation", "outcome"],
            ),
            upstream_up: gauge(
                "rollgate_upstream_up",
                "1 when the environment's upstream answered its last connection check, 0 when not.",
                &["environment", "system"],
            ),
            watch_link: gauge(
                "rollgate_watch_link",
                "1 for the state a namespace's deployment watch is in (connecting, live, reconnecting), 0 for the others.",
                &["environment", "namespace", "state"],
            ),
            watch_listings: counter(
                "rollgate_watch_listings_total",
                "Full listings a namespace's watch made: its first, and each relist after a lost watch.",
                &["environment", "namespace", "resource"],
            ),
            poll_interval: float_gauge(
                "rollgate_pipeline_poll_interval_seconds",
                "The wait before a pipeline's next read (longer while backing off); 0 while nobody looks.",
                &["environment", "pipeline"],
            ),
            pipeline_events: counter(
                "rollgate_pipeline_events_total",
                "Pipeline refreshes caused by CodePipeline's events: heard from the queue (queue) or told by another replica (replica).",
                &["environment", "pipeline", "source"],
            ),
            open_streams: gauge(
                "rollgate_open_streams",
                "Live streams (server-sent events) open now, by kind.",
                &["kind"],
            ),
            open_changes: gauge(
                "rollgate_change_requests_open",
                "Change requests not finished (pending, approved, executing), by environment, state and kind, in the store all replicas share.",
                &["environment", "state", "kind"],
            ),
            executions: counter(
                "rollgate_change_executions_total",
                "Changes this replica carried out or found interrupted, by environment, kind and outcome (executed, failed, interrupted).",
                &["environment", "kind", "outcome"],
            ),
            execution_seconds: histogram(
                "rollgate_change_execution_duration_seconds",
                "Time a change took to carry out, by kind.",
                &["kind"],
                &EXECUTION_BUCKETS,
            ),
            sign_in_failures: counter(
                "rollgate_sign_in_failures_total",
                "Sign-ins that failed, by method (password, sso).",
                &["method"],
            ),
            sign_in_lockouts: register(
                &registry,
                IntCounter::new(
                    "rollgate_sign_in_lockouts_total",
                    "Sign-ins refused unchecked because of too many recent failures for the name or the address.",
                )
                .expect("a valid counter"),
            ),
            token_expiry: float_gauge(
                "rollgate_cluster_token_expires_in_seconds",
                "Seconds until the cluster token Rollgate uses in the environment expires (negative: expired).",
                &["environment"],
            ),
            registry,
        }
    }
}

fn metrics() -> &'static Metrics {
    &METRICS
}

pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let m = metrics();
    let status = status.to_string();
    m.http_requests.with_label_values(&[route, method, status.as_str()]).inc();
    m.http_seconds.with_label_values(&[route, method]).observe(took.as_secs_f64());
}

/// `system` is `kubernetes`, `codepipeline` or `ssm`.
pub fn upstream_call(system: &str, operation: &str, outcome: CallOutcome) {
    metrics().upstream_calls.with_label_values(&[system, operation, outcome.as_str()]).inc();
}

pub fn watch_link(environment: &str, namespace: &str, state: &str) {
    for s in WATCH_STATES {
        metrics().watch_link.with_label_values(&[environment, namespace, s]).set(i64::from(s == state));
    }
}

/// `resource` is `deployments` or `pods`.
pub fn watch_listing(environment: &str, namespace: &str, resource: &str) {
    metrics().watch_listings.with_label_values(&[environment, namespace, resource]).inc();
}

/// `source` is `queue` (this replica heard the event) or `replica` (another one did).
pub fn pipeline_event(environment: &str, pipeline: &str, source: &str) {
    metrics().pipeline_events.with_label_values(&[environment, pipeline, source]).inc();
}

/// `None`: the poller waits for someone to look.
pub fn poll_interval(environment: &str, pipeline: &str, wait: Option<Duration>) {
    let seconds = wait.map_or(0.0, |w| w.as_secs_f64());
    metrics().poll_interval.with_label_values(&[environment, pipeline]).set(seconds);
}

/// Counts an open stream of `kind` until dropped.
pub struct OpenStream(&'static str);

impl OpenStream {
    pub fn new(kind: &'static str) -> Self {
        metrics().open_streams.with_label_values(&[kind]).inc();
        Self(kind)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics().open_streams.with_label_values(&[self.0]).dec();
    }
}

/// `outcome` is `executed`, `failed` or `interrupted`; `took` is unknown for an interrupted one.
pub fn change_executed(environment: &str, kind: &str, outcome: &str, took: Option<Duration>) {
    let m = metrics();
    m.executions.with_label_values(&[environment, kind, outcome]).inc();
    if let Some(took) = took {
        m.execution_seconds.with_label_values(&[kind]).observe(took.as_secs_f64());
    }
}

/// `method` is `password` or `sso`.
pub fn sign_in_failed(method: &str) {
    metrics().sign_in_failures.with_label_values(&[method]).inc();
}

pub fn sign_in_locked_out() {
    metrics().sign_in_lockouts.inc();
}

/// The world as the scrape found it: the gauges that are read, not counted.
#[derive(Debug, Default)]
pub struct World {
    /// (environment, state, kind, count).
    pub open_changes: Vec<(String, String, String, i64)>,
    /// (environment, system, up).
    pub upstreams: Vec<(String, &'static str, bool)>,
    /// (environment, seconds left).
    pub token_expiry: Vec<(String, f64)>,
}

/// The text Prometheus reads, with the world's gauges set from `world` first (series the
/// world no longer has disappear).
pub fn encode(world: &World) -> String {
    static ONE_SCRAPE_AT_A_TIME: Mutex<()> = Mutex::new(());
    // Two scrapes at once would write each other's world between setting and reading it.
    let _scraping = ONE_SCRAPE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let m = metrics();
    m.open_changes.reset();
    for (env, state, kind, count) in &world.open_changes {
        m.open_changes.with_label_values(&[env.as_str(), state.as_str(), kind.as_str()]).set(*count);
    }
    m.upstream_up.reset();
    for (env, system, up) in &world.upstreams {
        m.upstream_up.with_label_values(&[env.as_str(), *system]).set(i64::from(*up));
    }
    m.token_expiry.reset();
    for (env, seconds) in &world.token_expiry {
        m.token_expiry.with_label_values(&[env.as_str()]).set(*seconds);
    }
    let mut out = Vec::new();
    // Writing into a Vec fails only for a metric family the encoder cannot write, which the
    // registry never holds; an empty answer would show as missing series.
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_written_once_with_its_help() {
        http_request("/healthz", "GET", 200, Duration::from_millis(3));
        upstream_call("ssm", "GetParameter", CallOutcome::Unreachable);
        watch_link("staging", "web", "live");
        let stream = OpenStream::new("logs");
        let world = World {
            open_changes: vec![("production".into(), "pending".into(), "deploy".into(), 2)],
            upstreams: vec![("production".into(), "kubernetes", false)],
            token_expiry: vec![("staging".into(), 86_400.0)],
        };
        let text = encode(&world);
        for line in [
            "rollgate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
            "rollgate_upstream_calls_total{operation=\"GetParameter\",outcome=\"unreachable\",system=\"ssm\"}",
            "rollgate_watch_link{environment=\"staging\",namespace=\"web\",state=\"live\"} 1",
            "rollgate_watch_link{environment=\"staging\",namespace=\"web\",state=\"reconnecting\"} 0",
            "rollgate_open_streams{kind=\"logs\"}",
            "rollgate_change_requests_open{environment=\"production\",kind=\"deploy\",state=\"pending\"} 2",
            "rollgate_upstream_up{environment=\"production\",system=\"kubernetes\"} 0",
            "rollgate_cluster_token_expires_in_seconds{environment=\"staging\"} 86400",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        drop(stream);
        let later = encode(&World::default());
        assert!(!later.contains("rollgate_change_requests_open{"), "the world's gauges follow the world");
        assert!(later.contains("# HELP rollgate_sign_in_lockouts_total"));
    }

    #[test]
    fn outcomes_of_statuses() {
        assert_eq!(CallOutcome::of_status(200), CallOutcome::Ok);
        assert_eq!(CallOutcome::of_status(304), CallOutcome::Ok);
        assert_eq!(CallOutcome::of_status(403), CallOutcome::Error);
        assert_eq!(CallOutcome::of_status(503), CallOutcome::Error);
    }
}
