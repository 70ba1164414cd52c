//! The service scheduler's decision, as a pure reconciler: (the service as stored,
//! its tasks and the cluster's instances as observed, the time) → the tasks to
//! start and stop, and the service's new deployment states, counts and events.
//!
//! Nothing here is remembered between passes but what is written into the service:
//! counts are recounted from the tasks every pass (a task belongs to the deployment
//! named by its `startedBy`), so a pass cut short by a crash is simply decided again.
//!
//! REPLICA: the PRIMARY deployment gets up to `desiredCount` tasks; tasks of older
//! deployments, on draining instances or past their time are retired. Starting is
//! bounded by `maximumPercent` (rounded down) of the desired count counting every
//! live task, stopping a healthy task by `minimumHealthyPercent` (rounded up).
//! DAEMON: one PRIMARY task on every usable instance that meets the constraints; an
//! older task on an instance is stopped first (within `minimumHealthyPercent`), then
//! replaced. The deployment circuit breaker counts failed tasks of the PRIMARY
//! deployment and, past its threshold, fails the deployment and rolls back.

use super::{Deployment, DeploymentStatus, RolloutState, Service, ServiceDeploymentStatus, ServiceStatus};
use super::{LifecycleStage, RollbackRecord, SchedulingStrategy};
use crate::task::{StopCode, Task, TaskStatus};
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashSet};

mod traffic;

/// The stop reason of a task the scheduler replaces because it is unhealthy.
pub const HEALTH_CHECK_FAILED: &str = "Task failed container health checks";
/// The stop reason's start for a task failing its load balancer's health checks.
pub const ELB_HEALTH_CHECK_FAILED: &str = "Task failed ELB health checks";
/// The stop reason of a task whose instance is gone or whose agent is lost.
pub const INSTANCE_LOST: &str = "Task stopped because its container instance is no longer available";
/// The stop reason of a task on a draining container instance.
pub const INSTANCE_DRAINING: &str = "Container instance is being drained";

/// A container instance as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    pub id: String,
    /// ACTIVE with its agent connected: may take new tasks.
    pub usable: bool,
    /// DRAINING: its service tasks are replaced elsewhere, then stopped.
    pub draining: bool,
    /// Deregistered or its agent lost: its tasks are replaced without waiting.
    pub lost: bool,
    /// Meets the service's constraints (a DAEMON service runs one task on it).
    pub eligible: bool,
    /// Its availability zone (`ecs.availability-zone`).
    pub zone: Option<String>,
}

/// What the controller carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Place `count` new tasks of the deployment anywhere the rules allow.
    Launch { deployment: String, count: usize },
    /// Place one new task of the deployment on this instance (DAEMON).
    LaunchOn { deployment: String, instance: String },
    /// Place one new task of the deployment in this availability zone (AZ rebalancing).
    LaunchIn { deployment: String, zone: String },
    /// Stop a task (stop code `ServiceSchedulerInitiated`).
    Stop { task: String, reason: String },
    /// Make the listener rule (or NLB listener) forward to these target groups with
    /// these weights (blue/green deployments); nothing when it already does.
    Route { rule: String, forward: Vec<(String, i64)> },
}

/// Where new ids come from (random in the controller, counted in tests).
pub trait Ids {
    /// `ecs-svc/` and 19 digits.
    fn deployment_id(&mut self) -> String;
    fn event_id(&mut self) -> String;
}

/// A task's standing with the service's load balancers (all its targets together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    /// Registered and passing health checks in every target group.
    Healthy,
    /// Failing a target group's health checks.
    Unhealthy,
    /// Not registered yet, or still in its first checks.
    Pending,
    /// Deregistered and draining before it stops.
    Draining,
}

/// What the scheduler observed.
pub struct Observed<'a> {
    /// The service's tasks: every live one, and the stopped ones of its deployments
    /// whose rollout is in progress (since the earliest `counting_since`).
    pub tasks: &'a [Task],
    pub instances: &'a [InstanceView],
    /// Task id → its targets' health, for a service behind load balancers; empty
    /// otherwise (then container health alone counts).
    pub targets: &'a std::collections::HashMap<String, TargetHealth>,
    pub now: Timestamp,
}

