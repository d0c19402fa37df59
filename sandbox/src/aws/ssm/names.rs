//! Parameter Store's naming rules: parameter names and hierarchy paths, `name:version` and
//! `name:label` selectors, and version labels. Parsed once at the edge; the rest of the
//! service trusts what these return.

use super::SsmError;

/// AWS's limit on a name (2048 for the whole ARN, of which this is what a name may use).
pub const MAX_NAME: usize = 1011;
/// A hierarchy can be at most this deep.
pub const MAX_LEVELS: usize = 15;

const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). \
If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix \
of letters, numbers and the following 3 symbols .-_";

const PATH_RULES: &str = "The parameter doesn't meet the parameter name requirements. The parameter name must \
begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use \
only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are \
not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: \
/get/parameters2-/by1./path0_.";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn reserved(name: &str) -> bool {
    let bare = name.trim_start_matches('/').to_ascii_lowercase();
    bare.starts_with("aws") || bare.starts_with("ssm")
}

/// A name as reads accept it: the characters, the shape of a hierarchy and the limits.
pub fn check_name(name: &str) -> Result<(), SsmError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(SsmError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to {MAX_NAME} and greater than or equal to 1"
        )));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(SsmError::Validation("Parameter name must be a fully qualified name.".into()));
    }
    let segments: Vec<&str> = name.strip_prefix('/').unwrap_or(name).split('/').collect();
    if segments.iter().any(|s| s.is_empty() || !s.chars().all(allowed)) {
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    if name.starts_with('/') && segments.len() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded);
    }
    Ok(())
}

/// A name a parameter can be created under: a valid name that is not reserved.
pub fn check_new_name(name: &str) -> Result<(), SsmError> {
    check_name(name)?;
    if reserved(name) {
        if name.to_ascii_lowercase().starts_with("/aws/") {
            return Err(SsmError::AccessDenied(format!("No access to reserved parameter name: {name}.")));
        }
        return Err(SsmError::Validation(NAME_RULES.into()));
    }
    Ok(())
}

/// A hierarchy path for GetParametersByPath and path filters: `/` or `/a/b`, with or without a
/// trailing slash. Returns it without the trailing slash (`/` stays `/`).
pub fn check_path(path: &str) -> Result<String, SsmError> {
    let trimmed = if path == "/" { "/" } else { path.strip_suffix('/').unwrap_or(path) };
    let valid = trimmed.starts_with('/')
        && trimmed.len() <= MAX_NAME
        && (trimmed == "/" || trimmed[1..].split('/').all(|s| !s.is_empty() && s.chars().all(allowed)));
    if !valid {
        return Err(SsmError::Validation(PATH_RULES.into()));
    }
    if trimmed.matches('/').count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded);
    }
    Ok(trimmed.to_owned())
}

/// Which version a read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Latest,
    Version(u64),
    Label(String),
}

impl Selector {
    /// As GetParameter echoes it back (`:3`, `:prod`).
    pub fn echo(&self) -> Option<String> {
        match self {
            Selector::Latest => None,
            Selector::Version(v) => Some(format!(":{v}")),
            Selector::Label(l) => Some(format!(":{l}")),
        }
    }
}

/// `name`, `name:version` or `name:label`.
pub fn parse_selector(text: &str) -> Result<(&str, Selector), SsmError> {
    let Some((name, selector)) = text.split_once(':') else {
        check_name(text)?;
        return Ok((text, Selector::Latest));
    };
    check_name(name)?;
    if selector.is_empty() || selector.contains(':') {
        return Err(SsmError::Validation(format!(
            "Invalid parameter selector {selector:?}: use name:version or name:label"
        )));
    }
    match selector.parse::<u64>() {
        Ok(0) => Err(SsmError::Validation("Parameter versions start at 1.".into())),
        Ok(v) => Ok((name, Selector::Version(v))),
        Err(_) => Ok((name, Selector::Label(selector.to_owned()))),
    }
}

/// Labels are 1 to 100 letters, digits, `.`, `-` and `_`; they neither start with a digit nor
/// with "aws" or "ssm". Invalid labels are reported back, not refused (as AWS does).
pub fn valid_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    (1..=100).contains(&label.len())
        && label.chars().all(allowed)
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["k8s-bear-token", "/rollgate/staging/k8s-bear-token", "a.b_c-d", "/x"] {
            assert_eq!(check_new_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a/b", "/a//b", "/a/", "/a b", "/a$", "awsKey", "/ssm/x"] {
            assert!(check_new_name(bad).is_err(), "{bad}");
        }
        assert!(matches!(check_new_name("/aws/service/x"), Err(SsmError::AccessDenied(_))));
        let deep = "/l".repeat(16);
        assert_eq!(check_new_name(&deep), Err(SsmError::HierarchyLevelLimitExceeded));
        assert_eq!(check_new_name(&"/l".repeat(15)), Ok(()));
        assert!(check_new_name(&"n".repeat(MAX_NAME + 1)).is_err());
    }

    #[test]
    fn paths_and_selectors() {
        assert_eq!(check_path("/").unwrap(), "/");
        assert_eq!(check_path("/a/b/").unwrap(), "/a/b");
        assert!(check_path("a/b").is_err());
        assert!(check_path("/a//b").is_err());
        assert_eq!(parse_selector("/a:3").unwrap(), ("/a", Selector::Version(3)));
        assert_eq!(parse_selector("/a:live").unwrap(), ("/a", Selector::Label("live".into())));
        assert_eq!(parse_selector("/a").unwrap(), ("/a", Selector::Latest));
        assert!(parse_selector("/a:").is_err());
        assert!(parse_selector("/a:0").is_err());
        assert!(valid_label("live") && valid_label("v1.2_rc-1"));
        assert!(!valid_label("1st") && !valid_label("awsx") && !valid_label("a b") && !valid_label(""));
    }
}
