//! The agent's main loop: register, adopt what is already running, then poll for
//! assignments and keep a supervisor per task, reporting through the control plane
//! API. Control-plane outages only delay reports: the loop retries with backoff
//! and containers keep running meanwhile.

use crate::client::{AGENT_TARGET, ClientError, ControlPlaneClient, ECS_TARGET};
use crate::logs::LogShipping;
use crate::metadata::MetadataRegistry;
use crate::registry_login::RegistryLogin;
use crate::runtime::network::{Ipv4Cidr, NetworkError, PAUSE_CONTAINER_NAME};
use crate::runtime::{ContainerRuntime, ManagedContainer, RuntimeError};
use crate::state::{AgentState, SharedState, StateError, StateFile};
use crate::supervisor::{
    Channels, Desired, Supervisor, SupervisorSettings, TaskContext, TaskSnapshot, now_ms, task_cluster,
};
use crate::task_credentials::TaskCredentials;
use flotilla_core::retry::{Backoff, retry};
use flotilla_domain::container_instance::VersionInfo;
use flotilla_domain::container_instance::{Attribute, NodeCapacity};
use flotilla_domain::task::TaskStatus;
use flotilla_ecs_model::poll::{AgentTask, ListedTask, PollAnswer, PollTasksRequest};
use flotilla_ecs_model::register::{
    InstanceIdentityDocument, RegisterContainerInstanceRequest, RegisterContainerInstanceResponse, Resource,
};
use flotilla_ecs_model::state_change::{ContainerStateChange, SubmitTaskStateChangeRequest};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The agent's version, reported at registration.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
use flotilla_ecs_model::HOST_ADDRESS_ATTRIBUTE;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    AwsvpcCidr(NetworkError),
}

/// How the agent presents this node and runs its tasks.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub cluster: String,
    pub region: String,
    pub state_dir: PathBuf,
    pub availability_zone: String,
    pub instance_type: String,
    /// Where load balancers reach this node's host ports (attribute `flotilla.host-address`).
    pub host_address: std::net::Ipv4Addr,
    /// Custom attributes, besides the standard ones.
    pub attributes: Vec<(String, Option<String>)>,
    /// CPU units to offer; default 1024 per core.
    pub cpu: Option<i64>,
    /// MiB of memory to offer; default the node's memory less `reserved_memory_mib`.
    pub memory_mib: Option<i64>,
    pub reserved_memory_mib: i64,
    /// Host ports no task may take (the agent's own among them).
    pub reserved_ports: Vec<u16>,
    pub poll_wait: Duration,
    /// How long containers of stopped tasks are kept before removal.
    pub cleanup_after: Duration,
    pub default_stop_timeout: Duration,
    /// Port of the task metadata endpoint on the bridge gateway (0: any free port;
    /// `None`: no endpoint).
    pub metadata_port: Option<u16>,
    /// Which launch types this node serves (Fargate capacity or not).
    pub capacity: NodeCapacity,
    /// The subnet awsvpc tasks get their private addresses from (the Docker
    /// network `flotilla-awsvpc`'s, when the agent creates it).
    pub awsvpc_cidr: String,
    /// The EC2 instance id this node registers as (its identity document's
    /// `instanceId`, ECS's `ec2InstanceId`), e.g. an Auto Scaling group's instance;
    /// `None`: one is generated and kept in the state directory.
    pub ec2_instance_id: Option<String>,
    /// Whether to serve task role credentials at 169.254.170.2 (with a container
    /// runtime that has a bridge network, as root).
    pub task_credentials: bool,
}

impl AgentConfig {
    pub fn new(cluster: &str, state_dir: PathBuf) -> Self {
        Self {
            cluster: cluster.to_string(),
            region: "us-east-1".into(),
            state_dir,
            availability_zone: "us-east-1a".into(),
            instance_type: "local".into(),
            host_address: std::net::Ipv4Addr::LOCALHOST,
            attributes: Vec::new(),
            cpu: None,
            memory_mib: None,
            reserved_memory_mib: 256,
            reserved_ports: vec![22, 2375, 2376, 51678, 51679],
            poll_wait: Duration::from_secs(20),
            cleanup_after: Duration::from_secs(600),
            default_stop_timeout: Duration::from_secs(30),
            metadata_port: Some(51679),
            capacity: NodeCapacity::Ec2,
            awsvpc_cidr: crate::runtime::network::DEFAULT_AWSVPC_CIDR.into(),
            ec2_instance_id: None,
            task_credentials: true,
        }
    }
}

struct Running {
    desired: watch::Sender<Desired>,
    supervisor: tokio::task::JoinHandle<()>,
    reporter: tokio::task::JoinHandle<()>,
}

pub struct Agent {
    config: AgentConfig,
    client: ControlPlaneClient,
    runtime: Arc<dyn ContainerRuntime>,
    state: SharedState,
    running: HashMap<String, Running>,
    metadata: MetadataRegistry,
    metadata_base: Option<String>,
    registry: Arc<RegistryLogin>,
    logs: LogShipping,
    /// Every task the last complete poll answer listed (`None` before the first):
    /// pause containers of other tasks are swept.
    last_listed: Option<BTreeSet<String>>,
    /// Whether [`Self::register`] has succeeded in this process: then [`Self::run`]
    /// does not register again first.
    registered: bool,
    /// Task role credentials, when this agent serves them at 169.254.170.2.
    task_credentials: Option<Arc<TaskCredentials>>,
}

