//! Samples each running task's CPU and memory (of the tasks whose figures the
//! control plane publishes: a service's) from the runtime and reports them
//! (`FlotillaAgentV1.SubmitTaskMetrics`); the control plane turns them into `AWS/ECS`
//! CPUUtilization and MemoryUtilization.
//!
//! CPU is the growth of the container's cumulative CPU time between two samples, over
//! the time between them, in ECS CPU units (1,024 a core); memory is the usage less
//! the inactive page cache, as `docker stats` shows it. A task's figures are its
//! containers' sums; a container's first sample only sets its baseline.
//!
//! Samples go to the control plane grouped by their task's own cluster (read from
//! the task ARN), as a node serving Fargate runs tasks of any cluster.

use crate::client::ControlPlaneClient;
use crate::runtime::ContainerRuntime;
use crate::state::SharedState;
use flotilla_ecs_model::{AGENT_TARGET, SubmitTaskMetricsRequest, TaskSample};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often tasks are sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// (cumulative CPU nanoseconds, when read) per container.
type Baselines = HashMap<String, (u64, Instant)>;

/// Samples every [`SAMPLE_INTERVAL`] until aborted; `cluster` is the agent's, for
/// task ARNs of the old format that name none.
pub async fn run(state: SharedState, runtime: Arc<dyn ContainerRuntime>, client: ControlPlaneClient, cluster: String) {
    let mut baselines = Baselines::new();
    let mut ticker = tokio::time::interval(SAMPLE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let samples = sample(&state, runtime.as_ref(), &mut baselines).await;
        if samples.is_empty() {
            continue;
        }
        for input in by_cluster(samples, &cluster) {
            let sent: Result<serde_json::Value, _> =
                client.call(&format!("{AGENT_TARGET}.SubmitTaskMetrics"), &input).await;
            if let Err(e) = sent {
                tracing::debug!(cluster = %input.cluster, error = %e, "reporting task metrics failed");
            }
        }
    }
}

/// One request per cluster the sampled tasks belong to.
fn by_cluster(samples: Vec<TaskSample>, default: &str) -> Vec<SubmitTaskMetricsRequest> {
    let mut out: BTreeMap<String, Vec<TaskSample>> = BTreeMap::new();
    for s in samples {
        let cluster = crate::supervisor::task_cluster(&s.task_arn).unwrap_or_else(|| default.to_string());
        out.entry(cluster).or_default().push(s);
    }
    out.into_iter().map(|(cluster, samples)| SubmitTaskMetricsRequest { cluster, samples }).collect()
}

/// One sample of every running task (those whose containers all have a baseline).
async fn sample(state: &SharedState, runtime: &dyn ContainerRuntime, baselines: &mut Baselines) -> Vec<TaskSample> {
    let tasks: Vec<(String, Vec<String>)> = state.read(|s| {
        s.tasks
            .iter()
            .filter(|(_, r)| r.metered && r.stopped_at_ms.is_none())
            .map(|(arn, r)| (arn.clone(), r.containers.values().cloned().collect()))
            .collect()
    });
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (task_arn, containers) in tasks {
        let (mut cpu_units, mut memory_mib, mut complete) = (0.0, 0.0, !containers.is_empty());
        for id in containers {
            let Ok(Some(stats)) = runtime.stats(&id).await else {
                complete = false;
                continue;
            };
            seen.push(id.clone());
            let now = Instant::now();
            let total = stats.pointer("/cpu_stats/cpu_usage/total_usage").and_then(|v| v.as_u64()).unwrap_or(0);
            match baselines.insert(id, (total, now)) {
                Some((before, at)) if now > at => {
                    let cores = total.saturating_sub(before) as f64 / now.duration_since(at).as_nanos() as f64;
                    cpu_units += cores * 1024.0;
                }
                _ => complete = false,
            }
            memory_mib += memory_in_use(&stats) / (1024.0 * 1024.0);
        }
        if complete {
            out.push(TaskSample { task_arn, timestamp: crate::supervisor::now_ms(), cpu_units, memory_mib });
        }
    }
    baselines.retain(|id, _| seen.contains(id));
    out
}

/// Bytes in use: the usage less the inactive page cache (cgroup v2's
/// `inactive_file`, v1's `total_inactive_file`), as `docker stats` shows it.
fn memory_in_use(stats: &serde_json::Value) -> f64 {
    let usage = stats.pointer("/memory_stats/usage").and_then(|v| v.as_u64()).unwrap_or(0);
    let cache = ["/memory_stats/stats/inactive_file", "/memory_stats/stats/total_inactive_file"]
        .iter()
        .find_map(|p| stats.pointer(p).and_then(|v| v.as_u64()))
        .unwrap_or(0);
    usage.saturating_sub(cache) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn samples_go_to_their_tasks_clusters() {
        let sample = |arn: &str| TaskSample { task_arn: arn.into(), timestamp: 1, cpu_units: 1.0, memory_mib: 1.0 };
        let requests = by_cluster(
            vec![
                sample("arn:aws:ecs:us-east-1:000000000000:task/blue/a"),
                sample("arn:aws:ecs:us-east-1:000000000000:task/green/b"),
                sample("arn:aws:ecs:us-east-1:000000000000:task/blue/c"),
                sample("arn:aws:ecs:us-east-1:000000000000:task/d"),
            ],
            "home",
        );
        let shape: Vec<(&str, usize)> = requests.iter().map(|r| (r.cluster.as_str(), r.samples.len())).collect();
        assert_eq!(shape, [("blue", 2), ("green", 1), ("home", 1)]);
    }

    #[test]
    fn memory_leaves_out_the_inactive_page_cache() {
        let v2 = json!({"memory_stats": {"usage": 10_485_760, "stats": {"inactive_file": 2_097_152}}});
        assert_eq!(memory_in_use(&v2), 8_388_608.0);
        let v1 = json!({"memory_stats": {"usage": 4_194_304, "stats": {"total_inactive_file": 4_194_304}}});
        assert_eq!(memory_in_use(&v1), 0.0);
        assert_eq!(memory_in_use(&json!({})), 0.0);
    }
}
