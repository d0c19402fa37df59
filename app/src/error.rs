//! The error every server function returns. Variants carry what the page needs to say; the
//! transport failures of the server-function machinery are kept apart so the page can tell
//! "the server said no" from "the server could not be reached".

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("There is no environment named “{name}”. Configured: {known}.")]
    UnknownEnvironment { name: String, known: String },
    #[error("The server is not set up correctly: {0}")]
    Misconfigured(String),
    #[error("Could not reach the Rollgate server: {0}")]
    Transport(String),
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}
