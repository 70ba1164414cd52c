//! Container instances: the nodes an agent brings into a cluster, their resources
//! and attributes.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How long an agent may stay silent before its instance shows `agentConnected=false`.
pub const AGENT_HEARTBEAT_TIMEOUT_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    /// No new tasks are placed on it.
    #[serde(rename = "DRAINING")]
    Draining,
    /// Deregistered.
    #[serde(rename = "INACTIVE")]
    Inactive,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Draining => "DRAINING",
            Self::Inactive => "INACTIVE",
        }
    }
}

/// CPU units, MiB of memory and reserved host ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu: i64,
    pub memory: i64,
    #[serde(default)]
    pub ports_tcp: Vec<u16>,
    #[serde(default)]
    pub ports_udp: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}

/// A registered container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstance {
    pub id: String,
    pub cluster: String,
    pub ec2_instance_id: String,
    pub status: InstanceStatus,
    pub registered: Resources,
    pub attributes: Vec<Attribute>,
    pub version_info: VersionInfo,
    pub registered_at: Timestamp,
    /// When the agent last polled for work.
    pub last_heartbeat: Timestamp,
    /// Optimistic-concurrency version; also ECS's `version` of the instance.
    pub version: i64,
}

impl ContainerInstance {
    pub fn agent_connected(&self, now: Timestamp) -> bool {
        self.status != InstanceStatus::Inactive && now.0 - self.last_heartbeat.0 <= AGENT_HEARTBEAT_TIMEOUT_MS
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}
