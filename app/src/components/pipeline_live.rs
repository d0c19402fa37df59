//! One pipeline's card: its stages as a row of boxes with a status chip each (and, in detail,
//! every action with its times, the revision it saw, its error and its link; a Deploy stage
//! mapped to a deployment with that deployment's rollout), the commit in flight, how old the
//! state is, and a waiting manual approval with its answer form. Rendered on the server only:
//! `/live/{env}/pipelines/{name}` sends the card rendered again whenever the pipeline's shared
//! poller (or the mapped deployment's watch) sees a change, and [`LiveFragment`] swaps it in.
//! The Pipelines page follows all its cards through one stream, `/live/{env}/pipelines`.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::live::{HealthChip, ProgressBar, TimeAgo, TimeSince, duration, utc};
use super::live_fragment::LiveFragment;
use crate::api::pipelines::DecidePipelineApproval;
use crate::model::pipelines::{
    ActionView, ApprovalView, CommitView, ConditionView, PipelineView, StageTarget, StageView,
};

/// The card, followed live.
#[component]
pub fn PipelineLive(view: PipelineView, detail: bool, can_approve: bool, now_ms: i64) -> impl IntoView {
    // The stream sends the card only once it differs from this one (a swap would reset the
    // page's forms for nothing).
    let url =
        format!("/live/{}/pipelines/{}?detail={detail}&shown={}", view.env, view.name, view.fingerprint());
    view! {
        <LiveFragment url keyed=false>
            <PipelineCard v=view detail can_approve now_ms />
        </LiveFragment>
    }
}

/// An environment's cards, followed live through one stream that names the card each
/// message is for.
#[component]
pub fn PipelinesLive(env: String, views: Vec<PipelineView>, can_approve: bool, now_ms: i64) -> impl IntoView {
    let shown: Vec<String> = views.iter().map(|v| format!("{}:{}", v.name, v.fingerprint())).collect();
    let url = format!("/live/{env}/pipelines?shown={}", shown.join(","));
    let cards = views
        .into_iter()
        .map(|v| {
            let name = v.name.clone();
            view! {
                <div data-fragment=name>
                    <PipelineCard v detail=false can_approve now_ms />
                </div>
            }
        })
        .collect_view();
    view! { <LiveFragment url keyed=true>{cards}</LiveFragment> }
}

/// The card as HTML, for the live stream.
#[cfg(feature = "ssr")]
pub fn render(v: PipelineView, detail: bool, can_approve: bool, now_ms: i64) -> String {
    Owner::new().with(|| view! { <PipelineCard v detail can_approve now_ms /> }.to_html())
}

