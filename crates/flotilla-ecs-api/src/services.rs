//! Service operations: CreateService, UpdateService, DeleteService, DescribeServices,
//! ListServices, and the service deployment views (ListServiceDeployments,
//! DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment).
//!
//! Handlers only record what is wanted (a new deployment, a desired count, DRAINING);
//! the `ecs-service-scheduler` controller (`scheduler.rs`) starts and stops the tasks.

use crate::EcsService;
use crate::error::EcsError;
use crate::placement::{self, ConstraintWire, StrategyWire};
use crate::wire::{Failure, decode_token, epoch, finish_page, max_results, required};
use flotilla_db::retry_on_conflict;
use flotilla_domain::cluster::{CapacityProviderStrategyItem, ClusterSpec};
use flotilla_domain::launch::{Launch, LaunchRequest, NetworkConfiguration, resolve_launch};
use flotilla_domain::service::scheduler::{self, StopRefusal};
use flotilla_domain::service::{
    AdvancedConfiguration, CanaryConfiguration, ContainerImage, Deployment, DeploymentConfiguration,
    DeploymentStrategy, LinearConfiguration, LoadBalancerDoc, PlacementConstraintDoc, PlacementStrategyDoc, Revision,
    SchedulingStrategy, Service, ServiceDeploymentStatus, ServiceSpec, ServiceStatus, tenths_of_percent,
};
use flotilla_domain::tag::{Tag, validate_tags};
use flotilla_domain::task::LaunchType;
use flotilla_domain::task_definition::{MAX_INTEGER, NetworkMode, TaskDefinition};
use flotilla_domain::{EcsArns, ResourceArn, Timestamp, arn::is_valid_name};
use flotilla_store::Page;
use serde::{Deserialize, Serialize};

const UPDATE_ATTEMPTS: u32 = 8;
/// ECS's quota of tasks per service.
const MAX_DESIRED_COUNT: i64 = 5000;

/// A new deployment id: `ecs-svc/` and 19 digits.
pub(crate) fn new_deployment_id() -> String {
    let n = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default());
    format!("ecs-svc/{:019}", n % 10_000_000_000_000_000_000)
}

/// Random ids for the scheduler's deployments and events.
pub(crate) struct RandomIds;

