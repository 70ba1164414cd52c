//! The Docker runtime, through the Engine API (bollard).

use super::cgroup::{CgroupError, TaskCgroups, TaskLimits};
use super::network::{Ipv4Cidr, PauseSpec};
use super::{
    AGENT_INSTANCE_LABEL, CONTAINER_NAME_LABEL, ContainerRuntime, ContainerSpec, ContainerState, LogLine,
    ManagedContainer, RegistryAuth, RuntimeError, RuntimeInfo, TASK_ARN_LABEL, awsvpc, storage,
};
use async_trait::async_trait;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{
    ContainerCreateBody, HealthConfig, HealthStatusEnum, HostConfig, PortBinding, ResourcesUlimits, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, InspectNetworkOptions, ListContainersOptions,
    LogsOptionsBuilder, RemoveContainerOptions, RemoveVolumeOptions, StartContainerOptions, StatsOptions,
    StopContainerOptions,
};
use flotilla_domain::task::{NetworkBinding, NetworkInterface};
use flotilla_domain::task_definition::TransportProtocol;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// When the agent pulls an image (ECS's `ECS_IMAGE_PULL_BEHAVIOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullBehaviour {
    /// Pull every time; fall back to a cached image when the pull fails.
    Default,
    /// Pull every time; fail when the pull fails.
    Always,
    /// Use a cached image when there is one, else pull.
    PreferCached,
}

pub struct DockerRuntime {
    docker: Docker,
    pull: PullBehaviour,
    /// What the engine says of its host, read once.
    host: tokio::sync::OnceCell<HostFacts>,
    /// One task at a time makes the awsvpc network and the pause image.
    awsvpc_setup: tokio::sync::Mutex<()>,
    /// Set once Docker has refused a storage size (overlay2 on xfs without pquota).
    storage_size_refused: AtomicBool,
    /// Set once the lack of task cgroups has been warned about.
    cgroup_warned: AtomicBool,
}

/// The engine's host, as far as awsvpc, task limits and storage sizes go.
struct HostFacts {
    /// `x86_64`, `aarch64`, … (the pause image is made for it).
    architecture: String,
    cgroups: TaskCgroups,
    /// Whether containers may get `StorageOpt size`.
    storage_size: bool,
    storage_driver: String,
}

