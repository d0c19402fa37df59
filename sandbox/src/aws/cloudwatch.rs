//! The simulated CloudWatch alarms (AWS JSON 1.0, `X-Amz-Target:
//! GraniteServiceVersion20100801.<Operation>`, one of the protocols CloudWatch speaks):
//! DescribeAlarms and SetAlarmState on the alarms the sandbox's stage conditions watch
//! (`CloudWatchAlarm` rules). Setting an alarm's state is how a demo, a test or a person fires
//! one and clears it; there are no metrics behind them.

use serde_json::{Value, json};

use super::codepipeline::Pipelines;
use super::codepipeline::conditions::Alarm;
use super::{AwsError, Caller, Input, Service, ids};

pub(crate) struct CloudWatch {
    pipelines: Pipelines,
}

impl CloudWatch {
    pub fn new(pipelines: Pipelines) -> Self {
        Self { pipelines }
    }
}

const STATES: [&str; 3] = ["OK", "ALARM", "INSUFFICIENT_DATA"];

fn arn(name: &str, caller: &Caller) -> String {
    format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", caller.region, ids::ACCOUNT)
}

fn state(input: &Input, field: &str) -> Result<Option<String>, AwsError> {
    match input.str(field)? {
        None => Ok(None),
        Some(s) if STATES.contains(&s) => Ok(Some(s.to_owned())),
        Some(other) => Err(AwsError::constraint(
            field,
            other,
            "Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]",
        )),
    }
}

fn alarm_json(name: &str, alarm: &Alarm, caller: &Caller) -> Value {
    json!({
        "AlarmName": name,
        "AlarmArn": arn(name, caller),
        "StateValue": alarm.state,
        "StateReason": alarm.reason,
        "StateUpdatedTimestamp": ids::epoch(alarm.updated),
        "StateTransitionedTimestamp": ids::epoch(alarm.updated),
        "ActionsEnabled": false,
    })
}

fn describe(pipelines: &Pipelines, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let names = input.strings("AlarmNames")?;
    let wanted = state(input, "StateValue")?;
    let prefix = input.str("AlarmNamePrefix")?;
    let alarms: Vec<Value> = pipelines
        .alarms()
        .iter()
        .filter(|(name, _)| names.as_ref().is_none_or(|n| n.contains(&name.as_str())))
        .filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p)))
        .filter(|(_, alarm)| wanted.as_ref().is_none_or(|w| *w == alarm.state))
        .map(|(name, alarm)| alarm_json(name, alarm, caller))
        .collect();
    Ok(json!({ "MetricAlarms": alarms, "CompositeAlarms": [] }))
}

fn set_state(pipelines: &Pipelines, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("AlarmName")?;
    let value = state(input, "StateValue")?.ok_or_else(|| super::input::missing("StateValue"))?;
    let reason = input.required_str("StateReason")?;
    if reason.chars().count() > 1023 {
        return Err(AwsError::constraint(
            "StateReason",
            "...",
            "Member must have length less than or equal to 1023",
        ));
    }
    if !pipelines.change_alarm(name, &value, reason) {
        return Err(AwsError::new(
            axum::http::StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("Alarm {name} does not exist"),
        ));
    }
    Ok(json!({}))
}

impl Service for CloudWatch {
    const TARGET_PREFIX: &'static str = "GraniteServiceVersion20100801";
    const IAM_PREFIX: &'static str = "cloudwatch";
    const CONTENT_TYPE: &'static str = "application/x-amz-json-1.0";

    fn resources(&self, operation: &str, input: &Input, caller: &Caller) -> Vec<String> {
        match operation {
            "SetAlarmState" => vec![arn(input.str("AlarmName").ok().flatten().unwrap_or(""), caller)],
            _ => vec!["*".to_owned()],
        }
    }

    fn call(&self, operation: &str, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
        match operation {
            "DescribeAlarms" => describe(&self.pipelines, input, caller),
            "SetAlarmState" => set_state(&self.pipelines, input),
            other => Err(AwsError::unknown_operation(&format!(
                "{other} is not an operation the sandbox's CloudWatch serves (DescribeAlarms, SetAlarmState)"
            ))),
        }
    }
}
