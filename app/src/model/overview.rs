//! What runs where: the Overview page's grid and the comparison of two environments.

use serde::{Deserialize, Serialize};

use super::{EnvironmentSummary, Health};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewView {
    /// The environments the visitor may see, in configured order: the grid's columns.
    pub environments: Vec<EnvironmentSummary>,
    pub rows: Vec<AppRow>,
    /// What could not be read, in words.
    pub problems: Vec<String>,
}

/// One application: a cell per environment (`None` where it does not run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRow {
    pub app: String,
    pub cells: Vec<Option<CellView>>,
    /// Whether each cell runs something else than the environment before it.
    pub differs: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellView {
    pub environment: String,
    pub namespace: String,
    pub deployment: String,
    pub health: Health,
    pub container: Option<String>,
    pub image: Option<String>,
    pub commit: Option<CommitView>,
    pub since_ms: Option<i64>,
    pub released_by: Option<String>,
    pub approved_by: Vec<String>,
    pub via: Option<Via>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitView {
    pub id: String,
    pub short: String,
    pub message: Option<String>,
    pub author: Option<String>,
    pub authored_ms: Option<i64>,
}

/// How the running revision got there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Via {
    Change { id: String, what: String },
    Execution { pipeline: String, execution: String },
}

/// An execution that carried a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierView {
    pub environment: String,
    pub pipeline: String,
    pub execution: String,
    pub status: String,
    pub started_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedCommit {
    pub commit: CommitView,
    pub carriers: Vec<CarrierView>,
}

/// How the left environment's commit stands to the right's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Same,
    Ahead,
    Behind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentComparison {
    pub app: String,
    pub left: EnvironmentSummary,
    pub right: EnvironmentSummary,
    pub left_cell: CellView,
    pub right_cell: CellView,
    /// `None` when CodePipeline's recent history does not know both commits.
    pub direction: Option<Direction>,
    /// The commits between, newest first.
    pub commits: Vec<CarriedCommit>,
    /// How the left's commit would be released into the right environment, when the
    /// visitor may ask for it there.
    pub promote: Option<Promote>,
    /// Why the visitor may not ask for a promotion (their role there).
    pub promote_refused: Option<String>,
}

/// A promotion: through the right environment's pipeline at the left's commit, or (with no
/// pipeline) a deployment of the left's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Promote {
    Pipeline { pipeline: String, commit: String },
    Image { namespace: String, deployment: String, container: String, image: String },
}
