//! Single sign-on through an OpenID Connect provider: the authorization code flow with PKCE.
//!
//! [`Sso::begin`] finds the provider (discovery, cached for an hour), makes a state, a nonce
//! and a PKCE verifier, keeps them in the store under the hash of a random value the browser
//! holds in a short-lived cookie, and names the provider's URL to send the browser to.
//! [`Sso::finish`] takes that record back (once), checks the state, exchanges the code with
//! the verifier, verifies the ID token (signature against the provider's keys, issuer,
//! audience, expiry and issue time within [`CLOCK_LEEWAY_SECS`], nonce), and signs the person
//! in with a server-side session exactly as a password does. Every outcome is audited.
//!
//! Accounts: the first sign-in makes an account without a password, named by the configured
//! claim and bound to the provider's subject; a local account of that name, or one bound to
//! another subject, is never taken over, and neither is a name the configuration gives roles
//! to unless `auth.oidc.names` binds it to this identity (see [`crate::config::NameRefusal`]).
//! The groups the ID token lists, and the email when the provider marks it verified, are kept
//! with the account; [`crate::Config::role_of`] maps them to roles.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken,
    IdTokenClaims, IdTokenFields, IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use url::Url;

use super::UserName;
use super::sessions::{self, SessionPolicy, SessionToken};
use crate::audit::{self, Caller, Outcome, Record};
use crate::clock::Timestamp;
use crate::config::{Config, ConfigError, NameRefusal, OidcIssuer, OidcSettings, SsoIdentity, UsernameClaim};
use crate::ids::cookie_hash;
use crate::store::{Store, StoreError};

/// The cookie that ties a sign-in under way to the browser that started it.
pub const LOGIN_COOKIE: &str = "rollgate-sso";
/// How long a person has at the provider before the sign-in must be started again.
pub const LOGIN_SECS: i64 = 600;
/// How long the provider's discovery document and keys are trusted before fetching again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How far the provider's clock and Rollgate's may disagree: an ID token is accepted until
/// this long after its `exp`, and may say it was issued up to this long after Rollgate's now.
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// Why single sign-on did not sign someone in, in words for the sign-in page.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("The identity provider cannot be reached just now: {0}")]
    Unreachable(String),
    #[error("This sign-in was not started in this browser or took more than ten minutes; start again.")]
    LoginExpired,
    #[error("The identity provider's answer does not belong to this sign-in; start again.")]
    StateMismatch,
    #[error("The identity provider did not sign you in: {0}")]
    Denied(String),
    #[error("The identity provider refused to complete the sign-in: {0}")]
    Exchange(String),
    #[error("The identity provider's ID token cannot be trusted: {0}")]
    BadToken(String),
    #[error("The identity provider gave no usable user name: {0}")]
    BadName(String),
    #[error("The name {0} belongs to another account in Rollgate; ask an admin.")]
    NameTaken(String),
    #[error("The name {name} {why}; ask an admin to bind it to you under auth.oidc.names.")]
    NameNotYours { name: String, why: NameRefusal },
    #[error("The account {0} is disabled.")]
    Disabled(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SsoError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

impl SsoError {
    /// A short code for the sign-in page's query (the page words it; a link cannot make it
    /// say anything else).
    pub fn code(&self) -> &'static str {
        match self {
            SsoError::Unreachable(_) => "sso-unreachable",
            SsoError::LoginExpired => "sso-expired",
            SsoError::StateMismatch => "sso-state",
            SsoError::Denied(_) => "sso-denied",
            SsoError::Exchange(_) => "sso-exchange",
            SsoError::BadToken(_) => "sso-token",
            SsoError::BadName(_) => "sso-name",
            SsoError::NameTaken(_) => "sso-taken",
            SsoError::NameNotYours { .. } => "sso-unbound",
            SsoError::Disabled(_) => "sso-disabled",
            SsoError::Store(_) => "unavailable",
        }
    }
}

