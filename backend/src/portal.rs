//! The per-process state: built once at start-up by the server, handed to every request and
//! server function through Leptos context.

use std::sync::Arc;

use crate::audit::Caller;
use crate::auth::{NewPassword, SessionPolicy, UserName, accounts};
use crate::aws::AwsClients;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::dispatch::{Changes, Dispatch};
use crate::kube::Clusters;
use crate::kube::actions::Deployer;
use crate::kube::credential::Rotation;
use crate::kube::watch::Watches;
use crate::metrics;
use crate::pipelines::Pipelines;
use crate::pipelines::executor::Releaser;
use crate::policy::blocked::Blocklist;
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;
use crate::upstream::{Reachability, SandboxEndpoints, UpstreamMonitor};

#[derive(Clone)]
pub struct Portal {
    pub config: Arc<Config>,
    pub upstreams: UpstreamMonitor,
    /// Set when the embedded sandbox runs in this process.
    pub sandbox: Option<SandboxEndpoints>,
    pub store: Store,
    /// The AWS configuration and clients of every environment.
    pub aws: AwsClients,
    pub changes: Changes,
    pub sessions: SessionPolicy,
    pub clusters: Clusters,
    /// The shared deployment watches (one per environment and namespace).
    pub watches: Watches,
    /// SSM parameters (the Tokens page).
    pub tokens: Tokens,
    /// CodePipeline clients and the shared pipeline pollers.
    pub pipelines: Pipelines,
}

/// The sandbox's demo accounts, one per role (see `sandbox.toml`), so two people can be
/// simulated. Their passwords are in the README; they exist only when the sandbox runs.
pub const DEMO_USERS: [(&str, &str); 4] = [
    ("vera", "vera-viewer-demo"),
    ("dana", "dana-deployer-demo"),
    ("avery", "avery-approver-demo"),
    ("ada", "ada-admin-demo"),
];

impl Portal {
    /// Opens the store and builds the state; in sandbox mode, creates the demo users.
    pub async fn open(config: Config, sandbox: Option<SandboxEndpoints>) -> Result<Self, StoreError> {
        let store = Store::open(&config.database_url).await?;
        if config.sandbox {
            for (name, password) in DEMO_USERS {
                let (Ok(name), Ok(password)) = (UserName::parse(name), NewPassword::parse(password)) else {
                    continue;
                };
                let created =
                    accounts::ensure(&store, &Caller::new("rollgate"), &name, &password, Timestamp::now())
                        .await
                        .map_err(|e| match e {
                            accounts::AccountError::Store(e) => e,
                            other => StoreError::Seed(other.to_string()),
                        })?;
                if created {
                    tracing::info!(user = %name, "sandbox: created demo user");
                }
            }
        }
        let targets = crate::upstream::resolve(&config, sandbox.as_ref());
        let config = Arc::new(config);
        // A random name per process start, so `executed_by` tells replicas apart.
        let replica = format!("rollgate-{}", crate::ids::random_hex(4));
        let aws = AwsClients::new(config.clone(), sandbox.clone());
        let tokens = Tokens::new(config.clone(), aws.clone(), store.clone());
        let clusters = Clusters::new(config.clone(), sandbox.clone(), tokens.clone());
        let pipelines = Pipelines::new(config.clone(), aws.clone());
        pipelines.listen(store.clone(), replica.clone());
        let dispatch = Arc::new(Dispatch {
            deployer: Deployer::new(clusters.clone()),
            releaser: Releaser::new(pipelines.clone()),
            rotation: Rotation::new(clusters.clone(), tokens.clone(), store.clone()),
            blocklist: Blocklist { store: store.clone() },
        });
        let changes = Changes::new(store.clone(), config.clone(), dispatch, replica.clone());
        let sessions = SessionPolicy::from(&config.auth);
        let watches = Watches::new(clusters.clone());
        crate::notify::send::Senders::start(store.clone(), config.clone(), replica);
        let portal = Self {
            config,
            upstreams: UpstreamMonitor::new(targets),
            sandbox,
            store,
            aws,
            changes,
            sessions,
            clusters,
            watches,
            tokens,
            pipelines,
        };
        crate::notify::follow::start(&portal);
        Ok(portal)
    }

    /// What the metrics report about the world rather than this process, read now: open
    /// change requests (from the store all replicas share), upstream reachability (the last
    /// check), and how long each cluster token kept in SSM has left (building the cluster's
    /// client first if nothing has yet, so a replica nobody looks at still reports it).
    pub async fn metrics_world(&self) -> metrics::World {
        let open_changes = match self.changes.open_counts().await {
            Ok(counts) => counts
                .into_iter()
                .map(|(env, state, kind, n)| (env, state.to_owned(), kind.to_owned(), n))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot count the open change requests for the metrics");
                Vec::new()
            }
        };
        let upstreams = self
            .upstreams
            .snapshot()
            .into_iter()
            .filter_map(|u| {
                let up = match u.reachability {
                    Reachability::NotChecked => return None,
                    Reachability::Reachable { .. } => true,
                    Reachability::Unreachable { .. } | Reachability::Unresolved(_) => false,
                };
                Some((u.environment, u.system.id(), up))
            })
            .collect();
        let mut token_expiry = Vec::new();
        let now = Timestamp::now().millis();
        for env in self.config.environments.iter().filter(|e| e.cluster.token_parameter().is_some()) {
            if self.clusters.token_in_use(&env.name).is_none()
                && let Err(e) = self.clusters.client(&env.name).await
            {
                tracing::warn!(environment = %env.name, error = %e, "no cluster client to read the token's expiry from");
            }
            if let Some((_, Some(expires_ms))) = self.clusters.token_in_use(&env.name) {
                token_expiry.push((env.name.clone(), (expires_ms - now) as f64 / 1000.0));
            }
        }
        metrics::World { open_changes, upstreams, token_expiry }
    }
}
