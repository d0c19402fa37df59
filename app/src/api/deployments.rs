//! Deployments: the list, one deployment in detail, and what a rollback would change.
//! Changes to a deployment are asked for through [`super::changes::request_change`], so they
//! pass the same roles, locks, four-eyes rules and audit as every other change.

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::deployment_query::{HealthFilter, Order};
use crate::model::{DeploymentDetail, DeploymentList, PreviewView};

/// The deployments of the environment's namespaces a query ([`DeploymentQuery`]: `text`,
/// `health`, `order`, flat so a plain form can send them) selects, from the shared watches:
/// the first rows in its order, and the counts.
///
/// [`DeploymentQuery`]: crate::model::deployment_query::DeploymentQuery
#[server]
pub async fn list_deployments(
    env: String,
    text: String,
    health: HealthFilter,
    order: Order,
) -> Result<DeploymentList, ApiError> {
    use crate::model::deployment_query::{DeploymentQuery, FIRST_ROWS};
    use backend::kube::watch::Link;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let namespaces = ssr::namespaces(&portal, &env)?;
    // Start every namespace's watch before waiting on any, so they sync side by side.
    let watches: Vec<_> = namespaces.iter().map(|ns| (ns, portal.watches.namespace(&env, ns))).collect();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (namespace, watch) in watches {
        match watch.synced().await {
            Link::Live => {}
            Link::Connecting => {
                problems.push((namespace.clone(), "still connecting to the cluster".to_owned()))
            }
            Link::Reconnecting(why) => problems.push((namespace.clone(), why)),
        }
        rows.extend(watch.snapshot().iter().map(|d| ssr::row(d)));
    }
    let selected = DeploymentQuery { text, health, order }.select(&rows);
    Ok(DeploymentList {
        matched: selected.len(),
        total: rows.len(),
        rows: selected.into_iter().take(FIRST_ROWS).cloned().collect(),
        problems,
    })
}

/// One deployment: its live state, containers, revisions, conditions, events and the latest
/// change requests for it.
#[server]
pub async fn get_deployment(
    env: String,
    namespace: String,
    name: String,
) -> Result<DeploymentDetail, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::View)?;
    ssr::check_namespace(&portal, &env, &namespace)?;
    ssr::check_name(&name)?;
    ssr::detail(&portal, &caller.user, &env, &namespace, &name).await
}