/// The registration the embedded sandbox's issuer made for Rollgate.
#[derive(Debug, Clone)]
pub struct SandboxIssuer {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// The claims beyond the standard ones, where the groups claim is found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type SsoIdToken =
    IdToken<OtherClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type SsoClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderReply {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// A sign-in sent to the provider.
#[derive(Debug)]
pub struct Begun {
    /// Where to send the browser.
    pub authorize_url: Url,
    /// The value of [`LOGIN_COOKIE`] for that browser.
    pub cookie: String,
}

/// A person signed in through the provider.
#[derive(Debug)]
pub struct Finished {
    pub user: UserName,
    pub token: SessionToken,
    /// Who the provider said they are, and their groups, as now kept with the account.
    pub identity: SsoIdentity,
    /// Where they were going when the sign-in began.
    pub next: String,
}

/// How far a callback got, for its audit record.
#[derive(Default)]
struct Attempt {
    /// A sign-in begun here was found for it.
    started: bool,
    /// Who the provider said it was, once known.
    who: String,
}

/// The configured provider and what Rollgate learnt about it.
pub struct Sso {
    settings: OidcSettings,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso").field("issuer", &self.issuer).field("client_id", &self.client_id).finish()
    }
}

impl Sso {
    /// The provider `config` names, or `None` when single sign-on is off. Reads the client
    /// secret; `sandbox` is the embedded sandbox's issuer when one runs.
    pub fn from_config(
        config: &Config,
        sandbox: Option<&SandboxIssuer>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(settings) = &config.auth.oidc else { return Ok(None) };
        let (issuer, client_id, client_secret) = match &settings.issuer {
            OidcIssuer::Sandbox => {
                let sandbox = sandbox.ok_or_else(|| {
                    ConfigError::invalid("auth.oidc.issuer", "\"sandbox\" needs the embedded sandbox to run")
                })?;
                (sandbox.issuer.clone(), sandbox.client_id.clone(), Some(sandbox.client_secret.clone()))
            }
            OidcIssuer::Url(issuer) => {
                let secret = settings
                    .client_secret
                    .as_ref()
                    .map(|source| source.read())
                    .transpose()
                    .map_err(|problem| ConfigError::invalid("auth.oidc.client_secret", problem))?;
                let id = settings.client_id.clone().unwrap_or_default();
                (issuer.clone(), id, secret)
            }
        };
        // The issuer as written: the provider's discovery document must name exactly it.
        let issuer =
            IssuerUrl::new(issuer).map_err(|e| ConfigError::invalid("auth.oidc.issuer", e.to_string()))?;
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer point Rollgate anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::invalid("auth.oidc", format!("cannot make an HTTP client: {e}")))?;
        Ok(Some(Self {
            settings: settings.clone(),
            issuer,
            client_id: ClientId::new(client_id),
            client_secret: client_secret.map(ClientSecret::new),
            http,
            discovered: tokio::sync::Mutex::new(None),
        }))
    }

    /// What the sign-in button calls the provider.
    pub fn display_name(&self) -> &str {
        &self.settings.display_name
    }

