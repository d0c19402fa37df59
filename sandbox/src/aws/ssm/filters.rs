//! The filters DescribeParameters and GetParametersByPath take: the old `Filters` (Name, Type,
//! KeyId; values compared for equality) and `ParameterFilters` (keys, options and values,
//! including `tag:<key>`), each checked with AWS's error names before anything is read.

use super::super::{AwsError, Input};
use super::SsmError;
use super::names::check_path;
use super::parameter::Parameter;

/// A filter key; `KeyId` is AWS's name for the KMS key filter, hence the repetition.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Name,
    Path,
    Type,
    KeyId,
    Tier,
    Label,
    DataType,
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Match {
    Equals,
    BeginsWith,
    Contains,
    Recursive,
    OneLevel,
}

#[derive(Debug, Clone)]
pub struct Filter {
    key: Key,
    option: Match,
    values: Vec<String>,
}

/// Which request the filters came with: each allows different keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request {
    Describe,
    ByPath,
}

impl Request {
    fn keys(self) -> &'static str {
        match self {
            Request::Describe => "[Path, Name, Type, KeyId, Tier, DataType, tag:<key>]",
            Request::ByPath => "[Type, KeyId, Label, tag:<key>]",
        }
    }
}

fn parse_key(text: &str, request: Request) -> Result<Key, SsmError> {
    let key = match text {
        "Name" if request == Request::Describe => Key::Name,
        "Path" if request == Request::Describe => Key::Path,
        "Tier" if request == Request::Describe => Key::Tier,
        "DataType" if request == Request::Describe => Key::DataType,
        "Label" if request == Request::ByPath => Key::Label,
        "Type" => Key::Type,
        "KeyId" => Key::KeyId,
        tag if tag.starts_with("tag:") && tag.len() > 4 => Key::Tag(tag[4..].to_owned()),
        other => {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter key is not valid: {other}. Valid filter keys include: {}.",
                request.keys()
            )));
        }
    };
    Ok(key)
}

fn parse_option(key: &Key, text: Option<&str>) -> Result<Match, SsmError> {
    let allowed: &[(&str, Match)] = match key {
        Key::Path => &[("OneLevel", Match::OneLevel), ("Recursive", Match::Recursive)],
        Key::Name => {
            &[("Equals", Match::Equals), ("BeginsWith", Match::BeginsWith), ("Contains", Match::Contains)]
        }
        Key::Label | Key::Tag(_) => &[("Equals", Match::Equals)],
        _ => &[("Equals", Match::Equals), ("BeginsWith", Match::BeginsWith)],
    };
    let Some(text) = text else { return Ok(allowed[0].1) };
    allowed.iter().find(|(name, _)| *name == text).map(|(_, m)| *m).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        SsmError::InvalidFilterOption(format!(
            "The following filter option is not valid: {text}. Valid options include: [{}].",
            names.join(", ")
        ))
    })
}

fn key_name(key: &Key) -> String {
    match key {
        Key::Name => "Name".into(),
        Key::Path => "Path".into(),
        Key::Type => "Type".into(),
        Key::KeyId => "KeyId".into(),
        Key::Tier => "Tier".into(),
        Key::Label => "Label".into(),
        Key::DataType => "DataType".into(),
        Key::Tag(t) => format!("tag:{t}"),
    }
}

fn check_values(key: &Key, values: &[String]) -> Result<(), SsmError> {
    if values.is_empty() && !matches!(key, Key::Tag(_)) {
        return Err(SsmError::InvalidFilterValue(format!(
            "The following filter values are missing : null for filter key {}.",
            key_name(key)
        )));
    }
    if values.len() > 50 {
        return Err(SsmError::InvalidFilterValue("A filter can have at most 50 values.".into()));
    }
    let enumerated: Option<&[&str]> = match key {
        Key::Type => Some(&["String", "StringList", "SecureString"]),
        Key::Tier => Some(&["Standard", "Advanced", "Intelligent-Tiering"]),
        _ => None,
    };
    if let Some(valid) = enumerated
        && let Some(bad) = values.iter().find(|v| !valid.contains(&v.as_str()))
    {
        return Err(SsmError::InvalidFilterValue(format!(
            "The following filter value is not valid: {bad}. Valid values include: [{}].",
            valid.join(", ")
        )));
    }
    Ok(())
}

