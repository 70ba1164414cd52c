//! Where tasks go: builds the placement engine's snapshot from the store's view of
//! a cluster, turns the wire's strategies and constraints into the engine's, and
//! maps its answers back to ECS's failures.

use crate::error::EcsError;
use flotilla_domain::EcsArns;
use flotilla_domain::container_instance::ContainerInstance;
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::service::{PlacementConstraintDoc, PlacementStrategyDoc};
use flotilla_domain::task::Task;
use flotilla_domain::task_definition::TaskDefinition;
use flotilla_domain::{AccountContext, Timestamp};
use flotilla_placement::{
    InstanceId, InstanceSpec, MAX_CONSTRAINTS, PlacementConstraint, PlacementError, PlacementStrategy, Snapshot,
    TaskRequest, TaskResources, place,
};
use flotilla_store::{InstanceLoad, PlacementScratch};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

/// ECS's answer when a cluster has no instance to place on.
pub(crate) const NO_INSTANCES: &str = "No Container Instances were found in your cluster.";

/// A `placementStrategy` entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StrategyWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    field: Option<String>,
}

/// A `placementConstraints` entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConstraintWire {
    #[serde(rename = "type")]
    kind: Option<String>,
    expression: Option<String>,
}

impl StrategyWire {
    pub(crate) fn doc(&self) -> PlacementStrategyDoc {
        PlacementStrategyDoc { kind: self.kind.clone().unwrap_or_default(), field: self.field.clone() }
    }

    pub(crate) fn from_doc(doc: &PlacementStrategyDoc) -> Self {
        Self { kind: Some(doc.kind.clone()), field: doc.field.clone() }
    }
}

impl ConstraintWire {
    pub(crate) fn doc(&self) -> PlacementConstraintDoc {
        PlacementConstraintDoc { kind: self.kind.clone().unwrap_or_default(), expression: self.expression.clone() }
    }

    pub(crate) fn from_doc(doc: &PlacementConstraintDoc) -> Self {
        Self { kind: Some(doc.kind.clone()), expression: doc.expression.clone() }
    }
}

pub(crate) fn parse_strategies(wire: &[StrategyWire]) -> Result<Vec<PlacementStrategy>, EcsError> {
    PlacementStrategy::parse_all(wire.iter().map(|s| (s.kind.as_deref().unwrap_or(""), s.field.as_deref())))
        .map_err(|e| EcsError::invalid(e.to_string()))
}

/// The task definition's constraints and the call's, together at most ten.
pub(crate) fn parse_constraints(
    td: &TaskDefinition,
    wire: &[ConstraintWire],
) -> Result<Vec<PlacementConstraint>, EcsError> {
    let from_td = td.spec.placement_constraints.iter().map(|c| ("memberOf", c.expression.as_deref()));
    let from_call = wire.iter().map(|c| (c.kind.as_deref().unwrap_or(""), c.expression.as_deref()));
    let all: Vec<(&str, Option<&str>)> = from_td.chain(from_call).collect();
    if all.len() > MAX_CONSTRAINTS {
        return Err(EcsError::invalid(format!(
            "placementConstraints: {} constraints (task definition and call together); at most {MAX_CONSTRAINTS} are allowed",
            all.len()
        )));
    }
    PlacementConstraint::parse_all(all).map_err(|e| EcsError::invalid(e.to_string()))
}

/// Checks a task definition's memberOf expressions at registration.
pub(crate) fn check_definition_constraints(
    td: &flotilla_domain::task_definition::TaskDefinitionSpec,
) -> Result<(), EcsError> {
    for (i, c) in td.placement_constraints.iter().enumerate() {
        PlacementConstraint::parse(i, "memberOf", c.expression.as_deref())
            .map_err(|e| EcsError::client(e.to_string()))?;
    }
    Ok(())
}

/// The engine's view of the cluster; `ids[i]` is the engine's id of `loads[i]`.
pub(crate) fn snapshot(
    account: &AccountContext,
    loads: &[InstanceLoad],
    now: Timestamp,
) -> (Snapshot, Vec<InstanceId>) {
    let mut snap = Snapshot::new();
    let ids = loads.iter().map(|l| snap.push(instance_spec(account, l, now))).collect();
    (snap, ids)
}

fn engine_status(status: InstanceStatus) -> flotilla_placement::InstanceStatus {
    match status {
        InstanceStatus::Active => flotilla_placement::InstanceStatus::Active,
        InstanceStatus::Draining => flotilla_placement::InstanceStatus::Draining,
        InstanceStatus::Inactive => flotilla_placement::InstanceStatus::Inactive,
    }
}

