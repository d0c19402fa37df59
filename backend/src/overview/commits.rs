//! The commits CodePipeline knows of: every source revision its recent executions carried,
//! with the message, author and time the source action read from the repository, and which
//! executions carried each. CodePipeline keeps no repository graph, so commits are ordered by
//! when they were authored (by when an execution first carried them where the source action
//! did not say).

use std::collections::BTreeMap;

use crate::config::Environment;
use crate::pipelines::read::{self, ActionRun, Execution};
use crate::pipelines::{PipelineError, Pipelines};

/// A commit as the overview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full hash where CodePipeline carried it; the image tag's short one otherwise.
    pub id: String,
    pub message: Option<String>,
    pub author: Option<String>,
    /// When it was authored.
    pub authored_ms: Option<i64>,
}

impl Commit {
    pub fn short(&self) -> &str {
        &self.id[..7.min(self.id.len())]
    }

    /// Whether `hash` (a tag's short hash or a full one) names this commit.
    pub fn is(&self, hash: &str) -> bool {
        let (a, b) = (self.id.to_ascii_lowercase(), hash.to_ascii_lowercase());
        hash.len() >= 7 && (a.starts_with(&b) || b.starts_with(&a))
    }
}

/// An execution that carried a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier {
    pub environment: String,
    pub pipeline: String,
    pub execution: String,
    pub status: String,
    pub started_ms: Option<i64>,
}

/// What one pipeline's recent history says: its executions and their action runs.
#[derive(Debug, Clone)]
pub struct PipelineHistory {
    pub environment: String,
    pub pipeline: String,
    /// Newest first.
    pub executions: Vec<Execution>,
    /// Newest first.
    pub runs: Vec<ActionRun>,
}

