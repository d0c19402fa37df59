//! What the benchmarks share: `rollgate` as its own process, with a user "bench" signed in.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `rollgate serve`, stopped when dropped.
pub struct Rollgate {
    child: Child,
    pub base: String,
}

impl Drop for Rollgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rollgate {
    /// Starts it in `dir` with `environments` (TOML for one or more `[[environment]]`, one
    /// named "bench" where the user "bench" is a viewer) and `env` added to its environment;
    /// returns once it is ready.
    pub async fn start(dir: &Path, environments: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join("rollgate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{}/store.db?mode=rwc\"\n\
                 [roles]\nbench = \"viewer\"\n{environments}",
                dir.display()
            ),
        )
        .unwrap();
        let rollgate = env!("CARGO_BIN_EXE_rollgate");
        let mut add = Command::new(rollgate)
            .args(["--config", config.to_str().unwrap(), "user", "add", "bench"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        add.stdin.take().unwrap().write_all(b"bench-password-1\n").unwrap();
        assert!(add.wait().unwrap().success(), "the bench user is created");
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        let child = Command::new(rollgate)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("ROLLGATE_SITE_ROOT", &site)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let rollgate = Self { child, base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/readyz", rollgate.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rollgate
    }

    // Each benchmark compiles this module on its own; not all of them read the memory.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client with the user "bench" signed in.
    pub async fn signed_in(&self) -> reqwest::Client {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let response = http
            .post(format!("{}/auth/sign-in", self.base))
            .header("origin", &self.base)
            .form(&[("username", "bench"), ("password", "bench-password-1")])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection() || response.status().is_success());
        http
    }
}
