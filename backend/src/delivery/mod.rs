//! Delivery figures (DORA) per environment and application, from CodePipeline's execution
//! history (every execution, started in Rollgate or not) and Rollgate's own deployment
//! changes (deploys and rollbacks made through the change desk).
//!
//! - [`figures`]: the four figures from a history of rollouts, and their definitions.
//! - [`export`]: the rollouts behind them as CSV.

pub mod export;
pub mod figures;

use std::collections::BTreeMap;

use figures::{Judged, Outcome, Rollout};

use crate::Portal;
use crate::clock::Timestamp;
use crate::config::{DeployTarget, Environment};
use crate::dispatch::Action;
use crate::image_ref;
use crate::kube::change::DeploymentChange;
use crate::overview::commits::{self, CommitLog, PipelineHistory};
use crate::pipelines::read::{ActionRun, Execution};

const DAY_MS: i64 = 86_400_000;
/// Pages of executions and of action runs read per pipeline (100 each).
const PAGES: usize = 10;
/// Rollgate changes read per deployment.
const CHANGES: i64 = 1000;

/// One application's rollouts in an environment, oldest first, judged.
#[derive(Debug, Clone)]
pub struct AppHistory {
    pub app: String,
    pub namespace: String,
    pub rollouts: Vec<Rollout>,
    pub judged: Vec<Judged>,
}

#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub apps: Vec<AppHistory>,
    /// What could not be read, in words (the figures leave it out).
    pub problems: Vec<String>,
}

/// Reads the rollouts of every application of `env` since `since_ms`.
pub async fn read(portal: &Portal, env: &Environment, since_ms: i64) -> Delivery {
    let mut problems = Vec::new();
    let window_ms = i64::from(portal.config.delivery.failure_window_hours) * 3_600_000;
    // The applications: what runs in the namespaces, and what the pipelines roll out.
    let mut apps: BTreeMap<(String, String), Vec<Rollout>> = BTreeMap::new();
    for namespace in &env.namespaces {
        let watch = portal.watches.namespace(&env.name, namespace);
        watch.synced().await;
        for state in watch.snapshot() {
            apps.entry((state.summary.name.clone(), namespace.clone())).or_default();
        }
    }
    let histories = commits::histories(&portal.pipelines, env, Some(since_ms), PAGES, &mut problems).await;
    let log = CommitLog::of(&histories);
    for target in &env.aws.deploys {
        let Some(history) = histories.iter().find(|h| h.pipeline == target.pipeline) else { continue };
        apps.entry((target.deployment.clone(), target.namespace.clone()))
            .or_default()
            .extend(pipeline_rollouts(history, target, &log, since_ms));
    }
    for ((app, namespace), rollouts) in apps.iter_mut() {
        match change_rollouts(portal, env, namespace, app, &log, since_ms).await {
            Ok(found) => rollouts.extend(found),
            Err(e) => {
                problems.push(format!("Rollgate's changes to {namespace}/{app} could not be read: {e}"))
            }
        }
    }
    let apps = apps
        .into_iter()
        .map(|((app, namespace), mut rollouts)| {
            rollouts.sort_by_key(|r| r.at_ms);
            let judged = figures::judge(&rollouts, window_ms);
            AppHistory { app, namespace, rollouts, judged }
        })
        .collect();
    Delivery { apps, problems }
}

/// The days a period of `days` before now reads back: the period before it too (the trend),
/// and a failure window more.
pub fn since_ms(now: Timestamp, days: i64, window_hours: u32) -> i64 {
    now.millis() - 2 * days * DAY_MS - i64::from(window_hours) * 3_600_000
}

/// What each execution's deploy stage did: succeeded (a deployment, or a rollback for a
/// rollback execution) or failed. An execution that never reached the stage is no rollout.
fn pipeline_rollouts(
    history: &PipelineHistory,
    target: &DeployTarget,
    log: &CommitLog,
    since_ms: i64,
) -> Vec<Rollout> {
    let mut out = Vec::new();
    for e in history.executions.iter().filter(|e| e.started_ms.is_some_and(|t| t >= since_ms)) {
        let runs: Vec<&ActionRun> =
            history.runs.iter().filter(|r| r.execution == e.id && r.stage == target.stage).collect();
        let failed = runs.iter().find(|r| r.status == "Failed");
        let (outcome, at_ms) = match failed {
            Some(f) => (Outcome::Failed, f.updated_ms),
            None if !runs.is_empty() && runs.iter().all(|r| r.status == "Succeeded") => {
                (deployed(e), runs.iter().filter_map(|r| r.updated_ms).max())
            }
            // Its action runs are older than the pages read: a finished execution deployed.
            None if runs.is_empty() && e.status == "Succeeded" => (deployed(e), e.updated_ms),
            None => continue,
        };
        let Some(at_ms) = at_ms else { continue };
        let commit = e.commit().map(|c| c.id.clone()).filter(|c| !c.is_empty());
        let known = commit.as_deref().and_then(|c| log.find(c));
        out.push(Rollout {
            at_ms,
            outcome,
            authored_ms: known.and_then(|c| c.authored_ms),
            message: known.and_then(|c| c.message.clone()),
            commit,
            source: format!("{} execution {}", history.pipeline, e.id),
        });
    }
    out
}

fn deployed(e: &Execution) -> Outcome {
    if e.kind == "ROLLBACK" { Outcome::RolledBack } else { Outcome::Deployed }
}

/// The deploys and rollbacks Rollgate's change desk carried out on `namespace/app`.
async fn change_rollouts(
    portal: &Portal,
    env: &Environment,
    namespace: &str,
    app: &str,
    log: &CommitLog,
    since_ms: i64,
) -> Result<Vec<Rollout>, crate::changes::ChangeError> {
    let target = format!("{namespace}/{app}");
    let requests = portal.changes.for_target(&env.name, &target, CHANGES, Timestamp::now()).await?;
    Ok(requests
        .into_iter()
        .filter(|r| r.state == crate::changes::State::Executed)
        .filter_map(|r| {
            let at_ms = r.finished_at.filter(|t| *t >= since_ms)?;
            let (outcome, commit) = match &r.action {
                Action::Deployment(DeploymentChange::DeployImage { image, .. }) => (
                    Outcome::Deployed,
                    image_ref::tag_of(image.as_str()).and_then(image_ref::commit_of_tag).map(str::to_owned),
                ),
                Action::Deployment(DeploymentChange::Rollback { .. }) => (Outcome::RolledBack, None),
                _ => return None,
            };
            let known = commit.as_deref().and_then(|c| log.find(c));
            Some(Rollout {
                at_ms,
                outcome,
                authored_ms: known.and_then(|c| c.authored_ms),
                message: known.and_then(|c| c.message.clone()),
                commit: known.map(|c| c.id.clone()).or(commit),
                source: format!("Rollgate change {} by {}", r.id, r.requested_by),
            })
        })
        .collect())
}
