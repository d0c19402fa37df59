//! Pipelines: the list and one pipeline (read from the shared pollers, history from AWS), and
//! what people do to them. Starting, redeploying an earlier commit and rolling a stage back
//! change what runs: they are change requests, under the environment's four-eyes rules. Stop,
//! retry, approve or reject, and freezing a transition act at once, role-checked and audited.

use leptos::prelude::*;

use crate::error::ApiError;
#[cfg(feature = "ssr")]
use crate::model::pipelines::VariableView;
use crate::model::pipelines::{ApprovalView, ExecutionComparison, PipelineDetail, PipelineView};

/// The environment's pipelines with their latest execution.
#[server]
pub async fn list_pipelines(env: String) -> Result<Vec<PipelineView>, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let names = ssr::names(&portal, &env)?;
    let mut out = Vec::new();
    for name in names {
        let poller = portal.pipelines.poller(&env, &name).map_err(ssr::error)?;
        out.push(ssr::view(&portal, &env, &name, &*poller.current().await).await);
    }
    Ok(out)
}

/// One pipeline: its stages and actions now, and a page of its history (`page`: the token
/// the previous page gave, empty for the first).
#[server]
pub async fn get_pipeline(env: String, name: String, page: String) -> Result<PipelineDetail, ApiError> {
    use backend::pipelines::read;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let poller = portal.pipelines.poller(&env, &name).map_err(ssr::error)?;
    let snapshot = poller.current().await;
    let live = ssr::view(&portal, &env, &name, &snapshot).await;
    let client = portal.pipelines.client(&env).await.map_err(ssr::error)?;
    let page = Some(page.as_str()).filter(|p| !p.is_empty());
    let history = read::history(&client, &name, ssr::PAGE, page).await.map_err(ssr::error)?;
    let version = snapshot.state.as_ref().and_then(|s| s.version);
    let declared = portal.pipelines.declaration(&env, &name, version).await.map_err(ssr::error)?;
    // Only a pipeline with stage conditions has rule results to read.
    let rules = match live.latest.as_ref().filter(|_| live.stages.iter().any(|s| !s.conditions.is_empty())) {
        Some(latest) => backend::pipelines::conditions::rule_runs(&client, &name, &latest.id)
            .await
            .map_err(ssr::error)?
            .into_iter()
            .map(ssr::rule_run)
            .collect(),
        None => Vec::new(),
    };
    let stages = live.stages.iter().map(|s| s.name.clone()).collect();
    Ok(PipelineDetail {
        live,
        history: history.executions.iter().map(|e| ssr::execution(e, None)).collect(),
        next: history.next,
        stages,
        mode: declared.mode,
        variables: declared
            .variables
            .into_iter()
            .map(|v| VariableView { name: v.name, default: v.default, description: v.description })
            .collect(),
        source_actions: declared.source_actions,
        rules,
    })
}

/// Executions `a` and `b` of pipeline `name` side by side: which commit, which image, and what
/// each stage's actions did.
#[server]
pub async fn compare_executions(
    env: String,
    name: String,
    a: String,
    b: String,
) -> Result<ExecutionComparison, ApiError> {
    use backend::pipelines::compare;
    use backend::pipelines::ids::ExecutionId;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let id = |text: &str| {
        ExecutionId::parse(text).map_err(|e| guard::with_status(ApiError::Invalid(format!("{e}."))))
    };
    let (a, b) = (id(&a)?, id(&b)?);
    portal.pipelines.check(&env, &name).map_err(ssr::error)?;
    let compared = compare::compare(&portal.pipelines, &env, &name, &a, &b).await.map_err(ssr::error)?;
    Ok(ssr::comparison(&name, compared))
}

/// The manual approvals waiting in the environment's pipelines (the Approvals inbox).
#[server]
pub async fn list_pipeline_approvals(env: String) -> Result<Vec<ApprovalView>, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let mut out = Vec::new();
    for name in ssr::names(&portal, &env)? {
        let poller = portal.pipelines.poller(&env, &name).map_err(ssr::error)?;
        out.extend(ssr::view(&portal, &env, &name, &*poller.current().await).await.approval);
    }
    Ok(out)
}

