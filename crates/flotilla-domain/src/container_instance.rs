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
    /// Since when its agent is known lost (recorded by the heartbeat controller; a
    /// poll or re-registration after that brings it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_lost_at: Option<Timestamp>,
    /// Which launch types the node serves.
    #[serde(default)]
    pub capacity: NodeCapacity,
    /// Optimistic-concurrency version; also ECS's `version` of the instance.
    pub version: i64,
}

/// Which launch types a node serves. A node that serves Fargate is *managed*
/// capacity: Fargate tasks of any cluster may be placed on it. A Fargate-only node
/// is hidden from the ECS API (ListContainerInstances and the rest never show it)
/// and never takes EC2-launch-type tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodeCapacity {
    /// A container instance of its cluster, as on EC2.
    #[default]
    Ec2,
    /// Both a container instance of its cluster and Fargate capacity (the node
    /// `flotilla up` runs).
    Ec2AndFargate,
    /// Fargate capacity only.
    Fargate,
}

impl NodeCapacity {
    pub fn serves_fargate(self) -> bool {
        self != Self::Ec2
    }

    pub fn serves_ec2(self) -> bool {
        self != Self::Fargate
    }
}

impl ContainerInstance {
    pub fn agent_connected(&self, now: Timestamp) -> bool {
        self.status != InstanceStatus::Inactive && now.0 - self.last_heartbeat.0 <= AGENT_HEARTBEAT_TIMEOUT_MS
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// What the heartbeat controller records about an instance's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChange {
    /// No heartbeat for longer than [`AGENT_HEARTBEAT_TIMEOUT_MS`]: lost since `since`
    /// (the moment the timeout ran out).
    Lost { id: String, since: Timestamp },
    /// Recorded lost, but heartbeats came back.
    Back { id: String },
}

/// The heartbeat reconciler: from the instances as stored and the time, which agents
/// to record as lost or back. Deregistered (INACTIVE) instances are left alone.
pub fn agent_changes(instances: &[ContainerInstance], now: Timestamp) -> Vec<AgentChange> {
    instances
        .iter()
        .filter(|ci| ci.status != InstanceStatus::Inactive)
        .filter_map(|ci| match (ci.agent_connected(now), ci.agent_lost_at) {
            (false, None) => Some(AgentChange::Lost {
                id: ci.id.clone(),
                since: Timestamp(ci.last_heartbeat.0 + AGENT_HEARTBEAT_TIMEOUT_MS),
            }),
            (true, Some(_)) => Some(AgentChange::Back { id: ci.id.clone() }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, status: InstanceStatus, heartbeat: i64, lost_at: Option<i64>) -> ContainerInstance {
        ContainerInstance {
            id: id.into(),
            cluster: "default".into(),
            ec2_instance_id: format!("i-{id}"),
            status,
            registered: Resources::default(),
            attributes: Vec::new(),
            version_info: VersionInfo::default(),
            registered_at: Timestamp(0),
            last_heartbeat: Timestamp(heartbeat),
            agent_lost_at: lost_at.map(Timestamp),
            capacity: NodeCapacity::Ec2,
            version: 1,
        }
    }

    #[test]
    fn heartbeat_reconciler_records_agents_lost_and_back() {
        use InstanceStatus::{Active, Draining, Inactive};
        let now = 1_000_000;
        let lapsed = now - AGENT_HEARTBEAT_TIMEOUT_MS - 1;
        let fresh = now - 1_000;
        /// (what, status, last heartbeat, recorded lost at, expected change)
        type Case = (&'static str, InstanceStatus, i64, Option<i64>, Option<AgentChange>);
        let cases: &[Case] = &[
            ("fresh and connected: nothing", Active, fresh, None, None),
            ("exactly at the timeout: still connected", Active, now - AGENT_HEARTBEAT_TIMEOUT_MS, None, None),
            (
                "lapsed, not yet recorded: lost since the timeout ran out",
                Active,
                lapsed,
                None,
                Some(AgentChange::Lost { id: "i".into(), since: Timestamp(lapsed + AGENT_HEARTBEAT_TIMEOUT_MS) }),
            ),
            (
                "draining instances are watched too",
                Draining,
                lapsed,
                None,
                Some(AgentChange::Lost { id: "i".into(), since: Timestamp(lapsed + AGENT_HEARTBEAT_TIMEOUT_MS) }),
            ),
            ("lapsed and already recorded: nothing", Active, lapsed, Some(lapsed + 60_000), None),
            ("recorded lost, heartbeats back", Active, fresh, Some(5), Some(AgentChange::Back { id: "i".into() })),
            ("deregistered: left alone", Inactive, lapsed, None, None),
            ("deregistered and recorded: left alone", Inactive, fresh, Some(5), None),
        ];
        for (what, status, heartbeat, lost_at, want) in cases {
            let got = agent_changes(&[instance("i", *status, *heartbeat, *lost_at)], Timestamp(now));
            assert_eq!(got, want.iter().cloned().collect::<Vec<_>>(), "{what}");
        }
    }
}