#[component]
fn PipelineCard(v: PipelineView, detail: bool, can_approve: bool, now_ms: i64) -> impl IntoView {
    let status = v.latest.as_ref().map(|e| e.status.clone()).unwrap_or_else(|| "no executions".into());
    let waiting = v.approval.is_some();
    let link = format!("/{}/pipelines/{}", v.env, v.name);
    let stale = v.problem.clone().map(|problem| {
        view! {
            <p class="notice warn" role="status" data-stale="true">
                {problem}
                {v.fetched_ms.map(|ms| view! { " Shown as read " <TimeAgo ms now_ms /> "." })}
            </p>
        }
    });
    // How fresh the card is, when nothing is wrong (a problem above says it instead).
    let freshness = v.problem.is_none().then_some(v.fetched_ms).flatten().map(|ms| {
        let how = match (v.pushed, &v.feed_problem) {
            (true, _) => "Refreshed by CodePipeline's events as they happen; last read ".to_owned(),
            (false, Some(why)) => format!("Polled, because the events queue does not answer ({why}); last read "),
            (false, None) => "Polled; last read ".to_owned(),
        };
        view! { <p class="muted freshness" data-pushed=v.pushed.to_string()>{how} <TimeAgo ms now_ms /> "."</p> }
    });
    let latest = v.latest.clone().map(|e| {
        let ended = (e.status != "InProgress").then_some(e.updated_ms).flatten();
        let times = match (e.started_ms, ended) {
            (Some(ms), None) => Some(Either::Left(view! { "running for " <TimeSince ms now_ms /> })),
            (Some(s), Some(end)) => Some(Either::Right(view! {
                {format!("took {}, ended ", super::live::duration(s, end))}
                <TimeAgo ms=end now_ms />
            })),
            _ => None,
        };
        view! {
            <p class="execution" data-execution=e.id.clone()>
                {e.commit.clone().map(|c| view! { <Commit c /> })}
                " · "
                {times}
                {(e.kind == "ROLLBACK").then_some(" · rollback")}
            </p>
        }
    });
    let env = v.env.clone();
    view! {
        <article class="card pipeline" class:waiting=waiting data-pipeline=v.name.clone() data-status=status.clone()>
            <div class="card-row">
                <h2>
                    {if detail { Either::Left(v.name.clone()) } else { Either::Right(view! { <a href=link>{v.name.clone()}</a> }) }}
                </h2>
                <span class=format!("chip {}", class_of(Some(&status)))>{status.clone()}</span>
            </div>
            {stale}
            {latest}
            {freshness}
            <ol class="stages" aria-label="Stages">
                {v.stages.iter().cloned().map(|s| view! { <Stage s env=env.clone() detail now_ms /> }.into_any()).collect_view()}
            </ol>
            {v.approval.clone().map(|a| view! { <Approval a can_approve now_ms /> }.into_any())}
        </article>
    }
}

#[component]
fn Commit(c: CommitView) -> impl IntoView {
    let code = match c.url.clone() {
        Some(url) => Either::Left(view! { <a href=url><code class="commit">{c.short.clone()}</code></a> }),
        None => Either::Right(view! { <code class="commit">{c.short.clone()}</code> }),
    };
    view! {
        <span class="commit-line" data-commit=c.short.clone()>
            {code}
            " "
            {c.message.clone()}
            {c.author.clone().map(|a| format!(" — {a}"))}
        </span>
    }
}

#[component]
fn Stage(s: StageView, env: String, detail: bool, now_ms: i64) -> impl IntoView {
    let status = s.status.clone().unwrap_or_else(|| "not run".into());
    let data_status = status.clone();
    let frozen = s.disabled.clone().map(|d| {
        view! {
            <p class="frozen" title=d.at_ms.map(utc).unwrap_or_default()>
                "Transition disabled by " {d.by.clone()} ": " {d.reason.clone()}
            </p>
        }
    });
    let actions = detail.then(|| {
        view! {
            <ul class="actions-list">
                {s.actions.iter().cloned().map(|a| view! { <Action a now_ms /> }.into_any()).collect_view()}
            </ul>
        }
    });
    view! {
        <li class="stage" class:current=s.current data-stage=s.name.clone() data-status=data_status>
            {frozen}
            <div class="stage-head">
                <strong>{s.name.clone()}</strong>
                " "
                <span class=format!("chip {}", class_of(s.status.as_deref()))>{status}</span>
            </div>
            {s.inbound_execution.clone().map(|e| view! { <p class="muted">"Waiting at the transition: " <code>{e}</code></p> })}
            {(s.queued.len() > 1).then(|| view! {
                <p class="muted queued">
                    {format!("{} executions queued to enter: ", s.queued.len())}
                    {s.queued.iter().map(|e| view! { <code>{e.chars().take(8).collect::<String>()}</code> " " }).collect_view()}
                </p>
            })}
            {(!s.conditions.is_empty()).then(|| view! {
                <ul class="conditions">
                    {s.conditions.iter().cloned().map(|c| view! { <Condition c detail /> }.into_any()).collect_view()}
                </ul>
            })}
            {s.retries.clone().map(|r| view! { <p class="muted retries">{r}</p> })}
            {s.target.clone().map(|t| view! { <Target t env /> }.into_any())}
            {actions}
        </li>
    }
}