/// The stop reason of a task the scheduler stops to scale or deploy.
pub fn scaling_reason(deployment: &str) -> String {
    format!("Scaling activity initiated by (deployment {deployment})")
}

/// The breaker's threshold: half the desired count, at least 3 and at most 200.
pub fn failure_threshold(desired_count: i64) -> i64 {
    ((desired_count + 1) / 2).clamp(3, 200)
}

/// "has started N tasks" (ECS's wording).
pub fn started_message(service: &str, task_ids: &[String]) -> String {
    let list: Vec<String> = task_ids.iter().map(|t| format!("(task {t})")).collect();
    format!("(service {service}) has started {} tasks: {}.", task_ids.len(), list.join(" "))
}

/// "has stopped N running tasks" (ECS's wording).
pub fn stopped_message(service: &str, task_ids: &[String]) -> String {
    let list: Vec<String> = task_ids.iter().map(|t| format!("(task {t})")).collect();
    format!("(service {service}) has stopped {} running tasks: {}.", task_ids.len(), list.join(" "))
}

/// "was unable to place a task" (ECS's wording), with the placement's reason.
pub fn unable_to_place_message(service: &str, reason: &str) -> String {
    format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements. \
         Reason: {reason}"
    )
}

/// A task is live while it is meant to run and has not stopped.
fn is_live(t: &Task) -> bool {
    t.desired_status != TaskStatus::Stopped && t.last_status != TaskStatus::Stopped
}

/// RUNNING, and HEALTHY if any essential container has a health check.
fn is_healthy(t: &Task) -> bool {
    if t.last_status != TaskStatus::Running {
        return false;
    }
    let checked = t.containers.iter().any(|c| c.essential && c.health_status.is_some());
    !checked || t.health_status() == "HEALTHY"
}

/// A stopped task that counts against the circuit breaker: it failed to start, its
/// essential container exited, or the scheduler stopped it for failed health checks.
fn is_failure(t: &Task) -> bool {
    t.last_status == TaskStatus::Stopped
        && match t.stop_code {
            Some(StopCode::TaskFailedToStart) | Some(StopCode::EssentialContainerExited) => true,
            Some(StopCode::ServiceSchedulerInitiated) => t
                .stopped_reason
                .as_deref()
                .is_some_and(|r| r == HEALTH_CHECK_FAILED || r.starts_with(ELB_HEALTH_CHECK_FAILED)),
            _ => false,
        }
}

/// ceil(count × percent / 100) and floor(count × percent / 100).
fn percent_up(count: i64, percent: i64) -> i64 {
    (count.saturating_mul(percent) + 99).div_euclid(100)
}

fn percent_down(count: i64, percent: i64) -> i64 {
    count.saturating_mul(percent).div_euclid(100)
}

/// One pass of the scheduler. Mutates `service` (counts, rollout states, events,
/// status) and returns what to do; the caller stores the service and acts.
pub fn reconcile(service: &mut Service, observed: &Observed<'_>, ids: &mut dyn Ids) -> Vec<Action> {
    let mut actions = decide(service, observed, ids);
    actions.extend(traffic::routes(service));
    actions
}

