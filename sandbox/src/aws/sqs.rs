//! The simulated SQS (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.<Operation>`): standard queues
//! with visibility timeouts and long polling, as much as a consumer of EventBridge events
//! needs. The sandbox's CodePipeline sends its state-change events to [`EVENTS_QUEUE`], as an
//! EventBridge rule with that queue as its target would.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{AwsError, Caller, Input, Service, Switches, ids};

/// The queue the sandbox's EventBridge rule delivers CodePipeline's events to.
pub const EVENTS_QUEUE: &str = "rollgate-pipeline-events";

/// SQS's default visibility timeout.
const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);
/// The longest long poll SQS allows.
const MAX_WAIT_SECONDS: i64 = 20;

struct Message {
    id: String,
    body: String,
    md5: String,
    sent: SystemTime,
    visible_at: Instant,
    receives: u32,
    /// The handle of the latest receive; only it deletes the message.
    receipt: Option<String>,
}

struct Queue {
    created: SystemTime,
    visibility: Duration,
    messages: VecDeque<Message>,
}

/// The sandbox's queues. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Queues {
    queues: Arc<Mutex<BTreeMap<String, Queue>>>,
    /// Woken when a message is sent, for long polls.
    arrived: Arc<Notify>,
    /// `http://<host:port>`, known once the endpoint is bound; queue URLs start with it.
    base: Arc<OnceLock<String>>,
}

impl Queues {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_endpoint(&self, base: String) {
        let _ = self.base.set(base);
    }

    fn url(&self, name: &str) -> String {
        let base = self.base.get().map_or("http://localhost", String::as_str);
        format!("{base}/{}/{name}", ids::ACCOUNT)
    }

    /// Creates the queue if there is none of that name.
    pub fn ensure(&self, name: &str) {
        self.lock().entry(name.to_owned()).or_insert_with(|| Queue {
            created: SystemTime::now(),
            visibility: DEFAULT_VISIBILITY,
            messages: VecDeque::new(),
        });
    }

    /// Sends `body` to the queue named `name`: the message's id, or `None` when there is no
    /// such queue (an EventBridge target that was deleted: the event is dropped, as AWS drops
    /// it).
    pub fn send(&self, name: &str, body: String) -> Option<String> {
        let mut queues = self.lock();
        let queue = queues.get_mut(name)?;
        let id = ids::uuid();
        queue.messages.push_back(Message {
            id: id.clone(),
            md5: md5_hex(&body),
            body,
            sent: SystemTime::now(),
            visible_at: Instant::now(),
            receives: 0,
            receipt: None,
        });
        drop(queues);
        self.arrived.notify_waiters();
        Some(id)
    }

    /// The queue a `QueueUrl` names (its last path segment), as SQS resolves it.
    fn named<'q>(
        queues: &'q mut BTreeMap<String, Queue>,
        input: &Input,
    ) -> Result<(String, &'q mut Queue), AwsError> {
        let url = input.required_str("QueueUrl")?;
        let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_owned();
        match queues.get_mut(&name) {
            Some(queue) => Ok((name, queue)),
            None => Err(does_not_exist()),
        }
    }

    fn receive(&self, input: &Input) -> Result<Value, AwsError> {
        let max = input.int("MaxNumberOfMessages")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(invalid(format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )));
        }
        let mut queues = self.lock();
        let (_, queue) = Self::named(&mut queues, input)?;
        let visibility = match input.int("VisibilityTimeout")? {
            Some(seconds) if !(0..=43_200).contains(&seconds) => {
                return Err(invalid(format!(
                    "Value {seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
                )));
            }
            Some(seconds) => Duration::from_secs(seconds.unsigned_abs()),
            None => queue.visibility,
        };
        let now = Instant::now();
        let mut messages = Vec::new();
        for message in queue.messages.iter_mut().filter(|m| m.visible_at <= now).take(max as usize) {
            message.receives += 1;
            message.visible_at = now + visibility;
            let receipt = format!("{}#{}", message.id, ids::hex(&ids::random_bytes::<12>()));
            message.receipt = Some(receipt.clone());
            messages.push(json!({
                "MessageId": message.id,
                "ReceiptHandle": receipt,
                "MD5OfBody": message.md5,
                "Body": message.body,
                "Attributes": {
                    "SentTimestamp": millis(message.sent).to_string(),
                    "ApproximateReceiveCount": message.receives.to_string(),
                },
            }));
        }
        Ok(if messages.is_empty() { json!({}) } else { json!({ "Messages": messages }) })
    }

    fn delete(queue: &mut Queue, receipt: &str) -> Result<(), AwsError> {
        let id = receipt.split('#').next().unwrap_or("");
        if id.is_empty() || !receipt.contains('#') {
            return Err(AwsError::client(
                "ReceiptHandleIsInvalid",
                format!("The input receipt handle \"{receipt}\" is not a valid receipt handle."),
            ));
        }
        // A handle of a message already deleted is accepted, as SQS accepts it.
        queue.messages.retain(|m| m.id != id);
        Ok(())
    }
}

