//! The Tokens page: SSM parameters under the environment's prefixes.
//!
//! The rule (see `backend::tokens`): everyone with a role browses names, metadata and
//! history; creating, rotating, labelling and deleting parameters and revealing a value are
//! admin-only (`ManageSecrets`, `RevealSecret`), every change and reveal audited. Only
//! [`reveal_token`] ever returns a value, with `Cache-Control: no-store`.

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::tokens::{ParameterDetail, RevealedValue, TokensView};

/// The parameters of `env` as a list sorted by path (the page draws the tree), and its
/// cluster token.
#[server]
pub async fn list_tokens(env: String) -> Result<TokensView, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::View)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let parameters = portal.tokens.list(environment).await.map_err(ssr::error)?;
    let cluster = backend::kube::credential::status(&portal.tokens, &portal.clusters, environment).await;
    let denied =
        |p| backend::policy::authorize(&portal.config, &caller.user, &env, p).err().map(|d| d.to_string());
    Ok(TokensView {
        prefixes: environment.ssm_prefixes.clone(),
        parameters: parameters.into_iter().map(ssr::row).collect(),
        cluster: cluster.map(ssr::cluster),
        manage_denied: denied(Permission::ManageSecrets),
        reveal_denied: denied(Permission::RevealSecret),
    })
}

/// One parameter and its history, newest version first (never a value).
#[server]
pub async fn get_token(env: String, name: String) -> Result<ParameterDetail, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    guard::authorize(&portal, &env, Permission::View)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let (parameter, history) = portal.tokens.detail(environment, &name).await.map_err(ssr::error)?;
    Ok(ParameterDetail {
        parameter: ssr::row(parameter),
        history: history.into_iter().rev().map(ssr::version).collect(),
    })
}

/// Creates a String or SecureString parameter. Admins only.
#[server]
#[allow(clippy::too_many_arguments)] // One argument per form field, as the form posts them.
pub async fn create_token(
    env: String,
    name: String,
    kind: String,
    value: String,
    key_id: Option<String>,
    description: Option<String>,
    tags: Option<String>,
    allowed_pattern: Option<String>,
    tier: Option<String>,
    return_to: Option<String>,
) -> Result<i64, ApiError> {
    use backend::policy::Permission;
    use backend::tokens::CreateForm;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::ManageSecrets)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let form = CreateForm {
        name,
        kind,
        value,
        key_id: key_id.unwrap_or_default(),
        description: description.unwrap_or_default(),
        tags: tags.unwrap_or_default(),
        allowed_pattern: allowed_pattern.unwrap_or_default(),
        tier: tier.unwrap_or_default(),
    };
    let version = portal.tokens.create(&caller, environment, &form).await.map_err(ssr::error)?;
    guard::back(return_to.as_deref());
    Ok(version)
}

/// Gives a parameter a new value (a new version). Admins only.
#[server]
pub async fn put_token_version(
    env: String,
    name: String,
    value: String,
    return_to: Option<String>,
) -> Result<i64, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::ManageSecrets)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let version = portal.tokens.rotate(&caller, environment, &name, &value).await.map_err(ssr::error)?;
    guard::back(return_to.as_deref());
    Ok(version)
}

/// Attaches labels (comma-separated) to a version. Admins only.
#[server]
pub async fn label_token_version(
    env: String,
    name: String,
    version: String,
    labels: String,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::ManageSecrets)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let version = version.trim().parse::<i64>().map_err(|_| {
        guard::with_status(ApiError::Invalid(format!("Version: {:?} is not a number.", version.trim())))
    })?;
    portal.tokens.label(&caller, environment, &name, version, &labels).await.map_err(ssr::error)?;
    guard::back(return_to.as_deref());
    Ok(())
}

/// Deletes a parameter with every version; `confirmation` repeats its name. Admins only.
#[server]
pub async fn delete_token(
    env: String,
    name: String,
    confirmation: String,
    return_to: Option<String>,
) -> Result<(), ApiError> {
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::ManageSecrets)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    portal.tokens.delete(&caller, environment, &name, &confirmation).await.map_err(ssr::error)?;
    guard::back(return_to.as_deref());
    Ok(())
}

