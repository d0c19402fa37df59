//! The simulated SSM Parameter Store: typed, versioned, labelled, tagged parameters in
//! hierarchies, with AWS's validation, limits and error names. SecureString values are kept
//! encrypted under a simulated KMS key and decrypted only for `WithDecryption` reads.
//!
//! - `names`: name, path, selector and label rules.
//! - `parameter`: a parameter and its versions, and how they are shown.
//! - `kms`: the simulated KMS keys.
//! - `filters`: `Filters` and `ParameterFilters`.
//! - `read`: GetParameter(s), GetParametersByPath, DescribeParameters, GetParameterHistory.
//! - `write`: PutParameter, DeleteParameter(s), (Un)LabelParameterVersion.
//! - `tags`: AddTagsToResource, RemoveTagsFromResource, ListTagsForResource.
//! - `seed`: the parameters every sandbox, and the demo world, starts with.

mod filters;
mod kms;
mod names;
mod parameter;
mod read;
pub(crate) mod seed;
mod tags;
mod write;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::{AwsError, Caller, Input, Service};
use kms::Kms;
use parameter::Parameter;

/// What can go wrong in Parameter Store, named as AWS names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum SsmError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("Parameter {0} not found.")]
    ParameterNotFound(String),
    #[error("Systems Manager could not find version {version} of {name}. Verify the version and try again.")]
    ParameterVersionNotFound { name: String, version: u64 },
    #[error(
        "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
    )]
    ParameterAlreadyExists,
    #[error(
        "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite flag. Version {version}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again."
    )]
    ParameterMaxVersionLimitExceeded { name: String, version: u64 },
    #[error(
        "A parameter version can have maximum 10 labels. Move one or more labels to another version and try again."
    )]
    ParameterVersionLabelLimitExceeded,
    #[error("Parameter value, cannot be validated against allowedPattern: {0}")]
    ParameterPatternMismatch(String),
    #[error("The allowed pattern is not a valid regular expression: {0}")]
    InvalidAllowedPattern(String),
    #[error("Invalid keyId {0}: the KMS key does not exist in the sandbox.")]
    InvalidKeyId(String),
    #[error("KMS: {0}")]
    Kms(String),
    #[error(
        "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide."
    )]
    HierarchyLevelLimitExceeded,
    #[error("{0}")]
    InvalidFilterKey(String),
    #[error("{0}")]
    InvalidFilterOption(String),
    #[error("{0}")]
    InvalidFilterValue(String),
    #[error("The specified token is not valid.")]
    InvalidNextToken,
    #[error(
        "The resource type is not valid: only Parameter resources exist in the sandbox's Parameter Store."
    )]
    InvalidResourceType,
    #[error("The resource ID \"{0}\" is not valid. Verify the ID and try again.")]
    InvalidResourceId(String),
    #[error("You exceeded the maximum number of tags allowed for the resource (50).")]
    TooManyTags,
}

impl From<SsmError> for AwsError {
    fn from(e: SsmError) -> Self {
        let kind = match &e {
            SsmError::Validation(_) => "ValidationException",
            SsmError::AccessDenied(_) => "AccessDeniedException",
            SsmError::ParameterNotFound(_) => "ParameterNotFound",
            SsmError::ParameterVersionNotFound { .. } => "ParameterVersionNotFound",
            SsmError::ParameterAlreadyExists => "ParameterAlreadyExists",
            SsmError::ParameterMaxVersionLimitExceeded { .. } => "ParameterMaxVersionLimitExceeded",
            SsmError::ParameterVersionLabelLimitExceeded => "ParameterVersionLabelLimitExceeded",
            SsmError::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
            SsmError::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            SsmError::InvalidKeyId(_) => "InvalidKeyId",
            SsmError::Kms(_) => {
                return AwsError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    e.to_string(),
                );
            }
            SsmError::HierarchyLevelLimitExceeded => "HierarchyLevelLimitExceededException",
            SsmError::InvalidFilterKey(_) => "InvalidFilterKey",
            SsmError::InvalidFilterOption(_) => "InvalidFilterOption",
            SsmError::InvalidFilterValue(_) => "InvalidFilterValue",
            SsmError::InvalidNextToken => "InvalidNextToken",
            SsmError::InvalidResourceType => "InvalidResourceType",
            SsmError::InvalidResourceId(_) => "InvalidResourceId",
            SsmError::TooManyTags => "TooManyTagsError",
        };
        AwsError::client(kind, e.to_string())
    }
}

/// The parameters, by name.
#[derive(Default)]
pub(crate) struct Parameters {
    by_name: BTreeMap<String, Parameter>,
}

pub(crate) struct Ssm {
    parameters: Mutex<Parameters>,
    kms: Kms,
}

impl Ssm {
    pub fn new() -> Self {
        Self { parameters: Mutex::default(), kms: Kms::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Parameters> {
        // Writes check everything before they change anything, so a poisoned lock still
        // guards consistent data.
        self.parameters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Service for Ssm {
    const TARGET_PREFIX: &'static str = "AmazonSSM";
    const IAM_PREFIX: &'static str = "ssm";

    fn resources(&self, operation: &str, input: &Input, caller: &Caller) -> Vec<String> {
        let arn = |name: &str| {
            // A version or label selector (`name:3`) is not part of the resource.
            if name.starts_with("arn:") {
                name.splitn(7, ':').take(6).collect::<Vec<_>>().join(":")
            } else {
                parameter::arn(&caller.region, name.split(':').next().unwrap_or(name))
            }
        };
        let field = |name: &str| input.str(name).ok().flatten().map(arn).into_iter().collect();
        match operation {
            "DescribeParameters" => vec!["*".to_owned()],
            "GetParametersByPath" => field("Path"),
            "GetParameters" | "DeleteParameters" => {
                input.strings("Names").ok().flatten().unwrap_or_default().into_iter().map(arn).collect()
            }
            "AddTagsToResource" | "RemoveTagsFromResource" | "ListTagsForResource" => field("ResourceId"),
            _ => field("Name"),
        }
    }

    fn call(&self, operation: &str, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
        match operation {
            "PutParameter" => write::put(self, input, caller),
            "DeleteParameter" => write::delete(self, input),
            "DeleteParameters" => write::delete_many(self, input),
            "LabelParameterVersion" => write::label(self, input),
            "UnlabelParameterVersion" => write::unlabel(self, input),
            "GetParameter" => read::get(self, input, caller),
            "GetParameters" => read::get_many(self, input, caller),
            "GetParametersByPath" => read::by_path(self, input, caller),
            "DescribeParameters" => read::describe(self, input, caller),
            "GetParameterHistory" => read::history(self, input),
            "AddTagsToResource" => tags::add(self, input),
            "RemoveTagsFromResource" => tags::remove(self, input),
            "ListTagsForResource" => tags::list(self, input),
            other => Err(AwsError::unknown_operation(&format!(
                "{other} is not an operation the sandbox's SSM serves"
            ))),
        }
    }
}
