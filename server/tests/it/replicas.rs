//! Two replicas, one PostgreSQL: the promises Rollgate makes when it runs as several
//! processes (see `common::replicas` for the setup). One story, because starting the whole
//! setup is most of its cost; each step says what it checks.
//!
//! `scripts/ha-demo.sh` runs this with the steps printed; with `ROLLGATE_HA_DEMO_STAY=1` it
//! leaves everything running at the end for a person to try in a browser.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use app::api::changes::{ApproveChange, ListChanges, RequestChange};
use app::model::ChangeView;
use futures_util::StreamExt;
use leptos::server_fn::ServerFn;

use crate::common::replicas::{Replicas, password};
use crate::common::{call, client, request_change, sign_in};

fn step(what: &str) {
    eprintln!("== replicas: {what}");
}

fn scale(deployment: &str, replicas: u32, reason: &str) -> RequestChange {
    RequestChange {
        namespace: Some("production".into()),
        deployment: Some(deployment.into()),
        replicas: Some(replicas.to_string()),
        ..request_change("production", "scale", reason)
    }
}

/// A person signed in through `base`: a client for `base` carrying their session, and the cookie.
async fn person(base: &str, name: &str) -> (reqwest::Client, String) {
    let cookie =
        sign_in(base, name, &password(name)).await.unwrap_or_else(|to| panic!("{name}: sent to {to}"));
    (client(base, Some(&cookie)), cookie)
}

fn served_by(response: &reqwest::Response) -> String {
    let by = response.headers().get("x-served-by").and_then(|v| v.to_str().ok());
    format!("replica {}", by.unwrap_or("none (the proxy)"))
}

async fn request(base: &str, dana: &reqwest::Client, change: &RequestChange) -> ChangeView {
    let response = call(base, dana, change).await;
    let (status, by) = (response.status().as_u16(), served_by(&response));
    assert_eq!(status, 200, "a request from {by}: {}", response.text().await.unwrap_or_default());
    response.json().await.expect("a change")
}

async fn approve(base: &str, approver: &reqwest::Client, id: &str) -> reqwest::Response {
    call(base, approver, &ApproveChange { id: id.to_owned(), comment: "ok".into() }).await
}

async fn state_of(ha: &Replicas, id: &str) -> (String, Option<String>) {
    sqlx::query_as::<_, (String, Option<String>)>("SELECT state, outcome FROM change_requests WHERE id = $1")
        .bind(id)
        .fetch_one(ha.store.store.pool())
        .await
        .expect("the change's row")
}

