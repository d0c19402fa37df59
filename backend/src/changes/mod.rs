//! Change requests and four-eyes approval: the desk.
//!
//! A person with the deployer role asks for a typed action (any [`Change`]: the desk knows
//! no system; `crate::dispatch` says which actions exist and who carries each out) with a
//! reason; the executor previews what it will change. In an unprotected environment it runs
//! at once. In a protected one it waits for `required_approvals` approvals from people other
//! than the requester, and expires if they do not come in time.
//!
//! Exactly once: every state move is a conditional UPDATE on the state it leaves
//! (`pending → approved` by the approval that completes the count, `approved → executing` by
//! whoever claims it), so of two approvers clicking together, or two replicas sharing the
//! store, one wins and the other sees that it lost. An approval starts by updating the request
//! row, which makes concurrent approvals of one request queue behind each other on both
//! databases. Each move is written with its audit record in one transaction.

pub mod executor;

use crate::notify::{self, Event, EventKind};
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::watch;

pub use executor::{Change, ExecuteError, Executed, Executor, Origin, Preview};

use crate::audit::{self, Caller, MAX_TEXT, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::config::Environment;
use crate::metrics;
use crate::policy::blocked::{self, Block};
use crate::policy::locks::{self, Hold};
use crate::policy::{self, Denied, Permission};
use crate::store::{Kind, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Approved,
    Executing,
    Executed,
    Failed,
    Rejected,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Executing => "executing",
            State::Executed => "executed",
            State::Failed => "failed",
            State::Rejected => "rejected",
            State::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pending" => State::Pending,
            "approved" => State::Approved,
            "executing" => State::Executing,
            "executed" => State::Executed,
            "rejected" => State::Rejected,
            "expired" => State::Expired,
            _ => State::Failed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub approved: bool,
    pub comment: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRequest<A> {
    pub id: String,
    pub environment: String,
    pub action: A,
    pub target: String,
    pub before: String,
    pub after: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub expires_at: i64,
    pub required_approvals: i64,
    pub approval_count: i64,
    pub override_reason: Option<String>,
    /// The reason to block what it takes out of service once it has run, when asked to.
    pub block_reason: Option<String>,
    pub state: State,
    pub decisions: Vec<Decision>,
    pub outcome: Option<String>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Denied(#[from] Denied),
    #[error("The change is not valid: {0}.")]
    Invalid(String),
    #[error("Say why: approvers and the audit trail need a reason.")]
    NoReason,
    #[error("{0} is longer than {MAX_TEXT} characters.")]
    TooLong(&'static str),
    #[error("Changes are held: {0}. An admin may override with a reason.")]
    Held(Hold),
    #[error("It would release a blocked commit: {0}. Lifting the block is a change request of its own.")]
    Blocked(Box<Block>),
    #[error("Cannot prepare the change: {0}.")]
    Preview(ExecuteError),
    #[error("There is no change request {0}.")]
    NotFound(String),
    #[error("You requested this change; someone else must approve or reject it.")]
    SelfApproval,
    #[error("You have already decided on this request.")]
    AlreadyDecided,
    #[error("This request expired at {}; request it again.", Timestamp(*.0).rfc3339())]
    Expired(i64),
    #[error("This request is no longer waiting for approval: it is {}.", .0.as_str())]
    NotPending(State),
    #[error("Carrying out the change stopped unexpectedly ({0}); it will be marked interrupted.")]
    Aborted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// What a person asks for: the action, why, an admin's reason to go through a lock or
/// freeze, and the version of the target their page showed (see [`Executor::preview`]).
#[derive(Debug, Clone)]
pub struct Ask<'a, A> {
    pub action: A,
    pub reason: &'a str,
    pub override_reason: Option<&'a str>,
    pub seen: Option<&'a str>,
    /// Block the commits the change takes out of service once it has run (a rollback), for
    /// this reason.
    pub block: Option<&'a str>,
}

impl<'a, A> Ask<'a, A> {
    pub fn new(action: A, reason: &'a str) -> Self {
        Self { action, reason, override_reason: None, seen: None, block: None }
    }

    pub fn overriding(self, why: &'a str) -> Self {
        Self { override_reason: Some(why), ..self }
    }
}

/// The four-eyes desk of one process: the store, the rules, and who carries changes out.
pub struct Changes<A> {
    store: Store,
    config: Arc<Config>,
    executor: Arc<dyn Executor<A>>,
    /// Names this process in `executed_by`, so a record says which replica ran a change.
    replica: String,
    /// How many claimed changes this process is carrying out, for [`Changes::drain`].
    executing: Arc<watch::Sender<usize>>,
}

/// An approved request is taken over by another replica after this long unclaimed.
pub const UNCLAIMED_AFTER_SECS: i64 = 30;
/// A replica carrying out a change renews its claim this often ...
pub const HEARTBEAT_SECS: i64 = 5;
/// ... so a change whose claim went unrenewed this long lost its runner (a crash, a lost
/// node): it is marked interrupted. Six missed renewals, so a slow store is not a dead replica.
pub const LEASE_SECS: i64 = 30;
const INTERRUPTED: &str = "interrupted: the replica running it stopped; whether the change reached its target is \
    unknown, so it was not run again (its page shows the target as it is now)";

/// One change being carried out by this process, counted while it lives.
struct Executing(Arc<watch::Sender<usize>>);

impl Executing {
    fn start(count: &Arc<watch::Sender<usize>>) -> Self {
        count.send_modify(|running| *running += 1);
        Self(count.clone())
    }
}

impl Drop for Executing {
    fn drop(&mut self) {
        self.0.send_modify(|running| *running -= 1);
    }
}

/// What [`Changes::recover`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub ran: usize,
    pub interrupted: usize,
}

const COLUMNS: &str = "id, environment, action, target, diff_before, diff_after, reason, requested_by, \
    requested_at, expires_at, required_approvals, approval_count, override_reason, block_reason, state, outcome, \
    finished_at";

// Not derived: a derive would ask `A: Clone`, which cloning the handles does not need.
impl<A> Clone for Changes<A> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            config: self.config.clone(),
            executor: self.executor.clone(),
            replica: self.replica.clone(),
            executing: self.executing.clone(),
        }
    }
}