/// What rolling `name` back to `revision` would change, read from the cluster now.
#[server]
pub async fn preview_rollback(
    env: String,
    namespace: String,
    name: String,
    revision: u32,
) -> Result<PreviewView, ApiError> {
    use backend::kube::change::DeploymentChange;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    ssr::check_namespace(&portal, &env, &namespace)?;
    let deployment = ssr::check_name(&name)?;
    let namespace = backend::kube::names::Namespace::parse(&namespace)
        .map_err(|e| guard::with_status(ApiError::Invalid(format!("{e}."))))?;
    let action = DeploymentChange::Rollback { namespace, deployment, revision }.into();
    let preview = portal.changes.preview(&env, &action).await.map_err(super::changes::ssr::error)?;
    Ok(PreviewView {
        before: preview.before,
        after: preview.after,
        retires: preview.retires.iter().map(ToString::to_string).collect(),
        generation: preview.version.parse().unwrap_or_default(),
    })
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! From the backend's Kubernetes types to the page model; the live stream uses it too.

    use backend::Portal;
    use backend::clock::Timestamp;
    use backend::image_ref;
    use backend::kube::history::Revision;
    use backend::kube::names::DeploymentName;
    use backend::kube::summary::{self, ContainerImage, DeploymentSummary, PodSummary};
    use backend::kube::watch::DeploymentState;
    use backend::kube::{ClusterError, detail};
    use backend::pipelines::releases::{self, Release};

    use super::super::guard;
    use crate::error::ApiError;
    use crate::model::{
        ConditionView, ContainerView, DeploymentDetail, DeploymentLive, DeploymentRow, EventView, Health,
        ImageView, PodView, ReleaseView, RevisionView,
    };

    /// How many change requests the detail page shows.
    const RECENT: i64 = 20;

    pub fn namespaces(portal: &Portal, env: &str) -> Result<Vec<String>, ApiError> {
        portal
            .config
            .environment(env)
            .map(|e| e.namespaces.clone())
            .ok_or_else(|| guard::with_status(ApiError::NotFound(format!("There is no environment {env}."))))
    }

    /// A deployment name as Kubernetes allows it, before it reaches the cluster client.
    pub fn check_name(name: &str) -> Result<DeploymentName, ApiError> {
        DeploymentName::parse(name).map_err(|e| guard::with_status(ApiError::Invalid(format!("{e}."))))
    }

    pub fn check_namespace(portal: &Portal, env: &str, namespace: &str) -> Result<(), ApiError> {
        let known = namespaces(portal, env)?;
        if known.iter().any(|n| n == namespace) {
            Ok(())
        } else {
            Err(guard::with_status(ApiError::NotFound(format!(
                "{namespace:?} is not one of {env}'s namespaces ({}).",
                known.join(", ")
            ))))
        }
    }

    pub fn cluster_error(portal: &Portal, env: &str, e: ClusterError) -> ApiError {
        portal.clusters.saw(env, &e);
        guard::with_status(match e {
            ClusterError::NotFound(m) => ApiError::NotFound(m),
            ClusterError::Conflict(m) => ApiError::Refused(m),
            ClusterError::Invalid(_) => ApiError::Invalid(e.to_string()),
            other => ApiError::Upstream(other.to_string()),
        })
    }

    /// The execution that released revision `r` (see [`releases::of_revision`]).
    fn release(releases: &[Release], r: &Revision, live: bool) -> Option<ReleaseView> {
        let facts = releases::RevisionFacts {
            tag: r
                .containers
                .iter()
                .find_map(|c| image_ref::tag_of(&c.image).and_then(image_ref::commit_of_tag)),
            change_cause: r.change_cause.as_deref(),
            created_ms: r.created_ms,
            live,
        };
        let found = releases::of_revision(releases, facts)?;
        let commit = found.execution.commit()?;
        Some(ReleaseView {
            pipeline: found.pipeline.clone(),
            execution: found.execution.id.clone(),
            status: found.execution.status.clone(),
            commit: commit.id.chars().take(7).collect(),
            message: commit.summary.clone(),
        })
    }

    pub fn image(c: &ContainerImage) -> ImageView {
        let commit = image_ref::tag_of(&c.image)
            .and_then(image_ref::commit_of_tag)
            .map(|h| h.chars().take(7).collect());
        ImageView { container: c.name.clone(), image: c.image.clone(), commit }
    }

    pub fn health(h: &summary::Health) -> Health {
        match h {
            summary::Health::Complete => Health::Complete,
            summary::Health::Progressing => Health::Progressing,
            summary::Health::Paused => Health::Paused,
            summary::Health::Degraded(why) => Health::Degraded(why.clone()),
        }
    }

    pub fn row(d: &DeploymentState) -> DeploymentRow {
        let s: &DeploymentSummary = &d.summary;
        DeploymentRow {
            namespace: s.namespace.clone(),
            name: s.name.clone(),
            images: s.containers.iter().map(image).collect(),
            desired: s.desired,
            current: s.current,
            updated: s.updated,
            ready: s.ready,
            available: s.available,
            health: health(&d.health),
            generation: s.generation,
            revision: s.revision.clone(),
            strategy: s.strategy.clone(),
            last_change_ms: s.last_change_ms,
            changed_by: s.changed_by.as_ref().map(|(by, _)| by.clone()),
        }
    }

    pub fn pod(p: &PodSummary) -> PodView {
        PodView {
            name: p.name.clone(),
            phase: p.phase.clone(),
            ready: format!("{}/{}", p.ready_containers, p.containers),
            restarts: p.restarts,
            reason: p.reason.clone(),
            node: p.node.clone(),
            started_ms: p.started_ms,
            template_hash: p.template_hash.clone(),
        }
    }

    pub fn live(d: &DeploymentState) -> DeploymentLive {
        DeploymentLive { row: row(d), pods: d.pods.iter().map(pod).collect(), html: None }
    }

    pub async fn detail(
        portal: &Portal,
        user: &str,
        env: &str,
        namespace: &str,
        name: &str,
    ) -> Result<DeploymentDetail, ApiError> {
        let facts = detail::read(&portal.clusters, &portal.watches, env, namespace, name)
            .await
            .map_err(|e| cluster_error(portal, env, e))?;
        let live_revision = facts.state.summary.revision.clone();
        let (releases, releases_problem) = match portal.config.environment(env) {
            Some(e) => match releases::recent(&portal.pipelines, e, namespace, name).await {
                Ok(found) => (found, None),
                Err(e) => {
                    (Vec::new(), Some(format!("Which execution released each revision is unknown: {e}")))
                }
            },
            None => (Vec::new(), None),
        };
        let target = format!("{namespace}/{name}");
        let changes = portal
            .changes
            .for_target(env, &target, RECENT, Timestamp::now())
            .await
            .map_err(super::super::changes::ssr::error)?
            .into_iter()
            .map(|r| super::super::changes::ssr::view(portal, user, r))
            .collect();
        Ok(DeploymentDetail {
            containers: facts
                .containers
                .into_iter()
                .map(|c| ContainerView { name: c.name, image: c.image, env: c.env })
                .collect(),
            revisions: facts
                .revisions
                .iter()
                .map(|r| RevisionView {
                    number: r.number,
                    replica_set: r.replica_set.clone(),
                    images: r.containers.iter().map(image).collect(),
                    created_ms: r.created_ms,
                    replicas: r.replicas,
                    ready: r.ready,
                    live: live_revision.as_deref() == Some(r.number.to_string().as_str()),
                    release: release(
                        &releases,
                        r,
                        live_revision.as_deref() == Some(r.number.to_string().as_str()),
                    ),
                })
                .collect(),
            releases_problem,
            conditions: facts
                .conditions
                .into_iter()
                .map(|c| ConditionView {
                    kind: c.kind,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                })
                .collect(),
            events: facts
                .events
                .into_iter()
                .map(|e| EventView {
                    kind: e.kind,
                    reason: e.reason,
                    message: e.message,
                    object: e.object,
                    count: e.count,
                    last_ms: e.last_ms,
                })
                .collect(),
            paused: facts.state.summary.paused,
            live: live(&facts.state),
            changes,
        })
    }
}
