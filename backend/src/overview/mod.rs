//! What runs where: every application across the environments, with the commit each runs
//! (read from the image it runs, so after a rollback it is the commit really running), who
//! released it and who approved, and the commits between two environments.
//!
//! An application is a deployment name: `myapp-deployment` in staging's namespace and in
//! production's is one application in two environments. The pipelines that roll it out (an
//! environment's `aws.deploys`) say which execution released a revision and which commits
//! exist.
//!
//! - [`commits`]: the commits CodePipeline's recent executions carried, and their order.

pub mod commits;

use std::collections::BTreeMap;
use std::sync::Arc;

use commits::{Carrier, Commit, CommitLog, Direction, PipelineHistory};

use crate::Portal;
use crate::changes::Change;
use crate::config::Environment;
use crate::image_ref;
use crate::kube::summary::Health;
use crate::kube::watch::{DeploymentState, Link};
use crate::pipelines::releases::{self, Release};

/// Pages of each pipeline's newest action runs read (100 each), beside its newest 100
/// executions.
const ACTION_PAGES: usize = 2;

/// One application in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub environment: String,
    pub namespace: String,
    pub deployment: String,
    pub health: Health,
    /// Its first container and that container's image.
    pub container: Option<String>,
    pub image: Option<String>,
    /// The commit its image is tagged with, with what CodePipeline knows of it.
    pub commit: Option<Commit>,
    /// When the running revision went live, as far as is known.
    pub since_ms: Option<i64>,
    pub released_by: Option<String>,
    pub approved_by: Vec<String>,
    /// How it got there: a Rollgate change or a pipeline execution.
    pub via: Option<Via>,
}

impl Cell {
    /// What is compared between environments: the commit, or the image where it has none.
    fn identity(&self) -> Option<String> {
        self.commit.as_ref().map(|c| c.id.clone()).or_else(|| self.image.clone())
    }

    fn same_as(&self, other: &Cell) -> bool {
        match (&self.commit, &other.commit) {
            (Some(a), Some(b)) => a.is(&b.id),
            _ => self.identity() == other.identity(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A Rollgate change request (its id and what it did).
    Change {
        id: String,
        what: String,
    },
    Execution {
        pipeline: String,
        execution: String,
    },
}

/// One application: a cell per environment (in the order asked for), `None` where it is not
/// deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub app: String,
    pub cells: Vec<Option<Cell>>,
    /// For each cell, whether it runs something else than the environment before it that
    /// has the application.
    pub differs: Vec<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub environments: Vec<String>,
    pub rows: Vec<Row>,
    /// What could not be read, in words (the rest is shown).
    pub problems: Vec<String>,
    pub log: CommitLog,
}

impl Overview {
    pub fn row(&self, app: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.app == app)
    }
}

/// Reads what runs where in `environments`.
pub async fn read(portal: &Portal, environments: &[&Environment]) -> Overview {
    let mut problems = Vec::new();
    let mut histories = Vec::new();
    for env in environments {
        histories.extend(commits::histories(&portal.pipelines, env, None, ACTION_PAGES, &mut problems).await);
    }
    let log = CommitLog::of(&histories);
    let mut apps: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
    for (i, env) in environments.iter().enumerate() {
        let watches: Vec<_> =
            env.namespaces.iter().map(|ns| (ns, portal.watches.namespace(&env.name, ns))).collect();
        for (namespace, watch) in watches {
            match watch.synced().await {
                Link::Live => {}
                Link::Connecting => {
                    problems.push(format!("{}/{namespace}: still connecting to the cluster", env.name))
                }
                Link::Reconnecting(why) => problems.push(format!("{}/{namespace}: {why}", env.name)),
            }
            for state in watch.snapshot() {
                let cell = cell(portal, env, &state, &histories, &log).await;
                let cells =
                    apps.entry(state.summary.name.clone()).or_insert_with(|| vec![None; environments.len()]);
                // Two namespaces of one environment with the same deployment: the first stays.
                if cells[i].is_none() {
                    cells[i] = Some(cell);
                }
            }
        }
    }
    let rows = apps
        .into_iter()
        .map(|(app, cells)| {
            let mut differs = Vec::with_capacity(cells.len());
            let mut before: Option<&Cell> = None;
            for cell in &cells {
                differs.push(match (before, cell) {
                    (Some(b), Some(c)) => !c.same_as(b),
                    _ => false,
                });
                before = cell.as_ref().or(before);
            }
            Row { app, cells, differs }
        })
        .collect();
    Overview { environments: environments.iter().map(|e| e.name.clone()).collect(), rows, problems, log }
}

async fn cell(
    portal: &Portal,
    env: &Environment,
    state: &Arc<DeploymentState>,
    histories: &[PipelineHistory],
    log: &CommitLog,
) -> Cell {
    let s = &state.summary;
    let image = s.containers.first().map(|c| c.image.clone());
    let tag =
        s.containers.iter().find_map(|c| image_ref::tag_of(&c.image).and_then(image_ref::commit_of_tag));
    let commit = tag.map(|t| {
        log.find(t).cloned().unwrap_or_else(|| Commit {
            id: t.to_ascii_lowercase(),
            message: None,
            author: None,
            authored_ms: None,
        })
    });
    let mut cell = Cell {
        environment: env.name.clone(),
        namespace: s.namespace.clone(),
        deployment: s.name.clone(),
        health: state.health.clone(),
        container: s.containers.first().map(|c| c.name.clone()),
        image,
        commit,
        since_ms: s.last_change_ms,
        released_by: None,
        approved_by: Vec::new(),
        via: None,
    };
    if let Some((by, id)) = &s.changed_by {
        // Made by a Rollgate change (a deploy, a rollback): its requester and approvers.
        cell.released_by = Some(by.clone());
        let request = portal.changes.get(id).await.ok().flatten();
        cell.approved_by = request
            .as_ref()
            .map(|r| r.decisions.iter().filter(|d| d.approved).map(|d| d.by.clone()).collect())
            .unwrap_or_default();
        let what = request.map(|r| r.action.describe()).unwrap_or_default();
        cell.via = Some(Via::Change { id: id.clone(), what });
        return cell;
    }
    let targets: Vec<_> = env.aws.deploys_of(&s.namespace, &s.name).collect();
    let releases: Vec<Release> = histories
        .iter()
        .filter(|h| h.environment == env.name && targets.iter().any(|t| t.pipeline == h.pipeline))
        .flat_map(|h| {
            h.executions.iter().map(|e| Release { pipeline: h.pipeline.clone(), execution: e.clone() })
        })
        .collect();
    let facts = releases::RevisionFacts {
        tag,
        change_cause: s.change_cause.as_deref(),
        created_ms: None,
        live: true,
    };
    if let Some(found) = releases::of_revision(&releases, facts) {
        let history = histories.iter().find(|h| h.environment == env.name && h.pipeline == found.pipeline);
        let execution = &found.execution.id;
        cell.released_by =
            match crate::pipelines::control::started_by(&portal.store, &env.name, execution).await {
                Ok(Some(by)) => Some(by),
                _ => Some(person(&found.execution.trigger)).filter(|t| !t.is_empty()),
            };
        if let Some(h) = history {
            cell.approved_by = h.approvers(execution).iter().map(|a| person(a)).collect();
            let stage = targets.iter().find(|t| t.pipeline == found.pipeline).map(|t| t.stage.as_str());
            cell.since_ms = stage.and_then(|st| h.stage_finished_ms(execution, st)).or(cell.since_ms);
        }
        cell.via = Some(Via::Execution { pipeline: found.pipeline.clone(), execution: execution.clone() });
    }
    cell
}

/// Who an AWS identity or a trigger names, in a few words: `dana.whitfield` for
/// `StartPipelineExecution (arn:aws:iam::1:user/dana.whitfield)` or an assumed role's session;
/// other triggers (a webhook, a schedule) as they are.
fn person(text: &str) -> String {
    let arn = text.find("arn:aws").map(|at| text[at..].trim_end_matches(')'));
    match arn.and_then(|a| a.rsplit_once('/')) {
        Some((kind, name))
            if (kind.contains(":user") || kind.contains(":assumed-role")) && !name.is_empty() =>
        {
            name.to_owned()
        }
        _ => text.to_owned(),
    }
}

/// Two environments' cells of one application side by side, and the commits between them.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub app: String,
    pub left: Cell,
    pub right: Cell,
    /// How the left's commit stands to the right's, and the commits between them (newest
    /// first) with the executions that carried each; `None` when CodePipeline's recent
    /// history does not know both commits.
    pub between: Option<Between>,
    /// The pipeline of the right environment that rolls the application out (a promotion
    /// releases the left's commit through it).
    pub right_pipeline: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Between {
    pub direction: Direction,
    pub commits: Vec<Carried>,
}

/// A commit and the executions that carried it.
#[derive(Debug, Clone)]
pub struct Carried {
    pub commit: Commit,
    pub carriers: Vec<Carrier>,
}

/// Why two environments cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    #[error("{app} does not run in {environment}")]
    NotDeployed { app: String, environment: String },
}

