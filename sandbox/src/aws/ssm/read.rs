//! The reads: one parameter (by name, `name:version` or `name:label`), several, a hierarchy,
//! their metadata, and a parameter's history. Lists are paged with an opaque `NextToken` that
//! names where the next page starts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input};
use super::filters::{self, Request};
use super::names::{Selector, check_name, check_path, parse_selector};
use super::parameter::{self, Parameter};
use super::write::names_1_to_10;
use super::{Ssm, SsmError};

pub fn get(ssm: &Ssm, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let text = input.required_str("Name")?;
    let decrypt = input.bool("WithDecryption")?.unwrap_or(false);
    let (name, selector) = parse_selector(text)?;
    let parameters = ssm.lock();
    let parameter =
        parameters.by_name.get(name).ok_or_else(|| SsmError::ParameterNotFound(text.to_owned()))?;
    let version = parameter.select(&selector)?;
    let shown = ssm.parameter_json(parameter, version, &selector, decrypt, &caller.region)?;
    Ok(json!({ "Parameter": shown }))
}

pub fn get_many(ssm: &Ssm, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let names = names_1_to_10(input)?;
    let decrypt = input.bool("WithDecryption")?.unwrap_or(false);
    let parameters = ssm.lock();
    let (mut found, mut invalid) = (Vec::new(), Vec::new());
    let mut seen = Vec::new();
    for text in names {
        if seen.contains(&text) {
            continue;
        }
        seen.push(text);
        let Ok((name, selector)) = parse_selector(text) else {
            invalid.push(text);
            continue;
        };
        match parameters.by_name.get(name).map(|p| (p, p.select(&selector))) {
            Some((parameter, Ok(version))) => {
                found.push(ssm.parameter_json(parameter, version, &selector, decrypt, &caller.region)?)
            }
            _ => invalid.push(text),
        }
    }
    Ok(json!({ "Parameters": found, "InvalidParameters": invalid }))
}

fn next_token(input: &Input) -> Result<Option<String>, AwsError> {
    let Some(token) = input.str("NextToken")? else { return Ok(None) };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| SsmError::InvalidNextToken)?;
    String::from_utf8(bytes).map(Some).map_err(|_| SsmError::InvalidNextToken.into())
}

fn token_after(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(name)
}

/// One page of `matching` (in name order) after the token, and the token of the next page.
fn page<'a>(
    all: impl Iterator<Item = &'a Parameter>,
    after: Option<&str>,
    size: usize,
) -> (Vec<&'a Parameter>, Option<String>) {
    let mut rest = all.filter(|p| after.is_none_or(|a| p.name.as_str() > a));
    let items: Vec<&Parameter> = rest.by_ref().take(size).collect();
    let more = rest.next().is_some();
    let next = if more { items.last().map(|p| token_after(&p.name)) } else { None };
    (items, next)
}

pub fn by_path(ssm: &Ssm, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let path = check_path(input.required_str("Path")?)?;
    let recursive = input.bool("Recursive")?.unwrap_or(false);
    let decrypt = input.bool("WithDecryption")?.unwrap_or(false);
    let size = input.int_in("MaxResults", 1..=10)?.unwrap_or(10) as usize;
    let filters = filters::parse(input, Request::ByPath)?;
    let after = next_token(input)?;
    let parameters = ssm.lock();
    let in_path = |p: &&Parameter| {
        if recursive {
            (path == "/" && p.name.starts_with('/')) || p.name.starts_with(&format!("{path}/"))
        } else {
            filters::parent(&p.name) == Some(path.as_str())
        }
    };
    let matching = parameters.by_name.values().filter(in_path).filter(|p| filters::matches(&filters, p));
    let (items, next) = page(matching, after.as_deref(), size);
    let wanted_labels = filters::labels(&filters);
    let mut shown = Vec::new();
    for p in items {
        let version = match wanted_labels {
            Some(labels) => p.versions.iter().rev().find(|v| v.labels.iter().any(|l| labels.contains(l))),
            None => None,
        }
        .unwrap_or_else(|| p.latest());
        shown.push(ssm.parameter_json(p, version, &Selector::Latest, decrypt, &caller.region)?);
    }
    let mut out = json!({ "Parameters": shown });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

pub fn describe(ssm: &Ssm, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let size = input.int_in("MaxResults", 1..=50)?.unwrap_or(50) as usize;
    let filters = filters::parse(input, Request::Describe)?;
    let after = next_token(input)?;
    let parameters = ssm.lock();
    let matching = parameters.by_name.values().filter(|p| filters::matches(&filters, p));
    let (items, next) = page(matching, after.as_deref(), size);
    let shown: Vec<Value> = items.into_iter().map(|p| parameter::metadata_json(p, &caller.region)).collect();
    let mut out = json!({ "Parameters": shown });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

/// Every kept version, oldest first.
pub fn history(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("Name")?;
    let decrypt = input.bool("WithDecryption")?.unwrap_or(false);
    let size = input.int_in("MaxResults", 1..=50)?.unwrap_or(50) as usize;
    let after = match next_token(input)? {
        None => 0,
        Some(t) => {
            t.strip_prefix("v:").and_then(|n| n.parse::<u64>().ok()).ok_or(SsmError::InvalidNextToken)?
        }
    };
    check_name(name)?;
    let parameters = ssm.lock();
    let parameter =
        parameters.by_name.get(name).ok_or_else(|| SsmError::ParameterNotFound(name.to_owned()))?;
    let mut rest = parameter.versions.iter().filter(|v| v.number > after);
    let items: Vec<_> = rest.by_ref().take(size).collect();
    let next = if rest.next().is_some() {
        items.last().map(|v| URL_SAFE_NO_PAD.encode(format!("v:{}", v.number)))
    } else {
        None
    };
    let mut shown = Vec::new();
    for v in items {
        let value = ssm.shown_value(name, v, decrypt)?;
        shown.push(parameter::history_json(name, v, value));
    }
    let mut out = json!({ "Parameters": shown });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}
