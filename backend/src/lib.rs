//! Rollgate's server-only domain. Nothing here is compiled into the browser's wasm.
//!
//! - [`config`]: the portal's configuration: one TOML file plus `ROLLGATE_*` overrides,
//!   parsed into validated types at start so a bad value fails before anything serves.
//! - [`upstream`]: where each environment's cluster, CodePipeline and SSM endpoints live,
//!   and a monitor that keeps checking whether they answer (readiness and the pages read it).
//! - [`portal`]: the one per-process state every request and server function is handed.

pub mod config;
pub mod portal;
pub mod upstream;

pub use config::{Config, ConfigError};
pub use portal::Portal;
