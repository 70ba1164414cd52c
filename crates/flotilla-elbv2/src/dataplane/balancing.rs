//! Which target of a target group gets a request, as an Application Load Balancer
//! decides it: the group's routing algorithm (`load_balancing.algorithm.type`) among
//! its healthy targets (every target when none is healthy: ALB fails open), with
//! targets in slow start (`slow_start.duration_seconds`) getting a share that rises
//! linearly from nothing to a full share over the window. The decision ([`choose`]) is
//! pure and table-tested; what it needs to remember between requests — requests in
//! flight per target, the round-robin cursor per group — lives in [`Load`], which the
//! data plane owns so it outlives the routing tables it rebuilds every pass.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A target group's routing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Each target in turn.
    #[default]
    RoundRobin,
    /// The target with the fewest requests in flight; ties in turn.
    LeastOutstandingRequests,
    /// A random target (without anomaly mitigation, which is not modelled).
    WeightedRandom,
}

impl Algorithm {
    /// The algorithm a `load_balancing.algorithm.type` value names (round robin
    /// for anything else, as for a TCP group, which has no such attribute).
    pub fn from_attribute(value: Option<&str>) -> Self {
        match value {
            Some("least_outstanding_requests") => Self::LeastOutstandingRequests,
            Some("weighted_random") => Self::WeightedRandom,
            _ => Self::RoundRobin,
        }
    }
}

/// One target as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub addr: SocketAddr,
    pub healthy: bool,
    /// Requests sent to it and not yet answered in full.
    pub in_flight: usize,
    /// When it became healthy, if it entered slow start then; `None` for a target that
    /// did not (healthy before slow start was enabled or before this process knew it,
    /// the first healthy targets of a group, or simply unhealthy).
    pub healthy_since: Option<Instant>,
}

/// The share of a full share a target gets now: `elapsed / window` while it is in
/// slow start, 1 after it (or without slow start).
pub fn ramp(healthy_since: Option<Instant>, slow_start: Duration, now: Instant) -> f64 {
    match healthy_since {
        Some(since) if !slow_start.is_zero() => {
            let elapsed = now.saturating_duration_since(since);
            (elapsed.as_secs_f64() / slow_start.as_secs_f64()).min(1.0)
        }
        _ => 1.0,
    }
}

/// A number in [0, 1) for pick `k`, evenly spread over any run of picks (and over the
/// picks `k ≡ r (mod n)` of any residue): the golden-ratio sequence, in integers.
fn spread(k: u64) -> f64 {
    (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64
}

/// A well-mixed hash of `k` (splitmix64's finaliser), for the random algorithm.
fn mix(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The index in `targets` of the one that gets pick number `cursor` (callers count
/// picks per target group), or `None` when there is no target.
///
/// - The healthy targets are the pool; when none is healthy, every target is (fail open),
///   and slow start plays no part.
/// - A target in slow start with ramp `w` (see [`ramp`]) is admitted to a pick with
///   probability `w` — deterministically, through an evenly spread sequence of the
///   cursor — so over many picks it gets `w` of a full share and the others the rest.
///   Slow start applies only while some healthy target is out of it: a target that is
///   the only healthy one (or all of whose healthy peers are ramping too) gets a full share.
/// - Among the admitted targets: round robin takes them in turn, least outstanding
///   requests the one with the fewest requests in flight (ties in turn), weighted random
///   one at random. AWS refuses slow start with the last two; should a group still
///   have both, the ramp applies here the same way.
pub fn choose(
    targets: &[Candidate],
    algorithm: Algorithm,
    slow_start: Duration,
    now: Instant,
    cursor: u64,
) -> Option<usize> {
    let healthy: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].healthy).collect();
    let fail_open = healthy.is_empty();
    let pool: Vec<usize> = if fail_open { (0..targets.len()).collect() } else { healthy };
    if pool.is_empty() {
        return None;
    }
    let weights: Vec<f64> = if fail_open {
        vec![1.0; pool.len()]
    } else {
        pool.iter().map(|&i| ramp(targets[i].healthy_since, slow_start, now)).collect()
    };
    let ramping = weights.iter().any(|&w| w < 1.0);
    let anchored = weights.iter().any(|&w| w >= 1.0);
    let admitted: Vec<usize> = if ramping && anchored {
        let u = spread(cursor);
        pool.iter().zip(&weights).filter(|&(_, &w)| u < w).map(|(&i, _)| i).collect()
    } else {
        pool
    };
    let turn = |n: usize| (cursor % n as u64) as usize;
    match algorithm {
        Algorithm::RoundRobin => Some(admitted[turn(admitted.len())]),
        Algorithm::LeastOutstandingRequests => {
            let least = admitted.iter().map(|&i| targets[i].in_flight).min()?;
            let tied: Vec<usize> = admitted.into_iter().filter(|&i| targets[i].in_flight == least).collect();
            Some(tied[turn(tied.len())])
        }
        Algorithm::WeightedRandom => Some(admitted[(mix(cursor) % admitted.len() as u64) as usize]),
    }
}

/// What picks remember across the data plane's rebuilds of its routing tables:
/// requests in flight per (target group, target address) and each group's cursor.
/// Tables hold the counters they use; an entry nobody holds any longer is pruned.
#[derive(Debug, Default)]
pub(crate) struct Load {
    in_flight: Mutex<HashMap<(String, SocketAddr), Arc<AtomicUsize>>>,
    cursors: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl Load {
    /// The in-flight counter of a target of a group.
    pub fn in_flight(&self, group: &str, addr: SocketAddr) -> Arc<AtomicUsize> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((group.to_string(), addr)).or_default().clone()
    }

    /// A group's pick counter.
    pub fn cursor(&self, group: &str) -> Arc<AtomicU64> {
        let mut map = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(group.to_string()).or_default().clone()
    }

    /// Forgets the counters of targets and groups no longer served that no table or
    /// request holds.
    pub fn prune(&self, groups: &HashSet<String>, targets: &HashSet<(String, SocketAddr)>) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, c| targets.contains(k) || Arc::strong_count(c) > 1);
        self.cursors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, c| groups.contains(k) || Arc::strong_count(c) > 1);
    }
}

/// One request in flight to a target: counted from its pick until it is dropped —
/// with the response body once that is sent in full (or the client is gone), or where
/// the request ended in an error or a timeout.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
