//! Two executions of a pipeline side by side: which commit and which image each carried, and
//! every action's outcome in each, the ones that differ marked.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::pipelines::compare_executions;
use crate::components::live::{duration, utc};
use crate::components::overview::use_environment_name;
use crate::components::overview::{PageTitle, page_status};
use crate::components::pipeline_live::class_of;
use crate::error::ApiError;
use crate::model::pipelines::{ActionOutcome, ComparedExecution, ExecutionComparison};

#[component]
pub fn PipelineComparePage() -> impl IntoView {
    let env = use_environment_name();
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let q = query.read();
        (
            env.get(),
            params.read().get("name").unwrap_or_default(),
            q.get("a").unwrap_or_default(),
            q.get("b").unwrap_or_default(),
        )
    };
    let comparison = Resource::new(key, |(env, name, a, b)| compare_executions(env, name, a, b));
    view! {
        <PageTitle area="Compare executions" />
        <p class="crumbs">
            <a href=move || format!("/{}/pipelines", env.get())>"Pipelines"</a>
            " / "
            <a href=move || format!("/{}/pipelines/{}", env.get(), key().1)>{move || key().1}</a>
        </p>
        <h1>"Two executions side by side"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let c = comparison.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Comparison c /> })
            })}
        </Suspense>
    }
}

#[component]
fn Comparison(c: ExecutionComparison) -> impl IntoView {
    let rows = c
        .actions
        .iter()
        .map(|row| {
            view! {
                <tr class:differs=row.differs data-action=format!("{}/{}", row.stage, row.action) data-differs=row.differs.to_string()>
                    <th scope="row">{row.stage.clone()} " · " {row.action.clone()}</th>
                    <td>{outcome(row.a.clone())}</td>
                    <td>{outcome(row.b.clone())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <div class="table-scroll">
                <table class="table compare">
                    <thead>
                        <tr>
                            <th scope="col"></th>
                            <th scope="col">"A"</th>
                            <th scope="col">"B"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <Sides a=c.a.clone() b=c.b.clone() />
                        {rows}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// The rows about the executions themselves.
#[component]
fn Sides(a: ComparedExecution, b: ComparedExecution) -> impl IntoView {
    let commit = |s: &ComparedExecution| {
        s.execution.commit.clone().map(|c| {
            view! {
                <span class="commit-line" data-commit=c.short.clone()>
                    <code class="commit">{c.short.clone()}</code>
                    " "
                    {c.message.clone()}
                    {c.author.clone().map(|a| format!(" — {a}"))}
                </span>
            }
        })
    };
    let differs = |x: Option<&str>, y: Option<&str>| x != y;
    let commit_differs = differs(
        a.execution.commit.as_ref().map(|c| c.id.as_str()),
        b.execution.commit.as_ref().map(|c| c.id.as_str()),
    );
    let image_differs = differs(a.image.as_deref(), b.image.as_deref());
    let when = |s: &ComparedExecution| {
        let e = &s.execution;
        match (e.started_ms, e.updated_ms) {
            (Some(start), Some(end)) => format!("{} · {}", utc(start), duration(start, end)),
            (Some(start), None) => utc(start),
            _ => String::new(),
        }
    };
    view! {
        <tr data-row="execution">
            <th scope="row">"Execution"</th>
            <td data-execution=a.execution.id.clone()><code>{a.execution.id.clone()}</code></td>
            <td data-execution=b.execution.id.clone()><code>{b.execution.id.clone()}</code></td>
        </tr>
        <tr data-row="status" class:differs=a.execution.status != b.execution.status>
            <th scope="row">"Status"</th>
            <td><span class=format!("chip {}", class_of(Some(&a.execution.status)))>{a.execution.status.clone()}</span></td>
            <td><span class=format!("chip {}", class_of(Some(&b.execution.status)))>{b.execution.status.clone()}</span></td>
        </tr>
        <tr data-row="commit" class:differs=commit_differs data-differs=commit_differs.to_string()>
            <th scope="row">"Commit"</th>
            <td>{commit(&a)}</td>
            <td>{commit(&b)}</td>
        </tr>
        <tr data-row="image" class:differs=image_differs data-differs=image_differs.to_string()>
            <th scope="row">"Image"</th>
            <td><code>{a.image.clone()}</code></td>
            <td><code>{b.image.clone()}</code></td>
        </tr>
        <tr data-row="trigger">
            <th scope="row">"Trigger"</th>
            <td>{a.execution.trigger.clone()}</td>
            <td>{b.execution.trigger.clone()}</td>
        </tr>
        <tr data-row="time">
            <th scope="row">"Started · took"</th>
            <td>{when(&a)}</td>
            <td>{when(&b)}</td>
        </tr>
    }
}

fn outcome(o: Option<ActionOutcome>) -> impl IntoView {
    match o {
        Some(o) => leptos::either::Either::Left(view! {
            <span class=format!("chip {}", class_of(Some(&o.status)))>{o.status.clone()}</span>
            {o.detail.map(|d| view! { <div class="muted">{d}</div> })}
        }),
        None => leptos::either::Either::Right(view! { <span class="muted">"did not run"</span> }),
    }
}
