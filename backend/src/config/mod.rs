//! The configuration Rollgate starts from.
//!
//! The file is TOML (`rollgate.example.toml` documents every key); a few top-level keys can be
//! overridden with `ROLLGATE_<KEY>` environment variables, which is how a container sets them.
//! Loading ([`load`]) turns serde's and figment's messages into [`ConfigError`]s that name the
//! key; [`validate`] then checks what types cannot say (DNS names, regions, SSM paths).

mod load;
mod sso;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use crate::clock::Timestamp;
use crate::roles::Role;

pub use load::{Source, load};
pub use sso::{NameBinding, NameRefusal, SsoAccounts, SsoIdentity};

/// What went wrong with the configuration, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), problem: problem.into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the portal listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the team's state (sessions, change requests, audit) is kept; SQLite by default.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Start the embedded sandbox (simulated cluster, CodePipeline and SSM) and point the
    /// environments whose cluster is `kind = "sandbox"` at it.
    #[serde(default)]
    pub sandbox: bool,
    /// A file the embedded sandbox keeps its cluster in across restarts (objects, tokens,
    /// images); in memory only when unset.
    #[serde(default)]
    pub sandbox_state: Option<PathBuf>,
    /// The address people use to reach Rollgate (`https://rollgate.example.com`), when it is
    /// not the one it listens on (behind a proxy). Single sign-on's redirect URL derives from
    /// it; unset, from the address each request was sent to.
    #[serde(default)]
    pub public_url: Option<Url>,
    /// The folder cargo-leptos built (`pkg/` with the wasm, JS and CSS). Defaults to `site`
    /// next to the binary, then `target/site` under the working directory.
    #[serde(default)]
    pub site_root: Option<PathBuf>,
    /// Sign-in and sessions.
    #[serde(default)]
    pub auth: AuthSettings,
    /// Where `/metrics` is served, if anywhere: never on the public address without a token.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// How the Delivery page judges changes.
    #[serde(default)]
    pub delivery: DeliverySettings,
    /// How notifications are retried.
    #[serde(default)]
    pub notifications: NotificationSettings,
    /// Roles that hold in every environment: user name → role. An environment's own `roles`
    /// add to these; where both name a user, the environment's entry wins.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Groups of people by name (`security = ["ada"]`), for approval quorums. A single-sign-on
    /// account is also in the groups its provider listed at its last sign-in.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Freezes of every environment, one-off (`[[freeze]]`) and recurring
    /// (`[[recurring_freeze]]`); added to each environment's own at load.
    #[serde(default, rename = "freeze")]
    pub freezes: Vec<FreezeWindow>,
    #[serde(default, rename = "recurring_freeze")]
    pub recurring_freezes: Vec<RecurringFreeze>,
    /// How long a change request waits for its approvals before it expires.
    #[serde(default = "default_request_expiry_hours")]
    pub change_request_expiry_hours: u32,
    /// After SIGTERM, how long to go on serving while `/readyz` answers 503, so a load
    /// balancer that polls readiness stops sending requests here before the listener closes.
    /// 0 in Kubernetes, where the preStop pause does this.
    #[serde(default)]
    pub drain_seconds: u32,
    /// How many calls a second the pipelines' pollers may make, together, to one AWS account
    /// and Region (environments with the same `aws.region` and `aws.profile` share them).
    /// CodePipeline publishes no request rates; AWS throttles each account and Region, and
    /// Rollgate then pauses and slows down. With more pipelines watched than this allows,
    /// each is read less often.
    #[serde(default = "default_codepipeline_reads_per_second")]
    pub codepipeline_reads_per_second: f64,
    /// The environments, in the order the switcher shows them.
    #[serde(default, rename = "environment")]
    pub environments: Vec<Environment>,
    /// Who each single-sign-on user is at the provider and the groups they brought at their
    /// last sign-in (not configuration: filled from the store as they sign in and make
    /// requests).
    #[serde(skip)]
    pub sso_accounts: SsoAccounts,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// A session unused for this long ends.
    #[serde(default = "default_idle_minutes")]
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, however busy.
    #[serde(default = "default_session_hours")]
    pub session_max_hours: u32,
    /// Rollgate runs behind a reverse proxy that sets `X-Forwarded-For` and
    /// `X-Forwarded-Proto`: believe them for the source address (audit, sign-in limits) and
    /// for whether the visitor used TLS (Secure cookies, HSTS). Never set this when clients
    /// reach Rollgate directly: they could claim any address.
    #[serde(default)]
    pub behind_proxy: bool,
    /// Failed sign-ins for one user name within `failure_window_minutes` before further
    /// attempts for it are refused until the window passes.
    #[serde(default = "default_max_failures")]
    pub max_failures_per_user: u32,
    /// The same for one source address (many names tried from one place).
    #[serde(default = "default_max_failures_per_ip")]
    pub max_failures_per_ip: u32,
    #[serde(default = "default_failure_window")]
    pub failure_window_minutes: u32,
    /// OpenID Connect single sign-on, next to local accounts; off when absent.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
}

