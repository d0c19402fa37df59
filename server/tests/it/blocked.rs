//! Blocked commits, through Rollgate's server functions on the sandbox: a rollback blocks the
//! commit it took out of service; every way back to that commit through Rollgate is refused
//! (deploying its image, even spelled in capitals; rolling back to its revision; redeploying
//! it through the pipeline); lifting the block is a change request someone else approves; and
//! a pipeline execution of a blocked commit started outside Rollgate is stopped before it
//! enters Deploy.

use std::time::Duration;

use app::api::blocked::ListBlocked;
use app::api::changes::{ApproveChange, ListChanges, RequestChange};
use app::model::{BlockView, ChangeView, DeploymentDetail};
use backend::audit::Caller;
use backend::clock::Timestamp;
use backend::policy::Role;
use backend::policy::blocked::{self, CommitHash};
use sandbox::PipelineTimings;

use crate::common::{TestPortal, request_change};
use crate::pipelines::{ask, detail, portal, s, wait_until};

async fn deployment(p: &TestPortal) -> DeploymentDetail {
    let get = app::api::deployments::GetDeployment {
        env: s("production"),
        namespace: s("production"),
        name: s("myapp-deployment"),
    };
    p.call(&p.http, &get).await.json().await.expect("the deployment")
}

fn on_myapp(kind: &str, reason: &str) -> RequestChange {
    RequestChange {
        namespace: Some(s("production")),
        deployment: Some(s("myapp-deployment")),
        container: Some(s("myapp-container")),
        ..request_change("production", kind, reason)
    }
}

/// Asks as `who`; production is protected, so avery (or `approver`) approves the request.
async fn asked_and_approved(
    p: &TestPortal,
    who: &reqwest::Client,
    approver: &reqwest::Client,
    change: &RequestChange,
) -> ChangeView {
    let response = p.call(who, change).await;
    assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap_or_default());
    let asked: ChangeView = response.json().await.unwrap();
    assert_eq!(asked.state, "pending");
    let done: ChangeView =
        p.call(approver, &ApproveChange { id: asked.id, comment: s("ok") }).await.json().await.unwrap();
    assert_eq!(done.state, "executed", "{:?}", done.outcome);
    done
}