fn millis(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

fn md5_hex(body: &str) -> String {
    ids::hex(&Md5::digest(body.as_bytes()))
}

fn does_not_exist() -> AwsError {
    AwsError::client("QueueDoesNotExist", "The specified queue does not exist.")
}

fn invalid(message: String) -> AwsError {
    AwsError::validation(message)
}

impl Service for Queues {
    const TARGET_PREFIX: &'static str = "AmazonSQS";
    const IAM_PREFIX: &'static str = "sqs";
    const CONTENT_TYPE: &'static str = "application/x-amz-json-1.0";

    fn iam_action(&self, operation: &str) -> String {
        format!("sqs:{}", operation.strip_suffix("Batch").unwrap_or(operation))
    }

    fn resources(&self, operation: &str, input: &Input, caller: &Caller) -> Vec<String> {
        let name = match operation {
            "CreateQueue" | "GetQueueUrl" => input.str("QueueName").ok().flatten().unwrap_or(""),
            "ListQueues" => return vec!["*".to_owned()],
            _ => input.str("QueueUrl").ok().flatten().and_then(|u| u.rsplit('/').next()).unwrap_or(""),
        };
        vec![format!("arn:aws:sqs:{}:{}:{name}", caller.region, ids::ACCOUNT)]
    }

    fn call(&self, operation: &str, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
        match operation {
            "CreateQueue" => {
                let name = input.required_str("QueueName")?;
                let valid = !name.is_empty()
                    && name.len() <= 80
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    return Err(invalid(
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                            .into(),
                    ));
                }
                self.ensure(name);
                Ok(json!({ "QueueUrl": self.url(name) }))
            }
            "GetQueueUrl" => {
                let name = input.required_str("QueueName")?;
                if self.lock().contains_key(name) {
                    Ok(json!({ "QueueUrl": self.url(name) }))
                } else {
                    Err(does_not_exist())
                }
            }
            "ListQueues" => {
                let prefix = input.str("QueueNamePrefix")?.unwrap_or("");
                let urls: Vec<String> =
                    self.lock().keys().filter(|n| n.starts_with(prefix)).map(|n| self.url(n)).collect();
                Ok(if urls.is_empty() { json!({}) } else { json!({ "QueueUrls": urls }) })
            }
            "DeleteQueue" => {
                let mut queues = self.lock();
                let (name, _) = Self::named(&mut queues, input)?;
                queues.remove(&name);
                Ok(json!({}))
            }
            "GetQueueAttributes" => {
                let mut queues = self.lock();
                let (name, queue) = Self::named(&mut queues, input)?;
                let now = Instant::now();
                let visible = queue.messages.iter().filter(|m| m.visible_at <= now).count();
                Ok(json!({ "Attributes": {
                    "QueueArn": format!("arn:aws:sqs:{}:{}:{name}", caller.region, ids::ACCOUNT),
                    "ApproximateNumberOfMessages": visible.to_string(),
                    "ApproximateNumberOfMessagesNotVisible": (queue.messages.len() - visible).to_string(),
                    "VisibilityTimeout": queue.visibility.as_secs().to_string(),
                    "CreatedTimestamp": (millis(queue.created) / 1000).to_string(),
                }}))
            }
            "SendMessage" => {
                let body = input.required_str("MessageBody")?;
                if body.is_empty() || body.len() > 262_144 {
                    return Err(invalid("The message body must be 1 to 262,144 bytes long.".into()));
                }
                let mut queues = self.lock();
                let (name, _) = Self::named(&mut queues, input)?;
                drop(queues);
                // Deleted between the two locks: as if it had been deleted before.
                let id = self.send(&name, body.to_owned()).ok_or_else(does_not_exist)?;
                Ok(json!({ "MessageId": id, "MD5OfMessageBody": md5_hex(body) }))
            }
            "ReceiveMessage" => self.receive(input),
            "DeleteMessage" => {
                let mut queues = self.lock();
                let (_, queue) = Self::named(&mut queues, input)?;
                Self::delete(queue, input.required_str("ReceiptHandle")?)?;
                Ok(json!({}))
            }
            "DeleteMessageBatch" => {
                let mut queues = self.lock();
                let (_, queue) = Self::named(&mut queues, input)?;
                let entries = input.value("Entries").and_then(Value::as_array).cloned().unwrap_or_default();
                if entries.is_empty() {
                    return Err(AwsError::client(
                        "EmptyBatchRequest",
                        "There should be at least one DeleteMessageBatchRequestEntry in the request.",
                    ));
                }
                if entries.len() > 10 {
                    return Err(AwsError::client(
                        "TooManyEntriesInBatchRequest",
                        format!(
                            "Maximum number of entries per request are 10. You have sent {}.",
                            entries.len()
                        ),
                    ));
                }
                let (mut successful, mut failed) = (Vec::new(), Vec::new());
                for entry in entries {
                    let id = entry.get("Id").and_then(Value::as_str).unwrap_or("");
                    let receipt = entry.get("ReceiptHandle").and_then(Value::as_str).unwrap_or("");
                    match Self::delete(queue, receipt) {
                        Ok(()) => successful.push(json!({ "Id": id })),
                        Err(e) => failed.push(json!({
                            "Id": id, "SenderFault": true, "Code": "ReceiptHandleIsInvalid", "Message": e.message,
                        })),
                    }
                }
                Ok(json!({ "Successful": successful, "Failed": failed }))
            }
            other => Err(AwsError::unknown_operation(&format!(
                "{other} is not an operation the sandbox's SQS serves"
            ))),
        }
    }
}

