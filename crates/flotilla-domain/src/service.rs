//! Services: a desired number of tasks of one task definition that the service
//! scheduler keeps running and rolls forward (or back) in deployments.
//!
//! A service is stored as one document: its configuration, its live deployments
//! (PRIMARY first), the finished ones it remembers, and its latest events. What the
//! scheduler decides from it and the tasks it sees is in [`scheduler`].

pub mod scheduler;

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How many events a service keeps (ECS shows the latest 100).
pub const MAX_EVENTS: usize = 100;
/// How many finished deployments a service remembers for ListServiceDeployments,
/// DescribeServiceRevisions and rollbacks.
pub const MAX_HISTORY: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    Active,
    /// Deleted; its tasks are being stopped.
    Draining,
    Inactive,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Draining => "DRAINING",
            Self::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SchedulingStrategy {
    /// Keep `desiredCount` tasks across the cluster.
    Replica,
    /// One task on every instance that meets the constraints.
    Daemon,
}

impl SchedulingStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replica => "REPLICA",
            Self::Daemon => "DAEMON",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "REPLICA" => Some(Self::Replica),
            "DAEMON" => Some(Self::Daemon),
            _ => None,
        }
    }
}

/// `deploymentCircuitBreaker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

/// `deploymentConfiguration.strategy`: how a deployment replaces the tasks before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStrategy {
    /// Replace tasks a few at a time, within the minimum and maximum percent.
    #[default]
    Rolling,
    /// Start a whole new (green) set of tasks beside the old (blue) ones, shift the
    /// production traffic to them at once, bake, then stop the blue ones.
    BlueGreen,
    /// As blue/green, shifting the traffic in equal steps.
    Linear,
    /// As blue/green, shifting a small share first, then the rest.
    Canary,
}

impl DeploymentStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rolling => "ROLLING",
            Self::BlueGreen => "BLUE_GREEN",
            Self::Linear => "LINEAR",
            Self::Canary => "CANARY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rolling, Self::BlueGreen, Self::Linear, Self::Canary].into_iter().find(|v| v.as_str() == s)
    }

    /// Whether it runs a second set of tasks and shifts traffic to it.
    pub fn shifts_traffic(self) -> bool {
        self != Self::Rolling
    }
}

/// `linearConfiguration`: the share of production traffic each step moves, in tenths
/// of a percent (`stepPercent` on the wire), and the wait between steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinearConfiguration {
    #[serde(rename = "stepPercent", with = "tenths_of_percent")]
    pub step_per_mille: u32,
    pub step_bake_time_in_minutes: i64,
}

/// `canaryConfiguration`: the share of production traffic the canary gets first, in
/// tenths of a percent (`canaryPercent` on the wire), and how long it bakes before
/// the rest moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfiguration {
    #[serde(rename = "canaryPercent", with = "tenths_of_percent")]
    pub canary_per_mille: u32,
    pub canary_bake_time_in_minutes: i64,
}

/// A percentage with one decimal (as ECS takes it) kept as a whole number of tenths.
pub mod tenths_of_percent {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Tenths of a percent, if `percent` is a multiple of 0.1 from 0 to 100.
    pub fn from_percent(percent: f64) -> Option<u32> {
        let tenths = (percent * 10.0).round();
        ((0.0..=1000.0).contains(&tenths) && (percent * 10.0 - tenths).abs() < 1e-6).then_some(tenths as u32)
    }

    pub fn serialize<S: Serializer>(tenths: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(*tenths) / 10.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let percent = f64::deserialize(d)?;
        from_percent(percent).ok_or_else(|| serde::de::Error::custom("a percentage from 0 to 100 in steps of 0.1"))
    }
}

/// `deploymentConfiguration`, with ECS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    #[serde(default)]
    pub strategy: DeploymentStrategy,
    /// How long blue and green both run once all production traffic is on green.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_configuration: Option<LinearConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_configuration: Option<CanaryConfiguration>,
}

impl DeploymentConfiguration {
    /// ECS's defaults: 200/100 for REPLICA, 100/0 for DAEMON; the breaker off.
    pub fn default_for(strategy: SchedulingStrategy) -> Self {
        let (maximum_percent, minimum_healthy_percent) = match strategy {
            SchedulingStrategy::Replica => (200, 100),
            SchedulingStrategy::Daemon => (100, 0),
        };
        Self {
            deployment_circuit_breaker: Some(CircuitBreaker { enable: false, rollback: false }),
            maximum_percent,
            minimum_healthy_percent,
            strategy: DeploymentStrategy::Rolling,
            bake_time_in_minutes: None,
            linear_configuration: None,
            canary_configuration: None,
        }
    }

