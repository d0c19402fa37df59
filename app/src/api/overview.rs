//! What runs where across the environments the visitor may see, and two environments
//! compared (with what a promotion from one to the other would release).

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::overview::{EnvironmentComparison, OverviewView};

/// Every application in every environment the visitor may see.
#[server]
pub async fn get_overview() -> Result<OverviewView, ApiError> {
    use super::guard;

    let portal = guard::portal()?;
    let caller = guard::signed_in()?;
    let environments = ssr::visible(&portal, &caller.user);
    let overview = backend::overview::read(&portal, &environments).await;
    Ok(OverviewView {
        environments: environments.iter().map(|e| super::ssr::summary(e)).collect(),
        rows: overview
            .rows
            .iter()
            .map(|r| crate::model::overview::AppRow {
                app: r.app.clone(),
                cells: r.cells.iter().map(|c| c.as_ref().map(ssr::cell)).collect(),
                differs: r.differs.clone(),
            })
            .collect(),
        problems: overview.problems,
    })
}

/// Application `app` in environment `left` and in `right`: the commits between them, the
/// executions that carried each, and how `left`'s commit would be promoted into `right`.
#[server]
pub async fn compare_environments(
    app: String,
    left: String,
    right: String,
) -> Result<EnvironmentComparison, ApiError> {
    use backend::overview::{self, CompareError};
    use backend::policy::Permission;

    use super::guard;
    use crate::model::overview::{CarriedCommit, CarrierView, Direction, Promote};

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &left, Permission::View)?;
    guard::authorize(&portal, &right, Permission::View)?;
    if left == right {
        return Err(guard::with_status(ApiError::Invalid(
            "Pick two different environments to compare.".into(),
        )));
    }
    let environment =
        |name: &str| portal.config.environment(name).ok_or_else(|| ApiError::NotFound(name.to_owned()));
    let (l, r) = (environment(&left)?, environment(&right)?);
    let read = overview::read(&portal, &[l, r]).await;
    let c = overview::compare(&read, &app, l, r).map_err(|e| {
        guard::with_status(match e {
            CompareError::NotDeployed { .. } => ApiError::NotFound(format!("{e}.")),
        })
    })?;
    let refused = backend::policy::authorize(&portal.config, &caller.user, &right, Permission::RequestChange)
        .err()
        .map(|d| d.to_string());
    let promote = match (&c.right_pipeline, &c.left.commit) {
        _ if refused.is_some() => None,
        (Some(pipeline), Some(commit)) => {
            Some(Promote::Pipeline { pipeline: pipeline.clone(), commit: commit.id.clone() })
        }
        (None, _) => match (&c.right.container, &c.left.image) {
            (Some(container), Some(image)) => Some(Promote::Image {
                namespace: c.right.namespace.clone(),
                deployment: c.right.deployment.clone(),
                container: container.clone(),
                image: image.clone(),
            }),
            _ => None,
        },
        (Some(_), None) => None,
    };
    Ok(EnvironmentComparison {
        app: c.app.clone(),
        left: super::ssr::summary(l),
        right: super::ssr::summary(r),
        left_cell: ssr::cell(&c.left),
        right_cell: ssr::cell(&c.right),
        direction: c.between.as_ref().map(|b| match b.direction {
            overview::commits::Direction::Same => Direction::Same,
            overview::commits::Direction::Ahead => Direction::Ahead,
            overview::commits::Direction::Behind => Direction::Behind,
        }),
        commits: c
            .between
            .iter()
            .flat_map(|b| &b.commits)
            .map(|carried| CarriedCommit {
                commit: ssr::commit(&carried.commit),
                carriers: carried
                    .carriers
                    .iter()
                    .map(|x| CarrierView {
                        environment: x.environment.clone(),
                        pipeline: x.pipeline.clone(),
                        execution: x.execution.clone(),
                        status: x.status.clone(),
                        started_ms: x.started_ms,
                    })
                    .collect(),
            })
            .collect(),
        promote,
        promote_refused: refused,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use backend::Portal;
    use backend::config::Environment;
    use backend::overview::{Cell, Via, commits::Commit};
    use backend::policy::Permission;

    use crate::model::overview::{self as model, CellView, CommitView};

    /// The environments `user` may view, in configured order.
    pub fn visible<'a>(portal: &'a Portal, user: &str) -> Vec<&'a Environment> {
        portal
            .config
            .environments
            .iter()
            .filter(|e| backend::policy::authorize(&portal.config, user, &e.name, Permission::View).is_ok())
            .collect()
    }

    pub fn commit(c: &Commit) -> CommitView {
        CommitView {
            id: c.id.clone(),
            short: c.short().to_owned(),
            message: c.message.clone(),
            author: c.author.clone(),
            authored_ms: c.authored_ms,
        }
    }

    pub fn cell(c: &Cell) -> CellView {
        CellView {
            environment: c.environment.clone(),
            namespace: c.namespace.clone(),
            deployment: c.deployment.clone(),
            health: super::super::deployments::ssr::health(&c.health),
            container: c.container.clone(),
            image: c.image.clone(),
            commit: c.commit.as_ref().map(commit),
            since_ms: c.since_ms,
            released_by: c.released_by.clone(),
            approved_by: c.approved_by.clone(),
            via: c.via.as_ref().map(|v| match v {
                Via::Change { id, what } => model::Via::Change { id: id.clone(), what: what.clone() },
                Via::Execution { pipeline, execution } => {
                    model::Via::Execution { pipeline: pipeline.clone(), execution: execution.clone() }
                }
            }),
        }
    }
}
