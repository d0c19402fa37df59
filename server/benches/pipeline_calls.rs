//! A pipeline watched through Rollgate: a `rollgate` process pointed at the sandbox's
//! CodePipeline the production way (`AWS_ENDPOINT_URL_CODEPIPELINE` and static credentials in
//! the environment, the AWS default chain), the sandbox in this process counting every request
//! its CodePipeline endpoint answers.
//!
//! Measures (1) AWS calls per minute for one pipeline, idle and while an execution runs, with
//! 1 and with 50 live viewers; (2) the time from a stage change in the sandbox (a manual
//! approval answered in "AWS", not through Rollgate) to a viewer's stream carrying the card
//! that shows it; that stream is what the page swaps in, so it is the screen less a few ms of
//! DOM work (see the event-to-screen benchmark for that part). Both twice, side by side:
//! polled (no events queue) and pushed (`aws.events_queue`: the sandbox's CodePipeline sends
//! its state changes to its SQS queue, `AWS_ENDPOINT_URL_SQS`).
//!
//! `cargo bench -p server --bench pipeline_calls` (the README's "Measurements" lists the
//! latest run). Targets: calls do not grow with viewers; a stage change reaches the screen
//! within one poll interval (3 s) polled and within 1 s (p95) pushed; an idle pipeline costs at
//! most one call per 5 minutes pushed.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

const PIPELINE: &str = "myapp-production";
const VIEWERS: usize = 50;
const WINDOW: Duration = Duration::from_secs(60);
const SAMPLES: usize = 20;

impl support::Aws {
    /// The token of the manual approval waiting in execution `id`, once it waits.
    async fn approval_token(&self, id: &str) -> String {
        for _ in 0..600 {
            let state = self.call("GetPipelineState", json!({ "name": PIPELINE })).await;
            for stage in state["stageStates"].as_array().into_iter().flatten() {
                let latest = &stage["actionStates"][0]["latestExecution"];
                if stage["stageName"] == "Approval"
                    && stage["latestExecution"]["pipelineExecutionId"] == id
                    && latest["status"] == "InProgress"
                    && let Some(token) = latest["token"].as_str()
                {
                    return token.to_owned();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} never waited for approval");
    }
}

/// The status a card shows for `stage`.
fn stage_status<'a>(card: &'a str, stage: &str) -> Option<&'a str> {
    let marker = format!("data-stage=\"{stage}\" data-status=\"");
    let rest = &card[card.find(&marker)? + marker.len()..];
    Some(&rest[..rest.find('"')?])
}

/// A pseudo-random number of milliseconds below `below` (the clock's nanoseconds are enough).
fn jitter_ms(below: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) % below
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

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

