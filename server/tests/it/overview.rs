//! What runs where (`/overview`, the landing page) and two environments compared, through
//! Rollgate's server functions and pages on the sandbox's demo world: the grid with who
//! released and approved each running commit, the commits between staging and production,
//! and a promotion that is a change request under four eyes (tried as a careless or hostile
//! user would: a viewer, an environment they name twice, an application that does not run,
//! the requester approving herself). After a rollback the grid shows the commit that runs.

use std::time::Duration;

use app::api::changes::{ApproveChange, ListChanges};
use app::api::overview::{CompareEnvironments, GetOverview};
use app::api::pipelines::RequestPipelineChange;
use app::model::ChangeView;
use app::model::overview::{CellView, Direction, EnvironmentComparison, OverviewView, Promote, Via};
use backend::policy::Role;

use crate::common::{TestPortal, request_change};
use crate::pipelines::{ask, decide, portal, s, waiting_approval};

const APP: &str = "myapp-deployment";

async fn overview(p: &TestPortal, who: &reqwest::Client) -> OverviewView {
    let response = p.call(who, &GetOverview {}).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("the overview")
}

fn cell<'a>(o: &'a OverviewView, env: &str) -> &'a CellView {
    let row = o.rows.iter().find(|r| r.app == APP).expect("myapp's row");
    let at = o.environments.iter().position(|e| e.name == env).expect("the environment's column");
    row.cells[at].as_ref().expect("myapp runs there")
}

async fn compare(
    p: &TestPortal,
    who: &reqwest::Client,
    app: &str,
    left: &str,
    right: &str,
) -> reqwest::Response {
    p.call(who, &CompareEnvironments { app: s(app), left: s(left), right: s(right) }).await
}

async fn compared(p: &TestPortal, who: &reqwest::Client, left: &str, right: &str) -> EnvironmentComparison {
    let response = compare(p, who, APP, left, right).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("the comparison")
}

fn shorts(c: &EnvironmentComparison) -> Vec<&str> {
    c.commits.iter().map(|x| x.commit.short.as_str()).collect()
}

/// The demo world: staging runs e93d5f1 released by a pipeline execution, production the
/// older b7a04c2 that lee approved; the grid marks production as differing from staging.
/// `/` sends a signed-in visitor to it.
#[tokio::test]
async fn what_runs_where() {
    let p = TestPortal::sandbox().await;
    let o = overview(&p, &p.http).await;
    let names: Vec<&str> = o.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["staging", "production"]);
    let (staging, production) = (cell(&o, "staging"), cell(&o, "production"));
    let commit = staging.commit.as_ref().expect("staging's commit");
    assert_eq!((commit.short.as_str(), commit.id.len()), ("e93d5f1", 40), "the full hash from CodePipeline");
    assert_eq!(commit.message.as_deref(), Some("Cache product lookups"));
    assert_eq!(commit.author.as_deref(), Some("Dana Whitfield"));
    assert_eq!(staging.image.as_deref(), Some("myapp:e93d5f1"));
    assert_eq!(staging.released_by.as_deref(), Some("dana.whitfield"), "who started the execution");
    assert!(matches!(&staging.via, Some(Via::Execution { pipeline, .. }) if pipeline == "myapp-staging"));
    assert!(staging.since_ms.is_some());
    assert_eq!(production.commit.as_ref().map(|c| c.short.as_str()), Some("b7a04c2"));
    assert_eq!(production.approved_by, ["lee.nakamura"], "the manual approval's answer");
    let row = o.rows.iter().find(|r| r.app == APP).unwrap();
    assert_eq!(row.differs, [false, true]);
    // An application in one environment only has an empty cell in the other.
    let storefront = o.rows.iter().find(|r| r.app == "storefront").expect("storefront's row");
    assert!(storefront.cells[0].is_none() && storefront.cells[1].is_some());

    let (status, html) = p.page("/overview").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>What runs where</h1>"), "{html}");
    assert!(html.contains("data-app=\"myapp-deployment\""));
    assert!(html.contains("≠ differs from Staging"));
    assert!(html.contains("released by dana.whitfield"));
    assert!(html.contains("href=\"/overview?app=myapp-deployment&amp;pick=staging\""));
    // Picking staging makes production's cell a link to the comparison.
    let (_, picked) = p.page("/overview?app=myapp-deployment&pick=staging").await;
    assert!(
        picked.contains(
            "href=\"/overview/compare?app=myapp-deployment&amp;left=staging&amp;right=production\""
        )
    );

    let landing = p.http.get(p.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(landing.status().as_u16(), 302);
    assert_eq!(landing.headers()["location"], "/overview");
}