/// How every call to the control plane is retried: full jitter up to 0.5 s,
/// doubling to at most 15 s.
const RETRY: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));

impl Agent {
    pub fn new(
        config: AgentConfig,
        client: ControlPlaneClient,
        runtime: Arc<dyn ContainerRuntime>,
    ) -> Result<Self, AgentError> {
        Ipv4Cidr::parse(&config.awsvpc_cidr).map_err(AgentError::AwsvpcCidr)?;
        let file = StateFile::new(&config.state_dir);
        // A state of another cluster, or of another given instance id, is another node's.
        let state = match file.load()? {
            Some(s)
                if s.cluster == config.cluster
                    && config.ec2_instance_id.as_ref().is_none_or(|id| *id == s.ec2_instance_id) =>
            {
                s
            }
            _ => AgentState {
                cluster: config.cluster.clone(),
                container_instance_arn: None,
                ec2_instance_id: config
                    .ec2_instance_id
                    .clone()
                    .unwrap_or_else(|| format!("i-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])),
                tasks: BTreeMap::new(),
            },
        };
        let state = SharedState::new(state, file);
        state.update(|_| ())?;
        let metadata = MetadataRegistry::new(&config.availability_zone);
        let registry = Arc::new(RegistryLogin::new(client.clone()));
        let logs = LogShipping::new(config.state_dir.join("logs"), client.clone(), runtime.clone());
        Ok(Self {
            config,
            client,
            runtime,
            state,
            running: HashMap::new(),
            metadata,
            metadata_base: None,
            registry,
            logs,
            last_listed: None,
            registered: false,
            task_credentials: None,
        })
    }

    /// The registered instance's ARN, once registered.
    pub fn container_instance_arn(&self) -> Option<String> {
        self.state.read(|s| s.container_instance_arn.clone())
    }

    /// Registers (again) with the control plane, keeping the saved identity.
    pub async fn register(&mut self) -> Result<String, AgentError> {
        let info = self.runtime.info().await?;
        let cpu = self.config.cpu.unwrap_or(info.cpus * 1024);
        let memory = self.config.memory_mib.unwrap_or(info.memory_mib - self.config.reserved_memory_mib).max(1);
        let arch = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            "x86_64" => "x86_64",
            other => other,
        };
        let attribute = |name: &str, value: Option<&str>| Attribute { name: name.into(), value: value.map(Into::into) };
        let mut attributes = vec![
            attribute("ecs.os-type", Some("linux")),
            attribute("ecs.os-family", Some("LINUX")),
            attribute("ecs.cpu-architecture", Some(arch)),
            attribute("ecs.availability-zone", Some(&self.config.availability_zone)),
            attribute("ecs.instance-type", Some(&self.config.instance_type)),
            attribute(HOST_ADDRESS_ATTRIBUTE, Some(&self.config.host_address.to_string())),
            attribute("ecs.capability.container-health-check", None),
            attribute("ecs.capability.container-ordering", None),
            attribute("ecs.capability.task-eni", None),
            attribute("com.amazonaws.ecs.capability.logging-driver.json-file", None),
            attribute("com.amazonaws.ecs.capability.logging-driver.awslogs", None),
            attribute("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager", None),
            attribute("ecs.capability.secrets.asm.environment-variables", None),
            attribute("ecs.capability.secrets.ssm.environment-variables", None),
            attribute("ecs.capability.execution-role-awslogs", None),
        ];
        if self.task_credentials.is_some() {
            attributes.push(attribute("com.amazonaws.ecs.capability.task-iam-role", None));
        }
        for v in 17..=41 {
            attributes.push(attribute(&format!("com.amazonaws.ecs.capability.docker-remote-api.1.{v}"), None));
        }
        for (name, value) in &self.config.attributes {
            attributes.push(attribute(name, value.as_deref()));
        }
        let (ec2_id, previous) = self.state.read(|s| (s.ec2_instance_id.clone(), s.container_instance_arn.clone()));
        let identity = InstanceIdentityDocument {
            instance_id: Some(ec2_id),
            availability_zone: Some(self.config.availability_zone.clone()),
            instance_type: Some(self.config.instance_type.clone()),
            region: Some(self.config.region.clone()),
        };
        let ports = self.config.reserved_ports.iter().map(u16::to_string).collect();
        let input = RegisterContainerInstanceRequest {
            cluster: Some(self.config.cluster.clone()),
            instance_identity_document: serde_json::to_string(&identity).ok(),
            total_resources: vec![
                Resource::integer("CPU", cpu),
                Resource::integer("MEMORY", memory),
                Resource::string_set("PORTS", ports),
                Resource::string_set("PORTS_UDP", Vec::new()),
            ],
            version_info: Some(VersionInfo {
                agent_version: Some(AGENT_VERSION.into()),
                agent_hash: None,
                docker_version: Some(info.version.clone()),
            }),
            container_instance_arn: previous,
            attributes,
            tags: Vec::new(),
            capacity: Some(self.config.capacity),
        };
        let out: RegisterContainerInstanceResponse =
            self.client.call(&format!("{ECS_TARGET}.RegisterContainerInstance"), &input).await?;
        let arn = out.container_instance.container_instance_arn;
        self.state.update(|s| s.container_instance_arn = Some(arn.clone()))?;
        if let Some(c) = &self.task_credentials {
            c.set_container_instance(&arn);
        }
        self.logs.set_container_instance(&arn);
        self.registered = true;
        tracing::info!(container_instance = %arn, cpu, memory, "registered");
        Ok(arn)
    }

    /// Runs until `shutdown` completes, registering first unless [`Self::register`]
    /// already has (a caller pacing many agents' registrations calls it itself).
    /// Running containers are left running: a restarted agent adopts them.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
        tokio::pin!(shutdown);
        let endpoint = self.start_metadata_endpoint().await;
        let credentials_endpoint = self.start_credentials_endpoint();
        // Lines an earlier run spooled but did not ship yet go first.
        self.logs.resume();
        let mut attempt = 0;
        while !self.registered {
            match self.register().await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "registration failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return Ok(()),
                        _ = tokio::time::sleep(RETRY.delay(attempt)) => {}
                    }
                    attempt += 1;
                }
            }
        }
        let sampler = tokio::spawn(crate::metrics::run(
            self.state.clone(),
            self.runtime.clone(),
            self.client.clone(),
            self.config.cluster.clone(),
        ));
        let mut known: BTreeMap<String, i64> = BTreeMap::new();
        let mut attempt = 0;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            let arn = self.container_instance_arn().unwrap_or_default();
            let input = PollTasksRequest {
                cluster: Some(self.config.cluster.clone()),
                container_instance: Some(arn),
                known: known.clone(),
                wait_seconds: Some(self.config.poll_wait.as_secs()),
                changes_only: true,
            };
            let target = format!("{AGENT_TARGET}.PollTasks");
            let call = self.client.call::<_, Value>(&target, &input);
            let result = tokio::select! {
                _ = &mut shutdown => break,
                r = call => r,
            };
            match result {
                Ok(out) => match read_poll_answer(out, &known) {
                    Some(plan) => {
                        attempt = 0;
                        known = plan.known.clone();
                        if plan.complete {
                            self.last_listed = Some(plan.listed.clone());
                        }
                        self.reconcile(plan).await;
                    }
                    None => {
                        tracing::warn!("cannot read the task list of a poll answer; changing nothing");
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(RETRY.delay(attempt)) => {}
                        }
                        attempt += 1;
                    }
                },
                Err(e) => {
                    if e.code() == Some("InvalidParameterException") || e.code() == Some("ClusterNotFoundException") {
                        tracing::warn!(error = %e, "the control plane does not know this instance; registering again");
                        if let Err(e) = self.register().await {
                            tracing::warn!(error = %e, "registration failed");
                        }
                    } else {
                        tracing::warn!(error = %e, "polling for tasks failed; retrying");
                    }
                    known.clear();
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(RETRY.delay(attempt)) => {}
                    }
                    attempt += 1;
                }
            }
            if last_cleanup.elapsed() > Duration::from_secs(10) {
                self.cleanup().await;
                last_cleanup = tokio::time::Instant::now();
            }
        }
        sampler.abort();
        for (_, r) in self.running.drain() {
            r.supervisor.abort();
            r.reporter.abort();
        }
        for endpoint in [endpoint, credentials_endpoint].into_iter().flatten() {
            endpoint.abort();
        }
        Ok(())
    }

    /// Serves the task metadata endpoint on the bridge gateway (loopback without one).
    async fn start_metadata_endpoint(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        let port = self.config.metadata_port?;
        let ip = self.runtime.gateway_ip().await.unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        let listener = match tokio::net::TcpListener::bind((ip, port)).await {
            Ok(l) => l,
            Err(e) if port != 0 => {
                tracing::warn!(%ip, port, error = %e, "the metadata port is taken; using a free one");
                tokio::net::TcpListener::bind((ip, 0)).await.ok()?
            }
            Err(e) => {
                tracing::error!(%ip, error = %e, "cannot serve the task metadata endpoint");
                return None;
            }
        };
        let addr = listener.local_addr().ok()?;
        let base = format!("http://{addr}");
        self.metadata_base = Some(base.clone());
        tracing::info!(%addr, "task metadata endpoint ready");
        let mut app = crate::metadata::router(self.metadata.clone(), self.runtime.clone());
        // This agent's tasks' role credentials are served here too (relayed from
        // 169.254.170.2 when another agent of the node holds that address).
        self.task_credentials = self.task_credentials_for(&base).await;
        if let Some(c) = &self.task_credentials {
            app = app.merge(crate::task_credentials::router(c.clone()));
        }
        Some(tokio::spawn(async move {
            let limits = flotilla_http::Limits::default();
            if let Err(e) = flotilla_http::serve(listener, app, limits, std::future::pending()).await {
                tracing::error!(error = %e, "the task metadata endpoint stopped");
            }
        }))
    }

    /// Task role credentials served by this agent (whose metadata endpoint is
    /// `base`), when the runtime has a bridge network and 169.254.170.2 can be put on
    /// the node; otherwise this agent takes no tasks with a task role.
    async fn task_credentials_for(&self, base: &str) -> Option<Arc<TaskCredentials>> {
        if !self.config.task_credentials || self.runtime.gateway_ip().await.is_none() {
            return None;
        }
        if let Err(e) = crate::task_credentials::claim_address().await {
            tracing::warn!(error = %e, "cannot serve task role credentials; tasks with a task role go elsewhere");
            return None;
        }
        let directory = std::path::Path::new(crate::task_credentials::DIRECTORY);
        match TaskCredentials::new(self.client.clone(), base, directory) {
            Ok(c) => {
                if let Some(arn) = self.container_instance_arn() {
                    c.set_container_instance(&arn);
                }
                Some(Arc::new(c))
            }
            Err(e) => {
                tracing::warn!(directory = %directory.display(), error = %e,
                    "cannot serve task role credentials; tasks with a task role go elsewhere");
                None
            }
        }
    }

    /// Holds 169.254.170.2:80 for the node's task role credentials, or keeps trying
    /// to while another agent of the node holds it.
    fn start_credentials_endpoint(&self) -> Option<tokio::task::JoinHandle<()>> {
        let app = crate::task_credentials::router(self.task_credentials.clone()?);
        Some(tokio::spawn(async move {
            let mut told = false;
            loop {
                match tokio::net::TcpListener::bind(crate::task_credentials::ENDPOINT).await {
                    Ok(listener) => {
                        tracing::info!(address = %crate::task_credentials::ENDPOINT, "task role credentials endpoint ready");
                        let limits = flotilla_http::Limits { half_close: true, ..flotilla_http::Limits::default() };
                        if let Err(e) =
                            flotilla_http::serve(listener, app.clone(), limits, std::future::pending()).await
                        {
                            tracing::error!(error = %e, "the task role credentials endpoint stopped");
                        }
                    }
                    Err(e) if !told => {
                        told = true;
                        tracing::info!(address = %crate::task_credentials::ENDPOINT, error = %e,
                            "another agent of this node serves task role credentials; relaying through it");
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(crate::task_credentials::TAKEOVER_INTERVAL).await;
            }
        }))
    }

    /// Makes local work match the control plane's list for this instance.
    async fn reconcile(&mut self, plan: PollPlan) {
        self.running.retain(|_, r| !(r.supervisor.is_finished() && r.reporter.is_finished()));
        let to_stop = unlisted(self.running.keys(), &plan);
        let tasks = plan.tasks;
        // The runtime's labelled containers, listed once per pass and only if needed.
        let mut managed: Option<Vec<ManagedContainer>> = None;
        for t in tasks {
            let desired = if t.desired_status == TaskStatus::Stopped { Desired::Stopped } else { Desired::Running };
            if let Some(r) = self.running.get(&t.task_arn) {
                r.desired.send_if_modified(|d| std::mem::replace(d, desired) != desired);
                continue;
            }
            let record = self.state.read(|s| s.tasks.get(&t.task_arn).cloned());
            if let Some(report) = record.as_ref().and_then(|r| r.stopped_at_ms.and(r.last_report.clone())) {
                // Ended here already: never start it again, only repeat how it ended.
                self.resend(report);
                continue;
            }
            if managed.is_none() {
                managed = Some(self.runtime.list_managed().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "listing containers to adopt failed");
                    Vec::new()
                }));
            }
            let labelled = managed.as_deref().unwrap_or_default();
            let recorded = record.map(|r| {
                let mut containers = r.containers;
                if let Some(pause) = r.pause_container {
                    containers.insert(PAUSE_CONTAINER_NAME.to_string(), pause);
                }
                containers
            });
            let adopted = self.adopted_containers(&t.task_arn, recorded, labelled).await;
            if desired == Desired::Stopped && adopted.is_empty() {
                let ctx = self.context(&t);
                let report = SubmitTaskStateChangeRequest {
                    cluster: Some(ctx.cluster),
                    task: Some(ctx.task_arn),
                    status: Some(TaskStatus::Stopped),
                    reason: Some("Task stopped before it started".into()),
                    containers: ctx
                        .definition
                        .container_definitions
                        .iter()
                        .map(|c| ContainerStateChange {
                            container_name: Some(c.name.clone()),
                            status: Some(TaskStatus::Stopped),
                            ..ContainerStateChange::default()
                        })
                        .collect(),
                    ..SubmitTaskStateChangeRequest::default()
                };
                self.resend(report);
                continue;
            }
            self.spawn(t, desired, adopted);
        }
        // Tasks the control plane no longer lists have ended there; stop any still here.
        for arn in to_stop {
            if let Some(r) = self.running.get(&arn) {
                r.desired.send_if_modified(|d| std::mem::replace(d, Desired::Stopped) != Desired::Stopped);
            }
        }
    }

    fn context(&self, t: &AgentTask) -> TaskContext {
        TaskContext {
            // A node serving Fargate runs tasks of any cluster: each report names the task's own.
            cluster: task_cluster(&t.task_arn).unwrap_or_else(|| self.config.cluster.clone()),
            task_arn: t.task_arn.clone(),
            family: t.family.clone(),
            revision: t.revision,
            definition: t.definition.clone(),
            overrides: t.overrides.clone(),
            container_arns: t.container_arns.clone(),
            launch_type: t.launch_type,
            ephemeral_storage_gib: t.ephemeral_storage_gib,
            metered: t.metered,
        }
    }

    /// Containers of the task that exist here: recorded ones, and any labelled for it.
    async fn adopted_containers(
        &self,
        task_arn: &str,
        recorded: Option<BTreeMap<String, String>>,
        labelled: &[ManagedContainer],
    ) -> BTreeMap<String, String> {
        let mut found = recorded.unwrap_or_default();
        for c in labelled.iter().filter(|c| c.task_arn == task_arn) {
            found.insert(c.container_name.clone(), c.id.clone());
        }
        let mut present = BTreeMap::new();
        for (name, id) in found {
            if matches!(self.runtime.inspect(&id).await, Ok(Some(_))) {
                present.insert(name, id);
            }
        }
        present
    }

    fn spawn(&mut self, t: AgentTask, desired: Desired, adopted: BTreeMap<String, String>) {
        let ctx = self.context(&t);
        let (desired_tx, desired_rx) = watch::channel(desired);
        let (publish_tx, publish_rx) = mpsc::unbounded_channel::<TaskSnapshot>();
        let settings = SupervisorSettings {
            default_stop_timeout: self.config.default_stop_timeout,
            region: self.config.region.clone(),
            metadata_base: self.metadata_base.clone(),
            registry: self.registry.clone(),
            logs: Some(self.logs.clone()),
            awsvpc_cidr: self.config.awsvpc_cidr.clone(),
            agent_instance: self.state.read(|s| s.ec2_instance_id.clone()),
            control_plane: self.client.clone(),
            container_instance: self.container_instance_arn().unwrap_or_default(),
            task_credentials: self.task_credentials.clone(),
        };
        if !adopted.is_empty() {
            tracing::info!(task = %t.task_arn, containers = adopted.len(), "adopting running containers");
        }
        let supervisor = Supervisor::new(
            ctx,
            self.runtime.clone(),
            self.state.clone(),
            settings,
            Channels { desired: desired_rx, publish: publish_tx },
            self.metadata.clone(),
            adopted,
        );
        let supervisor = tokio::spawn(supervisor.run());
        let reporter = tokio::spawn(report_loop(self.client.clone(), publish_rx));
        self.running.insert(t.task_arn, Running { desired: desired_tx, supervisor, reporter });
    }

    /// Sends one report until it is accepted or refused, in the background.
    fn resend(&self, report: impl Serialize + Send + Sync + 'static) {
        let client = self.client.clone();
        tokio::spawn(async move {
            let target = format!("{ECS_TARGET}.SubmitTaskStateChange");
            let sent = retry(&RETRY, || client.call::<_, Value>(&target, &report), |e| e.code().is_none()).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "a task report was refused");
            }
        });
    }

    /// Removes containers (the pause container too), volumes and cgroups of tasks
    /// stopped longer ago than the cleanup delay, then sweeps pause containers of
    /// tasks this agent no longer runs.
    async fn cleanup(&mut self) {
        let cutoff = now_ms() - self.config.cleanup_after.as_millis() as i64;
        #[allow(clippy::type_complexity)]
        let due: Vec<(String, Vec<String>, Vec<String>)> = self.state.read(|s| {
            s.tasks
                .iter()
                .filter(|(_, r)| r.stopped_at_ms.is_some_and(|t| t <= cutoff))
                .map(|(arn, r)| {
                    let ids = r.containers.values().chain(r.pause_container.as_ref()).cloned().collect();
                    (arn.clone(), ids, r.volumes.clone())
                })
                .collect()
        });
        for (arn, ids, volumes) in due {
            if self.running.get(&arn).is_some_and(|r| !r.reporter.is_finished()) {
                continue;
            }
            let mut all_removed = true;
            for id in ids {
                if let Err(e) = self.runtime.remove(&id).await {
                    tracing::warn!(task = %arn, container = %id, error = %e, "removing a stopped container failed");
                    all_removed = false;
                }
            }
            for volume in volumes {
                if let Err(e) = self.runtime.remove_volume(&volume).await {
                    tracing::warn!(task = %arn, %volume, error = %e, "removing a task volume failed");
                    all_removed = false;
                }
            }
            all_removed &= self.runtime.release_task_cgroup(arn.rsplit('/').next().unwrap_or(&arn)).await;
            if all_removed {
                self.running.remove(&arn);
                self.metadata.forget(arn.rsplit('/').next().unwrap_or(&arn));
                if let Some(c) = &self.task_credentials {
                    c.forget_task(&arn);
                }
                if let Err(e) = self.state.update(|s| s.tasks.remove(&arn)) {
                    tracing::warn!(error = %e, "saving agent state failed");
                }
                tracing::info!(task = %arn, "removed the containers of a stopped task");
            }
        }
        self.sweep_pause_containers().await;
    }

    /// Removes this agent's pause containers of tasks the control plane no longer
    /// lists and no supervisor here runs: what a `kill -9` between creating one and
    /// recording it, or a task ended while the agent was down, would leave.
    async fn sweep_pause_containers(&self) {
        let Some(listed) = &self.last_listed else { return };
        let me = self.state.read(|s| s.ec2_instance_id.clone());
        let managed = match self.runtime.list_managed().await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "listing containers to sweep failed");
                return;
            }
        };
        let stale = stale_pause_containers(&managed, &me, |arn| {
            listed.contains(arn) || self.running.get(arn).is_some_and(|r| !r.supervisor.is_finished())
        });
        for c in stale {
            match self.runtime.remove(&c.id).await {
                Ok(()) => {
                    tracing::info!(task = %c.task_arn, pause = %c.id, "removed the pause container of a task no longer here")
                }
                Err(e) => {
                    tracing::warn!(task = %c.task_arn, pause = %c.id, error = %e, "removing a stale pause container failed")
                }
            }
        }
    }
}

