//! SQS through the AWS SDK and CLI, and CodePipeline's state-change events arriving in
//! `rollgate-pipeline-events` as an EventBridge rule delivers them: a release of
//! `myapp-staging` tells of its execution, each stage and each action starting and ending.

use crate::support;

use std::time::{Duration, Instant};

use sandbox::{Endpoints, PipelineTimings, Sandbox, World};
use serde_json::Value;
use support::code;

async fn demo() -> (support::ModelChecked, aws_sdk_sqs::Client, String) {
    let sandbox = Sandbox::start(Endpoints::any_free(), World::Demo).await.expect("sandbox starts");
    sandbox.aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(120),
        ..Default::default()
    });
    let sqs = support::sqs(&support::url(sandbox.endpoints.sqs)).await;
    let url = sqs.get_queue_url().queue_name("rollgate-pipeline-events").send().await.expect("the queue");
    let url = url.queue_url.expect("a URL");
    (support::ModelChecked::new(sandbox), sqs, url)
}

/// Receives (and deletes) messages until `done` says the bodies so far are enough, or 30 s.
async fn events_until(sqs: &aws_sdk_sqs::Client, url: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while !done(&events) && Instant::now() < deadline {
        let received =
            sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(2).send().await;
        for message in received.expect("received").messages() {
            events.push(serde_json::from_str(message.body().unwrap_or("")).expect("an event"));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or(""))
                .send()
                .await
                .expect("deleted");
        }
    }
    events
}

