//! `rollgate`: parse the command line, load the configuration, then serve or check it.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::telemetry::init();
    let config = match backend::config::load(&cli.source()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            eprintln!("rollgate: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or_default() {
        Command::CheckConfig => {
            println!(
                "configuration is valid: {} environment(s): {}",
                config.environments.len(),
                config.environments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
            );
            ExitCode::SUCCESS
        }
        Command::Rbac { service_account } => {
            let all = backend::kube::rbac::for_config(&config, &service_account);
            match backend::kube::rbac::to_yaml(&all) {
                Ok(yaml) => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("rollgate: cannot write the RBAC manifests: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::IamPolicy { account, events } => {
            let policy = if events {
                backend::iam::event_delivery(&config, account.as_ref())
            } else {
                backend::iam::policy(&config, account.as_ref())
            };
            println!("{policy:#}");
            if account.is_none() {
                eprintln!("rollgate: the ARNs name any account (*): pass --account to name yours");
            }
            if config.environments.iter().any(|e| e.aws.region.is_none()) {
                eprintln!("rollgate: environments without aws.region are granted in any region (*)");
            }
            ExitCode::SUCCESS
        }
        Command::Healthcheck => match server::health::probe_liveness(config.listen) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rollgate: not healthy: {e}");
                ExitCode::FAILURE
            }
        },
        Command::User(command) => {
            let Some(runtime) = runtime() else { return ExitCode::FAILURE };
            match runtime.block_on(server::cli::run_user(&config, &command)) {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("rollgate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => {
            let Some(runtime) = runtime() else { return ExitCode::FAILURE };
            match runtime.block_on(server::serve_until_signal(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "rollgate stopped");
                    eprintln!("rollgate: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("rollgate: cannot start the async runtime: {e}");
            None
        }
    }
}