async fn blocks(p: &TestPortal) -> Vec<BlockView> {
    p.call(&p.http, &ListBlocked { env: s("production") }).await.json().await.expect("the blocked commits")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_commit_stays_out_until_a_change_request_lifts_the_block() {
    let p = portal().await;
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let before = deployment(&p).await;
    let live = before.revisions.iter().find(|r| r.live).expect("a live revision");
    let bad = live.images[0].commit.clone().expect("the live image is tagged with a commit");
    let earlier = before
        .revisions
        .iter()
        .find(|r| !r.live && r.images[0].commit.as_ref().is_some_and(|c| c != &bad))
        .expect("an earlier revision of another commit");

    // The rollback page offers to block what it takes out of service.
    let preview = app::api::deployments::PreviewRollback {
        env: s("production"),
        namespace: s("production"),
        name: s("myapp-deployment"),
        revision: earlier.number,
    };
    let previewed: app::model::PreviewView = p.call(&dana, &preview).await.json().await.unwrap();
    assert_eq!(previewed.retires, std::slice::from_ref(&bad));

    let rollback = RequestChange {
        revision: Some(earlier.number.to_string()),
        block: Some(s("yes")),
        block_reason: Some(s("broke checkout (INC-42)")),
        ..on_myapp("rollback", "checkout fails")
    };
    let done = asked_and_approved(&p, &dana, &avery, &rollback).await;
    let listed = blocks(&p).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].commit.as_str(), listed[0].reason.as_str(), listed[0].by.as_str()),
        (bad.as_str(), "broke checkout (INC-42)", "dana")
    );
    assert_eq!(listed[0].change.as_deref(), Some(done.id.as_str()));
    let trail = backend::audit::list(
        &p.running.portal.store,
        &backend::audit::Filter { action: Some(s("commit.block")), ..Default::default() },
        0,
        10,
    )
    .await
    .unwrap();
    assert_eq!(trail.records.len(), 1);

    // The cluster rolls back: the bad commit's revision is an old one now.
    let mut bad_revision = None;
    for _ in 0..100 {
        let now = deployment(&p).await;
        let live_now = now.revisions.iter().find(|r| r.live).map(|r| r.images[0].commit.clone());
        if live_now.is_some_and(|c| c.as_ref() != Some(&bad)) {
            bad_revision =
                now.revisions.iter().find(|r| r.images[0].commit.as_ref() == Some(&bad)).map(|r| r.number);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bad_revision = bad_revision.expect("the rolled-back revision is kept");

    // Every way back through Rollgate is refused, in words, whoever asks.
    let refusal =
        |r: &str| r.contains(&format!("It would release a blocked commit: commit {bad} is blocked by dana"));
    let image = |tag: &str| RequestChange {
        image: Some(format!("myapp:{tag}")),
        ..on_myapp("deploy-image", "try again")
    };
    for (what, change) in [
        ("deploy its image", image(&bad)),
        ("deploy its image in capitals", image(&bad.to_uppercase())),
        (
            "roll back to its revision",
            RequestChange { revision: Some(bad_revision.to_string()), ..on_myapp("rollback", "undo") },
        ),
    ] {
        let response = p.call(&ada, &change).await;
        assert_eq!(response.status().as_u16(), 409, "{what}");
        let text = response.text().await.unwrap();
        assert!(refusal(&text), "{what}: {text}");
    }
    let mut redeploy = ask("production", "myapp-production", "redeploy");
    redeploy.commit = Some(bad.clone());
    let response = p.call(&dana, &redeploy).await;
    let text = response.text().await.unwrap();
    assert!(refusal(&text), "redeploy it through the pipeline: {text}");

    // A change asked for before its commit was blocked is refused when it would run.
    let asked: ChangeView = p.call(&dana, &image("abcdef1")).await.json().await.unwrap();
    assert_eq!(asked.state, "pending");
    let mut tx = p.running.portal.store.begin().await.unwrap();
    let later = CommitHash::parse("abcdef1").unwrap();
    blocked::block(&mut tx, &Caller::new("ada"), "production", &later, "found later", None, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ran: ChangeView =
        p.call(&avery, &ApproveChange { id: asked.id, comment: s("ok") }).await.json().await.unwrap();
    assert_eq!(ran.state, "failed");
    let outcome = ran.outcome.unwrap_or_default();
    assert!(
        outcome.contains("it would release a blocked commit: commit abcdef1 is blocked by ada"),
        "{outcome}"
    );

    // Lifting the block is a change request: dana asks, someone else approves.
    let unblock = RequestChange {
        commit: Some(bad.clone()),
        ..request_change("production", "unblock", "fixed in the next commit")
    };
    let lifted = asked_and_approved(&p, &dana, &ada, &unblock).await;
    assert_eq!(lifted.kind, "unblock commit");
    let after = blocks(&p).await;
    let entry = after.iter().find(|b| b.commit == bad).unwrap();
    assert_eq!(entry.lifted_by.as_deref(), Some("dana, approved by ada"));
    let again = p.call(&dana, &image(&bad)).await;
    assert_eq!(
        again.status().as_u16(),
        200,
        "released again once lifted: {}",
        again.text().await.unwrap_or_default()
    );
    let unknown = p
        .call(
            &dana,
            &RequestChange { commit: Some(s("0123456789")), ..request_change("production", "unblock", "x") },
        )
        .await;
    assert_eq!(unknown.status().as_u16(), 409, "nothing to lift");
    let changes: Vec<ChangeView> =
        p.call(&avery, &ListChanges { env: s("production") }).await.json().await.unwrap();
    assert!(changes.iter().any(|c| c.kind == "unblock commit" && c.state == "executed"));
}

/// A push releases a blocked commit through the pipeline: the guard disables the transition
/// into Deploy, stops the execution saying why, and enables the transition again.
#[tokio::test(flavor = "multi_thread")]
async fn the_guard_stops_a_pushed_blocked_commit_before_deploy() {
    let p = portal().await;
    let sandbox = p.running.sandbox.as_ref().unwrap();
    // Builds take a while, as they do.
    sandbox.aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(200),
        test: Duration::from_millis(500),
        build: Duration::from_secs(3),
        approval_timeout: Duration::from_secs(300),
        ..Default::default()
    });
    let head = sandbox.aws.commit("myapp", "Break checkout again", "Priya Raman");
    let commit = CommitHash::parse(&head[..7]).unwrap();
    let mut tx = p.running.portal.store.begin().await.unwrap();
    blocked::block(
        &mut tx,
        &Caller::new("ada"),
        "staging",
        &commit,
        "broke checkout, INC-43",
        None,
        Timestamp::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let image_before = {
        let get = app::api::deployments::GetDeployment {
            env: s("staging"),
            namespace: s("staging"),
            name: s("myapp-deployment"),
        };
        let d: DeploymentDetail = p.call(&p.http, &get).await.json().await.unwrap();
        d.containers[0].image.clone()
    };

    // The push: an execution started in CodePipeline itself.
    let client = p.running.portal.pipelines.client("staging").await.unwrap();
    let started = client.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let execution = started.pipeline_execution_id().unwrap().to_owned();

    let stopped = wait_until(&p, "staging", "myapp-staging", "stopped by the guard", |v| {
        v.latest
            .as_ref()
            .is_some_and(|e| e.id == execution && ["Stopped", "Stopping"].contains(&e.status.as_str()))
    })
    .await;
    let summary = stopped.latest.and_then(|e| e.summary).unwrap_or_default();
    assert!(
        summary.starts_with(&format!(
            "Commit {} is blocked in Rollgate by ada: broke checkout, INC-43",
            &head[..7]
        )),
        "{summary}"
    );
    let done = wait_until(&p, "staging", "myapp-staging", "the transition open again", |v| {
        v.latest.as_ref().is_some_and(|e| e.status == "Stopped")
            && v.stages.iter().find(|s| s.name == "Deploy").is_some_and(|s| s.disabled.is_none())
    })
    .await;
    let deploy = done.stages.iter().find(|s| s.name == "Deploy").unwrap();
    assert_ne!(deploy.execution_id.as_deref(), Some(execution.as_str()), "it never entered Deploy");
    let get = app::api::deployments::GetDeployment {
        env: s("staging"),
        namespace: s("staging"),
        name: s("myapp-deployment"),
    };
    let d: DeploymentDetail = p.call(&p.http, &get).await.json().await.unwrap();
    assert_eq!(d.containers[0].image, image_before, "the blocked commit never ran");
    let steps: Vec<String> =
        sqlx::query_scalar("SELECT step FROM guard_actions WHERE execution = $1 ORDER BY step")
            .bind(&execution)
            .fetch_all(p.running.portal.store.pool())
            .await
            .unwrap();
    assert_eq!(steps, ["disable Deploy", "enable Deploy", "stop"], "each step once");
    let history = detail(&p, "staging", "myapp-staging").await.history;
    assert!(history.iter().any(|e| e.id == execution && e.status == "Stopped"));
}
