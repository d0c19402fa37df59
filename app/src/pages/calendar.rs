//! The freeze calendar: the environment's freezes (one-off and recurring, from the
//! configuration) over the next 30 days, as a day-by-day strip and a list in each freeze's
//! own time zone. While one holds, changes wait (an admin may go through with a reason) and
//! the transitions into the pipelines' Deploy stages are closed.

use leptos::prelude::*;

use crate::api::locks::freeze_calendar;
use crate::components::overview::{PageTitle, use_environment_name};

#[component]
pub fn CalendarPage() -> impl IntoView {
    let env = use_environment_name();
    let calendar = Resource::new(move || env.get(), freeze_calendar);
    view! {
        <PageTitle area="Freeze calendar" />
        <h1>"Freeze calendar"</h1>
        <p class="lede">
            "While a freeze holds, change requests and pipeline controls wait (an admin may go through, saying why), "
            "and Rollgate closes the transition into each Deploy stage, so a release started by a push waits at the gate too; "
            "it opens them again when the freeze ends."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let c = calendar.await?;
                let days = c
                    .days
                    .into_iter()
                    .map(|d| view! { <li class=format!("day {}", d.frozen) data-date=d.date.clone() title=d.date.clone()>{d.label}</li> })
                    .collect_view();
                let list = if c.windows.is_empty() {
                    leptos::either::Either::Left(view! { <p class="muted">"No freeze in the next 30 days."</p> })
                } else {
                    let rows = c
                        .windows
                        .into_iter()
                        .map(|w| view! {
                            <tr class:now=w.holds_now>
                                <td>{w.reason}</td>
                                <td><span title=w.starts_utc>{w.starts}</span></td>
                                <td><span title=w.ends_utc>{w.ends}</span></td>
                            </tr>
                        })
                        .collect_view();
                    leptos::either::Either::Right(view! {
                        <table class="table freezes">
                            <thead><tr><th>"Freeze"</th><th>"From"</th><th>"Until"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    })
                };
                Ok::<_, crate::error::ApiError>(view! {
                    {c.holding.map(|h| view! { <p class="notice warn" role="status">{h}</p> })}
                    <section class="card">
                        <h2>"The next 30 days"</h2>
                        <ol class="days" aria-label="Days, frozen or not">{days}</ol>
                        {list}
                    </section>
                })
            })}
        </Suspense>
    }
}
