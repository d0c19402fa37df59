//! Change requests and their approvals (the Approvals page).

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::ChangeView;

/// The environment's waiting requests, oldest first, then the latest decided ones.
#[server]
pub async fn list_changes(env: String) -> Result<Vec<ChangeView>, ApiError> {
    use backend::clock::Timestamp;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::View)?;
    let requests = portal.changes.list(&env, 20, Timestamp::now()).await.map_err(ssr::error)?;
    Ok(requests.into_iter().map(|r| ssr::view(&portal, &caller.user, r)).collect())
}

/// Asks for a change. The fields are a form's: `kind` is one of deploy-image, rollback,
/// set-env, scale, restart, pause, resume, rotate-token, unblock (`commit`), and only the
/// fields it needs are read (the others may be left out). `block` (`yes`) blocks the commits
/// the change takes out of service once it has run (a rollback), for `block_reason` or else
/// the reason. `variables` holds `KEY=VALUE` lines, and `-KEY` lines
/// to remove a variable. `override_reason` (admins) requests through a lock or freeze.
/// `seen` is the deployment generation the requester's page showed; the request is refused if
/// the deployment has changed since. `return_to` is the page a plain form post goes back to
/// (the posting page otherwise).
#[server]
#[allow(clippy::too_many_arguments)] // One argument per form field, as the form posts them.
pub async fn request_change(
    env: String,
    kind: String,
    namespace: Option<String>,
    deployment: Option<String>,
    container: Option<String>,
    image: Option<String>,
    replicas: Option<String>,
    revision: Option<String>,
    variables: Option<String>,
    parameter: Option<String>,
    commit: Option<String>,
    reason: String,
    override_reason: Option<String>,
    seen: Option<String>,
    block: Option<String>,
    block_reason: Option<String>,
    return_to: Option<String>,
) -> Result<ChangeView, ApiError> {
    use backend::changes::Ask;
    use backend::clock::Timestamp;
    use backend::policy::Permission;

    use super::guard;

    let portal = guard::portal()?;
    let (caller, _) = guard::authorize(&portal, &env, Permission::RequestChange)?;
    let field = Option::unwrap_or_default;
    let fields = ssr::Fields {
        namespace: field(namespace),
        deployment: field(deployment),
        container: field(container),
        image: field(image),
        replicas: field(replicas),
        revision: field(revision),
        variables: field(variables),
        parameter: field(parameter),
        commit: field(commit),
    };
    let action = ssr::action(&kind, fields).map_err(|e| guard::with_status(ApiError::Invalid(e)))?;
    let override_reason = override_reason.filter(|r| !r.trim().is_empty());
    let block = (block.as_deref() == Some("yes"))
        .then(|| block_reason.filter(|r| !r.trim().is_empty()).unwrap_or_else(|| reason.clone()));
    let request = portal
        .changes
        .request(
            &caller,
            &env,
            Ask {
                action,
                reason: &reason,
                override_reason: override_reason.as_deref(),
                seen: seen.as_deref(),
                block: block.as_deref(),
            },
            Timestamp::now(),
        )
        .await
        .map_err(ssr::error)?;
    guard::back(return_to.as_deref());
    Ok(ssr::view(&portal, &caller.user, request))
}

/// Approves someone else's request; the approval that completes the count runs it.
#[server]
pub async fn approve_change(id: String, comment: String) -> Result<ChangeView, ApiError> {
    use backend::clock::Timestamp;

    use super::guard;

    let portal = guard::portal()?;
    let caller = guard::signed_in()?;
    let request =
        portal.changes.approve(&caller, &id, &comment, Timestamp::now()).await.map_err(ssr::error)?;
    Ok(ssr::view(&portal, &caller.user, request))
}

