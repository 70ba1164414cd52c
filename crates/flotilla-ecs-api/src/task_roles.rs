//! Temporary credentials for a task's roles (`FlotillaAgentV1.GetTaskRoleCredentials`),
//! through the [`RoleSessions`] the server wires to IAM: the agent asks for the task's
//! execution role (to fetch its secrets and registry credentials as that role) or its
//! task role (to serve to its containers). Only the agent of the task's instance is
//! answered, only for a role the task names, and only while the task is not stopped
//! (its execution role for an hour after, to ship the last of its logs).

use crate::EcsService;
use crate::error::EcsError;
use async_trait::async_trait;
use flotilla_domain::task::TaskStatus;
use flotilla_ecs_model::credentials::{TaskRole, TaskRoleCredentials, TaskRoleCredentialsRequest};

/// The service principal tasks' roles must trust.
pub const ECS_TASKS_PRINCIPAL: &str = "ecs-tasks.amazonaws.com";
/// How long task role credentials last (the agent renews them well before).
pub const TASK_SESSION_SECONDS: i64 = 3600;
/// How long after a task stopped its execution role's credentials are still given.
const STOPPED_EXECUTION_GRACE_MS: i64 = 3_600_000;

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
        // A stopped task's execution role is still given for an hour: its agent
        // ships the last of its containers' output as that role.
        let now = flotilla_domain::Timestamp::now().0;
        let live = |t: &flotilla_domain::task::Task| match request.role {
            _ if t.last_status != TaskStatus::Stopped => true,
            TaskRole::Execution => t.stopped_at.is_none_or(|at| now - at.0 < STOPPED_EXECUTION_GRACE_MS),
            TaskRole::Task => false,
        };
        let task = self
            .store
            .get_task(id)
            .await?
            .filter(|t| t.container_instance_id.as_deref() == Some(instance) && live(t))
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
