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
//! CloudWatch is `awsQueryCompatible`: errors carry the query codes
//! (`InvalidParameterValue`, `MissingParameter`, `InvalidParameterCombination`).

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
    AWS_JSON_1_0, AwsError, Caller, Operation, Resources, ServiceModule, Wire, json_response, parse_request,
};
use serde::Serialize;
use std::sync::Arc;

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
}

impl MetricsService {
    /// Opens (creating if needed) the metrics store at `location`.
    pub async fn open(location: &StoreLocation, account: AccountContext) -> Result<Self> {
        Ok(Self { store: MetricStore::open(location).await?, account })
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
}

/// Every operation served, with its IAM action and the answer members CBOR writes as
/// timestamps. CloudWatch metrics have no resource ARNs: IAM sees `*`.
static OPERATIONS: &[Operation] = &[
    Operation::new("PutMetricData", "cloudwatch:PutMetricData", Resources::Any),
    Operation::new("GetMetricStatistics", "cloudwatch:GetMetricStatistics", Resources::Any).timestamps(&["Timestamp"]),
    Operation::new("GetMetricData", "cloudwatch:GetMetricData", Resources::Any).timestamps(&["Timestamps"]),
    Operation::new("ListMetrics", "cloudwatch:ListMetrics", Resources::Any),
];

/// A 200 answer carrying `value` as AWS JSON 1.0, this service's JSON protocol.
fn answer<T: Serialize>(value: &T) -> Response {
    let mut response = json_response(value);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AWS_JSON_1_0));
    response
}

macro_rules! run {
    ($module:ident :: $op:ident, $self:expr, $body:expr) => {{
        let input = parse_request($body, error::INVALID_PARAMETER_VALUE)?;
        Ok(answer(&$module::$op($self, input).await?))
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
        vec![Arc::new(retention::Retention { store: self.store.clone() })]
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
            other => Err(AwsError::client(
                "UnknownOperationException",
                format!("unknown operation: {TARGET_PREFIX}.{other}"),
            )),
        }
    }
}
