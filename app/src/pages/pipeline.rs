//! One pipeline: its stages and actions live, what can be done to it (each role-checked and
//! audited; releasing (with variables and a source revision), redeploying, stage rollback and
//! overriding a stage condition are change requests under the environment's four-eyes rules),
//! what the latest execution's condition rules found, and its execution history, paged, with a
//! redeploy and a stage rollback for each earlier execution (none in PARALLEL mode, where
//! CodePipeline cannot roll a stage back).

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::pipelines::{
    DecidePipelineApproval, RequestPipelineChange, RetryStage, SetStageTransition, StopExecution,
    get_pipeline,
};
use crate::components::form_error::FormError;
use crate::components::live::now_ms;
use crate::components::live::{duration, utc};
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle, page_status};
use crate::components::pipeline_live::{PipelineLive, class_of};
use crate::error::ApiError;
use crate::model::EnvironmentOverview;
use crate::model::pipelines::{ExecutionView, PipelineDetail, RuleRunView};

#[component]
pub fn PipelinePage() -> impl IntoView {
    let env = use_environment_name();
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            env.get(),
            params.read().get("name").unwrap_or_default(),
            query.read().get("page").unwrap_or_default(),
        )
    };
    let detail = Resource::new(key, |(env, name, page)| get_pipeline(env, name, page));
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <PageTitle area="Pipeline" />
        <p class="crumbs">
            <a href=move || format!("/{}/pipelines", env.get())>"Pipelines"</a>
        </p>
        <h1>{move || key().1}</h1>
        <FormError path=RequestPipelineChange::PATH />
        <FormError path=StopExecution::PATH />
        <FormError path=RetryStage::PATH />
        <FormError path=DecidePipelineApproval::PATH />
        <FormError path=SetStageTransition::PATH />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let d = detail.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Detail o d /> })
            })}
        </Suspense>
    }
}

#[component]
fn Detail(o: EnvironmentOverview, d: PipelineDetail) -> impl IntoView {
    let can_approve = o.access.approve.yes();
    let base = format!("/{}/pipelines/{}", o.summary.name, d.live.name);
    view! {
        <PipelineLive view=d.live.clone() detail=true can_approve now_ms=now_ms() />
        <Actions o=o.clone() d=d.clone() base=base.clone() />
        <Rules rules=d.rules.clone() />
        <History o d base />
    }
}

/// The fields every form of this page carries.
#[component]
fn Common(env: String, pipeline: String, base: String) -> impl IntoView {
    view! {
        <input type="hidden" name="env" value=env />
        <input type="hidden" name="pipeline" value=pipeline />
        <input type="hidden" name="return_to" value=base />
    }
}

