//! Four-eyes scenarios, each on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use super::executor::BoxFuture;
use super::*;
use crate::config::{Environment, Source, load};
use crate::policy::Role;

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn config(required: u8) -> Arc<Config> {
    let mut config = load(&Source::SandboxDefault).unwrap();
    for (name, role) in [("bob", Role::Approver), ("cleo", Role::Approver), ("dan", Role::Deployer)] {
        config.roles.insert(name.into(), role);
    }
    config.environments[1].required_approvals = required;
    Arc::new(config)
}

/// A change of no real system: the desk must work for any [`Change`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Action {
    Restart { namespace: String, deployment: String },
    Scale { namespace: String, deployment: String, replicas: u32 },
}

impl Change for Action {
    fn label(&self) -> &'static str {
        match self {
            Action::Restart { .. } => "restart",
            Action::Scale { .. } => "scale",
        }
    }
    fn target(&self) -> String {
        let (Action::Restart { namespace, deployment } | Action::Scale { namespace, deployment, .. }) = self;
        format!("{namespace}/{deployment}")
    }
    fn describe(&self) -> String {
        format!("{} {}", self.label(), self.target())
    }
    fn validate(&self, env: &Environment) -> Result<(), String> {
        let (Action::Restart { namespace, .. } | Action::Scale { namespace, .. }) = self;
        match env.namespaces.contains(namespace) {
            true => Ok(()),
            false => Err(format!("namespace {namespace:?} is not one of {}'s", env.name)),
        }
    }
}

type Changes = super::Changes<Action>;
type ChangeRequest = super::ChangeRequest<Action>;

/// An executor that remembers every execution, optionally after a pause (to widen race
/// windows) or failing.
#[derive(Clone)]
struct Recording<A = Action> {
    executed: std::sync::Arc<std::sync::Mutex<Vec<(String, A)>>>,
    pause: Option<std::time::Duration>,
    fail_with: Option<String>,
}

impl<A> Default for Recording<A> {
    fn default() -> Self {
        Self { executed: Default::default(), pause: None, fail_with: None }
    }
}

impl<A: Clone> Recording<A> {
    fn executions(&self) -> Vec<(String, A)> {
        self.executed.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl<A: Change> Executor<A> for Recording<A> {
    fn preview<'a>(
        &'a self,
        _env: &'a Environment,
        action: &'a A,
        _seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        let after = serde_json::to_string(action).unwrap_or_default();
        Box::pin(async move {
            Ok(Preview {
                before: "as it is".into(),
                after,
                version: String::new(),
                releases: Vec::new(),
                retires: Vec::new(),
            })
        })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a A,
        _before: &'a str,
        _origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        Box::pin(async move {
            if let Some(pause) = self.pause {
                tokio::time::sleep(pause).await;
            }
            if let Some(message) = &self.fail_with {
                return Err(ExecuteError::Unreachable(message.clone()));
            }
            if let Ok(mut v) = self.executed.lock() {
                v.push((env.name.clone(), action.clone()));
            }
            Ok(Executed::new(format!("{} done", action.label())))
        })
    }
}

fn desk(store: &Store, config: Arc<Config>, executor: &Recording, replica: &str) -> Changes {
    Changes::new(store.clone(), config, Arc::new(executor.clone()), replica.into())
}

fn restart() -> Action {
    Action::Restart { namespace: "production".into(), deployment: "myapp-deployment".into() }
}

fn who(user: &str) -> Caller {
    Caller { user: user.into(), source_ip: Some("10.0.0.1".into()), request_id: Some(format!("req-{user}")) }
}

async fn trail(store: &Store, action: &str) -> Vec<crate::audit::Record> {
    let filter = crate::audit::Filter { action: Some(action.into()), ..Default::default() };
    crate::audit::list(store, &filter, 0, 100).await.unwrap().records
}

/// In an unprotected environment a change runs at once; in a protected one it waits.
async fn protected_changes_wait_for_approval(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "replica-a");
    let staging =
        Action::Scale { namespace: "staging".into(), deployment: "myapp-deployment".into(), replicas: 3 };
    let done = changes
        .request(&who("dana"), "staging", Ask::new(staging.clone(), "more traffic"), T0)
        .await
        .unwrap();
    assert_eq!(done.state, State::Executed);
    assert_eq!(exec.executions(), vec![("staging".to_owned(), staging)]);

