//! Checks that serde cannot express: names that end up in URLs and API paths, regions, SSM
//! paths and the cross-field rules. Each error names the key as written in the file.

use std::collections::HashSet;

use url::Url;

use super::{
    ApprovalRule, ClusterConnection, Config, ConfigError, Environment, NameBinding, NotifyFormat, NotifyKind,
    OidcIssuer, OidcSettings, TokenSource,
};

/// The longest `drain_seconds`: Kubernetes' default grace period is 30 s, and waiting longer
/// than any grace period only gets the process killed mid-shutdown.
const MAX_DRAIN_SECONDS: u32 = 120;

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.environments.is_empty() {
        return Err(ConfigError::invalid("environment", "at least one [[environment]] is required"));
    }
    if config.database_url.trim().is_empty() {
        return Err(ConfigError::invalid("database_url", "must not be empty"));
    }
    for user in config.roles.keys() {
        check_user_name(user, &format!("roles.{user}"))?;
    }
    for (i, recurring) in config.recurring_freezes.iter().enumerate() {
        check_recurring(recurring, &format!("recurring_freeze[{i}]"))?;
    }
    for (i, freeze) in config.freezes.iter().enumerate() {
        if freeze.end <= freeze.start || freeze.reason.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("freeze[{i}]"),
                "needs an end after its start, and a reason",
            ));
        }
    }
    for (group, members) in &config.groups {
        if group.trim().is_empty() || group.chars().count() > 128 {
            return Err(ConfigError::invalid(
                format!("groups.{group}"),
                "a group name is 1 to 128 characters",
            ));
        }
        for member in members {
            check_user_name(member, &format!("groups.{group}"))?;
        }
    }
    let auth = &config.auth;
    for (key, value) in [
        ("auth.session_idle_minutes", auth.session_idle_minutes),
        ("auth.session_max_hours", auth.session_max_hours),
        ("auth.max_failures_per_user", auth.max_failures_per_user),
        ("auth.max_failures_per_ip", auth.max_failures_per_ip),
        ("auth.failure_window_minutes", auth.failure_window_minutes),
        ("change_request_expiry_hours", config.change_request_expiry_hours),
        ("delivery.failure_window_hours", config.delivery.failure_window_hours),
        ("notifications.retry_seconds", config.notifications.retry_seconds),
        ("notifications.max_attempts", config.notifications.max_attempts),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(key, "must be at least 1"));
        }
    }
    let reads = config.codepipeline_reads_per_second;
    if !(reads.is_finite() && (0.01..=1000.0).contains(&reads)) {
        return Err(ConfigError::invalid(
            "codepipeline_reads_per_second",
            format!("{reads} is not a rate between 0.01 and 1000 calls a second"),
        ));
    }
    if config.drain_seconds > MAX_DRAIN_SECONDS {
        return Err(ConfigError::invalid("drain_seconds", format!("must be at most {MAX_DRAIN_SECONDS}")));
    }
    if let Some(url) = &config.public_url {
        check_web_url(url, "public_url")?;
    }
    if let Some(oidc) = &auth.oidc {
        validate_oidc(config, oidc)?;
    }
    match (&config.metrics.listen, &config.metrics.bearer_token) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "metrics",
                "set listen (a separate address, no token) or bearer_token (the main address, with a token), not both",
            ));
        }
        (Some(addr), None) if addr.port() == config.listen.port() && addr.port() != 0 => {
            return Err(ConfigError::invalid(
                "metrics.listen",
                format!("{addr} has the port of listen: the metrics need an address of their own"),
            ));
        }
        _ => {}
    }
    let mut seen = HashSet::new();
    for (i, env) in config.environments.iter().enumerate() {
        let key = format!("environment[{i}]");
        if !is_dns_label(&env.name) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!(
                    "{:?} is not a DNS label (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit)",
                    env.name
                ),
            ));
        }
        if RESERVED_PATHS.contains(&env.name.as_str()) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("{:?} is a page of its own (/{0}): name the environment otherwise", env.name),
            ));
        }
        if !seen.insert(env.name.as_str()) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("{:?} is used by an earlier environment", env.name),
            ));
        }
        validate_environment(config, env, &format!("environment[{i}] ({})", env.name))?;
    }
    Ok(())
}

/// The first path segments that are not environments: an environment is `/<name>/…`.
const RESERVED_PATHS: [&str; 9] =
    ["overview", "sign-in", "auth", "api", "live", "pkg", "metrics", "healthz", "readyz"];

