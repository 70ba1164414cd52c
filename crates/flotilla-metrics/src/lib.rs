//! CloudWatch metrics (botocore's `cloudwatch` 2010-08-01 model: signing name
//! `monitoring`, target prefix `GraniteServiceVersion20100801`), served over AWS JSON
//! 1.0 and smithy RPC v2 CBOR (the query protocol is not served).
//!
//! PutMetricData ([`put`]), GetMetricStatistics ([`statistics`]), GetMetricData
//! ([`data`], metric statistics only: no metric math) and ListMetrics ([`list`]).
//! Datapoints are kept in a [`MetricStore`] (`metrics.db` or the `metrics` schema on
//! PostgreSQL) and read per period ([`series`]); the `metrics-retention` controller
//! ([`retention`]) deletes them after 15 days. The control plane publishes its own
//! metrics (ECS's `AWS/ECS`) through [`MetricsService::record`].
//!
//! Metric alarms ([`alarms`] for the API, [`alarm`] for what they are): PutMetricAlarm,
//! DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
//! SetAlarmState, Enable/DisableAlarmActions and tagging by alarm ARN. The
//! `cloudwatch-alarms` controller ([`alarm::controller`]) evaluates them with the pure
//! [`alarm::evaluate`] and runs their actions through the [`AlarmActions`] the binary
//! gives ([`MetricsService::with_alarm_actions`] or, later,
//! [`MetricsService::set_alarm_actions`]); by default none is handled.
//!
//! CloudWatch is `awsQueryCompatible`: errors carry the query codes
//! (`InvalidParameterValue`, `MissingParameter`, `InvalidParameterCombination`).

pub mod alarm;
mod alarms;
mod data;
mod error;
mod list;
mod model;
mod put;
mod retention;
mod series;
mod statistics;
mod store;
#[cfg(test)]
mod tests;

pub use alarm::{AlarmActions, AlarmStateChange, Comparison, NoAlarmActions, StateValue, WatchedMetric};
pub use error::{MetricsError, Result};
pub use store::{MetricStore, STORE_NAME};

use async_trait::async_trait;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use flotilla_controller::Controller;
use flotilla_core::AccountContext;
pub use flotilla_db::StoreLocation;
use flotilla_protocol::{
    AWS_JSON_1_0, ArnScope, AwsError, Caller, Operation, OperationInput, Resources, ServiceModule, Wire, json_response,
    parse_request,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// One datum the control plane publishes itself (any namespace, `AWS/` included).
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub value: f64,
    /// A CloudWatch unit (`Percent`, `Count`, …); empty for `None`.
    pub unit: String,
}

/// The CloudWatch metrics service.
#[derive(Clone)]
pub struct MetricsService {
    store: MetricStore,
    account: AccountContext,
    /// Who carries out alarm actions (shared with the alarm controller).
    alarm_actions: alarm::controller::ActionsSlot,
    /// Rung when an alarm is put or its state set.
    alarm_wakeup: Arc<Notify>,
    alarm_interval: Duration,
    max_alarms: i64,
}

impl MetricsService {
    /// Opens (creating if needed) the metrics store at `location`.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        Ok(Self {
            store: MetricStore::open(location).await?,
            account,
            alarm_actions: alarm::controller::ActionsSlot::new(Arc::new(NoAlarmActions)),
            alarm_wakeup: Arc::new(Notify::new()),
            alarm_interval: alarm::controller::DEFAULT_INTERVAL,
            max_alarms: alarms::MAX_ALARMS,
        })
    }

    /// The same service carrying out alarm actions with `actions`.
    pub fn with_alarm_actions(self, actions: Arc<dyn AlarmActions>) -> Self {
        self.alarm_actions.set(actions);
        self
    }

    /// Carries out alarm actions with `actions` from now on (for wiring that needs
    /// services built after this one); the alarm controller uses it from its next action.
    pub fn set_alarm_actions(&self, actions: Arc<dyn AlarmActions>) {
        self.alarm_actions.set(actions);
    }

    /// The same service with its alarm controller looking for alarms due every
    /// `interval` (5 s by default; it is also woken when an alarm is put or set).
    pub fn with_alarm_interval(mut self, interval: Duration) -> Self {
        self.alarm_interval = interval;
        self
    }

    fn alarm_controller(&self) -> alarm::controller::AlarmController {
        alarm::controller::AlarmController {
            store: self.store.clone(),
            account: self.account.clone(),
            actions: self.alarm_actions.clone(),
            wakeup: self.alarm_wakeup.clone(),
            interval: self.alarm_interval,
        }
    }

    /// Stores the control plane's own data, as PutMetricData would (at standard
    /// resolution) but without its refusal of `AWS/` namespaces or its time window.
    /// Every datum is checked before any is stored.
    pub async fn record(&self, data: &[Datum]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let points = data.iter().map(put::recorded_point).collect::<Result<Vec<_>>>()?;
        let now = self.store.now_ms().await?;
        self.store.put(&points, now).await
    }

    /// PutMetricAlarm from Rust (e.g. the alarms target tracking policies own):
    /// `request` is the operation's JSON input, checked and stored by the operation's
    /// own code (created in INSUFFICIENT_DATA, or its configuration replaced).
    pub async fn put_metric_alarm(&self, request: serde_json::Value) -> Result<()> {
        let input: alarms::put::PutAlarmInput = serde_json::from_value(request)
            .map_err(|e| MetricsError::InvalidValue(format!("The alarm request is not valid: {e}")))?;
        alarms::put::put(self, input).await.map(|_| ())
    }

    /// DeleteAlarms from Rust, by the operation's own code: all the alarms named, or
    /// none (`MetricsError::NotFound`) when one does not exist.
    pub async fn delete_alarms(&self, names: &[String]) -> Result<()> {
        let input: alarms::state::NamesInput = serde_json::from_value(serde_json::json!({ "AlarmNames": names }))
            .map_err(|e| MetricsError::InvalidValue(format!("The alarm names are not valid: {e}")))?;
        alarms::state::delete(self, input).await.map(|_| ())
    }
}