/// `ParameterFilters`, or the older `Filters` (never both).
pub fn parse(input: &Input, request: Request) -> Result<Vec<Filter>, AwsError> {
    let legacy = input.structures("Filters")?;
    let modern = input.structures("ParameterFilters")?;
    if !legacy.is_empty() && !modern.is_empty() {
        return Err(AwsError::validation(
            "You can use either Filters or ParameterFilters in a single request.",
        ));
    }
    let mut filters: Vec<Filter> = Vec::new();
    for f in &legacy {
        let key = match f.required_str("Key")? {
            "Name" => Key::Name,
            "Type" => Key::Type,
            "KeyId" => Key::KeyId,
            other => {
                return Err(AwsError::constraint(
                    "filters.member.key",
                    other,
                    "Member must satisfy enum value set: [Name, Type, KeyId]",
                ));
            }
        };
        let values: Vec<String> =
            f.strings("Values")?.unwrap_or_default().into_iter().map(str::to_owned).collect();
        check_values(&key, &values)?;
        filters.push(Filter { key, option: Match::Equals, values });
    }
    for f in &modern {
        let key = parse_key(f.required_str("Key")?, request)?;
        let option = parse_option(&key, f.str("Option")?)?;
        let mut values: Vec<String> =
            f.strings("Values")?.unwrap_or_default().into_iter().map(str::to_owned).collect();
        check_values(&key, &values)?;
        if key == Key::Path {
            values = values.iter().map(|v| check_path(v)).collect::<Result<_, _>>()?;
        }
        if filters.iter().any(|existing| existing.key == key) {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter is duplicated in the request: {}. A request can contain only one occurrence of a specific filter.",
                key_name(&key)
            ))
            .into());
        }
        filters.push(Filter { key, option, values });
    }
    Ok(filters)
}

fn compare(option: Match, actual: &str, wanted: &str) -> bool {
    match option {
        Match::Equals => actual == wanted,
        Match::BeginsWith => actual.starts_with(wanted),
        Match::Contains => actual.contains(wanted),
        Match::Recursive => {
            wanted == "/" && actual.starts_with('/') || actual.starts_with(&format!("{wanted}/"))
        }
        Match::OneLevel => parent(actual) == Some(wanted),
    }
}

/// The hierarchy level a name sits in: `/a/b` is in `/a`, `/a` in `/`; `a` in none.
pub fn parent(name: &str) -> Option<&str> {
    let (parent, _) = name.rsplit_once('/')?;
    Some(if parent.is_empty() { "/" } else { parent })
}

/// Whether a parameter passes every filter; label filters pass if any version carries one of
/// the labels.
pub fn matches(filters: &[Filter], parameter: &Parameter) -> bool {
    let latest = parameter.latest();
    filters.iter().all(|f| {
        let any = |actual: &str| f.values.iter().any(|w| compare(f.option, actual, w));
        match &f.key {
            Key::Name | Key::Path => any(&parameter.name),
            Key::Type => any(latest.kind.as_str()),
            Key::KeyId => latest.key_id.as_deref().is_some_and(any),
            Key::Tier => any(latest.tier.as_str()),
            Key::DataType => any(&latest.data_type),
            Key::Label => parameter.versions.iter().any(|v| v.labels.iter().any(|l| f.values.contains(l))),
            Key::Tag(tag) => parameter.tag(tag).is_some_and(|value| f.values.is_empty() || any(value)),
        }
    })
}

/// The labels a label filter asks for, if there is one: by-path reads return the version that
/// carries them rather than the latest.
pub fn labels(filters: &[Filter]) -> Option<&[String]> {
    filters.iter().find(|f| f.key == Key::Label).map(|f| f.values.as_slice())
}