/// A stage condition as last checked; on the pipeline's own page, with its rules.
#[component]
fn Condition(c: ConditionView, detail: bool) -> impl IntoView {
    let status = c.status.clone().unwrap_or_else(|| "not checked yet".into());
    let rules = detail.then(|| {
        c.rules
            .iter()
            .map(|r| {
                view! {
                    <li class="rule" data-rule=r.name.clone() data-status=r.status.clone().unwrap_or_default()>
                        {r.name.clone()}
                        " "
                        <span class=format!("chip {}", class_of(r.status.as_deref()))>
                            {r.status.clone().unwrap_or_else(|| "not run".into())}
                        </span>
                        {r.summary.clone().map(|s| view! { " " <span class="muted">{s}</span> })}
                    </li>
                }
            })
            .collect_view()
    });
    view! {
        <li class="condition" data-condition=c.kind.clone() data-status=c.status.clone().unwrap_or_default()>
            <span>{c.words.clone()}</span>
            " "
            <span class=format!("chip {}", class_of(c.status.as_deref()))>{status}</span>
            {c.summary.clone().map(|s| view! { <div class="muted summary">{s}</div> })}
            {rules.map(|r| view! { <ul class="rules">{r}</ul> })}
        </li>
    }
}

/// The deployment a Deploy stage rolls out, live from the cluster.
#[component]
fn Target(t: StageTarget, env: String) -> impl IntoView {
    let href = format!("/{env}/deployments/{}/{}", t.namespace, t.deployment);
    let label = format!("{}/{}", t.namespace, t.deployment);
    let state = match t.row {
        Some(row) => Either::Left(view! {
            <HealthChip health=row.health.clone() />
            <ProgressBar row />
        }),
        None => Either::Right(view! {
            <p class="muted">{t.problem.unwrap_or_else(|| "Not seen in the cluster yet.".into())}</p>
        }),
    };
    view! {
        <div class="stage-target" data-deployment=label.clone()>
            <a href=href>{label.clone()}</a>
            {state}
        </div>
    }
}

#[component]
fn Action(a: ActionView, now_ms: i64) -> impl IntoView {
    let (started, updated) = (a.started_ms, a.updated_ms);
    let running = a.status.as_deref() == Some("InProgress");
    view! {
        <li class="action" data-action=a.name.clone() data-status=a.status.clone().unwrap_or_default()>
            <span>{a.name.clone()}</span>
            " "
            <span class=format!("chip {}", class_of(a.status.as_deref()))>{a.status.clone().unwrap_or_else(|| "not run".into())}</span>
            <div class="muted">
                {started.map(|s| format!("started {}", utc(s)))}
                {match (started, updated, running) {
                    (Some(ms), _, true) => Some(Either::Left(view! { " · running " <TimeSince ms now_ms /> })),
                    (_, Some(u), false) => Some(Either::Right(format!(" · ended {}", utc(u)))),
                    _ => None,
                }}
                {a.revision.clone().map(|r| view! { " · saw " <code>{r}</code> })}
                {a.updated_by.clone().map(|b| format!(" · by {b}"))}
            </div>
            {a.summary.clone().map(|s| view! { <div class="summary">{s}</div> })}
            {a.outside.clone().map(|o| view! { <div class="notice warn outside">{o}</div> })}
            {a.error.clone().map(|e| view! { <div class="notice bad">{e}</div> })}
            {a.external_url.clone().map(|u| view! { <a href=u rel="noopener noreferrer" target="_blank">"Details"</a> })}
        </li>
    }
}

/// The manual approvals waiting in the environment's pipelines, for the Approvals inbox
/// (rendered on the server; answering sends the browser back to the inbox).
#[component]
pub fn PipelineApprovals(list: Vec<ApprovalView>, can_approve: bool) -> impl IntoView {
    let now_ms = super::live::now_ms();
    let body = if list.is_empty() {
        Either::Left(view! { <p class="muted">"No pipeline is waiting for a manual approval."</p> })
    } else {
        Either::Right(
            list.into_iter()
                .map(|a| {
                    let back = format!("/{}/approvals", a.env);
                    view! { <Approval a can_approve now_ms back /> }
                })
                .collect_view(),
        )
    };
    view! {
        <section class="card pipeline-approvals">
            <h2>"Pipelines waiting for approval"</h2>
            {body}
        </section>
    }
}