/// The alarm named by `AlarmName`, as IAM sees it.
fn named_alarm(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.str("AlarmName").map(|n| vec![scope.arn("cloudwatch", &format!("alarm:{n}"))]).unwrap_or_default()
}

/// The alarms named by `AlarmNames`.
fn named_alarms(input: &OperationInput<'_>, scope: &ArnScope<'_>) -> Vec<String> {
    input.strs("AlarmNames").into_iter().map(|n| scope.arn("cloudwatch", &format!("alarm:{n}"))).collect()
}

/// The resource named by `ResourceARN`.
fn resource_arn(input: &OperationInput<'_>, _scope: &ArnScope<'_>) -> Vec<String> {
    input.str("ResourceARN").map(|a| vec![a.to_string()]).unwrap_or_default()
}

/// The answer members of alarms that CBOR writes as timestamps.
const ALARM_TIMES: &[&str] =
    &["AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp"];

/// Every operation served, with its IAM action and the answer members CBOR writes as
/// timestamps. Metrics have no resource ARNs (IAM sees `*`); alarms do.
static OPERATIONS: &[Operation] = &[
    Operation::new("PutMetricData", "cloudwatch:PutMetricData", Resources::Any),
    Operation::new("GetMetricStatistics", "cloudwatch:GetMetricStatistics", Resources::Any).timestamps(&["Timestamp"]),
    Operation::new("GetMetricData", "cloudwatch:GetMetricData", Resources::Any).timestamps(&["Timestamps"]),
    Operation::new("ListMetrics", "cloudwatch:ListMetrics", Resources::Any),
    Operation::new("PutMetricAlarm", "cloudwatch:PutMetricAlarm", Resources::From(named_alarm)),
    Operation::new("DescribeAlarms", "cloudwatch:DescribeAlarms", Resources::Any).timestamps(ALARM_TIMES),
    Operation::new("DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmsForMetric", Resources::Any)
        .timestamps(ALARM_TIMES),
    Operation::new("DescribeAlarmHistory", "cloudwatch:DescribeAlarmHistory", Resources::From(named_alarm))
        .timestamps(&["Timestamp"]),
    Operation::new("DeleteAlarms", "cloudwatch:DeleteAlarms", Resources::From(named_alarms)),
    Operation::new("SetAlarmState", "cloudwatch:SetAlarmState", Resources::From(named_alarm)),
    Operation::new("EnableAlarmActions", "cloudwatch:EnableAlarmActions", Resources::From(named_alarms)),
    Operation::new("DisableAlarmActions", "cloudwatch:DisableAlarmActions", Resources::From(named_alarms)),
    Operation::new("TagResource", "cloudwatch:TagResource", Resources::From(resource_arn)),
    Operation::new("UntagResource", "cloudwatch:UntagResource", Resources::From(resource_arn)),
    Operation::new("ListTagsForResource", "cloudwatch:ListTagsForResource", Resources::From(resource_arn)),
];

/// A 200 answer carrying `value` as AWS JSON 1.0, this service's JSON protocol.
fn answer<T: Serialize>(value: &T) -> Response {
    let mut response = json_response(value);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AWS_JSON_1_0));
    response
}

macro_rules! run {
    ($op:path, $self:expr, $body:expr) => {{
        let input = parse_request($body, error::INVALID_PARAMETER_VALUE)?;
        Ok(answer(&$op($self, input).await?))
    }};
}

#[async_trait]
impl ServiceModule for MetricsService {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: TARGET_PREFIX, cbor_service: Some(TARGET_PREFIX) }
    }

    fn signing_name(&self) -> &'static str {
        "monitoring"
    }

    fn operations(&self) -> &'static [Operation] {
        OPERATIONS
    }

    fn controllers(&self) -> Vec<Arc<dyn Controller>> {
        vec![Arc::new(retention::Retention { store: self.store.clone() }), Arc::new(self.alarm_controller())]
    }

    async fn close(&self) {
        self.store.close().await;
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> std::result::Result<Response, AwsError> {
        let b = body.as_ref();
        match operation {
            "PutMetricData" => run!(put::put, self, b),
            "GetMetricStatistics" => run!(statistics::get, self, b),
            "GetMetricData" => run!(data::get, self, b),
            "ListMetrics" => run!(list::list, self, b),
            "PutMetricAlarm" => run!(alarms::put::put, self, b),
            "DescribeAlarms" => run!(alarms::describe::describe, self, b),
            "DescribeAlarmsForMetric" => run!(alarms::describe::for_metric, self, b),
            "DescribeAlarmHistory" => run!(alarms::history::describe, self, b),
            "DeleteAlarms" => run!(alarms::state::delete, self, b),
            "SetAlarmState" => run!(alarms::state::set_state, self, b),
            "EnableAlarmActions" => run!(alarms::state::enable_actions, self, b),
            "DisableAlarmActions" => run!(alarms::state::disable_actions, self, b),
            "TagResource" => run!(alarms::tags::tag, self, b),
            "UntagResource" => run!(alarms::tags::untag, self, b),
            "ListTagsForResource" => run!(alarms::tags::list, self, b),
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}