/// The tasks to start and stop this pass.
fn decide(service: &mut Service, observed: &Observed<'_>, ids: &mut dyn Ids) -> Vec<Action> {
    let now = observed.now;
    if service.status == ServiceStatus::Inactive || service.deployments.is_empty() {
        return Vec::new();
    }
    let group = service.group();
    let tasks: Vec<&Task> = observed.tasks.iter().filter(|t| t.group == group).collect();
    let instance =
        |t: &Task| t.container_instance_id.as_ref().and_then(|id| observed.instances.iter().find(|i| &i.id == id));
    let mut actions = Vec::new();
    let mut stopped: HashSet<&str> = HashSet::new();

    // Healthy: RUNNING, its container health checks passing, and (behind load
    // balancers) its targets passing theirs.
    let balanced = !service.spec.load_balancers.is_empty();
    let first_group = service.spec.load_balancers.first().map(|l| l.target_group_arn.clone()).unwrap_or_default();
    let healthy =
        |t: &Task| is_healthy(t) && (!balanced || observed.targets.get(&t.id) == Some(&TargetHealth::Healthy));

    // Tasks whose instance is gone, and tasks failing health checks past the grace period.
    let grace_ms = service.spec.health_check_grace_period_seconds.unwrap_or(0).saturating_mul(1000);
    for t in tasks.iter().copied().filter(|t| is_live(t)) {
        match instance(t) {
            // Waiting for its capacity provider's capacity: not placed yet, not lost.
            None if t.container_instance_id.is_none() && t.last_status == TaskStatus::Provisioning => {}
            None => stop(&mut actions, &mut stopped, t, INSTANCE_LOST.to_string()),
            Some(i) if i.lost => stop(&mut actions, &mut stopped, t, INSTANCE_LOST.to_string()),
            Some(_) => {
                let past_grace = t.started_at.is_none_or(|s| now.0.saturating_sub(s.0) >= grace_ms);
                if t.last_status == TaskStatus::Running && t.health_status() == "UNHEALTHY" && past_grace {
                    let message = format!("(service {}) (task {}) failed container health checks.", service.name, t.id);
                    service.record_event(ids.event_id(), message, now);
                    stop(&mut actions, &mut stopped, t, HEALTH_CHECK_FAILED.to_string());
                } else if balanced && observed.targets.get(&t.id) == Some(&TargetHealth::Unhealthy) && past_grace {
                    let message = format!(
                        "(service {}) (task {}) failed ELB health checks in (target-group {first_group})",
                        service.name, t.id
                    );
                    service.record_event(ids.event_id(), message, now);
                    stop(
                        &mut actions,
                        &mut stopped,
                        t,
                        format!("{ELB_HEALTH_CHECK_FAILED} in (target-group {first_group})"),
                    );
                }
            }
        }
    }
    let live: Vec<&Task> = tasks.iter().copied().filter(|t| is_live(t) && !stopped.contains(task_id(t))).collect();

    adopt_digests(service, &tasks);
    count_tasks(service, &tasks, &live, now);
    if trip_breaker(service, ids, now) {
        return actions;
    }
    let primary_id = service.deployments[0].id.clone();
    let desired = match (service.status, service.spec.scheduling_strategy) {
        (ServiceStatus::Active, SchedulingStrategy::Replica) => service.spec.desired_count.max(0),
        (ServiceStatus::Active, SchedulingStrategy::Daemon) => {
            observed.instances.iter().filter(|i| i.usable && i.eligible && !i.draining && !i.lost).count() as i64
        }
        _ => 0,
    };
    if service.spec.scheduling_strategy == SchedulingStrategy::Daemon {
        service.spec.desired_count = desired;
    }
    for d in &mut service.deployments {
        d.desired_count = if d.id == primary_id { desired } else { 0 };
    }
    let launching = service.deployments[0].rollout_state != RolloutState::Failed;
    let config = service.spec.deployment_configuration.clone();
    let min_healthy = percent_up(desired, config.minimum_healthy_percent);
    let mut healthy_total = live.iter().filter(|t| healthy(t)).count() as i64;

    match service.spec.scheduling_strategy {
        SchedulingStrategy::Replica => {
            let retiring =
                |t: &Task| t.started_by.as_deref() != Some(&primary_id) || instance(t).is_some_and(|i| i.draining);
            let current: Vec<&Task> = live.iter().copied().filter(|t| !retiring(t)).collect();
            let mut old: Vec<&Task> = live.iter().copied().filter(|t| retiring(t)).collect();
            // Blue/green: a whole green set starts beside the blue one, which stays
            // until CLEAN_UP; tasks of any other older deployment go at once.
            let shifting = service.deployments[0].shifting() && service.status == ServiceStatus::Active;
            let max_total = if shifting {
                desired.saturating_add(live.len() as i64)
            } else {
                percent_down(desired, config.maximum_percent).max(desired)
            };
            let want = desired - current.len() as i64;
            let room = max_total - live.len() as i64;
            if launching && want > 0 && room > 0 {
                actions.push(Action::Launch { deployment: primary_id.clone(), count: want.min(room) as usize });
            }
            if shifting {
                let green = &service.deployments[0];
                let blue = green.shifting_from.clone();
                let clean_up = green.lifecycle_stage == Some(LifecycleStage::CleanUp);
                for t in old.drain(..) {
                    let of_blue = t.started_by.is_some() && t.started_by == blue;
                    if !of_blue || clean_up || instance(t).is_some_and(|i| i.draining) {
                        let reason = if instance(t).is_some_and(|i| i.draining) {
                            INSTANCE_DRAINING.to_string()
                        } else {
                            scaling_reason(&primary_id)
                        };
                        stop(&mut actions, &mut stopped, t, reason);
                    }
                }
                let ready = current.len() as i64 >= desired && current.iter().all(|t| healthy(t));
                traffic::advance(service, ready, ids, now);
            }
            // Old tasks go once enough others are healthy: unhealthy ones at once.
            if launching || service.status != ServiceStatus::Active {
                old.sort_by_key(|t| healthy(t));
                for t in old {
                    let reason = if instance(t).is_some_and(|i| i.draining) {
                        INSTANCE_DRAINING.to_string()
                    } else {
                        scaling_reason(&primary_id)
                    };
                    if !healthy(t) {
                        stop(&mut actions, &mut stopped, t, reason);
                    } else if healthy_total > min_healthy {
                        healthy_total -= 1;
                        stop(&mut actions, &mut stopped, t, reason);
                    }
                }
            }
            let zone_of = |t: &Task| instance(t).and_then(|i| i.zone.clone());
            let excess = current.len() as i64 - desired;
            // While rebalancing, the extra task must be healthy before one goes elsewhere.
            let hold = service.rebalancing && !current.iter().all(|t| healthy(t));
            if excess > 0 && !hold {
                let draining = |t: &Task| observed.targets.get(&t.id) == Some(&TargetHealth::Draining);
                for t in scale_in_order(&current, &zone_of, &draining).into_iter().take(excess as usize) {
                    stop(&mut actions, &mut stopped, t, scaling_reason(&primary_id));
                }
            }
            let settled = actions.is_empty()
                && excess <= 0
                && want <= 0
                && service.status == ServiceStatus::Active
                && service.deployments.len() == 1
                && service.deployments[0].rollout_state == RolloutState::Completed
                && current.iter().all(|t| healthy(t));
            if settled && service.spec.availability_zone_rebalancing == "ENABLED" {
                rebalance(service, &current, observed.instances, &zone_of, ids, now, &mut actions);
            }
        }
        SchedulingStrategy::Daemon => {
            let mut on: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
            for t in &live {
                let wanted =
                    instance(t).is_some_and(|i| i.eligible && !i.draining) && service.status == ServiceStatus::Active;
                if wanted {
                    on.entry(t.container_instance_id.as_deref().unwrap_or("")).or_default().push(t);
                } else {
                    stop(&mut actions, &mut stopped, t, INSTANCE_DRAINING.to_string());
                }
            }
            if service.status == ServiceStatus::Active {
                for i in observed.instances.iter().filter(|i| i.usable && i.eligible && !i.draining && !i.lost) {
                    let here = on.remove(i.id.as_str()).unwrap_or_default();
                    let (mine, others): (Vec<&Task>, Vec<&Task>) =
                        here.into_iter().partition(|t| t.started_by.as_deref() == Some(&primary_id));
                    for t in mine.iter().skip(1) {
                        stop(&mut actions, &mut stopped, t, scaling_reason(&primary_id));
                    }
                    if let Some(first) = mine.first() {
                        // The instance runs the PRIMARY's task: older ones there are redundant once it is healthy.
                        if healthy(first) {
                            for t in &others {
                                stop(&mut actions, &mut stopped, t, scaling_reason(&primary_id));
                            }
                        }
                    } else if !launching {
                        // A failed deployment starts nothing.
                    } else if others.is_empty() {
                        actions.push(Action::LaunchOn { deployment: primary_id.clone(), instance: i.id.clone() });
                    } else {
                        // An older task holds the instance: it goes first, within the minimum healthy.
                        for t in others {
                            let healthy = healthy(t);
                            if !healthy || healthy_total > min_healthy {
                                healthy_total -= i64::from(healthy);
                                stop(&mut actions, &mut stopped, t, scaling_reason(&primary_id));
                            }
                        }
                    }
                }
                // Tasks on instances not usable for now (agent briefly away) stay until they are lost.
            }
        }
    }

    let remaining: Vec<&Task> = live.iter().copied().filter(|t| !stopped.contains(task_id(t))).collect();
    // A deleted service is INACTIVE once its tasks have stopped (those of lost instances never report).
    let lingering = tasks.iter().any(|t| t.last_status != TaskStatus::Stopped && instance(t).is_some_and(|i| !i.lost));
    let pass = PassEnd { desired, quiet: actions.is_empty(), lingering };
    finish(service, &remaining, pass, &healthy, ids, now);
    actions
}

