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

/// The release that made a revision whose image is tagged `tag` and that was created at
/// `created_ms`: the newest execution of that commit that started before the revision existed.
pub fn of_revision<'a>(releases: &'a [Release], tag: &str, created_ms: Option<i64>) -> Option<&'a Release> {
    let tag = tag.to_ascii_lowercase();
    releases
        .iter()
        .filter(|r| {
            r.execution.commit().is_some_and(|c| {
                let id = c.id.to_ascii_lowercase();
                !id.is_empty() && (id.starts_with(&tag) || tag.starts_with(&id))
            })
        })
        .filter(|r| match (r.execution.started_ms, created_ms) {
            (Some(started), Some(created)) => started <= created,
            _ => true,
        })
        .max_by_key(|r| r.execution.started_ms)
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