    let waiting =
        changes.request(&who("dana"), "production", Ask::new(restart(), "stuck pods"), T0).await.unwrap();
    assert_eq!(waiting.state, State::Pending);
    assert_eq!(waiting.required_approvals, 1);
    assert_eq!(exec.executions().len(), 1);
    let approved = changes.approve(&who("avery"), &waiting.id, "ok", T0.plus_secs(60)).await.unwrap();
    assert_eq!(approved.state, State::Executed);
    assert_eq!(approved.outcome.as_deref(), Some("restart done"));
    assert_eq!(approved.decisions.len(), 1);
    assert_eq!(exec.executions().len(), 2);
    let executed = trail(&store, "change.execute").await;
    assert_eq!(executed.len(), 2);
    assert_eq!(executed[0].actor, "avery");
    assert!(
        executed[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("requested by dana, approved by avery, run by replica-a")
    );
    assert_eq!(executed[0].request_id.as_deref(), Some("req-avery"));
}

/// The requester cannot approve their own change, whatever their role; the refusal is audited.
async fn self_approval_is_refused(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    let request =
        changes.request(&who("ada"), "production", Ask::new(restart(), "admin asks"), T0).await.unwrap();
    let e = changes.approve(&who("ada"), &request.id, "me", T0).await.unwrap_err();
    assert!(matches!(e, ChangeError::SelfApproval), "{e}");
    assert_eq!(changes.get(&request.id).await.unwrap().unwrap().state, State::Pending);
    assert!(exec.executions().is_empty());
    let refused = trail(&store, "change.approve").await;
    assert_eq!(refused[0].result, Outcome::Refused);
    // Roles hold too: a deployer may not approve, a viewer may not request.
    let e = changes.approve(&who("dan"), &request.id, "", T0).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "As deployer in Production you may not approve or reject changes; that needs the approver or admin role."
    );
    assert!(matches!(
        changes.request(&who("vera"), "production", Ask::new(restart(), "x"), T0).await,
        Err(ChangeError::Denied(_))
    ));
}

/// An approval on its own task, as a request handler would run it.
async fn approve_in_task(changes: &Changes, user: &str, id: &str) -> Result<ChangeRequest, ChangeError> {
    let (changes, user, id) = (changes.clone(), user.to_owned(), id.to_owned());
    tokio::spawn(async move { changes.approve(&who(&user), &id, "go", T0).await }).await.unwrap()
}

/// Two approvers clicking at the same moment: one approval completes the count, the change
/// runs once, and the other approver is told it no longer waits.
async fn concurrent_approvals_execute_once(store: Store) {
    let exec = Recording { pause: Some(Duration::from_millis(50)), ..Default::default() };
    let changes = desk(&store, config(1), &exec, "a");
    for round in 0..5 {
        let request =
            changes.request(&who("dana"), "production", Ask::new(restart(), "race"), T0).await.unwrap();
        let (a, b) = tokio::join!(
            approve_in_task(&changes, "avery", &request.id),
            approve_in_task(&changes, "bob", &request.id)
        );
        let wins = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(wins, 1, "round {round}: {a:?} {b:?}");
        let loser = a.err().or(b.err()).unwrap();
        assert!(matches!(loser, ChangeError::NotPending(_)), "{loser}");
        assert_eq!(exec.executions().len(), round + 1);
    }
}

/// Two replicas (two pools on one database) and three approvers for a change needing two.
async fn replicas_sharing_the_store_execute_once(store: Store, url: String) {
    let exec = Recording { pause: Some(Duration::from_millis(20)), ..Default::default() };
    let other = Store::open(&url).await.unwrap();
    let config = config(2);
    let a = desk(&store, config.clone(), &exec, "replica-a");
    let b = desk(&other, config, &exec, "replica-b");
    let request =
        a.request(&who("dana"), "production", Ask::new(restart(), "two replicas"), T0).await.unwrap();
    let (x, y, z) = tokio::join!(
        approve_in_task(&a, "avery", &request.id),
        approve_in_task(&b, "bob", &request.id),
        approve_in_task(&b, "cleo", &request.id)
    );
    assert_eq!([x.is_ok(), y.is_ok(), z.is_ok()].iter().filter(|ok| **ok).count(), 2, "{x:?} {y:?} {z:?}");
    assert_eq!(exec.executions().len(), 1);
    let done = a.get(&request.id).await.unwrap().unwrap();
    assert_eq!(done.state, State::Executed);
    assert_eq!(done.approval_count, 2);
    assert_eq!(trail(&store, "change.execute").await.len(), 1);
}

