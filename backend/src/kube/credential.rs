//! The cluster token: the bearer token Rollgate (and the walk-through's Lambda) reaches an
//! environment's cluster with, kept as a SecureString in SSM.
//!
//! Rotating it is a change request ([`TokenChange::RotateToken`] naming that parameter), so a
//! protected environment's four-eyes rule applies; [`Rotation`] carries it out. It lives here,
//! with the cluster's client, because it needs both the cluster and Parameter Store, and the
//! cluster's client already reads its token through `tokens`. Carried out, it goes step by step, each
//! step audited: ask the cluster for a fresh ServiceAccount token (TokenRequest, with the
//! configured lifetime); verify it with an authenticated read of every namespace Rollgate
//! shows; write it as a new version of the parameter (same type and KMS key), tagging when it
//! expires; switch Rollgate's client to it. Nothing is written before the new token has been
//! verified, and the client is switched only after the write, so a failure at any step leaves
//! the old token in SSM and in use (the unused new token simply expires).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{ListParams, PostParams};

use super::{ClusterError, Clusters};
use crate::audit::{self, Caller, Outcome, Record};
use crate::changes::executor::BoxFuture;
use crate::changes::{ExecuteError, Executed, Executor, Origin, Preview};
use crate::clock::Timestamp;
use crate::config::Environment;
use crate::store::Store;
use crate::tokens::change::TokenChange;
use crate::tokens::{Parameter, Tokens};

/// The tag that records when the token a parameter holds expires (TokenRequest says), for
/// tokens that do not say it themselves (a ServiceAccount token is a JWT whose `exp` does).
pub const EXPIRES_TAG: &str = "expires-at";

/// What the Tokens page shows about an environment's cluster token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterToken {
    pub parameter: String,
    /// The parameter's latest version; `None` when it cannot be read.
    pub version: Option<i64>,
    /// The version Rollgate's client uses now, when a client has been built.
    pub in_use: Option<i64>,
    pub expires_ms: Option<i64>,
    pub warn_days: u32,
    pub service_account: String,
    pub lifetime_hours: u32,
    /// Why the parameter could not be read, in words.
    pub problem: Option<String>,
}

/// The ServiceAccount (namespace, name) whose token the environment's cluster token is.
pub fn service_account(env: &Environment) -> (String, String) {
    let ns =
        env.cluster_token.namespace.clone().or_else(|| env.namespaces.first().cloned()).unwrap_or_default();
    (ns, env.cluster_token.service_account.clone())
}

/// The environment's cluster token and when it expires; `None` when the cluster's token is
/// not kept in SSM. Nothing is decrypted for it: the expiry is the one Rollgate read when it
/// took the token into use (its client of the cluster, built here if none is yet), or, for a
/// newer version it has not taken up, the `expires-at` tag.
pub async fn status(tokens: &Tokens, clusters: &Clusters, env: &Environment) -> Option<ClusterToken> {
    let parameter = env.cluster.token_parameter()?.to_owned();
    let (ns, sa) = service_account(env);
    if let Err(e) = clusters.client(&env.name).await {
        tracing::warn!(environment = %env.name, error = %e, "no cluster client to read the token's expiry from");
    }
    let in_use = clusters.token_in_use(&env.name);
    let mut status = ClusterToken {
        parameter: parameter.clone(),
        version: None,
        in_use: in_use.map(|(version, _)| version),
        expires_ms: None,
        warn_days: env.cluster_token.warn_days,
        service_account: format!("{ns}/{sa}"),
        lifetime_hours: env.cluster_token.lifetime_hours,
        problem: None,
    };
    match tokens.parameters(env).await.describe(&parameter).await {
        Ok(p) => {
            status.version = Some(p.version);
            let read_in_use = in_use.filter(|(version, _)| *version == p.version).and_then(|(_, at)| at);
            status.expires_ms = read_in_use.or_else(|| expiry_of(&p));
        }
        Err(e) => status.problem = Some(e.to_string()),
    }
    Some(status)
}

fn expiry_of(p: &Parameter) -> Option<i64> {
    let (_, at) = p.tags.iter().find(|(k, _)| k == EXPIRES_TAG)?;
    Timestamp::parse_rfc3339(at).ok().map(Timestamp::millis)
}

/// Carries out a cluster token's rotation, step by step (see the module's notes).
pub struct Rotation {
    clusters: Clusters,
    tokens: Tokens,
    store: Store,
}

