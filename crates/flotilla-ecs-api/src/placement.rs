//! Where tasks go: builds the placement engine's snapshot from the store's view of
//! a cluster, turns the wire's strategies and constraints into the engine's, and
//! maps its answers back to ECS's failures.

use crate::error::EcsError;
use flotilla_domain::EcsArns;
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::service::{PlacementConstraintDoc, PlacementStrategyDoc};
use flotilla_domain::task::Task;
use flotilla_domain::task_definition::TaskDefinition;
use flotilla_domain::{AccountContext, Timestamp};
use flotilla_placement::{
    InstanceId, InstanceSpec, MAX_CONSTRAINTS, PlacementConstraint, PlacementError, PlacementStrategy, Snapshot,
    TaskRequest, TaskResources, place,
};
use flotilla_store::InstanceLoad;
use serde::Deserialize;
use std::sync::Mutex;

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
    let ids = loads
        .iter()
        .map(|l| {
            let ci = &l.instance;
            let status = match ci.status {
                InstanceStatus::Active => flotilla_placement::InstanceStatus::Active,
                InstanceStatus::Draining => flotilla_placement::InstanceStatus::Draining,
                InstanceStatus::Inactive => flotilla_placement::InstanceStatus::Inactive,
            };
            snap.push(InstanceSpec {
                arn: account.container_instance_arn(&ci.cluster, &ci.id),
                ec2_instance_id: ci.ec2_instance_id.clone(),
                status,
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
            })
        })
        .collect();
    (snap, ids)
}

/// What one placement call asks of the engine, besides the tasks themselves.
#[derive(Clone)]
pub struct Rules {
    pub strategies: Option<Vec<PlacementStrategy>>,
    pub constraints: Vec<PlacementConstraint>,
    pub required_attributes: Vec<String>,
}

/// Places `tasks` (all of one definition and group) on `loads`; per-instance
/// failures (ECS's `failures[]`) are collected into `failures`.
pub(crate) fn place_tasks(
    account: &AccountContext,
    loads: &[InstanceLoad],
    tasks: &[Task],
    rules: &Rules,
    failures: &Mutex<Vec<(String, String)>>,
) -> Vec<Result<usize, String>> {
    let Some(first) = tasks.first() else { return Vec::new() };
    let (mut snap, ids) = snapshot(account, loads, Timestamp::now());
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
