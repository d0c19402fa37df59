//! The error every AWS operation returns: an exception name, its HTTP status and a message,
//! sent as `{"__type", "message"}` with the name also in `X-Amzn-ErrorType`, as AWS does.

use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AwsError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }

    /// A client error (HTTP 400), which is what almost every AWS exception is.
    pub fn client(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }

    /// AWS's wording for one failed field constraint.
    pub fn constraint(field: &str, value: impl std::fmt::Display, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    pub fn unknown_operation(message: &str) -> Self {
        Self::client("UnknownOperationException", message)
    }

    /// The body AWS sends for it.
    pub fn body(&self) -> serde_json::Value {
        json!({ "__type": self.kind, "message": self.message })
    }

    /// A body that is not the JSON the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (header::CONTENT_TYPE, "application/x-amz-json-1.1"),
                (HeaderName::from_static("x-amzn-errortype"), self.kind),
            ],
            self.body().to_string(),
        )
            .into_response()
    }
}
