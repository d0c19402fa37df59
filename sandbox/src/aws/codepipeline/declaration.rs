//! A pipeline declaration, read and checked: the stages and actions the engine runs, their
//! conditions and rules, the execution mode, the variables executions resolve. CreatePipeline
//! and the demo world both go through here, so a declaration the sandbox accepts is one it can
//! run.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Input};
use super::model::{
    ActionDecl, Behaviour, Check, ConditionDecl, ConditionResult, ExecutionMode, FailureDecl, Operator,
    Pipeline, RuleDecl, StageDecl, VariableDecl,
};
use super::{CpError, State};

fn invalid(message: impl Into<String>) -> CpError {
    CpError::InvalidStructure(message.into())
}

fn name_ok(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_'))
}

fn behaviour(category: &str, owner: &str, provider: &str) -> Option<Behaviour> {
    match (owner, category, provider) {
        ("AWS", "Source", "CodeCommit") => Some(Behaviour::Source),
        ("AWS", "Test", "CodeBuild") => Some(Behaviour::Test),
        ("AWS", "Build", "CodeBuild") => Some(Behaviour::Build),
        ("AWS", "Approval", "Manual") => Some(Behaviour::Approval),
        ("AWS", "Deploy", "EKS") => Some(Behaviour::Deploy),
        ("Custom", "Build" | "Test" | "Deploy" | "Invoke", _) => Some(Behaviour::Job),
        _ => None,
    }
}

/// Configuration keys each kind of action needs to run in the sandbox.
fn required_keys(behaviour: Behaviour) -> &'static [&'static str] {
    match behaviour {
        Behaviour::Source => &["RepositoryName", "BranchName"],
        Behaviour::Test => &["ProjectName"],
        Behaviour::Build => &["ProjectName"],
        Behaviour::Deploy => &["Namespace", "DeploymentName", "ContainerName"],
        Behaviour::Approval | Behaviour::Job => &[],
    }
}

fn action(value: &Value, stage: &str, first_stage: bool) -> Result<ActionDecl, CpError> {
    let name = value["name"].as_str().unwrap_or("");
    if !name_ok(name, 100) {
        return Err(invalid(format!("Stage {stage}: an action name must be 1 to 100 of A-Za-z0-9.@-_")));
    }
    let type_id = &value["actionTypeId"];
    let field = |f: &str| type_id[f].as_str().unwrap_or("");
    let (category, owner, provider) = (field("category"), field("owner"), field("provider"));
    if field("version").is_empty() {
        return Err(invalid(format!(
            "Action {name}: actionTypeId needs category, owner, provider and version"
        )));
    }
    let behaviour = behaviour(category, owner, provider).ok_or_else(|| {
        invalid(format!(
            "Action {name}: the sandbox does not run {owner}/{category}/{provider} actions; it runs CodeCommit sources, CodeBuild tests and builds, manual approvals, EKS deploys and custom actions"
        ))
    })?;
    if first_stage != (behaviour == Behaviour::Source) {
        return Err(invalid(format!(
            "Action {name}: source actions belong in the first stage, and only there"
        )));
    }
    let mut configuration = BTreeMap::new();
    if let Some(config) = value["configuration"].as_object() {
        for (key, v) in config {
            let v = v
                .as_str()
                .ok_or_else(|| invalid(format!("Action {name}: configuration values are strings")))?;
            configuration.insert(key.clone(), v.to_owned());
        }
    }
    for key in required_keys(behaviour) {
        if !configuration.contains_key(*key) {
            return Err(invalid(format!("Action {name}: the configuration key {key} is required")));
        }
    }
    let run_order = value["runOrder"].as_i64().unwrap_or(1);
    if !(1..=999).contains(&run_order) {
        return Err(invalid(format!("Action {name}: runOrder must be between 1 and 999")));
    }
    let namespace = value["namespace"].as_str().map(str::to_owned);
    let decl = ActionDecl {
        name: name.to_owned(),
        behaviour,
        type_id: type_id.clone(),
        run_order,
        configuration,
        namespace,
    };
    if behaviour == Behaviour::Build
        && decl.config("EnvironmentVariables").is_some_and(|vars| {
            serde_json::from_str::<Value>(vars).ok().and_then(|v| v.as_array().cloned()).is_none()
        })
    {
        return Err(invalid(format!(
            "Action {name}: EnvironmentVariables must be a JSON list of name/value objects"
        )));
    }
    Ok(decl)
}

