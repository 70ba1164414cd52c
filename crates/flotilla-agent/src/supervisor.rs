//! One supervisor per task: pulls, creates and starts its containers in
//! dependency order, watches them, stops them when asked or when an essential one
//! exits, and publishes every change as a full report (see [`TaskSnapshot`]).
//!
//! Reports are cumulative and statuses only move forward on the control plane, so
//! the reporter may drop intermediate snapshots of one status (keeping the latest)
//! and resend as often as it must; it never skips a status, so the control plane
//! sees every step of the lifecycle (RUNNING before STOPPED, say).
//!
//! Before any container, a task with task-level CPU or memory gets its cgroup
//! ([`crate::runtime::cgroup`]), and an awsvpc task its pause container and address
//! ([`crate::runtime::network`]): its first PENDING report carries the interface.
//! Once its containers have stopped the pause container is removed (releasing the
//! address) and the cgroup too, while the task is DEPROVISIONING, before STOPPED.

use crate::client::ControlPlaneClient;
use crate::logs::{LogShipping, LogTarget, TaskRef};
use crate::metadata::MetadataRegistry;
use crate::registry_login::RegistryLogin;
use crate::runtime::network::PAUSE_CONTAINER_NAME;
use crate::runtime::{
    AGENT_INSTANCE_LABEL, CONTAINER_NAME_LABEL, ContainerRuntime, ContainerSpec, HealthSpec, PauseSpec, PortSpec,
    RuntimeError, TASK_ARN_LABEL, TaskLimits, UlimitSpec,
};
use crate::state::SharedState;
use crate::task_credentials::TaskCredentials;
use flotilla_core::Timestamp;
use flotilla_domain::task::{LaunchType, NetworkBinding, NetworkInterface, TaskOverride, TaskStatus};
use flotilla_domain::task_definition::{
    ContainerCondition, ContainerDefinition, LogDriver, NetworkMode, TaskDefinitionSpec, Volume,
};
use flotilla_ecs_model::state_change::{ContainerStateChange, SubmitTaskStateChangeRequest};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often running containers are inspected.
const MONITOR_INTERVAL: Duration = Duration::from_millis(500);

/// What the control plane wants of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    Running,
    Stopped,
}

/// A container's state as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSnapshot {
    pub container_name: String,
    pub status: TaskStatus,
    pub runtime_id: Option<String>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub health_status: Option<String>,
    pub network_bindings: Vec<NetworkBinding>,
    /// The registry digest of the image the container runs, once pulled.
    pub image_digest: Option<String>,
}

/// A whole task's state, reported whole with [`TaskSnapshot::to_request`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSnapshot {
    pub cluster: String,
    pub task: String,
    pub status: TaskStatus,
    pub reason: Option<String>,
    pub containers: Vec<ContainerSnapshot>,
    pub pull_started_at: Option<Timestamp>,
    pub pull_stopped_at: Option<Timestamp>,
    pub execution_stopped_at: Option<Timestamp>,
    /// An awsvpc task's interface, once set up.
    pub network_interface: Option<NetworkInterface>,
}

impl TaskSnapshot {
    /// The SubmitTaskStateChange that reports this snapshot.
    pub fn to_request(&self) -> SubmitTaskStateChangeRequest {
        SubmitTaskStateChangeRequest {
            cluster: Some(self.cluster.clone()),
            task: Some(self.task.clone()),
            status: Some(self.status),
            reason: self.reason.clone(),
            containers: self
                .containers
                .iter()
                .map(|c| ContainerStateChange {
                    container_name: Some(c.container_name.clone()),
                    runtime_id: c.runtime_id.clone(),
                    exit_code: c.exit_code,
                    network_bindings: Some(c.network_bindings.clone()),
                    reason: c.reason.clone(),
                    status: Some(c.status),
                    health_status: c.health_status.clone(),
                    image_digest: c.image_digest.clone(),
                })
                .collect(),
            pull_started_at: self.pull_started_at,
            pull_stopped_at: self.pull_stopped_at,
            execution_stopped_at: self.execution_stopped_at,
            network_interface: self.network_interface.clone(),
        }
    }
}

/// What a supervisor needs to know of its task.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The task's own cluster (a node serving Fargate runs tasks of any cluster).
    pub cluster: String,
    pub task_arn: String,
    pub family: String,
    pub revision: i64,
    pub definition: TaskDefinitionSpec,
    pub overrides: TaskOverride,
    /// Container name → container ARN.
    pub container_arns: BTreeMap<String, String>,
    pub launch_type: LaunchType,
    /// Fargate's ephemeral storage, GiB.
    pub ephemeral_storage_gib: Option<i64>,
    /// Whether the task's CPU and memory are sampled (see [`crate::metrics`]).
    pub metered: bool,
}

/// The cluster a task ARN names (`arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID`);
/// `None` for the old format without one (`task/ID`) or what is no task ARN.
pub fn task_cluster(task_arn: &str) -> Option<String> {
    let arn: flotilla_core::Arn = task_arn.parse().ok()?;
    let (kind, rest) = arn.resource_type_and_id()?;
    let (cluster, id) = rest.split_once('/')?;
    (kind == "task" && !cluster.is_empty() && !id.is_empty() && !id.contains('/')).then(|| cluster.to_string())
}

impl TaskContext {
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }

    pub fn is_awsvpc(&self) -> bool {
        self.definition.network_mode == Some(NetworkMode::Awsvpc)
    }

    /// The task's own CPU and memory limits.
    pub fn limits(&self) -> TaskLimits {
        TaskLimits::of(&self.definition, &self.overrides)
    }

    fn docker_name(&self, container: &str) -> String {
        format!("ecs-{}-{}-{}-{}", self.family, self.revision, container, self.task_id())
    }
}

