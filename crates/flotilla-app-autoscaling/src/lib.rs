//! Application Auto Scaling for ECS services (AWS JSON 1.1, target prefix
//! `AnyScaleFrontendService`, signing name `application-autoscaling`, shapes and errors
//! as in botocore's `application-autoscaling` 2016-02-06 model).
//!
//! Only ECS services' desired count is scaled: `ServiceNamespace` `ecs`,
//! `ScalableDimension` `ecs:service:DesiredCount`, `ResourceId`
//! `service/CLUSTER/SERVICE`; other namespaces and dimensions are refused by name.
//!
//! - Scalable targets ([`targets`]): RegisterScalableTarget (bounds, suspended states,
//!   tags; an update brings the desired count into new bounds), DescribeScalableTargets,
//!   DeregisterScalableTarget (its policies, their alarms and its scheduled actions
//!   go with it), and tagging by target ARN.
//! - Scaling policies ([`policies`]): target tracking (predefined ECS CPU and memory
//!   and ALB request count per target, or a customized metric) creates and owns its
//!   CloudWatch alarms (`TargetTracking-…-AlarmHigh-…`, 3 of 3 periods above the
//!   target, and `…-AlarmLow-…`, 15 of 15 under 90% of it); step scaling is run by
//!   the user's own alarms naming the policy ARN.
//! - When an alarm's action names a policy, the binary's wiring calls
//!   [`AppAutoScalingService::on_alarm`] ([`execute`]): the pure decision of
//!   [`decide`] is applied through [`ServiceCapacity`] and recorded as a scaling
//!   activity ([`activities`]: DescribeScalingActivities).
//! - Scheduled actions ([`scheduled`]): `at`, `rate` and `cron` in a time zone, within
//!   StartTime/EndTime, applied by the `app-autoscaling-scheduled` controller (once
//!   for missed periods); `app-autoscaling-housekeeping` finishes alarm work a call
//!   could not and forgets activities after six weeks.
//!
//! Everything is kept in a [`ScalingStore`] (`appautoscaling.db`, or the
//! `appautoscaling` schema on PostgreSQL). This crate knows neither ECS nor
//! CloudWatch: it reaches them through [`ServiceCapacity`] and [`ScalingAlarms`], which
//! the binary implements.

pub mod activities;
pub mod decide;
mod error;
mod execute;
mod housekeeping;
mod model;
pub mod policies;
pub mod scheduled;
mod store;
pub mod targets;
#[cfg(test)]
mod tests;

pub use error::{Result, ScalingError};
pub use execute::Outcome;
pub use model::{DIMENSION, NAMESPACE, TargetKey};
pub use store::{STORE_NAME, ScalingStore};

use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
use flotilla_core::AccountContext;
pub use flotilla_db::StoreLocation;
use flotilla_protocol::{
    ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response, parse_request,
};
use std::sync::Arc;
use tokio::sync::Notify;

const TARGET_PREFIX: &str = "AnyScaleFrontendService";

/// The environment variable that shortens the period of target tracking alarms (seconds).
pub const PERIOD_ENV: &str = "FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS";
/// Target tracking alarms' period: one minute, as AWS's.
pub const DEFAULT_PERIOD_SECONDS: i64 = 60;

/// The target tracking period `FLOTILLA_TARGET_TRACKING_PERIOD_SECONDS` asks for, if
/// set: 10, 20, 30 or a multiple of 60 (CloudWatch's alarm periods).
pub fn period_from_env() -> std::result::Result<Option<i64>, String> {
    match std::env::var(PERIOD_ENV) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => {
            let p: i64 = v.trim().parse().map_err(|_| format!("{PERIOD_ENV}={v}: not a number of seconds"))?;
            if matches!(p, 10 | 20 | 30) || (p >= 60 && p % 60 == 0) {
                Ok(Some(p))
            } else {
                Err(format!("{PERIOD_ENV}={v}: a period is 10, 20, 30 or a multiple of 60 seconds"))
            }
        }
    }
}

/// ECS services' desired count, as scaling reads and sets it. The binary implements
/// it with ECS (UpdateService's path).
#[async_trait]
pub trait ServiceCapacity: Send + Sync + 'static {
    /// The desired count of ACTIVE service `service` of `cluster`; `None` when there is
    /// no such service.
    async fn desired(&self, cluster: &str, service: &str) -> std::result::Result<Option<i64>, String>;

    /// Sets the desired count as UpdateService does; the count before.
    async fn set_desired(&self, cluster: &str, service: &str, count: i64) -> std::result::Result<i64, String>;
}

/// A refused or failed alarm call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmError {
    /// CloudWatch refused the alarm as given (a bad metric, say): the policy is invalid.
    Refused(String),
    /// CloudWatch could not be reached or failed.
    Failed(String),
}