impl Rotation {
    pub fn new(clusters: Clusters, tokens: Tokens, store: Store) -> Self {
        Self { clusters, tokens, store }
    }
}

impl Executor<TokenChange> for Rotation {
    fn preview<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a TokenChange,
        seen: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Preview, ExecuteError>> {
        let TokenChange::RotateToken { parameter } = action;
        Box::pin(self.preview_of(env, parameter, seen))
    }

    fn execute<'a>(
        &'a self,
        env: &'a Environment,
        action: &'a TokenChange,
        before: &'a str,
        origin: &'a Origin,
    ) -> BoxFuture<'a, Result<Executed, ExecuteError>> {
        let TokenChange::RotateToken { parameter } = action;
        Box::pin(self.rotate(env, parameter, before, origin))
    }
}

impl Rotation {
    /// The parameter, checked to be the environment's cluster token, as it is now.
    async fn current(&self, env: &Environment, parameter: &str) -> Result<Parameter, ExecuteError> {
        if env.cluster.token_parameter() != Some(parameter) {
            return Err(ExecuteError::Refused(match env.cluster.token_parameter() {
                Some(p) => format!(
                    "only {p}, the token of {}'s cluster, is rotated by a change request; give {parameter} a new version on the Tokens page",
                    env.name
                ),
                None => {
                    format!("{}'s cluster token is not kept in SSM, so Rollgate cannot rotate it", env.name)
                }
            }));
        }
        Ok(self.tokens.parameters(env).await.describe(parameter).await?)
    }

    fn before(p: &Parameter) -> String {
        format!("{} version {}", p.name, p.version)
    }

    async fn preview_of(
        &self,
        env: &Environment,
        parameter: &str,
        seen: Option<&str>,
    ) -> Result<Preview, ExecuteError> {
        let current = self.current(env, parameter).await?;
        let version = current.version.to_string();
        if let Some(seen) = seen.filter(|s| !s.is_empty())
            && seen != version
        {
            return Err(ExecuteError::Conflict(format!(
                "{parameter} changed since your page showed it (version {seen}, now {version}). Reload the page and check it before asking again"
            )));
        }
        let (ns, sa) = service_account(env);
        Ok(Preview {
            before: Self::before(&current),
            after: format!(
                "a new token of ServiceAccount {ns}/{sa}, valid {} h, verified, as version {}, used by Rollgate",
                env.cluster_token.lifetime_hours,
                current.version + 1
            ),
            version,
            releases: Vec::new(),
            retires: Vec::new(),
        })
    }

    async fn step(
        &self,
        env: &Environment,
        origin: &Origin,
        step: &str,
        parameter: &str,
        result: Result<String, String>,
    ) -> Result<(), ExecuteError> {
        let (outcome, detail) = match &result {
            Ok(d) => (Outcome::Succeeded, d.clone()),
            Err(e) => (Outcome::Failed, e.clone()),
        };
        let record = Record::new(&Caller::new("rollgate"), step, outcome, Timestamp::now())
            .environment(&env.name)
            .target(parameter)
            .detail(format!("change {} ({}): {detail}", origin.change, origin.by));
        audit::append_alone(&self.store, &record).await.map_err(|e| {
            ExecuteError::Unreachable(format!("cannot record {step} in the audit trail: {e}"))
        })?;
        result.map(|_| ()).map_err(ExecuteError::Unreachable)
    }

