//! The Kubernetes API server's front door: `/version` and the health endpoints answer as a
//! real API server does, and every other path gets a `Status` object, so clients fail with
//! the error they would get from a cluster that does not serve the resource.

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

/// The Kubernetes minor version the sandbox speaks.
pub const MINOR: &str = "32";

pub fn router() -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .fallback(not_found)
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

async fn ok() -> &'static str {
    "ok"
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        })),
    )
}