fn validate_notify(env: &Environment, key: &str) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for (i, target) in env.notify.iter().enumerate() {
        let at = format!("{key}.notify[{i}]");
        if !is_dns_label(&target.name) {
            return Err(ConfigError::invalid(
                format!("{at}.name"),
                format!("{:?} is not a DNS label", target.name),
            ));
        }
        if !names.insert(target.name.as_str()) {
            return Err(ConfigError::invalid(
                format!("{at}.name"),
                format!("{:?} is used twice", target.name),
            ));
        }
        // The URL and the key are secrets, read when a notification is sent (a mounted secret
        // may be rotated): the senders say at start which cannot be read.
        match (target.kind, &target.secret) {
            (NotifyKind::Webhook, None) => {
                return Err(ConfigError::invalid(
                    format!("{at}.secret"),
                    "a webhook needs the key its body is signed with",
                ));
            }
            (NotifyKind::Webhook, Some(_)) => {}
            (_, Some(_)) => {
                return Err(ConfigError::invalid(format!("{at}.secret"), "only a webhook's body is signed"));
            }
            (_, None) => {}
        }
        if target.format == NotifyFormat::Cloudevents && target.kind != NotifyKind::Webhook {
            return Err(ConfigError::invalid(format!("{at}.format"), "only a webhook sends CloudEvents"));
        }
    }
    Ok(())
}

