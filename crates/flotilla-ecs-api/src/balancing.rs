//! A service's tasks behind load balancers, for the service scheduler: which target
//! each task is in each target group (its instance, or the instance's host address,
//! and the host port its container port is bound to; an awsvpc task's own address
//! and container port), how healthy those targets are,
//! registering new tasks, and draining tasks before they stop. A task goes in the
//! target group its deployment uses: blue/green deployments alternate between an
//! entry's two.
//!
//! Everything is read afresh each pass from the load balancing module, so a restart
//! loses nothing: a task being drained is one whose targets are `draining`.

use crate::LoadBalancing;
use flotilla_domain::service::scheduler::TargetHealth;
use flotilla_domain::service::{LoadBalancerDoc, Service};
use flotilla_domain::task::{Task, TaskStatus};
use flotilla_ecs_model::HOST_ADDRESS_ATTRIBUTE;
use flotilla_store::InstanceLoad;
use std::collections::HashMap;

/// One target group of a `loadBalancers` entry (the entry's own, or its blue/green
/// alternate) with its targets as seen this pass.
struct Group {
    /// Which `loadBalancers` entry.
    index: usize,
    arn: String,
    doc: LoadBalancerDoc,
    instance_targets: bool,
    /// (id, port) → state.
    states: HashMap<(String, i64), String>,
}

/// The service's target groups, read for one pass.
pub(crate) struct Balancing {
    groups: Vec<Group>,
    /// Deployment id → the target group its tasks go in, per entry.
    homes: HashMap<String, Vec<String>>,
}

/// What a pass did with load balancers, as service events.
#[derive(Default)]
pub(crate) struct Changes {
    pub messages: Vec<String>,
}

impl Balancing {
    /// Reads the service's target groups (`None` for a service without load balancers).
    pub(crate) async fn read(lb: &dyn LoadBalancing, service: &Service) -> Result<Option<Self>, String> {
        if service.spec.load_balancers.is_empty() {
            return Ok(None);
        }
        let mut groups = Vec::new();
        for (index, doc) in service.spec.load_balancers.iter().enumerate() {
            let alternate = doc.advanced_configuration.as_ref().map(|a| a.alternate_target_group_arn.clone());
            for arn in std::iter::once(doc.target_group_arn.clone()).chain(alternate) {
                let Some(info) = lb.target_group(&arn).await? else { continue };
                let states = lb.targets(&arn).await?.into_iter().map(|(id, port, state)| ((id, port), state)).collect();
                groups.push(Group { index, arn, doc: doc.clone(), instance_targets: info.instance_targets, states });
            }
        }
        let homes = service
            .all_deployments()
            .map(|d| {
                let groups = service
                    .spec
                    .load_balancers
                    .iter()
                    .enumerate()
                    .map(|(i, doc)| d.target_group(i, doc).to_string())
                    .collect();
                (d.id.clone(), groups)
            })
            .collect();
        Ok(Some(Self { groups, homes }))
    }

    /// Whether `group` is where the task's deployment registers it.
    fn home(&self, group: &Group, task: &Task) -> bool {
        let home = task.started_by.as_ref().and_then(|d| self.homes.get(d)).and_then(|g| g.get(group.index));
        home.map_or(group.arn == group.doc.target_group_arn, |h| *h == group.arn)
    }

    /// The task's target in a group: its own address and the container port (awsvpc,
    /// `ip` target groups only), or where its container port is bound on its instance.
    fn target(group: &Group, task: &Task, loads: &[InstanceLoad]) -> Option<(String, i64)> {
        if let Some(network) = &task.network {
            let address = network.interface.as_ref()?.private_ipv4_address.clone();
            return (!group.instance_targets).then_some((address, group.doc.container_port));
        }
        let container = task.containers.iter().find(|c| c.name == group.doc.container_name)?;
        let binding = container.network_bindings.iter().find(|b| b.container_port == group.doc.container_port)?;
        let instance = loads.iter().find(|l| Some(&l.instance.id) == task.container_instance_id.as_ref())?;
        let id = if group.instance_targets {
            instance.instance.ec2_instance_id.clone()
        } else {
            instance
                .instance
                .attribute(HOST_ADDRESS_ATTRIBUTE)
                .and_then(|a| a.value.clone())
                .unwrap_or_else(|| "127.0.0.1".to_string())
        };
        Some((id, binding.host_port))
    }

