//! Tokens: the release secrets kept in SSM Parameter Store under an environment's prefixes,
//! and the cluster token among them.
//!
//! - [`rules`]: Parameter Store's name, value, pattern, label and tag rules, in words.
//! - [`change`]: the rotation people ask for through the change desk.
//! - [`error`]: [`TokenError`], AWS's errors mapped to words that never carry a value.
//! - [`parameters`]: the SDK calls, typed ([`ParameterStore`]); no value leaves it except
//!   through [`ParameterStore::value`].
//!
//! The cluster token (the bearer token an environment's cluster is reached with) is a
//! parameter like the others here; its expiry and rotation need the cluster too, so they
//! live with the cluster's client in `crate::kube::credential`.
//!
//! Who may do what (written here because it is the rule every server function of the Tokens
//! page applies, see [`crate::policy::Permission`]): anyone with a role in the environment
//! browses names, metadata and history (never values); creating, rotating, labelling and
//! deleting parameters, and revealing a value, are for admins only — a secret changed or
//! read by mistake is not undone by a rollback. Rotating the cluster token is a change
//! request an admin makes; on a protected environment it waits for an approver, as every
//! change there does.
//!
//! Every change and every reveal is audited; a reveal is audited before its value is
//! returned, and refused when the record cannot be written. No value is ever logged or put in
//! an audit record or an error.

pub mod change;
pub mod error;
pub mod parameters;
pub mod rules;

use std::sync::Arc;

pub use error::TokenError;
pub use parameters::{NewParameter, Parameter, ParameterStore, Version};
use rules::{Kind, ParameterName, Tier};

use crate::audit::{self, Caller, Outcome, Record};
use crate::aws::AwsClients;
use crate::clock::Timestamp;
use crate::config::{Config, Environment};
use crate::store::Store;

/// What a person filled in to create a parameter (the form's fields, unchecked).
#[derive(Debug, Clone, Default)]
pub struct CreateForm {
    pub name: String,
    pub kind: String,
    pub value: String,
    pub key_id: String,
    pub description: String,
    pub tags: String,
    pub allowed_pattern: String,
    pub tier: String,
}

/// A revealed value: handed only to the reveal's response.
pub struct Revealed {
    pub value: String,
    pub version: i64,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Revealed {{ version: {}, value: **** }}", self.version)
    }
}

/// Parameter Store for every environment: its clients, the store the audit goes to.
#[derive(Clone)]
pub struct Tokens {
    config: Arc<Config>,
    aws: AwsClients,
    store: Store,
}

impl Tokens {
    pub fn new(config: Arc<Config>, aws: AwsClients, store: Store) -> Self {
        Self { config, aws, store }
    }

    /// The Parameter Store of `env` (its client is built once, see [`AwsClients`]).
    pub async fn parameters(&self, env: &Environment) -> ParameterStore {
        ParameterStore::new(self.aws.ssm(env).await)
    }

    pub fn environment(&self, name: &str) -> Result<&Environment, TokenError> {
        self.config
            .environment(name)
            .ok_or_else(|| TokenError::Invalid(format!("there is no environment {name}")))
    }