/// Waits until change `id` is in a final state; that state and its outcome.
async fn finished(ha: &Replicas, id: &str, within: Duration) -> (String, Option<String>) {
    let deadline = Instant::now() + within;
    loop {
        let (state, outcome) = state_of(ha, id).await;
        if ["executed", "failed", "rejected", "expired"].contains(&state.as_str()) {
            return (state, outcome);
        }
        assert!(Instant::now() < deadline, "change {id} still {state} after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many times change `id` was carried out, by the audit trail.
async fn executions(ha: &Replicas, id: &str) -> i64 {
    ha.count(
        "SELECT COUNT(*) FROM audit WHERE action = 'change.execute' AND detail LIKE $1",
        &format!("%({id})%"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres() {
    step("starting the sandbox, PostgreSQL's database, replicas A and B, and the proxy");
    let mut ha = Replicas::start().await;
    let (a, b, proxy) = (ha.replicas[0].url(), ha.replicas[1].url(), ha.proxy.url.clone());
    eprintln!("   proxy {proxy}, A {a}, B {b}; logs in {}", ha.dir.path().display());

    sessions_work_on_both(&a, &b, &proxy).await;
    concurrent_approvals_run_once(&ha, &a, &b, &proxy).await;
    a_stream_shows_a_change_made_through_b(&ha, &a, &b).await;
    a_pipeline_event_refreshes_both_replicas(&ha, &a, &b).await;
    every_sweeper_runs_a_left_change_once(&ha, &proxy).await;
    a_killed_runner_leaves_its_change_interrupted(&mut ha, &a, &b).await;
    a_rolling_restart_drops_nothing(&mut ha, &proxy).await;

    if std::env::var_os("ROLLGATE_HA_DEMO_STAY").is_some() {
        eprintln!(
            "\nEverything checked. Still running until Ctrl-C:\n  through the proxy  {proxy}\n  replica A          \
             {a}\n  replica B          {b}\nSign in as dana (deployer), avery/blair/casey (approvers) or ada (admin), \
             password <name>-replicas-password."
        );
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A session made on one replica works on the other; signing out on one ends it on both.
async fn sessions_work_on_both(a: &str, b: &str, proxy: &str) {
    step("sessions: one sign-in, both replicas");
    let cookie = sign_in(proxy, "vera", &password("vera")).await.expect("vera signs in through the proxy");
    for base in [a, b] {
        let listed =
            call(base, &client(base, Some(&cookie)), &ListChanges { env: "production".into() }).await;
        assert_eq!(listed.status().as_u16(), 200, "{base}: {}", listed.text().await.unwrap_or_default());
    }
    let out = client(a, Some(&cookie)).post(format!("{a}/auth/sign-out")).send().await.expect("sign-out");
    assert_eq!(out.status().as_u16(), 303);
    let after = call(b, &client(b, Some(&cookie)), &ListChanges { env: "production".into() }).await;
    assert_eq!(after.status().as_u16(), 401, "signed out on A, B must not know the session");
}

/// Four approvers, each clicking twice, half on A and half on B, all at once: two approvals
/// count, the rest are refused in words, and the change runs exactly once. Several rounds.
async fn concurrent_approvals_run_once(ha: &Replicas, a: &str, b: &str, proxy: &str) {
    step("concurrent approvals on both replicas run a change once");
    let (dana, _) = person(proxy, "dana").await;
    let mut approvers = Vec::new();
    for (i, name) in ["avery", "ada", "blair", "casey"].into_iter().enumerate() {
        let base = if i % 2 == 0 { a } else { b };
        approvers.push((base, person(base, name).await.0));
    }
    for round in 0..5u32 {
        let change = request(proxy, &dana, &scale("checkout-api", 2 + round, "peak")).await;
        let clicks = approvers.iter().flat_map(|(base, approver)| {
            [approve(base, approver, &change.id), approve(base, approver, &change.id)]
        });
        let answers = futures_util::future::join_all(clicks).await;
        let mut accepted = 0;
        for answer in answers {
            match answer.status().as_u16() {
                200 => accepted += 1,
                409 => {
                    let text = answer.text().await.unwrap_or_default();
                    assert!(
                        text.contains("no longer waiting for approval") || text.contains("already decided"),
                        "{text}"
                    );
                }
                other => panic!("an approval answered {other}: {}", answer.text().await.unwrap_or_default()),
            }
        }
        assert_eq!(accepted, 2, "round {round}: exactly the two approvals needed count");
        let (state, outcome) = finished(ha, &change.id, Duration::from_secs(30)).await;
        assert_eq!(state, "executed", "round {round}: {outcome:?}");
        assert_eq!(executions(ha, &change.id).await, 1, "round {round}: run once");
    }
}

/// A deployments stream open on replica A shows a change approved and run through replica B.
async fn a_stream_shows_a_change_made_through_b(ha: &Replicas, a: &str, b: &str) {
    step("a stream on A shows a change made through B");
    let (_, vera) = person(a, "vera").await;
    let stream = client(a, Some(&vera))
        .get(format!("{a}/live/production/deployments?namespace=production&name=storefront"))
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(stream.status().as_u16(), 200);
    let mut events = stream.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"desired\":4") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), events.next()).await;
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("the snapshot").expect("more").expect("bytes")));
    }
    let (dana, _) = person(b, "dana").await;
    let change = request(b, &dana, &scale("storefront", 5, "through B")).await;
    for name in ["avery", "blair"] {
        let answer = approve(b, &person(b, name).await.0, &change.id).await;
        assert_eq!(answer.status().as_u16(), 200);
    }
    assert_eq!(finished(ha, &change.id, Duration::from_secs(30)).await.0, "executed");
    let deadline = Instant::now() + Duration::from_secs(20);
    seen.clear();
    while !(seen.contains("\"name\":\"storefront\"") && seen.contains("\"desired\":5")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, events.next()).await;
        let chunk = chunk.unwrap_or_else(|_| panic!("A's stream never showed the change; it sent: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open").expect("bytes")));
    }
}