/// Agent-wide settings a supervisor uses.
#[derive(Clone)]
pub struct SupervisorSettings {
    pub default_stop_timeout: Duration,
    pub region: String,
    /// Base URL of the task metadata endpoint, e.g. `http://172.17.0.1:51679`.
    pub metadata_base: Option<String>,
    /// Logs in to the control plane's registry for images stored there.
    pub registry: Arc<RegistryLogin>,
    /// Ships `awslogs` containers' output (none with the simulated runtime).
    pub logs: Option<LogShipping>,
    /// The subnet awsvpc tasks get their addresses from.
    pub awsvpc_cidr: String,
    /// This agent's EC2 instance id, put on pause containers so it sweeps only its own.
    pub agent_instance: String,
    /// The agent's own client, which asks for tasks' role credentials.
    pub control_plane: ControlPlaneClient,
    /// This agent's container instance ARN (role credentials are given to it alone).
    pub container_instance: String,
    /// Task role credentials, when this agent serves them.
    pub task_credentials: Option<Arc<TaskCredentials>>,
}

pub fn now_ms() -> i64 {
    Timestamp::now().0
}

/// How a supervisor hears what is wanted and tells what happened.
pub struct Channels {
    pub desired: watch::Receiver<Desired>,
    pub publish: mpsc::UnboundedSender<TaskSnapshot>,
}

pub struct Supervisor {
    ctx: TaskContext,
    runtime: Arc<dyn ContainerRuntime>,
    state: SharedState,
    settings: SupervisorSettings,
    desired: watch::Receiver<Desired>,
    publish: mpsc::UnboundedSender<TaskSnapshot>,
    metadata: MetadataRegistry,
    snapshot: TaskSnapshot,
    /// Container name → runtime id.
    ids: BTreeMap<String, String>,
    /// An awsvpc task's pause container, once created.
    pause: Option<String>,
    /// The task's cgroup, when it has task-level limits this host enforces.
    cgroup_parent: Option<String>,
    /// The containers' `secrets` as environment variables, read as the execution role
    /// before the containers are created (in memory only).
    secret_env: BTreeMap<String, BTreeMap<String, String>>,
    /// The id the task's containers read their task role credentials by.
    credentials_id: Option<String>,
}

/// Why starting a task failed: the reason reported with STOPPED.
struct StartFailure(String);

impl From<RuntimeError> for StartFailure {
    fn from(e: RuntimeError) -> Self {
        StartFailure(e.to_string())
    }
}

enum Wait {
    Ready,
    DesiredStop,
    Failed(String),
}

impl Supervisor {
    pub fn new(
        ctx: TaskContext,
        runtime: Arc<dyn ContainerRuntime>,
        state: SharedState,
        settings: SupervisorSettings,
        channels: Channels,
        metadata: MetadataRegistry,
        adopted: BTreeMap<String, String>,
    ) -> Self {
        let Channels { desired, publish } = channels;
        let mut adopted = adopted;
        let pause = adopted.remove(PAUSE_CONTAINER_NAME);
        let containers = ctx
            .definition
            .container_definitions
            .iter()
            .map(|c| ContainerSnapshot {
                container_name: c.name.clone(),
                status: TaskStatus::Pending,
                runtime_id: adopted.get(&c.name).cloned(),
                exit_code: None,
                reason: None,
                health_status: None,
                network_bindings: Vec::new(),
                image_digest: None,
            })
            .collect();
        let snapshot = TaskSnapshot {
            cluster: ctx.cluster.clone(),
            task: ctx.task_arn.clone(),
            status: TaskStatus::Pending,
            reason: None,
            containers,
            pull_started_at: None,
            pull_stopped_at: None,
            execution_stopped_at: None,
            network_interface: None,
        };
        Self {
            ctx,
            runtime,
            state,
            settings,
            desired,
            publish,
            metadata,
            snapshot,
            ids: adopted,
            pause,
            cgroup_parent: None,
            secret_env: BTreeMap::new(),
            credentials_id: None,
        }
    }

    fn publish(&self) {
        let desired = if self.desired_stop() { "STOPPED" } else { "RUNNING" };
        self.metadata.update(&self.ctx, &self.snapshot, desired);
        // The reporter outlives the supervisor; a send fails only at agent shutdown.
        let _ = self.publish.send(self.snapshot.clone());
    }

    fn set_status(&mut self, status: TaskStatus) {
        self.snapshot.status = status;
        self.publish();
    }

    fn container_mut(&mut self, name: &str) -> &mut ContainerSnapshot {
        let i = self.snapshot.containers.iter().position(|c| c.container_name == name).expect("container of the task");
        &mut self.snapshot.containers[i]
    }

    fn definition(&self, name: &str) -> &ContainerDefinition {
        self.ctx.definition.container_definitions.iter().find(|c| c.name == name).expect("container of the task")
    }

    fn desired_stop(&self) -> bool {
        *self.desired.borrow() == Desired::Stopped
    }

    /// Runs the task to its end.
    pub async fn run(mut self) {
        let reason = self.run_containers().await;
        self.teardown().await;
        self.finish(reason).await;
    }

    /// Starts, watches and stops the task's containers; returns why the task stopped.
    async fn run_containers(&mut self) -> Option<String> {
        let adopted = !self.ids.is_empty();
        if self.desired_stop() && !adopted {
            return Some("Task stopped before it started".into());
        }
        match self.start_all().await {
            Ok(true) => {}
            Ok(false) => {
                self.stop_all().await;
                return None;
            }
            Err(StartFailure(reason)) => {
                tracing::warn!(task = %self.ctx.task_arn, %reason, "task failed to start");
                self.stop_all().await;
                for c in &mut self.snapshot.containers {
                    if c.runtime_id.is_none() {
                        c.reason.get_or_insert_with(|| reason.clone());
                    }
                }
                return Some(reason);
            }
        }
        let reason = self.monitor().await;
        self.stop_all().await;
        reason
    }

    /// Makes the task's cgroup when it has task-level limits (again, after a
    /// restart: it is idempotent); without one the task runs unlimited.
    async fn prepare_cgroup(&mut self) {
        let limits = self.ctx.limits();
        if !limits.is_empty() {
            self.cgroup_parent = self.runtime.prepare_task_cgroup(self.ctx.task_id(), &limits).await;
        }
    }

