//! Container instance operations: RegisterContainerInstance,
//! DeregisterContainerInstance, DescribeContainerInstances, ListContainerInstances,
//! UpdateContainerInstancesState, DiscoverPollEndpoint.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::{Failure, decode_token, epoch, finish_page, max_results, required};
use flotilla_db::retry_on_conflict;
use flotilla_domain::EcsArns;
use flotilla_domain::ResourceArn;
use flotilla_domain::Timestamp;
use flotilla_domain::cluster::{Cluster, DEFAULT_CLUSTER};
use flotilla_domain::container_instance::{Attribute, ContainerInstance, InstanceStatus, Resources, VersionInfo};
use flotilla_domain::tag::{Tag, validate_tags};
use flotilla_domain::task_definition::MAX_INTEGER;
use flotilla_ecs_model::register::{InstanceIdentityDocument, RegisterContainerInstanceRequest, Resource};
use flotilla_store::{InstanceLoad, Page};
use serde::{Deserialize, Serialize};

const UPDATE_ATTEMPTS: u32 = 8;

fn resources_shape(r: &Resources) -> Vec<Resource> {
    let set = |name: &str, ports: &[u16]| {
        let mut sorted: Vec<u16> = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        Resource::string_set(name, sorted.iter().map(u16::to_string).collect())
    };
    vec![
        Resource::integer("CPU", r.cpu),
        Resource::integer("MEMORY", r.memory),
        set("PORTS", &r.ports_tcp),
        set("PORTS_UDP", &r.ports_udp),
    ]
}

fn parse_resources(given: &[Resource]) -> Result<Resources, EcsError> {
    let mut r = Resources::default();
    let ports = |s: &Resource, name: &str| -> Result<Vec<u16>, EcsError> {
        s.string_set_value
            .iter()
            .flatten()
            .map(|p| {
                p.parse::<u16>().map_err(|_| EcsError::invalid(format!("totalResources {name}: '{p}' is not a port")))
            })
            .collect()
    };
    for s in given {
        match s.name.as_deref() {
            Some("CPU") => r.cpu = s.integer_value,
            Some("MEMORY") => r.memory = s.integer_value,
            Some("PORTS") => r.ports_tcp = ports(s, "PORTS")?,
            Some("PORTS_UDP") => r.ports_udp = ports(s, "PORTS_UDP")?,
            _ => {}
        }
    }
    if !(1..=MAX_INTEGER).contains(&r.cpu) || !(1..=MAX_INTEGER).contains(&r.memory) {
        return Err(EcsError::invalid(format!(
            "totalResources must give CPU and MEMORY integer values between 1 and {MAX_INTEGER}"
        )));
    }
    Ok(r)
}

/// The `ContainerInstance` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerInstanceShape {
    container_instance_arn: String,
    ec2_instance_id: String,
    version: i64,
    version_info: VersionInfo,
    remaining_resources: Vec<Resource>,
    registered_resources: Vec<Resource>,
    status: &'static str,
    agent_connected: bool,
    running_tasks_count: i64,
    pending_tasks_count: i64,
    attributes: Vec<Attribute>,
    registered_at: f64,
    attachments: Vec<serde_json::Value>,
    tags: Vec<Tag>,
}

impl EcsService {
    pub(crate) async fn instance_shape(
        &self,
        load: InstanceLoad,
        with_tags: bool,
    ) -> Result<ContainerInstanceShape, EcsError> {
        let ci = std::sync::Arc::unwrap_or_clone(load.instance);
        let arn = self.account.container_instance_arn(&ci.cluster, &ci.id);
        let tags = if with_tags { self.store.list_tags(&arn).await? } else { Vec::new() };
        Ok(ContainerInstanceShape {
            container_instance_arn: arn,
            agent_connected: ci.agent_connected(Timestamp::now()),
            ec2_instance_id: ci.ec2_instance_id,
            version: ci.version,
            version_info: ci.version_info,
            remaining_resources: resources_shape(&load.remaining),
            registered_resources: resources_shape(&ci.registered),
            status: ci.status.as_str(),
            running_tasks_count: load.running_tasks,
            pending_tasks_count: load.pending_tasks,
            attributes: ci.attributes,
            registered_at: epoch(ci.registered_at),
            attachments: Vec::new(),
            tags,
        })
    }