/// Compares application `app` in `left` and `right` (an overview read of those two).
pub fn compare(
    overview: &Overview,
    app: &str,
    left: &Environment,
    right: &Environment,
) -> Result<Comparison, CompareError> {
    let cell_of =
        |env: &Environment| {
            let at = overview.environments.iter().position(|e| *e == env.name);
            overview.row(app).zip(at).and_then(|(row, i)| row.cells.get(i).cloned().flatten()).ok_or_else(
                || CompareError::NotDeployed { app: app.to_owned(), environment: env.name.clone() },
            )
        };
    let (l, r) = (cell_of(left)?, cell_of(right)?);
    let between = match (&l.commit, &r.commit) {
        (Some(a), Some(b)) => overview.log.between(&b.id, &a.id).map(|(direction, commits)| Between {
            direction,
            commits: commits
                .into_iter()
                .map(|c| Carried { commit: c.clone(), carriers: overview.log.carriers(c).to_vec() })
                .collect(),
        }),
        _ => None,
    };
    let right_pipeline = right.aws.deploys_of(&r.namespace, &r.deployment).map(|d| d.pipeline.clone()).next();
    Ok(Comparison { app: app.to_owned(), left: l, right: r, between, right_pipeline })
}

#[cfg(test)]
mod tests {
    use super::person;

    #[test]
    fn people_named_by_aws_identities() {
        assert_eq!(
            person("StartPipelineExecution (arn:aws:iam::123456789012:user/dana.whitfield)"),
            "dana.whitfield"
        );
        assert_eq!(person("arn:aws:sts::123456789012:assumed-role/Deployers/lee"), "lee");
        assert_eq!(person("Webhook (github push)"), "Webhook (github push)");
        assert_eq!(person("arn:aws:iam::123456789012:role/"), "arn:aws:iam::123456789012:role/");
        assert_eq!(person("avery"), "avery");
    }
}
