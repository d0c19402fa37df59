//! Carrying out [`PipelineChange`]s: start an execution (the latest change, or with variables
//! and a source revision), start one at an earlier commit (a source revision override), roll a
//! stage back to an earlier successful execution, and override a stage condition. Their
//! [`Executor`], the [`Releaser`].
//!
//! Unlike a deployment, a pipeline moves by itself: the preview says what runs now and what
//! the change will start, but execution does not insist that nothing ran in between (a newer
//! execution would supersede the old one anyway; CodePipeline settles the order).

use super::change::PipelineChange;
use super::inputs::{ReleaseInputs, Revision, RevisionKind};
use super::read::{self, Execution};
use super::{PipelineError, Pipelines};
use crate::changes::executor::BoxFuture;
use crate::changes::{Change, ExecuteError, Executed, Executor, Origin, Preview};
use crate::config::Environment;
use crate::policy::blocked::CommitHash;

pub struct Releaser {
    pipelines: Pipelines,
}

impl Releaser {
    pub fn new(pipelines: Pipelines) -> Self {
        Self { pipelines }
    }
}

fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

fn describe(e: Option<&Execution>) -> String {
    match e {
        None => "no execution yet".into(),
        Some(e) => format!(
            "latest execution {} {}{}",
            e.id,
            e.status,
            e.commit().map(|c| format!(" at {}", short(&c.id))).unwrap_or_default()
        ),
    }
}

