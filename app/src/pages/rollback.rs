//! Rolling back: exactly what changes (images, env) going back to a revision, read from the
//! cluster now, and one confirmed click to ask for it.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_params_map;

use crate::api::changes::RequestChange;
use crate::api::deployments::preview_rollback;
use crate::components::form_error::FormError;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle, page_status};
use crate::error::ApiError;
use crate::model::{EnvironmentOverview, PreviewView};

#[derive(Clone, PartialEq)]
struct Target {
    env: String,
    namespace: String,
    name: String,
    revision: String,
}

#[component]
pub fn RollbackPage() -> impl IntoView {
    let env = use_environment_name();
    let params = use_params_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        Target {
            env: env.get(),
            namespace: p.get("namespace").unwrap_or_default(),
            name: p.get("name").unwrap_or_default(),
            revision: p.get("revision").unwrap_or_default(),
        }
    });
    let preview = Resource::new(
        move || target.get(),
        |t| async move {
            let revision = t
                .revision
                .parse::<u32>()
                .map_err(|_| ApiError::Invalid(format!("{:?} is not a revision number.", t.revision)))?;
            preview_rollback(t.env, t.namespace, t.name, revision).await
        },
    );
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <PageTitle area="Roll back" />
        <h1>{move || format!("Roll {} back to revision {}", target.get().name, target.get().revision)}</h1>
        <FormError path=RequestChange::PATH />
        <Suspense fallback=|| view! { <p class="loading">"Reading the revisions…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let p = preview.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Confirm o p t=target.get_untracked() /> })
            })}
        </Suspense>
    }
}

#[component]
fn Confirm(o: EnvironmentOverview, p: PreviewView, t: Target) -> impl IntoView {
    let back = format!("/{}/deployments/{}/{}", t.env, t.namespace, t.name);
    let ask = match o.access.request.why_not() {
        Some(why) => Either::Left(view! { <p class="muted">{why}</p> }),
        None => {
            let rule = if o.summary.protected {
                format!(
                    "{} is protected: the rollback runs once {} other person(s) approve it.",
                    o.summary.title, o.required_approvals
                )
            } else {
                format!("{} is not protected: the rollback starts when you confirm.", o.summary.title)
            };
            let override_field = (o.hold.is_some() && o.access.override_hold.why_not().is_none()).then(|| {
                view! { <label class="wide">"Override the hold (admins; say why)" <input name="override_reason" /></label> }
            });
            // What the rollback takes out of service may be blocked from coming back.
            let block = (!p.retires.is_empty()).then(|| {
                let commits = p.retires.join(", ");
                view! {
                    <label class="wide check">
                        <input type="checkbox" name="block" value="yes" checked=o.block_on_rollback />
                        {format!("Block commit {commits}: nobody may release it again until a change request lifts the block")}
                    </label>
                    <label class="wide">"Reason to block it (the rollback's if empty)" <input name="block_reason" /></label>
                }
            });
            Either::Right(view! {
                <p>{rule}</p>
                {o.hold.clone().map(|h| view! { <p class="notice warn" role="status">"Changes are held: " {h}</p> })}
                <form method="post" action=RequestChange::PATH class="form grid" data-action="rollback">
                    <input type="hidden" name="env" value=t.env.clone() />
                    <input type="hidden" name="kind" value="rollback" />
                    <input type="hidden" name="namespace" value=t.namespace.clone() />
                    <input type="hidden" name="deployment" value=t.name.clone() />
                    <input type="hidden" name="revision" value=t.revision.clone() />
                    <input type="hidden" name="seen" value=p.generation.to_string() />
                    <input type="hidden" name="return_to" value=back.clone() />
                    <label class="wide">"Why" <input name="reason" required placeholder="for approvers and the audit trail" /></label>
                    {block}
                    {override_field}
                    <button type="submit" class="primary danger">{format!("Roll back to revision {}", t.revision)}</button>
                </form>
            })
        }
    };
    view! {
        <section class="card">
            <h2>"What changes"</h2>
            <dl class="facts">
                <dt>"Now"</dt>
                <dd class="diff"><del>{p.before.clone()}</del></dd>
                <dt>"After"</dt>
                <dd class="diff"><ins>{p.after.clone()}</ins></dd>
            </dl>
            {ask}
            <p><a href=back>"Cancel"</a></p>
        </section>
    }
}