    /// The pause container of an awsvpc task.
    fn pause_spec(&self) -> PauseSpec {
        let mut labels = BTreeMap::new();
        labels.insert(TASK_ARN_LABEL.to_string(), self.ctx.task_arn.clone());
        labels.insert(CONTAINER_NAME_LABEL.to_string(), PAUSE_CONTAINER_NAME.to_string());
        labels.insert("com.amazonaws.ecs.cluster".into(), self.ctx.cluster.clone());
        labels.insert("com.amazonaws.ecs.task-definition-family".into(), self.ctx.family.clone());
        labels.insert("com.amazonaws.ecs.task-definition-version".into(), self.ctx.revision.to_string());
        labels.insert(AGENT_INSTANCE_LABEL.to_string(), self.settings.agent_instance.clone());
        PauseSpec {
            name: self.ctx.docker_name("internalecspause"),
            labels,
            cidr: self.settings.awsvpc_cidr.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
        }
    }

    /// Gives an awsvpc task its network: creates (or adopts) and starts its pause
    /// container and reads its address into the snapshot.
    async fn setup_network(&mut self) -> Result<(), StartFailure> {
        if !self.ctx.is_awsvpc() {
            return Ok(());
        }
        let failed = |what: String| StartFailure(format!("ResourceInitializationError: {what}"));
        let id = match self.pause.clone() {
            Some(id) => id,
            // Adopted containers live in their pause container's namespace: a new
            // one would give the task an address they do not have.
            None if !self.ids.is_empty() => return Err(failed("the task's pause container is gone".into())),
            None => {
                let id = self.runtime.create_pause(&self.pause_spec()).await?;
                self.pause = Some(id.clone());
                let (task, i) = (self.ctx.task_arn.clone(), id.clone());
                self.state
                    .update(|s| s.tasks.entry(task).or_default().pause_container = Some(i))
                    .map_err(|e| StartFailure(e.to_string()))?;
                id
            }
        };
        match self.runtime.inspect(&id).await? {
            None => return Err(failed(format!("the task's pause container {id} is gone"))),
            Some(s) if s.running => {}
            Some(s) if s.exit_code.is_some() => {
                return Err(failed(format!("the task's pause container {id} has exited")));
            }
            Some(_) => self.runtime.start(&id).await?,
        }
        let interface = self
            .runtime
            .task_interface(&id)
            .await?
            .ok_or_else(|| failed(format!("the task's pause container {id} has no address")))?;
        tracing::info!(task = %self.ctx.task_arn, ip = %interface.private_ipv4_address,
            mac = %interface.mac_address, pause = %id, "task network ready");
        self.snapshot.network_interface = Some(interface);
        Ok(())
    }

    /// Releases what the task held besides its containers: the pause container
    /// (and with it the address) and the task cgroup. The task is DEPROVISIONING
    /// meanwhile; a failure is logged and left to the agent's cleanup.
    async fn teardown(&mut self) {
        if self.pause.is_none() && self.cgroup_parent.is_none() {
            return;
        }
        if self.snapshot.status < TaskStatus::Deprovisioning {
            self.set_status(TaskStatus::Deprovisioning);
        }
        if let Some(id) = self.pause.clone() {
            match self.runtime.remove(&id).await {
                Ok(()) => tracing::info!(task = %self.ctx.task_arn, pause = %id, "removed the task's pause container"),
                Err(e) => tracing::warn!(task = %self.ctx.task_arn, pause = %id, error = %e,
                    "removing the task's pause container failed; the cleanup will try again"),
            }
        }
        if self.cgroup_parent.is_some() {
            self.runtime.release_task_cgroup(self.ctx.task_id()).await;
        }
    }

    /// Pulls and starts every container; `Ok(false)` when told to stop meanwhile.
    async fn start_all(&mut self) -> Result<bool, StartFailure> {
        self.serve_task_role()?;
        self.prepare_cgroup().await;
        self.setup_network().await?;
        let all_adopted = self.ids.len() == self.ctx.definition.container_definitions.len();
        if !all_adopted {
            self.snapshot.pull_started_at = Some(Timestamp::now());
            self.set_status(TaskStatus::Pending);
            // Each image once per set of credentials it is pulled with.
            let mut pulls: Vec<(String, Option<String>)> = Vec::new();
            for c in &self.ctx.definition.container_definitions {
                let pull =
                    (c.image.clone(), c.repository_credentials.as_ref().map(|r| r.credentials_parameter.clone()));
                if !pulls.contains(&pull) {
                    pulls.push(pull);
                }
            }
            let registry = self.settings.registry.clone();
            let needs_role = pulls.iter().any(|(image, p)| p.is_some() || registry.is_own(image));
            let as_role = self.execution_role_client(needs_role).await?;
            for (image, parameter) in pulls {
                let auth = match parameter {
                    Some(parameter) => Some(
                        self.settings.registry.auth_from_secret(&image, &parameter, as_role.as_ref()).await.map_err(
                            |e| StartFailure(format!("CannotPullContainerError: pulling image {image}: {e}")),
                        )?,
                    ),
                    None => match &as_role {
                        Some(role) if registry.is_own(&image) => {
                            Some(registry.auth_as_role(&image, role).await.map_err(|e| {
                                StartFailure(format!(
                                    "CannotPullContainerError: pulling image {image} as the execution role: {e}"
                                ))
                            })?)
                        }
                        _ => registry.auth_for(&image).await,
                    },
                };
                self.runtime.pull(&image, auth.as_ref()).await?;
            }
            for i in 0..self.ctx.definition.container_definitions.len() {
                let image = self.ctx.definition.container_definitions[i].image.clone();
                let digest = self.runtime.image_digest(&image).await;
                self.snapshot.containers[i].image_digest = digest;
            }
            self.snapshot.pull_stopped_at = Some(Timestamp::now());
            self.set_status(TaskStatus::Activating);
        }
        let volumes = self.prepare_volumes().await?;
        for name in self.start_order() {
            match self.wait_for_dependencies(&name).await {
                Wait::Ready => {}
                Wait::DesiredStop => return Ok(false),
                Wait::Failed(reason) => return Err(StartFailure(reason)),
            }
            if !self.ids.contains_key(&name) {
                let spec = self.container_spec(&name, &volumes);
                let id = self.runtime.create(&spec).await?;
                self.ids.insert(name.clone(), id.clone());
                let task = self.ctx.task_arn.clone();
                let (n, i, metered) = (name.clone(), id.clone(), self.ctx.metered);
                self.state
                    .update(|s| {
                        let record = s.tasks.entry(task).or_default();
                        record.metered = metered;
                        record.containers.insert(n, i)
                    })
                    .map_err(|e| StartFailure(e.to_string()))?;
                self.prepare_logs(&name, &id).await?;
                // The container may read its metadata the moment it starts.
                let c = self.container_mut(&name);
                c.runtime_id = Some(id.clone());
                c.status = TaskStatus::Running;
                self.publish();
                self.runtime.start(&id).await?;
            } else if let Some(state) = self.runtime.inspect(&self.ids[&name]).await?
                && !state.running
                && state.exit_code.is_none()
            {
                // Created before a restart but never started.
                self.runtime.start(&self.ids[&name]).await?;
            }
            let id = self.ids[&name].clone();
            self.ship_logs(&name, &id);
            let c = self.container_mut(&name);
            c.runtime_id = Some(id);
            c.status = TaskStatus::Running;
            self.refresh().await?;
        }
        self.set_status(TaskStatus::Running);
        Ok(true)
    }

