//! The wire shapes of the ECS agent channel, shared by both ends: the control
//! plane (`flotilla-ecs-api`) serves them and the agent (`flotilla-agent`) sends
//! and reads them, so neither can drift from the other.
//!
//! Operations ECS has (RegisterContainerInstance, SubmitTaskStateChange,
//! SubmitContainerStateChange) use botocore's member names; Flotilla's long poll
//! (`FlotillaAgentV1.PollTasks`, in place of ECS's websocket) is its own. Statuses
//! are enums; a poll answer is read task by task ([`poll::PollAnswer`]), so a task
//! one side does not understand never hides the others.

pub mod credentials;
pub mod metrics;
pub mod poll;
pub mod register;
pub mod state_change;

pub use metrics::{SubmitTaskMetricsRequest, SubmitTaskMetricsResponse, TaskSample};
pub use poll::{AgentTask, ListedTask, PollAnswer, PollTasksRequest, PollTasksResponse};
pub use register::{
    InstanceIdentityDocument, RegisterContainerInstanceRequest, RegisterContainerInstanceResponse,
    RegisteredContainerInstance, Resource,
};
pub use state_change::{
    Acknowledgment, ContainerStateChange, SubmitContainerStateChangeRequest, SubmitTaskStateChangeRequest,
};

/// The `X-Amz-Target` prefix of ECS's operations.
pub const ECS_TARGET: &str = "AmazonEC2ContainerServiceV20141113";
/// The `X-Amz-Target` prefix of Flotilla's agent operations.
pub const AGENT_TARGET: &str = "FlotillaAgentV1";
/// The container instance attribute holding the IPv4 address load balancers reach the
/// node's host ports at (the agent's `--host-address`).
pub const HOST_ADDRESS_ATTRIBUTE: &str = "flotilla.host-address";