fn task_id(t: &Task) -> &str {
    t.id.as_str()
}

/// Asks for a task to stop, once.
fn stop<'a>(actions: &mut Vec<Action>, stopped: &mut HashSet<&'a str>, t: &'a Task, reason: String) {
    if stopped.insert(task_id(t)) {
        actions.push(Action::Stop { task: t.id.clone(), reason });
    }
}

/// Starts one task in the emptiest zone when the service's tasks are out of balance
/// across the zones of usable instances (more than one apart), saying so once; the
/// scale-in that follows takes one from the fullest zone. Says when balance is back.
fn rebalance(
    service: &mut Service,
    current: &[&Task],
    instances: &[InstanceView],
    zone_of: &dyn Fn(&Task) -> Option<String>,
    ids: &mut dyn Ids,
    now: Timestamp,
    actions: &mut Vec<Action>,
) {
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for i in instances.iter().filter(|i| i.usable && i.eligible && !i.draining && !i.lost) {
        if let Some(z) = &i.zone {
            per_zone.entry(z.clone()).or_default();
        }
    }
    for t in current {
        if let Some(n) = zone_of(t).and_then(|z| per_zone.get_mut(&z)) {
            *n += 1;
        }
    }
    let name = service.name.clone();
    let emptiest = per_zone.iter().min_by_key(|(z, n)| (**n, (*z).clone()));
    let fullest = per_zone.values().max().copied().unwrap_or(0);
    match emptiest {
        Some((zone, n)) if per_zone.len() > 1 && fullest > n + 1 => {
            if !service.rebalancing {
                let counts: Vec<String> = per_zone.iter().map(|(z, n)| format!("{n} tasks in {z}")).collect();
                let message =
                    format!("(service {name}) is not AZ balanced with {}. Started AZ Rebalancing.", counts.join(", "));
                service.record_event(ids.event_id(), message, now);
                service.rebalancing = true;
            }
            let deployment = service.deployments[0].id.clone();
            actions.push(Action::LaunchIn { deployment, zone: zone.clone() });
        }
        _ if service.rebalancing => {
            service.rebalancing = false;
            service.record_event(ids.event_id(), format!("(service {name}) has completed AZ rebalancing."), now);
        }
        _ => {}
    }
}

