//! SubmitTaskStateChange and SubmitContainerStateChange: the agent reports what
//! happened to a task and its containers.
//!
//! Reports are cumulative and the control plane only moves statuses forward, so
//! an agent may resend a report as often as it must.

use flotilla_core::Timestamp;
use flotilla_domain::task::{NetworkBinding, NetworkInterface, TaskStatus};
use serde::{Deserialize, Serialize};

/// botocore's `SubmitTaskStateChangeRequest`, as far as Flotilla uses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitTaskStateChangeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerStateChange>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "flotilla_core::time::epoch_seconds::option")]
    pub pull_started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "flotilla_core::time::epoch_seconds::option")]
    pub pull_stopped_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "flotilla_core::time::epoch_seconds::option")]
    pub execution_stopped_at: Option<Timestamp>,
    /// Not in ECS's model (ECS learns an ENI's address from EC2): the address and
    /// MAC address the agent gave an awsvpc task, reported once it is set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<NetworkInterface>,
}

/// botocore's `ContainerStateChange`, plus Flotilla's `healthStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_bindings: Option<Vec<NetworkBinding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Not in ECS's model: the agent's reading of the container's Docker health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    /// The registry digest of the image the container runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
}

/// botocore's `SubmitContainerStateChangeRequest`: one container's change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitContainerStateChangeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(flatten)]
    pub container: ContainerStateChange,
}

/// The answer to both state changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgment {
    pub acknowledgment: String,
}

impl Acknowledgment {
    pub fn accepted() -> Self {
        Self { acknowledgment: "true".into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_domain::task_definition::TransportProtocol;
    use serde_json::json;

    #[test]
    fn task_state_change_uses_botocore_names_and_epoch_seconds() {
        let report = SubmitTaskStateChangeRequest {
            cluster: Some("default".into()),
            task: Some("arn:t".into()),
            status: Some(TaskStatus::Running),
            containers: vec![ContainerStateChange {
                container_name: Some("app".into()),
                runtime_id: Some("abc".into()),
                status: Some(TaskStatus::Running),
                network_bindings: Some(vec![NetworkBinding {
                    bind_ip: Some("0.0.0.0".into()),
                    container_port: 80,
                    host_port: 32768,
                    protocol: TransportProtocol::Tcp,
                }]),
                ..ContainerStateChange::default()
            }],
            pull_started_at: Some(Timestamp(1500)),
            ..SubmitTaskStateChangeRequest::default()
        };
        let wire = serde_json::to_value(&report).unwrap();
        assert_eq!(
            wire,
            json!({
                "cluster": "default", "task": "arn:t", "status": "RUNNING", "pullStartedAt": 1.5,
                "containers": [{
                    "containerName": "app", "runtimeId": "abc", "status": "RUNNING",
                    "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"}],
                }],
            })
        );
        assert_eq!(serde_json::from_value::<SubmitTaskStateChangeRequest>(wire).unwrap(), report);
    }

    #[test]
    fn container_state_change_is_flat() {
        let wire = json!({"cluster": "c", "task": "t", "containerName": "app", "status": "STOPPED", "exitCode": 3});
        let read: SubmitContainerStateChangeRequest = serde_json::from_value(wire).unwrap();
        assert_eq!(read.container.container_name.as_deref(), Some("app"));
        assert_eq!((read.container.status, read.container.exit_code), (Some(TaskStatus::Stopped), Some(3)));
        assert!(serde_json::from_value::<SubmitContainerStateChangeRequest>(json!({"status": "NAPPING"})).is_err());
    }
}
