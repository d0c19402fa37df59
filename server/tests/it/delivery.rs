//! The Delivery page's figures (DORA) on the sandbox's demo world: executions started outside
//! Rollgate count, a Rollgate deploy that is rolled back is a failed change with a time to
//! restore, the charts are SVG drawn on the server with their figures beside them, and the
//! CSV export holds the rollouts behind the figures. Wrong periods and applications are
//! refused in words; a stranger gets nothing.

use app::api::changes::RequestChange;
use app::api::delivery::GetDelivery;
use app::model::delivery::{AppFigures, DeliveryView};
use backend::policy::Role;

use crate::common::{TestPortal, request_change};
use crate::pipelines::s;

const APP: &str = "myapp-deployment";

async fn delivery(p: &TestPortal, days: &str, app: &str) -> reqwest::Response {
    p.call(&p.http, &GetDelivery { env: s("staging"), days: s(days), app: s(app) }).await
}

async fn figures(p: &TestPortal, days: &str) -> (DeliveryView, AppFigures) {
    let response = delivery(p, days, APP).await;
    assert_eq!(response.status().as_u16(), 200);
    let d: DeliveryView = response.json().await.expect("the figures");
    let app = d.apps.iter().find(|a| a.app == APP).expect("myapp's figures").clone();
    (d, app)
}

async fn change(p: &TestPortal, who: &reqwest::Client, args: RequestChange) {
    let response = p.call(who, &args).await;
    assert_eq!(response.status().as_u16(), 200);
    let done: app::model::ChangeView = response.json().await.expect("the change");
    assert_eq!(done.state, "executed", "{:?}", done.outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_figures_from_pipelines_and_rollgate() {
    let p = TestPortal::sandbox().await;
    // The demo's staging history: four executions deployed (none started in Rollgate), the
    // one whose tests failed never reached Deploy.
    let (d, before) = figures(&p, "30").await;
    assert_eq!(d.days, 30);
    assert_eq!((before.now.deployments, before.now.changes, before.now.failed_changes), (4, 4, 0));
    assert!(before.now.lead_time_ms.is_some_and(|t| t > 0));
    assert_eq!(before.now.failure_rate, Some(0.0));
    let quiet = d.apps.iter().find(|a| a.app == "checkout-api").expect("every application has a row");
    assert_eq!((quiet.now.deployments, quiet.now.failure_rate, quiet.now.lead_time_ms), (0, None, None));

    // dana deploys an earlier commit's image through Rollgate, then rolls it back.
    let dana = p.as_role(Role::Deployer).await;
    let deploy = RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s(APP)),
        container: Some(s("myapp-container")),
        image: Some(s("myapp:c41f0e8")),
        ..request_change("staging", "deploy-image", "try the payment client")
    };
    change(&p, &dana, deploy).await;
    // The revision the deploy made is live before it is rolled back.
    let mut detail: Option<app::model::DeploymentDetail> = None;
    for _ in 0..100 {
        let read: app::model::DeploymentDetail = p
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
        if read.revisions.iter().any(|r| r.live && r.images[0].image == "myapp:c41f0e8") {
            detail = Some(read);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let detail = detail.expect("the deployed revision went live");
    let previous =
        detail.revisions.iter().filter(|r| !r.live).map(|r| r.number).max().expect("an earlier revision");
    let rollback = RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s(APP)),
        revision: Some(previous.to_string()),
        ..request_change("staging", "rollback", "payments fail")
    };
    change(&p, &dana, rollback).await;

    let (d, after) = figures(&p, "30").await;
    assert_eq!((after.now.deployments, after.now.changes, after.now.failed_changes), (6, 6, 1));
    assert_eq!(after.now.failure_rate, Some(1.0 / 6.0));
    assert_eq!(after.now.restores, 1);
    assert!(after.now.restore_ms.is_some());
    let detail = d.selected.expect("myapp's detail");
    assert_eq!(detail.app, APP);
    assert_eq!(detail.buckets.len(), 30, "a bar a day");
    assert_eq!(detail.buckets.iter().map(|b| b.figures.deployments).sum::<usize>(), 6);
    let outcomes: Vec<(&str, bool)> =
        detail.rollouts.iter().take(2).map(|r| (r.outcome.as_str(), r.failed_change)).collect();
    assert_eq!(outcomes, [("rolled back", false), ("deployed", true)], "newest first");
    let deployed = &detail.rollouts[1];
    assert_eq!(deployed.commit.as_deref(), Some("c41f0e8"));
    assert!(deployed.lead_time_ms.is_some(), "its commit's age is known to CodePipeline");
    assert!(deployed.source.contains("by dana"));

    // A week holds fewer of the demo's deployments; the trend compares with the week before.
    let (_, week) = figures(&p, "7").await;
    assert!(week.now.deployments >= 2 && week.now.deployments <= 6);
    let bad = delivery(&p, "12", APP).await;
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("choose 7, 30 or 90 days"));
    let unknown = delivery(&p, "30", "nope").await;
    assert_eq!(unknown.status().as_u16(), 404);
    let stranger = p.call(&p.anonymous, &GetDelivery { env: s("staging"), days: s("30"), app: s(APP) }).await;
    assert_eq!(stranger.status().as_u16(), 401);

    let (status, html) = p.page("/staging/delivery?days=30&app=myapp-deployment").await;
    assert_eq!(status, 200);
    for expected in [
        "<h1>Delivery</h1>",
        "class=\"bar-chart\"",
        "<title id=\"chart-deployments-title\">Deployments per day</title>",
        "role=\"img\"",
        "aria-labelledby=\"chart-deployments-title chart-deployments-desc\"",
        "Change failure rate per day",
        "How these are counted",
        "17%",
    ] {
        assert!(html.contains(expected), "{expected:?} missing");
    }

    let csv =
        p.http.get(p.url("/staging/delivery/export?days=30&app=myapp-deployment")).send().await.unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("environment,application,namespace,finished_at,outcome,commit"));
    assert_eq!(lines.len(), 7, "the header and six rollouts: {text}");
    assert!(text.contains(",rolled back,") && text.contains("Rollgate change"));
    let refused = p.http.get(p.url("/staging/delivery/export?days=5")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let anonymous = p.anonymous.get(p.url("/staging/delivery/export?days=30")).send().await.unwrap();
    assert!(!anonymous.status().is_success(), "{}", anonymous.status());
}