fn validate_environment(config: &Config, env: &Environment, key: &str) -> Result<(), ConfigError> {
    validate_notify(env, key)?;
    if env.protected && env.required_approvals == 0 {
        return Err(ConfigError::invalid(
            format!("{key}.required_approvals"),
            "a protected environment needs at least 1 approval",
        ));
    }
    if env.aws.sandbox == Some(true) && !config.sandbox {
        return Err(ConfigError::invalid(
            format!("{key}.aws.sandbox"),
            "needs `sandbox = true` at the top level",
        ));
    }
    match &env.cluster {
        ClusterConnection::Sandbox | ClusterConnection::SandboxToken { .. } if !config.sandbox => {
            return Err(ConfigError::invalid(
                format!("{key}.cluster.kind"),
                "\"sandbox\" needs `sandbox = true` at the top level",
            ));
        }
        ClusterConnection::Url { server, token, certificate_authority } => {
            if !matches!(server.scheme(), "https" | "http") || server.host().is_none() {
                return Err(ConfigError::invalid(
                    format!("{key}.cluster.server"),
                    format!("{server} is not an http(s) URL with a host"),
                ));
            }
            if let Some(path) = certificate_authority {
                crate::kube::client::read_certificates(path)
                    .map_err(|e| ConfigError::invalid(format!("{key}.cluster.certificate_authority"), e))?;
            }
            if let TokenSource::SsmParameter(name) = token {
                check_ssm_path(name, &format!("{key}.cluster.token.ssm-parameter"))?;
            }
        }
        ClusterConnection::SandboxToken { token: TokenSource::SsmParameter(name) } => {
            check_ssm_path(name, &format!("{key}.cluster.token.ssm-parameter"))?;
        }
        _ => {}
    }
    if env.namespaces.is_empty() {
        return Err(ConfigError::invalid(format!("{key}.namespaces"), "list at least one namespace"));
    }
    for (i, ns) in env.namespaces.iter().enumerate() {
        if !is_dns_label(ns) {
            return Err(ConfigError::invalid(
                format!("{key}.namespaces[{i}]"),
                format!(
                    "{ns:?} is not a valid namespace name (a DNS label: lowercase letters, digits and '-', at most 63)"
                ),
            ));
        }
    }
    if let Some(region) = &env.aws.region
        && !is_aws_region(region)
    {
        return Err(ConfigError::invalid(
            format!("{key}.aws.region"),
            format!("{region:?} is not an AWS region name like \"eu-west-1\""),
        ));
    }
    for (i, pipeline) in env.aws.pipelines.iter().enumerate() {
        if !is_pipeline_name(pipeline) {
            return Err(ConfigError::invalid(
                format!("{key}.aws.pipelines[{i}]"),
                format!("{pipeline:?} is not a CodePipeline name (1 to 100 of A-Z a-z 0-9 . @ - _)"),
            ));
        }
    }
    if let Some(queue) = &env.aws.events_queue
        && !is_queue(queue)
    {
        return Err(ConfigError::invalid(
            format!("{key}.aws.events_queue"),
            format!(
                "{queue:?} is neither an SQS queue name (1 to 80 of A-Z a-z 0-9 - _) nor a queue URL like \"https://sqs.eu-west-1.amazonaws.com/123456789012/rollgate-events\""
            ),
        ));
    }
    for (i, arn) in env.aws.kms_keys.iter().enumerate() {
        if !is_kms_key_arn(arn) {
            return Err(ConfigError::invalid(
                format!("{key}.aws.kms_keys[{i}]"),
                format!(
                    "{arn:?} is not a KMS key ARN like \"arn:aws:kms:eu-west-1:123456789012:key/…\" \
                     (IAM grants a key's use by its key ARN, not by an alias)"
                ),
            ));
        }
    }
    for (i, d) in env.aws.deploys.iter().enumerate() {
        let at = format!("{key}.aws.deploys[{i}]");
        if !env.aws.pipelines.contains(&d.pipeline) {
            return Err(ConfigError::invalid(
                at,
                format!("pipeline {:?} is not one of this environment's aws.pipelines", d.pipeline),
            ));
        }
        if !env.namespaces.contains(&d.namespace) {
            return Err(ConfigError::invalid(
                at,
                format!("namespace {:?} is not one of this environment's namespaces", d.namespace),
            ));
        }
        if !is_dns_subdomain(&d.deployment) {
            return Err(ConfigError::invalid(at, format!("{:?} is not a deployment name", d.deployment)));
        }
        if d.stage.is_empty() || d.stage.len() > 100 {
            return Err(ConfigError::invalid(at, "the stage name must be 1 to 100 characters"));
        }
    }
    for (i, rule) in env.aws.approvals.iter().enumerate() {
        validate_approval_rule(env, rule, i, &format!("{key}.aws.approvals[{i}]"))?;
    }
    for (i, prefix) in env.ssm_prefixes.iter().enumerate() {
        check_ssm_path(prefix, &format!("{key}.ssm_prefixes[{i}]"))?;
    }
    let token = &env.cluster_token;
    if !is_dns_label(&token.service_account) {
        return Err(ConfigError::invalid(
            format!("{key}.cluster_token.service_account"),
            format!("{:?} is not a ServiceAccount name", token.service_account),
        ));
    }
    if let Some(ns) = token.namespace.as_deref().filter(|ns| !is_dns_label(ns)) {
        return Err(ConfigError::invalid(
            format!("{key}.cluster_token.namespace"),
            format!("{ns:?} is not a namespace name"),
        ));
    }
    // TokenRequest takes 10 minutes to 2^32 seconds; whole hours keep the setting readable.
    if !(1..=24 * 366).contains(&token.lifetime_hours) {
        return Err(ConfigError::invalid(
            format!("{key}.cluster_token.lifetime_hours"),
            "between 1 hour and a year (8784 hours)",
        ));
    }
    for user in env.roles.keys() {
        check_user_name(user, &format!("{key}.roles.{user}"))?;
    }
    if !env.group_roles.is_empty() && config.auth.oidc.is_none() {
        return Err(ConfigError::invalid(
            format!("{key}.group_roles"),
            "maps single-sign-on groups, but [auth.oidc] is not configured",
        ));
    }
    for group in env.group_roles.keys() {
        check_group(group, &format!("{key}.group_roles"))?;
    }
    for (i, recurring) in env.recurring_freezes.iter().enumerate() {
        check_recurring(recurring, &format!("{key}.recurring_freeze[{i}]"))?;
    }
    for (i, freeze) in env.freezes.iter().enumerate() {
        if freeze.end <= freeze.start {
            return Err(ConfigError::invalid(format!("{key}.freeze[{i}].end"), "must be after start"));
        }
        if freeze.reason.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.freeze[{i}].reason"),
                "say why deploys are frozen: people see it when refused",
            ));
        }
    }
    Ok(())
}

fn check_recurring(recurring: &super::RecurringFreeze, at: &str) -> Result<(), ConfigError> {
    if recurring.reason.trim().is_empty() {
        return Err(ConfigError::invalid(at, "say why deploys are frozen: people see it when refused"));
    }
    recurring.compile().map(drop).map_err(|problem| ConfigError::invalid(at, problem))
}

/// The most people one approval may need: more is a typo, not a policy.
const MAX_REQUIRED_APPROVALS: u8 = 10;

