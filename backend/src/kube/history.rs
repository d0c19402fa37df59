//! A deployment's revisions, read from its ReplicaSets the way `kubectl rollout history`
//! does: the ReplicaSets it controls, each with its revision annotation and pod template.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{EnvVar, PodTemplateSpec};
use kube::Api;
use kube::api::ListParams;

use super::ClusterError;
use super::summary::{CHANGE_CAUSE, ContainerImage, REVISION_ANNOTATION, TEMPLATE_HASH_LABEL};

/// One revision of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub number: u32,
    pub replica_set: String,
    pub containers: Vec<ContainerImage>,
    pub created_ms: Option<i64>,
    /// Why this revision was made (`kubernetes.io/change-cause`), when something said.
    pub change_cause: Option<String>,
    pub replicas: i32,
    pub ready: i32,
    /// The template's pod-template-hash, as the live revision's pods carry it.
    pub template_hash: Option<String>,
    pub template: Option<PodTemplateSpec>,
}

/// The revisions of `d`, newest first.
pub async fn revisions(client: &kube::Client, d: &Deployment) -> Result<Vec<Revision>, ClusterError> {
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let selector = d
        .spec
        .selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let api = Api::<ReplicaSet>::namespaced(client.clone(), &namespace);
    let sets = api.list(&ListParams::default().labels(&selector)).await?;
    let uid = d.metadata.uid.as_deref();
    let mut out: Vec<Revision> = sets
        .items
        .into_iter()
        .filter(|rs| rs.metadata.owner_references.iter().flatten().any(|o| Some(o.uid.as_str()) == uid))
        .filter_map(|rs| {
            let number = rs.metadata.annotations.as_ref()?.get(REVISION_ANNOTATION)?.parse().ok()?;
            let template = rs.spec.template.clone();
            Some(Revision {
                number,
                replica_set: rs.metadata.name.clone().unwrap_or_default(),
                containers: template.as_ref().map(images).unwrap_or_default(),
                created_ms: rs.metadata.creation_timestamp.as_ref().map(|t| t.0.as_millisecond()),
                change_cause: rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE)).cloned(),
                replicas: rs.status.as_ref().map(|s| s.replicas).unwrap_or(0),
                ready: rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                template_hash: rs.metadata.labels.as_ref().and_then(|l| l.get(TEMPLATE_HASH_LABEL).cloned()),
                template,
            })
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.number));
    Ok(out)
}

pub fn images(template: &PodTemplateSpec) -> Vec<ContainerImage> {
    template
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| ContainerImage { name: c.name.clone(), image: c.image.clone().unwrap_or_default() })
        .collect()
}

/// A container's environment as `NAME=value` (or `NAME from …` for references), in order.
pub fn env_lines(env: &[EnvVar]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) => {
                    if let Some(s) = &from.secret_key_ref {
                        format!("(from secret {}/{})", s.name, s.key)
                    } else if let Some(c) = &from.config_map_key_ref {
                        format!("(from config map {}/{})", c.name, c.key)
                    } else if let Some(f) = &from.field_ref {
                        format!("(from field {})", f.field_path)
                    } else {
                        "(from a reference)".to_owned()
                    }
                }
                (None, None) => String::new(),
            };
            (e.name.clone(), value)
        })
        .collect()
}