impl Executor<PipelineChange> for Releaser {
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a PipelineChange,
        _seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        Box::pin(async move {
            let pipeline = action.pipeline();
            self.pipelines.check(&env.name, pipeline)?;
            let client = self.pipelines.client(&env.name).await?;
            let latest = read::history(&client, pipeline, 1, None).await?.executions;
            let latest = latest.first();
            let mut releases = Vec::new();
            let after = match action {
                PipelineChange::RollbackStage { stage, execution, .. } => {
                    let target = find(&client, pipeline, execution).await?;
                    if target.status != "Succeeded" {
                        return Err(ExecuteError::Invalid(format!(
                            "execution {execution} ended {}: only a successful execution can be rolled back to",
                            target.status
                        )));
                    }
                    releases.extend(target.commit().and_then(|c| CommitHash::parse(&c.id).ok()));
                    format!(
                        "{stage} of {pipeline} rolled back to execution {execution}{}",
                        target.commit().map(|c| format!(" (commit {})", short(&c.id))).unwrap_or_default()
                    )
                }
                PipelineChange::RedeployCommit { commit, .. } => {
                    releases.extend(CommitHash::parse(commit.as_str()).ok());
                    action.describe()
                }
                PipelineChange::StartPipeline { inputs, .. } => {
                    if !inputs.is_empty() {
                        let declared = read::declaration(&client, pipeline).await?;
                        inputs.check(pipeline, &declared).map_err(ExecuteError::Invalid)?;
                    }
                    releases.extend(inputs.commit().and_then(|c| CommitHash::parse(c).ok()));
                    action.describe()
                }
                PipelineChange::OverrideCondition { stage, execution, condition, .. } => {
                    let state = read::stages(&client, pipeline).await?;
                    let checked = state
                        .stages
                        .iter()
                        .find(|s| s.name == *stage)
                        .and_then(|s| s.conditions.iter().find(|c| c.kind == *condition))
                        .ok_or_else(|| {
                            ExecuteError::Invalid(format!(
                                "{stage} of {pipeline} has no {}",
                                condition.words()
                            ))
                        })?;
                    let before = format!(
                        "the {} of {stage} is {}{}",
                        condition.words(),
                        checked.status.as_deref().unwrap_or("not checked yet"),
                        checked.summary.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
                    );
                    return Ok(Preview {
                        before,
                        after: format!(
                            "execution {execution} goes on as if the {} were met",
                            condition.words()
                        ),
                        version: String::new(),
                        releases: Vec::new(),
                        retires: Vec::new(),
                    });
                }
            };
            let retires = latest.and_then(|e| e.commit()).and_then(|c| CommitHash::parse(&c.id).ok());
            Ok(Preview {
                before: describe(latest),
                after,
                version: latest.map(|e| e.id.clone()).unwrap_or_default(),
                releases,
                retires: retires.into_iter().collect(),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a PipelineChange,
        _before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        Box::pin(async move {
            let pipeline = action.pipeline();
            self.pipelines.check(&env.name, pipeline)?;
            let client = self.pipelines.client(&env.name).await?;
            // The change request's id makes a retried start idempotent.
            // (AWS accepts letters, digits and dashes in it.)
            let id: String =
                origin.change.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
            let token = format!("rollgate-{id}");
            let started = match action {
                PipelineChange::StartPipeline { inputs, .. } => start(&client, pipeline, token, inputs).await,
                PipelineChange::RedeployCommit { commit, .. } => {
                    // The source action to override is the one that carried the commit before.
                    let source = source_action(&client, pipeline).await?;
                    let inputs = ReleaseInputs {
                        variables: Vec::new(),
                        revision: Some(Revision {
                            action: source,
                            kind: RevisionKind::CommitId,
                            value: commit.to_string(),
                        }),
                    };
                    start(&client, pipeline, token, &inputs).await
                }
                PipelineChange::RollbackStage { stage, execution, .. } => client
                    .rollback_stage()
                    .pipeline_name(pipeline)
                    .stage_name(stage)
                    .target_pipeline_execution_id(execution.as_str())
                    .send()
                    .await
                    .map(|o| o.pipeline_execution_id().to_owned())
                    .map_err(PipelineError::from_sdk),
                PipelineChange::OverrideCondition { stage, execution, condition, .. } => {
                    let kind = condition.overridable().ok_or_else(|| {
                        ExecuteError::Invalid(format!("a {} cannot be overridden", condition.words()))
                    })?;
                    let overridden = client
                        .override_stage_condition()
                        .pipeline_name(pipeline)
                        .stage_name(stage)
                        .pipeline_execution_id(execution.as_str())
                        .condition_type(kind)
                        .send()
                        .await
                        .map_err(PipelineError::from_sdk);
                    self.pipelines.poke(&env.name, pipeline);
                    return match overridden {
                        Ok(_) => Ok(Executed {
                            detail: format!(
                                "overrode the {} of {stage} for execution {execution}",
                                condition.words()
                            ),
                            started_execution: None,
                            retired: Vec::new(),
                        }),
                        Err(e) => {
                            self.pipelines.saw(&env.name, &e);
                            Err(e.into())
                        }
                    };
                }
            };
            self.pipelines.poke(&env.name, pipeline);
            match started {
                Ok(id) => Ok(Executed {
                    detail: format!("started execution {id} of {pipeline}"),
                    started_execution: Some(id),
                    retired: Vec::new(),
                }),
                Err(e) => {
                    self.pipelines.saw(&env.name, &e);
                    Err(e.into())
                }
            }
        })
    }
}

/// Starts an execution of `pipeline` with `inputs` (variables, a source revision) and returns
/// its id; the same `token` twice starts it once.
pub async fn start(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    token: String,
    inputs: &ReleaseInputs,
) -> Result<String, PipelineError> {
    client
        .start_pipeline_execution()
        .name(pipeline)
        .client_request_token(token)
        .set_variables(inputs.sdk_variables())
        .set_source_revisions(inputs.sdk_revision().map(|r| vec![r]))
        .send()
        .await
        .map(|o| o.pipeline_execution_id().unwrap_or_default().to_owned())
        .map_err(PipelineError::from_sdk)
}

/// Execution `id` of `pipeline`, from its recent history.
async fn find(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
    id: &str,
) -> Result<Execution, ExecuteError> {
    let mut next: Option<String> = None;
    for _ in 0..10 {
        let page = read::history(client, pipeline, 100, next.as_deref()).await?;
        if let Some(found) = page.executions.into_iter().find(|e| e.id == id) {
            return Ok(found);
        }
        match page.next {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    Err(ExecuteError::NotFound(format!("{pipeline} has no execution {id}")))
}

/// The name of the source action whose revision an override replaces: the one the latest
/// executions carried.
async fn source_action(
    client: &aws_sdk_codepipeline::Client,
    pipeline: &str,
) -> Result<String, ExecuteError> {
    let page = read::history(client, pipeline, 5, None).await?;
    page.executions.iter().find_map(|e| e.commit().map(|c| c.action.clone())).ok_or_else(|| {
        ExecuteError::Invalid(format!("{pipeline} has no execution with a source revision to start from"))
    })
}
