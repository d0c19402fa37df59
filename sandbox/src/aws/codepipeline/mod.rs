//! The simulated CodePipeline.

use serde_json::Value;

use super::{AwsError, Caller, Input, Service};

pub(crate) struct CodePipeline;

impl CodePipeline {
    pub fn new() -> Self {
        Self
    }
}

impl Service for CodePipeline {
    const TARGET_PREFIX: &'static str = "CodePipeline_20150709";

    fn call(&self, operation: &str, _input: &Input, _caller: &Caller) -> Result<Value, AwsError> {
        Err(AwsError::unknown_operation(&format!("{operation} is not served by this sandbox")))
    }
}
