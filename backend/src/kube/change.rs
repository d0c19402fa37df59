//! The changes people ask for on a deployment, as the change desk keeps them: deploy an image,
//! roll back, set env, scale, restart, pause, resume. Names arrive checked ([`super::names`],
//! [`ImageRef`]); [`DeploymentChange::validate`] adds the environment's rules. The
//! [`super::actions::Deployer`] previews and carries them out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{ContainerName, DeploymentName, Namespace};
use crate::changes::Change;
use crate::config::Environment;
use crate::image_ref::ImageRef;

/// The most replicas a request may ask for: a typo guard, not a capacity plan.
pub const MAX_REPLICAS: u32 = 1000;

/// Kept as JSON tagged by `kind` (`{"kind":"scale","namespace":…}`), as stored requests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeploymentChange {
    /// Roll a deployment's container to another image (tagged with a commit hash).
    DeployImage {
        namespace: Namespace,
        deployment: DeploymentName,
        container: ContainerName,
        image: ImageRef,
    },
    /// Go back to an earlier revision of a deployment.
    Rollback {
        namespace: Namespace,
        deployment: DeploymentName,
        revision: u32,
    },
    /// Set and remove environment variables of a deployment's container.
    SetEnv {
        namespace: Namespace,
        deployment: DeploymentName,
        container: ContainerName,
        set: BTreeMap<String, String>,
        unset: Vec<String>,
    },
    Scale {
        namespace: Namespace,
        deployment: DeploymentName,
        replicas: u32,
    },
    /// Restart every pod of a deployment (a rolling restart).
    Restart {
        namespace: Namespace,
        deployment: DeploymentName,
    },
    /// Hold a deployment's rollouts: template changes wait until it is resumed.
    Pause {
        namespace: Namespace,
        deployment: DeploymentName,
    },
    Resume {
        namespace: Namespace,
        deployment: DeploymentName,
    },
}

impl DeploymentChange {
    /// The deployment it changes.
    pub fn deployment(&self) -> (&Namespace, &DeploymentName) {
        match self {
            Self::DeployImage { namespace, deployment, .. }
            | Self::Rollback { namespace, deployment, .. }
            | Self::SetEnv { namespace, deployment, .. }
            | Self::Scale { namespace, deployment, .. }
            | Self::Restart { namespace, deployment }
            | Self::Pause { namespace, deployment }
            | Self::Resume { namespace, deployment } => (namespace, deployment),
        }
    }
}

impl Change for DeploymentChange {
    fn label(&self) -> &'static str {
        match self {
            Self::DeployImage { .. } => "deploy image",
            Self::Rollback { .. } => "rollback",
            Self::SetEnv { .. } => "set env",
            Self::Scale { .. } => "scale",
            Self::Restart { .. } => "restart",
            Self::Pause { .. } => "pause",
            Self::Resume { .. } => "resume",
        }
    }

    fn target(&self) -> String {
        let (namespace, deployment) = self.deployment();
        format!("{namespace}/{deployment}")
    }

    fn describe(&self) -> String {
        let target = self.target();
        match self {
            Self::DeployImage { container, image, .. } => {
                format!("deploy {image} to container {container} of {target}")
            }
            Self::Rollback { revision, .. } => format!("roll {target} back to revision {revision}"),
            Self::SetEnv { container, set, unset, .. } => {
                let mut parts: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                parts.extend(unset.iter().map(|k| format!("unset {k}")));
                format!("set {} in container {container} of {target}", parts.join(", "))
            }
            Self::Scale { replicas, .. } => format!("scale {target} to {replicas} replica(s)"),
            Self::Restart { .. } => format!("restart every pod of {target}"),
            Self::Pause { .. } => format!("pause the rollouts of {target}"),
            Self::Resume { .. } => format!("resume the rollouts of {target}"),
        }
    }

    fn commit(&self) -> Option<String> {
        let Self::DeployImage { image, .. } = self else { return None };
        image.commit().map(str::to_owned)
    }

    fn validate(&self, env: &Environment) -> Result<(), String> {
        let (namespace, _) = self.deployment();
        if !env.namespaces.iter().any(|n| n == namespace.as_str()) {
            return Err(format!(
                "namespace {namespace:?} is not one of {}'s: {}",
                env.name,
                env.namespaces.join(", ")
            ));
        }
        match self {
            Self::Rollback { revision: 0, .. } => Err("revisions start at 1".into()),
            Self::SetEnv { set, unset, .. } => {
                if set.is_empty() && unset.is_empty() {
                    return Err("set or unset at least one variable".into());
                }
                match set.keys().chain(unset).find(|name| !is_env_name(name)) {
                    Some(name) => Err(format!("{name:?} is not an environment variable name")),
                    None => Ok(()),
                }
            }
            Self::Scale { replicas, .. } if *replicas > MAX_REPLICAS => {
                Err(format!("at most {MAX_REPLICAS} replicas"))
            }
            _ => Ok(()),
        }
    }
}

/// An environment variable's name as a pod template takes it (and shells read it).
fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    fn production() -> Environment {
        load(&Source::SandboxDefault).unwrap().environments.remove(1)
    }

    fn deploy(ns: &str, image: &str) -> DeploymentChange {
        DeploymentChange::DeployImage {
            namespace: Namespace::parse(ns).unwrap(),
            deployment: DeploymentName::parse("myapp-deployment").unwrap(),
            container: ContainerName::parse("myapp").unwrap(),
            image: ImageRef::parse(image).unwrap(),
        }
    }

    #[test]
    fn validated_against_the_environment() {
        let env = production();
        assert!(deploy("production", "registry/myapp:5d6e7f8").validate(&env).is_ok());
        assert!(deploy("staging", "x:1").validate(&env).unwrap_err().contains("not one of production's"));
        assert!(ImageRef::parse("bad image").is_err());
        assert_eq!(deploy("production", "registry:5000/myapp:5d6e7f8").commit().as_deref(), Some("5d6e7f8"));
        assert_eq!(deploy("production", "myapp:latest").commit(), None);
        let env_change = DeploymentChange::SetEnv {
            namespace: Namespace::parse("production").unwrap(),
            deployment: DeploymentName::parse("myapp-deployment").unwrap(),
            container: ContainerName::parse("myapp").unwrap(),
            set: [("1BAD".to_owned(), "x".to_owned())].into(),
            unset: vec![],
        };
        assert!(env_change.validate(&env).unwrap_err().contains("1BAD"));
    }

    /// Stored requests keep their shape: tagged by kind, names as plain strings, and a stored
    /// name is checked again when read back.
    #[test]
    fn json_is_tagged_by_kind() {
        let a = DeploymentChange::Scale {
            namespace: Namespace::parse("production").unwrap(),
            deployment: DeploymentName::parse("web").unwrap(),
            replicas: 3,
        };
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"kind":"scale","namespace":"production","deployment":"web","replicas":3}"#);
        assert_eq!(serde_json::from_str::<DeploymentChange>(&json).unwrap(), a);
        let tampered = r#"{"kind":"scale","namespace":"production","deployment":"../web","replicas":3}"#;
        assert!(serde_json::from_str::<DeploymentChange>(tampered).is_err());
    }
}