fn validate_approval_rule(
    env: &Environment,
    rule: &ApprovalRule,
    index: usize,
    at: &str,
) -> Result<(), ConfigError> {
    if !env.aws.pipelines.contains(&rule.pipeline) {
        return Err(ConfigError::invalid(
            at,
            format!("pipeline {:?} is not one of this environment's aws.pipelines", rule.pipeline),
        ));
    }
    // CodePipeline's pattern for stage and action names.
    let name = |n: &str| {
        (1..=100).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
    };
    if !name(&rule.stage) || !name(&rule.action) {
        return Err(ConfigError::invalid(
            at,
            "stage and action are CodePipeline names: 1 to 100 letters, digits and . _ @ -",
        ));
    }
    if !(1..=MAX_REQUIRED_APPROVALS).contains(&rule.required) {
        return Err(ConfigError::invalid(at, format!("required must be 1 to {MAX_REQUIRED_APPROVALS}")));
    }
    for (i, group) in rule.groups.iter().enumerate() {
        if group.trim().is_empty() || rule.groups[..i].contains(group) {
            return Err(ConfigError::invalid(at, format!("group {group:?} is empty or listed twice")));
        }
    }
    let same =
        |r: &&ApprovalRule| r.pipeline == rule.pipeline && r.stage == rule.stage && r.action == rule.action;
    if env.aws.approvals[..index].iter().any(|r| same(&r)) {
        return Err(ConfigError::invalid(
            at,
            format!("{} / {} / {} has a rule already", rule.pipeline, rule.stage, rule.action),
        ));
    }
    Ok(())
}

fn validate_oidc(config: &Config, oidc: &OidcSettings) -> Result<(), ConfigError> {
    if oidc.display_name.trim().is_empty() {
        return Err(ConfigError::invalid("auth.oidc.display_name", "must not be empty"));
    }
    match &oidc.issuer {
        OidcIssuer::Sandbox => {
            if !config.sandbox {
                return Err(ConfigError::invalid(
                    "auth.oidc.issuer",
                    "\"sandbox\" needs `sandbox = true` at the top level",
                ));
            }
            for (key, set) in [
                ("auth.oidc.client_id", oidc.client_id.is_some()),
                ("auth.oidc.client_secret", oidc.client_secret.is_some()),
            ] {
                if set {
                    return Err(ConfigError::invalid(
                        key,
                        "the sandbox issuer registers Rollgate itself; leave this out",
                    ));
                }
            }
        }
        OidcIssuer::Url(issuer) => {
            let url = Url::parse(issuer)
                .map_err(|e| ConfigError::invalid("auth.oidc.issuer", format!("{issuer:?}: {e}")))?;
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(ConfigError::invalid(
                    "auth.oidc.issuer",
                    format!("{url} must be an https URL (plain http only on loopback)"),
                ));
            }
            if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
                return Err(ConfigError::invalid(
                    "auth.oidc.issuer",
                    format!("{url} must be a URL with a host and no query or fragment"),
                ));
            }
            match oidc.client_id.as_deref().map(str::trim) {
                None => {
                    return Err(ConfigError::invalid(
                        "auth.oidc.client_id",
                        "is required: the client id the provider registered Rollgate under",
                    ));
                }
                Some("") => return Err(ConfigError::invalid("auth.oidc.client_id", "must not be empty")),
                Some(_) => {}
            }
        }
    }
    if let Some(url) = &oidc.redirect_url {
        check_web_url(url, "auth.oidc.redirect_url")?;
    }
    for (i, scope) in oidc.scopes.iter().enumerate() {
        if scope.is_empty() || !scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
            return Err(ConfigError::invalid(
                format!("auth.oidc.scopes[{i}]"),
                format!("{scope:?} is not a scope (printable characters, no spaces)"),
            ));
        }
    }
    if oidc.groups_claim.trim().is_empty() {
        return Err(ConfigError::invalid("auth.oidc.groups_claim", "must not be empty"));
    }
    for group in oidc.group_roles.keys() {
        check_group(group, "auth.oidc.group_roles")?;
    }
    for (name, binding) in &oidc.names {
        let key = format!("auth.oidc.names.{name}");
        check_user_name(name, &key)?;
        validate_name_binding(binding, &key)?;
    }
    Ok(())
}

fn validate_name_binding(binding: &NameBinding, key: &str) -> Result<(), ConfigError> {
    match (binding.subject.as_deref(), binding.email.as_deref()) {
        (Some(_), Some(_)) | (None, None) => Err(ConfigError::invalid(
            key,
            "give exactly one of subject (the provider's `sub`) or email (one it marks verified)",
        )),
        (Some(subject), None) if subject.trim().is_empty() || subject.trim() != subject => {
            Err(ConfigError::invalid(format!("{key}.subject"), "must not be empty or padded with spaces"))
        }
        (None, Some(email)) if !is_email(email) => Err(ConfigError::invalid(
            format!("{key}.email"),
            format!("{email:?} is not an email address (local@domain, no spaces)"),
        )),
        _ => Ok(()),
    }
}