/// Which of a deployment's tasks to stop first when scaling in: those already
/// draining, those not yet running, then from the zone, and within it the instance,
/// holding the most of the service's tasks.
fn scale_in_order<'a>(
    tasks: &[&'a Task],
    zone_of: &dyn Fn(&Task) -> Option<String>,
    draining: &dyn Fn(&Task) -> bool,
) -> Vec<&'a Task> {
    let mut per_instance: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    let mut per_zone: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for t in tasks {
        *per_instance.entry(t.container_instance_id.as_deref()).or_default() += 1;
        *per_zone.entry(zone_of(t)).or_default() += 1;
    }
    let mut order: Vec<&Task> = Vec::new();
    let mut rest: Vec<&Task> = tasks.to_vec();
    rest.sort_by(|a, b| {
        (a.last_status == TaskStatus::Running).cmp(&(b.last_status == TaskStatus::Running)).then(a.id.cmp(&b.id))
    });
    while !rest.is_empty() {
        // A draining task, else the first not-running one, else one from the fullest
        // zone's fullest instance.
        let pick = rest
            .iter()
            .position(|t| draining(t))
            .or_else(|| rest.iter().position(|t| t.last_status != TaskStatus::Running))
            .unwrap_or_else(|| {
                let weight = |t: &&'a Task| -> (usize, usize, std::cmp::Reverse<Option<&'a str>>) {
                    let zone = per_zone.get(&zone_of(t)).copied().unwrap_or(0);
                    let instance = per_instance.get(&t.container_instance_id.as_deref()).copied().unwrap_or(0);
                    (zone, instance, std::cmp::Reverse(t.container_instance_id.as_deref()))
                };
                let best = rest.iter().max_by_key(|t| weight(t)).map(weight);
                rest.iter().position(|t| Some(weight(t)) == best).unwrap_or(0)
            });
        let t = rest.remove(pick);
        if let Some(n) = per_instance.get_mut(&t.container_instance_id.as_deref()) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = per_zone.get_mut(&zone_of(t)) {
            *n = n.saturating_sub(1);
        }
        order.push(t);
    }
    order
}

