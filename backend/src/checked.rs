//! Strings checked once, where they come in, and trusted inside: a newtype per kind of name or
//! id (`Namespace`, `DeploymentName`, `ImageRef`, `CommitSha`, `ExecutionId`, …), made only by
//! its `parse` and read back from stored JSON through the same check, so an unchecked string
//! cannot reach a client call by accident. The checks themselves live with the system whose
//! rule they are (`kube::names`, `image_ref`, `pipelines::ids`).

/// Declares `$name`, a string that passed `$check: fn(&str) -> Result<(), String>` (after
/// trimming surrounding whitespace, which forms add).
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value, if it passes the check; the words say what is wrong.
            pub fn parse(text: &str) -> Result<Self, String> {
                let text = text.trim();
                let check: fn(&str) -> Result<(), String> = $check;
                check(text).map(|()| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use checked_string;
