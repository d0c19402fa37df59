//! The AWS JSON 1.1 front door shared by the simulated CodePipeline and SSM: requests are
//! `POST /` with `X-Amz-Target: <service prefix>.<Operation>`; errors are
//! `{"__type": ..., "message": ...}` with the exception names and status codes AWS uses.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

#[derive(Debug, Clone, Copy)]
pub enum Service {
    CodePipeline,
    Ssm,
}

impl Service {
    fn target_prefix(self) -> &'static str {
        match self {
            Service::CodePipeline => "CodePipeline_20150709",
            Service::Ssm => "AmazonSSM",
        }
    }
}

pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", post(move |headers: HeaderMap| async move { dispatch(service, &headers) }))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "AWS JSON services are served at POST /",
            )
        })
}

fn dispatch(service: Service, headers: &HeaderMap) -> Response {
    let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) else {
        return error(StatusCode::BAD_REQUEST, "MissingAction", "the X-Amz-Target header is required");
    };
    let operation = target.strip_prefix(service.target_prefix()).and_then(|rest| rest.strip_prefix('.'));
    match operation {
        Some(op) => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("{op} is not served by this sandbox"),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("{target} is not an operation of {}", service.target_prefix()),
        ),
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}