/// How the delivery figures (DORA) judge a change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// A deployment rolled back, or followed by a hotfix, within this many hours of it is a
    /// failed change.
    #[serde(default = "default_failure_window_hours")]
    pub failure_window_hours: u32,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { failure_window_hours: default_failure_window_hours() }
    }
}

fn default_failure_window_hours() -> u32 {
    24
}

/// Retries of a notification that its receiver did not take: after `retry_seconds`, then
/// doubling, up to `max_attempts` attempts in all (kept in the store across restarts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u32,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self { retry_seconds: default_retry_seconds(), max_attempts: default_max_attempts() }
    }
}

fn default_retry_seconds() -> u32 {
    10
}

fn default_max_attempts() -> u32 {
    8
}

/// Who may read the metrics (Prometheus text format at `/metrics`). Neither set: nobody.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A second address serving `/metrics` alone, without credentials (keep it off the
    /// ingress; a NetworkPolicy can let only Prometheus in).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Where the bearer token is that `/metrics` on the main address asks for
    /// (`Authorization: Bearer <token>`, Prometheus's `authorization` setting).
    #[serde(default)]
    pub bearer_token: Option<SecretSource>,
}

/// Single sign-on through an OpenID Connect provider (authorization code flow with PKCE).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The sign-in page's button says "Sign in with <display_name>".
    #[serde(default = "default_sso_name")]
    pub display_name: String,
    /// The provider's issuer URL (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`), or `"sandbox"` for the embedded sandbox's.
    pub issuer: OidcIssuer,
    /// The client id the provider registered Rollgate under (not for the sandbox issuer).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Where the client secret is; none for a public client. Never the secret itself.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Where the provider sends people back; default `<public_url>/auth/oidc/callback`.
    #[serde(default)]
    pub redirect_url: Option<Url>,
    /// Scopes asked for; `openid` is always added.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim that becomes the Rollgate user name.
    #[serde(default)]
    pub username_claim: UsernameClaim,
    /// The ID-token claim listing the person's groups (an array of strings, or one string).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Group → role in every environment; an environment's `group_roles` entry for the same
    /// group wins there.
    #[serde(default)]
    pub group_roles: BTreeMap<String, Role>,
    /// User name → the single-sign-on identity it belongs to (`{ subject = "…" }` or
    /// `{ email = "…" }`). A single-sign-on account gets the roles `[roles]` and
    /// `[environment.roles]` give its name only when its name is bound to it here; a name with
    /// such roles that is not bound cannot be taken through single sign-on at all.
    #[serde(default)]
    pub names: BTreeMap<String, NameBinding>,
}

/// Where an OpenID Connect provider is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub enum OidcIssuer {
    /// The embedded sandbox's issuer (needs `sandbox = true`).
    Sandbox,
    /// An issuer URL exactly as written (a trailing slash matters: the provider's discovery
    /// document must name the same string).
    Url(String),
}

impl OidcIssuer {
    /// What an account of this issuer is bound to in the store: the issuer URL, or "sandbox"
    /// for the embedded sandbox's (whose address changes at every start), and the subject.
    pub fn subject_key(&self, subject: &str) -> String {
        match self {
            OidcIssuer::Sandbox => format!("sandbox {subject}"),
            OidcIssuer::Url(url) => format!("{url} {subject}"),
        }
    }
}

