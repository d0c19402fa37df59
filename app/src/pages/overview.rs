//! `/overview`: what runs where — one row per application, one column per environment — and
//! `/overview/compare`: one application in two environments, the commits between them and a
//! Promote button that asks to release the left's commit into the right environment.
//!
//! Picking works without the wasm: a cell's link picks it (`?app=…&pick=…`), and the other
//! cells of its row then link to the comparison with it.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::changes::RequestChange;
use crate::api::overview::{compare_environments, get_overview};
use crate::api::pipelines::RequestPipelineChange;
use crate::components::form_error::FormError;
use crate::components::live::{ago, now_ms, utc};
use crate::components::overview::page_status;
use crate::components::pipeline_live::class_of;
use crate::error::ApiError;
use crate::model::EnvironmentSummary;
use crate::model::overview::{
    AppRow, CarriedCommit, CellView, CommitView, Direction, EnvironmentComparison, OverviewView, Promote, Via,
};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let overview = Resource::new(|| (), |_| get_overview());
    let pick = move || {
        let q = query.read();
        q.get("app").zip(q.get("pick"))
    };
    view! {
        <Title text="Overview" />
        <h1>"What runs where"</h1>
        <p class="lede">
            "Every application in every environment: the commit it runs, since when, who released and who approved it. "
            "A mark shows where an environment runs something else than the one before it. "
            "Pick a cell, then another in its row, to compare the two and promote."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Grid o pick=pick() /> })
            })}
        </Suspense>
    }
}

#[component]
fn Grid(o: OverviewView, pick: Option<(String, String)>) -> impl IntoView {
    if o.environments.is_empty() {
        return Either::Left(view! { <p class="empty">"You may not see any environment."</p> });
    }
    let problems = (!o.problems.is_empty()).then(|| {
        view! {
            <div class="notice warn" role="status">
                <p>"Some of it could not be read; the rest is shown:"</p>
                <ul>{o.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
            </div>
        }
    });
    let heads = o
        .environments
        .iter()
        .map(|e| {
            view! {
                <th scope="col">
                    <a href=format!("/{}/deployments", e.name)>{e.title.clone()}</a>
                    {e.protected.then(|| view! { <span class="badge protected">"protected"</span> })}
                </th>
            }
        })
        .collect_view();
    let rows = o
        .rows
        .iter()
        .map(
            |row| view! { <AppLine row=row.clone() environments=o.environments.clone() pick=pick.clone() /> },
        )
        .collect_view();
    let empty =
        o.rows.is_empty().then(|| view! { <p class="empty">"No deployments run in these environments."</p> });
    Either::Right(view! {
        {problems}
        <section class="card">
            <div class="table-scroll">
                <table class="table what-runs-where">
                    <thead>
                        <tr>
                            <th scope="col">"Application"</th>
                            {heads}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {empty}
        </section>
    })
}

#[component]
fn AppLine(
    row: AppRow,
    environments: Vec<EnvironmentSummary>,
    pick: Option<(String, String)>,
) -> impl IntoView {
    let picked = pick
        .filter(|(app, env)| *app == row.app && row.cells.iter().flatten().any(|c| c.environment == *env));
    let picked_env = picked.map(|(_, env)| env);
    let title_of = |name: &str| {
        environments
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.title.clone())
            .unwrap_or_else(|| name.to_owned())
    };
    let mut before: Option<String> = None;
    let cells = row
        .cells
        .iter()
        .zip(&row.differs)
        .zip(&environments)
        .map(|((cell, &differs), env)| {
            let Some(cell) = cell.clone() else {
                return Either::Left(view! { <td class="absent" data-env=env.name.clone()><span class="muted">"not deployed"</span></td> });
            };
            let differs_from = differs.then(|| before.clone()).flatten().map(|b| title_of(&b));
            before = Some(env.name.clone());
            let compare = |left: &str, right: &str| {
                format!("/overview/compare?app={}&left={left}&right={right}", urlencode(&row.app))
            };
            let pick_link = match &picked_env {
                Some(p) if *p == env.name => view! {
                    <a class="pick picked" href="/overview" aria-current="true">"Picked · cancel"</a>
                }
                .into_any(),
                Some(p) => view! {
                    <a class="pick" href=compare(p, &env.name)>{format!("Compare {} → {}", title_of(p), env.title)}</a>
                }
                .into_any(),
                None => view! {
                    <a class="pick" href=format!("/overview?app={}&pick={}", urlencode(&row.app), env.name)>
                        {format!("Pick {}", env.title)}
                    </a>
                }
                .into_any(),
            };
            Either::Right(view! {
                <td class:differs=differs data-env=env.name.clone() data-differs=differs.to_string() class:picked=picked_env.as_deref() == Some(env.name.as_str())>
                    <Summary cell />
                    {differs_from.map(|b| view! { <p class="differs-mark">{format!("≠ differs from {b}")}</p> })}
                    {pick_link}
                </td>
            })
        })
        .collect_view();
    view! {
        <tr data-app=row.app.clone()>
            <th scope="row">{row.app.clone()}</th>
            {cells}
        </tr>
    }
}

