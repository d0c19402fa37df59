//! CodePipeline's state changes, pushed: an EventBridge rule sends them to an SQS queue
//! (`aws.events_queue`), a consumer here long-polls it and refreshes the pipeline at once, and
//! the pollers then read an idle pipeline seldom. SQS hands each message to one replica, so
//! that replica counts the pipeline up in the store (`pipeline_signals`) and every other
//! replica, reading those counts each second, refreshes it too.
//!
//! A feed that cannot reach its queue, or has not heard from it (an empty long poll counts)
//! for [`QUIET`], is down: its pipelines are polled as if there were no queue until it is
//! heard again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use serde_json::Value;
use sqlx::Row;

use super::Pipelines;
use crate::config::Environment;
use crate::store::{Store, StoreError};

/// How long a feed may go without an answer from its queue before its pipelines are polled
/// again as if it had none (a long poll answers at least every 20 s).
pub const QUIET: Duration = Duration::from_secs(60);

/// How long a long poll waits for a message (SQS's longest).
const LONG_POLL_SECONDS: i32 = 20;

/// How often each replica reads the counts other replicas left.
const RELAY_EVERY: Duration = Duration::from_secs(1);

/// The detail types CodePipeline publishes, all of which change what a pipeline page shows.
pub const DETAIL_TYPES: [&str; 3] = [
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "CodePipeline Action Execution State Change",
];

/// What each environment's feed last heard. Cheap to clone.
#[derive(Clone, Default)]
pub struct Feeds {
    health: Arc<Mutex<HashMap<String, Health>>>,
}

#[derive(Debug, Clone, Default)]
struct Health {
    heard: Option<Instant>,
    problem: Option<String>,
    events: u64,
}

/// An environment's feed, for pages and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// The queue answers: pipelines refresh on its events.
    pub pushed: bool,
    /// Why it does not, when it does not.
    pub problem: Option<String>,
    /// The CodePipeline events it delivered since the start.
    pub events: u64,
}

impl Feeds {
    fn update(&self, environments: &[String], change: impl Fn(&mut Health)) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        for env in environments {
            change(health.entry(env.clone()).or_default());
        }
    }

    /// Whether `environment`'s pipelines refresh on events now.
    pub fn pushed(&self, environment: &str) -> bool {
        self.status(environment).is_some_and(|s| s.pushed)
    }

    /// `None` when the environment has no events queue.
    pub fn status(&self, environment: &str) -> Option<FeedStatus> {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let h = health.get(environment)?;
        let recent = h.heard.is_some_and(|at| at.elapsed() < QUIET);
        let problem = match (&h.problem, recent) {
            (Some(p), _) => Some(p.clone()),
            (None, false) => Some("The events queue has not answered yet.".to_owned()),
            (None, true) => None,
        };
        Some(FeedStatus { pushed: problem.is_none(), problem, events: h.events })
    }
}

/// The pipeline an SQS message's body is about, when it is one of CodePipeline's state-change
/// events as EventBridge delivers them.
pub fn pipeline_of(body: &str) -> Option<String> {
    let event: Value = serde_json::from_str(body).ok()?;
    let from_codepipeline = event.get("source").and_then(Value::as_str) == Some("aws.codepipeline");
    let detail_type = event.get("detail-type").and_then(Value::as_str)?;
    if !from_codepipeline || !DETAIL_TYPES.contains(&detail_type) {
        return None;
    }
    event.pointer("/detail/pipeline").and_then(Value::as_str).map(str::to_owned)
}

/// Environments reading the same queue through the same account share one consumer.
fn feed_key(env: &Environment) -> Option<String> {
    let queue = env.aws.events_queue.as_ref()?;
    Some(format!(
        "{queue}|{}|{}|{}",
        env.aws.region.as_deref().unwrap_or(""),
        env.aws.profile.as_deref().unwrap_or(""),
        env.aws_on_sandbox()
    ))
}

