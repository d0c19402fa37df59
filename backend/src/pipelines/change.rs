//! The pipeline changes people ask for, as the change desk keeps them: release (the latest
//! change, or with variables and a source revision), redeploy an earlier commit, roll a stage
//! back to an earlier successful execution, override a stage condition. They change what runs,
//! so they go through the desk (four eyes where the environment is protected); the
//! [`super::executor::Releaser`] carries them out.

use serde::{Deserialize, Serialize};

use super::conditions::ConditionKind;
use super::ids::{CommitSha, ExecutionId};
use super::inputs::ReleaseInputs;
use crate::changes::Change;
use crate::config::Environment;

/// Kept as JSON tagged by `kind` (`{"kind":"start-pipeline","pipeline":…}`), as stored
/// requests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PipelineChange {
    /// Start an execution of a pipeline: the latest change, with the declared variables'
    /// defaults, unless `inputs` say otherwise.
    StartPipeline {
        pipeline: String,
        #[serde(default, skip_serializing_if = "ReleaseInputs::is_empty")]
        inputs: ReleaseInputs,
    },
    /// Start an execution of a pipeline at an earlier commit (a source revision override).
    RedeployCommit { pipeline: String, commit: CommitSha },
    /// Put a pipeline stage back to what an earlier successful execution deployed.
    RollbackStage { pipeline: String, stage: String, execution: ExecutionId },
    /// Let an execution through a stage condition that is being checked, as if it were met.
    OverrideCondition { pipeline: String, stage: String, execution: ExecutionId, condition: ConditionKind },
}

impl PipelineChange {
    pub fn pipeline(&self) -> &str {
        match self {
            Self::StartPipeline { pipeline, .. }
            | Self::RedeployCommit { pipeline, .. }
            | Self::RollbackStage { pipeline, .. }
            | Self::OverrideCondition { pipeline, .. } => pipeline,
        }
    }
}

impl Change for PipelineChange {
    fn label(&self) -> &'static str {
        match self {
            Self::StartPipeline { .. } => "release",
            Self::RedeployCommit { .. } => "redeploy commit",
            Self::RollbackStage { .. } => "roll back stage",
            Self::OverrideCondition { .. } => "override condition",
        }
    }

    fn target(&self) -> String {
        self.pipeline().to_owned()
    }

    fn describe(&self) -> String {
        let target = self.target();
        match self {
            Self::StartPipeline { inputs, .. } if inputs.revision.is_some() => {
                format!("start {target}{}", inputs.describe())
            }
            Self::StartPipeline { inputs, .. } => {
                format!("start {target} at the latest commit{}", inputs.describe())
            }
            Self::RedeployCommit { commit, .. } => format!("start {target} at commit {commit}"),
            Self::RollbackStage { stage, execution, .. } => {
                format!("roll {stage} of {target} back to execution {execution}")
            }
            Self::OverrideCondition { stage, execution, condition, .. } => {
                format!("override the {} of {stage} in {target} for execution {execution}", condition.words())
            }
        }
    }

    fn commit(&self) -> Option<String> {
        match self {
            Self::RedeployCommit { commit, .. } => Some(commit.to_string()),
            Self::StartPipeline { inputs, .. } => inputs.commit().map(str::to_owned),
            _ => None,
        }
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
            Self::OverrideCondition { stage, .. } if stage.is_empty() || stage.len() > 100 => {
                Err("name the stage whose condition to override".into())
            }
            Self::OverrideCondition { condition, .. } if condition.overridable().is_none() => Err(format!(
                "a {} cannot be overridden; only entry and success conditions can",
                condition.words()
            )),
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
        let start = |pipeline: &str| PipelineChange::StartPipeline {
            pipeline: pipeline.into(),
            inputs: ReleaseInputs::default(),
        };
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
        let stored: PipelineChange = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, start("myapp-production"), "requests stored before inputs existed still read");
        let execution = ExecutionId::parse("0e0e0e0e-0000-4000-8000-000000000000").unwrap();
        let over = |condition| PipelineChange::OverrideCondition {
            pipeline: "myapp-production".into(),
            stage: "Deploy".into(),
            execution: execution.clone(),
            condition,
        };
        assert!(over(ConditionKind::OnFailure).validate(&env).unwrap_err().contains("cannot be overridden"));
        let entry = over(ConditionKind::BeforeEntry);
        assert!(entry.validate(&env).is_ok());
        assert_eq!(
            entry.describe(),
            "override the entry condition of Deploy in myapp-production for execution 0e0e0e0e-0000-4000-8000-000000000000"
        );
        let inputs = ReleaseInputs::parse("RELEASE_NOTE=hotfix", "Source", "commit-id", "4d1c9a7").unwrap();
        let release = PipelineChange::StartPipeline { pipeline: "myapp-production".into(), inputs };
        assert_eq!(
            release.describe(),
            "start myapp-production with RELEASE_NOTE=\"hotfix\" at commit 4d1c9a7 (Source)"
        );
        assert_eq!(release.commit().as_deref(), Some("4d1c9a7"));
    }
}
