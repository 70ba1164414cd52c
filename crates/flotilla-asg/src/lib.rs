//! The EC2 Auto Scaling subset ECS capacity providers need, on the AWS query protocol
//! (`Action=…&Version=2011-01-01`, signing name `autoscaling`, XML answers): launch
//! configurations, Auto Scaling groups with their desired capacity, instance
//! protection and manual termination, and scaling activities.
//!
//! A group's instances are real node agents: the `autoscaling-groups` controller
//! ([`controller`]) keeps each group at its desired capacity through launchers
//! ([`launcher`]) chosen by the launch configuration's image id, replaces instances
//! whose process died, and adopts the ones still running after the control plane
//! restarted. What it decides is the pure [`decide`]; what an instance is launched
//! with (CPU, memory) is [`instance_types`]; the cluster it joins is read from its
//! user data ([`user_data`]).
//!
//! ECS's capacity providers use a group through [`AsgService::describe_group`],
//! [`AsgService::set_desired_capacity`] and [`AsgService::set_instance_protection`];
//! ECS hears of terminated instances through [`InstanceRetirement`].
//!
//! Every error code is chosen in [`error`]; state lives in [`store::AsgStore`].

mod activities;
pub mod controller;
pub mod decide;
pub mod error;
mod groups;
pub mod instance_types;
mod instances;
mod launch_configurations;
pub mod launcher;
pub mod model;
mod params;
pub mod process;
pub mod store;
pub mod user_data;
mod xml;

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use error::{AsgError, Result};
use flotilla_core::account::AccountContext;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, QueryRequest, Resources, ServiceModule, Wire,
};
use model::{Group, Instance};
use std::sync::Arc;
use tokio::sync::Notify;

pub use launcher::{AgentCredentials, LaunchSettings};
pub use store::AsgStore;

/// The API version requests must name.
pub const VERSION: &str = "2011-01-01";
/// The answers' XML namespace.
pub const XMLNS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// How many launch configurations a region may have (AWS's default quota).
pub const MAX_LAUNCH_CONFIGURATIONS: i64 = 200;
/// How many groups a region may have (AWS's default quota).
pub const MAX_GROUPS: i64 = 500;
/// The largest MaxSize a group may have: every instance is a process somewhere.
pub const MAX_GROUP_SIZE: i64 = 1000;
/// How many times a read-change-write is redone after losing a race.
const UPDATE_ATTEMPTS: u32 = 8;

/// What ECS hears when an instance of a group is terminated: as ECS deregisters the
/// container instance of a terminated EC2 instance, the container instance the
/// instance's agent registered leaves its cluster.
#[async_trait]
pub trait InstanceRetirement: Send + Sync + 'static {
    /// `instance_id` (its EC2 instance id in ECS) was terminated; it had joined `cluster`.
    async fn instance_terminated(&self, cluster: &str, instance_id: &str) -> std::result::Result<(), String>;
}

/// The Auto Scaling service module.
pub struct AsgService {
    store: AsgStore,
    account: AccountContext,
    launcher: Arc<launcher::Launcher>,
    /// Rung when a change wants the controller at once.
    wakeup: Arc<Notify>,
    retirement: Option<Arc<dyn InstanceRetirement>>,
}

/// A group as ECS capacity providers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub arn: String,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    pub new_instances_protected_from_scale_in: bool,
    /// Being force-deleted.
    pub deleting: bool,
    /// Its instances (Pending, InService and Terminating), by id.
    pub instances: Vec<GroupInstanceInfo>,
}

/// An instance of a group as ECS capacity providers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstanceInfo {
    /// The EC2 instance id, which its ECS container instance names as `ec2InstanceId`.
    pub instance_id: String,
    pub availability_zone: String,
    pub instance_type: String,
    /// `Pending`, `InService` or `Terminating`.
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    pub protected_from_scale_in: bool,
}

impl GroupInfo {
    fn of(group: &Group, instances: &[Instance]) -> Self {
        Self {
            name: group.name.clone(),
            arn: group.arn.clone(),
            min_size: group.min_size,
            max_size: group.max_size,
            desired_capacity: group.desired_capacity,
            new_instances_protected_from_scale_in: group.new_instances_protected_from_scale_in,
            deleting: group.deleting,
            instances: instances
                .iter()
                .map(|i| GroupInstanceInfo {
                    instance_id: i.id.clone(),
                    availability_zone: i.availability_zone.clone(),
                    instance_type: i.instance_type.clone(),
                    lifecycle_state: i.lifecycle_state.as_str().to_string(),
                    health_status: i.health_status.as_str().to_string(),
                    protected_from_scale_in: i.protected_from_scale_in,
                })
                .collect(),
        }
    }
}

