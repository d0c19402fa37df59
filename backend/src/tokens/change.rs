//! The token change people ask for through the change desk: give a parameter a new value by
//! rotation. Only the parameter an environment reaches its cluster with is rotated this way
//! (its executor, `kube::credential::Rotation`, asks the cluster for the new token); asking
//! for it takes the right to change secrets, and four eyes where the environment is protected.

use serde::{Deserialize, Serialize};

use crate::changes::Change;
use crate::config::Environment;
use crate::policy::Permission;

/// Kept as JSON tagged by `kind` (`{"kind":"rotate-token","parameter":…}`), as stored
/// requests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TokenChange {
    /// Give a token kept in SSM Parameter Store a new value.
    RotateToken { parameter: String },
}

impl Change for TokenChange {
    fn label(&self) -> &'static str {
        "rotate token"
    }

    fn target(&self) -> String {
        let Self::RotateToken { parameter } = self;
        parameter.clone()
    }

    fn describe(&self) -> String {
        format!("give {} a new value", self.target())
    }

    fn permission(&self) -> Permission {
        Permission::ManageSecrets
    }

    fn validate(&self, env: &Environment) -> Result<(), String> {
        let Self::RotateToken { parameter } = self;
        if super::rules::under_prefixes(parameter, &env.ssm_prefixes) {
            Ok(())
        } else {
            Err(format!(
                "{parameter:?} is not under {}'s SSM prefixes: {}",
                env.name,
                env.ssm_prefixes.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    #[test]
    fn a_rotation_stays_under_the_prefixes_and_needs_the_secrets_right() {
        let env = load(&Source::SandboxDefault).unwrap().environments.remove(1);
        let rotate = |p: &str| TokenChange::RotateToken { parameter: p.into() };
        assert!(rotate("/rollgate/production/k8s-bear-token").validate(&env).is_ok());
        assert!(rotate("/rollgate/staging/x").validate(&env).is_err());
        assert!(rotate("/rollgate/production/").validate(&env).is_err(), "the prefix itself is no parameter");
        assert_eq!(rotate("/x").permission(), Permission::ManageSecrets);
    }
}
