//! Blocked commits: nobody releases these again through Rollgate, and the release guard stops
//! pipeline executions of them before a Deploy stage. Each says who blocked it, why and when;
//! lifting a block is a change request (four eyes in a protected environment).

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::blocked::list_blocked;
use crate::api::changes::RequestChange;
use crate::components::form_error::FormError;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle};
use crate::model::{BlockView, EnvironmentOverview};

#[component]
pub fn BlockedPage() -> impl IntoView {
    let env = use_environment_name();
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    let blocks = Resource::new(move || env.get(), list_blocked);
    view! {
        <PageTitle area="Blocked" />
        <h1>"Blocked commits"</h1>
        <FormError path=RequestChange::PATH />
        <p class="lede">
            "A blocked commit cannot be deployed, redeployed or rolled back to through Rollgate, and a pipeline execution of it "
            "(a push, the console) is stopped before it enters a Deploy stage. A rollback blocks the commit it takes out of service "
            "when asked to; lifting a block is a change request."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let (lifted, active): (Vec<_>, Vec<_>) = blocks.await?.into_iter().partition(|b| b.lifted_by.is_some());
                let body = if active.is_empty() {
                    Either::Left(view! { <p class="muted">"No commit is blocked."</p> })
                } else {
                    Either::Right(active.into_iter().map(|b| view! { <Blocked b o=o.clone() /> }).collect_view())
                };
                let history = (!lifted.is_empty()).then(|| {
                    let rows = lifted
                        .into_iter()
                        .map(|b| view! {
                            <tr data-commit=b.commit.clone()>
                                <td><code>{b.commit.clone()}</code></td>
                                <td>{b.reason.clone()}</td>
                                <td>{format!("{}, {}", b.by, b.at)}</td>
                                <td>{format!("{}, {}", b.lifted_by.clone().unwrap_or_default(), b.lifted_at.clone().unwrap_or_default())}</td>
                            </tr>
                        })
                        .collect_view();
                    view! {
                        <section class="card">
                            <h2>"Lifted"</h2>
                            <table class="lifted">
                                <thead><tr><th>"Commit"</th><th>"Why"</th><th>"Blocked by"</th><th>"Lifted by"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </section>
                    }
                });
                Ok::<_, crate::error::ApiError>(view! {
                    <section class="card blocked">
                        <h2>"In force"</h2>
                        {body}
                    </section>
                    {history}
                })
            })}
        </Suspense>
    }
}

#[component]
fn Blocked(b: BlockView, o: EnvironmentOverview) -> impl IntoView {
    let ask = match o.access.request.why_not() {
        Some(why) => Either::Left(view! { <p class="muted">{why}</p> }),
        None => Either::Right(view! {
            <form method="post" action=RequestChange::PATH class="inline" data-action="unblock">
                <input type="hidden" name="env" value=o.summary.name.clone() />
                <input type="hidden" name="kind" value="unblock" />
                <input type="hidden" name="commit" value=b.commit.clone() />
                <input type="hidden" name="return_to" value=format!("/{}/blocked", o.summary.name) />
                <input name="reason" required placeholder="Why it may be released again" aria-label="Why lift the block" />
                <button type="submit">"Ask to lift the block"</button>
            </form>
        }),
    };
    view! {
        <article class="block" data-commit=b.commit.clone()>
            <h3><code>{b.commit.clone()}</code></h3>
            <p>{b.reason.clone()}</p>
            <p class="muted">
                {format!("Blocked by {} at {}", b.by, b.at)}
                {b.change.clone().map(|c| format!(" (change request {c})"))}
            </p>
            {ask}
        </article>
    }
}
