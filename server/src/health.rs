//! `/healthz` says the process serves; `/readyz` says whether every upstream answered its last
//! check, with the details, so an orchestrator and a person read the same thing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use backend::Portal;
use backend::upstream::Reachability;
use serde::Serialize;

pub async fn live() -> &'static str {
    "ok"
}

#[derive(Serialize)]
pub struct Readiness {
    ready: bool,
    upstreams: Vec<UpstreamReadiness>,
}

#[derive(Serialize)]
struct UpstreamReadiness {
    environment: String,
    system: &'static str,
    endpoint: Option<String>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub async fn ready(State(portal): State<Portal>) -> (StatusCode, Json<Readiness>) {
    let upstreams: Vec<_> = portal
        .upstreams
        .snapshot()
        .into_iter()
        .map(|s| {
            let (state, reason) = match s.reachability {
                Reachability::NotChecked => ("not-checked", None),
                Reachability::Reachable { .. } => ("reachable", None),
                Reachability::Unreachable { reason, .. } => ("unreachable", Some(reason)),
                Reachability::Unresolved(reason) => ("unresolved", Some(reason)),
            };
            UpstreamReadiness {
                environment: s.environment,
                system: s.system.label(),
                endpoint: s.endpoint.map(|u| u.to_string()),
                state,
                reason,
            }
        })
        .collect();
    let ready = upstreams.iter().all(|u| u.state == "reachable");
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { ready, upstreams }))
}
