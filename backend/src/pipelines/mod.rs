//! CodePipeline: the pipelines each environment releases through.
//!
//! - [`error`]: AWS errors sorted into the kinds people act on.
//! - [`ids`]: execution ids and commit hashes, checked once.
//! - [`read`]: a pipeline's state, its executions and what their actions did.
//! - [`poller`]: one poller per pipeline, shared by every page and live stream.
//! - [`budget`]: how fast the pollers of one AWS account and Region may call, together.
//! - [`events`]: CodePipeline's state-change events from an SQS queue, which refresh the
//!   pollers at once (across replicas) and let them poll idle pipelines seldom.
//! - [`compare`]: two executions side by side, action by action.
//! - [`releases`]: which execution put a deployment's revision there.
//! - [`signature`]: the person's name in the text AWS keeps with a call.
//! - [`control`]: stop, retry, approve or reject, freeze a transition: role-checked, audited.
//! - [`conditions`]: V2 stage conditions: their kinds and what each rule of a check did.
//! - [`inputs`]: the variables and source revision a release may carry, checked.
//! - [`quorum`]: the votes on a manual approval, and answering CodePipeline once.
//! - [`guard`]: executions of a blocked commit, stopped before a Deploy stage.
//! - [`change`]: release, redeploy an earlier commit and stage rollback, which change what
//!   runs, as the four-eyes desk ([`crate::changes`]) keeps them; [`executor`]: the
//!   [`executor::Releaser`], which carries them out.
//!
//! A [`Pipelines`] holds one client per environment for pages and actions (built once, like
//! the cluster clients) and the pollers, each with a client of its own so its calls can be
//! counted apart.

pub mod budget;
pub mod change;
pub mod compare;
pub mod conditions;
pub mod control;
pub mod error;
pub mod events;
pub mod executor;
pub mod guard;
pub mod ids;
pub mod inputs;
pub mod poller;
pub mod quorum;
pub mod read;
pub mod releases;
pub mod signature;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use aws_sdk_codepipeline::Client;

pub use error::PipelineError;
pub use poller::{PollTimings, Poller, Snapshot};

use crate::aws::AwsClients;
use crate::config::{Config, Environment};

/// A pipeline's declaration and the pipeline version it was read at.
type Declared = (i32, read::Declaration);

/// An environment's AWS Region and profile: what tells one account's throttling from another's.
type AccountKey = (Option<String>, Option<String>);

#[derive(Clone)]
pub struct Pipelines {
    config: Arc<Config>,
    aws: AwsClients,
    clients: Arc<Mutex<HashMap<String, Client>>>,
    pollers: Arc<Mutex<HashMap<(String, String), Poller>>>,
    /// The pollers' budgets, by AWS Region and profile (environments that share both share
    /// an account's throttling).
    budgets: Arc<Mutex<HashMap<AccountKey, Arc<budget::Budget>>>>,
    /// Calls made by pages and actions (the pollers count their own).
    calls: Arc<AtomicU64>,
    timings: Arc<RwLock<PollTimings>>,
    /// Whether each environment's events queue answers.
    pub feeds: events::Feeds,
    /// Each pipeline's declaration, with the pipeline version it was read at.
    declarations: Arc<Mutex<HashMap<(String, String), Declared>>>,
}

impl Pipelines {
    pub fn new(config: Arc<Config>, aws: AwsClients) -> Self {
        Self {
            config: config.clone(),
            aws,
            clients: Arc::default(),
            pollers: Arc::default(),
            budgets: Arc::default(),
            calls: Arc::default(),
            timings: Arc::new(RwLock::new(PollTimings {
                reads_per_second: config.codepipeline_reads_per_second,
                ..PollTimings::default()
            })),
            feeds: events::Feeds::default(),
            declarations: Arc::default(),
        }
    }

