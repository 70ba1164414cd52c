//! The placement process: filter on state and resources, constraints, strategies,
//! selection — for one task at a time, updating the snapshot after each.
//!
//! # How it stays fast
//!
//! A [`Placer`] prepares a request once per call: it evaluates the static part of the
//! constraints (everything but `runningTasksCount` and `task:group`) for every
//! instance, drops instances that can never take the task, and indexes the rest.
//! Strategies are applied in order as successive filters, which is the same as picking
//! the lexicographic minimum of a per-instance key; the key is split in three:
//!
//! 1. leading `spread` strategies on attributes partition the candidates by their
//!    attribute values; a partition's key is the group's task count per value;
//! 2. up to two following `binpack` / `spread instanceId` strategies give a
//!    per-instance key kept in an ordered index (a `BTreeSet<u128>`) per partition,
//!    followed by a random priority (the tie-breaker) and the instance id, all packed
//!    in one `u128`. The priority starts random and advances by a random step each time
//!    a task lands on the instance, so equally good instances take turns in a random
//!    order (a randomized round-robin: fair over time, though an instance just chosen
//!    is less likely than 1/n to be chosen again at once);
//! 3. anything after that (an attribute `spread` that follows a per-instance strategy,
//!    a third per-instance strategy) is applied by scanning the tied candidates —
//!    correct, but linear in their number.
//!
//! Placing a task re-keys one instance (O(log n)) and bumps one count per attribute
//! spread. The state an instance is checked against only changes when a task lands on
//! it, and resources and ports only shrink, so an instance found infeasible during a
//! call is dropped from the index for the rest of the call; each selection looks at
//! the first feasible entry of each partition.
//!
//! # Failure reasons
//!
//! When a task cannot be placed, [`PlacementOutcome::failures`] has one entry per
//! `ACTIVE` container instance with the first check it fails, in ECS's order, and the
//! exact strings ECS puts in RunTask's `failures[].reason` ([`FailureReason::as_str`]).
//! [`PlacementOutcome::closest_reason`] is the reason of the instance that got furthest
//! through the pipeline (ECS's "closest matching container instance"): the stage that
//! eliminated the last candidates. `DRAINING` and other non-`ACTIVE` instances are not
//! candidates and are not reported.

use std::collections::{BTreeSet, HashMap};

use crate::constraint::{self, PlacementConstraint};
use crate::cql::Compiled;
use crate::error::PlacementError;
use crate::rng::SplitMix64;
use crate::snapshot::{InstanceId, InstanceStatus, NO_VALUE, Snapshot, Sym, TaskResources};
use crate::strategy::{self, BinpackField, PlacementStrategy, SpreadField};

/// The largest `count` ECS accepts in one RunTask or StartTask call; [`place`] itself
/// takes any positive count (services place many), the API layer enforces this one.
pub const RUN_TASK_MAX_COUNT: u32 = 10;

/// What to place: one task definition's needs, `count` times.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// CPU, memory and static host ports of one task.
    pub resources: TaskResources,
    /// The task group (`family:NAME` by default for RunTask, `service:NAME` for
    /// services); spread and distinctInstance count tasks of this group.
    pub group: String,
    /// Task definition's and the call's constraints together.
    pub constraints: Vec<PlacementConstraint>,
    /// Strategies in order; empty means random.
    pub strategies: Vec<PlacementStrategy>,
    /// The task definition's `requiresAttributes` (name, optional value); an instance
    /// missing one fails with `ATTRIBUTE`.
    pub required_attributes: Vec<(String, Option<String>)>,
    /// Number of tasks.
    pub count: u32,
    /// Seed of the random choices (random strategy and ties).
    pub seed: u64,
}

impl TaskRequest {
    /// `count` tasks of `group` with RunTask's default strategy, no constraints, seed 0.
    pub fn new(resources: TaskResources, group: impl Into<String>, count: u32) -> Self {
        Self {
            resources,
            group: group.into(),
            constraints: Vec::new(),
            strategies: strategy::default_run_task_strategies(),
            required_attributes: Vec::new(),
            count,
            seed: 0,
        }
    }
}