fn string_map(value: &Value, what: &str) -> Result<BTreeMap<String, String>, CpError> {
    let mut out = BTreeMap::new();
    for (key, v) in value.as_object().into_iter().flatten() {
        let v = v.as_str().ok_or_else(|| invalid(format!("{what}: configuration values are strings")))?;
        out.insert(key.clone(), v.to_owned());
    }
    Ok(out)
}

fn rule(value: &Value, stage: &str) -> Result<RuleDecl, CpError> {
    let name = value["name"].as_str().unwrap_or("");
    if !name_ok(name, 100) {
        return Err(invalid(format!("Stage {stage}: a rule name must be 1 to 100 of A-Za-z0-9.@-_")));
    }
    let type_id = &value["ruleTypeId"];
    let field = |f: &str| type_id[f].as_str().unwrap_or("");
    if field("category") != "Rule" || field("owner") != "AWS" || field("version").is_empty() {
        return Err(invalid(format!(
            "Rule {name}: ruleTypeId needs category Rule, owner AWS, a provider and a version"
        )));
    }
    let configuration = string_map(&value["configuration"], &format!("Rule {name}"))?;
    let required = |key: &str| {
        configuration
            .get(key)
            .cloned()
            .ok_or_else(|| invalid(format!("Rule {name}: the configuration key {key} is required")))
    };
    let check = match field("provider") {
        "VariableCheck" => {
            let operator = match required("Operator")?.as_str() {
                "EQ" => Operator::Eq,
                "NE" => Operator::Ne,
                "CONTAINS" => Operator::Contains,
                "MATCHES" => Operator::Matches,
                other => {
                    return Err(invalid(format!(
                        "Rule {name}: Operator {other:?} is not one of EQ, NE, CONTAINS, MATCHES"
                    )));
                }
            };
            let value = required("Value")?;
            if operator == Operator::Matches && regex_lite::Regex::new(&value).is_err() {
                return Err(invalid(format!("Rule {name}: Value {value:?} is not a regular expression")));
            }
            Check::Variable { variable: required("Variable")?, operator, value }
        }
        "CloudWatchAlarm" => {
            let states: Vec<String> = match configuration.get("AlarmStates") {
                Some(states) => states.split(',').map(|s| s.trim().to_owned()).collect(),
                None => vec!["ALARM".to_owned()],
            };
            if let Some(bad) =
                states.iter().find(|s| !["ALARM", "OK", "INSUFFICIENT_DATA"].contains(&s.as_str()))
            {
                return Err(invalid(format!(
                    "Rule {name}: AlarmStates {bad:?} is not one of ALARM, OK, INSUFFICIENT_DATA"
                )));
            }
            let wait_minutes = match configuration.get("WaitTime") {
                None => 0,
                Some(minutes) => minutes.parse::<u32>().ok().filter(|m| *m <= 43_200).ok_or_else(|| {
                    invalid(format!("Rule {name}: WaitTime is a number of minutes, at most 43200"))
                })?,
            };
            Check::Alarm { alarm: required("AlarmName")?, states, wait_minutes }
        }
        other => {
            return Err(invalid(format!(
                "Rule {name}: the sandbox does not run {other} rules; it runs VariableCheck and CloudWatchAlarm rules"
            )));
        }
    };
    Ok(RuleDecl { name: name.to_owned(), check, type_id: type_id.clone(), configuration })
}

/// A stage's `beforeEntry` or `onSuccess`: one condition of one to five rules, whose result is
/// one of `allowed`.
fn condition(
    value: &Value,
    stage: &str,
    what: &str,
    allowed: &[ConditionResult],
) -> Result<Option<ConditionDecl>, CpError> {
    if value.is_null() {
        return Ok(None);
    }
    let conditions = value["conditions"].as_array().cloned().unwrap_or_default();
    let [condition] = conditions.as_slice() else {
        return Err(invalid(format!("Stage {stage}: {what} takes exactly one condition")));
    };
    let result = condition["result"].as_str().and_then(ConditionResult::parse);
    let result = result.filter(|r| allowed.contains(r)).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        invalid(format!("Stage {stage}: the result of {what} must be one of {}", names.join(", ")))
    })?;
    let rules = condition["rules"].as_array().cloned().unwrap_or_default();
    if !(1..=5).contains(&rules.len()) {
        return Err(invalid(format!("Stage {stage}: a condition has one to five rules")));
    }
    let rules = rules.iter().map(|r| rule(r, stage)).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ConditionDecl { result, rules }))
}