impl AsgService {
    pub fn new(store: AsgStore, account: AccountContext, settings: LaunchSettings) -> Self {
        Self {
            store,
            account,
            launcher: Arc::new(launcher::Launcher::new(settings)),
            wakeup: Arc::new(Notify::new()),
            retirement: None,
        }
    }

    /// Opens the store at `location`.
    pub async fn open(
        location: &flotilla_db::StoreLocation,
        account: AccountContext,
        settings: LaunchSettings,
    ) -> Result<Self> {
        Ok(Self::new(AsgStore::open(location).await?, account, settings))
    }

    /// The same service telling `retirement` of every terminated instance.
    pub fn with_retirement(mut self, retirement: Arc<dyn InstanceRetirement>) -> Self {
        self.retirement = Some(retirement);
        self
    }

    /// Sets the operator's commands for image ids Flotilla does not launch itself
    /// (`--instance-launch-command`, `--instance-terminate-command`).
    pub fn set_instance_commands(&self, launch: Option<String>, terminate: Option<String>) {
        self.launcher.set_commands(launch, terminate);
    }

    /// Sets how long a launched agent whose control plane died without stopping it
    /// waits for one to answer at its endpoint again (then it stops).
    pub fn set_orphan_grace(&self, grace: std::time::Duration) {
        self.launcher.set_orphan_grace(grace);
    }

    pub fn store(&self) -> &AsgStore {
        &self.store
    }

    fn changed(&self) {
        self.wakeup.notify_one();
    }

    /// The group `name_or_arn` names (its name, or its ARN), or ValidationError.
    async fn find_group(&self, name_or_arn: &str) -> Result<Group> {
        let name = if name_or_arn.starts_with("arn:") {
            model::group_name_of_arn(name_or_arn)
                .ok_or_else(|| AsgError::validation(format!("'{name_or_arn}' is not an AutoScalingGroup ARN")))?
        } else {
            name_or_arn
        };
        match self.store.group(name).await? {
            Some(g) if !name_or_arn.starts_with("arn:") || g.arn == name_or_arn => Ok(g),
            _ => Err(AsgError::validation(format!(
                "AutoScalingGroup name not found - AutoScalingGroup {name_or_arn} not found"
            ))),
        }
    }

    // The API ECS's capacity providers use. -------------------------------------------

