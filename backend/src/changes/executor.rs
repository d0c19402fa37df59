//! What carries out an approved change. The Deployments and Tokens work implements it over
//! the Kubernetes and SSM clients; the four-eyes machinery only promises to call `execute`
//! once per request, never for one that was not approved.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::Action;
use crate::config::Environment;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a change will do, shown to approvers and kept in the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub before: String,
    pub after: String,
    /// The version of the target it was made from (a deployment's generation), to hand
    /// back as `seen` when the change is asked for.
    pub version: String,
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
}

impl Executed {
    /// A change that started no pipeline execution.
    pub fn new(detail: String) -> Self {
        Self { detail, started_execution: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecuteError(pub String);

pub trait Executor: Send + Sync {
    /// Reads the current state and says what the action would change (nothing is changed).
    /// `seen` is the version of the target the requester was looking at, when known: the
    /// preview refuses when the target has changed since, so nobody acts on a stale page.
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
        seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>>;
    /// Applies the action, provided the target still is as `before` (the preview's, which
    /// the approvers saw) describes it.
    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
        before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>>;
}

/// For tests: remembers every execution, optionally after a pause (to widen race windows).
#[derive(Default, Clone)]
pub struct Recording {
    pub executed: Arc<Mutex<Vec<(String, Action)>>>,
    pub pause: Option<std::time::Duration>,
    pub fail_with: Option<String>,
}

impl Recording {
    pub fn executions(&self) -> Vec<(String, Action)> {
        self.executed.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Executor for Recording {
    fn preview<'a>(
        &'a self,
        _env: &'a Environment,
        action: &'a Action,
        _seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        let after = serde_json::to_string(action).unwrap_or_default();
        Box::pin(async move { Ok(Preview { before: "as it is".into(), after, version: String::new() }) })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
        _before: &'a str,
        _origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        Box::pin(async move {
            if let Some(pause) = self.pause {
                tokio::time::sleep(pause).await;
            }
            if let Some(message) = &self.fail_with {
                return Err(ExecuteError(message.clone()));
            }
            if let Ok(mut v) = self.executed.lock() {
                v.push((env.name.clone(), action.clone()));
            }
            Ok(Executed::new(format!("{} done", action.label())))
        })
    }
}
