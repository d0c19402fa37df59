//! The sandbox tested from the outside with the clients people use (kubectl, kube-rs, the AWS
//! SDK and CLI, moto for comparison): a module per front door (CodePipeline's V2 features apart).
//! One binary, linked once.

mod support;

mod api;
mod aws_protocol;
mod codepipeline;
mod codepipeline_v2;
mod kube_client;
mod kubectl;
mod sqs;
mod ssm;
