//! Parameter Store's rules, checked before anything is sent: names and hierarchies, values and
//! tiers, allowed patterns, labels, tags and descriptions. Each check fails with a sentence
//! that says what is wrong and what is allowed, and never repeats a value back (it may be a
//! secret).

use crate::config::Environment;

/// The longest name Parameter Store accepts. The API allows 2048 characters, but the name
/// must fit in the parameter's ARN, which AWS caps at 1011 characters of name.
pub const MAX_NAME: usize = 1011;
/// A hierarchy is at most this deep.
pub const MAX_LEVELS: usize = 15;
/// Value limits in bytes: 4 KB for the standard tier, 8 KB for the advanced one.
pub const MAX_STANDARD_VALUE: usize = 4096;
pub const MAX_ADVANCED_VALUE: usize = 8192;
pub const MAX_DESCRIPTION: usize = 1024;
pub const MAX_PATTERN: usize = 1024;
pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    SecureString,
}

impl Kind {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "String" => Ok(Kind::String),
            "SecureString" => Ok(Kind::SecureString),
            "StringList" => Err("Rollgate creates String and SecureString parameters; a StringList is a String holding a comma-separated list".into()),
            other => Err(format!("the type must be String or SecureString, not {other:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "String",
            Kind::SecureString => "SecureString",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Advanced,
}

impl Tier {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "Standard" => Ok(Tier::Standard),
            "Advanced" => Ok(Tier::Advanced),
            other => Err(format!("the tier must be Standard or Advanced, not {other:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "Standard",
            Tier::Advanced => "Advanced",
        }
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// A parameter name that Parameter Store accepts and that lies under one of the environment's
/// prefixes: the only parameters Rollgate touches for that environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterName(String);

impl ParameterName {
    pub fn parse(text: &str, env: &Environment) -> Result<Self, String> {
        let name = text.trim();
        check_name(name)?;
        if !under_prefixes(name, &env.ssm_prefixes) {
            return Err(if env.ssm_prefixes.is_empty() {
                format!("{} has no SSM prefixes configured (ssm_prefixes), so it has no parameters", env.name)
            } else {
                format!("{name} is not under {}'s prefixes ({})", env.name, env.ssm_prefixes.join(", "))
            });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ParameterName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` lies strictly below one of `prefixes` (a prefix `/a/b/` or `/a/b` holds
/// `/a/b/c`, never `/a/bc`).
pub fn under_prefixes(name: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        let p = p.trim_end_matches('/');
        name.strip_prefix(p).is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    })
}

/// The name rules: a fully qualified path of letters, digits, `.`, `-` and `_` segments, at
/// most 15 levels, not starting with "aws" or "ssm".
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("give the parameter a name, such as /rollgate/staging/api-key".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!(
            "a parameter name has at most {MAX_NAME} characters; this one has {}",
            name.chars().count()
        ));
    }
    if !name.starts_with('/') {
        return Err(format!(
            "{name:?} must be a full path starting with / (such as /rollgate/staging/{name})"
        ));
    }
    let segments: Vec<&str> = name[1..].split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("{name:?} has an empty path segment (// or a trailing /)"));
    }
    if let Some(bad) = name.chars().find(|&c| c != '/' && !allowed(c)) {
        return Err(format!(
            "{name:?} contains {bad:?}: a name may use only letters, digits, '.', '-', '_' and '/' between segments"
        ));
    }
    if segments.len() > MAX_LEVELS {
        return Err(format!(
            "{name:?} is {} levels deep; a hierarchy has at most {MAX_LEVELS}",
            segments.len()
        ));
    }
    let first = segments[0].to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(format!("{name:?} starts with \"aws\" or \"ssm\", which AWS reserves"));
    }
    Ok(())
}

/// A value for `tier`, and for `pattern` when the parameter has one.
pub fn check_value(value: &str, tier: Tier, pattern: Option<&str>) -> Result<(), String> {
    if value.is_empty() {
        return Err("the value is empty; Parameter Store needs at least one character".into());
    }
    let size = value.len();
    match tier {
        Tier::Standard if size > MAX_STANDARD_VALUE => {
            return Err(format!(
                "the value is {size} bytes; a standard parameter holds at most 4 KB ({MAX_STANDARD_VALUE} bytes), choose the Advanced tier for up to 8 KB"
            ));
        }
        Tier::Advanced if size > MAX_ADVANCED_VALUE => {
            return Err(format!(
                "the value is {size} bytes; an advanced parameter holds at most 8 KB ({MAX_ADVANCED_VALUE} bytes)"
            ));
        }
        _ => {}
    }
    if let Some(pattern) = pattern.filter(|p| !p.is_empty())
        && !pattern_regex(pattern)?.is_match(value)
    {
        return Err(format!("the value does not match the parameter's allowed pattern {pattern}"));
    }
    Ok(())
}

/// An allowed pattern: a regular expression the whole value must match.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.chars().count() > MAX_PATTERN {
        return Err(format!("an allowed pattern has at most {MAX_PATTERN} characters"));
    }
    pattern_regex(pattern).map(|_| ())
}

fn pattern_regex(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("the allowed pattern {pattern:?} is not a valid regular expression: {e}"))
}

pub fn check_description(description: &str) -> Result<(), String> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(format!("a description has at most {MAX_DESCRIPTION} characters"));
    }
    Ok(())
}

/// Labels: 1 to 100 letters, digits, `.`, `-` and `_`, not starting with a digit, "aws" or
/// "ssm"; at most 10 per version.
pub fn check_labels(labels: &[String]) -> Result<(), String> {
    if labels.is_empty() {
        return Err("give at least one label, such as live or previous".into());
    }
    if labels.len() > 10 {
        return Err("a version holds at most 10 labels".into());
    }
    for label in labels {
        let lower = label.to_ascii_lowercase();
        let ok = (1..=100).contains(&label.len())
            && label.chars().all(allowed)
            && !label.starts_with(|c: char| c.is_ascii_digit())
            && !lower.starts_with("aws")
            && !lower.starts_with("ssm");
        if !ok {
            return Err(format!(
                "{label:?} is not a label: up to 100 letters, digits, '.', '-' and '_', not starting with a digit, \"aws\" or \"ssm\""
            ));
        }
    }
    Ok(())
}

/// Tags from `key=value` lines (blank lines skipped).
pub fn parse_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let (key, value) = (key.trim(), value.trim());
        let key_ok = (1..=128).contains(&key.chars().count())
            && !key.to_ascii_lowercase().starts_with("aws:")
            && key.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c));
        if !key_ok {
            return Err(format!(
                "{key:?} is not a tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:"
            ));
        }
        if value.chars().count() > 256
            || !value.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
        {
            return Err(format!(
                "the value of tag {key} is not valid: up to 256 letters, digits, spaces and _ . : / = + - @"
            ));
        }
        if tags.iter().any(|(k, _)| k == key) {
            return Err(format!("tag {key} is given twice"));
        }
        tags.push((key.to_owned(), value.to_owned()));
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("a parameter holds at most {MAX_TAGS} tags"));
    }
    Ok(tags)
}

/// A KMS key id, ARN or alias as PutParameter takes it.
pub fn check_key_id(key: &str) -> Result<(), String> {
    let ok = (1..=2048).contains(&key.len())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "/_-:.".contains(c));
    if ok { Ok(()) } else { Err(format!("{key:?} is not a KMS key id, ARN or alias (alias/…)")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, load};

    fn staging() -> Environment {
        load(&Source::SandboxDefault).unwrap().environments.remove(0)
    }

    #[test]
    fn names_follow_parameter_store_and_the_prefixes() {
        let env = staging();
        assert!(ParameterName::parse("/rollgate/staging/api-key", &env).is_ok());
        assert!(ParameterName::parse(" /rollgate/staging/a.b_c-d/e ", &env).is_ok());
        for (bad, says) in [
            ("", "give the parameter a name"),
            ("api-key", "full path"),
            ("/rollgate/staging//x", "empty path segment"),
            ("/rollgate/staging/x/", "empty path segment"),
            ("/rollgate/staging/a b", "contains ' '"),
            ("/rollgate/staging/a$", "contains '$'"),
            ("/rollgate/production/x", "not under staging's prefixes"),
            ("/rollgate/staging", "not under"),
            ("/rollgate/stagingx/y", "not under"),
        ] {
            let e = ParameterName::parse(bad, &env).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(check_name("/aws/x").unwrap_err().contains("reserves"));
        assert!(check_name("/SSM/x").unwrap_err().contains("reserves"));
        assert!(check_name(&"/l".repeat(16)).unwrap_err().contains("at most 15"));
        assert!(check_name(&"/l".repeat(15)).is_ok());
        assert!(check_name(&format!("/{}", "n".repeat(MAX_NAME))).unwrap_err().contains("at most 1011"));
    }

    #[test]
    fn values_tiers_and_patterns() {
        assert!(check_value("", Tier::Standard, None).unwrap_err().contains("empty"));
        assert!(check_value(&"x".repeat(4096), Tier::Standard, None).is_ok());
        assert!(check_value(&"x".repeat(4097), Tier::Standard, None).unwrap_err().contains("Advanced tier"));
        assert!(check_value(&"x".repeat(8192), Tier::Advanced, None).is_ok());
        assert!(check_value(&"x".repeat(8193), Tier::Advanced, None).unwrap_err().contains("8 KB"));
        assert!(check_value("12345", Tier::Standard, Some(r"\d+")).is_ok());
        let e = check_value("s3cret-abc", Tier::Standard, Some(r"\d+")).unwrap_err();
        assert!(e.contains("allowed pattern") && !e.contains("s3cret"), "{e}");
        assert!(check_pattern("(").unwrap_err().contains("not a valid regular expression"));
    }

    #[test]
    fn labels_tags_and_keys() {
        assert!(check_labels(&["live".into(), "v1.2_rc-1".into()]).is_ok());
        for bad in ["1st", "awsx", "SSMy", "a b", ""] {
            assert!(check_labels(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_labels(&[]).is_err());
        assert_eq!(
            parse_tags("owner=release-eng\n\n team = web \nflag").unwrap(),
            vec![
                ("owner".into(), "release-eng".into()),
                ("team".into(), "web".into()),
                ("flag".into(), "".into())
            ]
        );
        assert!(parse_tags("aws:x=1").unwrap_err().contains("aws:"));
        assert!(parse_tags("a=1\na=2").unwrap_err().contains("twice"));
        assert!(check_key_id("alias/rollgate").is_ok());
        assert!(check_key_id("alias/bad key").is_err());
        assert_eq!(Kind::parse("SecureString"), Ok(Kind::SecureString));
        assert!(Kind::parse("StringList").is_err());
    }
}