/// Pins images the deployment could not resolve when it started (another registry's
/// tags) to the digest its first task's agent pulled, so its later tasks run the same
/// image even if the tag moves.
fn adopt_digests(service: &mut Service, tasks: &[&Task]) {
    for d in &mut service.deployments {
        for image in d.revision.images.iter_mut().filter(|i| i.image_digest.is_none()) {
            image.image_digest = tasks
                .iter()
                .filter(|t| t.started_by.as_deref() == Some(d.id.as_str()))
                .flat_map(|t| &t.containers)
                .find(|c| c.name == image.container_name && c.image == image.image && c.image_digest.is_some())
                .and_then(|c| c.image_digest.clone());
        }
    }
}

/// Recounts every live deployment's running, pending and failed tasks.
fn count_tasks(service: &mut Service, tasks: &[&Task], live: &[&Task], now: Timestamp) {
    for d in &mut service.deployments {
        let mine = |t: &&&Task| t.started_by.as_deref() == Some(d.id.as_str());
        let running = live.iter().filter(mine).filter(|t| t.last_status == TaskStatus::Running).count() as i64;
        let pending = live.iter().filter(mine).filter(|t| t.last_status.is_pending()).count() as i64;
        // Failures matter to the breaker only while the rollout is in progress; the
        // figure of a finished one stays as it was.
        let since = d.counting_since;
        let failed = if d.rollout_state == RolloutState::InProgress {
            tasks.iter().filter(mine).filter(|t| is_failure(t) && t.stopped_at.is_none_or(|s| s >= since)).count()
                as i64
        } else {
            d.failed_tasks
        };
        if (running, pending, failed) != (d.running_count, d.pending_count, d.failed_tasks) {
            (d.running_count, d.pending_count, d.failed_tasks) = (running, pending, failed);
            d.updated_at = now;
        }
    }
}

