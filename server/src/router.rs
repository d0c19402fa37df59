//! Every HTTP route and the middleware around them.
//!
//! - `/healthz`, `/readyz`: health; `/metrics`: see [`crate::metrics`].
//! - `/sign-in` (a page), `/auth/sign-in` and `/auth/sign-out` (form posts): see [`crate::auth`].
//! - `/auth/oidc/start` and `/auth/oidc/callback`: single sign-on, see [`crate::oidc`].
//! - `/{env}/audit/export`: the audit trail as CSV or JSON.
//! - `/{env}/delivery/export`: the rollouts behind the delivery figures as CSV.
//! - `/{env}/deployments/{namespace}/{deployment}/logs/download`: pod logs as a file, whole.
//! - `/live/{env}/deployments`: the deployments as server-sent events ([`crate::live`]).
//! - `/live/{env}/deployments/{namespace}/{deployment}/logs`: pod logs as server-sent events
//!   ([`crate::log_stream`]).
//! - `/live/{env}/pipelines[/{name}]`: the pipelines, or one, as server-sent events
//!   ([`crate::pipeline_stream`]).
//! - `/pkg/*`: the compiled wasm, JS and CSS. Release builds carry a content hash in their
//!   names, so they are cached for a year as immutable (unhashed builds revalidate), and come
//!   with brotli files that cargo-leptos compressed once at maximum quality.
//! - the pages and server functions Leptos generates, each handed the [`Portal`].
//! - anything else: a file from the site root (favicon), or the 404 page.
//!
//! Around all of it, outermost first: an `x-request-id` (kept when the client sent one) on the
//! request, its span and the response; a trace span per request (with the signed-in user);
//! gzip/brotli compression; the request metrics; the security headers and the same-origin check of
//! [`crate::security`]; finding out who is asking ([`crate::auth::identify`]); then moving a
//! failed form post's error from the URL into a cookie ([`crate::flash`]).

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use backend::Portal;
use backend::policy::Permission;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::{self, MetricsToken};
use crate::oidc::SsoState;
use crate::streams::Closing;
use crate::{
    audit_export, auth, delivery_export, flash, health, live, log_stream, oidc, pipeline_stream, security,
};

/// What axum hands to handlers: Leptos's options for rendering, the portal for everything else.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub portal: Portal,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Portal {
    fn from_ref(state: &AppState) -> Self {
        state.portal.clone()
    }
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, signing in and out, single sign-on.
    Public,
    /// Someone whose role in the path's `{env}` carries the permission.
    InEnvironment(Permission),
    /// Whoever holds `metrics.bearer_token` (a session is not enough); nobody without one.
    MetricsToken,
}

/// One of Rollgate's own HTTP routes.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

/// Rollgate's own HTTP routes, besides the pages and server functions Leptos generates (and
/// the compiled site): the one list the router is built from and the route-table test reads,
/// so a new route cannot be left out of the access checks.
pub fn routes() -> Vec<Route> {
    use Access::*;
    let route = |method: Method, path, access, handler| Route { method, path, access, handler };
    let view = InEnvironment(Permission::View);
    vec![
        route(Method::GET, "/healthz", Public, get(health::live)),
        route(Method::GET, "/readyz", Public, get(health::ready)),
        route(Method::GET, "/metrics", MetricsToken, get(metrics::bearer_only)),
        route(Method::POST, "/auth/sign-in", Public, post(auth::sign_in_form)),
        route(Method::POST, "/auth/sign-out", Public, post(auth::sign_out_form)),
        route(Method::GET, "/auth/oidc/start", Public, get(oidc::start)),
        route(Method::GET, oidc::CALLBACK_PATH, Public, get(oidc::callback)),
        route(Method::GET, "/{env}/audit/export", view, get(audit_export::export)),
        route(Method::GET, "/{env}/delivery/export", view, get(delivery_export::export)),
        route(Method::GET, "/live/{env}/deployments", view, get(live::deployments)),
        route(
            Method::GET,
            "/live/{env}/deployments/{namespace}/{deployment}/logs",
            view,
            get(log_stream::stream),
        ),
        route(
            Method::GET,
            "/{env}/deployments/{namespace}/{deployment}/logs/download",
            view,
            get(log_stream::download),
        ),
        route(Method::GET, "/live/{env}/pipelines", view, get(pipeline_stream::pipelines)),
        route(Method::GET, "/live/{env}/pipelines/{name}", view, get(pipeline_stream::pipeline)),
    ]
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn build(
    portal: Portal,
    options: LeptosOptions,
    sso: SsoState,
    closing: Closing,
    metrics_token: MetricsToken,
) -> Router {
    let pages = generate_route_list(app::App);
    let state = AppState { leptos_options: options.clone(), portal: portal.clone() };
    let context = {
        let portal = portal.clone();
        move || {
            provide_context(portal.clone());
            security::provide_page_nonce();
        }
    };

    let pkg_cache = if options.hash_files { IMMUTABLE } else { REVALIDATE };
    let pkg = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(pkg_cache)))
        .service(
            ServeDir::new(format!("{}/{}", options.site_root, options.site_pkg_dir))
                // cargo-leptos's .gz files are larger than what the compression layer makes.
                .precompressed_br(),
        );

    let request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-");
            // The path only: query strings may carry things that do not belong in logs.
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %id,
                user = tracing::field::Empty
            )
        }))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CompressionLayer::new());

    routes()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
        .nest_service("/pkg", pkg)
        .leptos_routes_with_context(&state, pages, context.clone(), {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell))
        .with_state(state)
        .layer(axum::Extension(closing))
        .layer(axum::Extension(sso))
        .layer(axum::Extension(metrics_token))
        .layer(from_fn_with_state(portal.clone(), flash::carry_errors))
        .layer(from_fn_with_state(portal.clone(), auth::identify))
        .layer(from_fn_with_state(portal.clone(), security::same_origin_only))
        .layer(from_fn_with_state(portal, security::headers))
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(middleware)
}