/// CloudWatch alarms, as target tracking creates and removes the ones it owns. The
/// binary implements it with CloudWatch (PutMetricAlarm's and DeleteAlarms' code).
#[async_trait]
pub trait ScalingAlarms: Send + Sync + 'static {
    /// Creates or replaces an alarm: `request` is a PutMetricAlarm request (JSON).
    async fn put_alarm(&self, request: &serde_json::Value) -> std::result::Result<(), AlarmError>;

    /// Deletes alarm `name`; done (`Ok`) when there is no such alarm.
    async fn delete_alarm(&self, name: &str) -> std::result::Result<(), AlarmError>;

    /// The names of the alarms whose actions name `action_arn` (a step scaling policy's
    /// alarms, which are the user's), for DescribeScalingPolicies.
    async fn alarms_acting_on(&self, _action_arn: &str) -> std::result::Result<Vec<String>, AlarmError> {
        Ok(Vec::new())
    }
}

/// No ECS: every target is refused.
pub struct NoCapacity;

#[async_trait]
impl ServiceCapacity for NoCapacity {
    async fn desired(&self, _: &str, _: &str) -> std::result::Result<Option<i64>, String> {
        Err("ECS is not connected to application auto scaling on this endpoint".into())
    }

    async fn set_desired(&self, _: &str, _: &str, _: i64) -> std::result::Result<i64, String> {
        Err("ECS is not connected to application auto scaling on this endpoint".into())
    }
}

/// No CloudWatch: target tracking policies are refused.
pub struct NoAlarms;

#[async_trait]
impl ScalingAlarms for NoAlarms {
    async fn put_alarm(&self, _: &serde_json::Value) -> std::result::Result<(), AlarmError> {
        Err(AlarmError::Failed("CloudWatch is not connected to application auto scaling on this endpoint".into()))
    }

    async fn delete_alarm(&self, _: &str) -> std::result::Result<(), AlarmError> {
        Err(AlarmError::Failed("CloudWatch is not connected to application auto scaling on this endpoint".into()))
    }
}

/// What an alarm tells a policy it runs (the binary's alarm actions handler makes it
/// from CloudWatch's state change).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmTrigger {
    pub alarm_name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// The newest value the alarm evaluated, if any.
    pub latest_value: Option<f64>,
    pub threshold: f64,
    /// Whether the alarm breaches above its threshold (`GreaterThan…`).
    pub breaches_above: bool,
    /// The state reason data (JSON), whose `recentDatapoints` stand in for a value
    /// the alarm never evaluated (a state set with SetAlarmState).
    pub reason_data: Option<String>,
    /// A repeat, once a minute, while the alarm stays in the state.
    pub repeated: bool,
}

/// The Application Auto Scaling JSON service. Cheap to clone: its controllers hold clones.
#[derive(Clone)]
pub struct AppAutoScalingService {
    store: ScalingStore,
    account: AccountContext,
    capacity: Arc<dyn ServiceCapacity>,
    alarms: Arc<dyn ScalingAlarms>,
    /// Target tracking alarms' period in seconds.
    period_seconds: i64,
    /// Rung when a scheduled action is put, so the scheduled controller looks at once.
    wakeup: Arc<Notify>,
    /// Serialises changes to targets in this process (across processes on PostgreSQL
    /// the store's session lock does).
    serial: Arc<tokio::sync::Mutex<()>>,
}

/// Held while a target is changed.
pub(crate) struct TargetGuard {
    _local: tokio::sync::OwnedMutexGuard<()>,
    remote: flotilla_db::SessionLock,
}

impl TargetGuard {
    pub(crate) async fn release(self) {
        self.remote.release().await;
    }
}

