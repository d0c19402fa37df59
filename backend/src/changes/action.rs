//! What a change request asks for: a typed action, validated against the environment it is
//! for before anything is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Environment;
use crate::image_ref;
use crate::kube::names::{self, NameKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Roll a deployment's container to another image (tagged with a commit hash).
    DeployImage {
        namespace: String,
        deployment: String,
        container: String,
        image: String,
    },
    /// Go back to an earlier revision of a deployment.
    Rollback {
        namespace: String,
        deployment: String,
        revision: u32,
    },
    /// Set and remove environment variables of a deployment's container.
    SetEnv {
        namespace: String,
        deployment: String,
        container: String,
        set: BTreeMap<String, String>,
        unset: Vec<String>,
    },
    Scale {
        namespace: String,
        deployment: String,
        replicas: u32,
    },
    /// Restart every pod of a deployment (a rolling restart).
    Restart {
        namespace: String,
        deployment: String,
    },
    /// Hold a deployment's rollouts: template changes wait until it is resumed.
    Pause {
        namespace: String,
        deployment: String,
    },
    Resume {
        namespace: String,
        deployment: String,
    },
    /// Give a token kept in SSM Parameter Store a new value.
    RotateToken {
        parameter: String,
    },
    /// Start an execution of a pipeline (release the latest change).
    StartPipeline {
        pipeline: String,
    },
    /// Start an execution of a pipeline at an earlier commit (a source revision override).
    RedeployCommit {
        pipeline: String,
        commit: String,
    },
    /// Put a pipeline stage back to what an earlier successful execution deployed.
    RollbackStage {
        pipeline: String,
        stage: String,
        execution: String,
    },
}

/// The most replicas a request may ask for: a typo guard, not a capacity plan.
pub const MAX_REPLICAS: u32 = 1000;

