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
        // On the server, a request whose fields cannot be read (not even as text) is the
        // caller's mistake: 400 in words, never a 500 (anonymous callers were already answered
        // 401 before decoding). The server never deserializes a response, so there that
        // variant too is about the request.
        #[cfg(feature = "ssr")]
        if let ServerFnErrorErr::Args(why)
        | ServerFnErrorErr::MissingArg(why)
        | ServerFnErrorErr::Deserialization(why) = &value
        {
            let why: String = why.chars().take(200).collect();
            return with_status(ApiError::Invalid(format!("The request's fields cannot be read: {why}")));
        }
        ApiError::Transport(value.to_string())
    }
}

/// A failed plain form post's error, carried to the page the browser is sent back to.
///
/// Leptos sends such a post back to its page with the error in the URL (`__path`, `__err`),
/// where a link could put any text. The server moves it into this short-lived HttpOnly
/// cookie of the browser that posted instead (`server::flash`), and the page shows only what
/// the cookie says (`FormError`), once: nobody else's link can make a page say anything.
pub mod flash {
    /// The cookie's name.
    pub const COOKIE: &str = "rollgate-flash";
    /// How long the error waits for its page, in seconds.
    pub const MAX_AGE_SECS: u32 = 60;

    /// The cookie value for the error `encoded` (Leptos's URL-safe encoding) of the server
    /// function at `path`. Neither holds a `.` or a cookie-unsafe character.
    pub fn encode(path: &str, encoded: &str) -> Option<String> {
        let safe = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=/".contains(&b));
        (safe(path) && safe(encoded)).then(|| format!("{path}.{encoded}"))
    }

    /// The server function path and encoded error a cookie value holds.
    pub fn decode(value: &str) -> Option<(&str, &str)> {
        value.split_once('.')
    }
}

/// Sets the response status from the error; use on every error a server function returns.
/// Not for a plain HTML form post: that is answered with a redirect back to the form's page,
/// carrying the error in the query, and a status here would replace the redirect's.
#[cfg(feature = "ssr")]
pub fn with_status(error: ApiError) -> ApiError {
    let form_post = leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
    });
    if !form_post
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    error
}
