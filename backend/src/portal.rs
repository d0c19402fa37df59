//! The per-process state: built once at start-up by the server, handed to every request and
//! server function through Leptos context.

use std::sync::Arc;

use crate::config::Config;
use crate::upstream::{SandboxEndpoints, UpstreamMonitor};

#[derive(Clone)]
pub struct Portal {
    pub config: Arc<Config>,
    pub upstreams: UpstreamMonitor,
    /// Set when the embedded sandbox runs in this process.
    pub sandbox: Option<SandboxEndpoints>,
}

impl Portal {
    pub fn new(config: Config, sandbox: Option<SandboxEndpoints>) -> Self {
        let targets = crate::upstream::resolve(&config, sandbox.as_ref());
        Self { config: Arc::new(config), upstreams: UpstreamMonitor::new(targets), sandbox }
    }
}

/// The database URL without its password, for pages and logs.
pub fn redacted_database_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password only fails for URLs that cannot carry one, which this one does.
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(unparseable database URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_database_url;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redacted_database_url("postgres://rollgate:s3cret@db:5432/rollgate"),
            "postgres://rollgate:****@db:5432/rollgate"
        );
        assert_eq!(redacted_database_url("sqlite://rollgate.db?mode=rwc"), "sqlite://rollgate.db?mode=rwc");
        assert!(!redacted_database_url("postgres://u:s3cret@").contains("s3cret"));
    }
}
