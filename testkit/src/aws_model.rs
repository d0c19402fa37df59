//! AWS's own service models, to check the sandbox's answers against: every member of an
//! output is one the operation's output shape has, of its type, with enum values from the
//! model, required members present; every error is one the operation (or every AWS JSON
//! service) declares, with its status code.
//!
//! The models are the ones the AWS SDKs are generated from, read from botocore (the AWS CLI's
//! library, which the test command installs) in its JSON form.

use std::process::Command;

use serde_json::{Map, Value};

/// Errors any operation of an AWS JSON service may answer, whatever its model lists.
const COMMON_ERRORS: [&str; 8] = [
    "AccessDeniedException",
    "ThrottlingException",
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// The models of the services the sandbox serves, known by their `X-Amz-Target` prefix.
pub struct Models {
    codepipeline: ServiceModel,
    ssm: ServiceModel,
    sqs: ServiceModel,
    cloudwatch: ServiceModel,
}

impl Models {
    pub fn load() -> Self {
        Self {
            codepipeline: ServiceModel::load("codepipeline"),
            ssm: ServiceModel::load("ssm"),
            sqs: ServiceModel::load("sqs"),
            cloudwatch: ServiceModel::load("cloudwatch"),
        }
    }

    /// What is wrong with each answer, in words: `(target prefix, operation, status, body)`.
    pub fn check<'a>(
        &self,
        answers: impl IntoIterator<Item = (&'a str, &'a str, u16, &'a Value)>,
    ) -> Vec<String> {
        let mut problems: Vec<String> = answers
            .into_iter()
            .flat_map(|(service, operation, status, body)| match service {
                "CodePipeline_20150709" => self.codepipeline.check(operation, status, body),
                "AmazonSSM" => self.ssm.check(operation, status, body),
                "AmazonSQS" => self.sqs.check(operation, status, body),
                "GraniteServiceVersion20100801" => self.cloudwatch.check(operation, status, body),
                other => vec![format!("{other}: not a service the sandbox serves")],
            })
            .collect();
        problems.sort();
        problems.dedup();
        problems
    }
}

/// One service's model (`codepipeline`, `ssm`, `sqs`, `cloudwatch`).
pub struct ServiceModel {
    pub name: String,
    operations: Map<String, Value>,
    shapes: Map<String, Value>,
}

impl ServiceModel {
    /// botocore's model of `service`; fails the test, saying how to install it, without one.
    pub fn load(service: &str) -> Self {
        let script = format!(
            "import json, botocore.loaders as l; print(json.dumps(l.Loader().load_service_model({service:?}, 'service-2')))"
        );
        let output = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap_or_else(|e| panic!("python3 runs ({e})"));
        assert!(
            output.status.success(),
            "cannot read botocore's {service} model (install awscli: scripts/setup.sh does): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let model: Value = serde_json::from_slice(&output.stdout).expect("the model is JSON");
        let part = |name: &str| model[name].as_object().cloned().unwrap_or_default();
        Self { name: service.to_owned(), operations: part("operations"), shapes: part("shapes") }
    }

    /// What is wrong with this answer to `operation`, in words (nothing: an empty list).
    pub fn check(&self, operation: &str, status: u16, body: &Value) -> Vec<String> {
        let Some(op) = self.operations.get(operation) else {
            return vec![format!("{}: {operation} is not an operation of the model", self.name)];
        };
        let mut problems = Vec::new();
        if status == 200 {
            match op["output"]["shape"].as_str() {
                Some(shape) => self.value(shape, body, operation, &mut problems),
                None if body.as_object().is_some_and(Map::is_empty) => {}
                None => problems.push(format!("{operation}: has no output, answered {body}")),
            }
            return problems;
        }
        let kind = body["__type"].as_str().unwrap_or("");
        let declared = op["errors"].as_array().into_iter().flatten().filter_map(|e| e["shape"].as_str());
        let declared: Vec<&str> = declared.collect();
        if let Some(shape) =
            declared.iter().find(|name| **name == kind).and_then(|name| self.shapes.get(*name))
        {
            let expected = shape["error"]["httpStatusCode"].as_u64().unwrap_or(400);
            if u64::from(status) != expected {
                problems.push(format!("{operation}: {kind} with status {status}, the model says {expected}"));
            }
            let members = shape["members"].as_object();
            for key in body.as_object().into_iter().flat_map(Map::keys) {
                // The protocol's own keys: every AWS JSON error has a type and a message.
                let known = ["__type", "message", "Message"].contains(&key.as_str())
                    || members.is_some_and(|m| m.contains_key(key));
                if !known {
                    problems.push(format!("{operation}: {kind} has no member {key:?}"));
                }
            }
        } else if !COMMON_ERRORS.contains(&kind) {
            problems.push(format!("{operation}: answers {kind:?}, which it does not declare ({declared:?})"));
        }
        if body["message"].as_str().is_none_or(str::is_empty)
            && body["Message"].as_str().is_none_or(str::is_empty)
        {
            problems.push(format!("{operation}: {kind} without a message"));
        }
        problems
    }

    fn value(&self, shape_name: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
        let Some(shape) = self.shapes.get(shape_name) else {
            problems.push(format!("{at}: the model has no shape {shape_name}"));
            return;
        };
        let mut wrong = |what: &str| problems.push(format!("{at}: {what} (shape {shape_name}), got {value}"));
        match shape["type"].as_str().unwrap_or("") {
            "structure" => {
                let Some(object) = value.as_object() else { return wrong("not an object") };
                let members = shape["members"].as_object().cloned().unwrap_or_default();
                for required in shape["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if !object.contains_key(required) {
                        problems.push(format!("{at}: required {required} missing (shape {shape_name})"));
                    }
                }
                for (key, member) in object {
                    match members.get(key).and_then(|m| m["shape"].as_str()) {
                        Some(member_shape) => {
                            self.value(member_shape, member, &format!("{at}.{key}"), problems)
                        }
                        None => problems.push(format!("{at}: {key} is not a member of {shape_name}")),
                    }
                }
            }
            "list" => {
                let Some(items) = value.as_array() else { return wrong("not a list") };
                let item_shape = shape["member"]["shape"].as_str().unwrap_or("");
                for (i, item) in items.iter().enumerate() {
                    self.value(item_shape, item, &format!("{at}[{i}]"), problems);
                }
            }
            "map" => {
                let Some(entries) = value.as_object() else { return wrong("not a map") };
                let value_shape = shape["value"]["shape"].as_str().unwrap_or("");
                for (key, entry) in entries {
                    self.value(value_shape, entry, &format!("{at}[{key:?}]"), problems);
                }
            }
            "string" => match value.as_str() {
                None => wrong("not a string"),
                Some(text) => {
                    let allowed = shape["enum"].as_array();
                    if allowed.is_some_and(|values| !values.iter().any(|v| v == text)) {
                        wrong("not one of the enum's values");
                    }
                }
            },
            "integer" | "long" => {
                if value.as_i64().is_none() {
                    wrong("not an integer");
                }
            }
            "boolean" => {
                if !value.is_boolean() {
                    wrong("not a boolean");
                }
            }
            // JSON 1.1 sends timestamps as seconds since the epoch.
            "timestamp" | "double" | "float" => {
                if !value.is_number() {
                    wrong("not a number");
                }
            }
            "blob" => {
                if !value.is_string() {
                    wrong("not base64 text");
                }
            }
            other => wrong(&format!("a {other} the checker does not know")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The checker catches what it is for, on the real model.
    #[test]
    fn finds_what_is_wrong() {
        let model = ServiceModel::load("ssm");
        let good = json!({"Parameter": {"Name": "/a", "Type": "SecureString", "Value": "x", "Version": 1,
                                        "LastModifiedDate": 1.7e9, "DataType": "text"}});
        assert_eq!(model.check("GetParameter", 200, &good), Vec::<String>::new());
        let bad = json!({"Parameter": {"Name": 3, "Type": "Secret", "Extra": true}});
        let problems = model.check("GetParameter", 200, &bad).join("\n");
        for expected in ["Name: not a string", "Type: not one of the enum's values", "Extra is not a member"]
        {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        let missing = json!({"__type": "ParameterNotFound", "message": "no"});
        assert!(model.check("GetParameter", 400, &missing).is_empty());
        assert!(!model.check("GetParameter", 404, &missing).is_empty(), "wrong status");
        assert!(
            !model.check("GetParameter", 400, &json!({"__type": "NoSuchThing", "message": "x"})).is_empty()
        );
        assert!(!model.check("Frobnicate", 200, &json!({})).is_empty());
    }
}