fn unavailable(e: bollard::errors::Error) -> RuntimeError {
    RuntimeError::Unavailable(e.to_string())
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

impl DockerRuntime {
    /// Connects to the local engine (DOCKER_HOST or the default socket) and agrees
    /// on an API version it speaks.
    pub async fn connect(pull: PullBehaviour) -> Result<Self, RuntimeError> {
        let docker = Docker::connect_with_local_defaults().map_err(unavailable)?;
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        Ok(Self {
            docker,
            pull,
            host: tokio::sync::OnceCell::new(),
            awsvpc_setup: tokio::sync::Mutex::new(()),
            storage_size_refused: AtomicBool::new(false),
            cgroup_warned: AtomicBool::new(false),
        })
    }

    async fn host(&self) -> Result<&HostFacts, RuntimeError> {
        self.host
            .get_or_try_init(|| async {
                let info = self.docker.info().await.map_err(unavailable)?;
                let driver = info.driver.clone().unwrap_or_default();
                let status = info.driver_status.clone().unwrap_or_default();
                let storage_size = storage::size_supported(&driver, storage::backing_filesystem(&status));
                let version = info.cgroup_version.map(|v| v.to_string());
                let cgroup_driver = info.cgroup_driver.map(|d| d.to_string());
                let cgroups = TaskCgroups::detect("/sys/fs/cgroup", version.as_deref(), cgroup_driver.as_deref());
                tracing::debug!(cgroups = ?cgroups.mode(), storage_driver = %driver, storage_size, "Docker host");
                Ok(HostFacts {
                    architecture: info.architecture.unwrap_or_else(|| std::env::consts::ARCH.to_string()),
                    cgroups,
                    storage_size,
                    storage_driver: driver,
                })
            })
            .await
    }

    /// The storage size to ask for, when this host can honour it.
    async fn storage_size(&self, spec: &ContainerSpec) -> Option<i64> {
        let gib = spec.storage_size_gib?;
        let host = self.host().await.ok()?;
        if host.storage_size && !self.storage_size_refused.load(Ordering::Relaxed) {
            return Some(gib);
        }
        tracing::debug!(container = %spec.name, gib, driver = %host.storage_driver,
            "the storage driver cannot cap a container's writable layer; ephemeral storage is not limited");
        None
    }

    fn cgroup_problem(&self, task_id: &str, e: &CgroupError) {
        if !self.cgroup_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(task = task_id, error = %e, "tasks run without task-level CPU and memory limits");
        } else {
            tracing::debug!(task = task_id, error = %e, "no task-level CPU and memory limits");
        }
    }

    async fn repo_digests(&self, image: &str) -> Vec<String> {
        self.docker.inspect_image(image).await.ok().and_then(|i| i.repo_digests).unwrap_or_default()
    }

    async fn image_present(&self, image: &str) -> bool {
        self.docker.inspect_image(image).await.is_ok()
    }

    async fn pull_now(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<(), String> {
        let (repo, tag) = split_image(image);
        let options =
            CreateImageOptions { from_image: Some(repo.to_string()), tag: Some(tag.to_string()), ..Default::default() };
        let credentials = auth.map(|a| DockerCredentials {
            username: Some(a.username.clone()),
            password: Some(a.password.clone()),
            serveraddress: Some(a.server_address.clone()),
            ..Default::default()
        });
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            item.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// `repo[:tag]` or `repo@digest`; the tag defaults to `latest`.
fn split_image(image: &str) -> (&str, &str) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

/// The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`).
fn first_host(subnet: &str) -> Option<std::net::IpAddr> {
    let (addr, len) = subnet.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l < 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some(std::net::IpAddr::V4(((u32::from(addr) & mask) + 1).into()))
}

fn nanos(d: Duration) -> i64 {
    d.as_nanos() as i64
}

fn port_key(p: &super::PortSpec) -> String {
    format!("{}/{}", p.container_port, p.protocol.as_str())
}

fn create_body(spec: &ContainerSpec, storage_size_gib: Option<i64>) -> ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        let host_port = if p.host_port == 0 { String::new() } else { p.host_port.to_string() };
        port_bindings
            .entry(port_key(p))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: None, host_port: Some(host_port) });
    }
    let host_config = HostConfig {
        cpu_shares: Some(spec.cpu_shares.max(2)),
        memory: spec.memory_mib.map(|m| m * 1024 * 1024),
        memory_reservation: spec.memory_reservation_mib.map(|m| m * 1024 * 1024),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        network_mode: Some(spec.network_mode.clone()),
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect()
        }),
        readonly_rootfs: Some(spec.readonly_rootfs),
        privileged: Some(spec.privileged),
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        volumes_from: (!spec.volumes_from.is_empty()).then(|| spec.volumes_from.clone()),
        links: (!spec.links.is_empty()).then(|| spec.links.clone()),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        dns: (!spec.dns.is_empty()).then(|| spec.dns.clone()),
        dns_search: (!spec.dns_search.is_empty()).then(|| spec.dns_search.clone()),
        cgroup_parent: spec.cgroup_parent.clone(),
        storage_opt: storage_size_gib.map(|g| HashMap::from([("size".to_string(), format!("{g}G"))])),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        entrypoint: (!spec.entry_point.is_empty()).then(|| spec.entry_point.clone()),
        env: Some(spec.env.clone()),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        exposed_ports: (!spec.ports.is_empty()).then(|| spec.ports.iter().map(port_key).collect()),
        healthcheck: spec.health.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(nanos(h.interval)),
            timeout: Some(nanos(h.timeout)),
            retries: Some(h.retries.into()),
            start_period: Some(nanos(h.start_period)),
            start_interval: None,
        }),
        network_disabled: spec.disable_networking.then_some(true),
        stop_timeout: spec.stop_timeout.map(|t| t.as_secs() as i64),
        host_config: Some(host_config),
        ..Default::default()
    }
}

