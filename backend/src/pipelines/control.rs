//! The pipeline actions that steer an execution already running: stop it, retry a failed
//! stage, answer a manual approval, freeze or unfreeze a stage transition. Each checks the
//! caller's role, is written to the audit trail whatever happens, and asks the poller for a
//! fresh read so every viewer sees the result. (Starting an execution, redeploying an earlier
//! commit and rolling a stage back change what runs: they are change requests, see
//! [`super::executor`].)
//!
//! Like every change, they wait while the environment is locked or frozen (an admin may go
//! through with a reason, which the audit record keeps); only freezing a transition does
//! not, since it holds a release back rather than letting one through.
//!
//! Four eyes on manual approvals: `PutApprovalResult` acts on the approval token, so the
//! execution being approved is the one the token belongs to *now*, as CodePipeline says
//! (`GetPipelineState`), never one the browser names. Each answer is a vote ([`quorum`]):
//! CodePipeline is answered once the approval's quorum is met (one person unless configured),
//! never counting the person who asked Rollgate for the release when the quorum keeps them out
//! (by default in a protected environment).

use aws_sdk_codepipeline::types::{ApprovalResult, ApprovalStatus, StageRetryMode, StageTransitionType};
use sqlx::Row;

use super::ids::ExecutionId;
use super::quorum::{self, AnswerState, Ballot, Tally, Vote};
use super::{PipelineError, Pipelines, read, signature};
use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::policy::locks::{self, Hold};
use crate::policy::{self, Denied, Permission};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    Denied(#[from] Denied),
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("{0}")]
    Invalid(String),
    #[error("You asked for the change that started this execution; someone else must approve or reject it.")]
    SelfApproval,
    #[error(
        "No approval of {stage} / {action} with this token is waiting in {pipeline} now (it was answered, \
         stopped or superseded); reload the page."
    )]
    NotWaiting { pipeline: String, stage: String, action: String },
    #[error("You have answered this approval already: {standing}.")]
    AlreadyVoted { standing: String },
    #[error("Changes are held: {0}. An admin may override with a reason.")]
    Held(Hold),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a person does to a running execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Stop it: `abandon` ends running actions at once, otherwise they finish first.
    Stop { execution: String, abandon: bool, reason: String },
    /// Run a failed stage again: only its failed actions, or all of them.
    Retry { execution: String, stage: String, all: bool },
    /// Answer a waiting manual approval. Which execution it belongs to is read from
    /// CodePipeline, never taken from the caller.
    Decide { stage: String, action: String, token: String, approve: bool, comment: String },
    /// Freeze (disable) or unfreeze the transition into a stage.
    Transition { stage: String, enable: bool, reason: String },
}

