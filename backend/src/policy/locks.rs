//! Deploy locks and freezes: what stops changes from running in an environment.
//!
//! A lock is set by a person, with a reason and optionally an end; a freeze is a window in the
//! configuration. While either holds, changes are refused with its reason; an admin may
//! override with a reason of their own, and the override is audited with the change.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub environment: String,
    pub reason: String,
    pub locked_by: String,
    pub locked_at: i64,
    pub ends_at: Option<i64>,
}

/// Why changes are refused right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hold {
    Locked(Lock),
    /// `until`: when it ends, as people where the freeze is written read it.
    Frozen {
        reason: String,
        start: i64,
        end: i64,
        until: String,
    },
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Locked(lock) => {
                write!(f, "{} is locked by {}: {}", lock.environment, lock.locked_by, lock.reason)?;
                match lock.ends_at {
                    Some(end) => write!(f, " (until {})", Timestamp(end).rfc3339()),
                    None => Ok(()),
                }
            }
            Hold::Frozen { reason, until, .. } => write!(f, "deploys are frozen until {until}: {reason}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("Say why you lock the environment: people see the reason when refused.")]
    NoReason,
    #[error("The reason is longer than {} characters.", crate::audit::MAX_TEXT)]
    TooLong,
    #[error("The end of the lock must be in the future.")]
    EndInPast,
    #[error("{} is already locked by {}: {}", .0.environment, .0.locked_by, .0.reason)]
    AlreadyLocked(Lock),
    #[error("{0} is not locked.")]
    NotLocked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LockError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The lock on `environment`, if one holds at `now` (an ended one no longer does).
pub async fn current(store: &Store, environment: &str, now: Timestamp) -> Result<Option<Lock>, StoreError> {
    let row = sqlx::query("SELECT reason, locked_by, locked_at, ends_at FROM locks WHERE environment = $1")
        .bind(environment)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let lock = Lock {
        environment: environment.to_owned(),
        reason: row.try_get("reason")?,
        locked_by: row.try_get("locked_by")?,
        locked_at: row.try_get("locked_at")?,
        ends_at: row.try_get("ends_at")?,
    };
    Ok(lock.ends_at.is_none_or(|end| end > now.millis()).then_some(lock))
}

/// What holds changes back in `env` at `now`: its lock first, else a freeze window.
pub async fn hold(store: &Store, env: &Environment, now: Timestamp) -> Result<Option<Hold>, StoreError> {
    if let Some(lock) = current(store, &env.name, now).await? {
        return Ok(Some(Hold::Locked(lock)));
    }
    Ok(super::calendar::holding(env, now).map(|w| Hold::Frozen {
        until: w.end_in_words(),
        reason: w.reason,
        start: w.start.millis(),
        end: w.end.millis(),
    }))
}

pub async fn lock(
    store: &Store,
    caller: &Caller,
    environment: &str,
    reason: &str,
    ends_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Lock, LockError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LockError::NoReason);
    }
    if reason.chars().count() > crate::audit::MAX_TEXT {
        return Err(LockError::TooLong);
    }
    if ends_at.is_some_and(|end| end <= now) {
        return Err(LockError::EndInPast);
    }
    let mut tx = store.begin().await?;
    // An ended lock is replaced; a live one stays and the new lock is refused.
    sqlx::query("DELETE FROM locks WHERE environment = $1 AND ends_at IS NOT NULL AND ends_at <= $2")
        .bind(environment)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO locks (environment, reason, locked_by, locked_at, ends_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (environment) DO NOTHING",
    )
    .bind(environment)
    .bind(reason)
    .bind(&caller.user)
    .bind(now.millis())
    .bind(ends_at.map(Timestamp::millis))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        drop(tx);
        let existing = current(store, environment, now).await?;
        return Err(existing
            .map(LockError::AlreadyLocked)
            .unwrap_or_else(|| LockError::NotLocked(environment.into())));
    }
    let lock = Lock {
        environment: environment.to_owned(),
        reason: reason.to_owned(),
        locked_by: caller.user.clone(),
        locked_at: now.millis(),
        ends_at: ends_at.map(Timestamp::millis),
    };
    let after = match ends_at {
        Some(end) => format!("locked until {}: {reason}", end.rfc3339()),
        None => format!("locked: {reason}"),
    };
    let record = Record::new(caller, "lock", Outcome::Succeeded, now)
        .environment(environment)
        .target(environment)
        .change(Some("unlocked".into()), Some(after));
    audit::append(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(lock)
}