/// Why a container instance could not take a task. Declared in pipeline order: a later
/// variant got further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureReason {
    /// The agent is disconnected.
    Agent,
    /// A required attribute is missing.
    Attribute,
    /// Not enough CPU.
    ResourceCpu,
    /// Not enough memory.
    ResourceMemory,
    /// A static TCP host port is taken.
    ResourcePorts,
    /// A static UDP host port is taken.
    ResourcePortsUdp,
    /// A memberOf expression does not hold.
    MemberOf,
    /// The instance already runs a task of the group.
    DistinctInstance,
}

impl FailureReason {
    /// The string ECS reports in `failures[].reason`.
    ///
    /// Sources: "API failure reasons" in the ECS developer guide (`AGENT`, `ATTRIBUTE`,
    /// `RESOURCE:*` with CPU, MEMORY, PORTS, PORTS_UDP as the resource names ECS uses
    /// in `remainingResources`), and RunTask responses quoted in
    /// aws/amazon-ecs-agent#3044 and aws-samples/amazon-chime-sdk-recording-demo#32
    /// for the two constraint messages (with their trailing period, as ECS sends them).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "AGENT",
            Self::Attribute => "ATTRIBUTE",
            Self::ResourceCpu => "RESOURCE:CPU",
            Self::ResourceMemory => "RESOURCE:MEMORY",
            Self::ResourcePorts => "RESOURCE:PORTS",
            Self::ResourcePortsUdp => "RESOURCE:PORTS_UDP",
            Self::MemberOf => "MemberOf placement constraint unsatisfied.",
            Self::DistinctInstance => "DistinctInstance placement constraint unsatisfied.",
        }
    }
}

/// One container instance that could not take the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The instance.
    pub instance: InstanceId,
    /// Its ARN (`failures[].arn`).
    pub arn: String,
    /// Why (`failures[].reason` is `reason.as_str()`).
    pub reason: FailureReason,
}

/// Where one task went.
pub type Placement = InstanceId;

/// The result of [`place`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementOutcome {
    /// One instance per placed task, in placement order.
    pub placements: Vec<Placement>,
    /// Tasks that could not be placed.
    pub unplaced: u32,
    /// When `unplaced > 0`: per ACTIVE instance, the first check it failed. Empty when
    /// the cluster has no ACTIVE instance at all (all draining or inactive); the API
    /// layer decides what to report then.
    pub failures: Vec<Failure>,
}

impl PlacementOutcome {
    /// The reason of the instance that got furthest (ECS's closest match).
    pub fn closest_reason(&self) -> Option<FailureReason> {
        self.failures.iter().map(|f| f.reason).max()
    }
}

/// Places `req.count` tasks, updating `snap` as it goes. Stops at the first task that
/// fits nowhere and reports why in [`PlacementOutcome::failures`].
pub fn place(snap: &mut Snapshot, req: &TaskRequest) -> Result<PlacementOutcome, PlacementError> {
    if req.count == 0 {
        return Err(PlacementError::InvalidCount { count: 0 });
    }
    let mut placer = Placer::new(snap, req)?;
    let mut placements = Vec::with_capacity(req.count as usize);
    for _ in 0..req.count {
        match placer.place_one() {
            Some(id) => placements.push(id),
            None => break,
        }
    }
    let unplaced = req.count - placements.len() as u32;
    let failures = if unplaced > 0 { placer.failures() } else { Vec::new() };
    Ok(PlacementOutcome { placements, unplaced, failures })
}

#[derive(Debug, Clone, Copy)]
enum InstKey {
    Cpu,
    Memory,
    GroupCount,
}

#[derive(Debug, Clone, Copy)]
enum TailStep {
    Attr(usize),
    Inst(InstKey),
}