    /// Where the container's output goes when its definition says `logDriver:
    /// awslogs`: shipped as the task's execution role when it has one.
    fn log_target(&self, name: &str, id: &str) -> Option<LogTarget> {
        let def = self.ctx.definition.container_definitions.iter().find(|c| c.name == name);
        let config = def.and_then(|d| d.log_configuration.as_ref())?;
        if config.log_driver != LogDriver::Awslogs {
            return None;
        }
        let mut target = LogTarget::awslogs(&config.options, name, self.ctx.task_id(), id)?;
        if self.ctx.overrides.execution_role_arn.is_some() || self.ctx.definition.execution_role_arn.is_some() {
            target.execution_role_of =
                Some(TaskRef { cluster: self.ctx.cluster.clone(), task_arn: self.ctx.task_arn.clone() });
        }
        Some(target)
    }

    /// Ships the container's output to CloudWatch Logs when its definition says
    /// `logDriver: awslogs` (again after a restart: following is idempotent).
    fn ship_logs(&self, name: &str, id: &str) {
        let Some(logs) = &self.settings.logs else { return };
        if let Some(target) = self.log_target(name, id) {
            logs.follow(id, target);
        }
    }

    /// Before a container with an execution role's awslogs output starts: its stream
    /// is created as the role, and a role that may not fails the task with the reason.
    async fn prepare_logs(&self, name: &str, id: &str) -> Result<(), StartFailure> {
        let Some(logs) = &self.settings.logs else { return Ok(()) };
        let Some(target) = self.log_target(name, id).filter(|t| t.execution_role_of.is_some()) else { return Ok(()) };
        logs.prepare(&target).await.map_err(|e| {
            StartFailure(format!(
                "CannotStartContainerError: the awslogs driver could not create log stream {} in group {}: {e}",
                target.stream, target.group
            ))
        })
    }

    /// Containers in an order that starts every dependency (dependsOn, links,
    /// volumesFrom) before its dependants; ties keep the definition's order.
    fn start_order(&self) -> Vec<String> {
        let defs = &self.ctx.definition.container_definitions;
        let needs = |c: &ContainerDefinition| -> Vec<String> {
            let mut n: Vec<String> = c.depends_on.iter().map(|d| d.container_name.clone()).collect();
            n.extend(c.links.iter().map(|l| l.split(':').next().unwrap_or("").to_string()));
            n.extend(c.volumes_from.iter().filter_map(|v| v.source_container.clone()));
            n
        };
        let mut order: Vec<String> = Vec::new();
        while order.len() < defs.len() {
            let before = order.len();
            for c in defs {
                if !order.contains(&c.name) && needs(c).iter().all(|n| order.contains(n) || n == &c.name) {
                    order.push(c.name.clone());
                }
            }
            if order.len() == before {
                // A cycle (registration refuses dependsOn cycles; links could still
                // form one): start the rest in definition order.
                order.extend(
                    defs.iter().filter(|c| !order.contains(&c.name)).map(|c| c.name.clone()).collect::<Vec<_>>(),
                );
            }
        }
        order
    }

    async fn wait_for_dependencies(&mut self, name: &str) -> Wait {
        let deps = self.definition(name).depends_on.clone();
        let started = tokio::time::Instant::now();
        let timeout = self.definition(name).start_timeout.map(|s| Duration::from_secs(s as u64));
        loop {
            if self.desired_stop() {
                return Wait::DesiredStop;
            }
            let mut ready = true;
            for d in &deps {
                let Some(id) = self.ids.get(&d.container_name) else {
                    ready = false;
                    continue;
                };
                let state = match self.runtime.inspect(id).await {
                    Ok(Some(s)) => s,
                    Ok(None) => return Wait::Failed(format!("dependency container {} vanished", d.container_name)),
                    Err(e) => return Wait::Failed(e.to_string()),
                };
                let met = match d.condition {
                    ContainerCondition::Start => true,
                    ContainerCondition::Complete => state.exit_code.is_some(),
                    ContainerCondition::Success => match state.exit_code {
                        Some(0) => true,
                        Some(code) => {
                            return Wait::Failed(format!(
                                "dependency container {} exited with code {code}, not 0 (condition SUCCESS)",
                                d.container_name
                            ));
                        }
                        None => false,
                    },
                    ContainerCondition::Healthy => match state.health.as_deref() {
                        Some("HEALTHY") => true,
                        Some("UNHEALTHY") => {
                            return Wait::Failed(format!(
                                "dependency container {} is UNHEALTHY (condition HEALTHY)",
                                d.container_name
                            ));
                        }
                        _ => false,
                    },
                };
                ready &= met;
            }
            if ready {
                return Wait::Ready;
            }
            if timeout.is_some_and(|t| started.elapsed() > t) {
                return Wait::Failed(format!("container {name}: its dependencies were not met within startTimeout"));
            }
            self.refresh().await.ok();
            tokio::time::sleep(MONITOR_INTERVAL).await;
        }
    }