/// Staging is two commits ahead of production (c41f0e8's tests failed; e93d5f1's production
/// release was rejected): each with its author and the executions that carried it. The other
/// way round it is behind. Wrong questions get answers in words.
#[tokio::test]
async fn two_environments_compared() {
    let p = TestPortal::sandbox().await;
    let c = compared(&p, &p.http, "staging", "production").await;
    assert_eq!(c.direction, Some(Direction::Ahead));
    assert_eq!(shorts(&c), ["e93d5f1", "c41f0e8"], "newest first, production's own commit excluded");
    let newest = &c.commits[0];
    assert_eq!(newest.commit.author.as_deref(), Some("Dana Whitfield"));
    let carried: Vec<(&str, &str)> =
        newest.carriers.iter().map(|x| (x.pipeline.as_str(), x.status.as_str())).collect();
    assert_eq!(carried, [("myapp-production", "Failed"), ("myapp-staging", "Succeeded")]);
    assert_eq!(c.commits[1].carriers[0].status, "Failed", "c41f0e8's tests failed in staging");
    assert!(c.promote.is_none(), "vera is a viewer");
    assert!(c.promote_refused.as_deref().unwrap_or_default().contains("may not request changes"));

    let back = compared(&p, &p.http, "production", "staging").await;
    assert_eq!((back.direction, shorts(&back)), (Some(Direction::Behind), vec!["e93d5f1", "c41f0e8"]));

    let (status, html) = p.page("/overview/compare?app=myapp-deployment&left=staging&right=production").await;
    assert_eq!(status, 200);
    assert!(html.contains("Staging is 2 commits ahead of Production."), "{html}");
    assert!(!html.contains("data-action=\"promote\""), "no promotion offered to a viewer");

    let same = compare(&p, &p.http, APP, "staging", "staging").await;
    assert_eq!(same.status().as_u16(), 400);
    let nowhere = compare(&p, &p.http, "no-such-app", "staging", "production").await;
    assert_eq!(nowhere.status().as_u16(), 404);
    assert!(nowhere.text().await.unwrap().contains("no-such-app does not run in staging"));
    let unknown = compare(&p, &p.http, APP, "staging", "moon").await;
    assert_eq!(unknown.status().as_u16(), 404);
    let anonymous = compare(&p, &p.anonymous, APP, "staging", "production").await;
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, _) = p.page("/overview/compare?app=nope&left=staging&right=production").await;
    assert_eq!(status, 404);
}

