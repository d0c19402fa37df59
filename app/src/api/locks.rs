//! Locking an environment against changes, and lifting the lock.

use leptos::prelude::*;

use crate::error::ApiError;

/// Locks `env` with a reason; `until` (UTC, optional) ends it by itself.
#[server]
pub async fn lock_environment(env: String, reason: String, until: String) -> Result<(), ApiError> {
    use backend::clock::Timestamp;
    use backend::policy::{Permission, locks};

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::Lock)?;
    let until = match until.trim() {
        "" => None,
        text => {
            let full = if text.ends_with('Z') { text.to_owned() } else { format!("{text}Z") };
            Some(
                Timestamp::parse_rfc3339(&full)
                    .map_err(|e| guard::with_status(ApiError::Invalid(format!("Until: {e}."))))?,
            )
        }
    };
    locks::lock(&portal.store, &caller, &env, &reason, until, Timestamp::now())
        .await
        .map(|_| ())
        .map_err(ssr::error)
}

/// Lifts the lock on `env`.
#[server]
pub async fn unlock_environment(env: String) -> Result<(), ApiError> {
    use backend::clock::Timestamp;
    use backend::policy::{Permission, locks};

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::Lock)?;
    locks::unlock(&portal.store, &caller, &env, Timestamp::now()).await.map(|_| ()).map_err(ssr::error)
}

#[cfg(feature = "ssr")]
mod ssr {
    use backend::policy::locks::LockError;

    use super::super::guard;
    use crate::error::ApiError;

    pub fn error(e: LockError) -> ApiError {
        guard::with_status(match e {
            LockError::NoReason | LockError::EndInPast | LockError::TooLong => {
                ApiError::Invalid(e.to_string())
            }
            LockError::AlreadyLocked(_) | LockError::NotLocked(_) => ApiError::Refused(e.to_string()),
            LockError::Store(store) => return guard::internal("changing the lock", store),
        })
    }
}