impl TryFrom<String> for OidcIssuer {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        if value == "sandbox" {
            return Ok(Self::Sandbox);
        }
        match Url::parse(&value) {
            Ok(_) => Ok(Self::Url(value)),
            Err(e) => Err(format!("{value:?} is neither \"sandbox\" nor a URL: {e}")),
        }
    }
}

/// Which ID-token claim names a person in Rollgate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameClaim {
    #[default]
    PreferredUsername,
    Email,
    Sub,
}

impl UsernameClaim {
    pub fn as_str(self) -> &'static str {
        match self {
            UsernameClaim::PreferredUsername => "preferred_username",
            UsernameClaim::Email => "email",
            UsernameClaim::Sub => "sub",
        }
    }
}

/// Where a secret is read from at start. Never the secret itself: config files get copied.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum SecretSource {
    /// A file holding the secret (a mounted secret); surrounding whitespace is ignored.
    File(PathBuf),
    /// An environment variable holding the secret.
    Env(String),
}

impl SecretSource {
    /// Reads the secret; the error says where it looked, never what it found.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            SecretSource::File(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(match self {
                SecretSource::File(path) => format!("{} is empty", path.display()),
                SecretSource::Env(var) => format!("environment variable {var} is empty"),
            });
        }
        Ok(value.to_owned())
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: default_idle_minutes(),
            session_max_hours: default_session_hours(),
            behind_proxy: false,
            max_failures_per_user: default_max_failures(),
            max_failures_per_ip: default_max_failures_per_ip(),
            failure_window_minutes: default_failure_window(),
            oidc: None,
        }
    }
}

/// A recurring freeze: every occurrence of an RFC 5545 recurrence rule, in a time zone
/// ("every Friday 16:00 to Monday 08:00 Europe/Berlin"). `starts` and `ends` are the first
/// occurrence in local wall time; every later one lasts as long on the wall clock, so it
/// keeps its hours across daylight-saving changes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecurringFreeze {
    /// `FREQ=WEEKLY;BYDAY=FR`, as in an iCalendar RRULE line (without `RRULE:`).
    pub rrule: String,
    /// `2026-01-02T16:00`: the first occurrence's start, local time.
    pub starts: String,
    /// `2026-01-05T08:00`: the first occurrence's end, local time.
    pub ends: String,
    /// An IANA time zone: `Europe/Berlin`, `UTC`.
    pub time_zone: String,
    pub reason: String,
}

/// A scheduled period when deploys to an environment are refused (an admin may override).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// A DNS label (`staging`, `prod-eu`): it appears in URLs.
    pub name: String,
    /// How people call it; defaults to the name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Changes here need approval from someone other than the requester.
    #[serde(default)]
    pub protected: bool,
    /// How many such approvals a change needs when the environment is protected.
    #[serde(default = "default_required_approvals")]
    pub required_approvals: u8,
    pub cluster: ClusterConnection,
    /// The namespaces whose deployments this environment shows.
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub aws: AwsSettings,
    /// SSM Parameter Store paths whose parameters the Tokens page shows.
    #[serde(default)]
    pub ssm_prefixes: Vec<String>,
    /// Roles in this environment only: user name → role (see the top-level `roles`).
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Single-sign-on group → role in this environment only (see `auth.oidc.group_roles`).
    #[serde(default)]
    pub group_roles: BTreeMap<String, Role>,
    /// Scheduled freezes: deploys are refused inside them.
    #[serde(default, rename = "freeze")]
    pub freezes: Vec<FreezeWindow>,
    /// Recurring freezes (the top-level ones are added to every environment at load).
    #[serde(default, rename = "recurring_freeze")]
    pub recurring_freezes: Vec<RecurringFreeze>,
    /// Whether the rollback page blocks the rolled-back commit unless told not to.
    #[serde(default)]
    pub block_on_rollback: bool,
    /// How the cluster token kept in SSM is renewed (when the cluster's token is an SSM
    /// parameter).
    #[serde(default)]
    pub cluster_token: ClusterTokenSettings,
    /// Where this environment's notifications go (`[[environment.notify]]`).
    #[serde(default)]
    pub notify: Vec<NotifyTarget>,
}

