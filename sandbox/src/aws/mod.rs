//! The AWS JSON 1.1 front door shared by the simulated CodePipeline and SSM: requests are
//! `POST /` with `X-Amz-Target: <service prefix>.<Operation>` and a JSON object body; answers
//! are JSON, errors `{"__type": ..., "message": ...}` with the exception names and status codes
//! AWS uses. SigV4 signatures are read (for the caller's access key and region) but not
//! verified: the sandbox has no secrets to check them against.
//!
//! - `error`: [`AwsError`], the one error type every operation returns.
//! - `input`: typed reads of request fields, with AWS's validation wording.
//! - `ids`: request-independent helpers (UUIDs, timestamps, ARNs).
//! - `ssm`: Parameter Store.
//! - `codepipeline`: pipelines, executions on a clock, approvals, the job API.

mod error;
mod ids;
mod input;
mod throttle;

pub(crate) mod cloudwatch;
pub(crate) mod codepipeline;
pub(crate) mod sqs;
pub(crate) mod ssm;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

pub(crate) use error::AwsError;
pub(crate) use input::Input;

pub use codepipeline::{Failure, PipelineTimings};
pub use throttle::{OperationCalls, RateLimit};

use crate::World;
use crate::kubernetes::{Cluster, DEPLOYER_SERVICE_ACCOUNT};
use crate::registry::Registry;

/// Who sent a request, as far as the SigV4 `Authorization` header says: its access key and
/// the region it signed for. Used for ARNs and for "who approved" fields.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub access_key: String,
    pub region: String,
}

impl Caller {
    fn from_headers(headers: &HeaderMap) -> Self {
        // `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, ...`
        let scope = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("Credential=").nth(1))
            .and_then(|v| v.split([',', ' ']).next())
            .unwrap_or("");
        let mut parts = scope.split('/');
        let access_key = parts.next().filter(|k| !k.is_empty()).unwrap_or("anonymous").to_owned();
        let region = parts.nth(1).filter(|r| !r.is_empty()).unwrap_or(ids::DEFAULT_REGION).to_owned();
        Self { access_key, region }
    }

    /// The IAM identity the sandbox records for this caller.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user/{}", ids::ACCOUNT, self.access_key)
    }
}

/// One AWS JSON service: its target prefix and its operations.
pub(crate) trait Service: Send + Sync + 'static {
    /// The part of `X-Amz-Target` before the dot.
    const TARGET_PREFIX: &'static str;

    /// The service's prefix in IAM actions (`ssm` in `ssm:GetParameter`).
    const IAM_PREFIX: &'static str;

    /// The IAM action that authorizes `operation` (batch operations are authorized as the
    /// single one, as SQS's are).
    fn iam_action(&self, operation: &str) -> String {
        format!("{}:{operation}", Self::IAM_PREFIX)
    }

    /// The media type of its answers: AWS JSON 1.1, or 1.0 for the newer services (SQS).
    const CONTENT_TYPE: &'static str = "application/x-amz-json-1.1";

    /// The ARNs IAM would authorize a call of `operation` against, as the service
    /// authorization reference names them; `*` for operations that take no resource.
    fn resources(&self, operation: &str, input: &Input, caller: &Caller) -> Vec<String>;

    /// Runs one operation on a parsed body. Unknown operations answer
    /// [`AwsError::unknown_operation`].
    fn call(&self, operation: &str, input: &Input, caller: &Caller) -> Result<Value, AwsError>;
}

/// Switches that change how the sandbox's AWS endpoints behave, for tests and demos.
#[derive(Clone, Default)]
pub(crate) struct Switches {
    throttled: Arc<AtomicBool>,
    /// Operations whose next call is refused once (a failure in the middle of a flow).
    refuse_next: Arc<std::sync::Mutex<Vec<String>>>,
    /// Reads that asked for SecureString values decrypted (`WithDecryption: true`): tests
    /// check that showing a secret's metadata never reads the secret.
    decrypting_reads: Arc<AtomicU64>,
    /// Each IAM action and resource asked for (a set: a poller's thousandth call adds nothing).
    accesses: Arc<std::sync::Mutex<BTreeSet<Access>>>,
    /// Every operation's answer, once a test asks for them (`Aws::record_exchanges`).
    exchanges: Arc<std::sync::Mutex<Option<Vec<Exchange>>>>,
}

/// One answer of an AWS endpoint: which operation, its HTTP status and its JSON body (the
/// output, or `{"__type", "message"}`), for checking against the service's model.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The `X-Amz-Target` prefix: `CodePipeline_20150709`, `AmazonSSM` or `AmazonSQS`.
    pub service: &'static str,
    pub operation: String,
    pub status: u16,
    pub body: Value,
}

