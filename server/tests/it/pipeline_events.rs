//! Pipelines pushed, not polled: the sandbox's CodePipeline sends its state changes to its
//! SQS queue (as an EventBridge rule would), Rollgate's consumer refreshes the pipeline at
//! once, an idle pipeline costs no AWS reads while viewers watch it, and a queue that stops
//! answering puts the pipelines back on polling (and the page says which it is).

use crate::common;
use crate::pipelines::{detail, latest_status, portal, s};

use std::time::{Duration, Instant};

use app::api::pipelines::ListPipelines;
use app::model::pipelines::PipelineView;
use backend::pipelines::PollTimings;
use common::TestPortal;

/// Polls that only an event can explain: ten minutes apart, pushed or not.
fn events_only(p: &TestPortal) {
    p.running.portal.pipelines.set_timings(PollTimings {
        running: Duration::from_secs(600),
        idle: Duration::from_secs(600),
        pushed_running: Duration::from_secs(600),
        pushed_idle: Duration::from_secs(600),
        ..PollTimings::default()
    });
}

async fn card(p: &TestPortal) -> PipelineView {
    let list: Vec<PipelineView> =
        p.call(&p.http, &ListPipelines { env: s("staging") }).await.json().await.unwrap();
    list.into_iter().find(|v| v.name == "myapp-staging").expect("myapp-staging")
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sqs(p: &TestPortal) -> (aws_sdk_sqs::Client, String) {
    let sandbox = p.running.sandbox.as_ref().unwrap();
    let sqs = testkit::aws::sqs(&format!("http://{}", sandbox.endpoints.sqs)).await;
    let url =
        sqs.get_queue_url().queue_name("rollgate-pipeline-events").send().await.unwrap().queue_url.unwrap();
    (sqs, url)
}

/// A release started in CodePipeline itself (as a git push would) shows within moments although
/// the poller would not read for ten minutes; meanwhile the idle pipeline, watched, costs no
/// AWS call, and the card says it is refreshed by events.
#[tokio::test(flavor = "multi_thread")]
async fn events_refresh_pipelines_and_idle_ones_cost_nothing() {
    let p = portal().await;
    events_only(&p);
    let pipelines = &p.running.portal.pipelines;
    until("the feed answers", async || pipelines.feeds.pushed("staging")).await;
    let first = detail(&p, "staging", "myapp-staging").await;
    let before = first.live.latest.as_ref().map(|e| e.id.clone());
    let stream = p.http.get(p.url("/live/staging/pipelines/myapp-staging")).send().await.unwrap();
    let poller = pipelines.poller("staging", "myapp-staging").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_from = poller.calls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(poller.calls() - idle_from, 0, "an idle pipeline with a viewer costs no AWS call");
    let view = card(&p).await;
    assert!(view.pushed, "{view:?}");

    let sandbox = p.running.sandbox.as_ref().unwrap();
    let codepipeline =
        testkit::aws::codepipeline(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    let started = Instant::now();
    let id = codepipeline.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let id = id.pipeline_execution_id.unwrap();
    assert_ne!(before.as_deref(), Some(id.as_str()));
    until("the new execution shows", async || card(&p).await.latest.is_some_and(|e| e.id == id)).await;
    let shown = started.elapsed();
    eprintln!("start in CodePipeline → shown by Rollgate: {shown:?}");
    assert!(shown < Duration::from_secs(3), "{shown:?}: an event, not a poll, refreshed it");
    until("the release succeeds", async || latest_status(&card(&p).await) == "Succeeded").await;
    let page = p.page("/staging/pipelines/myapp-staging").await.1;
    assert!(
        page.contains("Refreshed by CodePipeline&#x27;s events")
            || page.contains("Refreshed by CodePipeline's events"),
        "{page}"
    );
    let events = pipelines.feeds.status("staging").unwrap().events;
    assert!(events >= 1, "{events}");
    drop(stream);
}

/// The queue gone: the feed says why, the pipelines are polled again (changes still show)
/// and the card says so; the queue back: pushed again.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_queue_falls_back_to_polling() {
    let p = portal().await;
    let pipelines = &p.running.portal.pipelines;
    until("the feed answers", async || pipelines.feeds.pushed("staging")).await;
    detail(&p, "staging", "myapp-staging").await;
    let (sqs, url) = sqs(&p).await;
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    until("the feed is down", async || !pipelines.feeds.pushed("staging")).await;
    let problem = pipelines.feeds.status("staging").unwrap().problem.unwrap();
    assert!(problem.contains("rollgate-pipeline-events"), "{problem}");
    until("the card says it is polled", async || !card(&p).await.pushed).await;
    let page = p.page("/staging/pipelines/myapp-staging").await.1;
    assert!(page.contains("Polled, because the events queue does not answer"), "{page}");
    assert!(
        page.contains("QueueDoesNotExist") || page.contains("does not exist"),
        "the reason is shown: {page}"
    );

    // Still current: the quick polling shows a release started in CodePipeline.
    let sandbox = p.running.sandbox.as_ref().unwrap();
    let codepipeline =
        testkit::aws::codepipeline(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    let id = codepipeline.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let id = id.pipeline_execution_id.unwrap();
    until("polling shows the new execution", async || card(&p).await.latest.is_some_and(|e| e.id == id))
        .await;

    sqs.create_queue().queue_name("rollgate-pipeline-events").send().await.unwrap();
    until("the feed answers again", async || pipelines.feeds.pushed("staging")).await;
    until("the card says it is pushed", async || card(&p).await.pushed).await;
}