/// One mode's figures, as lines to print.
async fn measure(pushed: bool) -> String {
    let mode = if pushed { "pushed (events queue)" } else { "polled (no events queue)" };
    eprintln!("== {mode}");
    let dir = tempfile::tempdir().unwrap();
    let options = sandbox::Options { world: sandbox::World::Demo, ..sandbox::Options::default() };
    let sandbox = sandbox::Sandbox::start_with(options).await.expect("the sandbox starts");
    let kubeconfig = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let aws = support::Aws::new(&sandbox);

    let environment = format!(
        "[[environment]]\nname = \"bench\"\nnamespaces = [\"production\"]\n\
         cluster = {{ kind = \"kubeconfig\", path = \"{}\" }}\n\
         aws = {{ region = \"us-east-1\", pipelines = [\"{PIPELINE}\"],{queue} deploys = [\
         {{ pipeline = \"{PIPELINE}\", stage = \"Deploy\", namespace = \"production\", deployment = \"myapp-deployment\" }}] }}\n",
        kubeconfig.display(),
        queue = if pushed { " events_queue = \"rollgate-pipeline-events\"," } else { "" },
    );
    let portal = support::Rollgate::on_sandbox_aws(dir.path(), &environment, &sandbox).await;
    let http = portal.signed_in().await;
    let base = &portal.base;
    let url = format!("{base}/live/bench/pipelines/{PIPELINE}?detail=true");

    let (cards, mut seen) = mpsc::unbounded_channel();
    support::viewer(http.clone(), url.clone(), Some(cards));
    seen.recv().await.expect("the first card");

    // (2) Stage change → stream, with quick actions so each sample reaches its approval fast.
    sandbox.aws.set_pipeline_timings(sandbox::PipelineTimings {
        source: Duration::from_millis(300),
        test: Duration::from_millis(300),
        build: Duration::from_millis(300),
        approval_timeout: Duration::from_secs(3600),
        ..Default::default()
    });
    let mut latencies = Vec::new();
    for _ in 0..SAMPLES {
        let started = aws.call("StartPipelineExecution", json!({ "name": PIPELINE })).await;
        let id = started["pipelineExecutionId"].as_str().unwrap().to_owned();
        let token = aws.approval_token(&id).await;
        eprintln!("sample {}: {id} waits for approval", latencies.len() + 1);
        // The card shows the approval waiting before it is answered.
        loop {
            let (_, card) = tokio::time::timeout(Duration::from_secs(60), seen.recv())
                .await
                .unwrap_or_else(|_| panic!("the card never showed {id} waiting"))
                .unwrap();
            if card.contains(&format!("data-approval=\"{id}\"")) {
                break;
            }
        }
        // A change lands at any moment between two reads: wait a varying part of the poll
        // interval (3 s while running) after the read that showed the approval.
        tokio::time::sleep(Duration::from_millis(jitter_ms(3000))).await;
        while seen.try_recv().is_ok() {}
        let approval = json!({
            "pipelineName": PIPELINE, "stageName": "Approval", "actionName": "ManualApproval",
            "result": { "summary": "bench", "status": "Approved" }, "token": token,
        });
        aws.call("PutApprovalResult", approval).await;
        let changed = Instant::now();
        let mut card = loop {
            let (at, card) = tokio::time::timeout(Duration::from_secs(60), seen.recv())
                .await
                .unwrap_or_else(|_| panic!("the card never showed {id}'s approval answered"))
                .unwrap();
            if stage_status(&card, "Approval") == Some("Succeeded") {
                latencies.push(at.duration_since(changed).as_secs_f64() * 1000.0);
                break card;
            }
        };
        // Let it finish before the next sample (a new start would supersede it); the card that
        // showed the approval may already show the end.
        let ended = |card: &str| {
            ["Succeeded", "Failed", "Stopped"]
                .iter()
                .any(|s| card.contains(&format!("data-pipeline=\"{PIPELINE}\" data-status=\"{s}\"")))
        };
        while !(ended(&card) && card.contains(&format!("data-execution=\"{id}\""))) {
            card = tokio::time::timeout(Duration::from_secs(120), seen.recv())
                .await
                .unwrap_or_else(|_| panic!("{id} did not end within 2 min; last card: {card}"))
                .unwrap()
                .1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mut report = format!(
        "{mode}\n  stage change in the sandbox → viewer's stream ({SAMPLES} approvals answered in AWS at random moments): min {:.0} ms, median {:.0} ms, p95 {:.0} ms, max {:.0} ms\n",
        latencies[0],
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[latencies.len() - 1]
    );

    // (1) Calls per minute: idle with one viewer, then an execution that outlasts two windows
    // with 1 and with 50 viewers, then idle again with 50.
    let counter = sandbox.aws.clone();
    let window = |label: &'static str| {
        let counter = counter.clone();
        async move {
            let start = counter.codepipeline_calls();
            tokio::time::sleep(WINDOW).await;
            let n = counter.codepipeline_calls() - start;
            (label, n as f64 * 60.0 / WINDOW.as_secs_f64())
        }
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut rates = vec![window("idle, 1 viewer").await];
    sandbox.aws.set_pipeline_timings(sandbox::PipelineTimings {
        source: Duration::from_secs(10),
        test: Duration::from_secs(120),
        build: Duration::from_secs(120),
        approval_timeout: Duration::from_secs(3600),
        ..Default::default()
    });
    let running = aws.call("StartPipelineExecution", json!({ "name": PIPELINE })).await;
    let id = running["pipelineExecutionId"].as_str().unwrap().to_owned();
    // The window starts once the poller has seen the execution (its idle sleep may last 20 s).
    while !seen.recv().await.expect("cards").1.contains(&format!("data-execution=\"{id}\"")) {}
    rates.push(window("running, 1 viewer").await);
    let others: Vec<_> = (1..VIEWERS).map(|_| support::viewer(http.clone(), url.clone(), None)).collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    rates.push(window("running, 50 viewers").await);
    aws.call(
        "StopPipelineExecution",
        json!({ "pipelineName": PIPELINE, "pipelineExecutionId": id, "abandon": true }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    rates.push(window("idle, 50 viewers").await);
    others.iter().for_each(|v| v.abort());
    report.push_str(&format!(
        "  AWS CodePipeline calls per minute for {PIPELINE} (counted by the sandbox, {} s windows):\n",
        WINDOW.as_secs()
    ));
    for (label, rate) in &rates {
        report.push_str(&format!("    {label:<22} {rate:.1}\n"));
    }
    report
}
