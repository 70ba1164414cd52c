//! Task metrics: the agents' samples (`FlotillaAgentV1.SubmitTaskMetrics`) become
//! `AWS/ECS` CPUUtilization and MemoryUtilization, in percent of what each task
//! reserved, published through the [`MetricsSink`] the server wires in (CloudWatch).
//!
//! Each sample is published twice: with dimensions ClusterName and ServiceName for a
//! service's task (CloudWatch's Average over them is the service's utilization when
//! its tasks reserve alike), and with ClusterName and TaskId for the task itself. A
//! task that reserves no CPU is measured against one core (1,024 units), as it may
//! use that much when the instance is idle.

use crate::EcsService;
use crate::error::EcsError;
use flotilla_domain::flotilla_core::metrics::MetricDatum;
use flotilla_domain::task::Task;
use flotilla_ecs_model::{SubmitTaskMetricsRequest, SubmitTaskMetricsResponse, TaskSample};

pub const NAMESPACE: &str = "AWS/ECS";
const CORE_UNITS: f64 = 1024.0;

/// The datapoints one sample of `task` makes.
pub fn datapoints(task: &Task, sample: &TaskSample) -> Vec<MetricDatum> {
    let cpu_reserved = if task.reservation.cpu > 0 { task.reservation.cpu as f64 } else { CORE_UNITS };
    let mut out = Vec::new();
    let mut dimension_sets =
        vec![vec![("ClusterName".to_string(), task.cluster.clone()), ("TaskId".to_string(), task.id.clone())]];
    if let Some(service) = task.group.strip_prefix("service:") {
        dimension_sets.push(vec![
            ("ClusterName".to_string(), task.cluster.clone()),
            ("ServiceName".to_string(), service.to_string()),
        ]);
    }
    for dimensions in dimension_sets {
        let mut point = |name: &str, value: f64| {
            out.push(MetricDatum {
                namespace: NAMESPACE.into(),
                metric_name: name.into(),
                dimensions: dimensions.clone(),
                timestamp_ms: sample.timestamp,
                value,
                unit: "Percent".into(),
            })
        };
        point("CPUUtilization", 100.0 * sample.cpu_units.max(0.0) / cpu_reserved);
        if task.reservation.memory > 0 {
            point("MemoryUtilization", 100.0 * sample.memory_mib.max(0.0) / task.reservation.memory as f64);
        }
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
        let mut data = Vec::new();
        for sample in &input.samples {
            let id = sample.task_arn.rsplit('/').next().unwrap_or(&sample.task_arn);
            let Some(task) = self.store.get_task(id).await? else { continue };
            if task.cluster != cluster.name || !sample.cpu_units.is_finite() || !sample.memory_mib.is_finite() {
                continue;
            }
            data.extend(datapoints(&task, sample));
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
    use flotilla_domain::Timestamp;

    #[test]
    fn utilization_is_against_the_reservation_with_service_and_task_dimensions() {
        let mut task = Task::provisioning("t1".into(), "prod".into(), "web".into(), 1, Timestamp(0));
        task.group = "service:web".into();
        task.reservation.cpu = 512;
        task.reservation.memory = 256;
        let sample = TaskSample { task_arn: "arn/t1".into(), timestamp: 60_000, cpu_units: 384.0, memory_mib: 64.0 };
        let points = datapoints(&task, &sample);
        let find = |name: &str, dim: &str| {
            points.iter().find(|p| p.metric_name == name && p.dimensions.iter().any(|d| d.0 == dim)).map(|p| p.value)
        };
        assert_eq!(find("CPUUtilization", "ServiceName"), Some(75.0));
        assert_eq!(find("MemoryUtilization", "ServiceName"), Some(25.0));
        assert_eq!(find("CPUUtilization", "TaskId"), Some(75.0));
        task.group = "family:web".into();
        task.reservation.cpu = 0;
        let points = datapoints(&task, &sample);
        assert!(points.iter().all(|p| !p.dimensions.iter().any(|d| d.0 == "ServiceName")));
        assert_eq!(points[0].value, 37.5, "measured against one core");
    }
}
