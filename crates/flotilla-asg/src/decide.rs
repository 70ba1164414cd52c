//! The controller's pure decision: a group and what is observed of its instances in,
//! which instances to terminate and where to launch new ones out. No I/O, no clock
//! but the `now` it is given.
//!
//! The rules, in order:
//!
//! 1. A live (Pending or InService) instance found `Unhealthy` (its process is gone)
//!    is terminated and does not count: health replacement ignores scale-in
//!    protection, as on AWS.
//! 2. More healthy live instances than desired: the surplus is terminated among
//!    those not protected from scale in, chosen by the group's termination policies
//!    (below). When too many are protected, fewer are terminated; the group stays
//!    above its desired capacity until protection is removed (AWS does the same).
//!    A group being force-deleted terminates every instance, protected or not.
//! 3. Fewer than desired: the difference is launched, each in the zone with the
//!    fewest live instances (ties: the group's order). After failed launches
//!    (`launch_failures`), nothing is launched before `retry_launch_at`, and then a
//!    single launch probes whether launching works again ([`launch_backoff`]).
//!
//! Termination policies (AWS's names; applied after zone balancing, each narrowing the
//! candidates; `Default` is AWS's default policy):
//! - zone balancing first: the zone with the most unprotected candidates (ties: the
//!   zone sorted first);
//! - `OldestLaunchConfiguration`: instances launched from another configuration than
//!   the group's current one;
//! - `ClosestToNextInstanceHour`: the instances nearest the end of an hour of running;
//! - `OldestInstance` / `NewestInstance`: the first / last launched;
//! - `Default`: `OldestLaunchConfiguration`, then `ClosestToNextInstanceHour`;
//! - `OldestLaunchTemplate` and `AllocationStrategy` narrow nothing (no templates, no
//!   mixed instances here).
//!
//! Where AWS then picks at random, the oldest instance (then the smallest id) is
//! taken, so the decision is reproducible.

use crate::model::{Health, Lifecycle};
use std::collections::BTreeMap;
use std::time::Duration;

/// The termination policies a group may name.
pub const TERMINATION_POLICIES: &[&str] = &[
    "Default",
    "OldestInstance",
    "NewestInstance",
    "OldestLaunchConfiguration",
    "ClosestToNextInstanceHour",
    "OldestLaunchTemplate",
    "AllocationStrategy",
];

/// The group as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub desired: i64,
    /// Zones in the group's order (one entry per placement; repeats are fine).
    pub zones: Vec<String>,
    pub launch_configuration: String,
    pub termination_policies: Vec<String>,
    pub launch_failures: u32,
    /// Epoch ms before which no launch is tried after failures.
    pub retry_launch_at: Option<i64>,
    /// Force-deleted: every instance goes, protected or not.
    pub deleting: bool,
}

/// One instance as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub id: String,
    pub zone: String,
    pub lifecycle: Lifecycle,
    pub health: Health,
    pub protected: bool,
    pub launch_configuration: String,
    /// Epoch ms.
    pub launched_at: i64,
}

/// Why an instance is terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its health check failed; it is replaced.
    Unhealthy,
    /// The group has more instances than desired.
    ScaleIn,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub terminate: Vec<(String, Why)>,
    /// One zone per instance to launch.
    pub launch: Vec<String>,
}

/// The first retry after a failed launch waits this long…
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
/// …doubling up to this.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// How long to wait before launching again after `failures` failed launches in a row:
/// 10 s, doubling, at most 5 minutes.
pub fn launch_backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(MAX_RETRY)
}