#[component]
fn Approval(
    a: ApprovalView,
    can_approve: bool,
    now_ms: i64,
    #[prop(optional)] back: Option<String>,
) -> impl IntoView {
    let since = a.since_ms;
    let back = back.unwrap_or_else(|| format!("/{}/pipelines/{}", a.env, a.pipeline));
    let form = can_approve.then(|| {
        view! {
            <form method="post" action=DecidePipelineApproval::PATH class="inline decide">
                <input type="hidden" name="env" value=a.env.clone() />
                <input type="hidden" name="pipeline" value=a.pipeline.clone() />
                <input type="hidden" name="stage" value=a.stage.clone() />
                <input type="hidden" name="action" value=a.action.clone() />
                <input type="hidden" name="token" value=a.token.clone() />
                <input type="hidden" name="return_to" value=back />
                <input name="comment" required placeholder="Comment" aria-label="Approval comment" />
                {a.hold.clone().map(|hold| view! {
                    <p class="muted">{format!("Changes are held: {hold}. Only an admin may answer now, saying why.")}</p>
                    <input name="override_reason" required placeholder="Why override the hold" aria-label="Override the hold (admins; say why)" />
                })}
                <button type="submit" name="decision" value="approve" class="primary">"Approve"</button>
                <button type="submit" name="decision" value="reject">"Reject"</button>
            </form>
        }
    });
    let votes = (!a.votes.is_empty()).then(|| {
        let votes = a
            .votes
            .iter()
            .map(|v| {
                let word = if v.approve { "approved" } else { "rejected" };
                view! {
                    <li data-voter=v.by.clone()>
                        {format!("{} {word}: {} ", v.by, v.comment)}
                        <TimeAgo ms=v.at_ms now_ms />
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="votes">{votes}</ul> }
    });
    // CodePipeline fails an approval left unanswered; the last day is worth a warning.
    let expiry = a.expires_ms.map(|ms| {
        let soon = ms - now_ms < 86_400_000;
        view! {
            <div class=if soon { "expires soon" } else { "expires muted" }>
                {format!("CodePipeline fails it unanswered at {} (in {}).", utc(ms), duration(now_ms, ms))}
            </div>
        }
    });
    view! {
        <div class="notice warn approval" role="status" data-approval=a.execution.clone()>
            <strong>{format!("{} is waiting for approval at {}", a.pipeline, a.stage)}</strong>
            {since.map(|ms| view! { " (since " <TimeAgo ms now_ms /> ")" })}
            {a.commit.clone().map(|c| view! { <div><Commit c /></div> })}
            {a.summary.clone().map(|s| view! { <div class="muted">{s}</div> })}
            {a.started_by.clone().map(|b| view! { <div class="muted">{format!("Started through Rollgate by {b}.")}</div> })}
            <div class="quorum">
                <strong class="standing">{a.standing.clone()}</strong>
                " "
                <span class="muted">{a.rule.clone()}</span>
            </div>
            {votes}
            {a.unsent.clone().map(|why| view! {
                <div class="notice bad">{format!("The answer is decided but CodePipeline did not take it: {why}. Answering again sends it again.")}</div>
            })}
            {expiry}
            {form}
        </div>
    }
}

/// The chip colour of a CodePipeline status.
pub fn class_of(status: Option<&str>) -> &'static str {
    match status {
        Some("Succeeded") => "ok",
        Some("Failed") | Some("Stopped") | Some("Abandoned") => "bad",
        Some("InProgress") | Some("Stopping") | Some("Overridden") => "warn",
        _ => "neutral",
    }
}
