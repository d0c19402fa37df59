//! Stage conditions: checking one (its rules start together; it is met when every rule
//! succeeds and not met as soon as one fails), what GetPipelineState shows of each stage's
//! conditions, ListRuleExecutions, and OverrideStageCondition (a check in progress is let
//! through, as if met).
//!
//! The rules the sandbox runs: `VariableCheck` (a pipeline or action variable compared with a
//! value) and `CloudWatchAlarm` (met unless the alarm is in a watched state; while it is, the
//! rule waits up to `WaitTime` minutes for it to change). The alarms are the sandbox's
//! CloudWatch's ([`crate::aws::cloudwatch`]); a minute of `WaitTime` lasts
//! `PipelineTimings::rule_minute`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input, ids};
use super::control::stage_of;
use super::model::{
    Check, ConditionDecl, ConditionKind, ConditionRun, ConditionStatus, Execution, Operator, Pipeline,
    RuleDecl, RuleRun, RuleStatus, StageDecl,
};
use super::{CpError, PipelineTimings, State};

/// A CloudWatch alarm as the sandbox keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// ALARM, OK or INSUFFICIENT_DATA.
    pub state: String,
    pub reason: String,
    pub updated: SystemTime,
}

/// The sandbox's CloudWatch alarms, by name.
pub type Alarms = BTreeMap<String, Alarm>;

/// What rules reach while they run.
pub struct Context<'a> {
    pub now: SystemTime,
    pub timings: PipelineTimings,
    pub alarms: &'a Alarms,
}