/// An IAM action and the resource it was asked for, as a policy must allow it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    /// `ssm:GetParameter`.
    pub action: String,
    /// An ARN, or `*`.
    pub resource: String,
}

impl Switches {
    pub fn set_throttling(&self, on: bool) {
        self.throttled.store(on, Ordering::Relaxed);
    }

    fn throttled(&self) -> bool {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Whether this call of `operation` is to be refused (and the refusal used up).
    fn refused(&self, operation: &str) -> bool {
        let mut refuse = self.refuse_next.lock().unwrap_or_else(|p| p.into_inner());
        match refuse.iter().position(|o| o == operation) {
            Some(i) => {
                refuse.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Control of the sandbox's AWS side, for tests and demos. Cheap to clone.
#[derive(Clone)]
pub struct Aws {
    switches: Switches,
    pipelines: codepipeline::Pipelines,
    queues: sqs::Queues,
    codepipeline_calls: Arc<AtomicU64>,
    codepipeline_throttle: Arc<throttle::Throttle>,
}

impl Aws {
    /// While on, every CodePipeline and SSM request is refused with `ThrottlingException`,
    /// so a client's backoff and its error path can be exercised.
    pub fn set_throttling(&self, on: bool) {
        self.switches.set_throttling(on);
    }

    /// Refuses the next call of `operation` (such as `PutParameter`) with
    /// `AccessDeniedException`, once: the failure of one step in the middle of a flow.
    pub fn refuse_next(&self, operation: &str) {
        self.switches.refuse_next.lock().unwrap_or_else(|p| p.into_inner()).push(operation.to_owned());
    }

    /// How long each kind of pipeline action takes from now on.
    pub fn set_pipeline_timings(&self, timings: PipelineTimings) {
        self.pipelines.set_timings(timings);
    }

    /// Makes the next action of this kind fail (a test run that fails, a build that breaks).
    pub fn fail_next(&self, failure: Failure) {
        self.pipelines.fail_next(failure);
    }

    /// Sets a sandbox CloudWatch alarm's state (ALARM, OK or INSUFFICIENT_DATA), creating the
    /// alarm if need be: what the CloudWatchAlarm rules of stage conditions watch.
    pub fn set_alarm(&self, alarm: &str, state: &str) {
        self.pipelines.set_alarm(alarm, state, "set by the sandbox's handle");
    }

    /// Adds a commit to a simulated repository's branch (creating the repository if the
    /// sandbox has none of that name) and returns its hash; the next execution of a pipeline
    /// whose source is that repository builds it.
    pub fn commit(&self, repository: &str, message: &str, author: &str) -> String {
        self.pipelines.commit(repository, message, author)
    }

    /// How many requests the CodePipeline endpoint has answered (benchmarks count a client's
    /// calls with it).
    pub fn codepipeline_calls(&self) -> u64 {
        self.codepipeline_calls.load(Ordering::Relaxed)
    }

    /// From now on, answers CodePipeline calls beyond `limit` (per operation, as AWS counts
    /// them) with `ThrottlingException`; `None` lifts it.
    pub fn limit_codepipeline_rate(&self, limit: Option<RateLimit>) {
        self.codepipeline_throttle.set(limit);
    }

    /// The CodePipeline calls answered and throttled so far, by operation.
    pub fn codepipeline_calls_by_operation(&self) -> std::collections::BTreeMap<String, OperationCalls> {
        self.codepipeline_throttle.calls()
    }

    /// Tells the SQS endpoint where it listens, so the queue URLs it hands out reach it.
    pub(crate) fn set_sqs_endpoint(&self, base: String) {
        self.queues.set_endpoint(base);
    }

    /// How many Parameter Store reads asked for values decrypted (`WithDecryption`).
    pub fn decrypting_reads(&self) -> u64 {
        self.switches.decrypting_reads.load(Ordering::Relaxed)
    }

    /// From now on, keeps every answer of both endpoints for [`exchanges`](Aws::exchanges).
    pub fn record_exchanges(&self) {
        self.switches.exchanges.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Vec::new);
    }

    /// The answers kept since [`record_exchanges`](Aws::record_exchanges), in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.switches.exchanges.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default()
    }

    /// Every IAM action and resource the AWS endpoints were asked for since the start, each
    /// once, in order: what an IAM policy for the callers must allow.
    pub fn accesses(&self) -> Vec<Access> {
        self.switches.accesses.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// The routers of the AWS endpoints.
pub(crate) struct Routers {
    pub codepipeline: Router,
    pub cloudwatch: Router,
    pub ssm: Router,
    pub sqs: Router,
}

/// How long the seeded deployer tokens live: long enough for any demo, as a legacy
/// ServiceAccount token secret would.
const SEEDED_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// Builds the AWS side of a sandbox over its cluster and registry, seeded for `world`.
pub(crate) fn start(cluster: &Cluster, registry: &Registry, world: World) -> (Aws, Routers) {
    let switches = Switches::default();
    let ssm = Arc::new(ssm::Ssm::new());
    for environment in ["staging", "production"] {
        let (token, expires) =
            cluster.tokens.issue(environment, DEPLOYER_SERVICE_ACCOUNT, SEEDED_TOKEN_LIFETIME);
        ssm::seed::bear_token(&ssm, environment, &token, expires);
    }
    if world == World::Demo {
        ssm::seed::demo(&ssm);
    }
    let queues = sqs::Queues::default();
    // The EventBridge rule every sandbox has: CodePipeline's state changes to this queue.
    queues.ensure(sqs::EVENTS_QUEUE);
    let pipelines = codepipeline::Pipelines::new(cluster.store.clone(), registry.clone(), queues.clone());
    if world == World::Demo {
        codepipeline::demo::seed(&pipelines);
    }
    pipelines.spawn_engine();
    let codepipeline_calls = Arc::new(AtomicU64::new(0));
    let codepipeline_throttle = Arc::new(throttle::Throttle::default());
    let codepipeline = router(
        Arc::new(codepipeline::CodePipeline::new(pipelines.clone())),
        switches.clone(),
        Some(codepipeline_throttle.clone()),
    );
    let counted = codepipeline_calls.clone();
    let routers = Routers {
        codepipeline: codepipeline.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::Relaxed);
                next.run(request)
            },
        )),
        ssm: router(ssm, switches.clone(), None),
        cloudwatch: router(Arc::new(cloudwatch::CloudWatch::new(pipelines.clone())), switches.clone(), None),
        sqs: sqs::router(queues.clone(), switches.clone()),
    };
    (Aws { switches, pipelines, queues, codepipeline_calls, codepipeline_throttle }, routers)
}

/// The endpoint of `service`, throttled by `throttle` when it has one.
pub(crate) fn router<S: Service>(
    service: Arc<S>,
    switches: Switches,
    throttle: Option<Arc<throttle::Throttle>>,
) -> Router {
    Router::new()
        .route(
            "/",
            post(move |headers: HeaderMap, body: Bytes| async move {
                dispatch(&*service, &switches, throttle.as_deref(), &headers, &body).into_response()
            }),
        )
        .fallback(|| async {
            AwsError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "AWS JSON services are served at POST /",
            )
        })
}

