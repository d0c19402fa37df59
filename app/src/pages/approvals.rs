//! Approvals: what needs a second pair of eyes before it changes an environment.

use leptos::prelude::*;

use crate::components::overview::{PageTitle, WithOverview};
use crate::model::EnvironmentOverview;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    view! {
        <PageTitle area="Approvals" />
        <h1>"Approvals"</h1>
        <WithOverview render=render />
    }
}

fn render(o: EnvironmentOverview) -> AnyView {
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
        <section class="card">
            <div class="card-row">
                <h2>"Inbox"</h2>
                <span class="chip neutral">"Not connected"</span>
            </div>
            <p class="muted">
                "Change requests need signed-in users and the team store, and pipeline approvals need CodePipeline; neither is connected in this build, so there is nothing to approve here."
            </p>
        </section>
    }
    .into_any()
}