/// One instance with its load, as the engine sees it.
fn instance_spec(account: &AccountContext, l: &InstanceLoad, now: Timestamp) -> InstanceSpec {
    let ci = &l.instance;
    InstanceSpec {
        arn: account.container_instance_arn(&ci.cluster, &ci.id),
        ec2_instance_id: ci.ec2_instance_id.clone(),
        status: engine_status(ci.status),
        agent_connected: ci.agent_connected(now),
        agent_version: ci.version_info.agent_version.clone().unwrap_or_default(),
        registered_at_ms: ci.registered_at.0,
        running_tasks_count: (l.running_tasks + l.pending_tasks).max(0) as u32,
        remaining_cpu: l.remaining.cpu.max(0) as u32,
        remaining_memory: l.remaining.memory.max(0) as u32,
        used_tcp_ports: l.remaining.ports_tcp.clone(),
        used_udp_ports: l.remaining.ports_udp.clone(),
        attributes: ci.attributes.iter().map(|a| (a.name.clone(), a.value.clone())).collect(),
        groups: l.groups.iter().map(|(g, n)| (g.clone(), *n)).collect(),
    }
}

/// What one placement call asks of the engine, besides the tasks themselves.
#[derive(Clone)]
pub struct Rules {
    pub strategies: Option<Vec<PlacementStrategy>>,
    pub constraints: Vec<PlacementConstraint>,
    pub required_attributes: Vec<String>,
}

/// The engine's view a placer leaves for the next placement of its pool (the store
/// keeps it between batches), with the instance documents it was built from.
struct Scratch {
    snap: Snapshot,
    ids: Vec<InstanceId>,
    docs: Vec<Arc<ContainerInstance>>,
}

impl Scratch {
    fn new(account: &AccountContext, loads: &[InstanceLoad], now: Timestamp) -> Self {
        let (snap, ids) = snapshot(account, loads, now);
        Self { snap, ids, docs: loads.iter().map(|l| l.instance.clone()).collect() }
    }

    /// Brings the view up to `loads`: every instance whose document, connection or
    /// load differs from what the view shows is built again; the others (most, at
    /// thousands of instances) are kept as they are. `false` when `loads` are not the
    /// same instances in the same order, and the view cannot be kept.
    fn refresh(&mut self, account: &AccountContext, loads: &[InstanceLoad], now: Timestamp) -> bool {
        if self.docs.len() != loads.len() || self.docs.iter().zip(loads).any(|(d, l)| d.id != l.instance.id) {
            return false;
        }
        for (i, l) in loads.iter().enumerate() {
            let id = self.ids[i];
            if !Arc::ptr_eq(&self.docs[i], &l.instance) || !self.shows(id, l, now) {
                self.snap.replace(id, instance_spec(account, l, now));
                self.docs[i] = l.instance.clone();
            }
        }
        true
    }

    /// Whether the view's instance `id` has `l`'s status, connection, resources,
    /// ports and groups (its document being the one the view was built from).
    fn shows(&self, id: InstanceId, l: &InstanceLoad, now: Timestamp) -> bool {
        let snap = &self.snap;
        snap.status(id) == engine_status(l.instance.status)
            && snap.agent_connected(id) == l.instance.agent_connected(now)
            && snap.remaining_cpu(id) == l.remaining.cpu.max(0) as u32
            && snap.remaining_memory(id) == l.remaining.memory.max(0) as u32
            && snap.running_tasks_count(id) == (l.running_tasks + l.pending_tasks).max(0) as u32
            && snap.used_tcp_ports(id).len() == l.remaining.ports_tcp.len()
            && l.remaining.ports_tcp.iter().all(|p| snap.tcp_port_used(id, *p))
            && snap.used_udp_ports(id).len() == l.remaining.ports_udp.len()
            && l.remaining.ports_udp.iter().all(|p| snap.udp_port_used(id, *p))
            && snap.group_kinds(id) == l.groups.values().filter(|n| **n > 0).count()
            && l.groups.iter().all(|(g, n)| snap.group_count(id, g) == *n)
    }
}

