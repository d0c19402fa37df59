//! A parameter: its name, tags and up to 100 versions, each with its own value, type, key,
//! description, pattern, tier and labels, as AWS keeps them. Values of SecureString versions
//! are ciphertext here; only [`Ssm::plaintext`] turns them back.
//!
//! [`Ssm::plaintext`]: super::Ssm

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::ids;
use super::names::Selector;
use super::{Ssm, SsmError};

/// How many versions a parameter keeps.
pub const MAX_VERSIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    StringList,
    SecureString,
}

impl Kind {
    pub fn parse(text: &str) -> Result<Self, SsmError> {
        match text {
            "String" => Ok(Kind::String),
            "StringList" => Ok(Kind::StringList),
            "SecureString" => Ok(Kind::SecureString),
            other => Err(SsmError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "String",
            Kind::StringList => "StringList",
            Kind::SecureString => "SecureString",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Advanced,
}

impl Tier {
    /// The largest value, in bytes, each tier holds.
    pub fn max_value(self) -> usize {
        match self {
            Tier::Standard => 4096,
            Tier::Advanced => 8192,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Version {
    pub number: u64,
    pub kind: Kind,
    /// Plain text, or for SecureString the ciphertext under `key_id`.
    pub value: String,
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub tier: Tier,
    pub data_type: String,
    pub modified: SystemTime,
    pub modified_by: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    /// Oldest first; never empty.
    pub versions: Vec<Version>,
    pub tags: Vec<(String, String)>,
}

impl Parameter {
    pub fn latest(&self) -> &Version {
        // A parameter is created with its first version and never loses its last one.
        self.versions.last().expect("a parameter has a version")
    }

    pub fn select(&self, selector: &Selector) -> Result<&Version, SsmError> {
        match selector {
            Selector::Latest => Ok(self.latest()),
            Selector::Version(v) => {
                self.versions.iter().find(|x| x.number == *v).ok_or_else(|| {
                    SsmError::ParameterVersionNotFound { name: self.name.clone(), version: *v }
                })
            }
            Selector::Label(l) => self
                .versions
                .iter()
                .find(|x| x.labels.contains(l))
                .ok_or_else(|| SsmError::ParameterNotFound(format!("{}:{l}", self.name))),
        }
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A parameter's ARN in the caller's region (a hierarchical name keeps its slashes).
pub fn arn(region: &str, name: &str) -> String {
    format!("arn:aws:ssm:{region}:{}:parameter/{}", ids::ACCOUNT, name.trim_start_matches('/'))
}

impl Ssm {
    /// The value a read returns: SecureString values decrypted only when asked.
    pub(super) fn shown_value(
        &self,
        name: &str,
        version: &Version,
        decrypt: bool,
    ) -> Result<String, SsmError> {
        match (&version.key_id, decrypt) {
            (Some(key), true) if version.kind == Kind::SecureString => {
                self.kms.decrypt(key, name, &version.value)
            }
            _ => Ok(version.value.clone()),
        }
    }

    /// GetParameter's `Parameter`.
    pub(super) fn parameter_json(
        &self,
        parameter: &Parameter,
        version: &Version,
        selector: &Selector,
        decrypt: bool,
        region: &str,
    ) -> Result<Value, SsmError> {
        let mut out = json!({
            "Name": parameter.name,
            "Type": version.kind.as_str(),
            "Value": self.shown_value(&parameter.name, version, decrypt)?,
            "Version": version.number,
            "LastModifiedDate": ids::epoch(version.modified),
            "ARN": arn(region, &parameter.name),
            "DataType": version.data_type,
        });
        if let Some(selector) = selector.echo() {
            out["Selector"] = json!(selector);
        }
        Ok(out)
    }
}

/// DescribeParameters' `ParameterMetadata` (never a value).
pub fn metadata_json(parameter: &Parameter, region: &str) -> Value {
    let v = parameter.latest();
    let mut out = json!({
        "Name": parameter.name,
        "ARN": arn(region, &parameter.name),
        "Type": v.kind.as_str(),
        "LastModifiedDate": ids::epoch(v.modified),
        "LastModifiedUser": v.modified_by,
        "Version": v.number,
        "Tier": v.tier.as_str(),
        "Policies": [],
        "DataType": v.data_type,
    });
    optional(&mut out, "KeyId", &v.key_id);
    optional(&mut out, "Description", &v.description);
    optional(&mut out, "AllowedPattern", &v.allowed_pattern);
    out
}

/// GetParameterHistory's `ParameterHistory`.
pub fn history_json(name: &str, v: &Version, value: String) -> Value {
    let mut out = json!({
        "Name": name,
        "Type": v.kind.as_str(),
        "LastModifiedDate": ids::epoch(v.modified),
        "LastModifiedUser": v.modified_by,
        "Value": value,
        "Version": v.number,
        "Labels": v.labels,
        "Tier": v.tier.as_str(),
        "Policies": [],
        "DataType": v.data_type,
    });
    optional(&mut out, "KeyId", &v.key_id);
    optional(&mut out, "Description", &v.description);
    optional(&mut out, "AllowedPattern", &v.allowed_pattern);
    out
}

fn optional(out: &mut Value, field: &str, value: &Option<String>) {
    if let Some(v) = value {
        out[field] = json!(v);
    }
}
