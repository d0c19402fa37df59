//! Four-eyes over HTTP, on SQLite and on PostgreSQL: a deployer requests a production change,
//! an approver approves it, the change runs once and the audit trail tells the story.

use crate::common;

use app::api::audit::ListAudit;
use app::api::changes::{ApproveChange, ListChanges, RequestChange};
use app::api::deployments::GetDeployment;
use app::model::{AuditPage, ChangeView, DeploymentDetail};
use backend::policy::Role;
use common::TestPortal;
use testkit::store::Flavour;

fn s(v: &str) -> String {
    v.to_owned()
}

fn scale_production(reason: &str) -> RequestChange {
    RequestChange {
        namespace: Some(s("production")),
        deployment: Some(s("myapp-deployment")),
        replicas: Some(s("4")),
        ..common::request_change("production", "scale", reason)
    }
}

async fn story(flavour: Flavour) {
    let p = TestPortal::sandbox_on(flavour).await;
    let dana = p.as_role(Role::Deployer).await;
    let avery = p.as_role(Role::Approver).await;
    let ada = p.as_role(Role::Admin).await;

    let requested: ChangeView = p.call(&dana, &scale_production("peak traffic")).await.json().await.unwrap();
    assert_eq!(requested.state, "pending");
    assert_eq!(requested.description, "scale production/myapp-deployment to 4 replica(s)");

    // The requester's own view says why they cannot approve; the approver's says they can.
    let own: Vec<ChangeView> =
        p.call(&dana, &ListChanges { env: s("production") }).await.json().await.unwrap();
    assert!(own[0].can_decide.why_not().unwrap().contains("You requested this change"));
    let theirs: Vec<ChangeView> =
        p.call(&avery, &ListChanges { env: s("production") }).await.json().await.unwrap();
    assert!(theirs[0].can_decide.yes());

    // An admin cannot approve their own request either.
    let own_request: ChangeView = p.call(&ada, &scale_production("admin's own")).await.json().await.unwrap();
    let refused = p.call(&ada, &ApproveChange { id: own_request.id.clone(), comment: s("") }).await;
    assert_eq!(refused.status().as_u16(), 409);
    assert!(refused.text().await.unwrap().contains("someone else must approve or reject it"));

    let approved = p.call(&avery, &ApproveChange { id: requested.id.clone(), comment: s("go ahead") }).await;
    assert_eq!(approved.status().as_u16(), 200);
    let approved: ChangeView = approved.json().await.unwrap();
    // The approval that completes the count runs it, on the sandbox cluster.
    assert_eq!(approved.state, "executed", "{:?}", approved.outcome);
    assert!(
        approved.outcome.as_deref().is_some_and(|o| o.starts_with("4 replica(s)")),
        "{:?}",
        approved.outcome
    );
    let detail: DeploymentDetail = p
        .call(
            &dana,
            &GetDeployment { env: s("production"), namespace: s("production"), name: s("myapp-deployment") },
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail.live.row.desired, 4);
    assert_eq!(detail.live.row.changed_by.as_deref(), Some("dana, approved by avery"));
    let again = p.call(&ada, &ApproveChange { id: requested.id.clone(), comment: s("") }).await;
    assert_eq!(again.status().as_u16(), 409, "no second execution");

    let trail: AuditPage = p
        .call(
            &dana,
            &ListAudit {
                env: s("production"),
                actor: s(""),
                action: s(""),
                from: s(""),
                until: s(""),
                page: 0,
            },
        )
        .await
        .json()
        .await
        .unwrap();
    let story: Vec<_> =
        trail.rows.iter().rev().map(|r| (r.action.as_str(), r.actor.as_str(), r.result.as_str())).collect();
    assert_eq!(
        story,
        vec![
            ("change.request", "dana", "succeeded"),
            ("change.request", "ada", "succeeded"),
            ("change.approve", "ada", "refused"),
            ("change.approve", "avery", "succeeded"),
            ("change.execute", "avery", "succeeded"),
            ("change.approve", "ada", "refused"),
        ]
    );
    let execute = trail.rows.iter().find(|r| r.action == "change.execute").unwrap();
    assert_eq!(execute.source_ip.as_deref(), Some("127.0.0.1"));
    assert!(execute.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(execute.detail.as_deref().unwrap().contains("requested by dana, approved by avery"));

    let csv = dana.get(p.url("/production/audit/export?format=csv&actor=avery")).send().await.unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert_eq!(
        csv.headers()["content-disposition"],
        "attachment; filename=\"rollgate-audit-production.csv\""
    );
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("change.execute") && text.contains("change.approve"));
    let json: serde_json::Value =
        dana.get(p.url("/production/audit/export?format=json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(json.as_array().unwrap().len(), trail.rows.len());
}

#[tokio::test]
async fn deployer_requests_approver_approves_on_sqlite() {
    story(Flavour::Sqlite).await;
}

#[tokio::test]
async fn deployer_requests_approver_approves_on_postgres() {
    story(Flavour::Postgres).await;
}
