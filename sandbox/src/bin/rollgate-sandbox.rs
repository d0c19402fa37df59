//! `rollgate-sandbox`: the sandbox on its own, without the portal — for pointing kubectl or
//! the AWS CLI at it, and for the scale benchmark, which measures it as a separate process.
//!
//! Prints one JSON line with its endpoints and kubeconfig path once it serves, then runs
//! until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use sandbox::{Endpoints, Options, Sandbox, World};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: rollgate-sandbox [--world demo|empty] [--kubeconfig PATH] [--state FILE] [--codepipeline-rate CALLS_PER_SECOND]";

fn main() -> ExitCode {
    let mut options = Options { endpoints: Endpoints::any_free(), world: World::Demo, ..Options::default() };
    let mut kubeconfig = std::env::temp_dir().join("rollgate-sandbox").join("kubeconfig");
    let mut rate = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        let parsed = match arg.as_str() {
            "--world" => value()
                .and_then(|w| match w.as_str() {
                    "demo" => Ok(World::Demo),
                    "empty" => Ok(World::Empty),
                    other => Err(format!("unknown world {other:?}: demo or empty")),
                })
                .map(|world| options.world = world),
            "--kubeconfig" => value().map(|p| kubeconfig = PathBuf::from(p)),
            "--state" => value().map(|p| options.state_file = Some(PathBuf::from(p))),
            // Throttles each CodePipeline operation above this rate, as AWS would.
            "--codepipeline-rate" => value()
                .and_then(|v| match v.parse::<f64>() {
                    Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
                    _ => Err(format!("--codepipeline-rate takes calls a second above 0, not {v:?}")),
                })
                .map(|r| rate = Some(sandbox::RateLimit { per_second: r, burst: r.ceil() as u32 })),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        if let Err(message) = parsed {
            eprintln!("rollgate-sandbox: {message}");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rollgate-sandbox: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options, kubeconfig, rate))
}

async fn run(options: Options, kubeconfig: PathBuf, rate: Option<sandbox::RateLimit>) -> ExitCode {
    let sandbox = match Sandbox::start_with(options).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("rollgate-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    sandbox.aws.limit_codepipeline_rate(rate);
    if let Err(e) = sandbox.write_kubeconfig(&kubeconfig) {
        eprintln!("rollgate-sandbox: cannot write {}: {e}", kubeconfig.display());
        return ExitCode::FAILURE;
    }
    let ready = serde_json::json!({
        "kubernetes": sandbox.cluster_url(),
        "codepipeline": format!("http://{}", sandbox.endpoints.codepipeline),
        "ssm": format!("http://{}", sandbox.endpoints.ssm),
        "sqs": format!("http://{}", sandbox.endpoints.sqs),
        "cloudwatch": format!("http://{}", sandbox.endpoints.cloudwatch),
        "kubeconfig": kubeconfig,
    });
    println!("{ready}");
    shutdown_signal().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            },
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
