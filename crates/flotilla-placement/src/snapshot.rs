//! The cluster as placement sees it: container instances, their free resources, used
//! host ports, attributes and the task groups running on them.
//!
//! A [`Snapshot`] is built once from the store ([`Snapshot::push`] per container
//! instance) and then updated incrementally: [`Snapshot::add_task`] subtracts a task's
//! resources and ports and bumps its group count, [`Snapshot::remove_task`] gives them
//! back. Placement itself ([`crate::place()`]) updates the snapshot the same way, so the
//! caller can place several requests in a row against one snapshot.
//!
//! Memory: attribute names and values, agent versions and task group names are
//! interned to `u32` symbols shared by all instances; each instance keeps sorted small
//! vectors of `(name, value)` symbol pairs, used ports and `(group, count)` pairs. A
//! 5,000-instance snapshot with a handful of attributes takes well under 2 MiB (the
//! benchmark prints the measured figure).

use std::collections::HashMap;

/// Well-known attribute names ECS sets on every container instance.
pub mod attrs {
    /// The Availability Zone, e.g. `us-east-1a`.
    pub const AVAILABILITY_ZONE: &str = "ecs.availability-zone";
    /// The EC2 instance type, e.g. `t3.large`.
    pub const INSTANCE_TYPE: &str = "ecs.instance-type";
    /// The operating system, `linux` or `windows`.
    pub const OS_TYPE: &str = "ecs.os-type";
    /// The operating system family, e.g. `LINUX`.
    pub const OS_FAMILY: &str = "ecs.os-family";
    /// The CPU architecture, `x86_64` or `arm64`.
    pub const CPU_ARCHITECTURE: &str = "ecs.cpu-architecture";
    /// The AMI the instance was launched from.
    pub const AMI_ID: &str = "ecs.ami-id";
}

/// An interned string.
pub(crate) type Sym = u32;

/// "No value" for an attribute that is present without a value.
pub(crate) const NO_VALUE: Sym = u32::MAX;

/// String interner shared by every instance of a snapshot.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    map: HashMap<Box<str>, Sym>,
    strs: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            return sym;
        }
        let sym = self.strs.len() as Sym;
        self.strs.push(s.into());
        self.map.insert(s.into(), sym);
        sym
    }

    pub(crate) fn get(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.strs.len()
    }

    pub(crate) fn resolve(&self, sym: Sym) -> &str {
        &self.strs[sym as usize]
    }

    fn heap_bytes(&self) -> usize {
        let strs: usize = self.strs.iter().map(|s| s.len()).sum();
        // each string is stored twice (map key and vector), plus table overhead
        2 * strs
            + self.strs.capacity() * size_of::<Box<str>>()
            + self.map.capacity() * (size_of::<Box<str>>() + size_of::<Sym>() + 1)
    }
}

/// Position of a container instance in its [`Snapshot`] (stable: instances are never
/// removed from a snapshot; rebuild it to drop deregistered instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u32);

/// Container instance status as ECS reports it. Only `ACTIVE` instances receive tasks;
/// `DRAINING` ones keep their tasks but get no new placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    /// `ACTIVE`
    Active,
    /// `DRAINING`
    Draining,
    /// `INACTIVE`
    Inactive,
    /// `REGISTERING`
    Registering,
    /// `DEREGISTERING`
    Deregistering,
    /// `REGISTRATION_FAILED`
    RegistrationFailed,
}

impl InstanceStatus {
    /// Parse ECS's status string; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ACTIVE" => Self::Active,
            "DRAINING" => Self::Draining,
            "INACTIVE" => Self::Inactive,
            "REGISTERING" => Self::Registering,
            "DEREGISTERING" => Self::Deregistering,
            "REGISTRATION_FAILED" => Self::RegistrationFailed,
            _ => return None,
        })
    }

    /// ECS's status string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Draining => "DRAINING",
            Self::Inactive => "INACTIVE",
            Self::Registering => "REGISTERING",
            Self::Deregistering => "DEREGISTERING",
            Self::RegistrationFailed => "REGISTRATION_FAILED",
        }
    }
}

/// What one task reserves on the instance it runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskResources {
    /// CPU units (1024 per vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// Static TCP host ports (dynamic host ports, 0, need no reservation: leave them out).
    pub tcp_ports: Vec<u16>,
    /// Static UDP host ports.
    pub udp_ports: Vec<u16>,
}

