//! What the Deployments page needs to know of a deployment and its pods, cut down from the
//! API objects as they arrive: small enough to keep thousands in memory, and the health in
//! words, worked out the way `kubectl rollout status` and a person reading pods would.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

/// The label the deployment controller gives a ReplicaSet and its pods.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The annotation holding a ReplicaSet's (and its deployment's) revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// Rollgate's marks on a deployment it changed: who, which change request, when, and the
/// generation that change produced (a later generation was changed by someone else).
pub const CHANGED_BY: &str = "rollgate.io/changed-by";
pub const CHANGE_ID: &str = "rollgate.io/change";
/// Why a deployment (and, copied by the controller, its new replica set) last changed.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
pub const CHANGED_AT: &str = "rollgate.io/changed-at";
pub const CHANGED_GENERATION: &str = "rollgate.io/changed-generation";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub name: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSummary {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    pub observed_generation: i64,
    pub containers: Vec<ContainerImage>,
    pub desired: i32,
    /// Pods of every revision (`status.replicas`).
    pub current: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub paused: bool,
    pub revision: Option<String>,
    /// `RollingUpdate (max surge 25%, max unavailable 25%)` or `Recreate`.
    pub strategy: String,
    /// Progressing=False with this reason, e.g. ProgressDeadlineExceeded.
    pub stalled: Option<(String, String)>,
    /// The newest time a condition changed or the object was created (milliseconds).
    pub last_change_ms: Option<i64>,
    /// Who made the current generation through Rollgate, with the change request's id.
    pub changed_by: Option<(String, String)>,
    /// Why the current spec was made (`kubernetes.io/change-cause`), when something said.
    pub change_cause: Option<String>,
}

impl DeploymentSummary {
    pub fn of(d: &Deployment) -> Option<Self> {
        let meta = &d.metadata;
        let status = d.status.clone().unwrap_or_default();
        let conditions = status.conditions.unwrap_or_default();
        let stalled = conditions
            .iter()
            .find(|c| c.type_.as_deref() == Some("Progressing") && c.status.as_deref() == Some("False"))
            .map(|c| (c.reason.clone().unwrap_or_default(), c.message.clone().unwrap_or_default()));
        let last_change_ms = conditions
            .iter()
            .filter_map(|c| c.last_update_time.as_ref().or(c.last_transition_time.as_ref()))
            .map(|t| t.0.as_millisecond())
            .chain(meta.creation_timestamp.as_ref().map(|t| t.0.as_millisecond()))
            .max();
        let containers = d
            .spec
            .template
            .spec
            .as_ref()
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| ContainerImage {
                        name: c.name.clone(),
                        image: c.image.clone().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let annotations = meta.annotations.as_ref();
        let mark = |key: &str| annotations.and_then(|a| a.get(key));
        let ours = mark(CHANGED_GENERATION).and_then(|g| g.parse::<i64>().ok()) == meta.generation;
        let changed_by = ours.then(|| Some((mark(CHANGED_BY)?.clone(), mark(CHANGE_ID)?.clone()))).flatten();
        let changed_at = ours
            .then(|| mark(CHANGED_AT).and_then(|t| crate::clock::Timestamp::parse_rfc3339(t).ok()))
            .flatten()
            .map(|t| t.millis());
        Some(Self {
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
            generation: meta.generation.unwrap_or(0),
            observed_generation: status.observed_generation.unwrap_or(0),
            containers,
            desired: d.spec.replicas.unwrap_or(1),
            current: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            paused: d.spec.paused.unwrap_or(false),
            revision: meta.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION).cloned()),
            strategy: strategy(d),
            stalled,
            last_change_ms: changed_at.max(last_change_ms),
            changed_by,
            change_cause: mark(CHANGE_CAUSE).cloned(),
        })
    }

    /// Whether the rollout of the current spec is finished, as `kubectl rollout status` judges.
    pub fn rolled_out(&self) -> bool {
        self.observed_generation >= self.generation
            && self.updated >= self.desired
            && self.current <= self.updated
            && self.available >= self.updated
    }
}

fn strategy(d: &Deployment) -> String {
    let Some(strategy) = &d.spec.strategy else { return "RollingUpdate".into() };
    match strategy.type_.as_deref() {
        Some("Recreate") => "Recreate".into(),
        _ => {
            let show = |v: Option<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>| match v {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => i.to_string(),
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => s.clone(),
                None => "25%".into(),
            };
            let rolling = strategy.rolling_update.as_ref();
            format!(
                "RollingUpdate (max surge {}, max unavailable {})",
                show(rolling.and_then(|r| r.max_surge.as_ref())),
                show(rolling.and_then(|r| r.max_unavailable.as_ref()))
            )
        }
    }
}

/// A pod, as far as deployments are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    pub name: String,
    /// The deployment that owns it (through its ReplicaSet), if any.
    pub deployment: Option<String>,
    pub template_hash: Option<String>,
    pub phase: String,
    pub ready_containers: u16,
    pub containers: u16,
    pub restarts: i32,
    /// Why it is not running well: a waiting reason (CrashLoopBackOff, ImagePullBackOff,
    /// ErrImagePull, ContainerCreating), Unschedulable, or Terminating.
    pub reason: Option<String>,
    pub node: Option<String>,
    pub started_ms: Option<i64>,
    /// Container names, init containers first (marked), for the logs picker.
    pub container_names: Vec<String>,
    pub init_container_names: Vec<String>,
}

