//! Who may do what: roles per environment and the permissions they carry.
//!
//! Roles come from the configuration (`roles` at the top level and per environment); a
//! signed-in person with no role in an environment may not even look at it. The checks live
//! here so the server functions, the HTTP routes and the UI's "why can't I" all ask the same
//! question: [`authorize`].

pub mod blocked;
pub mod calendar;
pub mod locks;

use crate::config::Config;
pub use crate::roles::{Permission, Role};

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
