//! `/metrics` (Prometheus text format) and the HTTP request metrics.
//!
//! Served on `metrics.listen` alone, by a second listener ([`router`]), or on the main address
//! to requests bearing `metrics.bearer_token` ([`bearer_only`]). With neither configured the
//! main address answers 404: the metrics are never public by accident.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use backend::Portal;

/// The bearer token `/metrics` on the main address asks for; none: not served there.
#[derive(Clone, Default)]
pub struct MetricsToken(pub Option<Arc<str>>);

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn scrape(portal: &Portal) -> Response {
    let world = portal.metrics_world().await;
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], backend::metrics::encode(&world)).into_response()
}

/// `GET /metrics` on the main address.
pub async fn bearer_only(
    State(portal): State<Portal>,
    Extension(token): Extension<MetricsToken>,
    headers: HeaderMap,
) -> Response {
    let Some(expected) = token.0 else {
        return (
            StatusCode::NOT_FOUND,
            "Metrics are not served on this address (see [metrics] in the configuration).",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.as_bytes(), expected.as_bytes()) => scrape(&portal).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "The metrics need the bearer token that metrics.bearer_token names.",
        )
            .into_response(),
    }
}

/// Equal-length inputs take the same time whatever they hold: a guess that is partly right
/// does not answer faster or slower.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What `metrics.listen` serves: `/metrics` alone.
pub fn router(portal: Portal) -> Router {
    Router::new()
        .route("/metrics", get(|State(portal): State<Portal>| async move { scrape(&portal).await }))
        .with_state(portal)
}

/// Counts and times every request by the route it matched (the declared path, so a label
/// never holds a name someone typed), its method and its status.
pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    backend::metrics::http_request(&route, method, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        assert!(super::same(b"secret", b"secret"));
        assert!(!super::same(b"secret", b"secreT"));
        assert!(!super::same(b"secret", b"secret2"));
        assert!(!super::same(b"", b"x"));
    }
}
