//! Sign-in attempts, counted in the store (so every replica sees them) per user name and per
//! source address, in fixed windows: an attempt for a name or address whose window has passed
//! starts a new one of `failure_window_minutes`, and within it at most `max_failures_per_user`
//! attempts for one name and `max_failures_per_ip` from one address get their password
//! checked.
//!
//! An attempt is reserved before its password is checked, by one conditional upsert per key
//! in one transaction: the database, not a count read earlier, decides whether there is room,
//! so however many guesses arrive together, no more than the limit get a check. A right
//! password then clears its name's count and gives back its reservation on the address (so
//! people signing in from one office never lock it); a wrong one keeps both, as the failure.
//!
//! A refused attempt reserves nothing: it checks no password, so it neither counts nor
//! extends a lockout, and a name refused does not charge its address (nor the reverse).

use sqlx::Row;

use crate::clock::Timestamp;
use crate::config::AuthSettings;
use crate::store::{Kind, Store, StoreError, Tx};

/// How many attempts each key gets per window, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    per_name: i64,
    per_address: i64,
    window_ms: i64,
}

impl From<&AuthSettings> for Limits {
    fn from(s: &AuthSettings) -> Self {
        Self {
            per_name: i64::from(s.max_failures_per_user),
            per_address: i64::from(s.max_failures_per_ip),
            window_ms: i64::from(s.failure_window_minutes) * 60_000,
        }
    }
}

impl Limits {
    /// Windows that started at or before this instant have passed.
    fn passed(&self, now: Timestamp) -> i64 {
        now.millis() - self.window_ms
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Name,
    Address,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Name => "name",
            Scope::Address => "address",
        }
    }
}

/// An attempt that may check its password. A wrong password keeps it (it is the failure
/// counted); [`succeeded`] gives it back.
#[derive(Debug)]
pub struct Reservation {
    name: String,
    address: String,
    /// The address's window this attempt was counted in (a success gives back only to it).
    address_window: i64,
}

#[derive(Debug)]
pub enum Reserved {
    Granted(Reservation),
    /// No room for `name` or `address` until the window that filled it has passed.
    Refused {
        retry_after_secs: i64,
    },
}

/// Reserves one attempt for `name` from `address`, or says how long until there is room.
pub async fn reserve(
    store: &Store,
    limits: Limits,
    name: &str,
    address: &str,
    now: Timestamp,
) -> Result<Reserved, StoreError> {
    let mut tx = store.begin().await?;
    // Always the name first, then the address: two attempts lock their rows in the same order,
    // so on PostgreSQL they queue rather than deadlock.
    let taken = match take(&mut tx, Scope::Name, name, limits.per_name, limits, now).await? {
        Taken::Counted { .. } => {
            take(&mut tx, Scope::Address, address, limits.per_address, limits, now).await?
        }
        full => full,
    };
    match taken {
        Taken::Counted { window_start: address_window } => {
            tx.commit().await?;
            Ok(Reserved::Granted(Reservation {
                name: name.to_owned(),
                address: address.to_owned(),
                address_window,
            }))
        }
        Taken::Full { since } => {
            tx.rollback().await?;
            let reopens = since + limits.window_ms;
            Ok(Reserved::Refused { retry_after_secs: ((reopens - now.millis() + 999) / 1000).max(1) })
        }
    }
}

enum Taken {
    /// Counted in the window that started then.
    Counted { window_start: i64 },
    /// No room in the window that started then.
    Full { since: i64 },
}

/// Counts one attempt on a key if its window has room (or has passed).
async fn take(
    tx: &mut Tx,
    scope: Scope,
    subject: &str,
    limit: i64,
    limits: Limits,
    now: Timestamp,
) -> Result<Taken, StoreError> {
    // One statement, so the check and the count are one step for the database: PostgreSQL
    // locks the row (or the key being inserted) for the rest of the transaction, SQLite has
    // one writer. SET expressions read the row as it was before this update.
    let counted = sqlx::query(
        "INSERT INTO sign_in_attempts (scope, subject, window_start, attempts) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (scope, subject) DO UPDATE SET \
           window_start = CASE WHEN sign_in_attempts.window_start <= $4 THEN $3 \
                          ELSE sign_in_attempts.window_start END, \
           attempts = CASE WHEN sign_in_attempts.window_start <= $4 THEN 1 \
                      ELSE sign_in_attempts.attempts + 1 END \
         WHERE sign_in_attempts.window_start <= $4 OR sign_in_attempts.attempts < $5 \
         RETURNING window_start",
    )
    .bind(scope.as_str())
    .bind(subject)
    .bind(now.millis())
    .bind(limits.passed(now))
    .bind(limit)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = counted {
        return Ok(Taken::Counted { window_start: row.try_get(0)? });
    }
    let since = sqlx::query("SELECT window_start FROM sign_in_attempts WHERE scope = $1 AND subject = $2")
        .bind(scope.as_str())
        .bind(subject)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(Taken::Full { since })
}

/// The password was right: forget the name's attempts and give back this one's on the address.
pub async fn succeeded(tx: &mut Tx, reservation: Reservation) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE scope = 'name' AND subject = $1")
        .bind(&reservation.name)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE sign_in_attempts SET attempts = attempts - 1 \
         WHERE scope = 'address' AND subject = $1 AND window_start = $2 AND attempts > 0",
    )
    .bind(&reservation.address)
    .bind(reservation.address_window)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets the attempts counted for `name` (an admin's unlock); how many its current window
/// held.
pub async fn clear_name(tx: &mut Tx, limits: Limits, name: &str, now: Timestamp) -> Result<i64, StoreError> {
    let forgotten = sqlx::query(
        "DELETE FROM sign_in_attempts WHERE scope = 'name' AND subject = $1 RETURNING attempts, window_start",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    .map(|row| Ok::<_, sqlx::Error>((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)))
    .transpose()?;
    Ok(match forgotten {
        Some((attempts, window_start)) if window_start > limits.passed(now) => attempts,
        _ => 0,
    })
}

/// Forgets keys whose window has passed (every name a stranger typed would stay otherwise).
pub async fn forget_passed(store: &Store, limits: Limits, now: Timestamp) -> Result<(), StoreError> {
    let statement = match store.kind() {
        // Rows a reservation holds are skipped, not waited for: waiting while holding the rows
        // already deleted could deadlock with it. They are forgotten next time.
        Kind::Postgres => {
            "DELETE FROM sign_in_attempts WHERE (scope, subject) IN \
             (SELECT scope, subject FROM sign_in_attempts WHERE window_start <= $1 FOR UPDATE SKIP LOCKED)"
        }
        // One writer at a time: nothing to deadlock with.
        Kind::Sqlite => "DELETE FROM sign_in_attempts WHERE window_start <= $1",
    };
    sqlx::query(statement).bind(limits.passed(now)).execute(store.pool()).await?;
    Ok(())
}
