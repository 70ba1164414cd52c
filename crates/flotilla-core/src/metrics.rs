//! Metric datapoints the control plane's own modules publish (ECS task utilization,
//! load balancer traffic) and the sink they publish them through; the server wires
//! CloudWatch in as the sink.

/// One datapoint.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub value: f64,
    /// CloudWatch's unit name, e.g. `Percent`, `Count`, `Seconds`.
    pub unit: String,
}

/// Where datapoints go.
#[async_trait::async_trait]
pub trait MetricsSink: Send + Sync {
    async fn record(&self, data: Vec<MetricDatum>) -> Result<(), String>;
}
