//! Local accounts. Every change is audited and ends the account's sessions where it should
//! (a new password or a disabled account signs the person out everywhere).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::attempts::{self, Limits};
use super::{NewPassword, UserName, password};
use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::AuthSettings;
use crate::store::{Store, StoreError, flag};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a user named {0} already exists")]
    Exists(String),
    #[error("there is no user named {0}")]
    NotFound(String),
    #[error("a password needs at least {} characters", super::MIN_PASSWORD)]
    WeakPassword,
    #[error("a password may have at most 1024 bytes")]
    LongPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub disabled: bool,
    pub has_password: bool,
    pub created_at: i64,
}

pub async fn add(
    store: &Store,
    caller: &Caller,
    name: &UserName,
    pw: &NewPassword,
    now: Timestamp,
) -> Result<(), AccountError> {
    let hash = hash_off_runtime(pw.clone()).await;
    let mut tx = store.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (name, password_hash, disabled, created_at, updated_at) VALUES ($1, $2, 0, $3, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name.as_str())
    .bind(&hash)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AccountError::Exists(name.to_string()));
    }
    audit::append(&mut tx, &Record::new(caller, "user.add", Outcome::Succeeded, now).target(name.as_str()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the account unless it exists (the sandbox's demo users at every start).
pub async fn ensure(
    store: &Store,
    caller: &Caller,
    name: &UserName,
    pw: &NewPassword,
    now: Timestamp,
) -> Result<bool, AccountError> {
    match add(store, caller, name, pw, now).await {
        Ok(()) => Ok(true),
        Err(AccountError::Exists(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn set_password(
    store: &Store,
    caller: &Caller,
    name: &UserName,
    pw: &NewPassword,
    now: Timestamp,
) -> Result<(), AccountError> {
    let hash = hash_off_runtime(pw.clone()).await;
    let mut tx = store.begin().await?;
    let updated = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE name = $3")
        .bind(&hash)
        .bind(now.millis())
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AccountError::NotFound(name.to_string()));
    }
    let ended = end_sessions(&mut tx, name).await?;
    let record = Record::new(caller, "user.passwd", Outcome::Succeeded, now)
        .target(name.as_str())
        .detail(format!("{ended} session(s) ended"));
    audit::append(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(())
}

/// Disables (or enables again) an account; disabling ends its sessions.
pub async fn set_disabled(
    store: &Store,
    caller: &Caller,
    name: &UserName,
    disabled: bool,
    now: Timestamp,
) -> Result<(), AccountError> {
    let mut tx = store.begin().await?;
    let before: Option<i64> = sqlx::query("SELECT disabled FROM users WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    let Some(before) = before else {
        return Err(AccountError::NotFound(name.to_string()));
    };
    sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE name = $3")
        .bind(flag(disabled))
        .bind(now.millis())
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
    let word = |d: bool| if d { "disabled" } else { "enabled" }.to_owned();
    let mut record =
        Record::new(caller, if disabled { "user.disable" } else { "user.enable" }, Outcome::Succeeded, now)
            .target(name.as_str())
            .change(Some(word(before != 0)), Some(word(disabled)));
    if disabled {
        let ended = end_sessions(&mut tx, name).await?;
        record = record.detail(format!("{ended} session(s) ended"));
    }
    audit::append(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets the failed sign-ins counted against `name`, so its owner may try again before the
/// window passes (`rollgate user unlock`). How many failures the window held.
pub async fn unlock(
    store: &Store,
    settings: &AuthSettings,
    caller: &Caller,
    name: &UserName,
    now: Timestamp,
) -> Result<i64, AccountError> {
    let mut tx = store.begin().await?;
    let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !exists {
        return Err(AccountError::NotFound(name.to_string()));
    }
    let forgotten = attempts::clear_name(&mut tx, Limits::from(settings), name.as_str(), now).await?;
    let record = Record::new(caller, "user.unlock", Outcome::Succeeded, now)
        .target(name.as_str())
        .detail(format!("{forgotten} failed sign-in(s) forgotten"));
    audit::append(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(forgotten)
}

pub async fn list(store: &Store) -> Result<Vec<UserInfo>, AccountError> {
    let rows = sqlx::query("SELECT name, disabled, password_hash, created_at FROM users ORDER BY name")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(UserInfo {
                name: row.try_get("name")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

async fn end_sessions(tx: &mut crate::store::Tx, name: &UserName) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_name = $1")
        .bind(name.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// argon2 takes tens of milliseconds of CPU: keep it off the async workers.
pub(super) async fn hash_off_runtime(pw: NewPassword) -> String {
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Filter;

    fn name(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    fn pw(s: &str) -> NewPassword {
        NewPassword::parse(s).unwrap()
    }

    async fn add_list_disable_audited(store: Store) {
        let cli = Caller::new("cli");
        add(&store, &cli, &name("dana"), &pw("dana-deployer-demo"), Timestamp(5)).await.unwrap();
        let again =
            add(&store, &cli, &name("dana"), &pw("another password"), Timestamp(6)).await.unwrap_err();
        assert_eq!(again.to_string(), "a user named dana already exists");
        assert!(!ensure(&store, &cli, &name("dana"), &pw("another password"), Timestamp(6)).await.unwrap());
        set_disabled(&store, &cli, &name("dana"), true, Timestamp(7)).await.unwrap();
        assert_eq!(
            list(&store).await.unwrap(),
            vec![UserInfo { name: "dana".into(), disabled: true, has_password: true, created_at: 5 }]
        );
        assert!(matches!(
            set_password(&store, &cli, &name("nobody"), &pw("whatever123"), Timestamp(8)).await,
            Err(AccountError::NotFound(_))
        ));
        let trail = crate::audit::list(&store, &Filter::default(), 0, 10).await.unwrap();
        let actions: Vec<_> = trail
            .records
            .iter()
            .map(|r| (r.action.as_str(), r.before.as_deref(), r.after.as_deref()))
            .collect();
        assert_eq!(
            actions,
            vec![("user.disable", Some("enabled"), Some("disabled")), ("user.add", None, None)]
        );
    }

    crate::store_tests!(add_list_disable_audited);
}
