//! Tags on parameters: AddTagsToResource, RemoveTagsFromResource, ListTagsForResource, and the
//! `Tags` PutParameter takes. Only `Parameter` resources exist in the sandbox.

use serde_json::{Value, json};

use super::super::{AwsError, Input};
use super::names::check_name;
use super::{Ssm, SsmError};

const MAX_TAGS: usize = 50;

/// The `Tags` of a request, checked against AWS's key and value limits.
pub fn parse(input: &Input) -> Result<Vec<(String, String)>, AwsError> {
    let mut tags = Vec::new();
    for tag in input.structures("Tags")? {
        let key = tag.required_str("Key")?;
        let value = tag.str("Value")?.unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(AwsError::constraint(
                "tags.member.key",
                key,
                "Member must have length between 1 and 128",
            ));
        }
        if value.chars().count() > 256 {
            return Err(AwsError::constraint(
                "tags.member.value",
                value,
                "Member must have length less than or equal to 256",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(AwsError::validation(format!("Tag keys can't start with \"aws:\": {key}")));
        }
        tags.retain(|(k, _): &(String, String)| k != key);
        tags.push((key.to_owned(), value.to_owned()));
    }
    if tags.len() > MAX_TAGS {
        return Err(SsmError::TooManyTags.into());
    }
    Ok(tags)
}

fn resource(input: &Input) -> Result<&str, AwsError> {
    let kind = input.required_str("ResourceType")?;
    let id = input.required_str("ResourceId")?;
    if kind != "Parameter" {
        return Err(SsmError::InvalidResourceType.into());
    }
    check_name(id).map_err(|_| SsmError::InvalidResourceId(id.to_owned()))?;
    Ok(id)
}

pub fn add(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let id = resource(input)?;
    let new = parse(input)?;
    if new.is_empty() {
        return Err(AwsError::constraint("tags", "[]", "Member must have length greater than or equal to 1"));
    }
    let mut parameters = ssm.lock();
    let parameter =
        parameters.by_name.get_mut(id).ok_or_else(|| SsmError::InvalidResourceId(id.to_owned()))?;
    let mut merged = parameter.tags.clone();
    for (key, value) in new {
        merged.retain(|(k, _)| *k != key);
        merged.push((key, value));
    }
    if merged.len() > MAX_TAGS {
        return Err(SsmError::TooManyTags.into());
    }
    parameter.tags = merged;
    Ok(json!({}))
}

pub fn remove(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let id = resource(input)?;
    let keys = input.strings("TagKeys")?.ok_or_else(|| super::super::input::missing("TagKeys"))?;
    let mut parameters = ssm.lock();
    let parameter =
        parameters.by_name.get_mut(id).ok_or_else(|| SsmError::InvalidResourceId(id.to_owned()))?;
    parameter.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    Ok(json!({}))
}

pub fn list(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let id = resource(input)?;
    let parameters = ssm.lock();
    let parameter = parameters.by_name.get(id).ok_or_else(|| SsmError::InvalidResourceId(id.to_owned()))?;
    let tags: Vec<Value> = parameter.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    Ok(json!({ "TagList": tags }))
}