/// What one environment runs: commit, image, health, since when, by whom.
#[component]
fn Summary(cell: CellView) -> impl IntoView {
    let now = now_ms();
    let deployment = format!("/{}/deployments/{}/{}", cell.environment, cell.namespace, cell.deployment);
    let via = cell.via.clone().map(|v| match v {
        Via::Change { id, what } => view! {
            <a href=format!("/{}/approvals#change-{id}", cell.environment) title=what.clone()>{format!("change {id}")}</a>
        }
        .into_any(),
        Via::Execution { pipeline, execution } => view! {
            <a href=format!("/{}/pipelines/{pipeline}", cell.environment)>{format!("{pipeline} · {}", short_id(&execution))}</a>
        }
        .into_any(),
    });
    view! {
        <div class="runs">
            <CommitLine commit=cell.commit.clone() />
            <p>
                <a href=deployment><code class="image">{cell.image.clone().unwrap_or_default()}</code></a>
            </p>
            <p>
                <span class=format!("chip {}", cell.health.class()) data-health=cell.health.word().to_owned()>
                    {cell.health.word().to_owned()}
                </span>
                {cell.since_ms.map(|t| view! { " " <span class="muted" title=utc(t)>{format!("since {}", ago(t, now))}</span> })}
            </p>
            <p class="who">
                {cell.released_by.clone().map(|by| view! { <span data-released-by=by.clone()>{format!("released by {by}")}</span> })}
                {(!cell.approved_by.is_empty()).then(|| {
                    let by = cell.approved_by.join(", ");
                    view! { " · " <span data-approved-by=by.clone()>{format!("approved by {by}")}</span> }
                })}
                {via.map(|v| view! { " · " {v} })}
            </p>
        </div>
    }
}

#[component]
fn CommitLine(commit: Option<CommitView>) -> impl IntoView {
    match commit {
        Some(c) => Either::Left(view! {
            <p class="commit-line" data-commit=c.short.clone()>
                <code class="commit" title=c.id.clone()>{c.short.clone()}</code>
                " "
                {c.message.clone().unwrap_or_default()}
                {c.author.clone().map(|a| view! { <span class="muted">{format!(" — {a}")}</span> })}
            </p>
        }),
        None => Either::Right(view! { <p class="muted">"no commit in its image tag"</p> }),
    }
}

#[component]
pub fn EnvironmentComparePage() -> impl IntoView {
    let query = use_query_map();
    let key = move || {
        let q = query.read();
        (
            q.get("app").unwrap_or_default(),
            q.get("left").unwrap_or_default(),
            q.get("right").unwrap_or_default(),
        )
    };
    let comparison = Resource::new(key, |(app, left, right)| compare_environments(app, left, right));
    view! {
        <Title text="Compare environments" />
        <p class="crumbs">
            <a href="/overview">"Overview"</a>
            " / "
            {move || key().0}
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let c = comparison.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Comparison c /> })
            })}
        </Suspense>
    }
}

#[component]
fn Comparison(c: EnvironmentComparison) -> impl IntoView {
    let (l, r) = (c.left.title.clone(), c.right.title.clone());
    let n = c.commits.len();
    let plural = if n == 1 { "commit" } else { "commits" };
    let standing = match c.direction {
        Some(Direction::Same) => format!("{l} and {r} run the same commit."),
        Some(Direction::Ahead) => format!("{l} is {n} {plural} ahead of {r}."),
        Some(Direction::Behind) => {
            format!("{l} is {n} {plural} behind {r}: promoting would take them out of {r}.")
        }
        None => {
            "CodePipeline's recent history does not know both commits, so the commits between are unknown."
                .to_owned()
        }
    };
    let swap =
        format!("/overview/compare?app={}&left={}&right={}", urlencode(&c.app), c.right.name, c.left.name);
    let commits =
        c.commits.iter().map(|carried| view! { <CommitRow carried=carried.clone() /> }).collect_view();
    let has_commits = !c.commits.is_empty();
    view! {
        <h1>{format!("{}: {l} → {r}", c.app)}</h1>
        <p class="lede" data-standing=format!("{:?}", c.direction)>{standing} " " <a href=swap>"Swap sides"</a></p>
        <section class="card">
            <div class="table-scroll">
                <table class="table compare environments">
                    <thead>
                        <tr>
                            <th scope="col">{l.clone()}</th>
                            <th scope="col">{r.clone()}</th>
                        </tr>
                    </thead>
                    <tbody>
                        <tr>
                            <td data-side="left"><Summary cell=c.left_cell.clone() /></td>
                            <td data-side="right"><Summary cell=c.right_cell.clone() /></td>
                        </tr>
                    </tbody>
                </table>
            </div>
        </section>
        {has_commits.then(|| view! {
            <section class="card">
                <h2>"Commits between them"</h2>
                <div class="table-scroll">
                    <table class="table commits-between">
                        <thead>
                            <tr>
                                <th scope="col">"Commit"</th>
                                <th scope="col">"Author"</th>
                                <th scope="col">"Authored"</th>
                                <th scope="col">"Carried by"</th>
                            </tr>
                        </thead>
                        <tbody>{commits}</tbody>
                    </table>
                </div>
            </section>
        })}
        <PromoteForm c=c.clone() />
    }
}

