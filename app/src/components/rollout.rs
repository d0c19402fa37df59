//! One deployment, live: its rollout progress, health and pods, followed through
//! `/live/{env}/deployments?namespace=…&name=…`. After an action the page lands here and
//! shows the rollout it started until it completes or fails.

use leptos::prelude::*;

use super::live::{Connection, ConnectionNotice, HealthChip, ProgressBar, clock, duration};
use crate::model::{DeploymentLive, Health, PodView};
#[cfg(feature = "hydrate")]
use crate::model::{LinkView, LiveEvent};

#[island(lazy)]
pub fn RolloutLive(env: String, live: DeploymentLive, rendered_at_ms: i64) -> impl IntoView {
    let (namespace, name) = (live.row.namespace.clone(), live.row.name.clone());
    let state = RwSignal::new(Some(live));
    let link = RwSignal::new(None::<String>);
    let connection = RwSignal::new(Connection::Connecting);
    let now = clock(rendered_at_ms);

    #[cfg(feature = "hydrate")]
    super::live::follow(
        &format!("/live/{env}/deployments?namespace={namespace}&name={name}"),
        move |event| apply(state, link, event),
        connection,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (&env, &namespace, &name);

    view! {
        <ConnectionNotice connection />
        {move || link.get().map(|why| view! { <p class="notice bad" role="alert">{why}</p> })}
        {move || match state.get() {
            None => {
                leptos::either::Either::Left(
                    view! { <p class="notice bad" role="alert">"This deployment has been deleted."</p> },
                )
            }
            Some(live) => leptos::either::Either::Right(view! { <Live live now /> }),
        }}
    }
}

#[component]
fn Live(live: DeploymentLive, now: RwSignal<i64>) -> impl IntoView {
    let row = live.row;
    let status = match &row.health {
        Health::Complete => format!("Revision {} is rolled out.", row.revision.clone().unwrap_or_default()),
        Health::Progressing => format!(
            "Rolling out revision {}: {} of {} pods updated, {} available.",
            row.revision.clone().unwrap_or_default(),
            row.updated,
            row.desired,
            row.available
        ),
        Health::Paused => "Rollouts are paused: template changes wait until resumed.".to_owned(),
        Health::Degraded(why) => format!("The rollout is failing: {why}."),
    };
    let mut pods = live.pods;
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    view! {
        <section class="card live-rollout" data-health=row.health.word().to_owned()>
            <div class="card-row">
                <h2>"Rollout"</h2>
                <HealthChip health=row.health.clone() />
            </div>
            <ProgressBar row=row.clone() />
            <p class="rollout-status" role="status">{status}</p>
            <h3>{format!("Pods ({})", pods.len())}</h3>
            <div class="table-scroll">
                <table class="table pods">
                    <thead>
                        <tr>
                            <th scope="col">"Pod"</th>
                            <th scope="col">"Phase"</th>
                            <th scope="col">"Ready"</th>
                            <th scope="col">"Restarts"</th>
                            <th scope="col">"Age"</th>
                            <th scope="col">"Node"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {pods.into_iter().map(|p| view! { <PodRow p now /> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn PodRow(p: PodView, now: RwSignal<i64>) -> impl IntoView {
    let started = p.started_ms;
    let phase = match &p.reason {
        Some(reason) => format!("{} ({reason})", p.phase),
        None => p.phase.clone(),
    };
    let bad = p.reason.as_deref().is_some_and(|r| r != "ContainerCreating" && r != "Terminating");
    view! {
        <tr data-pod=p.name.clone() class:bad=bad>
            <td>
                <code>{p.name.clone()}</code>
            </td>
            <td>{phase}</td>
            <td>{p.ready.clone()}</td>
            <td>{p.restarts}</td>
            <td>{move || started.map(|t| duration(t, now.get()))}</td>
            <td>{p.node.clone().unwrap_or_default()}</td>
        </tr>
    }
}

#[cfg(feature = "hydrate")]
fn apply(state: RwSignal<Option<DeploymentLive>>, link: RwSignal<Option<String>>, event: LiveEvent) {
    match event {
        LiveEvent::Snapshot { deployments, .. } => state.set(deployments.into_iter().next()),
        LiveEvent::Changed(d) => state.set(Some(*d)),
        LiveEvent::Removed { .. } => state.set(None),
        LiveEvent::Link { link: LinkView::Reconnecting(why), .. } => {
            link.set(Some(format!("The cluster watch is reconnecting ({why}); the state shown may be old.")))
        }
        LiveEvent::Link { .. } => link.set(None),
    }
}