impl Action {
    /// In words, for lists and the audit trail ("deploy image").
    pub fn label(&self) -> &'static str {
        match self {
            Action::DeployImage { .. } => "deploy image",
            Action::Rollback { .. } => "rollback",
            Action::SetEnv { .. } => "set env",
            Action::Scale { .. } => "scale",
            Action::Restart { .. } => "restart",
            Action::Pause { .. } => "pause",
            Action::Resume { .. } => "resume",
            Action::RotateToken { .. } => "rotate token",
            Action::StartPipeline { .. } => "release",
            Action::RedeployCommit { .. } => "redeploy commit",
            Action::RollbackStage { .. } => "roll back stage",
        }
    }

    /// What it acts on: `namespace/deployment` or the parameter name.
    pub fn target(&self) -> String {
        match self {
            Action::DeployImage { namespace, deployment, .. }
            | Action::Rollback { namespace, deployment, .. }
            | Action::SetEnv { namespace, deployment, .. }
            | Action::Scale { namespace, deployment, .. }
            | Action::Restart { namespace, deployment }
            | Action::Pause { namespace, deployment }
            | Action::Resume { namespace, deployment } => format!("{namespace}/{deployment}"),
            Action::RotateToken { parameter } => parameter.clone(),
            Action::StartPipeline { pipeline }
            | Action::RedeployCommit { pipeline, .. }
            | Action::RollbackStage { pipeline, .. } => pipeline.clone(),
        }
    }

    /// The pipeline a pipeline change acts on.
    pub fn pipeline(&self) -> Option<&str> {
        match self {
            Action::StartPipeline { pipeline }
            | Action::RedeployCommit { pipeline, .. }
            | Action::RollbackStage { pipeline, .. } => Some(pipeline),
            _ => None,
        }
    }

    /// What it will do, in words ("scale production/web to 3 replicas").
    pub fn describe(&self) -> String {
        let target = self.target();
        match self {
            Action::DeployImage { container, image, .. } => {
                format!("deploy {image} to container {container} of {target}")
            }
            Action::Rollback { revision, .. } => format!("roll {target} back to revision {revision}"),
            Action::SetEnv { container, set, unset, .. } => {
                let mut parts: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                parts.extend(unset.iter().map(|k| format!("unset {k}")));
                format!("set {} in container {container} of {target}", parts.join(", "))
            }
            Action::Scale { replicas, .. } => format!("scale {target} to {replicas} replica(s)"),
            Action::Restart { .. } => format!("restart every pod of {target}"),
            Action::Pause { .. } => format!("pause the rollouts of {target}"),
            Action::Resume { .. } => format!("resume the rollouts of {target}"),
            Action::RotateToken { .. } => format!("give {target} a new value"),
            Action::StartPipeline { .. } => format!("start {target} at the latest commit"),
            Action::RedeployCommit { commit, .. } => format!("start {target} at commit {commit}"),
            Action::RollbackStage { stage, execution, .. } => {
                format!("roll {stage} of {target} back to execution {execution}")
            }
        }
    }

    /// The commit an image tag names, when the tag looks like a commit hash.
    pub fn commit(&self) -> Option<String> {
        if let Action::RedeployCommit { commit, .. } = self {
            return Some(commit.clone());
        }
        let Action::DeployImage { image, .. } = self else { return None };
        image_ref::tag_of(image).and_then(image_ref::commit_of_tag).map(str::to_owned)
    }

    /// Checks the action against `env`; the message names the field.
    pub fn validate(&self, env: &Environment) -> Result<(), String> {
        let names = |namespace: &str, deployment: &str| -> Result<(), String> {
            if !env.namespaces.iter().any(|n| n == namespace) {
                return Err(format!(
                    "namespace {namespace:?} is not one of {}'s: {}",
                    env.name,
                    env.namespaces.join(", ")
                ));
            }
            names::check(NameKind::Deployment, deployment)
        };
        match self {
            Action::DeployImage { namespace, deployment, container, image } => {
                names(namespace, deployment)?;
                names::check(NameKind::Container, container)?;
                image_ref::check(image).map(|_| ())
            }
            Action::Rollback { namespace, deployment, revision } => {
                names(namespace, deployment)?;
                if *revision == 0 { Err("revisions start at 1".into()) } else { Ok(()) }
            }
            Action::SetEnv { namespace, deployment, container, set, unset } => {
                names(namespace, deployment)?;
                names::check(NameKind::Container, container)?;
                if set.is_empty() && unset.is_empty() {
                    return Err("set or unset at least one variable".into());
                }
                for name in set.keys().chain(unset) {
                    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(format!("{name:?} is not an environment variable name"));
                    }
                }
                Ok(())
            }
            Action::Scale { namespace, deployment, replicas } => {
                names(namespace, deployment)?;
                if *replicas > MAX_REPLICAS {
                    Err(format!("at most {MAX_REPLICAS} replicas"))
                } else {
                    Ok(())
                }
            }
            Action::Restart { namespace, deployment }
            | Action::Pause { namespace, deployment }
            | Action::Resume { namespace, deployment } => names(namespace, deployment),
            Action::RotateToken { parameter } => {
                if env
                    .ssm_prefixes
                    .iter()
                    .any(|p| parameter.starts_with(p.as_str()) && parameter.len() > p.len())
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{parameter:?} is not under {}'s SSM prefixes: {}",
                        env.name,
                        env.ssm_prefixes.join(", ")
                    ))
                }
            }
            Action::StartPipeline { pipeline }
            | Action::RedeployCommit { pipeline, .. }
            | Action::RollbackStage { pipeline, .. }
                if !env.aws.pipelines.contains(pipeline) =>
            {
                Err(format!(
                    "{pipeline:?} is not one of {}'s pipelines: {}",
                    env.name,
                    env.aws.pipelines.join(", ")
                ))
            }
            Action::StartPipeline { .. } => Ok(()),
            Action::RedeployCommit { commit, .. } => {
                let hex = (7..=40).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit());
                if hex { Ok(()) } else { Err(format!("{commit:?} is not a commit hash")) }
            }
            Action::RollbackStage { stage, execution, .. } => {
                if stage.is_empty() || stage.len() > 100 {
                    return Err("name the stage to roll back".into());
                }
                crate::pipelines::control::execution_id(execution).map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    fn production() -> Environment {
        load(&Source::SandboxDefault).unwrap().environments.remove(1)
    }

    #[test]
    fn validated_against_the_environment() {
        let env = production();
        let deploy = |ns: &str, image: &str| Action::DeployImage {
            namespace: ns.into(),
            deployment: "myapp-deployment".into(),
            container: "myapp".into(),
            image: image.into(),
        };
        assert!(deploy("production", "registry/myapp:5d6e7f8").validate(&env).is_ok());
        assert!(deploy("staging", "x:1").validate(&env).unwrap_err().contains("not one of production's"));
        assert!(deploy("production", "bad image").validate(&env).is_err());
        assert_eq!(deploy("production", "registry:5000/myapp:5d6e7f8").commit().as_deref(), Some("5d6e7f8"));
        assert_eq!(deploy("production", "myapp:latest").commit(), None);
        let token = Action::RotateToken { parameter: "/rollgate/staging/x".into() };
        assert!(token.validate(&env).is_err());
        let env_change = Action::SetEnv {
            namespace: "production".into(),
            deployment: "myapp-deployment".into(),
            container: "myapp".into(),
            set: [("1BAD".to_owned(), "x".to_owned())].into(),
            unset: vec![],
        };
        assert!(env_change.validate(&env).unwrap_err().contains("1BAD"));
    }

    #[test]
    fn json_is_tagged_by_kind() {
        let a = Action::Scale { namespace: "production".into(), deployment: "web".into(), replicas: 3 };
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"kind":"scale","namespace":"production","deployment":"web","replicas":3}"#);
        assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
    }
}