fn on_failure(value: &Value, stage: &str) -> Result<Option<FailureDecl>, CpError> {
    if value.is_null() {
        return Ok(None);
    }
    if value["conditions"].as_array().is_some_and(|c| !c.is_empty()) {
        return Err(invalid(format!(
            "Stage {stage}: the sandbox runs onFailure results (ROLLBACK, RETRY) without rules"
        )));
    }
    let result = value["result"].as_str().and_then(ConditionResult::parse);
    let result =
        result.filter(|r| matches!(r, ConditionResult::Rollback | ConditionResult::Retry)).ok_or_else(
            || invalid(format!("Stage {stage}: the result of onFailure must be ROLLBACK or RETRY")),
        )?;
    let retry_all = match value.pointer("/retryConfiguration/retryMode").and_then(Value::as_str) {
        None | Some("FAILED_ACTIONS") => false,
        Some("ALL_ACTIONS") => true,
        Some(other) => {
            return Err(invalid(format!(
                "Stage {stage}: retryMode {other:?} is not FAILED_ACTIONS or ALL_ACTIONS"
            )));
        }
    };
    Ok(Some(FailureDecl { result, retry_all }))
}

/// Reads a declaration into a pipeline with no executions, filling in what AWS fills in.
pub fn pipeline(mut declaration: Value, tags: Vec<(String, String)>) -> Result<Pipeline, CpError> {
    let name = declaration["name"].as_str().unwrap_or("").to_owned();
    if !name_ok(&name, 100) {
        return Err(CpError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'pipeline.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9.@\\-_]+"
        )));
    }
    if declaration["roleArn"].as_str().is_none_or(|r| !r.starts_with("arn:aws:iam::")) {
        return Err(CpError::Validation("pipeline.roleArn must be an IAM role ARN".into()));
    }
    let stage_values = declaration["stages"].as_array().cloned().unwrap_or_default();
    if stage_values.len() < 2 {
        return Err(invalid("A pipeline must have at least two stages"));
    }
    let mut stages: Vec<StageDecl> = Vec::new();
    for (i, stage) in stage_values.iter().enumerate() {
        let stage_name = stage["name"].as_str().unwrap_or("");
        if !name_ok(stage_name, 100) || stages.iter().any(|s| s.name == stage_name) {
            return Err(invalid(format!(
                "Stage names must be unique, 1 to 100 of A-Za-z0-9.@-_: {stage_name:?}"
            )));
        }
        let actions = stage["actions"].as_array().cloned().unwrap_or_default();
        if actions.is_empty() {
            return Err(invalid(format!("Stage {stage_name} has no actions")));
        }
        let actions = actions.iter().map(|a| action(a, stage_name, i == 0)).collect::<Result<Vec<_>, _>>()?;
        let before_entry = condition(
            &stage["beforeEntry"],
            stage_name,
            "beforeEntry",
            &[ConditionResult::Fail, ConditionResult::Skip],
        )?;
        let on_success = condition(
            &stage["onSuccess"],
            stage_name,
            "onSuccess",
            &[ConditionResult::Fail, ConditionResult::Rollback],
        )?;
        let on_failure = on_failure(&stage["onFailure"], stage_name)?;
        if i == 0 && (before_entry.is_some() || on_success.is_some() || on_failure.is_some()) {
            return Err(invalid("The source stage cannot have conditions"));
        }
        stages.push(StageDecl { name: stage_name.to_owned(), actions, before_entry, on_success, on_failure });
    }
    let mut variables = Vec::new();
    for v in declaration["variables"].as_array().cloned().unwrap_or_default() {
        let name = v["name"].as_str().unwrap_or("");
        if !name_ok(name, 128) {
            return Err(CpError::Validation(format!("Invalid pipeline variable name {name:?}")));
        }
        variables.push(VariableDecl {
            name: name.to_owned(),
            default: v["defaultValue"].as_str().map(str::to_owned),
        });
    }
    declaration["version"] = json!(1);
    if declaration["executionMode"].is_null() {
        declaration["executionMode"] = json!("SUPERSEDED");
    }
    if declaration["pipelineType"].is_null() {
        declaration["pipelineType"] = json!("V2");
    }
    let v2 = match declaration["pipelineType"].as_str() {
        Some("V2") => true,
        Some("V1") => false,
        _ => return Err(CpError::Validation("pipeline.pipelineType must be V1 or V2".into())),
    };
    let mode = declaration["executionMode"].as_str().and_then(ExecutionMode::parse).ok_or_else(|| {
        CpError::Validation(
            "1 validation error detected: Value at 'pipeline.executionMode' failed to satisfy constraint: Member must satisfy enum value set: [QUEUED, SUPERSEDED, PARALLEL]".into(),
        )
    })?;
    if !v2 && mode != ExecutionMode::Superseded {
        return Err(CpError::Validation(format!(
            "The execution mode {} is only available for V2 pipelines",
            mode.as_str()
        )));
    }
    let conditioned =
        stages.iter().any(|s| s.before_entry.is_some() || s.on_success.is_some() || s.on_failure.is_some());
    if !v2 && conditioned {
        return Err(invalid("Stage conditions are only available for V2 pipelines"));
    }
    let rolls_back = stages.iter().any(|s| {
        s.on_failure.as_ref().is_some_and(|f| f.result == ConditionResult::Rollback)
            || s.on_success.as_ref().is_some_and(|c| c.result == ConditionResult::Rollback)
    });
    if mode == ExecutionMode::Parallel && rolls_back {
        return Err(invalid("Rollback is not supported for pipelines in PARALLEL execution mode"));
    }
    let now = SystemTime::now();
    Ok(Pipeline {
        name,
        mode,
        declaration,
        stages,
        variables,
        created: now,
        updated: now,
        tags,
        disabled: BTreeMap::new(),
        executions: Vec::new(),
    })
}

