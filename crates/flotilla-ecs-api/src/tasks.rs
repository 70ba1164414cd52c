//! Task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks, and the
//! agent's SubmitTaskStateChange and SubmitContainerStateChange.

use crate::EcsService;
use crate::error::EcsError;
use crate::launch::{Target, TaskSpec};
use crate::placement::{self, ConstraintWire, NO_INSTANCES, Rules, StrategyWire};
use crate::wire::{Failure, decode_token, epoch, finish_page, max_results, required};
use flotilla_db::retry_on_conflict;
use flotilla_domain::EcsArns;
use flotilla_domain::ResourceArn;
use flotilla_domain::Timestamp;
use flotilla_domain::cluster::CapacityProviderStrategyItem;
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::launch::{Launch, LaunchRequest, NetworkConfiguration, resolve_launch};
use flotilla_domain::tag::{Tag, validate_tags};
use flotilla_domain::task::{
    ContainerReport, NetworkBinding, StopCode, Task, TaskContainer, TaskOverride, TaskReport, TaskStatus,
};
use flotilla_domain::task::{LaunchType, TaskNetwork};
use flotilla_domain::task_definition::EphemeralStorage;
use flotilla_domain::task_definition::{MAX_INTEGER, TaskDefinition, TaskDefinitionStatus};
use flotilla_ecs_model::state_change::{
    Acknowledgment, ContainerStateChange, SubmitContainerStateChangeRequest, SubmitTaskStateChangeRequest,
};
use flotilla_store::{Page, TaskFilter};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const UPDATE_ATTEMPTS: u32 = 8;

/// The `Container` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerShape {
    container_arn: String,
    task_arn: String,
    name: String,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    last_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime_id: Option<String>,
    network_bindings: Vec<NetworkBinding>,
    network_interfaces: Vec<serde_json::Value>,
    health_status: String,
    cpu: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_reservation: Option<String>,
}

/// The `Task` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskShape {
    task_arn: String,
    cluster_arn: String,
    task_definition_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_instance_arn: Option<String>,
    overrides: TaskOverride,
    last_status: &'static str,
    desired_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    containers: Vec<ContainerShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_by: Option<String>,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<&'static str>,
    created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopping_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_stopped_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<f64>,
    group: String,
    launch_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_provider_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_family: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ephemeral_storage: Option<EphemeralStorage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone: Option<String>,
    health_status: &'static str,
    attachments: Vec<AttachmentShape>,
    enable_execute_command: bool,
    tags: Vec<Tag>,
}

/// ECS's `Attachment`: an awsvpc task's network interface.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachmentShape {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    details: Vec<KeyValue>,
}

#[derive(Serialize)]
struct KeyValue {
    name: &'static str,
    value: String,
}

/// The `ElasticNetworkInterface` attachment of an awsvpc task, with the details
/// ECS gives (the address and MAC once the agent has set the interface up).
fn attachment(t: &Task, network: &TaskNetwork) -> AttachmentShape {
    let mut details = vec![
        KeyValue { name: "subnetId", value: network.subnet_id.clone() },
        KeyValue { name: "networkInterfaceId", value: network.network_interface_id.clone() },
    ];
    if let Some(i) = &network.interface {
        details.push(KeyValue { name: "macAddress", value: i.mac_address.clone() });
        details.push(KeyValue {
            name: "privateDnsName",
            value: format!("ip-{}.ec2.internal", i.private_ipv4_address.replace('.', "-")),
        });
        details.push(KeyValue { name: "privateIPv4Address", value: i.private_ipv4_address.clone() });
    }
    AttachmentShape {
        id: network.attachment_id.clone(),
        kind: "ElasticNetworkInterface",
        status: network.attachment_status(t.last_status),
        details,
    }
}

impl EcsService {
    pub(crate) async fn task_shape(&self, t: Task, with_tags: bool) -> Result<TaskShape, EcsError> {
        let mut zones = HashMap::new();
        self.task_shape_with(t, with_tags, &mut zones).await
    }

