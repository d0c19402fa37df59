//! The compiled site: `pkg/` with the wasm, its JS glue and the CSS, built by cargo-leptos.
//! With hashed file names (release builds) cargo-leptos writes `hash.txt` next to the binary;
//! Leptos reads it there to link the hashed files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use backend::Config;
use leptos::config::{Env, LeptosOptions};

/// The name cargo-leptos gives the wasm, JS and CSS files (`[workspace.metadata.leptos] name`).
pub const OUTPUT_NAME: &str = "rollgate";
pub const PKG_DIR: &str = "pkg";
const HASH_FILE: &str = "hash.txt";

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(
        "no compiled site at {0}: build it with `cargo leptos build --release`, or set site_root \
         (ROLLGATE_SITE_ROOT) to the folder that holds pkg/"
    )]
    Missing(PathBuf),
    #[error("the site root {0} is not valid UTF-8")]
    NotUtf8(PathBuf),
}

/// Finds the site and describes it to Leptos.
pub fn leptos_options(config: &Config, addr: SocketAddr) -> Result<LeptosOptions, SiteError> {
    let root = site_root(config)?;
    let root_str = root.to_str().ok_or_else(|| SiteError::NotUtf8(root.clone()))?.to_owned();
    Ok(LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(root_str)
        .site_pkg_dir(PKG_DIR)
        .env(Env::PROD)
        .site_addr(addr)
        .hash_files(hash_file().is_some())
        .hash_file(std::sync::Arc::from(HASH_FILE))
        .build())
}

/// The configured root, else `LEPTOS_SITE_ROOT` (set by cargo-leptos), else `site` next to the
/// binary (the container layout), else `target/site` under the working directory.
fn site_root(config: &Config) -> Result<PathBuf, SiteError> {
    let candidates: Vec<PathBuf> = match &config.site_root {
        Some(root) => vec![root.clone()],
        None => std::env::var_os("LEPTOS_SITE_ROOT")
            .map(PathBuf::from)
            .into_iter()
            .chain(exe_dir().map(|d| d.join("site")))
            .chain([PathBuf::from("target/site")])
            .collect(),
    };
    candidates
        .iter()
        .find(|root| root.join(PKG_DIR).is_dir())
        .cloned()
        .ok_or_else(|| SiteError::Missing(candidates.first().cloned().unwrap_or_default()))
}

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

/// The hash file cargo-leptos wrote next to the binary, if this build hashes file names.
pub fn hash_file() -> Option<PathBuf> {
    exe_dir().map(|d| d.join(HASH_FILE)).filter(|p| p.is_file())
}
