//! The Flotilla node agent.
//!
//! It registers this machine as a container instance, long-polls the control plane
//! for the tasks assigned to it, runs them on a [`runtime::ContainerRuntime`]
//! (Docker for real, a simulated runtime for scale tests) and reports every state
//! change back with SubmitTaskStateChange. Its identity and the containers it
//! created are kept on disk, so a restarted agent adopts running containers
//! instead of starting tasks twice; statuses only move forward on the control
//! plane, so re-sending a report after a restart or a network cut is harmless.

pub mod agent;
pub mod client;
pub mod logs;
pub mod metadata;
pub mod metrics;
pub mod registry_login;
pub mod runtime;
pub mod secrets;
pub mod state;
pub mod supervisor;
pub mod task_credentials;

pub use agent::{Agent, AgentConfig};
