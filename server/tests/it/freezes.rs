//! A recurring freeze that holds outside Rollgate: while it holds, changes are refused in
//! words with its end in its own time zone, the calendar shows it, and the transition into
//! every Deploy stage is closed, so an execution a push starts waits at the gate; when it
//! ends, the gates the freeze closed open again (the execution goes on) and a gate a person
//! closed meanwhile stays closed.

use std::time::Duration;

use app::api::locks::FreezeCalendar;
use app::api::pipelines::SetStageTransition;
use app::model::pipelines::PipelineView;
use backend::clock::Timestamp;
use backend::config::{RecurringFreeze, Source, load};
use backend::policy::Role;
use sandbox::PipelineTimings;

use crate::common::{TestPortal, request_change};
use crate::pipelines::{quick, s, wait_until};

/// `at` as a wall-clock time in UTC, as `starts` and `ends` take it.
pub(crate) fn wall(at: Timestamp) -> String {
    at.rfc3339().trim_end_matches('Z').to_owned()
}

fn deploy_gate(v: &PipelineView) -> Option<&app::model::pipelines::DisabledView> {
    v.stages.iter().find(|s| s.name == "Deploy").and_then(|s| s.disabled.as_ref())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_freeze_closes_the_deploy_gates_and_opens_only_its_own() {
    let now = Timestamp::now();
    let ends = now.plus_secs(25);
    let mut config = load(&Source::SandboxDefault).unwrap();
    for env in &mut config.environments {
        env.recurring_freezes.push(RecurringFreeze {
            rrule: s("FREQ=DAILY"),
            starts: wall(now.plus_secs(-60)),
            ends: wall(ends),
            time_zone: s("UTC"),
            reason: s("nightly freeze"),
        });
    }
    let p = quick(TestPortal::with_config(config).await);
    p.running.sandbox.as_ref().unwrap().aws.set_pipeline_timings(PipelineTimings {
        source: Duration::from_millis(100),
        test: Duration::from_millis(150),
        build: Duration::from_millis(150),
        approval_timeout: Duration::from_secs(300),
        ..Default::default()
    });
    let (dana, ada) = (p.as_role(Role::Deployer).await, p.as_role(Role::Admin).await);

    // Refused in words, with the freeze's end in its zone.
    let change = app::api::changes::RequestChange {
        namespace: Some(s("staging")),
        deployment: Some(s("myapp-deployment")),
        ..request_change("staging", "restart", "during the freeze")
    };
    let held = p.call(&dana, &change).await;
    assert_eq!(held.status().as_u16(), 409);
    let text = held.text().await.unwrap();
    let until =
        backend::policy::calendar::local(Timestamp(ends.millis() / 1000 * 1000), Some(chrono_tz::UTC));
    assert!(text.contains(&format!("deploys are frozen until {until}: nightly freeze")), "{text}");

    // The calendar shows it holding, and tomorrow's.
    let calendar: app::model::FreezeCalendar =
        p.call(&dana, &FreezeCalendar { env: s("staging") }).await.json().await.unwrap();
    assert!(calendar.holding.as_deref().is_some_and(|h| h.contains("nightly freeze")), "{calendar:?}");
    assert!(calendar.windows.len() >= 30 && calendar.windows[0].holds_now, "{:?}", calendar.windows);
    assert_eq!(calendar.days.len(), 30);
    assert_eq!(calendar.days[1].frozen, "part");

    // The gates close, in both environments.
    for (env, pipeline) in [("staging", "myapp-staging"), ("production", "myapp-production")] {
        let v = wait_until(&p, env, pipeline, "the Deploy gate closed by the freeze", |v| {
            deploy_gate(v).is_some_and(|d| d.by == "rollgate-freeze")
        })
        .await;
        let reason = &deploy_gate(&v).unwrap().reason;
        assert!(
            reason.starts_with("Rollgate freeze until ") && reason.ends_with("nightly freeze"),
            "{reason}"
        );
    }

    // A push waits at the gate.
    let client = p.running.portal.pipelines.client("staging").await.unwrap();
    let started = client.start_pipeline_execution().name("myapp-staging").send().await.unwrap();
    let pushed = started.pipeline_execution_id().unwrap().to_owned();
    wait_until(&p, "staging", "myapp-staging", "the push waits at the Deploy gate", |v| {
        v.stages.iter().any(|s| s.name == "Deploy" && s.inbound_execution.as_deref() == Some(pushed.as_str()))
    })
    .await;

    // An admin takes production's gate over: opens it through the freeze, closes it herself.
    let transition = |enable: &str, reason: &str| SetStageTransition {
        env: s("production"),
        pipeline: s("myapp-production"),
        stage: s("Deploy"),
        enable: s(enable),
        reason: Some(s(reason)),
        override_reason: Some(s("taking the gate over")),
        return_to: None,
    };
    assert_eq!(p.call(&ada, &transition("true", "")).await.status().as_u16(), 200);
    assert_eq!(p.call(&ada, &transition("false", "ada keeps it shut")).await.status().as_u16(), 200);

    // The freeze ends: its gate opens and the push goes on; ada's stays shut.
    let sleep = (ends.millis() - Timestamp::now().millis()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(sleep)).await;
    wait_until(&p, "staging", "myapp-staging", "the push deployed after the freeze", |v| {
        deploy_gate(v).is_none()
            && v.latest.as_ref().is_some_and(|e| e.id == pushed && e.status == "Succeeded")
    })
    .await;
    let production = crate::pipelines::detail(&p, "production", "myapp-production").await.live;
    let gate = deploy_gate(&production).expect("a person's closed gate stays closed");
    assert_eq!((gate.by.as_str(), gate.reason.as_str()), ("ada", "ada keeps it shut"));
    let changed = p.call(&dana, &change).await;
    assert_eq!(changed.status().as_u16(), 200, "changes go through again: {}", changed.text().await.unwrap());
}
