//! Container runtimes behind one trait: Docker for real work, a simulated runtime
//! whose containers exist only in memory, for scale tests. awsvpc task networking
//! is in [`network`] (shared) and `awsvpc` (Docker's), task-level limits in
//! [`cgroup`], ephemeral storage in [`storage`].

mod awsvpc;
pub mod cgroup;
mod docker;
pub mod network;
pub mod pause_image;
mod simulated;
pub mod storage;

pub use cgroup::TaskLimits;
pub use docker::{DockerRuntime, PullBehaviour};
pub use network::{NetworkError, PauseSpec};
pub use simulated::{SimulatedBehaviour, SimulatedRuntime};

use async_trait::async_trait;
use flotilla_domain::task::{NetworkBinding, NetworkInterface};
use flotilla_domain::task_definition::TransportProtocol;
use std::collections::BTreeMap;
use std::time::Duration;

/// The label every container the agent creates carries, with its task's ARN.
pub const TASK_ARN_LABEL: &str = "com.amazonaws.ecs.task-arn";
/// The label naming the container within its task.
pub const CONTAINER_NAME_LABEL: &str = "com.amazonaws.ecs.container-name";
/// The label naming the agent (its EC2 instance id) that made a pause container, so
/// that agents sharing one engine only ever sweep their own.
pub const AGENT_INSTANCE_LABEL: &str = "flotilla.agent-instance";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("CannotPullContainerError: pulling image {image}: {reason}")]
    Pull { image: String, reason: String },
    #[error("CannotCreateContainerError: creating container {name}: {reason}")]
    Create { name: String, reason: String },
    #[error("CannotStartContainerError: starting container {id}: {reason}")]
    Start { id: String, reason: String },
    #[error("{doing} container {id}: {reason}")]
    Other { doing: &'static str, id: String, reason: String },
    #[error("the container runtime is unreachable: {0}")]
    Unavailable(String),
    #[error("ResourceInitializationError: setting up the task's network: {0}")]
    Network(#[from] NetworkError),
}

/// One line a container printed, with the time the runtime received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Nanoseconds within the millisecond's second, as the runtime stamped it (to
    /// tell lines of one millisecond apart when resuming).
    pub nanos: u32,
    pub text: String,
}

/// A port to publish: `host_port` 0 asks for a dynamic host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: TransportProtocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    /// As in the task definition: `["CMD-SHELL", "..."]` or `["CMD", ...]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UlimitSpec {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub entry_point: Vec<String>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub cpu_shares: i64,
    pub memory_mib: Option<i64>,
    pub memory_reservation_mib: Option<i64>,
    pub ports: Vec<PortSpec>,
    /// `bridge`, `host`, `none` or `container:<id>` (an awsvpc task's pause container).
    pub network_mode: String,
    pub health: Option<HealthSpec>,
    pub ulimits: Vec<UlimitSpec>,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    /// `source:destination[:ro]`, sources being host paths or volume names.
    pub binds: Vec<String>,
    /// `container[:ro]`.
    pub volumes_from: Vec<String>,
    pub links: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub disable_networking: bool,
    pub stop_timeout: Option<Duration>,
    /// The task's cgroup, when it has task-level limits (see [`cgroup`]).
    pub cgroup_parent: Option<String>,
    /// GiB the container's writable layer may take, where the runtime can cap it
    /// (see [`storage`]).
    pub storage_size_gib: Option<i64>,
}

