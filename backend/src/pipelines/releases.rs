//! Which pipeline execution put a deployment's revision there: the Deploy stages that roll the
//! deployment out (the environment's `aws.deploys`) are matched to the revision by the commit
//! its image is tagged with.

use super::read::{self, Execution};
use super::{PipelineError, Pipelines};
use crate::config::Environment;

/// Executions of each pipeline looked at (the newest).
const LOOK_BACK: i32 = 50;

/// An execution of a pipeline that rolls the deployment out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub pipeline: String,
    pub execution: Execution,
}

/// The newest executions of every pipeline with a stage that rolls out `namespace/deployment`,
/// newest first within each pipeline.
pub async fn recent(
    pipelines: &Pipelines,
    env: &Environment,
    namespace: &str,
    deployment: &str,
) -> Result<Vec<Release>, PipelineError> {
    let mut names: Vec<&str> =
        env.aws.deploys_of(namespace, deployment).map(|d| d.pipeline.as_str()).collect();
    names.dedup();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let client = pipelines.client(&env.name).await?;
    let mut out = Vec::new();
    for name in names {
        let history = read::history(&client, name, LOOK_BACK, None).await?;
        out.extend(
            history.executions.into_iter().map(|execution| Release { pipeline: name.to_owned(), execution }),
        );
    }
    Ok(out)
}

/// What is known of a deployment revision, to find the release that made it.
#[derive(Debug, Clone, Copy)]
pub struct RevisionFacts<'a> {
    /// The commit its image is tagged with.
    pub tag: Option<&'a str>,
    /// Its replica set's `kubernetes.io/change-cause` (a Deploy action names its execution).
    pub change_cause: Option<&'a str>,
    /// When its replica set was created (a rollback revives an old one, so this can be long
    /// before the revision went live again).
    pub created_ms: Option<i64>,
    pub live: bool,
}

/// The release that made a revision. Its change cause decides when it names an execution,
/// and rules the pipelines out when it names something else (a change made through Rollgate
/// or kubectl). Otherwise its commit: the newest execution of that commit — for a revision that
/// is no longer live, the newest that started before its replica set was created.
pub fn of_revision<'a>(releases: &'a [Release], r: RevisionFacts<'_>) -> Option<&'a Release> {
    if let Some(cause) = r.change_cause.filter(|c| !c.trim().is_empty()) {
        return releases.iter().find(|rel| !rel.execution.id.is_empty() && cause.contains(&rel.execution.id));
    }
    let tag = r.tag?.to_ascii_lowercase();
    releases
        .iter()
        .filter(|rel| {
            rel.execution.commit().is_some_and(|c| {
                let id = c.id.to_ascii_lowercase();
                !id.is_empty() && (id.starts_with(&tag) || tag.starts_with(&id))
            })
        })
        .filter(|rel| match (rel.execution.started_ms, r.created_ms, r.live) {
            (Some(started), Some(created), false) => started <= created,
            _ => true,
        })
        .max_by_key(|rel| rel.execution.started_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::read::Revision;

    fn release(id: &str, commit: &str, started_ms: i64) -> Release {
        Release {
            pipeline: "myapp".into(),
            execution: Execution {
                id: id.into(),
                status: "Succeeded".into(),
                status_summary: None,
                started_ms: Some(started_ms),
                updated_ms: None,
                trigger: String::new(),
                kind: "STANDARD".into(),
                mode: None,
                revisions: vec![Revision {
                    action: "Source".into(),
                    id: commit.into(),
                    summary: None,
                    url: None,
                }],
            },
        }
    }

    fn facts(tag: &str, created_ms: i64, live: bool) -> RevisionFacts<'_> {
        RevisionFacts { tag: Some(tag), change_cause: None, created_ms: Some(created_ms), live }
    }

    fn id(r: Option<&Release>) -> Option<&str> {
        r.map(|r| r.execution.id.as_str())
    }

    #[test]
    fn by_commit_the_newest_execution_that_could_have_made_it() {
        let all = [
            release("e3", "0123456789abcdef0123456789abcdef01234567", 300),
            release("e2", "fedcba9876543210fedcba9876543210fedcba98", 200),
            release("e1", "0123456789abcdef0123456789abcdef01234567", 100),
        ];
        // A short tag matches the full hash; the redeploy at 300 came after this old revision.
        assert_eq!(id(of_revision(&all, facts("0123456", 250, false))), Some("e1"));
        assert_eq!(id(of_revision(&all, facts("0123456789ABCDEF", 350, false))), Some("e3"));
        // Live again after a redeploy revived its old replica set (created at 150).
        assert_eq!(id(of_revision(&all, facts("0123456", 150, true))), Some("e3"));
        assert_eq!(id(of_revision(&all, facts("fedcba9", 250, false))), Some("e2"));
        assert!(of_revision(&all, facts("aaaaaaa", 350, true)).is_none());
        assert!(of_revision(&all, facts("0123456", 50, false)).is_none());
    }

    #[test]
    fn the_change_cause_decides_when_there_is_one() {
        let all = [
            release("8a1c-e3", "0123456789abcdef0123456789abcdef01234567", 300),
            release("8a1c-e1", "0123456789abcdef0123456789abcdef01234567", 100),
        ];
        let named = RevisionFacts {
            change_cause: Some("CodePipeline myapp execution 8a1c-e1: myapp:0123456"),
            ..facts("0123456", 150, true)
        };
        assert_eq!(id(of_revision(&all, named)), Some("8a1c-e1"));
        let rollgate =
            RevisionFacts { change_cause: Some("Rollgate change 42 by dana"), ..facts("0123456", 150, true) };
        assert!(of_revision(&all, rollgate).is_none(), "made by something else");
    }
}
