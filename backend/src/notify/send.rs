//! The senders: every replica looks for due notifications every second, claims one at a time
//! with a conditional UPDATE (so of two replicas one wins it), posts it, logs the attempt with
//! the answer, and marks it delivered, or due again after a doubling wait, or failed once
//! every attempt is used. A replica that dies mid-send loses its lease after [`LEASE_SECS`]
//! and another sends the notification again: receivers can tell a repeat by its
//! `X-Rollgate-Delivery` id.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::format;
use super::{Event, EventKind};
use crate::clock::Timestamp;
use crate::config::{Config, Environment, NotifyTarget};
use crate::store::{Store, StoreError};

/// How long a claim holds: longer than a send can take.
const LEASE_SECS: i64 = 60;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const EVERY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_WAIT_SECS: i64 = 3600;
/// How much of a receiver's answer the log keeps.
const ANSWER_CHARS: usize = 300;

#[derive(Clone)]
pub struct Senders {
    store: Store,
    config: Arc<Config>,
    replica: String,
    http: reqwest::Client,
}

impl Senders {
    /// Starts this replica's sender (when any environment has a target).
    pub fn start(store: Store, config: Arc<Config>, replica: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let senders = Self { store, config, replica, http };
        for env in &senders.config.environments {
            for target in &env.notify {
                if let Err(why) = readable(target) {
                    tracing::warn!(environment = %env.name, target = %target.name, "notifications to this target will fail: {why}");
                }
            }
        }
        if senders.config.environments.iter().any(|e| !e.notify.is_empty()) {
            tokio::spawn(senders.clone().run());
        }
        senders
    }

    async fn run(self) {
        loop {
            match self.due().await {
                Ok(ids) => {
                    for id in ids {
                        if let Err(e) = self.try_send(&id).await {
                            tracing::warn!(notification = %id, error = %e, "a notification could not be sent");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the notifications due could not be read"),
            }
            tokio::time::sleep(EVERY).await;
        }
    }

    async fn due(&self) -> Result<Vec<String>, StoreError> {
        let now = Timestamp::now().millis();
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM notifications WHERE state = 'pending' AND next_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_at LIMIT 20",
        )
        .bind(now)
        .fetch_all(self.store.pool())
        .await
        .map_err(StoreError::from)
    }

    /// Sends notification `id` if this replica wins its claim.
    async fn try_send(&self, id: &str) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let claimed = sqlx::query(
            "UPDATE notifications SET claimed_by = $2, claimed_until = $3 WHERE id = $1 AND state = 'pending' \
             AND next_at <= $4 AND (claimed_until IS NULL OR claimed_until < $4)",
        )
        .bind(id)
        .bind(&self.replica)
        .bind(now + LEASE_SECS * 1000)
        .bind(now)
        .execute(self.store.pool())
        .await
        .map_err(StoreError::from)?;
        if claimed.rows_affected() != 1 {
            return Ok(());
        }
        let row = sqlx::query("SELECT environment, target, event, attempts FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_one(self.store.pool())
            .await
            .map_err(StoreError::from)?;
        let (environment, target, event, attempts): (String, String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get::<i32, _>(3).map(i64::from)?);
        let attempt = attempts + 1;
        let found = self
            .config
            .environment(&environment)
            .and_then(|e| Some((e, e.notify.iter().find(|t| t.name == target)?)));
        let answer = match (found, serde_json::from_str::<Event>(&event)) {
            (Some((env, target)), Ok(event)) => self.post(env, target, &event, id).await,
            (None, _) => Answer {
                status: None,
                text: "this target is no longer configured".into(),
                ok: false,
                last: true,
            },
            (_, Err(e)) => Answer {
                status: None,
                text: format!("the stored event cannot be read: {e}"),
                ok: false,
                last: true,
            },
        };
        self.record(id, attempt, &answer).await
    }

    async fn post(&self, env: &Environment, target: &NotifyTarget, event: &Event, id: &str) -> Answer {
        let url = match target.url.read() {
            Ok(url) => url,
            Err(e) => return Answer::failed(format!("the URL could not be read: {e}")),
        };
        let key = match target.secret.as_ref().map(|s| s.read()).transpose() {
            Ok(key) => key,
            Err(e) => return Answer::failed(format!("the signing key could not be read: {e}")),
        };
        let link = event.link.as_deref().map(|path| absolute(&self.config, path));
        let out = format::outgoing(target, event, id, link.as_deref(), key.as_deref(), Timestamp::now());
        let mut request = self.http.post(&url).header("content-type", out.content_type).body(out.body);
        for (name, value) in out.headers {
            request = request.header(name, value);
        }
        tracing::info!(environment = %env.name, target = %target.name, event = %event.kind.as_str(), "sending a notification");
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text: String =
                    response.text().await.unwrap_or_default().chars().take(ANSWER_CHARS).collect();
                Answer { status: Some(status.as_u16()), text, ok: status.is_success(), last: false }
            }
            // The error names the host, never the URL's path (where Slack keeps its token).
            Err(e) => Answer::failed(format!("no answer: {}", e.without_url())),
        }
    }