    /// The breaker, when enabled.
    pub fn breaker(&self) -> Option<CircuitBreaker> {
        self.deployment_circuit_breaker.filter(|b| b.enable)
    }
}

/// A `placementConstraints` entry, as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementConstraintDoc {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// A `placementStrategy` entry, as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementStrategyDoc {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A service's `loadBalancers` entry: its tasks' `containerName`:`containerPort` are
/// registered as targets of the target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerDoc {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: i64,
    /// For blue/green deployments: the second target group and the rules that
    /// shift traffic between the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_configuration: Option<AdvancedConfiguration>,
}

/// `advancedConfiguration`: green tasks go in whichever of the two target groups the
/// blue ones are not in; the production rule (or NLB listener) forwards to both by
/// weight, the test rule to the green ones once they are up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfiguration {
    pub alternate_target_group_arn: String,
    pub production_listener_rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// What a user configures on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    pub desired_count: i64,
    pub scheduling_strategy: SchedulingStrategy,
    pub deployment_configuration: DeploymentConfiguration,
    #[serde(default)]
    pub placement_constraints: Vec<PlacementConstraintDoc>,
    #[serde(default)]
    pub placement_strategy: Vec<PlacementStrategyDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i64>,
    /// `ENABLED` or `DISABLED`.
    pub availability_zone_rebalancing: String,
    #[serde(default)]
    pub enable_ecs_managed_tags: bool,
    /// `TASK_DEFINITION`, `SERVICE` or `NONE`.
    #[serde(default = "propagate_none")]
    pub propagate_tags: String,
    #[serde(default)]
    pub enable_execute_command: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<LoadBalancerDoc>,
    /// Launch type or capacity provider strategy, awsvpc network, platform version.
    #[serde(default)]
    pub launch: crate::launch::Launch,
}

impl ServiceSpec {
    /// ECS's defaults for a service of `strategy`: no placement rules, AZ rebalancing
    /// on, tags not propagated, the strategy's deployment configuration.
    pub fn new(strategy: SchedulingStrategy, desired_count: i64) -> Self {
        ServiceSpec {
            desired_count,
            scheduling_strategy: strategy,
            deployment_configuration: DeploymentConfiguration::default_for(strategy),
            placement_constraints: Vec::new(),
            placement_strategy: Vec::new(),
            health_check_grace_period_seconds: None,
            availability_zone_rebalancing: "ENABLED".to_string(),
            enable_ecs_managed_tags: false,
            propagate_tags: propagate_none(),
            enable_execute_command: false,
            load_balancers: Vec::new(),
            launch: crate::launch::Launch::default(),
        }
    }
}

fn propagate_none() -> String {
    "NONE".to_string()
}

/// One container's image as a deployment runs it: the image named in the task
/// definition and the digest it was resolved to when the deployment started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    pub container_name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
}

/// What a deployment runs: a task definition revision and its images, pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub family: String,
    pub revision: i64,
    #[serde(default)]
    pub images: Vec<ContainerImage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// The newest deployment: the one the service moves to.
    Primary,
    /// An older deployment whose tasks are being replaced.
    Active,
    /// Finished: no tasks of it remain.
    Inactive,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }
}

/// Where a blue/green (or linear, canary) deployment is (its service deployment's
/// `lifecycleStage`). Stages with nothing to do here are passed through at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleStage {
    /// Green tasks are starting; blue ones take all the traffic.
    ScaleUp,
    /// The test rule forwards to the green tasks.
    TestTrafficShift,
    /// Production traffic moves to green (at once, in steps, or canary first).
    ProductionTrafficShift,
    /// All production traffic is on green; blue tasks stay for the bake time.
    BakeTime,
    /// The blue tasks are stopped.
    CleanUp,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScaleUp => "SCALE_UP",
            Self::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Self::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Self::BakeTime => "BAKE_TIME",
            Self::CleanUp => "CLEAN_UP",
        }
    }
}

/// All of the production traffic, in tenths of a percent.
pub const ALL_TRAFFIC: u32 = 1000;

fn all_traffic() -> u32 {
    ALL_TRAFFIC
}

/// The status of the service deployment that introduced a deployment
/// (ListServiceDeployments' `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceDeploymentStatus {
    InProgress,
    Successful,
    Stopped,
    RollbackInProgress,
    RollbackSuccessful,
    RollbackFailed,
}

