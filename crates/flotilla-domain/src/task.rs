//! Tasks: one run of a task definition on a container instance, its containers and
//! the lifecycle ECS documents.

use crate::container_instance::Resources;
use crate::task_definition::{ContainerDefinition, KeyValuePair, NetworkMode, TaskDefinitionSpec, TransportProtocol};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A task's (or container's) status, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "PROVISIONING",
            Self::Pending => "PENDING",
            Self::Activating => "ACTIVATING",
            Self::Running => "RUNNING",
            Self::Deactivating => "DEACTIVATING",
            Self::Stopping => "STOPPING",
            Self::Deprovisioning => "DEPROVISIONING",
            Self::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PROVISIONING" => Self::Provisioning,
            "PENDING" => Self::Pending,
            "ACTIVATING" => Self::Activating,
            "RUNNING" => Self::Running,
            "DEACTIVATING" => Self::Deactivating,
            "STOPPING" => Self::Stopping,
            "DEPROVISIONING" => Self::Deprovisioning,
            "STOPPED" => Self::Stopped,
            _ => return None,
        })
    }

    /// Counted as pending in cluster and instance figures.
    pub fn is_pending(self) -> bool {
        self < TaskStatus::Running
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    ServiceSchedulerInitiated,
}

impl StopCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskFailedToStart => "TaskFailedToStart",
            Self::EssentialContainerExited => "EssentialContainerExited",
            Self::UserInitiated => "UserInitiated",
            Self::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBinding {
    #[serde(rename = "bindIP", default, skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    pub container_port: i64,
    pub host_port: i64,
    pub protocol: TransportProtocol,
}

/// Per-container changes a RunTask or StartTask call asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValuePair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    #[serde(default)]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Fargate's ephemeral storage for this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<crate::task_definition::EphemeralStorage>,
}

/// One container of a task, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The digest the image was pinned to when a service deployment started; the
    /// agent runs `image` by this digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    pub last_status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
    pub cpu: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// Whether the task stops when this container stops (and its health counts).
    #[serde(default = "essential_by_default")]
    pub essential: bool,
}

fn essential_by_default() -> bool {
    true
}

/// A task, stored as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub cluster: String,
    pub family: String,
    pub revision: i64,
    pub container_instance_id: Option<String>,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    pub group: String,
    pub overrides: TaskOverride,
    /// What the task holds on its instance while it is not STOPPED.
    pub reservation: Resources,
    pub containers: Vec<TaskContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<StopCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// `EC2` or `FARGATE`.
    #[serde(default)]
    pub launch_type: LaunchType,
    /// The capacity provider the task was launched with (`FARGATE`, `FARGATE_SPOT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    /// Fargate's platform version, as asked (`LATEST` is reported as the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// Fargate's ephemeral storage, in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_gib: Option<i64>,
    /// An awsvpc task's network: where it was asked to be and the interface it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TaskNetwork>,
    /// Rises by one on every stored change (ECS's task `version`, and the
    /// optimistic-concurrency version).
    pub version: i64,
}

/// A container's state as an agent reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerReport {
    pub name: String,
    pub status: Option<TaskStatus>,
    pub runtime_id: Option<String>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub health_status: Option<String>,
    pub network_bindings: Option<Vec<NetworkBinding>>,
    pub image_digest: Option<String>,
}

/// A task's state as an agent reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskReport {
    pub status: Option<TaskStatus>,
    pub reason: Option<String>,
    pub containers: Vec<ContainerReport>,
    pub pull_started_at: Option<Timestamp>,
    pub pull_stopped_at: Option<Timestamp>,
    pub execution_stopped_at: Option<Timestamp>,
    /// An awsvpc task's network interface, once the agent has set it up.
    pub network_interface: Option<NetworkInterface>,
}

/// How a task is launched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LaunchType {
    #[default]
    Ec2,
    Fargate,
}

impl LaunchType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ec2 => "EC2",
            Self::Fargate => "FARGATE",
        }
    }
}

/// An awsvpc task's network configuration and, once set up, its interface (ECS's
/// `ElasticNetworkInterface` attachment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskNetwork {
    /// The attachment's id (a UUID, as ECS's).
    pub attachment_id: String,
    pub subnet_id: String,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub assign_public_ip: bool,
    /// The interface's id (`eni-` and 17 hex digits).
    pub network_interface_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<NetworkInterface>,
}

