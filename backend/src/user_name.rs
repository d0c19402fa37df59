//! A user name: what people type to sign in, what the configuration gives roles to, and
//! what the audit trail shows. Its own module because both the configuration and sign-in
//! check it, and the configuration sits below sign-in.

use std::fmt;

/// A user name: what people type to sign in and what the audit trail shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a user name needs 1 to 64 characters")]
    Length,
    #[error(
        "{0:?} is not a user name: use lowercase letters, digits and . _ - @, starting with a letter or digit"
    )]
    Characters(String),
}

impl UserName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.is_empty() || name.len() > 64 {
            return Err(NameError::Length);
        }
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@');
        if !name.chars().all(ok_char) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(NameError::Characters(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["dana", "a.b-c_d", "dana@example.com", "7"] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Dana", "-x", "a b", "é", &"a".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