    /// Each task's standing with every target group together.
    pub(crate) fn health(&self, tasks: &[Task], loads: &[InstanceLoad]) -> HashMap<String, TargetHealth> {
        tasks
            .iter()
            .map(|t| {
                let states: Vec<Option<&str>> = self
                    .groups
                    .iter()
                    .filter(|g| self.home(g, t))
                    .map(|g| Self::target(g, t, loads).and_then(|k| g.states.get(&k)).map(String::as_str))
                    .collect();
                let health = if states.contains(&Some("draining")) || self.draining(t, loads) {
                    TargetHealth::Draining
                } else if states.contains(&Some("unhealthy")) {
                    TargetHealth::Unhealthy
                } else if states.iter().all(|s| *s == Some("healthy")) {
                    TargetHealth::Healthy
                } else {
                    TargetHealth::Pending
                };
                (t.id.clone(), health)
            })
            .collect()
    }

    /// Whether the task still has a target receiving traffic (registered, not draining).
    fn serving(&self, task: &Task, loads: &[InstanceLoad]) -> Vec<(usize, (String, i64))> {
        self.groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let key = Self::target(g, task, loads)?;
                let state = g.states.get(&key)?;
                (state != "draining").then_some((i, key))
            })
            .collect()
    }

    fn draining(&self, task: &Task, loads: &[InstanceLoad]) -> bool {
        self.groups
            .iter()
            .any(|g| Self::target(g, task, loads).and_then(|k| g.states.get(&k)).is_some_and(|s| s == "draining"))
    }

    /// Before a task stops: `true` when it may stop now; otherwise its targets start
    /// draining (or already are) and the stop waits for a later pass. A task that
    /// never served, or whose instance is gone, stops at once.
    pub(crate) async fn ready_to_stop(
        &self,
        lb: &dyn LoadBalancing,
        service: &Service,
        task: &Task,
        loads: &[InstanceLoad],
        at_once: bool,
        changes: &mut Changes,
    ) -> bool {
        let serving = self.serving(task, loads);
        if !serving.is_empty() {
            for (i, key) in &serving {
                let arn = &self.groups[*i].arn;
                match lb.deregister(arn, std::slice::from_ref(key)).await {
                    Ok(()) => changes
                        .messages
                        .push(format!("(service {}) deregistered 1 targets in (target-group {arn})", service.name)),
                    Err(e) => tracing::warn!(service = %service.name, error = %e, "deregistering a target failed"),
                }
            }
            if !at_once {
                changes.messages.push(format!("(service {}) has begun draining connections on 1 tasks.", service.name));
                return false;
            }
        }
        at_once || !self.draining(task, loads)
    }

    /// Registers live RUNNING tasks that are not targets yet, and deregisters the
    /// targets of tasks that are gone.
    pub(crate) async fn sync(
        &self,
        lb: &dyn LoadBalancing,
        service: &Service,
        tasks: &[Task],
        loads: &[InstanceLoad],
        stopping: &[String],
        changes: &mut Changes,
    ) {
        for g in &self.groups {
            let arn = &g.arn;
            let mut add = Vec::new();
            let mut remove = Vec::new();
            for t in tasks {
                let Some(key) = Self::target(g, t, loads) else { continue };
                let live = t.desired_status == TaskStatus::Running && t.last_status != TaskStatus::Stopped;
                let wanted = live && t.last_status == TaskStatus::Running && !stopping.contains(&t.id);
                match g.states.get(&key).map(String::as_str) {
                    None if wanted && self.home(g, t) => add.push(key),
                    Some(state) if !live && state != "draining" && t.last_status == TaskStatus::Stopped => {
                        remove.push(key)
                    }
                    _ => {}
                }
            }
            if !add.is_empty() {
                match lb.register(arn, &add).await {
                    Ok(()) => changes.messages.push(format!(
                        "(service {}) registered {} targets in (target-group {arn})",
                        service.name,
                        add.len()
                    )),
                    Err(e) => tracing::warn!(service = %service.name, error = %e, "registering targets failed"),
                }
            }
            if !remove.is_empty() {
                match lb.deregister(arn, &remove).await {
                    Ok(()) => changes.messages.push(format!(
                        "(service {}) deregistered {} targets in (target-group {arn})",
                        service.name,
                        remove.len()
                    )),
                    Err(e) => tracing::warn!(service = %service.name, error = %e, "deregistering targets failed"),
                }
            }
        }
    }
}
