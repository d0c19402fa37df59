//! The frame around every environment page.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::use_location;

use crate::api::{get_environment_overview, list_environments, who_am_i};
use crate::components::overview::{OverviewResource, use_environment_name};
use crate::components::theme_toggle::ThemeToggle;
use crate::model::EnvironmentSummary;

/// The areas of an environment, in navigation order: (path segment, label).
pub const AREAS: [(&str, &str); 8] = [
    ("pipelines", "Pipelines"),
    ("deployments", "Deployments"),
    ("tokens", "Tokens"),
    ("approvals", "Approvals"),
    ("blocked", "Blocked"),
    ("delivery", "Delivery"),
    ("notifications", "Notifications"),
    ("audit", "Audit"),
];

#[component]
pub fn EnvironmentLayout() -> impl IntoView {
    let env = use_environment_name();
    let overview = Resource::new(move || env.get(), get_environment_overview);
    provide_context(OverviewResource(overview));

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <Brand />
            <EnvironmentSwitcher env />
            <nav class="areas" aria-label="Areas">
                {AREAS
                    .into_iter()
                    .map(|(segment, label)| {
                        view! { <A href=move || format!("/{}/{segment}", env.get())>{label}</A> }
                    })
                    .collect_view()}
            </nav>
            <UserMenu />
            <ThemeToggle />
        </header>
        <main id="main" class="page">
            <ErrorBoundary fallback=|errors| {
                view! {
                    <section class="error-panel" role="alert">
                        <h1>"This page could not be shown"</h1>
                        <ul>
                            {move || {
                                errors
                                    .get()
                                    .into_iter()
                                    .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                    .collect_view()
                            }}
                        </ul>
                        <p>
                            <a href="/overview">"Go to the overview"</a>
                        </p>
                    </section>
                }
            }>
                <Outlet />
            </ErrorBoundary>
        </main>
    }
}

/// The pages about every environment at once (the Overview): the same frame, with the
/// environments to go to in place of one environment's areas.
#[component]
pub fn SiteLayout() -> impl IntoView {
    let environments = Resource::new(|| (), |_| list_environments());
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <Brand />
            <nav class="areas" aria-label="Areas">
                <A href="/overview" exact=true>"Overview"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        environments
                            .await
                            .map(|list| {
                                list.into_iter()
                                    .map(|e| view! { <a href=format!("/{}/pipelines", e.name)>{e.title}</a> })
                                    .collect_view()
                            })
                    })}
                </Transition>
            </nav>
            <UserMenu />
            <ThemeToggle />
        </header>
        <main id="main" class="page">
            <Outlet />
        </main>
    }
}

#[component]
fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/overview">
            <span class="brand-mark" aria-hidden="true"></span>
            "Rollgate"
        </a>
    }
}

/// Who is signed in, and the way out (a plain form: it works before hydration too).
#[component]
fn UserMenu() -> impl IntoView {
    let me = Resource::new(|| (), |_| who_am_i());
    // Outside an environment (the Overview) there is no role to show.
    let overview = use_context::<OverviewResource>().map(|o| o.0);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let role = match overview {
                    Some(o) => o.await.ok().map(|o| o.access.role),
                    None => None,
                };
                me.await
                    .ok()
                    .map(|user| {
                        view! {
                            <form class="user-menu" method="post" action="/auth/sign-out">
                                <span class="user-name" title="Signed in">{user}</span>
                                {role.map(|r| view! { <span class="badge role">{r}</span> })}
                                <button type="submit" class="link">"Sign out"</button>
                            </form>
                        }
                    })
            })}
        </Transition>
    }
}

/// A disclosure listing the environments; choosing one keeps the current area.
#[component]
fn EnvironmentSwitcher(env: Memo<String>) -> impl IntoView {
    let environments = Resource::new(|| (), |_| list_environments());
    let location = use_location();
    let area = Memo::new(move |_| {
        let path = location.pathname.get();
        path.split('/').nth(2).filter(|s| !s.is_empty()).unwrap_or("pipelines").to_owned()
    });

    view! {
        <details class="env-switcher">
            <summary>
                <span class="env-switcher-label">"Environment"</span>
                <Transition fallback=move || view! { <span class="env-name">{env.get()}</span> }>
                    {move || Suspend::new(async move {
                        let list = environments.await.unwrap_or_default();
                        let current = list.iter().find(|e| e.name == env.get()).cloned();
                        let title = current.as_ref().map(|e| e.title.clone()).unwrap_or_else(|| env.get());
                        let protected = current.is_some_and(|e| e.protected);
                        view! {
                            <span class="env-name">{title}</span>
                            {protected.then(|| view! { <span class="badge protected">"protected"</span> })}
                        }
                    })}
                </Transition>
            </summary>
            <ul class="env-list">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        environments
                            .await
                            .map(|list| {
                                list.into_iter()
                                    .map(|e| view! { <EnvironmentLink e env area /> })
                                    .collect_view()
                            })
                    })}
                </Transition>
            </ul>
        </details>
    }
}

#[component]
fn EnvironmentLink(e: EnvironmentSummary, env: Memo<String>, area: Memo<String>) -> impl IntoView {
    let name = e.name.clone();
    let current = move || (env.get() == name).then_some("page");
    let href = {
        let name = e.name.clone();
        move || format!("/{name}/{}", area.get())
    };
    view! {
        <li>
            <a href=href aria-current=current>
                {e.title}
                {e.protected.then(|| view! { <span class="badge protected">"protected"</span> })}
            </a>
        </li>
    }
}
