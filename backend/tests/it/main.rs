//! The backend's AWS calls run as scenarios against the sandbox and against moto's server, so
//! Rollgate's own code is checked to agree with a third party. One binary, linked once.

mod parameter_store;
mod pipeline_calls;
