//! Carrying out deployment changes ([`DeploymentChange`]): their [`Executor`], the
//! [`Deployer`].
//!
//! Every change is planned from the deployment as it is now: the plan says, in words, what the
//! change touches before and after (the preview approvers read), and holds the deployment as
//! it will be written. Writing replaces the object with the resourceVersion it was read at,
//! so a concurrent write elsewhere makes it fail with a conflict instead of being overwritten;
//! and a change runs only if the deployment still is as its preview said, so nobody approves
//! one state and gets another.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, EnvVar};
use kube::Api;
use kube::api::PostParams;

use super::change::DeploymentChange;
use super::history::{self, Revision};
use super::summary::{
    CHANGE_CAUSE, CHANGE_ID, CHANGED_AT, CHANGED_BY, CHANGED_GENERATION, REVISION_ANNOTATION,
    TEMPLATE_HASH_LABEL,
};
use super::{ClusterError, Clusters};
use crate::changes::executor::BoxFuture;
use crate::changes::{Change, ExecuteError, Executed, Executor, Origin, Preview};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::policy::blocked::{self, CommitHash};

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

pub struct Deployer {
    clusters: Clusters,
}

impl Deployer {
    pub fn new(clusters: Clusters) -> Self {
        Self { clusters }
    }

    async fn read(
        &self,
        env: &Environment,
        namespace: &str,
        name: &str,
    ) -> Result<(Api<Deployment>, Deployment, kube::Client), ClusterError> {
        let client = self.clusters.client(&env.name).await?;
        let api = Api::<Deployment>::namespaced(client.clone(), namespace);
        match api.get(name).await {
            Ok(d) => Ok((api, d, client)),
            Err(e) => {
                let e = ClusterError::from(e);
                self.clusters.saw(&env.name, &e);
                Err(match e {
                    ClusterError::NotFound(_) => {
                        ClusterError::NotFound(format!("There is no deployment {namespace}/{name}."))
                    }
                    other => other,
                })
            }
        }
    }

    async fn plan(
        &self,
        env: &Environment,
        action: &DeploymentChange,
    ) -> Result<(Api<Deployment>, Plan), ExecuteError> {
        let (namespace, name) = action.deployment();
        let (api, d, client) = self.read(env, namespace, name).await?;
        let revisions = if matches!(action, DeploymentChange::Rollback { .. }) {
            history::revisions(&client, &d).await?
        } else {
            Vec::new()
        };
        let plan = plan(d, action, &revisions).map_err(ExecuteError::Invalid)?;
        Ok((api, plan))
    }
}

impl Executor<DeploymentChange> for Deployer {
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a DeploymentChange,
        seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        Box::pin(async move {
            let (_, plan) = self.plan(env, action).await?;
            if let Some(seen) = seen.filter(|s| !s.is_empty())
                && seen != plan.version
            {
                return Err(ExecuteError::Conflict(format!(
                    "{} changed since your page showed it (generation {seen}, now {}). Reload the page and check it before asking again",
                    action.target(),
                    plan.version
                )));
            }
            Ok(Preview {
                before: plan.before,
                after: plan.after,
                version: plan.version,
                releases: plan.releases,
                retires: plan.retires,
            })
        })
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a DeploymentChange,
        before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        Box::pin(async move {
            // The deployment controller writes the object's status while a rollout moves, and
            // each write is a new resourceVersion: a replace refused only for that (409, with
            // what the person approved still as it was) is made again on the fresh object, as
            // client-go's RetryOnConflict does.
            let mut attempts = 0;
            loop {
                attempts += 1;
                let (api, mut plan) = self.plan(env, action).await?;
                if plan.before != before {
                    return Err(ExecuteError::Conflict(format!(
                        "{} changed since this was requested: it was {before:?}, it is {:?} now. Request the change again",
                        action.target(),
                        plan.before
                    )));
                }
                mark(&mut plan.deployment, origin);
                let name = plan.deployment.metadata.name.clone().unwrap_or_default();
                match api.replace(&name, &PostParams::default(), &plan.deployment).await {
                    Ok(written) => {
                        let generation = written.metadata.generation.unwrap_or(0);
                        let mut done = Executed::new(format!("{}; generation {generation}", plan.after));
                        done.retired = plan.retires;
                        return Ok(done);
                    }
                    Err(e) => {
                        let e = ClusterError::from(e);
                        if matches!(e, ClusterError::Conflict(_)) && attempts < WRITE_ATTEMPTS {
                            continue;
                        }
                        self.clusters.saw(&env.name, &e);
                        return Err(e.into());
                    }
                }
            }
        })
    }
}