    /// The declaration of `pipeline` (mode, variables, source actions): read once per pipeline
    /// `version` (GetPipelineState says which is current), or every time when it is unknown.
    pub async fn declaration(
        &self,
        environment: &str,
        pipeline: &str,
        version: Option<i32>,
    ) -> Result<read::Declaration, PipelineError> {
        self.check(environment, pipeline)?;
        let key = (environment.to_owned(), pipeline.to_owned());
        let cached = self.declarations.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let (Some((seen, declared)), Some(version)) = (cached, version)
            && seen == version
        {
            return Ok(declared);
        }
        let client = self.client(environment).await?;
        let declared = read::declaration(&client, pipeline).await?;
        if let Some(version) = version {
            self.declarations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, (version, declared.clone()));
        }
        Ok(declared)
    }

    /// Starts the release guard ([`guard`]) and consuming the environments' events queues
    /// (`aws.events_queue`), relaying what one replica hears to the others through `store`.
    pub fn listen(&self, store: crate::store::Store, replica: String) {
        guard::start(self, store.clone());
        events::start(self, store, replica);
    }

    /// The environment, if `pipeline` is one it lists.
    pub fn check(&self, environment: &str, pipeline: &str) -> Result<&Environment, PipelineError> {
        let not_configured =
            || PipelineError::NotConfigured { environment: environment.into(), pipeline: pipeline.into() };
        let env = self.config.environment(environment).ok_or_else(not_configured)?;
        if env.aws.pipelines.iter().any(|p| p == pipeline) { Ok(env) } else { Err(not_configured()) }
    }

    /// The shared client of `environment` for pages and actions.
    pub async fn client(&self, environment: &str) -> Result<Client, PipelineError> {
        if let Some(client) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(environment) {
            return Ok(client.clone());
        }
        let client = self.build_client(environment, self.calls.clone()).await?;
        self.clients.lock().unwrap_or_else(|p| p.into_inner()).insert(environment.to_owned(), client.clone());
        Ok(client)
    }

    /// A new client of `environment` whose calls add to `calls`.
    pub async fn build_client(
        &self,
        environment: &str,
        calls: Arc<AtomicU64>,
    ) -> Result<Client, PipelineError> {
        let env = self
            .config
            .environment(environment)
            .ok_or_else(|| PipelineError::NotFound(format!("There is no environment {environment}.")))?;
        Ok(self.aws.codepipeline(env, calls).await)
    }

    /// Forgets a client whose credentials failed, so the next call builds a fresh one.
    pub fn saw(&self, environment: &str, error: &PipelineError) {
        if matches!(error, PipelineError::Credentials(_)) {
            self.clients.lock().unwrap_or_else(|p| p.into_inner()).remove(environment);
        }
    }

    /// The poller of `pipeline`, started if nobody needed it before.
    pub fn poller(&self, environment: &str, pipeline: &str) -> Result<Poller, PipelineError> {
        self.check(environment, pipeline)?;
        let key = (environment.to_owned(), pipeline.to_owned());
        let mut pollers = self.pollers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(pollers.entry(key).or_insert_with(|| Poller::start(self.clone(), environment, pipeline)).clone())
    }

    /// The budget the pollers of `environment` share with every environment on the same AWS
    /// Region and profile.
    pub fn budget(&self, environment: &str) -> Arc<budget::Budget> {
        let key = self
            .config
            .environment(environment)
            .map(|e| (e.aws.region.clone(), e.aws.profile.clone()))
            .unwrap_or_default();
        self.budgets.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
    }

    /// Asks the pipeline's poller (if one runs) for a fresh read.
    pub fn poke(&self, environment: &str, pipeline: &str) {
        let key = (environment.to_owned(), pipeline.to_owned());
        if let Some(poller) = self.pollers.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            poller.poke();
        }
    }

    /// Every AWS call made so far: pages and actions plus every poller.
    pub fn aws_calls(&self) -> u64 {
        let pollers: u64 =
            self.pollers.lock().unwrap_or_else(|p| p.into_inner()).values().map(Poller::calls).sum();
        self.calls.load(Ordering::Relaxed) + pollers
    }

    pub fn timings(&self) -> PollTimings {
        *self.timings.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes how often the pollers ask (tests and benchmarks speed them up).
    pub fn set_timings(&self, timings: PollTimings) {
        *self.timings.write().unwrap_or_else(|p| p.into_inner()) = timings;
    }
}
