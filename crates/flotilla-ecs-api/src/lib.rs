//! The Amazon ECS API: target prefix `AmazonEC2ContainerServiceV20141113`.
//!
//! One module per resource (clusters, task definitions, container instances, tasks,
//! tags), each holding its
//! operations' wire shapes and handlers; handlers read the request, apply domain
//! rules, and call the [`Store`]. Wire shapes follow botocore's ECS service model.
//! AWS error codes for every failure are chosen in [`error`], and only there; each
//! operation's IAM action and resources are listed in `operations`.

mod agent_channel;
mod attributes;
mod balancing;
mod capacity_providers;
mod clusters;
mod container_instances;
mod controllers;
mod error;
mod events;
mod launch;
mod managed_scaling;
mod observability;
mod operations;
mod placement;
mod scheduler;
mod services;
mod tags;
mod task_definitions;
mod task_metrics;
mod task_roles;
mod tasks;
mod wire;

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_domain::AccountContext;
use flotilla_protocol::{AwsError, Caller, Controller, Operation, ServiceModule, Wire, json_response, parse_request};
use flotilla_store::Store;
use std::sync::Arc;

pub use agent_channel::AgentChannel;
pub use capacity_providers::{InstanceGroup, InstanceGroups};
pub use error::EcsError;
pub use flotilla_domain::flotilla_core::events::{BusEvent, EventSink};
pub use flotilla_domain::flotilla_core::metrics::{MetricDatum, MetricsSink};
pub use flotilla_ecs_model::HOST_ADDRESS_ATTRIBUTE;
pub use flotilla_ecs_model::poll::{AgentTask, MAX_WAIT_SECONDS};
pub use launch::{Launched, Target, TaskSpec};
pub use observability::{EcsGauges, PlacementSnapshot, PlacementStats};
pub use placement::Rules;
pub use task_roles::{ECS_TASKS_PRINCIPAL, RoleSessions, TASK_SESSION_SECONDS};

/// Resolves an image reference to the digest it names now, where that can be known
/// (the built-in registry's tags): what a service deployment pins its tasks to.
#[async_trait]
pub trait ImageResolver: Send + Sync {
    /// `sha256:…` for `image`, or `None` when this resolver cannot tell.
    async fn digest(&self, image: &str) -> Option<String>;
}

/// A target group as a service's `loadBalancers` entry needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupInfo {
    /// `instance` targets (else `ip`).
    pub instance_targets: bool,
    /// Whether some load balancer forwards to it.
    pub in_use: bool,
}

/// Elastic Load Balancing as the service scheduler uses it: the server wires in the
/// ELBv2 module. Targets are (id, port): an instance id or IPv4 address and a port;
/// states are DescribeTargetHealth's (`initial`, `healthy`, `unhealthy`, `draining`, …).
#[async_trait]
pub trait LoadBalancing: Send + Sync {
    async fn target_group(&self, arn: &str) -> Result<Option<TargetGroupInfo>, String>;
    async fn register(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String>;
    async fn deregister(&self, arn: &str, targets: &[(String, i64)]) -> Result<(), String>;
    async fn targets(&self, arn: &str) -> Result<Vec<(String, i64, String)>, String>;
    /// Whether a listener rule (a listener's default rule, or an NLB listener) exists.
    async fn rule_exists(&self, arn: &str) -> Result<bool, String>;
    /// Makes the rule's forward action send to these target groups with these
    /// weights; `true` when it changed anything.
    async fn route(&self, rule: &str, forward: &[(String, i64)]) -> Result<bool, String>;
}

/// The ECS service, backed by a store. Cheap to clone: the service scheduler holds
/// one to launch tasks on the same path as RunTask.
#[derive(Clone)]
pub struct EcsService {
    store: Arc<dyn Store>,
    account: AccountContext,
    /// The URL agents reach this control plane at (DiscoverPollEndpoint's answer).
    endpoint: String,
    wakeups: Arc<agent_channel::Wakeups>,
    images: Option<Arc<dyn ImageResolver>>,
    load_balancing: Option<Arc<dyn LoadBalancing>>,
    metrics: Option<Arc<dyn MetricsSink>>,
    /// EC2 Auto Scaling, for capacity providers.
    groups: Option<Arc<dyn InstanceGroups>>,
    /// Where ECS's own events go (EventBridge's default bus).
    events: Option<Arc<dyn EventSink>>,
    placements: Arc<PlacementStats>,
    /// Rung when a service changes, so the scheduler acts before its next interval.
    services_changed: Arc<tokio::sync::Notify>,
    /// STS for tasks' execution and task roles.
    role_sessions: Option<Arc<dyn RoleSessions>>,
}

impl EcsService {
    pub fn new(store: Arc<dyn Store>, account: AccountContext, endpoint: impl Into<String>) -> Self {
        Self {
            store,
            account,
            endpoint: endpoint.into(),
            wakeups: Arc::default(),
            images: None,
            load_balancing: None,
            metrics: None,
            events: None,
            groups: None,
            placements: Arc::default(),
            services_changed: Arc::default(),
            role_sessions: None,
        }
    }