    /// Docker volume or host path for each task volume name.
    async fn prepare_volumes(&self) -> Result<HashMap<String, String>, StartFailure> {
        let mut sources = HashMap::new();
        for v in &self.ctx.definition.volumes {
            let name = v.name.clone().unwrap_or_default();
            let source = self.volume_source(v)?;
            if let Some((volume, driver)) = &source.1 {
                self.runtime.ensure_volume(volume, driver.as_deref()).await?;
                if volume.starts_with(&format!("ecs-{}-", self.ctx.task_id())) {
                    let (task, volume) = (self.ctx.task_arn.clone(), volume.clone());
                    self.state
                        .update(|s| {
                            let record = s.tasks.entry(task).or_default();
                            if !record.volumes.contains(&volume) {
                                record.volumes.push(volume);
                            }
                        })
                        .map_err(|e| StartFailure(e.to_string()))?;
                }
            }
            sources.insert(name, source.0);
        }
        Ok(sources)
    }

    /// (bind source, volume to create with its driver).
    #[allow(clippy::type_complexity)]
    fn volume_source(&self, v: &Volume) -> Result<(String, Option<(String, Option<String>)>), StartFailure> {
        let name = v.name.clone().unwrap_or_default();
        let task_scoped = format!("ecs-{}-{}", self.ctx.task_id(), name);
        if let Some(path) = v.host.as_ref().and_then(|h| h.source_path.clone()) {
            return Ok((path, None));
        }
        if let Some(d) = &v.docker_volume_configuration {
            let shared = d.scope == Some(flotilla_domain::task_definition::VolumeScope::Shared);
            let volume = if shared { name } else { task_scoped };
            return Ok((volume.clone(), Some((volume, d.driver.clone()))));
        }
        if v.efs_volume_configuration.is_some()
            || v.fsx_windows_file_server_volume_configuration.is_some()
            || v.s3files_volume_configuration.is_some()
        {
            return Err(StartFailure(format!("volume {name}: this volume type is not supported on this agent yet")));
        }
        Ok((task_scoped.clone(), Some((task_scoped, None))))
    }

    /// Serves the task role's credentials under the task's credentials id (kept in the
    /// agent's state, so adopted containers keep theirs), when the task has a role.
    fn serve_task_role(&mut self) -> Result<(), StartFailure> {
        let role = self.ctx.overrides.task_role_arn.as_ref().or(self.ctx.definition.task_role_arn.as_ref());
        if role.is_none() {
            return Ok(());
        }
        let Some(credentials) = self.settings.task_credentials.clone() else {
            return Err(StartFailure(
                "ResourceInitializationError: this agent does not serve task role credentials".into(),
            ));
        };
        let task = self.ctx.task_arn.clone();
        let id = self
            .state
            .update(|s| {
                let record = s.tasks.entry(task.clone()).or_default();
                record.credentials_id.get_or_insert_with(crate::task_credentials::new_id).clone()
            })
            .map_err(|e| StartFailure(e.to_string()))?;
        credentials
            .register(&id, &self.ctx.cluster, &task)
            .map_err(|e| StartFailure(format!("ResourceInitializationError: serving task role credentials: {e}")))?;
        self.credentials_id = Some(id);
        Ok(())
    }

    /// A client calling as the task's execution role, when the task has one and needs
    /// it (secrets, or when `for_pulls`: `repositoryCredentials` or images of the
    /// control plane's registry); reads the containers' secrets with it. A task with
    /// secrets and no execution role, or whose secrets cannot be read, fails with
    /// `ResourceInitializationError`.
    async fn execution_role_client(&mut self, for_pulls: bool) -> Result<Option<ControlPlaneClient>, StartFailure> {
        let failed = |e: crate::secrets::SecretsError| {
            StartFailure(format!("ResourceInitializationError: unable to pull secrets or registry auth: {e}"))
        };
        let secrets: Vec<(String, Vec<(String, String)>)> = self
            .ctx
            .definition
            .container_definitions
            .iter()
            .filter(|c| !c.secrets.is_empty())
            .map(|c| (c.name.clone(), c.secrets.iter().map(|s| (s.name.clone(), s.value_from.clone())).collect()))
            .collect();
        let role =
            self.ctx.overrides.execution_role_arn.clone().or_else(|| self.ctx.definition.execution_role_arn.clone());
        if role.is_none() {
            return match secrets.is_empty() {
                true => Ok(None),
                false => Err(failed(crate::secrets::SecretsError::NoExecutionRole)),
            };
        }
        if secrets.is_empty() && !for_pulls {
            return Ok(None);
        }
        let credentials = crate::secrets::execution_credentials(
            &self.settings.control_plane,
            &self.ctx.cluster,
            &self.settings.container_instance,
            &self.ctx.task_arn,
        )
        .await
        .map_err(failed)?;
        let client = crate::secrets::as_role(&self.settings.control_plane, &credentials);
        self.secret_env = crate::secrets::resolve(&client, &secrets).await.map_err(failed)?;
        Ok(Some(client))
    }

