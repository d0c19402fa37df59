//! What the desk asks of a change and of whoever carries it out, without knowing any system.
//!
//! A [`Change`] is a typed action of one system (a deployment change, a pipeline release, a
//! token rotation): it names its target, says in words what it will do, checks itself against
//! the environment, and says what permission asking for it takes. An [`Executor`] previews
//! and carries it out. The desk promises to call `execute` once per request, and never for one
//! that was not approved; each system owns its action type and its executor, and
//! `crate::dispatch` joins them into the one action the desk keeps.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Environment;
use crate::policy::Permission;
use crate::policy::blocked::CommitHash;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A typed action the desk can keep (as JSON), show, check and hand to its executor.
pub trait Change:
    Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// In words, for lists and the audit trail ("deploy image").
    fn label(&self) -> &'static str;
    /// What it acts on (`namespace/deployment`, a pipeline, a parameter): two changes to one
    /// target never run at once.
    fn target(&self) -> String;
    /// What it will do, in words ("scale production/web to 3 replicas").
    fn describe(&self) -> String;
    /// The commit it brings, when it names one (the audit trail keeps it).
    fn commit(&self) -> Option<String> {
        None
    }
    /// What asking for it needs besides the right to request changes at all.
    fn permission(&self) -> Permission {
        Permission::RequestChange
    }
    /// Checks it against `env`; the message names the field.
    fn validate(&self, env: &Environment) -> Result<(), String>;
}

/// What a change will do, shown to approvers and kept in the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub before: String,
    pub after: String,
    /// The version of the target it was made from (a deployment's generation), to hand
    /// back as `seen` when the change is asked for.
    pub version: String,
    /// The commits it would put into service (images tagged with one, a pipeline's source
    /// revision), where that is known: a blocked one refuses the change.
    pub releases: Vec<CommitHash>,
    /// The commits it would take out of service (what a rollback may block).
    pub retires: Vec<CommitHash>,
}

/// Which change request an execution carries out, and who asked and approved: written on
/// the changed object where it can hold it, so people see who made the last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub change: String,
    /// "dana" or "dana, approved by avery".
    pub by: String,
}

/// How it went; `detail` is shown to people and audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub detail: String,
    /// The CodePipeline execution the change started, kept with the request so nobody
    /// approves the release they asked for (see `pipelines::control`).
    pub started_execution: Option<String>,
    /// The commits it took out of service (a rollback blocks them when asked to).
    pub retired: Vec<CommitHash>,
}

impl Executed {
    /// A change that started no pipeline execution.
    pub fn new(detail: String) -> Self {
        Self { detail, started_execution: None, retired: Vec::new() }
    }
}

/// Why a change could not be previewed or carried out, by what a person can do about it.
/// Each system turns its own errors into these; the edge turns these into a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    /// The system cannot be reached or failed (try again later).
    #[error("{0}")]
    Unreachable(String),
    /// The system refused Rollgate's own credentials or role (an admin must fix it).
    #[error("{0}")]
    Forbidden(String),
    /// The target changed since the requester's page or the approvers' preview showed it.
    #[error("{0}")]
    Conflict(String),
    /// The change does not apply to the target as it is (already at 3 replicas, no such
    /// container), or the system rejected it.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A rule of Rollgate's says no (a lock, a setting, a token that is not the cluster's).
    #[error("{0}")]
    Refused(String),
}

/// Previews and carries out changes of type `A`.
pub trait Executor<A>: Send + Sync {
    /// Reads the current state and says what the action would change (nothing is changed).
    /// `seen` is the version of the target the requester was looking at, when known: the
    /// preview refuses when the target has changed since, so nobody acts on a stale page.
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a A,
        seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>>;
    /// Applies the action, provided the target still is as `before` (the preview's, which
    /// the approvers saw) describes it.
    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a A,
        before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>>;
}
