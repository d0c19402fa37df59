//! A request body, read field by field. A body that is not a JSON object is a
//! `SerializationException`; a field of the wrong JSON type too (that is what AWS's
//! deserializer says); a missing required field is a `ValidationException` in AWS's words.

use serde_json::{Map, Value};

use super::AwsError;

#[derive(Debug, Clone, Default)]
pub(crate) struct Input(Map<String, Value>);

impl Input {
    /// An empty body counts as `{}`, as AWS treats it.
    pub fn parse(body: &[u8]) -> Result<Self, AwsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(AwsError::serialization("the request body must be a JSON object")),
            Err(e) => Err(AwsError::serialization(format!("the request body is not valid JSON: {e}"))),
        }
    }

    pub fn from_value(value: &Value) -> Result<Self, AwsError> {
        match value {
            Value::Object(map) => Ok(Self(map.clone())),
            other => Err(AwsError::serialization(format!("expected a structure, found {other}"))),
        }
    }

    fn present(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub fn str(&self, field: &str) -> Result<Option<&str>, AwsError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    pub fn required_str(&self, field: &str) -> Result<&str, AwsError> {
        self.str(field)?.ok_or_else(|| missing(field))
    }

    pub fn bool(&self, field: &str) -> Result<Option<bool>, AwsError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(field, "a boolean")),
        }
    }

    pub fn int(&self, field: &str) -> Result<Option<i64>, AwsError> {
        match self.present(field) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| wrong_type(field, "an integer")),
        }
    }

    /// An integer field that must lie in `range` (AWS's `MaxResults` and friends).
    pub fn int_in(&self, field: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>, AwsError> {
        let Some(n) = self.int(field)? else { return Ok(None) };
        if n < *range.start() {
            return Err(AwsError::constraint(
                &lower_first(field),
                n,
                &format!("Member must have value greater than or equal to {}", range.start()),
            ));
        }
        if n > *range.end() {
            return Err(AwsError::constraint(
                &lower_first(field),
                n,
                &format!("Member must have value less than or equal to {}", range.end()),
            ));
        }
        Ok(Some(n))
    }

    pub fn list(&self, field: &str) -> Result<Option<&Vec<Value>>, AwsError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(field, "a list")),
        }
    }

    pub fn strings(&self, field: &str) -> Result<Option<Vec<&str>>, AwsError> {
        let Some(items) = self.list(field)? else { return Ok(None) };
        items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| wrong_type(field, "a list of strings")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A list of structures.
    pub fn structures(&self, field: &str) -> Result<Vec<Input>, AwsError> {
        let Some(items) = self.list(field)? else { return Ok(Vec::new()) };
        items.iter().map(Input::from_value).collect()
    }
}

impl Input {
    pub fn required_structure(&self, field: &str) -> Result<Input, AwsError> {
        self.present(field).map(Input::from_value).transpose()?.ok_or_else(|| missing(field))
    }

    /// A field as sent, for structures the service keeps as they are (a pipeline declaration).
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.present(field)
    }
}

/// AWS names fields in messages by their model name, which starts lowercase.
pub fn lower_first(field: &str) -> String {
    let mut chars = field.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn missing(field: &str) -> AwsError {
    AwsError::constraint(&lower_first(field), "null", "Member must not be null")
}

fn wrong_type(field: &str, expected: &str) -> AwsError {
    AwsError::serialization(format!("{field} must be {expected}"))
}
