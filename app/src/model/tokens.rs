//! What the Tokens page shows: parameters and their history, never values (the one reveal
//! server function returns a value, to the island that asked for it).

use serde::{Deserialize, Serialize};

/// One parameter, without its value. Times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterRow {
    pub name: String,
    pub kind: String,
    pub version: i64,
    pub modified: Option<String>,
    pub modified_by: Option<String>,
    pub key_id: Option<String>,
    pub tier: String,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    /// `label → version`.
    pub labels: Vec<(String, i64)>,
    pub tags: Vec<(String, String)>,
}

/// One version in a parameter's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: i64,
    pub modified: Option<String>,
    pub modified_by: Option<String>,
    pub labels: Vec<String>,
    pub key_id: Option<String>,
}

/// The environment's cluster token, when it is kept in SSM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterTokenView {
    pub parameter: String,
    pub version: Option<i64>,
    pub in_use: Option<i64>,
    pub expires: Option<String>,
    /// "ok", "warn" (within the warning days) or "bad" (expired); "unknown" without a date.
    pub expiry_state: String,
    /// "in 29 days", "3 hours ago".
    pub expires_in: Option<String>,
    pub service_account: String,
    pub lifetime_hours: u32,
    pub problem: Option<String>,
}

/// The Tokens page of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokensView {
    pub prefixes: Vec<String>,
    pub parameters: Vec<ParameterRow>,
    pub cluster: Option<ClusterTokenView>,
    /// Why the visitor may not change parameters (`None`: they may).
    pub manage_denied: Option<String>,
    /// Why the visitor may not reveal values (`None`: they may).
    pub reveal_denied: Option<String>,
}

/// One parameter and its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterDetail {
    pub parameter: ParameterRow,
    pub history: Vec<VersionRow>,
}

/// A revealed value: only the reveal server function returns one.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealedValue {
    pub version: i64,
    pub value: String,
}

impl std::fmt::Debug for RevealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RevealedValue {{ version: {}, value: **** }}", self.version)
    }
}