impl ServiceDeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Successful => "SUCCESSFUL",
            Self::Stopped => "STOPPED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackSuccessful => "ROLLBACK_SUCCESSFUL",
            Self::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Successful,
            Self::Stopped,
            Self::RollbackInProgress,
            Self::RollbackSuccessful,
            Self::RollbackFailed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::InProgress | Self::RollbackInProgress)
    }
}

/// A rollback a failed deployment started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRecord {
    pub reason: String,
    pub started_at: Timestamp,
    /// The deployment rolled back to (its revision is the one restored).
    pub to_deployment: String,
}

/// One deployment: a revision and the tasks running it (`startedBy` its id), with the
/// service deployment that introduced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// `ecs-svc/` and 19 digits.
    pub id: String,
    pub status: DeploymentStatus,
    pub revision: Revision,
    pub desired_count: i64,
    pub pending_count: i64,
    pub running_count: i64,
    pub failed_tasks: i64,
    /// Failed tasks count against the circuit breaker from this time on (its start,
    /// or when a rollback made it PRIMARY again).
    pub counting_since: Timestamp,
    pub rollout_state: RolloutState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_state_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The deployment configuration it was started with.
    pub configuration: DeploymentConfiguration,
    /// The service deployment's status.
    pub outcome: ServiceDeploymentStatus,
    /// The deployments this one replaced (its service deployment's sources).
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackRecord>,
    /// Set on a deployment started by a rollback: the failed deployment's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    /// The target group its tasks are registered in, per `loadBalancers` entry
    /// (blue/green alternates between an entry's two; empty: the entry's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_groups: Vec<String>,
    /// Its share of production traffic, in tenths of a percent.
    #[serde(default = "all_traffic")]
    pub traffic: u32,
    /// Where a traffic-shifting deployment is; `None` for a rolling one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<LifecycleStage>,
    /// When it entered its stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_since: Option<Timestamp>,
    /// When production traffic last moved to it (linear and canary steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shifted_at: Option<Timestamp>,
    /// The (blue) deployment a traffic-shifting deployment takes the traffic from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shifting_from: Option<String>,
}

impl Deployment {
    /// The number in the id (`ecs-svc/NUMBER`), used in service deployment and
    /// service revision ARNs.
    pub fn number(&self) -> &str {
        self.id.strip_prefix("ecs-svc/").unwrap_or(&self.id)
    }

    /// The target group its tasks go in for the `index`th `loadBalancers` entry.
    pub fn target_group<'a>(&'a self, index: usize, entry: &'a LoadBalancerDoc) -> &'a str {
        self.target_groups.get(index).map_or(entry.target_group_arn.as_str(), String::as_str)
    }

    /// Whether it is a blue/green, linear or canary deployment still shifting traffic
    /// from the deployment before it (not a rollback, which returns traffic at once).
    pub fn shifting(&self) -> bool {
        self.lifecycle_stage.is_some() && self.rollout_state == RolloutState::InProgress && self.rollback_of.is_none()
    }
}

/// A service event (`events[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: Timestamp,
    pub message: String,
}