pub async fn unlock(
    store: &Store,
    caller: &Caller,
    environment: &str,
    now: Timestamp,
) -> Result<Lock, LockError> {
    let mut tx = store.begin().await?;
    let row = sqlx::query(
        "DELETE FROM locks WHERE environment = $1 RETURNING reason, locked_by, locked_at, ends_at",
    )
    .bind(environment)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Err(LockError::NotLocked(environment.into())) };
    let lock = Lock {
        environment: environment.to_owned(),
        reason: row.try_get("reason")?,
        locked_by: row.try_get("locked_by")?,
        locked_at: row.try_get("locked_at")?,
        ends_at: row.try_get("ends_at")?,
    };
    let record = Record::new(caller, "unlock", Outcome::Succeeded, now)
        .environment(environment)
        .target(environment)
        .change(Some(format!("locked by {}: {}", lock.locked_by, lock.reason)), Some("unlocked".into()));
    audit::append(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FreezeWindow, Source, load};

    async fn lock_with_reason_and_end(store: Store) {
        let ada = Caller::new("ada");
        let t0 = Timestamp(1_000_000);
        assert!(matches!(lock(&store, &ada, "production", "  ", None, t0).await, Err(LockError::NoReason)));
        assert!(matches!(
            lock(&store, &ada, "production", "why", Some(t0), t0).await,
            Err(LockError::EndInPast)
        ));
        lock(&store, &ada, "production", "incident 42", Some(t0.plus_secs(3600)), t0).await.unwrap();
        let again = lock(&store, &Caller::new("dana"), "production", "mine", None, t0.plus_secs(1))
            .await
            .unwrap_err();
        assert_eq!(again.to_string(), "production is already locked by ada: incident 42");
        assert!(current(&store, "staging", t0).await.unwrap().is_none());
        // Past its end the lock no longer holds, and a new one may be set.
        assert!(current(&store, "production", t0.plus_secs(3600)).await.unwrap().is_none());
        lock(&store, &Caller::new("dana"), "production", "release train", None, t0.plus_secs(3601))
            .await
            .unwrap();
        let gone = unlock(&store, &ada, "production", t0.plus_secs(3602)).await.unwrap();
        assert_eq!(gone.locked_by, "dana");
        assert!(matches!(
            unlock(&store, &ada, "production", t0.plus_secs(3603)).await,
            Err(LockError::NotLocked(_))
        ));
        let trail = crate::audit::list(&store, &Default::default(), 0, 10).await.unwrap();
        let actions: Vec<_> = trail.records.iter().map(|r| (r.action.as_str(), r.actor.as_str())).collect();
        assert_eq!(actions, vec![("unlock", "ada"), ("lock", "dana"), ("lock", "ada")]);
        assert_eq!(trail.records[2].after.as_deref(), Some("locked until 1970-01-01T01:16:40Z: incident 42"));
    }

    async fn freezes_hold_inside_their_window(store: Store) {
        let mut env = load(&Source::SandboxDefault).unwrap().environments.remove(1);
        let start = Timestamp::parse_rfc3339("2026-12-24T00:00:00Z").unwrap();
        env.freezes.push(FreezeWindow { start, end: start.plus_secs(86_400), reason: "holidays".into() });
        assert_eq!(hold(&store, &env, start.plus_secs(-1)).await.unwrap(), None);
        let held = hold(&store, &env, start).await.unwrap().unwrap();
        assert_eq!(held.to_string(), "deploys are frozen until 2026-12-25T00:00:00Z: holidays");
        assert_eq!(hold(&store, &env, start.plus_secs(86_400)).await.unwrap(), None);
        lock(&store, &Caller::new("ada"), "production", "incident", None, start).await.unwrap();
        assert!(matches!(hold(&store, &env, start).await.unwrap(), Some(Hold::Locked(_))));
    }

    crate::store_tests!(lock_with_reason_and_end, freezes_hold_inside_their_window);
}