fn said(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let d = &e["detail"];
            let what = [d["stage"].as_str(), d["action"].as_str()].into_iter().flatten().collect::<Vec<_>>();
            format!(
                "{} {}",
                if what.is_empty() { "execution".into() } else { what.join("/") },
                d["state"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_tells_its_story_through_the_queue() {
    let (sandbox, sqs, url) = demo().await;
    let quiet = sqs.receive_message().queue_url(&url).wait_time_seconds(0).send().await.unwrap();
    assert!(quiet.messages().is_empty(), "the demo's history is not news");

    let codepipeline = support::codepipeline(&support::url(sandbox.endpoints.codepipeline)).await;
    let started = Instant::now();
    let id = codepipeline.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let id = id.pipeline_execution_id.unwrap();
    // A long poll waiting when the execution starts is answered at once.
    let first = sqs.receive_message().queue_url(&url).wait_time_seconds(20).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "answered when the event arrived");
    let first: Value = serde_json::from_str(first.messages()[0].body().unwrap()).unwrap();
    assert_eq!(first["source"], "aws.codepipeline");
    assert_eq!(first["detail-type"], "CodePipeline Pipeline Execution State Change");
    assert_eq!(first["detail"]["pipeline"], "myapp-staging");
    assert_eq!(first["detail"]["execution-id"], id.as_str());
    assert_eq!(first["detail"]["state"], "STARTED");
    assert_eq!(first["resources"][0], "arn:aws:codepipeline:us-east-1:123456789012:myapp-staging");

    // The first message was received, not deleted: it comes back after its visibility timeout.
    let events =
        events_until(&sqs, &url, |events| said(events).last().is_some_and(|s| s == "execution SUCCEEDED"))
            .await;
    let story = said(&events);
    for step in [
        "Source STARTED",
        "Source/Source STARTED",
        "Source/Source SUCCEEDED",
        "Source SUCCEEDED",
        "Build/BuildImage SUCCEEDED",
        "Deploy SUCCEEDED",
        "execution SUCCEEDED",
    ] {
        assert!(story.iter().any(|s| s == step), "{step} missing from {story:#?}");
    }
    let position = |step: &str| story.iter().position(|s| s == step).unwrap();
    assert!(position("Source STARTED") < position("Source/Source STARTED"));
    assert!(position("Source/Source SUCCEEDED") < position("Source SUCCEEDED"));
    let action = events.iter().find(|e| e["detail"]["action"] == "BuildImage").unwrap();
    assert_eq!(action["detail-type"], "CodePipeline Action Execution State Change");
    assert_eq!(action["detail"]["type"]["category"], "Build");
    assert_eq!(
        events.iter().filter(|e| e["detail"]["state"] == "STARTED" && e["detail"]["stage"].is_null()).count(),
        0,
        "the execution's STARTED came first and was received already; it has not come back yet"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queues_through_the_sdk_and_the_cli() {
    let (sandbox, sqs, events_url) = demo().await;
    let endpoint = support::url(sandbox.endpoints.sqs);
    let made = sqs.create_queue().queue_name("work").send().await.unwrap().queue_url.unwrap();
    assert!(made.ends_with("/123456789012/work"), "{made}");
    assert!(made.starts_with(&endpoint), "the URL reaches the endpoint: {made}");
    let listed = sqs.list_queues().send().await.unwrap();
    assert_eq!(listed.queue_urls(), [events_url.clone(), made.clone()]);

    let sent = sqs.send_message().queue_url(&made).message_body("hello").send().await.unwrap();
    assert_eq!(sent.md5_of_message_body(), Some("5d41402abc4b2a76b9719d911017c592"));
    let got = sqs.receive_message().queue_url(&made).visibility_timeout(1).send().await.unwrap();
    let message = &got.messages()[0];
    assert_eq!((message.body(), message.md5_of_body()), (Some("hello"), sent.md5_of_message_body()));
    let hidden = sqs.receive_message().queue_url(&made).send().await.unwrap();
    assert!(hidden.messages().is_empty(), "invisible while being worked on");
    let started = Instant::now();
    let again = sqs.receive_message().queue_url(&made).wait_time_seconds(5).send().await.unwrap();
    assert_eq!(again.messages()[0].body(), Some("hello"), "visible again after its timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    let handle = again.messages()[0].receipt_handle().unwrap();
    let batch = sqs
        .delete_message_batch()
        .queue_url(&made)
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("a")
                .receipt_handle(handle)
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("b")
                .receipt_handle("nonsense")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 1);
    assert_eq!(batch.failed()[0].code(), "ReceiptHandleIsInvalid");
    let started = Instant::now();
    let empty = sqs.receive_message().queue_url(&made).wait_time_seconds(1).send().await.unwrap();
    assert!(empty.messages().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900), "a long poll waits its time");

    assert_eq!(code(sqs.get_queue_url().queue_name("nope").send().await), "QueueDoesNotExist");
    let gone = sqs.receive_message().queue_url(format!("{endpoint}/123456789012/nope")).send().await;
    assert_eq!(code(gone), "QueueDoesNotExist");
    assert_eq!(
        code(sqs.receive_message().queue_url(&made).max_number_of_messages(11).send().await),
        "ValidationException"
    );

    // The AWS CLI, as an operator would look at the events queue.
    let cli = support::aws_cli(
        &endpoint,
        &["sqs", "send-message", "--queue-url", &made, "--message-body", "from the CLI"],
    )
    .await;
    assert_eq!(cli.json()["MD5OfMessageBody"], "4f48cda4aced24a2723be5817b1a662d", "MD5 of \"from the CLI\"");
    let cli = support::aws_cli(
        &endpoint,
        &["sqs", "receive-message", "--queue-url", &made, "--wait-time-seconds", "1"],
    )
    .await;
    assert_eq!(cli.json()["Messages"][0]["Body"], "from the CLI");
    let cli = support::aws_cli(
        &endpoint,
        &["sqs", "get-queue-attributes", "--queue-url", &events_url, "--attribute-names", "All"],
    )
    .await;
    assert_eq!(
        cli.json()["Attributes"]["QueueArn"],
        "arn:aws:sqs:us-east-1:123456789012:rollgate-pipeline-events"
    );
    sqs.delete_queue().queue_url(&made).send().await.unwrap();
    assert_eq!(code(sqs.send_message().queue_url(&made).message_body("x").send().await), "QueueDoesNotExist");
}
