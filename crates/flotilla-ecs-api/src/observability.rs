//! What ECS shows at `/metrics`: placements (how many tasks were placed or not, and
//! how long placing took) and gauges read from the store when scraped (tasks by
//! status, registered and connected container instances, active services).

use crate::EcsService;
use crate::error::EcsError;
use flotilla_domain::Timestamp;
use flotilla_domain::flotilla_core::histogram::Histogram;
use flotilla_store::Page;
use std::sync::Mutex;

/// Placement counters, kept since the process started.
#[derive(Debug, Default)]
pub struct PlacementStats {
    inner: Mutex<PlacementSnapshot>,
}

#[derive(Debug, Clone, Default)]
pub struct PlacementSnapshot {
    pub placed: u64,
    pub unplaced: u64,
    /// Seconds each placement call (one transaction placing one or more tasks) took.
    pub latency: Histogram,
}

impl PlacementStats {
    pub(crate) fn record(&self, placed: usize, unplaced: usize, seconds: f64) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.placed += placed as u64;
        s.unplaced += unplaced as u64;
        s.latency.observe(seconds);
    }

    pub fn snapshot(&self) -> PlacementSnapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Gauges over every cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcsGauges {
    pub clusters: i64,
    pub running_tasks: i64,
    pub pending_tasks: i64,
    pub registered_instances: i64,
    /// Instances whose agent is connected now.
    pub connected_agents: i64,
    pub active_services: i64,
}

impl EcsService {
    pub fn placement_stats(&self) -> PlacementSnapshot {
        self.placements.snapshot()
    }

    /// Reads the gauges from the store (at scrape time).
    pub async fn gauges(&self) -> Result<EcsGauges, EcsError> {
        let mut g = EcsGauges::default();
        let now = Timestamp::now();
        let mut page = Page { after: None, limit: 100 };
        loop {
            let names = self.store.list_cluster_names(page.clone()).await?;
            for name in &names {
                let counts = self.store.cluster_counts(name).await?;
                g.clusters += 1;
                g.running_tasks += counts.running_tasks;
                g.pending_tasks += counts.pending_tasks;
                g.registered_instances += counts.registered_container_instances;
                g.active_services += counts.active_services;
                let loads = self.instance_loads(name).await?;
                g.connected_agents += loads.iter().filter(|l| l.instance.agent_connected(now)).count() as i64;
            }
            match names.last() {
                Some(last) if names.len() == 100 => page.after = Some(last.clone()),
                _ => return Ok(g),
            }
        }
    }
}
