//! What can go wrong talking to a cluster, in words a person can act on.

use kube::core::Status;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The environment's cluster connection cannot be turned into a client.
    #[error("Rollgate cannot connect to {environment}'s cluster: {reason}")]
    Setup { environment: String, reason: String },
    #[error("The cluster cannot be reached: {0}")]
    Unreachable(String),
    #[error("The cluster refused Rollgate's credentials (401): {0}")]
    Unauthorized(String),
    #[error(
        "The cluster does not allow Rollgate's account to do this (403): {0}. `rollgate rbac` prints the Roles Rollgate needs"
    )]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Someone else changed the object first (a stale resourceVersion, or state that moved on
    /// since the change was requested).
    #[error("{0}")]
    Conflict(String),
    #[error("The cluster rejected the change: {0}")]
    Invalid(String),
    #[error("The cluster answered with an error: {0}")]
    Other(String),
}

impl ClusterError {
    pub fn setup(environment: &str, reason: impl std::fmt::Display) -> Self {
        Self::Setup { environment: environment.to_owned(), reason: reason.to_string() }
    }

    /// Whether the client should be rebuilt before the next call (credentials may have been
    /// rotated, or the connection set-up failed).
    pub fn stale_client(&self) -> bool {
        matches!(self, Self::Unauthorized(_) | Self::Unreachable(_))
    }
}

impl From<kube::Error> for ClusterError {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) => from_status(&status),
            kube::Error::HyperError(e) => Self::Unreachable(e.to_string()),
            kube::Error::Service(e) => Self::Unreachable(e.to_string()),
            kube::Error::Auth(e) => Self::Unauthorized(e.to_string()),
            other => Self::Other(other.to_string()),
        }
    }
}

fn from_status(status: &Status) -> ClusterError {
    let message = status.message.clone();
    match status.code {
        401 => ClusterError::Unauthorized(message),
        403 => ClusterError::Forbidden(message),
        404 => ClusterError::NotFound(message),
        409 => ClusterError::Conflict(format!(
            "Someone else changed it first ({message}). Refresh to see the current state, then try again."
        )),
        400 | 422 => ClusterError::Invalid(message),
        _ => ClusterError::Other(format!("{} {}: {message}", status.code, status.reason)),
    }
}

/// A cluster's answer, sorted into what a person can do about it (the change desk's kinds).
impl From<ClusterError> for crate::changes::ExecuteError {
    fn from(e: ClusterError) -> Self {
        use crate::changes::ExecuteError as E;
        let words = e.to_string();
        match e {
            ClusterError::Setup { .. } | ClusterError::Unreachable(_) | ClusterError::Other(_) => {
                E::Unreachable(words)
            }
            ClusterError::Unauthorized(_) | ClusterError::Forbidden(_) => E::Forbidden(words),
            ClusterError::NotFound(_) => E::NotFound(words),
            ClusterError::Conflict(_) => E::Conflict(words),
            ClusterError::Invalid(_) => E::Invalid(words),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_words() {
        let status = |code: u16| {
            kube::Error::Api(Box::new(Status {
                message: "m".into(),
                reason: "r".into(),
                code,
                ..Status::default()
            }))
        };
        assert_eq!(ClusterError::from(status(404)), ClusterError::NotFound("m".into()));
        assert!(
            matches!(ClusterError::from(status(409)), ClusterError::Conflict(m) if m.contains("Refresh"))
        );
        assert!(ClusterError::from(status(401)).stale_client());
        assert_eq!(ClusterError::from(status(422)), ClusterError::Invalid("m".into()));
    }
}