/// A place notifications are sent: a Slack-compatible incoming webhook, a Microsoft Teams
/// workflow webhook, or a generic JSON webhook whose body is signed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    /// Names it on the Notifications page and in the delivery log (unique in the environment).
    pub name: String,
    pub kind: NotifyKind,
    /// The webhook's URL: a secret (a Slack or Teams webhook URL carries its own token).
    pub url: SecretSource,
    /// `webhook` only, and required there: the key the body's HMAC-SHA256 signature is made
    /// with.
    #[serde(default)]
    pub secret: Option<SecretSource>,
    /// `webhook` only: `json` (Rollgate's own event) or `cloudevents` (a CloudEvent whose data
    /// is a CDEvent).
    #[serde(default)]
    pub format: NotifyFormat,
    /// The events to send (all when empty).
    #[serde(default)]
    pub events: Vec<crate::notify::EventKind>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyKind {
    Slack,
    Teams,
    Webhook,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyFormat {
    #[default]
    Json,
    Cloudevents,
}

/// The ServiceAccount whose token Rollgate asks the cluster for when it rotates the cluster
/// token, and how long that token lives.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterTokenSettings {
    /// Defaults to `rollgate-deployer`.
    #[serde(default = "default_token_account")]
    pub service_account: String,
    /// The ServiceAccount's namespace; defaults to the environment's first namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The lifetime asked for a new token (TokenRequest's `expirationSeconds`), in hours.
    #[serde(default = "default_token_lifetime_hours")]
    pub lifetime_hours: u32,
    /// The Tokens page warns this many days before the token expires.
    #[serde(default = "default_token_warn_days")]
    pub warn_days: u32,
}

impl Default for ClusterTokenSettings {
    fn default() -> Self {
        Self {
            service_account: default_token_account(),
            namespace: None,
            lifetime_hours: default_token_lifetime_hours(),
            warn_days: default_token_warn_days(),
        }
    }
}

fn default_token_account() -> String {
    "rollgate-deployer".to_owned()
}

fn default_token_lifetime_hours() -> u32 {
    24 * 30
}

fn default_token_warn_days() -> u32 {
    7
}

impl Environment {
    pub fn title(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// The quorum the manual approval `action` of `stage` in `pipeline` needs.
    pub fn quorum(&self, pipeline: &str, stage: &str, action: &str) -> Quorum {
        let rule = self
            .aws
            .approvals
            .iter()
            .find(|r| r.pipeline == pipeline && r.stage == stage && r.action == action);
        Quorum {
            required: rule.map_or(1, |r| r.required),
            groups: rule.map(|r| r.groups.clone()).unwrap_or_default(),
            exclude_releaser: rule.and_then(|r| r.exclude_releaser).unwrap_or(self.protected),
        }
    }

    /// Whether its AWS calls go to the embedded sandbox (`aws.sandbox`).
    pub fn aws_on_sandbox(&self) -> bool {
        self.aws.sandbox.unwrap_or_else(|| self.cluster.is_sandbox())
    }
}

/// How Rollgate reaches an environment's Kubernetes API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClusterConnection {
    /// The embedded sandbox cluster (needs `sandbox = true`).
    Sandbox,
    /// The embedded sandbox's API server reached with a bearer token from `token` instead of
    /// the sandbox's admin kubeconfig: the `url` set-up, on the sandbox.
    SandboxToken { token: TokenSource },
    /// A context of a kubeconfig file (`$KUBECONFIG` or `~/.kube/config` unless `path` is set).
    Kubeconfig {
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// The service account of the pod Rollgate runs in.
    InCluster,
    /// An API server URL and a bearer token, as the walk-through's Lambda does it.
    Url {
        server: Url,
        token: TokenSource,
        /// A PEM file of the CA that signed the API server's certificate (an EKS cluster's
        /// `certificateAuthority.data`, decoded); re-read when it changes. Without it the
        /// system's trust store decides.
        #[serde(default)]
        certificate_authority: Option<PathBuf>,
    },
}

impl ClusterConnection {
    /// Whether the environment runs on the embedded sandbox (its cluster and AWS endpoints).
    pub fn is_sandbox(&self) -> bool {
        matches!(self, Self::Sandbox | Self::SandboxToken { .. })
    }