impl Control {
    fn audit_action(&self) -> &'static str {
        match self {
            Control::Stop { .. } => "pipeline.stop",
            Control::Retry { .. } => "pipeline.retry",
            Control::Decide { approve: true, .. } => "pipeline.approve",
            Control::Decide { approve: false, .. } => "pipeline.reject",
            Control::Transition { enable: true, .. } => "pipeline.enable-transition",
            Control::Transition { enable: false, .. } => "pipeline.disable-transition",
        }
    }

    /// What the caller's role must allow.
    pub fn permission(&self) -> Permission {
        match self {
            Control::Stop { .. } | Control::Retry { .. } => Permission::RequestChange,
            Control::Decide { .. } => Permission::Approve,
            Control::Transition { .. } => Permission::Lock,
        }
    }

    /// Whether a lock or freeze holds it back: everything but freezing a transition.
    fn held_back(&self) -> bool {
        !matches!(self, Control::Transition { enable: false, .. })
    }

    /// In words, for the audit trail; `execution` is the one a decision was found to answer.
    pub fn describe(&self, execution: Option<&str>) -> String {
        match self {
            Control::Stop { execution, abandon, reason } => {
                let how = if *abandon { "abandon" } else { "stop and wait" };
                format!("{how} execution {execution}: {reason}")
            }
            Control::Retry { execution, stage, all } => {
                let which = if *all { "all actions" } else { "failed actions" };
                format!("retry {stage} ({which}) of execution {execution}")
            }
            Control::Decide { stage, approve, comment, .. } => {
                let word = if *approve { "approve" } else { "reject" };
                let of = execution.map(|e| format!(" of execution {e}")).unwrap_or_default();
                format!("{word} {stage}{of}: {comment}")
            }
            Control::Transition { stage, enable: true, .. } => format!("enable the transition into {stage}"),
            Control::Transition { stage, enable: false, reason } => {
                format!("disable the transition into {stage}: {reason}")
            }
        }
    }

    fn check(&self) -> Result<(), ControlError> {
        let text = |name: &str, value: &str, max: usize| {
            if value.trim().is_empty() {
                Err(ControlError::Invalid(format!("{name} is empty.")))
            } else if value.chars().count() > max {
                Err(ControlError::Invalid(format!("{name} is longer than {max} characters.")))
            } else {
                Ok(())
            }
        };
        match self {
            Control::Stop { execution, reason, .. } => {
                ExecutionId::parse(execution).map_err(ControlError::Invalid)?;
                text("The reason", reason, 200)
            }
            Control::Retry { execution, stage, .. } => {
                ExecutionId::parse(execution).map_err(ControlError::Invalid)?;
                text("The stage", stage, 100)
            }
            Control::Decide { stage, action, token, comment, .. } => {
                text("The stage", stage, 100)?;
                text("The action", action, 100)?;
                text("The approval token", token, 200)?;
                text("The comment", comment, 512)
            }
            Control::Transition { stage, enable, reason } => {
                text("The stage", stage, 100)?;
                if *enable {
                    return Ok(());
                }
                text("The reason", reason, 300)?;
                if reason.trim().chars().all(|c| c.is_ascii_alphanumeric() || "!@ ().*?-".contains(c)) {
                    Ok(())
                } else {
                    Err(ControlError::Invalid(format!(
                        "The reason may hold letters, digits, spaces and {REASON_PUNCTUATION} only (CodePipeline's rule)."
                    )))
                }
            }
        }
    }

    /// The control as sent to AWS: its free text signed by `user` (see [`signature`]), and
    /// still within AWS's length limits once signed.
    fn signed(&self, user: &str) -> Result<Control, ControlError> {
        let fit = |name: &str, text: &str, max: usize| {
            let signed = signature::sign(text, user);
            if signed.chars().count() > max {
                let room = max.saturating_sub(signed.chars().count() - text.trim().chars().count());
                Err(ControlError::Invalid(format!("{name} is longer than {room} characters.")))
            } else {
                Ok(signed)
            }
        };
        Ok(match self {
            Control::Stop { execution, abandon, reason } => Control::Stop {
                execution: execution.clone(),
                abandon: *abandon,
                reason: fit("The reason", reason, 200)?,
            },
            Control::Decide { stage, action, token, approve, comment } => Control::Decide {
                stage: stage.clone(),
                action: action.clone(),
                token: token.clone(),
                approve: *approve,
                comment: fit("The comment", comment, 512)?,
            },
            Control::Transition { stage, enable: false, reason } => Control::Transition {
                stage: stage.clone(),
                enable: false,
                reason: fit("The reason", reason, 300)?,
            },
            other => other.clone(),
        })
    }
}

/// Who counts a pipeline's signal up when a vote moved it (any name but a replica's).
const VOTES: &str = "votes";

/// What a transition's reason may hold besides letters, digits and spaces.
pub const REASON_PUNCTUATION: &str = "! @ ( ) . * ? -";

