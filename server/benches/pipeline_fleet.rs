//! Fifty pipelines and a hundred viewers: the sandbox in this process with the demo's two
//! pipelines and 48 more like them, `rollgate` as its own process with one environment listing
//! all fifty (the AWS default chain pointed at the sandbox), and viewers of the Pipelines
//! page's stream (`/live/bench/pipelines`: every card of the page). The sandbox counts every
//! CodePipeline call by operation.
//!
//! Measures AWS calls per minute, polled and pushed, with 1 and with 100 viewers, idle and
//! with ten executions running; then, polled with 100 viewers, the sandbox throttling each
//! operation above 1 call a second (AWS's answer to too many calls): how many calls were
//! throttled, how many went through, and how old the oldest card a viewer holds is.
//!
//! `cargo bench -p server --bench pipeline_fleet` (the README's "Measurements" lists the
//! latest run). Targets: calls per minute flat in the number of viewers and within Rollgate's
//! budget (`codepipeline_reads_per_second`, 2 by default: 120 a minute) whatever the number of
//! pipelines; throttled, the pollers back off and the cards say how fresh they are.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use sandbox::OperationCalls;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PIPELINES: usize = 50;
const VIEWERS: usize = 100;
const RUNNING: usize = 10;
const WINDOW: Duration = Duration::from_secs(60);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let mut reports = Vec::new();
    for pushed in [false, true] {
        reports.push(measure(pushed).await);
    }
    for report in reports {
        println!("{report}");
    }
}

/// The names of the pipelines: the demo's two and `svc-03` … `svc-50`.
fn names() -> Vec<String> {
    let mut names = vec!["myapp-staging".to_owned(), "myapp-production".to_owned()];
    names.extend((3..=PIPELINES).map(|i| format!("svc-{i:02}")));
    names
}

/// 48 more pipelines, each declared like `myapp-staging`.
async fn create_pipelines(aws: &support::Aws) {
    let model = aws.call("GetPipeline", json!({ "name": "myapp-staging" })).await;
    for name in names().into_iter().skip(2) {
        let mut pipeline = model["pipeline"].clone();
        pipeline["name"] = Value::String(name);
        aws.call("CreatePipeline", json!({ "pipeline": pipeline })).await;
    }
}

/// Calls per operation between two counts.
fn difference(
    before: &BTreeMap<String, OperationCalls>,
    after: &BTreeMap<String, OperationCalls>,
) -> BTreeMap<String, OperationCalls> {
    after
        .iter()
        .map(|(op, a)| {
            let b = before.get(op).copied().unwrap_or_default();
            (
                op.clone(),
                OperationCalls { answered: a.answered - b.answered, throttled: a.throttled - b.throttled },
            )
        })
        .filter(|(_, c)| c.answered + c.throttled > 0)
        .collect()
}

/// A window's calls as a line: per minute, answered and throttled, by operation.
fn per_minute(label: &str, calls: &BTreeMap<String, OperationCalls>) -> String {
    let scale = 60.0 / WINDOW.as_secs_f64();
    let answered: u64 = calls.values().map(|c| c.answered).sum();
    let throttled: u64 = calls.values().map(|c| c.throttled).sum();
    let by: Vec<String> = calls
        .iter()
        .map(|(op, c)| format!("{op} {:.0}", (c.answered + c.throttled) as f64 * scale))
        .collect();
    format!(
        "    {label:<34} {:>6.0} answered, {:>5.0} throttled per minute ({})\n",
        answered as f64 * scale,
        throttled as f64 * scale,
        by.join(", ")
    )
}

/// What one viewer holds: each pipeline's latest card.
fn follow_cards(
    mut messages: mpsc::UnboundedReceiver<(Instant, String)>,
) -> tokio::sync::watch::Receiver<HashMap<String, String>> {
    let (cards, held) = tokio::sync::watch::channel(HashMap::new());
    tokio::spawn(async move {
        while let Some((_, message)) = messages.recv().await {
            if let Some((name, html)) = message.split_once('\n') {
                let (name, html) = (name.to_owned(), html.to_owned());
                cards.send_modify(|c| {
                    c.insert(name, html);
                });
            }
        }
    });
    held
}

