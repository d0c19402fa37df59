//! The Notifications page: an environment's targets and the delivery log.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsView {
    pub env: String,
    pub targets: Vec<TargetView>,
    pub deliveries: Vec<DeliveryView>,
    /// Whether the visitor may send a test, and why not.
    pub may_test: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    pub name: String,
    /// "Slack", "Microsoft Teams", "JSON webhook (signed)", "CloudEvents webhook (signed)".
    pub kind: String,
    /// The events it is sent, in words ("all").
    pub events: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub target: String,
    pub event: String,
    pub title: String,
    pub state: String,
    pub created_ms: i64,
    pub next_ms: Option<i64>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i64,
    pub at_ms: i64,
    pub status: Option<i64>,
    pub answer: String,
    pub replica: String,
}
