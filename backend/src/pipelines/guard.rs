//! The release guard: a blocked commit ([`crate::policy::blocked`]) is not released by a
//! pipeline execution started outside Rollgate either (a git push, the console). While an
//! environment has blocks in force, the guard keeps the pollers of its pipelines with Deploy
//! stages (`aws.deploys`) running and, when the execution in flight carries a blocked commit
//! and has not entered a Deploy stage (or waits in its entry condition, no action run yet),
//! disables the transition into that stage (so it cannot slip in) and stops the execution,
//! saying why; once the execution has ended it enables the
//! transition again — only a transition the guard itself disabled.
//!
//! Freezes hold outside Rollgate the same way: while one holds ([`calendar::holding`]), the
//! transition into each Deploy stage is disabled ("Rollgate freeze until Mon 08:00 CET: …"),
//! so an execution a push starts waits at the gate; when it ends, the transitions the freeze
//! closed are enabled again — never one a person closed. After a restart the guard looks at
//! every such pipeline once, so a freeze that ended meanwhile opens its gates.
//!
//! Every replica runs the guard; each step for one execution is taken once, by the replica
//! that records it first in the store (`guard_actions`). A step that fails is forgotten, so a
//! later pass tries it again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_codepipeline::types::StageTransitionType;
use tokio::sync::watch;

use super::conditions::ConditionKind;
use super::read::{PipelineState, StageState};
use super::{PipelineError, Pipelines, Snapshot, signature};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::policy::blocked::{self, Block, CommitHash};
use crate::policy::calendar::{self, Window};
use crate::store::{Store, StoreError};

/// Who the guard signs its transitions and stops as.
pub const GUARD: &str = "release-guard";

/// Who a freeze's closed transitions are signed by.
pub const FREEZE: &str = "rollgate-freeze";

/// How often the guard looks (the pollers it keeps running read the pipelines).
const EVERY: Duration = Duration::from_secs(2);

/// Starts the guard of this process.
pub(super) fn start(pipelines: &Pipelines, store: Store) {
    tokio::spawn(run(pipelines.clone(), store));
}

async fn run(pipelines: Pipelines, store: Store) {
    let mut followed: HashMap<(String, String), watch::Receiver<Arc<Snapshot>>> = HashMap::new();
    // Pipelines to look at although nothing is blocked or frozen: those the guard acted on
    // lately, once at start (a freeze may have ended while no replica ran), and any whose
    // transition the guard or a freeze closed.
    let mut unsettled = acted_on_lately(&store).await;
    loop {
        let now = Timestamp::now();
        for env in pipelines.config.environments.iter().filter(|e| !e.aws.deploys.is_empty()) {
            let blocks = match blocked::active(&store, &env.name).await {
                Ok(blocks) => blocks,
                Err(e) => {
                    tracing::warn!(environment = %env.name, error = %e, "the release guard cannot read the blocked commits");
                    continue;
                }
            };
            let freeze = calendar::holding(env, now);
            let mut names: Vec<&str> = env.aws.deploys.iter().map(|d| d.pipeline.as_str()).collect();
            names.dedup();
            for pipeline in names {
                let key = (env.name.clone(), pipeline.to_owned());
                if blocks.is_empty() && freeze.is_none() && !unsettled.contains(&key) {
                    // Nothing to guard: the poller may rest when nobody looks.
                    followed.remove(&key);
                    continue;
                }
                let snapshot = match followed.get(&key) {
                    Some(rx) => rx.borrow().clone(),
                    None => match pipelines.poller(&env.name, pipeline) {
                        Ok(poller) => {
                            let rx = poller.subscribe();
                            let snapshot = rx.borrow().clone();
                            followed.insert(key.clone(), rx);
                            snapshot
                        }
                        Err(e) => {
                            tracing::warn!(environment = %env.name, %pipeline, error = %e, "the release guard cannot follow a pipeline");
                            continue;
                        }
                    },
                };
                let Some(state) = &snapshot.state else { continue };
                let look = Look { env, pipeline, state, blocks: &blocks, freeze: freeze.as_ref() };
                match guard(&pipelines, &store, &look).await {
                    Ok(()) if !closed_by_rollgate(state) => {
                        unsettled.remove(&key);
                    }
                    Ok(()) => {
                        unsettled.insert(key);
                    }
                    Err(e) => {
                        unsettled.insert(key);
                        tracing::warn!(environment = %env.name, %pipeline, error = %e, "the release guard could not act");
                    }
                }
            }
        }
        // Looks again as soon as a followed pipeline is read anew, and every EVERY anyway
        // (a block may have been added, a freeze may begin or end).
        if followed.is_empty() {
            tokio::time::sleep(EVERY).await;
        } else {
            let reads = followed.values_mut().map(|rx| Box::pin(rx.changed()));
            let gone = matches!(
                tokio::time::timeout(EVERY, futures_util::future::select_all(reads)).await,
                Ok((Err(_), _, _))
            );
            if gone {
                // A poller went away: follow them all afresh on the next pass.
                followed.clear();
                tokio::time::sleep(EVERY).await;
            }
        }
    }
}

