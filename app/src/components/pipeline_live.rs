//! One pipeline, live: its stages as a row of boxes with a status chip each (and, in detail,
//! every action with its times, the revision it saw, its error and its link), the commit in
//! flight, how old the state is, and a waiting manual approval with its answer form. Followed
//! through `/live/{env}/pipelines/{name}`, which the pipeline's shared poller feeds.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::live::{Connection, ConnectionNotice, ago, clock, utc};
use crate::api::pipelines::DecidePipelineApproval;
use crate::model::pipelines::{ActionView, ApprovalView, CommitView, PipelineView, StageView};

#[island]
pub fn PipelineLive(
    view: PipelineView,
    detail: bool,
    can_approve: bool,
    rendered_at_ms: i64,
) -> impl IntoView {
    let url = format!("/live/{}/pipelines/{}", view.env, view.name);
    let state = RwSignal::new(view);
    let connection = RwSignal::new(Connection::Connecting);
    let now = clock(rendered_at_ms);

    #[cfg(feature = "hydrate")]
    super::live::follow(
        &url,
        move |event: crate::model::pipelines::PipelineEvent| match event {
            crate::model::pipelines::PipelineEvent::Changed(v) => state.set(v),
        },
        connection,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = &url;

    view! {
        <ConnectionNotice connection />
        {move || {
            let v = state.get();
            view! { <Pipeline v detail can_approve now /> }
        }}
    }
}

#[component]
fn Pipeline(v: PipelineView, detail: bool, can_approve: bool, now: RwSignal<i64>) -> impl IntoView {
    let status = v.latest.as_ref().map(|e| e.status.clone()).unwrap_or_else(|| "no executions".into());
    let waiting = v.approval.is_some();
    let link = format!("/{}/pipelines/{}", v.env, v.name);
    let fetched = v.fetched_ms;
    let stale = v.problem.clone().map(|problem| {
        view! {
            <p class="notice warn" role="status" data-stale="true">
                {problem}
                {move || fetched.map(|t| format!(" Shown as read {}.", ago(t, now.get())))}
            </p>
        }
    });
    let latest = v.latest.clone().map(|e| {
        let started = e.started_ms;
        let ended = (e.status != "InProgress").then_some(e.updated_ms).flatten();
        view! {
            <p class="execution" data-execution=e.id.clone()>
                {e.commit.clone().map(|c| view! { <Commit c /> })}
                " · "
                {move || match (started, ended) {
                    (Some(s), None) => format!("running for {}", ago(s, now.get()).trim_end_matches(" ago")),
                    (Some(s), Some(end)) => format!("took {}, ended {}", ago(s, end).trim_end_matches(" ago"), ago(end, now.get())),
                    _ => String::new(),
                }}
                {(e.kind == "ROLLBACK").then_some(" · rollback")}
            </p>
        }
    });
    view! {
        <article class="card pipeline" class:waiting=waiting data-pipeline=v.name.clone() data-status=status.clone()>
            <div class="card-row">
                <h2>
                    {if detail { leptos::either::Either::Left(v.name.clone()) } else { leptos::either::Either::Right(view! { <a href=link>{v.name.clone()}</a> }) }}
                </h2>
                <span class=format!("chip {}", class_of(Some(&status)))>{status.clone()}</span>
            </div>
            {stale}
            {latest}
            <ol class="stages" aria-label="Stages">
                {v.stages.iter().cloned().map(|s| view! { <Stage s detail now /> }).collect_view()}
            </ol>
            {v.approval.clone().map(|a| view! { <Approval a can_approve now /> })}
        </article>
    }
}

#[component]
fn Commit(c: CommitView) -> impl IntoView {
    let code = match c.url.clone() {
        Some(url) => leptos::either::Either::Left(
            view! { <a href=url><code class="commit">{c.short.clone()}</code></a> },
        ),
        None => leptos::either::Either::Right(view! { <code class="commit">{c.short.clone()}</code> }),
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
fn Stage(s: StageView, detail: bool, now: RwSignal<i64>) -> impl IntoView {
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
                {s.actions.iter().cloned().map(|a| view! { <Action a now /> }).collect_view()}
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
            {actions}
        </li>
    }
}

#[component]
fn Action(a: ActionView, now: RwSignal<i64>) -> impl IntoView {
    let (started, updated) = (a.started_ms, a.updated_ms);
    let running = a.status.as_deref() == Some("InProgress");
    view! {
        <li class="action" data-action=a.name.clone() data-status=a.status.clone().unwrap_or_default()>
            <span>{a.name.clone()}</span>
            " "
            <span class=format!("chip {}", class_of(a.status.as_deref()))>{a.status.clone().unwrap_or_else(|| "not run".into())}</span>
            <div class="muted">
                {started.map(|s| format!("started {}", utc(s)))}
                {move || match (started, updated, running) {
                    (Some(s), _, true) => format!(" · running {}", ago(s, now.get()).trim_end_matches(" ago")),
                    (_, Some(u), false) => format!(" · ended {}", utc(u)),
                    _ => String::new(),
                }}
                {a.revision.clone().map(|r| view! { " · saw " <code>{r}</code> })}
                {a.updated_by.clone().map(|b| format!(" · by {b}"))}
            </div>
            {a.summary.clone().map(|s| view! { <div class="summary">{s}</div> })}
            {a.error.clone().map(|e| view! { <div class="notice bad">{e}</div> })}
            {a.external_url.clone().map(|u| view! { <a href=u rel="noopener noreferrer" target="_blank">"Details"</a> })}
        </li>
    }
}

/// The manual approvals waiting in the environment's pipelines, for the Approvals inbox
/// (rendered on the server; answering sends the browser back to the inbox).
#[component]
pub fn PipelineApprovals(list: Vec<ApprovalView>, can_approve: bool) -> impl IntoView {
    let now = clock(crate::pages::deployments::now_ms());
    let body = if list.is_empty() {
        leptos::either::Either::Left(
            view! { <p class="muted">"No pipeline is waiting for a manual approval."</p> },
        )
    } else {
        leptos::either::Either::Right(
            list.into_iter()
                .map(|a| {
                    let back = format!("/{}/approvals", a.env);
                    view! { <Approval a can_approve now back /> }
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
    now: RwSignal<i64>,
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
                <input type="hidden" name="execution" value=a.execution.clone() />
                <input type="hidden" name="return_to" value=back />
                <input name="comment" required placeholder="Comment" aria-label="Approval comment" />
                <button type="submit" name="decision" value="approve" class="primary">"Approve"</button>
                <button type="submit" name="decision" value="reject">"Reject"</button>
            </form>
        }
    });
    view! {
        <div class="notice warn approval" role="status" data-approval=a.execution.clone()>
            <strong>{format!("{} is waiting for approval at {}", a.pipeline, a.stage)}</strong>
            {move || since.map(|t| format!(" (since {})", ago(t, now.get())))}
            {a.commit.clone().map(|c| view! { <div><Commit c /></div> })}
            {a.summary.clone().map(|s| view! { <div class="muted">{s}</div> })}
            {a.started_by.clone().map(|b| view! { <div class="muted">{format!("Started through Rollgate by {b}.")}</div> })}
            {form}
        </div>
    }
}

/// The chip colour of a CodePipeline status.
pub fn class_of(status: Option<&str>) -> &'static str {
    match status {
        Some("Succeeded") => "ok",
        Some("Failed") | Some("Stopped") | Some("Abandoned") => "bad",
        Some("InProgress") | Some("Stopping") => "warn",
        _ => "neutral",
    }
}
