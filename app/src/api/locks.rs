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

/// The freeze calendar of `env`: the windows of the next 30 days and a day-by-day strip.
#[server]
pub async fn freeze_calendar(env: String) -> Result<crate::model::FreezeCalendar, ApiError> {
    use backend::clock::Timestamp;
    use backend::policy::{Permission, calendar};

    use super::guard;
    use crate::model::{DayView, FreezeCalendar, FreezeView};

    const DAY_MS: i64 = 86_400_000;
    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let environment = portal
        .config
        .environment(&env)
        .ok_or_else(|| guard::with_status(ApiError::NotFound(format!("There is no environment {env}."))))?;
    let now = Timestamp::now();
    let today = Timestamp(now.millis() - now.millis().rem_euclid(DAY_MS));
    let until = Timestamp(today.millis() + 30 * DAY_MS);
    let windows = calendar::windows(environment, now, until);
    let days = (0..30)
        .map(|i| {
            let (start, end) = (today.millis() + i * DAY_MS, today.millis() + (i + 1) * DAY_MS);
            let covered: i64 = windows
                .iter()
                .map(|w| (w.end.millis().min(end) - w.start.millis().max(start)).max(0))
                .sum::<i64>()
                .min(DAY_MS);
            let date = Timestamp(start).rfc3339();
            DayView {
                label: chrono::DateTime::from_timestamp_millis(start)
                    .map(|d| d.format("%a %-d").to_string())
                    .unwrap_or_default(),
                date: date[..10].to_owned(),
                frozen: match covered {
                    0 => "none",
                    DAY_MS => "all",
                    _ => "part",
                }
                .to_owned(),
            }
        })
        .collect();
    Ok(FreezeCalendar {
        holding: calendar::holding(environment, now)
            .map(|w| format!("Deploys are frozen until {}: {}", w.end_in_words(), w.reason)),
        windows: windows
            .iter()
            .map(|w| FreezeView {
                reason: w.reason.clone(),
                starts: calendar::local(w.start, w.zone),
                ends: calendar::local(w.end, w.zone),
                starts_utc: w.start.rfc3339(),
                ends_utc: w.end.rfc3339(),
                holds_now: w.start <= now && now < w.end,
            })
            .collect(),
        days,
    })
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