impl Pipelines {
    /// Carries out `control` on `pipeline` for `caller`; audited whatever the outcome.
    /// `override_reason` lets an admin act through a lock or freeze.
    pub async fn control(
        &self,
        store: &Store,
        caller: &Caller,
        environment: &str,
        pipeline: &str,
        control: Control,
        override_reason: Option<&str>,
    ) -> Result<(), ControlError> {
        let now = Timestamp::now();
        let record = |outcome, detail: String| {
            Record::new(caller, control.audit_action(), outcome, now)
                .environment(environment)
                .target(pipeline)
                .detail(detail)
        };
        let refused = |e: ControlError, execution: Option<&str>| {
            let record = record(Outcome::Refused, format!("{}: {e}", control.describe(execution)));
            async move {
                audit::append_alone(store, &record).await?;
                Err::<(), _>(e)
            }
        };
        if let Err(denied) = policy::authorize(&self.config, &caller.user, environment, control.permission())
        {
            return refused(denied.into(), None).await;
        }
        let env = self.check(environment, pipeline)?;
        let sent = match control.check().and_then(|()| control.signed(&caller.user)) {
            Ok(sent) => sent,
            Err(e) => return refused(e, None).await,
        };
        let hold = if control.held_back() { locks::hold(store, env, now).await? } else { None };
        let overriding = match (hold, override_reason.map(str::trim).filter(|r| !r.is_empty())) {
            (None, _) => None,
            (Some(hold), None) => return refused(ControlError::Held(hold), None).await,
            (Some(hold), Some(why)) => {
                if let Err(denied) =
                    policy::authorize(&self.config, &caller.user, environment, Permission::Override)
                {
                    return refused(denied.into(), None).await;
                }
                Some(format!("{why} (overriding: {hold})"))
            }
        };
        if let Control::Decide { stage, action, token, approve, comment } = &control {
            let (execution, action_execution) =
                match self.waiting_execution(environment, pipeline, stage, action, token).await {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        let e = ControlError::NotWaiting {
                            pipeline: pipeline.to_owned(),
                            stage: stage.clone(),
                            action: action.clone(),
                        };
                        return refused(e, None).await;
                    }
                    Err(e) => return refused(e.into(), None).await,
                };
            let ballot = Ballot {
                environment,
                pipeline,
                stage,
                action,
                token,
                execution: &execution,
                action_execution: action_execution.as_deref(),
            };
            return self.vote(store, caller, env, &ballot, *approve, comment.trim(), overriding, now).await;
        }
        let mut described = control.describe(None);
        if let Some(why) = &overriding {
            described.push_str(&format!("; override: {why}"));
        }
        let result = self.send(environment, pipeline, &sent).await;
        self.poke(environment, pipeline);
        match result {
            Ok(()) => {
                audit::append_alone(store, &record(Outcome::Succeeded, described)).await?;
                Ok(())
            }
            Err(e) => {
                self.saw(environment, &e);
                audit::append_alone(store, &record(Outcome::Failed, format!("{described}: {e}"))).await?;
                Err(e.into())
            }
        }
    }

    /// Counts `caller`'s answer to the approval `ballot` and, when it decides the quorum (or
    /// re-sends a decided answer that did not reach CodePipeline), answers CodePipeline: once,
    /// whoever else votes at the same moment.
    #[allow(clippy::too_many_arguments)] // The vote and where it came from, as `control` has them.
    async fn vote(
        &self,
        store: &Store,
        caller: &Caller,
        env: &Environment,
        ballot: &Ballot<'_>,
        approve: bool,
        comment: &str,
        overriding: Option<String>,
        now: Timestamp,
    ) -> Result<(), ControlError> {
        let word = if approve { "approve" } else { "reject" };
        let record = |action: &'static str, outcome, detail: String| {
            Record::new(caller, action, outcome, now)
                .environment(&env.name)
                .target(ballot.pipeline)
                .detail(detail)
        };
        let mut described = format!("{word} {} of execution {}: {comment}", ballot.stage, ballot.execution);
        if let Some(why) = &overriding {
            described.push_str(&format!("; override: {why}"));
        }
        let vote_action = if approve { "pipeline.approve" } else { "pipeline.reject" };
        let refused = |e: ControlError| {
            let record = record(vote_action, Outcome::Refused, format!("{described}: {e}"));
            async move {
                audit::append_alone(store, &record).await?;
                Err::<(), _>(e)
            }
        };
        let rule = env.quorum(ballot.pipeline, ballot.stage, ballot.action);
        if rule.exclude_releaser
            && started_by(store, &env.name, ballot.execution).await?.as_deref() == Some(caller.user.as_str())
        {
            return refused(ControlError::SelfApproval).await;
        }
        let vote = Vote {
            voter: caller.user.clone(),
            approve,
            comment: comment.to_owned(),
            groups: self.config.groups_of(&caller.user),
            at: now,
        };
        let mut tx = store.begin().await?;
        let counted = quorum::cast(&mut tx, ballot, &vote).await?;
        if counted {
            audit::append(&mut tx, &record(vote_action, Outcome::Succeeded, described.clone())).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        let votes = quorum::votes(store, &env.name, ballot.pipeline, ballot.token).await?;
        let tally = quorum::tally(&rule, &votes);
        let standing = quorum::describe(&rule, &votes);
        if !counted {
            let answered = quorum::answer(
                store,
                &env.name,
                ballot.pipeline,
                Some(ballot.token),
                ballot.action_execution,
            )
            .await?;
            let resend = tally.decided()
                && answered.is_none_or(|a| matches!(a.state, AnswerState::Failed | AnswerState::Sending));
            if !resend {
                return refused(ControlError::AlreadyVoted { standing }).await;
            }
        }
        self.signal(store, &env.name, ballot.pipeline).await;
        let decision = match tally {
            Tally::Waiting { .. } => return Ok(()),
            Tally::Approved => true,
            Tally::Rejected { .. } => false,
        };
        if !quorum::claim(store, ballot, decision, now).await? {
            // Another vote decided at the same moment: its caller answers CodePipeline.
            return Ok(());
        }
        let summary = quorum::summary(&votes, &tally, &caller.user);
        let result = self.answer_approval(ballot, decision, &summary).await;
        let error = result.as_ref().err().map(ToString::to_string);
        quorum::settle(store, ballot, error.as_deref()).await?;
        self.signal(store, &env.name, ballot.pipeline).await;
        let answered = format!(
            "{standing}: answered {} / {} of execution {} in CodePipeline ({})",
            ballot.stage,
            ballot.action,
            ballot.execution,
            if decision { "Approved" } else { "Rejected" }
        );
        match result {
            Ok(()) => {
                audit::append_alone(store, &record("pipeline.answer", Outcome::Succeeded, answered)).await?;
                Ok(())
            }
            Err(e) => {
                self.saw(&env.name, &e);
                let detail = format!("{answered}: {e}");
                audit::append_alone(store, &record("pipeline.answer", Outcome::Failed, detail)).await?;
                Err(e.into())
            }
        }
    }

    /// Refreshes the pipeline here at once, and on the other replicas within a second.
    async fn signal(&self, store: &Store, environment: &str, pipeline: &str) {
        self.poke(environment, pipeline);
        if let Err(e) = super::events::count_up(store, environment, pipeline, VOTES).await {
            tracing::warn!(%environment, %pipeline, error = %e, "cannot tell the other replicas of a vote");
        }
    }

    async fn answer_approval(
        &self,
        ballot: &Ballot<'_>,
        approve: bool,
        summary: &str,
    ) -> Result<(), PipelineError> {
        let client = self.client(ballot.environment).await?;
        let status = if approve { ApprovalStatus::Approved } else { ApprovalStatus::Rejected };
        let result = ApprovalResult::builder()
            .status(status)
            .summary(summary)
            .build()
            .map_err(|e| PipelineError::Invalid(e.to_string()))?;
        client
            .put_approval_result()
            .pipeline_name(ballot.pipeline)
            .stage_name(ballot.stage)
            .action_name(ballot.action)
            .token(ballot.token)
            .result(result)
            .send()
            .await
            .map(drop)
            .map_err(PipelineError::from_sdk)
    }

    /// The execution whose manual approval `action` of `stage` waits with `token`, as
    /// CodePipeline says now, and the id of that action's execution; `None` when no such
    /// approval waits.
    async fn waiting_execution(
        &self,
        environment: &str,
        pipeline: &str,
        stage: &str,
        action: &str,
        token: &str,
    ) -> Result<Option<(String, Option<String>)>, PipelineError> {
        let client = self.client(environment).await?;
        let state = read::state(&client, pipeline).await?;
        Ok(state.stages.iter().filter(|s| s.name == stage).find_map(|s| {
            let waiting = s
                .actions
                .iter()
                .find(|a| a.name == action && a.waiting_approval() && a.token.as_deref() == Some(token))?;
            Some((s.execution_id.clone()?, waiting.action_execution_id.clone()))
        }))
    }

    async fn send(&self, environment: &str, pipeline: &str, control: &Control) -> Result<(), PipelineError> {
        let client = self.client(environment).await?;
        match control {
            Control::Stop { execution, abandon, reason } => client
                .stop_pipeline_execution()
                .pipeline_name(pipeline)
                .pipeline_execution_id(execution)
                .abandon(*abandon)
                .reason(reason.trim())
                .send()
                .await
                .map(drop)
                .map_err(PipelineError::from_sdk),
            Control::Retry { execution, stage, all } => client
                .retry_stage_execution()
                .pipeline_name(pipeline)
                .stage_name(stage)
                .pipeline_execution_id(execution)
                .retry_mode(if *all { StageRetryMode::AllActions } else { StageRetryMode::FailedActions })
                .send()
                .await
                .map(drop)
                .map_err(PipelineError::from_sdk),
            // Answered by vote, see `vote`.
            Control::Decide { .. } => Ok(()),
            Control::Transition { stage, enable: true, .. } => client
                .enable_stage_transition()
                .pipeline_name(pipeline)
                .stage_name(stage)
                .transition_type(StageTransitionType::Inbound)
                .send()
                .await
                .map(drop)
                .map_err(PipelineError::from_sdk),
            Control::Transition { stage, enable: false, reason } => client
                .disable_stage_transition()
                .pipeline_name(pipeline)
                .stage_name(stage)
                .transition_type(StageTransitionType::Inbound)
                .reason(reason.trim())
                .send()
                .await
                .map(drop)
                .map_err(PipelineError::from_sdk),
        }
    }
}

/// Who asked Rollgate for the change that started execution `execution`, if Rollgate did
/// (the executor keeps the id of every execution it starts with its change request).
pub async fn started_by(
    store: &Store,
    environment: &str,
    execution: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT requested_by FROM change_requests WHERE environment = $1 AND started_execution = $2 \
         ORDER BY requested_at DESC LIMIT 1",
    )
    .bind(environment)
    .bind(execution)
    .fetch_optional(store.pool())
    .await
    .map_err(StoreError::from)?;
    row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(StoreError::from)
}