/// The number `data-ago` holds in a card's freshness or staleness line (ms since the epoch).
fn read_at(card: &str) -> Option<i64> {
    let line = card.find("freshness").or_else(|| card.find("data-stale"))?;
    let rest = &card[line..];
    let at = rest.find("data-ago=\"")? + "data-ago=\"".len();
    rest[at..].split('"').next()?.parse().ok()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

async fn measure(pushed: bool) -> String {
    let mode = if pushed { "pushed (events queue)" } else { "polled (no events queue)" };
    eprintln!("== {mode}");
    let dir = tempfile::tempdir().unwrap();
    let options = sandbox::Options { world: sandbox::World::Demo, ..sandbox::Options::default() };
    let sandbox = sandbox::Sandbox::start_with(options).await.expect("the sandbox starts");
    let kubeconfig = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let aws = support::Aws::new(&sandbox);
    create_pipelines(&aws).await;

    let listed: Vec<String> = names().iter().map(|n| format!("\"{n}\"")).collect();
    let environment = format!(
        "[[environment]]\nname = \"bench\"\nnamespaces = [\"staging\"]\n\
         cluster = {{ kind = \"kubeconfig\", path = \"{}\" }}\n\
         aws = {{ region = \"us-east-1\", pipelines = [{}]{queue} }}\n",
        kubeconfig.display(),
        listed.join(", "),
        queue = if pushed { ", events_queue = \"rollgate-pipeline-events\"" } else { "" },
    );
    let portal = support::Rollgate::on_sandbox_aws(dir.path(), &environment, &sandbox).await;
    let http = portal.signed_in().await;
    let url = format!("{}/live/bench/pipelines", portal.base);

    let (sender, messages) = mpsc::unbounded_channel();
    support::viewer(http.clone(), url.clone(), Some(sender));
    let cards = follow_cards(messages);
    let mut seen = cards.clone();
    let started = Instant::now();
    seen.wait_for(|c| c.len() == PIPELINES).await.expect("a card for every pipeline");
    let first_cards = started.elapsed();

    let counts = || sandbox.aws.codepipeline_calls_by_operation();
    let window = |label: String| {
        let counts = &counts;
        async move {
            let before = counts();
            tokio::time::sleep(WINDOW).await;
            per_minute(&label, &difference(&before, &counts()))
        }
    };
    let mut report = format!(
        "{mode}\n  {PIPELINES} pipelines: every card on the first viewer's stream in {:.1} s\n  AWS CodePipeline calls ({} s windows, counted by the sandbox):\n",
        first_cards.as_secs_f64(),
        WINDOW.as_secs()
    );
    // Let the first round of reads (every pipeline read once at the start) pass.
    tokio::time::sleep(Duration::from_secs(30)).await;
    report.push_str(&window("idle, 1 viewer".into()).await);
    let others: Vec<_> = (1..VIEWERS).map(|_| support::viewer(http.clone(), url.clone(), None)).collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    report.push_str(&window(format!("idle, {VIEWERS} viewers")).await);

    sandbox.aws.set_pipeline_timings(sandbox::PipelineTimings {
        source: Duration::from_secs(5),
        test: Duration::from_secs(600),
        build: Duration::from_secs(600),
        approval_timeout: Duration::from_secs(3600),
        ..Default::default()
    });
    for name in names().iter().skip(PIPELINES - RUNNING) {
        aws.call("StartPipelineExecution", json!({ "name": name })).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    report.push_str(&window(format!("{RUNNING} running, {VIEWERS} viewers")).await);

    if !pushed {
        sandbox.aws.limit_codepipeline_rate(Some(sandbox::RateLimit { per_second: 1.0, burst: 2 }));
        report.push_str(&window(format!("throttled above 1/s, {VIEWERS} viewers")).await);
        let held = cards.borrow().clone();
        let now = now_ms();
        let stale = held.values().filter(|c| c.contains("data-stale=\"true\"")).count();
        let ages: Vec<i64> = held.values().filter_map(|c| read_at(c)).map(|at| now - at).collect();
        let oldest = ages.iter().max().copied().unwrap_or_default();
        report.push_str(&format!(
            "    throttled: {stale} of {PIPELINES} cards say AWS is throttling; the oldest card shows a read {:.0} s old\n",
            oldest as f64 / 1000.0
        ));
        sandbox.aws.limit_codepipeline_rate(None);
    }
    others.iter().for_each(|v| v.abort());
    report
}