    /// The ACTIVE cluster a call names, creating `default` when it is the one named
    /// (ECS creates the default cluster on first use).
    pub(crate) async fn cluster_for_use(&self, cluster: Option<&str>) -> Result<Cluster, EcsError> {
        let name = self.cluster_name(cluster)?;
        if name == DEFAULT_CLUSTER {
            crate::clusters::ensure_default(self).await?;
        }
        self.active_cluster(Some(&name)).await
    }

    /// The instance a `containerInstance` parameter (ARN or id) names in `cluster`.
    pub(crate) fn instance_id(&self, cluster: &str, given: &str) -> Result<String, EcsError> {
        if given.starts_with("arn:") {
            match self.account.parse_arn(given)? {
                ResourceArn::ContainerInstance { cluster: c, id } if c == cluster => Ok(id),
                ResourceArn::ContainerInstance { .. } => {
                    Err(EcsError::invalid(format!("containerInstance '{given}' belongs to another cluster")))
                }
                _ => Err(EcsError::invalid(format!("containerInstance '{given}' is not a container instance ARN"))),
            }
        } else {
            Ok(given.to_string())
        }
    }

    /// The instance, if it exists in the cluster and is the user's: a node serving
    /// only Fargate is not (see [`Self::find_node`]).
    pub(crate) async fn find_instance(
        &self,
        cluster: &str,
        given: &str,
    ) -> Result<Option<ContainerInstance>, EcsError> {
        Ok(self.find_node(cluster, given).await?.filter(|ci| ci.capacity.serves_ec2()))
    }

    /// The node registered in the cluster under that name, whatever it serves (for
    /// its own agent).
    pub(crate) async fn find_node(&self, cluster: &str, given: &str) -> Result<Option<ContainerInstance>, EcsError> {
        let Ok(id) = self.instance_id(cluster, given) else { return Ok(None) };
        Ok(self.store.get_container_instance(&id).await?.filter(|ci| ci.cluster == cluster))
    }