/// A container instance as the store describes it; the input to [`Snapshot::push`].
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Container instance ARN.
    pub arn: String,
    /// The EC2-like instance id (`ec2InstanceId`).
    pub ec2_instance_id: String,
    /// Status; only `ACTIVE` instances receive tasks.
    pub status: InstanceStatus,
    /// Whether the agent is connected; tasks are not placed on disconnected agents.
    pub agent_connected: bool,
    /// Agent version, e.g. `1.82.0`.
    pub agent_version: String,
    /// Registration time in epoch milliseconds.
    pub registered_at_ms: i64,
    /// Tasks running (or pending) on the instance.
    pub running_tasks_count: u32,
    /// Remaining (unreserved) CPU units.
    pub remaining_cpu: u32,
    /// Remaining (unreserved) memory MiB.
    pub remaining_memory: u32,
    /// TCP host ports already in use or reserved (22, 2375, 2376, 51678, 51679 on ECS).
    pub used_tcp_ports: Vec<u16>,
    /// UDP host ports already in use.
    pub used_udp_ports: Vec<u16>,
    /// Attributes: name and optional value.
    pub attributes: Vec<(String, Option<String>)>,
    /// Task groups running on the instance and how many tasks of each
    /// (e.g. `("service:web", 3)`, `("family:batch", 1)`).
    pub groups: Vec<(String, u32)>,
}

impl InstanceSpec {
    /// An `ACTIVE` instance with a connected agent, no attributes, no ports in use and
    /// no tasks.
    pub fn new(arn: impl Into<String>, ec2_instance_id: impl Into<String>, cpu: u32, memory: u32) -> Self {
        Self {
            arn: arn.into(),
            ec2_instance_id: ec2_instance_id.into(),
            status: InstanceStatus::Active,
            agent_connected: true,
            agent_version: "1.0.0".into(),
            registered_at_ms: 0,
            running_tasks_count: 0,
            remaining_cpu: cpu,
            remaining_memory: memory,
            used_tcp_ports: Vec::new(),
            used_udp_ports: Vec::new(),
            attributes: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Adds an attribute (builder style).
    pub fn attribute(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.attributes.push((name.into(), value.map(str::to_owned)));
        self
    }

    /// Adds `count` running tasks of `group` (builder style; also bumps the running
    /// task count).
    pub fn group(mut self, name: impl Into<String>, count: u32) -> Self {
        self.groups.push((name.into(), count));
        self.running_tasks_count += count;
        self
    }
}

/// One container instance inside a snapshot (compact form).
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) arn: Box<str>,
    pub(crate) ec2_instance_id: Box<str>,
    pub(crate) status: InstanceStatus,
    pub(crate) agent_connected: bool,
    pub(crate) agent_version: Sym,
    pub(crate) registered_at_ms: i64,
    pub(crate) running_tasks: u32,
    pub(crate) cpu: u32,
    pub(crate) memory: u32,
    pub(crate) tcp: Vec<u16>,
    pub(crate) udp: Vec<u16>,
    /// Sorted by name symbol; value [`NO_VALUE`] when absent.
    pub(crate) attrs: Box<[(Sym, Sym)]>,
    /// Groups with a positive count.
    pub(crate) groups: Vec<(Sym, u32)>,
}

impl Instance {
    pub(crate) fn attr(&self, name: Sym) -> Option<Sym> {
        self.attrs.binary_search_by_key(&name, |(n, _)| *n).ok().map(|i| self.attrs[i].1)
    }

    pub(crate) fn group_count(&self, group: Sym) -> u32 {
        self.groups.iter().find(|(g, _)| *g == group).map_or(0, |(_, c)| *c)
    }

    pub(crate) fn ports_free(&self, res: &TaskResources) -> (bool, bool) {
        let tcp = res.tcp_ports.iter().all(|p| self.tcp.binary_search(p).is_err());
        let udp = res.udp_ports.iter().all(|p| self.udp.binary_search(p).is_err());
        (tcp, udp)
    }
}

/// The cluster's container instances, as placement sees them.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub(crate) interner: Interner,
    pub(crate) instances: Vec<Instance>,
}

