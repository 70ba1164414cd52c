//! `FlotillaAgentV1.PollTasks`: the agent's long poll for the tasks assigned to
//! its instance.
//!
//! The agent sends back the version of every task it knows, as the last answer gave
//! it; the control plane answers once that set differs from the instance's or the
//! wait runs out. A task's version here is its [`wish_version`]: it changes only when
//! the control plane changes what the agent must do with the task, never with the
//! agent's own reports (each of which would otherwise cost a whole answer). The answer is
//! read task by task ([`PollAnswer::read`]): during a rolling upgrade of the control
//! plane a task may carry a value this agent does not know, and that task alone
//! must be set aside, never the whole list (an empty list would make the agent stop
//! everything it runs).

use flotilla_core::Timestamp;
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::task::{LaunchType, TaskOverride, TaskStatus};
use flotilla_domain::task_definition::TaskDefinitionSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest a poll may wait for a change.
pub const MAX_WAIT_SECONDS: u64 = 25;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollTasksRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    /// Task ARN → version (as answered), for every task the agent knows of.
    #[serde(default)]
    pub known: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    /// Answer with only the tasks that are new to the agent or whose version changed,
    /// naming the other listed ones in [`PollTasksResponse::unchanged`]. An agent that
    /// does not ask gets every task in full.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changes_only: bool,
}

/// A task as its agent needs it: identity, wishes and the definition to run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentTask {
    pub task_arn: String,
    /// The task's [`wish_version`].
    pub version: i64,
    pub desired_status: TaskStatus,
    pub last_status: TaskStatus,
    pub family: String,
    pub revision: i64,
    pub overrides: TaskOverride,
    pub definition: TaskDefinitionSpec,
    /// Container name → container ARN.
    pub container_arns: BTreeMap<String, String>,
    /// When the control plane created the task (epoch seconds).
    #[serde(with = "flotilla_core::time::epoch_seconds")]
    pub created_at: Timestamp,
    /// EC2 or FARGATE (for the metadata endpoint; EC2 when absent).
    #[serde(default)]
    pub launch_type: LaunchType,
    /// Fargate's ephemeral storage in GiB, when the task is a Fargate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_gib: Option<i64>,
    /// Whether the control plane publishes the task's CPU and memory (a service's
    /// tasks): the agent samples only those.
    #[serde(default)]
    pub metered: bool,
}

/// A task's version as a poll compares it: a function of what the agent must do
/// with the task (its desired status), so that the agent's own reports, which
/// change the task's stored version, never make a poll answer.
pub fn wish_version(desired: TaskStatus) -> i64 {
    match desired {
        TaskStatus::Stopped => 2,
        _ => 1,
    }
}

/// The answer as the control plane writes it.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PollTasksResponse {
    pub instance_status: InstanceStatus,
    pub tasks: Vec<AgentTask>,
    /// With `changesOnly`: the ARNs of the tasks still listed, at the version the
    /// agent sent, and left out of `tasks`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<String>,
}

/// The answer as the agent reads it: the list whole, each task still raw.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PollAnswer {
    /// Raw, as a status newer than the agent must not fail the answer.
    #[serde(default)]
    pub instance_status: Option<Value>,
    pub tasks: Vec<Value>,
    /// Listed tasks left out of `tasks` as unchanged (answers to `changesOnly`).
    #[serde(default)]
    pub unchanged: Vec<String>,
}

/// One listed task, read or set aside.
#[derive(Debug, Clone, PartialEq)]
pub enum ListedTask {
    Read(Box<AgentTask>),
    /// A task this reader cannot read, with what could be made out of it.
    Unreadable {
        task_arn: Option<String>,
        version: Option<i64>,
        error: String,
    },
}

impl ListedTask {
    /// The task's ARN, when it can be made out.
    pub fn task_arn(&self) -> Option<&str> {
        match self {
            ListedTask::Read(t) => Some(&t.task_arn),
            ListedTask::Unreadable { task_arn, .. } => task_arn.as_deref(),
        }
    }

    /// The task's version, when it can be made out.
    pub fn version(&self) -> Option<i64> {
        match self {
            ListedTask::Read(t) => Some(t.version),
            ListedTask::Unreadable { version, .. } => *version,
        }
    }
}

impl PollAnswer {
    /// Reads an answer; `None` when it has no task list at all.
    pub fn from_value(answer: Value) -> Option<Self> {
        serde_json::from_value(answer).ok()
    }

    /// Reads each listed task on its own.
    pub fn read(self) -> Vec<ListedTask> {
        self.tasks
            .into_iter()
            .map(|raw| {
                let task_arn = raw.get("taskArn").and_then(Value::as_str).map(str::to_string);
                let version = raw.get("version").and_then(Value::as_i64);
                match serde_json::from_value::<AgentTask>(raw) {
                    Ok(task) => ListedTask::Read(Box::new(task)),
                    Err(e) => ListedTask::Unreadable { task_arn, version, error: e.to_string() },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(arn: &str, desired: &str) -> Value {
        json!({
            "taskArn": arn, "version": 2, "desiredStatus": desired, "lastStatus": "PENDING",
            "family": "web", "revision": 1, "overrides": {},
            "definition": {"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox"}]},
            "containerArns": {"app": "arn:aws:ecs:us-east-1:000000000000:container/default/t/c"},
            "createdAt": 1714564800.123,
        })
    }

    #[test]
    fn tasks_round_trip_with_epoch_seconds() {
        let raw = task("arn:aws:ecs:us-east-1:000000000000:task/default/t", "RUNNING");
        let read: AgentTask = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(read.desired_status, TaskStatus::Running);
        assert_eq!(read.created_at, Timestamp(1_714_564_800_123));
        let response =
            PollTasksResponse { instance_status: InstanceStatus::Active, tasks: vec![read], unchanged: Vec::new() };
        let wire = serde_json::to_value(&response).unwrap();
        assert_eq!(wire["instanceStatus"], "ACTIVE");
        assert_eq!(wire["tasks"][0]["createdAt"], raw["createdAt"]);
        assert_eq!(wire["tasks"][0]["desiredStatus"], "RUNNING");
    }

    #[test]
    fn a_task_with_an_unknown_status_is_set_aside_alone() {
        let answer = json!({"instanceStatus": "SOMETHING-NEW", "tasks": [
            task("arn:t/a", "RUNNING"),
            task("arn:t/b", "HIBERNATING"),
            {"surprise": true},
        ]});
        let listed = PollAnswer::from_value(answer).unwrap().read();
        assert_eq!(listed.len(), 3);
        assert!(matches!(&listed[0], ListedTask::Read(t) if t.task_arn == "arn:t/a"));
        match &listed[1] {
            ListedTask::Unreadable { task_arn, version, error } => {
                assert_eq!((task_arn.as_deref(), *version), (Some("arn:t/b"), Some(2)));
                assert!(error.contains("HIBERNATING"), "{error}");
            }
            other => panic!("read {other:?}"),
        }
        assert_eq!((listed[2].task_arn(), listed[2].version()), (None, None));
    }

    #[test]
    fn an_answer_without_a_task_list_is_unreadable() {
        for answer in [json!({"instanceStatus": "ACTIVE"}), json!({"tasks": "soon"}), json!([])] {
            assert!(PollAnswer::from_value(answer.clone()).is_none(), "{answer}");
        }
        assert_eq!(PollAnswer::from_value(json!({"tasks": []})).unwrap().read(), []);
    }
}
