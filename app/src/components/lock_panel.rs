//! The environment's deploy lock: who locked it and why, a form to lock it with a reason and
//! an optional end, and a button to lift it, for those whose role allows it.

use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::locks::{LockEnvironment, UnlockEnvironment};
use crate::components::form_error::FormError;
use crate::components::overview::OverviewResource;
use crate::model::EnvironmentOverview;

#[component]
pub fn LockPanel() -> impl IntoView {
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { overview.await.map(|o| view! { <Panel o /> }) })}
        </Transition>
    }
}

#[component]
fn Panel(o: EnvironmentOverview) -> impl IntoView {
    let env = o.summary.name.clone();
    let env_link = env.clone();
    let why_not = o.access.lock.why_not();
    // A hold without a lock is a freeze window from the configuration.
    let freeze = if o.lock.is_none() { o.hold.clone() } else { None };
    let body = match (o.lock, why_not) {
        (Some(l), why_not) => {
            let until = l.ends_at.map(|e| format!(" until {e}")).unwrap_or_default();
            let status = format!("Locked by {} at {}{until}: {}", l.locked_by, l.locked_at, l.reason);
            let action = match why_not {
                None => Either::Left(view! {
                    <form method="post" action=UnlockEnvironment::PATH class="inline">
                        <input type="hidden" name="env" value=env.clone() />
                        <button type="submit">"Unlock"</button>
                    </form>
                }),
                Some(why) => Either::Right(view! { <p class="muted">{why}</p> }),
            };
            EitherOf3::A(view! {
                <p class="notice warn" role="status">{status}</p>
                {action}
            })
        }
        (None, None) => EitherOf3::B(view! {
            <form method="post" action=LockEnvironment::PATH class="form grid">
                <input type="hidden" name="env" value=env.clone() />
                <label class="wide">"Reason" <input name="reason" required /></label>
                <label>"Until (UTC, optional)" <input name="until" type="datetime-local" /></label>
                <button type="submit">"Lock"</button>
            </form>
        }),
        (None, Some(why)) => EitherOf3::C(view! { <p class="muted">"Not locked. " {why}</p> }),
    };
    view! {
        <section class="card" aria-labelledby="lock-heading">
            <h2 id="lock-heading">"Deploy lock"</h2>
            {freeze.map(|h| view! { <p class="notice warn" role="status">{h}</p> })}
            {body}
            <p><a href=format!("/{env_link}/calendar")>"Freeze calendar"</a></p>
            <FormError path=LockEnvironment::PATH />
            <FormError path=UnlockEnvironment::PATH />
        </section>
    }
}
