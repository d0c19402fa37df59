//! Signing in with a name and password.
//!
//! Guessing is slowed by counting failures in the store (so every replica sees them): after
//! `max_failures_per_user` failures for one name, or `max_failures_per_ip` from one address,
//! within `failure_window_minutes`, attempts are refused without checking the password until
//! the oldest failure leaves the window. An unknown name and a wrong password get the same
//! answer and take the same time. Every attempt is audited.

use sqlx::Row;

use super::sessions::{self, SessionPolicy, SessionToken};
use super::{UserName, password};
use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::AuthSettings;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The user name or password is not right.")]
    BadCredentials,
    #[error("Too many failed sign-ins; try again in {} minute(s).", (retry_after_secs + 59) / 60)]
    TooManyAttempts { retry_after_secs: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SignInError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Checks the password and starts a session. `caller.user` is ignored: the name typed is
/// what the audit trail records.
pub async fn sign_in(
    store: &Store,
    settings: &AuthSettings,
    caller: &Caller,
    name: &str,
    given_password: &str,
    now: Timestamp,
) -> Result<(UserName, SessionToken), SignInError> {
    // What a stranger typed goes into the audit trail: keep it to a sane length.
    let typed: String = name.chars().take(64).collect();
    let caller = Caller { user: typed.clone(), ..caller.clone() };
    let ip = caller.source_ip.clone().unwrap_or_default();
    let window_start = now.plus_secs(-i64::from(settings.failure_window_minutes) * 60).millis();

    if let Some(retry_after_secs) = throttled(store, settings, &typed, &ip, window_start, now).await? {
        let record =
            Record::new(&caller, "sign-in", Outcome::Refused, now).detail("too many failed attempts");
        audit::append_alone(store, &record).await?;
        return Err(SignInError::TooManyAttempts { retry_after_secs });
    }

    let user = UserName::parse(name).ok();
    let stored: Option<(Option<String>, i64)> = match &user {
        Some(user) => sqlx::query("SELECT password_hash, disabled FROM users WHERE name = $1")
            .bind(user.as_str())
            .fetch_optional(store.pool())
            .await?
            .map(|row| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?)))
            .transpose()?,
        None => None,
    };
    let given = given_password.to_owned();
    let hash = stored.as_ref().and_then(|(hash, disabled)| hash.clone().filter(|_| *disabled == 0));
    let matches = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify(&hash, &given),
        None => {
            password::verify_nothing(&given);
            false
        }
    })
    .await
    .unwrap_or(false);

    let mut tx = store.begin().await?;
    match (user, matches) {
        (Some(user), true) => {
            sqlx::query("DELETE FROM sign_in_failures WHERE user_name = $1")
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
            let token = sessions::start(&mut tx, user.as_str(), now, SessionPolicy::from(settings)).await?;
            audit::append(&mut tx, &Record::new(&caller, "sign-in", Outcome::Succeeded, now)).await?;
            tx.commit().await?;
            Ok((user, token))
        }
        _ => {
            sqlx::query("INSERT INTO sign_in_failures (user_name, source_ip, at) VALUES ($1, $2, $3)")
                .bind(&typed)
                .bind(&ip)
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            // Old failures no longer count; forget them as we go.
            sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
                .bind(window_start)
                .execute(&mut *tx)
                .await?;
            let detail = match &stored {
                Some((_, disabled)) if *disabled != 0 => "account disabled",
                Some(_) => "wrong password",
                None => "no such user",
            };
            audit::append(&mut tx, &Record::new(&caller, "sign-in", Outcome::Failed, now).detail(detail))
                .await?;
            tx.commit().await?;
            Err(SignInError::BadCredentials)
        }
    }
}