/// The pipelines the guard acted on in the last [`calendar`] horizon, as the store says.
async fn acted_on_lately(store: &Store) -> HashSet<(String, String)> {
    let since = Timestamp::now().plus_secs(-calendar::HORIZON_SECS);
    let rows = sqlx::query_as::<_, (String, String)>(
        "SELECT DISTINCT environment, pipeline FROM guard_actions WHERE at > $1",
    )
    .bind(since.millis())
    .fetch_all(store.pool())
    .await;
    rows.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the release guard cannot read what it did before this start");
        Vec::new()
    })
    .into_iter()
    .collect()
}

/// Whether a transition of the pipeline is closed by the guard or a freeze.
fn closed_by_rollgate(state: &PipelineState) -> bool {
    state.stages.iter().filter_map(|s| s.disabled.as_ref()).any(|d| d.by == GUARD || d.by == FREEZE)
}

/// What one look at a pipeline sees.
struct Look<'a> {
    env: &'a Environment,
    pipeline: &'a str,
    state: &'a PipelineState,
    blocks: &'a [Block],
    freeze: Option<&'a Window>,
}

#[derive(Debug, thiserror::Error)]
enum GuardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// One look at `pipeline`: stop what must not enter a Deploy stage, and open what the guard
/// closed once nothing blocked is in flight.
async fn guard(pipelines: &Pipelines, store: &Store, look: &Look<'_>) -> Result<(), GuardError> {
    let Look { env, pipeline, state, blocks, freeze } = *look;
    freeze_transitions(pipelines, store, look).await?;
    let Some(latest) = &state.latest else { return Ok(()) };
    let running = latest.status == "InProgress";
    let block = latest
        .commit()
        .and_then(|r| CommitHash::parse(&r.id).ok())
        .and_then(|c| blocks.iter().find(|b| b.commit.matches(&c)));
    let client = || pipelines.client(&env.name);
    for target in env.aws.deploys.iter().filter(|d| d.pipeline == pipeline) {
        let Some(stage) = state.stages.iter().find(|s| s.name == target.stage) else { continue };
        let entered = stage.execution_id.as_deref() == Some(latest.id.as_str()) && !checking_entry(stage);
        if let Some(block) = block.filter(|_| running && !entered) {
            if stage.disabled.is_none()
                && claim(store, env, pipeline, &latest.id, &format!("disable {}", stage.name)).await?
            {
                let reason = signature::sign(&transition_reason(block), GUARD);
                let disabled = client()
                    .await?
                    .disable_stage_transition()
                    .pipeline_name(pipeline)
                    .stage_name(&stage.name)
                    .transition_type(StageTransitionType::Inbound)
                    .reason(reason)
                    .send()
                    .await
                    .map_err(PipelineError::from_sdk);
                settle(store, env, pipeline, &latest.id, &format!("disable {}", stage.name), disabled)
                    .await?;
            }
            if claim(store, env, pipeline, &latest.id, "stop").await? {
                let reason = signature::sign(&stop_reason(block), GUARD);
                // Its running actions end at once (a build, a test, an approval nobody
                // should answer), unless it is deploying somewhere: that finishes first.
                let deploying = state.stages.iter().any(|s| {
                    s.execution_id.as_deref() == Some(latest.id.as_str())
                        && s.status.as_deref() == Some("InProgress")
                        && !checking_entry(s)
                        && env.aws.deploy_target(pipeline, &s.name).is_some()
                });
                let stopped = client()
                    .await?
                    .stop_pipeline_execution()
                    .pipeline_name(pipeline)
                    .pipeline_execution_id(&latest.id)
                    .abandon(!deploying)
                    .reason(reason)
                    .send()
                    .await
                    .map_err(PipelineError::from_sdk);
                settle(store, env, pipeline, &latest.id, "stop", stopped).await?;
                tracing::info!(environment = %env.name, %pipeline, execution = %latest.id, commit = %block.commit, "the release guard stopped an execution of a blocked commit");
            }
            pipelines.poke(&env.name, pipeline);
        } else if !running
            && freeze.is_none()
            && stage.disabled.as_ref().is_some_and(|d| d.by == GUARD)
            && claim(store, env, pipeline, &latest.id, &format!("enable {}", stage.name)).await?
        {
            let enabled = client()
                .await?
                .enable_stage_transition()
                .pipeline_name(pipeline)
                .stage_name(&stage.name)
                .transition_type(StageTransitionType::Inbound)
                .send()
                .await
                .map_err(PipelineError::from_sdk);
            settle(store, env, pipeline, &latest.id, &format!("enable {}", stage.name), enabled).await?;
            pipelines.poke(&env.name, pipeline);
        }
    }
    Ok(())
}

