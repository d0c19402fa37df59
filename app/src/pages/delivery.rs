//! `/{env}/delivery`: the four delivery figures (DORA) of the environment's applications over
//! 7, 30 or 90 days, each with its trend against the period before, a chart for one
//! application with its figures beside it, its rollouts, a CSV export and the definitions.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::delivery::get_delivery;
use crate::components::bar_chart::{Bar, BarChart};
use crate::components::live::{duration, utc};
use crate::components::overview::{PageTitle, page_status, use_environment_name};
use crate::error::ApiError;
use crate::model::delivery::{AppDetail, AppFigures, DeliveryView, FiguresView, RolloutView};

#[component]
pub fn DeliveryPage() -> impl IntoView {
    let env = use_environment_name();
    let query = use_query_map();
    let key = move || {
        let q = query.read();
        (env.get(), q.get("days").unwrap_or_default(), q.get("app").unwrap_or_default())
    };
    let delivery = Resource::new(key, |(env, days, app)| get_delivery(env, days, app));
    view! {
        <PageTitle area="Delivery" />
        <h1>"Delivery"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let d = delivery.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Delivery d /> })
            })}
        </Suspense>
    }
}

#[component]
fn Delivery(d: DeliveryView) -> impl IntoView {
    let selected_app = d.selected.as_ref().map(|s| s.app.clone()).unwrap_or_default();
    let export = format!("/{}/delivery/export?days={}&app={}", d.env, d.days, selected_app);
    let options = d
        .apps
        .iter()
        .map(
            |a| view! { <option value=a.app.clone() selected=a.app == selected_app>{a.app.clone()}</option> },
        )
        .collect_view();
    let periods = [7, 30, 90]
        .map(|n| view! { <option value=n.to_string() selected=n == d.days>{format!("{n} days")}</option> })
        .into_iter()
        .collect_view();
    let problems = (!d.problems.is_empty()).then(|| {
        view! {
            <div class="notice warn" role="status">
                <p>"Some history could not be read; the figures leave it out:"</p>
                <ul>{d.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
            </div>
        }
    });
    let rows = d
        .apps
        .iter()
        .map(|a| view! { <SummaryRow a=a.clone() env=d.env.clone() days=d.days /> })
        .collect_view();
    view! {
        <form method="get" class="filters delivery-filters">
            <label>"Period" <select name="days">{periods}</select></label>
            <label>"Application" <select name="app">{options}</select></label>
            <button type="submit">"Show"</button>
            <a class="button" href=export download>"Export CSV"</a>
        </form>
        {problems}
        <section class="card">
            <h2>{format!("The last {} days, against the {} before", d.days, d.days)}</h2>
            <div class="table-scroll">
                <table class="table delivery-summary">
                    <thead>
                        <tr>
                            <th scope="col">"Application"</th>
                            <th scope="col">"Deployments"</th>
                            <th scope="col">"Lead time"</th>
                            <th scope="col">"Change failure rate"</th>
                            <th scope="col">"Time to restore"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
        {d.selected.clone().map(|s| {
            let figures = d.apps.iter().find(|a| a.app == s.app).cloned();
            view! { <Detail s figures days=d.days /> }
        })}
        <Definitions window=d.failure_window_hours />
    }
}

/// A figure and how it moved since the period before: `better_up` says which way is good.
fn trend(
    now: Option<f64>,
    before: Option<f64>,
    better_up: bool,
    shown: impl Fn(f64) -> String,
) -> impl IntoView {
    let text = match (now, before) {
        (Some(n), Some(b)) if (n - b).abs() < 1e-9 => ("same as before".to_owned(), "same"),
        (Some(n), Some(b)) => {
            let up = n > b;
            let class = if up == better_up { "better" } else { "worse" };
            (format!("{} from {}", if up { "▲" } else { "▼" }, shown(b)), class)
        }
        (Some(_), None) => ("nothing to compare with".to_owned(), "same"),
        (None, Some(b)) => (format!("was {}", shown(b)), "same"),
        (None, None) => (String::new(), "same"),
    };
    view! { <span class=format!("trend {}", text.1)>{text.0}</span> }
}

fn hours(ms: i64) -> String {
    duration(0, ms)
}

fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn deployments(f: &FiguresView) -> String {
    format!("{} ({:.2}/day)", f.deployments, f.per_day)
}

#[component]
fn SummaryRow(a: AppFigures, env: String, days: i64) -> impl IntoView {
    let (n, b) = (&a.now, &a.before);
    let lead = |ms: Option<i64>| ms.map(|m| m as f64);
    view! {
        <tr data-app=a.app.clone()>
            <th scope="row"><a href=format!("/{env}/delivery?days={days}&app={}", a.app)>{a.app.clone()}</a></th>
            <td data-figure="deployments">
                {deployments(n)} " "
                {trend(Some(n.deployments as f64), Some(b.deployments as f64), true, |v| format!("{v:.0}"))}
            </td>
            <td data-figure="lead-time">
                {n.lead_time_ms.map(hours).unwrap_or_else(|| "–".into())} " "
                {trend(lead(n.lead_time_ms), lead(b.lead_time_ms), false, |v| hours(v as i64))}
            </td>
            <td data-figure="failure-rate">
                {n.failure_rate.map(percent).unwrap_or_else(|| "–".into())}
                {format!(" ({} of {})", n.failed_changes, n.changes)} " "
                {trend(n.failure_rate, b.failure_rate, false, percent)}
            </td>
            <td data-figure="restore">
                {n.restore_ms.map(hours).unwrap_or_else(|| "–".into())} " "
                {trend(lead(n.restore_ms), lead(b.restore_ms), false, |v| hours(v as i64))}
            </td>
        </tr>
    }
}

#[component]
fn Detail(s: AppDetail, figures: Option<AppFigures>, days: i64) -> impl IntoView {
    let label = |from_ms: i64| utc(from_ms).chars().take(10).collect::<String>();
    let bars =
        |value: &dyn Fn(&FiguresView) -> Option<f64>, shown: &dyn Fn(&FiguresView) -> String| -> Vec<Bar> {
            s.buckets
                .iter()
                .map(|b| Bar { label: label(b.from_ms), value: value(&b.figures), shown: shown(&b.figures) })
                .collect()
        };
    let none = || "–".to_owned();
    let per_part = if days > 30 { "per 6 days" } else { "per day" };
    let charts = [
        (
            "deployments",
            format!("Deployments {per_part}"),
            "Deployments",
            bars(&|f| Some(f.deployments as f64), &|f| f.deployments.to_string()),
        ),
        (
            "lead-time",
            format!("Median lead time {per_part}"),
            "Lead time",
            bars(&|f| f.lead_time_ms.map(|m| m as f64 / 3_600_000.0), &|f| {
                f.lead_time_ms.map(hours).unwrap_or_else(none)
            }),
        ),
        (
            "failure-rate",
            format!("Change failure rate {per_part}"),
            "Failure rate",
            bars(&|f| f.failure_rate.map(|r| r * 100.0), &|f| {
                f.failure_rate.map(percent).unwrap_or_else(none)
            }),
        ),
        (
            "restore",
            format!("Median time to restore {per_part}"),
            "Time to restore",
            bars(&|f| f.restore_ms.map(|m| m as f64 / 3_600_000.0), &|f| {
                f.restore_ms.map(hours).unwrap_or_else(none)
            }),
        ),
    ];
    let headline = |id: &str| -> AnyView {
        let Some(f) = &figures else { return ().into_any() };
        let (n, b) = (&f.now, &f.before);
        let ms = |v: Option<i64>| v.map(|m| m as f64);
        match id {
            "deployments" => view! {
                {format!("{} in {days} days ", deployments(n))}
                {trend(Some(n.deployments as f64), Some(b.deployments as f64), true, |v| format!("{v:.0}"))}
            }
            .into_any(),
            "lead-time" => view! {
                {format!("Median {} ", n.lead_time_ms.map(hours).unwrap_or_else(|| "–".into()))}
                {trend(ms(n.lead_time_ms), ms(b.lead_time_ms), false, |v| hours(v as i64))}
            }
            .into_any(),
            "failure-rate" => view! {
                {format!(
                    "{} of {} changes failed ({}) ",
                    n.failed_changes,
                    n.changes,
                    n.failure_rate.map(percent).unwrap_or_else(|| "–".into())
                )}
                {trend(n.failure_rate, b.failure_rate, false, percent)}
            }
            .into_any(),
            _ => view! {
                {format!("Median {} over {} restore(s) ", n.restore_ms.map(hours).unwrap_or_else(|| "–".into()), n.restores)}
                {trend(ms(n.restore_ms), ms(b.restore_ms), false, |v| hours(v as i64))}
            }
            .into_any(),
        }
    };
    let charts = charts
        .into_iter()
        .map(|(id, title, column, bars)| {
            view! {
                <section class="card chart" data-metric=id>
                    <h3>{title.clone()}</h3>
                    <p class="headline">{headline(id)}</p>
                    <BarChart id=format!("chart-{id}") title column bars />
                </section>
            }
        })
        .collect_view();
    let rollouts = if s.rollouts.is_empty() {
        Either::Left(view! { <p class="empty">"No rollouts in this period."</p> })
    } else {
        Either::Right(view! { <Rollouts rollouts=s.rollouts.clone() /> })
    };
    view! {
        <h2 class="delivery-app" data-app=s.app.clone()>{s.app.clone()}</h2>
        <div class="charts">{charts}</div>
        <section class="card">
            <h3>"Rollouts"</h3>
            {rollouts}
        </section>
    }
}

#[component]
fn Rollouts(rollouts: Vec<RolloutView>) -> impl IntoView {
    let rows = rollouts
        .into_iter()
        .map(|r| {
            let restored = match (r.failed_change, r.restored_ms) {
                (true, Some(t)) => format!("restored after {}", hours(t - r.at_ms)),
                (true, None) => "not restored yet".to_owned(),
                _ => String::new(),
            };
            view! {
                <tr data-outcome=r.outcome.clone() data-failed=r.failed_change.to_string()>
                    <td>{utc(r.at_ms)}</td>
                    <td>{r.outcome.clone()}</td>
                    <td>
                        {r.commit.clone().map(|c| view! { <code class="commit">{c}</code> " " })}
                        {r.message.clone().unwrap_or_default()}
                    </td>
                    <td>{r.lead_time_ms.map(hours).unwrap_or_default()}</td>
                    <td>{if r.failed_change { "failed change" } else { "" }} " " {restored}</td>
                    <td class="muted">{r.source.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table rollouts">
                <thead>
                    <tr>
                        <th scope="col">"Finished"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Commit"</th>
                        <th scope="col">"Lead time"</th>
                        <th scope="col">"Counted as"</th>
                        <th scope="col">"Made by"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn Definitions(window: u32) -> impl IntoView {
    view! {
        <section class="card definitions">
            <h2>"How these are counted"</h2>
            <dl>
                <dt>"Deployment"</dt>
                <dd>
                    "A rollout that finished: a pipeline's deploy stage that succeeded (whoever started the execution, in Rollgate or not), "
                    "or a deploy or rollback made through Rollgate. Rollbacks are deployments too. "
                    "Deployments per day is their number over the days of the period."
                </dd>
                <dt>"Lead time for changes"</dt>
                <dd>
                    "From when a commit was authored to when it was running in the environment (its deployment finished). "
                    "The median over the period's deployments; rollbacks are left out, their commits are old on purpose."
                </dd>
                <dt>"Change failure rate"</dt>
                <dd>
                    {format!(
                        "The share of changes (deployments and failed rollouts) that failed: the rollout failed, or within {window} hours it was rolled back or a hotfix followed it (a deployment whose commit message begins with \"hotfix\" or \"revert\"). A rollback that is itself rolled back failed too. The window is delivery.failure_window_hours in the configuration."
                    )}
                </dd>
                <dt>"Time to restore"</dt>
                <dd>
                    "From a failed change to the deployment that ended the failure: the rollback or hotfix, or after a failed rollout the next deployment. "
                    "The median over the failures that began in the period and have ended."
                </dd>
                <dt>"Trend"</dt>
                <dd>"Each figure against the same number of days just before the period (▲ up, ▼ down; green where that is better)."</dd>
            </dl>
        </section>
    }
}
