//! Server-side sessions. The cookie holds 32 random bytes; the store holds only their SHA-256,
//! so reading the table does not let anyone sign in. A session ends when it is idle for
//! `session_idle_minutes`, `session_max_hours` after sign-in, at sign-out, or when its account
//! is disabled or gets a new password.

use std::fmt;

use sqlx::Row;

use crate::clock::Timestamp;
use crate::config::{AuthSettings, SsoIdentity};
use crate::store::{Store, StoreError, Tx};

/// The cookie's value. Its `Debug` never shows it, so it cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

impl SessionToken {
    /// What the browser sent; checked against the store by [`resolve`].
    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// For the Set-Cookie header only.
    pub fn cookie_value(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        crate::ids::cookie_hash(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub max_secs: i64,
}

impl From<&AuthSettings> for SessionPolicy {
    fn from(a: &AuthSettings) -> Self {
        Self {
            idle_secs: i64::from(a.session_idle_minutes) * 60,
            max_secs: i64::from(a.session_max_hours) * 3600,
        }
    }
}

/// A live session's person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user: String,
    /// When the session ends at the latest (milliseconds).
    pub expires_at: i64,
    /// Who a single-sign-on account is at the provider and the groups it brought at its last
    /// sign-in; `None` for a local account.
    pub sso: Option<SsoIdentity>,
}

/// Last-seen times are written at most this often, so reading pages is not a write per request.
const TOUCH_EVERY_MS: i64 = 60_000;

pub(super) async fn start(
    tx: &mut Tx,
    user: &str,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<SessionToken, sqlx::Error> {
    let token = SessionToken(crate::ids::random_token(32));
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_name, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(token.hash())
    .bind(user)
    .bind(now.millis())
    .bind(now.plus_secs(policy.max_secs).millis())
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// The person behind a cookie, if the session is live; an ended one is removed. A request
/// counts as use: it keeps the session from going idle.
pub async fn resolve(
    store: &Store,
    token: &SessionToken,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<Option<SignedIn>, StoreError> {
    let hash = token.hash();
    let Some(found) = read(store, &hash).await? else { return Ok(None) };
    let now_ms = now.millis();
    if !found.live(now_ms, policy) {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(store.pool()).await?;
        return Ok(None);
    }
    if now_ms - found.last_seen >= TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now_ms)
            .bind(&hash)
            .execute(store.pool())
            .await?;
    }
    Ok(Some(found.signed_in))
}

/// The person behind a cookie if the session is still live, without counting this as use
/// and without writing anything: how an open stream checks that its session has not ended
/// (a stream left open must not keep an idle session alive).
pub async fn peek(
    store: &Store,
    token: &SessionToken,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<Option<SignedIn>, StoreError> {
    let found = read(store, &token.hash()).await?;
    Ok(found.filter(|f| f.live(now.millis(), policy)).map(|f| f.signed_in))
}

/// A session row as read, before deciding whether it still lives.
struct Found {
    signed_in: SignedIn,
    last_seen: i64,
    disabled: bool,
}

impl Found {
    fn live(&self, now_ms: i64, policy: SessionPolicy) -> bool {
        !self.disabled
            && now_ms < self.signed_in.expires_at
            && now_ms - self.last_seen < policy.idle_secs * 1000
    }
}

async fn read(store: &Store, hash: &str) -> Result<Option<Found>, StoreError> {
    let row = sqlx::query(
        "SELECT s.user_name, s.last_seen_at, s.expires_at, u.disabled, u.sso_subject, u.sso_email, u.sso_groups \
         FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Found {
        signed_in: SignedIn {
            user: row.try_get("user_name")?,
            expires_at: row.try_get("expires_at")?,
            sso: SsoIdentity::from_columns(
                row.try_get("sso_subject")?,
                row.try_get("sso_email")?,
                row.try_get("sso_groups")?,
            ),
        },
        last_seen: row.try_get("last_seen_at")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    }))
}

/// Sign-out: the session is gone from the store, whatever the browser keeps.
pub async fn end(tx: &mut Tx, token: &SessionToken) -> Result<Option<String>, StoreError> {
    let user = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_name")
        .bind(token.hash())
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get::<String, _>(0))
        .transpose()?;
    Ok(user)
}

/// Ends the session behind `token` and audits it; `None` when there was none.
pub async fn sign_out(
    store: &Store,
    token: &SessionToken,
    from: &super::Visitor,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let mut tx = store.begin().await?;
    let user = end(&mut tx, token).await?;
    if let Some(user) = &user {
        let caller = crate::audit::Caller {
            user: user.clone(),
            source_ip: from.source_ip.clone(),
            request_id: from.request_id.clone(),
        };
        let record = crate::audit::Record::new(&caller, "sign-out", crate::audit::Outcome::Succeeded, now);
        crate::audit::append(&mut tx, &record).await?;
    }
    tx.commit().await?;
    Ok(user)
}
