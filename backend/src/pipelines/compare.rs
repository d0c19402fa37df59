//! Two executions of one pipeline side by side (the Compare page): which commit and image
//! each carried, and what each action did, action by action in pipeline order, marking where
//! the two ran differently.

use aws_sdk_codepipeline::Client;

use super::ids::ExecutionId;
use super::read::{self, ActionRun, Execution};
use super::{PipelineError, Pipelines};

/// One execution as compared: what it was, what its actions did, the image its build pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    pub execution: Execution,
    pub runs: Vec<ActionRun>,
    pub image: Option<String>,
}

/// What one action did in one execution (its newest run, when it was retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: String,
    /// What it did, or why it failed.
    pub detail: Option<String>,
}

/// One action of the pipeline in both executions; `None` where an execution did not run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub stage: String,
    pub action: String,
    pub a: Option<Outcome>,
    pub b: Option<Outcome>,
    /// The two ran differently (one did not run it, or it ended otherwise).
    pub differs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub a: Compared,
    pub b: Compared,
    pub rows: Vec<Row>,
}

/// Reads executions `a` and `b` of `pipeline` in `environment` and compares them.
pub async fn compare(
    pipelines: &Pipelines,
    environment: &str,
    pipeline: &str,
    a: &ExecutionId,
    b: &ExecutionId,
) -> Result<Comparison, PipelineError> {
    let client = &pipelines.client(environment).await?;
    let stages = read::stage_names(client, pipeline).await?;
    let (a, b) = (read_one(client, pipeline, a).await?, read_one(client, pipeline, b).await?);
    let rows = rows(&stages, &a.runs, &b.runs);
    Ok(Comparison { a, b, rows })
}

async fn read_one(client: &Client, pipeline: &str, id: &ExecutionId) -> Result<Compared, PipelineError> {
    let runs = read::actions(client, pipeline, id).await?;
    let execution = read::execution_by_id(client, pipeline, id, &runs).await?;
    let image = runs.iter().find_map(|r| r.image.clone());
    Ok(Compared { execution, runs, image })
}

/// Every action either execution ran, stage by stage in pipeline order, with each side's
/// outcome. `runs_a` and `runs_b` are as AWS lists them: newest first.
pub fn rows(stages: &[String], runs_a: &[ActionRun], runs_b: &[ActionRun]) -> Vec<Row> {
    let mut rows = Vec::new();
    for stage in stages {
        let mut names: Vec<&str> = Vec::new();
        // Newest first as listed: reversed, each execution's runs come in pipeline order; a's
        // order first, then the actions only b ran (reversing the two lists joined would put
        // b's order first and an action only a ran after the ones they share).
        for r in runs_a.iter().rev().chain(runs_b.iter().rev()).filter(|r| &r.stage == stage) {
            if !names.contains(&r.action.as_str()) {
                names.push(&r.action);
            }
        }
        for action in names {
            let (a, b) = (newest(runs_a, stage, action), newest(runs_b, stage, action));
            let differs = a.as_ref().map(|o| &o.status) != b.as_ref().map(|o| &o.status);
            rows.push(Row { stage: stage.clone(), action: action.to_owned(), a, b, differs });
        }
    }
    rows
}

/// The newest run of an action (a retried action ran more than once).
fn newest(runs: &[ActionRun], stage: &str, action: &str) -> Option<Outcome> {
    runs.iter()
        .filter(|r| r.stage == stage && r.action == action)
        .max_by_key(|r| r.started_ms)
        .map(|r| Outcome { status: r.status.clone(), detail: r.error.clone().or_else(|| r.summary.clone()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stage: &str, action: &str, status: &str, started_ms: i64) -> ActionRun {
        ActionRun {
            stage: stage.into(),
            action: action.into(),
            status: status.into(),
            started_ms: Some(started_ms),
            summary: Some(format!("{action} at {started_ms}")),
            ..Default::default()
        }
    }

    fn stages() -> Vec<String> {
        ["Source", "Build", "Deploy"].map(String::from).to_vec()
    }

    #[test]
    fn actions_come_in_pipeline_order_and_differences_are_marked() {
        // Newest first, as AWS lists them.
        let a = [
            run("Deploy", "Kubectl", "Failed", 30),
            run("Build", "Image", "Succeeded", 20),
            run("Source", "Git", "Succeeded", 10),
        ];
        let b = [
            run("Deploy", "Kubectl", "Succeeded", 130),
            run("Build", "Image", "Succeeded", 120),
            run("Source", "Git", "Succeeded", 110),
        ];
        let rows = rows(&stages(), &a, &b);
        let order: Vec<_> = rows.iter().map(|r| (r.stage.as_str(), r.action.as_str(), r.differs)).collect();
        assert_eq!(order, [("Source", "Git", false), ("Build", "Image", false), ("Deploy", "Kubectl", true)]);
        assert_eq!(rows[2].a.as_ref().unwrap().status, "Failed");
    }

    #[test]
    fn a_retried_action_counts_by_its_newest_run() {
        let a = [run("Deploy", "Kubectl", "Succeeded", 40), run("Deploy", "Kubectl", "Failed", 30)];
        let b = [run("Deploy", "Kubectl", "Succeeded", 140)];
        let rows = rows(&stages(), &a, &b);
        assert_eq!(rows.len(), 1, "one row per action, however often it ran");
        assert_eq!(
            rows[0].a,
            Some(Outcome { status: "Succeeded".into(), detail: Some("Kubectl at 40".into()) })
        );
        assert!(!rows[0].differs);
    }

    #[test]
    fn an_action_only_one_execution_ran_differs() {
        let a = [run("Build", "Image", "Succeeded", 20), run("Build", "Lint", "Failed", 15)];
        let b = [run("Build", "Image", "Succeeded", 120)];
        let rows = rows(&stages(), &a, &b);
        let lint = rows.iter().find(|r| r.action == "Lint").unwrap();
        assert!(lint.differs && lint.b.is_none());
        assert_eq!(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["Lint", "Image"]);
        let failed = run("Build", "Lint", "Failed", 15);
        let detail = ActionRun { error: Some("exit 1".into()), ..failed };
        assert_eq!(
            rows_of(&detail)[0].a.as_ref().unwrap().detail.as_deref(),
            Some("exit 1"),
            "an error before the summary"
        );
    }

    fn rows_of(r: &ActionRun) -> Vec<Row> {
        rows(&stages(), std::slice::from_ref(r), &[])
    }
}
