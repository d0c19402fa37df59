//! An environment's notification targets, the delivery log, and "send a test".

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::notifications::NotificationsView;

/// The targets of `env` and its latest notifications with every attempt.
#[server]
pub async fn get_notifications(env: String) -> Result<NotificationsView, ApiError> {
    use backend::config::{NotifyFormat, NotifyKind};
    use backend::notify::log;
    use backend::policy::Permission;

    use super::guard;
    use crate::model::notifications::{AttemptView, DeliveryView, TargetView};

    /// How many notifications the log shows.
    const LOG: i64 = 100;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::View)?;
    let environment = portal.config.environment(&env).ok_or_else(|| ApiError::NotFound(env.clone()))?;
    let deliveries = log::recent(&portal.store, &env, LOG)
        .await
        .map_err(|e| guard::internal("reading the delivery log", e))?;
    Ok(NotificationsView {
        env: env.clone(),
        targets: environment
            .notify
            .iter()
            .map(|t| TargetView {
                name: t.name.clone(),
                kind: match (t.kind, t.format) {
                    (NotifyKind::Slack, _) => "Slack",
                    (NotifyKind::Teams, _) => "Microsoft Teams",
                    (NotifyKind::Webhook, NotifyFormat::Json) => "JSON webhook (signed)",
                    (NotifyKind::Webhook, NotifyFormat::Cloudevents) => "CloudEvents webhook (signed)",
                }
                .to_owned(),
                events: if t.events.is_empty() {
                    "all".to_owned()
                } else {
                    t.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
                },
            })
            .collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryView {
                next_ms: (d.state == "pending").then_some(d.next_ms),
                id: d.id,
                target: d.target,
                event: d.kind,
                title: d.title,
                state: d.state,
                created_ms: d.created_ms,
                attempts: d
                    .attempts
                    .into_iter()
                    .map(|a| AttemptView {
                        attempt: a.attempt,
                        at_ms: a.at_ms,
                        status: a.status,
                        answer: a.answer,
                        replica: a.replica,
                    })
                    .collect(),
            })
            .collect(),
        may_test: backend::policy::authorize(&portal.config, &caller.user, &env, Permission::RequestChange)
            .err()
            .map(|d| d.to_string()),
    })
}

/// Sends a test notification to `target` of `env` (deployers and admins).
#[server]
pub async fn send_test_notification(
    env: String,
    target: String,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::notify::send::{self, TestError};
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::RequestChange)?;
    let environment = portal.config.environment(&env).ok_or_else(|| ApiError::NotFound(env.clone()))?;
    send::test(&portal.store, environment, &target, &caller.user).await.map_err(|e| match e {
        TestError::UnknownTarget(..) => guard::with_status(ApiError::NotFound(format!("{e}."))),
        TestError::Store(e) => guard::internal("keeping the test notification", e),
    })?;
    guard::back(return_to.as_deref());
    Ok(())
}