/// SQS gives each of CodePipeline's events to one replica; the pipeline card still changes on
/// both within moments (the replica that heard it tells the other through the store), though
/// an idle pipeline with a working queue would not be read again for fifteen minutes.
async fn a_pipeline_event_refreshes_both_replicas(ha: &Replicas, a: &str, b: &str) {
    step("a release started in CodePipeline shows on A and on B within moments");
    let mut streams = Vec::new();
    for base in [a, b] {
        let (_, vera) = person(base, "vera").await;
        let stream = client(base, Some(&vera))
            .get(format!("{base}/live/production/pipelines/myapp-production?detail=false&shown=0"))
            .send()
            .await
            .expect("the stream opens");
        assert_eq!(stream.status().as_u16(), 200);
        let mut events = stream.bytes_stream();
        // The first card: the pipeline was read once; from now on only events refresh it.
        let first = tokio::time::timeout(Duration::from_secs(20), events.next()).await;
        first.expect("the first card").expect("more").expect("bytes");
        streams.push((base.to_owned(), events));
    }
    // Let both feeds answer, so the pollers wait as pushed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let codepipeline =
        testkit::aws::codepipeline(&format!("http://{}", ha.sandbox.endpoints.codepipeline)).await;
    let started = Instant::now();
    let id = codepipeline.start_pipeline_execution().name("myapp-production").send().await.expect("started");
    let id = id.pipeline_execution_id.expect("an id");
    for (base, events) in &mut streams {
        let mut seen = String::new();
        while !seen.contains(&id) {
            let left = Duration::from_secs(5).saturating_sub(started.elapsed());
            let chunk = tokio::time::timeout(left, events.next()).await;
            let chunk =
                chunk.unwrap_or_else(|_| panic!("{base}'s card did not show {id} within 5 s: {seen}"));
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open").expect("bytes")));
        }
        eprintln!("   {base} showed the new execution {:?} after it started", started.elapsed());
    }
    let signals =
        ha.count("SELECT COUNT(*) FROM pipeline_signals WHERE pipeline = $1", "myapp-production").await;
    assert_eq!(signals, 1, "one row per pipeline, counted up");
}

/// Approved changes whose approver's replica stopped before running them (the state is made
/// by hand: an approval 60 s old, nobody's claim) are run by the sweepers, which run on both
/// replicas, each change once.
async fn every_sweeper_runs_a_left_change_once(ha: &Replicas, proxy: &str) {
    step("the sweepers on both replicas run each left-behind change once");
    let (dana, _) = person(proxy, "dana").await;
    let mut left = Vec::new();
    for (i, deployment) in ["checkout-api", "storefront", "myapp-deployment"].into_iter().enumerate() {
        let change = request(proxy, &dana, &scale(deployment, 3 + i as u32, "left behind")).await;
        let a_minute_ago = backend::clock::Timestamp::now().plus_secs(-60).millis();
        for approver in ["avery", "ada"] {
            sqlx::query(
                "INSERT INTO approvals (request_id, approver, decision, comment, at) VALUES ($1, $2, 'approve', '', $3)",
            )
            .bind(&change.id)
            .bind(approver)
            .bind(a_minute_ago)
            .execute(ha.store.store.pool())
            .await
            .expect("an approval");
        }
        sqlx::query("UPDATE change_requests SET state = 'approved', approval_count = 2 WHERE id = $1")
            .bind(&change.id)
            .execute(ha.store.store.pool())
            .await
            .expect("approved");
        left.push(change.id);
    }
    for id in &left {
        let (state, outcome) = finished(ha, id, Duration::from_secs(30)).await;
        assert_eq!(state, "executed", "{outcome:?}");
        assert_eq!(executions(ha, id).await, 1, "{id} run once");
    }
}

