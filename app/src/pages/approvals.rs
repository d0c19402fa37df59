//! Approvals: what needs a second pair of eyes before it changes an environment.
//!
//! The inbox lists the environment's waiting change requests (oldest first) with what each
//! will change and why, and lets someone other than the requester approve or reject it; below
//! come the latest decided ones with their outcome. The form at the top requests a change.
//! Whatever the visitor may not do is disabled with the reason next to it.

use leptos::prelude::*;

use crate::api::changes::{ApproveChange, RejectChange, RequestChange, list_changes};
use crate::components::layout::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle};
use crate::model::{ChangeView, EnvironmentOverview};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let env = use_environment_name();
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    let request = ServerAction::<RequestChange>::new();
    let approve = ServerAction::<ApproveChange>::new();
    let reject = ServerAction::<RejectChange>::new();
    let changes = Resource::new(
        move || (env.get(), request.version().get(), approve.version().get(), reject.version().get()),
        |(env, ..)| list_changes(env),
    );

    view! {
        <PageTitle area="Approvals" />
        <h1>"Approvals"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                overview.await.map(|o| view! { <Rules o=o.clone() /> <RequestForm o request /> })
            })}
        </Suspense>
        <ActionOutcome approve reject />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                changes
                    .await
                    .map(|list| {
                        let (waiting, decided): (Vec<_>, Vec<_>) = list
                            .into_iter()
                            .partition(|c| c.state == "pending");
                        view! {
                            <section class="card" aria-labelledby="inbox">
                                <h2 id="inbox">"Waiting for approval"</h2>
                                {if waiting.is_empty() {
                                    view! { <p class="muted">"Nothing is waiting."</p> }.into_any()
                                } else {
                                    waiting
                                        .into_iter()
                                        .map(|c| view! { <ChangeCard c approve reject /> })
                                        .collect_view()
                                        .into_any()
                                }}
                            </section>
                            <section class="card" aria-labelledby="decided">
                                <h2 id="decided">"Recently decided"</h2>
                                {if decided.is_empty() {
                                    view! { <p class="muted">"No decided requests yet."</p> }.into_any()
                                } else {
                                    decided
                                        .into_iter()
                                        .map(|c| view! { <ChangeCard c approve reject /> })
                                        .collect_view()
                                        .into_any()
                                }}
                            </section>
                        }
                    })
            })}
        </Suspense>
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
fn RequestForm(o: EnvironmentOverview, request: ServerAction<RequestChange>) -> impl IntoView {
    if let Some(why) = o.access.request.why_not() {
        return view! {
            <section class="card">
                <h2>"Request a change"</h2>
                <p class="muted">{why}</p>
            </section>
        }
        .into_any();
    }
    let result = move || {
        request.value().get().map(|r| match r {
            Ok(c) => {
                let text = match c.state.as_str() {
                    "pending" => format!("Requested: {}. It waits for approval.", c.description),
                    "executed" => format!("Done: {}.", c.description),
                    other => format!("Request {other}: {}", c.outcome.unwrap_or_default()),
                };
                view! { <p class="notice ok" role="status">{text}</p> }.into_any()
            }
            Err(e) => view! { <p class="notice bad" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    let override_field = o.hold.is_some().then(|| match o.access.override_hold.why_not() {
        None => view! {
            <label class="wide">
                "Override the hold (admins; say why)" <input name="override_reason" />
            </label>
        }
        .into_any(),
        Some(why) => view! {
            <input type="hidden" name="override_reason" value="" />
            <p class="muted wide">{why}</p>
        }
        .into_any(),
    });
    let override_field = override_field
        .unwrap_or_else(|| view! { <input type="hidden" name="override_reason" value="" /> }.into_any());
    view! {
        <section class="card">
            <h2>"Request a change"</h2>
            <ActionForm action=request attr:class="form grid">
                <input type="hidden" name="env" value=o.summary.name.clone() />
                <label>
                    "Change"
                    <select name="kind">
                        <option value="restart">"Restart"</option>
                        <option value="scale">"Scale"</option>
                        <option value="deploy-image">"Deploy image"</option>
                        <option value="rollback">"Roll back"</option>
                        <option value="set-env">"Set env"</option>
                        <option value="rotate-token">"Rotate token"</option>
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
                <label>"Parameter (rotate token)" <input name="parameter" /></label>
                <label class="wide">
                    "Variables (set env: KEY=VALUE, or -KEY to remove; one per line)"
                    <textarea name="variables" rows="2"></textarea>
                </label>
                <label class="wide">"Why" <input name="reason" required /></label>
                {override_field}
                <button type="submit" class="primary">"Request"</button>
            </ActionForm>
            {result}
        </section>
    }
    .into_any()
}

/// The answer to the last approve or reject click.
#[component]
fn ActionOutcome(approve: ServerAction<ApproveChange>, reject: ServerAction<RejectChange>) -> impl IntoView {
    let show = |r: Option<Result<ChangeView, crate::error::ApiError>>| {
        r.map(|r| match r {
            Ok(c) => {
                let text = match c.state.as_str() {
                    "executed" => format!("Approved and done: {}.", c.description),
                    "failed" => format!("Approved, but it failed: {}", c.outcome.unwrap_or_default()),
                    "rejected" => format!("Rejected: {}.", c.description),
                    _ => format!("Approved: {}. It waits for more approvals.", c.description),
                };
                view! { <p class="notice ok" role="status">{text}</p> }.into_any()
            }
            Err(e) => view! { <p class="notice bad" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        {move || show(approve.value().get())}
        {move || show(reject.value().get())}
    }
}

#[component]
fn ChangeCard(
    c: ChangeView,
    approve: ServerAction<ApproveChange>,
    reject: ServerAction<RejectChange>,
) -> impl IntoView {
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
        None => view! {
            <div class="decide">
                <ActionForm action=approve attr:class="inline">
                    <input type="hidden" name="id" value=id_a />
                    <input name="comment" placeholder="Comment (optional)" aria-label="Approval comment" />
                    <button type="submit" class="primary">"Approve"</button>
                </ActionForm>
                <ActionForm action=reject attr:class="inline">
                    <input type="hidden" name="id" value=id_r />
                    <input type="hidden" name="comment" value="" />
                    <button type="submit">"Reject"</button>
                </ActionForm>
            </div>
        }
        .into_any(),
        Some(why) => view! {
            <p class="muted">
                <button type="button" disabled>"Approve"</button>
                " "
                {why}
            </p>
        }
        .into_any(),
    });
    view! {
        <article class="change" data-state=c.state.clone()>
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
