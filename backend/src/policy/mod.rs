//! Who may do what: roles per environment and the permissions they carry.
//!
//! Roles come from the configuration (`roles` at the top level and per environment); a
//! signed-in person with no role in an environment may not even look at it. The checks live
//! here so the server functions, the HTTP routes and the UI's "why can't I" all ask the same
//! question: [`authorize`].

pub mod locks;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// A person's role in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees everything in the environment.
    Viewer,
    /// Requests deploys, rollbacks, restarts, scaling and env changes; locks the environment.
    Deployer,
    /// Approves or rejects other people's change requests; locks the environment.
    Approver,
    /// Everything, including overriding a lock or freeze and managing tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Deployer, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Viewer => permission == View,
            Role::Deployer => matches!(permission, View | RequestChange | Lock),
            Role::Approver => matches!(permission, View | Approve | Lock),
        }
    }
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Read pages, the audit trail, the approvals inbox.
    View,
    /// Ask for a change (deploy, rollback, env, scale, restart, token rotation).
    RequestChange,
    /// Approve or reject someone else's change request.
    Approve,
    /// Lock or unlock the environment.
    Lock,
    /// Deploy through a lock or freeze, with a reason.
    Override,
    /// Create, rotate, label or delete SSM parameters, and ask for the cluster token's
    /// rotation: admins only (see `tokens`).
    ManageSecrets,
    /// See a parameter's value: admins only, every time audited.
    RevealSecret,
}

impl Permission {
    /// In words, for "you may not …" messages.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::View => "view this environment",
            Permission::RequestChange => "request changes",
            Permission::Approve => "approve or reject changes",
            Permission::Lock => "lock or unlock the environment",
            Permission::Override => "override a lock or freeze",
            Permission::ManageSecrets => "change secrets",
            Permission::RevealSecret => "reveal secret values",
        }
    }

    /// The roles that carry this permission, for messages that say who can.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.allows(self)).collect()
    }
}

/// Why someone may not do something, in words they can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("There is no environment named “{0}”.")]
    UnknownEnvironment(String),
    #[error("You have no role in {environment}; ask an admin to add {user} to its roles.")]
    NoRole { user: String, environment: String },
    #[error("As {} in {environment} you may not {}; that needs {}.", role.as_str(), permission.describe(), role_list(*permission))]
    Forbidden { role: Role, environment: String, permission: Permission },
}

fn role_list(permission: Permission) -> String {
    let names: Vec<_> = permission.roles().into_iter().map(Role::as_str).collect();
    match names.as_slice() {
        [one] => format!("the {one} role"),
        [init @ .., last] => format!("the {} or {last} role", init.join(", ")),
        [] => "a role nobody has".into(),
    }
}

/// May `user` do what `permission` covers in `environment`? Returns their role when they may.
pub fn authorize(
    config: &Config,
    user: &str,
    environment: &str,
    permission: Permission,
) -> Result<Role, Denied> {
    let env =
        config.environment(environment).ok_or_else(|| Denied::UnknownEnvironment(environment.into()))?;
    let role = config
        .role_of(user, environment)
        .ok_or_else(|| Denied::NoRole { user: user.into(), environment: env.title().into() })?;
    if role.allows(permission) {
        Ok(role)
    } else {
        Err(Denied::Forbidden { role, environment: env.title().into(), permission })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    #[test]
    fn roles_carry_their_permissions() {
        assert!(Role::Admin.allows(Permission::Override));
        assert!(!Role::Approver.allows(Permission::RequestChange));
        assert!(!Role::Deployer.allows(Permission::Approve));
        assert!(Role::Viewer.allows(Permission::View) && !Role::Viewer.allows(Permission::Lock));
    }

    /// The sandbox's demo users hold one role each, the same in both environments.
    #[test]
    fn sandbox_roles_and_messages() {
        let config = load(&Source::SandboxDefault).unwrap();
        assert_eq!(authorize(&config, "dana", "production", Permission::RequestChange), Ok(Role::Deployer));
        let denied = authorize(&config, "vera", "production", Permission::RequestChange).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "As viewer in Production you may not request changes; that needs the deployer or admin role."
        );
        let none = authorize(&config, "nobody", "staging", Permission::View).unwrap_err();
        assert_eq!(none.to_string(), "You have no role in Staging; ask an admin to add nobody to its roles.");
        assert!(matches!(
            authorize(&config, "ada", "qa", Permission::View),
            Err(Denied::UnknownEnvironment(_))
        ));
    }
}
