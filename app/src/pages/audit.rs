//! Audit: who did what, when, with which commit.

use leptos::prelude::*;

use crate::components::overview::{PageTitle, WithOverview};
use crate::model::EnvironmentOverview;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <PageTitle area="Audit" />
        <h1>"Audit"</h1>
        <WithOverview render=render />
    }
}

fn render(o: EnvironmentOverview) -> AnyView {
    view! {
        <p class="lede">
            "The audit trail of " <strong>{o.summary.title.clone()}</strong>
            " is kept in Rollgate's store."
        </p>
        <section class="card">
            <div class="card-row">
                <h2>"Store"</h2>
                <span class="chip neutral">"Not connected"</span>
            </div>
            <dl class="facts">
                <dt>"Database"</dt>
                <dd>
                    <code>{o.database}</code>
                </dd>
            </dl>
            <p class="muted">
                "This build does not open the store, so no actions are recorded yet and there are no records to show."
            </p>
        </section>
    }
    .into_any()
}