/// Fails the PRIMARY deployment when its failed tasks reach the breaker's threshold,
/// and rolls back to the last completed deployment when asked to. Returns whether
/// it tripped (the pass ends there; the next one works towards the new state).
fn trip_breaker(service: &mut Service, ids: &mut dyn Ids, now: Timestamp) -> bool {
    let primary = &service.deployments[0];
    let Some(breaker) = primary.configuration.breaker() else { return false };
    if primary.rollout_state != RolloutState::InProgress
        || primary.failed_tasks < failure_threshold(service.spec.desired_count)
    {
        return false;
    }
    let failed_id = primary.id.clone();
    let rollback_of = primary.rollback_of.clone();
    let name = service.name.clone();
    let reason = "ECS deployment circuit breaker: tasks failed to start.".to_string();
    {
        let p = &mut service.deployments[0];
        p.rollout_state = RolloutState::Failed;
        p.rollout_state_reason = Some(reason.clone());
        p.updated_at = now;
    }
    service.record_event(
        ids.event_id(),
        format!("(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."),
        now,
    );
    service.steady = false;
    if let Some(original) = rollback_of {
        // A rollback that fails is not rolled back again.
        service.deployments[0].outcome = ServiceDeploymentStatus::RollbackFailed;
        service.deployments[0].finished_at = Some(now);
        if let Some(o) = service.deployment_mut(&original) {
            o.outcome = ServiceDeploymentStatus::RollbackFailed;
            o.finished_at = Some(now);
        }
        return true;
    }
    let target = service.all_deployments().skip(1).find(|d| d.rollout_state == RolloutState::Completed).cloned();
    match (breaker.rollback, target) {
        (true, Some(target)) => {
            let record = RollbackRecord { reason, started_at: now, to_deployment: target.id.clone() };
            if let Some(failed) = service.deployment_mut(&failed_id) {
                failed.outcome = ServiceDeploymentStatus::RollbackInProgress;
                failed.rollback = Some(record);
            }
            restore(service, &target, &failed_id, ids, now);
            service.record_event(
                ids.event_id(),
                format!("(service {name}) rolling back to deployment {}.", target.id),
                now,
            );
        }
        _ => {
            service.deployments[0].outcome = ServiceDeploymentStatus::Stopped;
            service.deployments[0].finished_at = Some(now);
            give_back_traffic(service, now);
        }
    }
    true
}

/// A traffic-shifting deployment that stops without a rollback hands production
/// traffic back to the deployment it was taking it from.
fn give_back_traffic(service: &mut Service, now: Timestamp) {
    if let Some(blue) = service.deployments[0].shifting_from.clone() {
        traffic::return_to(service, &blue, now);
    }
}

/// Why StopServiceDeployment cannot stop a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRefusal {
    /// The service has no such deployment.
    NotFound,
    /// It is not the PRIMARY deployment's rollout in progress.
    NotInProgress,
    /// A rollback was asked for but no deployment ever completed.
    NothingToRollBackTo,
}

/// StopServiceDeployment: ends the PRIMARY deployment's rollout in progress. With
/// `rollback` the last completed deployment is restored; without, the rollout stops
/// where it is (FAILED: nothing more of it is started).
pub fn stop_deployment(
    service: &mut Service,
    id: &str,
    rollback: bool,
    ids: &mut dyn Ids,
    now: Timestamp,
) -> Result<(), StopRefusal> {
    if service.find_deployment(id).is_none() {
        return Err(StopRefusal::NotFound);
    }
    let primary = &service.deployments[0];
    if primary.id != id || primary.rollout_state != RolloutState::InProgress {
        return Err(StopRefusal::NotInProgress);
    }
    let target = service.all_deployments().skip(1).find(|d| d.rollout_state == RolloutState::Completed).cloned();
    if rollback && target.is_none() {
        return Err(StopRefusal::NothingToRollBackTo);
    }
    let reason = "Service deployment stopped by the user.".to_string();
    let name = service.name.clone();
    {
        let p = &mut service.deployments[0];
        p.rollout_state = RolloutState::Failed;
        p.rollout_state_reason = Some(reason.clone());
        p.updated_at = now;
    }
    service.steady = false;
    match target.filter(|_| rollback) {
        Some(target) => {
            let p = &mut service.deployments[0];
            p.outcome = ServiceDeploymentStatus::RollbackInProgress;
            p.rollback = Some(RollbackRecord { reason, started_at: now, to_deployment: target.id.clone() });
            restore(service, &target, id, ids, now);
            service.record_event(
                ids.event_id(),
                format!("(service {name}) rolling back to deployment {}.", target.id),
                now,
            );
        }
        None => {
            let p = &mut service.deployments[0];
            p.outcome = ServiceDeploymentStatus::Stopped;
            p.finished_at = Some(now);
            give_back_traffic(service, now);
            service.record_event(
                ids.event_id(),
                format!("(service {name}) (deployment {id}) deployment stopped."),
                now,
            );
        }
    }
    Ok(())
}