/// Whether the stage's latest execution is still having its entry condition checked: none of
/// the stage's actions has run, so it can still be kept out.
fn checking_entry(stage: &StageState) -> bool {
    stage
        .conditions
        .iter()
        .any(|c| c.kind == ConditionKind::BeforeEntry && c.status.as_deref() == Some("InProgress"))
}

/// While a freeze holds, closes the transition into each Deploy stage, once per freeze (a
/// person who opens it again is not overruled); after, opens those the freeze closed, and
/// only those.
async fn freeze_transitions(pipelines: &Pipelines, store: &Store, look: &Look<'_>) -> Result<(), GuardError> {
    let Look { env, pipeline, state, freeze, .. } = *look;
    for target in env.aws.deploys.iter().filter(|d| d.pipeline == pipeline) {
        let Some(stage) = state.stages.iter().find(|s| s.name == target.stage) else { continue };
        let client = || pipelines.client(&env.name);
        match (freeze, &stage.disabled) {
            (Some(window), None) => {
                let occurrence = format!("freeze {}", window.start.millis());
                let step = format!("disable {}", stage.name);
                if claim(store, env, pipeline, &occurrence, &step).await? {
                    let reason = signature::sign(&freeze_reason(window), FREEZE);
                    let closed = client()
                        .await?
                        .disable_stage_transition()
                        .pipeline_name(pipeline)
                        .stage_name(&stage.name)
                        .transition_type(StageTransitionType::Inbound)
                        .reason(reason)
                        .send()
                        .await
                        .map_err(PipelineError::from_sdk);
                    settle(store, env, pipeline, &occurrence, &step, closed).await?;
                    tracing::info!(environment = %env.name, %pipeline, stage = %stage.name, "a freeze closed the transition into a Deploy stage");
                    pipelines.poke(&env.name, pipeline);
                }
            }
            (None, Some(closed)) if closed.by == FREEZE => {
                let occurrence = format!("freeze closed {}", closed.at_ms.unwrap_or_default());
                let step = format!("enable {}", stage.name);
                if claim(store, env, pipeline, &occurrence, &step).await? {
                    let opened = client()
                        .await?
                        .enable_stage_transition()
                        .pipeline_name(pipeline)
                        .stage_name(&stage.name)
                        .transition_type(StageTransitionType::Inbound)
                        .send()
                        .await
                        .map_err(PipelineError::from_sdk);
                    settle(store, env, pipeline, &occurrence, &step, opened).await?;
                    pipelines.poke(&env.name, pipeline);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A freeze's transition reason, in CodePipeline's pattern.
fn freeze_reason(window: &Window) -> String {
    let text = format!("Rollgate freeze until {}: {}", window.end_in_words(), window.reason);
    let allowed: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || " !@().*?-".contains(c) { c } else { ' ' })
        .take(250)
        .collect();
    allowed.trim().to_owned()
}

/// Takes `step` for `execution`: `true` for the one replica that is to act.
async fn claim(
    store: &Store,
    env: &Environment,
    pipeline: &str,
    execution: &str,
    step: &str,
) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO guard_actions (environment, pipeline, execution, step, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (environment, pipeline, execution, step) DO NOTHING",
    )
    .bind(&env.name)
    .bind(pipeline)
    .bind(execution)
    .bind(step)
    .bind(Timestamp::now().millis())
    .execute(store.pool())
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Forgets a step that failed, so that a later pass takes it again.
async fn settle(
    store: &Store,
    env: &Environment,
    pipeline: &str,
    execution: &str,
    step: &str,
    result: Result<impl Sized, PipelineError>,
) -> Result<(), GuardError> {
    let Err(e) = result else { return Ok(()) };
    sqlx::query(
        "DELETE FROM guard_actions WHERE environment = $1 AND pipeline = $2 AND execution = $3 AND step = $4",
    )
    .bind(&env.name)
    .bind(pipeline)
    .bind(execution)
    .bind(step)
    .execute(store.pool())
    .await
    .map_err(StoreError::from)?;
    Err(e.into())
}

fn short(commit: &CommitHash) -> &str {
    &commit.as_str()[..7]
}

/// The transition's reason, within CodePipeline's pattern (letters, digits, spaces and
/// `!@ ().*?-`) and length (300, the signature included).
fn transition_reason(block: &Block) -> String {
    let why: String = block
        .reason
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || " !@().*?-".contains(c) { c } else { ' ' })
        .take(200)
        .collect();
    format!("Commit {} is blocked ({})", short(&block.commit), why.trim())
}

/// The stop's reason (200 characters at most, the signature included).
fn stop_reason(block: &Block) -> String {
    let text =
        format!("Commit {} is blocked in Rollgate by {}: {}", short(&block.commit), block.by, block.reason);
    text.chars().take(150).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_codepipeline() {
        let block = Block {
            id: "b".into(),
            commit: CommitHash::parse("5d6e7f8a9b").unwrap(),
            reason: format!("broke checkout, see INC-42: {}", "x".repeat(400)),
            by: "ada".into(),
            at: Timestamp(0),
            change: None,
            lifted: None,
        };
        let transition = signature::sign(&transition_reason(&block), GUARD);
        assert!(
            transition.starts_with("Commit 5d6e7f8 is blocked (broke checkout  see INC-42  xxx"),
            "{transition}"
        );
        assert!(transition.chars().count() <= 300);
        assert!(
            transition.chars().all(|c| c.is_ascii_alphanumeric() || " !@().*?-".contains(c)),
            "{transition}"
        );
        assert_eq!(signature::read(&transition).1, Some(GUARD));
        let stop = signature::sign(&stop_reason(&block), GUARD);
        assert!(stop.starts_with("Commit 5d6e7f8 is blocked in Rollgate by ada: broke checkout"), "{stop}");
        assert!(stop.chars().count() <= 200);
    }
}
