//! The differential for AWS: one scenario each for Parameter Store and CodePipeline through
//! Rollgate's own code (`backend::tokens::parameters::ParameterStore`, which the Tokens page
//! and the cluster-token connection use; `backend::pipelines::read`, which the pipeline pages
//! use) against the sandbox and against moto's server. Each step's typed result and each raw
//! answer under it (operation, status, error code and message, read by an interceptor) are
//! normalised and compared; a difference fails the test unless `ACCEPTED` says why it is
//! accepted. What moto does not serve (approvals, retry, stop, rollback, transitions) is held
//! against AWS's models instead (`testkit::aws_model`).

use std::sync::{Arc, Mutex};

use aws_sdk_ssm::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_ssm::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ssm::error::{BoxError, ProvideErrorMetadata};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use backend::pipelines::inputs::ReleaseInputs;
use backend::pipelines::{executor, read};
use backend::tokens::parameters::{NewParameter, ParameterStore};
use backend::tokens::rules::{Kind, Tier};
use sandbox::{Endpoints, Sandbox, World};

/// Step name → why its difference is accepted.
const ACCEPTED: [(&str, &str); 3] = [
    (
        "a missing execution",
        "the same code and status; the words differ, and neither's are attested from AWS itself",
    ),
    (
        "a value against its allowed pattern",
        "moto stores a value its AllowedPattern refuses; AWS answers ParameterPatternMismatchException (PutParameter's API reference), as the sandbox does",
    ),
    (
        "an allowed pattern that is not one",
        "moto stores an AllowedPattern that is not a regular expression; AWS answers InvalidAllowedPatternException, as the sandbox does",
    ),
];

/// Keeps each raw answer: `Operation → status [code "message"]`.
#[derive(Debug, Clone, Default)]
struct Answers(Arc<Mutex<Vec<String>>>);

impl Answers {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Answers {
    fn name(&self) -> &'static str {
        "DifferentialAnswers"
    }