/// The value of a parameter (the latest version, or `version`). Admins only; audited before
/// it returns; never cached (`Cache-Control: no-store`).
#[server]
pub async fn reveal_token(
    env: String,
    name: String,
    version: Option<i64>,
) -> Result<RevealedValue, ApiError> {
    use backend::policy::Permission;

    use super::guard;

    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    }
    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::RevealSecret)?;
    let environment = portal.tokens.environment(&env).map_err(ssr::error)?;
    let revealed = portal.tokens.reveal(&caller, environment, &name, version).await.map_err(ssr::error)?;
    Ok(RevealedValue { version: revealed.version, value: revealed.value })
}

#[cfg(feature = "ssr")]
mod ssr {
    use backend::clock::Timestamp;
    use backend::kube::credential::ClusterToken;
    use backend::tokens::{Parameter, TokenError, Version};

    use super::super::guard;
    use crate::error::ApiError;
    use crate::model::tokens::{ClusterTokenView, ParameterRow, VersionRow};

    fn time(ms: Option<i64>) -> Option<String> {
        ms.map(|ms| Timestamp(ms).rfc3339())
    }

    pub fn row(p: Parameter) -> ParameterRow {
        ParameterRow {
            name: p.name,
            kind: p.kind,
            version: p.version,
            modified: time(p.modified_ms),
            modified_by: p.modified_by,
            key_id: p.key_id,
            tier: p.tier,
            description: p.description,
            allowed_pattern: p.allowed_pattern,
            labels: p.labels,
            tags: p.tags,
        }
    }

    pub fn version(v: Version) -> VersionRow {
        VersionRow {
            version: v.version,
            modified: time(v.modified_ms),
            modified_by: v.modified_by,
            labels: v.labels,
            key_id: v.key_id,
        }
    }

    pub fn cluster(c: ClusterToken) -> ClusterTokenView {
        let now = Timestamp::now().millis();
        let (state, expires_in) = match c.expires_ms {
            None => ("unknown", None),
            Some(at) => {
                let left = at - now;
                let state = if left <= 0 {
                    "bad"
                } else if left < i64::from(c.warn_days) * 86_400_000 {
                    "warn"
                } else {
                    "ok"
                };
                (state, Some(span(left)))
            }
        };
        ClusterTokenView {
            parameter: c.parameter,
            version: c.version,
            in_use: c.in_use,
            expires: time(c.expires_ms),
            expiry_state: state.to_owned(),
            expires_in,
            service_account: c.service_account,
            lifetime_hours: c.lifetime_hours,
            problem: c.problem,
        }
    }

    /// "in 3 days", "5 hours ago".
    fn span(ms: i64) -> String {
        let abs = ms.unsigned_abs() / 1000;
        let text = match abs {
            s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
            s if s >= 2 * 3600 => format!("{} hours", s / 3600),
            s => format!("{} minutes", s / 60),
        };
        if ms >= 0 { format!("in {text}") } else { format!("{text} ago") }
    }

    pub fn error(e: TokenError) -> ApiError {
        guard::with_status(match e {
            TokenError::Invalid(_)
            | TokenError::ConfirmationMismatch(_)
            | TokenError::PatternMismatch
            | TokenError::UnknownKey(_) => ApiError::Invalid(e.to_string()),
            TokenError::NotFound(_) | TokenError::VersionNotFound { .. } => ApiError::NotFound(e.to_string()),
            TokenError::AlreadyExists(_) | TokenError::Limit(_) | TokenError::ClusterToken { .. } => {
                ApiError::Refused(e.to_string())
            }
            TokenError::AccessDenied(_) | TokenError::Unreachable(_) | TokenError::Other(_) => {
                ApiError::Upstream(e.to_string())
            }
            TokenError::NotAudited => ApiError::Unavailable(e.to_string()),
        })
    }
}