/// The runtime's view of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    /// Set once the container has exited.
    pub exit_code: Option<i64>,
    /// Why the runtime ended it, when it says (e.g. OOMKilled).
    pub error: Option<String>,
    /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN` when a health check is configured.
    pub health: Option<String>,
    pub bindings: Vec<NetworkBinding>,
    /// The container's address on its network, when it has one.
    pub ipv4: Option<String>,
    /// RFC 3339 start time, once started.
    pub started_at: Option<String>,
    pub image_id: Option<String>,
}

/// A container the agent created, found again by its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedContainer {
    pub id: String,
    pub task_arn: String,
    pub container_name: String,
    /// The [`AGENT_INSTANCE_LABEL`], on pause containers.
    pub agent_instance: Option<String>,
}

/// Credentials for pulling from a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("server_address", &self.server_address)
            .finish()
    }
}

/// Facts about the node the runtime runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    pub version: String,
    pub cpus: i64,
    pub memory_mib: i64,
}

/// What the agent needs from a container runtime.
#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError>;
    /// Makes the image available locally (per the agent's pull behaviour).
    async fn pull(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<(), RuntimeError>;
    /// Creates (not starts) a container; returns its runtime id. Creating a second
    /// container of the same name fails, which keeps a task from running twice.
    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;
    async fn start(&self, id: &str) -> Result<(), RuntimeError>;
    /// SIGTERM, then SIGKILL after `timeout`.
    async fn stop(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError>;
    /// `None` when the container no longer exists.
    async fn inspect(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError>;
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Every container carrying [`TASK_ARN_LABEL`].
    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError>;
    /// Creates a task-scoped named volume (idempotent).
    async fn ensure_volume(&self, name: &str, driver: Option<&str>) -> Result<(), RuntimeError>;
    /// Removes a named volume; a missing one is not an error.
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;
    /// One sample of the container's resource usage, in Docker's stats format.
    async fn stats(&self, id: &str) -> Result<Option<serde_json::Value>, RuntimeError>;
    /// Follows what the container prints on stdout and stderr, from `since` (Unix
    /// seconds; Docker's granularity) until it stops: lines arrive on the channel,
    /// which closes when the container's output ends. The channel is bounded, so a
    /// reader that falls behind slows the follower down rather than filling memory.
    async fn logs(&self, id: &str, since: i64) -> Result<tokio::sync::mpsc::Receiver<LogLine>, RuntimeError>;
    /// The address containers reach the node at (the bridge gateway), if any.
    async fn gateway_ip(&self) -> Option<std::net::IpAddr>;
    /// The registry digest (`sha256:…`) of the local `image`, when it came from a
    /// registry; reported so a service deployment can pin what it runs.
    async fn image_digest(&self, image: &str) -> Option<String>;
    /// Creates (not starts) an awsvpc task's pause container, which holds the
    /// task's network namespace and address (see [`network`]); makes the network
    /// and the pause image first when missing. Removing the container (with
    /// [`ContainerRuntime::remove`]) releases the address.
    async fn create_pause(&self, spec: &PauseSpec) -> Result<String, RuntimeError>;
    /// The interface of a started pause container; `None` once it is gone or stopped.
    async fn task_interface(&self, pause_id: &str) -> Result<Option<NetworkInterface>, RuntimeError>;
    /// Makes the task's cgroup enforcing `limits` for all its containers together;
    /// returns the cgroup parent to create them with, or `None` (logged) when this
    /// host cannot, and the task runs without task-level limits.
    async fn prepare_task_cgroup(&self, task_id: &str, limits: &TaskLimits) -> Option<String>;
    /// Removes the task's cgroup, if it has one; false (logged) when it could not,
    /// and the agent's cleanup tries again.
    async fn release_task_cgroup(&self, task_id: &str) -> bool;
}

/// The digest among an image's `repo@digest` references that belongs to `image`'s
/// repository (the first one when none does).
pub fn digest_for(image: &str, repo_digests: &[String]) -> Option<String> {
    let repo = image.split_once('@').map_or(image, |(r, _)| r);
    let name_start = repo.rfind('/').map_or(0, |i| i + 1);
    let repo = repo[name_start..].rfind(':').map_or(repo, |i| &repo[..name_start + i]);
    let digest_of = |r: &String| r.split_once('@').map(|(_, d)| d.to_string());
    repo_digests
        .iter()
        .find(|r| r.split_once('@').is_some_and(|(name, _)| name == repo))
        .or(repo_digests.first())
        .and_then(digest_of)
}

#[cfg(test)]
mod tests {
    use super::digest_for;

    #[test]
    fn the_digest_of_the_images_own_repository_is_chosen() {
        let refs = vec!["other/app@sha256:b".to_string(), "127.0.0.1:7700/app@sha256:a".to_string()];
        assert_eq!(digest_for("127.0.0.1:7700/app:v1", &refs).as_deref(), Some("sha256:a"));
        assert_eq!(digest_for("127.0.0.1:7700/app", &refs).as_deref(), Some("sha256:a"));
        assert_eq!(digest_for("elsewhere/x:1", &refs).as_deref(), Some("sha256:b"), "else the first");
        assert_eq!(digest_for("local/busybox:latest", &[]), None, "an imported image has none");
    }
}