/// This agent's pause containers (labelled with its instance id `me`) of tasks
/// that are not `live`.
pub(crate) fn stale_pause_containers<'a>(
    managed: &'a [ManagedContainer],
    me: &str,
    live: impl Fn(&str) -> bool,
) -> Vec<&'a ManagedContainer> {
    managed
        .iter()
        .filter(|c| c.container_name == PAUSE_CONTAINER_NAME && c.agent_instance.as_deref() == Some(me))
        .filter(|c| !live(&c.task_arn))
        .collect()
}

/// What the agent makes of one poll answer.
#[derive(Debug, Default)]
pub(crate) struct PollPlan {
    /// The listed tasks the agent can read, to run or stop as each asks.
    pub tasks: Vec<AgentTask>,
    /// Every listed task's ARN, read or not.
    pub listed: BTreeSet<String>,
    /// Task ARN → version, sent back with the next poll.
    pub known: BTreeMap<String, i64>,
    /// False when a listed task has no readable ARN: then no running task can be
    /// known to be unlisted.
    pub complete: bool,
}

/// Reads a PollTasks answer task by task; `None` when the answer has no task list.
/// `known` is what the poll sent: the tasks the answer names as unchanged keep
/// their version from it, and stay listed.
///
/// A task this agent cannot read (a status or field value newer than it, say) is
/// reported and left alone: it still counts as listed, so it is never stopped.
pub(crate) fn read_poll_answer(out: Value, known: &BTreeMap<String, i64>) -> Option<PollPlan> {
    let answer = PollAnswer::from_value(out)?;
    let mut plan = PollPlan { complete: true, ..PollPlan::default() };
    for arn in &answer.unchanged {
        // Not sent as known: the next poll sees it as new and gets it in full.
        if let Some(version) = known.get(arn) {
            plan.known.insert(arn.clone(), *version);
        }
        plan.listed.insert(arn.clone());
    }
    for listed in answer.read() {
        match (listed.task_arn(), listed.version()) {
            (Some(arn), Some(version)) => {
                plan.known.insert(arn.to_string(), version);
            }
            (Some(_), None) => {}
            (None, _) => plan.complete = false,
        }
        if let Some(arn) = listed.task_arn() {
            plan.listed.insert(arn.to_string());
        }
        match listed {
            ListedTask::Read(task) => plan.tasks.push(*task),
            ListedTask::Unreadable { task_arn, error, .. } => {
                let task = task_arn.as_deref().unwrap_or("(no arn)");
                tracing::warn!(task, error, "cannot read a listed task; leaving it as it is");
            }
        }
    }
    Some(plan)
}