#[component]
fn Actions(o: EnvironmentOverview, d: PipelineDetail, base: String) -> impl IntoView {
    let env = o.summary.name.clone();
    let name = d.live.name.clone();
    let common = move || view! { <Common env=env.clone() pipeline=name.clone() base=base.clone() /> };
    // While a lock or freeze holds, stopping, retrying and letting a release through again need
    // an admin's reason (freezing a transition does not).
    let may_override = o.access.override_hold.why_not().is_none();
    let hold = o.hold.clone();
    let override_field = move || {
        hold.clone().map(|hold| {
            if may_override {
                Either::Left(view! {
                    <label class="wide">
                        {format!("Changes are held ({hold}). Override (admins; say why)")}
                        <input name="override_reason" required />
                    </label>
                })
            } else {
                Either::Right(view! { <p class="muted wide">{format!("Changes are held: {hold}. Only an admin may act now.")}</p> })
            }
        })
    };
    let rule = if o.summary.protected {
        format!(
            "{} is protected: a release, a redeploy or a stage rollback waits for {} approval(s) from someone else (see Approvals), then starts.",
            o.summary.title, o.required_approvals
        )
    } else {
        format!("{} is not protected: a release starts as soon as it is asked for.", o.summary.title)
    };
    let release = match o.access.request.why_not() {
        Some(why) => Either::Left(view! { <p class="muted">{why}</p> }),
        None => {
            let running = d.live.latest.clone().filter(|e| e.status == "InProgress");
            let failed: Vec<_> = d
                .live
                .stages
                .iter()
                .filter(|s| s.current && s.status.as_deref() == Some("Failed"))
                .cloned()
                .collect();
            let common = common.clone();
            let inputs = release_inputs(&d);
            let overrides = d
                .live
                .stages
                .iter()
                .filter(|s| s.current)
                .flat_map(|s| s.conditions.iter().map(move |c| (s.name.clone(), c.clone())))
                .filter_map(|(stage, c)| c.checking.clone().map(|execution| (stage, c, execution)))
                .map(|(stage, c, execution)| {
                    view! {
                        <form method="post" action=RequestPipelineChange::PATH class="form grid" data-action="override-condition" data-stage=stage.clone()>
                            <h3 class="wide">{format!("Override the {} of {stage}", c.words)}</h3>
                            {common()}
                            <input type="hidden" name="kind" value="override-condition" />
                            <input type="hidden" name="stage" value=stage.clone() />
                            <input type="hidden" name="execution" value=execution.clone() />
                            <input type="hidden" name="condition" value=c.kind.clone() />
                            <p class="muted wide">
                                {format!("Execution {} waits while its rules are checked", execution.chars().take(8).collect::<String>())}
                                {c.summary.clone().map(|s| format!(": {s}"))}
                                ". An override lets it go on as if they were met."
                            </p>
                            <label class="wide">"Reason for the override" <input name="reason" required /></label>
                            <button type="submit">"Override"</button>
                        </form>
                    }
                })
                .collect_view();
            Either::Right(view! {
                <div class="action-grid">
                    <form method="post" action=RequestPipelineChange::PATH class="form grid" data-action="start">
                        <h3 class="wide">"Release the latest change"</h3>
                        {common()}
                        <input type="hidden" name="kind" value="start" />
                        {inputs}
                        <label class="wide">"Why" <input name="reason" required placeholder="for approvers and the audit trail" /></label>
                        <button type="submit" class="primary">"Release"</button>
                    </form>
                    {overrides}
                    {running.map(|e| view! {
                        <form method="post" action=StopExecution::PATH class="form grid" data-action="stop">
                            <h3 class="wide">"Stop the running execution"</h3>
                            {common()}
                            <input type="hidden" name="execution" value=e.id.clone() />
                            <label class="wide">
                                <input type="checkbox" name="abandon" value="true" />
                                " Abandon (end running actions now, instead of letting them finish)"
                            </label>
                            <label class="wide">"Why" <input name="reason" required /></label>
                            {override_field()}
                            <button type="submit">"Stop"</button>
                        </form>
                    })}
                    {failed.into_iter().map(|s| view! {
                        <form method="post" action=RetryStage::PATH class="form grid" data-action="retry">
                            <h3 class="wide">{format!("Retry {}", s.name)}</h3>
                            {common()}
                            <input type="hidden" name="execution" value=s.execution_id.clone().unwrap_or_default() />
                            <input type="hidden" name="stage" value=s.name.clone() />
                            <label>
                                "Run"
                                <select name="mode">
                                    <option value="failed">"the failed actions"</option>
                                    <option value="all">"all actions"</option>
                                </select>
                            </label>
                            {override_field()}
                            <button type="submit">"Retry"</button>
                        </form>
                    }).collect_view()}
                </div>
            })
        }
    };
    let freeze = match o.access.lock.why_not() {
        Some(why) => Either::Left(view! { <p class="muted">{why}</p> }),
        None => Either::Right(
            d.live
                .stages
                .iter()
                .skip(1)
                .map(|s| {
                    let enable = s.disabled.is_some();
                    view! {
                        <form method="post" action=SetStageTransition::PATH class="inline" data-transition=s.name.clone()>
                            {common()}
                            <input type="hidden" name="stage" value=s.name.clone() />
                            <input type="hidden" name="enable" value=if enable { "true" } else { "false" } />
                            {enable.then(override_field.clone())}
                            {(!enable).then(|| view! {
                                <input
                                    name="reason"
                                    required
                                    placeholder="Why"
                                    aria-label=format!("Why freeze {}", s.name)
                                    pattern="[A-Za-z0-9!@ \\(\\).*?\\-]+"
                                    title="Letters, digits, spaces and ! @ ( ) . * ? - (CodePipeline's rule)"
                                />
                            })}
                            <button type="submit">
                                {if enable { format!("Enable the transition into {}", s.name) } else { format!("Disable the transition into {}", s.name) }}
                            </button>
                        </form>
                    }
                })
                .collect_view(),
        ),
    };
    let mode = mode_words(&d.mode);
    view! {
        <section class="card actions" aria-labelledby="pipeline-actions">
            <h2 id="pipeline-actions">"Release"</h2>
            <p class="muted">{rule}</p>
            <p class="muted mode" data-mode=d.mode.clone()>{mode}</p>
            {release}
            <h3>"Stage transitions (freeze)"</h3>
            {freeze}
        </section>
    }
}

