//! Signing in with a name and password.
//!
//! Guessing is slowed by [`attempts`]: within `failure_window_minutes`, at most
//! `max_failures_per_user` attempts for one name and `max_failures_per_ip` from one address
//! get their password checked, however many arrive at once; the rest are refused without a
//! check until the window passes (or, for a name, an admin runs `rollgate user unlock`). A
//! check waits its turn at the machine's [`Gate`] before its attempt is reserved, so a sign-in
//! turned away as busy costs no attempt. An unknown name and a wrong password get the same
//! answer and take the same time. Every attempt is audited.

use sqlx::Row;

use super::UserName;
use super::attempts::{self, Limits, Reserved};
use super::password::Gate;
use super::sessions::{self, SessionPolicy, SessionToken};
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
    #[error("Rollgate is busy checking other sign-ins; try again in a few seconds.")]
    Busy,
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
    sign_in_through(Gate::machine(), store, settings, caller, name, given_password, now).await
}

/// [`sign_in`] through a given gate (tests use their own).
pub(crate) async fn sign_in_through(
    gate: &Gate,
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
    let limits = Limits::from(settings);
    let refused = |detail: &str| Record::new(&caller, "sign-in", Outcome::Refused, now).detail(detail);

    let Some(turn) = gate.enter().await else {
        audit::append_alone(store, &refused("busy")).await?;
        return Err(SignInError::Busy);
    };
    let reservation = match attempts::reserve(store, limits, &typed, &ip, now).await? {
        Reserved::Granted(reservation) => reservation,
        Reserved::Refused { retry_after_secs } => {
            drop(turn);
            crate::metrics::sign_in_locked_out();
            audit::append_alone(store, &refused("too many failed attempts")).await?;
            return Err(SignInError::TooManyAttempts { retry_after_secs });
        }
    };

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
    let hash = stored.as_ref().and_then(|(hash, disabled)| hash.clone().filter(|_| *disabled == 0));
    let matches = turn.verify(hash, given_password.to_owned()).await;

    let mut tx = store.begin().await?;
    match (user, matches) {
        (Some(user), true) => {
            attempts::succeeded(&mut tx, reservation).await?;
            let token = sessions::start(&mut tx, user.as_str(), now, SessionPolicy::from(settings)).await?;
            audit::append(&mut tx, &Record::new(&caller, "sign-in", Outcome::Succeeded, now)).await?;
            tx.commit().await?;
            Ok((user, token))
        }
        _ => {
            // The reservation stays: it is this failure, counted.
            let detail = match &stored {
                Some((_, disabled)) if *disabled != 0 => "account disabled",
                Some(_) => "wrong password",
                None => "no such user",
            };
            audit::append(&mut tx, &Record::new(&caller, "sign-in", Outcome::Failed, now).detail(detail))
                .await?;
            tx.commit().await?;
            attempts::forget_passed(store, limits, now).await?;
            crate::metrics::sign_in_failed("password");
            Err(SignInError::BadCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::Filter;
    use crate::auth::password::BUSY_WAIT;
    use crate::auth::sessions::resolve;
    use crate::auth::{AccountError, NewPassword, accounts};

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

    /// The sign-in records of the audit trail, oldest first, as (result, detail).
    async fn sign_in_trail(store: &Store) -> Vec<(Outcome, String)> {
        let filter = Filter { action: Some("sign-in".into()), ..Default::default() };
        let mut trail: Vec<_> = crate::audit::list(store, &filter, 0, 1000)
            .await
            .unwrap()
            .records
            .into_iter()
            .map(|r| (r.result, r.detail.unwrap_or_default()))
            .collect();
        trail.reverse();
        trail
    }

    fn tally<T>(results: &[Result<T, SignInError>]) -> (usize, usize, usize) {
        let count = |f: fn(&SignInError) -> bool| results.iter().filter(|r| r.as_ref().is_err_and(f)).count();
        (
            count(|e| matches!(e, SignInError::BadCredentials)),
            count(|e| matches!(e, SignInError::TooManyAttempts { .. })),
            results.iter().filter(|r| r.is_ok()).count(),
        )
    }

    /// Fires `guesses` (name, address) wrong sign-ins at once, released together, through a
    /// gate wide enough for all of them, so only the store stands between them and a check.
    async fn all_at_once(
        store: &Store,
        guesses: Vec<(String, String)>,
    ) -> Vec<Result<(UserName, SessionToken), SignInError>> {
        let gate = Arc::new(Gate::new(guesses.len(), BUSY_WAIT));
        let start = Arc::new(tokio::sync::Barrier::new(guesses.len()));
        let tasks: Vec<_> = guesses
            .into_iter()
            .map(|(name, ip)| {
                let (store, gate, start) = (store.clone(), Arc::clone(&gate), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    sign_in_through(&gate, &store, &settings(), &from(&ip), &name, "guess", Timestamp(50_000))
                        .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    /// What the audit trail says of the sign-ins: (checked and failed with `why`, refused for
    /// too many attempts, all).
    async fn checked_and_refused(store: &Store, why: &str) -> (usize, usize, usize) {
        let trail = sign_in_trail(store).await;
        let count =
            |outcome: Outcome, detail: &str| trail.iter().filter(|t| t.0 == outcome && t.1 == detail).count();
        (count(Outcome::Failed, why), count(Outcome::Refused, "too many failed attempts"), trail.len())
    }

    /// Fifty guesses for one name at once: exactly the name's limit get a password check.
    async fn parallel_guesses_for_one_name_get_the_limit_and_no_more(store: Store) {
        with_dana(&store).await;
        let guesses = (0..50).map(|i| ("dana".to_owned(), format!("10.1.0.{i}"))).collect();
        let results = all_at_once(&store, guesses).await;
        assert_eq!(tally(&results), (3, 47, 0));
        assert_eq!(checked_and_refused(&store, "wrong password").await, (3, 47, 50));
    }

    /// Fifty names guessed from one address at once: exactly the address's limit get a check.
    async fn parallel_guesses_from_one_address_get_the_limit_and_no_more(store: Store) {
        let guesses = (0..50).map(|i| (format!("user{i}"), "10.6.6.6".to_owned())).collect();
        let results = all_at_once(&store, guesses).await;
        assert_eq!(tally(&results), (5, 45, 0));
        assert_eq!(checked_and_refused(&store, "no such user").await, (5, 45, 50));
    }

    /// A sign-in turned away because every check is taken costs no attempt, and says so in
    /// the audit trail.
    async fn a_busy_refusal_costs_no_attempt(store: Store) {
        with_dana(&store).await;
        let s = settings();
        let gate = Gate::new(1, std::time::Duration::ZERO);
        let held = gate.enter().await.unwrap();
        for i in 0..5 {
            let e = sign_in_through(&gate, &store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(i))
                .await
                .unwrap_err();
            assert!(matches!(e, SignInError::Busy), "{e}");
            assert_eq!(
                e.to_string(),
                "Rollgate is busy checking other sign-ins; try again in a few seconds."
            );
        }
        drop(held);
        let results = [
            sign_in_through(&gate, &store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(10)).await,
            sign_in_through(&gate, &store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(11)).await,
            sign_in_through(&gate, &store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(12)).await,
            sign_in_through(&gate, &store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(13)).await,
        ];
        assert_eq!(tally(&results), (3, 1, 0), "all three attempts were left after the busy ones");
        let busy = sign_in_trail(&store).await.into_iter().filter(|t| t.1 == "busy").count();
        assert_eq!(busy, 5);
    }

    /// A right password gives its attempt back to the address, and attempts refused by the
    /// limit count for nothing: neither kind uses up what others at that address may try.
    async fn successes_and_refusals_use_up_no_attempts(store: Store) {
        with_dana(&store).await;
        let s = settings();
        for i in 0..10 {
            sign_in(&store, &s, &from("10.2.2.2"), "dana", "dana-deployer-demo", Timestamp(i)).await.unwrap();
        }
        for i in 0..3 {
            let _ = sign_in(&store, &s, &from("10.9.9.9"), "dana", "guess", Timestamp(20 + i)).await;
        }
        let mut results = Vec::new();
        for i in 0..10 {
            results.push(sign_in(&store, &s, &from("10.2.2.2"), "dana", "guess", Timestamp(30 + i)).await);
        }
        assert_eq!(tally(&results), (0, 10, 0), "dana is locked out");
        for i in 0..6 {
            results
                .push(sign_in(&store, &s, &from("10.2.2.2"), &format!("u{i}"), "guess", Timestamp(40)).await);
        }
        assert_eq!(tally(&results[10..]), (5, 1, 0), "the address still had all its five");
    }

    /// A locked-out person gets back in when an admin unlocks their name, before the window
    /// passes; the unlock is audited. Unknown names cannot be unlocked.
    async fn an_admin_unlock_lets_the_name_back_in(store: Store) {
        with_dana(&store).await;
        let s = settings();
        let dana = UserName::parse("dana").unwrap();
        for i in 0..3 {
            let _ = sign_in(&store, &s, &from("10.0.0.9"), "dana", "guess", Timestamp(i)).await;
        }
        let locked =
            sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", Timestamp(10)).await;
        assert!(matches!(locked, Err(SignInError::TooManyAttempts { .. })));
        let admin = Caller::new("cli:root");
        assert_eq!(accounts::unlock(&store, &s, &admin, &dana, Timestamp(20)).await.unwrap(), 3);
        sign_in(&store, &s, &from("10.0.0.1"), "dana", "dana-deployer-demo", Timestamp(30)).await.unwrap();
        let nobody = UserName::parse("nobody").unwrap();
        let e = accounts::unlock(&store, &s, &admin, &nobody, Timestamp(40)).await.unwrap_err();
        assert!(matches!(e, AccountError::NotFound(_)), "{e}");
        let filter = Filter { action: Some("user.unlock".into()), ..Default::default() };
        let unlocks = crate::audit::list(&store, &filter, 0, 10).await.unwrap().records;
        assert_eq!(unlocks.len(), 1);
        assert_eq!(
            (unlocks[0].actor.as_str(), unlocks[0].target.as_deref(), unlocks[0].detail.as_deref()),
            ("cli:root", Some("dana"), Some("3 failed sign-in(s) forgotten"))
        );
    }

    crate::store_tests!(
        sessions_live_until_idle_or_absolute_expiry,
        disabling_or_new_password_ends_sessions,
        failures_are_limited_per_name_and_per_address,
        parallel_guesses_for_one_name_get_the_limit_and_no_more,
        parallel_guesses_from_one_address_get_the_limit_and_no_more,
        a_busy_refusal_costs_no_attempt,
        successes_and_refusals_use_up_no_attempts,
        an_admin_unlock_lets_the_name_back_in
    );
}