/// The decision for one group at `now` (epoch ms).
pub fn decide(group: &GroupView, instances: &[InstanceView], now: i64) -> Decision {
    let mut decision = Decision::default();
    let live: Vec<&InstanceView> =
        instances.iter().filter(|i| matches!(i.lifecycle, Lifecycle::Pending | Lifecycle::InService)).collect();
    for i in live.iter().filter(|i| i.health == Health::Unhealthy) {
        decision.terminate.push((i.id.clone(), Why::Unhealthy));
    }
    let healthy: Vec<&InstanceView> = live.into_iter().filter(|i| i.health == Health::Healthy).collect();
    let desired = if group.deleting { 0 } else { group.desired.max(0) } as usize;
    if healthy.len() > desired {
        let candidates: Vec<&InstanceView> =
            healthy.iter().copied().filter(|i| group.deleting || !i.protected).collect();
        for id in choose_victims(group, candidates, healthy.len() - desired, now) {
            decision.terminate.push((id, Why::ScaleIn));
        }
    } else if healthy.len() < desired && !group.zones.is_empty() {
        let mut wanted = desired - healthy.len();
        if group.launch_failures > 0 {
            if group.retry_launch_at.is_some_and(|at| now < at) {
                wanted = 0;
            }
            wanted = wanted.min(1);
        }
        let mut per_zone: BTreeMap<&str, usize> = group.zones.iter().map(|z| (z.as_str(), 0)).collect();
        for i in &healthy {
            if let Some(n) = per_zone.get_mut(i.zone.as_str()) {
                *n += 1;
            }
        }
        for _ in 0..wanted {
            // The group's order breaks ties, not the map's.
            let zone = group
                .zones
                .iter()
                .min_by_key(|z| per_zone.get(z.as_str()).copied().unwrap_or(0))
                .expect("zones is not empty");
            *per_zone.entry(zone.as_str()).or_default() += 1;
            decision.launch.push(zone.clone());
        }
    }
    decision
}

/// `count` instances of `candidates` to terminate, one at a time: zone balance, then
/// the policies.
fn choose_victims(group: &GroupView, mut candidates: Vec<&InstanceView>, count: usize, now: i64) -> Vec<String> {
    let mut chosen = Vec::new();
    while chosen.len() < count && !candidates.is_empty() {
        let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &candidates {
            *per_zone.entry(c.zone.as_str()).or_default() += 1;
        }
        // The zone with the most candidates; the one sorted first among equals.
        let most = per_zone.values().copied().max().unwrap_or(0);
        let zone = per_zone.iter().find(|(_, n)| **n == most).map(|(z, _)| z.to_string()).unwrap_or_default();
        let mut pool: Vec<&InstanceView> = candidates.iter().copied().filter(|c| c.zone == zone).collect();
        for policy in &group.termination_policies {
            pool = narrow(policy, pool, group, now);
        }
        let victim = pool
            .into_iter()
            .min_by(|a, b| a.launched_at.cmp(&b.launched_at).then_with(|| a.id.cmp(&b.id)))
            .expect("the zone has candidates")
            .id
            .clone();
        candidates.retain(|c| c.id != victim);
        chosen.push(victim);
    }
    chosen
}

/// The candidates one policy prefers (all of them when it prefers none).
fn narrow<'a>(policy: &str, pool: Vec<&'a InstanceView>, group: &GroupView, now: i64) -> Vec<&'a InstanceView> {
    let keep =
        |pool: Vec<&'a InstanceView>, chosen: Vec<&'a InstanceView>| if chosen.is_empty() { pool } else { chosen };
    match policy {
        "Default" => {
            let pool = narrow("OldestLaunchConfiguration", pool, group, now);
            narrow("ClosestToNextInstanceHour", pool, group, now)
        }
        "OldestLaunchConfiguration" => {
            let old = pool.iter().copied().filter(|i| i.launch_configuration != group.launch_configuration).collect();
            keep(pool, old)
        }
        "ClosestToNextInstanceHour" => {
            const HOUR: i64 = 3_600_000;
            let left = |i: &InstanceView| HOUR - (now - i.launched_at).rem_euclid(HOUR);
            let least = pool.iter().map(|i| left(i)).min().unwrap_or(0);
            let closest = pool.iter().copied().filter(|i| left(i) == least).collect();
            keep(pool, closest)
        }
        "OldestInstance" => {
            let first = pool.iter().map(|i| i.launched_at).min().unwrap_or(0);
            let oldest = pool.iter().copied().filter(|i| i.launched_at == first).collect();
            keep(pool, oldest)
        }
        "NewestInstance" => {
            let last = pool.iter().map(|i| i.launched_at).max().unwrap_or(0);
            let newest = pool.iter().copied().filter(|i| i.launched_at == last).collect();
            keep(pool, newest)
        }
        _ => pool,
    }
}

#[cfg(test)]
mod tests;