impl PodSummary {
    pub fn of(pod: &Pod) -> Option<Self> {
        let meta = &pod.metadata;
        let name = meta.name.clone()?;
        let template_hash = meta.labels.as_ref().and_then(|l| l.get(TEMPLATE_HASH_LABEL).cloned());
        // The controller names a ReplicaSet `<deployment>-<pod-template-hash>`.
        let deployment = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "ReplicaSet" && o.controller == Some(true))
            .and_then(|o| {
                let hash = template_hash.as_deref()?;
                o.name.strip_suffix(hash)?.strip_suffix('-').map(str::to_owned)
            });
        let status = pod.status.clone().unwrap_or_default();
        let statuses = status.container_statuses.unwrap_or_default();
        let waiting = statuses
            .iter()
            .chain(status.init_container_statuses.iter().flatten())
            .filter_map(|s| s.state.as_ref()?.waiting.as_ref()?.reason.clone())
            .next();
        let unschedulable = status.conditions.iter().flatten().any(|c| {
            c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
        });
        let reason = if meta.deletion_timestamp.is_some() {
            Some("Terminating".to_owned())
        } else if unschedulable {
            Some("Unschedulable".to_owned())
        } else {
            waiting
        };
        let spec = pod.spec.as_ref();
        Some(Self {
            name,
            deployment,
            template_hash,
            phase: status.phase.unwrap_or_else(|| "Pending".into()),
            ready_containers: statuses.iter().filter(|s| s.ready).count().try_into().unwrap_or(u16::MAX),
            containers: spec.map(|s| s.containers.len()).unwrap_or(0).try_into().unwrap_or(u16::MAX),
            restarts: statuses.iter().map(|s| s.restart_count).sum(),
            reason,
            node: spec.and_then(|s| s.node_name.clone()),
            started_ms: status.start_time.map(|t| t.0.as_millisecond()),
            container_names: spec
                .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
            init_container_names: spec
                .and_then(|s| s.init_containers.as_ref())
                .map(|c| c.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default(),
        })
    }
}

/// A deployment's health in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason")]
pub enum Health {
    Complete,
    Progressing,
    Paused,
    /// With the reason: ProgressDeadlineExceeded, CrashLoopBackOff, ImagePullBackOff,
    /// ErrImagePull, Unschedulable.
    Degraded(String),
}

/// Pod problems that make a deployment degraded, worst first.
const POD_PROBLEMS: [&str; 5] =
    ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Unschedulable", "CreateContainerConfigError"];

pub fn health<'a>(d: &DeploymentSummary, pods: impl Iterator<Item = &'a PodSummary>) -> Health {
    if let Some((reason, _)) = &d.stalled
        && reason == "ProgressDeadlineExceeded"
    {
        return Health::Degraded(reason.clone());
    }
    let worst = pods
        .filter_map(|p| p.reason.as_deref())
        .filter_map(|r| POD_PROBLEMS.iter().position(|known| *known == r))
        .min();
    if let Some(i) = worst {
        return Health::Degraded(POD_PROBLEMS[i].to_owned());
    }
    if d.paused {
        Health::Paused
    } else if d.rolled_out() {
        Health::Complete
    } else {
        Health::Progressing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: serde_json::Value) -> DeploymentSummary {
        DeploymentSummary::of(&serde_json::from_value(json).unwrap()).unwrap()
    }

    fn web(status: serde_json::Value) -> DeploymentSummary {
        deployment(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "generation": 2,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "web", "image": "reg/web:5d6e7f8"}]}}},
            "status": status
        }))
    }

    fn pod(reason: Option<&str>) -> PodSummary {
        let waiting = reason.map(|r| serde_json::json!({"waiting": {"reason": r}}));
        PodSummary::of(
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web-abc12-x", "labels": {"pod-template-hash": "abc12"},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc12",
                                                  "uid": "u", "controller": true}]},
                "spec": {"containers": [{"name": "web"}], "initContainers": [{"name": "migrate"}]},
                "status": {"phase": "Running", "containerStatuses": [{"name": "web", "image": "i", "imageID": "",
                    "ready": false, "restartCount": 4, "state": waiting}]}
            }))
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn health_in_words() {
        let done = serde_json::json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                                      "readyReplicas": 3, "availableReplicas": 3});
        let d = web(done);
        assert_eq!(d.revision.as_deref(), Some("3"));
        assert_eq!(d.strategy, "RollingUpdate");
        assert_eq!(health(&d, [pod(None)].iter()), Health::Complete);
        assert_eq!(
            health(&d, [pod(Some("ErrImagePull")), pod(Some("CrashLoopBackOff"))].iter()),
            Health::Degraded("CrashLoopBackOff".into())
        );
        let rolling = web(serde_json::json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
                                             "readyReplicas": 3, "availableReplicas": 3}));
        assert_eq!(health(&rolling, std::iter::empty()), Health::Progressing);
        let stuck = web(serde_json::json!({"observedGeneration": 2, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "m"}]}));
        assert_eq!(health(&stuck, std::iter::empty()), Health::Degraded("ProgressDeadlineExceeded".into()));
    }

    #[test]
    fn pods_know_their_deployment() {
        let p = pod(Some("CrashLoopBackOff"));
        assert_eq!(p.deployment.as_deref(), Some("web"));
        assert_eq!(p.restarts, 4);
        assert_eq!((p.ready_containers, p.containers), (0, 1));
        assert_eq!(p.init_container_names, ["migrate"]);
        assert_eq!(p.reason.as_deref(), Some("CrashLoopBackOff"));
    }
}
