//! Rollgate's user interface: rendered on the server (`ssr`) and hydrated in the browser
//! (`hydrate`) from the same components.
//!
//! - [`shell`]: the HTML document and the router: which path shows which page.
//! - [`api`]: the server functions the pages call; their bodies only run on the server.
//! - [`model`]: the plain data those functions return, shared by both sides.
//! - [`error`]: the one error type a server function returns, in words a person can act on.
//! - `pages`: one module per page; `components`: the pieces pages share.

pub mod api;
pub mod error;
pub mod model;
pub mod shell;

mod components;
mod pages;

pub use shell::{App, shell};

/// A pipeline's card as HTML, for its live stream.
#[cfg(feature = "ssr")]
pub use components::pipeline_live::render as render_pipeline_card;

/// A row of the Deployments table as HTML, for the deployments' live stream.
#[cfg(feature = "ssr")]
pub use components::deployment_table::row_html as render_deployment_row;
