//! A sandbox's world kept in a file, so a restarted sandbox carries on where it stopped: the
//! cluster's objects and resource version, the tokens it gave out, the registry's images.
//!
//! The file is rewritten (to a temporary file, then renamed over it, so a crash leaves the old
//! or the new one, never half of one) at most once per [`SAVE_EVERY`] while things change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::SandboxError;
use crate::kubernetes::{Cluster, Store, Tokens};
use crate::registry::Registry;

const SAVE_EVERY: Duration = Duration::from_secs(1);
/// Bumped when the file's shape changes; a file of another format is refused, not misread.
const FORMAT: u64 = 1;

pub struct Saved {
    pub cluster: Cluster,
    pub registry: Registry,
}

/// Reads the world from `path`; `None` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<Saved>, SandboxError> {
    let fail = |reason: String| SandboxError::State { path: path.to_owned(), reason };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    let saved: Value = serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    if saved["format"].as_u64() != Some(FORMAT) {
        return Err(fail(format!("not a sandbox state file of format {FORMAT}")));
    }
    let store = Store::restore(&saved["cluster"]).map_err(fail)?;
    let tokens = Tokens::restore(&saved["tokens"]).map_err(fail)?;
    let images: Vec<String> =
        serde_json::from_value(saved["registry"].clone()).map_err(|e| fail(format!("registry: {e}")))?;
    Ok(Some(Saved {
        cluster: Cluster { store, tokens, requests: Default::default() },
        registry: Registry::restore(&images),
    }))
}

pub struct StateFile {
    inner: Arc<Mutex<Writer>>,
}

struct Writer {
    path: PathBuf,
    store: Store,
    tokens: Tokens,
    registry: Registry,
    saved: Option<Fingerprint>,
}

/// What changes when the world does: cheaper to compare than the world itself.
#[derive(PartialEq, Clone, Copy)]
struct Fingerprint {
    version: u64,
    tokens: usize,
    images: usize,
}

impl StateFile {
    /// Keeps `path` up to date with the world from now on.
    pub fn keep(path: PathBuf, store: Store, tokens: Tokens, registry: Registry) -> Self {
        let inner = Arc::new(Mutex::new(Writer { path, store, tokens, registry, saved: None }));
        let writer = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SAVE_EVERY).await;
                let Some(writer) = writer.upgrade() else { return };
                if let Err(e) = writer.lock().await.save_if_changed().await {
                    tracing::warn!(error = %e, "cannot save the sandbox's state");
                }
            }
        });
        Self { inner }
    }

    pub async fn save_now(&self) -> std::io::Result<()> {
        self.inner.lock().await.save_if_changed().await
    }
}

impl Writer {
    fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            version: self.store.current_version(),
            tokens: self.tokens.issued_count(),
            images: self.registry.image_count(),
        }
    }

    async fn save_if_changed(&mut self) -> std::io::Result<()> {
        let fingerprint = self.fingerprint();
        if self.saved == Some(fingerprint) {
            return Ok(());
        }
        let world = json!({
            "format": FORMAT,
            "cluster": self.store.snapshot(),
            "tokens": self.tokens.snapshot(),
            "registry": self.registry.snapshot(),
        });
        let text = serde_json::to_vec(&world).map_err(std::io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let temporary = self.path.with_extension("tmp");
        tokio::fs::write(&temporary, text).await?;
        tokio::fs::rename(&temporary, &self.path).await?;
        self.saved = Some(fingerprint);
        Ok(())
    }
}
