//! Temporary credentials for a task's roles (`FlotillaAgentV1.GetTaskRoleCredentials`),
//! through the [`RoleSessions`] the server wires to IAM: the agent asks for the task's
//! execution role (to fetch its secrets and registry credentials as that role) or its
//! task role (to serve to its containers). Only the agent of the task's instance is
//! answered, only while the task is not stopped, and only for a role the task names.

use crate::EcsService;
use crate::error::EcsError;
use async_trait::async_trait;
use flotilla_domain::task::TaskStatus;
use flotilla_ecs_model::credentials::{TaskRole, TaskRoleCredentials, TaskRoleCredentialsRequest};

/// The service principal tasks' roles must trust.
pub const ECS_TASKS_PRINCIPAL: &str = "ecs-tasks.amazonaws.com";
/// How long task role credentials last (the agent renews them well before).
pub const TASK_SESSION_SECONDS: i64 = 3600;

/// STS as ECS uses it for tasks.
#[async_trait]
pub trait RoleSessions: Send + Sync + 'static {
    /// Credentials for `role_arn` issued to `ecs-tasks.amazonaws.com`, lasting
    /// `seconds`; `Err(reason)` when the role does not exist or does not trust ECS.
    async fn task_session(
        &self,
        role_arn: &str,
        session_name: &str,
        seconds: i64,
    ) -> Result<TaskRoleCredentials, String>;
}

impl EcsService {
    /// The credentials of `request.role` of the task, for its instance's agent.
    pub(crate) async fn task_role_credentials(
        &self,
        request: TaskRoleCredentialsRequest,
    ) -> Result<TaskRoleCredentials, EcsError> {
        let sessions = self
            .role_sessions
            .as_ref()
            .ok_or_else(|| EcsError::client("this control plane issues no role credentials"))?;
        let id = request.task_arn.rsplit('/').next().unwrap_or_default();
        let instance = request.container_instance.rsplit('/').next().unwrap_or_default();
        let task = self
            .store
            .get_task(id)
            .await?
            .filter(|t| t.container_instance_id.as_deref() == Some(instance) && t.last_status != TaskStatus::Stopped)
            .ok_or_else(|| {
                EcsError::invalid(format!("task {} is not running on container instance {instance}", request.task_arn))
            })?;
        let definition = self.store.get_task_definition(&task.family, task.revision).await?;
        let from_definition = |d: &flotilla_domain::task_definition::TaskDefinition| match request.role {
            TaskRole::Execution => d.spec.execution_role_arn.clone(),
            TaskRole::Task => d.spec.task_role_arn.clone(),
        };
        let overridden = match request.role {
            TaskRole::Execution => task.overrides.execution_role_arn.clone(),
            TaskRole::Task => task.overrides.task_role_arn.clone(),
        };
        let role = overridden
            .or_else(|| definition.as_ref().and_then(from_definition))
            .ok_or_else(|| EcsError::invalid(format!("task {} has no {:?} role", request.task_arn, request.role)))?;
        sessions
            .task_session(&role, &task.id, TASK_SESSION_SECONDS)
            .await
            .map_err(|reason| EcsError::client(format!("cannot assume role {role} for task {}: {reason}", task.id)))
    }
}
