//! What can go wrong talking to CodePipeline, sorted into the kinds people act on
//! differently: fix the credentials, ask for a permission, check a name, wait, or change the
//! request. The AWS error code stays in the message (people search for it); the raw body
//! does not.

use aws_sdk_codepipeline::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// No credentials, or ones AWS does not accept.
    #[error(
        "AWS did not accept Rollgate's credentials ({0}). Check the environment's aws.profile or the credential chain."
    )]
    Credentials(String),
    /// The credentials work but may not do this.
    #[error("AWS refused: Rollgate's role may not do this ({0}).")]
    Permission(String),
    #[error("{0}")]
    NotFound(String),
    /// AWS asks for fewer requests; Rollgate backs off.
    #[error("AWS is throttling requests ({0}); Rollgate is backing off.")]
    Throttled(String),
    /// AWS refused the request as it stands (a stage that cannot be retried, a bad revision…).
    #[error("CodePipeline refused: {0}")]
    Invalid(String),
    /// No answer (network, endpoint down, timeout).
    #[error("CodePipeline cannot be reached: {0}")]
    Unreachable(String),
    /// A pipeline the environment does not list.
    #[error("{pipeline} is not one of {environment}'s pipelines (aws.pipelines).")]
    NotConfigured { environment: String, pipeline: String },
    #[error("CodePipeline answered unexpectedly: {0}")]
    Unexpected(String),
}

impl PipelineError {
    /// Sorts an SDK error by its AWS error code, or by what kept it from being answered.
    pub fn from_sdk<E, R>(error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let described = crate::aws::describe(&error);
        match &error {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("UnknownError").to_owned();
                let message = e.message().unwrap_or("").to_owned();
                let words = if message.is_empty() { code.clone() } else { format!("{code}: {message}") };
                Self::of_code(&code, words)
            }
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                if described.to_ascii_lowercase().contains("credential") {
                    Self::Credentials(short(&described))
                } else {
                    Self::Unreachable(short(&described))
                }
            }
            SdkError::ConstructionFailure(_) if described.to_ascii_lowercase().contains("credential") => {
                Self::Credentials(short(&described))
            }
            _ => Self::Unexpected(short(&described)),
        }
    }

    /// The kind of error an AWS error code names.
    pub fn of_code(code: &str, words: String) -> Self {
        match code {
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "MissingAuthenticationToken"
            | "IncompleteSignature" => Self::Credentials(words),
            "AccessDeniedException" | "NotAuthorized" => Self::Permission(words),
            "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
                Self::Throttled(words)
            }
            c if c.ends_with("NotFoundException") => Self::NotFound(words),
            "InternalFailure" | "ServiceUnavailable" | "ServiceUnavailableException" => {
                Self::Unreachable(words)
            }
            _ => Self::Invalid(words),
        }
    }

    /// Worth trying again later by itself (as opposed to a request that will never work).
    pub fn transient(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unreachable(_) | Self::Unexpected(_))
    }
}

/// The first line of a described error, cut to a readable length.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text);
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// CodePipeline's answer, sorted into what a person can do about it (the change desk's kinds).
impl From<PipelineError> for crate::changes::ExecuteError {
    fn from(e: PipelineError) -> Self {
        use crate::changes::ExecuteError as E;
        let words = e.to_string();
        match e {
            PipelineError::Credentials(_) | PipelineError::Permission(_) => E::Forbidden(words),
            PipelineError::NotFound(_) => E::NotFound(words),
            PipelineError::Invalid(_) | PipelineError::NotConfigured { .. } => E::Invalid(words),
            PipelineError::Throttled(_) | PipelineError::Unreachable(_) | PipelineError::Unexpected(_) => {
                E::Unreachable(words)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PipelineError;

    #[test]
    fn codes_sort_into_kinds() {
        let of = |c: &str| PipelineError::of_code(c, c.to_owned());
        assert!(matches!(of("ThrottlingException"), PipelineError::Throttled(_)));
        assert!(matches!(of("PipelineNotFoundException"), PipelineError::NotFound(_)));
        assert!(matches!(of("StageNotRetryableException"), PipelineError::Invalid(_)));
        assert!(matches!(of("AccessDeniedException"), PipelineError::Permission(_)));
        assert!(matches!(of("UnrecognizedClientException"), PipelineError::Credentials(_)));
        assert!(of("ThrottlingException").to_string().contains("backing off"));
    }
}
