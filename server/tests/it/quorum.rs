//! Quorum on CodePipeline's manual approvals, through Rollgate's server functions against the
//! sandbox's CodePipeline. The sandbox's production rule: two people, at least one from
//! release-managers (avery) and one from security (ada), never the releaser. Each test is
//! what a person would try: answering twice, fifty answers at once, answering in the AWS
//! console instead, letting the approval expire, CodePipeline refusing the answer.

use std::time::Duration;

use app::model::pipelines::{ApprovalView, PipelineView};
use backend::audit::{Filter, Outcome};
use backend::policy::Role;
use sandbox::PipelineTimings;

use crate::common::TestPortal;
use crate::pipelines::{
    decide, detail, latest_status, portal, release_production, s, wait_until, waiting_approval,
};

const PIPELINE: &str = "myapp-production";

/// How many PutApprovalResult calls the sandbox carried out.
fn answers_sent(p: &TestPortal) -> u64 {
    let sandbox = p.running.sandbox.as_ref().expect("the sandbox runs");
    sandbox.aws.codepipeline_calls_by_operation().get("PutApprovalResult").map_or(0, |c| c.answered)
}

/// The audit records of `action`, newest first.
async fn audited(p: &TestPortal, action: &str) -> Vec<backend::audit::Record> {
    let filter = Filter { action: Some(s(action)), ..Default::default() };
    backend::audit::list(&p.running.portal.store, &filter, 0, 100).await.expect("the audit trail").records
}

/// The approval's action as the pipeline's page shows it.
fn approval_action(v: &PipelineView) -> Option<&app::model::pipelines::ActionView> {
    v.stages
        .iter()
        .find(|s| s.name == "Approval" && s.current)?
        .actions
        .iter()
        .find(|a| a.name == "ManualApproval")
}