/// The recent history of every pipeline that rolls something out in `env` (its
/// `aws.deploys`): executions, a page of 100 at a time until one started before `since_ms`
/// (one page without it), and as many pages of action runs, `pages` of each at most. What
/// cannot be read is said in `problems`.
pub async fn histories(
    pipelines: &Pipelines,
    env: &Environment,
    since_ms: Option<i64>,
    pages: usize,
    problems: &mut Vec<String>,
) -> Vec<PipelineHistory> {
    let mut names: Vec<&str> = env.aws.deploys.iter().map(|d| d.pipeline.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    if names.is_empty() {
        return out;
    }
    let client = match pipelines.client(&env.name).await {
        Ok(client) => client,
        Err(e) => {
            problems.push(format!("{}: CodePipeline could not be reached: {e}", env.name));
            return out;
        }
    };
    for pipeline in names {
        let read = async {
            let mut executions: Vec<Execution> = Vec::new();
            let mut next: Option<String> = None;
            for _ in 0..pages {
                let page = read::history(&client, pipeline, 100, next.as_deref()).await?;
                executions.extend(page.executions);
                let old_enough = since_ms.is_none_or(|since| {
                    executions.last().and_then(|e| e.started_ms).is_some_and(|t| t < since)
                });
                match page.next {
                    Some(token) if !old_enough => next = Some(token),
                    _ => break,
                }
            }
            let runs = read::recent_actions(&client, pipeline, pages).await?;
            Ok::<_, PipelineError>((executions, runs))
        };
        match read.await {
            Ok((executions, runs)) => out.push(PipelineHistory {
                environment: env.name.clone(),
                pipeline: pipeline.to_owned(),
                executions,
                runs,
            }),
            Err(e) => {
                pipelines.saw(&env.name, &e);
                problems.push(format!("{}: the history of {pipeline} could not be read: {e}", env.name));
            }
        }
    }
    out
}

impl PipelineHistory {
    /// The manual approvals of `execution` that were answered, and by whom.
    pub fn approvers(&self, execution: &str) -> Vec<String> {
        let mut by: Vec<String> = self
            .runs
            .iter()
            .filter(|r| r.execution == execution && r.approval && r.status == "Succeeded")
            .filter_map(|r| r.updated_by.clone())
            .collect();
        by.dedup();
        by
    }

    /// When `stage` of `execution` last finished an action.
    pub fn stage_finished_ms(&self, execution: &str, stage: &str) -> Option<i64> {
        self.runs
            .iter()
            .filter(|r| r.execution == execution && r.stage == stage && r.status == "Succeeded")
            .filter_map(|r| r.updated_ms)
            .max()
    }
}

/// Every commit the histories name, oldest first, and the executions that carried each.
#[derive(Debug, Clone, Default)]
pub struct CommitLog {
    commits: Vec<Commit>,
    carriers: BTreeMap<String, Vec<Carrier>>,
}

impl CommitLog {
    pub fn of(histories: &[PipelineHistory]) -> Self {
        let mut found: BTreeMap<String, Commit> = BTreeMap::new();
        let mut first_carried: BTreeMap<String, i64> = BTreeMap::new();
        let mut carriers: BTreeMap<String, Vec<Carrier>> = BTreeMap::new();
        for h in histories {
            for run in h.runs.iter().filter(|r| r.commit.as_deref().is_some_and(|c| !c.is_empty())) {
                let id = run.commit.clone().unwrap_or_default().to_ascii_lowercase();
                let entry = found.entry(id.clone()).or_insert_with(|| Commit {
                    id,
                    message: None,
                    author: None,
                    authored_ms: None,
                });
                entry.message = entry.message.take().or_else(|| run.message.clone());
                entry.author = entry.author.take().or_else(|| run.author.clone());
                entry.authored_ms = entry.authored_ms.or(run.authored_ms);
            }
            for e in &h.executions {
                let Some(revision) = e.commit().filter(|r| !r.id.is_empty()) else { continue };
                let id = revision.id.to_ascii_lowercase();
                let entry = found.entry(id.clone()).or_insert_with(|| Commit {
                    id: id.clone(),
                    message: None,
                    author: None,
                    authored_ms: None,
                });
                entry.message = entry.message.take().or_else(|| revision.summary.clone());
                if let Some(started) = e.started_ms {
                    let first = first_carried.entry(id.clone()).or_insert(started);
                    *first = (*first).min(started);
                }
                carriers.entry(id).or_default().push(Carrier {
                    environment: h.environment.clone(),
                    pipeline: h.pipeline.clone(),
                    execution: e.id.clone(),
                    status: e.status.clone(),
                    started_ms: e.started_ms,
                });
            }
        }
        let mut commits: Vec<Commit> = found.into_values().collect();
        let when = |c: &Commit| c.authored_ms.or_else(|| first_carried.get(&c.id).copied());
        commits.sort_by(|a, b| when(a).cmp(&when(b)).then_with(|| a.id.cmp(&b.id)));
        for list in carriers.values_mut() {
            list.sort_by_key(|c| std::cmp::Reverse(c.started_ms));
        }
        Self { commits, carriers }
    }

    /// The commit `hash` names (a short or a full hash), if an execution carried it.
    pub fn find(&self, hash: &str) -> Option<&Commit> {
        let mut matching = self.commits.iter().filter(|c| c.is(hash));
        let found = matching.next()?;
        matching.next().is_none().then_some(found)
    }

    fn position(&self, hash: &str) -> Option<usize> {
        let found = self.find(hash)?;
        self.commits.iter().position(|c| c.id == found.id)
    }

    /// The executions that carried `commit`, newest first.
    pub fn carriers(&self, commit: &Commit) -> &[Carrier] {
        self.carriers.get(&commit.id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The commits from `from` (excluded) to `to` (included), newest first, and which way
    /// they go: `to` newer than `from` is [`Direction::Ahead`]. `None` when either commit is
    /// unknown to CodePipeline's recent history.
    pub fn between(&self, from: &str, to: &str) -> Option<(Direction, Vec<&Commit>)> {
        let (a, b) = (self.position(from)?, self.position(to)?);
        let (direction, range) = match a.cmp(&b) {
            std::cmp::Ordering::Equal => return Some((Direction::Same, Vec::new())),
            std::cmp::Ordering::Less => (Direction::Ahead, a + 1..b + 1),
            std::cmp::Ordering::Greater => (Direction::Behind, b + 1..a + 1),
        };
        Some((direction, self.commits[range].iter().rev().collect()))
    }
}

/// How one environment's commit stands to another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Same,
    /// It is newer: the commits between are what it has and the other lacks.
    Ahead,
    /// It is older: the commits between are what the other has and it lacks.
    Behind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::read::Revision;

    fn source(execution: &str, commit: &str, authored: i64) -> ActionRun {
        ActionRun {
            execution: execution.into(),
            stage: "Source".into(),
            action: "Source".into(),
            status: "Succeeded".into(),
            commit: Some(commit.into()),
            author: Some(format!("author of {commit}")),
            message: Some(format!("message of {commit}")),
            authored_ms: Some(authored),
            ..Default::default()
        }
    }

    fn execution(id: &str, commit: &str, started: i64, status: &str) -> Execution {
        Execution {
            id: id.into(),
            status: status.into(),
            status_summary: None,
            started_ms: Some(started),
            updated_ms: None,
            trigger: String::new(),
            kind: "STANDARD".into(),
            mode: None,
            revisions: vec![Revision {
                action: "Source".into(),
                id: commit.into(),
                summary: Some(format!("summary of {commit}")),
                url: None,
            }],
        }
    }

    fn hash(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    /// Staging carried a, b, c (c failed); production carried a; d was carried only by an
    /// execution whose source run fell off the listed page.
    fn log() -> CommitLog {
        let staging = PipelineHistory {
            environment: "staging".into(),
            pipeline: "app-staging".into(),
            executions: vec![
                execution("s3", &hash('c'), 300, "Failed"),
                execution("s2", &hash('b'), 200, "Succeeded"),
                execution("s1", &hash('a'), 100, "Succeeded"),
            ],
            runs: vec![
                source("s3", &hash('c'), 290),
                source("s2", &hash('b'), 190),
                source("s1", &hash('a'), 90),
            ],
        };
        let production = PipelineHistory {
            environment: "production".into(),
            pipeline: "app-production".into(),
            executions: vec![
                execution("p2", &hash('d'), 400, "InProgress"),
                execution("p1", &hash('a'), 150, "Succeeded"),
            ],
            runs: vec![source("p1", &hash('a'), 90)],
        };
        CommitLog::of(&[staging, production])
    }

    #[test]
    fn commits_between_two_environments_in_either_direction() {
        let log = log();
        let (direction, commits) = log.between("aaaaaaa", &hash('c')).unwrap();
        assert_eq!(direction, Direction::Ahead);
        let ids: Vec<&str> = commits.iter().map(|c| c.short()).collect();
        assert_eq!(ids, ["ccccccc", "bbbbbbb"], "newest first, the older end excluded");
        let (direction, commits) = log.between("ccccccc", "aaaaaaa").unwrap();
        assert_eq!((direction, commits.len()), (Direction::Behind, 2));
        assert_eq!(log.between("bbbbbbb", "bbbbbbb").unwrap(), (Direction::Same, Vec::new()));
        assert!(log.between("aaaaaaa", "eeeeeee").is_none(), "unknown to CodePipeline");
    }

    #[test]
    fn commit_facts_come_from_the_source_action_or_the_execution() {
        let log = log();
        let a = log.find("aaaaaaa").unwrap();
        assert_eq!(a.message.as_deref(), Some(&*format!("message of {}", hash('a'))));
        assert_eq!(a.author.as_deref(), Some(&*format!("author of {}", hash('a'))));
        let carried: Vec<&str> = log.carriers(a).iter().map(|c| c.execution.as_str()).collect();
        assert_eq!(carried, ["p1", "s1"], "both environments' executions, newest first");
        // d's source run is not listed: its message is the execution's revision summary and
        // it is ordered by when it was first carried (after c).
        let d = log.find(&hash('d')).unwrap();
        assert_eq!(
            (d.message.as_deref(), d.author.as_deref()),
            (Some(&*format!("summary of {}", hash('d'))), None)
        );
        assert_eq!(log.between("ccccccc", "ddddddd").unwrap().0, Direction::Ahead);
        assert!(log.find("aaaaaa").is_none(), "too short to be sure");
    }

    #[test]
    fn approvers_and_stage_times_of_an_execution() {
        let approval = ActionRun {
            execution: "p1".into(),
            stage: "Approval".into(),
            action: "ManualApproval".into(),
            status: "Succeeded".into(),
            updated_by: Some("avery".into()),
            approval: true,
            ..Default::default()
        };
        let rejected = ActionRun { execution: "p2".into(), status: "Failed".into(), ..approval.clone() };
        let deploy = ActionRun {
            execution: "p1".into(),
            stage: "Deploy".into(),
            action: "Deploy".into(),
            status: "Succeeded".into(),
            updated_ms: Some(500),
            ..Default::default()
        };
        let h = PipelineHistory {
            environment: "production".into(),
            pipeline: "app".into(),
            executions: Vec::new(),
            runs: vec![deploy, approval, rejected],
        };
        assert_eq!(h.approvers("p1"), ["avery"]);
        assert!(h.approvers("p2").is_empty(), "a rejection approves nothing");
        assert_eq!(h.stage_finished_ms("p1", "Deploy"), Some(500));
        assert_eq!(h.stage_finished_ms("p2", "Deploy"), None);
    }
}
