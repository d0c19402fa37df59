//! Audit: who did what, when, from where, with which commit, and how it ended.
//!
//! The filters are a GET form, so a filtered view is a link that can be shared, and the
//! export links carry the same filter.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::audit::list_audit;
use crate::components::overview::PageTitle;
use crate::components::overview::use_environment_name;
use crate::model::{AuditPage as AuditData, AuditRow};

#[derive(Debug, Clone, PartialEq)]
struct Query {
    actor: String,
    action: String,
    from: String,
    until: String,
    page: i64,
}

impl Query {
    fn filter_string(&self) -> String {
        let pairs =
            [("actor", &self.actor), ("action", &self.action), ("from", &self.from), ("until", &self.until)];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let env = use_environment_name();
    // Read once: every filter and page change is a full page load (a GET form, and pager
    // links marked external), which keeps this page's wasm small.
    let query = {
        let p = use_query_map().get_untracked();
        let get = |k: &str| p.get(k).unwrap_or_default();
        Query {
            actor: get("actor"),
            action: get("action"),
            from: get("from"),
            until: get("until"),
            page: get("page").parse().unwrap_or(0),
        }
    };
    let records = Resource::new(move || env.get(), {
        let q = query.clone();
        move |env| list_audit(env, q.actor.clone(), q.action.clone(), q.from.clone(), q.until.clone(), q.page)
    });
    let env_name = env.get_untracked();
    let export = |format: &str| format!("/{env_name}/audit/export?format={format}&{}", query.filter_string());
    let (csv, json) = (export("csv"), export("json"));
    let table_query = query.clone();

    view! {
        <PageTitle area="Audit" />
        <h1>"Audit"</h1>
        <p class="lede">
            "Every change, approval and lock in " <strong>{env_name.clone()}</strong>
            ", newest first. Records are never edited or removed. Times are UTC."
        </p>
        <form class="card filters" method="get">
            <label>"User" <input name="actor" value=query.actor.clone() /></label>
            <label>
                "Action"
                <input name="action" list="audit-actions" value=query.action.clone() />
                <datalist id="audit-actions">
                    {[
                        "change.request",
                        "change.approve",
                        "change.reject",
                        "change.execute",
                        "change.expire",
                        "lock",
                        "unlock",
                        "token.create",
                        "token.rotate",
                        "token.label",
                        "token.delete",
                        "token.reveal",
                        "token.cluster.request",
                        "token.cluster.verify",
                        "token.cluster.write",
                        "token.cluster.switch",
                    ]
                        .into_iter()
                        .map(|a| view! { <option value=a></option> })
                        .collect_view()}
                </datalist>
            </label>
            <label>"From" <input name="from" type="datetime-local" value=query.from.clone() /></label>
            <label>"Until" <input name="until" type="datetime-local" value=query.until.clone() /></label>
            <button type="submit">"Filter"</button>
            <span class="exports">
                "Export: "
                <a
                    download
                    href=csv>
                    "CSV"
                </a>
                " · "
                <a
                    download
                    href=json>
                    "JSON"
                </a>
            </span>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let q = table_query.clone();
                Suspend::new(async move {
                records.await.map(|data| view! { <AuditTable data q env=env.get_untracked() /> })
            })}}
        </Suspense>
    }
}

#[component]
fn AuditTable(data: AuditData, q: Query, env: String) -> impl IntoView {
    let first = data.page * data.page_size;
    let shown = data.rows.len() as i64;
    let link = |page: i64| {
        let filter = Query { page, ..q.clone() }.filter_string();
        let sep = if filter.is_empty() { "" } else { "&" };
        format!("/{env}/audit?{filter}{sep}page={page}")
    };
    let prev = (data.page > 0).then(|| link(data.page - 1));
    let next = (first + shown < data.total).then(|| link(data.page + 1));
    if data.rows.is_empty() {
        return Either::Left(view! { <p class="muted">"No records match."</p> });
    }
    Either::Right(view! {
        <p class="muted">
            {format!("Records {}–{} of {}", first + 1, first + shown, data.total)}
        </p>
        <div class="table-scroll">
            <table class="audit">
                <thead>
                    <tr>
                        <th>"Time"</th>
                        <th>"User"</th>
                        <th>"Action"</th>
                        <th>"Target"</th>
                        <th>"Change"</th>
                        <th>"Commit"</th>
                        <th>"Result"</th>
                        <th>"From"</th>
                        <th>"Detail"</th>
                    </tr>
                </thead>
                <tbody>{data.rows.into_iter().map(|row| view! { <AuditLine row /> }).collect_view()}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {prev.map(|href| view! { <a href=href rel="prev external">"Newer"</a> })}
            {next.map(|href| view! { <a href=href rel="next external">"Older"</a> })}
        </nav>
    })
}

#[component]
fn AuditLine(row: AuditRow) -> impl IntoView {
    let change = match (&row.before, &row.after) {
        (None, None) => String::new(),
        (before, after) => {
            format!("{} → {}", before.as_deref().unwrap_or("–"), after.as_deref().unwrap_or("–"))
        }
    };
    let result_class = format!(
        "chip {}",
        match row.result.as_str() {
            "succeeded" => "ok",
            "refused" => "warn",
            _ => "bad",
        }
    );
    view! {
        <tr>
            <td>
                <time datetime=row.time.clone()>{row.time.clone()}</time>
            </td>
            <td>{row.actor}</td>
            <td>
                <code>{row.action}</code>
            </td>
            <td>{row.target.unwrap_or_default()}</td>
            <td class="change">{change}</td>
            <td>{row.commit.map(|c| view! { <code>{c}</code> })}</td>
            <td>
                <span class=result_class>{row.result}</span>
            </td>
            <td title=row.request_id.map(|r| format!("request {r}"))>{row.source_ip.unwrap_or_default()}</td>
            <td class="detail">{row.detail.unwrap_or_default()}</td>
        </tr>
    }
}
