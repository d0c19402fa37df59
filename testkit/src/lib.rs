//! What Rollgate's tests share across crates, in one place:
//!
//! - [`store`]: a fresh, migrated store per test, on SQLite or on the PostgreSQL test cluster.
//! - [`aws`]: the AWS SDK pointed at an endpoint (the sandbox's or moto's) the way Rollgate
//!   builds it, the AWS CLI run against one, and moto's server.
//! - [`aws_model`]: AWS's service models, to check the sandbox's answers against.
//!
//! Only ever a dev-dependency, so none of it reaches the `rollgate` binary. The backend's own
//! unit tests compile [`store`] from this same file (a dev-dependency would hand them a second
//! `backend` whose types are not theirs).

pub mod aws;
pub mod aws_model;
pub mod store;
