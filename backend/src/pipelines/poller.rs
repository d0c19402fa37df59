//! One poller per pipeline, shared by everyone looking.
//!
//! The poller asks CodePipeline on everyone's behalf and hands out the last answer through a
//! `watch` channel: a page load or a live stream reads that answer, never AWS, so the number
//! of AWS calls depends on time, not on the number of viewers. It asks at once when an event
//! says the pipeline changed ([`super::events`]); without a working events queue it asks
//! often while an execution runs and seldom when the pipeline is idle, and with one, seldom
//! in both cases (a safety net for a lost event). A read asks GetPipelineState first and the
//! other two calls only when the stages moved (or every [`FULL_READ_EVERY`] reads), and every
//! call waits its turn in the [`Budget`] the pollers of one AWS account and Region share. It
//! stops asking when nobody has looked for a while, backs off (doubling, jittered) on
//! throttling or an unreachable endpoint, and keeps the last good state with the time it was
//! read and the reason the next read failed, so pages say how old what they show is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::budget::Budget;
use super::read::{self, PipelineState};
use super::{PipelineError, Pipelines};
use crate::clock::Timestamp;
use crate::metrics;

/// A read whose stages did not move skips the latest execution's two calls; this often it
/// makes them anyway, for what GetPipelineState does not show.
pub const FULL_READ_EVERY: u32 = 10;

/// How often to ask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollTimings {
    /// While an execution runs.
    pub running: Duration,
    /// While nothing runs.
    pub idle: Duration,
    /// The longest wait after throttling or failures.
    pub max_backoff: Duration,
    /// How long to keep polling after the last viewer left or the last page read.
    pub linger: Duration,
    /// While an execution runs and events arrive.
    pub pushed_running: Duration,
    /// While nothing runs and events arrive: a read is three calls, so fifteen minutes keeps
    /// an idle pipeline at one call per five minutes.
    pub pushed_idle: Duration,
    /// The pollers' calls per second to one AWS account and Region, all together
    /// (`codepipeline_reads_per_second` in the configuration).
    pub reads_per_second: f64,
}

impl Default for PollTimings {
    fn default() -> Self {
        Self {
            running: Duration::from_secs(3),
            idle: Duration::from_secs(20),
            max_backoff: Duration::from_secs(120),
            linger: Duration::from_secs(60),
            pushed_running: Duration::from_secs(30),
            pushed_idle: Duration::from_secs(15 * 60),
            reads_per_second: crate::config::DEFAULT_CODEPIPELINE_READS_PER_SECOND,
        }
    }
}

/// What the poller last knew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The last state read successfully.
    pub state: Option<Arc<PipelineState>>,
    /// When it was read.
    pub fetched: Option<Timestamp>,
    /// Why the latest read failed, when it did (the state shown is then older).
    pub problem: Option<PipelineError>,
    /// Reads tried so far (successful or not).
    pub polls: u64,
    /// How long until the next read, unless an event comes first.
    pub next_in: Duration,
    /// Whether CodePipeline's events refresh it (its environment's events queue answers).
    pub pushed: bool,
    /// When the read that made it began.
    pub began: Option<Instant>,
}

#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// Woken when someone starts looking (the poller may be parked).
    interest: Notify,
    /// Woken when an action asks for a fresh read.
    poke: Notify,
    /// The last time a page read the snapshot.
    read_at: Mutex<Instant>,
    /// AWS calls made by this poller (its own client counts them, retries included).
    calls: Arc<AtomicU64>,
}

impl Poller {
    pub(super) fn start(pipelines: Pipelines, environment: &str, pipeline: &str) -> Self {
        let (snapshot, _) = watch::channel(Arc::new(Snapshot::default()));
        let poller = Self {
            inner: Arc::new(Inner {
                snapshot,
                interest: Notify::new(),
                poke: Notify::new(),
                read_at: Mutex::new(Instant::now()),
                calls: Arc::new(AtomicU64::new(0)),
            }),
        };
        tokio::spawn(poller.clone().run(pipelines, environment.to_owned(), pipeline.to_owned()));
        poller
    }

    /// Follows every new snapshot (a live stream). Counts as interest while held.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        let receiver = self.inner.snapshot.subscribe();
        self.inner.interest.notify_one();
        receiver
    }

    /// The latest snapshot for a page: waits (a little) for the first read.
    pub async fn current(&self) -> Arc<Snapshot> {
        *self.inner.read_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let mut receiver = self.inner.snapshot.subscribe();
        self.inner.interest.notify_one();
        let first = receiver.wait_for(|s| s.polls > 0);
        let _ = tokio::time::timeout(Duration::from_secs(15), first).await;
        receiver.borrow().clone()
    }

    /// Asks for a fresh read now (after an action changed the pipeline).
    pub fn poke(&self) {
        self.inner.poke.notify_one();
    }

    /// Asks for a read now and waits for it (at most `within`): the page someone comes back
    /// to after acting shows what they did, not a read that began before.
    pub async fn fresh(&self, within: Duration) -> Arc<Snapshot> {
        let asked = Instant::now();
        *self.inner.read_at.lock().unwrap_or_else(|p| p.into_inner()) = asked;
        let mut receiver = self.inner.snapshot.subscribe();
        self.inner.interest.notify_one();
        self.poke();
        let read = receiver.wait_for(|s| s.began.is_some_and(|b| b >= asked));
        let _ = tokio::time::timeout(within, read).await;
        receiver.borrow().clone()
    }

    /// The AWS calls this poller made.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// How many live streams follow it.
    pub fn viewers(&self) -> usize {
        self.inner.snapshot.receiver_count()
    }

    fn interested(&self, linger: Duration) -> bool {
        self.inner.snapshot.receiver_count() > 0
            || self.inner.read_at.lock().unwrap_or_else(|p| p.into_inner()).elapsed() < linger
    }

    async fn run(self, pipelines: Pipelines, environment: String, pipeline: String) {
        let mut failures = 0u32;
        let mut client = None;
        let budget = pipelines.budget(&environment);
        let mut since_full = 0u32;
        loop {
            let timings = pipelines.timings();
            while !self.interested(timings.linger) {
                // Nobody looks: no calls until someone does.
                metrics::poll_interval(&environment, &pipeline, None);
                self.inner.interest.notified().await;
            }
            if client.is_none() {
                client = pipelines.build_client(&environment, self.inner.calls.clone()).await.ok();
            }
            let began = Instant::now();
            let previous = self.inner.snapshot.borrow().state.clone();
            let previous = previous.as_deref().filter(|_| since_full + 1 < FULL_READ_EVERY);
            let per_second = timings.reads_per_second;
            let result = match &client {
                Some(client) => read_within(client, &pipeline, &budget, per_second, previous).await,
                None => Err(PipelineError::Unexpected(format!("{environment} is no longer configured"))),
            };
            let result = result.map(|(state, full)| {
                since_full = if full { 0 } else { since_full + 1 };
                state
            });
            match &result {
                Err(PipelineError::Throttled(_)) => budget.throttled(),
                Ok(_) => budget.answered(),
                Err(_) => {}
            }
            if let Err(PipelineError::Credentials(_)) = &result {
                // Build it again next time: the credentials may have been renewed.
                client = None;
            }
            let pushed = pipelines.feeds.pushed(&environment);
            let wait = match &result {
                Ok(state) => {
                    failures = 0;
                    match (pushed, state.running()) {
                        (true, true) => timings.pushed_running,
                        (true, false) => timings.pushed_idle,
                        (false, true) => timings.running,
                        (false, false) => timings.idle,
                    }
                }
                Err(e) => {
                    let next = crate::backoff::jittered(failures, timings.running * 2, timings.max_backoff);
                    failures += 1;
                    if !e.transient() {
                        tracing::warn!(%environment, %pipeline, error = %e, "reading the pipeline failed");
                    }
                    next
                }
            };
            metrics::poll_interval(&environment, &pipeline, Some(wait));
            self.inner.snapshot.send_modify(|snapshot| {
                let mut next = (**snapshot).clone();
                next.polls += 1;
                next.began = Some(began);
                next.next_in = wait;
                next.pushed = pushed;
                match result {
                    Ok(state) => {
                        next.state = Some(Arc::new(state));
                        next.fetched = Some(Timestamp::now());
                        next.problem = None;
                    }
                    Err(e) => next.problem = Some(e),
                }
                *snapshot = Arc::new(next);
            });
            // A poke cuts the wait short, except while backing off (AWS asked for less).
            if failures > 0 {
                tokio::time::sleep(wait).await;
            } else {
                let _ = tokio::time::timeout(wait, self.inner.poke.notified()).await;
            }
        }
    }
}

/// Reads the pipeline, each call in its turn of `budget`: the stages, then the latest
/// execution and its actions unless the stages are those of `previous` (whose latest
/// execution then still holds). Says whether it made all three calls.
async fn read_within(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    budget: &Budget,
    per_second: f64,
    previous: Option<&PipelineState>,
) -> Result<(PipelineState, bool), PipelineError> {
    budget.take(1, per_second).await;
    let stages = read::stages(client, pipeline).await?;
    if let Some(previous) = previous.filter(|p| p.stages == stages.stages) {
        return Ok((stages.with(previous.latest.clone(), previous.latest_actions.clone()), false));
    }
    budget.take(2, per_second).await;
    let (latest, actions) = read::latest(client, pipeline).await?;
    Ok((stages.with(latest, actions), true))
}
