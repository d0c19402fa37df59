//! The delivery log: each notification of an environment with every attempt and the
//! receiver's answer, newest first.

use sqlx::Row;

use super::Event;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub target: String,
    pub kind: String,
    pub title: String,
    /// pending, delivered or failed.
    pub state: String,
    pub created_ms: i64,
    /// When it is due again, while pending.
    pub next_ms: i64,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i64,
    pub at_ms: i64,
    /// The HTTP status the receiver answered with, if it answered.
    pub status: Option<i64>,
    pub answer: String,
    pub replica: String,
}

/// The newest `limit` notifications of `environment`.
pub async fn recent(store: &Store, environment: &str, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, target, kind, event, state, created_at, next_at FROM notifications \
         WHERE environment = $1 ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(environment)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get(0)?;
        let event: String = row.try_get(3)?;
        let attempts = sqlx::query(
            "SELECT attempt, at, status, answer, replica FROM notification_attempts WHERE notification = $1 ORDER BY attempt",
        )
        .bind(&id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|a| {
            Ok(Attempt {
                attempt: i64::from(a.try_get::<i32, _>(0)?),
                at_ms: a.try_get(1)?,
                status: a.try_get::<Option<i32>, _>(2)?.map(i64::from),
                answer: a.try_get(3)?,
                replica: a.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.push(Delivery {
            title: serde_json::from_str::<Event>(&event).map(|e| e.title).unwrap_or_default(),
            id,
            target: row.try_get(1)?,
            kind: row.try_get(2)?,
            state: row.try_get(4)?,
            created_ms: row.try_get(5)?,
            next_ms: row.try_get(6)?,
            attempts,
        });
    }
    Ok(out)
}
