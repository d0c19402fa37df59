//! The consumer of CodePipeline's events (`aws.events_queue`) against the sandbox's SQS and
//! moto's: it finds the queue by name or URL, long-polls it, counts the pipeline an event
//! names up for the other replicas, deletes what it read (events of other sources too), and
//! says why when the queue is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::config::{Source, load};
use backend::pipelines::Pipelines;
use backend::upstream::SandboxEndpoints;
use serde_json::json;
use sqlx::Row;
use testkit::store::{Flavour, fresh};

fn event(pipeline: &str, state: &str) -> String {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "account": "123456789012",
        "time": "2026-12-03T10:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:codepipeline:us-east-1:123456789012:{pipeline}")],
        "detail": { "pipeline": pipeline, "execution-id": "01234567-89ab-cdef-0123-456789abcdef", "state": state, "version": 1 },
    })
    .to_string()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scenario(endpoint: &str, by_url: bool) {
    let sqs = testkit::aws::sqs(endpoint).await;
    let url = sqs.create_queue().queue_name("pipeline-events").send().await.unwrap().queue_url.unwrap();
    let mut config = load(&Source::SandboxDefault).unwrap();
    config.environments[0].aws.events_queue =
        Some(if by_url { url.clone() } else { "pipeline-events".into() });
    config.environments[1].aws.events_queue = None;
    let endpoints = |e: &str| url::Url::parse(e).unwrap();
    let sandbox = SandboxEndpoints {
        kubernetes: endpoints(endpoint),
        kubeconfig: String::new(),
        codepipeline: endpoints(endpoint),
        ssm: endpoints(endpoint),
        sqs: endpoints(endpoint),
    };
    let config = Arc::new(config);
    let store = fresh(Flavour::Sqlite).await;
    let pipelines = Pipelines::new(config.clone(), backend::aws::AwsClients::new(config, Some(sandbox)));
    pipelines.listen(store.store.clone(), "replica-under-test".into());
    until("the feed answers", async || pipelines.feeds.pushed("staging")).await;
    assert_eq!(pipelines.feeds.status("production"), None, "production has no queue");

    for body in [
        event("myapp-staging", "STARTED"),
        event("myapp-staging", "SUCCEEDED"),
        event("someone-elses-pipeline", "STARTED"),
        json!({ "source": "aws.codebuild", "detail-type": "CodeBuild Build State Change" }).to_string(),
        "not an event".to_owned(),
    ] {
        sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    until("the events are read", async || {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name: &str| {
            let key = aws_sdk_sqs::types::QueueAttributeName::from(name);
            attributes.attributes().and_then(|a| a.get(&key)).map(String::as_str) == Some("0")
        };
        count("ApproximateNumberOfMessages") && count("ApproximateNumberOfMessagesNotVisible")
    })
    .await;
    let status = pipelines.feeds.status("staging").unwrap();
    assert!(status.pushed && status.events >= 1, "{status:?}");
    let rows = sqlx::query("SELECT environment, pipeline, seq, replica FROM pipeline_signals")
        .fetch_all(store.store.pool())
        .await
        .unwrap();
    let rows: Vec<(String, String, i64, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert_eq!(rows.len(), 1, "only the environment's own pipeline: {rows:?}");
    let (env, pipeline, seq, replica) = &rows[0];
    assert_eq!(
        (env.as_str(), pipeline.as_str(), replica.as_str()),
        ("staging", "myapp-staging", "replica-under-test")
    );
    assert!((1..=2).contains(seq), "one count per batch that named it: {seq}");

    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    until("the feed is down", async || !pipelines.feeds.pushed("staging")).await;
    let problem = pipelines.feeds.status("staging").unwrap().problem.unwrap();
    assert!(problem.contains("pipeline-events"), "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn against_the_sandbox() {
    let sandbox = sandbox::Sandbox::start(sandbox::Endpoints::any_free(), sandbox::World::Empty)
        .await
        .expect("sandbox");
    scenario(&format!("http://{}", sandbox.endpoints.sqs), false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn against_moto() {
    let moto = testkit::aws::Moto::start();
    scenario(&moto.endpoint, true).await;
}
