//! The command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use backend::Config;
use backend::audit::Caller;
use backend::auth::{NewPassword, UserName, accounts};
use backend::clock::Timestamp;
use backend::config::Source;
use backend::store::Store;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rollgate",
    version,
    about = "A release portal for teams shipping to Kubernetes through AWS CodePipeline.",
    long_about = "A release portal for teams shipping to Kubernetes through AWS CodePipeline.\n\n\
        Without --config, Rollgate starts on its embedded sandbox (a simulated cluster, CodePipeline \
        and SSM on loopback) with the demo environments staging and production.\n\n\
        Top-level keys can be overridden with environment variables: ROLLGATE_LISTEN, \
        ROLLGATE_DATABASE_URL, ROLLGATE_SANDBOX, ROLLGATE_SITE_ROOT. Logs are JSON when stdout is \
        not a terminal; RUST_LOG sets the level (default info)."
)]
pub struct Cli {
    /// TOML configuration file (see rollgate.example.toml).
    #[arg(short, long, env = "ROLLGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Default, Subcommand)]
pub enum Command {
    /// Serve the portal (the default).
    #[default]
    Serve,
    /// Load and validate the configuration, print a summary and exit.
    CheckConfig,
    /// Ask the running portal's /healthz (on the configured listen address) whether it serves;
    /// exit 0 if it does. For container health checks, which have no curl.
    Healthcheck,
    /// Manage local accounts in the configured store (database_url). Roles are given in the
    /// configuration's `roles` tables, not here.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the Kubernetes Roles and RoleBindings the configured environments need (exactly
    /// the requests Rollgate makes, per namespace), for `kubectl apply -f -`.
    Rbac {
        /// The ServiceAccount Rollgate's pods run as (NAMESPACE/NAME): the subject for
        /// `in-cluster` and `kubeconfig` environments. Environments whose cluster token is a
        /// ServiceAccount's (`url`) bind that account instead.
        #[arg(long, value_name = "NAMESPACE/NAME", default_value_t)]
        service_account: backend::kube::rbac::ServiceAccount,
    },
    /// Print the IAM policy the configured environments need (exactly the AWS operations
    /// Rollgate sends, on the configured pipelines, SSM prefixes and KMS keys), as JSON.
    IamPolicy {
        /// The AWS account the ARNs name; any account (`*`) when not given.
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: Option<backend::iam::AccountId>,
        /// Print instead, for each `aws.events_queue`, the EventBridge rule that delivers
        /// CodePipeline's state changes to it and the queue policy that lets the rule send.
        #[arg(long)]
        events: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (one line), never from
    /// the command line, where other users of the machine could see it.
    Add { name: String },
    /// Set a new password (from standard input); ends the account's sessions.
    Passwd { name: String },
    /// Disable an account; ends its sessions. It stays in the audit trail.
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
    /// Forget the failed sign-ins counted against an account, so a person locked out by them
    /// may try again at once rather than after `auth.failure_window_minutes`.
    Unlock { name: String },
    /// List the accounts.
    List,
}

#[derive(Debug, thiserror::Error)]
pub enum UserCommandError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Account(#[from] accounts::AccountError),
    #[error(transparent)]
    Store(#[from] backend::store::StoreError),
}

/// Runs a `rollgate user …` command; returns what to print.
pub async fn run_user(config: &Config, command: &UserCommand) -> Result<String, UserCommandError> {
    let name = |n: &str| UserName::parse(n).map_err(|e| UserCommandError::Input(e.to_string()));
    let store = Store::open(&config.database_url).await?;
    // The audit trail records who ran the command as far as the machine knows.
    let operator =
        std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let caller = Caller::new(format!("cli:{operator}"));
    let now = Timestamp::now();
    let out = match command {
        UserCommand::Add { name: n } => {
            let user = name(n)?;
            accounts::add(&store, &caller, &user, &read_password()?, now).await?;
            format!("created user {user}")
        }
        UserCommand::Passwd { name: n } => {
            let user = name(n)?;
            accounts::set_password(&store, &caller, &user, &read_password()?, now).await?;
            format!("password of {user} changed; their sessions ended")
        }
        UserCommand::Disable { name: n } => {
            let user = name(n)?;
            accounts::set_disabled(&store, &caller, &user, true, now).await?;
            format!("disabled {user}; their sessions ended")
        }
        UserCommand::Enable { name: n } => {
            let user = name(n)?;
            accounts::set_disabled(&store, &caller, &user, false, now).await?;
            format!("enabled {user}")
        }
        UserCommand::Unlock { name: n } => {
            let user = name(n)?;
            let forgotten = accounts::unlock(&store, &config.auth, &caller, &user, now).await?;
            format!("unlocked {user} ({forgotten} recent failed sign-in(s) forgotten)")
        }
        UserCommand::List => {
            let users = accounts::list(&store).await?;
            let mut out = format!("{:<24} {:<9} {}", "NAME", "STATE", "CREATED");
            for u in users {
                let state = if u.disabled { "disabled" } else { "active" };
                out.push_str(&format!("\n{:<24} {:<9} {}", u.name, state, Timestamp(u.created_at).rfc3339()));
            }
            out
        }
    };
    store.close().await;
    Ok(out)
}

/// One line from standard input; on a terminal, with a prompt (the input is echoed: pipe
/// the password in to keep it off the screen).
fn read_password() -> Result<NewPassword, UserCommandError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as typed; pipe it in to hide it): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| UserCommandError::Input(format!("cannot read the password: {e}")))?;
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    Ok(NewPassword::parse(password)?)
}

impl Cli {
    pub fn source(&self) -> Source {
        match &self.config {
            Some(path) => Source::File(path.clone()),
            None => Source::SandboxDefault,
        }
    }
}