/// Leading attribute spreads kept as partition levels.
const KEYS: usize = strategy::MAX_STRATEGIES;
/// Per-instance strategy keys kept in the ordered index; later ones go to the tail.
const INDEXED_KEYS: usize = 2;

/// Index key: first per-instance key (bits 96..128), second (64..96), random priority
/// (32..64), instance index (0..32). Ordering the `u128` orders by all four in turn.
type Key = u128;

fn key_idx(k: Key) -> usize {
    k as u32 as usize
}

fn key_prio(k: Key) -> u32 {
    (k >> 32) as u32
}

/// The strategy part of a key (both per-instance keys).
fn key_head(k: Key) -> u64 {
    (k >> 64) as u64
}

/// Largest random advance of an instance's tie-breaker per placement (2^32 / 128
/// placements on one instance before it saturates and ties fall back to id order).
const PRIO_STEP: usize = 256;

/// A small, fast, non-cryptographic hasher for the per-call maps (keys are symbols
/// and small arrays of dense indexes, never attacker-chosen in bulk).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        for b in chunks.remainder() {
            self.write_u64(*b as u64);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

#[derive(Debug)]
struct Partition {
    /// Dense value index per leading attribute spread.
    values: Vec<u32>,
    index: BTreeSet<Key>,
}

/// One attribute spread: per instance its dense value index, per value the group's
/// task count.
#[derive(Debug)]
struct Spread {
    value_of: Vec<u32>,
    counts: Vec<u64>,
}

const NOT_INDEXED: u32 = u32::MAX;

/// A prepared placement request over a snapshot; places one task per
/// [`Placer::place_one`].
#[derive(Debug)]
pub struct Placer<'s> {
    snap: &'s mut Snapshot,
    res: TaskResources,
    group: Sym,
    distinct: bool,
    member_of: Vec<Compiled>,
    /// Per instance, the memberOf expressions (bit i for expression i) its static
    /// attributes do not decide; only those are re-checked per placement.
    dyn_mask: Vec<u16>,
    required: Vec<(Option<Sym>, Option<Option<Sym>>)>,
    levels: Vec<usize>,
    inst_keys: Vec<InstKey>,
    tail: Vec<TailStep>,
    spreads: Vec<Spread>,
    partitions: Vec<Partition>,
    part_of: Vec<u32>,
    keys: Vec<Key>,
    rng: SplitMix64,
    scratch: Vec<Key>,
}