async fn standing(p: &TestPortal) -> ApprovalView {
    waiting_approval(p, "production").await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_one_from_security_then_codepipeline_once() {
    let p = portal().await;
    let (dana, avery, ada, vera) = (
        p.as_role(Role::Deployer).await,
        p.as_role(Role::Approver).await,
        p.as_role(Role::Admin).await,
        p.as_role(Role::Viewer).await,
    );
    let approval = release_production(&p, &dana).await;
    let sent_before = answers_sent(&p);
    assert_eq!(
        approval.rule,
        "Needs 2 people, at least one from each of release-managers, security; never whoever asked Rollgate for the release."
    );
    assert_eq!(
        approval.standing,
        "0 of 2; waiting for 2 more people, among them someone from each of release-managers, security"
    );
    let since = approval.since_ms.expect("when it began waiting");
    assert_eq!(approval.expires_ms, Some(since + 7 * 86_400_000), "CodePipeline's seven days");

    assert_eq!(p.call(&vera, &decide(&approval, "approve", "me too")).await.status().as_u16(), 403);
    assert_eq!(p.call(&dana, &decide(&approval, "approve", "mine")).await.status().as_u16(), 403);

    let first = p.call(&avery, &decide(&approval, "approve", "Ship it")).await;
    assert_eq!(first.status().as_u16(), 200, "{}", first.text().await.unwrap_or_default());
    let waiting = standing(&p).await;
    assert_eq!(waiting.token, approval.token, "still waiting in CodePipeline");
    assert_eq!(waiting.standing, "1 of 2: avery approved; waiting for someone from security");
    assert_eq!(
        waiting.votes.iter().map(|v| (v.by.as_str(), v.approve, v.comment.as_str())).collect::<Vec<_>>(),
        [("avery", true, "Ship it")]
    );
    assert_eq!(answers_sent(&p), sent_before, "no answer to CodePipeline before the quorum");

    // The pipeline's page shows the same, rendered for its live stream.
    let page = p.client_with(&p.sign_in("vera", "vera-viewer-demo").await.unwrap());
    let html =
        page.get(p.url("/production/pipelines/myapp-production")).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("1 of 2: avery approved; waiting for someone from security"),
        "the page shows the tally"
    );

    let again = p.call(&avery, &decide(&approval, "approve", "really")).await;
    assert_eq!(again.status().as_u16(), 409);
    let text = again.text().await.unwrap();
    assert!(text.contains("You have answered this approval already: 1 of 2"), "{text}");

    let second = p.call(&ada, &decide(&approval, "approve", "Security is fine")).await;
    assert_eq!(second.status().as_u16(), 200, "{}", second.text().await.unwrap_or_default());
    assert_eq!(answers_sent(&p), sent_before + 1, "CodePipeline answered once");
    let live = wait_until(&p, "production", PIPELINE, "past the approval", |v| {
        approval_action(v).is_some_and(|a| a.status.as_deref() == Some("Succeeded"))
    })
    .await;
    let action = approval_action(&live).unwrap();
    assert_eq!(action.summary.as_deref(), Some("Ship it (by avery in Rollgate); Security is fine"));
    assert_eq!(action.updated_by.as_deref(), Some("ada"));
    assert_eq!(action.outside, None, "answered through Rollgate");

    let votes = audited(&p, "pipeline.approve").await;
    assert_eq!(votes.iter().filter(|r| r.result == Outcome::Succeeded).count(), 2, "both votes audited");
    assert_eq!(votes.iter().filter(|r| r.result == Outcome::Refused).count(), 1, "avery's second answer");
    let answers = audited(&p, "pipeline.answer").await;
    assert_eq!(answers.len(), 1);
    let detail = answers[0].detail.clone().unwrap_or_default();
    assert!(detail.starts_with("Approved by avery, ada: answered Approval / ManualApproval"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_rejection_rejects_at_once() {
    let p = portal().await;
    let (dana, avery) = (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await);
    let approval = release_production(&p, &dana).await;
    let rejected = p.call(&avery, &decide(&approval, "reject", "Not during the sale")).await;
    assert_eq!(rejected.status().as_u16(), 200, "{}", rejected.text().await.unwrap_or_default());
    wait_until(&p, "production", PIPELINE, "the release failed", |v| latest_status(v) == "Failed").await;
    let answers = audited(&p, "pipeline.answer").await;
    assert!(answers[0].detail.as_deref().unwrap_or("").starts_with("Rejected by avery"), "{answers:?}");
}

/// Fifty answers at once from the two people the quorum needs: both votes count, CodePipeline
/// is answered once, and nobody gets a server error.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_answers_at_once_answer_codepipeline_once() {
    let p = portal().await;
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(&p, &dana).await;
    let sent_before = answers_sent(&p);
    let calls = (0..50).map(|i| {
        let who = if i % 2 == 0 { &avery } else { &ada };
        let form = decide(&approval, "approve", &format!("answer {i}"));
        let p = &p;
        async move { p.call(who, &form).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| [200, 409].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert_eq!(answers_sent(&p), sent_before + 1, "one PutApprovalResult: {statuses:?}");
    let votes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pipeline_votes WHERE token = $1")
        .bind(&approval.token)
        .fetch_one(p.running.portal.store.pool())
        .await
        .unwrap();
    assert_eq!(votes, 2, "one vote each");
    wait_until(&p, "production", PIPELINE, "past the approval", |v| {
        approval_action(v).is_some_and(|a| a.status.as_deref() == Some("Succeeded"))
    })
    .await;
}

/// Someone approves in CodePipeline itself (the console, the CLI) while Rollgate collects
/// votes: the pipeline's page says so, the audit trail records it once, and later votes are
/// refused as the approval no longer waits.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_in_codepipeline_itself_is_noticed() {
    let p = portal().await;
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(&p, &dana).await;
    assert_eq!(p.call(&avery, &decide(&approval, "approve", "Ship it")).await.status().as_u16(), 200);

    let console = p.running.portal.pipelines.client("production").await.expect("a CodePipeline client");
    let result = aws_sdk_codepipeline::types::ApprovalResult::builder()
        .status(aws_sdk_codepipeline::types::ApprovalStatus::Approved)
        .summary("approved by hand in the console")
        .build()
        .unwrap();
    console
        .put_approval_result()
        .pipeline_name(PIPELINE)
        .stage_name(&approval.stage)
        .action_name(&approval.action)
        .token(&approval.token)
        .result(result)
        .send()
        .await
        .expect("CodePipeline takes the answer");

    let live = wait_until(&p, "production", PIPELINE, "noticed", |v| {
        approval_action(v).is_some_and(|a| a.outside.is_some())
    })
    .await;
    let outside = approval_action(&live).and_then(|a| a.outside.clone()).unwrap();
    assert!(outside.starts_with("Approved in CodePipeline itself by arn:aws:iam::"), "{outside}");
    assert!(outside.ends_with(", not through Rollgate."), "{outside}");
    for _ in 0..3 {
        detail(&p, "production", PIPELINE).await;
    }
    // (The demo world's own last execution was rejected outside Rollgate too: that one may
    // have been noticed before the release.)
    let noticed: Vec<_> = audited(&p, "pipeline.answered-outside")
        .await
        .into_iter()
        .filter(|r| r.detail.as_deref().unwrap_or("").contains(&approval.execution))
        .collect();
    assert_eq!(noticed.len(), 1, "audited once however often it is read");
    assert!(
        noticed[0].actor.starts_with("arn:aws:iam::"),
        "the AWS identity that answered: {}",
        noticed[0].actor
    );

    let late = p.call(&ada, &decide(&approval, "approve", "late")).await;
    assert_eq!(late.status().as_u16(), 409);
    assert!(
        late.text()
            .await
            .unwrap()
            .contains("No approval of Approval / ManualApproval with this token is waiting")
    );
}

/// An approval nobody completes expires in CodePipeline (the sandbox's is 2 s long here);
/// the votes so far are kept and a later vote is refused in words.
#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_approval_expires() {
    let p = portal().await;
    p.running.sandbox.as_ref().unwrap().aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(3),
        ..Default::default()
    });
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(&p, &dana).await;
    assert_eq!(p.call(&avery, &decide(&approval, "approve", "Ship it")).await.status().as_u16(), 200);
    let live =
        wait_until(&p, "production", PIPELINE, "the approval expired", |v| latest_status(v) == "Failed")
            .await;
    let action = approval_action(&live).expect("the approval action");
    assert!(action.error.as_deref().unwrap_or("").contains("expired"), "{:?}", action.error);
    assert_eq!(action.outside, None, "nobody answered it elsewhere");
    let late = p.call(&ada, &decide(&approval, "approve", "too late")).await;
    assert_eq!(late.status().as_u16(), 409);
    assert!(audited(&p, "pipeline.answer").await.is_empty(), "CodePipeline was never answered");
}

/// CodePipeline refuses the decided answer: the approval says why, and answering again (by
/// anyone who voted) sends it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_answer_is_sent_again() {
    let p = portal().await;
    let (dana, avery, ada) =
        (p.as_role(Role::Deployer).await, p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let approval = release_production(&p, &dana).await;
    assert_eq!(p.call(&avery, &decide(&approval, "approve", "Ship it")).await.status().as_u16(), 200);
    p.running.sandbox.as_ref().unwrap().aws.refuse_next("PutApprovalResult");
    let refused = p.call(&ada, &decide(&approval, "approve", "Security is fine")).await;
    assert_ne!(refused.status().as_u16(), 200);
    let text = refused.text().await.unwrap();
    assert!(text.contains("AWS refused: Rollgate's role may not do this"), "AWS's refusal, in words: {text}");
    let waiting = standing(&p).await;
    let unsent = waiting.unsent.expect("why the answer is not in CodePipeline");
    assert!(unsent.contains("may not do this"), "{unsent}");

    let resent = p.call(&avery, &decide(&approval, "approve", "again")).await;
    assert_eq!(resent.status().as_u16(), 200, "{}", resent.text().await.unwrap_or_default());
    wait_until(&p, "production", PIPELINE, "past the approval", |v| {
        approval_action(v).is_some_and(|a| a.status.as_deref() == Some("Succeeded"))
    })
    .await;
    let answers = audited(&p, "pipeline.answer").await;
    assert_eq!(
        answers.iter().map(|r| r.result).collect::<Vec<_>>(),
        [Outcome::Succeeded, Outcome::Failed],
        "newest first"
    );
}