/// Starts a consumer per queue and, when there is any, the relay between replicas.
pub(super) fn start(pipelines: &Pipelines, store: Store, replica: String) {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for env in &pipelines.config.environments {
        if let Some(key) = feed_key(env) {
            groups.entry(key).or_default().push(env.name.clone());
        }
    }
    if groups.is_empty() {
        return;
    }
    for environments in groups.into_values() {
        pipelines.feeds.update(&environments, |_| {});
        let consumer =
            Consumer { pipelines: pipelines.clone(), store: store.clone(), replica: replica.clone() };
        tokio::spawn(consumer.run(environments));
    }
    tokio::spawn(relay(pipelines.clone(), store, replica));
}

struct Consumer {
    pipelines: Pipelines,
    store: Store,
    replica: String,
}

impl Consumer {
    async fn run(self, environments: Vec<String>) {
        let Some(env) = self.pipelines.config.environment(&environments[0]).cloned() else { return };
        let Some(queue) = env.aws.events_queue.clone() else { return };
        let client = self.pipelines.aws.sqs(&env).await;
        let mut failures = 0u32;
        loop {
            let url = match resolve(&client, &queue).await {
                Ok(url) => {
                    // The queue answered: events flow from the long poll about to start.
                    self.pipelines.feeds.update(&environments, |h| {
                        h.heard = Some(Instant::now());
                        h.problem = None;
                    });
                    url
                }
                Err(problem) => {
                    self.down(&environments, &problem, &mut failures).await;
                    continue;
                }
            };
            loop {
                let received = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(LONG_POLL_SECONDS)
                    .send()
                    .await;
                let messages = match received {
                    Ok(out) => out.messages.unwrap_or_default(),
                    Err(e) => {
                        let gone = e.as_service_error().is_some_and(|e| e.is_queue_does_not_exist());
                        let problem =
                            format!("Cannot read the events queue {queue}: {}", crate::aws::describe(&e));
                        self.down(&environments, &problem, &mut failures).await;
                        if gone {
                            break;
                        }
                        continue;
                    }
                };
                let came_back = failures > 0;
                failures = 0;
                let mut touched = HashSet::new();
                for message in &messages {
                    if let Some(pipeline) = message.body.as_deref().and_then(pipeline_of) {
                        touched.insert(pipeline);
                    }
                }
                self.pipelines.feeds.update(&environments, |h| {
                    h.heard = Some(Instant::now());
                    h.problem = None;
                    h.events += touched.len() as u64;
                });
                if came_back {
                    // The pollers waited as if unpushed: they may now wait longer.
                    self.poke_all(&environments);
                }
                for pipeline in &touched {
                    for env in environments.iter().filter(|e| self.lists(e, pipeline)) {
                        self.signal(env, pipeline).await;
                    }
                }
                // Every message is deleted, events of other pipelines and other sources too:
                // they were read, and a queue left full would hide the next change.
                if let Err(e) = delete(&client, &url, &messages).await {
                    tracing::warn!(%queue, error = %e, "cannot delete events from the queue");
                }
            }
        }
    }

    fn lists(&self, environment: &str, pipeline: &str) -> bool {
        self.pipelines.check(environment, pipeline).is_ok()
    }

    /// Refreshes the pipeline here and tells the other replicas.
    async fn signal(&self, environment: &str, pipeline: &str) {
        crate::metrics::pipeline_event(environment, pipeline, "queue");
        self.pipelines.poke(environment, pipeline);
        if let Err(e) = count_up(&self.store, environment, pipeline, &self.replica).await {
            tracing::warn!(%environment, %pipeline, error = %e, "cannot tell the other replicas of a pipeline event");
        }
    }

    fn poke_all(&self, environments: &[String]) {
        for env in environments {
            if let Some(env) = self.pipelines.config.environment(env) {
                for pipeline in &env.aws.pipelines {
                    self.pipelines.poke(&env.name, pipeline);
                }
            }
        }
    }