/// `text` with every `#{namespace.name}` replaced: `variables` are the execution's pipeline
/// variables, any other namespace an action's output variables in this execution.
pub fn resolve(text: &str, stages: &[StageDecl], execution: &Execution) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("#{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("{text:?} has an unclosed #{{"))?;
        let reference = &after[..end];
        let (namespace, name) =
            reference.split_once('.').ok_or_else(|| format!("#{{{reference}}} names no namespace"))?;
        let value = if namespace == "variables" {
            execution.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        } else {
            execution.stages.iter().find_map(|run| {
                run.actions.iter().find_map(|a| {
                    let decl = &stages[run.stage].actions[a.action];
                    (decl.namespace.as_deref() == Some(namespace))
                        .then(|| a.output_variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
                        .flatten()
                })
            })
        };
        out.push_str(
            &value.ok_or_else(|| format!("#{{{reference}}} could not be resolved in this execution"))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn settle(rule: &mut RuleRun, now: SystemTime, outcome: Result<String, String>) {
    rule.updated = now;
    rule.until = None;
    match outcome {
        Ok(summary) => {
            rule.status = RuleStatus::Succeeded;
            rule.summary = Some(summary);
        }
        Err(why) => {
            rule.status = RuleStatus::Failed;
            rule.summary = Some(why.clone());
            rule.error = Some(("RuleFailed", why));
        }
    }
}

fn compare(variable: &str, resolved: &str, operator: Operator, value: &str) -> Result<String, String> {
    let (holds, words) = match operator {
        Operator::Eq => (resolved == value, "equals"),
        Operator::Ne => (resolved != value, "does not equal"),
        Operator::Contains => (resolved.contains(value), "contains"),
        Operator::Matches => (regex_lite::Regex::new(value).is_ok_and(|r| r.is_match(resolved)), "matches"),
    };
    let said = format!("{variable} is {resolved:?}");
    if holds {
        Ok(format!("{said}, which {words} {value:?}"))
    } else {
        Err(format!("{said}: it should be one that {words} {value:?}"))
    }
}

/// The alarm's state, and whether the rule waits on it.
fn alarm_state<'a>(alarms: &'a Alarms, alarm: &str, states: &[String]) -> Result<(&'a str, bool), String> {
    let state =
        &alarms.get(alarm).ok_or_else(|| format!("There is no CloudWatch alarm named {alarm}"))?.state;
    Ok((state, states.iter().any(|s| s == state)))
}

fn start_rule(
    decl: &RuleDecl,
    index: usize,
    stages: &[StageDecl],
    execution: &Execution,
    cx: &Context,
) -> RuleRun {
    let mut run = RuleRun {
        id: ids::uuid(),
        rule: index,
        status: RuleStatus::InProgress,
        started: cx.now,
        updated: cx.now,
        until: None,
        summary: None,
        error: None,
        resolved: decl.configuration.clone(),
        updated_by: None,
    };
    match &decl.check {
        Check::Variable { variable, operator, value } => {
            let outcome = resolve(variable, stages, execution).and_then(|resolved| {
                run.resolved.insert("Variable".into(), resolved.clone());
                compare(variable, &resolved, *operator, value)
            });
            settle(&mut run, cx.now, outcome);
        }
        Check::Alarm { alarm, states, wait_minutes } => match alarm_state(cx.alarms, alarm, states) {
            Err(why) => settle(&mut run, cx.now, Err(why)),
            Ok((state, false)) => settle(&mut run, cx.now, Ok(format!("Alarm {alarm} is {state}"))),
            Ok((state, true)) if *wait_minutes == 0 => {
                settle(&mut run, cx.now, Err(format!("Alarm {alarm} is {state}")))
            }
            Ok((state, true)) => {
                run.until = Some(cx.now + cx.timings.rule_minute * *wait_minutes);
                run.summary = Some(format!(
                    "Alarm {alarm} is {state}: waiting up to {wait_minutes} min for it to change"
                ));
            }
        },
    }
    run
}

/// Starts checking a condition of `stage` for `execution`.
pub fn start(
    decl: &ConditionDecl,
    stage: usize,
    kind: ConditionKind,
    sequence: u64,
    stages: &[StageDecl],
    execution: &Execution,
    cx: &Context,
) -> ConditionRun {
    let rules = decl.rules.iter().enumerate().map(|(i, r)| start_rule(r, i, stages, execution, cx)).collect();
    let mut run = ConditionRun {
        stage,
        kind,
        status: ConditionStatus::InProgress,
        summary: None,
        sequence,
        updated: cx.now,
        rules,
    };
    conclude(&mut run, decl, cx.now);
    run
}

/// Moves a check in progress along: its waiting rules look again.
pub fn poll(run: &mut ConditionRun, decl: &ConditionDecl, cx: &Context) {
    if run.status != ConditionStatus::InProgress {
        return;
    }
    for rule in run.rules.iter_mut().filter(|r| r.status == RuleStatus::InProgress) {
        let Check::Alarm { alarm, states, wait_minutes } = &decl.rules[rule.rule].check else { continue };
        match alarm_state(cx.alarms, alarm, states) {
            Err(why) => settle(rule, cx.now, Err(why)),
            Ok((state, false)) => settle(rule, cx.now, Ok(format!("Alarm {alarm} changed to {state}"))),
            Ok((state, true)) if rule.until.is_some_and(|t| cx.now >= t) => settle(
                rule,
                cx.now,
                Err(format!("Alarm {alarm} stayed {state} for the {wait_minutes} min the rule waits")),
            ),
            Ok(_) => {}
        }
    }
    conclude(run, decl, cx.now);
}

/// Met when every rule succeeded; not met as soon as one failed (the others are abandoned).
fn conclude(run: &mut ConditionRun, decl: &ConditionDecl, now: SystemTime) {
    if let Some(failed) = run.rules.iter().find(|r| r.status == RuleStatus::Failed) {
        let why = format!(
            "Rule {} failed: {}",
            decl.rules[failed.rule].name,
            failed.summary.clone().unwrap_or_default()
        );
        abandon_rules(run, now);
        run.status = ConditionStatus::Failed;
        run.summary = Some(why);
        run.updated = now;
    } else if run.rules.iter().all(|r| r.status == RuleStatus::Succeeded) {
        run.status = ConditionStatus::Succeeded;
        run.summary = Some("All rules succeeded".into());
        run.updated = now;
    }
}

fn abandon_rules(run: &mut ConditionRun, now: SystemTime) {
    for rule in run.rules.iter_mut().filter(|r| r.status == RuleStatus::InProgress) {
        rule.status = RuleStatus::Abandoned;
        rule.until = None;
        rule.updated = now;
    }
}

/// Ends a check in progress because its execution stopped or was superseded.
pub fn abandon(run: &mut ConditionRun, now: SystemTime) {
    if run.status == ConditionStatus::InProgress {
        abandon_rules(run, now);
        run.status = ConditionStatus::Abandoned;
        run.updated = now;
    }
}

fn state_key(kind: Option<ConditionKind>) -> &'static str {
    match kind {
        Some(ConditionKind::BeforeEntry) => "beforeEntryConditionState",
        Some(ConditionKind::OnSuccess) => "onSuccessConditionState",
        None => "onFailureConditionState",
    }
}

/// A stage's conditions as GetPipelineState shows them: each declared condition with its newest
/// check and each rule's newest run.
pub fn stage_state(pipeline: &Pipeline, stage: usize, out: &mut Value) {
    let decl = &pipeline.stages[stage];
    for kind in [ConditionKind::BeforeEntry, ConditionKind::OnSuccess] {
        let Some(condition) = decl.condition(kind) else { continue };
        let latest = pipeline.latest_condition(stage, kind).map(|(_, run)| run);
        let rules: Vec<Value> = condition
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let mut state = json!({ "ruleName": rule.name });
                if let Some(run) = latest.and_then(|c| c.rules.iter().find(|r| r.rule == i)) {
                    state["latestExecution"] = rule_execution(run);
                }
                state
            })
            .collect();
        let mut condition_state = json!({ "ruleStates": rules });
        let mut state = json!({ "conditionStates": [] });
        if let Some(run) = latest {
            let mut summary = json!({ "status": run.status.as_str() });
            if let Some(s) = &run.summary {
                summary["summary"] = json!(s);
            }
            state["latestExecution"] = summary.clone();
            summary["lastStatusChange"] = json!(ids::epoch(run.updated));
            condition_state["latestExecution"] = summary;
        }
        state["conditionStates"] = json!([condition_state]);
        out[state_key(Some(kind))] = state;
    }
    if decl.on_failure.is_some() {
        out[state_key(None)] = json!({ "conditionStates": [] });
    }
}