/// What the execution mode means for people releasing.
fn mode_words(mode: &str) -> String {
    let what = match mode {
        "QUEUED" => "executions wait their turn at each stage, none is replaced",
        "PARALLEL" => "executions run side by side; a stage cannot be rolled back",
        _ => "a newer execution replaces one waiting at a stage",
    };
    format!("Execution mode {mode}: {what}.")
}

/// The release form's inputs: the declared variables with their defaults, and a source
/// revision to release instead of the branch head.
fn release_inputs(d: &PipelineDetail) -> impl IntoView + use<> {
    let prefilled: String = d
        .variables
        .iter()
        .filter_map(|v| v.default.as_ref().map(|value| format!("{}={value}\n", v.name)))
        .collect();
    let declared = d
        .variables
        .iter()
        .map(|v| {
            let about = v.description.clone().map(|d| format!(": {d}")).unwrap_or_default();
            view! { <li><code>{v.name.clone()}</code>{about}</li> }
        })
        .collect_view();
    let variables = (!d.variables.is_empty()).then(|| {
        view! {
            <label class="wide">
                "Variables (NAME=value, one per line)"
                <textarea name="variables" rows=d.variables.len().max(2).to_string() spellcheck="false">{prefilled}</textarea>
            </label>
            <ul class="muted wide declared">{declared}</ul>
        }
    });
    let actions = d
        .source_actions
        .iter()
        .map(|a| view! { <option value=a.clone()>{a.clone()}</option> })
        .collect_view();
    view! {
        {variables}
        <details class="wide revision">
            <summary>"Release another source revision"</summary>
            <label>"Source action" <select name="revision_action">{actions}</select></label>
            <label>
                "Kind"
                <select name="revision_kind">
                    <option value="commit-id">"commit"</option>
                    <option value="image-digest">"image digest"</option>
                </select>
            </label>
            <label class="wide">
                "Revision (empty: the branch head)"
                <input name="revision_value" spellcheck="false" placeholder="a commit hash, or sha256:… for an image" />
            </label>
        </details>
    }
}

