//! Many pipelines watched at once: the Pipelines page follows every card through one stream,
//! an idle pipeline costs one AWS call a read, the pollers of one account share a budget of
//! calls per second, and when AWS throttles anyway they back off and the cards say how old
//! what they show is.

use crate::common;
use crate::pipelines::{quick, s};

use std::collections::HashSet;
use std::time::Duration;

use app::api::pipelines::ListPipelines;
use app::model::pipelines::PipelineView;
use backend::pipelines::PollTimings;
use common::TestPortal;

/// The sandbox's environments, polled (no events queue), staging listing both pipelines.
async fn two_pipelines_in_staging() -> TestPortal {
    let mut config = backend::config::load(&backend::config::Source::SandboxDefault).unwrap();
    for env in &mut config.environments {
        env.aws.events_queue = None;
        if env.name == "staging" {
            env.aws.pipelines.push(s("myapp-production"));
        }
    }
    quick(TestPortal::with_config(config).await)
}

/// The messages of a server-sent event stream, one at a time.
struct Messages {
    response: reqwest::Response,
    buffer: String,
}

impl Messages {
    async fn open(p: &TestPortal, path: &str) -> Self {
        let response = p.http.get(p.url(path)).send().await.expect("stream");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The next message, if one comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                if !data.is_empty() {
                    return Some(data.join("\n"));
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

/// (pipeline, card) of a message of the list's stream.
fn card(message: &str) -> (&str, &str) {
    message.split_once('\n').unwrap_or_else(|| panic!("no name line: {message}"))
}

async fn cards(p: &TestPortal) -> Vec<PipelineView> {
    p.call(&p.http, &ListPipelines { env: s("staging") }).await.json().await.unwrap()
}

/// One stream carries every card of the page, each message named; cards the page already
/// shows are not sent again, and a change to one pipeline sends its card alone.
#[tokio::test(flavor = "multi_thread")]
async fn the_pipelines_page_follows_every_card_through_one_stream() {
    let p = two_pipelines_in_staging().await;
    let mut all = Messages::open(&p, "/live/staging/pipelines").await;
    let mut named = HashSet::new();
    // A card for each pipeline (myapp-staging's again whenever its deployment moves).
    while named.len() < 2 {
        let message = all.next(Duration::from_secs(20)).await.expect("a card for each pipeline");
        let (name, html) = card(&message);
        assert!(html.contains(&format!("data-pipeline=\"{name}\"")), "{name}'s card: {html}");
        named.insert(name.to_owned());
    }
    assert_eq!(named, HashSet::from([s("myapp-staging"), s("myapp-production")]));

    // The page names the cards it shows (by fingerprint) in its stream's URL: once the demo's
    // deployment (shown in myapp-staging's Deploy stage) has rolled out, nothing new to send.
    for _ in 0..120 {
        let settled =
            cards(&p).await.iter().flat_map(|v| &v.stages).filter_map(|s| s.target.as_ref()).all(|t| {
                t.row
                    .as_ref()
                    .is_some_and(|r| r.health == app::model::Health::Complete && r.ready == r.desired)
            });
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let html = p.http.get(p.url("/staging/pipelines")).send().await.unwrap().text().await.unwrap();
    let at = html.find("/live/staging/pipelines?shown=").expect("the page follows its stream");
    let shown: String =
        html[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || "/?=:,._@-".contains(*c)).collect();
    assert!(shown.contains("myapp-staging:") && shown.contains("myapp-production:"), "{shown}");
    let mut quiet = Messages::open(&p, &shown).await;
    if let Some(sent) = quiet.next(Duration::from_secs(2)).await {
        panic!("the cards shown are not sent again ({shown}), yet: {sent}");
    }

    let sandbox = p.running.sandbox.as_ref().unwrap();
    let aws = testkit::aws::codepipeline(&format!("http://{}", sandbox.endpoints.codepipeline)).await;
    aws.start_pipeline_execution().name("myapp-staging").send().await.expect("started in AWS");
    let message = quiet.next(Duration::from_secs(20)).await.expect("the changed card");
    assert_eq!(card(&message).0, "myapp-staging", "only the pipeline that moved");

    // Bad input loses nothing: an unknown environment is a 404, a garbled `shown` is ignored.
    let unknown = p.http.get(p.url("/live/nowhere/pipelines")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let mut garbled = Messages::open(&p, "/live/staging/pipelines?shown=myapp-staging:x,,:,%3Cb%3E").await;
    assert!(garbled.next(Duration::from_secs(20)).await.is_some());
}

/// A read of a pipeline whose stages did not move is one call (GetPipelineState), with the
/// other two every tenth read; the pollers of one account and Region share their budget.
#[tokio::test(flavor = "multi_thread")]
async fn idle_reads_cost_one_call_and_pollers_share_a_budget() {
    let p = two_pipelines_in_staging().await;
    let pipelines = &p.running.portal.pipelines;
    let staging = pipelines.poller("staging", "myapp-staging").unwrap();
    let _all = Messages::open(&p, "/live/staging/pipelines").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (polls, calls) = (staging.current().await.polls, staging.calls());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reads = staging.current().await.polls - polls;
    let made = staging.calls() - calls;
    eprintln!("{reads} idle reads, {made} calls");
    assert!(reads >= 5, "it polls ({reads} reads)");
    let full = reads / u64::from(backend::pipelines::poller::FULL_READ_EVERY) + 1;
    assert!(made <= reads + 2 * full, "{made} calls for {reads} idle reads");

    // Both pipelines asked every 50 ms, with 4 calls a second between them.
    pipelines.set_timings(PollTimings {
        running: Duration::from_millis(50),
        idle: Duration::from_millis(50),
        reads_per_second: 4.0,
        ..pipelines.timings()
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let production = pipelines.poller("staging", "myapp-production").unwrap();
    let before = staging.calls() + production.calls();
    let window = Duration::from_secs(5);
    tokio::time::sleep(window).await;
    let made = staging.calls() + production.calls() - before;
    eprintln!("{made} calls in {window:?} at 4 a second");
    // 20 at the rate, a burst of 6, and a read in flight at each edge.
    assert!(made <= 20 + 6 + 3, "{made} calls in {window:?}, budget 4 a second");
    assert!(made >= 12, "both still read ({made} calls)");
}

/// AWS throttling above a rate (the sandbox plays it per operation): the pollers back off,
/// the cards keep the last state and say in words why and how old it is, and once AWS lets
/// calls through again the cards are fresh.
#[tokio::test(flavor = "multi_thread")]
async fn throttled_above_a_rate_the_pollers_back_off_and_say_so() {
    let p = two_pipelines_in_staging().await;
    let sandbox = p.running.sandbox.as_ref().unwrap();
    let _all = Messages::open(&p, "/live/staging/pipelines").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cards(&p).await.iter().all(|v| v.problem.is_none() && v.fetched_ms.is_some()));
    // One call per operation, then one per hundred seconds: everything else is throttled.
    sandbox.aws.limit_codepipeline_rate(Some(sandbox::RateLimit { per_second: 0.01, burst: 1 }));
    let mut said = None;
    for _ in 0..100 {
        if let Some(v) = cards(&p).await.into_iter().find(|v| v.problem.is_some()) {
            said = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let said = said.expect("a card says it is throttled");
    let problem = said.problem.clone().unwrap();
    assert!(problem.contains("throttling") && problem.contains("backing off"), "{problem}");
    assert!(said.fetched_ms.is_some() && said.latest.is_some(), "the last state is kept");

    // Backing off: far fewer calls than the pollers' 300-ms idle pace would make (26 reads in
    // 4 s, each tried up to three times by the SDK).
    let counted = |calls: &std::collections::BTreeMap<String, sandbox::OperationCalls>| {
        calls.values().map(|c| c.answered + c.throttled).sum::<u64>()
    };
    let before = counted(&sandbox.aws.codepipeline_calls_by_operation());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let made = counted(&sandbox.aws.codepipeline_calls_by_operation()) - before;
    eprintln!("{made} calls in 4 s while throttled");
    assert!(made <= 24, "{made} calls in 4 s while throttled");

    // The pause after several throttled reads in a row lasts up to 30 s.
    sandbox.aws.limit_codepipeline_rate(None);
    for _ in 0..600 {
        if cards(&p).await.iter().all(|v| v.problem.is_none()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the cards never recovered: {:?}", cards(&p).await);
}