/// Rejects a waiting request; it will not run.
#[server]
pub async fn reject_change(id: String, comment: String) -> Result<ChangeView, ApiError> {
    use backend::clock::Timestamp;

    use super::guard;

    let portal = guard::portal()?;
    let caller = guard::signed_in()?;
    let request =
        portal.changes.reject(&caller, &id, &comment, Timestamp::now()).await.map_err(ssr::error)?;
    Ok(ssr::view(&portal, &caller.user, request))
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::collections::BTreeMap;

    use backend::Portal;
    use backend::changes::{Change, ChangeError, ExecuteError, may_decide};
    use backend::clock::Timestamp;
    use backend::dispatch::{Action, ChangeRequest};
    use backend::image_ref::ImageRef;
    use backend::kube::change::DeploymentChange;
    use backend::kube::names::{ContainerName, DeploymentName, Namespace};
    use backend::policy::blocked::{BlockChange, CommitHash};
    use backend::tokens::change::TokenChange;

    use super::super::guard;
    use crate::error::ApiError;
    use crate::model::{Allowed, ChangeView, DecisionView};

    pub struct Fields {
        pub namespace: String,
        pub deployment: String,
        pub container: String,
        pub image: String,
        pub replicas: String,
        pub revision: String,
        pub variables: String,
        pub parameter: String,
        pub commit: String,
    }

    /// The typed action a form describes; the message names the field. The one parser of
    /// change forms: the deployment pages and the tokens page post here.
    pub fn action(kind: &str, f: Fields) -> Result<Action, String> {
        fn named<T>(field: &str, parsed: Result<T, String>) -> Result<T, String> {
            parsed.map_err(|e| format!("{field}: {e}."))
        }
        let number = |field: &str, text: &str| -> Result<u32, String> {
            text.trim().parse().map_err(|_| format!("{field}: {:?} is not a whole number.", text.trim()))
        };
        let namespace = || named("Namespace", Namespace::parse(&f.namespace));
        let deployment = || named("Deployment", DeploymentName::parse(&f.deployment));
        let container = || named("Container", ContainerName::parse(&f.container));
        Ok(match kind {
            "deploy-image" => Action::Deployment(DeploymentChange::DeployImage {
                namespace: namespace()?,
                deployment: deployment()?,
                container: container()?,
                image: named("Image", ImageRef::parse(&f.image))?,
            }),
            "rollback" => Action::Deployment(DeploymentChange::Rollback {
                namespace: namespace()?,
                deployment: deployment()?,
                revision: number("Revision", &f.revision)?,
            }),
            "set-env" => {
                let mut set = BTreeMap::new();
                let mut unset = Vec::new();
                for line in f.variables.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    if let Some(name) = line.strip_prefix('-') {
                        unset.push(name.trim().to_owned());
                    } else if let Some((k, v)) = line.split_once('=') {
                        set.insert(k.trim().to_owned(), v.to_owned());
                    } else {
                        return Err(format!("Variables: {line:?} is neither KEY=VALUE nor -KEY."));
                    }
                }
                Action::Deployment(DeploymentChange::SetEnv {
                    namespace: namespace()?,
                    deployment: deployment()?,
                    container: container()?,
                    set,
                    unset,
                })
            }
            "scale" => Action::Deployment(DeploymentChange::Scale {
                namespace: namespace()?,
                deployment: deployment()?,
                replicas: number("Replicas", &f.replicas)?,
            }),
            "restart" => Action::Deployment(DeploymentChange::Restart {
                namespace: namespace()?,
                deployment: deployment()?,
            }),
            "pause" => Action::Deployment(DeploymentChange::Pause {
                namespace: namespace()?,
                deployment: deployment()?,
            }),
            "resume" => Action::Deployment(DeploymentChange::Resume {
                namespace: namespace()?,
                deployment: deployment()?,
            }),
            "rotate-token" => {
                Action::Token(TokenChange::RotateToken { parameter: f.parameter.trim().to_owned() })
            }
            "unblock" => {
                Action::Block(BlockChange::Unblock { commit: named("Commit", CommitHash::parse(&f.commit))? })
            }
            other => return Err(format!("{other:?} is not a kind of change.")),
        })
    }

    pub fn error(e: ChangeError) -> ApiError {
        guard::with_status(match e {
            ChangeError::Denied(denied) => match guard::portal() {
                Ok(portal) => guard::denied_error(&portal, denied),
                Err(e) => e,
            },
            ChangeError::Invalid(_) | ChangeError::NoReason | ChangeError::TooLong(_) => {
                ApiError::Invalid(e.to_string())
            }
            ChangeError::NotFound(_) => ApiError::NotFound(e.to_string()),
            // The one place a system's failure becomes a status: try again later (502),
            // nothing to find (404), or the change does not go through as asked (409).
            ChangeError::Preview(ExecuteError::Unreachable(_) | ExecuteError::Forbidden(_)) => {
                ApiError::Upstream(e.to_string())
            }
            ChangeError::Preview(ExecuteError::NotFound(_)) => ApiError::NotFound(e.to_string()),
            ChangeError::Held(_)
            | ChangeError::Blocked(_)
            | ChangeError::Preview(_)
            | ChangeError::SelfApproval
            | ChangeError::AlreadyDecided
            | ChangeError::Expired(_)
            | ChangeError::NotPending(_) => ApiError::Refused(e.to_string()),
            ChangeError::Store(store) => return guard::internal("the change request", store),
            ChangeError::Aborted(why) => return guard::internal("carrying out the change", why),
        })
    }

    pub fn view(portal: &Portal, user: &str, r: ChangeRequest) -> ChangeView {
        let can_decide = match may_decide(&portal.config, &r, user, Timestamp::now()) {
            Ok(()) => Allowed::Yes,
            Err(why) => Allowed::No(why.to_string()),
        };
        ChangeView {
            kind: r.action.label().to_owned(),
            description: r.action.describe(),
            id: r.id,
            target: r.target,
            before: r.before,
            after: r.after,
            reason: r.reason,
            requested_by: r.requested_by,
            requested_at: Timestamp(r.requested_at).rfc3339(),
            expires_at: Timestamp(r.expires_at).rfc3339(),
            required_approvals: r.required_approvals,
            approvals: r.approval_count,
            state: r.state.as_str().to_owned(),
            decisions: r
                .decisions
                .into_iter()
                .map(|d| DecisionView {
                    by: d.by,
                    approved: d.approved,
                    comment: d.comment,
                    at: Timestamp(d.at).rfc3339(),
                })
                .collect(),
            outcome: r.outcome,
            override_reason: r.override_reason,
            can_decide,
        }
    }
}