    /// The SSM parameter the cluster's bearer token is read from, if that is where it is.
    pub fn token_parameter(&self) -> Option<&str> {
        match self {
            Self::Url { token: TokenSource::SsmParameter(name), .. }
            | Self::SandboxToken { token: TokenSource::SsmParameter(name) } => Some(name),
            _ => None,
        }
    }
}

/// Where a cluster bearer token comes from. Never the token itself: config files get copied.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenSource {
    /// A SecureString in SSM Parameter Store, e.g. `/rollgate/staging/k8s-bear-token`.
    SsmParameter(String),
    /// A file holding the token (a mounted secret).
    File(PathBuf),
    /// An environment variable holding the token.
    Env(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Defaults to `AWS_REGION` / `AWS_DEFAULT_REGION`.
    #[serde(default)]
    pub region: Option<String>,
    /// A named profile of the shared AWS config; the default credential chain otherwise.
    #[serde(default)]
    pub profile: Option<String>,
    /// The CodePipeline pipelines this environment releases through.
    #[serde(default)]
    pub pipelines: Vec<String>,
    /// Which pipeline stages roll out which of the environment's Kubernetes deployments: the
    /// stage then shows the deployment's rollout live, and the deployment's revisions name the
    /// execution and commit that put them there.
    #[serde(default)]
    pub deploys: Vec<DeployTarget>,
    /// Who must answer a pipeline's manual approval before Rollgate answers CodePipeline.
    /// An approval action without a rule needs one person (not the releaser when the
    /// environment is protected).
    #[serde(default)]
    pub approvals: Vec<ApprovalRule>,
    /// The ARNs of the customer-managed KMS keys this environment's SecureStrings are
    /// encrypted with: `rollgate iam-policy` grants their use. Parameters under the default
    /// `alias/aws/ssm` key need no KMS permission.
    #[serde(default)]
    pub kms_keys: Vec<String>,
    /// The SQS queue an EventBridge rule delivers CodePipeline's state-change events to (its
    /// name, or its URL): pipelines then refresh when something changes, instead of being
    /// polled while idle. Environments may share a queue.
    #[serde(default)]
    pub events_queue: Option<String>,
    /// Whether this environment's CodePipeline and SSM calls go to the embedded sandbox's
    /// (needs `sandbox = true`). Unset: when its cluster is the sandbox's. Set it to try Rollgate
    /// on a real cluster with simulated AWS.
    #[serde(default)]
    pub sandbox: Option<bool>,
}

/// A pipeline stage that rolls out a Kubernetes deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTarget {
    pub pipeline: String,
    pub stage: String,
    /// One of the environment's namespaces.
    pub namespace: String,
    pub deployment: String,
}

/// The quorum one manual approval action needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    /// How many different people must approve.
    pub required: u8,
    /// Among them, at least one from each of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether whoever asked Rollgate for the release is kept out; unset: when the
    /// environment is protected.
    #[serde(default)]
    pub exclude_releaser: Option<bool>,
}

/// What it takes to answer one manual approval (see [`ApprovalRule`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quorum {
    pub required: u8,
    pub groups: Vec<String>,
    pub exclude_releaser: bool,
}

impl AwsSettings {
    /// The deployment `stage` of `pipeline` rolls out.
    pub fn deploy_target(&self, pipeline: &str, stage: &str) -> Option<&DeployTarget> {
        self.deploys.iter().find(|d| d.pipeline == pipeline && d.stage == stage)
    }

    /// The stages that roll out `namespace/deployment`.
    pub fn deploys_of<'a>(
        &'a self,
        namespace: &'a str,
        deployment: &'a str,
    ) -> impl Iterator<Item = &'a DeployTarget> {
        self.deploys.iter().filter(move |d| d.namespace == namespace && d.deployment == deployment)
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3000))
}