    /// Issues tasks' role credentials to their agents through `sessions`.
    pub fn with_role_sessions(mut self, sessions: Arc<dyn RoleSessions>) -> Self {
        self.role_sessions = Some(sessions);
        self
    }

    /// Registers services' tasks with load balancers through `lb`.
    pub fn with_load_balancing(mut self, lb: Arc<dyn LoadBalancing>) -> Self {
        self.load_balancing = Some(lb);
        self
    }

    /// Publishes task CPU and memory utilization through `sink`.
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Pins service deployments' images with `resolver`.
    pub fn with_image_resolver(mut self, resolver: Arc<dyn ImageResolver>) -> Self {
        self.images = Some(resolver);
        self
    }

    /// Makes sure the `default` cluster exists (ECS creates it on first use).
    pub async fn ensure_default_cluster(&self) -> Result<(), EcsError> {
        clusters::ensure_default(self).await
    }
}

#[async_trait]
impl ServiceModule for EcsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: flotilla_ecs_model::ECS_TARGET, cbor_service: None }
    }

    fn resource_tags(&self) -> Option<&dyn flotilla_protocol::ResourceTags> {
        Some(self)
    }

    fn signing_name(&self) -> &'static str {
        "ecs"
    }

    fn operations(&self) -> &'static [Operation] {
        operations::ECS_OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![
            Arc::new(controllers::AgentHeartbeat { store: self.store.clone() }),
            Arc::new(scheduler::ServiceScheduler { ecs: self.clone() }),
            Arc::new(managed_scaling::CapacityProviders { ecs: self.clone() }),
        ]
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> Result<Response, AwsError> {
        macro_rules! op {
            ($handler:path) => {{
                let input = parse_request(&body, error::INVALID_PARAMETER)?;
                let output = $handler(self, input).await?;
                Ok(json_response(&output))
            }};
        }
        match operation {
            "CreateCluster" => op!(clusters::create_cluster),
            "DescribeClusters" => op!(clusters::describe_clusters),
            "ListClusters" => op!(clusters::list_clusters),
            "UpdateCluster" => op!(clusters::update_cluster),
            "UpdateClusterSettings" => op!(clusters::update_cluster_settings),
            "PutClusterCapacityProviders" => op!(clusters::put_cluster_capacity_providers),
            "CreateCapacityProvider" => op!(capacity_providers::create_capacity_provider),
            "DescribeCapacityProviders" => op!(capacity_providers::describe_capacity_providers),
            "UpdateCapacityProvider" => op!(capacity_providers::update_capacity_provider),
            "DeleteCapacityProvider" => op!(capacity_providers::delete_capacity_provider),
            "DeleteCluster" => op!(clusters::delete_cluster),
            "RegisterTaskDefinition" => {
                let output = task_definitions::register_task_definition(self, &body).await?;
                Ok(json_response(&output))
            }
            "DescribeTaskDefinition" => op!(task_definitions::describe_task_definition),
            "ListTaskDefinitions" => op!(task_definitions::list_task_definitions),
            "ListTaskDefinitionFamilies" => op!(task_definitions::list_task_definition_families),
            "DeregisterTaskDefinition" => op!(task_definitions::deregister_task_definition),
            "DeleteTaskDefinitions" => op!(task_definitions::delete_task_definitions),
            "RegisterContainerInstance" => op!(container_instances::register_container_instance),
            "DeregisterContainerInstance" => op!(container_instances::deregister_container_instance),
            "DescribeContainerInstances" => op!(container_instances::describe_container_instances),
            "ListContainerInstances" => op!(container_instances::list_container_instances),
            "UpdateContainerInstancesState" => op!(container_instances::update_container_instances_state),
            "DiscoverPollEndpoint" => op!(container_instances::discover_poll_endpoint),
            "PutAttributes" => op!(attributes::put_attributes),
            "DeleteAttributes" => op!(attributes::delete_attributes),
            "ListAttributes" => op!(attributes::list_attributes),
            "RunTask" => op!(tasks::run_task),
            "StartTask" => op!(tasks::start_task),
            "StopTask" => op!(tasks::stop_task),
            "DescribeTasks" => op!(tasks::describe_tasks),
            "ListTasks" => op!(tasks::list_tasks),
            "SubmitTaskStateChange" => op!(tasks::submit_task_state_change),
            "SubmitContainerStateChange" => op!(tasks::submit_container_state_change),
            "CreateService" => op!(services::create_service),
            "UpdateService" => op!(services::update_service),
            "DeleteService" => op!(services::delete_service),
            "DescribeServices" => op!(services::describe_services),
            "ListServices" => op!(services::list_services),
            "ListServiceDeployments" => op!(services::list_service_deployments),
            "DescribeServiceDeployments" => op!(services::describe_service_deployments),
            "DescribeServiceRevisions" => op!(services::describe_service_revisions),
            "StopServiceDeployment" => op!(services::stop_service_deployment),
            "TagResource" => op!(tags::tag_resource),
            "UntagResource" => op!(tags::untag_resource),
            "ListTagsForResource" => op!(tags::list_tags_for_resource),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: the ECS API has no operation '{other}' here"),
            )),
        }
    }
}