    /// The provider's metadata and keys, fetched when not cached or `refresh` asks for it.
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, SsoError> {
        let mut cached = self.discovered.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && !refresh
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| SsoError::Unreachable(error_chain(&e)))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    async fn client(&self, redirect: &Url, refresh: bool) -> Result<SsoClient, SsoError> {
        let metadata = self.metadata(refresh).await?;
        let redirect = RedirectUrl::from_url(redirect.clone());
        Ok(SsoClient::from_provider_metadata(metadata, self.client_id.clone(), self.client_secret.clone())
            .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's URL to send the browser to, and the cookie to give it.
    pub async fn begin(
        &self,
        store: &Store,
        redirect: &Url,
        next: &str,
        now: Timestamp,
    ) -> Result<Begun, SsoError> {
        let client = self.client(redirect, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (authorize_url, state, nonce) = request.url();
        let cookie = crate::ids::random_token(32);
        let mut tx = store.begin().await?;
        // Abandoned sign-ins go as new ones come.
        sqlx::query("DELETE FROM sso_logins WHERE expires_at < $1")
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sso_logins (cookie_hash, state, nonce, pkce_verifier, redirect_url, next, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cookie_hash(&cookie))
        .bind(state.secret())
        .bind(nonce.secret())
        .bind(verifier.secret())
        .bind(redirect.as_str())
        .bind(next)
        .bind(now.plus_secs(LOGIN_SECS).millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Begun { authorize_url, cookie })
    }

    /// Completes a sign-in the provider sent back; `cookie` is the browser's [`LOGIN_COOKIE`].
    /// Failures are audited (with what is known of who it was) before they are returned.
    pub async fn finish(
        &self,
        store: &Store,
        config: &Config,
        caller: &Caller,
        cookie: Option<&str>,
        reply: &ProviderReply,
        now: Timestamp,
    ) -> Result<Finished, SsoError> {
        let mut attempt = Attempt::default();
        let result = self.complete(store, config, caller, cookie, reply, now, &mut attempt).await;
        // A callback for no sign-in begun here is not an attempt (and anyone can send one):
        // only what began gets a record.
        if let Err(e) = &result
            && attempt.started
            && !matches!(e, SsoError::Store(_))
        {
            let caller = Caller { user: attempt.who, ..caller.clone() };
            let refused = matches!(e, SsoError::Disabled(_) | SsoError::NameNotYours { .. });
            let outcome = if refused { Outcome::Refused } else { Outcome::Failed };
            crate::metrics::sign_in_failed("sso");
            let record = Record::new(&caller, "sign-in", outcome, now)
                .detail(format!("single sign-on ({}): {e}", self.settings.display_name));
            audit::append_alone(store, &record).await?;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn complete(
        &self,
        store: &Store,
        config: &Config,
        caller: &Caller,
        cookie: Option<&str>,
        reply: &ProviderReply,
        now: Timestamp,
        attempt: &mut Attempt,
    ) -> Result<Finished, SsoError> {
        let cookie = cookie.ok_or(SsoError::LoginExpired)?;
        let row = sqlx::query(
            "DELETE FROM sso_logins WHERE cookie_hash = $1 \
             RETURNING state, nonce, pkce_verifier, redirect_url, next, expires_at",
        )
        .bind(cookie_hash(cookie))
        .fetch_optional(store.pool())
        .await?
        .ok_or(SsoError::LoginExpired)?;
        attempt.started = true;
        let expires_at: i64 = row.try_get("expires_at")?;
        if now.millis() >= expires_at {
            return Err(SsoError::LoginExpired);
        }
        let state: String = row.try_get("state")?;
        if reply.state.as_deref() != Some(state.as_str()) {
            return Err(SsoError::StateMismatch);
        }
        if let Some(error) = &reply.error {
            let described = match (error.as_str(), reply.error_description.as_deref()) {
                ("access_denied", _) => {
                    "you (or the provider) declined the sign-in (access_denied)".to_owned()
                }
                (code, Some(text)) => format!("{} ({code})", clip(text)),
                (code, None) => clip(code),
            };
            return Err(SsoError::Denied(described));
        }
        let code =
            reply.code.clone().ok_or_else(|| SsoError::Exchange("no authorization code came back".into()))?;
        let redirect: String = row.try_get("redirect_url")?;
        let redirect = Url::parse(&redirect).map_err(|e| SsoError::Exchange(e.to_string()))?;
        let nonce = Nonce::new(row.try_get("nonce")?);
        let verifier = PkceCodeVerifier::new(row.try_get("pkce_verifier")?);
        let next: String = row.try_get("next")?;

        let client = self.client(&redirect, false).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SsoError::Exchange(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // Not an answer at all: the provider went away between the browser's visit and now.
                RequestTokenError::Request(e) => SsoError::Unreachable(error_chain(&e)),
                e => SsoError::Exchange(token_error(&e)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SsoError::BadToken("the token response has no ID token".into()))?;
        let claims = match id_token.claims(&id_token_verifier(&client, now), &nonce) {
            Ok(claims) => claims.clone(),
            // The provider may have rotated its keys since they were cached: fetch once more.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.client(&redirect, true).await?;
                id_token
                    .claims(&id_token_verifier(&fresh, now), &nonce)
                    .map_err(|e| SsoError::BadToken(untrusted(&e, id_token, now)))?
                    .clone()
            }
            Err(e) => return Err(SsoError::BadToken(untrusted(&e, id_token, now))),
        };
        let name = self.user_name(&claims)?;
        attempt.who = name.to_string();
        let identity = SsoIdentity {
            subject: self.settings.issuer.subject_key(claims.subject().as_str()),
            verified_email: claims
                .email()
                .filter(|_| claims.email_verified() == Some(true))
                .map(|email| email.as_str().to_lowercase()),
            groups: self.groups(&claims),
        };
        let user = bind_account(store, config, &name, &identity, now).await?;
        attempt.who = user.to_string();

        let mut tx = store.begin().await?;
        let token = sessions::start(&mut tx, user.as_str(), now, SessionPolicy::from(&config.auth)).await?;
        let caller = Caller { user: user.to_string(), ..caller.clone() };
        let groups = &identity.groups;
        let groups_text = if groups.is_empty() { "none".to_owned() } else { groups.join(", ") };
        let record = Record::new(&caller, "sign-in", Outcome::Succeeded, now)
            .detail(format!("single sign-on ({}); groups: {groups_text}", self.settings.display_name));
        audit::append(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(Finished { user, token, identity, next })
    }

    fn user_name(&self, claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>) -> Result<UserName, SsoError> {
        let claim = self.settings.username_claim;
        let value = match claim {
            UsernameClaim::PreferredUsername => claims.preferred_username().map(|n| n.as_str().to_owned()),
            UsernameClaim::Email => claims.email().map(|e| e.as_str().to_owned()),
            UsernameClaim::Sub => Some(claims.subject().as_str().to_owned()),
        };
        let value = value
            .ok_or_else(|| SsoError::BadName(format!("the ID token has no {} claim", claim.as_str())))?;
        UserName::parse(&value.to_lowercase())
            .map_err(|e| SsoError::BadName(format!("{} {}: {e}", claim.as_str(), clip(&value))))
    }

    /// The configured groups claim: a list of strings, or one string; anything else is none.
    fn groups(&self, claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>) -> Vec<String> {
        let mut groups: Vec<String> = match claims.additional_claims().0.get(&self.settings.groups_claim) {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|g| g.as_str()).map(str::to_owned).collect()
            }
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        groups.sort();
        groups.dedup();
        groups
    }
}

/// Finds or makes the account for `identity`'s subject. A subject keeps the name it first
/// signed in with; a name already used by a local account or another subject is refused, and
/// so is a name `config` does not let this identity hold (checked at every sign-in: the
/// configuration may have changed since the account was made).
async fn bind_account(
    store: &Store,
    config: &Config,
    name: &UserName,
    identity: &SsoIdentity,
    now: Timestamp,
) -> Result<UserName, SsoError> {
    let groups_json = serde_json::to_string(&identity.groups).unwrap_or_else(|_| "[]".into());
    let mut tx = store.begin().await?;
    let bound = sqlx::query("SELECT name, disabled FROM users WHERE sso_subject = $1")
        .bind(&identity.subject)
        .fetch_optional(&mut *tx)
        .await?;
    let refused = |user: &str| {
        config
            .sso_name_refusal(user, identity)
            .map(|why| SsoError::NameNotYours { name: user.to_owned(), why })
    };
    let user = match bound {
        Some(row) => {
            let user: String = row.try_get("name")?;
            if row.try_get::<i64, _>("disabled")? != 0 {
                // Ended here, not when dropped: a dropped transaction gives its connection's
                // lock back only when the pool next uses that connection.
                tx.rollback().await?;
                return Err(SsoError::Disabled(user));
            }
            if let Some(refusal) = refused(&user) {
                tx.rollback().await?;
                return Err(refusal);
            }
            user
        }
        None => {
            if let Some(refusal) = refused(name.as_str()) {
                tx.rollback().await?;
                return Err(refusal);
            }
            let inserted = sqlx::query(
                "INSERT INTO users (name, password_hash, disabled, created_at, updated_at, sso_subject) \
                 VALUES ($1, NULL, 0, $2, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(now.millis())
            .bind(&identity.subject)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(SsoError::NameTaken(name.to_string()));
            }
            let caller = Caller::new("rollgate");
            let record = Record::new(&caller, "user.add", Outcome::Succeeded, now)
                .target(name.as_str())
                .detail("made by single sign-on");
            audit::append(&mut tx, &record).await?;
            name.to_string()
        }
    };
    sqlx::query("UPDATE users SET sso_groups = $1, sso_email = $2, updated_at = $3 WHERE name = $4")
        .bind(&groups_json)
        .bind(identity.verified_email.as_deref())
        .bind(now.millis())
        .bind(&user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    UserName::parse(&user).map_err(|e| SsoError::BadName(e.to_string()))
}

/// The client's ID-token verifier, with Rollgate's clock at `now` and [`CLOCK_LEEWAY_SECS`]
/// for a provider whose clock differs a little.
fn id_token_verifier(client: &SsoClient, now: Timestamp) -> IdTokenVerifier<'_, CoreJsonWebKey> {
    let now = instant(now);
    let leeway = chrono::Duration::seconds(CLOCK_LEEWAY_SECS);
    client
        .id_token_verifier()
        // The verifier refuses a token once this time reaches its exp: the leeway earlier.
        .set_time_fn(move || now - leeway)
        .set_issue_time_verifier_fn(move |issued| {
            let ahead = (issued - now).num_seconds();
            if ahead > CLOCK_LEEWAY_SECS {
                Err(format!("{ISSUED_AHEAD} {ahead} s ahead of Rollgate's clock, {}", beyond_leeway()))
            } else {
                Ok(())
            }
        })
}

/// How an issue-time refusal starts, so [`untrusted`] can tell it from an expiry.
const ISSUED_AHEAD: &str = "it says it was issued";

fn beyond_leeway() -> String {
    format!(
        "more than the {CLOCK_LEEWAY_SECS} s allowed for the provider's clock and Rollgate's to differ (check that both keep time)"
    )
}

fn instant(at: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(at.millis()).unwrap_or_default()
}

/// Why a verified ID token is not trusted, in words. An expired one says by how much by
/// Rollgate's clock (read from the token only to say so: nothing else of it is believed).
fn untrusted(error: &ClaimsVerificationError, token: &SsoIdToken, now: Timestamp) -> String {
    match error {
        ClaimsVerificationError::Expired(text) if text.starts_with(ISSUED_AHEAD) => text.clone(),
        ClaimsVerificationError::Expired(_) => match unverified_expiry(&token.to_string()) {
            Some(exp) => {
                format!(
                    "it expired {} s ago by Rollgate's clock, {}",
                    now.millis() / 1000 - exp,
                    beyond_leeway()
                )
            }
            None => format!("it has expired, {}", beyond_leeway()),
        },
        ClaimsVerificationError::SignatureVerification(e) => {
            clip(&format!("its signature does not match the provider's published keys: {e}"))
        }
        other => clip(&other.to_string()),
    }
}

/// The `exp` of a compact JWT, unverified.
fn unverified_expiry(jwt: &str) -> Option<i64> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("exp")?.as_i64()
}

/// What a provider wrote, kept short enough for a page and the audit trail.
fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.chars().count() > 200 {
        clipped.push('…');
    }
    clipped
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    clip(&text)
}

fn token_error<RE: std::error::Error + 'static>(
    error: &RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error_description() {
            Some(text) => format!("{} ({})", clip(text), response.error().as_ref()),
            None => response.error().as_ref().to_owned(),
        },
        other => error_chain(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NewPassword, accounts};

    fn name(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    fn identity(subject: &str, email: Option<&str>, groups: &[&str]) -> SsoIdentity {
        SsoIdentity {
            subject: subject.to_owned(),
            verified_email: email.map(str::to_owned),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// What the store keeps of a single-sign-on account, as a session reads it back.
    async fn kept(store: &Store, user: &str) -> Option<SsoIdentity> {
        let row = sqlx::query("SELECT sso_subject, sso_email, sso_groups FROM users WHERE name = $1")
            .bind(user)
            .fetch_one(store.pool())
            .await
            .unwrap();
        SsoIdentity::from_columns(row.try_get(0).unwrap(), row.try_get(1).unwrap(), row.try_get(2).unwrap())
    }

    /// A subject keeps its account (and the name it first had) and its groups and verified
    /// email are refreshed; a name held by a local account or by another subject is never
    /// taken over.
    async fn accounts_are_bound_to_subjects(store: Store) {
        let config = crate::config::load(&crate::config::Source::SandboxDefault).unwrap();
        let cli = Caller::new("cli");
        let pw = NewPassword::parse("lee-has-no-role").unwrap();
        // A local account whose name has no role (a name with roles is refused before).
        accounts::add(&store, &cli, &name("lee"), &pw, Timestamp(1)).await.unwrap();
        let olivia = identity("idp s-1", Some("olivia@example.com"), &["ops"]);
        let made = bind_account(&store, &config, &name("olivia"), &olivia, Timestamp(2)).await.unwrap();
        assert_eq!(made.as_str(), "olivia");
        assert_eq!(kept(&store, "olivia").await, Some(olivia));
        // Renamed at the provider: still the same account here, with its new groups.
        let renamed = identity("idp s-1", None, &[]);
        let made = bind_account(&store, &config, &name("liv"), &renamed, Timestamp(3)).await.unwrap();
        assert_eq!(made.as_str(), "olivia");
        assert_eq!(kept(&store, "olivia").await, Some(renamed));
        assert_eq!(kept(&store, "lee").await, None, "a local account has no identity at a provider");
        for (taken, subject) in [("lee", "idp s-2"), ("olivia", "idp s-3")] {
            let e = bind_account(&store, &config, &name(taken), &identity(subject, None, &[]), Timestamp(4))
                .await
                .unwrap_err();
            assert!(matches!(e, SsoError::NameTaken(_)), "{e}");
        }
        accounts::set_disabled(&store, &cli, &name("olivia"), true, Timestamp(5)).await.unwrap();
        let e = bind_account(&store, &config, &name("olivia"), &identity("idp s-1", None, &[]), Timestamp(6))
            .await
            .unwrap_err();
        assert!(matches!(e, SsoError::Disabled(_)), "{e}");
    }

    /// A provider's claim to an admin's name makes no account unless the configuration binds
    /// the name to that identity; an account made before the name got roles is refused at its
    /// next sign-in. Refusals leave nothing behind.
    async fn names_with_roles_need_a_binding(store: Store) {
        let mut config = crate::config::load(&crate::config::Source::SandboxDefault).unwrap();
        let impostor = identity("sandbox mallory", Some("ada@example.com"), &["platform"]);
        let e = bind_account(&store, &config, &name("ada"), &impostor, Timestamp(1)).await.unwrap_err();
        assert!(matches!(e, SsoError::NameNotYours { why: NameRefusal::NotBound, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "The name ada has roles in Rollgate's configuration but is not bound to single sign-on; \
             ask an admin to bind it to you under auth.oidc.names."
        );
        assert_eq!(e.code(), "sso-unbound");
        let users = sqlx::query("SELECT COUNT(*) FROM users").fetch_one(store.pool()).await.unwrap();
        assert_eq!(users.try_get::<i64, _>(0).unwrap(), 0);

        let oidc = config.auth.oidc.as_mut().unwrap();
        oidc.names.insert(
            "ada".into(),
            crate::config::NameBinding { subject: None, email: Some("ada@example.com".into()) },
        );
        let unverified = identity("sandbox mallory", None, &[]);
        let e = bind_account(&store, &config, &name("ada"), &unverified, Timestamp(2)).await.unwrap_err();
        assert!(matches!(e, SsoError::NameNotYours { why: NameRefusal::BoundElsewhere, .. }), "{e}");
        let made = bind_account(&store, &config, &name("ada"), &impostor, Timestamp(3)).await.unwrap();
        assert_eq!(made.as_str(), "ada", "the verified email is the one bound");

        // olivia signed in while her name had no roles; then it got some, bound to no one.
        let olivia = identity("sandbox sandbox-olivia", None, &[]);
        bind_account(&store, &config, &name("olivia"), &olivia, Timestamp(4)).await.unwrap();
        config.roles.insert("olivia".into(), crate::policy::Role::Approver);
        let e = bind_account(&store, &config, &name("olivia"), &olivia, Timestamp(5)).await.unwrap_err();
        assert!(matches!(e, SsoError::NameNotYours { .. }), "{e}");
    }

    crate::store_tests!(accounts_are_bound_to_subjects, names_with_roles_need_a_binding);

    /// The clock leeway: a token is good until the leeway after its exp and may be issued up
    /// to the leeway ahead of Rollgate's clock; beyond either it is refused, in words.
    #[test]
    fn leeway_words() {
        let exp = 1_700_000_000;
        let payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::json!({ "exp": exp }).to_string(),
        );
        assert_eq!(unverified_expiry(&format!("h.{payload}.s")), Some(exp));
        assert_eq!(unverified_expiry("not a jwt"), None);
        assert!(beyond_leeway().contains(&format!("{CLOCK_LEEWAY_SECS} s allowed")));
    }

    #[test]
    fn provider_text_is_clipped() {
        assert_eq!(clip("a\nb"), "ab");
        assert_eq!(clip(&"x".repeat(300)).chars().count(), 201);
    }
}