/// The claim on its own: two replicas told to run the same approved request (a retry, a
/// sweeper) run it once.
async fn the_claim_runs_an_approved_request_once(store: Store, url: String) {
    let exec = Recording { pause: Some(Duration::from_millis(20)), ..Default::default() };
    let other = Store::open(&url).await.unwrap();
    let a = desk(&store, config(1), &exec, "replica-a");
    let b = desk(&other, config(1), &exec, "replica-b");
    let request = a.request(&who("dana"), "production", Ask::new(restart(), "claim"), T0).await.unwrap();
    sqlx::query("UPDATE change_requests SET state = 'approved' WHERE id = $1")
        .bind(&request.id)
        .execute(store.pool())
        .await
        .unwrap();
    let run =
        |changes: Changes, id: String| tokio::spawn(async move { changes.run(&who("avery"), &id, T0).await });
    let (x, y) = tokio::join!(run(a.clone(), request.id.clone()), run(b, request.id.clone()));
    x.unwrap().unwrap();
    y.unwrap().unwrap();
    assert_eq!(exec.executions().len(), 1);
    assert_eq!(a.get(&request.id).await.unwrap().unwrap().state, State::Executed);
}

/// Two approved changes to one deployment, run by two replicas at the same moment: one runs,
/// the other stays approved until the first has ended, then runs.
async fn changes_to_one_target_run_one_at_a_time(store: Store, url: String) {
    let exec = Recording { pause: Some(Duration::from_millis(400)), ..Default::default() };
    let other = Store::open(&url).await.unwrap();
    let a = desk(&store, config(1), &exec, "replica-a");
    let b = desk(&other, config(1), &exec, "replica-b");
    let first = a.request(&who("dana"), "production", Ask::new(restart(), "one"), T0).await.unwrap();
    let second = a.request(&who("dana"), "production", Ask::new(restart(), "two"), T0).await.unwrap();
    for id in [&first.id, &second.id] {
        sqlx::query("UPDATE change_requests SET state = 'approved' WHERE id = $1")
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let run =
        |changes: Changes, id: String| tokio::spawn(async move { changes.run(&who("avery"), &id, T0).await });
    let (x, y) = tokio::join!(run(a.clone(), first.id.clone()), run(b.clone(), second.id.clone()));
    x.unwrap().unwrap();
    y.unwrap().unwrap();
    assert_eq!(exec.executions().len(), 1, "one at a time");
    let state = |id: String| {
        let a = a.clone();
        async move { a.get(&id).await.unwrap().unwrap().state }
    };
    let states = [state(first.id.clone()).await, state(second.id.clone()).await];
    assert!(states.contains(&State::Executed) && states.contains(&State::Approved), "{states:?}");
    let waiting = if states[0] == State::Approved { &first.id } else { &second.id };
    b.run(&who("avery"), waiting, T0).await.unwrap();
    assert_eq!(exec.executions().len(), 2, "the one that waited runs once the first has ended");
    assert_eq!(state(waiting.clone()).await, State::Executed);
}

/// A request nobody approved in time expires and can no longer run.
async fn expired_requests_cannot_execute(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    let request = changes.request(&who("dana"), "production", Ask::new(restart(), "late"), T0).await.unwrap();
    let later = T0.plus_secs(24 * 3600);
    let e = changes.approve(&who("avery"), &request.id, "too late", later).await.unwrap_err();
    assert_eq!(e.to_string(), format!("This request expired at {}; request it again.", later.rfc3339()));
    assert_eq!(changes.get(&request.id).await.unwrap().unwrap().state, State::Expired);
    assert!(exec.executions().is_empty());
    assert_eq!(trail(&store, "change.expire").await.len(), 1);
    assert!(matches!(
        changes.approve(&who("bob"), &request.id, "", later).await,
        Err(ChangeError::Expired(_))
    ));
}

/// Rollgate restarting between the request and the approval loses nothing.
async fn a_restart_between_request_and_approval_loses_nothing(store: Store, url: String) {
    let exec = Recording::default();
    let request = desk(&store, config(1), &exec, "before")
        .request(&who("dana"), "production", Ask::new(restart(), "restart test"), T0)
        .await
        .unwrap();
    store.close().await;
    let reopened = Store::open(&url).await.unwrap();
    let changes = desk(&reopened, config(1), &exec, "after");
    let waiting = changes.list("production", 10, T0.plus_secs(1)).await.unwrap();
    assert_eq!(
        waiting.iter().map(|r| (&r.id, r.state)).collect::<Vec<_>>(),
        vec![(&request.id, State::Pending)]
    );
    assert_eq!(waiting[0].reason, "restart test");
    let done = changes.approve(&who("avery"), &request.id, "", T0.plus_secs(2)).await.unwrap();
    assert_eq!(done.state, State::Executed);
    assert_eq!(exec.executions(), vec![("production".to_owned(), restart())]);
}

/// A replica stopping between the approval and the run: another replica runs the change,
/// once, after it has waited unclaimed long enough; not before.
async fn an_approval_whose_replica_stopped_still_runs_once(store: Store, url: String) {
    let exec = Recording::default();
    let a = desk(&store, config(1), &exec, "replica-a");
    let request = a.request(&who("dana"), "production", Ask::new(restart(), "stopped"), T0).await.unwrap();
    // What an approval leaves when its replica dies before claiming the run.
    sqlx::query("UPDATE change_requests SET state = 'approved' WHERE id = $1")
        .bind(&request.id)
        .execute(store.pool())
        .await
        .unwrap();
    let other = Store::open(&url).await.unwrap();
    let b = desk(&other, config(1), &exec, "replica-b");
    assert_eq!(b.recover(T0.plus_secs(UNCLAIMED_AFTER_SECS - 1)).await.unwrap(), Recovered::default());
    assert!(exec.executions().is_empty(), "a fresh approval is left to its own replica");
    let later = T0.plus_secs(UNCLAIMED_AFTER_SECS);
    let (x, y) = tokio::join!(a.recover(later), b.recover(later));
    assert_eq!(x.unwrap().interrupted + y.unwrap().interrupted, 0);
    assert_eq!(exec.executions().len(), 1, "two replicas recovering together run it once");
    assert_eq!(a.get(&request.id).await.unwrap().unwrap().state, State::Executed);
}

/// A replica stopping while it runs a change: the change is marked failed in words and
/// audited once its claim goes unrenewed for the lease, and is never run a second time.
async fn a_change_whose_runner_stopped_is_failed_not_rerun(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    let request =
        changes.request(&who("dana"), "production", Ask::new(restart(), "midway"), T0).await.unwrap();
    sqlx::query(
        "UPDATE change_requests SET state = 'executing', executed_by = 'replica-gone', claimed_at = $2 WHERE id = $1",
    )
    .bind(&request.id)
    .bind(T0.millis())
    .execute(store.pool())
    .await
    .unwrap();
    assert_eq!(changes.recover(T0.plus_secs(LEASE_SECS - 1)).await.unwrap(), Recovered::default());
    assert_eq!(changes.get(&request.id).await.unwrap().unwrap().state, State::Executing);
    let recovered = changes.recover(T0.plus_secs(LEASE_SECS)).await.unwrap();
    assert_eq!(recovered, Recovered { ran: 0, interrupted: 1 });
    let failed = changes.get(&request.id).await.unwrap().unwrap();
    assert_eq!(failed.state, State::Failed);
    assert!(failed.outcome.unwrap().starts_with("interrupted: the replica running it stopped"));
    assert!(exec.executions().is_empty());
    let trail = trail(&store, "change.interrupted").await;
    assert_eq!(trail.len(), 1);
    let detail = trail[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("replica replica-gone stopped"), "{detail}");
    assert_eq!(changes.recover(T0.plus_secs(LEASE_SECS + 60)).await.unwrap(), Recovered::default());
}

/// An approval whose caller goes away (the browser closed, the request cancelled) while its
/// change runs does not cut the change short; `drain` waits for it, as shutdown does.
async fn a_cancelled_approval_still_carries_out_its_change(store: Store) {
    let exec = Recording { pause: Some(Duration::from_millis(300)), ..Recording::default() };
    let changes = desk(&store, config(1), &exec, "a");
    let idle = tokio::time::timeout(Duration::from_secs(1), changes.drain()).await;
    assert!(idle.is_ok(), "nothing running: drain returns at once");
    let request = changes.request(&who("dana"), "production", Ask::new(restart(), "left"), T0).await.unwrap();
    let executing = async {
        while changes.get(&request.id).await.unwrap().unwrap().state != State::Executing {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let bob = who("bob");
    tokio::select! {
        _ = changes.approve(&bob, &request.id, "", T0) => panic!("the approval was to be cancelled"),
        () = executing => {}
    }
    changes.drain().await;
    assert_eq!(changes.get(&request.id).await.unwrap().unwrap().state, State::Executed);
    assert_eq!(exec.executions().len(), 1);
    assert_eq!(trail(&store, "change.execute").await.len(), 1);
}

/// A lock holds changes with its reason; an admin overrides with a reason, audited.
async fn locks_hold_changes_and_admins_override(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    locks::lock(&store, &who("avery"), "production", "incident 42", None, T0).await.unwrap();
    let e = changes.request(&who("dana"), "production", Ask::new(restart(), "fix"), T0).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Changes are held: production is locked by avery: incident 42. An admin may override with a reason."
    );
    let e = changes
        .request(&who("dana"), "production", Ask::new(restart(), "fix").overriding("urgent"), T0)
        .await
        .unwrap_err();
    assert!(matches!(e, ChangeError::Denied(_)), "{e}");
    let request = changes
        .request(
            &who("ada"),
            "production",
            Ask::new(restart(), "fix").overriding("the fix for incident 42"),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        request.override_reason.as_deref(),
        Some("the fix for incident 42 (overriding: production is locked by avery: incident 42)")
    );
    let done = changes.approve(&who("avery"), &request.id, "", T0).await.unwrap();
    assert_eq!(done.state, State::Executed);
    // Unprotected environments are held by their locks too.
    let request =
        changes.request(&who("dana"), "staging", Ask::new(restart_in("staging"), "x"), T0).await.unwrap();
    assert_eq!(request.state, State::Executed);
    locks::lock(&store, &who("ada"), "staging", "freeze for audit", None, T0).await.unwrap();
    let e =
        changes.request(&who("dana"), "staging", Ask::new(restart_in("staging"), "x"), T0).await.unwrap_err();
    assert!(matches!(e, ChangeError::Held(_)));
    let requests = trail(&store, "change.request").await;
    assert!(requests.iter().any(|r| r.result == Outcome::Refused && r.actor == "dana"));
    assert!(
        requests.iter().any(|r| r
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("override: the fix for incident 42"))
    );
}

/// Approved before a lock, run during it: refused at execution, and the outcome says why.
async fn a_lock_set_while_waiting_stops_the_execution(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    let request = changes
        .request(&who("dana"), "production", Ask::new(restart(), "before the lock"), T0)
        .await
        .unwrap();
    locks::lock(&store, &who("avery"), "production", "incident 7", None, T0.plus_secs(1)).await.unwrap();
    let done = changes.approve(&who("bob"), &request.id, "", T0.plus_secs(2)).await.unwrap();
    assert_eq!(done.state, State::Failed);
    assert_eq!(done.outcome.as_deref(), Some("held: production is locked by avery: incident 7"));
    assert!(exec.executions().is_empty());
}

fn restart_in(namespace: &str) -> Action {
    Action::Restart { namespace: namespace.into(), deployment: "myapp-deployment".into() }
}

/// A rejected request never runs; an executor failure is recorded as the outcome.
async fn rejections_and_failures(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(1), &exec, "a");
    let request =
        changes.request(&who("dana"), "production", Ask::new(restart(), "maybe"), T0).await.unwrap();
    let rejected = changes.reject(&who("avery"), &request.id, "not now", T0).await.unwrap();
    assert_eq!(rejected.state, State::Rejected);
    assert_eq!(rejected.decisions[0].comment, "not now");
    assert!(matches!(
        changes.approve(&who("bob"), &request.id, "", T0).await,
        Err(ChangeError::NotPending(State::Rejected))
    ));
    let failing = Recording { fail_with: Some("deployment not found".into()), ..Default::default() };
    let changes = desk(&store, config(1), &failing, "a");
    let request = changes.request(&who("dana"), "production", Ask::new(restart(), "try"), T0).await.unwrap();
    let failed = changes.approve(&who("avery"), &request.id, "", T0).await.unwrap();
    assert_eq!((failed.state, failed.outcome.as_deref()), (State::Failed, Some("deployment not found")));
    assert_eq!(trail(&store, "change.execute").await[0].result, Outcome::Failed);
    assert!(exec.executions().is_empty());
}

mod both {
    use crate::store::testing::{Flavour, fresh};

    macro_rules! on_both {
        ($($case:ident),*) => {
            $(
                mod $case {
                    use super::*;
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn sqlite() {
                        let t = fresh(Flavour::Sqlite).await;
                        super::super::$case(t.store.clone(), t.url.clone()).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn postgres() {
                        let t = fresh(Flavour::Postgres).await;
                        super::super::$case(t.store.clone(), t.url.clone()).await;
                    }
                }
            )*
        };
    }
    on_both!(
        replicas_sharing_the_store_execute_once,
        changes_to_one_target_run_one_at_a_time,
        the_claim_runs_an_approved_request_once,
        a_restart_between_request_and_approval_loses_nothing,
        an_approval_whose_replica_stopped_still_runs_once
    );
}

/// The one rule of who decides: the requester may neither approve nor reject their own
/// request (whatever their role), nobody decides twice, only approvers decide, and only while
/// the request waits. The page's "may I" and the desk's answer are the same function.
async fn one_rule_decides_who_decides(store: Store) {
    let exec = Recording::default();
    let cfg = config(2);
    let changes = desk(&store, cfg.clone(), &exec, "a");
    let request =
        changes.request(&who("ada"), "production", Ask::new(restart(), "admin asks"), T0).await.unwrap();
    let may = |user: &str, r: &ChangeRequest| may_decide(&cfg, r, user, T0).map_err(|e| e.to_string());
    assert_eq!(may("avery", &request), Ok(()));
    assert!(may("ada", &request).unwrap_err().contains("You requested this change"));
    assert!(may("dan", &request).unwrap_err().contains("As deployer in Production"));
    // Rejecting one's own request is refused like approving it, and audited.
    let e = changes.reject(&who("ada"), &request.id, "never mind", T0).await.unwrap_err();
    assert!(matches!(e, ChangeError::SelfApproval), "{e}");
    assert_eq!(changes.get(&request.id).await.unwrap().unwrap().state, State::Pending);
    assert_eq!(trail(&store, "change.reject").await[0].result, Outcome::Refused);
    // One approval of two: avery has decided and may not decide again, either way.
    let half = changes.approve(&who("avery"), &request.id, "ok", T0).await.unwrap();
    assert_eq!((half.state, half.approval_count), (State::Pending, 1));
    assert!(may("avery", &half).unwrap_err().contains("already decided"));
    let e = changes.reject(&who("avery"), &request.id, "changed my mind", T0).await.unwrap_err();
    assert!(matches!(e, ChangeError::AlreadyDecided), "{e}");
    let still = changes.get(&request.id).await.unwrap().unwrap();
    assert_eq!((still.state, still.decisions.len()), (State::Pending, 1));
    // Someone else's rejection ends it; after that nobody may decide.
    let rejected = changes.reject(&who("bob"), &request.id, "not now", T0).await.unwrap();
    assert_eq!(rejected.state, State::Rejected);
    assert!(may("cleo", &rejected).unwrap_err().contains("no longer waiting"));
    assert!(exec.executions().is_empty());
}

/// The same approver deciding twice at the same moment (approve and reject racing) gets one
/// decision recorded and a refusal in words, never a store error.
async fn one_person_deciding_twice_at_once(store: Store) {
    let exec = Recording::default();
    let changes = desk(&store, config(2), &exec, "a");
    for round in 0..5 {
        let request =
            changes.request(&who("dana"), "production", Ask::new(restart(), "race"), T0).await.unwrap();
        let (c1, c2, id1, id2) = (changes.clone(), changes.clone(), request.id.clone(), request.id.clone());
        let approve = tokio::spawn(async move { c1.approve(&who("avery"), &id1, "yes", T0).await });
        let reject = tokio::spawn(async move { c2.reject(&who("avery"), &id2, "no", T0).await });
        let (a, r) = (approve.await.unwrap(), reject.await.unwrap());
        for outcome in [&a.as_ref().map(drop), &r.as_ref().map(drop)] {
            if let Err(e) = outcome {
                assert!(
                    matches!(e, ChangeError::AlreadyDecided | ChangeError::NotPending(_)),
                    "round {round}: {e}"
                );
            }
        }
        let after = changes.get(&request.id).await.unwrap().unwrap();
        assert_eq!(after.decisions.len(), 1, "round {round}: {:?}", after.decisions);
    }
}

crate::store_tests!(
    protected_changes_wait_for_approval,
    self_approval_is_refused,
    concurrent_approvals_execute_once,
    expired_requests_cannot_execute,
    locks_hold_changes_and_admins_override,
    a_lock_set_while_waiting_stops_the_execution,
    rejections_and_failures,
    a_change_whose_runner_stopped_is_failed_not_rerun,
    a_cancelled_approval_still_carries_out_its_change,
    one_rule_decides_who_decides,
    one_person_deciding_twice_at_once
);
