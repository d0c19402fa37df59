//! The sandbox tested from the outside with the clients people use (kubectl, kube-rs, the AWS
//! SDK and CLI, moto for comparison): a module per front door. One binary, linked once.

mod support;

mod api;
mod aws_protocol;
mod codepipeline;
mod kube_client;
mod kubectl;
mod sqs;
mod ssm;
