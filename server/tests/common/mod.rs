//! A whole Rollgate server in the test process: sandbox, portal and HTTP on free ports.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::PathBuf;

use backend::Config;
use backend::config::{Source, load};

pub struct TestPortal {
    pub base: String,
    pub running: server::Running,
    pub http: reqwest::Client,
    _site: tempfile::TempDir,
}

impl TestPortal {
    /// The sandbox with its demo environments, listening on a free port.
    pub async fn sandbox() -> Self {
        Self::with_config(load(&Source::SandboxDefault).expect("default config")).await
    }

    pub async fn with_config(mut config: Config) -> Self {
        let site = tempfile::tempdir().expect("temp site");
        std::fs::create_dir_all(site.path().join("pkg")).expect("pkg dir");
        std::fs::write(site.path().join("pkg/rollgate.css"), "body{color:red}\n".repeat(64)).expect("css");
        std::fs::write(site.path().join("favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>")
            .expect("favicon");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.site_root = Some(PathBuf::from(site.path()));
        let running = server::start(config).await.expect("server starts");
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { base: format!("http://{}", running.addr), running, http, _site: site }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}
