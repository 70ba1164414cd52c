//! The launch path: from a task definition and where it may go to placed, stored
//! tasks. Free of wire types, so RunTask, StartTask and the services controller share
//! it; placement, task creation and the tasks' tags are one store transaction.

use crate::EcsService;
use crate::container_instances::new_id;
use crate::error::EcsError;
use crate::placement::{self, NO_INSTANCES, Rules};
use flotilla_domain::Timestamp;
use flotilla_domain::launch::{DEFAULT_EPHEMERAL_STORAGE_GIB, Launch, choose_providers};
use flotilla_domain::service::ContainerImage;
use flotilla_domain::tag::Tag;
use flotilla_domain::task::{LaunchType, TaskNetwork};
use flotilla_domain::task::{Task, TaskContainer, TaskOverride, TaskStatus, task_needs};
use flotilla_domain::task_definition::TaskDefinition;
use flotilla_placement::{PlacementStrategy, SpreadField};
use flotilla_store::{InstanceLoad, PlacementScratch, Pool};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The attribute Fargate spreads tasks across.
const AZ_ATTRIBUTE: &str = "ecs.availability-zone";

/// ECS's reason when Fargate has no room for a task.
pub(crate) const FARGATE_UNAVAILABLE: &str =
    "Capacity is unavailable at this time. Please try again later or in a different availability zone";

/// What every task of one launch is.
#[derive(Debug, Clone)]
pub struct TaskSpec<'a> {
    pub definition: &'a TaskDefinition,
    pub overrides: TaskOverride,
    /// `family:NAME` when not given.
    pub group: Option<String>,
    pub started_by: Option<String>,
    /// A launch whose token the cluster has seen returns the tasks stored then.
    pub client_token: Option<String>,
    pub tags: Vec<Tag>,
    /// Digests the containers' images are pinned to (a service deployment's).
    pub images: Vec<ContainerImage>,
    /// Launch type or capacity provider strategy, awsvpc network, platform version.
    pub launch: Launch,
    /// How many live tasks each capacity provider of the strategy already has (a
    /// service's), so new tasks follow the strategy's base and weights.
    pub provider_counts: BTreeMap<String, usize>,
}

/// Where the tasks may go.
#[derive(Clone)]
pub enum Target {
    /// Any instance of the cluster the rules allow.
    Cluster(Rules),
    /// This instance only, with no strategy (StartTask).
    Instance { id: String, required_attributes: Vec<String> },
    /// Any node serving Fargate, spread across zones.
    Fargate { required_attributes: Vec<String> },
}

/// What a launch did.
#[derive(Debug, Default)]
pub struct Launched {
    pub tasks: Vec<Task>,
    /// Why each task that was not placed was not (ECS's wording).
    pub unplaced: Vec<String>,
    /// (container instance ARN, reason) for each instance that could take no task.
    pub instance_failures: Vec<(String, String)>,
}

impl Launched {
    /// True when the cluster had no instance at all to place on.
    pub fn no_instances(&self) -> bool {
        self.tasks.is_empty() && self.unplaced.iter().any(|r| r == NO_INSTANCES)
    }
}

type FailureLog = Arc<Mutex<Vec<(String, String)>>>;