/// Asks for a pipeline change: `kind` is `start` (release the latest commit, or with
/// `variables`, one `NAME=value` per line, and a source revision: `revision_value` of kind
/// `revision_kind` for source action `revision_action`), `redeploy` (`commit`: an earlier one,
/// from the history), `rollback-stage` (`stage` back to the successful `execution`) or
/// `override-condition` (let `execution` through `stage`'s `condition`). On a protected
/// environment it waits for approval.
#[server]
#[allow(clippy::too_many_arguments)] // One argument per form field, as the form posts them.
pub async fn request_pipeline_change(
    env: String,
    pipeline: String,
    kind: String,
    commit: Option<String>,
    stage: Option<String>,
    execution: Option<String>,
    variables: Option<String>,
    revision_action: Option<String>,
    revision_kind: Option<String>,
    revision_value: Option<String>,
    condition: Option<String>,
    reason: String,
    return_to: Option<String>,
) -> Result<String, ApiError> {
    use backend::clock::Timestamp;
    use backend::dispatch::Ask;
    use backend::pipelines::change::PipelineChange;
    use backend::pipelines::conditions::ConditionKind;
    use backend::pipelines::ids::{CommitSha, ExecutionId};
    use backend::pipelines::inputs::ReleaseInputs;
    use backend::policy::Permission;

    use super::changes::ssr as changes;
    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::RequestChange)?;
    let invalid = |e: String| guard::with_status(ApiError::Invalid(e));
    let field = |v: Option<String>| v.unwrap_or_default();
    let action = match kind.as_str() {
        "start" => PipelineChange::StartPipeline {
            pipeline,
            inputs: ReleaseInputs::parse(
                &field(variables),
                &field(revision_action),
                &field(revision_kind),
                &field(revision_value),
            )
            .map_err(|e| invalid(format!("{e}.")))?,
        },
        "redeploy" => PipelineChange::RedeployCommit {
            pipeline,
            commit: CommitSha::parse(&field(commit)).map_err(|e| invalid(format!("Commit: {e}.")))?,
        },
        "rollback-stage" => PipelineChange::RollbackStage {
            pipeline,
            stage: field(stage).trim().to_owned(),
            execution: ExecutionId::parse(&field(execution))
                .map_err(|e| invalid(format!("Execution: {e}.")))?,
        },
        "override-condition" => PipelineChange::OverrideCondition {
            pipeline,
            stage: field(stage).trim().to_owned(),
            execution: ExecutionId::parse(&field(execution))
                .map_err(|e| invalid(format!("Execution: {e}.")))?,
            condition: ConditionKind::parse(&field(condition))
                .map_err(|e| invalid(format!("Condition: {e}.")))?,
        },
        other => return Err(invalid(format!("{other:?} is not a pipeline change."))),
    };
    let request = portal
        .changes
        .request(&caller, &env, Ask::new(action.into(), &reason), Timestamp::now())
        .await
        .map_err(changes::error)?;
    guard::back(return_to.as_deref());
    Ok(request.state.as_str().to_owned())
}

/// Stops an execution: `abandon` ends running actions at once, otherwise they finish.
/// `override_reason` (admins) acts through a lock or freeze, as on every control below.
#[server]
pub async fn stop_execution(
    env: String,
    pipeline: String,
    execution: String,
    abandon: Option<String>,
    reason: String,
    override_reason: Option<String>,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::pipelines::control::Control;

    let abandon = abandon.is_some_and(|v| v == "true" || v == "on");
    let control = Control::Stop { execution, abandon, reason };
    ssr::control(&env, &pipeline, control, override_reason, return_to.as_deref()).await
}

/// Retries a failed stage of an execution: its failed actions, or all (`mode` = `all`).
#[server]
pub async fn retry_stage(
    env: String,
    pipeline: String,
    execution: String,
    stage: String,
    mode: String,
    override_reason: Option<String>,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::pipelines::control::Control;

    let control = Control::Retry { execution, stage, all: mode == "all" };
    ssr::control(&env, &pipeline, control, override_reason, return_to.as_deref()).await
}

/// Approves or rejects (`decision` = `approve` / `reject`) the manual approval waiting with
/// `token`. Which execution that is, the server asks CodePipeline.
#[server]
#[allow(clippy::too_many_arguments)] // One argument per form field, as the form posts them.
pub async fn decide_pipeline_approval(
    env: String,
    pipeline: String,
    stage: String,
    action: String,
    token: String,
    decision: String,
    comment: String,
    override_reason: Option<String>,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::pipelines::control::Control;
    use backend::policy::Permission;

    use super::guard;

    let approve = decision == "approve";
    if !approve && decision != "reject" {
        // Who asks is checked first: a stranger learns nothing from how the form is judged.
        ssr::authorized(&env, Permission::Approve)?;
        return Err(guard::with_status(ApiError::Invalid(format!(
            "{decision:?} is neither approve nor reject."
        ))));
    }
    let control = Control::Decide { stage, action, token, approve, comment };
    ssr::control(&env, &pipeline, control, override_reason, return_to.as_deref()).await
}

