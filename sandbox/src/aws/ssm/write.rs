//! The writes: PutParameter (new parameters and new versions), DeleteParameter(s), and moving
//! labels between versions.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::super::{AwsError, Caller, Input};
use super::names::{check_name, check_new_name, valid_label};
use super::parameter::{Kind, MAX_VERSIONS, Parameter, Tier, Version};
use super::{Ssm, SsmError, tags};

const DATA_TYPES: [&str; 3] = ["text", "aws:ec2:image", "aws:ssm:integration"];

/// The tier a request names; Intelligent-Tiering picks the cheapest that fits.
enum RequestedTier {
    Standard,
    Advanced,
    Intelligent,
}

fn parse_tier(text: &str) -> Result<RequestedTier, SsmError> {
    match text {
        "Standard" => Ok(RequestedTier::Standard),
        "Advanced" => Ok(RequestedTier::Advanced),
        "Intelligent-Tiering" => Ok(RequestedTier::Intelligent),
        other => Err(SsmError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]"
        ))),
    }
}

fn choose_tier(
    requested: Option<RequestedTier>,
    previous: Option<Tier>,
    size: usize,
) -> Result<Tier, SsmError> {
    let fits_standard = size <= Tier::Standard.max_value();
    let tier = match requested {
        Some(RequestedTier::Standard) => Tier::Standard,
        Some(RequestedTier::Advanced) => Tier::Advanced,
        Some(RequestedTier::Intelligent) if fits_standard => previous.unwrap_or(Tier::Standard),
        Some(RequestedTier::Intelligent) => Tier::Advanced,
        None => previous.unwrap_or(Tier::Standard),
    };
    if previous == Some(Tier::Advanced) && tier == Tier::Standard {
        return Err(SsmError::Validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.".into(),
        ));
    }
    if size > tier.max_value() {
        return Err(SsmError::Validation(match tier {
            Tier::Standard => "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html".to_owned(),
            Tier::Advanced => "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to 8192".to_owned(),
        }));
    }
    Ok(tier)
}

fn check_pattern(pattern: &str, value: &str) -> Result<(), SsmError> {
    let regex = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| SsmError::InvalidAllowedPattern(e.to_string()))?;
    if regex.is_match(value) { Ok(()) } else { Err(SsmError::ParameterPatternMismatch(pattern.to_owned())) }
}

fn too_long(field: &str, max: usize) -> SsmError {
    SsmError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

pub fn put(ssm: &Ssm, input: &Input, caller: &Caller) -> Result<Value, AwsError> {
    let name = input.required_str("Name")?;
    let value = input.required_str("Value")?;
    let kind = input.str("Type")?.map(Kind::parse).transpose()?;
    let overwrite = input.bool("Overwrite")?.unwrap_or(false);
    let key_id = input.str("KeyId")?;
    let description = input.str("Description")?;
    let pattern = input.str("AllowedPattern")?;
    let tier = input.str("Tier")?.map(parse_tier).transpose()?;
    let data_type = input.str("DataType")?;
    let new_tags = tags::parse(input)?;
    check_new_name(name)?;
    if value.is_empty() {
        return Err(SsmError::Validation(
            "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1.".into(),
        ).into());
    }
    if overwrite && !new_tags.is_empty() {
        return Err(SsmError::Validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.".into(),
        ).into());
    }
    if description.is_some_and(|d| d.chars().count() > 1024) {
        return Err(too_long("description", 1024).into());
    }
    if pattern.is_some_and(|p| p.chars().count() > 1024) {
        return Err(too_long("allowedPattern", 1024).into());
    }
    if let Some(dt) = data_type.filter(|dt| !DATA_TYPES.contains(dt)) {
        return Err(SsmError::Validation(format!(
            "The following data type is not supported: {dt} (Data type names are all lowercase.)"
        ))
        .into());
    }
    if input.str("Policies")?.is_some_and(|p| !p.trim().is_empty() && p.trim() != "[]") {
        return Err(
            SsmError::Validation("Parameter policies are not supported by the sandbox.".into()).into()
        );
    }

    let mut parameters = ssm.lock();
    let existing = parameters.by_name.get(name);
    if existing.is_some() && !overwrite {
        return Err(SsmError::ParameterAlreadyExists.into());
    }
    let previous = existing.map(Parameter::latest);
    let Some(kind) = kind.or(previous.map(|p| p.kind)) else {
        return Err(
            SsmError::Validation("A parameter type is required when you create a parameter.".into()).into()
        );
    };
    let key_id = match kind {
        Kind::SecureString => {
            let inherited =
                previous.filter(|p| p.kind == Kind::SecureString).and_then(|p| p.key_id.as_deref());
            Some(ssm.kms.resolve(key_id.or(inherited))?)
        }
        _ if key_id.is_some() => {
            return Err(SsmError::Validation(
                "KeyId can be specified only for SecureString parameters.".into(),
            )
            .into());
        }
        _ => None,
    };
    let tier = choose_tier(tier, previous.map(|p| p.tier), value.len())?;
    let description = description.map(str::to_owned).or_else(|| previous.and_then(|p| p.description.clone()));
    let pattern = pattern.map(str::to_owned).or_else(|| previous.and_then(|p| p.allowed_pattern.clone()));
    if let Some(pattern) = &pattern {
        check_pattern(pattern, value)?;
    }
    let data_type = data_type
        .map(str::to_owned)
        .or_else(|| previous.map(|p| p.data_type.clone()))
        .unwrap_or_else(|| "text".to_owned());
    if let Some(existing) = existing
        && existing.versions.len() >= MAX_VERSIONS
        && let Some(oldest) = existing.versions.first().filter(|v| !v.labels.is_empty())
    {
        return Err(SsmError::ParameterMaxVersionLimitExceeded {
            name: name.to_owned(),
            version: oldest.number,
        }
        .into());
    }
    let stored = match &key_id {
        Some(key) => ssm.kms.encrypt(key, name, value)?,
        None => value.to_owned(),
    };
    let version = Version {
        number: previous.map_or(1, |p| p.number + 1),
        kind,
        value: stored,
        key_id,
        description,
        allowed_pattern: pattern,
        tier,
        data_type,
        modified: SystemTime::now(),
        modified_by: caller.arn(),
        labels: Vec::new(),
    };
    let number = version.number;
    let parameter = parameters.by_name.entry(name.to_owned()).or_insert_with(|| Parameter {
        name: name.to_owned(),
        versions: Vec::new(),
        tags: new_tags,
    });
    if parameter.versions.len() >= MAX_VERSIONS {
        parameter.versions.remove(0);
    }
    parameter.versions.push(version);
    Ok(json!({ "Version": number, "Tier": tier.as_str() }))
}