impl<'s> Placer<'s> {
    /// Validates and prepares `req` against `snap`.
    pub fn new(snap: &'s mut Snapshot, req: &TaskRequest) -> Result<Self, PlacementError> {
        if snap.is_empty() {
            return Err(PlacementError::NoContainerInstances);
        }
        strategy::check_count(&req.strategies)?;
        constraint::check_count(&req.constraints)?;
        let group = snap.interner.intern(&req.group);
        let mut distinct = false;
        let mut member_of = Vec::new();
        for c in &req.constraints {
            match c {
                PlacementConstraint::DistinctInstance => distinct = true,
                PlacementConstraint::MemberOf { expr, .. } => member_of.push(Compiled::new(expr, snap)),
            }
        }

        let required = req
            .required_attributes
            .iter()
            .map(|(n, v)| (snap.interner.get(n), v.as_deref().map(|v| snap.interner.get(v))))
            .collect();

        // split the strategy chain
        let mut levels = Vec::new();
        let mut inst_keys = Vec::new();
        let mut tail = Vec::new();
        let mut spread_attrs: Vec<Option<Sym>> = Vec::new();
        for s in &req.strategies {
            let ik = match s {
                PlacementStrategy::Random => break,
                PlacementStrategy::Spread(SpreadField::Attribute(name)) => {
                    spread_attrs.push(snap.interner.get(name));
                    let idx = spread_attrs.len() - 1;
                    if inst_keys.is_empty() && tail.is_empty() {
                        levels.push(idx);
                    } else {
                        tail.push(TailStep::Attr(idx));
                    }
                    continue;
                }
                PlacementStrategy::Spread(SpreadField::Instance) => InstKey::GroupCount,
                PlacementStrategy::Binpack(BinpackField::Cpu) => InstKey::Cpu,
                PlacementStrategy::Binpack(BinpackField::Memory) => InstKey::Memory,
            };
            if tail.is_empty() && inst_keys.len() < INDEXED_KEYS {
                inst_keys.push(ik);
            } else {
                tail.push(TailStep::Inst(ik));
            }
        }

        let n = snap.len();
        let spreads = spread_attrs
            .iter()
            .map(|name| {
                // symbol -> dense value index; the last slot is "no value"
                let none_slot = snap.interner.len();
                let mut dense = vec![u32::MAX; none_slot + 1];
                let mut value_of = Vec::with_capacity(n);
                let mut counts: Vec<u64> = Vec::new();
                for inst in &snap.instances {
                    let v = name.and_then(|a| inst.attr(a)).unwrap_or(NO_VALUE);
                    let slot = if v == NO_VALUE { none_slot } else { v as usize };
                    if dense[slot] == u32::MAX {
                        dense[slot] = counts.len() as u32;
                        counts.push(0);
                    }
                    let d = dense[slot];
                    counts[d as usize] += inst.group_count(group) as u64;
                    value_of.push(d);
                }
                Spread { value_of, counts }
            })
            .collect();

        let mut placer = Placer {
            snap,
            res: req.resources.clone(),
            group,
            distinct,
            member_of,
            dyn_mask: vec![0; n],
            required,
            levels,
            inst_keys,
            tail,
            spreads,
            partitions: Vec::new(),
            part_of: vec![NOT_INDEXED; n],
            keys: vec![0; n],
            rng: SplitMix64::new(req.seed),
            scratch: Vec::new(),
        };
        placer.build_index();
        Ok(placer)
    }

    fn build_index(&mut self) {
        // partition id by value tuple: a mixed-radix table when small, else a map
        let radices: Vec<usize> = self.levels.iter().map(|l| self.spreads[*l].counts.len()).collect();
        let cells = radices.iter().try_fold(1usize, |acc, r| acc.checked_mul(*r));
        let mut table = match cells {
            Some(c) if c <= 4096.max(self.snap.len()) => vec![u32::MAX; c],
            _ => Vec::new(),
        };
        let mut part_ids: FxMap<[u32; KEYS], u32> = FxMap::default();
        let mut pending: Vec<Vec<Key>> = Vec::new();
        for i in 0..self.snap.len() {
            let id = InstanceId(i as u32);
            let Some(mask) = self.static_ok(id) else {
                continue;
            };
            self.dyn_mask[i] = mask;
            if self.reason(id, false).is_some() {
                continue;
            }
            let mut values = [0u32; KEYS];
            for (slot, l) in self.levels.iter().enumerate() {
                values[slot] = self.spreads[*l].value_of[i];
            }
            let next = self.partitions.len() as u32;
            let p = if !table.is_empty() {
                let mut cell = 0usize;
                for (slot, r) in radices.iter().enumerate() {
                    cell = cell * r + values[slot] as usize;
                }
                if table[cell] == u32::MAX {
                    table[cell] = next;
                }
                table[cell]
            } else {
                *part_ids.entry(values).or_insert(next)
            };
            if p as usize == self.partitions.len() {
                self.partitions
                    .push(Partition { values: values[..self.levels.len()].to_vec(), index: BTreeSet::new() });
                pending.push(Vec::new());
            }
            self.part_of[i] = p;
            let key = self.fresh_key(i);
            self.keys[i] = key;
            pending[p as usize].push(key);
        }
        // bulk-build each index from sorted keys
        for (p, mut keys) in pending.into_iter().enumerate() {
            keys.sort_unstable();
            self.partitions[p].index = keys.into_iter().collect();
        }
    }