    async fn down(&self, environments: &[String], problem: &str, failures: &mut u32) {
        let was_up = *failures == 0;
        self.pipelines.feeds.update(environments, |h| h.problem = Some(problem.to_owned()));
        if was_up {
            tracing::warn!(environments = ?environments, %problem, "pipeline events are not arriving: polling instead");
            self.poke_all(environments);
        }
        tokio::time::sleep(crate::backoff::jittered(
            *failures,
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .await;
        *failures += 1;
    }
}

async fn resolve(client: &aws_sdk_sqs::Client, queue: &str) -> Result<String, String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_owned());
    }
    let found = client.get_queue_url().queue_name(queue).send().await;
    match found {
        Ok(out) => out.queue_url.ok_or_else(|| format!("SQS answered without the URL of {queue}")),
        Err(e) => Err(format!("Cannot find the events queue {queue}: {}", crate::aws::describe(&e))),
    }
}

async fn delete(
    client: &aws_sdk_sqs::Client,
    url: &str,
    messages: &[aws_sdk_sqs::types::Message],
) -> Result<(), String> {
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle.clone()?)
                .build()
                .ok()
        })
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let out = client
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| crate::aws::describe(&e))?;
    match out.failed.first() {
        Some(failed) => Err(format!("{}: {}", failed.code, failed.message.as_deref().unwrap_or(""))),
        None => Ok(()),
    }
}

/// Counts `pipeline`'s signal up for the other replicas (`by`: who, which they skip when it is
/// themselves).
pub(super) async fn count_up(
    store: &Store,
    environment: &str,
    pipeline: &str,
    by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO pipeline_signals (environment, pipeline, seq, replica) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (environment, pipeline) DO UPDATE SET seq = pipeline_signals.seq + 1, replica = $3",
    )
    .bind(environment)
    .bind(pipeline)
    .bind(by)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Refreshes the pipelines another replica heard an event of.
async fn relay(pipelines: Pipelines, store: Store, replica: String) {
    let mut seen: HashMap<(String, String), i64> = HashMap::new();
    let mut first = true;
    loop {
        let rows = sqlx::query("SELECT environment, pipeline, seq, replica FROM pipeline_signals")
            .fetch_all(store.pool())
            .await;
        match rows {
            Ok(rows) => {
                for row in rows {
                    let (Ok(env), Ok(pipeline), Ok(seq), Ok(by)) = (
                        row.try_get::<String, _>(0),
                        row.try_get::<String, _>(1),
                        row.try_get::<i64, _>(2),
                        row.try_get::<String, _>(3),
                    ) else {
                        continue;
                    };
                    let before = seen.insert((env.clone(), pipeline.clone()), seq);
                    if !first && before != Some(seq) && by != replica {
                        crate::metrics::pipeline_event(&env, &pipeline, "replica");
                        pipelines.poke(&env, &pipeline);
                    }
                }
                first = false;
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the pipeline signals of other replicas"),
        }
        tokio::time::sleep(RELAY_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codepipelines_state_changes_name_a_pipeline() {
        let event = |source: &str, detail_type: &str| {
            serde_json::json!({ "source": source, "detail-type": detail_type, "detail": { "pipeline": "web" } })
                .to_string()
        };
        for detail_type in DETAIL_TYPES {
            assert_eq!(pipeline_of(&event("aws.codepipeline", detail_type)).as_deref(), Some("web"));
        }
        assert_eq!(pipeline_of(&event("aws.codebuild", DETAIL_TYPES[0])), None);
        assert_eq!(pipeline_of(&event("aws.codepipeline", "CodePipeline Webhook Change")), None);
        assert_eq!(pipeline_of("not json"), None);
        assert_eq!(pipeline_of(r#"{"source":"aws.codepipeline","detail-type":"x"}"#), None);
    }
}