/// What each rule of the latest execution's condition checks found.
#[component]
fn Rules(rules: Vec<RuleRunView>) -> impl IntoView {
    (!rules.is_empty()).then(|| {
        let rows = rules
            .into_iter()
            .map(|r| {
                view! {
                    <tr data-rule=r.rule.clone() data-status=r.status.clone()>
                        <td>{r.stage.clone()}</td>
                        <td>{r.rule.clone()} <div class="muted">{r.provider.clone()}</div></td>
                        <td><span class=format!("chip {}", class_of(Some(&r.status)))>{r.status.clone()}</span></td>
                        <td><code class="checked">{r.checked.clone()}</code></td>
                        <td>
                            {r.summary.clone()}
                            {r.error.clone().map(|e| view! { <div class="notice bad">{e}</div> })}
                            {r.updated_by.clone().map(|b| view! { <div class="muted">{format!("by {b}")}</div> })}
                        </td>
                        <td>{r.started_ms.map(utc)}</td>
                        <td>{r.updated_ms.map(utc)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="card" aria-labelledby="rule-results">
                <h2 id="rule-results">"Condition rules of the latest execution"</h2>
                <div class="table-scroll">
                    <table class="table rules">
                        <thead>
                            <tr>
                                <th scope="col">"Stage"</th>
                                <th scope="col">"Rule"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"Checked"</th>
                                <th scope="col">"Result"</th>
                                <th scope="col">"Started"</th>
                                <th scope="col">"Last change"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}

#[component]
fn History(o: EnvironmentOverview, d: PipelineDetail, base: String) -> impl IntoView {
    // CodePipeline cannot roll a stage back in PARALLEL mode: no rollback is offered there.
    let may_roll_back = d.mode != "PARALLEL";
    let may_request = o.access.request.yes();
    let latest = d.live.latest.as_ref().map(|e| e.id.clone());
    // The stage a rollback puts back: the deploying one.
    let deploy_stage =
        d.stages.iter().find(|s| s.as_str() == "Deploy").or(d.stages.last()).cloned().unwrap_or_default();
    // The execution that stage shows now cannot be rolled back to (CodePipeline refuses).
    let in_stage = d.live.stages.iter().find(|s| s.name == deploy_stage).and_then(|s| s.execution_id.clone());
    let env = o.summary.name.clone();
    let name = d.live.name.clone();
    let rows = d
        .history
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, e)| {
            let is_latest = latest.as_deref() == Some(e.id.as_str());
            let redeploy = (may_request && !is_latest).then(|| e.commit.clone()).flatten().map(|c| {
                view! {
                    <form method="post" action=RequestPipelineChange::PATH class="inline" data-action="redeploy">
                        <Common env=env.clone() pipeline=name.clone() base=base.clone() />
                        <input type="hidden" name="kind" value="redeploy" />
                        <input type="hidden" name="commit" value=c.id.clone() />
                        <input name="reason" required placeholder="Why" aria-label=format!("Why redeploy {}", c.short) />
                        <button type="submit">{format!("Redeploy {}", c.short)}</button>
                    </form>
                }
            });
            let current = in_stage.as_deref() == Some(e.id.as_str());
            let rollback = (may_roll_back && may_request && !is_latest && !current && e.status == "Succeeded").then(|| {
                view! {
                    <form method="post" action=RequestPipelineChange::PATH class="inline" data-action="rollback-stage">
                        <Common env=env.clone() pipeline=name.clone() base=base.clone() />
                        <input type="hidden" name="kind" value="rollback-stage" />
                        <input type="hidden" name="stage" value=deploy_stage.clone() />
                        <input type="hidden" name="execution" value=e.id.clone() />
                        <input name="reason" required placeholder="Why" aria-label=format!("Why roll {deploy_stage} back") />
                        <button type="submit">{format!("Roll {deploy_stage} back to this")}</button>
                    </form>
                }
            });
            // The newest execution against the one before it, unless people pick others.
            let pick = view! {
                <td class="pick">
                    <input type="radio" name="a" form="compare" value=e.id.clone() checked=i == 1 aria-label=format!("Compare {} as A", e.id) />
                    <input type="radio" name="b" form="compare" value=e.id.clone() checked=i == 0 aria-label=format!("Compare {} as B", e.id) />
                </td>
            };
            row(e, pick, redeploy, rollback)
        })
        .collect_view();
    let older = d.next.clone().map(|token| {
        let href = format!("{base}?page={}", urlencode(&token));
        view! { <a class="button" href=href>"Older executions"</a> }
    });
    view! {
        <section class="card">
            <h2>"Execution history"</h2>
            <div class="table-scroll">
                <table class="table executions">
                    <thead>
                        <tr>
                            <th scope="col" title="Pick two to compare">"A B"</th>
                            <th scope="col">"Execution"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Commit"</th>
                            <th scope="col">"Trigger"</th>
                            <th scope="col">"Started"</th>
                            <th scope="col">"Duration"</th>
                            <th scope="col"></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <form id="compare" method="get" action=format!("{base}/compare")>
                <button type="submit">"Compare A and B side by side"</button>
            </form>
            <p>
                <a href=base.clone()>"Newest"</a>
                " "
                {older}
            </p>
        </section>
    }
}

fn row(
    e: ExecutionView,
    pick: impl IntoView,
    redeploy: Option<impl IntoView>,
    rollback: Option<impl IntoView>,
) -> impl IntoView {
    let duration = match (e.started_ms, e.updated_ms) {
        (Some(s), Some(u)) => duration(s, u),
        _ => String::new(),
    };
    let commit = e.commit.clone().map(|c| {
        view! {
            <code class="commit">{c.short.clone()}</code>
            " "
            {c.message.clone()}
        }
    });
    view! {
        <tr data-execution=e.id.clone() data-status=e.status.clone() data-commit=e.commit.as_ref().map(|c| c.short.clone())>
            {pick}
            <td>
                <code title=e.id.clone()>{e.id.chars().take(8).collect::<String>()}</code>
                {(e.kind == "ROLLBACK").then(|| view! { " " <span class="chip neutral">"rollback"</span> })}
            </td>
            <td>
                <span class=format!("chip {}", class_of(Some(&e.status)))>{e.status.clone()}</span>
                {e.summary.clone().map(|s| view! { <div class="muted">{s}</div> })}
            </td>
            <td>{commit}</td>
            <td>{e.trigger.clone()}</td>
            <td>{e.started_ms.map(utc)}</td>
            <td>{duration}</td>
            <td>{redeploy} {rollback}</td>
        </tr>
    }
}

/// A next-page token as a query value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