    /// The group `name_or_arn` names (name or ARN) with its instances, or `None`.
    pub async fn describe_group(&self, name_or_arn: &str) -> Result<Option<GroupInfo>> {
        let group = match self.find_group(name_or_arn).await {
            Ok(g) => g,
            Err(AsgError::Validation(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let instances = self.store.instances_of(&group.name).await?;
        Ok(Some(GroupInfo::of(&group, &instances)))
    }

    /// Sets the group's desired capacity, as SetDesiredCapacity does: within its
    /// minimum and maximum size (ValidationError otherwise); the controller then
    /// launches or terminates instances (never ones protected from scale in).
    pub async fn set_desired_capacity(&self, name_or_arn: &str, desired: i64) -> Result<()> {
        groups::set_desired(self, name_or_arn, desired).await
    }

    /// Protects instances of the group from scale in, or stops protecting them, as
    /// SetInstanceProtection does (ValidationError for an instance not in the group).
    pub async fn set_instance_protection(
        &self,
        name_or_arn: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> Result<()> {
        instances::set_protection(self, name_or_arn, instance_ids, protected).await
    }
}

/// `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:*:autoScalingGroupName/NAME`:
/// requests name groups, and IAM matches their ARNs' ids with a wildcard.
fn group_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input
        .str("AutoScalingGroupName")
        .map(|name| scope.arn(model::SERVICE, &format!("autoScalingGroup:*:autoScalingGroupName/{name}")))
        .into_iter()
        .collect()
}

fn launch_configuration_resource(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input
        .str("LaunchConfigurationName")
        .map(|name| scope.arn(model::SERVICE, &format!("launchConfiguration:*:launchConfigurationName/{name}")))
        .into_iter()
        .collect()
}

const fn op(name: &'static str, action: &'static str, resources: Resources) -> Operation {
    Operation::new(name, action, resources)
}

use Resources::{Any, From};

/// The operations served, with their IAM actions (`autoscaling:…`).
static OPERATIONS: &[Operation] = &[
    op("CreateLaunchConfiguration", "autoscaling:CreateLaunchConfiguration", From(launch_configuration_resource)),
    op("DescribeLaunchConfigurations", "autoscaling:DescribeLaunchConfigurations", Any),
    op("DeleteLaunchConfiguration", "autoscaling:DeleteLaunchConfiguration", From(launch_configuration_resource)),
    op("CreateAutoScalingGroup", "autoscaling:CreateAutoScalingGroup", From(group_resource)),
    op("UpdateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", From(group_resource)),
    op("DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingGroups", Any),
    op("DeleteAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup", From(group_resource)),
    op("SetDesiredCapacity", "autoscaling:SetDesiredCapacity", From(group_resource)),
    op("SetInstanceProtection", "autoscaling:SetInstanceProtection", From(group_resource)),
    op("DescribeAutoScalingInstances", "autoscaling:DescribeAutoScalingInstances", Any),
    op("TerminateInstanceInAutoScalingGroup", "autoscaling:TerminateInstanceInAutoScalingGroup", Any),
    op("DescribeScalingActivities", "autoscaling:DescribeScalingActivities", Any),
];

#[async_trait]
impl ServiceModule for AsgService {
    fn wire(&self) -> Wire {
        Wire::Query { version: VERSION, xmlns: XMLNS }
    }

    fn signing_name(&self) -> &'static str {
        "autoscaling"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    async fn call(&self, operation: &str, body: Bytes, caller: &Caller) -> std::result::Result<Response, AwsError> {
        let q = QueryRequest::parse(&body)?;
        let out = match operation {
            "CreateLaunchConfiguration" => launch_configurations::create(self, &q).await?,
            "DescribeLaunchConfigurations" => launch_configurations::describe(self, &q).await?,
            "DeleteLaunchConfiguration" => launch_configurations::delete(self, &q).await?,
            "CreateAutoScalingGroup" => groups::create(self, &q).await?,
            "UpdateAutoScalingGroup" => groups::update(self, &q).await?,
            "DescribeAutoScalingGroups" => groups::describe(self, &q).await?,
            "DeleteAutoScalingGroup" => groups::delete(self, &q).await?,
            "SetDesiredCapacity" => groups::set_desired_capacity(self, &q).await?,
            "SetInstanceProtection" => instances::set_instance_protection(self, &q).await?,
            "DescribeAutoScalingInstances" => instances::describe(self, &q).await?,
            "TerminateInstanceInAutoScalingGroup" => instances::terminate(self, &q).await?,
            "DescribeScalingActivities" => activities::describe(self, &q).await?,
            other => {
                return Err(AwsError::client(
                    "InvalidAction",
                    format!("Could not find operation {other} for version {VERSION}"),
                ));
            }
        };
        Ok(flotilla_protocol::query_response(operation, XMLNS, &caller.request_id, |w| out.write(w)))
    }

    fn controllers(&self) -> Vec<Arc<dyn flotilla_protocol::Controller>> {
        vec![Arc::new(controller::GroupsController::new(
            self.store.clone(),
            self.launcher.clone(),
            self.wakeup.clone(),
            self.retirement.clone(),
        ))]
    }

    /// Stops the agents this control plane launched or adopted (they are launched
    /// again, as the same instances, when it starts next), then closes the store.
    async fn close(&self) {
        self.launcher.stop_all().await;
        self.store.close().await;
    }
}

/// What a handler answers: the contents of `<ActionResult>`.
pub(crate) struct Answer(Box<dyn Fn(&mut flotilla_protocol::XmlWriter) + Send + Sync>);

impl Answer {
    pub(crate) fn new(write: impl Fn(&mut flotilla_protocol::XmlWriter) + Send + Sync + 'static) -> Self {
        Self(Box::new(write))
    }

    pub(crate) fn empty() -> Self {
        Self::new(|_| {})
    }

    fn write(&self, w: &mut flotilla_protocol::XmlWriter) {
        (self.0)(w)
    }
}

/// Runs a read-change-write until it does not lose a race (at most
/// [`UPDATE_ATTEMPTS`] times).
pub(crate) async fn retrying<T, F, Fut>(attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    flotilla_db::retry_on_conflict(UPDATE_ATTEMPTS, AsgError::is_conflict, attempt).await
}

#[cfg(test)]
mod tests;
