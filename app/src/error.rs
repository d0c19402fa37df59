//! The error every server function returns. Variants carry what the page needs to say; the
//! transport failures of the server-function machinery are kept apart so the page can tell
//! "the server said no" from "the server could not be reached". Each variant has its HTTP
//! status ([`ApiError::status`]), which the server sets on the response.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("There is no environment named “{name}”. Configured: {known}.")]
    UnknownEnvironment { name: String, known: String },
    #[error("Sign in to continue.")]
    SignInRequired,
    /// Not allowed, with the reason and who is (from the policy).
    #[error("{0}")]
    Forbidden(String),
    /// Allowed, but a rule says no right now (a lock, four-eyes, an expired request).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The store or another part of the server failed; details are in the server log under
    /// the request id, not here.
    #[error("Rollgate could not do that: {0}")]
    Unavailable(String),
    /// The cluster (or another upstream) failed or refused, in its words.
    #[error("{0}")]
    Upstream(String),
    #[error("The server is not set up correctly: {0}")]
    Misconfigured(String),
    #[error("Could not reach the Rollgate server: {0}")]
    Transport(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::UnknownEnvironment { .. } | ApiError::NotFound(_) => 404,
            ApiError::SignInRequired => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::Refused(_) => 409,
            ApiError::Invalid(_) => 400,
            ApiError::Unavailable(_) => 503,
            ApiError::Upstream(_) => 502,
            ApiError::Misconfigured(_) | ApiError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}