/// Seconds until an attempt may be made again, when too many failed recently.
async fn throttled(
    store: &Store,
    settings: &AuthSettings,
    name: &str,
    ip: &str,
    window_start: i64,
    now: Timestamp,
) -> Result<Option<i64>, SignInError> {
    for (column, value, limit) in
        [("user_name", name, settings.max_failures_per_user), ("source_ip", ip, settings.max_failures_per_ip)]
    {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE {column} = $1 AND at >= $2"
        ))
        .bind(value)
        .bind(window_start)
        .fetch_one(store.pool())
        .await?;
        let count: i64 = row.try_get(0)?;
        if count >= i64::from(limit) {
            let oldest: i64 = row.try_get::<Option<i64>, _>(1)?.unwrap_or(now.millis());
            let reopens = oldest + i64::from(settings.failure_window_minutes) * 60_000;
            return Ok(Some(((reopens - now.millis()) / 1000).max(1)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sessions::resolve;
    use crate::auth::{NewPassword, accounts};

    fn settings() -> AuthSettings {
        AuthSettings { max_failures_per_user: 3, max_failures_per_ip: 5, ..AuthSettings::default() }
    }

    fn from(ip: &str) -> Caller {
        Caller { user: String::new(), source_ip: Some(ip.into()), request_id: None }
    }

    async fn with_dana(store: &Store) {
        let name = UserName::parse("dana").unwrap();
        accounts::add(
            store,
            &Caller::new("cli"),
            &name,
            &NewPassword::parse("dana-deployer-demo").unwrap(),
            Timestamp(0),
        )
        .await
        .unwrap();
    }

    async fn sessions_live_until_idle_or_absolute_expiry(store: Store) {
        with_dana(&store).await;
        let s = settings();
        let policy = SessionPolicy::from(&s);
        let t0 = Timestamp(1_000_000);
        let (user, token) =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", t0).await.unwrap();
        assert_eq!(user.as_str(), "dana");
        let live = resolve(&store, &token, t0.plus_secs(60), policy).await.unwrap().unwrap();
        assert_eq!(live.user, "dana");
        assert!(resolve(&store, &SessionToken::from_cookie("forged"), t0, policy).await.unwrap().is_none());
        // Used every 20 minutes, it lives until the absolute limit (12 h) and not a moment more.
        let mut t = t0;
        while t.plus_secs(20 * 60) < t0.plus_secs(policy.max_secs) {
            t = t.plus_secs(20 * 60);
            assert!(resolve(&store, &token, t, policy).await.unwrap().is_some(), "at {t:?}");
        }
        assert!(resolve(&store, &token, t0.plus_secs(policy.max_secs), policy).await.unwrap().is_none());
        // Left alone for the idle period, a new session ends.
        let (_, idle) =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", t0).await.unwrap();
        assert!(resolve(&store, &idle, t0.plus_secs(policy.idle_secs), policy).await.unwrap().is_none());
    }

    async fn disabling_or_new_password_ends_sessions(store: Store) {
        with_dana(&store).await;
        let s = settings();
        let policy = SessionPolicy::from(&s);
        let name = UserName::parse("dana").unwrap();
        let (_, token) =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", Timestamp(0)).await.unwrap();
        accounts::set_password(
            &store,
            &Caller::new("cli"),
            &name,
            &NewPassword::parse("a new password").unwrap(),
            Timestamp(1),
        )
        .await
        .unwrap();
        assert!(resolve(&store, &token, Timestamp(2), policy).await.unwrap().is_none());
        let (_, token) =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "a new password", Timestamp(3)).await.unwrap();
        accounts::set_disabled(&store, &Caller::new("cli"), &name, true, Timestamp(4)).await.unwrap();
        assert!(resolve(&store, &token, Timestamp(5), policy).await.unwrap().is_none());
        let refused =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "a new password", Timestamp(6)).await.unwrap_err();
        assert!(matches!(refused, SignInError::BadCredentials), "{refused}");
    }

    async fn failures_are_limited_per_name_and_per_address(store: Store) {
        with_dana(&store).await;
        let s = settings();
        let t0 = Timestamp(10_000_000);
        for i in 0..3 {
            let e =
                sign_in(&store, &s, &from("10.0.0.9"), "dana", "guess", t0.plus_secs(i)).await.unwrap_err();
            assert!(matches!(e, SignInError::BadCredentials));
        }
        // Even the right password is refused now, from anywhere, until the window passes.
        let e = sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", t0.plus_secs(10))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "Too many failed sign-ins; try again in 15 minute(s).");
        assert!(
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", t0.plus_secs(15 * 60 + 1))
                .await
                .is_ok()
        );
        // Many names from one address.
        for i in 0..5 {
            let _ = sign_in(&store, &s, &from("10.6.6.6"), &format!("user{i}"), "guess", t0.plus_secs(1000))
                .await;
        }
        let e = sign_in(&store, &s, &from("10.6.6.6"), "dana", "dana-deployer-demo", t0.plus_secs(1001))
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::TooManyAttempts { .. }), "{e}");
        let trail = crate::audit::list(
            &store,
            &crate::audit::Filter { action: Some("sign-in".into()), ..Default::default() },
            0,
            100,
        )
        .await
        .unwrap();
        assert_eq!(trail.total, 3 + 1 + 1 + 5 + 1);
        assert_eq!(trail.records[0].result, Outcome::Refused);
        assert_eq!(trail.records[0].source_ip.as_deref(), Some("10.6.6.6"));
    }

    crate::store_tests!(
        sessions_live_until_idle_or_absolute_expiry,
        disabling_or_new_password_ends_sessions,
        failures_are_limited_per_name_and_per_address
    );
}