    /// Checks that never change during a call: status, agent, required attributes,
    /// the static part of memberOf expressions. `None` if one fails, else the mask of
    /// expressions left to check per placement.
    fn static_ok(&self, id: InstanceId) -> Option<u16> {
        let inst = self.snap.inst(id);
        if inst.status != InstanceStatus::Active || !inst.agent_connected || !self.required_ok(id) {
            return None;
        }
        let mut mask = 0u16;
        for (i, c) in self.member_of.iter().enumerate() {
            match c.eval_static(self.snap, id) {
                Some(true) => {}
                Some(false) => return None,
                None => mask |= 1 << i,
            }
        }
        Some(mask)
    }

    fn required_ok(&self, id: InstanceId) -> bool {
        let inst = self.snap.inst(id);
        self.required.iter().all(|(name, value)| {
            let Some(have) = name.and_then(|n| inst.attr(n)) else {
                return false;
            };
            match value {
                None => true,
                Some(want) => *want == Some(have),
            }
        })
    }

    /// The first check (after status) the instance fails, in ECS's order. With
    /// `all_member_of` false only the memberOf expressions its static attributes do not
    /// decide are evaluated (the rest was checked when building the index).
    fn reason(&self, id: InstanceId, all_member_of: bool) -> Option<FailureReason> {
        let inst = self.snap.inst(id);
        if !inst.agent_connected {
            return Some(FailureReason::Agent);
        }
        if all_member_of && !self.required_ok(id) {
            return Some(FailureReason::Attribute);
        }
        if inst.cpu < self.res.cpu {
            return Some(FailureReason::ResourceCpu);
        }
        if inst.memory < self.res.memory {
            return Some(FailureReason::ResourceMemory);
        }
        let (tcp, udp) = inst.ports_free(&self.res);
        if !tcp {
            return Some(FailureReason::ResourcePorts);
        }
        if !udp {
            return Some(FailureReason::ResourcePortsUdp);
        }
        let member_ok = if all_member_of {
            self.member_of.iter().all(|c| c.eval(self.snap, id))
        } else {
            let mut mask = self.dyn_mask[id.0 as usize];
            let mut ok = true;
            while mask != 0 && ok {
                let i = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                ok = self.member_of[i].eval(self.snap, id);
            }
            ok
        };
        if !member_ok {
            return Some(FailureReason::MemberOf);
        }
        if self.distinct && inst.group_count(self.group) > 0 {
            return Some(FailureReason::DistinctInstance);
        }
        None
    }

    fn fresh_key(&mut self, i: usize) -> Key {
        let inst = &self.snap.instances[i];
        let mut k: Key = 0;
        for (slot, ik) in self.inst_keys.iter().enumerate() {
            let v = match ik {
                InstKey::Cpu => inst.cpu,
                InstKey::Memory => inst.memory,
                InstKey::GroupCount => inst.group_count(self.group),
            };
            k |= (v as u128) << (96 - 32 * slot);
        }
        // the tie-breaker advances by a random step each time the instance is re-keyed:
        // a randomized round-robin among equals (a fresh draw would let an instance
        // whose key does not change win again and again)
        let prio = key_prio(self.keys[i]).saturating_add(1 + self.rng.below(PRIO_STEP) as u32);
        k | (prio as u128) << 32 | i as u128
    }

    /// Pops infeasible entries off the front of a partition and returns the first
    /// feasible one.
    fn first_feasible(&mut self, p: usize) -> Option<Key> {
        loop {
            let k = *self.partitions[p].index.first()?;
            if self.reason(InstanceId(key_idx(k) as u32), false).is_none() {
                return Some(k);
            }
            self.partitions[p].index.remove(&k);
            self.part_of[key_idx(k)] = NOT_INDEXED;
        }
    }