#[async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
        let info = self.docker.info().await.map_err(unavailable)?;
        let version = self.docker.version().await.map_err(unavailable)?;
        Ok(RuntimeInfo {
            version: version.version.unwrap_or_default(),
            cpus: info.ncpu.unwrap_or(1),
            memory_mib: info.mem_total.unwrap_or(0) / (1024 * 1024),
        })
    }

    async fn pull(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<(), RuntimeError> {
        let pull_error = |reason: String| RuntimeError::Pull { image: image.to_string(), reason };
        match self.pull {
            PullBehaviour::PreferCached if self.image_present(image).await => Ok(()),
            PullBehaviour::Always => self.pull_now(image, auth).await.map_err(pull_error),
            _ => match self.pull_now(image, auth).await {
                Ok(()) => Ok(()),
                Err(_) if self.pull == PullBehaviour::Default && self.image_present(image).await => Ok(()),
                Err(reason) => Err(pull_error(reason)),
            },
        }
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let options = || CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let size = self.storage_size(spec).await;
        let created = match self.docker.create_container(Some(options()), create_body(spec, size)).await {
            // overlay2 on xfs without pquota: Docker says so only when asked.
            Err(e) if size.is_some() && storage::is_size_refusal(&e.to_string()) => {
                self.storage_size_refused.store(true, Ordering::Relaxed);
                tracing::warn!(container = %spec.name, error = %e,
                    "Docker refuses storage sizes here; containers' ephemeral storage is not limited");
                self.docker.create_container(Some(options()), create_body(spec, None)).await
            }
            other => other,
        };
        let created = created.map_err(|e| RuntimeError::Create { name: spec.name.clone(), reason: e.to_string() })?;
        Ok(created.id)
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| RuntimeError::Start { id: id.to_string(), reason: e.to_string() })
    }

    async fn stop(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        let options = StopContainerOptions { t: Some(timeout.as_secs() as i32), signal: None };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(RuntimeError::Other { doing: "stopping", id: id.to_string(), reason: e.to_string() }),
        }
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
        let c = match self.docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(RuntimeError::Other { doing: "inspecting", id: id.to_string(), reason: e.to_string() });
            }
        };
        let ipv4 = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|nets| nets.values().find_map(|e| e.ip_address.clone().filter(|ip| !ip.is_empty())));
        let image_id = c.image.clone();
        let state = c.state.unwrap_or_default();
        let started_at = state.started_at.clone().filter(|s| !s.starts_with("0001-"));
        let running = state.running.unwrap_or(false);
        let started = state.started_at.as_deref().is_some_and(|s| !s.starts_with("0001-"));
        let exit_code = (!running && started).then(|| state.exit_code.unwrap_or(0));
        let error = if state.oom_killed == Some(true) {
            Some("OutOfMemoryError: Container killed due to memory usage".to_string())
        } else {
            state.error.filter(|e| !e.is_empty())
        };
        let health = state.health.and_then(|h| h.status).and_then(|s| match s {
            HealthStatusEnum::HEALTHY => Some("HEALTHY".to_string()),
            HealthStatusEnum::UNHEALTHY => Some("UNHEALTHY".to_string()),
            HealthStatusEnum::STARTING => Some("UNKNOWN".to_string()),
            _ => None,
        });
        let mut bindings = Vec::new();
        for (key, host) in c.network_settings.and_then(|n| n.ports).unwrap_or_default() {
            let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse::<i64>() else { continue };
            let protocol = if proto == "udp" { TransportProtocol::Udp } else { TransportProtocol::Tcp };
            for b in host.unwrap_or_default() {
                let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse::<i64>().ok()) else { continue };
                let bind_ip = b.host_ip.unwrap_or_else(|| "0.0.0.0".into());
                // Docker lists IPv4 and IPv6 bindings of one port; ECS reports one.
                if bind_ip.contains(':') {
                    continue;
                }
                bindings.push(NetworkBinding { bind_ip: Some(bind_ip), container_port, host_port, protocol });
            }
        }
        bindings.sort_by_key(|b| (b.container_port, b.host_port));
        Ok(Some(ContainerState { running, exit_code, error, health, bindings, ipv4, started_at, image_id }))
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptions { force: true, v: false, link: false };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(RuntimeError::Other { doing: "removing", id: id.to_string(), reason: e.to_string() }),
        }
    }

    async fn list_managed(&self) -> Result<Vec<ManagedContainer>, RuntimeError> {
        let filters = HashMap::from([("label".to_string(), vec![TASK_ARN_LABEL.to_string()])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        let list = self.docker.list_containers(Some(options)).await.map_err(unavailable)?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                Some(ManagedContainer {
                    id: c.id?,
                    task_arn: labels.get(TASK_ARN_LABEL)?.clone(),
                    container_name: labels.get(CONTAINER_NAME_LABEL)?.clone(),
                    agent_instance: labels.get(AGENT_INSTANCE_LABEL).cloned(),
                })
            })
            .collect())
    }

    async fn ensure_volume(&self, name: &str, driver: Option<&str>) -> Result<(), RuntimeError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: driver.map(str::to_string),
            ..Default::default()
        };
        self.docker.create_volume(request).await.map(|_| ()).map_err(|e| RuntimeError::Other {
            doing: "creating volume for",
            id: name.to_string(),
            reason: e.to_string(),
        })
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match self.docker.remove_volume(name, None::<RemoveVolumeOptions>).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => {
                Err(RuntimeError::Other { doing: "removing volume", id: name.to_string(), reason: e.to_string() })
            }
        }
    }

    async fn stats(&self, id: &str) -> Result<Option<serde_json::Value>, RuntimeError> {
        let options = StatsOptions { stream: false, one_shot: true };
        let mut stream = self.docker.stats(id, Some(options));
        match stream.next().await {
            None => Ok(None),
            Some(Err(e)) if is_not_found(&e) => Ok(None),
            Some(Err(e)) => {
                Err(RuntimeError::Other { doing: "reading stats of", id: id.to_string(), reason: e.to_string() })
            }
            Some(Ok(stats)) => Ok(serde_json::to_value(stats).ok()),
        }
    }

    async fn logs(&self, id: &str, since: i64) -> Result<tokio::sync::mpsc::Receiver<LogLine>, RuntimeError> {
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .since(i32::try_from(since.max(0)).unwrap_or(i32::MAX))
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let id = id.to_string();
        tokio::spawn(async move {
            // Docker frames each line (or each 16 KiB of a long one) with its timestamp.
            while let Some(item) = stream.next().await {
                let bytes = match item {
                    Ok(output) => output.into_bytes(),
                    Err(e) => {
                        tracing::debug!(container = %id, error = %e, "following a container's output ended");
                        break;
                    }
                };
                let text = String::from_utf8_lossy(&bytes);
                for line in text.split_terminator('\n') {
                    let Some(line) = parse_log_line(line) else { continue };
                    if tx.send(line).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    async fn image_digest(&self, image: &str) -> Option<String> {
        super::digest_for(image, &self.repo_digests(image).await)
    }

    async fn create_pause(&self, spec: &PauseSpec) -> Result<String, RuntimeError> {
        let cidr = Ipv4Cidr::parse(&spec.cidr)?;
        let architecture = self.host().await?.architecture.clone();
        {
            let _one_at_a_time = self.awsvpc_setup.lock().await;
            awsvpc::ensure_pause_image(&self.docker, &architecture).await?;
            awsvpc::ensure_network(&self.docker, &cidr).await?;
        }
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let created = self
            .docker
            .create_container(Some(options), awsvpc::pause_body(spec))
            .await
            .map_err(|e| RuntimeError::Create { name: spec.name.clone(), reason: e.to_string() })?;
        Ok(created.id)
    }

    async fn task_interface(&self, pause_id: &str) -> Result<Option<NetworkInterface>, RuntimeError> {
        awsvpc::interface(&self.docker, pause_id).await.map_err(|e| RuntimeError::Other {
            doing: "reading the network interface of",
            id: pause_id.to_string(),
            reason: e.to_string(),
        })
    }

    async fn prepare_task_cgroup(&self, task_id: &str, limits: &TaskLimits) -> Option<String> {
        let host = match self.host().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(task = task_id, error = %e, "no task-level limits: cannot read the Docker host");
                return None;
            }
        };
        match host.cgroups.create(task_id, limits) {
            Ok(parent) => {
                tracing::debug!(task = task_id, %parent, ?limits, "task cgroup ready");
                Some(parent)
            }
            Err(e) => {
                self.cgroup_problem(task_id, &e);
                None
            }
        }
    }

    async fn release_task_cgroup(&self, task_id: &str) -> bool {
        let Ok(host) = self.host().await else { return false };
        match host.cgroups.remove(task_id) {
            Ok(()) => {
                tracing::debug!(task = task_id, "the task cgroup is gone");
                true
            }
            Err(e) => {
                tracing::warn!(task = task_id, error = %e, "removing the task cgroup failed; trying again later");
                false
            }
        }
    }

    async fn gateway_ip(&self) -> Option<std::net::IpAddr> {
        let network = self.docker.inspect_network("bridge", None::<InspectNetworkOptions>).await.ok()?;
        network.ipam?.config?.into_iter().find_map(|c| match c.gateway.filter(|g| !g.is_empty()) {
            Some(g) => g.parse().ok(),
            // Without an explicit gateway Docker gives the bridge the subnet's first address.
            None => first_host(c.subnet.as_deref()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_images() {
        assert_eq!(split_image("busybox"), ("busybox", "latest"));
        assert_eq!(split_image("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(split_image("127.0.0.1:7700/app"), ("127.0.0.1:7700/app", "latest"));
        assert_eq!(split_image("127.0.0.1:7700/app:v2"), ("127.0.0.1:7700/app", "v2"));
        assert_eq!(split_image("app@sha256:abc"), ("app", "sha256:abc"));
    }

    #[test]
    fn gateway_from_subnet() {
        assert_eq!(first_host("172.17.0.0/16"), Some("172.17.0.1".parse().unwrap()));
        assert_eq!(first_host("10.1.2.0/24"), Some("10.1.2.1".parse().unwrap()));
        assert_eq!(first_host("fd00::/64"), None);
    }
}

/// `2024-01-02T03:04:05.123456789Z text` (Docker's timestamped line) as a [`LogLine`].
fn parse_log_line(line: &str) -> Option<LogLine> {
    let (stamp, text) = line.split_once(' ').unwrap_or((line, ""));
    let timestamp = flotilla_domain::Timestamp::parse_iso8601(stamp).ok()?.0;
    let fraction = stamp.split_once('.').map_or("", |(_, f)| f.trim_end_matches('Z'));
    let digits: String = fraction.chars().take_while(char::is_ascii_digit).take(9).collect();
    let nanos = format!("{digits:0<9}").parse().unwrap_or(0);
    Some(LogLine { timestamp, nanos, text: text.trim_end_matches('\r').to_string() })
}

#[cfg(test)]
mod log_line_tests {
    use super::parse_log_line;

    #[test]
    fn docker_timestamped_lines_are_read() {
        let line = parse_log_line("2024-01-02T03:04:05.123456789Z hello world").unwrap();
        assert_eq!(line.text, "hello world");
        assert_eq!(line.nanos, 123_456_789);
        assert_eq!(line.timestamp % 1000, 123);
        assert_eq!(parse_log_line("2024-01-02T03:04:05.5Z ").unwrap().nanos, 500_000_000);
        assert!(parse_log_line("not a line").is_none());
    }
}