/// The running tasks the answer no longer lists: they ended on the control plane.
pub(crate) fn unlisted<'a>(running: impl IntoIterator<Item = &'a String>, plan: &PollPlan) -> Vec<String> {
    if !plan.complete {
        return Vec::new();
    }
    running.into_iter().filter(|arn| !plan.listed.contains(*arn)).cloned().collect()
}

/// Sends a task's snapshots in order until the control plane has each, keeping
/// only the latest of consecutive snapshots of one status; ends once the STOPPED
/// snapshot is delivered or the supervisor is gone and everything sent.
/// How long a report of a passing status (PENDING, ACTIVATING, DEACTIVATING, …)
/// waits for the task's next one. A task usually moves on within it, and a full
/// report of the later status says everything the passing one did; so a start costs
/// the control plane one report rather than three, and a slow image pull is still
/// reported PENDING after this long.
const PASSING_STATUS_HOLD: Duration = Duration::from_secs(1);

/// RUNNING (the control plane notes when the task started) and STOPPED are always
/// reported; the statuses between are passing ones.
fn is_passing(status: TaskStatus) -> bool {
    !matches!(status, TaskStatus::Running | TaskStatus::Stopped)
}

/// Queues `next` behind the reports not sent yet. Every snapshot is a full report,
/// so it replaces the last queued one of the same status, or of a passing status.
fn queue_report(queue: &mut Vec<TaskSnapshot>, next: TaskSnapshot) {
    match queue.last_mut() {
        Some(last) if last.status == next.status || is_passing(last.status) => *last = next,
        _ => queue.push(next),
    }
}

