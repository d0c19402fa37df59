//! Pieces the pages share. Components use `api/` and `model/`, never `pages/`.
//!
//! - `bar_chart`: a bar chart drawn on the server as SVG, its figures in a table beside it.
//! - `form_error`: why the last form post failed (plain forms, see the module).
//! - `hydrated_mark`: marks the page once every island on it is hydrated.
//! - `layout`: the frame of every environment page: top bar, areas, switcher, errors.
//! - `theme_toggle`: light/dark, remembered in a cookie so the server renders it right.
//! - `log_viewer`: the pod log viewer island (live follow, search, virtualized rows).
//! - `lock_panel`: the environment's deploy lock, and locking or unlocking it.
//! - `reveal`: the island that reveals one secret value for 30 seconds.
//! - `overview`: renders a page from the environment's overview once it has loaded.
//! - `pipeline_live`: a pipeline's card (stages, actions, the waiting approval), rendered on the
//!   server and kept live by `live_fragment`, the island that swaps in what the server sends.
//! - `live`, `deployment_table`, `rollout`: the live deployment islands and what they share
//!   (`live` also holds the clock and the "5 min ago" words every page uses).
//!
//! The islands only some pages use (`#[island(lazy)]`: the log viewer, the deployments table,
//! the rollout panel, the secret reveal) are split out of the main wasm by `cargo leptos
//! --split` and downloaded by the pages that have them, when they hydrate.

pub mod bar_chart;
pub mod deployment_table;
pub mod form_error;
pub mod hydrated_mark;
pub mod layout;
pub mod live;
pub mod live_fragment;
pub mod lock_panel;
pub mod log_viewer;
pub mod overview;
pub mod pipeline_live;
pub mod reveal;
pub mod rollout;
pub mod theme_toggle;