/// Enough of an address to be compared with a provider's `email` claim: one `@` with
/// something on either side, no spaces or control characters.
fn is_email(s: &str) -> bool {
    let visible = !s.chars().any(|c| c.is_whitespace() || c.is_control());
    let parts = s.split_once('@');
    visible
        && parts
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

fn check_web_url(url: &Url, key: &str) -> Result<(), ConfigError> {
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(ConfigError::invalid(key, format!("{url} is not an http(s) URL with a host")));
    }
    Ok(())
}

fn check_group(group: &str, key: &str) -> Result<(), ConfigError> {
    if group.trim().is_empty() {
        return Err(ConfigError::invalid(key, "a group name must not be empty"));
    }
    Ok(())
}

fn check_user_name(name: &str, key: &str) -> Result<(), ConfigError> {
    crate::user_name::UserName::parse(name).map(|_| ()).map_err(|e| ConfigError::invalid(key, e.to_string()))
}

use crate::dns::{is_dns_label, is_dns_subdomain};

fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// `arn:<partition>:kms:<region>:<account>:key/<key id>`.
fn is_kms_key_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && is_aws_region(parts[3])
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("key/")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// An SQS queue name, or a URL whose last segment is one.
fn is_queue(queue: &str) -> bool {
    let name_ok = |n: &str| {
        (1..=80).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match Url::parse(queue) {
        Ok(url) => {
            matches!(url.scheme(), "https" | "http")
                && url.host().is_some()
                && url.path_segments().and_then(|mut s| s.next_back()).is_some_and(name_ok)
        }
        Err(_) => name_ok(queue),
    }
}

fn is_pipeline_name(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

/// SSM hierarchy paths: absolute, at most 15 levels, the characters SSM allows, and not
/// under the reserved `/aws` and `/ssm` roots.
fn check_ssm_path(path: &str, key: &str) -> Result<(), ConfigError> {
    let problem = if !path.starts_with('/') {
        Some("must start with '/' (an SSM hierarchy path)".to_owned())
    } else if path.len() > 1011 {
        Some("is longer than SSM's 1011 characters".to_owned())
    } else if let Some(c) =
        path.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
    {
        Some(format!("contains {c:?}; SSM names allow a-z A-Z 0-9 _ . - /"))
    } else if path.contains("//") {
        Some("contains an empty level (\"//\")".to_owned())
    } else if path.trim_end_matches('/').split('/').count() - 1 > 15 {
        Some("has more than SSM's 15 levels".to_owned())
    } else {
        let lower = path.to_ascii_lowercase();
        (lower.starts_with("/aws/") || lower.starts_with("/ssm/") || lower == "/aws" || lower == "/ssm")
            .then(|| "is under a root SSM reserves (/aws or /ssm)".to_owned())
    };
    match problem {
        Some(p) => Err(ConfigError::invalid(key, format!("{path:?} {p}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_key_arns() {
        assert!(is_kms_key_arn(
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        for bad in [
            "alias/rollgate",
            "arn:aws:kms:eu-west-1:123456789012:alias/rollgate",
            "arn:aws:kms:eu-west-1:1234:key/abc",
            "arn:aws:s3:eu-west-1:123456789012:key/abc",
            "arn:aws:kms:eu-west-1:123456789012:key/",
        ] {
            assert!(!is_kms_key_arn(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn regions() {
        assert!(is_aws_region("us-east-1"));
        assert!(is_aws_region("us-gov-west-1"));
        for bad in ["useast1", "us-east", "US-EAST-1", "us--1"] {
            assert!(!is_aws_region(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn ssm_paths() {
        assert!(check_ssm_path("/rollgate/staging/", "k").is_ok());
        assert!(check_ssm_path("/rollgate/staging/k8s-bear-token", "k").is_ok());
        for bad in ["rollgate/", "/a//b", "/a b", "/aws/x", "/ssm"] {
            let err = check_ssm_path(bad, "k").expect_err(bad).to_string();
            assert!(err.starts_with("k: "), "{err}");
        }
        let deep = format!("/{}", "a/".repeat(16));
        assert!(check_ssm_path(&deep, "k").is_err());
    }
}
