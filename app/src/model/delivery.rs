//! The Delivery page: the four delivery figures (DORA) of an environment's applications.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub env: String,
    /// The period: 7, 30 or 90 days back from now.
    pub days: i64,
    pub failure_window_hours: u32,
    pub apps: Vec<AppFigures>,
    /// The application shown in charts.
    pub selected: Option<AppDetail>,
    /// What could not be read, in words.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppFigures {
    pub app: String,
    pub namespace: String,
    /// Over the period, and over the period of the same length before it (the trend).
    pub now: FiguresView,
    pub before: FiguresView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiguresView {
    pub deployments: usize,
    pub per_day: f64,
    pub lead_time_ms: Option<i64>,
    pub changes: usize,
    pub failed_changes: usize,
    pub failure_rate: Option<f64>,
    pub restore_ms: Option<i64>,
    pub restores: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppDetail {
    pub app: String,
    /// The period cut into equal parts, oldest first: the charts' bars.
    pub buckets: Vec<Bucket>,
    /// The rollouts of the period, newest first.
    pub rollouts: Vec<RolloutView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub from_ms: i64,
    pub until_ms: i64,
    pub figures: FiguresView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutView {
    pub at_ms: i64,
    /// "deployed", "rolled back" or "failed".
    pub outcome: String,
    pub commit: Option<String>,
    pub message: Option<String>,
    pub lead_time_ms: Option<i64>,
    pub failed_change: bool,
    pub restored_ms: Option<i64>,
    pub source: String,
}