    async fn rotate(
        &self,
        env: &Environment,
        parameter: &str,
        before: &str,
        origin: &Origin,
    ) -> Result<Executed, ExecuteError> {
        let current = self.current(env, parameter).await?;
        if Self::before(&current) != before {
            return Err(ExecuteError::Conflict(format!(
                "{parameter} changed since this was requested: it was {before}, it is {} now. Request the rotation again",
                Self::before(&current)
            )));
        }
        let (ns, sa) = service_account(env);
        let lifetime = i64::from(env.cluster_token.lifetime_hours) * 3600;

        // 1. A fresh token, asked for with the credentials in use now.
        let issued = async {
            let client = self.clusters.client(&env.name).await?;
            let request = TokenRequest {
                spec: Some(TokenRequestSpec { expiration_seconds: Some(lifetime), ..Default::default() }),
                ..Default::default()
            };
            let api = Api::<ServiceAccount>::namespaced(client, &ns);
            api.create_token_request(&sa, &PostParams::default(), &request).await.map_err(|e| {
                let e = ClusterError::from(e);
                self.clusters.saw(&env.name, &e);
                e
            })
        }
        .await;
        let answer = issued.map(|r| {
            r.status.and_then(|s| Some((s.token.filter(|t| !t.is_empty())?, s.expiration_timestamp?)))
        });
        let (token, expires) = match answer {
            Ok(Some((token, expires))) => (token, Timestamp(expires.0.as_millisecond())),
            Ok(_) => {
                return self
                    .fail(
                        env,
                        origin,
                        "token.cluster.request",
                        parameter,
                        "the cluster answered without a token".into(),
                    )
                    .await;
            }
            Err(e) => return self.fail(env, origin, "token.cluster.request", parameter, e.to_string()).await,
        };
        self.step(
            env,
            origin,
            "token.cluster.request",
            parameter,
            Ok(format!("new token of ServiceAccount {ns}/{sa}, expires at {}", expires.rfc3339())),
        )
        .await?;

        // 2. Verified: the new token reads what Rollgate reads.
        let verified = async {
            let client = self.clusters.client_with_token(&env.name, &token).await?;
            for namespace in &env.namespaces {
                Api::<Deployment>::namespaced(client.clone(), namespace)
                    .list(&ListParams::default().limit(1))
                    .await
                    .map_err(ClusterError::from)?;
            }
            Ok::<_, ClusterError>(client)
        }
        .await;
        let client = match verified {
            Ok(client) => client,
            Err(e) => {
                return self
                    .fail(
                        env,
                        origin,
                        "token.cluster.verify",
                        parameter,
                        format!("the new token does not work: {e}"),
                    )
                    .await;
            }
        };
        self.step(
            env,
            origin,
            "token.cluster.verify",
            parameter,
            Ok(format!("the new token lists deployments in {}", env.namespaces.join(", "))),
        )
        .await?;

        // 3. Written as a new version; until this succeeds the old token stays.
        let store = self.tokens.parameters(env).await;
        let version = match store.rotate(&current, &token).await {
            Ok(v) => v,
            Err(e) => {
                return self
                    .fail(
                        env,
                        origin,
                        "token.cluster.write",
                        parameter,
                        format!("{e} The old token stays in use."),
                    )
                    .await;
            }
        };
        let tagged = store.tag(parameter, EXPIRES_TAG, &expires.rfc3339()).await;
        self.step(
            env,
            origin,
            "token.cluster.write",
            parameter,
            Ok(format!(
                "version {version} written (was {}){}",
                current.version,
                match &tagged {
                    Ok(()) => String::new(),
                    Err(e) => format!("; its expiry could not be tagged: {e}"),
                }
            )),
        )
        .await?;

        // 4. Rollgate uses it from now on.
        self.clusters.switch(&env.name, client, version, Some(expires.millis()));
        self.step(
            env,
            origin,
            "token.cluster.switch",
            parameter,
            Ok(format!("Rollgate now uses version {version}")),
        )
        .await?;
        Ok(Executed::new(format!(
            "{parameter} version {version} in use; it expires at {}",
            expires.rfc3339()
        )))
    }

    async fn fail(
        &self,
        env: &Environment,
        origin: &Origin,
        step: &str,
        parameter: &str,
        why: String,
    ) -> Result<Executed, ExecuteError> {
        self.step(env, origin, step, parameter, Err(why.clone())).await?;
        Err(ExecuteError::Unreachable(why))
    }
}

#[cfg(test)]
mod tests {
    use crate::kube::client::jwt_expiry;

    #[test]
    fn a_service_account_jwt_says_when_it_expires() {
        // {"alg":"RS256"} . {"sub":"system:serviceaccount:staging:rollgate-deployer","exp":1800000000} . sig
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c3RhZ2luZzpyb2xsZ2F0ZS1kZXBsb3llciIsImV4cCI6MTgwMDAwMDAwMH0.c2ln";
        assert_eq!(jwt_expiry(token), Some(1_800_000_000_000));
        assert_eq!(jwt_expiry("0123456789abcdef"), None, "an opaque token");
        assert_eq!(jwt_expiry("a.!!!.c"), None);
        assert_eq!(jwt_expiry("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), None, "no exp claim");
    }
}
