//! Who is signed in.
//!
//! - [`accounts`]: local accounts (argon2id password hashes), managed by `rollgate user …`.
//! - [`sessions`]: server-side sessions in the store, found by the hash of the cookie value,
//!   ending after an idle period and at an absolute limit.
//! - [`sign_in`]: checking a name and password, with limits on failed attempts.
//! - [`attempts`]: those limits, counted in the store per name and per address.
//! - [`password`]: hashing and verifying, and the gate bounding how many checks run at once.
//! - [`local_path`]: where a browser may be sent after a form (only this site).
//! - [`oidc`]: single sign-on through an OpenID Connect provider; its accounts have no
//!   password and keep who the provider says they are (subject, verified email) and the
//!   groups they brought at sign-in.
//!
//! Roles are not here: they come from the configuration (see `policy` and
//! [`crate::Config::role_of`], which maps single-sign-on groups too).

pub mod accounts;
pub mod attempts;
pub mod local_path;
pub mod oidc;
pub mod password;
pub mod sessions;
pub mod sign_in;

use std::fmt;

pub use crate::user_name::{NameError, UserName};
pub use accounts::{AccountError, UserInfo};
pub use sessions::{SessionPolicy, SessionToken, SignedIn};
pub use sign_in::{SignInError, sign_in};

/// Who sent a request, as the server's middleware found out: attached to every request, read
/// by server functions to authorize and audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visitor {
    /// The signed-in person; `None` before sign-in.
    pub user: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    /// The session the request came with, when it is live: what long-lived streams check
    /// again while they stay open.
    pub session: Option<SessionToken>,
}

impl Visitor {
    /// The audit trail's view of the signed-in person, if any.
    pub fn caller(&self) -> Option<crate::audit::Caller> {
        Some(crate::audit::Caller {
            user: self.user.clone()?,
            source_ip: self.source_ip.clone(),
            request_id: self.request_id.clone(),
        })
    }
}

/// A new password, checked for length; never printed.
#[derive(Clone)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

pub const MIN_PASSWORD: usize = 10;

impl NewPassword {
    pub fn parse(password: &str) -> Result<Self, AccountError> {
        let chars = password.chars().count();
        if chars < MIN_PASSWORD {
            return Err(AccountError::WeakPassword);
        }
        if password.len() > 1024 {
            return Err(AccountError::LongPassword);
        }
        Ok(Self(password.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_enough_and_never_printed() {
        assert!(matches!(NewPassword::parse("short"), Err(AccountError::WeakPassword)));
        let p = NewPassword::parse("long enough secret").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword(…)");
    }
}
