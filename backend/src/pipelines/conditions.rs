//! CodePipeline V2's stage conditions: the kinds a stage has, and what each rule of an
//! execution's checks did (ListRuleExecutions). Overriding a condition changes what runs, so
//! it is a change request ([`super::change::PipelineChange::OverrideCondition`]).

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{ConditionType, RuleExecutionFilter};
use serde::{Deserialize, Serialize};

use super::PipelineError;
use super::read::millis;

/// When a stage checks its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionKind {
    /// Before an execution enters (its result: fail the execution, or skip the stage).
    BeforeEntry,
    /// When every action succeeded (its result: fail, or roll the stage back).
    OnSuccess,
    /// When the stage failed (its result: roll back, or retry).
    OnFailure,
}

impl ConditionKind {
    /// What people call it.
    pub fn words(self) -> &'static str {
        match self {
            Self::BeforeEntry => "entry condition",
            Self::OnSuccess => "success condition",
            Self::OnFailure => "failure condition",
        }
    }

    /// As forms and stored requests name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeEntry => "before-entry",
            Self::OnSuccess => "on-success",
            Self::OnFailure => "on-failure",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "before-entry" => Ok(Self::BeforeEntry),
            "on-success" => Ok(Self::OnSuccess),
            "on-failure" => Ok(Self::OnFailure),
            other => {
                Err(format!("{other:?} is not a stage condition (before-entry, on-success, on-failure)"))
            }
        }
    }

    /// What OverrideStageCondition takes: only entry and success conditions can be overridden.
    pub fn overridable(self) -> Option<ConditionType> {
        match self {
            Self::BeforeEntry => Some(ConditionType::BeforeEntry),
            Self::OnSuccess => Some(ConditionType::OnSuccess),
            Self::OnFailure => None,
        }
    }
}

/// What one rule of one execution's check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRun {
    pub stage: String,
    pub rule: String,
    /// The rule's provider: CloudWatchAlarm, VariableCheck, DeploymentWindow, …
    pub provider: String,
    pub status: String,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub started_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    /// What it checked: the alarm, the variable, the window (its resolved configuration).
    pub checked: Vec<(String, String)>,
    pub updated_by: Option<String>,
}

/// The rule runs of execution `id`, newest first (ListRuleExecutions, every page).
pub async fn rule_runs(client: &Client, pipeline: &str, id: &str) -> Result<Vec<RuleRun>, PipelineError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    // A bounded walk: an execution checks a handful of rules per stage.
    for _ in 0..10 {
        let page = client
            .list_rule_executions()
            .pipeline_name(pipeline)
            .filter(RuleExecutionFilter::builder().pipeline_execution_id(id).build())
            .set_next_token(next.take())
            .send()
            .await
            .map_err(PipelineError::from_sdk)?;
        out.extend(page.rule_execution_details().iter().map(|d| {
            let input = d.input();
            let result = d.output().and_then(|o| o.execution_result());
            let mut checked: Vec<(String, String)> = input
                .and_then(|i| i.resolved_configuration().or(i.configuration()))
                .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            checked.sort();
            RuleRun {
                stage: d.stage_name().unwrap_or("").to_owned(),
                rule: d.rule_name().unwrap_or("").to_owned(),
                provider: input
                    .and_then(|i| i.rule_type_id())
                    .map(|t| t.provider().to_owned())
                    .unwrap_or_default(),
                status: d.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                summary: result.and_then(|r| r.external_execution_summary()).map(str::to_owned),
                error: result
                    .and_then(|r| r.error_details())
                    .map(|e| format!("{}: {}", e.code().unwrap_or("Error"), e.message().unwrap_or(""))),
                started_ms: millis(d.start_time()),
                updated_ms: millis(d.last_update_time()),
                checked,
                updated_by: d.updated_by().map(str::to_owned),
            }
        }));
        match page.next_token() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::ConditionKind;

    #[test]
    fn kinds_round_trip_and_only_two_can_be_overridden() {
        for kind in [ConditionKind::BeforeEntry, ConditionKind::OnSuccess, ConditionKind::OnFailure] {
            assert_eq!(ConditionKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(ConditionKind::parse("BEFORE_ENTRY").is_err());
        assert!(ConditionKind::OnFailure.overridable().is_none());
        assert!(ConditionKind::BeforeEntry.overridable().is_some());
    }
}
