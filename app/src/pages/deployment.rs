//! One deployment: its live rollout and pods, what can be done to it (each a change request
//! under the environment's roles, locks and four-eyes rules), its revisions with a rollback
//! for each, its containers' env, conditions, events, and the latest changes asked for it.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::changes::RequestChange;
use crate::api::deployments::get_deployment;
use crate::components::form_error::FormError;
use crate::components::live::now_ms;
use crate::components::live::utc;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle, page_status};
use crate::components::rollout::RolloutLive;
use crate::error::ApiError;
use crate::model::{DeploymentDetail, EnvironmentOverview, ReleaseView};

#[component]
pub fn DeploymentPage() -> impl IntoView {
    let env = use_environment_name();
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (env.get(), p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default())
    };
    let detail = Resource::new(key, |(env, namespace, name)| get_deployment(env, namespace, name));
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <PageTitle area="Deployment" />
        <p class="crumbs">
            <a href=move || format!("/{}/deployments", env.get())>"Deployments"</a>
            " / "
            {move || key().1}
        </p>
        <h1>{move || key().2}</h1>
        <FormError path=RequestChange::PATH />
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
fn Detail(o: EnvironmentOverview, d: DeploymentDetail) -> impl IntoView {
    let env = o.summary.name.clone();
    let row = d.live.row.clone();
    let base = format!("/{env}/deployments/{}/{}", row.namespace, row.name);
    let logs = format!("{base}/logs");
    view! {
        <p class="lede">
            {format!("Namespace {} · {} · revision {}", row.namespace, row.strategy, row.revision.clone().unwrap_or_default())}
            {row.changed_by.clone().map(|b| format!(" · last changed through Rollgate by {b}"))}
            " · "
            <a href=logs>"Logs"</a>
        </p>
        <RolloutLive env=env.clone() live=d.live.clone() rendered_at_ms=now_ms() />
        <Actions o=o.clone() d=d.clone() base=base.clone() />
        <Revisions d=d.clone() env=env.clone() base=base.clone() />
        <section class="card">
            <h2>"Containers"</h2>
            {d
                .containers
                .iter()
                .map(|c| {
                    view! {
                        <h3>{c.name.clone()}</h3>
                        <p>
                            <code>{c.image.clone()}</code>
                        </p>
                        <dl class="facts env">
                            {c
                                .env
                                .iter()
                                .map(|(k, v)| view! { <dt>{k.clone()}</dt> <dd>{v.clone()}</dd> })
                                .collect_view()}
                        </dl>
                    }
                })
                .collect_view()}
        </section>
        <section class="card">
            <h2>"Conditions"</h2>
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"Message"</th>
                    </tr>
                </thead>
                <tbody>
                    {d
                        .conditions
                        .iter()
                        .map(|c| {
                            view! {
                                <tr>
                                    <td>{c.kind.clone()}</td>
                                    <td>{c.status.clone()}</td>
                                    <td>{c.reason.clone()}</td>
                                    <td>{c.message.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="card">
            <h2>"Recent events"</h2>
            {if d.events.is_empty() {
                Either::Left(view! { <p class="muted">"No events."</p> })
            } else {
                Either::Right(view! {
                    <div class="table-scroll">
                        <table class="table events">
                            <thead>
                                <tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Reason"</th>
                                    <th scope="col">"Object"</th>
                                    <th scope="col">"Message"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {d
                                    .events
                                    .iter()
                                    .map(|e| {
                                        view! {
                                            <tr class:warning=e.kind == "Warning">
                                                <td>{e.last_ms.map(utc).unwrap_or_default()}</td>
                                                <td>{e.kind.clone()}</td>
                                                <td>{e.reason.clone()}</td>
                                                <td>
                                                    <code>{e.object.clone()}</code>
                                                </td>
                                                <td>
                                                    {e.message.clone()}
                                                    {(e.count > 1).then(|| format!(" (×{})", e.count))}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                })
            }}
        </section>
        <section class="card">
            <h2>"Changes asked for"</h2>
            {if d.changes.is_empty() {
                Either::Left(view! { <p class="muted">"None through Rollgate yet."</p> })
            } else {
                Either::Right(view! {
                    <ul class="changes">
                        {d
                            .changes
                            .iter()
                            .map(|c| {
                                view! {
                                    <li data-state=c.state.clone()>
                                        <span class="chip neutral">{c.state.clone()}</span>
                                        " "
                                        {c.description.clone()}
                                        {format!(" — by {} at {}", c.requested_by, c.requested_at)}
                                        {c.outcome.clone().map(|o| view! { <div class="muted">{o}</div> })}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <p>
                        <a href=format!("/{env}/approvals")>"All change requests"</a>
                    </p>
                })
            }}
        </section>
    }
}

/// The fields every change form of this page carries.
#[component]
fn Common(o: EnvironmentOverview, d: DeploymentDetail, kind: &'static str, base: String) -> impl IntoView {
    let override_field = (o.hold.is_some() && o.access.override_hold.why_not().is_none()).then(|| {
        view! {
            <label class="wide">"Override the hold (admins; say why)" <input name="override_reason" /></label>
        }
    });
    view! {
        <input type="hidden" name="env" value=o.summary.name.clone() />
        <input type="hidden" name="kind" value=kind />
        <input type="hidden" name="namespace" value=d.live.row.namespace.clone() />
        <input type="hidden" name="deployment" value=d.live.row.name.clone() />
        <input type="hidden" name="seen" value=d.live.row.generation.to_string() />
        <input type="hidden" name="return_to" value=base />
        <label class="wide">"Why" <input name="reason" required placeholder="for approvers and the audit trail" /></label>
        {override_field}
    }
}

#[component]
fn Actions(o: EnvironmentOverview, d: DeploymentDetail, base: String) -> impl IntoView {
    if let Some(why) = o.access.request.why_not() {
        return Either::Left(view! {
            <section class="card">
                <h2>"Change it"</h2>
                <p class="muted">{why}</p>
            </section>
        });
    }
    let query = use_query_map();
    let proposed_image = query.read_untracked().get("deploy").unwrap_or_default();
    let rule = if o.summary.protected {
        format!(
            "{} is protected: each change waits for {} approval(s) from someone else, then runs.",
            o.summary.title, o.required_approvals
        )
    } else {
        format!("{} is not protected: a change runs as soon as it is asked for.", o.summary.title)
    };
    let hold =
        o.hold.clone().map(|h| view! { <p class="notice warn" role="status">"Changes are held: " {h}</p> });
    let containers = d.containers.clone();
    let first = containers.first().map(|c| c.name.clone()).unwrap_or_default();
    let options = move || {
        containers
            .iter()
            .map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> })
            .collect_view()
    };
    let options2 = options.clone();
    let image_value = if proposed_image.is_empty() {
        d.containers.first().map(|c| c.image.clone()).unwrap_or_default()
    } else {
        proposed_image
    };
    let env_text = d
        .containers
        .iter()
        .find(|c| c.name == first)
        .map(|c| c.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    let paused = d.paused;
    let replicas = d.live.row.desired;
    Either::Right(view! {
        <section class="card actions" aria-labelledby="actions-heading">
            <h2 id="actions-heading">"Change it"</h2>
            <p class="muted">{rule}</p>
            {hold}
            <div class="action-grid">
                <form method="post" action=RequestChange::PATH class="form grid" data-action="deploy-image">
                    <h3 class="wide">"Deploy an image"</h3>
                    <Common o=o.clone() d=d.clone() kind="deploy-image" base=base.clone() />
                    <label>"Container" <select name="container">{options}</select></label>
                    <label class="wide">
                        "Image (tagged with the commit)"
                        <input name="image" value=image_value required spellcheck="false" />
                    </label>
                    <button type="submit" class="primary">"Deploy"</button>
                </form>
                <form method="post" action=RequestChange::PATH class="form grid" data-action="set-env">
                    <h3 class="wide">"Set or remove env vars"</h3>
                    <Common o=o.clone() d=d.clone() kind="set-env" base=base.clone() />
                    <label>"Container" <select name="container">{options2}</select></label>
                    <label class="wide">
                        "KEY=VALUE to set, -KEY to remove; one per line (now: "
                        {if env_text.is_empty() { "none".to_owned() } else { env_text.replace('\n', ", ") }}
                        ")"
                        <textarea name="variables" rows="3" spellcheck="false" required></textarea>
                    </label>
                    <button type="submit" class="primary">"Set env"</button>
                </form>
                <form method="post" action=RequestChange::PATH class="form grid" data-action="scale">
                    <h3 class="wide">"Scale"</h3>
                    <Common o=o.clone() d=d.clone() kind="scale" base=base.clone() />
                    <label>
                        "Replicas"
                        <input name="replicas" type="number" min="0" max="1000" value=replicas.to_string() required />
                    </label>
                    <button type="submit">"Scale"</button>
                </form>
                <form method="post" action=RequestChange::PATH class="form grid" data-action="restart">
                    <h3 class="wide">"Restart every pod"</h3>
                    <Common o=o.clone() d=d.clone() kind="restart" base=base.clone() />
                    <button type="submit">"Restart"</button>
                </form>
                <form
                    method="post"
                    action=RequestChange::PATH
                    class="form grid"
                    data-action=if paused { "resume" } else { "pause" }
                >
                    <h3 class="wide">{if paused { "Resume rollouts" } else { "Pause rollouts" }}</h3>
                    <Common o=o.clone() d=d.clone() kind=if paused { "resume" } else { "pause" } base=base.clone() />
                    <button type="submit">{if paused { "Resume" } else { "Pause" }}</button>
                </form>
            </div>
        </section>
    })
}

#[component]
fn Revisions(d: DeploymentDetail, env: String, base: String) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Revisions"</h2>
            {d.releases_problem.clone().map(|p| view! { <p class="notice warn">{p}</p> })}
            <div class="table-scroll">
                <table class="table revisions">
                    <thead>
                        <tr>
                            <th scope="col">"Revision"</th>
                            <th scope="col">"Images"</th>
                            <th scope="col">"Released by"</th>
                            <th scope="col">"Created"</th>
                            <th scope="col">"Pods"</th>
                            <th scope="col"></th>
                        </tr>
                    </thead>
                    <tbody>
                        {d
                            .revisions
                            .iter()
                            .map(|r| {
                                let rollback = format!("{base}/rollback/{}", r.number);
                                view! {
                                    <tr data-revision=r.number class:live=r.live>
                                        <td>
                                            {r.number}
                                            {r.live.then(|| view! { " " <span class="chip ok">"live"</span> })}
                                        </td>
                                        <td>
                                            {r
                                                .images
                                                .iter()
                                                .map(|i| {
                                                    view! {
                                                        <div title=i.image.clone()>
                                                            {i.commit.clone().map(|c| view! { <code class="commit">{c}</code> " " })}
                                                            {i.image.clone()}
                                                        </div>
                                                    }
                                                })
                                                .collect_view()}
                                        </td>
                                        <td>{r.release.clone().map(|rel| release(&env, rel))}</td>
                                        <td>{r.created_ms.map(utc).unwrap_or_default()}</td>
                                        <td>{format!("{} ({} ready)", r.replicas, r.ready)}</td>
                                        <td>
                                            {(!r.live)
                                                .then(|| view! { <a href=rollback class="button">"Roll back to this…"</a> })}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// The execution that released a revision, linked to its pipeline.
fn release(env: &str, r: ReleaseView) -> impl IntoView + use<> {
    let href = format!("/{env}/pipelines/{}", r.pipeline);
    view! {
        <span class="release" data-execution=r.execution.clone() data-commit=r.commit.clone()>
            <a href=href>{r.pipeline.clone()}</a>
            " "
            <code title=r.execution.clone()>{r.execution.chars().take(8).collect::<String>()}</code>
            " · "
            <code class="commit">{r.commit.clone()}</code>
            {r.message.clone().map(|m| format!(" {m}"))}
        </span>
    }
}