#[component]
fn CommitRow(carried: CarriedCommit) -> impl IntoView {
    let c = carried.commit;
    let carriers = carried
        .carriers
        .iter()
        .map(|x| {
            view! {
                <li>
                    <a href=format!("/{}/pipelines/{}", x.environment, x.pipeline)>
                        {format!("{} · {}", x.pipeline, short_id(&x.execution))}
                    </a>
                    " "
                    <span class=format!("chip {}", class_of(Some(&x.status)))>{x.status.clone()}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <tr data-commit=c.short.clone()>
            <td>
                <code class="commit" title=c.id.clone()>{c.short.clone()}</code>
                " "
                {c.message.clone().unwrap_or_default()}
            </td>
            <td>{c.author.clone().unwrap_or_default()}</td>
            <td>{c.authored_ms.map(utc).unwrap_or_default()}</td>
            <td><ul class="plain">{carriers}</ul></td>
        </tr>
    }
}

#[component]
fn PromoteForm(c: EnvironmentComparison) -> impl IntoView {
    if c.direction == Some(Direction::Same) {
        return Either::Left(None);
    }
    let Some(promote) = c.promote.clone() else {
        return Either::Left(c.promote_refused.clone().map(|why| {
            view! { <p class="notice" data-promote="refused">{format!("You may not promote into {}: {why}", c.right.title)}</p> }
                .into_any()
        }));
    };
    let right = c.right.name.clone();
    let what = match &c.left_cell.commit {
        Some(commit) => format!("commit {}", commit.short),
        None => c.left_cell.image.clone().unwrap_or_default(),
    };
    let (path, explain, return_to, fields) = match promote {
        Promote::Pipeline { pipeline, commit } => (
            RequestPipelineChange::PATH,
            format!(
                "Asks for a release of {what} through {pipeline}, as a change request in {}.",
                c.right.title
            ),
            if c.right.protected {
                format!("/{right}/approvals")
            } else {
                format!("/{right}/pipelines/{pipeline}")
            },
            view! {
                <input type="hidden" name="pipeline" value=pipeline />
                <input type="hidden" name="kind" value="redeploy" />
                <input type="hidden" name="commit" value=commit />
            }
            .into_any(),
        ),
        Promote::Image { namespace, deployment, container, image } => (
            RequestChange::PATH,
            format!(
                "Asks to deploy {image} to {namespace}/{deployment}, as a change request in {}.",
                c.right.title
            ),
            if c.right.protected {
                format!("/{right}/approvals")
            } else {
                format!("/{right}/deployments/{namespace}/{deployment}")
            },
            view! {
                <input type="hidden" name="kind" value="deploy-image" />
                <input type="hidden" name="namespace" value=namespace />
                <input type="hidden" name="deployment" value=deployment />
                <input type="hidden" name="container" value=container />
                <input type="hidden" name="image" value=image />
            }
            .into_any(),
        ),
    };
    let approvals = c.right.protected.then_some(" It waits for approval by someone other than you.");
    Either::Right(Some(view! {
        <section class="card promote">
            <h2>{format!("Promote {what} to {}", c.right.title)}</h2>
            <p>{explain} {approvals}</p>
            <FormError path=path />
            <form method="post" action=path data-action="promote">
                <input type="hidden" name="env" value=right.clone() />
                <input type="hidden" name="return_to" value=return_to />
                {fields}
                <label>
                    "Why"
                    <input name="reason" required placeholder=format!("Promote {what} to {}", c.right.title) />
                </label>
                <button type="submit" class="primary">{format!("Promote to {}", c.right.title)}</button>
            </form>
        </section>
    }.into_any()))
}

/// The first part of an execution id (enough to tell them apart on a page).
fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A query value: letters, digits and `-._~` as they are, the rest percent-encoded.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
