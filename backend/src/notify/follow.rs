//! What notices the events nobody asks Rollgate for: pipeline executions that end and manual
//! approvals that wait (from the shared pollers, kept running while an environment has
//! targets), rollouts that degrade and recover (from the shared watches), freezes that begin
//! and a cluster token that expires soon. Every replica follows; the events' keys make one
//! notification of what several noticed. Nothing that had already happened when the follower
//! started is reported as new (an execution that ended over an hour ago, a deployment already
//! degraded at start).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::{Event, EventKind, emit};
use crate::Portal;
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::kube::credential;
use crate::kube::summary::Health;
use crate::kube::watch::{DeploymentState, Update};
use crate::pipelines::Snapshot;
use crate::pipelines::read::PipelineState;
use crate::policy::calendar;

/// An execution that ended longer ago than this is history, not news.
const NEWS_MS: i64 = 3_600_000;
/// How often freezes and the cluster token are looked at.
const CLOCK_EVERY: Duration = Duration::from_secs(30);
const TOKEN_EVERY: Duration = Duration::from_secs(600);

/// Starts the followers of every environment with notification targets.
pub fn start(portal: &Portal) {
    for env in portal.config.environments.iter().filter(|e| !e.notify.is_empty()) {
        for pipeline in &env.aws.pipelines {
            tokio::spawn(pipelines(portal.clone(), env.name.clone(), pipeline.clone()));
        }
        for namespace in &env.namespaces {
            tokio::spawn(rollouts(portal.clone(), env.name.clone(), namespace.clone()));
        }
        tokio::spawn(clock(portal.clone(), env.name.clone()));
    }
}

fn environment<'a>(portal: &'a Portal, name: &str) -> Option<&'a Environment> {
    portal.config.environment(name)
}

