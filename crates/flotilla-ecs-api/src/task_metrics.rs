//! Task metrics: the agents' samples (`FlotillaAgentV1.SubmitTaskMetrics`) of a
//! service's tasks become `AWS/ECS` CPUUtilization and MemoryUtilization with
//! dimensions ClusterName and ServiceName (AWS/ECS's own; CloudWatch's Average over
//! them is the service's utilization when its tasks reserve alike), in percent of
//! what each task reserved, published through the [`MetricsSink`] the server wires
//! in (CloudWatch). Samples of tasks outside services are not published: AWS/ECS has
//! no per-task dimension, and a datapoint per task every 10 s was most of a large
//! cluster's writes. A task that reserves no CPU is measured against one core (1,024
//! units), as it may use that much when the instance is idle.

use crate::EcsService;
use crate::error::EcsError;
use flotilla_domain::flotilla_core::metrics::MetricDatum;
use flotilla_ecs_model::{SubmitTaskMetricsRequest, SubmitTaskMetricsResponse, TaskSample};
use flotilla_store::TaskReservation;
use std::collections::HashMap;

pub const NAMESPACE: &str = "AWS/ECS";
const CORE_UNITS: f64 = 1024.0;

/// Whether samples of a task of this group are published (a service's tasks): the
/// agents sample only those.
pub fn publishes(group: &str) -> bool {
    group.starts_with("service:")
}

/// The datapoints one sample of `task` makes: none outside a service.
pub fn datapoints(task: &TaskReservation, sample: &TaskSample) -> Vec<MetricDatum> {
    let Some(service) = task.group.strip_prefix("service:") else { return Vec::new() };
    let dimensions =
        vec![("ClusterName".to_string(), task.cluster.clone()), ("ServiceName".to_string(), service.to_string())];
    let point = |name: &str, value: f64| MetricDatum {
        namespace: NAMESPACE.into(),
        metric_name: name.into(),
        dimensions: dimensions.clone(),
        timestamp_ms: sample.timestamp,
        value,
        unit: "Percent".into(),
    };
    let cpu_reserved = if task.cpu > 0 { task.cpu as f64 } else { CORE_UNITS };
    let mut out = vec![point("CPUUtilization", 100.0 * sample.cpu_units.max(0.0) / cpu_reserved)];
    if task.memory > 0 {
        out.push(point("MemoryUtilization", 100.0 * sample.memory_mib.max(0.0) / task.memory as f64));
    }
    out
}

impl EcsService {
    /// Publishes the samples of tasks this cluster knows; others are ignored.
    pub(crate) async fn submit_task_metrics(
        &self,
        input: SubmitTaskMetricsRequest,
    ) -> Result<SubmitTaskMetricsResponse, EcsError> {
        let Some(sink) = &self.metrics else { return Ok(SubmitTaskMetricsResponse {}) };
        if input.samples.len() > 1000 {
            return Err(EcsError::invalid("samples: at most 1000 a call"));
        }
        let cluster = self.active_cluster(Some(&input.cluster)).await?;
        let task_id = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
        let ids: Vec<String> = input.samples.iter().map(|s| task_id(&s.task_arn)).collect();
        let tasks: HashMap<String, TaskReservation> =
            self.store.task_reservations(&ids).await?.into_iter().map(|t| (t.id.clone(), t)).collect();
        let mut data = Vec::new();
        for sample in &input.samples {
            let Some(task) = tasks.get(&task_id(&sample.task_arn)) else { continue };
            if task.cluster != cluster.name || !sample.cpu_units.is_finite() || !sample.memory_mib.is_finite() {
                continue;
            }
            data.extend(datapoints(task, sample));
        }
        // Metrics are samples: one that cannot be recorded is logged, not retried.
        if !data.is_empty()
            && let Err(e) = sink.record(data).await
        {
            tracing::warn!(cluster = %cluster.name, error = %e, "recording task metrics failed");
        }
        Ok(SubmitTaskMetricsResponse {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_tasks_utilization_is_against_its_reservation_and_other_tasks_publish_none() {
        let mut task = TaskReservation {
            id: "t1".into(),
            cluster: "prod".into(),
            group: "service:web".into(),
            cpu: 512,
            memory: 256,
        };
        let sample = TaskSample { task_arn: "arn/t1".into(), timestamp: 60_000, cpu_units: 384.0, memory_mib: 64.0 };
        let points = datapoints(&task, &sample);
        let find = |points: &[MetricDatum], name: &str| points.iter().find(|p| p.metric_name == name).map(|p| p.value);
        assert_eq!(find(&points, "CPUUtilization"), Some(75.0));
        assert_eq!(find(&points, "MemoryUtilization"), Some(25.0));
        let dims: Vec<&str> = points[0].dimensions.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(dims, ["ClusterName", "ServiceName"]);
        task.cpu = 0;
        assert_eq!(find(&datapoints(&task, &sample), "CPUUtilization"), Some(37.5), "measured against one core");
        task.group = "family:web".into();
        assert!(datapoints(&task, &sample).is_empty());
    }
}