impl<A: Change> Changes<A> {
    pub fn new(store: Store, config: Arc<Config>, executor: Arc<dyn Executor<A>>, replica: String) -> Self {
        Self { store, config, executor, replica, executing: Arc::new(watch::Sender::new(0)) }
    }

    /// Waits until every change this process claimed has been carried out and recorded; for
    /// shutdown, after the last request that could claim one has ended.
    pub async fn drain(&self) {
        let _ = self.executing.subscribe().wait_for(|running| *running == 0).await;
    }

    /// Asks for `action` in `environment`. Runs it at once where no approval is needed.
    /// `override_reason` lets an admin request through a lock or freeze.
    pub async fn request(
        &self,
        caller: &Caller,
        environment: &str,
        ask: Ask<'_, A>,
        now: Timestamp,
    ) -> Result<ChangeRequest<A>, ChangeError> {
        let Ask { action, reason, override_reason, seen, block } = ask;
        let refuse = |e: ChangeError, target: String| async move {
            let record = Record::new(caller, "change.request", Outcome::Refused, now)
                .environment(environment)
                .target(&target)
                .detail(e.to_string());
            audit::append_alone(&self.store, &record).await?;
            Err::<ChangeRequest<A>, _>(e)
        };
        let target = action.target();
        if let Err(denied) =
            policy::authorize(&self.config, &caller.user, environment, Permission::RequestChange)
        {
            return refuse(denied.into(), target).await;
        }
        // Some changes need more than the right to ask (a secret's rotation: admins only).
        if let Err(denied) = policy::authorize(&self.config, &caller.user, environment, action.permission()) {
            return refuse(denied.into(), target).await;
        }
        let env = self
            .config
            .environment(environment)
            .ok_or_else(|| Denied::UnknownEnvironment(environment.into()))?;
        action.validate(env).map_err(ChangeError::Invalid)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ChangeError::NoReason);
        }
        if reason.chars().count() > MAX_TEXT || override_reason.is_some_and(|r| r.chars().count() > MAX_TEXT)
        {
            return Err(ChangeError::TooLong("The reason"));
        }
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        let hold = locks::hold(&self.store, env, now).await?;
        let override_reason = match (&hold, override_reason) {
            (None, _) => None,
            (Some(hold), None) => return refuse(ChangeError::Held(hold.clone()), target).await,
            (Some(hold), Some(why)) => {
                if let Err(denied) =
                    policy::authorize(&self.config, &caller.user, environment, Permission::Override)
                {
                    return refuse(denied.into(), target).await;
                }
                Some(format!("{why} (overriding: {hold})"))
            }
        };
        let preview = self.executor.preview(env, &action, seen).await.map_err(ChangeError::Preview)?;
        if let Some(block) = blocked::blocking(&self.store, environment, &preview.releases).await? {
            return refuse(ChangeError::Blocked(Box::new(block)), target).await;
        }
        let block = block.map(str::trim).filter(|b| !b.is_empty());
        if block.is_some_and(|b| b.chars().count() > MAX_TEXT) {
            return Err(ChangeError::TooLong("The reason to block"));
        }
        let required = if env.protected { i64::from(env.required_approvals) } else { 0 };
        let state = if required == 0 { State::Approved } else { State::Pending };
        let id = crate::ids::random_token(12);
        let expires_at = now.plus_secs(i64::from(self.config.change_request_expiry_hours) * 3600);
        let action_json = serde_json::to_string(&action).map_err(|e| ChangeError::Invalid(e.to_string()))?;

        let mut tx = self.store.begin().await?;
        sqlx::query(
            "INSERT INTO change_requests (id, environment, action, target, diff_before, diff_after, reason, \
             requested_by, requested_at, expires_at, required_approvals, override_reason, state, block_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(environment)
        .bind(&action_json)
        .bind(&target)
        .bind(&preview.before)
        .bind(&preview.after)
        .bind(reason)
        .bind(&caller.user)
        .bind(now.millis())
        .bind(expires_at.millis())
        .bind(required)
        .bind(override_reason.as_deref())
        .bind(state.as_str())
        .bind(block)
        .execute(&mut *tx)
        .await?;
        let mut detail = format!("{} ({id}): {reason}", action.label());
        if let Some(why) = block {
            detail.push_str(&format!("; blocks what it takes out of service: {why}"));
        }
        if let Some(why) = &override_reason {
            detail.push_str(&format!("; override: {why}"));
        }
        if required > 0 {
            detail.push_str(&format!("; needs {required} approval(s)"));
        }
        let record = Record::new(caller, "change.request", Outcome::Succeeded, now)
            .environment(environment)
            .target(&target)
            .change(Some(preview.before.clone()), Some(preview.after.clone()))
            .commit(action.commit())
            .detail(detail);
        audit::append(&mut tx, &record).await?;
        tx.commit().await?;

        if state == State::Approved {
            self.run(caller, &id, now).await?;
        } else {
            let title = format!("{} asks: {} (needs {required} approval(s))", caller.user, action.describe());
            let event = Event::new(
                EventKind::ApprovalWaiting,
                environment,
                format!("change-request:{id}"),
                target,
                title,
            )
            .detail(format!("Why: {reason}"))
            .link(format!("/{environment}/approvals#change-{id}"));
            notify::emit(&self.store, &self.config, event).await;
        }
        self.get(&id).await?.ok_or(ChangeError::NotFound(id))
    }

    /// What `action` would change now, without asking for it (the rollback confirmation).
    pub async fn preview(&self, environment: &str, action: &A) -> Result<Preview, ChangeError> {
        let env = self
            .config
            .environment(environment)
            .ok_or_else(|| Denied::UnknownEnvironment(environment.into()))?;
        action.validate(env).map_err(ChangeError::Invalid)?;
        self.executor.preview(env, action, None).await.map_err(ChangeError::Preview)
    }

    /// Approves someone else's request; the approval that completes the count runs it.
    pub async fn approve(
        &self,
        caller: &Caller,
        id: &str,
        comment: &str,
        now: Timestamp,
    ) -> Result<ChangeRequest<A>, ChangeError> {
        let request = self.get(id).await?.ok_or_else(|| ChangeError::NotFound(id.into()))?;
        self.check_decision(caller, &request, "change.approve", now).await?;
        if comment.chars().count() > MAX_TEXT {
            return Err(ChangeError::TooLong("The comment"));
        }

        let mut tx = self.store.begin().await?;
        // First statement: a write on the request row, so concurrent approvals queue here.
        let moved = sqlx::query(
            "UPDATE change_requests SET approval_count = approval_count + 1, \
             state = CASE WHEN approval_count + 1 >= required_approvals THEN 'approved' ELSE 'pending' END \
             WHERE id = $1 AND state = 'pending' AND expires_at > $2 AND requested_by <> $3 RETURNING state",
        )
        .bind(id)
        .bind(now.millis())
        .bind(&caller.user)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = moved else {
            tx.rollback().await?;
            return Err(self.why_not_pending(id, now).await?);
        };
        let state = State::parse(&row.try_get::<String, _>(0)?);
        if !record_decision(&mut tx, id, &caller.user, "approve", comment, now).await? {
            tx.rollback().await?;
            return Err(ChangeError::AlreadyDecided);
        }
        let record = Record::new(caller, "change.approve", Outcome::Succeeded, now)
            .environment(&request.environment)
            .target(&request.target)
            .commit(request.action.commit())
            .detail(format!(
                "{} ({id}) requested by {}: {}",
                request.action.label(),
                request.requested_by,
                comment.trim()
            ));
        audit::append(&mut tx, &record).await?;
        tx.commit().await?;

        if state == State::Approved {
            self.run(caller, id, now).await?;
        }
        self.get(id).await?.ok_or_else(|| ChangeError::NotFound(id.into()))
    }

    /// Rejects a pending request: it will not run.
    pub async fn reject(
        &self,
        caller: &Caller,
        id: &str,
        comment: &str,
        now: Timestamp,
    ) -> Result<ChangeRequest<A>, ChangeError> {
        let request = self.get(id).await?.ok_or_else(|| ChangeError::NotFound(id.into()))?;
        self.check_decision(caller, &request, "change.reject", now).await?;
        if comment.chars().count() > MAX_TEXT {
            return Err(ChangeError::TooLong("The comment"));
        }
        let mut tx = self.store.begin().await?;
        let moved = sqlx::query(
            "UPDATE change_requests SET state = 'rejected', finished_at = $2 \
             WHERE id = $1 AND state = 'pending' AND expires_at > $2 AND requested_by <> $3",
        )
        .bind(id)
        .bind(now.millis())
        .bind(&caller.user)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(self.why_not_pending(id, now).await?);
        }
        // Someone who approved (the request waits for more approvals) and now rejects was
        // refused above; this catches the same person deciding twice at the same moment.
        if !record_decision(&mut tx, id, &caller.user, "reject", comment, now).await? {
            tx.rollback().await?;
            return Err(ChangeError::AlreadyDecided);
        }
        let record = Record::new(caller, "change.reject", Outcome::Succeeded, now)
            .environment(&request.environment)
            .target(&request.target)
            .change(Some("pending".into()), Some("rejected".into()))
            .detail(format!(
                "{} ({id}) requested by {}: {}",
                request.action.label(),
                request.requested_by,
                comment.trim()
            ));
        audit::append(&mut tx, &record).await?;
        tx.commit().await?;
        self.get(id).await?.ok_or_else(|| ChangeError::NotFound(id.into()))
    }

    /// Marks pending requests past their time as expired (audited), so none can run.
    pub async fn expire_due(&self, now: Timestamp) -> Result<usize, ChangeError> {
        let mut tx = self.store.begin().await?;
        let rows = sqlx::query(
            "UPDATE change_requests SET state = 'expired', finished_at = $1 WHERE state = 'pending' AND expires_at <= $1 \
             RETURNING id, environment, target, requested_by",
        )
        .bind(now.millis())
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let environment: String = row.try_get(1)?;
            let target: String = row.try_get(2)?;
            let requested_by: String = row.try_get(3)?;
            let record = Record::new(&Caller::new("rollgate"), "change.expire", Outcome::Succeeded, now)
                .environment(&environment)
                .target(&target)
                .change(Some("pending".into()), Some("expired".into()))
                .detail(format!("request {id} by {requested_by} expired without enough approvals"));
            audit::append(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Finishes what a stopped replica left behind; every replica calls it now and then.
    ///
    /// An approved request nobody claimed within [`UNCLAIMED_AFTER_SECS`] (its approver's
    /// replica stopped between the approval and the run) is run now, under the same claim as
    /// ever, so it still runs once. A request still executing whose claim went unrenewed for
    /// [`LEASE_SECS`] lost its runner mid-way: it is marked failed, saying that whether the
    /// change reached its target is unknown, rather than run a second time.
    pub async fn recover(&self, now: Timestamp) -> Result<Recovered, ChangeError> {
        let unclaimed = sqlx::query(
            "SELECT c.id FROM change_requests c WHERE c.state = 'approved' AND \
             COALESCE((SELECT MAX(a.at) FROM approvals a WHERE a.request_id = c.id), c.requested_at) <= $1",
        )
        .bind(now.plus_secs(-UNCLAIMED_AFTER_SECS).millis())
        .fetch_all(self.store.pool())
        .await?;
        let recovery = Caller::new("rollgate");
        for row in &unclaimed {
            let id: String = row.try_get(0)?;
            self.run(&recovery, &id, now).await?;
        }

        let mut tx = self.store.begin().await?;
        let stale = sqlx::query(
            "UPDATE change_requests SET state = 'failed', outcome = $1, finished_at = $2 \
             WHERE state = 'executing' AND COALESCE(heartbeat_at, claimed_at) <= $3 \
             RETURNING id, environment, target, executed_by, action",
        )
        .bind(INTERRUPTED)
        .bind(now.millis())
        .bind(now.plus_secs(-LEASE_SECS).millis())
        .fetch_all(&mut *tx)
        .await?;
        for row in &stale {
            let id: String = row.try_get(0)?;
            let environment: String = row.try_get(1)?;
            let target: String = row.try_get(2)?;
            let runner: Option<String> = row.try_get(3)?;
            let action: String = row.try_get(4)?;
            let kind = serde_json::from_str::<A>(&action).map_or("unknown", |a| a.label());
            metrics::change_executed(&environment, kind, "interrupted", None);
            let record = Record::new(&recovery, "change.interrupted", Outcome::Failed, now)
                .environment(&environment)
                .target(&target)
                .change(Some("executing".into()), Some("failed".into()))
                .detail(format!(
                    "request {id}: replica {} stopped while running it; {INTERRUPTED}",
                    runner.as_deref().unwrap_or("unknown")
                ));
            audit::append(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(Recovered { ran: unclaimed.len(), interrupted: stale.len() })
    }

    /// How many requests are pending, approved or executing: (environment, state, kind, count).
    pub async fn open_counts(&self) -> Result<Vec<(String, &'static str, &'static str, i64)>, ChangeError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE state IN ('pending', 'approved', 'executing')"
        ))
        .fetch_all(self.store.pool())
        .await?;
        let mut counts: BTreeMap<(String, &'static str, &'static str), i64> = BTreeMap::new();
        for row in &rows {
            let request = request_of::<A>(row)?;
            let key = (request.environment, request.state.as_str(), request.action.label());
            *counts.entry(key).or_default() += 1;
        }
        Ok(counts.into_iter().map(|((env, state, kind), n)| (env, state, kind, n)).collect())
    }

    pub async fn get(&self, id: &str) -> Result<Option<ChangeRequest<A>>, ChangeError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM change_requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        match row {
            Some(row) => Ok(Some(self.with_decisions(request_of(&row)?).await?)),
            None => Ok(None),
        }
    }

    /// The requests of `environment`: waiting ones first (oldest first), then the latest
    /// `recent` decided ones.
    pub async fn list(
        &self,
        environment: &str,
        recent: i64,
        now: Timestamp,
    ) -> Result<Vec<ChangeRequest<A>>, ChangeError> {
        self.expire_due(now).await?;
        let pending = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE environment = $1 AND state = 'pending' ORDER BY requested_at"
        ))
        .bind(environment)
        .fetch_all(self.store.pool())
        .await?;
        let done = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE environment = $1 AND state <> 'pending' \
             ORDER BY requested_at DESC LIMIT $2"
        ))
        .bind(environment)
        .bind(recent)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(pending.len() + done.len());
        for row in pending.iter().chain(&done) {
            out.push(self.with_decisions(request_of(row)?).await?);
        }
        Ok(out)
    }

    /// The latest requests for one target (`namespace/deployment`), newest first.
    pub async fn for_target(
        &self,
        environment: &str,
        target: &str,
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<ChangeRequest<A>>, ChangeError> {
        self.expire_due(now).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM change_requests WHERE environment = $1 AND target = $2 \
             ORDER BY requested_at DESC LIMIT $3"
        ))
        .bind(environment)
        .bind(target)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.with_decisions(request_of(row)?).await?);
        }
        Ok(out)
    }

    /// Marks approved request `id` as executing by this replica, unless it is not approved
    /// (any more) or another change to its target is executing.
    async fn claim(&self, id: &str, now: Timestamp) -> Result<bool, ChangeError> {
        let mut tx = self.store.begin().await?;
        let claimed = async {
            if self.store.kind() == Kind::Postgres {
                // Claims on one target queue here, so each sees the claims committed before it
                // (SQLite's single writer does the same for the UPDATE below).
                sqlx::query(
                    "SELECT pg_advisory_xact_lock(hashtext(environment || '/' || target)) \
                     FROM change_requests WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE change_requests SET state = 'executing', executed_by = $2, claimed_at = $3, heartbeat_at = $3 \
                 WHERE id = $1 AND state = 'approved' AND NOT EXISTS (\
                   SELECT 1 FROM change_requests AS running WHERE running.state = 'executing' \
                   AND running.environment = change_requests.environment \
                   AND running.target = change_requests.target) \
                 RETURNING id",
            )
            .bind(id)
            .bind(&self.replica)
            .bind(now.millis())
            .fetch_optional(&mut *tx)
            .await
        }
        .await;
        match claimed {
            Ok(row) => {
                tx.commit().await.map_err(StoreError::from)?;
                Ok(row.is_some())
            }
            Err(e) => {
                // Ended explicitly: a dropped transaction would hold SQLite's lock.
                let _ = tx.rollback().await;
                Err(StoreError::from(e).into())
            }
        }
    }

    /// Claims an approved request and carries it out; does nothing when another caller (or
    /// replica) claimed it first, or while another change to the same target runs (two
    /// rotations of one token, two rollouts of one deployment): the request then stays
    /// approved and the recovery sweep runs it once the other has ended.
    async fn run(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), ChangeError> {
        if !self.claim(id, now).await? {
            return Ok(());
        }
        // Carried out in a task of its own, renewing the claim as it goes: the request that
        // claimed it may be cancelled (its client went away) but a change never stops half-way
        // for that, and a shutdown waits for it ([`Changes::drain`]).
        let executing = Executing::start(&self.executing);
        let this = self.clone();
        let (caller, id) = (caller.clone(), id.to_owned());
        let task = tokio::spawn(async move {
            let _executing = executing;
            tokio::select! {
                result = this.carry_out(&caller, &id, now) => result,
                never = this.renew_claim(&id) => match never {},
            }
        });
        // A panic in an executor ends the renewals too, so the sweep marks the change
        // interrupted.
        task.await.unwrap_or_else(|e| Err(ChangeError::Aborted(e.to_string())))
    }

    /// Renews this replica's claim on executing change `id` every [`HEARTBEAT_SECS`], for as
    /// long as it is carried out (the caller drops this future when it ends).
    async fn renew_claim(&self, id: &str) -> std::convert::Infallible {
        let every = std::time::Duration::from_secs(HEARTBEAT_SECS.unsigned_abs());
        loop {
            tokio::time::sleep(every).await;
            let renewed = sqlx::query(
                "UPDATE change_requests SET heartbeat_at = $3 WHERE id = $1 AND executed_by = $2 \
                 AND state = 'executing'",
            )
            .bind(id)
            .bind(&self.replica)
            .bind(Timestamp::now().millis())
            .execute(self.store.pool())
            .await;
            if let Err(e) = renewed {
                tracing::warn!(change = id, error = %e, "cannot renew the claim on an executing change");
            }
        }
    }

    /// Carries out claimed change `id` and records how it ended.
    async fn carry_out(&self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), ChangeError> {
        let request = self.get(id).await?.ok_or_else(|| ChangeError::NotFound(id.into()))?;
        let approvers: Vec<_> =
            request.decisions.iter().filter(|d| d.approved).map(|d| d.by.as_str()).collect();
        let origin = Origin {
            change: id.to_owned(),
            by: if approvers.is_empty() {
                request.requested_by.clone()
            } else {
                format!("{}, approved by {}", request.requested_by, approvers.join(", "))
            },
        };
        let began = std::time::Instant::now();
        let result = match self.config.environment(&request.environment) {
            None => Err(ExecuteError::Refused(format!(
                "environment {} is no longer configured",
                request.environment
            ))),
            Some(env) => match locks::hold(&self.store, env, now).await? {
                Some(hold) if request.override_reason.is_none() => {
                    Err(ExecuteError::Refused(format!("held: {hold}")))
                }
                _ => match self.blocked_release(env, &request.action).await? {
                    Some(block) => {
                        Err(ExecuteError::Refused(format!("it would release a blocked commit: {block}")))
                    }
                    None => self.executor.execute(env, &request.action, &request.before, &origin).await,
                },
            },
        };
        // The execution took time: its record is stamped when it ended.
        let now = Timestamp::now().max(now);
        let (state, outcome, result_kind) = match &result {
            Ok(done) => (State::Executed, done.detail.clone(), Outcome::Succeeded),
            Err(e) => (State::Failed, e.to_string(), Outcome::Failed),
        };
        metrics::change_executed(
            &request.environment,
            request.action.label(),
            state.as_str(),
            Some(began.elapsed()),
        );
        let started = result.as_ref().ok().and_then(|done| done.started_execution.clone());
        let mut tx = self.store.begin().await?;
        sqlx::query(
            "UPDATE change_requests SET state = $2, outcome = $3, finished_at = $4, started_execution = $5 \
             WHERE id = $1 AND state = 'executing'",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(&outcome)
        .bind(now.millis())
        .bind(started.as_deref())
        .execute(&mut *tx)
        .await?;
        if let (Ok(done), Some(why)) = (&result, request.block_reason.as_deref()) {
            let by = Caller { user: request.requested_by.clone(), ..caller.clone() };
            for commit in &done.retired {
                blocked::block(&mut tx, &by, &request.environment, commit, why, Some(id), now).await?;
            }
        }
        let approved_by = if approvers.is_empty() {
            "no approval needed".to_owned()
        } else {
            format!("approved by {}", approvers.join(", "))
        };
        let record = Record::new(caller, "change.execute", result_kind, now)
            .environment(&request.environment)
            .target(&request.target)
            .change(Some(request.before.clone()), Some(request.after.clone()))
            .commit(request.action.commit())
            .detail(format!(
                "{} ({id}) requested by {}, {approved_by}, run by {}: {outcome}",
                request.action.label(),
                request.requested_by,
                self.replica
            ));
        audit::append(&mut tx, &record).await?;
        tx.commit().await?;
        let (kind, verb) = if state == State::Executed {
            (EventKind::ChangeExecuted, "ran")
        } else {
            (EventKind::ChangeFailed, "failed")
        };
        let event = Event::new(
            kind,
            &request.environment,
            format!("{}:{id}", kind.as_str()),
            request.target.clone(),
            format!("{}'s change {verb}: {}", request.requested_by, request.action.describe()),
        )
        .detail(format!("{approved_by}: {outcome}"))
        .link(format!("/{}/approvals#change-{id}", request.environment))
        .change_kind(request.action.label());
        notify::emit(&self.store, &self.config, event).await;
        Ok(())
    }

    /// The block that `action` would break, checked again when it is about to run (a commit
    /// may have been blocked since it was asked for). Previewed only when something is
    /// blocked in the environment.
    async fn blocked_release(&self, env: &Environment, action: &A) -> Result<Option<Block>, ChangeError> {
        if blocked::active(&self.store, &env.name).await?.is_empty() {
            return Ok(None);
        }
        match self.executor.preview(env, action, None).await {
            Ok(preview) => Ok(blocked::blocking(&self.store, &env.name, &preview.releases).await?),
            // The execution says what is wrong with the target itself.
            Err(_) => Ok(None),
        }
    }

    /// [`may_decide`], with the refusal audited (and a request found past its time expired).
    async fn check_decision(
        &self,
        caller: &Caller,
        request: &ChangeRequest<A>,
        action: &str,
        now: Timestamp,
    ) -> Result<(), ChangeError> {
        let Err(e) = may_decide(&self.config, request, &caller.user, now) else { return Ok(()) };
        if matches!(e, ChangeError::Expired(_)) && request.state == State::Pending {
            self.expire_due(now).await?;
        }
        self.refuse_decision(caller, request, action, e, now).await
    }

    /// Audits a refused decision; always the refusal.
    async fn refuse_decision(
        &self,
        caller: &Caller,
        request: &ChangeRequest<A>,
        action: &str,
        error: ChangeError,
        now: Timestamp,
    ) -> Result<(), ChangeError> {
        let record = Record::new(caller, action, Outcome::Refused, now)
            .environment(&request.environment)
            .target(&request.target)
            .detail(format!("{} ({}): {error}", request.action.label(), request.id));
        audit::append_alone(&self.store, &record).await?;
        Err(error)
    }

    /// Why a decision found the request not pending (read after the conditional UPDATE lost).
    async fn why_not_pending(&self, id: &str, now: Timestamp) -> Result<ChangeError, ChangeError> {
        let Some(request) = self.get(id).await? else { return Ok(ChangeError::NotFound(id.into())) };
        Ok(match request.state {
            State::Pending if request.expires_at <= now.millis() => {
                self.expire_due(now).await?;
                ChangeError::Expired(request.expires_at)
            }
            State::Expired => ChangeError::Expired(request.expires_at),
            State::Pending => ChangeError::SelfApproval,
            other => ChangeError::NotPending(other),
        })
    }

    async fn with_decisions(&self, mut request: ChangeRequest<A>) -> Result<ChangeRequest<A>, ChangeError> {
        let rows = sqlx::query("SELECT approver, decision, comment, at FROM approvals WHERE request_id = $1 ORDER BY at, approver")
            .bind(&request.id)
            .fetch_all(self.store.pool())
            .await?;
        request.decisions = rows
            .iter()
            .map(|row| {
                Ok(Decision {
                    by: row.try_get(0)?,
                    approved: row.try_get::<String, _>(1)? == "approve",
                    comment: row.try_get(2)?,
                    at: row.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(request)
    }
}

/// Records `user`'s decision (`approve` or `reject`) on request `id`; `false` when they had
/// already decided (one decision per person, kept by the table's key).
async fn record_decision(
    tx: &mut crate::store::Tx,
    id: &str,
    user: &str,
    decision: &str,
    comment: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO approvals (request_id, approver, decision, comment, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (request_id, approver) DO NOTHING",
    )
    .bind(id)
    .bind(user)
    .bind(decision)
    .bind(comment.trim())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Whether `user` may approve or reject `request` at `now`: the one rule the Approvals page
/// shows and [`Changes::approve`] and [`Changes::reject`] enforce. Someone with no role in
/// the request's environment learns nothing more; the request must still be waiting; the
/// person who asked for it never decides on it, nobody decides twice, and deciding needs the
/// approver role there.
pub fn may_decide<A>(
    config: &Config,
    request: &ChangeRequest<A>,
    user: &str,
    now: Timestamp,
) -> Result<(), ChangeError> {
    policy::authorize(config, user, &request.environment, Permission::View)?;
    if request.state != State::Pending {
        return Err(match request.state {
            State::Expired => ChangeError::Expired(request.expires_at),
            other => ChangeError::NotPending(other),
        });
    }
    if request.expires_at <= now.millis() {
        return Err(ChangeError::Expired(request.expires_at));
    }
    if request.requested_by == user {
        return Err(ChangeError::SelfApproval);
    }
    if request.decisions.iter().any(|d| d.by == user) {
        return Err(ChangeError::AlreadyDecided);
    }
    policy::authorize(config, user, &request.environment, Permission::Approve)?;
    Ok(())
}

fn request_of<A: Change>(row: &AnyRow) -> Result<ChangeRequest<A>, ChangeError> {
    let action: String = row.try_get("action")?;
    Ok(ChangeRequest {
        id: row.try_get("id")?,
        environment: row.try_get("environment")?,
        action: serde_json::from_str(&action)
            .map_err(|e| ChangeError::Invalid(format!("stored action: {e}")))?,
        target: row.try_get("target")?,
        before: row.try_get("diff_before")?,
        after: row.try_get("diff_after")?,
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        expires_at: row.try_get("expires_at")?,
        required_approvals: row.try_get("required_approvals")?,
        approval_count: row.try_get("approval_count")?,
        override_reason: row.try_get("override_reason")?,
        block_reason: row.try_get("block_reason")?,
        state: State::parse(&row.try_get::<String, _>("state")?),
        decisions: Vec::new(),
        outcome: row.try_get("outcome")?,
        finished_at: row.try_get("finished_at")?,
    })
}

#[cfg(test)]
mod tests;