    /// The shapes of several tasks, reading each instance's zone once.
    pub(crate) async fn task_shapes(&self, tasks: Vec<Task>, with_tags: bool) -> Result<Vec<TaskShape>, EcsError> {
        let mut zones = HashMap::new();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(self.task_shape_with(t, with_tags, &mut zones).await?);
        }
        Ok(out)
    }

    /// A task's shape; `zones` caches the availability zone of each instance read.
    async fn task_shape_with(
        &self,
        t: Task,
        with_tags: bool,
        zones: &mut HashMap<String, Option<String>>,
    ) -> Result<TaskShape, EcsError> {
        let task_arn = self.account.task_arn(&t.cluster, &t.id);
        let tags = if with_tags { self.store.list_tags(&task_arn).await? } else { Vec::new() };
        let availability_zone = match &t.container_instance_id {
            Some(id) => match zones.get(id) {
                Some(zone) => zone.clone(),
                None => {
                    let zone = self
                        .store
                        .get_container_instance(id)
                        .await?
                        .and_then(|ci| ci.attribute("ecs.availability-zone").and_then(|a| a.value.clone()));
                    zones.insert(id.clone(), zone.clone());
                    zone
                }
            },
            None => None,
        };
        let health = |c: &TaskContainer| c.health_status.clone().unwrap_or_else(|| "UNKNOWN".into());
        let task_health = t.health_status();
        let fargate = t.launch_type == LaunchType::Fargate;
        let attachments: Vec<AttachmentShape> = t.network.iter().map(|n| attachment(&t, n)).collect();
        let interfaces: Vec<serde_json::Value> = match &t.network {
            Some(n) => n
                .interface
                .iter()
                .map(|i| {
                    serde_json::json!({"attachmentId": n.attachment_id, "privateIpv4Address": i.private_ipv4_address})
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(TaskShape {
            containers: t
                .containers
                .iter()
                .map(|c| ContainerShape {
                    container_arn: self.account.container_arn(&t.cluster, &t.id, &c.id),
                    task_arn: task_arn.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    image_digest: c.image_digest.clone(),
                    last_status: c.last_status.as_str(),
                    exit_code: c.exit_code,
                    reason: c.reason.clone(),
                    runtime_id: c.runtime_id.clone(),
                    network_bindings: c.network_bindings.clone(),
                    network_interfaces: interfaces.clone(),
                    health_status: health(c),
                    cpu: c.cpu.to_string(),
                    memory: c.memory.map(|m| m.to_string()),
                    memory_reservation: c.memory_reservation.map(|m| m.to_string()),
                })
                .collect(),
            task_arn,
            cluster_arn: self.account.cluster_arn(&t.cluster),
            task_definition_arn: self.account.task_definition_arn(&t.family, t.revision),
            // A Fargate task's node is not the user's: ECS names none.
            container_instance_arn: t
                .container_instance_id
                .as_ref()
                .filter(|_| !fargate)
                .map(|id| self.account.container_instance_arn(&t.cluster, id)),
            overrides: t.overrides,
            last_status: t.last_status.as_str(),
            desired_status: t.desired_status.as_str(),
            cpu: t.cpu,
            memory: t.memory,
            started_by: t.started_by,
            version: t.version,
            stopped_reason: t.stopped_reason,
            stop_code: t.stop_code.map(StopCode::as_str),
            created_at: epoch(t.created_at),
            pull_started_at: t.pull_started_at.map(epoch),
            pull_stopped_at: t.pull_stopped_at.map(epoch),
            started_at: t.started_at.map(epoch),
            stopping_at: t.stopping_at.map(epoch),
            execution_stopped_at: t.execution_stopped_at.map(epoch),
            stopped_at: t.stopped_at.map(epoch),
            group: t.group,
            launch_type: t.launch_type.as_str(),
            capacity_provider_name: t.capacity_provider_name,
            platform_version: t.platform_version,
            platform_family: fargate.then_some("Linux"),
            ephemeral_storage: t.ephemeral_storage_gib.map(|size_in_gib| EphemeralStorage { size_in_gib }),
            availability_zone,
            health_status: task_health,
            attachments,
            enable_execute_command: false,
            tags,
        })
    }

    /// The task a `task` parameter (ARN or id) names in `cluster`.
    async fn find_task(&self, cluster: &str, given: &str) -> Result<Option<Task>, EcsError> {
        let id = if given.starts_with("arn:") {
            match self.account.parse_arn(given) {
                Ok(ResourceArn::Task { cluster: c, id }) if c == cluster => id,
                _ => return Ok(None),
            }
        } else {
            given.to_string()
        };
        Ok(self.store.get_task(&id).await?.filter(|t| t.cluster == cluster))
    }

    /// Reads the task, applies `change`, and stores it if anything changed,
    /// retrying when another writer got there first.
    pub(crate) async fn change_task(
        &self,
        cluster: &str,
        given: &str,
        change: impl Fn(&mut Task) -> bool,
    ) -> Result<Task, EcsError> {
        let change = &change;
        retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
            let mut task = self
                .find_task(cluster, given)
                .await?
                .ok_or_else(|| EcsError::invalid("The referenced task was not found."))?;
            let before = task.clone();
            if !change(&mut task) {
                return Ok(task);
            }
            let stored = self.store.update_task(&task).await?;
            // Only a changed wish is news to the instance's agent (see `wish_version`).
            if stored.desired_status != before.desired_status
                && let Some(id) = &stored.container_instance_id
            {
                self.wakeups.wake(id);
            }
            self.task_changed(Some(&before), &stored).await;
            Ok(stored)
        })
        .await
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunTaskInput {
    cluster: Option<String>,
    task_definition: Option<String>,
    count: Option<i64>,
    overrides: Option<TaskOverride>,
    group: Option<String>,
    started_by: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    client_token: Option<String>,
    launch_type: Option<String>,
    #[serde(default)]
    placement_constraints: Vec<ConstraintWire>,
    #[serde(default)]
    placement_strategy: Vec<StrategyWire>,
    #[serde(default)]
    capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    network_configuration: Option<NetworkConfiguration>,
    platform_version: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct TasksOutput {
    tasks: Vec<TaskShape>,
    failures: Vec<Failure>,
}

/// Checks a call's overrides against the task definition it runs.
fn check_overrides(td: &TaskDefinition, overrides: &TaskOverride) -> Result<(), EcsError> {
    for o in &overrides.container_overrides {
        let name = o.name.as_deref().unwrap_or("");
        if !td.spec.container_definitions.iter().any(|c| c.name == name) {
            return Err(EcsError::invalid(format!(
                "overrides.containerOverrides: '{name}' is not a container of task definition {}:{}",
                td.family, td.revision
            )));
        }
        for (field, v) in [("cpu", o.cpu), ("memory", o.memory), ("memoryReservation", o.memory_reservation)] {
            if v.is_some_and(|v| !(0..=MAX_INTEGER).contains(&v)) {
                return Err(EcsError::invalid(format!(
                    "overrides.containerOverrides '{name}': {field} must be between 0 and {MAX_INTEGER}"
                )));
            }
        }
    }
    Ok(())
}

/// Fargate takes an ephemeral storage override of 21 to 200 GiB; EC2 none.
fn check_fargate_overrides(launch: &Launch, overrides: &TaskOverride) -> Result<(), EcsError> {
    let Some(e) = &overrides.ephemeral_storage else { return Ok(()) };
    if launch.launch_type != LaunchType::Fargate {
        return Err(EcsError::invalid("overrides.ephemeralStorage is only supported for the FARGATE launch type"));
    }
    if !(21..=200).contains(&e.size_in_gib) {
        return Err(EcsError::invalid(format!(
            "overrides.ephemeralStorage.sizeInGiB {} must be between 21 and 200",
            e.size_in_gib
        )));
    }
    Ok(())
}

pub(crate) async fn checked_definition(svc: &EcsService, given: Option<String>) -> Result<TaskDefinition, EcsError> {
    let given = required(given, "taskDefinition")?;
    let td = svc
        .find_task_definition(&given)
        .await?
        .filter(|td| td.status != TaskDefinitionStatus::DeleteInProgress)
        .ok_or_else(|| EcsError::invalid(format!("taskDefinition '{given}' does not exist")))?;
    if td.status == TaskDefinitionStatus::Inactive {
        return Err(EcsError::invalid(format!("taskDefinition '{given}' is INACTIVE and cannot run new tasks")));
    }
    Ok(td)
}

fn check_run_options(input: &RunTaskInput) -> Result<(), EcsError> {
    if input.started_by.as_ref().is_some_and(|s| s.len() > 36) {
        return Err(EcsError::invalid("startedBy is limited to 36 characters"));
    }
    if input.client_token.as_ref().is_some_and(|s| s.is_empty() || s.len() > 64) {
        return Err(EcsError::invalid("clientToken must be 1 to 64 characters"));
    }
    if let Some(g) = &input.group
        && (g.is_empty() || g.len() > 255)
    {
        return Err(EcsError::invalid("group must be 1 to 255 characters"));
    }
    validate_tags(&input.tags)?;
    Ok(())
}

pub(crate) async fn run_task(svc: &EcsService, input: RunTaskInput) -> Result<TasksOutput, EcsError> {
    let cluster = svc.cluster_for_use(input.cluster.as_deref()).await?;
    check_run_options(&input)?;
    let count = input.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(EcsError::invalid(format!("count {count} must be between 1 and 10")));
    }
    let td = checked_definition(svc, input.task_definition.clone()).await?;
    let overrides = input.overrides.clone().unwrap_or_default();
    check_overrides(&td, &overrides)?;
    let request = LaunchRequest {
        launch_type: input.launch_type.as_deref(),
        capacity_provider_strategy: &input.capacity_provider_strategy,
        network_configuration: input.network_configuration.as_ref(),
        platform_version: input.platform_version.as_deref(),
        has_placement: !input.placement_constraints.is_empty() || !input.placement_strategy.is_empty(),
    };
    let launch = resolve_launch(&request, &cluster.spec, &td)?;
    check_fargate_overrides(&launch, &overrides)?;
    let rules = Rules {
        strategies: if input.placement_strategy.is_empty() {
            None
        } else {
            Some(placement::parse_strategies(&input.placement_strategy)?)
        },
        constraints: placement::parse_constraints(&td, &input.placement_constraints)?,
        required_attributes: td.requires_attributes.clone(),
    };
    let spec = TaskSpec {
        definition: &td,
        overrides,
        group: input.group.clone(),
        started_by: input.started_by.clone(),
        client_token: input.client_token.clone(),
        tags: input.tags.clone(),
        images: Vec::new(),
        provider_counts: BTreeMap::new(),
        launch,
    };
    let target = match spec.launch.launch_type {
        LaunchType::Fargate => Target::Fargate { required_attributes: rules.required_attributes },
        LaunchType::Ec2 => Target::Cluster(rules),
    };
    let launched = svc.launch_tasks(&cluster.name, &spec, count as usize, &target, Timestamp::now()).await?;
    if launched.no_instances() {
        return Err(EcsError::invalid(NO_INSTANCES));
    }
    let mut out = TasksOutput { tasks: svc.task_shapes(launched.tasks, true).await?, failures: Vec::new() };
    if let Some(reason) = launched.unplaced.first() {
        if launched.instance_failures.is_empty() {
            out.failures.push(Failure {
                arn: svc.account.cluster_arn(&cluster.name),
                reason: reason.clone(),
                detail: None,
            });
        }
        for (arn, reason) in launched.instance_failures {
            out.failures.push(Failure { arn, reason, detail: None });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartTaskInput {
    cluster: Option<String>,
    task_definition: Option<String>,
    container_instances: Option<Vec<String>>,
    overrides: Option<TaskOverride>,
    group: Option<String>,
    started_by: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    network_configuration: Option<NetworkConfiguration>,
}

pub(crate) async fn start_task(svc: &EcsService, input: StartTaskInput) -> Result<TasksOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let instances = required(input.container_instances, "containerInstances")?;
    if instances.is_empty() || instances.len() > 10 {
        return Err(EcsError::invalid("containerInstances: give 1 to 10 container instances"));
    }
    let run =
        RunTaskInput { group: input.group, started_by: input.started_by, tags: input.tags, ..RunTaskInput::default() };
    check_run_options(&run)?;
    let td = checked_definition(svc, input.task_definition).await?;
    let overrides = input.overrides.unwrap_or_default();
    check_overrides(&td, &overrides)?;
    let request = LaunchRequest {
        launch_type: Some("EC2"),
        network_configuration: input.network_configuration.as_ref(),
        ..LaunchRequest::default()
    };
    let launch = resolve_launch(&request, &cluster.spec, &td)?;
    let now = Timestamp::now();
    let mut out = TasksOutput { tasks: Vec::new(), failures: Vec::new() };
    for given in instances {
        let Some(ci) = svc.find_instance(&cluster.name, &given).await?.filter(|ci| ci.status == InstanceStatus::Active)
        else {
            let arn = if given.starts_with("arn:") {
                given
            } else {
                svc.account.container_instance_arn(&cluster.name, &given)
            };
            out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            continue;
        };
        let spec = TaskSpec {
            definition: &td,
            overrides: overrides.clone(),
            group: run.group.clone(),
            started_by: run.started_by.clone(),
            client_token: None,
            tags: run.tags.clone(),
            images: Vec::new(),
            launch: launch.clone(),
            provider_counts: BTreeMap::new(),
        };
        let target = Target::Instance { id: ci.id.clone(), required_attributes: td.requires_attributes.clone() };
        let launched = svc.launch_tasks(&cluster.name, &spec, 1, &target, now).await?;
        let instance_arn = svc.account.container_instance_arn(&cluster.name, &ci.id);
        for task in launched.tasks {
            out.tasks.push(svc.task_shape(task, true).await?);
        }
        if let Some(reason) = launched.unplaced.into_iter().next() {
            let reason = launched.instance_failures.into_iter().next().map_or(reason, |(_, r)| r);
            out.failures.push(Failure { arn: instance_arn, reason, detail: None });
        }
    }
    Ok(out)
}
#[derive(Deserialize)]
pub(crate) struct StopTaskInput {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct StopTaskOutput {
    task: TaskShape,
}

pub(crate) async fn stop_task(svc: &EcsService, input: StopTaskInput) -> Result<StopTaskOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.task, "task")?;
    if input.reason.as_ref().is_some_and(|r| r.len() > 255) {
        return Err(EcsError::invalid("reason is limited to 255 characters"));
    }
    let reason = input.reason.unwrap_or_else(|| "Task stopped by user".into());
    let now = Timestamp::now();
    let task = svc
        .change_task(&cluster.name, &given, |t| t.request_stop(StopCode::UserInitiated, Some(reason.clone()), now))
        .await?;
    Ok(StopTaskOutput { task: svc.task_shape(task, false).await? })
}

#[derive(Deserialize)]
pub(crate) struct DescribeTasksInput {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

pub(crate) async fn describe_tasks(svc: &EcsService, input: DescribeTasksInput) -> Result<TasksOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.tasks, "tasks")?;
    if given.len() > 100 {
        return Err(EcsError::invalid("tasks: at most 100 tasks can be described at once"));
    }
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let mut out = TasksOutput { tasks: Vec::new(), failures: Vec::new() };
    for g in given {
        match svc.find_task(&cluster.name, &g).await? {
            Some(t) => out.tasks.push(svc.task_shape(t, with_tags).await?),
            None => {
                let arn = if g.starts_with("arn:") { g } else { svc.account.task_arn(&cluster.name, &g) };
                out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTasksInput {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    started_by: Option<String>,
    service_name: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListTasksOutput {
    task_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_tasks(svc: &EcsService, input: ListTasksInput) -> Result<ListTasksOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let group = match &input.service_name {
        Some(given) => match svc.find_service(&cluster.name, given).await? {
            Some(s) => Some(s.group()),
            None => return Err(EcsError::ServiceNotFound("Service not found.".into())),
        },
        None => None,
    };
    let limit = max_results(input.max_results, 100)?;
    // ECS lists the tasks meant to run unless asked for the stopped ones.
    let desired_status = match input.desired_status.as_deref() {
        None | Some("RUNNING") | Some("PENDING") => Some(TaskStatus::Running),
        Some("STOPPED") => Some(TaskStatus::Stopped),
        Some(other) => {
            return Err(EcsError::invalid(format!("desiredStatus '{other}' is not one of RUNNING, PENDING, STOPPED")));
        }
    };
    let container_instance_id =
        input.container_instance.as_deref().map(|g| svc.instance_id(&cluster.name, g)).transpose()?;
    let filter =
        TaskFilter { container_instance_id, family: input.family, started_by: input.started_by, group, desired_status };
    if input.launch_type.as_deref().is_some_and(|l| l != "EC2") {
        return Ok(ListTasksOutput { task_arns: Vec::new(), next_token: None });
    }
    let after = input.next_token.as_deref().map(decode_token).transpose()?;
    let ids = svc.store.list_task_ids(&cluster.name, &filter, Page { after, limit: limit + 1 }).await?;
    let (ids, next_token) = finish_page(ids, limit as usize, String::clone);
    Ok(ListTasksOutput {
        task_arns: ids.iter().map(|id| svc.account.task_arn(&cluster.name, id)).collect(),
        next_token,
    })
}

fn container_report(c: ContainerStateChange) -> Result<ContainerReport, EcsError> {
    Ok(ContainerReport {
        name: required(c.container_name, "containers.containerName")?,
        status: c.status,
        runtime_id: c.runtime_id,
        exit_code: c.exit_code,
        reason: c.reason,
        health_status: c.health_status,
        network_bindings: c.network_bindings,
        image_digest: c.image_digest,
    })
}

pub(crate) async fn submit_task_state_change(
    svc: &EcsService,
    input: SubmitTaskStateChangeRequest,
) -> Result<Acknowledgment, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.task, "task")?;
    let report = TaskReport {
        status: input.status,
        reason: input.reason,
        containers: input.containers.into_iter().map(container_report).collect::<Result<_, _>>()?,
        pull_started_at: input.pull_started_at,
        pull_stopped_at: input.pull_stopped_at,
        execution_stopped_at: input.execution_stopped_at,
        network_interface: input.network_interface,
    };
    let now = Timestamp::now();
    let task = svc.change_task(&cluster.name, &given, |t| t.apply_report(&report, now)).await?;
    if task.group.starts_with("service:") {
        // The service scheduler counts this change at once rather than at its next interval.
        svc.services_changed.notify_one();
    }
    Ok(Acknowledgment::accepted())
}

pub(crate) async fn submit_container_state_change(
    svc: &EcsService,
    input: SubmitContainerStateChangeRequest,
) -> Result<Acknowledgment, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.task, "task")?;
    let report = TaskReport { containers: vec![container_report(input.container)?], ..TaskReport::default() };
    let now = Timestamp::now();
    let task = svc.change_task(&cluster.name, &given, |t| t.apply_report(&report, now)).await?;
    if task.group.starts_with("service:") {
        // The service scheduler counts this change at once rather than at its next interval.
        svc.services_changed.notify_one();
    }
    Ok(Acknowledgment::accepted())
}