/// How often a change is written before a conflict is reported (see `execute`).
const WRITE_ATTEMPTS: u32 = 5;

/// Records on the deployment (not its template: that would start a rollout) who made this
/// change, and the generation it will have, so a later change made elsewhere is told apart;
/// and, as `kubectl rollout history` shows it, why (the new revision's replica set keeps it).
fn mark(d: &mut Deployment, origin: &Origin) {
    let next = d.metadata.generation.unwrap_or(0) + 1;
    let annotations = d.metadata.annotations.get_or_insert_default();
    annotations
        .insert(CHANGE_CAUSE.to_owned(), format!("Rollgate change {} by {}", origin.change, origin.by));
    annotations.insert(CHANGED_BY.to_owned(), origin.by.clone());
    annotations.insert(CHANGE_ID.to_owned(), origin.change.clone());
    annotations.insert(CHANGED_AT.to_owned(), Timestamp::now().rfc3339());
    annotations.insert(CHANGED_GENERATION.to_owned(), next.to_string());
}

/// A change worked out against the deployment as read.
#[derive(Debug)]
pub struct Plan {
    /// What the change touches, as it is.
    pub before: String,
    /// The same, as it will be.
    pub after: String,
    /// The generation the plan was made from.
    pub version: String,
    /// The deployment to write (with the resourceVersion it was read at).
    pub deployment: Deployment,
    /// The commits its images would start running, and those they would stop running.
    pub releases: Vec<CommitHash>,
    pub retires: Vec<CommitHash>,
}

/// Works out `action` on `d` (`revisions` for a rollback).
pub fn plan(mut d: Deployment, action: &DeploymentChange, revisions: &[Revision]) -> Result<Plan, String> {
    let version = d.metadata.generation.unwrap_or(0).to_string();
    let old = commits_of(&d);
    let (before, after) = match action {
        DeploymentChange::DeployImage { container, image, .. } => {
            let c = container_mut(&mut d, container)?;
            let old = c.image.clone().unwrap_or_default();
            if old == image.as_str() {
                return Err(format!("container {container} already runs {image}"));
            }
            c.image = Some(image.to_string());
            (format!("{container}: {old}"), format!("{container}: {image}"))
        }
        DeploymentChange::SetEnv { container, set, unset, .. } => {
            let c = container_mut(&mut d, container)?;
            set_env(c, set, unset)?
        }
        DeploymentChange::Scale { replicas, .. } => {
            let old = d.spec.replicas.unwrap_or(1);
            let new = i32::try_from(*replicas).map_err(|_| "too many replicas".to_owned())?;
            if old == new {
                return Err(format!("it already has {old} replica(s)"));
            }
            d.spec.replicas = Some(new);
            (format!("{old} replica(s)"), format!("{new} replica(s)"))
        }
        DeploymentChange::Restart { .. } => {
            let annotations =
                d.spec.template.metadata.get_or_insert_default().annotations.get_or_insert_default();
            let old = annotations.get(RESTARTED_AT).cloned();
            annotations.insert(RESTARTED_AT.to_owned(), Timestamp::now().rfc3339());
            (
                match old {
                    Some(at) => format!("pods last restarted at {at}"),
                    None => "pods never restarted".to_owned(),
                },
                "every pod replaced, a few at a time (rolling restart)".to_owned(),
            )
        }
        DeploymentChange::Pause { .. } | DeploymentChange::Resume { .. } => {
            let pause = matches!(action, DeploymentChange::Pause { .. });
            let paused = d.spec.paused.unwrap_or(false);
            if paused == pause {
                return Err(format!(
                    "its rollouts are already {}",
                    if paused { "paused" } else { "running" }
                ));
            }
            d.spec.paused = Some(pause);
            let word = |p: bool| if p { "rollouts paused" } else { "rollouts running" }.to_owned();
            (word(paused), word(pause))
        }
        DeploymentChange::Rollback { revision, .. } => rollback(&mut d, *revision, revisions)?,
    };
    let new = commits_of(&d);
    let releases = new.iter().filter(|c| !old.contains(c)).cloned().collect();
    let retires = old.into_iter().filter(|c| !new.contains(c)).collect();
    Ok(Plan { before, after, version, deployment: d, releases, retires })
}