/// dana promotes staging's commit into production: a change request (she cannot approve it
/// herself; a viewer cannot ask at all); avery approves, the pipeline runs at that commit,
/// its manual approval meets its quorum, and the grid then shows production running
/// e93d5f1, released by dana, with nothing between the two environments.
#[tokio::test(flavor = "multi_thread")]
async fn promote_under_four_eyes() {
    let p = portal().await;
    let dana = p.as_role(Role::Deployer).await;
    let (avery, ada) = (p.as_role(Role::Approver).await, p.as_role(Role::Admin).await);
    let c = compared(&p, &dana, "staging", "production").await;
    let Some(Promote::Pipeline { pipeline, commit }) = c.promote.clone() else { panic!("{:?}", c.promote) };
    assert_eq!(pipeline, "myapp-production");
    assert!(commit.starts_with("e93d5f1") && commit.len() == 40);
    let promote =
        RequestPipelineChange { commit: Some(commit.clone()), ..ask("production", &pipeline, "redeploy") };

    let viewer = p.call(&p.http, &promote).await;
    assert_eq!(viewer.status().as_u16(), 403, "a viewer's hand-made promotion");
    let asked: String = p.call(&dana, &promote).await.json().await.expect("asked");
    assert_eq!(asked, "pending");
    let changes: Vec<ChangeView> =
        p.call(&avery, &ListChanges { env: s("production") }).await.json().await.unwrap();
    let request = changes.iter().find(|c| c.state == "pending").expect("the promotion waits");
    assert!(request.description.contains("e93d5f1"), "{}", request.description);
    let own = p.call(&dana, &ApproveChange { id: request.id.clone(), comment: s("mine") }).await;
    assert_eq!(own.status().as_u16(), 409, "{}", own.text().await.unwrap_or_default());
    let approved: ChangeView = p
        .call(&avery, &ApproveChange { id: request.id.clone(), comment: s("go") })
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved.state, "executed", "{:?}", approved.outcome);

    let approval = waiting_approval(&p, "production").await;
    assert_eq!(approval.commit.as_ref().map(|c| c.short.as_str()), Some("e93d5f1"));
    for who in [&avery, &ada] {
        let answered = p.call(who, &decide(&approval, "approve", "promote")).await;
        assert_eq!(answered.status().as_u16(), 200, "{}", answered.text().await.unwrap_or_default());
    }
    let mut last = None;
    for _ in 0..300 {
        let o = overview(&p, &p.http).await;
        let production = cell(&o, "production").clone();
        if production.commit.as_ref().is_some_and(|c| c.short == "e93d5f1") && production.via.is_some() {
            assert_eq!(production.released_by.as_deref(), Some("dana"), "who asked Rollgate for it");
            assert!(!production.approved_by.is_empty());
            assert_eq!(o.rows.iter().find(|r| r.app == APP).unwrap().differs, [false, false]);
            let now = compared(&p, &dana, "staging", "production").await;
            assert_eq!((now.direction, now.commits.len()), (Some(Direction::Same), 0));
            return;
        }
        last = Some(production);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("production never ran e93d5f1: {last:?}");
}

/// A rollback through Rollgate: the grid follows what is deployed, not the newest commit —
/// staging shows the older commit it runs again, rolled back by dana.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_rollback_the_commit_that_runs() {
    let p = TestPortal::sandbox().await;
    let dana = p.as_role(Role::Deployer).await;
    let detail: app::model::DeploymentDetail = p
        .call(
            &dana,
            &app::api::deployments::GetDeployment {
                env: s("staging"),
                namespace: s("staging"),
                name: s(APP),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    let older = detail.revisions.iter().find(|r| !r.live).expect("an older revision");
    let older_commit = older.images[0].commit.clone().expect("tagged with a commit");
    let rollback = app::api::changes::RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s(APP)),
        revision: Some(older.number.to_string()),
        ..request_change("staging", "rollback", "bad cache")
    };
    let done = p.call(&dana, &rollback).await;
    assert_eq!(done.status().as_u16(), 200, "{}", done.text().await.unwrap_or_default());
    for _ in 0..100 {
        let o = overview(&p, &p.http).await;
        let staging = cell(&o, "staging");
        if staging.commit.as_ref().map(|c| c.short.as_str()) == Some(older_commit.as_str()) {
            assert_eq!(staging.released_by.as_deref(), Some("dana"));
            assert!(
                matches!(&staging.via, Some(Via::Change { what, .. }) if what.contains("roll")),
                "{:?}",
                staging.via
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("staging still shows the newer commit after the rollback");
}