impl EcsService {
    /// Places and stores `count` new tasks of `spec` in `cluster`, tagged, and wakes
    /// the agents that got them.
    pub async fn launch_tasks(
        &self,
        cluster: &str,
        spec: &TaskSpec<'_>,
        count: usize,
        target: &Target,
        now: Timestamp,
    ) -> Result<Launched, EcsError> {
        let providers = choose_providers(&spec.launch.capacity_provider_strategy, &spec.provider_counts, count);
        let tasks: Vec<Task> = (0..count).map(|n| new_task(spec, cluster, providers.get(n).cloned(), n, now)).collect();
        if let (Target::Cluster(rules), false) = (target, spec.launch.launch_type == LaunchType::Fargate)
            && !spec.launch.capacity_provider_strategy.is_empty()
        {
            return self.launch_on_providers(cluster, tasks, &spec.tags, rules).await;
        }
        let failures: FailureLog = Arc::default();
        let account = self.account.clone();
        let (log, owned_target) = (failures.clone(), target.clone());
        let placer = move |loads: &[InstanceLoad], tasks: &[Task], scratch: &mut PlacementScratch| match &owned_target {
            Target::Cluster(rules) => placement::place_tasks(&account, loads, tasks, rules, &log, scratch),
            Target::Instance { id, required_attributes } => {
                let Some(i) = loads.iter().position(|l| &l.instance.id == id) else {
                    return tasks.iter().map(|_| Err("MISSING".to_string())).collect();
                };
                let rules = Rules {
                    strategies: Some(Vec::new()),
                    constraints: Vec::new(),
                    required_attributes: required_attributes.clone(),
                };
                placement::place_tasks(&account, std::slice::from_ref(&loads[i]), tasks, &rules, &log, &mut None)
                    .into_iter()
                    .map(|r| r.map(|_| i))
                    .collect()
            }
            Target::Fargate { required_attributes } => {
                let rules = Rules {
                    strategies: Some(vec![
                        PlacementStrategy::Spread(SpreadField::Attribute(AZ_ATTRIBUTE.into())),
                        PlacementStrategy::Spread(SpreadField::Instance),
                    ]),
                    constraints: Vec::new(),
                    required_attributes: required_attributes.clone(),
                };
                placement::place_tasks(&account, loads, tasks, &rules, &log, scratch)
                    .into_iter()
                    .map(|r| r.map_err(|_| FARGATE_UNAVAILABLE.to_string()))
                    .collect()
            }
        };
        let pool = match target {
            Target::Fargate { .. } => Pool::Fargate { for_cluster: cluster.to_string() },
            _ => Pool::Cluster(cluster.to_string()),
        };
        let started = std::time::Instant::now();
        let placed = self.store.place_tasks(&pool, tasks, &spec.tags, Arc::new(placer)).await?;
        let ok = placed.iter().filter(|r| r.is_ok()).count();
        self.placements.record(ok, placed.len() - ok, started.elapsed().as_secs_f64());
        let mut out = Launched::default();
        for result in placed {
            match result {
                Ok(task) => {
                    if let Some(id) = &task.container_instance_id {
                        self.wakeups.wake(id);
                    }
                    out.tasks.push(task);
                }
                Err(reason) => out.unplaced.push(reason),
            }
        }
        let changes: Vec<(Option<&Task>, &Task)> = out.tasks.iter().map(|t| (None, t)).collect();
        self.tasks_changed(&changes).await;
        out.instance_failures = match target {
            // Fargate's nodes are not the user's: they are never named in failures.
            Target::Fargate { .. } => Vec::new(),
            _ => std::mem::take(&mut *failures.lock().unwrap_or_else(|p| p.into_inner())),
        };
        Ok(out)
    }
}

impl EcsService {
    /// Tasks of Auto Scaling group capacity providers: each is placed on an instance
    /// of its provider's group in the cluster, or stored waiting (PROVISIONING) for
    /// managed scaling to bring capacity; the capacity providers controller places it
    /// once there is room.
    async fn launch_on_providers(
        &self,
        cluster: &str,
        tasks: Vec<Task>,
        tags: &[flotilla_domain::tag::Tag],
        rules: &Rules,
    ) -> Result<Launched, EcsError> {
        let mut by_provider: BTreeMap<String, Vec<Task>> = BTreeMap::new();
        for t in tasks {
            by_provider.entry(t.capacity_provider_name.clone().unwrap_or_default()).or_default().push(t);
        }
        let mut out = Launched::default();
        for (provider, tasks) in by_provider {
            let members = self.provider_instances(&provider).await?;
            let (placed, waiting) = self.place_on_members(cluster, tasks, tags, rules, &members, false).await?;
            if !waiting.is_empty() {
                self.store.store_waiting_tasks(&waiting, tags).await?;
                let changes: Vec<(Option<&Task>, &Task)> = waiting.iter().map(|t| (None, t)).collect();
                self.tasks_changed(&changes).await;
            }
            out.tasks.extend(placed);
            out.tasks.extend(waiting);
        }
        Ok(out)
    }

    /// The EC2 instance ids of a capacity provider's Auto Scaling group.
    pub(crate) async fn provider_instances(&self, provider: &str) -> Result<Vec<String>, EcsError> {
        let Some(p) = self.active_provider(provider).await? else {
            return Err(EcsError::invalid(format!("The specified capacity provider {provider} does not exist.")));
        };
        let group = self
            .instance_groups()?
            .group(&p.auto_scaling_group_provider.auto_scaling_group_arn)
            .await
            .map_err(EcsError::invalid)?;
        Ok(group.map(|g| g.instances.into_iter().map(|(id, _)| id).collect()).unwrap_or_default())
    }