/// Freezes (`enable` empty or `false`, with a reason) or unfreezes the transition into a stage.
#[server]
pub async fn set_stage_transition(
    env: String,
    pipeline: String,
    stage: String,
    enable: String,
    reason: Option<String>,
    override_reason: Option<String>,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::pipelines::control::Control;

    let control = Control::Transition { stage, enable: enable == "true", reason: reason.unwrap_or_default() };
    ssr::control(&env, &pipeline, control, override_reason, return_to.as_deref()).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! From the backend's pipeline types to the page model; the live stream uses it too.

    use backend::Portal;
    use backend::pipelines::compare;
    use backend::pipelines::control::{self, Control, ControlError};
    use backend::pipelines::quorum;
    use backend::pipelines::read::{self, Execution};
    use backend::pipelines::{PipelineError, Snapshot};
    use backend::policy::Permission;

    use super::super::guard;
    use crate::error::ApiError;
    use crate::model::pipelines::{
        ActionComparison, ActionOutcome, ActionView, ApprovalView, CommitView, ComparedExecution,
        ConditionView, DisabledView, ExecutionComparison, ExecutionView, PipelineView, RuleRunView, RuleView,
        StageTarget, StageView, VoteView,
    };
    use backend::kube::watch::Link;

    /// Executions per page of history.
    pub const PAGE: i32 = 10;

    pub fn names(portal: &Portal, env: &str) -> Result<Vec<String>, ApiError> {
        portal
            .config
            .environment(env)
            .map(|e| e.aws.pipelines.clone())
            .ok_or_else(|| guard::with_status(ApiError::NotFound(format!("There is no environment {env}."))))
    }

    pub fn error(e: PipelineError) -> ApiError {
        guard::with_status(match e {
            PipelineError::NotFound(_) | PipelineError::NotConfigured { .. } => {
                ApiError::NotFound(e.to_string())
            }
            PipelineError::Invalid(_) => ApiError::Refused(e.to_string()),
            other => ApiError::Upstream(other.to_string()),
        })
    }

    fn control_error(e: ControlError) -> ApiError {
        match e {
            ControlError::Denied(denied) => match guard::portal() {
                Ok(portal) => guard::with_status(guard::denied_error(&portal, denied)),
                Err(e) => e,
            },
            ControlError::Pipeline(e) => error(e),
            ControlError::Invalid(m) => guard::with_status(ApiError::Invalid(m)),
            ControlError::SelfApproval
            | ControlError::NotWaiting { .. }
            | ControlError::AlreadyVoted { .. }
            | ControlError::Held(_) => guard::with_status(ApiError::Refused(e.to_string())),
            ControlError::Store(e) => guard::internal("the audit record", e),
        }
    }

    /// The caller, when their role in `env` allows `permission`.
    pub fn authorized(env: &str, permission: Permission) -> Result<backend::audit::Caller, ApiError> {
        let portal = guard::portal()?;
        guard::authorize(&portal, env, permission).map(|(caller, _)| caller)
    }

    pub async fn control(
        env: &str,
        pipeline: &str,
        control: Control,
        override_reason: Option<String>,
        return_to: Option<&str>,
    ) -> Result<(), ApiError> {
        let portal = guard::portal()?;
        let (caller, _) = guard::authorize(&portal, env, control.permission())?;
        portal
            .pipelines
            .control(&portal.store, &caller, env, pipeline, control, override_reason.as_deref())
            .await
            .map_err(control_error)?;
        // The page they come back to shows what they did (a frozen transition offers to thaw).
        if return_to.is_some()
            && let Ok(poller) = portal.pipelines.poller(env, pipeline)
        {
            poller.fresh(std::time::Duration::from_secs(3)).await;
        }
        guard::back(return_to);
        Ok(())
    }

    fn commit(e: &Execution, runs: &[read::ActionRun]) -> Option<CommitView> {
        let r = e.commit()?;
        let source = runs.iter().find(|a| a.commit.as_deref() == Some(r.id.as_str()));
        Some(CommitView {
            id: r.id.clone(),
            short: r.id.chars().take(7).collect(),
            message: r.summary.clone().or_else(|| source.and_then(|s| s.message.clone())),
            author: source.and_then(|s| s.author.clone()),
            url: r.url.clone(),
        })
    }

    pub fn execution(e: &Execution, runs: Option<&[read::ActionRun]>) -> ExecutionView {
        ExecutionView {
            id: e.id.clone(),
            status: e.status.clone(),
            summary: e.status_summary.clone(),
            started_ms: e.started_ms,
            updated_ms: e.updated_ms,
            trigger: e.trigger.clone(),
            kind: e.kind.clone(),
            commit: commit(e, runs.unwrap_or_default()),
        }
    }

    pub fn rule_run(r: backend::pipelines::conditions::RuleRun) -> RuleRunView {
        RuleRunView {
            stage: r.stage,
            rule: r.rule,
            provider: r.provider,
            status: r.status,
            summary: r.summary,
            error: r.error,
            started_ms: r.started_ms,
            updated_ms: r.updated_ms,
            checked: r.checked.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
            updated_by: r.updated_by,
        }
    }

    fn conditions(s: &read::StageState) -> Vec<ConditionView> {
        s.conditions
            .iter()
            .map(|c| ConditionView {
                kind: c.kind.as_str().to_owned(),
                words: c.kind.words().to_owned(),
                status: c.status.clone(),
                summary: c.summary.clone(),
                changed_ms: c.changed_ms,
                rules: c
                    .rules
                    .iter()
                    .map(|r| RuleView {
                        name: r.name.clone(),
                        status: r.status.clone(),
                        summary: r.summary.clone(),
                        changed_ms: r.changed_ms,
                    })
                    .collect(),
                // A check in progress belongs to the execution the stage shows now.
                checking: (c.status.as_deref() == Some("InProgress") && c.kind.overridable().is_some())
                    .then(|| s.execution_id.clone())
                    .flatten(),
            })
            .collect()
    }

    /// The page model of a comparison (see `backend::pipelines::compare`).
    pub fn comparison(pipeline: &str, c: compare::Comparison) -> ExecutionComparison {
        let side = |c: compare::Compared| ComparedExecution {
            execution: execution(&c.execution, Some(&c.runs)),
            image: c.image,
        };
        let outcome = |o: compare::Outcome| ActionOutcome { status: o.status, detail: o.detail };
        ExecutionComparison {
            pipeline: pipeline.to_owned(),
            a: side(c.a),
            b: side(c.b),
            actions: c
                .rows
                .into_iter()
                .map(|r| ActionComparison {
                    stage: r.stage,
                    action: r.action,
                    a: r.a.map(outcome),
                    b: r.b.map(outcome),
                    differs: r.differs,
                })
                .collect(),
        }
    }

    /// The deployment `stage` rolls out, as the namespace's shared watch shows it.
    fn target(portal: &Portal, env: &str, pipeline: &str, stage: &str) -> Option<StageTarget> {
        let t = portal.config.environment(env)?.aws.deploy_target(pipeline, stage)?;
        let watch = portal.watches.namespace(env, &t.namespace);
        let row = watch.get(&t.deployment).map(|d| super::super::deployments::ssr::row(&d));
        let problem = match watch.link() {
            Link::Reconnecting(why) => Some(format!("The cluster cannot be read: {why}")),
            Link::Connecting => row.is_none().then(|| "Connecting to the cluster…".to_owned()),
            Link::Live => {
                row.is_none().then(|| format!("There is no deployment {} in {}.", t.deployment, t.namespace))
            }
        };
        Some(StageTarget { namespace: t.namespace.clone(), deployment: t.deployment.clone(), row, problem })
    }

    /// The page model of what the poller last read.
    pub async fn view(portal: &Portal, env: &str, name: &str, snapshot: &Snapshot) -> PipelineView {
        let mut view = PipelineView {
            env: env.to_owned(),
            name: name.to_owned(),
            stages: Vec::new(),
            latest: None,
            running: false,
            fetched_ms: snapshot.fetched.map(|t| t.millis()),
            problem: snapshot.problem.as_ref().map(|p| p.to_string()),
            next_in_secs: snapshot.next_in.as_secs(),
            pushed: snapshot.pushed,
            feed_problem: portal.pipelines.feeds.status(env).and_then(|f| f.problem),
            approval: None,
        };
        let Some(state) = &snapshot.state else {
            if snapshot.polls == 0 && view.problem.is_none() {
                view.problem = Some("Not read from AWS yet.".into());
            }
            return view;
        };
        let latest = state.latest.as_ref().map(|e| execution(e, Some(&state.latest_actions)));
        let latest_id = latest.as_ref().map(|e| e.id.clone());
        view.running = state.running();
        view.stages = state
            .stages
            .iter()
            .map(|s| {
                let current = s.execution_id.is_some() && s.execution_id == latest_id;
                StageView {
                    name: s.name.clone(),
                    status: s.status.clone(),
                    execution_id: s.execution_id.clone(),
                    current,
                    disabled: s.disabled.as_ref().map(|d| DisabledView {
                        by: d.by.clone(),
                        reason: d.reason.clone(),
                        at_ms: d.at_ms,
                    }),
                    inbound_execution: s.inbound_execution.clone(),
                    queued: s.inbound_executions.clone(),
                    conditions: conditions(s),
                    retries: s.retries.as_ref().map(|r| {
                        let last = match r.latest.as_deref() {
                            Some("AutomatedStageRetry") => "; last by CodePipeline itself",
                            Some("ManualStageRetry") => "; last by hand",
                            _ => "",
                        };
                        format!("Retried {} time(s) automatically, {} by hand{last}", r.automatic, r.manual)
                    }),
                    target: target(portal, env, name, &s.name),
                    actions: s
                        .actions
                        .iter()
                        .map(|a| {
                            let run = state
                                .latest_actions
                                .iter()
                                .filter(|r| current && r.stage == s.name && r.action == a.name)
                                .max_by_key(|r| r.started_ms);
                            ActionView {
                                name: a.name.clone(),
                                status: a.status.clone(),
                                started_ms: run.and_then(|r| r.started_ms),
                                updated_ms: run.and_then(|r| r.updated_ms).or(a.changed_ms),
                                summary: a.summary.clone(),
                                error: a.error.clone(),
                                external_url: a.external_url.clone(),
                                revision: a.revision.clone().map(|r| r.chars().take(12).collect()),
                                updated_by: a.updated_by.clone(),
                                outside: None,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let now = backend::clock::Timestamp::now();
        match quorum::answered_outside(&portal.store, env, name, state, now).await {
            Ok(outside) => {
                for o in outside {
                    let word = if o.approve { "Approved" } else { "Rejected" };
                    let action = view
                        .stages
                        .iter_mut()
                        .filter(|s| s.name == o.stage)
                        .flat_map(|s| s.actions.iter_mut())
                        .find(|a| a.name == o.action);
                    if let Some(action) = action {
                        action.outside =
                            Some(format!("{word} in CodePipeline itself by {}, not through Rollgate.", o.by));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(%env, pipeline = %name, error = %e, "cannot tell who answered an approval")
            }
        }
        if let Some((stage, action)) = state.waiting_approval() {
            let execution = stage.execution_id.clone().unwrap_or_default();
            let started_by = control::started_by(&portal.store, env, &execution).await.ok().flatten();
            let environment = portal.config.environment(env);
            let hold = match environment {
                Some(e) => backend::policy::locks::hold(&portal.store, e, now)
                    .await
                    .ok()
                    .flatten()
                    .map(|h| h.to_string()),
                None => None,
            };
            let token = action.token.clone().unwrap_or_default();
            let standing = match environment {
                Some(e) => {
                    quorum::standing(&portal.store, e, name, &stage.name, &action.name, &token).await.ok()
                }
                None => None,
            };
            let commit = latest.as_ref().filter(|l| l.id == execution).and_then(|l| l.commit.clone());
            view.approval = Some(ApprovalView {
                env: env.to_owned(),
                pipeline: name.to_owned(),
                stage: stage.name.clone(),
                action: action.name.clone(),
                token,
                execution,
                since_ms: action.changed_ms,
                commit,
                summary: action.summary.clone(),
                started_by,
                hold,
                rule: standing.as_ref().map(|s| s.rule.clone()).unwrap_or_default(),
                standing: standing
                    .as_ref()
                    .map(|s| s.words.clone())
                    .unwrap_or_else(|| "The answers so far cannot be read from the store.".into()),
                votes: standing
                    .as_ref()
                    .map(|s| {
                        s.votes
                            .iter()
                            .map(|v| VoteView {
                                by: v.voter.clone(),
                                approve: v.approve,
                                comment: v.comment.clone(),
                                at_ms: v.at.millis(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                unsent: standing.and_then(|s| s.unsent),
                expires_ms: action.changed_ms.map(|ms| ms + quorum::APPROVAL_LIFETIME_SECS * 1000),
            });
        }
        view.latest = latest;
        view
    }
}