impl TaskNetwork {
    /// ECS's attachment status for a task in `status`.
    pub fn attachment_status(&self, status: TaskStatus) -> &'static str {
        match (status, &self.interface) {
            (TaskStatus::Stopped, _) => "DELETED",
            (TaskStatus::Deprovisioning, _) => "DELETING",
            (_, Some(_)) => "ATTACHED",
            (_, None) => "PRECREATED",
        }
    }
}

/// The network interface an agent gave an awsvpc task: its own address on the
/// network the agent manages (reported as the task's ENI attachment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    #[serde(rename = "privateIPv4Address")]
    pub private_ipv4_address: String,
    pub mac_address: String,
}

impl Task {
    /// A new task of `family:revision` in `cluster`: PROVISIONING, desired RUNNING,
    /// in group `family:FAMILY`, not placed, with nothing reserved or run yet. Callers
    /// fill in what their launch sets (containers, reservation, overrides, …).
    pub fn provisioning(id: String, cluster: String, family: String, revision: i64, created_at: Timestamp) -> Self {
        Task {
            id,
            cluster,
            group: format!("family:{family}"),
            family,
            revision,
            container_instance_id: None,
            last_status: TaskStatus::Provisioning,
            desired_status: TaskStatus::Running,
            started_by: None,
            overrides: TaskOverride::default(),
            reservation: Resources::default(),
            containers: Vec::new(),
            cpu: None,
            memory: None,
            created_at,
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            stopping_at: None,
            execution_stopped_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            client_token: None,
            launch_type: LaunchType::Ec2,
            capacity_provider_name: None,
            platform_version: None,
            ephemeral_storage_gib: None,
            network: None,
            version: 1,
        }
    }

    /// Asks the task to stop; the agent carries it out and reports.
    pub fn request_stop(&mut self, code: StopCode, reason: Option<String>, now: Timestamp) -> bool {
        if self.desired_status == TaskStatus::Stopped {
            return false;
        }
        self.desired_status = TaskStatus::Stopped;
        self.stop_code.get_or_insert(code);
        if self.stopped_reason.is_none() {
            self.stopped_reason = reason;
        }
        self.stopping_at.get_or_insert(now);
        true
    }

    /// Applies an agent's report. Statuses only move forward: a report of an earlier
    /// status than the task's (a late or repeated message) changes nothing in it.
    /// Returns whether anything changed.
    pub fn apply_report(&mut self, report: &TaskReport, now: Timestamp) -> bool {
        let before = self.clone();
        for c in &report.containers {
            let Some(container) = self.containers.iter_mut().find(|x| x.name == c.name) else { continue };
            if let Some(s) = c.status
                && s > container.last_status
            {
                container.last_status = s;
            }
            if c.runtime_id.is_some() {
                container.runtime_id.clone_from(&c.runtime_id);
            }
            if c.exit_code.is_some() {
                container.exit_code = c.exit_code;
            }
            if c.reason.is_some() {
                container.reason.clone_from(&c.reason);
            }
            if c.health_status.is_some() {
                container.health_status.clone_from(&c.health_status);
            }
            if let Some(b) = &c.network_bindings {
                container.network_bindings.clone_from(b);
            }
            // A pinned digest stays; otherwise the one the agent pulled is recorded.
            if container.image_digest.is_none() && c.image_digest.is_some() {
                container.image_digest.clone_from(&c.image_digest);
            }
        }
        if let (Some(network), Some(interface)) = (&mut self.network, &report.network_interface)
            && network.interface.is_none()
        {
            network.interface = Some(interface.clone());
        }
        if report.pull_started_at.is_some() && self.pull_started_at.is_none() {
            self.pull_started_at = report.pull_started_at;
        }
        if report.pull_stopped_at.is_some() && self.pull_stopped_at.is_none() {
            self.pull_stopped_at = report.pull_stopped_at;
        }
        if let Some(status) = report.status
            && status > self.last_status
        {
            self.last_status = status;
            match status {
                TaskStatus::Running => {
                    self.started_at.get_or_insert(now);
                }
                TaskStatus::Deactivating | TaskStatus::Stopping | TaskStatus::Deprovisioning => {
                    self.desired_status = TaskStatus::Stopped;
                    self.stopping_at.get_or_insert(now);
                }
                TaskStatus::Stopped => {
                    self.desired_status = TaskStatus::Stopped;
                    self.stopping_at.get_or_insert(now);
                    self.execution_stopped_at = Some(report.execution_stopped_at.unwrap_or(now));
                    self.stopped_at = Some(now);
                    if self.stop_code.is_none() {
                        // An essential container that exited with a code had started,
                        // even if the RUNNING report was never seen.
                        let essential_exit = self.started_at.is_some()
                            || self.containers.iter().any(|c| c.essential && c.exit_code.is_some());
                        self.stop_code = Some(if essential_exit {
                            StopCode::EssentialContainerExited
                        } else {
                            StopCode::TaskFailedToStart
                        });
                    }
                    if self.stopped_reason.is_none() {
                        self.stopped_reason.clone_from(&report.reason);
                    }
                    for c in &mut self.containers {
                        c.last_status = TaskStatus::Stopped;
                    }
                }
                _ => {}
            }
        }
        *self != before
    }