    /// Places tasks on the cluster's instances whose EC2 instance id is in `members`:
    /// new tasks are stored (with `tags`), waiting ones (`existing`) moved onto their
    /// instance. Returns (placed, not placed).
    pub(crate) async fn place_on_members(
        &self,
        cluster: &str,
        tasks: Vec<Task>,
        tags: &[flotilla_domain::tag::Tag],
        rules: &Rules,
        members: &[String],
        existing: bool,
    ) -> Result<(Vec<Task>, Vec<Task>), EcsError> {
        let failures: FailureLog = Arc::default();
        let account = self.account.clone();
        let members: std::collections::HashSet<String> = members.iter().cloned().collect();
        let rules = rules.clone();
        let placer = move |loads: &[InstanceLoad], tasks: &[Task], _: &mut PlacementScratch| {
            let index: Vec<usize> =
                (0..loads.len()).filter(|i| members.contains(&loads[*i].instance.ec2_instance_id)).collect();
            let mine: Vec<InstanceLoad> = index.iter().map(|i| loads[*i].clone()).collect();
            if mine.is_empty() {
                return tasks.iter().map(|_| Err(NO_INSTANCES.to_string())).collect();
            }
            placement::place_tasks(&account, &mine, tasks, &rules, &failures, &mut None)
                .into_iter()
                .map(|r| r.map(|i| index[i]))
                .collect()
        };
        let pool = Pool::Cluster(cluster.to_string());
        let decided = if existing {
            self.store.place_waiting_tasks(&pool, tasks.clone(), Arc::new(placer)).await?
        } else {
            self.store.place_tasks(&pool, tasks.clone(), tags, Arc::new(placer)).await?
        };
        let mut placed = Vec::new();
        let mut before = Vec::new();
        let mut left = Vec::new();
        for (task, result) in tasks.into_iter().zip(decided) {
            match result {
                Ok(t) => {
                    if let Some(id) = &t.container_instance_id {
                        self.wakeups.wake(id);
                    }
                    placed.push(t);
                    before.push(existing.then_some(task));
                }
                Err(_) => left.push(task),
            }
        }
        let changes: Vec<(Option<&Task>, &Task)> = before.iter().map(Option::as_ref).zip(&placed).collect();
        self.tasks_changed(&changes).await;
        Ok((placed, left))
    }
}

/// Builds the `n`th not-yet-placed task of a launch, taking `provider`.
fn new_task(spec: &TaskSpec<'_>, cluster: &str, provider: Option<String>, n: usize, now: Timestamp) -> Task {
    let td = spec.definition;
    let launch = &spec.launch;
    let fargate = launch.launch_type == LaunchType::Fargate;
    let ephemeral_storage_gib = fargate.then(|| {
        spec.overrides
            .ephemeral_storage
            .as_ref()
            .or(td.spec.ephemeral_storage.as_ref())
            .map_or(DEFAULT_EPHEMERAL_STORAGE_GIB, |e| e.size_in_gib)
    });
    let network = launch.network_configuration.as_ref().and_then(|n| n.awsvpc_configuration.as_ref()).map(|vpc| {
        // Tasks of one launch take the subnets in turn, as ECS spreads them.
        let subnet_id = vpc.subnets[n % vpc.subnets.len().max(1)].clone();
        TaskNetwork {
            attachment_id: uuid::Uuid::new_v4().to_string(),
            subnet_id,
            security_groups: vpc.security_groups.clone(),
            assign_public_ip: vpc.assign_public_ip.as_deref() == Some("ENABLED"),
            network_interface_id: format!("eni-{}", &new_id()[..17]),
            interface: None,
        }
    });
    let overrides = &spec.overrides;
    let containers = td
        .spec
        .container_definitions
        .iter()
        .map(|c| {
            let o = overrides.container_overrides.iter().find(|o| o.name.as_deref() == Some(&c.name));
            TaskContainer {
                id: new_id(),
                name: c.name.clone(),
                image: c.image.clone(),
                image_digest: spec
                    .images
                    .iter()
                    .find(|i| i.container_name == c.name && i.image == c.image)
                    .and_then(|i| i.image_digest.clone()),
                last_status: TaskStatus::Pending,
                exit_code: None,
                reason: None,
                runtime_id: None,
                health_status: c.health_check.as_ref().map(|_| "UNKNOWN".to_string()),
                network_bindings: Vec::new(),
                cpu: o.and_then(|o| o.cpu).unwrap_or(c.cpu),
                memory: o.and_then(|o| o.memory).or(c.memory),
                memory_reservation: o.and_then(|o| o.memory_reservation).or(c.memory_reservation),
                essential: c.is_essential(),
            }
        })
        .collect();
    Task {
        started_by: spec.started_by.clone(),
        group: spec.group.clone().unwrap_or_else(|| format!("family:{}", td.family)),
        overrides: overrides.clone(),
        reservation: task_needs(&td.spec, overrides),
        containers,
        cpu: overrides.cpu.clone().or_else(|| td.spec.cpu.clone()),
        memory: overrides.memory.clone().or_else(|| td.spec.memory.clone()),
        client_token: spec.client_token.clone(),
        launch_type: launch.launch_type,
        capacity_provider_name: provider,
        platform_version: launch.resolved_platform_version(),
        ephemeral_storage_gib,
        network,
        ..Task::provisioning(new_id(), cluster.to_string(), td.family.clone(), td.revision, now)
    }
}