/// The SQS endpoint: the shared AWS JSON front door, with ReceiveMessage's long poll
/// (`WaitTimeSeconds`) waiting here for a message to arrive or become visible again.
pub(crate) fn router(queues: Queues, switches: Switches) -> Router {
    Router::new().route(
        "/",
        post(move |headers: HeaderMap, body: Bytes| async move {
            let wait = long_poll(&headers, &body);
            let deadline = Instant::now() + wait;
            loop {
                let arrived = queues.arrived.notified();
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || queues.has_visible(&body) {
                    return super::dispatch(&queues, &switches, None, &headers, &body).into_response();
                }
                // Messages also become visible again when their timeout passes: look each second.
                let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), arrived).await;
            }
        }),
    )
}

/// How long a ReceiveMessage request may wait (zero for every other request).
fn long_poll(headers: &HeaderMap, body: &[u8]) -> Duration {
    let receive = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == "AmazonSQS.ReceiveMessage");
    if !receive {
        return Duration::ZERO;
    }
    let seconds = Input::parse(body)
        .ok()
        .and_then(|i| i.int("WaitTimeSeconds").ok().flatten())
        .unwrap_or(0)
        .clamp(0, MAX_WAIT_SECONDS);
    Duration::from_secs(seconds.unsigned_abs())
}

impl Queues {
    /// Whether the queue a ReceiveMessage body names now holds a visible message (or the
    /// request is one to answer at once: a bad body or no such queue).
    fn has_visible(&self, body: &[u8]) -> bool {
        let Ok(input) = Input::parse(body) else { return true };
        let mut queues = self.lock();
        let now = Instant::now();
        Self::named(&mut queues, &input).map_or(true, |(_, q)| q.messages.iter().any(|m| m.visible_at <= now))
    }
}
