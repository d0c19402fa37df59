//! What the configuration knows of single-sign-on accounts: who each one is at the provider
//! (kept in memory from the store, see [`SsoAccounts`]) and which names the configuration
//! binds to which identity (`[auth.oidc.names]`).
//!
//! A name the configuration gives a role to is a promise about a person. A provider only says
//! what someone calls themselves (`preferred_username` is usually theirs to choose), so a
//! single-sign-on account receives a name's roles only when `auth.oidc.names` binds that name
//! to its identity: the provider's subject, or an email the provider marked verified.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::OidcSettings;

/// `[auth.oidc.names]`: the identity one user name belongs to. Exactly one of the two is set
/// (checked by validation, which names the key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameBinding {
    /// The provider's `sub` for the person: stable, and never reassigned by a provider.
    #[serde(default)]
    pub subject: Option<String>,
    /// An email the provider must mark `email_verified` (compared without regard to case).
    #[serde(default)]
    pub email: Option<String>,
}

impl NameBinding {
    /// Whether `identity` is the one this binding names at `oidc`'s issuer.
    pub fn binds(&self, oidc: &OidcSettings, identity: &SsoIdentity) -> bool {
        match (&self.subject, &self.email) {
            (Some(subject), None) => identity.subject == oidc.issuer.subject_key(subject),
            (None, Some(email)) => identity
                .verified_email
                .as_deref()
                .is_some_and(|verified| verified.eq_ignore_ascii_case(email)),
            // Validation refuses both and neither; should one slip through, it binds nobody.
            _ => false,
        }
    }
}

/// Who a single-sign-on account is at its provider, as of its last sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoIdentity {
    /// The issuer and the provider's subject, as the account is bound in the store (see
    /// [`super::OidcIssuer::subject_key`]).
    pub subject: String,
    /// The email the provider marked verified at the last sign-in; `None` when it marked none.
    pub verified_email: Option<String>,
    /// The groups the ID token listed at the last sign-in.
    pub groups: Vec<String>,
}

impl SsoIdentity {
    /// From the store's account columns (`None`: a local account, which has no subject).
    pub fn from_columns(
        subject: Option<String>,
        verified_email: Option<String>,
        groups: Option<String>,
    ) -> Option<Self> {
        Some(Self {
            subject: subject?,
            verified_email,
            groups: groups.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default(),
        })
    }
}

/// Why a single-sign-on identity may not hold a name, in words for the person refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameRefusal {
    #[error("has roles in Rollgate's configuration but is not bound to single sign-on")]
    NotBound,
    #[error("is bound to another single-sign-on identity")]
    BoundElsewhere,
}

/// The single-sign-on accounts of the people making requests, by user name: what
/// [`super::Config::role_of`] maps to roles. Shared by every clone of the configuration.
#[derive(Debug, Clone, Default)]
pub struct SsoAccounts(Arc<RwLock<HashMap<String, SsoIdentity>>>);

impl SsoAccounts {
    /// Records what the store says `user` is (`None`: not a single-sign-on account).
    pub fn remember(&self, user: &str, identity: Option<SsoIdentity>) {
        // Called on every request: the write lock only when something changes.
        if self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(user) == identity.as_ref() {
            return;
        }
        let mut map = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        match identity {
            Some(identity) => {
                map.insert(user.to_owned(), identity);
            }
            None => {
                map.remove(user);
            }
        }
    }

    pub fn of(&self, user: &str) -> Option<SsoIdentity> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(user).cloned()
    }
}