/// Places `tasks` (all of one definition and group) on `loads`; per-instance
/// failures (ECS's `failures[]`) are collected into `failures`. The engine's view of
/// `loads` is the one an earlier placement of the pool left in `scratch`, brought up
/// to date, when it has the same instances (at thousands of instances, building it
/// costs more than placing on it), and is left there for the next.
pub(crate) fn place_tasks(
    account: &AccountContext,
    loads: &[InstanceLoad],
    tasks: &[Task],
    rules: &Rules,
    failures: &Mutex<Vec<(String, String)>>,
    scratch: &mut PlacementScratch,
) -> Vec<Result<usize, String>> {
    let Some(first) = tasks.first() else { return Vec::new() };
    let now = Timestamp::now();
    let kept = scratch.take().and_then(|s| s.downcast::<Scratch>().ok()).map(|s| *s);
    let Scratch { mut snap, ids, docs } = kept
        .and_then(|mut s| s.refresh(account, loads, now).then_some(s))
        .unwrap_or_else(|| Scratch::new(account, loads, now));
    let resources = TaskResources {
        cpu: first.reservation.cpu.max(0) as u32,
        memory: first.reservation.memory.max(0) as u32,
        tcp_ports: first.reservation.ports_tcp.clone(),
        udp_ports: first.reservation.ports_udp.clone(),
    };
    let mut request = TaskRequest::new(resources, first.group.clone(), tasks.len() as u32);
    if let Some(s) = &rules.strategies {
        request.strategies = s.clone();
    }
    request.constraints = rules.constraints.clone();
    request.required_attributes = rules.required_attributes.iter().map(|a| (a.clone(), None)).collect();
    request.seed = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default());
    let outcome = match place(&mut snap, &request) {
        Ok(o) => o,
        Err(PlacementError::NoContainerInstances) => {
            return tasks.iter().map(|_| Err(NO_INSTANCES.to_string())).collect();
        }
        Err(e) => return tasks.iter().map(|_| Err(e.to_string())).collect(),
    };
    let index_of = |id: InstanceId| ids.iter().position(|x| *x == id);
    let mut out: Vec<Result<usize, String>> = outcome
        .placements
        .iter()
        .map(|id| index_of(*id).ok_or_else(|| "placement lost its instance".to_string()))
        .collect();
    let reason = outcome.closest_reason().map(|r| r.as_str().to_string()).unwrap_or_else(|| NO_INSTANCES.to_string());
    while out.len() < tasks.len() {
        out.push(Err(reason.clone()));
    }
    if outcome.unplaced > 0 {
        let mut f = failures.lock().unwrap_or_else(|p| p.into_inner());
        for failure in &outcome.failures {
            if !f.iter().any(|(arn, _)| arn == &failure.arn) {
                f.push((failure.arn.clone(), failure.reason.as_str().to_string()));
            }
        }
    }
    *scratch = Some(Box::new(Scratch { snap, ids, docs }));
    out
}

/// The instances of `loads` that `filter` (a cluster query language expression) selects.
pub(crate) fn filter_instances(
    account: &AccountContext,
    loads: &[InstanceLoad],
    filter: &str,
) -> Result<Vec<usize>, EcsError> {
    let expr = flotilla_placement::cql::parse(filter).map_err(|e| EcsError::invalid(format!("filter: {e}")))?;
    let (snap, ids) = snapshot(account, loads, Timestamp::now());
    let compiled = flotilla_placement::cql::Compiled::new(&expr, &snap);
    let selected = compiled.select(&snap);
    Ok((0..loads.len()).filter(|i| selected.contains(&ids[*i])).collect())
}

