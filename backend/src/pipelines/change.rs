//! The pipeline changes people ask for, as the change desk keeps them: release the latest
//! change, redeploy an earlier commit, roll a stage back to an earlier successful execution.
//! They change what runs, so they go through the desk (four eyes where the environment is
//! protected); the [`super::executor::Releaser`] carries them out.

use serde::{Deserialize, Serialize};

use super::ids::{CommitSha, ExecutionId};
use crate::changes::Change;
use crate::config::Environment;

/// Kept as JSON tagged by `kind` (`{"kind":"start-pipeline","pipeline":…}`), as stored
/// requests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PipelineChange {
    /// Start an execution of a pipeline (release the latest change).
    StartPipeline { pipeline: String },
    /// Start an execution of a pipeline at an earlier commit (a source revision override).
    RedeployCommit { pipeline: String, commit: CommitSha },
    /// Put a pipeline stage back to what an earlier successful execution deployed.
    RollbackStage { pipeline: String, stage: String, execution: ExecutionId },
}

impl PipelineChange {
    pub fn pipeline(&self) -> &str {
        match self {
            Self::StartPipeline { pipeline }
            | Self::RedeployCommit { pipeline, .. }
            | Self::RollbackStage { pipeline, .. } => pipeline,
        }
    }
}

impl Change for PipelineChange {
    fn label(&self) -> &'static str {
        match self {
            Self::StartPipeline { .. } => "release",
            Self::RedeployCommit { .. } => "redeploy commit",
            Self::RollbackStage { .. } => "roll back stage",
        }
    }

    fn target(&self) -> String {
        self.pipeline().to_owned()
    }

    fn describe(&self) -> String {
        let target = self.target();
        match self {
            Self::StartPipeline { .. } => format!("start {target} at the latest commit"),
            Self::RedeployCommit { commit, .. } => format!("start {target} at commit {commit}"),
            Self::RollbackStage { stage, execution, .. } => {
                format!("roll {stage} of {target} back to execution {execution}")
            }
        }
    }

    fn commit(&self) -> Option<String> {
        let Self::RedeployCommit { commit, .. } = self else { return None };
        Some(commit.to_string())
    }

    fn validate(&self, env: &Environment) -> Result<(), String> {
        let pipeline = self.pipeline();
        if !env.aws.pipelines.iter().any(|p| p == pipeline) {
            return Err(format!(
                "{pipeline:?} is not one of {}'s pipelines: {}",
                env.name,
                env.aws.pipelines.join(", ")
            ));
        }
        match self {
            Self::RollbackStage { stage, .. } if stage.is_empty() || stage.len() > 100 => {
                Err("name the stage to roll back".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    #[test]
    fn validated_against_the_environment() {
        let env = load(&Source::SandboxDefault).unwrap().environments.remove(1);
        let start = |pipeline: &str| PipelineChange::StartPipeline { pipeline: pipeline.into() };
        assert!(start("myapp-production").validate(&env).is_ok());
        assert!(start("myapp-staging").validate(&env).unwrap_err().contains("not one of production's"));
        let rollback = PipelineChange::RollbackStage {
            pipeline: "myapp-production".into(),
            stage: String::new(),
            execution: ExecutionId::parse("0e0e0e0e-0000-4000-8000-000000000000").unwrap(),
        };
        assert!(rollback.validate(&env).is_err());
        let json = serde_json::to_string(&start("myapp-production")).unwrap();
        assert_eq!(json, r#"{"kind":"start-pipeline","pipeline":"myapp-production"}"#);
    }
}
