//! `FlotillaAgentV1.GetTaskRoleCredentials`: temporary credentials for a task's role,
//! which the agent uses for the task (the execution role: image pulls' registry
//! credentials and secrets; the task role: served to the task's containers).
//!
//! The control plane answers only for a task of the calling agent's instance that
//! names that role, and only when the role's trust policy trusts
//! `ecs-tasks.amazonaws.com`, as ECS does.

use serde::{Deserialize, Serialize};

/// Which of a task's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskRole {
    /// `executionRoleArn`: what the agent does on the task's behalf.
    Execution,
    /// `taskRoleArn`: what the task's containers do.
    Task,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRoleCredentialsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub container_instance: String,
    pub task_arn: String,
    pub role: TaskRole,
}

/// Temporary credentials, with the names ECS's credentials endpoint uses. `Debug`
/// shows neither the secret nor the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskRoleCredentials {
    pub role_arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    /// ISO 8601, e.g. `2026-11-30T19:00:00Z`.
    pub expiration: String,
}

impl std::fmt::Debug for TaskRoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRoleCredentials")
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}
