//! The HTML document and the routes.
//!
//! Every area lives under its environment (`/staging/deployments`), so a link always says which
//! environment it is about and the switcher only swaps the first segment.

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::components::hydrated_mark::HydratedMark;
use crate::components::layout::{EnvironmentLayout, SiteLayout};
use crate::pages::{
    approvals::ApprovalsPage, audit::AuditPage, blocked::BlockedPage, calendar::CalendarPage,
    delivery::DeliveryPage, deployment::DeploymentPage, deployments::DeploymentsPage, home::Home,
    logs::LogsPage, not_found::NotFound, notifications::NotificationsPage, overview::EnvironmentComparePage,
    overview::OverviewPage, pipeline::PipelinePage, pipeline_compare::PipelineComparePage,
    pipelines::PipelinesPage, rollback::RollbackPage, sign_in::SignInPage, tokens::TokensPage,
};

/// The server-rendered document around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme_from_request()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
                <HydratedMark />
            </body>
        </html>
    }
}

/// The theme the visitor chose earlier, read from the request so the first paint is right.
fn theme_from_request() -> Option<&'static str> {
    #[cfg(feature = "ssr")]
    {
        crate::api::request_cookie(crate::components::theme_toggle::THEME_COOKIE).and_then(
            |value| match value.as_str() {
                "dark" => Some("dark"),
                "light" => Some("light"),
                _ => None,
            },
        )
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Rollgate".to_owned() } else { format!("{page} · Rollgate") }
        } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home ssr=SsrMode::Async />
                <Route path=path!("/sign-in") view=SignInPage />
                // Before `/:env`: an environment cannot be named "overview" (the configuration
                // refuses it).
                <ParentRoute path=path!("/overview") view=SiteLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=OverviewPage />
                    <Route path=path!("/compare") view=EnvironmentComparePage />
                </ParentRoute>
                <ParentRoute path=path!("/:env") view=EnvironmentLayout ssr=SsrMode::Async>
                    <Route path=path!("/pipelines") view=PipelinesPage />
                    <Route path=path!("/pipelines/:name") view=PipelinePage />
                    <Route path=path!("/pipelines/:name/compare") view=PipelineComparePage />
                    <Route path=path!("/deployments") view=DeploymentsPage />
                    <Route path=path!("/deployments/:namespace/:name") view=DeploymentPage />
                    <Route
                        path=path!("/deployments/:namespace/:name/rollback/:revision")
                        view=RollbackPage
                    />
                    <Route path=path!("/deployments/:namespace/:name/logs") view=LogsPage />
                    <Route path=path!("/tokens") view=TokensPage />
                    <Route path=path!("/approvals") view=ApprovalsPage />
                    <Route path=path!("/blocked") view=BlockedPage />
                    <Route path=path!("/calendar") view=CalendarPage />
                    <Route path=path!("/delivery") view=DeliveryPage />
                    <Route path=path!("/notifications") view=NotificationsPage />
                    <Route path=path!("/audit") view=AuditPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
