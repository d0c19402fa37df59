//! Which changes exist and who carries each out: the one place that knows every system.
//!
//! The desk ([`crate::changes`]) keeps, checks and approves any [`Change`]; each system owns
//! its own kind of change and its executor: deployments ([`DeploymentChange`], carried out by
//! [`Deployer`]), pipelines ([`PipelineChange`], [`Releaser`]), tokens ([`TokenChange`],
//! carried out by [`Rotation`], which lives with the cluster's client because a cluster token
//! is asked of the cluster) and blocked commits ([`BlockChange`], [`Blocklist`]). [`Action`] is one of them; [`Dispatch`] hands each to its
//! executor in one `match`. A new kind of change is a new variant here and a type and an
//! executor in its system; the desk does not change.

use serde::{Deserialize, Serialize};

use crate::changes::executor::BoxFuture;
use crate::changes::{self, Change, ExecuteError, Executed, Executor, Origin, Preview};
use crate::config::Environment;
use crate::kube::actions::Deployer;
use crate::kube::change::DeploymentChange;
use crate::kube::credential::Rotation;
use crate::pipelines::change::PipelineChange;
use crate::pipelines::executor::Releaser;
use crate::policy::Permission;
use crate::policy::blocked::{BlockChange, Blocklist};
use crate::tokens::change::TokenChange;

/// A change of any system, as the desk keeps it. Stored as the inner change's JSON (each is
/// tagged by its `kind`, and the kinds of different systems never share a name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Action {
    Deployment(DeploymentChange),
    Pipeline(PipelineChange),
    Token(TokenChange),
    Block(BlockChange),
}

/// The desk of this portal, and what it keeps.
pub type Changes = changes::Changes<Action>;
pub type ChangeRequest = changes::ChangeRequest<Action>;
pub type Ask<'a> = changes::Ask<'a, Action>;

/// Calls a method of the change inside, whatever its system.
macro_rules! inner {
    ($action:ident . $method:ident ( $($arg:expr),* )) => {
        match $action {
            Action::Deployment(c) => c.$method($($arg),*),
            Action::Pipeline(c) => c.$method($($arg),*),
            Action::Token(c) => c.$method($($arg),*),
            Action::Block(c) => c.$method($($arg),*),
        }
    };
}

impl Change for Action {
    fn label(&self) -> &'static str {
        inner!(self.label())
    }
    fn target(&self) -> String {
        inner!(self.target())
    }
    fn describe(&self) -> String {
        inner!(self.describe())
    }
    fn commit(&self) -> Option<String> {
        inner!(self.commit())
    }
    fn permission(&self) -> Permission {
        inner!(self.permission())
    }
    fn validate(&self, env: &Environment) -> Result<(), String> {
        inner!(self.validate(env))
    }
}

impl From<DeploymentChange> for Action {
    fn from(c: DeploymentChange) -> Self {
        Action::Deployment(c)
    }
}

impl From<PipelineChange> for Action {
    fn from(c: PipelineChange) -> Self {
        Action::Pipeline(c)
    }
}

impl From<TokenChange> for Action {
    fn from(c: TokenChange) -> Self {
        Action::Token(c)
    }
}

impl From<BlockChange> for Action {
    fn from(c: BlockChange) -> Self {
        Action::Block(c)
    }
}

/// Hands each change to its system's executor.
pub struct Dispatch {
    pub deployer: Deployer,
    pub releaser: Releaser,
    pub rotation: Rotation,
    pub blocklist: Blocklist,
}

impl Executor<Action> for Dispatch {
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
        seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        match action {
            Action::Deployment(c) => self.deployer.preview(env, c, seen),
            Action::Pipeline(c) => self.releaser.preview(env, c, seen),
            Action::Token(c) => self.rotation.preview(env, c, seen),
            Action::Block(c) => self.blocklist.preview(env, c, seen),
        }
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a Action,
        before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        match action {
            Action::Deployment(c) => self.deployer.execute(env, c, before, origin),
            Action::Pipeline(c) => self.releaser.execute(env, c, before, origin),
            Action::Token(c) => self.rotation.execute(env, c, before, origin),
            Action::Block(c) => self.blocklist.execute(env, c, before, origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests stored before the systems owned their changes read back the same, and each
    /// kind lands in its system.
    #[test]
    fn stored_actions_keep_their_shape() {
        for (json, label) in [
            (r#"{"kind":"restart","namespace":"production","deployment":"myapp-deployment"}"#, "restart"),
            (r#"{"kind":"start-pipeline","pipeline":"myapp-production"}"#, "release"),
            (
                r#"{"kind":"redeploy-commit","pipeline":"myapp-production","commit":"5d6e7f8"}"#,
                "redeploy commit",
            ),
            (r#"{"kind":"rotate-token","parameter":"/rollgate/production/k8s-bear-token"}"#, "rotate token"),
            (r#"{"kind":"unblock","commit":"5d6e7f8"}"#, "unblock commit"),
        ] {
            let action: Action = serde_json::from_str(json).unwrap();
            assert_eq!(action.label(), label);
            assert_eq!(serde_json::to_string(&action).unwrap(), json, "written back the same");
        }
        assert!(matches!(
            serde_json::from_str::<Action>(r#"{"kind":"restart","namespace":"x","deployment":"y"}"#),
            Ok(Action::Deployment(_))
        ));
        assert!(serde_json::from_str::<Action>(r#"{"kind":"explode"}"#).is_err());
    }
}