pub fn delete(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("Name")?;
    check_name(name)?;
    match ssm.lock().by_name.remove(name) {
        Some(_) => Ok(json!({})),
        None => Err(SsmError::ParameterNotFound(name.to_owned()).into()),
    }
}

/// Between 1 and 10 names, as GetParameters and DeleteParameters take them.
pub fn names_1_to_10(input: &Input) -> Result<Vec<&str>, AwsError> {
    let names = input.strings("Names")?.ok_or_else(|| super::super::input::missing("Names"))?;
    if names.is_empty() || names.len() > 10 {
        return Err(AwsError::constraint(
            "names",
            format!("[{}]", names.join(", ")),
            "Member must have length less than or equal to 10 and greater than or equal to 1",
        ));
    }
    Ok(names)
}

pub fn delete_many(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let names = names_1_to_10(input)?;
    let mut parameters = ssm.lock();
    let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
    for name in names {
        if check_name(name).is_ok() && parameters.by_name.remove(name).is_some() {
            deleted.push(name);
        } else {
            invalid.push(name);
        }
    }
    Ok(json!({ "DeletedParameters": deleted, "InvalidParameters": invalid }))
}

fn labels_1_to_10(input: &Input) -> Result<Vec<&str>, AwsError> {
    let labels = input.strings("Labels")?.ok_or_else(|| super::super::input::missing("Labels"))?;
    if labels.is_empty() || labels.len() > 10 {
        return Err(AwsError::constraint(
            "labels",
            format!("[{}]", labels.join(", ")),
            "Member must have length less than or equal to 10 and greater than or equal to 1",
        ));
    }
    Ok(labels)
}

fn version_number(input: &Input) -> Result<Option<u64>, AwsError> {
    match input.int("ParameterVersion")? {
        None => Ok(None),
        Some(v) if v >= 1 => Ok(Some(v as u64)),
        Some(v) => Err(AwsError::constraint(
            "parameterVersion",
            v,
            "Member must have value greater than or equal to 1",
        )),
    }
}

/// Attaches labels to a version (the latest if none is named), moving each from whichever
/// version had it. Invalid labels are returned, not refused.
pub fn label(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("Name")?;
    let version = version_number(input)?;
    let labels = labels_1_to_10(input)?;
    check_name(name)?;
    let mut parameters = ssm.lock();
    let parameter =
        parameters.by_name.get_mut(name).ok_or_else(|| SsmError::ParameterNotFound(name.to_owned()))?;
    let number = version.unwrap_or(parameter.latest().number);
    let index = parameter
        .versions
        .iter()
        .position(|v| v.number == number)
        .ok_or_else(|| SsmError::ParameterVersionNotFound { name: name.to_owned(), version: number })?;
    let (valid, invalid): (Vec<&str>, Vec<&str>) = labels.into_iter().partition(|l| valid_label(l));
    let target = &parameter.versions[index];
    let added = valid.iter().filter(|l| !target.labels.iter().any(|t| t == *l)).count();
    if target.labels.len() + added > 10 {
        return Err(SsmError::ParameterVersionLabelLimitExceeded.into());
    }
    for (i, v) in parameter.versions.iter_mut().enumerate() {
        if i == index {
            for label in &valid {
                if !v.labels.iter().any(|t| t == label) {
                    v.labels.push((*label).to_owned());
                }
            }
        } else {
            v.labels.retain(|l| !valid.contains(&l.as_str()));
        }
    }
    Ok(json!({ "InvalidLabels": invalid, "ParameterVersion": number }))
}

pub fn unlabel(ssm: &Ssm, input: &Input) -> Result<Value, AwsError> {
    let name = input.required_str("Name")?;
    let number = version_number(input)?.ok_or_else(|| super::super::input::missing("ParameterVersion"))?;
    let labels = labels_1_to_10(input)?;
    check_name(name)?;
    let mut parameters = ssm.lock();
    let parameter =
        parameters.by_name.get_mut(name).ok_or_else(|| SsmError::ParameterNotFound(name.to_owned()))?;
    let version = parameter
        .versions
        .iter_mut()
        .find(|v| v.number == number)
        .ok_or_else(|| SsmError::ParameterVersionNotFound { name: name.to_owned(), version: number })?;
    let (removed, invalid): (Vec<&str>, Vec<&str>) =
        labels.into_iter().partition(|l| version.labels.iter().any(|t| t == l));
    version.labels.retain(|l| !removed.contains(&l.as_str()));
    Ok(json!({ "RemovedLabels": removed, "InvalidLabels": invalid }))
}
