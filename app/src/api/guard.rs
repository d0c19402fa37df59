//! What every server function starts with: the portal, the visitor, and whether they may do
//! what they ask. A refusal sets the response's status (401, 403, …) so the HTTP answer says
//! it too, not only the error body.

use backend::Portal;
use backend::audit::Caller;
use backend::auth::Visitor;
use backend::policy::{self, Denied, Permission, Role};
use leptos::prelude::use_context;

use crate::error::ApiError;

pub fn portal() -> Result<Portal, ApiError> {
    use_context::<Portal>()
        .ok_or_else(|| ApiError::Misconfigured("the portal state was not provided to this request".into()))
}

fn visitor() -> Visitor {
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Visitor>().cloned())
        .unwrap_or_default()
}

/// The signed-in person, as the audit trail records them; 401 when nobody is signed in.
pub fn signed_in() -> Result<Caller, ApiError> {
    visitor().caller().ok_or(ApiError::SignInRequired).map_err(with_status)
}

/// The signed-in person and their role, if they may do `permission` in `environment`.
pub fn authorize(
    portal: &Portal,
    environment: &str,
    permission: Permission,
) -> Result<(Caller, Role), ApiError> {
    let caller = signed_in()?;
    match policy::authorize(&portal.config, &caller.user, environment, permission) {
        Ok(role) => Ok((caller, role)),
        Err(denied) => Err(with_status(denied_error(portal, denied))),
    }
}

pub fn denied_error(portal: &Portal, denied: Denied) -> ApiError {
    match denied {
        Denied::UnknownEnvironment(name) => ApiError::UnknownEnvironment {
            name,
            known: portal.config.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
        },
        other => ApiError::Forbidden(other.to_string()),
    }
}

pub use crate::error::with_status;

/// An internal failure: logged in full with the request's span, shown in short.
pub fn internal(what: &str, error: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %error, "{what} failed");
    with_status(ApiError::Unavailable(format!("{what} failed; the server log has the details.")))
}

/// After a plain form post (which names the page to return to), sends the browser back to
/// that page, when it is one on this site (see `backend::auth::local_path`).
pub fn back(return_to: Option<&str>) {
    if let Some(path) = return_to.and_then(backend::auth::local_path::local_path) {
        leptos_axum::redirect(&path);
    }
}
