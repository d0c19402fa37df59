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
}

/// How it went; `detail` is shown to people and audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecuteError(pub String);

pub trait Executor: Send + Sync {
    /// Reads the current state and says what the action would change (nothing is changed).
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>>;
    /// Applies the action.
    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>>;
}

/// The executor of a build in which no action can be carried out yet (the Deployments and
/// Tokens work brings the real ones): the preview says the current state was not read, and
/// every execution fails with a message that says why, so a request goes through the whole
/// four-eyes flow and nothing pretends to have happened.
pub struct NotAvailable;

impl Executor for NotAvailable {
    fn preview<'a>(
        &'a self,
        _env: &'a Environment,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        let preview = Preview {
            before: "(current state not read: no executor in this build)".into(),
            after: action.describe(),
        };
        Box::pin(async move { Ok(preview) })
    }

    fn execute<'a>(
        &'a self,
        _env: &'a Environment,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        let message = format!("Rollgate cannot {} in this build yet", action.label());
        Box::pin(async move { Err(ExecuteError(message)) })
    }
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
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        let after = serde_json::to_string(action).unwrap_or_default();
        Box::pin(async move { Ok(Preview { before: "as it is".into(), after }) })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
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
            Ok(Executed { detail: format!("{} done", action.label()) })
        })
    }
}
