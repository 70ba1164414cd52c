//! Prometheus metrics at `/metrics`: API requests by operation and status with a
//! latency histogram per operation, ECS's tasks by status, container instances and
//! connected agents, services, placements and their latency, registry blob traffic,
//! and the process's resident memory.

use flotilla_domain::flotilla_core::histogram::Histogram;
use flotilla_ecs_api::{EcsGauges, PlacementSnapshot};
use flotilla_protocol::RequestObserver;
use flotilla_registry::TrafficSnapshot;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Request counters and latencies kept by the front door's observer.
pub struct Metrics {
    started: Instant,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self { started: Instant::now(), requests: Mutex::default(), latency: Mutex::default() }
    }
}

impl RequestObserver for Metrics {
    fn observe(&self, operation: Option<&'static str>, status: u16, elapsed: Duration) {
        // Only operations of a module's table become labels; every other request
        // counts as `unknown`, so clients cannot grow the label set.
        let operation = operation.unwrap_or("unknown").to_string();
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry((operation.clone(), status)).or_default() += 1;
        self.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }
}

/// What the control plane's modules report when scraped.
#[derive(Default)]
pub struct Sources {
    pub ecs: Option<EcsGauges>,
    pub placements: Option<PlacementSnapshot>,
    pub registry: Option<TrafficSnapshot>,
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone();
        header(
            &mut out,
            "flotilla_api_requests_total",
            "counter",
            "API requests answered, by operation and HTTP status.",
        );
        for ((op, status), count) in &requests {
            let _ = writeln!(out, "flotilla_api_requests_total{{operation=\"{op}\",status=\"{status}\"}} {count}");
        }
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner()).clone();
        header(&mut out, "flotilla_api_request_duration_seconds", "histogram", "Time spent answering API requests.");
        for (op, h) in &latency {
            h.render("flotilla_api_request_duration_seconds", &format!("operation=\"{op}\""), &mut out);
        }
        if let Some(g) = &sources.ecs {
            header(
                &mut out,
                "flotilla_ecs_tasks",
                "gauge",
                "ECS tasks by status (PENDING counts every status before RUNNING).",
            );
            let _ = writeln!(out, "flotilla_ecs_tasks{{status=\"RUNNING\"}} {}", g.running_tasks);
            let _ = writeln!(out, "flotilla_ecs_tasks{{status=\"PENDING\"}} {}", g.pending_tasks);
            header(&mut out, "flotilla_ecs_clusters", "gauge", "ECS clusters.");
            let _ = writeln!(out, "flotilla_ecs_clusters {}", g.clusters);
            header(&mut out, "flotilla_ecs_container_instances", "gauge", "Registered container instances.");
            let _ = writeln!(out, "flotilla_ecs_container_instances {}", g.registered_instances);
            header(&mut out, "flotilla_ecs_connected_agents", "gauge", "Container instances whose agent is connected.");
            let _ = writeln!(out, "flotilla_ecs_connected_agents {}", g.connected_agents);
            header(&mut out, "flotilla_ecs_active_services", "gauge", "ACTIVE services.");
            let _ = writeln!(out, "flotilla_ecs_active_services {}", g.active_services);
        }
        if let Some(p) = &sources.placements {
            header(&mut out, "flotilla_ecs_placements_total", "counter", "Tasks placed, and tasks that could not be.");
            let _ = writeln!(out, "flotilla_ecs_placements_total{{result=\"placed\"}} {}", p.placed);
            let _ = writeln!(out, "flotilla_ecs_placements_total{{result=\"unplaced\"}} {}", p.unplaced);
            header(
                &mut out,
                "flotilla_ecs_placement_duration_seconds",
                "histogram",
                "Time one placement (a transaction placing one or more tasks) took.",
            );
            p.latency.render("flotilla_ecs_placement_duration_seconds", "", &mut out);
        }
        if let Some(t) = &sources.registry {
            header(&mut out, "flotilla_registry_blobs_total", "counter", "Registry blobs pushed and pulled.");
            let _ = writeln!(out, "flotilla_registry_blobs_total{{direction=\"push\"}} {}", t.blobs_pushed);
            let _ = writeln!(out, "flotilla_registry_blobs_total{{direction=\"pull\"}} {}", t.blobs_pulled);
            header(&mut out, "flotilla_registry_bytes_total", "counter", "Registry blob bytes pushed and pulled.");
            let _ = writeln!(out, "flotilla_registry_bytes_total{{direction=\"push\"}} {}", t.bytes_pushed);
            let _ = writeln!(out, "flotilla_registry_bytes_total{{direction=\"pull\"}} {}", t.bytes_pulled);
        }
        header(&mut out, "flotilla_uptime_seconds", "gauge", "Seconds since the process started.");
        let _ = writeln!(out, "flotilla_uptime_seconds {:.3}", self.started.elapsed().as_secs_f64());
        if let Some(rss) = resident_bytes() {
            header(&mut out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }
}

/// Resident set size from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_sources() {
        let m = Metrics::default();
        m.observe(Some("ListClusters"), 200, Duration::from_millis(2));
        m.observe(Some("ListClusters"), 200, Duration::from_millis(2));
        m.observe(None, 400, Duration::from_millis(1));
        let sources = Sources {
            ecs: Some(EcsGauges { running_tasks: 3, connected_agents: 1, ..EcsGauges::default() }),
            placements: None,
            registry: Some(TrafficSnapshot { blobs_pushed: 2, bytes_pushed: 10, ..TrafficSnapshot::default() }),
        };
        let text = m.render(&sources);
        assert!(text.contains("flotilla_api_requests_total{operation=\"ListClusters\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("flotilla_api_requests_total{operation=\"unknown\",status=\"400\"} 1"), "{text}");
        assert!(
            text.contains("flotilla_api_request_duration_seconds_bucket{operation=\"ListClusters\",le=\"0.0025\"} 2")
        );
        assert!(text.contains("flotilla_ecs_tasks{status=\"RUNNING\"} 3"));
        assert!(text.contains("flotilla_ecs_connected_agents 1"));
        assert!(text.contains("flotilla_registry_bytes_total{direction=\"push\"} 10"));
        assert!(!text.contains("flotilla_ecs_placements_total"));
    }
}