/// The commits the deployment's containers run (images tagged with one).
fn commits_of(d: &Deployment) -> Vec<CommitHash> {
    let containers = d.spec.template.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    blocked::commits_of_images(containers.iter().filter_map(|c| c.image.as_deref()))
}

fn container_mut<'d>(d: &'d mut Deployment, name: &str) -> Result<&'d mut Container, String> {
    let containers = &mut d.spec.template.spec.get_or_insert_default().containers;
    let names = containers.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ");
    containers
        .iter_mut()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("it has no container {name:?} (its containers: {names})"))
}

fn set_env(
    c: &mut Container,
    set: &BTreeMap<String, String>,
    unset: &[String],
) -> Result<(String, String), String> {
    let env = c.env.get_or_insert_default();
    let lines = |env: &[EnvVar], names: &mut dyn Iterator<Item = &String>| {
        let current: BTreeMap<_, _> = history::env_lines(env).into_iter().collect();
        names
            .map(|n| match current.get(n) {
                Some(v) => format!("{n}={v}"),
                None => format!("{n} unset"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let before = lines(env, &mut set.keys().chain(unset));
    for (name, value) in set {
        match env.iter_mut().find(|e| e.name == *name) {
            Some(e) => {
                e.value = Some(value.clone());
                e.value_from = None;
            }
            None => env.push(EnvVar { name: name.clone(), value: Some(value.clone()), value_from: None }),
        }
    }
    env.retain(|e| !unset.contains(&e.name));
    let after = lines(env, &mut set.keys().chain(unset));
    if before == after {
        return Err(format!("nothing would change: {before}"));
    }
    Ok((before, after))
}

/// Puts revision `number`'s pod template back, as `kubectl rollout undo --to-revision` does.
fn rollback(d: &mut Deployment, number: u32, revisions: &[Revision]) -> Result<(String, String), String> {
    let current: Option<u32> =
        d.metadata.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)?.parse().ok());
    if current == Some(number) {
        return Err(format!("revision {number} is the live one"));
    }
    let known = revisions.iter().map(|r| r.number.to_string()).collect::<Vec<_>>().join(", ");
    let target = revisions
        .iter()
        .find(|r| r.number == number)
        .ok_or_else(|| format!("there is no revision {number} (kept revisions: {known})"))?;
    let mut template =
        target.template.clone().ok_or_else(|| format!("revision {number} has no pod template"))?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    let (before, after) = template_difference(&d.spec.template, &template);
    let label = |n: Option<u32>| n.map(|n| format!("revision {n}")).unwrap_or_else(|| "now".into());
    d.spec.template = template;
    Ok((format!("{}: {before}", label(current)), format!("revision {number}: {after}")))
}

/// What differs between two pod templates, per container: image and env, old and new side.
pub fn template_difference(
    now: &k8s_openapi::api::core::v1::PodTemplateSpec,
    then: &k8s_openapi::api::core::v1::PodTemplateSpec,
) -> (String, String) {
    let containers = |t: &k8s_openapi::api::core::v1::PodTemplateSpec| -> BTreeMap<String, Container> {
        t.spec.iter().flat_map(|s| &s.containers).map(|c| (c.name.clone(), c.clone())).collect()
    };
    let (a, b) = (containers(now), containers(then));
    let mut before = Vec::new();
    let mut after = Vec::new();
    let names: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    for name in names {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) => {
                if x.image != y.image {
                    before.push(format!("{name} image {}", x.image.clone().unwrap_or_default()));
                    after.push(format!("{name} image {}", y.image.clone().unwrap_or_default()));
                }
                let ex: BTreeMap<_, _> =
                    history::env_lines(x.env.as_deref().unwrap_or_default()).into_iter().collect();
                let ey: BTreeMap<_, _> =
                    history::env_lines(y.env.as_deref().unwrap_or_default()).into_iter().collect();
                let keys: std::collections::BTreeSet<_> = ex.keys().chain(ey.keys()).collect();
                for k in keys {
                    if ex.get(k) != ey.get(k) {
                        let show = |v: Option<&String>| match v {
                            Some(v) => format!("{name} {k}={v}"),
                            None => format!("{name} {k} unset"),
                        };
                        before.push(show(ex.get(k)));
                        after.push(show(ey.get(k)));
                    }
                }
            }
            (Some(_), None) => {
                before.push(format!("container {name}"));
                after.push(format!("no container {name}"));
            }
            (None, Some(_)) => {
                before.push(format!("no container {name}"));
                after.push(format!("container {name}"));
            }
            (None, None) => {}
        }
    }
    if before.is_empty() {
        let same = "the same images and env (other template fields differ)".to_owned();
        (same.clone(), same)
    } else {
        (before.join("; "), after.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn myapp() -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "myapp", "namespace": "staging", "generation": 4, "resourceVersion": "77",
                         "annotations": {"deployment.kubernetes.io/revision": "4"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "myapp"}},
                     "template": {"metadata": {"labels": {"app": "myapp"}},
                                  "spec": {"containers": [{"name": "myapp", "image": "reg/myapp:4d4d4d4",
                                                           "env": [{"name": "DEMO_GREETING", "value": "Hello"}]}]}}}
        }))
        .unwrap()
    }

    fn action(kind: &str, extra: serde_json::Value) -> DeploymentChange {
        let mut json = serde_json::json!({"kind": kind, "namespace": "staging", "deployment": "myapp"});
        json.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_plan_says_what_changes_and_keeps_the_version_read() {
        let p = plan(
            myapp(),
            &action(
                "set-env",
                serde_json::json!({"container": "myapp",
            "set": {"DEMO_GREETING": "Hi"}, "unset": ["GONE"]}),
            ),
            &[],
        )
        .unwrap();
        assert_eq!(p.before, "DEMO_GREETING=Hello, GONE unset");
        assert_eq!(p.after, "DEMO_GREETING=Hi, GONE unset");
        assert_eq!(p.version, "4");
        assert_eq!(p.deployment.metadata.resource_version.as_deref(), Some("77"));

        let p = plan(myapp(), &action("scale", serde_json::json!({"replicas": 5})), &[]).unwrap();
        assert_eq!((p.before.as_str(), p.after.as_str()), ("2 replica(s)", "5 replica(s)"));
        let e = plan(myapp(), &action("scale", serde_json::json!({"replicas": 2})), &[]).unwrap_err();
        assert!(e.contains("already has 2"), "{e}");
        let e = plan(
            myapp(),
            &action("deploy-image", serde_json::json!({"container": "web", "image": "x"})),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("no container \"web\" (its containers: myapp)"), "{e}");
        let p = plan(myapp(), &action("pause", serde_json::json!({})), &[]).unwrap();
        assert_eq!(p.deployment.spec.paused, Some(true));
    }

    #[test]
    fn a_rollback_shows_exactly_what_goes_back() {
        let old = myapp();
        let mut template = old.spec.template.clone();
        template.spec.as_mut().unwrap().containers[0].image = Some("reg/myapp:3c3c3c3".into());
        template.spec.as_mut().unwrap().containers[0].env = Some(vec![]);
        template
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(TEMPLATE_HASH_LABEL.into(), "abc".into());
        let three = Revision {
            number: 3,
            replica_set: "myapp-abc".into(),
            containers: vec![],
            created_ms: None,
            change_cause: None,
            replicas: 0,
            ready: 0,
            template_hash: Some("abc".into()),
            template: Some(template),
        };
        let p =
            plan(old, &action("rollback", serde_json::json!({"revision": 3})), std::slice::from_ref(&three))
                .unwrap();
        assert_eq!(p.before, "revision 4: myapp image reg/myapp:4d4d4d4; myapp DEMO_GREETING=Hello");
        assert_eq!(p.after, "revision 3: myapp image reg/myapp:3c3c3c3; myapp DEMO_GREETING unset");
        let labels = p.deployment.spec.template.metadata.unwrap().labels.unwrap();
        assert!(!labels.contains_key(TEMPLATE_HASH_LABEL));
        let e = plan(
            myapp(),
            &action("rollback", serde_json::json!({"revision": 4})),
            std::slice::from_ref(&three),
        )
        .unwrap_err();
        assert!(e.contains("live one"), "{e}");
        let e = plan(myapp(), &action("rollback", serde_json::json!({"revision": 2})), &[three]).unwrap_err();
        assert!(e.contains("kept revisions: 3"), "{e}");
    }
}
