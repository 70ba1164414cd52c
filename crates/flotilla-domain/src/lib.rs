//! Flotilla's domain model: the ECS resources (clusters, task definitions, container
//! instances, tasks, tags),
//! their identifiers and the rules that make them valid.
//!
//! This crate does no I/O and knows nothing of HTTP or of the AWS wire envelopes.
//! Resource *documents* (a task definition's container definitions, a cluster's
//! settings) derive serde with ECS's field names: they are user-authored JSON
//! documents in ECS's model, and the store persists them as such so nothing a user
//! registered is lost or renamed.
//!
//! What is not ECS's own (the account context, timestamps, tags) lives in
//! `flotilla-core` and is re-exported here under its old paths.

pub mod arn;
pub mod capacity_provider;
pub mod cluster;
pub mod container_instance;
pub mod error;
pub mod launch;
pub mod service;
pub mod tag;
pub mod task;
pub mod task_definition;
pub mod time;

pub use arn::{AccountContext, EcsArns, ResourceArn};
pub use error::{ValidationError, ValidationKind};
pub use flotilla_core;
pub use time::Timestamp;