/// Makes the completed deployment `target` PRIMARY again: while it still has tasks
/// (it is live) it is promoted back, so its running tasks keep serving; otherwise a
/// new deployment of its revision starts.
fn restore(service: &mut Service, target: &Deployment, failed_id: &str, ids: &mut dyn Ids, now: Timestamp) {
    let restored = match service.deployments.iter().position(|d| d.id == target.id) {
        Some(i) => {
            let mut d = service.deployments.remove(i);
            for other in &mut service.deployments {
                other.status = DeploymentStatus::Active;
                other.updated_at = now;
            }
            d.status = DeploymentStatus::Primary;
            d.rollout_state = RolloutState::InProgress;
            d.rollout_state_reason = Some(format!("ECS deployment circuit breaker: rolling back to {}.", d.id));
            d.counting_since = now;
            d.updated_at = now;
            service.deployments.insert(0, d);
            service.steady = false;
            &mut service.deployments[0]
        }
        None => service.start_deployment(target.revision.clone(), ids.deployment_id(), now),
    };
    restored.rollback_of = Some(failed_id.to_string());
    let restored = restored.id.clone();
    traffic::return_to(service, &restored, now);
}

/// How a pass ended: the desired count, whether it asked for nothing, and whether
/// any task is still on its way to STOPPED.
struct PassEnd {
    desired: i64,
    quiet: bool,
    lingering: bool,
}

/// Completes the rollout once the PRIMARY deployment alone runs the desired count,
/// all healthy; retires finished deployments; says "steady state" on arrival; and
/// turns a deleted service INACTIVE once its last task is gone.
fn finish(
    service: &mut Service,
    remaining: &[&Task],
    pass: PassEnd,
    healthy: &dyn Fn(&Task) -> bool,
    ids: &mut dyn Ids,
    now: Timestamp,
) {
    let PassEnd { desired, quiet, lingering } = pass;
    let name = service.name.clone();
    let primary_id = service.deployments[0].id.clone();
    let of_primary: Vec<&&Task> = remaining.iter().filter(|t| t.started_by.as_deref() == Some(&primary_id)).collect();
    let only_primary = of_primary.len() == remaining.len();
    // A traffic-shifting deployment is done only once its blue tasks are cleaned up.
    let primary = &service.deployments[0];
    let shifted = !primary.shifting() || primary.lifecycle_stage == Some(LifecycleStage::CleanUp);
    let settled =
        quiet && shifted && only_primary && of_primary.len() as i64 == desired && of_primary.iter().all(|t| healthy(t));
    let empty: Vec<String> = service
        .deployments
        .iter()
        .skip(1)
        .filter(|d| !remaining.iter().any(|t| t.started_by.as_deref() == Some(d.id.as_str())))
        .map(|d| d.id.clone())
        .collect();

    if service.status == ServiceStatus::Draining {
        if !lingering && remaining.is_empty() {
            service.status = ServiceStatus::Inactive;
            let all: Vec<String> = service.deployments.iter().map(|d| d.id.clone()).collect();
            service.retire(&all, now);
        }
        return;
    }
    if settled && service.deployments[0].rollout_state == RolloutState::InProgress {
        let rollback_of = {
            let p = &mut service.deployments[0];
            p.rollout_state = RolloutState::Completed;
            p.rollout_state_reason = Some(format!("ECS deployment {primary_id} completed."));
            p.outcome = ServiceDeploymentStatus::Successful;
            p.finished_at = Some(now);
            p.updated_at = now;
            p.rollback_of.clone()
        };
        if let Some(original) = rollback_of
            && let Some(o) = service.deployment_mut(&original)
        {
            o.outcome = ServiceDeploymentStatus::RollbackSuccessful;
            o.finished_at = Some(now);
        }
        service.record_event(
            ids.event_id(),
            format!("(service {name}) (deployment {primary_id}) deployment completed."),
            now,
        );
    }
    // Older deployments with no task left are done, once the PRIMARY's rollout is over
    // (a deployment still in progress keeps its sources for a rollback).
    if service.deployments[0].rollout_state != RolloutState::InProgress && !empty.is_empty() {
        service.retire(&empty, now);
    }
    let steady = settled && service.deployments.len() == 1;
    if steady && !service.steady {
        service.record_event(ids.event_id(), format!("(service {name}) has reached a steady state."), now);
    }
    service.steady = steady;
}

#[cfg(test)]
mod tests;