/// For each of `loads`, whether it meets every memberOf constraint and required
/// attribute of `rules` (capacity aside): where a DAEMON service runs a task.
pub(crate) fn eligible(account: &AccountContext, loads: &[InstanceLoad], rules: &Rules) -> Vec<bool> {
    let (snap, ids) = snapshot(account, loads, Timestamp::now());
    let mut ok = vec![true; loads.len()];
    for c in &rules.constraints {
        if let PlacementConstraint::MemberOf { expr, .. } = c {
            let selected = flotilla_placement::cql::Compiled::new(expr, &snap).select(&snap);
            for (i, id) in ids.iter().enumerate() {
                ok[i] &= selected.contains(id);
            }
        }
    }
    for (i, l) in loads.iter().enumerate() {
        ok[i] &= rules.required_attributes.iter().all(|a| l.instance.attribute(a).is_some());
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_domain::container_instance::{ContainerInstance, Resources, VersionInfo};

    fn load(id: &str, memory: i64) -> InstanceLoad {
        let instance = ContainerInstance {
            id: id.into(),
            cluster: "default".into(),
            ec2_instance_id: format!("i-{id}"),
            status: InstanceStatus::Active,
            registered: Resources { cpu: 1024, memory, ..Resources::default() },
            attributes: Vec::new(),
            version_info: VersionInfo::default(),
            registered_at: Timestamp(1),
            last_heartbeat: Timestamp::now(),
            agent_lost_at: None,
            capacity: Default::default(),
            version: 1,
        };
        InstanceLoad {
            remaining: instance.registered.clone(),
            instance: std::sync::Arc::new(instance),
            running_tasks: 0,
            pending_tasks: 0,
            groups: Default::default(),
        }
    }

    fn tasks(n: usize, memory: i64) -> Vec<Task> {
        (0..n)
            .map(|i| Task {
                reservation: Resources { memory, ..Resources::default() },
                ..Task::provisioning(format!("t{i}"), "default".into(), "web".into(), 1, Timestamp(1))
            })
            .collect()
    }

    /// What the store does between two placements of a batch.
    fn hold(loads: &mut [InstanceLoad], placed: &[Result<usize, String>], memory: i64) {
        for i in placed.iter().flatten() {
            loads[*i].remaining.memory -= memory;
            loads[*i].pending_tasks += 1;
            *loads[*i].groups.entry("family:web".into()).or_default() += 1;
        }
    }

    fn binpack() -> Rules {
        let strategy = PlacementStrategy::parse(0, "binpack", Some("memory")).unwrap();
        Rules { strategies: Some(vec![strategy]), constraints: Vec::new(), required_attributes: Vec::new() }
    }

    /// Whether the view left in `scratch` shows `loads` as they are.
    fn view_shows(scratch: &PlacementScratch, loads: &[InstanceLoad]) -> bool {
        let Some(view) = scratch.as_ref().and_then(|s| s.downcast_ref::<Scratch>()) else { return false };
        let now = Timestamp::now();
        view.docs.len() == loads.len()
            && loads
                .iter()
                .enumerate()
                .all(|(i, l)| Arc::ptr_eq(&view.docs[i], &l.instance) && view.shows(view.ids[i], l, now))
    }

    #[test]
    fn the_pools_view_is_kept_between_placements_and_brought_up_to_date_instance_by_instance() {
        let account = AccountContext::default();
        let failures = Mutex::new(Vec::new());
        let mut loads = vec![load("a", 300), load("b", 200)];
        let mut scratch: PlacementScratch = None;
        let first = place_tasks(&account, &loads, &tasks(2, 100), &binpack(), &failures, &mut scratch);
        assert_eq!(first, vec![Ok(1), Ok(1)], "binpack fills the fuller instance first");
        hold(&mut loads, &first, 100);
        assert!(view_shows(&scratch, &loads), "the engine's own placements are the store's");
        // The kept view knows b is full: the next placement goes to a.
        let second = place_tasks(&account, &loads, &tasks(3, 100), &binpack(), &failures, &mut scratch);
        assert_eq!(second, vec![Ok(0), Ok(0), Ok(0)]);
        hold(&mut loads, &second, 100);
        let full = place_tasks(&account, &loads, &tasks(1, 100), &binpack(), &failures, &mut scratch);
        assert!(full[0].is_err(), "{full:?}");

        // Tasks stopped elsewhere (b is empty again) are seen; a's entry is kept as it was.
        let a_doc = loads[0].instance.clone();
        loads[1] = load("b", 200);
        assert!(!view_shows(&scratch, &loads));
        let third = place_tasks(&account, &loads, &tasks(1, 100), &binpack(), &failures, &mut scratch);
        assert_eq!(third, vec![Ok(1)]);
        hold(&mut loads, &third, 100);
        assert!(view_shows(&scratch, &loads));
        let view = scratch.as_ref().and_then(|s| s.downcast_ref::<Scratch>()).unwrap();
        assert!(Arc::ptr_eq(&view.docs[0], &a_doc), "an unchanged instance is not built again");

        // A changed document (draining) is taken up: nothing goes to a draining instance.
        let mut draining = (*loads[1].instance).clone();
        draining.status = InstanceStatus::Draining;
        loads[1].instance = Arc::new(draining);
        loads[0].remaining.memory = 300;
        let fourth = place_tasks(&account, &loads, &tasks(1, 100), &binpack(), &failures, &mut scratch);
        assert_eq!(fourth, vec![Ok(0)]);
        hold(&mut loads, &fourth, 100);
        assert!(view_shows(&scratch, &loads));

        // Other instances (one registered) make it build anew.
        loads.push(load("c", 50));
        let fifth = place_tasks(&account, &loads, &tasks(1, 50), &binpack(), &failures, &mut scratch);
        assert_eq!(fifth, vec![Ok(2)], "binpack picks the new, fullest instance");
        hold(&mut loads, &fifth, 50);
        assert!(view_shows(&scratch, &loads));
    }
}