/// Reports one task's snapshots in order until its STOPPED one is accepted.
async fn report_loop(client: ControlPlaneClient, mut snapshots: mpsc::UnboundedReceiver<TaskSnapshot>) {
    let target = format!("{ECS_TARGET}.SubmitTaskStateChange");
    let mut queue: Vec<TaskSnapshot> = Vec::new();
    loop {
        if queue.is_empty() {
            match snapshots.recv().await {
                Some(first) => queue.push(first),
                None => return,
            }
        }
        let hold_until = tokio::time::Instant::now() + PASSING_STATUS_HOLD;
        while queue.last().is_some_and(|s| is_passing(s.status)) {
            match tokio::time::timeout_at(hold_until, snapshots.recv()).await {
                Ok(Some(next)) => queue_report(&mut queue, next),
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(next) = snapshots.try_recv() {
            queue_report(&mut queue, next);
        }
        for snapshot in queue.drain(..) {
            let report = snapshot.to_request();
            let retryable = |e: &ClientError| {
                tracing::debug!(task = %snapshot.task, error = %e, "reporting failed");
                e.code().is_none()
            };
            if let Err(e) = retry(&RETRY, || client.call::<_, Value>(&target, &report), retryable).await {
                tracing::warn!(task = %snapshot.task, error = %e, "a task report was refused");
            }
            if snapshot.status == TaskStatus::Stopped {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(arn: &str, version: i64, network_mode: &str) -> Value {
        json!({
            "taskArn": arn, "version": version, "desiredStatus": "RUNNING", "lastStatus": "RUNNING",
            "family": "web", "revision": 1, "overrides": {},
            "definition": {
                "family": "web", "networkMode": network_mode,
                "containerDefinitions": [{"name": "app", "image": "busybox"}],
            },
            "containerArns": {}, "createdAt": 1.5,
        })
    }

    const A: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/a";
    const B: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/b";

    #[test]
    fn passing_statuses_give_way_to_the_next_report_and_running_and_stopped_are_always_sent() {
        use TaskStatus::*;
        let snapshot = |status, reason: &str| TaskSnapshot {
            cluster: "default".into(),
            task: A.into(),
            status,
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            containers: Vec::new(),
            pull_started_at: None,
            pull_stopped_at: None,
            execution_stopped_at: None,
            network_interface: None,
        };
        // (snapshots in the order published, the reports left to send), each (status, reason)
        type Reports<'a> = &'a [(TaskStatus, &'a str)];
        let cases: &[(Reports, Reports)] = &[
            (&[(Pending, ""), (Activating, ""), (Activating, "c"), (Running, "")], &[(Running, "")]),
            (&[(Pending, ""), (Activating, "")], &[(Activating, "")]),
            (&[(Running, ""), (Running, "c")], &[(Running, "c")]),
            (
                &[(Running, ""), (Deactivating, "exit"), (Stopping, "exit"), (Stopped, "exit")],
                &[(Running, ""), (Stopped, "exit")],
            ),
            (&[(Pending, ""), (Stopped, "failed")], &[(Stopped, "failed")]),
        ];
        for (published, sent) in cases {
            let mut queue = Vec::new();
            for (status, reason) in published.iter() {
                queue_report(&mut queue, snapshot(*status, reason));
            }
            let want: Vec<TaskSnapshot> = sent.iter().map(|(s, r)| snapshot(*s, r)).collect();
            assert_eq!(queue, want, "published {published:?}");
        }
    }

    #[test]
    fn a_task_with_a_status_newer_than_the_agent_is_left_alone() {
        let mut newer = task(B, 4, "bridge");
        newer["desiredStatus"] = json!("HIBERNATING");
        let plan =
            read_poll_answer(json!({"tasks": [task(A, 1, "bridge"), newer]}), &BTreeMap::new()).expect("a task list");
        assert_eq!(plan.tasks.len(), 1);
        assert!(unlisted(&[A.to_string(), B.to_string()], &plan).is_empty());
        assert_eq!(plan.known.get(B), Some(&4));
    }

    #[test]
    fn a_task_the_agent_cannot_read_is_left_alone() {
        let answer = json!({"instanceStatus": "ACTIVE", "tasks": [task(A, 3, "bridge"), task(B, 7, "quantum-mesh")]});
        let plan = read_poll_answer(answer.clone(), &BTreeMap::new()).expect("a task list");
        assert_eq!(plan.tasks.iter().map(|t| t.task_arn.as_str()).collect::<Vec<_>>(), [A]);
        let running = [A.to_string(), B.to_string()];
        assert!(unlisted(&running, &plan).is_empty(), "no listed task may be stopped");
        assert_eq!(plan.known, BTreeMap::from([(A.to_string(), 3), (B.to_string(), 7)]));
    }

    #[test]
    fn tasks_answered_as_unchanged_stay_listed_at_their_known_version() {
        let known = BTreeMap::from([(A.to_string(), 1)]);
        let answer = json!({"instanceStatus": "ACTIVE", "tasks": [task(B, 2, "bridge")], "unchanged": [A]});
        let plan = read_poll_answer(answer, &known).expect("a task list");
        assert_eq!(plan.tasks.iter().map(|t| t.task_arn.as_str()).collect::<Vec<_>>(), [B]);
        assert!(unlisted(&[A.to_string(), B.to_string()], &plan).is_empty(), "an unchanged task is not stopped");
        assert_eq!(plan.known, BTreeMap::from([(A.to_string(), 1), (B.to_string(), 2)]));
        // Named unchanged but not sent as known: listed, and asked for in full next time.
        let plan = read_poll_answer(json!({"tasks": [], "unchanged": [A]}), &BTreeMap::new()).expect("a task list");
        assert!(unlisted(&[A.to_string()], &plan).is_empty());
        assert!(plan.known.is_empty());
    }

    #[test]
    fn an_answer_the_agent_cannot_read_stops_nothing() {
        let running = [A.to_string()];
        for answer in [json!({"tasks": "soon"}), json!({"instanceStatus": "ACTIVE"}), json!([1, 2])] {
            assert!(read_poll_answer(answer.clone(), &BTreeMap::new()).is_none(), "{answer} was read as a task list");
        }
        // A listed task without a readable ARN could be any running task.
        let plan = read_poll_answer(json!({"tasks": [{"taskArn": 5}]}), &BTreeMap::new()).expect("a task list");
        assert!(unlisted(&running, &plan).is_empty());
    }

    #[tokio::test]
    async fn cleanup_removes_pause_containers_of_ended_tasks_and_this_agents_strays() {
        use crate::runtime::{
            AGENT_INSTANCE_LABEL, CONTAINER_NAME_LABEL, ContainerSpec, PauseSpec, SimulatedBehaviour, SimulatedRuntime,
            TASK_ARN_LABEL,
        };
        const C: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/c";
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::new("default", dir.path().to_path_buf());
        config.cleanup_after = Duration::ZERO;
        let credentials = flotilla_sigv4::Credentials::new("AKIDEXAMPLE", "secret");
        let client = ControlPlaneClient::new("http://127.0.0.1:9", credentials, "us-east-1").unwrap();
        let runtime = Arc::new(SimulatedRuntime::new(SimulatedBehaviour::default()));
        let mut agent = Agent::new(config, client, runtime.clone()).unwrap();
        let me = agent.state.read(|s| s.ec2_instance_id.clone());
        let labels = |task: &str, name: &str, instance: &str| {
            BTreeMap::from([
                (TASK_ARN_LABEL.to_string(), task.to_string()),
                (CONTAINER_NAME_LABEL.to_string(), name.to_string()),
                (AGENT_INSTANCE_LABEL.to_string(), instance.to_string()),
            ])
        };
        let pause = |task: &'static str, instance: &str| PauseSpec {
            name: format!("ecs-web-1-internalecspause-{}", task.rsplit('/').next().unwrap()),
            labels: labels(task, PAUSE_CONTAINER_NAME, instance),
            cidr: "10.9.0.0/24".into(),
            cgroup_parent: None,
        };
        // A task that ended here: its container and pause container are recorded.
        let spec =
            ContainerSpec { name: "ecs-web-1-app-a".into(), labels: labels(A, "app", &me), ..Default::default() };
        let app = runtime.create(&spec).await.unwrap();
        let ended = runtime.create_pause(&pause(A, &me)).await.unwrap();
        agent
            .state
            .update(|s| {
                let r = s.tasks.entry(A.to_string()).or_default();
                r.containers.insert("app".into(), app.clone());
                r.pause_container = Some(ended.clone());
                r.stopped_at_ms = Some(now_ms() - 1);
            })
            .unwrap();
        // Pause containers of tasks not listed: this agent's, and another agent's.
        let stray = runtime.create_pause(&pause(B, &me)).await.unwrap();
        let others = runtime.create_pause(&pause(C, "i-another")).await.unwrap();
        for id in [&ended, &stray, &others] {
            runtime.start(id).await.unwrap();
        }
        assert_eq!(runtime.addresses_in_use(), 3);
        agent.last_listed = Some(BTreeSet::new());
        agent.cleanup().await;
        for (id, what) in [(&app, "the ended task's container"), (&ended, "its pause container"), (&stray, "the stray")]
        {
            assert_eq!(runtime.inspect(id).await.unwrap(), None, "{what} is removed");
        }
        assert!(runtime.inspect(&others).await.unwrap().is_some(), "another agent's pause container stays");
        assert_eq!(runtime.addresses_in_use(), 1);
        assert!(agent.state.read(|s| s.tasks.is_empty()));
    }

    #[test]
    fn only_this_agents_pause_containers_of_dead_tasks_are_swept() {
        let c = |id: &str, task: &str, name: &str, instance: Option<&str>| ManagedContainer {
            id: id.into(),
            task_arn: task.into(),
            container_name: name.into(),
            agent_instance: instance.map(Into::into),
        };
        let managed = [
            c("p-a", A, PAUSE_CONTAINER_NAME, Some("i-me")),
            c("p-b", B, PAUSE_CONTAINER_NAME, Some("i-me")),
            c("app-b", B, "app", None),
            c("p-other", B, PAUSE_CONTAINER_NAME, Some("i-other")),
            c("p-old", B, PAUSE_CONTAINER_NAME, None),
        ];
        let stale = stale_pause_containers(&managed, "i-me", |arn| arn == A);
        assert_eq!(stale.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["p-b"]);
    }

    #[test]
    fn a_task_no_longer_listed_is_stopped() {
        let plan =
            read_poll_answer(json!({"instanceStatus": "ACTIVE", "tasks": [task(A, 1, "bridge")]}), &BTreeMap::new())
                .unwrap();
        let running = [A.to_string(), B.to_string()];
        assert_eq!(unlisted(&running, &plan), [B.to_string()]);
    }

    #[test]
    fn a_given_instance_id_is_the_nodes_and_replaces_another_saved_one() {
        use crate::runtime::{SimulatedBehaviour, SimulatedRuntime};
        let dir = tempfile::tempdir().unwrap();
        let agent = |id: Option<&str>| {
            let mut config = AgentConfig::new("default", dir.path().to_path_buf());
            config.ec2_instance_id = id.map(str::to_string);
            let credentials = flotilla_sigv4::Credentials::new("AKIDEXAMPLE", "secret");
            let client = ControlPlaneClient::new("http://127.0.0.1:9", credentials, "us-east-1").unwrap();
            let runtime = Arc::new(SimulatedRuntime::new(SimulatedBehaviour::default()));
            Agent::new(config, client, runtime).unwrap()
        };
        let given = agent(Some("i-0123456789abcdef0"));
        assert_eq!(given.state.read(|s| s.ec2_instance_id.clone()), "i-0123456789abcdef0");
        given.state.update(|s| s.container_instance_arn = Some("arn:ci".into())).unwrap();
        drop(given);
        let kept = agent(None);
        assert_eq!(kept.state.read(|s| s.ec2_instance_id.clone()), "i-0123456789abcdef0", "saved, and kept");
        drop(kept);
        let other = agent(Some("i-0fedcba9876543210"));
        assert_eq!(
            other.state.read(|s| (s.ec2_instance_id.clone(), s.container_instance_arn.clone())),
            ("i-0fedcba9876543210".to_string(), None)
        );
    }
}