    /// Every parameter under the environment's prefixes, by name, with labels and tags.
    pub async fn list(&self, env: &Environment) -> Result<Vec<Parameter>, TokenError> {
        let store = self.parameters(env).await;
        let mut all = Vec::new();
        for prefix in &env.ssm_prefixes {
            all.extend(store.list(prefix).await?);
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all.dedup_by(|a, b| a.name == b.name);
        let decorated = futures_util::future::join_all(all.into_iter().map(|mut p| {
            let store = store.clone();
            async move {
                store.decorate(&mut p).await?;
                Ok::<_, TokenError>(p)
            }
        }))
        .await;
        decorated.into_iter().collect()
    }

    /// One parameter and its history (oldest version first), without values.
    pub async fn detail(
        &self,
        env: &Environment,
        name: &str,
    ) -> Result<(Parameter, Vec<Version>), TokenError> {
        let name = ParameterName::parse(name, env).map_err(TokenError::Invalid)?;
        let store = self.parameters(env).await;
        let parameter = store.describe(name.as_str()).await?;
        let history = store.history(name.as_str()).await?;
        Ok((parameter, history))
    }

    /// Creates a parameter from the form.
    pub async fn create(
        &self,
        caller: &Caller,
        env: &Environment,
        form: &CreateForm,
    ) -> Result<i64, TokenError> {
        let target = form.name.trim().to_owned();
        let checked = (|| {
            let name = ParameterName::parse(&form.name, env)?;
            let kind = Kind::parse(form.kind.trim())?;
            let tier = Tier::parse(form.tier.trim())?;
            let pattern = Some(form.allowed_pattern.trim()).filter(|p| !p.is_empty());
            if let Some(p) = pattern {
                rules::check_pattern(p)?;
            }
            rules::check_value(&form.value, tier, pattern)?;
            let description = Some(form.description.trim()).filter(|d| !d.is_empty());
            if let Some(d) = description {
                rules::check_description(d)?;
            }
            let key_id = Some(form.key_id.trim()).filter(|k| !k.is_empty());
            if let Some(k) = key_id {
                if kind != Kind::SecureString {
                    return Err("a KMS key is only for a SecureString".to_owned());
                }
                rules::check_key_id(k)?;
            }
            let tags = rules::parse_tags(&form.tags)?;
            Ok((name, kind, tier, pattern, description, key_id, tags))
        })();
        let (name, kind, tier, pattern, description, key_id, tags) = match checked {
            Ok(c) => c,
            Err(e) => {
                return self.refused(caller, env, "token.create", &target, TokenError::Invalid(e)).await;
            }
        };
        if let Err(e) = self.not_a_cluster_token(&name) {
            return self.refused(caller, env, "token.create", name.as_str(), e).await;
        }
        let new = NewParameter {
            name: name.as_str(),
            kind,
            value: &form.value,
            key_id,
            description,
            allowed_pattern: pattern,
            tier,
            tags: &tags,
        };
        let result = self.parameters(env).await.create(&new).await;
        let after = format!(
            "{} {}{}, {} tier",
            kind.as_str(),
            name,
            key_id.map(|k| format!(" under {k}")).unwrap_or_default(),
            tier.as_str()
        );
        self.audited(caller, env, "token.create", name.as_str(), result, |v| {
            (None, Some(format!("{after}, version {v}")))
        })
        .await
    }

    /// Gives a parameter a new value: a new version.
    pub async fn rotate(
        &self,
        caller: &Caller,
        env: &Environment,
        name: &str,
        value: &str,
    ) -> Result<i64, TokenError> {
        let name = match ParameterName::parse(name, env) {
            Ok(n) => n,
            Err(e) => return self.refused(caller, env, "token.rotate", name, TokenError::Invalid(e)).await,
        };
        if let Err(e) = self.not_a_cluster_token(&name) {
            return self.refused(caller, env, "token.rotate", name.as_str(), e).await;
        }
        let store = self.parameters(env).await;
        let current = store.describe(name.as_str()).await?;
        let tier = if current.tier == "Advanced" { Tier::Advanced } else { Tier::Standard };
        if let Err(e) = rules::check_value(value, tier, current.allowed_pattern.as_deref()) {
            return self.refused(caller, env, "token.rotate", name.as_str(), TokenError::Invalid(e)).await;
        }
        let result = store.rotate(&current, value).await;
        let before = format!("version {}", current.version);
        self.audited(caller, env, "token.rotate", name.as_str(), result, |v| {
            (Some(before.clone()), Some(format!("version {v}")))
        })
        .await
    }

    /// Attaches labels (one per line or comma-separated) to a version.
    pub async fn label(
        &self,
        caller: &Caller,
        env: &Environment,
        name: &str,
        version: i64,
        labels: &str,
    ) -> Result<(), TokenError> {
        let labels: Vec<String> =
            labels.split([',', '\n']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let checked = ParameterName::parse(name, env).and_then(|n| {
            rules::check_labels(&labels)?;
            if version < 1 {
                return Err("versions start at 1".into());
            }
            Ok(n)
        });
        let name = match checked {
            Ok(n) => n,
            Err(e) => return self.refused(caller, env, "token.label", name, TokenError::Invalid(e)).await,
        };
        let result = self.parameters(env).await.label(name.as_str(), version, &labels).await;
        let after = format!("{} on version {version}", labels.join(", "));
        self.audited(caller, env, "token.label", name.as_str(), result, |_| (None, Some(after.clone()))).await
    }

    /// Deletes a parameter and its history; `confirmation` must repeat its name.
    pub async fn delete(
        &self,
        caller: &Caller,
        env: &Environment,
        name: &str,
        confirmation: &str,
    ) -> Result<(), TokenError> {
        let name = match ParameterName::parse(name, env) {
            Ok(n) => n,
            Err(e) => return self.refused(caller, env, "token.delete", name, TokenError::Invalid(e)).await,
        };
        if confirmation.trim() != name.as_str() {
            let e = TokenError::ConfirmationMismatch(name.to_string());
            return self.refused(caller, env, "token.delete", name.as_str(), e).await;
        }
        if let Err(e) = self.not_a_cluster_token(&name) {
            return self.refused(caller, env, "token.delete", name.as_str(), e).await;
        }
        let store = self.parameters(env).await;
        let before =
            store.describe(name.as_str()).await.map(|p| format!("{} version {}", p.kind, p.version)).ok();
        let result = store.delete(name.as_str()).await;
        self.audited(caller, env, "token.delete", name.as_str(), result, |_| {
            (before.clone(), Some("deleted".into()))
        })
        .await
    }

    /// The value of a parameter, for an admin who asked to see it. The reveal is audited
    /// before the value is returned; when the record cannot be written, nothing is shown.
    pub async fn reveal(
        &self,
        caller: &Caller,
        env: &Environment,
        name: &str,
        version: Option<i64>,
    ) -> Result<Revealed, TokenError> {
        let name = match ParameterName::parse(name, env) {
            Ok(n) => n,
            Err(e) => return self.refused(caller, env, "token.reveal", name, TokenError::Invalid(e)).await,
        };
        let now = Timestamp::now();
        let (value, version) = match self.parameters(env).await.value(name.as_str(), version).await {
            Ok(v) => v,
            Err(e) => {
                let record = Record::new(caller, "token.reveal", Outcome::Failed, now)
                    .environment(&env.name)
                    .target(name.as_str())
                    .detail(e.to_string());
                audit::append_alone(&self.store, &record).await.map_err(|_| TokenError::NotAudited)?;
                return Err(e);
            }
        };
        let record = Record::new(caller, "token.reveal", Outcome::Succeeded, now)
            .environment(&env.name)
            .target(name.as_str())
            .detail(format!("value of version {version} shown"));
        if let Err(e) = audit::append_alone(&self.store, &record).await {
            tracing::error!(error = %e, parameter = %name, "a reveal could not be audited; refused");
            return Err(TokenError::NotAudited);
        }
        Ok(Revealed { value, version })
    }

    /// Refuses a direct write (create, put, delete) to a parameter any environment reaches
    /// its cluster with, whichever environment's page it comes from: swapping that credential
    /// is a rotation, and a rotation is a change request. Labels are not refused: Rollgate
    /// reads the parameter's latest version by name (a cluster token setting cannot name a
    /// label), so moving a label never changes what it uses.
    fn not_a_cluster_token(&self, name: &ParameterName) -> Result<(), TokenError> {
        match self.config.environments.iter().find(|e| e.cluster.token_parameter() == Some(name.as_str())) {
            Some(env) => Err(TokenError::ClusterToken {
                parameter: name.to_string(),
                environment: env.title().to_owned(),
            }),
            None => Ok(()),
        }
    }

    async fn refused<T>(
        &self,
        caller: &Caller,
        env: &Environment,
        action: &str,
        target: &str,
        error: TokenError,
    ) -> Result<T, TokenError> {
        let record = Record::new(caller, action, Outcome::Refused, Timestamp::now())
            .environment(&env.name)
            .target(target)
            .detail(error.to_string());
        if let Err(e) = audit::append_alone(&self.store, &record).await {
            tracing::error!(error = %e, "cannot audit a refused token change");
        }
        Err(error)
    }

    /// Records how a change went, then returns its result.
    async fn audited<T>(
        &self,
        caller: &Caller,
        env: &Environment,
        action: &str,
        target: &str,
        result: Result<T, TokenError>,
        change: impl Fn(&T) -> (Option<String>, Option<String>),
    ) -> Result<T, TokenError> {
        let now = Timestamp::now();
        let record = match &result {
            Ok(v) => {
                let (before, after) = change(v);
                Record::new(caller, action, Outcome::Succeeded, now).change(before, after)
            }
            Err(e) => Record::new(caller, action, Outcome::Failed, now).detail(e.to_string()),
        }
        .environment(&env.name)
        .target(target);
        if let Err(e) = audit::append_alone(&self.store, &record).await {
            tracing::error!(error = %e, %action, %target, "cannot audit a token change");
            return Err(TokenError::Other(format!(
                "the change was made but could not be recorded in the audit trail ({action} {target})"
            )));
        }
        result
    }
}
