//! One module per page.

pub mod approvals;
pub mod audit;
pub mod blocked;
pub mod calendar;
pub mod delivery;
pub mod deployment;
pub mod deployments;
pub mod home;
pub mod logs;
pub mod not_found;
pub mod notifications;
pub mod overview;
pub mod pipeline;
pub mod pipeline_compare;
pub mod pipelines;
pub mod rollback;
pub mod sign_in;
pub mod tokens;