    // After deserialization, because only then is the body read into memory.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("?", |m| m.name()).to_owned();
        let response = context.response();
        let status = response.status().as_u16();
        let line = if status == 200 {
            format!("{operation} → 200")
        } else {
            let body: serde_json::Value =
                serde_json::from_slice(response.body().bytes().unwrap_or_default()).unwrap_or_default();
            let code = body["__type"].as_str().unwrap_or("").rsplit('#').next().unwrap_or("").to_owned();
            let message = body["message"].as_str().or_else(|| body["Message"].as_str()).unwrap_or("");
            format!("{operation} → {status} {code} {message:?}")
        };
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

async fn store(endpoint: &str) -> (ParameterStore, Answers) {
    let answers = Answers::default();
    let client = testkit::aws::ssm(endpoint).await;
    let config = client.config().to_builder().interceptor(answers.clone()).build();
    (ParameterStore::new(aws_sdk_ssm::Client::from_conf(config)), answers)
}

/// What legitimately differs between two services: times, ids and who made a change.
fn normalise(text: &str) -> String {
    let rules = [
        (r"(modified|started|updated)_ms: Some\(\d+\)", "${1}_ms: Some(<ms>)"),
        (r#"modified_by: Some\("[^"]*"\)"#, "modified_by: <who>"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>"),
    ];
    rules.iter().fold(text.to_owned(), |text, (pattern, replacement)| {
        regex_lite::Regex::new(pattern).unwrap().replace_all(&text, *replacement).into_owned()
    })
}

/// The scenario: every Parameter Store call Rollgate makes, the paths the Tokens page and a
/// rotation take, and the errors a person can run into. Returns (step, what it gave).
async fn scenario(store: &ParameterStore, answers: &Answers) -> Vec<(&'static str, String)> {
    let mut steps = Vec::new();
    let root = "/differential/production";
    let token = format!("{root}/k8s-bear-token");
    let region = format!("{root}/region");
    let new = |name: &'static str, kind: Kind, value: &'static str| NewParameter {
        name,
        kind,
        value,
        key_id: None,
        description: Some("the cluster's bearer token"),
        allowed_pattern: None,
        tier: Tier::Standard,
        tags: &[],
    };
    let token: &'static str = Box::leak(token.into_boxed_str());
    let region: &'static str = Box::leak(region.into_boxed_str());
    macro_rules! step {
        ($name:expr, $call:expr) => {{
            let result = $call;
            let answered = answers.take().join("\n  ");
            steps.push(($name, normalise(&format!("{result:?}\n  {answered}"))));
        }};
    }
    step!("create a SecureString", store.create(&new(token, Kind::SecureString, "first-secret")).await);
    step!("create a String", store.create(&new(region, Kind::String, "eu-west-1")).await);
    step!("create it again", store.create(&new(token, Kind::SecureString, "again")).await);
    let patterned = NewParameter {
        allowed_pattern: Some("^[a-z]+$"),
        ..new("/differential/production/lower", Kind::String, "UPPER")
    };
    step!("a value against its allowed pattern", store.create(&patterned).await);
    let bad_pattern = NewParameter {
        allowed_pattern: Some("(unclosed"),
        ..new("/differential/production/bad", Kind::String, "x")
    };
    step!("an allowed pattern that is not one", store.create(&bad_pattern).await);
    // Where moto took them (above), they go, so the listing compares what both hold.
    for name in [patterned.name, bad_pattern.name] {
        let _ = store.delete(name).await;
    }
    answers.take();
    let tags = [("team".to_owned(), "payments".to_owned())];
    let tagged = NewParameter { tags: &tags, ..new("/differential/production/tagged", Kind::String, "t") };
    step!("create with tags", store.create(&tagged).await);
    step!("list the prefix", store.list(root).await);
    step!("list an empty prefix", store.list("/nothing/here").await);
    step!("describe", store.describe(token).await);
    step!("describe a missing one", store.describe("/differential/production/missing").await);
    step!("tags", store.tags("/differential/production/tagged").await);
    step!("tag", store.tag(token, "rotated-by", "rollgate").await);
    step!("tags after tagging", store.tags(token).await);
    let current = store.describe(token).await.expect("the token is there");
    step!("rotate", store.rotate(&current, "second-secret").await);
    step!("version", store.version(token).await);
    step!("label version 1", store.label(token, 1, &["previous".to_owned()]).await);
    step!("label version 2", store.label(token, 2, &["current".to_owned()]).await);
    step!("label a version that does not exist", store.label(token, 9, &["nine".to_owned()]).await);
    step!("history", store.history(token).await);
    let mut decorated = store.describe(token).await.expect("the token is there");
    answers.take();
    step!("decorate", store.decorate(&mut decorated).await.map(|()| decorated));
    step!("value", store.value(token, None).await);
    step!("value of version 1", store.value(token, Some(1)).await);
    step!("value of a version that does not exist", store.value(token, Some(9)).await);
    step!("value of a missing one", store.value("/differential/production/missing", None).await);
    step!("delete", store.delete(token).await);
    step!("delete it again", store.delete(token).await);
    step!("describe after delete", store.describe(token).await);
    for name in [region, "/differential/production/tagged"] {
        let _ = store.delete(name).await;
    }
    answers.take();
    steps
}

#[tokio::test(flavor = "multi_thread")]
async fn parameter_store_through_rollgate_agrees_with_moto() {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    let moto = testkit::aws::Moto::start();
    let (ours, our_answers) = store(&format!("http://{}", sandbox.endpoints.ssm)).await;
    let (theirs, their_answers) = store(&moto.endpoint).await;
    let ours = scenario(&ours, &our_answers).await;
    let theirs = scenario(&theirs, &their_answers).await;
    compare(&ours, &theirs);
}

/// Fails with every unaccepted difference; prints the sandbox's transcript and the count.
fn compare(ours: &[(&str, String)], theirs: &[(&str, String)]) {
    let mut differences = Vec::new();
    for ((step, mine), (_, moto)) in ours.iter().zip(theirs) {
        if mine != moto && !ACCEPTED.iter().any(|(accepted, _)| accepted == step) {
            differences.push(format!("## {step}\nsandbox: {mine}\nmoto:    {moto}"));
        }
    }
    for (step, answer) in ours {
        eprintln!("{step}: {answer}");
    }
    let identical = ours.iter().zip(theirs).filter(|(a, b)| a.1 == b.1).count();
    eprintln!("{} steps, {identical} identical after normalisation", ours.len());
    assert!(differences.is_empty(), "the sandbox and moto differ:\n{}", differences.join("\n\n"));
}

async fn pipelines(endpoint: &str) -> (aws_sdk_codepipeline::Client, Answers) {
    let answers = Answers::default();
    let client = testkit::aws::codepipeline(endpoint).await;
    let config = client.config().to_builder().interceptor(answers.clone()).build();
    (aws_sdk_codepipeline::Client::from_conf(config), answers)
}

/// Declarations, tags, start, get and list executions, and their errors.
async fn pipeline_scenario(endpoint: &str) -> Vec<(&'static str, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.json");
    std::fs::write(&file, crate::pipeline_calls::PIPELINE).unwrap();
    let file = format!("file://{}", file.display());
    let role = [
        "iam",
        "create-role",
        "--role-name",
        "calls",
        "--assume-role-policy-document",
        crate::pipeline_calls::TRUST,
    ];
    testkit::aws::aws_cli(endpoint, &role).await;
    let create = ["codepipeline", "create-pipeline", "--pipeline", &file, "--tags", "key=team,value=web"];
    let created = testkit::aws::aws_cli(endpoint, &create).await;
    assert!(created.success, "{}", created.stderr);
    let (client, answers) = pipelines(endpoint).await;
    let mut steps = Vec::new();
    macro_rules! step {
        ($name:expr, $call:expr) => {{
            let result = $call;
            let answered = answers.take().join("\n  ");
            steps.push(($name, normalise(&format!("{result:?}\n  {answered}"))));
        }};
    }
    let arn = "arn:aws:codepipeline:us-east-1:123456789012:calls-staging";
    step!("pipeline names", read::names(&client).await);
    step!("stage names", read::stage_names(&client, "calls-staging").await);
    step!("stage names of a missing pipeline", read::stage_names(&client, "nope").await);
    let tags = client.list_tags_for_resource().resource_arn(arn).send().await;
    let tags =
        tags.map(|t| t.tags().iter().map(|t| format!("{}={}", t.key(), t.value())).collect::<Vec<_>>());
    step!("tags", tags.map_err(|e| e.code().map(str::to_owned)));
    step!("no executions yet", read::history(&client, "calls-staging", 10, None).await);
    // Rollgate's own start: with a client request token, as the change desk sends it.
    let started =
        executor::start(&client, "calls-staging", "differential-1".into(), &ReleaseInputs::default()).await;
    let id = started.clone().unwrap_or_default();
    step!("start", started.map(|id| id.len()));
    step!(
        "start a missing pipeline",
        executor::start(&client, "nope", "differential-2".into(), &ReleaseInputs::default()).await
    );
    let execution = read::execution_by_id(&client, "calls-staging", &id, &[]).await;
    step!("the execution", execution.map(|e| (e.id, e.kind)));
    let unknown = "0e3c6f4e-0000-4000-8000-000000000000";
    step!("a missing execution", read::execution_by_id(&client, "calls-staging", unknown, &[]).await);
    let history = read::history(&client, "calls-staging", 10, None).await;
    step!("history", history.map(|h| h.executions.into_iter().map(|e| (e.id, e.kind)).collect::<Vec<_>>()));
    step!("history of a missing pipeline", read::history(&client, "nope", 10, None).await);
    steps
}

#[tokio::test(flavor = "multi_thread")]
async fn codepipeline_through_rollgate_agrees_with_moto() {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Empty).await.expect("sandbox starts");
    let moto = testkit::aws::Moto::start();
    let ours = pipeline_scenario(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    let theirs = pipeline_scenario(&moto.endpoint).await;
    compare(&ours, &theirs);
}