fn default_database_url() -> String {
    "sqlite://rollgate.db?mode=rwc".to_owned()
}

fn default_required_approvals() -> u8 {
    1
}

fn default_request_expiry_hours() -> u32 {
    24
}

/// Two a second: 120 calls a minute, which polls 40 idle pipelines at their 20-s interval
/// (GetPipelineState alone while nothing moves), and leaves room for people's own calls.
pub const DEFAULT_CODEPIPELINE_READS_PER_SECOND: f64 = 2.0;

fn default_codepipeline_reads_per_second() -> f64 {
    DEFAULT_CODEPIPELINE_READS_PER_SECOND
}

fn default_idle_minutes() -> u32 {
    30
}

fn default_session_hours() -> u32 {
    12
}

fn default_max_failures() -> u32 {
    5
}

fn default_max_failures_per_ip() -> u32 {
    20
}

fn default_failure_window() -> u32 {
    15
}

fn default_sso_name() -> String {
    "single sign-on".to_owned()
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(str::to_owned).to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

impl Config {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The role `user` holds in `environment`, if any.
    ///
    /// A local account: the role given to its name (the environment's `roles`, then the
    /// top-level `roles`). A single-sign-on account whose name the configuration may not give
    /// it (see [`Config::sso_name_refusal`]): none at all, as if it could not have signed in.
    /// Otherwise, for a single-sign-on account, a role given to its name wins (so an admin can
    /// pin or demote one person), else the highest role (viewer < deployer < approver < admin)
    /// that any of the groups it brought at sign-in maps to, where the environment's
    /// `group_roles` entry for a group wins over `auth.oidc.group_roles`'. No mapped group: no
    /// role.
    pub fn role_of(&self, user: &str, environment: &str) -> Option<Role> {
        let env = self.environment(environment)?;
        let named = env.roles.get(user).or_else(|| self.roles.get(user)).copied();
        let Some(identity) = self.sso_accounts.of(user) else { return named };
        // The configuration may have changed since the account signed in: checked every time.
        if self.sso_name_refusal(user, &identity).is_some() {
            return None;
        }
        let oidc = self.auth.oidc.as_ref()?;
        named.or_else(|| {
            identity
                .groups
                .iter()
                .filter_map(|g| env.group_roles.get(g).or_else(|| oidc.group_roles.get(g)))
                .max()
                .copied()
        })
    }

    /// The groups `user` is in: the configuration's `groups`, and a single-sign-on account's
    /// groups from its provider (unless its name is refused, as for roles).
    pub fn groups_of(&self, user: &str) -> Vec<String> {
        let mut groups: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, members)| members.iter().any(|m| m == user))
            .map(|(g, _)| g.clone())
            .collect();
        if let Some(identity) = self.sso_accounts.of(user)
            && self.auth.oidc.is_some()
            && self.sso_name_refusal(user, &identity).is_none()
        {
            groups.extend(identity.groups.iter().cloned());
        }
        groups.sort();
        groups.dedup();
        groups
    }

    /// Whether the configuration gives `name` a role in any environment.
    pub fn name_has_roles(&self, name: &str) -> bool {
        self.roles.contains_key(name) || self.environments.iter().any(|e| e.roles.contains_key(name))
    }

    /// Why the single-sign-on account `identity` may not go by `name`, if it may not: the name
    /// is bound to another identity under `auth.oidc.names`, or it has roles here and is bound
    /// to none. Without single sign-on configured, no identity is bound to anything.
    pub fn sso_name_refusal(&self, name: &str, identity: &SsoIdentity) -> Option<NameRefusal> {
        let binding = self.auth.oidc.as_ref().and_then(|oidc| Some((oidc, oidc.names.get(name)?)));
        match binding {
            Some((oidc, binding)) if binding.binds(oidc, identity) => None,
            Some(_) => Some(NameRefusal::BoundElsewhere),
            None if self.name_has_roles(name) => Some(NameRefusal::NotBound),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(subject: &str, email: Option<&str>, groups: &[&str]) -> Option<SsoIdentity> {
        Some(SsoIdentity {
            subject: subject.to_owned(),
            verified_email: email.map(str::to_owned),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        })
    }

    /// Single-sign-on users: the highest role their groups map to, an environment's mapping
    /// of a group winning over the global one; no mapped group, no role; forgetting the
    /// account (a local account) leaves none.
    #[test]
    fn sso_groups_map_to_roles() {
        let config = load(&Source::SandboxDefault).unwrap();
        let sso = &config.sso_accounts;
        sso.remember("devon", account("sandbox sandbox-devon", None, &["developers"]));
        sso.remember("pat", account("sandbox sandbox-pat", None, &["developers", "platform"]));
        sso.remember("casey", account("sandbox sandbox-casey", None, &["contractors"]));
        assert_eq!(config.role_of("devon", "staging"), Some(Role::Deployer));
        assert_eq!(config.role_of("devon", "production"), Some(Role::Viewer));
        assert_eq!(config.role_of("pat", "production"), Some(Role::Admin));
        assert_eq!(config.role_of("casey", "staging"), None);
        // Clones share what is remembered (the portal holds one in an Arc, tests another).
        config.clone().sso_accounts.remember("devon", None);
        assert_eq!(config.role_of("devon", "staging"), None);
    }

    /// A single-sign-on account named like an admin gets no role at all unless the name is
    /// bound to it: by subject at this issuer, or by an email the provider verified. Bound,
    /// the name's role wins over its groups; local accounts keep their names' roles.
    #[test]
    fn name_roles_need_a_binding() {
        let mut config = load(&Source::SandboxDefault).unwrap();
        let sso = config.sso_accounts.clone();
        sso.remember("ada", account("sandbox impostor", Some("ada@example.com"), &["platform"]));
        assert_eq!(config.role_of("ada", "staging"), None, "not even the groups' admin");
        assert_eq!(config.sso_name_refusal("ada", &sso.of("ada").unwrap()), Some(NameRefusal::NotBound));
        // A name without roles needs no binding.
        sso.remember("olivia", account("sandbox sandbox-olivia", None, &["release-managers"]));
        assert_eq!(config.role_of("olivia", "staging"), Some(Role::Approver));

        let oidc = config.auth.oidc.as_mut().unwrap();
        oidc.names.insert("ada".into(), NameBinding { subject: Some("ada-1".into()), email: None });
        // The same subject at another issuer is someone else.
        sso.remember("ada", account("https://elsewhere.example ada-1", None, &[]));
        assert_eq!(config.role_of("ada", "staging"), None);
        assert_eq!(
            config.sso_name_refusal("ada", &sso.of("ada").unwrap()),
            Some(NameRefusal::BoundElsewhere)
        );
        sso.remember("ada", account("sandbox ada-1", None, &["developers"]));
        assert_eq!(config.role_of("ada", "staging"), Some(Role::Admin), "the bound name's role wins");

        let oidc = config.auth.oidc.as_mut().unwrap();
        oidc.names.insert("ada".into(), NameBinding { subject: None, email: Some("Ada@Example.com".into()) });
        sso.remember("ada", account("sandbox someone", None, &[]));
        assert_eq!(config.role_of("ada", "staging"), None, "an unverified email binds nothing");
        sso.remember("ada", account("sandbox someone", Some("ada@example.com"), &[]));
        assert_eq!(config.role_of("ada", "production"), Some(Role::Admin));

        // Demoted by name, bound: the name's role wins over the groups'.
        let oidc = config.auth.oidc.as_mut().unwrap();
        oidc.names.insert("pat".into(), NameBinding { subject: Some("sandbox-pat".into()), email: None });
        config.roles.insert("pat".into(), Role::Viewer);
        sso.remember("pat", account("sandbox sandbox-pat", None, &["platform"]));
        assert_eq!(config.role_of("pat", "production"), Some(Role::Viewer));

        // A local account is its name.
        sso.remember("ada", None);
        assert_eq!(config.role_of("ada", "staging"), Some(Role::Admin));
    }
}
