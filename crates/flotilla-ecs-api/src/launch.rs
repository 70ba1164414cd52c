//! The launch path: from a task definition and where it may go to placed, stored
//! tasks. Free of wire types, so RunTask, StartTask and the services controller share
//! it; placement, task creation and the tasks' tags are one store transaction.

use crate::EcsService;
use crate::container_instances::new_id;
use crate::error::EcsError;
use crate::placement::{self, NO_INSTANCES, Rules};
use flotilla_domain::Timestamp;
use flotilla_domain::service::ContainerImage;
use flotilla_domain::tag::Tag;
use flotilla_domain::task::{Task, TaskContainer, TaskOverride, TaskStatus, task_needs};
use flotilla_domain::task_definition::TaskDefinition;
use flotilla_store::InstanceLoad;
use std::sync::Mutex;

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
}

/// Where the tasks may go.
pub enum Target {
    /// Any instance of the cluster the rules allow.
    Cluster(Rules),
    /// This instance only, with no strategy (StartTask).
    Instance { id: String, required_attributes: Vec<String> },
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

type FailureLog = Mutex<Vec<(String, String)>>;

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
        let tasks: Vec<Task> = (0..count).map(|_| new_task(spec, cluster, now)).collect();
        let failures: FailureLog = Mutex::new(Vec::new());
        let account = self.account.clone();
        let placer = |loads: &[InstanceLoad], tasks: &[Task]| match target {
            Target::Cluster(rules) => placement::place_tasks(&account, loads, tasks, rules, &failures),
            Target::Instance { id, required_attributes } => {
                let Some(i) = loads.iter().position(|l| &l.instance.id == id) else {
                    return tasks.iter().map(|_| Err("MISSING".to_string())).collect();
                };
                let rules = Rules {
                    strategies: Some(Vec::new()),
                    constraints: Vec::new(),
                    required_attributes: required_attributes.clone(),
                };
                placement::place_tasks(&account, std::slice::from_ref(&loads[i]), tasks, &rules, &failures)
                    .into_iter()
                    .map(|r| r.map(|_| i))
                    .collect()
            }
        };
        let started = std::time::Instant::now();
        let placed = self.store.place_tasks(cluster, tasks, &spec.tags, &placer).await?;
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
        out.instance_failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok(out)
    }
}

/// Builds a not-yet-placed task of a definition.
fn new_task(spec: &TaskSpec<'_>, cluster: &str, now: Timestamp) -> Task {
    let td = spec.definition;
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
        ..Task::provisioning(new_id(), cluster.to_string(), td.family.clone(), td.revision, now)
    }
}