fn rule_execution(run: &RuleRun) -> Value {
    let mut out = json!({
        "ruleExecutionId": run.id,
        "status": run.status.as_str(),
        "lastStatusChange": ids::epoch(run.updated),
    });
    if let Some(summary) = &run.summary {
        out["summary"] = json!(summary);
    }
    if let Some(by) = &run.updated_by {
        out["lastUpdatedBy"] = json!(by);
    }
    if let Some((code, message)) = &run.error {
        out["errorDetails"] = json!({ "code": code, "message": message });
    }
    out
}

pub fn list_rule_executions(state: &State, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let pipeline = state.pipeline(name)?;
    let filter = input.value("filter");
    let only = filter.and_then(|f| {
        f["pipelineExecutionId"]
            .as_str()
            .or_else(|| f.pointer("/latestInPipelineExecution/pipelineExecutionId").and_then(Value::as_str))
    });
    if let Some(id) = only
        && pipeline.execution(id).is_none()
    {
        return Err(CpError::PipelineExecutionNotFound(id.to_owned(), name.to_owned()).into());
    }
    let mut runs: Vec<(&Execution, &ConditionRun, &RuleRun)> = pipeline
        .executions
        .iter()
        .filter(|e| only.is_none_or(|id| id == e.id))
        .flat_map(|e| e.conditions.iter().flat_map(move |c| c.rules.iter().map(move |r| (e, c, r))))
        .collect();
    runs.sort_by_key(|(_, c, r)| std::cmp::Reverse((r.started, c.sequence)));
    let items = runs
        .into_iter()
        .filter_map(|(execution, condition, run)| {
            // A run's condition is its stage's (declarations do not change after CreatePipeline).
            let decl = pipeline.stages[condition.stage].condition(condition.kind)?.rules.get(run.rule)?;
            let mut result = json!({});
            if let Some(summary) = &run.summary {
                result["externalExecutionSummary"] = json!(summary);
            }
            if let Some((code, message)) = &run.error {
                result["errorDetails"] = json!({ "code": code, "message": message });
            }
            let mut detail = json!({
                "pipelineExecutionId": execution.id,
                "ruleExecutionId": run.id,
                "pipelineVersion": 1,
                "stageName": pipeline.stages[condition.stage].name,
                "ruleName": decl.name,
                "startTime": ids::epoch(run.started),
                "lastUpdateTime": ids::epoch(run.updated),
                "status": run.status.as_str(),
                "input": {
                    "ruleTypeId": decl.type_id,
                    "configuration": decl.configuration,
                    "resolvedConfiguration": run.resolved,
                    "region": ids::DEFAULT_REGION,
                },
                "output": { "executionResult": result },
            });
            if let Some(by) = &run.updated_by {
                detail["updatedBy"] = json!(by);
            }
            Some((run.id.clone(), detail))
        })
        .collect();
    let (details, next) = super::read::page(items, input, 100, 100)?;
    Ok(super::read::with_token(json!({ "ruleExecutionDetails": details }), next))
}

