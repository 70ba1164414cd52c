//! `FlotillaAgentV1.SubmitTaskMetrics`: what the agent measured of its tasks'
//! containers. The control plane turns it into `AWS/ECS` CPUUtilization and
//! MemoryUtilization against each task's reservation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitTaskMetricsRequest {
    pub cluster: String,
    pub samples: Vec<TaskSample>,
}

/// One task's usage over the interval that ended at `timestamp`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSample {
    pub task_arn: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// CPU used, in ECS CPU units (1,024 a core), averaged over the interval.
    pub cpu_units: f64,
    /// Memory in use, MiB (the page cache not counted).
    pub memory_mib: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmitTaskMetricsResponse {}
