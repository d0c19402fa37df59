//! What can go wrong with Parameter Store, in words. AWS's errors are mapped by their code;
//! their messages are kept only where they cannot carry a value (names, versions, patterns),
//! and anything else is logged and shown in short.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The input breaks a rule (name, value, tier, pattern, label, tag); the words say which.
    #[error("{0}.")]
    Invalid(String),
    #[error("There is no parameter {0}.")]
    NotFound(String),
    #[error("{name} has no version {version}.")]
    VersionNotFound { name: String, version: i64 },
    #[error("{0} already exists; rotate it to give it a new value.")]
    AlreadyExists(String),
    #[error("The value does not match the parameter's allowed pattern.")]
    PatternMismatch,
    #[error("Parameter Store does not know the KMS key {0}.")]
    UnknownKey(String),
    #[error("Parameter Store refused: {0}")]
    Limit(String),
    #[error("AWS refused Rollgate's credentials for this: {0}")]
    AccessDenied(String),
    #[error("To delete {0}, type its full name again.")]
    ConfirmationMismatch(String),
    /// A direct write to the parameter an environment reaches its cluster with: that is a
    /// rotation, which goes through the change desk (four eyes where the environment is
    /// protected).
    #[error(
        "{parameter} holds the token Rollgate reaches {environment}'s cluster with, so it is not written \
         directly: use “Rotate the cluster token” on {environment}'s Tokens page, a change request \
         (approved by someone else where {environment} is protected)."
    )]
    ClusterToken { parameter: String, environment: String },
    #[error("Parameter Store cannot be reached: {0}")]
    Unreachable(String),
    /// A reveal whose audit record could not be written: nothing is shown.
    #[error("The reveal could not be recorded in the audit trail, so the value is not shown.")]
    NotAudited,
    #[error("Parameter Store failed: {0}")]
    Other(String),
}

impl TokenError {
    /// Maps an SDK error for an operation on `name`. Messages that could quote a value are
    /// not passed on.
    pub fn from_sdk<E, R>(error: SdkError<E, R>, name: &str) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if matches!(error, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
            return Self::Unreachable(crate::aws::describe(&error));
        }
        let code = error.code().unwrap_or("").to_owned();
        let message = error.message().unwrap_or("").to_owned();
        match code.as_str() {
            "ParameterNotFound" => Self::NotFound(name.to_owned()),
            "ParameterVersionNotFound" => Self::Other(format!("{name}: that version does not exist")),
            "ParameterAlreadyExists" => Self::AlreadyExists(name.to_owned()),
            "ParameterPatternMismatchException" => Self::PatternMismatch,
            "InvalidAllowedPatternException" => Self::Invalid("the allowed pattern is not valid".into()),
            "InvalidKeyId" => Self::UnknownKey(name.to_owned()),
            "AccessDeniedException" => Self::AccessDenied(message),
            "ParameterMaxVersionLimitExceeded"
            | "ParameterVersionLabelLimitExceeded"
            | "HierarchyLevelLimitExceededException"
            | "ParameterLimitExceeded"
            | "TooManyTagsError"
            | "TooManyUpdates"
            | "HierarchyTypeMismatchException"
            | "UnsupportedParameterType"
            | "ThrottlingException" => Self::Limit(if message.is_empty() { code } else { message }),
            // A validation message can quote the input, value included: say only what kind.
            "ValidationException" => {
                tracing::warn!(%name, "Parameter Store refused a request as invalid");
                Self::Invalid(format!("Parameter Store refused the request for {name} as invalid"))
            }
            _ => {
                tracing::warn!(%name, code = %code, "Parameter Store failed");
                Self::Other(if code.is_empty() { "no answer it could read".into() } else { code })
            }
        }
    }
}

/// Parameter Store's answer, sorted into what a person can do about it (the change desk's
/// kinds).
impl From<TokenError> for crate::changes::ExecuteError {
    fn from(e: TokenError) -> Self {
        use crate::changes::ExecuteError as E;
        let words = e.to_string();
        match e {
            TokenError::Invalid(_)
            | TokenError::ConfirmationMismatch(_)
            | TokenError::PatternMismatch
            | TokenError::UnknownKey(_) => E::Invalid(words),
            TokenError::NotFound(_) | TokenError::VersionNotFound { .. } => E::NotFound(words),
            TokenError::AlreadyExists(_) | TokenError::Limit(_) | TokenError::ClusterToken { .. } => {
                E::Refused(words)
            }
            TokenError::AccessDenied(_) => E::Forbidden(words),
            TokenError::Unreachable(_) | TokenError::NotAudited | TokenError::Other(_) => {
                E::Unreachable(words)
            }
        }
    }
}
