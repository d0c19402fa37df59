//! `/{env}/notifications`: where the environment's notifications go, a test button per
//! target, and the delivery log: every notification with each attempt and what the receiver
//! answered.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::notifications::{SendTestNotification, get_notifications};
use crate::components::form_error::FormError;
use crate::components::live::utc;
use crate::components::overview::{PageTitle, page_status, use_environment_name};
use crate::error::ApiError;
use crate::model::notifications::{DeliveryView, NotificationsView};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let env = use_environment_name();
    let notifications = Resource::new(move || env.get(), get_notifications);
    view! {
        <PageTitle area="Notifications" />
        <h1>"Notifications"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let n = notifications.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Notifications n /> })
            })}
        </Suspense>
    }
}

#[component]
fn Notifications(n: NotificationsView) -> impl IntoView {
    let back = format!("/{}/notifications", n.env);
    let targets = if n.targets.is_empty() {
        Either::Left(view! {
            <p class="empty">
                "No notifications are configured here: add [[environment.notify]] targets (see rollgate.example.toml)."
            </p>
        })
    } else {
        let rows = n
            .targets
            .iter()
            .map(|t| {
                let test = match &n.may_test {
                    None => Either::Left(view! {
                        <form method="post" action=SendTestNotification::PATH class="inline" data-action="test">
                            <input type="hidden" name="env" value=n.env.clone() />
                            <input type="hidden" name="target" value=t.name.clone() />
                            <input type="hidden" name="return_to" value=back.clone() />
                            <button type="submit">{format!("Send a test to {}", t.name)}</button>
                        </form>
                    }),
                    Some(why) => Either::Right(view! { <span class="muted" title=why.clone()>"—"</span> }),
                };
                view! {
                    <tr data-target=t.name.clone()>
                        <th scope="row">{t.name.clone()}</th>
                        <td>{t.kind.clone()}</td>
                        <td>{t.events.clone()}</td>
                        <td>{test}</td>
                    </tr>
                }
            })
            .collect_view();
        Either::Right(view! {
            <FormError path=SendTestNotification::PATH />
            <div class="table-scroll">
                <table class="table targets">
                    <thead>
                        <tr>
                            <th scope="col">"Target"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Events"</th>
                            <th scope="col"></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        })
    };
    let log = if n.deliveries.is_empty() {
        Either::Left(view! { <p class="empty">"Nothing has been sent yet."</p> })
    } else {
        let rows = n.deliveries.iter().map(|d| view! { <LogRow d=d.clone() /> }).collect_view();
        Either::Right(view! {
            <div class="table-scroll">
                <table class="table delivery-log">
                    <thead>
                        <tr>
                            <th scope="col">"Noticed"</th>
                            <th scope="col">"Target"</th>
                            <th scope="col">"Event"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Attempts and answers"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        })
    };
    view! {
        <section class="card">
            <h2>"Targets"</h2>
            {targets}
        </section>
        <section class="card">
            <h2>"Delivery log"</h2>
            <p class="muted">
                "Each notification is sent once across replicas; an answer other than 2xx is retried with doubling waits, across restarts."
            </p>
            {log}
        </section>
    }
}

#[component]
fn LogRow(d: DeliveryView) -> impl IntoView {
    let class = match d.state.as_str() {
        "delivered" => "chip ok",
        "failed" => "chip bad",
        _ => "chip neutral",
    };
    let attempts = d
        .attempts
        .iter()
        .map(|a| {
            let status = a.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
            view! {
                <li data-attempt=a.attempt data-status=status.clone()>
                    {format!("#{} {} · {status}", a.attempt, utc(a.at_ms))}
                    {(!a.answer.is_empty()).then(|| view! { " · " <code>{a.answer.clone()}</code> })}
                    <span class="muted">{format!(" ({})", a.replica)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <tr data-event=d.event.clone() data-target=d.target.clone() data-state=d.state.clone()>
            <td>{utc(d.created_ms)}</td>
            <td>{d.target.clone()}</td>
            <td><strong>{d.event.clone()}</strong> " " {d.title.clone()}</td>
            <td>
                <span class=class>{d.state.clone()}</span>
                {d.next_ms.map(|t| view! { <div class="muted">{format!("next try {}", utc(t))}</div> })}
            </td>
            <td><ul class="plain attempts">{attempts}</ul></td>
        </tr>
    }
}