impl scheduler::Ids for RandomIds {
    fn deployment_id(&mut self) -> String {
        new_deployment_id()
    }
    fn event_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

#[derive(Deserialize, Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CircuitBreakerWire {
    enable: Option<bool>,
    rollback: Option<bool>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeploymentConfigurationWire {
    deployment_circuit_breaker: Option<CircuitBreakerWire>,
    maximum_percent: Option<i64>,
    minimum_healthy_percent: Option<i64>,
    alarms: Option<serde_json::Value>,
    strategy: Option<String>,
    bake_time_in_minutes: Option<i64>,
    lifecycle_hooks: Option<Vec<serde_json::Value>>,
    linear_configuration: Option<LinearWire>,
    canary_configuration: Option<CanaryWire>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinearWire {
    step_percent: Option<f64>,
    step_bake_time_in_minutes: Option<i64>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CanaryWire {
    canary_percent: Option<f64>,
    canary_bake_time_in_minutes: Option<i64>,
}

#[derive(Deserialize, Clone)]
pub(crate) struct DeploymentControllerWire {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Members this control plane does not serve yet: refused by name rather than ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Unsupported {
    service_registries: Option<Vec<serde_json::Value>>,
    service_connect_configuration: Option<serde_json::Value>,
    volume_configurations: Option<Vec<serde_json::Value>>,
    vpc_lattice_configurations: Option<Vec<serde_json::Value>>,
    role: Option<String>,
}

impl Unsupported {
    fn check(&self) -> Result<(), EcsError> {
        let given = [
            ("serviceRegistries", self.service_registries.as_ref().is_some_and(|v| !v.is_empty())),
            ("serviceConnectConfiguration", self.service_connect_configuration.is_some()),
            ("volumeConfigurations", self.volume_configurations.as_ref().is_some_and(|v| !v.is_empty())),
            ("vpcLatticeConfigurations", self.vpc_lattice_configurations.as_ref().is_some_and(|v| !v.is_empty())),
            ("role", self.role.is_some()),
        ];
        match given.iter().find(|(_, g)| *g) {
            Some((name, _)) => {
                Err(EcsError::UnsupportedFeature(format!("{name} is not supported by this control plane yet")))
            }
            None => Ok(()),
        }
    }
}

/// A `loadBalancers` entry as given.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoadBalancerWire {
    target_group_arn: Option<String>,
    load_balancer_name: Option<String>,
    container_name: Option<String>,
    container_port: Option<i64>,
    advanced_configuration: Option<AdvancedConfigurationWire>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdvancedConfigurationWire {
    alternate_target_group_arn: Option<String>,
    production_listener_rule: Option<String>,
    test_listener_rule: Option<String>,
    role_arn: Option<String>,
}

/// Checks a service's `loadBalancers` against the load balancing module and the task
/// definition: at most 5, each an existing target group some load balancer uses, and a
/// container of the definition with that port mapped.
async fn load_balancers(
    svc: &EcsService,
    td: &TaskDefinition,
    given: &[LoadBalancerWire],
) -> Result<Vec<LoadBalancerDoc>, EcsError> {
    if given.len() > 5 {
        return Err(EcsError::invalid("loadBalancers: a service can have at most 5 load balancers"));
    }
    let mut out = Vec::new();
    for lb in given {
        if lb.load_balancer_name.is_some() {
            return Err(EcsError::UnsupportedFeature(
                "Classic Load Balancers (loadBalancerName) are not supported".into(),
            ));
        }
        let arn = lb
            .target_group_arn
            .clone()
            .ok_or_else(|| EcsError::invalid("loadBalancers: targetGroupArn is required"))?;
        let name =
            lb.container_name.clone().ok_or_else(|| EcsError::invalid("loadBalancers: containerName is required"))?;
        let port = lb.container_port.ok_or_else(|| EcsError::invalid("loadBalancers: containerPort is required"))?;
        let Some(balancing) = &svc.load_balancing else {
            return Err(EcsError::UnsupportedFeature("load balancing is not available on this endpoint".into()));
        };
        let info = balancing
            .target_group(&arn)
            .await
            .map_err(EcsError::invalid)?
            .ok_or_else(|| EcsError::invalid(format!("Unable to find the target group {arn}.")))?;
        if !info.in_use {
            return Err(EcsError::invalid(format!(
                "The target group with targetGroupArn {arn} does not have an associated load balancer."
            )));
        }
        if info.instance_targets && td.spec.network_mode == Some(NetworkMode::Awsvpc) {
            return Err(EcsError::invalid(format!(
                "The provided target group {arn} has target type instance, which is incompatible with the awsvpc network mode specified in the task definition."
            )));
        }
        let container =
            td.spec.container_definitions.iter().find(|c| c.name == name).ok_or_else(|| {
                EcsError::invalid(format!("The container {name} does not exist in the task definition."))
            })?;
        if !container.port_mappings.iter().any(|m| m.container_port == Some(port)) {
            return Err(EcsError::invalid(format!(
                "The container {name} did not have a container port {port} defined."
            )));
        }
        let advanced = match &lb.advanced_configuration {
            Some(a) => Some(advanced_configuration(balancing.as_ref(), &arn, a).await?),
            None => None,
        };
        out.push(LoadBalancerDoc {
            target_group_arn: arn,
            container_name: name,
            container_port: port,
            advanced_configuration: advanced,
        });
    }
    Ok(out)
}

/// Checks an `advancedConfiguration`: an alternate target group other than the
/// entry's, which a load balancer uses, and production (and test) listener rules that
/// exist.
async fn advanced_configuration(
    balancing: &dyn crate::LoadBalancing,
    target_group: &str,
    given: &AdvancedConfigurationWire,
) -> Result<AdvancedConfiguration, EcsError> {
    let alternate = given
        .alternate_target_group_arn
        .clone()
        .ok_or_else(|| EcsError::invalid("loadBalancers: advancedConfiguration.alternateTargetGroupArn is required"))?;
    let production = given
        .production_listener_rule
        .clone()
        .ok_or_else(|| EcsError::invalid("loadBalancers: advancedConfiguration.productionListenerRule is required"))?;
    if alternate == target_group {
        return Err(EcsError::invalid(
            "loadBalancers: advancedConfiguration.alternateTargetGroupArn must differ from targetGroupArn",
        ));
    }
    let info = balancing
        .target_group(&alternate)
        .await
        .map_err(EcsError::invalid)?
        .ok_or_else(|| EcsError::invalid(format!("Unable to find the target group {alternate}.")))?;
    if !info.in_use {
        return Err(EcsError::invalid(format!(
            "The target group with targetGroupArn {alternate} does not have an associated load balancer."
        )));
    }
    for rule in std::iter::once(&production).chain(given.test_listener_rule.as_ref()) {
        if !balancing.rule_exists(rule).await.map_err(EcsError::invalid)? {
            return Err(EcsError::invalid(format!("Unable to find the listener rule {rule}.")));
        }
    }
    Ok(AdvancedConfiguration {
        alternate_target_group_arn: alternate,
        production_listener_rule: production,
        test_listener_rule: given.test_listener_rule.clone(),
        role_arn: given.role_arn.clone(),
    })
}

/// A blue/green, linear or canary service shifts traffic between two target groups:
/// each of its load balancers needs an `advancedConfiguration`.
fn check_traffic_shifting(spec: &ServiceSpec) -> Result<(), EcsError> {
    let strategy = spec.deployment_configuration.strategy;
    if strategy.shifts_traffic() && spec.load_balancers.iter().any(|l| l.advanced_configuration.is_none()) {
        return Err(EcsError::invalid(format!(
            "loadBalancers: advancedConfiguration is required with the {} deployment strategy",
            strategy.as_str()
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateServiceInput {
    cluster: Option<String>,
    service_name: Option<String>,
    task_definition: Option<String>,
    availability_zone_rebalancing: Option<String>,
    desired_count: Option<i64>,
    client_token: Option<String>,
    launch_type: Option<String>,
    capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    network_configuration: Option<NetworkConfiguration>,
    platform_version: Option<String>,
    deployment_configuration: Option<DeploymentConfigurationWire>,
    placement_constraints: Option<Vec<ConstraintWire>>,
    placement_strategy: Option<Vec<StrategyWire>>,
    health_check_grace_period_seconds: Option<i64>,
    scheduling_strategy: Option<String>,
    deployment_controller: Option<DeploymentControllerWire>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    propagate_tags: Option<String>,
    enable_execute_command: Option<bool>,
    #[serde(default)]
    load_balancers: Vec<LoadBalancerWire>,
    #[serde(flatten)]
    unsupported: Unsupported,
}

/// The `Deployment` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentShape {
    id: String,
    status: &'static str,
    task_definition: String,
    desired_count: i64,
    pending_count: i64,
    running_count: i64,
    failed_tasks: i64,
    created_at: f64,
    updated_at: f64,
    #[serde(flatten)]
    launch: LaunchShape,
    rollout_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollout_state_reason: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventShape {
    id: String,
    created_at: f64,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionSummaryShape {
    arn: String,
    requested_task_count: i64,
    running_task_count: i64,
    pending_task_count: i64,
}

#[derive(Serialize)]
struct DeploymentControllerShape {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// How a service's (or deployment's) tasks launch, as ECS shows it: a launch type or
/// a capacity provider strategy, the platform version and the network configuration.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LaunchShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    launch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    capacity_provider_strategy: Vec<CapacityProviderStrategyItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_family: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_configuration: Option<NetworkConfiguration>,
}

impl LaunchShape {
    fn of(launch: &Launch) -> Self {
        let fargate = launch.launch_type == LaunchType::Fargate;
        Self {
            launch_type: launch.capacity_provider_strategy.is_empty().then_some(launch.launch_type.as_str()),
            capacity_provider_strategy: launch.capacity_provider_strategy.clone(),
            platform_version: launch.platform_version.clone(),
            platform_family: fargate.then_some("Linux"),
            network_configuration: launch.network_configuration.clone(),
        }
    }
}

/// The `Service` shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceShape {
    service_arn: String,
    service_name: String,
    cluster_arn: String,
    load_balancers: Vec<LoadBalancerDoc>,
    service_registries: Vec<serde_json::Value>,
    status: &'static str,
    desired_count: i64,
    running_count: i64,
    pending_count: i64,
    #[serde(flatten)]
    launch: LaunchShape,
    task_definition: String,
    deployment_configuration: DeploymentConfiguration,
    deployments: Vec<DeploymentShape>,
    events: Vec<EventShape>,
    created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_service_deployment: Option<String>,
    current_service_revisions: Vec<RevisionSummaryShape>,
    placement_constraints: Vec<PlacementConstraintDoc>,
    placement_strategy: Vec<PlacementStrategyDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_check_grace_period_seconds: Option<i64>,
    scheduling_strategy: &'static str,
    deployment_controller: DeploymentControllerShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
    propagate_tags: String,
    enable_execute_command: bool,
    availability_zone_rebalancing: String,
}

impl EcsService {
    fn deployment_shape(&self, s: &Service, d: &Deployment) -> DeploymentShape {
        DeploymentShape {
            id: d.id.clone(),
            status: d.status.as_str(),
            task_definition: self.account.task_definition_arn(&d.revision.family, d.revision.revision),
            desired_count: d.desired_count,
            pending_count: d.pending_count,
            running_count: d.running_count,
            failed_tasks: d.failed_tasks,
            created_at: epoch(d.created_at),
            updated_at: epoch(d.updated_at),
            launch: LaunchShape::of(&s.spec.launch),
            rollout_state: d.rollout_state.as_str(),
            rollout_state_reason: d.rollout_state_reason.clone(),
        }
    }

    pub(crate) async fn service_shape(&self, s: &Service, with_tags: bool) -> Result<ServiceShape, EcsError> {
        let service_arn = self.account.service_arn(&s.cluster, &s.name);
        let tags = if with_tags { Some(self.store.list_tags(&service_arn).await?) } else { None };
        let primary = s.primary().or(s.history.first());
        Ok(ServiceShape {
            service_name: s.name.clone(),
            cluster_arn: self.account.cluster_arn(&s.cluster),
            load_balancers: s.spec.load_balancers.clone(),
            service_registries: Vec::new(),
            status: s.status.as_str(),
            desired_count: s.spec.desired_count,
            running_count: s.deployments.iter().map(|d| d.running_count).sum(),
            pending_count: s.deployments.iter().map(|d| d.pending_count).sum(),
            launch: LaunchShape::of(&s.spec.launch),
            task_definition: primary
                .map(|d| self.account.task_definition_arn(&d.revision.family, d.revision.revision))
                .unwrap_or_default(),
            deployment_configuration: s.spec.deployment_configuration.clone(),
            deployments: s.deployments.iter().map(|d| self.deployment_shape(s, d)).collect(),
            events: s
                .events
                .iter()
                .map(|e| EventShape { id: e.id.clone(), created_at: epoch(e.created_at), message: e.message.clone() })
                .collect(),
            created_at: epoch(s.created_at),
            current_service_deployment: s
                .primary()
                .map(|d| self.account.service_deployment_arn(&s.cluster, &s.name, d.number())),
            current_service_revisions: s
                .deployments
                .iter()
                .map(|d| RevisionSummaryShape {
                    arn: self.account.service_revision_arn(&s.cluster, &s.name, d.number()),
                    requested_task_count: d.desired_count,
                    running_task_count: d.running_count,
                    pending_task_count: d.pending_count,
                })
                .collect(),
            placement_constraints: s.spec.placement_constraints.clone(),
            placement_strategy: s.spec.placement_strategy.clone(),
            health_check_grace_period_seconds: s.spec.health_check_grace_period_seconds,
            scheduling_strategy: s.spec.scheduling_strategy.as_str(),
            deployment_controller: DeploymentControllerShape { kind: "ECS" },
            tags,
            created_by: s.created_by.clone(),
            enable_ecs_managed_tags: s.spec.enable_ecs_managed_tags,
            propagate_tags: s.spec.propagate_tags.clone(),
            enable_execute_command: s.spec.enable_execute_command,
            availability_zone_rebalancing: s.spec.availability_zone_rebalancing.clone(),
            service_arn,
        })
    }

    /// The service name a `service` parameter (name or ARN) gives, in `cluster`.
    fn service_name(&self, cluster: &str, given: &str) -> Result<String, EcsError> {
        if !given.starts_with("arn:") {
            return Ok(given.to_string());
        }
        match self.account.parse_arn(given)? {
            ResourceArn::Service { cluster: c, name } if c == cluster => Ok(name),
            ResourceArn::Service { .. } => {
                Err(EcsError::invalid(format!("service '{given}' is not in cluster '{cluster}'")))
            }
            _ => Err(EcsError::invalid(format!("'{given}' is not a service ARN"))),
        }
    }

    /// A service that exists (in any status).
    pub(crate) async fn find_service(&self, cluster: &str, given: &str) -> Result<Option<Service>, EcsError> {
        let name = self.service_name(cluster, given)?;
        Ok(self.store.get_service(cluster, &name).await?)
    }

    /// What a deployment of `td` runs: its images resolved to digests now, so every
    /// task of the deployment runs the same image even if a tag moves later.
    pub(crate) async fn revision_of(&self, td: &TaskDefinition) -> Revision {
        let mut images = Vec::new();
        for c in &td.spec.container_definitions {
            let image_digest = match &self.images {
                Some(resolver) => resolver.digest(&c.image).await,
                None => None,
            };
            images.push(ContainerImage { container_name: c.name.clone(), image: c.image.clone(), image_digest });
        }
        Revision { family: td.family.clone(), revision: td.revision, images }
    }
}

/// For Application Auto Scaling: a service's desired count, read and set as
/// UpdateService's `desiredCount` is.
impl EcsService {
    /// The desired count of service `service` (a name) of `cluster`; `None` when the
    /// cluster or the service does not exist or the service is not ACTIVE.
    pub async fn desired_count(&self, cluster: &str, service: &str) -> Result<Option<i64>, EcsError> {
        let found = self.store.get_service(cluster, service).await?;
        Ok(found.filter(|s| s.status == ServiceStatus::Active).map(|s| s.spec.desired_count))
    }

    /// Sets the desired count of service `service` of `cluster` through UpdateService's
    /// own code (its checks, the deployment's count, the scheduler woken); the count
    /// read just before.
    pub async fn set_desired_count(&self, cluster: &str, service: &str, count: i64) -> Result<i64, EcsError> {
        let previous = self
            .desired_count(cluster, service)
            .await?
            .ok_or_else(|| EcsError::ServiceNotFound("Service not found.".into()))?;
        let input: UpdateServiceInput =
            serde_json::from_value(serde_json::json!({"cluster": cluster, "service": service, "desiredCount": count}))
                .map_err(|e| EcsError::invalid(format!("setting the desired count: {e}")))?;
        update_service(self, input).await?;
        Ok(previous)
    }
}

fn check_name(name: &str) -> Result<(), EcsError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(EcsError::invalid(format!(
            "serviceName '{name}' must be 1 to 255 letters (uppercase and lowercase), numbers, hyphens and underscores"
        )))
    }
}

/// How the service's tasks are launched, checked as ECS does.
fn service_launch(
    request: &LaunchRequest<'_>,
    cluster: &ClusterSpec,
    td: &TaskDefinition,
    strategy: SchedulingStrategy,
) -> Result<Launch, EcsError> {
    let launch = resolve_launch(request, cluster, td)?;
    if launch.launch_type == LaunchType::Fargate && strategy == SchedulingStrategy::Daemon {
        return Err(EcsError::invalid("The DAEMON scheduling strategy does not support the FARGATE launch type."));
    }
    Ok(launch)
}

fn check_deployment_controller(controller: Option<&DeploymentControllerWire>) -> Result<(), EcsError> {
    match controller.and_then(|c| c.kind.as_deref()) {
        None | Some("ECS") => Ok(()),
        Some(kind @ ("CODE_DEPLOY" | "EXTERNAL")) => Err(EcsError::UnsupportedFeature(format!(
            "deploymentController type '{kind}' is not supported yet; use ECS"
        ))),
        Some(other) => Err(EcsError::invalid(format!(
            "deploymentController type '{other}' is not one of ECS, CODE_DEPLOY, EXTERNAL"
        ))),
    }
}

fn check_grace_period(seconds: Option<i64>) -> Result<(), EcsError> {
    if seconds.is_some_and(|s| !(0..=MAX_INTEGER).contains(&s)) {
        return Err(EcsError::invalid(format!("healthCheckGracePeriodSeconds must be between 0 and {MAX_INTEGER}")));
    }
    Ok(())
}

fn check_enum(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), EcsError> {
    match value {
        Some(v) if !allowed.contains(&v) => {
            Err(EcsError::invalid(format!("{field} '{v}' is not one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

/// Applies a `deploymentConfiguration` to `current` and checks the result.
fn deployment_configuration(
    current: &DeploymentConfiguration,
    wire: Option<&DeploymentConfigurationWire>,
    strategy: SchedulingStrategy,
) -> Result<DeploymentConfiguration, EcsError> {
    let mut config = current.clone();
    let Some(wire) = wire else { return Ok(config) };
    if wire.alarms.as_ref().is_some_and(|a| a.get("enable").and_then(|e| e.as_bool()) == Some(true)) {
        return Err(EcsError::invalid("deploymentConfiguration.alarms is not supported yet"));
    }
    if wire.lifecycle_hooks.as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(EcsError::UnsupportedFeature(
            "deploymentConfiguration.lifecycleHooks is not supported by this control plane yet".into(),
        ));
    }
    if let Some(given) = wire.strategy.as_deref() {
        config.strategy = DeploymentStrategy::parse(given).ok_or_else(|| {
            EcsError::invalid(format!(
                "deploymentConfiguration.strategy '{given}' is not one of ROLLING, BLUE_GREEN, LINEAR, CANARY"
            ))
        })?;
    }
    traffic_shifting(&mut config, wire, strategy)?;
    if let Some(b) = wire.deployment_circuit_breaker {
        let (Some(enable), Some(rollback)) = (b.enable, b.rollback) else {
            return Err(EcsError::invalid("deploymentCircuitBreaker needs both enable and rollback"));
        };
        config.deployment_circuit_breaker = Some(flotilla_domain::service::CircuitBreaker { enable, rollback });
    }
    if let Some(max) = wire.maximum_percent {
        config.maximum_percent = max;
    }
    if let Some(min) = wire.minimum_healthy_percent {
        config.minimum_healthy_percent = min;
    }
    if !(0..=100).contains(&config.minimum_healthy_percent) {
        return Err(EcsError::invalid("deploymentConfiguration.minimumHealthyPercent must be between 0 and 100"));
    }
    match strategy {
        SchedulingStrategy::Replica if !(100..=2000).contains(&config.maximum_percent) => {
            Err(EcsError::invalid("deploymentConfiguration.maximumPercent must be between 100 and 2000"))
        }
        SchedulingStrategy::Daemon if config.maximum_percent != 100 => Err(EcsError::invalid(
            "deploymentConfiguration.maximumPercent must be 100 for a service with the DAEMON scheduling strategy",
        )),
        _ => Ok(config),
    }
}

/// The blue/green, linear and canary settings: bake times from 0 to 1440 minutes,
/// `linearConfiguration` only with LINEAR (steps of 3 to 100 percent, default 10
/// every 6 minutes), `canaryConfiguration` only with CANARY (0.1 to 100 percent,
/// default 5 for 10 minutes), `bakeTimeInMinutes` required with BLUE_GREEN; none of
/// them with the DAEMON scheduling strategy.
fn traffic_shifting(
    config: &mut DeploymentConfiguration,
    wire: &DeploymentConfigurationWire,
    scheduling: SchedulingStrategy,
) -> Result<(), EcsError> {
    let minutes = |field: &str, v: Option<i64>| match v {
        Some(m) if !(0..=1440).contains(&m) => {
            Err(EcsError::invalid(format!("deploymentConfiguration.{field} must be between 0 and 1440")))
        }
        _ => Ok(v),
    };
    let percent = |field: &str, v: f64, low: f64| match tenths_of_percent::from_percent(v) {
        Some(t) if v >= low => Ok(t),
        _ => Err(EcsError::invalid(format!(
            "deploymentConfiguration.{field} must be a multiple of 0.1 from {low} to 100.0"
        ))),
    };
    if let Some(bake) = minutes("bakeTimeInMinutes", wire.bake_time_in_minutes)? {
        config.bake_time_in_minutes = Some(bake);
    }
    let strategy = config.strategy;
    if let Some(l) = &wire.linear_configuration {
        if strategy != DeploymentStrategy::Linear {
            return Err(EcsError::invalid("linearConfiguration is only valid with the LINEAR deployment strategy"));
        }
        config.linear_configuration = Some(LinearConfiguration {
            step_per_mille: percent("linearConfiguration.stepPercent", l.step_percent.unwrap_or(10.0), 3.0)?,
            step_bake_time_in_minutes: minutes(
                "linearConfiguration.stepBakeTimeInMinutes",
                l.step_bake_time_in_minutes,
            )?
            .unwrap_or(6),
        });
    }
    if let Some(c) = &wire.canary_configuration {
        if strategy != DeploymentStrategy::Canary {
            return Err(EcsError::invalid("canaryConfiguration is only valid with the CANARY deployment strategy"));
        }
        config.canary_configuration = Some(CanaryConfiguration {
            canary_per_mille: percent("canaryConfiguration.canaryPercent", c.canary_percent.unwrap_or(5.0), 0.1)?,
            canary_bake_time_in_minutes: minutes(
                "canaryConfiguration.canaryBakeTimeInMinutes",
                c.canary_bake_time_in_minutes,
            )?
            .unwrap_or(10),
        });
    }
    match strategy {
        DeploymentStrategy::Rolling => {}
        _ if scheduling == SchedulingStrategy::Daemon => {
            return Err(EcsError::invalid(format!(
                "The {} deployment strategy is not supported with the DAEMON scheduling strategy",
                strategy.as_str()
            )));
        }
        DeploymentStrategy::BlueGreen if config.bake_time_in_minutes.is_none() => {
            return Err(EcsError::invalid("bakeTimeInMinutes is required with the BLUE_GREEN deployment strategy"));
        }
        DeploymentStrategy::Linear => {
            config
                .linear_configuration
                .get_or_insert(LinearConfiguration { step_per_mille: 100, step_bake_time_in_minutes: 6 });
        }
        DeploymentStrategy::Canary => {
            config
                .canary_configuration
                .get_or_insert(CanaryConfiguration { canary_per_mille: 50, canary_bake_time_in_minutes: 10 });
        }
        DeploymentStrategy::BlueGreen => {}
    }
    if strategy != DeploymentStrategy::Linear {
        config.linear_configuration = None;
    }
    if strategy != DeploymentStrategy::Canary {
        config.canary_configuration = None;
    }
    Ok(())
}

/// Checks placement rules against the task definition (at most 10 constraints, 5
/// strategies; strategies not with DAEMON) and returns them as stored.
fn placement_rules(
    td: &TaskDefinition,
    constraints: &[ConstraintWire],
    strategies: &[StrategyWire],
    strategy: SchedulingStrategy,
) -> Result<(Vec<PlacementConstraintDoc>, Vec<PlacementStrategyDoc>), EcsError> {
    placement::parse_constraints(td, constraints)?;
    placement::parse_strategies(strategies)?;
    if strategy == SchedulingStrategy::Daemon && !strategies.is_empty() {
        return Err(EcsError::invalid("placementStrategy is not supported with the DAEMON scheduling strategy"));
    }
    Ok((constraints.iter().map(ConstraintWire::doc).collect(), strategies.iter().map(StrategyWire::doc).collect()))
}

#[derive(Serialize)]
pub(crate) struct ServiceOutput {
    service: ServiceShape,
}

pub(crate) async fn create_service(svc: &EcsService, input: CreateServiceInput) -> Result<ServiceOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let name = required(input.service_name, "serviceName")?;
    check_name(&name)?;
    input.unsupported.check()?;
    check_deployment_controller(input.deployment_controller.as_ref())?;
    check_grace_period(input.health_check_grace_period_seconds)?;
    check_enum("propagateTags", input.propagate_tags.as_deref(), &["TASK_DEFINITION", "SERVICE", "NONE"])?;
    check_enum(
        "availabilityZoneRebalancing",
        input.availability_zone_rebalancing.as_deref(),
        &["ENABLED", "DISABLED"],
    )?;
    if input.client_token.as_ref().is_some_and(|t| t.is_empty() || t.len() > 36) {
        return Err(EcsError::invalid("clientToken must be 1 to 36 characters"));
    }
    validate_tags(&input.tags)?;
    let strategy = match input.scheduling_strategy.as_deref() {
        None => SchedulingStrategy::Replica,
        Some(s) => SchedulingStrategy::parse(s)
            .ok_or_else(|| EcsError::invalid(format!("schedulingStrategy '{s}' is not one of REPLICA, DAEMON")))?,
    };
    let desired_count = match (strategy, input.desired_count) {
        (SchedulingStrategy::Replica, None) => {
            return Err(EcsError::invalid(
                "desiredCount is required for a service with the REPLICA scheduling strategy",
            ));
        }
        (SchedulingStrategy::Replica, Some(n)) if !(0..=MAX_DESIRED_COUNT).contains(&n) => {
            return Err(EcsError::invalid(format!("desiredCount {n} must be between 0 and {MAX_DESIRED_COUNT}")));
        }
        (SchedulingStrategy::Replica, Some(n)) => n,
        (SchedulingStrategy::Daemon, Some(n)) if n != 0 => {
            return Err(EcsError::invalid(
                "desiredCount cannot be set for a service with the DAEMON scheduling strategy",
            ));
        }
        (SchedulingStrategy::Daemon, _) => 0,
    };
    let config = deployment_configuration(
        &DeploymentConfiguration::default_for(strategy),
        input.deployment_configuration.as_ref(),
        strategy,
    )?;
    let td = crate::tasks::checked_definition(svc, input.task_definition).await?;
    let (placement_constraints, placement_strategy) = placement_rules(
        &td,
        input.placement_constraints.as_deref().unwrap_or_default(),
        input.placement_strategy.as_deref().unwrap_or_default(),
        strategy,
    )?;
    let request = LaunchRequest {
        launch_type: input.launch_type.as_deref(),
        capacity_provider_strategy: input.capacity_provider_strategy.as_deref().unwrap_or_default(),
        network_configuration: input.network_configuration.as_ref(),
        platform_version: input.platform_version.as_deref(),
        has_placement: !placement_constraints.is_empty() || !placement_strategy.is_empty(),
    };
    let launch = service_launch(&request, &cluster.spec, &td, strategy)?;
    let spec = ServiceSpec {
        desired_count,
        scheduling_strategy: strategy,
        deployment_configuration: config,
        placement_constraints,
        placement_strategy,
        health_check_grace_period_seconds: input.health_check_grace_period_seconds,
        availability_zone_rebalancing: input.availability_zone_rebalancing.unwrap_or_else(|| "ENABLED".into()),
        enable_ecs_managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        propagate_tags: input.propagate_tags.unwrap_or_else(|| "NONE".into()),
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        load_balancers: load_balancers(svc, &td, &input.load_balancers).await?,
        launch,
    };
    check_traffic_shifting(&spec)?;
    let now = Timestamp::now();
    let revision = svc.revision_of(&td).await;
    let mut service = Service::new(cluster.name.clone(), name.clone(), spec, revision, new_deployment_id(), now);
    if strategy == SchedulingStrategy::Daemon {
        // Known at once, so a `services-stable` wait right after creation waits for the tasks.
        let count = svc.daemon_count(&service).await?;
        service.spec.desired_count = count;
        service.deployments[0].desired_count = count;
    }
    let Some(stored) = svc.store.create_service(&service, &input.tags).await? else {
        return Err(EcsError::invalid("Creation of service was not idempotent."));
    };
    svc.services_changed.notify_one();
    svc.service_changed(&stored, in_progress(&stored)).await;
    Ok(ServiceOutput { service: svc.service_shape(&stored, true).await? })
}

/// The `SERVICE_DEPLOYMENT_IN_PROGRESS` event of a service's new primary deployment.
fn in_progress(service: &Service) -> Vec<crate::events::ServiceEvent> {
    service
        .primary()
        .map(|d| crate::events::ServiceEvent {
            detail_type: "ECS Deployment State Change",
            name: "SERVICE_DEPLOYMENT_IN_PROGRESS".into(),
            kind: "INFO",
            deployment_id: Some(d.id.clone()),
            reason: Some(format!("ECS deployment {} in progress.", d.id)),
        })
        .into_iter()
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateServiceInput {
    cluster: Option<String>,
    service: Option<String>,
    desired_count: Option<i64>,
    task_definition: Option<String>,
    deployment_configuration: Option<DeploymentConfigurationWire>,
    availability_zone_rebalancing: Option<String>,
    placement_constraints: Option<Vec<ConstraintWire>>,
    placement_strategy: Option<Vec<StrategyWire>>,
    force_new_deployment: Option<bool>,
    health_check_grace_period_seconds: Option<i64>,
    deployment_controller: Option<DeploymentControllerWire>,
    enable_execute_command: Option<bool>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    propagate_tags: Option<String>,
    load_balancers: Option<Vec<LoadBalancerWire>>,
    capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    network_configuration: Option<NetworkConfiguration>,
    platform_version: Option<String>,
    #[serde(flatten)]
    unsupported: Unsupported,
}

pub(crate) async fn update_service(svc: &EcsService, input: UpdateServiceInput) -> Result<ServiceOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.service.clone(), "service")?;
    input.unsupported.check()?;
    check_deployment_controller(input.deployment_controller.as_ref())?;
    check_grace_period(input.health_check_grace_period_seconds)?;
    check_enum("propagateTags", input.propagate_tags.as_deref(), &["TASK_DEFINITION", "SERVICE", "NONE"])?;
    check_enum(
        "availabilityZoneRebalancing",
        input.availability_zone_rebalancing.as_deref(),
        &["ENABLED", "DISABLED"],
    )?;
    if let Some(n) = input.desired_count
        && !(0..=MAX_DESIRED_COUNT).contains(&n)
    {
        return Err(EcsError::invalid(format!("desiredCount {n} must be between 0 and {MAX_DESIRED_COUNT}")));
    }
    let new_td = match &input.task_definition {
        Some(given) => Some(crate::tasks::checked_definition(svc, Some(given.clone())).await?),
        None => None,
    };
    let (input, new_td, cluster, given) = (&input, &new_td, &cluster, &given);
    let stored = retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
        let mut service = svc
            .find_service(&cluster.name, given)
            .await?
            .ok_or_else(|| EcsError::ServiceNotFound("Service not found.".into()))?;
        if service.status != ServiceStatus::Active {
            return Err(EcsError::ServiceNotActive("Service was not ACTIVE.".into()));
        }
        let strategy = service.spec.scheduling_strategy;
        if let Some(n) = input.desired_count {
            if strategy == SchedulingStrategy::Daemon {
                return Err(EcsError::invalid(
                    "desiredCount cannot be set for a service with the DAEMON scheduling strategy",
                ));
            }
            service.spec.desired_count = n;
        }
        service.spec.deployment_configuration = deployment_configuration(
            &service.spec.deployment_configuration,
            input.deployment_configuration.as_ref(),
            strategy,
        )?;
        let current_td = match (new_td, service.primary()) {
            (Some(td), _) => td.clone(),
            (None, Some(d)) => svc
                .store
                .get_task_definition(&d.revision.family, d.revision.revision)
                .await?
                .ok_or_else(|| EcsError::invalid("the service's task definition no longer exists"))?,
            (None, None) => return Err(EcsError::ServiceNotActive("Service was not ACTIVE.".into())),
        };
        let mut redeploy = new_td.is_some() || input.force_new_deployment == Some(true);
        if input.placement_constraints.is_some() || input.placement_strategy.is_some() {
            let constraints: Vec<ConstraintWire> = match &input.placement_constraints {
                Some(c) => c.clone(),
                None => service.spec.placement_constraints.iter().map(ConstraintWire::from_doc).collect(),
            };
            let strategies: Vec<StrategyWire> = match &input.placement_strategy {
                Some(s) => s.clone(),
                None => service.spec.placement_strategy.iter().map(StrategyWire::from_doc).collect(),
            };
            let (c, s) = placement_rules(&current_td, &constraints, &strategies, strategy)?;
            redeploy |= c != service.spec.placement_constraints || s != service.spec.placement_strategy;
            service.spec.placement_constraints = c;
            service.spec.placement_strategy = s;
        }
        // The launch is checked again against the (new) definition; a change redeploys.
        let current = &service.spec.launch;
        let strategy_given = input.capacity_provider_strategy.as_ref().filter(|s| !s.is_empty());
        let request = LaunchRequest {
            launch_type: match (strategy_given, current.capacity_provider_strategy.is_empty()) {
                (None, true) => Some(current.launch_type.as_str()),
                _ => None,
            },
            capacity_provider_strategy: strategy_given.unwrap_or(&current.capacity_provider_strategy),
            network_configuration: input.network_configuration.as_ref().or(current.network_configuration.as_ref()),
            platform_version: input.platform_version.as_deref().or(current.platform_version.as_deref()),
            has_placement: !service.spec.placement_constraints.is_empty()
                || !service.spec.placement_strategy.is_empty(),
        };
        let launch = service_launch(&request, &cluster.spec, &current_td, strategy)?;
        redeploy |= launch != service.spec.launch;
        service.spec.launch = launch;
        if let Some(given) = &input.load_balancers {
            let lbs = load_balancers(svc, &current_td, given).await?;
            redeploy |= lbs != service.spec.load_balancers;
            service.spec.load_balancers = lbs;
        }
        if let Some(g) = input.health_check_grace_period_seconds {
            service.spec.health_check_grace_period_seconds = Some(g);
        }
        if let Some(z) = &input.availability_zone_rebalancing {
            service.spec.availability_zone_rebalancing = z.clone();
        }
        if let Some(e) = input.enable_execute_command {
            service.spec.enable_execute_command = e;
        }
        if let Some(e) = input.enable_ecs_managed_tags {
            service.spec.enable_ecs_managed_tags = e;
        }
        if let Some(p) = &input.propagate_tags {
            service.spec.propagate_tags = p.clone();
        }
        check_traffic_shifting(&service.spec)?;
        let now = Timestamp::now();
        if redeploy {
            let revision = svc.revision_of(&current_td).await;
            service.start_deployment(revision, new_deployment_id(), now);
        } else if let Some(d) = service.deployments.first_mut() {
            d.desired_count = service.spec.desired_count;
            service.steady = false;
        }
        Ok((svc.store.update_service(&service).await?, redeploy))
    })
    .await?;
    let (stored, redeployed) = stored;
    svc.services_changed.notify_one();
    if redeployed {
        svc.service_changed(&stored, in_progress(&stored)).await;
    }
    Ok(ServiceOutput { service: svc.service_shape(&stored, false).await? })
}

#[derive(Deserialize)]
pub(crate) struct DeleteServiceInput {
    cluster: Option<String>,
    service: Option<String>,
    force: Option<bool>,
}

pub(crate) async fn delete_service(svc: &EcsService, input: DeleteServiceInput) -> Result<ServiceOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.service, "service")?;
    let force = input.force.unwrap_or(false);
    let given = &given;
    let cluster = &cluster;
    let stored = retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
        let mut service = svc
            .find_service(&cluster.name, given)
            .await?
            .ok_or_else(|| EcsError::ServiceNotFound("Service not found.".into()))?;
        match service.status {
            ServiceStatus::Active => {}
            ServiceStatus::Draining => return Ok(service),
            ServiceStatus::Inactive => return Err(EcsError::ServiceNotFound("Service not found.".into())),
        }
        if service.spec.scheduling_strategy == SchedulingStrategy::Replica && service.spec.desired_count > 0 && !force {
            return Err(EcsError::invalid("The service cannot be stopped while it is scaled above 0."));
        }
        service.status = ServiceStatus::Draining;
        service.spec.desired_count = 0;
        service.steady = false;
        Ok(svc.store.update_service(&service).await?)
    })
    .await?;
    svc.services_changed.notify_one();
    Ok(ServiceOutput { service: svc.service_shape(&stored, false).await? })
}

#[derive(Deserialize)]
pub(crate) struct DescribeServicesInput {
    cluster: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct DescribeServicesOutput {
    services: Vec<ServiceShape>,
    failures: Vec<Failure>,
}

pub(crate) async fn describe_services(
    svc: &EcsService,
    input: DescribeServicesInput,
) -> Result<DescribeServicesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.services, "services")?;
    if given.is_empty() || given.len() > 10 {
        return Err(EcsError::invalid("services: give 1 to 10 services"));
    }
    for i in &input.include {
        check_enum("include", Some(i), &["TAGS"])?;
    }
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let mut out = DescribeServicesOutput { services: Vec::new(), failures: Vec::new() };
    for g in given {
        match svc.find_service(&cluster.name, &g).await? {
            Some(s) => out.services.push(svc.service_shape(&s, with_tags).await?),
            None => {
                let arn = if g.starts_with("arn:") { g } else { svc.account.service_arn(&cluster.name, &g) };
                out.failures.push(Failure { arn, reason: "MISSING".into(), detail: None });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListServicesInput {
    cluster: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
    resource_management_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListServicesOutput {
    service_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_services(svc: &EcsService, input: ListServicesInput) -> Result<ListServicesOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let limit = max_results(input.max_results, 100)? as usize;
    check_enum("launchType", input.launch_type.as_deref(), &["EC2", "FARGATE", "EXTERNAL"])?;
    check_enum("schedulingStrategy", input.scheduling_strategy.as_deref(), &["REPLICA", "DAEMON"])?;
    check_enum("resourceManagementType", input.resource_management_type.as_deref(), &["CUSTOMER", "ECS"])?;
    let wanted = |s: &Service| {
        input.launch_type.as_deref().is_none_or(|l| l == s.spec.launch.launch_type.as_str())
            && input.scheduling_strategy.as_deref().is_none_or(|st| st == s.spec.scheduling_strategy.as_str())
            && input.resource_management_type.as_deref().is_none_or(|r| r == "CUSTOMER")
    };
    let mut after = input.next_token.as_deref().map(decode_token).transpose()?;
    let mut names = Vec::new();
    // Filters apply after the store's page: read on until a page is full or the list ends.
    loop {
        let batch = svc.store.list_services(&cluster.name, false, Page { after: after.clone(), limit: 100 }).await?;
        let last = batch.last().map(|s| s.name.clone());
        names.extend(batch.iter().filter(|s| wanted(s)).map(|s| s.name.clone()));
        if names.len() > limit || batch.len() < 100 {
            break;
        }
        after = last;
    }
    let (names, next_token) = finish_page(names, limit, String::clone);
    Ok(ListServicesOutput {
        service_arns: names.iter().map(|n| svc.account.service_arn(&cluster.name, n)).collect(),
        next_token,
    })
}

#[derive(Deserialize)]
pub(crate) struct CreatedAtWire {
    before: Option<f64>,
    after: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListServiceDeploymentsInput {
    service: Option<String>,
    cluster: Option<String>,
    status: Option<Vec<String>>,
    created_at: Option<CreatedAtWire>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDeploymentBrief {
    service_deployment_arn: String,
    service_arn: String,
    cluster_arn: String,
    started_at: f64,
    created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<f64>,
    target_service_revision_arn: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListServiceDeploymentsOutput {
    service_deployments: Vec<ServiceDeploymentBrief>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list_service_deployments(
    svc: &EcsService,
    input: ListServiceDeploymentsInput,
) -> Result<ListServiceDeploymentsOutput, EcsError> {
    let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
    let given = required(input.service, "service")?;
    let limit = max_results(input.max_results, 100)? as usize;
    let mut statuses = Vec::new();
    for s in input.status.unwrap_or_default() {
        let parsed = ServiceDeploymentStatus::parse(&s)
            .ok_or_else(|| EcsError::invalid(format!("status '{s}' is not a service deployment status")))?;
        statuses.push(parsed);
    }
    let service = svc
        .find_service(&cluster.name, &given)
        .await?
        .ok_or_else(|| EcsError::ServiceNotFound("Service not found.".into()))?;
    let (before, after) = match &input.created_at {
        Some(c) => (c.before.map(Timestamp::from_epoch_seconds), c.after.map(Timestamp::from_epoch_seconds)),
        None => (None, None),
    };
    let start = match input.next_token.as_deref().map(decode_token).transpose()? {
        Some(id) => service.all_deployments().position(|d| d.id == id).map_or(usize::MAX, |i| i + 1),
        None => 0,
    };
    let matching: Vec<&Deployment> = service
        .all_deployments()
        .skip(start)
        .filter(|d| statuses.is_empty() || statuses.contains(&d.outcome))
        .filter(|d| before.is_none_or(|b| d.created_at < b) && after.is_none_or(|a| d.created_at > a))
        .collect();
    let (page, next_token) = finish_page(matching, limit, |d| d.id.clone());
    Ok(ListServiceDeploymentsOutput {
        service_deployments: page
            .into_iter()
            .map(|d| ServiceDeploymentBrief {
                service_deployment_arn: svc.account.service_deployment_arn(&service.cluster, &service.name, d.number()),
                service_arn: svc.account.service_arn(&service.cluster, &service.name),
                cluster_arn: svc.account.cluster_arn(&service.cluster),
                started_at: epoch(d.created_at),
                created_at: epoch(d.created_at),
                finished_at: d.finished_at.map(epoch),
                target_service_revision_arn: svc.account.service_revision_arn(
                    &service.cluster,
                    &service.name,
                    d.number(),
                ),
                status: d.outcome.as_str(),
                status_reason: d.rollout_state_reason.clone(),
            })
            .collect(),
        next_token,
    })
}

/// (cluster, service, deployment number) from a service deployment or revision ARN.
fn deployment_ref(svc: &EcsService, arn: &str) -> Option<(String, String, String)> {
    match svc.account.parse_arn(arn).ok()? {
        ResourceArn::ServiceDeployment { cluster, service, id }
        | ResourceArn::ServiceRevision { cluster, service, id } => Some((cluster, service, id)),
        _ => None,
    }
}

/// The service and deployment an ARN names, if both exist.
async fn find_deployment(svc: &EcsService, arn: &str) -> Result<Option<(Service, Deployment)>, EcsError> {
    let Some((cluster, name, number)) = deployment_ref(svc, arn) else { return Ok(None) };
    let Some(service) = svc.store.get_service(&cluster, &name).await? else { return Ok(None) };
    let found = service.all_deployments().find(|d| d.number() == number).cloned();
    Ok(found.map(|d| (service, d)))
}

/// The deployments 1 to 20 ARNs of one kind (`:service-deployment/` or
/// `:service-revision/`) name, and a MISSING failure for each that names none.
async fn find_deployments(
    svc: &EcsService,
    arns: Option<Vec<String>>,
    field: &str,
    kind: &str,
) -> Result<(Vec<(Service, Deployment)>, Vec<Failure>), EcsError> {
    let arns = required(arns, field)?;
    if arns.is_empty() || arns.len() > 20 {
        return Err(EcsError::invalid(format!("{field}: give 1 to 20 ARNs")));
    }
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for arn in arns {
        match find_deployment(svc, &arn).await?.filter(|_| arn.contains(kind)) {
            Some(pair) => found.push(pair),
            None => failures.push(Failure { arn, reason: "MISSING".into(), detail: None }),
        }
    }
    Ok((found, failures))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeServiceDeploymentsInput {
    service_deployment_arns: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceRevisionSummary {
    arn: String,
    requested_task_count: i64,
    running_task_count: i64,
    pending_task_count: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RollbackShape {
    reason: String,
    started_at: f64,
    service_revision_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CircuitBreakerStatusShape {
    status: &'static str,
    failure_count: i64,
    threshold: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDeploymentShape {
    service_deployment_arn: String,
    service_arn: String,
    cluster_arn: String,
    created_at: f64,
    started_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<f64>,
    updated_at: f64,
    source_service_revisions: Vec<ServiceRevisionSummary>,
    target_service_revision: ServiceRevisionSummary,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
    deployment_configuration: DeploymentConfiguration,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle_stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback: Option<RollbackShape>,
    deployment_circuit_breaker: CircuitBreakerStatusShape,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeServiceDeploymentsOutput {
    service_deployments: Vec<ServiceDeploymentShape>,
    failures: Vec<Failure>,
}

fn revision_summary(svc: &EcsService, s: &Service, d: &Deployment) -> ServiceRevisionSummary {
    ServiceRevisionSummary {
        arn: svc.account.service_revision_arn(&s.cluster, &s.name, d.number()),
        requested_task_count: d.desired_count,
        running_task_count: d.running_count,
        pending_task_count: d.pending_count,
    }
}

pub(crate) async fn describe_service_deployments(
    svc: &EcsService,
    input: DescribeServiceDeploymentsInput,
) -> Result<DescribeServiceDeploymentsOutput, EcsError> {
    let (found, failures) =
        find_deployments(svc, input.service_deployment_arns, "serviceDeploymentArns", ":service-deployment/").await?;
    let mut out = DescribeServiceDeploymentsOutput { service_deployments: Vec::new(), failures };
    for (s, d) in found {
        let breaker = d.configuration.breaker();
        out.service_deployments.push(ServiceDeploymentShape {
            service_deployment_arn: svc.account.service_deployment_arn(&s.cluster, &s.name, d.number()),
            service_arn: svc.account.service_arn(&s.cluster, &s.name),
            cluster_arn: svc.account.cluster_arn(&s.cluster),
            created_at: epoch(d.created_at),
            started_at: epoch(d.created_at),
            finished_at: d.finished_at.map(epoch),
            updated_at: epoch(d.updated_at),
            source_service_revisions: d
                .sources
                .iter()
                .filter_map(|id| s.find_deployment(id))
                .map(|src| revision_summary(svc, &s, src))
                .collect(),
            target_service_revision: revision_summary(svc, &s, &d),
            status: d.outcome.as_str(),
            status_reason: d.rollout_state_reason.clone(),
            deployment_configuration: d.configuration.clone(),
            lifecycle_stage: d.lifecycle_stage.map(|l| l.as_str()),
            rollback: d.rollback.as_ref().and_then(|r| {
                let to = s.find_deployment(&r.to_deployment)?;
                Some(RollbackShape {
                    reason: r.reason.clone(),
                    started_at: epoch(r.started_at),
                    service_revision_arn: svc.account.service_revision_arn(&s.cluster, &s.name, to.number()),
                })
            }),
            deployment_circuit_breaker: CircuitBreakerStatusShape {
                status: match (breaker, d.rollout_state) {
                    (None, _) => "DISABLED",
                    (Some(_), flotilla_domain::service::RolloutState::Failed) => "TRIGGERED",
                    (Some(_), flotilla_domain::service::RolloutState::InProgress) => "MONITORING",
                    (Some(_), flotilla_domain::service::RolloutState::Completed) => "MONITORING_COMPLETE",
                },
                failure_count: d.failed_tasks,
                threshold: scheduler::failure_threshold(d.desired_count.max(s.spec.desired_count)),
            },
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeServiceRevisionsInput {
    service_revision_arns: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceRevisionShape {
    service_revision_arn: String,
    service_arn: String,
    cluster_arn: String,
    task_definition: String,
    launch_type: &'static str,
    load_balancers: Vec<LoadBalancerDoc>,
    service_registries: Vec<serde_json::Value>,
    container_images: Vec<ContainerImage>,
    guard_duty_enabled: bool,
    created_at: f64,
    resolved_configuration: ResolvedConfigurationShape,
}

/// Which target groups a service revision's tasks are in (`resolvedConfiguration`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResolvedConfigurationShape {
    load_balancers: Vec<ResolvedLoadBalancerShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResolvedLoadBalancerShape {
    target_group_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    production_listener_rule: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeServiceRevisionsOutput {
    service_revisions: Vec<ServiceRevisionShape>,
    failures: Vec<Failure>,
}

pub(crate) async fn describe_service_revisions(
    svc: &EcsService,
    input: DescribeServiceRevisionsInput,
) -> Result<DescribeServiceRevisionsOutput, EcsError> {
    let (found, failures) =
        find_deployments(svc, input.service_revision_arns, "serviceRevisionArns", ":service-revision/").await?;
    let mut out = DescribeServiceRevisionsOutput { service_revisions: Vec::new(), failures };
    for (s, d) in found {
        out.service_revisions.push(ServiceRevisionShape {
            service_revision_arn: svc.account.service_revision_arn(&s.cluster, &s.name, d.number()),
            service_arn: svc.account.service_arn(&s.cluster, &s.name),
            cluster_arn: svc.account.cluster_arn(&s.cluster),
            task_definition: svc.account.task_definition_arn(&d.revision.family, d.revision.revision),
            launch_type: "EC2",
            load_balancers: s.spec.load_balancers.clone(),
            service_registries: Vec::new(),
            container_images: d.revision.images.clone(),
            guard_duty_enabled: false,
            created_at: epoch(d.created_at),
            resolved_configuration: ResolvedConfigurationShape {
                load_balancers: s
                    .spec
                    .load_balancers
                    .iter()
                    .enumerate()
                    .map(|(i, lb)| ResolvedLoadBalancerShape {
                        target_group_arn: d.target_group(i, lb).to_string(),
                        production_listener_rule: lb
                            .advanced_configuration
                            .as_ref()
                            .map(|a| a.production_listener_rule.clone()),
                    })
                    .collect(),
            },
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopServiceDeploymentInput {
    service_deployment_arn: Option<String>,
    stop_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopServiceDeploymentOutput {
    service_deployment_arn: String,
}

pub(crate) async fn stop_service_deployment(
    svc: &EcsService,
    input: StopServiceDeploymentInput,
) -> Result<StopServiceDeploymentOutput, EcsError> {
    let arn = required(input.service_deployment_arn, "serviceDeploymentArn")?;
    check_enum("stopType", input.stop_type.as_deref(), &["ABORT", "ROLLBACK"])?;
    let rollback = input.stop_type.as_deref() != Some("ABORT");
    let Some((cluster, name, number)) = deployment_ref(svc, &arn).filter(|_| arn.contains(":service-deployment/"))
    else {
        return Err(EcsError::invalid(format!("'{arn}' is not a service deployment ARN")));
    };
    let (cluster, name, id) = (&cluster, &name, format!("ecs-svc/{number}"));
    let id = &id;
    retry_on_conflict(UPDATE_ATTEMPTS, EcsError::is_conflict, move || async move {
        let mut service = svc
            .store
            .get_service(cluster, name)
            .await?
            .ok_or_else(|| EcsError::ServiceNotFound("Service not found.".into()))?;
        let now = Timestamp::now();
        match scheduler::stop_deployment(&mut service, id, rollback, &mut RandomIds, now) {
            Ok(()) => {}
            Err(StopRefusal::NotFound) => {
                return Err(EcsError::ServiceDeploymentNotFound("Service deployment not found.".into()));
            }
            Err(StopRefusal::NotInProgress) => {
                return Err(EcsError::Conflict(
                    "The service deployment is not in progress and cannot be stopped.".into(),
                ));
            }
            Err(StopRefusal::NothingToRollBackTo) => {
                return Err(EcsError::Conflict(
                    "The service has no completed deployment to roll back to; stop it with stopType ABORT.".into(),
                ));
            }
        }
        svc.store.update_service(&service).await?;
        Ok(())
    })
    .await?;
    svc.services_changed.notify_one();
    Ok(StopServiceDeploymentOutput { service_deployment_arn: arn })
}
