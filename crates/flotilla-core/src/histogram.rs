//! A latency histogram with Prometheus's cumulative buckets, shared by whoever
//! measures durations (API requests, placements) and the `/metrics` renderer.

use std::fmt::Write;

/// Upper bounds of the buckets, in seconds (`+Inf` is implied).
pub const LATENCY_BUCKETS: [f64; 11] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or below each bound of [`LATENCY_BUCKETS`] (not cumulative).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends `NAME_bucket{LABELS,le=…}`, `NAME_sum` and `NAME_count` lines;
    /// `labels` is `key="value",…` or empty.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {:.6}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_infinity_counts_everything() {
        let mut h = Histogram::default();
        for s in [0.0001, 0.003, 0.003, 7.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render("x_seconds", "op=\"A\"", &mut out);
        assert!(out.contains("x_seconds_bucket{op=\"A\",le=\"0.0005\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{op=\"A\",le=\"0.005\"} 3\n"));
        assert!(out.contains("x_seconds_bucket{op=\"A\",le=\"5\"} 3\n"));
        assert!(out.contains("x_seconds_bucket{op=\"A\",le=\"+Inf\"} 4\n"));
        assert!(out.contains("x_seconds_count{op=\"A\"} 4\n"));
        let mut bare = String::new();
        h.render("y", "", &mut bare);
        assert!(bare.contains("y_bucket{le=\"+Inf\"} 4\n") && bare.contains("y_count 4\n"));
    }
}