impl AppAutoScalingService {
    /// Opens (creating if needed) the store at `location`. ECS and CloudWatch are
    /// given with [`Self::with_capacity`] and [`Self::with_alarms`].
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        Ok(Self {
            store: ScalingStore::open(location).await?,
            account,
            capacity: Arc::new(NoCapacity),
            alarms: Arc::new(NoAlarms),
            period_seconds: DEFAULT_PERIOD_SECONDS,
            wakeup: Arc::new(Notify::new()),
            serial: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Reads and sets ECS services' desired counts through `capacity`.
    pub fn with_capacity(mut self, capacity: Arc<dyn ServiceCapacity>) -> Self {
        self.capacity = capacity;
        self
    }

    /// Creates and deletes target tracking alarms through `alarms`.
    pub fn with_alarms(mut self, alarms: Arc<dyn ScalingAlarms>) -> Self {
        self.alarms = alarms;
        self
    }

    /// Target tracking alarms of policies put from now on use `seconds` periods
    /// instead of 60 (for tests: 10, 20, 30 or a multiple of 60).
    pub fn with_target_tracking_period(mut self, seconds: i64) -> Self {
        self.period_seconds = seconds;
        self
    }

    /// Serialises changes to target `key`, in this process and across processes.
    pub(crate) async fn target_lock(&self, key: &TargetKey) -> Result<TargetGuard> {
        let local = self.serial.clone().lock_owned().await;
        let remote = self.store.lock_target(key).await?;
        Ok(TargetGuard { _local: local, remote })
    }

    /// Deletes alarms (best effort: what fails stays in `alarm_work` for the
    /// housekeeping controller).
    pub(crate) async fn delete_alarms(&self, names: &[String]) {
        let mut done = Vec::new();
        for name in names {
            match self.alarms.delete_alarm(name).await {
                Ok(()) => done.push(name.clone()),
                Err(e) => {
                    tracing::warn!(alarm = %name, error = ?e, "deleting a target tracking alarm failed; retried later")
                }
            }
        }
        if let Err(e) = self.store.remove_alarm_work(&done).await {
            tracing::warn!(error = %e, "forgetting finished alarm work failed; it is done again later");
        }
    }
}

/// The scalable target ARN named by `ResourceARN`.
fn resource_arn(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("ResourceARN").map(|a| vec![a.to_string()]).unwrap_or_default()
}

/// Every operation served, with its IAM action. Targets, policies and scheduled
/// actions are named by keys, not ARNs, so IAM sees `*` but for tagging.
static OPERATIONS: &[Operation] = &[
    Operation::new("RegisterScalableTarget", "application-autoscaling:RegisterScalableTarget", Resources::Any),
    Operation::new("DescribeScalableTargets", "application-autoscaling:DescribeScalableTargets", Resources::Any),
    Operation::new("DeregisterScalableTarget", "application-autoscaling:DeregisterScalableTarget", Resources::Any),
    Operation::new("PutScalingPolicy", "application-autoscaling:PutScalingPolicy", Resources::Any),
    Operation::new("DescribeScalingPolicies", "application-autoscaling:DescribeScalingPolicies", Resources::Any),
    Operation::new("DeleteScalingPolicy", "application-autoscaling:DeleteScalingPolicy", Resources::Any),
    Operation::new("PutScheduledAction", "application-autoscaling:PutScheduledAction", Resources::Any),
    Operation::new("DescribeScheduledActions", "application-autoscaling:DescribeScheduledActions", Resources::Any),
    Operation::new("DeleteScheduledAction", "application-autoscaling:DeleteScheduledAction", Resources::Any),
    Operation::new("DescribeScalingActivities", "application-autoscaling:DescribeScalingActivities", Resources::Any),
    Operation::new("TagResource", "application-autoscaling:TagResource", Resources::From(resource_arn)),
    Operation::new("UntagResource", "application-autoscaling:UntagResource", Resources::From(resource_arn)),
    Operation::new("ListTagsForResource", "application-autoscaling:ListTagsForResource", Resources::From(resource_arn)),
];

macro_rules! run {
    ($module:ident :: $op:ident, $self:expr, $body:expr) => {{
        let input = parse_request($body, error::VALIDATION)?;
        Ok(json_response(&$module::$op($self, input).await?))
    }};
}

#[async_trait]
impl ServiceModule for AppAutoScalingService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "application-autoscaling"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![
            Arc::new(scheduled::ScheduledController { service: self.clone() }),
            Arc::new(housekeeping::Housekeeping { service: self.clone() }),
        ]
    }

    async fn close(&self) {
        self.store.close().await;
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> std::result::Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "RegisterScalableTarget" => run!(targets::register, self, b),
            "DescribeScalableTargets" => run!(targets::describe, self, b),
            "DeregisterScalableTarget" => run!(targets::deregister, self, b),
            "TagResource" => run!(targets::tag, self, b),
            "UntagResource" => run!(targets::untag, self, b),
            "ListTagsForResource" => run!(targets::list_tags, self, b),
            "PutScalingPolicy" => run!(policies::put, self, b),
            "DescribeScalingPolicies" => run!(policies::describe, self, b),
            "DeleteScalingPolicy" => run!(policies::delete, self, b),
            "PutScheduledAction" => run!(scheduled::put, self, b),
            "DescribeScheduledActions" => run!(scheduled::describe, self, b),
            "DeleteScheduledAction" => run!(scheduled::delete, self, b),
            "DescribeScalingActivities" => run!(activities::describe, self, b),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}

/// An empty JSON answer (`{}`).
#[derive(serde::Serialize)]
pub(crate) struct Empty {}