pub fn override_condition(state: &mut State, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("pipelineName")?;
    let stage_name = input.required_str("stageName")?;
    let id = input.required_str("pipelineExecutionId")?;
    let kind = match input.required_str("conditionType")? {
        "BEFORE_ENTRY" => ConditionKind::BeforeEntry,
        "ON_SUCCESS" => ConditionKind::OnSuccess,
        other => {
            return Err(AwsError::constraint(
                "conditionType",
                other,
                "Member must satisfy enum value set: [BEFORE_ENTRY, ON_SUCCESS]",
            ));
        }
    };
    if !ids::is_uuid(id) {
        return Err(AwsError::constraint(
            "pipelineExecutionId",
            id,
            "Member must satisfy regular expression pattern: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ));
    }
    let pipeline = state.pipeline_mut(name)?;
    let stage = stage_of(pipeline, stage_name)?;
    let what = kind.as_str();
    if pipeline.stages[stage].condition(kind).is_none() {
        return Err(CpError::ConditionNotOverridable(format!(
            "Stage {stage_name} has no {what} condition to override"
        ))
        .into());
    }
    let latest = pipeline.latest_condition(stage, kind).map(|(e, _)| e.id.clone());
    let execution = pipeline
        .execution_mut(id)
        .ok_or_else(|| CpError::PipelineExecutionNotFound(id.to_owned(), name.to_owned()))?;
    let running = execution.status.running();
    let Some(checked) = execution.condition_mut(stage, kind) else {
        return Err(CpError::ConditionNotOverridable(format!(
            "Execution {id} has not reached the {what} condition of stage {stage_name}"
        ))
        .into());
    };
    if latest.as_deref() != Some(id) {
        return Err(CpError::NotLatestExecution(format!(
            "Execution {id} is not the latest execution checked by the {what} condition of stage {stage_name}"
        ))
        .into());
    }
    if checked.status != ConditionStatus::InProgress || !running {
        return Err(CpError::ConditionNotOverridable(format!(
            "The {what} condition of stage {stage_name} is {} for execution {id}: only a condition being checked can be overridden",
            checked.status.as_str()
        ))
        .into());
    }
    let now = SystemTime::now();
    abandon_rules(checked, now);
    for rule in checked.rules.iter_mut().filter(|r| r.status == RuleStatus::Abandoned) {
        rule.updated_by = Some(caller.arn());
    }
    checked.status = ConditionStatus::Overridden;
    checked.summary = Some(format!("Overridden by {}", caller.arn()));
    checked.updated = now;
    execution.updated = now;
    Ok(json!({}))
}