    async fn change_instance(
        &self,
        cluster: &str,
        given: &str,
        change: impl Fn(&mut ContainerInstance, &InstanceLoad) -> Result<(), EcsError>,
    ) -> Result<ContainerInstance, EcsError> {
        let change = &change;
        retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
            let ci = self.find_instance(cluster, given).await?.ok_or_else(|| {
                EcsError::invalid(format!("containerInstance '{given}' is not registered in cluster '{cluster}'"))
            })?;
            let load = self.store.instance_load(&ci.id).await?.ok_or_else(|| EcsError::invalid("instance vanished"))?;
            let mut updated = (*load.instance).clone();
            change(&mut updated, &load)?;
            let stored = self.store.update_container_instance(&updated).await?;
            if stored.status != load.instance.status {
                self.instance_changed(&stored.id).await;
            }
            Ok(stored)
        })
        .await
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerInstanceOutput {
    container_instance: ContainerInstanceShape,
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) async fn register_container_instance(
    svc: &EcsService,
    input: RegisterContainerInstanceRequest,
) -> Result<ContainerInstanceOutput, EcsError> {
    let cluster = svc.cluster_for_use(input.cluster.as_deref()).await?;
    validate_tags(&input.tags)?;
    let registered = parse_resources(&input.total_resources)?;
    let identity: InstanceIdentityDocument = match &input.instance_identity_document {
        Some(doc) => serde_json::from_str(doc)
            .map_err(|e| EcsError::invalid(format!("instanceIdentityDocument is not a JSON identity document: {e}")))?,
        None => InstanceIdentityDocument::default(),
    };
    for a in &input.attributes {
        if a.name.is_empty() || a.name.len() > 128 || a.value.as_ref().is_some_and(|v| v.len() > 128) {
            return Err(EcsError::invalid(format!(
                "attributes: '{}' needs a name and value of at most 128 characters",
                a.name
            )));
        }
    }
    let now = Timestamp::now();
    let existing = match &input.container_instance_arn {
        Some(arn) => svc.find_node(&cluster.name, arn).await?,
        None => None,
    };
    let mut attributes = input.attributes;
    for (name, value) in [
        ("ecs.availability-zone", identity.availability_zone.clone()),
        ("ecs.instance-type", identity.instance_type.clone()),
    ] {
        if let Some(v) = value
            && !attributes.iter().any(|a| a.name == name)
        {
            attributes.push(Attribute { name: name.into(), value: Some(v) });
        }
    }
    let instance = ContainerInstance {
        id: existing.as_ref().map(|e| e.id.clone()).unwrap_or_else(new_id),
        cluster: cluster.name.clone(),
        ec2_instance_id: identity
            .instance_id
            .or_else(|| existing.as_ref().map(|e| e.ec2_instance_id.clone()))
            .unwrap_or_else(|| format!("i-{}", &new_id()[..17])),
        status: InstanceStatus::Active,
        registered,
        attributes,
        version_info: input.version_info.unwrap_or_default(),
        registered_at: existing.as_ref().map_or(now, |e| e.registered_at),
        last_heartbeat: now,
        agent_lost_at: None,
        capacity: input.capacity.unwrap_or_default(),
        version: existing.as_ref().map_or(0, |e| e.version),
    };
    let stored = svc.store.put_container_instance(&instance).await?;
    svc.instance_changed(&stored.id).await;
    let arn = svc.account.container_instance_arn(&stored.cluster, &stored.id);
    if !input.tags.is_empty() {
        svc.store.tag_resource(&arn, &input.tags, flotilla_domain::tag::MAX_TAGS_PER_RESOURCE).await?;
    }
    let load = svc.store.instance_load(&stored.id).await?.ok_or_else(|| EcsError::client("registration vanished"))?;
    Ok(ContainerInstanceOutput { container_instance: svc.instance_shape(load, true).await? })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeregisterContainerInstanceInput {
    cluster: Option<String>,
    container_instance: Option<String>,
    force: Option<bool>,
}

pub(crate) async fn deregister_container_instance(
    svc: &EcsService,
    input: DeregisterContainerInstanceInput,
) -> Result<ContainerInstanceOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.container_instance, "containerInstance")?;
    let force = input.force.unwrap_or(false);
    let stored = svc
        .change_instance(&cluster.name, &given, |ci, load| {
            if !force && load.running_tasks + load.pending_tasks > 0 {
                return Err(EcsError::invalid(format!(
                    "containerInstance '{given}' still has {} tasks; stop them or deregister with force",
                    load.running_tasks + load.pending_tasks
                )));
            }
            ci.status = InstanceStatus::Inactive;
            Ok(())
        })
        .await?;
    let load = svc.store.instance_load(&stored.id).await?.ok_or_else(|| EcsError::client("instance vanished"))?;
    Ok(ContainerInstanceOutput { container_instance: svc.instance_shape(load, true).await? })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeContainerInstancesInput {
    cluster: Option<String>,
    container_instances: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerInstancesOutput {
    container_instances: Vec<ContainerInstanceShape>,
    failures: Vec<Failure>,
}

pub(crate) async fn describe_container_instances(
    svc: &EcsService,
    input: DescribeContainerInstancesInput,
) -> Result<ContainerInstancesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.container_instances, "containerInstances")?;
    if given.len() > 100 {
        return Err(EcsError::invalid("containerInstances: at most 100 can be described at once"));
    }
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let mut out = ContainerInstancesOutput { container_instances: Vec::new(), failures: Vec::new() };
    for g in given {
        match svc.find_instance(&cluster.name, &g).await? {
            Some(ci) => {
                let load =
                    svc.store.instance_load(&ci.id).await?.ok_or_else(|| EcsError::client("instance vanished"))?;
                out.container_instances.push(svc.instance_shape(load, with_tags).await?);
            }
            None => {
                let arn = if g.starts_with("arn:") { g } else { svc.account.container_instance_arn(&cluster.name, &g) };
                out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListContainerInstancesInput {
    cluster: Option<String>,
    filter: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListContainerInstancesOutput {
    container_instance_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn parse_instance_status(s: &str) -> Result<InstanceStatus, EcsError> {
    match s {
        "ACTIVE" => Ok(InstanceStatus::Active),
        "DRAINING" => Ok(InstanceStatus::Draining),
        "INACTIVE" => Ok(InstanceStatus::Inactive),
        other => Err(EcsError::invalid(format!("status '{other}' is not one of ACTIVE, DRAINING, INACTIVE"))),
    }
}

pub(crate) async fn list_container_instances(
    svc: &EcsService,
    input: ListContainerInstancesInput,
) -> Result<ListContainerInstancesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let status = input.status.as_deref().map(parse_instance_status).transpose()?;
    if let Some(filter) = &input.filter {
        return list_filtered(svc, &cluster.name, status, filter, input.next_token.as_deref(), input.max_results).await;
    }
    let limit = max_results(input.max_results, 100)?;
    let after = input.next_token.as_deref().map(decode_token).transpose()?;
    let loads =
        svc.store.list_container_instances(&cluster.name, status, false, Page { after, limit: limit + 1 }).await?;
    let (loads, next_token) = finish_page(loads, limit as usize, |l| l.instance.id.clone());
    Ok(ListContainerInstancesOutput {
        container_instance_arns: loads
            .iter()
            .filter(|l| status.is_some() || l.instance.status != InstanceStatus::Inactive)
            .map(|l| svc.account.container_instance_arn(&cluster.name, &l.instance.id))
            .collect(),
        next_token,
    })
}

/// ListContainerInstances with a cluster query language `filter`.
async fn list_filtered(
    svc: &EcsService,
    cluster: &str,
    status: Option<InstanceStatus>,
    filter: &str,
    next_token: Option<&str>,
    wanted: Option<i64>,
) -> Result<ListContainerInstancesOutput, EcsError> {
    if filter.len() > 2000 {
        return Err(EcsError::invalid("filter: an expression is at most 2000 characters"));
    }
    let limit = max_results(wanted, 100)? as usize;
    let after = next_token.map(decode_token).transpose()?;
    let loads: Vec<InstanceLoad> = svc
        .store
        .list_container_instances(cluster, status, false, Page { after: None, limit: u32::MAX })
        .await?
        .into_iter()
        .filter(|l| status.is_some() || l.instance.status != InstanceStatus::Inactive)
        .collect();
    let selected = crate::placement::filter_instances(&svc.account, &loads, filter)?;
    let ids: Vec<&str> = selected
        .iter()
        .map(|i| loads[*i].instance.id.as_str())
        .filter(|id| after.as_deref().is_none_or(|a| *id > a))
        .take(limit + 1)
        .collect();
    let (ids, next_token) = finish_page(ids, limit, |id| id.to_string());
    Ok(ListContainerInstancesOutput {
        container_instance_arns: ids.iter().map(|id| svc.account.container_instance_arn(cluster, id)).collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateContainerInstancesStateInput {
    cluster: Option<String>,
    container_instances: Option<Vec<String>>,
    status: Option<String>,
}

pub(crate) async fn update_container_instances_state(
    svc: &EcsService,
    input: UpdateContainerInstancesStateInput,
) -> Result<ContainerInstancesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.container_instances, "containerInstances")?;
    if given.is_empty() || given.len() > 10 {
        return Err(EcsError::invalid("containerInstances: give 1 to 10 container instances"));
    }
    let status = parse_instance_status(&required(input.status, "status")?)?;
    if status == InstanceStatus::Inactive {
        return Err(EcsError::invalid("status must be ACTIVE or DRAINING"));
    }
    let mut out = ContainerInstancesOutput { container_instances: Vec::new(), failures: Vec::new() };
    for g in given {
        if svc.find_instance(&cluster.name, &g).await?.is_none_or(|ci| ci.status == InstanceStatus::Inactive) {
            let arn = if g.starts_with("arn:") { g } else { svc.account.container_instance_arn(&cluster.name, &g) };
            out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            continue;
        }
        let stored = svc
            .change_instance(&cluster.name, &g, |ci, _| {
                ci.status = status;
                Ok(())
            })
            .await?;
        let load = svc.store.instance_load(&stored.id).await?.ok_or_else(|| EcsError::client("instance vanished"))?;
        out.container_instances.push(svc.instance_shape(load, false).await?);
    }
    Ok(out)
}

/// DiscoverPollEndpoint's input (containerInstance, cluster) does not change the
/// answer: every agent polls the endpoint it registered through.
#[derive(Deserialize)]
pub(crate) struct DiscoverPollEndpointInput {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiscoverPollEndpointOutput {
    endpoint: String,
    telemetry_endpoint: String,
}

pub(crate) async fn discover_poll_endpoint(
    svc: &EcsService,
    _input: DiscoverPollEndpointInput,
) -> Result<DiscoverPollEndpointOutput, EcsError> {
    Ok(DiscoverPollEndpointOutput { endpoint: svc.endpoint.clone(), telemetry_endpoint: svc.endpoint.clone() })
}