/// A service, stored as one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub cluster: String,
    pub name: String,
    pub status: ServiceStatus,
    pub spec: ServiceSpec,
    /// PRIMARY first, then ACTIVE ones newest first.
    pub deployments: Vec<Deployment>,
    /// Finished deployments, newest first, at most [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<Deployment>,
    /// Newest first, at most [`MAX_EVENTS`].
    #[serde(default)]
    pub events: Vec<ServiceEvent>,
    /// Whether the last reconciliation found the service steady (so "has reached a
    /// steady state" is said once per arrival, not every pass).
    #[serde(default)]
    pub steady: bool,
    /// Whether an AZ rebalancing is under way (said once when it starts and ends).
    #[serde(default)]
    pub rebalancing: bool,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl Service {
    /// A new ACTIVE service whose first deployment (`deployment_id`) runs `revision`.
    pub fn new(
        cluster: String,
        name: String,
        spec: ServiceSpec,
        revision: Revision,
        deployment_id: String,
        now: Timestamp,
    ) -> Self {
        let mut service = Service {
            cluster,
            name,
            status: ServiceStatus::Active,
            spec,
            deployments: Vec::new(),
            history: Vec::new(),
            events: Vec::new(),
            steady: false,
            rebalancing: false,
            created_at: now,
            created_by: None,
            version: 1,
        };
        service.start_deployment(revision, deployment_id, now);
        service
    }

    /// The ECS task group of its tasks.
    pub fn group(&self) -> String {
        format!("service:{}", self.name)
    }

    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.first()
    }

    /// Starts a deployment to `revision`: it becomes PRIMARY and every other live
    /// deployment ACTIVE (to be replaced). A service deployment still in progress is
    /// superseded (STOPPED).
    pub fn start_deployment(&mut self, revision: Revision, id: String, now: Timestamp) -> &mut Deployment {
        let sources: Vec<String> = self.deployments.iter().map(|d| d.id.clone()).collect();
        for d in &mut self.deployments {
            d.status = DeploymentStatus::Active;
            d.updated_at = now;
            if !d.outcome.is_finished() {
                d.outcome = ServiceDeploymentStatus::Stopped;
                d.finished_at = Some(now);
            }
        }
        let desired_count = self.spec.desired_count;
        let strategy = self.spec.deployment_configuration.strategy;
        // Blue: the live deployment with the most production traffic. Green tasks go in
        // the other target group of each entry, and start with no traffic.
        let blue = self.deployments.iter().filter(|d| d.traffic > 0).max_by_key(|d| d.traffic);
        let shifts = strategy.shifts_traffic() && blue.is_some();
        let shifting_from = blue.filter(|_| shifts).map(|b| b.id.clone());
        let target_groups: Vec<String> = self
            .spec
            .load_balancers
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let blue_group = blue.map(|b| b.target_group(i, entry).to_string());
                match (&entry.advanced_configuration, blue_group) {
                    (Some(a), Some(b)) if shifts && b == entry.target_group_arn => a.alternate_target_group_arn.clone(),
                    (Some(a), Some(b)) if !shifts && b == a.alternate_target_group_arn => b,
                    _ => entry.target_group_arn.clone(),
                }
            })
            .collect();
        // All the traffic stays with blue until green takes it (none, when not shifting).
        for d in &mut self.deployments {
            d.traffic = if shifting_from.as_ref() == Some(&d.id) { ALL_TRAFFIC } else { 0 };
        }
        self.deployments.insert(
            0,
            Deployment {
                id,
                status: DeploymentStatus::Primary,
                revision,
                desired_count,
                pending_count: 0,
                running_count: 0,
                failed_tasks: 0,
                counting_since: now,
                rollout_state: RolloutState::InProgress,
                rollout_state_reason: Some("ECS deployment in progress.".to_string()),
                created_at: now,
                updated_at: now,
                configuration: self.spec.deployment_configuration.clone(),
                outcome: ServiceDeploymentStatus::InProgress,
                sources,
                finished_at: None,
                rollback: None,
                rollback_of: None,
                target_groups,
                traffic: if shifts { 0 } else { ALL_TRAFFIC },
                lifecycle_stage: shifts.then_some(LifecycleStage::ScaleUp),
                stage_since: Some(now),
                shifted_at: None,
                shifting_from,
            },
        );
        self.steady = false;
        &mut self.deployments[0]
    }

    /// Every deployment the service knows, live ones first, newest first.
    pub fn all_deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.iter().chain(self.history.iter())
    }

    pub fn find_deployment(&self, id: &str) -> Option<&Deployment> {
        self.all_deployments().find(|d| d.id == id)
    }

    /// The newest deployment whose rollout completed (what a rollback restores).
    pub fn last_completed(&self) -> Option<&Deployment> {
        self.all_deployments().find(|d| d.rollout_state == RolloutState::Completed)
    }

    /// Adds an event unless the newest one says the same (ECS suppresses repeats).
    /// Returns whether it was added.
    pub fn record_event(&mut self, id: String, message: String, now: Timestamp) -> bool {
        if self.events.first().is_some_and(|e| e.message == message) {
            return false;
        }
        self.events.insert(0, ServiceEvent { id, created_at: now, message });
        self.events.truncate(MAX_EVENTS);
        true
    }

    /// Moves finished deployments from the live list into the history.
    fn retire(&mut self, ids: &[String], now: Timestamp) {
        let (gone, kept): (Vec<Deployment>, Vec<Deployment>) =
            std::mem::take(&mut self.deployments).into_iter().partition(|d| ids.contains(&d.id));
        self.deployments = kept;
        for mut d in gone.into_iter().rev() {
            d.status = DeploymentStatus::Inactive;
            d.updated_at = now;
            d.pending_count = 0;
            d.running_count = 0;
            d.finished_at.get_or_insert(now);
            self.history.insert(0, d);
        }
        self.history.truncate(MAX_HISTORY);
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().chain(self.history.iter_mut()).find(|d| d.id == id)
    }
}

#[cfg(test)]
mod tests;