fn sorted_dedup(mut v: Vec<u16>) -> Vec<u16> {
    v.sort_unstable();
    v.dedup();
    v.shrink_to_fit();
    v
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a container instance and returns its id.
    pub fn push(&mut self, spec: InstanceSpec) -> InstanceId {
        let instance = self.instance(spec);
        let id = InstanceId(self.instances.len() as u32);
        self.instances.push(instance);
        id
    }

    /// Puts `spec` in the place of the instance `id` (the same instance, changed), so a
    /// view kept between placements is brought up to date one instance at a time.
    pub fn replace(&mut self, id: InstanceId, spec: InstanceSpec) {
        let instance = self.instance(spec);
        self.instances[id.0 as usize] = instance;
    }

    fn instance(&mut self, spec: InstanceSpec) -> Instance {
        let mut attrs: Vec<(Sym, Sym)> = spec
            .attributes
            .iter()
            .map(|(n, v)| {
                let n = self.interner.intern(n);
                let v = v.as_deref().map_or(NO_VALUE, |v| self.interner.intern(v));
                (n, v)
            })
            .collect();
        attrs.sort_unstable_by_key(|(n, _)| *n);
        attrs.dedup_by_key(|(n, _)| *n);
        let mut groups: Vec<(Sym, u32)> = Vec::new();
        for (g, c) in &spec.groups {
            if *c == 0 {
                continue;
            }
            let g = self.interner.intern(g);
            match groups.iter_mut().find(|(s, _)| *s == g) {
                Some((_, n)) => *n += c,
                None => groups.push((g, *c)),
            }
        }
        groups.shrink_to_fit();
        let agent_version = self.interner.intern(&spec.agent_version);
        Instance {
            arn: spec.arn.into_boxed_str(),
            ec2_instance_id: spec.ec2_instance_id.into_boxed_str(),
            status: spec.status,
            agent_connected: spec.agent_connected,
            agent_version,
            registered_at_ms: spec.registered_at_ms,
            running_tasks: spec.running_tasks_count,
            cpu: spec.remaining_cpu,
            memory: spec.remaining_memory,
            tcp: sorted_dedup(spec.used_tcp_ports),
            udp: sorted_dedup(spec.used_udp_ports),
            attrs: attrs.into_boxed_slice(),
            groups,
        }
    }

    /// Number of container instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Whether the snapshot has no container instances.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// All instance ids, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = InstanceId> + '_ {
        (0..self.instances.len() as u32).map(InstanceId)
    }

    pub(crate) fn inst(&self, id: InstanceId) -> &Instance {
        &self.instances[id.0 as usize]
    }

    /// The container instance ARN.
    pub fn arn(&self, id: InstanceId) -> &str {
        &self.inst(id).arn
    }

    /// The EC2-like instance id.
    pub fn ec2_instance_id(&self, id: InstanceId) -> &str {
        &self.inst(id).ec2_instance_id
    }

    /// Remaining CPU units.
    pub fn remaining_cpu(&self, id: InstanceId) -> u32 {
        self.inst(id).cpu
    }

    /// Remaining memory MiB.
    pub fn remaining_memory(&self, id: InstanceId) -> u32 {
        self.inst(id).memory
    }

    /// Running task count.
    pub fn running_tasks_count(&self, id: InstanceId) -> u32 {
        self.inst(id).running_tasks
    }

    /// Status.
    pub fn status(&self, id: InstanceId) -> InstanceStatus {
        self.inst(id).status
    }

    /// Sets the status (e.g. when an instance starts draining).
    pub fn set_status(&mut self, id: InstanceId, status: InstanceStatus) {
        self.instances[id.0 as usize].status = status;
    }

    /// Whether the agent is connected.
    pub fn agent_connected(&self, id: InstanceId) -> bool {
        self.inst(id).agent_connected
    }

    /// Sets whether the agent is connected.
    pub fn set_agent_connected(&mut self, id: InstanceId, connected: bool) {
        self.instances[id.0 as usize].agent_connected = connected;
    }

    /// The TCP host ports in use, sorted.
    pub fn used_tcp_ports(&self, id: InstanceId) -> &[u16] {
        &self.inst(id).tcp
    }

    /// The UDP host ports in use, sorted.
    pub fn used_udp_ports(&self, id: InstanceId) -> &[u16] {
        &self.inst(id).udp
    }

    /// How many groups have tasks on the instance.
    pub fn group_kinds(&self, id: InstanceId) -> usize {
        self.inst(id).groups.len()
    }

    /// Whether the TCP host port is in use.
    pub fn tcp_port_used(&self, id: InstanceId, port: u16) -> bool {
        self.inst(id).tcp.binary_search(&port).is_ok()
    }

    /// Whether the UDP host port is in use.
    pub fn udp_port_used(&self, id: InstanceId, port: u16) -> bool {
        self.inst(id).udp.binary_search(&port).is_ok()
    }

    /// The value of an attribute: `None` if absent, `Some(None)` if present without a
    /// value.
    pub fn attribute(&self, id: InstanceId, name: &str) -> Option<Option<&str>> {
        let sym = self.interner.get(name)?;
        let v = self.inst(id).attr(sym)?;
        Some((v != NO_VALUE).then(|| self.interner.resolve(v)))
    }

    /// Tasks of `group` running on the instance.
    pub fn group_count(&self, id: InstanceId, group: &str) -> u32 {
        self.interner.get(group).map_or(0, |g| self.inst(id).group_count(g))
    }

    /// Records a task of `group` on the instance: subtracts its CPU and memory
    /// (saturating), reserves its static ports and bumps the group and running counts.
    pub fn add_task(&mut self, id: InstanceId, res: &TaskResources, group: &str) {
        let g = self.interner.intern(group);
        self.add_task_sym(id, res, g);
    }

    pub(crate) fn add_task_sym(&mut self, id: InstanceId, res: &TaskResources, group: Sym) {
        let inst = &mut self.instances[id.0 as usize];
        inst.cpu = inst.cpu.saturating_sub(res.cpu);
        inst.memory = inst.memory.saturating_sub(res.memory);
        for p in &res.tcp_ports {
            if let Err(i) = inst.tcp.binary_search(p) {
                inst.tcp.insert(i, *p);
            }
        }
        for p in &res.udp_ports {
            if let Err(i) = inst.udp.binary_search(p) {
                inst.udp.insert(i, *p);
            }
        }
        match inst.groups.iter_mut().find(|(s, _)| *s == group) {
            Some((_, n)) => *n += 1,
            None => inst.groups.push((group, 1)),
        }
        inst.running_tasks += 1;
    }

    /// Forgets a stopped task of `group`: gives back its CPU, memory and ports and
    /// lowers the group and running counts.
    pub fn remove_task(&mut self, id: InstanceId, res: &TaskResources, group: &str) {
        let g = self.interner.get(group);
        let inst = &mut self.instances[id.0 as usize];
        inst.cpu = inst.cpu.saturating_add(res.cpu);
        inst.memory = inst.memory.saturating_add(res.memory);
        for p in &res.tcp_ports {
            if let Ok(i) = inst.tcp.binary_search(p) {
                inst.tcp.remove(i);
            }
        }
        for p in &res.udp_ports {
            if let Ok(i) = inst.udp.binary_search(p) {
                inst.udp.remove(i);
            }
        }
        if let Some(g) = g
            && let Some(pos) = inst.groups.iter().position(|(s, _)| *s == g)
        {
            inst.groups[pos].1 -= 1;
            if inst.groups[pos].1 == 0 {
                inst.groups.swap_remove(pos);
            }
        }
        inst.running_tasks = inst.running_tasks.saturating_sub(1);
    }

    /// Approximate bytes this snapshot occupies (structs plus heap), computed from its
    /// data structures.
    pub fn approx_bytes(&self) -> usize {
        let per_instance: usize = self
            .instances
            .iter()
            .map(|i| {
                i.arn.len()
                    + i.ec2_instance_id.len()
                    + i.tcp.capacity() * 2
                    + i.udp.capacity() * 2
                    + i.attrs.len() * size_of::<(Sym, Sym)>()
                    + i.groups.capacity() * size_of::<(Sym, u32)>()
            })
            .sum();
        size_of::<Self>()
            + self.instances.capacity() * size_of::<Instance>()
            + per_instance
            + self.interner.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InstanceSpec {
        InstanceSpec::new("arn:ci/1", "i-1", 1024, 2048)
            .attribute(attrs::AVAILABILITY_ZONE, Some("us-east-1a"))
            .attribute("flag", None)
            .group("service:web", 2)
    }

    #[test]
    fn push_and_read_back() {
        let mut s = Snapshot::new();
        let id = s.push(spec());
        assert_eq!(s.arn(id), "arn:ci/1");
        assert_eq!(s.attribute(id, attrs::AVAILABILITY_ZONE), Some(Some("us-east-1a")));
        assert_eq!(s.attribute(id, "flag"), Some(None));
        assert_eq!(s.attribute(id, "nope"), None);
        assert_eq!(s.group_count(id, "service:web"), 2);
        assert_eq!(s.running_tasks_count(id), 2);
    }

    #[test]
    fn add_and_remove_task_round_trip() {
        let mut s = Snapshot::new();
        let id = s.push(spec());
        let res = TaskResources { cpu: 256, memory: 512, tcp_ports: vec![80], udp_ports: vec![53] };
        s.add_task(id, &res, "family:x");
        assert_eq!(s.remaining_cpu(id), 768);
        assert_eq!(s.remaining_memory(id), 1536);
        assert!(s.tcp_port_used(id, 80));
        assert!(s.udp_port_used(id, 53));
        assert!(!s.udp_port_used(id, 80));
        assert_eq!(s.group_count(id, "family:x"), 1);
        assert_eq!(s.running_tasks_count(id), 3);
        s.remove_task(id, &res, "family:x");
        assert_eq!(s.remaining_cpu(id), 1024);
        assert_eq!(s.remaining_memory(id), 2048);
        assert!(!s.tcp_port_used(id, 80));
        assert_eq!(s.group_count(id, "family:x"), 0);
        assert_eq!(s.running_tasks_count(id), 2);
    }

    #[test]
    fn status_round_trip() {
        for st in ["ACTIVE", "DRAINING", "INACTIVE", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED"] {
            assert_eq!(InstanceStatus::parse(st).unwrap().as_str(), st);
        }
        assert_eq!(InstanceStatus::parse("active"), None);
    }
}
