//! The words of access: the four roles a person holds per environment and the permissions
//! each carries. The configuration names roles and [`crate::policy`] decides with them; both
//! read them from here, so neither imports the other.

use serde::{Deserialize, Serialize};

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
