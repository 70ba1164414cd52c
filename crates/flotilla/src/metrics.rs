//! Prometheus metrics at `/metrics`: API requests by operation and status, their
//! latency, and the process's resident memory.

use flotilla_protocol::RequestObserver;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    seconds: f64,
}

/// Request counters kept by the front door's observer.
pub struct Metrics {
    started: Instant,
    requests: Mutex<BTreeMap<(String, u16), Tally>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self { started: Instant::now(), requests: Mutex::new(BTreeMap::new()) }
    }
}

impl RequestObserver for Metrics {
    fn observe(&self, operation: Option<&'static str>, status: u16, elapsed: Duration) {
        // Only operations of a module's table become labels; every other request
        // counts as `unknown`, so clients cannot grow the label set.
        let operation = operation.unwrap_or("unknown").to_string();
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let t = requests.entry((operation, status)).or_default();
        t.count += 1;
        t.seconds += elapsed.as_secs_f64();
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone();
        out.push_str("# HELP flotilla_api_requests_total API requests answered, by operation and HTTP status.\n");
        out.push_str("# TYPE flotilla_api_requests_total counter\n");
        for ((op, status), t) in &requests {
            let _ = writeln!(out, "flotilla_api_requests_total{{operation=\"{op}\",status=\"{status}\"}} {}", t.count);
        }
        out.push_str("# HELP flotilla_api_request_seconds_total Time spent answering API requests.\n");
        out.push_str("# TYPE flotilla_api_request_seconds_total counter\n");
        for ((op, status), t) in &requests {
            let _ = writeln!(
                out,
                "flotilla_api_request_seconds_total{{operation=\"{op}\",status=\"{status}\"}} {:.6}",
                t.seconds
            );
        }
        out.push_str("# HELP flotilla_uptime_seconds Seconds since the process started.\n");
        out.push_str("# TYPE flotilla_uptime_seconds gauge\n");
        let _ = writeln!(out, "flotilla_uptime_seconds {:.3}", self.started.elapsed().as_secs_f64());
        if let Some(rss) = resident_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
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
    fn renders_counters() {
        let m = Metrics::default();
        m.observe(Some("ListClusters"), 200, Duration::from_millis(2));
        m.observe(Some("ListClusters"), 200, Duration::from_millis(2));
        m.observe(None, 400, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains("flotilla_api_requests_total{operation=\"ListClusters\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("flotilla_api_requests_total{operation=\"unknown\",status=\"400\"} 1"), "{text}");
    }
}