    async fn record(&self, id: &str, attempt: i64, answer: &Answer) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let max = i64::from(self.config.notifications.max_attempts);
        let state = match (answer.ok, answer.last || attempt >= max) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "pending",
        };
        let wait =
            (i64::from(self.config.notifications.retry_seconds) << (attempt - 1).min(20)).min(MAX_WAIT_SECS);
        let mut tx = self.store.begin().await?;
        sqlx::query(
            "INSERT INTO notification_attempts (notification, attempt, at, status, answer, replica) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(attempt as i32)
        .bind(now)
        .bind(answer.status.map(i32::from))
        .bind(&answer.text)
        .bind(&self.replica)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        sqlx::query(
            "UPDATE notifications SET state = $2, attempts = $3, next_at = $4, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $1 AND claimed_by = $5",
        )
        .bind(id)
        .bind(state)
        .bind(attempt as i32)
        .bind(now + wait * 1000)
        .bind(&self.replica)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)
    }
}

/// Whether `target`'s URL and key can be read, and the URL is one to post to.
fn readable(target: &NotifyTarget) -> Result<(), String> {
    let url = target.url.read().map_err(|e| format!("its URL: {e}"))?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
        // The URL itself is not logged: it may carry a token.
        _ => return Err("its URL is not an http(s) URL".into()),
    }
    if let Some(key) = &target.secret {
        key.read().map_err(|e| format!("its signing key: {e}"))?;
    }
    Ok(())
}

struct Answer {
    status: Option<u16>,
    text: String,
    ok: bool,
    /// No retry can help (the target is gone).
    last: bool,
}

impl Answer {
    fn failed(text: String) -> Self {
        Self { status: None, text, ok: false, last: false }
    }
}

/// `path` on the address people reach Rollgate at (`public_url`, else the listen address).
pub fn absolute(config: &Config, path: &str) -> String {
    match &config.public_url {
        Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
        None => format!("http://{}{path}", config.listen),
    }
}

/// Why a test could not be asked for.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{0} has no notification target {1}")]
    UnknownTarget(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks for a test notification to `target` of `env` from `by`; the senders deliver it and
/// the delivery log shows the answer.
pub async fn test(store: &Store, env: &Environment, target: &str, by: &str) -> Result<(), TestError> {
    if !env.notify.iter().any(|t| t.name == target) {
        return Err(TestError::UnknownTarget(env.name.clone(), target.to_owned()));
    }
    let event = Event::new(
        EventKind::Test,
        &env.name,
        format!("test:{}", crate::ids::random_hex(8)),
        target.to_owned(),
        format!("A test from Rollgate, sent by {by}"),
    )
    .detail(format!("If you read this, {target} receives {}'s notifications.", env.title()))
    .link(format!("/{}/notifications", env.name));
    super::keep(store, env, target, &event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NotifyFormat, NotifyKind, SecretSource, Source, load};

    /// Staging with one Slack target whose URL (a file) points at a port nobody listens on.
    fn config(dir: &std::path::Path) -> Arc<Config> {
        let url = dir.join("url");
        std::fs::write(&url, "http://127.0.0.1:9/hook").unwrap();
        let mut config = load(&Source::SandboxDefault).unwrap();
        config.environments[0].notify = vec![NotifyTarget {
            name: "chat".into(),
            kind: NotifyKind::Slack,
            url: SecretSource::File(url),
            secret: None,
            format: NotifyFormat::Json,
            events: Vec::new(),
        }];
        Arc::new(config)
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(store.pool()).await.unwrap()
    }

    /// Fifty replicas emit the same event at once: one row. Fifty replicas then try to send it
    /// at once: one claim wins, one attempt is made and logged.
    async fn fifty_at_once_keep_and_send_one(store: Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let env = config.environment("staging").unwrap().clone();
        let event = Event::new(
            EventKind::PipelineFailed,
            "staging",
            "pipeline-failed:myapp-staging:e1".into(),
            "myapp-staging".into(),
            "myapp-staging failed".into(),
        );
        let kept =
            futures_util::future::join_all((0..50).map(|_| super::super::keep(&store, &env, "chat", &event)))
                .await;
        assert_eq!(kept.iter().filter(|k| matches!(k, Ok(true))).count(), 1, "{kept:?}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM notifications").await, 1);

        let id: String =
            sqlx::query_scalar("SELECT id FROM notifications").fetch_one(store.pool()).await.unwrap();
        let senders: Vec<Senders> = (0..50)
            .map(|i| Senders {
                store: store.clone(),
                config: config.clone(),
                replica: format!("replica-{i}"),
                http: reqwest::Client::new(),
            })
            .collect();
        let sent = futures_util::future::join_all(senders.iter().map(|s| s.try_send(&id))).await;
        assert!(sent.iter().all(Result::is_ok), "{sent:?}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM notification_attempts").await, 1, "one claim won");
        let (state, attempts): (String, i32) = sqlx::query_as("SELECT state, attempts FROM notifications")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!((state.as_str(), attempts), ("pending", 1), "due again after its wait");
    }

    crate::store_tests!(fifty_at_once_keep_and_send_one);
}