async fn pipelines(portal: Portal, env: String, pipeline: String) {
    let mut rx: watch::Receiver<Arc<Snapshot>> = match portal.pipelines.poller(&env, &pipeline) {
        Ok(poller) => poller.subscribe(),
        Err(e) => {
            tracing::warn!(environment = %env, %pipeline, error = %e, "notifications cannot follow a pipeline");
            return;
        }
    };
    loop {
        let snapshot = rx.borrow_and_update().clone();
        if let Some(state) = &snapshot.state {
            for event in pipeline_events(&env, state, Timestamp::now().millis()) {
                emit(&portal.store, &portal.config, event).await;
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// What a pipeline's state says is news: its latest execution ended within the hour, or an
/// approval waits.
pub fn pipeline_events(env: &str, state: &PipelineState, now_ms: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let link = format!("/{env}/pipelines/{}", state.name);
    if let Some(latest) = &state.latest {
        let kind = match latest.status.as_str() {
            "Succeeded" => Some(EventKind::PipelineSucceeded),
            "Failed" => Some(EventKind::PipelineFailed),
            _ => None,
        };
        let recent = latest.updated_ms.is_some_and(|t| now_ms - t <= NEWS_MS);
        if let Some(kind) = kind.filter(|_| recent) {
            let commit =
                latest.commit().map(|c| format!(" at commit {}", c.id.chars().take(7).collect::<String>()));
            let title = format!(
                "{} {} execution {}{}",
                state.name,
                if kind == EventKind::PipelineSucceeded { "succeeded:" } else { "failed:" },
                latest.id,
                commit.unwrap_or_default()
            );
            let mut event = Event::new(
                kind,
                env,
                format!("{}:{}:{}", kind.as_str(), state.name, latest.id),
                state.name.clone(),
                title,
            )
            .link(link.clone());
            if let Some(summary) = &latest.status_summary {
                event = event.detail(summary.clone());
            }
            out.push(event);
        }
    }
    if let Some((stage, action)) = state.waiting_approval() {
        let execution = stage.execution_id.clone().unwrap_or_default();
        let commit = state
            .latest
            .as_ref()
            .filter(|l| l.id == execution)
            .and_then(|l| l.commit())
            .map(|c| format!(" (commit {})", c.id.chars().take(7).collect::<String>()))
            .unwrap_or_default();
        let title = format!("{} waits for approval at {}{commit}", state.name, stage.name);
        let mut event = Event::new(
            EventKind::ApprovalWaiting,
            env,
            format!("approval:{}:{execution}:{}:{}", state.name, stage.name, action.name),
            state.name.clone(),
            title,
        )
        .link(format!("/{env}/approvals"));
        if let Some(summary) = &action.summary {
            event = event.detail(summary.clone());
        }
        out.push(event);
    }
    out
}

async fn rollouts(portal: Portal, env: String, namespace: String) {
    let watch = portal.watches.namespace(&env, &namespace);
    watch.synced().await;
    let subscription = watch.subscribe();
    // Per deployment: whether it has been degraded since it was last complete.
    let mut degraded: HashMap<String, bool> = subscription
        .snapshot
        .iter()
        .map(|d| (d.summary.name.clone(), matches!(d.health, Health::Degraded(_))))
        .collect();
    let mut updates = subscription.updates;
    loop {
        match updates.recv().await {
            Ok(Update::Changed(state)) => {
                let name = state.summary.name.clone();
                let before = degraded.get(&name).copied();
                let now = match state.health {
                    Health::Degraded(_) => true,
                    Health::Complete => false,
                    _ => before.unwrap_or(false),
                };
                degraded.insert(name, now);
                if let Some(event) = rollout_event(&env, before, &state) {
                    emit(&portal.store, &portal.config, event).await;
                }
            }
            Ok(Update::Removed(name)) => {
                degraded.remove(&name);
            }
            Ok(Update::Link(_)) => {}
            // Missed updates: the next ones say the health as it is.
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A rollout that degraded or recovered (complete again after degrading), given whether it
/// had degraded since it was last complete (`None`: not seen before). Keyed by the
/// deployment's generation: one notification of each per spec.
pub fn rollout_event(env: &str, was_degraded: Option<bool>, now: &DeploymentState) -> Option<Event> {
    let s = &now.summary;
    let subject = format!("{}/{}", s.namespace, s.name);
    let link = format!("/{env}/deployments/{}/{}", s.namespace, s.name);
    match &now.health {
        Health::Degraded(why) if was_degraded == Some(false) => Some(
            Event::new(
                EventKind::RolloutDegraded,
                env,
                format!("rollout-degraded:{subject}:{}", s.generation),
                subject.clone(),
                format!("{subject} is degraded: {why}"),
            )
            .detail(format!("{} of {} replicas ready", s.ready, s.desired))
            .link(link),
        ),
        Health::Complete if was_degraded == Some(true) => Some(
            Event::new(
                EventKind::RolloutRecovered,
                env,
                format!("rollout-recovered:{subject}:{}", s.generation),
                subject.clone(),
                format!("{subject} recovered: {} of {} replicas ready", s.ready, s.desired),
            )
            .link(link),
        ),
        _ => None,
    }
}

async fn clock(portal: Portal, env: String) {
    let mut since_token = TOKEN_EVERY;
    loop {
        let Some(environment) = environment(&portal, &env) else { return };
        let now = Timestamp::now();
        if let Some(event) = freeze_event(environment, now) {
            emit(&portal.store, &portal.config, event).await;
        }
        if since_token >= TOKEN_EVERY {
            since_token = Duration::ZERO;
            if let Some(status) = credential::status(&portal.tokens, &portal.clusters, environment).await
                && let Some(event) = token_event(&env, &status, now)
            {
                emit(&portal.store, &portal.config, event).await;
            }
        }
        tokio::time::sleep(CLOCK_EVERY).await;
        since_token += CLOCK_EVERY;
    }
}

/// A freeze that began within the hour (a replica down at its start still tells).
pub fn freeze_event(env: &Environment, now: Timestamp) -> Option<Event> {
    let window = calendar::holding(env, now)?;
    if now.millis() - window.start.millis() > NEWS_MS {
        return None;
    }
    Some(
        Event::new(
            EventKind::FreezeStarting,
            &env.name,
            format!("freeze:{}", window.start.millis()),
            env.name.clone(),
            format!("A freeze holds {} until {}: {}", env.title(), window.end_in_words(), window.reason),
        )
        .detail("Deploys wait until it ends; an admin may override with a reason.")
        .link(format!("/{}/calendar", env.name)),
    )
}

/// The cluster token expires within its warning days (one notification per token).
pub fn token_event(env: &str, status: &credential::ClusterToken, now: Timestamp) -> Option<Event> {
    let expires = status.expires_ms?;
    let left = expires - now.millis();
    if left > i64::from(status.warn_days) * 86_400_000 {
        return None;
    }
    let when = if left <= 0 {
        "has expired".to_owned()
    } else {
        format!("expires at {}", Timestamp(expires).rfc3339())
    };
    Some(
        Event::new(
            EventKind::TokenExpiring,
            env,
            format!("token-expiring:{}:{expires}", status.parameter),
            status.parameter.clone(),
            format!("The cluster token {} {when}", status.parameter),
        )
        .detail("Rotate it from the Tokens page (a change request).")
        .link(format!("/{env}/tokens")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_ms: Option<i64>) -> credential::ClusterToken {
        credential::ClusterToken {
            parameter: "/rollgate/staging/k8s-bear-token".into(),
            version: Some(3),
            in_use: Some(3),
            expires_ms,
            warn_days: 7,
            service_account: "staging/rollgate-deployer".into(),
            lifetime_hours: 720,
            problem: None,
        }
    }

    /// Told within its warning days, once per token (the key names its expiry), and when it
    /// has expired; not before, nor when its expiry is unknown.
    #[test]
    fn a_token_expiring_soon() {
        let now = Timestamp(1_000 * 86_400_000);
        let day = 86_400_000;
        assert!(token_event("staging", &token(Some(now.millis() + 8 * day)), now).is_none());
        assert!(token_event("staging", &token(None), now).is_none());
        let soon = token_event("staging", &token(Some(now.millis() + 2 * day)), now).expect("told");
        assert_eq!(
            soon.key,
            format!("token-expiring:/rollgate/staging/k8s-bear-token:{}", now.millis() + 2 * day)
        );
        assert_eq!(soon.link.as_deref(), Some("/staging/tokens"));
        let gone = token_event("staging", &token(Some(now.millis() - day)), now).expect("told");
        assert!(gone.title.ends_with("has expired"));
    }
}