fn dispatch<S: Service>(
    service: &S,
    switches: &Switches,
    throttle: Option<&throttle::Throttle>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AwsError> {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        AwsError::new(StatusCode::BAD_REQUEST, "MissingAction", "the X-Amz-Target header is required")
    })?;
    let operation = target.strip_prefix(S::TARGET_PREFIX).and_then(|rest| rest.strip_prefix('.'));
    let Some(operation) = operation else {
        return Err(AwsError::unknown_operation(&format!(
            "{target} is not an operation of {}",
            S::TARGET_PREFIX
        )));
    };
    let answer = answer(service, switches, throttle, operation, headers, body);
    if let Some(exchanges) = switches.exchanges.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let (status, body) = match &answer {
            Ok(output) => (200, output.clone()),
            Err(error) => (error.status.as_u16(), error.body()),
        };
        exchanges.push(Exchange { service: S::TARGET_PREFIX, operation: operation.to_owned(), status, body });
    }
    let output = answer?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, S::CONTENT_TYPE)], output.to_string()).into_response())
}

fn answer<S: Service>(
    service: &S,
    switches: &Switches,
    throttle: Option<&throttle::Throttle>,
    operation: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, AwsError> {
    let input = Input::parse(body)?;
    let caller = Caller::from_headers(headers);
    // Recorded before anything can refuse the call: IAM authorizes a request first.
    let action = service.iam_action(operation);
    let mut accesses = switches.accesses.lock().unwrap_or_else(|p| p.into_inner());
    for resource in service.resources(operation, &input, &caller) {
        accesses.insert(Access { action: action.clone(), resource });
    }
    drop(accesses);
    if switches.throttled() || throttle.is_some_and(|t| !t.admit(operation)) {
        return Err(AwsError::new(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"));
    }
    if switches.refused(operation) {
        return Err(AwsError::client(
            "AccessDeniedException",
            format!("The sandbox was told to refuse this {operation} call."),
        ));
    }
    if input.bool("WithDecryption").ok().flatten() == Some(true) {
        switches.decrypting_reads.fetch_add(1, Ordering::Relaxed);
    }
    service.call(operation, &input, &caller)
}