    fn partition_key(&self, p: usize) -> [u64; KEYS] {
        let mut pk = [0u64; KEYS];
        for (slot, (l, v)) in self.levels.iter().zip(&self.partitions[p].values).enumerate() {
            pk[slot] = self.spreads[*l].counts[*v as usize];
        }
        pk
    }

    fn inst_key_value(&self, i: usize, ik: InstKey) -> u64 {
        let inst = &self.snap.instances[i];
        match ik {
            InstKey::Cpu => inst.cpu as u64,
            InstKey::Memory => inst.memory as u64,
            InstKey::GroupCount => inst.group_count(self.group) as u64,
        }
    }

    /// Chooses the instance for the next task without placing it.
    fn select(&mut self) -> Option<usize> {
        let mut best: Option<([u64; KEYS], Key)> = None;
        for p in 0..self.partitions.len() {
            let Some(k) = self.first_feasible(p) else {
                continue;
            };
            let pk = self.partition_key(p);
            let better = match &best {
                None => true,
                Some((bpk, bk)) => (pk, k) < (*bpk, *bk),
            };
            if better {
                best = Some((pk, k));
            }
        }
        let (bpk, bk) = best?;
        if self.tail.is_empty() {
            return Some(key_idx(bk));
        }
        // slow path: gather every feasible candidate tied with the best so far
        let mut cands = std::mem::take(&mut self.scratch);
        cands.clear();
        for p in 0..self.partitions.len() {
            if self.partitions[p].index.is_empty() || self.partition_key(p) != bpk {
                continue;
            }
            let mut stale = Vec::new();
            let head = key_head(bk);
            for k in self.partitions[p].index.range((head as u128) << 64..) {
                if key_head(*k) != head {
                    break;
                }
                if self.reason(InstanceId(key_idx(*k) as u32), false).is_none() {
                    cands.push(*k);
                } else {
                    stale.push(*k);
                }
            }
            for k in stale {
                self.partitions[p].index.remove(&k);
                self.part_of[key_idx(k)] = NOT_INDEXED;
            }
        }
        for t in 0..self.tail.len() {
            let step = self.tail[t];
            if cands.len() <= 1 {
                break;
            }
            let value = |s: &Self, k: &Key| -> u64 {
                let i = key_idx(*k);
                match step {
                    TailStep::Attr(a) => s.spreads[a].counts[s.spreads[a].value_of[i] as usize],
                    TailStep::Inst(ik) => s.inst_key_value(i, ik),
                }
            };
            let min = cands.iter().map(|k| value(self, k)).min().unwrap_or(0);
            cands.retain(|k| value(self, k) == min);
        }
        let chosen = cands.iter().min_by_key(|k| key_prio(**k)).map(|k| key_idx(*k));
        self.scratch = cands;
        chosen
    }

    /// Places one task: chooses an instance, updates the snapshot and the indexes.
    /// `None` when no instance can take it (see [`Placer::failures`]).
    pub fn place_one(&mut self) -> Option<InstanceId> {
        let i = self.select()?;
        let id = InstanceId(i as u32);
        self.snap.add_task_sym(id, &self.res, self.group);
        for s in &mut self.spreads {
            s.counts[s.value_of[i] as usize] += 1;
        }
        let p = self.part_of[i] as usize;
        let old = self.keys[i];
        self.partitions[p].index.remove(&old);
        if self.reason(id, false).is_none() {
            let key = self.fresh_key(i);
            self.keys[i] = key;
            self.partitions[p].index.insert(key);
        } else {
            self.part_of[i] = NOT_INDEXED;
        }
        Some(id)
    }

    /// Per ACTIVE instance, the first check it fails now (instances that could take
    /// the task are left out).
    pub fn failures(&self) -> Vec<Failure> {
        self.snap
            .ids()
            .filter(|id| self.snap.inst(*id).status == InstanceStatus::Active)
            .filter_map(|id| {
                self.reason(id, true).map(|reason| Failure { instance: id, arn: self.snap.arn(id).to_owned(), reason })
            })
            .collect()
    }
}
