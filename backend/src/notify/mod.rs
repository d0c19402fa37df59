//! Outgoing notifications: what happened (an [`Event`]) goes to each of its environment's
//! targets that wants it (`[[environment.notify]]`: Slack, Teams, or a signed JSON webhook,
//! optionally as a CloudEvent carrying a CDEvent).
//!
//! An event is kept in the store once per target ([`emit`]): every replica may notice the
//! same thing (a pipeline failed, a rollout degraded) and emit it, and the event's key makes
//! the second emit a no-op. The senders ([`send`]) of every replica take due rows one at a
//! time under a lease, so one replica sends each; an answer other than 2xx is retried with
//! doubling waits, across restarts, and every attempt is logged with the receiver's answer.
//! Events are built from what the audit trail already says (a change's description, a
//! pipeline's name), never from a secret's value.
//!
//! - [`format`]: the bodies each kind of target takes, and the webhook's signature.
//! - [`send`]: the senders, and "send a test".
//! - [`follow`]: what notices pipelines, rollouts and freezes and emits their events.
//! - [`log`]: the delivery log the Notifications page shows.

pub mod follow;
pub mod format;
pub mod log;
pub mod send;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::{Config, Environment, NotifyTarget};
use crate::store::{Store, StoreError};

/// What a notification is about. A target's `events` list names these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A change request, or a pipeline's manual approval, waits for someone to approve it.
    ApprovalWaiting,
    ChangeExecuted,
    ChangeFailed,
    RolloutDegraded,
    RolloutRecovered,
    PipelineSucceeded,
    PipelineFailed,
    /// The cluster token kept in SSM expires soon.
    TokenExpiring,
    FreezeStarting,
    /// Sent by a person from the Notifications page.
    Test,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::ApprovalWaiting,
        EventKind::ChangeExecuted,
        EventKind::ChangeFailed,
        EventKind::RolloutDegraded,
        EventKind::RolloutRecovered,
        EventKind::PipelineSucceeded,
        EventKind::PipelineFailed,
        EventKind::TokenExpiring,
        EventKind::FreezeStarting,
        EventKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ApprovalWaiting => "approval-waiting",
            EventKind::ChangeExecuted => "change-executed",
            EventKind::ChangeFailed => "change-failed",
            EventKind::RolloutDegraded => "rollout-degraded",
            EventKind::RolloutRecovered => "rollout-recovered",
            EventKind::PipelineSucceeded => "pipeline-succeeded",
            EventKind::PipelineFailed => "pipeline-failed",
            EventKind::TokenExpiring => "token-expiring",
            EventKind::FreezeStarting => "freeze-starting",
            EventKind::Test => "test",
        }
    }
}

/// Something that happened, as every target is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Names the happening: the same thing noticed twice has the same key.
    pub key: String,
    pub kind: EventKind,
    pub environment: String,
    /// What it is about: `production/myapp-deployment`, `myapp-production`, a change's id.
    pub subject: String,
    /// One line a person reads first.
    pub title: String,
    #[serde(default)]
    pub detail: Option<String>,
    /// Where in Rollgate to act on it (a path; made absolute with `public_url`).
    #[serde(default)]
    pub link: Option<String>,
    /// The CDEvents type a CloudEvents target sends it as.
    pub cdevent: String,
    pub at_ms: i64,
}

impl Event {
    pub fn new(kind: EventKind, environment: &str, key: String, subject: String, title: String) -> Self {
        Self {
            key,
            kind,
            environment: environment.to_owned(),
            subject,
            title,
            detail: None,
            link: None,
            cdevent: format::cdevent_type(kind, None).to_owned(),
            at_ms: Timestamp::now().millis(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn link(mut self, path: impl Into<String>) -> Self {
        self.link = Some(path.into());
        self
    }

    /// The CDEvents type for what the change did (`deploy image`, `rollback`, …).
    pub fn change_kind(mut self, change: &str) -> Self {
        self.cdevent = format::cdevent_type(self.kind, Some(change)).to_owned();
        self
    }
}

/// Whether `target` wants events of `kind`.
pub fn wants(target: &NotifyTarget, kind: EventKind) -> bool {
    kind == EventKind::Test || target.events.is_empty() || target.events.contains(&kind)
}

/// Keeps `event` for each target of its environment that wants it, once however often it is
/// emitted; the senders deliver it. Errors are logged, never returned: a notification that
/// cannot be kept must not fail the change it reports.
pub async fn emit(store: &Store, config: &Config, event: Event) {
    let Some(env) = config.environment(&event.environment) else { return };
    for target in env.notify.iter().filter(|t| wants(t, event.kind)) {
        if let Err(e) = keep(store, env, &target.name, &event).await {
            tracing::warn!(environment = %env.name, target = %target.name, key = %event.key, error = %e, "a notification could not be kept");
        }
    }
}

/// Keeps `event` for target `target` of `env`; false when it was kept before.
pub async fn keep(store: &Store, env: &Environment, target: &str, event: &Event) -> Result<bool, StoreError> {
    let body = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let now = Timestamp::now().millis();
    let done = sqlx::query(
        "INSERT INTO notifications (id, environment, target, event_key, kind, event, created_at, state, attempts, next_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7) \
         ON CONFLICT (environment, target, event_key) DO NOTHING",
    )
    .bind(crate::ids::random_hex(8))
    .bind(&env.name)
    .bind(target)
    .bind(&event.key)
    .bind(event.kind.as_str())
    .bind(body)
    .bind(now)
    .execute(store.pool())
    .await
    .map_err(StoreError::from)?;
    Ok(done.rows_affected() == 1)
}
