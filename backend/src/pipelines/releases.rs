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
                revisions: vec![Revision {
                    action: "Source".into(),
                    id: commit.into(),
                    summary: None,
                    url: None,
                }],
            },
        }
    }

    #[test]
    fn the_newest_execution_of_the_commit_before_the_revision() {
        let all = [
            release("e3", "0123456789abcdef0123456789abcdef01234567", 300),
            release("e2", "fedcba9876543210fedcba9876543210fedcba98", 200),
            release("e1", "0123456789abcdef0123456789abcdef01234567", 100),
        ];
        // A short tag matches the full hash; the redeploy at 300 came after the revision.
        assert_eq!(of_revision(&all, "0123456", Some(250)).map(|r| r.execution.id.as_str()), Some("e1"));
        assert_eq!(
            of_revision(&all, "0123456789ABCDEF", Some(350)).map(|r| r.execution.id.as_str()),
            Some("e3")
        );
        assert_eq!(of_revision(&all, "fedcba9", None).map(|r| r.execution.id.as_str()), Some("e2"));
        assert!(of_revision(&all, "aaaaaaa", Some(350)).is_none());
        assert!(of_revision(&all, "0123456", Some(50)).is_none());
    }
}