pub fn create(state: &mut State, input: &Input) -> Result<Value, AwsError> {
    let declaration =
        input.value("pipeline").cloned().ok_or_else(|| super::super::input::missing("pipeline"))?;
    let mut tags = Vec::new();
    for tag in input.structures("tags")? {
        tags.push((tag.required_str("key")?.to_owned(), tag.required_str("value")?.to_owned()));
    }
    let pipeline = pipeline(declaration, tags)?;
    if state.pipelines.contains_key(&pipeline.name) {
        return Err(CpError::PipelineNameInUse(pipeline.name).into());
    }
    let out = json!({
        "pipeline": pipeline.declaration,
        "tags": pipeline.tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>(),
    });
    state.pipelines.insert(pipeline.name.clone(), pipeline);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::codepipeline::actions;

    fn action(category: &str, owner: &str, provider: &str, configuration: Value) -> Value {
        json!({
            "name": format!("{category}Action"),
            "actionTypeId": { "category": category, "owner": owner, "provider": provider, "version": "1" },
            "configuration": configuration,
        })
    }

    fn source() -> Value {
        action("Source", "AWS", "CodeCommit", json!({ "RepositoryName": "r", "BranchName": "main" }))
    }

    fn declaration(stages: Vec<Value>) -> Value {
        let stages: Vec<Value> = stages
            .into_iter()
            .enumerate()
            .map(|(i, a)| json!({ "name": format!("S{i}"), "actions": [a] }))
            .collect();
        json!({ "name": "p", "roleArn": "arn:aws:iam::123456789012:role/r", "stages": stages })
    }

    fn refused(stages: Vec<Value>) -> String {
        match pipeline(declaration(stages), Vec::new()) {
            Err(CpError::InvalidStructure(why)) => why,
            other => panic!("expected InvalidStructure, got {other:?}"),
        }
    }

    /// What the engine could not run is refused when the pipeline is declared.
    #[test]
    fn declarations_are_checked() {
        let build = |vars: &str| {
            action("Build", "AWS", "CodeBuild", json!({ "ProjectName": "b", "EnvironmentVariables": vars }))
        };
        let ok = pipeline(
            declaration(vec![source(), build(r#"[{"name":"IMAGE_REPO_NAME","value":"web"}]"#)]),
            Vec::new(),
        );
        let ok = ok.expect("a valid pipeline");
        assert_eq!(ok.declaration["executionMode"], "SUPERSEDED");
        assert_eq!(ok.stages[1].actions[0].behaviour, Behaviour::Build);
        assert!(refused(vec![source()]).contains("at least two stages"));
        assert!(refused(vec![source(), source()]).contains("first stage"));
        assert!(refused(vec![build("[]"), source()]).contains("first stage"));
        assert!(refused(vec![source(), build("{not json")]).contains("JSON list"));
        // Without IMAGE_REPO_NAME, as on AWS, the build's project names the image repository.
        let unnamed = pipeline(declaration(vec![source(), build("[]")]), Vec::new()).expect("valid");
        assert_eq!(actions::image_repository(&unnamed.stages[1].actions[0]), "b");
        assert!(refused(vec![source(), action("Deploy", "AWS", "ECS", json!({}))]).contains("does not run"));
        assert!(
            refused(vec![source(), action("Deploy", "AWS", "EKS", json!({ "Namespace": "x" }))])
                .contains("DeploymentName")
        );
        let mut bad_name = declaration(vec![source(), build("[]")]);
        bad_name["name"] = json!("no spaces");
        assert!(matches!(pipeline(bad_name, Vec::new()), Err(CpError::Validation(_))));
    }
}
