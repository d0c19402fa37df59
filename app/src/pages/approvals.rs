//! Approvals: what needs a second pair of eyes before it changes an environment.
//!
//! The inbox lists the environment's waiting change requests (oldest first) with what each
//! will change and why, and lets someone other than the requester approve or reject it; below
//! come the latest decided ones with their outcome. The form at the top requests a change.
//! Whatever the visitor may not do is disabled with the reason next to it.

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::changes::{ApproveChange, RejectChange, RequestChange, list_changes};
use crate::api::pipelines::{DecidePipelineApproval, list_pipeline_approvals};
use crate::components::form_error::FormError;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle};
use crate::model::{ChangeView, EnvironmentOverview};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let env = use_environment_name();
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    let changes = Resource::new(move || env.get(), list_changes);
    let pipeline_approvals = Resource::new(move || env.get(), list_pipeline_approvals);

    view! {
        <PageTitle area="Approvals" />
        <h1>"Approvals"</h1>
        <FormError path=ApproveChange::PATH />
        <FormError path=RejectChange::PATH />
        <FormError path=DecidePipelineApproval::PATH />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let list = changes.await?;
                let pipeline_approvals = pipeline_approvals.await?;
                let can_approve = o.access.approve.yes();
                let (waiting, decided): (Vec<_>, Vec<_>) = list.into_iter().partition(|c| c.state == "pending");
                Ok::<_, crate::error::ApiError>(view! {
                    <Rules o=o.clone() />
                    <RequestForm o />
                    <Changes heading="Waiting for approval" empty="Nothing is waiting." list=waiting />
                    <crate::components::pipeline_live::PipelineApprovals list=pipeline_approvals can_approve />
                    <Changes heading="Recently decided" empty="No decided requests yet." list=decided />
                })
            })}
        </Suspense>
    }
}

#[component]
fn Changes(heading: &'static str, empty: &'static str, list: Vec<ChangeView>) -> impl IntoView {
    // Either, not AnyView: each AnyView adds kilobytes of wasm.
    let body = if list.is_empty() {
        Either::Left(view! { <p class="muted">{empty}</p> })
    } else {
        Either::Right(list.into_iter().map(|c| view! { <ChangeCard c /> }).collect_view())
    };
    view! {
        <section class="card">
            <h2>{heading}</h2>
            {body}
        </section>
    }
}

#[component]
fn Rules(o: EnvironmentOverview) -> impl IntoView {
    let rule = if o.summary.protected {
        format!(
            "{} is protected: a change needs {} approval{} from someone other than the person who requested it.",
            o.summary.title,
            o.required_approvals,
            if o.required_approvals == 1 { "" } else { "s" }
        )
    } else {
        format!("{} is not protected: changes run without a second approval.", o.summary.title)
    };
    view! {
        <p class="lede">{rule}</p>
        {o.hold.map(|hold| view! { <p class="notice warn" role="status">"Changes are held: " {hold}</p> })}
    }
}

