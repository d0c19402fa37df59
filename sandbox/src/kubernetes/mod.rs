//! The simulated Kubernetes API server.
//!
//! - `resources`: the served types (group, version, kind, plural, short names, subresources).
//! - `store`: the objects, one resource-version counter, and the change log watches replay.
//! - `object`: an object as stored: its serialized JSON and the fields controllers read.
//! - `api`: the resource endpoints and their verbs, including watch streams.
//! - `patch`: merge, JSON and strategic merge patches.
//! - `protobuf`: Kubernetes' protobuf encoding of request and reply bodies.
//! - `logs`: container logs produced from each container's spec.
//! - `selectors`: label and field selectors.
//! - `shape`: the validation an object passes before it is stored.
//! - `defaults`: the defaults the API server fills in as it stores an object.
//! - `discovery`: `/api`, `/apis` and the resource lists kubectl resolves short names from.
//! - `openapi`: the OpenAPI v3 documents kubectl checks before writing from files.
//! - `table`: the columns `kubectl get` prints.
//! - `rbac`: who may do what: Roles, ClusterRoles and their bindings, and access reviews.
//! - `status`: errors as `Status` objects.
//! - `stream`: streamed responses (watches, followed logs).
//! - `controllers`: the deployment and replica set controllers and the simulated kubelet.
//! - `demo`: the demo world's applications and their release history.
//!
//! Objects are kept as JSON in the shapes of the Kubernetes API (the `k8s-openapi` types),
//! so every client sees exactly what it would see from a real API server.

mod api;
mod auth;
pub(crate) mod controllers;
mod defaults;
pub(crate) mod demo;
mod discovery;
mod logs;
mod object;
mod openapi;
mod patch;
mod protobuf;
mod rbac;
mod resources;
mod selectors;
mod shape;
mod status;
mod store;
mod stream;
mod table;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;

pub use api::Cluster;
pub use auth::Tokens;
pub use store::Store;
/// Timestamps as Kubernetes writes them, also used for commit dates in the sandbox's CodePipeline.
pub(crate) use store::rfc3339;

use status::ApiError;

/// The Kubernetes minor version the sandbox speaks.
pub const MINOR: &str = "32";

/// Namespaces every cluster starts with, and the demo world's environments.
const SEEDED_NAMESPACES: [&str; 4] = ["default", "kube-system", "staging", "production"];

/// The ServiceAccount a release process deploys with (the walk-through's Lambda holds a token
/// of one like it), in each environment's namespace.
pub const DEPLOYER_SERVICE_ACCOUNT: &str = "rollgate-deployer";

impl Cluster {
    /// A cluster with the seeded namespaces and their service accounts.
    pub fn seeded() -> Self {
        let store = Store::new();
        let find = |plural| resources::lookup("", "v1", plural).expect("a served core resource");
        for name in SEEDED_NAMESPACES {
            let namespace = json!({ "metadata": { "name": name }, "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": "Active" } });
            // The store is empty and the names are valid: creating these cannot fail.
            let _ = store.create(find("namespaces"), "", namespace);
            let _ = store.create(find("serviceaccounts"), name, json!({ "metadata": { "name": "default" } }));
        }
        for name in ["staging", "production"] {
            let account = json!({ "metadata": { "name": DEPLOYER_SERVICE_ACCOUNT } });
            let _ = store.create(find("serviceaccounts"), name, account);
        }
        Self { store, tokens: Tokens::new(), requests: Default::default() }
    }
}

/// `/version` and the health endpoints are public, as on a real cluster; everything under
/// `/api` and `/apis` needs a bearer token.
pub fn router(cluster: Cluster) -> Router {
    let authenticated = Router::new()
        .route("/api", get(core_versions))
        .route("/apis", get(|| async { Json(discovery::group_list()) }))
        .route("/api/{*rest}", any(api::handle))
        .route("/apis/{*rest}", any(api::handle))
        .route("/openapi/v3", get(|| async { Json(openapi::root()) }))
        .route("/openapi/v3/{*path}", get(openapi_document))
        .route_layer(middleware::from_fn_with_state(cluster.clone(), authenticate));
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .merge(authenticated)
        .fallback(|| async { ApiError::path_not_found() })
        .with_state(cluster)
}

/// Who is calling travels to the handlers, which authorize each request (`rbac`).
async fn authenticate(State(cluster): State<Cluster>, mut request: Request, next: Next) -> Response {
    cluster.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match cluster.tokens.authenticate(request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(unauthorized) => unauthorized.into_response(),
    }
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({
        "major": "1",
        "minor": MINOR,
        "gitVersion": format!("v1.{MINOR}.0-rollgate-sandbox"),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": "linux/amd64",
    }))
}

async fn openapi_document(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let document = match parts.as_slice() {
        ["api", version] => openapi::group_version("", version),
        ["apis", group, version] => openapi::group_version(group, version),
        _ => None,
    };
    match document {
        Some(document) => Json(document).into_response(),
        None => ApiError::path_not_found().into_response(),
    }
}

async fn ok() -> &'static str {
    "ok"
}

async fn core_versions(State(_): State<Cluster>, request: Request) -> impl IntoResponse {
    let host =
        request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    Json(discovery::core_versions(&host))
}

/// Creates `object`, or replaces the one of that kind and name, as the cluster's admin would
/// with `kubectl apply`. Errors are the API's messages.
pub(crate) fn apply(store: &Store, object: serde_json::Value) -> Result<(), String> {
    let field = |pointer: &str| object.pointer(pointer).and_then(serde_json::Value::as_str).unwrap_or("");
    let (api_version, kind) = (field("/apiVersion"), field("/kind"));
    let rt = resources::TYPES
        .iter()
        .find(|t| t.kind == kind && t.api_version() == api_version)
        .ok_or_else(|| format!("the sandbox does not serve {api_version} {kind}"))?;
    let namespace = if rt.namespaced { field("/metadata/namespace").to_owned() } else { String::new() };
    let name = field("/metadata/name").to_owned();
    let result = match store.create(rt, &namespace, object.clone()) {
        Err(e) if e.reason == "AlreadyExists" => store.update(rt, &namespace, &name, object, false),
        other => other,
    };
    result.map(drop).map_err(|e| e.message)
}

/// In-process access for the sandbox's CodePipeline Deploy action: it reads a deployment and
/// changes it through the store with a strategic merge patch, exactly as a PATCH through the
/// API would, so the controllers roll the change out. Errors are the API's messages.
pub(crate) fn deployment(
    store: &Store,
    namespace: &str,
    name: &str,
) -> Result<std::sync::Arc<serde_json::Value>, String> {
    store
        .get(controllers::deployments(), namespace, name)
        .map(|d| std::sync::Arc::new(d.value()))
        .map_err(|e| e.message)
}

/// See [`deployment`].
pub(crate) fn patch_deployment(
    store: &Store,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<std::sync::Arc<serde_json::Value>, String> {
    store
        .modify(controllers::deployments(), namespace, name, false, |d| {
            patch::strategic_merge_patch(d, patch)
        })
        .map_err(|e| e.message)
}