    /// ECS's task health: HEALTHY when every essential container is, UNHEALTHY when
    /// any essential one is, UNKNOWN otherwise. Non-essential containers do not count.
    pub fn health_status(&self) -> &'static str {
        let essential: Vec<&TaskContainer> = self.containers.iter().filter(|c| c.essential).collect();
        if essential.iter().any(|c| c.health_status.as_deref() == Some("UNHEALTHY")) {
            "UNHEALTHY"
        } else if !essential.is_empty() && essential.iter().all(|c| c.health_status.as_deref() == Some("HEALTHY")) {
            "HEALTHY"
        } else {
            "UNKNOWN"
        }
    }

    /// Whether the task still holds resources on its instance.
    pub fn holds_resources(&self) -> bool {
        self.last_status != TaskStatus::Stopped
    }
}

/// `image` named by `digest` instead of its tag: `repo:tag` or `repo@old` becomes
/// `repo@digest`.
pub fn pinned_image(image: &str, digest: &str) -> String {
    let repo = image.split_once('@').map_or(image, |(r, _)| r);
    let name_start = repo.rfind('/').map_or(0, |i| i + 1);
    let repo = match repo[name_start..].rfind(':') {
        Some(i) => &repo[..name_start + i],
        None => repo,
    };
    format!("{repo}@{digest}")
}

/// What one task of a definition needs from an instance, with overrides applied.
pub fn task_needs(spec: &TaskDefinitionSpec, overrides: &TaskOverride) -> Resources {
    let container =
        |c: &ContainerDefinition| overrides.container_overrides.iter().find(|o| o.name.as_deref() == Some(&c.name));
    // Sums saturate: a need too large for any instance must never wrap into a small one.
    let cpu_sum: i64 = spec
        .container_definitions
        .iter()
        .map(|c| container(c).and_then(|o| o.cpu).unwrap_or(c.cpu))
        .fold(0, i64::saturating_add);
    let mem_sum: i64 = spec
        .container_definitions
        .iter()
        .map(|c| {
            let o = container(c);
            let memory = o.and_then(|o| o.memory).or(c.memory);
            let reservation = o.and_then(|o| o.memory_reservation).or(c.memory_reservation);
            reservation.or(memory).unwrap_or(0)
        })
        .fold(0, i64::saturating_add);
    let task_cpu = overrides.cpu.as_deref().or(spec.cpu.as_deref()).and_then(crate::task_definition::parse_task_cpu);
    let task_mem =
        overrides.memory.as_deref().or(spec.memory.as_deref()).and_then(crate::task_definition::parse_task_memory);
    let mode = spec.network_mode.unwrap_or(NetworkMode::Bridge);
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    for c in &spec.container_definitions {
        for p in &c.port_mappings {
            let host = match mode {
                NetworkMode::Host => p.container_port,
                // The task has its own address: it takes no port of the node's.
                NetworkMode::Awsvpc => None,
                _ => p.host_port.filter(|h| *h > 0),
            };
            if let Some(h) = host.and_then(|h| u16::try_from(h).ok()) {
                match p.protocol.unwrap_or(TransportProtocol::Tcp) {
                    TransportProtocol::Tcp => tcp.push(h),
                    TransportProtocol::Udp => udp.push(h),
                }
            }
        }
    }
    Resources { cpu: task_cpu.unwrap_or(cpu_sum), memory: task_mem.unwrap_or(mem_sum), ports_tcp: tcp, ports_udp: udp }
}

#[cfg(test)]
mod tests;