#[component]
fn RequestForm(o: EnvironmentOverview) -> impl IntoView {
    if let Some(why) = o.access.request.why_not() {
        return Either::Left(view! {
            <section class="card">
                <h2>"Request a change"</h2>
                <p class="muted">{why}</p>
            </section>
        });
    }
    let override_field = match (o.hold.is_some(), o.access.override_hold.why_not()) {
        (true, None) => EitherOf3::A(view! {
            <label class="wide">
                "Override the hold (admins; say why)" <input name="override_reason" />
            </label>
        }),
        (true, Some(why)) => EitherOf3::B(view! {
            <input type="hidden" name="override_reason" value="" />
            <p class="muted wide">{why}</p>
        }),
        (false, _) => EitherOf3::C(view! { <input type="hidden" name="override_reason" value="" /> }),
    };
    Either::Right(view! {
        <section class="card">
            <h2>"Request a change"</h2>
            <form method="post" action=RequestChange::PATH class="form grid">
                <input type="hidden" name="env" value=o.summary.name.clone() />
                <label>
                    "Change"
                    <select name="kind">
                        <option value="restart">"Restart"</option>
                        <option value="scale">"Scale"</option>
                        <option value="deploy-image">"Deploy image"</option>
                        <option value="rollback">"Roll back"</option>
                        <option value="set-env">"Set env"</option>
                        <option value="pause">"Pause rollouts"</option>
                        <option value="resume">"Resume rollouts"</option>
                    </select>
                </label>
                <label>
                    "Namespace"
                    <select name="namespace">
                        {o.namespaces.iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Deployment" <input name="deployment" /></label>
                <label>"Container (deploy image, set env)" <input name="container" /></label>
                <label>"Image (deploy image)" <input name="image" placeholder="registry/app:5d6e7f8" /></label>
                <label>"Replicas (scale)" <input name="replicas" inputmode="numeric" /></label>
                <label>"Revision (roll back)" <input name="revision" inputmode="numeric" /></label>
                <label class="wide">
                    "Variables (set env: KEY=VALUE, or -KEY to remove; one per line)"
                    <textarea name="variables" rows="2"></textarea>
                </label>
                <label class="wide">"Why" <input name="reason" required /></label>
                {override_field}
                <button type="submit" class="primary">"Request"</button>
            </form>
            <FormError path=RequestChange::PATH />
        </section>
    })
}

#[component]
fn ChangeCard(c: ChangeView) -> impl IntoView {
    let pending = c.state == "pending";
    let state_class = format!(
        "chip {}",
        match c.state.as_str() {
            "executed" => "ok",
            "pending" | "approved" | "executing" => "neutral",
            "rejected" | "expired" => "warn",
            _ => "bad",
        }
    );
    let (id_a, id_r) = (c.id.clone(), c.id.clone());
    let decide = pending.then(|| match c.can_decide.why_not() {
        None => Either::Left(view! {
            <div class="decide">
                <form method="post" action=ApproveChange::PATH class="inline">
                    <input type="hidden" name="id" value=id_a />
                    <input name="comment" placeholder="Comment (optional)" aria-label="Approval comment" />
                    <button type="submit" class="primary">"Approve"</button>
                </form>
                <form method="post" action=RejectChange::PATH class="inline">
                    <input type="hidden" name="id" value=id_r />
                    <input type="hidden" name="comment" value="" />
                    <button type="submit">"Reject"</button>
                </form>
            </div>
        }),
        Some(why) => Either::Right(view! {
            <p class="muted">
                <button type="button" disabled>"Approve"</button>
                " "
                {why}
            </p>
        }),
    });
    view! {
        <article class="change" id=format!("change-{}", c.id) data-state=c.state.clone()>
            <div class="card-row">
                <h3>{c.description.clone()}</h3>
                <span class=state_class>{c.state.clone()}</span>
            </div>
            <dl class="facts">
                <dt>"Why"</dt>
                <dd>{c.reason.clone()}</dd>
                <dt>"Requested"</dt>
                <dd>{format!("by {} at {}", c.requested_by, c.requested_at)}</dd>
                <dt>"Change"</dt>
                <dd class="diff">
                    <del>{c.before.clone()}</del>
                    " → "
                    <ins>{c.after.clone()}</ins>
                </dd>
                <dt>"Approvals"</dt>
                <dd>
                    {format!("{} of {}", c.approvals, c.required_approvals)}
                    {c
                        .decisions
                        .iter()
                        .map(|d| {
                            let verb = if d.approved { "approved" } else { "rejected" };
                            let comment = if d.comment.is_empty() { String::new() } else { format!(": {}", d.comment) };
                            view! { <span class="decision">{format!(" · {} {verb}{comment}", d.by)}</span> }
                        })
                        .collect_view()}
                </dd>
                {pending.then(|| view! { <dt>"Expires"</dt> <dd>{c.expires_at.clone()}</dd> })}
                {c.override_reason.clone().map(|o| view! { <dt>"Override"</dt> <dd>{o}</dd> })}
                {c.outcome.clone().map(|o| view! { <dt>"Outcome"</dt> <dd>{o}</dd> })}
            </dl>
            {decide}
        </article>
    }
}
