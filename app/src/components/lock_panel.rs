//! The environment's deploy lock: who locked it and why, a form to lock it with a reason and
//! an optional end, and a button to lift it, for those whose role allows it.

use leptos::prelude::*;

use crate::api::locks::{LockEnvironment, UnlockEnvironment};
use crate::components::overview::OverviewResource;
use crate::model::EnvironmentOverview;

#[component]
pub fn LockPanel() -> impl IntoView {
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    let lock = ServerAction::<LockEnvironment>::new();
    let unlock = ServerAction::<UnlockEnvironment>::new();
    // The overview carries the lock: read it again after either action.
    Effect::new(move |previous: Option<(usize, usize)>| {
        let now = (lock.version().get(), unlock.version().get());
        if previous.is_some_and(|p| p != now) {
            overview.refetch();
        }
        now
    });
    let error = move || {
        let failed =
            lock.value().get().and_then(Result::err).or_else(|| unlock.value().get().and_then(Result::err));
        failed.map(|e| view! { <p class="notice bad" role="alert">{e.to_string()}</p> })
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                overview.await.map(|o| view! { <Panel o lock unlock /> })
            })}
        </Transition>
        {error}
    }
}

#[component]
fn Panel(
    o: EnvironmentOverview,
    lock: ServerAction<LockEnvironment>,
    unlock: ServerAction<UnlockEnvironment>,
) -> impl IntoView {
    let env = o.summary.name.clone();
    let why_not = o.access.lock.why_not();
    // A hold without a lock is a freeze window from the configuration.
    let freeze = if o.lock.is_none() { o.hold.clone() } else { None };
    let body = match (o.lock, why_not) {
        (Some(l), why_not) => {
            let until = l.ends_at.map(|e| format!(" until {e}")).unwrap_or_default();
            let status = format!("Locked by {} at {}{until}: {}", l.locked_by, l.locked_at, l.reason);
            let action = match why_not {
                None => view! {
                    <ActionForm action=unlock attr:class="inline">
                        <input type="hidden" name="env" value=env.clone() />
                        <button type="submit">"Unlock"</button>
                    </ActionForm>
                }
                .into_any(),
                Some(why) => view! { <p class="muted">{why}</p> }.into_any(),
            };
            view! {
                <p class="notice warn" role="status">{status}</p>
                {action}
            }
            .into_any()
        }
        (None, None) => view! {
            <ActionForm action=lock attr:class="form grid">
                <input type="hidden" name="env" value=env.clone() />
                <label class="wide">"Reason" <input name="reason" required /></label>
                <label>"Until (UTC, optional)" <input name="until" type="datetime-local" /></label>
                <button type="submit">"Lock"</button>
            </ActionForm>
        }
        .into_any(),
        (None, Some(why)) => view! { <p class="muted">"Not locked. " {why}</p> }.into_any(),
    };
    view! {
        <section class="card" aria-labelledby="lock-heading">
            <h2 id="lock-heading">"Deploy lock"</h2>
            {freeze.map(|h| view! { <p class="notice warn" role="status">{h}</p> })}
            {body}
        </section>
    }
}
