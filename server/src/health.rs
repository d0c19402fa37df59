//! `/healthz` says the process serves; `/readyz` says whether every upstream answered its last
//! check and the process is not shutting down: its status code and `ready` for anyone (an orchestrator has no session), and to a
//! signed-in person also which upstream failed and why. Those details name environments,
//! internal endpoints and error texts, which are nobody else's business.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use backend::Portal;
use backend::auth::Visitor;
use backend::upstream::Reachability;
use serde::Serialize;

use crate::streams::Closing;

pub async fn live() -> &'static str {
    "ok"
}

#[derive(Serialize)]
pub struct Readiness {
    ready: bool,
    /// Shutting down: finishing what runs, taking nothing new (see `drain_seconds`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    draining: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstreams: Option<Vec<UpstreamReadiness>>,
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

pub async fn ready(
    State(portal): State<Portal>,
    Extension(closing): Extension<Closing>,
    visitor: Option<Extension<Visitor>>,
) -> (StatusCode, Json<Readiness>) {
    let draining = closing.is_closed();
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
    let ready = !draining && upstreams.iter().all(|u| u.state == "reachable");
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let signed_in = visitor.is_some_and(|Extension(v)| v.user.is_some());
    (status, Json(Readiness { ready, draining, upstreams: signed_in.then_some(upstreams) }))
}

/// A minimal HTTP/1.1 `GET /healthz` against a running portal, for `rollgate healthcheck`.
/// An unspecified listen address (0.0.0.0) is asked on loopback.
pub fn probe_liveness(listen: SocketAddr) -> Result<(), String> {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(3);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| format!("no answer from {addr}: {e}"))?;
    match &head[9..12] {
        b"200" => Ok(()),
        status => Err(format!("{addr} answered /healthz with status {}", String::from_utf8_lossy(status))),
    }
}