    fn container_spec(&self, name: &str, volumes: &HashMap<String, String>) -> ContainerSpec {
        let def = self.definition(name);
        let o = self.ctx.overrides.container_overrides.iter().find(|o| o.name.as_deref() == Some(name));
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for kv in def.environment.iter().chain(o.and_then(|o| o.environment.as_ref()).into_iter().flatten()) {
            if let Some(n) = &kv.name {
                env.insert(n.clone(), kv.value.clone().unwrap_or_default());
            }
        }
        let execution_env = match self.ctx.launch_type {
            LaunchType::Fargate => "AWS_ECS_FARGATE",
            LaunchType::Ec2 => "AWS_ECS_EC2",
        };
        env.entry("AWS_EXECUTION_ENV".into()).or_insert_with(|| execution_env.into());
        if let Some(base) = &self.settings.metadata_base {
            env.insert(
                "ECS_CONTAINER_METADATA_URI_V4".into(),
                format!("{base}/v4/{}", crate::metadata::token(&self.ctx, name)),
            );
        }
        env.entry("AWS_REGION".into()).or_insert_with(|| self.settings.region.clone());
        env.entry("AWS_DEFAULT_REGION".into()).or_insert_with(|| self.settings.region.clone());
        if let Some(id) = &self.credentials_id {
            env.insert(crate::task_credentials::RELATIVE_URI_VAR.into(), format!("/v2/credentials/{id}"));
        }
        if let Some(secrets) = self.secret_env.get(name) {
            env.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut labels: BTreeMap<String, String> = def.docker_labels.clone().into_iter().collect();
        labels.insert(TASK_ARN_LABEL.into(), self.ctx.task_arn.clone());
        labels.insert(CONTAINER_NAME_LABEL.into(), name.into());
        labels.insert("com.amazonaws.ecs.cluster".into(), self.ctx.cluster.clone());
        labels.insert("com.amazonaws.ecs.task-definition-family".into(), self.ctx.family.clone());
        labels.insert("com.amazonaws.ecs.task-definition-version".into(), self.ctx.revision.to_string());
        let mode = self.ctx.definition.network_mode.unwrap_or(NetworkMode::Bridge);
        // awsvpc: the pause container's namespace, where Docker refuses published
        // ports, a hostname, DNS servers, extra hosts and links.
        let network_mode = match (&self.pause, mode) {
            (Some(pause), NetworkMode::Awsvpc) => format!("container:{pause}"),
            _ => mode.as_str().into(),
        };
        let shared = mode == NetworkMode::Awsvpc;
        let unless_shared = |v: Vec<String>| if shared { Vec::new() } else { v };
        let ports = if mode == NetworkMode::Bridge {
            def.port_mappings
                .iter()
                .filter_map(|p| {
                    Some(PortSpec {
                        container_port: u16::try_from(p.container_port?).ok()?,
                        host_port: p.host_port.and_then(|h| u16::try_from(h).ok()).unwrap_or(0),
                        protocol: p.protocol.unwrap_or(flotilla_domain::task_definition::TransportProtocol::Tcp),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let binds = def
            .mount_points
            .iter()
            .filter_map(|m| {
                let source = volumes.get(m.source_volume.as_deref()?)?;
                let ro = if m.read_only == Some(true) { ":ro" } else { "" };
                Some(format!("{source}:{}{ro}", m.container_path.as_deref()?))
            })
            .collect();
        let volumes_from = def
            .volumes_from
            .iter()
            .filter_map(|v| {
                let id = self.ids.get(v.source_container.as_deref()?)?;
                Some(if v.read_only == Some(true) { format!("{id}:ro") } else { id.clone() })
            })
            .collect();
        let links = def
            .links
            .iter()
            .filter_map(|l| {
                let (target, alias) = l.split_once(':').unwrap_or((l, l));
                self.ids.contains_key(target).then(|| format!("{}:{alias}", self.ctx.docker_name(target)))
            })
            .collect();
        let secs = |s: Option<i64>, default: u64| Duration::from_secs(s.map_or(default, |v| v.max(0) as u64));
        ContainerSpec {
            name: self.ctx.docker_name(name),
            image: def.image.clone(),
            command: o.and_then(|o| o.command.clone()).unwrap_or_else(|| def.command.clone()),
            entry_point: def.entry_point.clone(),
            env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels,
            working_dir: def.working_directory.clone(),
            user: def.user.clone(),
            hostname: def.hostname.clone().filter(|_| !shared),
            cpu_shares: o.and_then(|o| o.cpu).unwrap_or(def.cpu),
            memory_mib: o.and_then(|o| o.memory).or(def.memory),
            memory_reservation_mib: o.and_then(|o| o.memory_reservation).or(def.memory_reservation),
            ports,
            network_mode,
            health: def.health_check.as_ref().map(|h| HealthSpec {
                test: h.command.clone(),
                interval: secs(h.interval, 30),
                timeout: secs(h.timeout, 5),
                retries: h.retries.unwrap_or(3).max(1) as u32,
                start_period: secs(h.start_period, 0),
            }),
            ulimits: def
                .ulimits
                .iter()
                .map(|u| UlimitSpec { name: u.name.as_str().into(), soft: u.soft_limit, hard: u.hard_limit })
                .collect(),
            readonly_rootfs: def.readonly_root_filesystem == Some(true),
            privileged: def.privileged == Some(true),
            binds,
            volumes_from,
            links: unless_shared(links),
            extra_hosts: unless_shared(
                def.extra_hosts.iter().map(|h| format!("{}:{}", h.hostname, h.ip_address)).collect(),
            ),
            dns: unless_shared(def.dns_servers.clone()),
            dns_search: unless_shared(def.dns_search_domains.clone()),
            disable_networking: def.disable_networking == Some(true),
            stop_timeout: Some(self.stop_timeout(name)),
            cgroup_parent: self.cgroup_parent.clone(),
            storage_size_gib: self.ctx.ephemeral_storage_gib,
        }
    }

    fn stop_timeout(&self, name: &str) -> Duration {
        self.definition(name)
            .stop_timeout
            .map(|s| Duration::from_secs(s.max(0) as u64))
            .unwrap_or(self.settings.default_stop_timeout)
    }

    /// In host mode Docker publishes nothing: each port mapping is the host's own port.
    fn host_mode_bindings(&self, name: &str) -> Vec<NetworkBinding> {
        if self.ctx.definition.network_mode != Some(NetworkMode::Host) {
            return Vec::new();
        }
        self.definition(name)
            .port_mappings
            .iter()
            .filter_map(|p| {
                let port = p.container_port?;
                Some(NetworkBinding {
                    bind_ip: Some("0.0.0.0".into()),
                    container_port: port,
                    host_port: port,
                    protocol: p.protocol.unwrap_or(flotilla_domain::task_definition::TransportProtocol::Tcp),
                })
            })
            .collect()
    }

    /// Inspects every created container and folds what changed into the snapshot.
    /// Returns the reason to stop the task, if one of its containers ended it.
    async fn refresh(&mut self) -> Result<Option<String>, RuntimeError> {
        let mut changed = false;
        let mut stop_reason = None;
        for (name, id) in self.ids.clone() {
            let state = self.runtime.inspect(&id).await?;
            let essential = self.definition(&name).is_essential();
            let host_bindings = self.host_mode_bindings(&name);
            let c = self.container_mut(&name);
            let before = c.clone();
            match state {
                None => {
                    if c.status != TaskStatus::Stopped {
                        c.status = TaskStatus::Stopped;
                        c.reason = Some("the container was removed outside the agent".into());
                        if essential {
                            stop_reason = Some("Essential container in task exited".to_string());
                        }
                    }
                }
                Some(s) => {
                    if !s.bindings.is_empty() {
                        c.network_bindings = s.bindings;
                    } else if !host_bindings.is_empty() {
                        c.network_bindings = host_bindings;
                    }
                    if s.health.is_some() {
                        c.health_status = s.health;
                    }
                    if let Some(code) = s.exit_code {
                        c.status = TaskStatus::Stopped;
                        c.exit_code = Some(code);
                        if let Some(e) = s.error {
                            c.reason = Some(e);
                        }
                        if essential {
                            stop_reason = Some("Essential container in task exited".to_string());
                        }
                    } else if s.running {
                        c.status = TaskStatus::Running;
                    }
                }
            }
            changed |= *c != before;
        }
        if changed {
            self.publish();
        }
        // Without its pause container the task has lost its address (Docker may
        // give it to another task): it cannot go on.
        if let Some(pause) = &self.pause
            && self.snapshot.network_interface.is_some()
            && !self.runtime.inspect(pause).await?.is_some_and(|s| s.running)
        {
            stop_reason.get_or_insert_with(|| "The task's network (its pause container) stopped".to_string());
        }
        Ok(stop_reason)
    }

    /// Watches the running task until it must stop; returns the reason.
    async fn monitor(&mut self) -> Option<String> {
        loop {
            match self.refresh().await {
                Ok(Some(reason)) => return Some(reason),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(task = %self.ctx.task_arn, error = %e, "inspecting the task's containers failed")
                }
            }
            let all_exited = self.snapshot.containers.iter().all(|c| c.status == TaskStatus::Stopped);
            if all_exited {
                return Some("All containers of the task exited".into());
            }
            tokio::select! {
                changed = self.desired.changed() => {
                    if changed.is_err() || self.desired_stop() {
                        return None;
                    }
                }
                _ = tokio::time::sleep(MONITOR_INTERVAL) => {}
            }
            if self.desired_stop() {
                return None;
            }
        }
    }

    /// Stops every container still running, dependants first, each with its stop timeout.
    async fn stop_all(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        self.set_status(TaskStatus::Deactivating);
        self.set_status(TaskStatus::Stopping);
        let mut order = self.start_order();
        order.reverse();
        for name in order {
            let Some(id) = self.ids.get(&name).cloned() else { continue };
            if let Err(e) = self.runtime.stop(&id, self.stop_timeout(&name)).await {
                tracing::warn!(task = %self.ctx.task_arn, container = %name, error = %e, "stopping a container failed");
            }
        }
        if let Err(e) = self.refresh().await {
            tracing::warn!(task = %self.ctx.task_arn, error = %e, "reading stopped containers failed");
        }
        self.set_status(TaskStatus::Deprovisioning);
    }

    /// Publishes STOPPED and records that the task has ended here.
    async fn finish(&mut self, reason: Option<String>) {
        for c in &mut self.snapshot.containers {
            c.status = TaskStatus::Stopped;
        }
        self.snapshot.reason = reason;
        self.snapshot.execution_stopped_at = Some(Timestamp::now());
        self.snapshot.status = TaskStatus::Stopped;
        let report = serde_json::to_value(self.snapshot.to_request()).ok();
        let task = self.ctx.task_arn.clone();
        if let Err(e) = self.state.update(|s| {
            let record = s.tasks.entry(task).or_default();
            record.stopped_at_ms = Some(now_ms());
            record.last_report = report;
        }) {
            tracing::error!(task = %self.ctx.task_arn, error = %e, "recording a stopped task failed");
        }
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ControlPlaneClient;
    use crate::runtime::{SimulatedBehaviour, SimulatedRuntime};
    use crate::state::{AgentState, StateFile};
    use serde_json::json;

    const TASK: &str = "arn:aws:ecs:us-east-1:000000000000:task/blue/0123abcd";

    #[test]
    fn the_cluster_comes_from_the_task_arn() {
        assert_eq!(task_cluster(TASK).as_deref(), Some("blue"));
        assert_eq!(task_cluster("arn:aws:ecs:us-east-1:000000000000:task/0123abcd"), None, "old format");
        assert_eq!(task_cluster("arn:aws:ecs:us-east-1:000000000000:service/blue/web"), None);
        assert_eq!(task_cluster("not an arn"), None);
    }

    fn context(network_mode: &str) -> TaskContext {
        let definition = serde_json::from_value(json!({
            "family": "web", "networkMode": network_mode, "cpu": "256", "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": "busybox", "hostname": "h", "dnsServers": ["10.0.0.2"],
                 "extraHosts": [{"hostname": "x", "ipAddress": "10.0.0.3"}],
                 "portMappings": [{"containerPort": 80}]},
                {"name": "side", "image": "busybox", "links": ["app"]},
            ],
        }))
        .unwrap();
        TaskContext {
            cluster: "blue".into(),
            task_arn: TASK.into(),
            family: "web".into(),
            revision: 1,
            definition,
            overrides: TaskOverride::default(),
            container_arns: BTreeMap::new(),
            launch_type: LaunchType::Fargate,
            ephemeral_storage_gib: Some(21),
            metered: false,
        }
    }

    struct Harness {
        runtime: Arc<SimulatedRuntime>,
        state: SharedState,
        desired: watch::Sender<Desired>,
        snapshots: mpsc::UnboundedReceiver<TaskSnapshot>,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    fn start(ctx: TaskContext) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let state = SharedState::new(AgentState::default(), StateFile::new(dir.path()));
        let runtime = Arc::new(SimulatedRuntime::new(SimulatedBehaviour::default()));
        let client = ControlPlaneClient::new(
            "http://127.0.0.1:9",
            flotilla_sigv4::Credentials::new("AKIDEXAMPLE", "secret"),
            "us-east-1",
        )
        .unwrap();
        let settings = SupervisorSettings {
            default_stop_timeout: Duration::from_secs(1),
            region: "us-east-1".into(),
            metadata_base: None,
            registry: Arc::new(RegistryLogin::new(client.clone())),
            logs: None,
            awsvpc_cidr: "10.9.0.0/24".into(),
            agent_instance: "i-0123456789abcdef0".into(),
            control_plane: client,
            container_instance: "arn:aws:ecs:us-east-1:000000000000:container-instance/default/ci".into(),
            task_credentials: None,
        };
        let (desired, desired_rx) = watch::channel(Desired::Running);
        let (publish, snapshots) = mpsc::unbounded_channel();
        let supervisor = Supervisor::new(
            ctx,
            runtime.clone(),
            state.clone(),
            settings,
            Channels { desired: desired_rx, publish },
            MetadataRegistry::new("us-east-1a"),
            BTreeMap::new(),
        );
        let task = tokio::spawn(supervisor.run());
        Harness { runtime, state, desired, snapshots, task, _dir: dir }
    }

    /// Snapshots until one of `status` (included), within ten seconds.
    async fn until(h: &mut Harness, status: TaskStatus) -> Vec<TaskSnapshot> {
        let mut seen = Vec::new();
        let wait = async {
            while let Some(s) = h.snapshots.recv().await {
                let done = s.status == status;
                seen.push(s);
                if done {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait).await.expect("the status in time");
        seen
    }

    #[tokio::test]
    async fn an_awsvpc_task_gets_its_own_address_and_gives_it_back() {
        let mut h = start(context("awsvpc"));
        let seen = until(&mut h, TaskStatus::Running).await;
        let first = &seen[0];
        assert_eq!(first.status, TaskStatus::Pending, "PENDING is the first report");
        assert_eq!(first.cluster, "blue");
        let interface = first.network_interface.clone().expect("the first PENDING report carries the interface");
        let ip: std::net::Ipv4Addr = interface.private_ipv4_address.parse().unwrap();
        assert_eq!(ip.octets()[..3], [10, 9, 0]);
        assert_eq!(interface.mac_address, crate::runtime::network::fake_mac(ip));
        assert_eq!(h.runtime.addresses_in_use(), 1);

        let pause = h.state.read(|s| s.tasks[TASK].pause_container.clone()).expect("the pause container is recorded");
        let managed = h.runtime.list_managed().await.unwrap();
        let p = managed.iter().find(|c| c.id == pause).expect("the pause container is labelled");
        assert_eq!(p.container_name, PAUSE_CONTAINER_NAME);
        assert_eq!(p.task_arn, TASK);
        assert_eq!(p.agent_instance.as_deref(), Some("i-0123456789abcdef0"));
        for name in ["app", "side"] {
            let spec = h.runtime.spec_of(&format!("ecs-web-1-{name}-0123abcd")).expect("the container");
            assert_eq!(spec.network_mode, format!("container:{pause}"), "{name} joins the pause container");
            assert!(spec.ports.is_empty() && spec.hostname.is_none() && spec.dns.is_empty(), "{name}");
            assert!(spec.extra_hosts.is_empty() && spec.links.is_empty(), "{name}");
            assert_eq!(spec.storage_size_gib, Some(21));
            assert!(spec.env.contains(&"AWS_EXECUTION_ENV=AWS_ECS_FARGATE".to_string()));
            assert_eq!(spec.labels.get("com.amazonaws.ecs.cluster").map(String::as_str), Some("blue"));
        }

        h.desired.send(Desired::Stopped).unwrap();
        let seen = until(&mut h, TaskStatus::Stopped).await;
        let statuses: Vec<TaskStatus> = seen.iter().map(|s| s.status).collect();
        let deprovisioning = statuses.iter().position(|s| *s == TaskStatus::Deprovisioning).expect("DEPROVISIONING");
        assert_eq!(statuses.last(), Some(&TaskStatus::Stopped));
        assert!(deprovisioning < statuses.len() - 1);
        tokio::time::timeout(Duration::from_secs(5), &mut h.task).await.unwrap().unwrap();
        assert_eq!(h.runtime.inspect(&pause).await.unwrap(), None, "the pause container is removed");
        assert_eq!(h.runtime.addresses_in_use(), 0, "the address is released");
        assert_eq!(seen.last().unwrap().network_interface, Some(interface), "STOPPED still says which it was");
    }

    #[tokio::test]
    async fn a_bridge_task_gets_no_interface_and_keeps_its_settings() {
        let mut h = start(context("bridge"));
        let seen = until(&mut h, TaskStatus::Running).await;
        assert!(seen.iter().all(|s| s.network_interface.is_none()));
        assert_eq!(h.runtime.addresses_in_use(), 0);
        let spec = h.runtime.spec_of("ecs-web-1-app-0123abcd").unwrap();
        assert_eq!(spec.network_mode, "bridge");
        assert_eq!(spec.hostname.as_deref(), Some("h"));
        assert_eq!(spec.ports.len(), 1);
        assert_eq!(h.runtime.spec_of("ecs-web-1-side-0123abcd").unwrap().links, ["ecs-web-1-app-0123abcd:app"]);
        h.desired.send(Desired::Stopped).unwrap();
        until(&mut h, TaskStatus::Stopped).await;
    }
}
