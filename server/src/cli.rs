//! The command line.

use std::path::PathBuf;

use backend::config::Source;
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
}

impl Cli {
    pub fn source(&self) -> Source {
        match &self.config {
            Some(path) => Source::File(path.clone()),
            None => Source::SandboxDefault,
        }
    }
}