/// Replica A loses its link to the cluster while carrying out a change, keeps renewing its
/// claim (B leaves it alone), then is killed: B marks the change interrupted, in words and in
/// the audit trail, and runs nothing twice.
async fn a_killed_runner_leaves_its_change_interrupted(ha: &mut Replicas, a: &str, b: &str) {
    step("a replica killed mid-change: the other marks the change interrupted");
    let (dana, _) = person(b, "dana").await;
    let change = request(b, &dana, &scale("myapp-deployment", 4, "killed midway")).await;
    assert_eq!(approve(b, &person(b, "avery").await.0, &change.id).await.status().as_u16(), 200);
    let ada = person(a, "ada").await.0;
    ha.replica("a").link.freeze(true);
    let (id, a_url) = (change.id.clone(), a.to_owned());
    let hanging = tokio::spawn(async move {
        let approval = ApproveChange { id, comment: "ok".into() };
        ada.post(format!("{a_url}{}", ApproveChange::PATH)).form(&approval).send().await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while state_of(ha, &change.id).await.0 != "executing" {
        assert!(Instant::now() < deadline, "A never claimed the change");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lease = backend::changes::LEASE_SECS;
    let heartbeat = backend::changes::HEARTBEAT_SECS;
    tokio::time::sleep(Duration::from_secs((2 * heartbeat + 2).unsigned_abs())).await;
    let renewed = ha
        .count(
            "SELECT COUNT(*) FROM change_requests WHERE id = $1 AND state = 'executing' AND heartbeat_at > claimed_at",
            &change.id,
        )
        .await;
    assert_eq!(renewed, 1, "A renews its claim while it waits on the cluster, and B leaves it alone");

    ha.replica("a").signal("KILL");
    ha.replica("a").exited(Duration::from_secs(10)).await;
    assert!(hanging.await.expect("the approval's task").is_err(), "the approval's connection ended with A");
    let (state, outcome) = finished(ha, &change.id, Duration::from_secs((lease + 20).unsigned_abs())).await;
    assert_eq!(state, "failed");
    let outcome = outcome.unwrap_or_default();
    assert!(outcome.starts_with("interrupted: the replica running it stopped"), "{outcome}");
    let listed: Vec<ChangeView> =
        call(b, &dana, &ListChanges { env: "production".into() }).await.json().await.expect("the changes");
    let shown = listed.iter().find(|c| c.id == change.id).expect("the change is listed");
    assert_eq!(shown.outcome.as_deref(), Some(outcome.as_str()), "B's page says it in words");
    let audited = ha
        .count(
            "SELECT COUNT(*) FROM audit WHERE action = 'change.interrupted' AND detail LIKE $1",
            &format!("request {}: replica rollgate-% stopped while running it%", change.id),
        )
        .await;
    assert_eq!(audited, 1);
    assert_eq!(executions(ha, &change.id).await, 0, "not run a second time");

    ha.replica("a").link.freeze(false);
    ha.restart("a").await;
}

/// Both replicas restarted one after the other (SIGTERM, wait for the exit, start again) while
/// people keep requesting and approving through the proxy: every request is answered, every
/// change ends executed, and each replica exits cleanly.
async fn a_rolling_restart_drops_nothing(ha: &mut Replicas, proxy: &str) {
    step("a rolling restart under load drops no request and leaves no change half-done");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for (worker, deployment) in ["checkout-api", "storefront"].into_iter().enumerate() {
        let (stop, proxy) = (stop.clone(), proxy.to_owned());
        let (first, second) = if worker == 0 { ("avery", "ada") } else { ("blair", "casey") };
        workers.push(tokio::spawn(async move {
            let dana = person(&proxy, "dana").await.0;
            let approvers = [person(&proxy, first).await.0, person(&proxy, second).await.0];
            let viewer = person(&proxy, "vera").await.0;
            let (mut changes, mut requests, mut replicas) = (Vec::new(), 0u32, 1u32);
            while !stop.load(Ordering::Relaxed) {
                replicas = replicas % 5 + 1;
                let change = request(&proxy, &dana, &scale(deployment, replicas, "rolling")).await;
                for approver in &approvers {
                    let answer = approve(&proxy, approver, &change.id).await;
                    let (status, by) = (answer.status().as_u16(), served_by(&answer));
                    assert_eq!(
                        status,
                        200,
                        "an approval from {by}: {}",
                        answer.text().await.unwrap_or_default()
                    );
                }
                let page = viewer.get(format!("{proxy}/production/approvals")).send().await.expect("a page");
                let (status, by) = (page.status().as_u16(), served_by(&page));
                assert_eq!(status, 200, "the page from {by}: {}", page.text().await.unwrap_or_default());
                requests += 4;
                changes.push(change.id);
            }
            (changes, requests)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["a", "b"] {
        eprintln!("   SIGTERM to replica {name}");
        ha.replica(name).signal("TERM");
        let status = ha.replica(name).exited(Duration::from_secs(60)).await;
        assert!(status.success(), "replica {name} exited with {status}: {}", ha.replica(name).log_tail());
        ha.restart(name).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut changes, mut requests) = (Vec::new(), 0);
    for worker in workers {
        let (ids, count) = worker.await.expect("a worker ends without a failed request");
        changes.extend(ids);
        requests += count;
    }
    eprintln!("   {requests} requests and {} changes through the restarts", changes.len());
    assert_eq!(ha.proxy.stats.failed.load(Ordering::Relaxed), 0, "no request went unanswered");
    assert!(changes.len() >= 4, "the load ran through the restarts: {} changes", changes.len());
    for id in &changes {
        let (state, outcome) = finished(ha, id, Duration::from_secs(30)).await;
        assert_eq!(state, "executed", "{id}: {outcome:?}");
        assert_eq!(executions(ha, id).await, 1);
    }
    for (i, served) in ha.proxy.stats.served.iter().enumerate() {
        assert!(served.load(Ordering::Relaxed) > 0, "replica {i} served requests");
    }
}

/// Whether the transition into production's Deploy stage is enabled, as CodePipeline says.
async fn deploy_gate_open(client: &aws_sdk_codepipeline::Client) -> bool {
    let state = client.get_pipeline_state().name("myapp-production").send().await.expect("the state");
    let deploy = state.stage_states().iter().find(|s| s.stage_name() == Some("Deploy")).expect("Deploy");
    deploy.inbound_transition_state().is_none_or(|t| t.enabled())
}

async fn gate_until(client: &aws_sdk_codepipeline::Client, open: bool, within: Duration) {
    let deadline = Instant::now() + within;
    while deploy_gate_open(client).await != open {
        assert!(
            Instant::now() < deadline,
            "the Deploy gate did not become {}",
            if open { "open" } else { "closed" }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A freeze that holds outside Rollgate, kept by both replicas: the gate into Deploy is closed
/// once (one DisableStageTransition between them), stays closed, without a second call, while
/// both replicas restart in the middle of the window, and is opened once when it ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_freeze_is_kept_once_by_two_replicas_and_across_restarts() {
    use backend::clock::Timestamp;
    let now = Timestamp::now();
    let freeze = format!(
        "\n[[environment.recurring_freeze]]\nrrule = \"FREQ=DAILY\"\nstarts = \"{}\"\nends = \"{}\"\ntime_zone = \"UTC\"\nreason = \"replicas freeze\"\n",
        crate::freezes::wall(now.plus_secs(-60)),
        crate::freezes::wall(now.plus_secs(80)),
    );
    let mut ha = Replicas::start_with(&freeze).await;
    let client = testkit::aws::codepipeline(&format!("http://{}", ha.sandbox.endpoints.codepipeline)).await;
    let answered = |ha: &Replicas, operation: &str| {
        ha.sandbox.aws.codepipeline_calls_by_operation().get(operation).map_or(0, |c| c.answered)
    };

    step("the freeze closes the gate into Deploy, once between two replicas");
    gate_until(&client, false, Duration::from_secs(30)).await;
    // Both guards look every two seconds: give each several looks.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(answered(&ha, "DisableStageTransition"), 1);

    step("both replicas restart in the middle of the window: the gate stays closed, no second call");
    for name in ["a", "b"] {
        ha.replica(name).signal("TERM");
        ha.replica(name).exited(Duration::from_secs(20)).await;
        ha.restart(name).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!deploy_gate_open(&client).await, "still frozen");
    assert_eq!(answered(&ha, "DisableStageTransition"), 1);

    step("the window ends: the gate is opened, once");
    gate_until(&client, true, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(answered(&ha, "EnableStageTransition"), 1);
    assert_eq!(answered(&ha, "DisableStageTransition"), 1, "not closed again");
}

/// Notifications with two replicas: an execution started outside Rollgate waits for approval
/// and is then rejected; both replicas notice each, the receiver gets each once (a receiver
/// that fails its first three answers is retried, across both replicas restarting, until it
/// takes it), and every retry carries the same delivery id.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_are_sent_once_by_two_replicas_and_across_restarts() {
    use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus};

    use crate::notifications::{Receiver, signed_by};

    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, key) = (dir.path().join("url"), dir.path().join("key"));
    std::fs::write(&url, receiver.url("fail-3/ha")).unwrap();
    std::fs::write(&key, "replicas-key").unwrap();
    let notify = format!(
        "\n[[environment.notify]]\nname = \"ha\"\nkind = \"webhook\"\nurl = {{ file = \"{}\" }}\nsecret = {{ file = \"{}\" }}\nevents = [\"approval-waiting\", \"pipeline-failed\"]\n\n[notifications]\nretry_seconds = 1\n",
        url.display(),
        key.display()
    );
    let mut ha = Replicas::start_with(&notify).await;
    ha.sandbox.aws.set_pipeline_timings(sandbox::PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(300),
        ..Default::default()
    });
    let client = testkit::aws::codepipeline(&format!("http://{}", ha.sandbox.endpoints.codepipeline)).await;

    step("a push starts production's pipeline; it waits for approval");
    client.start_pipeline_execution().name("myapp-production").send().await.expect("started");
    let first = receiver.wait_for("fail-3/ha", "approval-waiting", 1).await;
    assert!(signed_by(&first[0], "replicas-key"));

    step("both replicas restart while the receiver still fails");
    for name in ["a", "b"] {
        ha.replica(name).signal("TERM");
        ha.replica(name).exited(Duration::from_secs(20)).await;
        ha.restart(name).await;
    }
    let tries = receiver.wait_for("fail-3/ha", "approval-waiting", 4).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let tries_now =
        receiver.got().into_iter().filter(|r| r.header("x-rollgate-event") == "approval-waiting").count();
    assert_eq!(tries_now, 4, "three failures and the one taken; nothing after");
    let ids: Vec<&str> = tries.iter().map(|t| t.header("x-rollgate-delivery")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one notification, retried: {ids:?}");
    let body = tries[3].json();
    assert!(body["title"].as_str().unwrap().starts_with("myapp-production waits for approval at Approval"));

    step("someone rejects it in the console: the failure is told once");
    let state = client.get_pipeline_state().name("myapp-production").send().await.unwrap();
    let token = state
        .stage_states()
        .iter()
        .flat_map(|s| s.action_states())
        .find_map(|a| {
            a.latest_execution()
                .filter(|l| {
                    l.status() == Some(&aws_sdk_codepipeline::types::ActionExecutionStatus::InProgress)
                })
                .and_then(|l| l.token())
        })
        .expect("the approval's token")
        .to_owned();
    client
        .put_approval_result()
        .pipeline_name("myapp-production")
        .stage_name("Approval")
        .action_name("ManualApproval")
        .token(token)
        .result(
            ApprovalResult::builder().status(ApprovalStatus::Rejected).summary("not now").build().unwrap(),
        )
        .send()
        .await
        .expect("rejected");
    receiver.wait_for("fail-3/ha", "pipeline-failed", 4).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let failed: Vec<_> =
        receiver.got().into_iter().filter(|r| r.header("x-rollgate-event") == "pipeline-failed").collect();
    assert_eq!(failed.len(), 4, "three failures and the one taken");
    let ids: Vec<&str> = failed.iter().map(|t| t.header("x-rollgate-delivery")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "both replicas noticed it; one notification: {ids:?}");
    assert_eq!(ha.count("SELECT COUNT(*) FROM notifications WHERE kind = $1", "pipeline-failed").await, 1);
}
