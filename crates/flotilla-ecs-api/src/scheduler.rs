//! The `ecs-service-scheduler` controller: every second (and whenever a service or
//! one of its tasks changes) it reads each ACTIVE or DRAINING service, its tasks and
//! its cluster's instances, asks the pure reconciler
//! (`flotilla_domain::service::scheduler`) what to do, starts and stops tasks on
//! the same launch path as RunTask, and stores the service's new state.
//!
//! It keeps nothing between passes: after a restart (or on another replica that
//! takes its lease over) the next pass recounts everything from the store.

use crate::EcsService;
use crate::balancing::{Balancing, Changes};
use crate::error::EcsError;
use crate::launch::{Launched, Target, TaskSpec};
use crate::placement::{self, Rules};
use crate::services::RandomIds;
use flotilla_controller::{Controller, PassError};
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::service::scheduler::{self, Action, InstanceView, Observed};
use flotilla_domain::service::{RolloutState, SchedulingStrategy, Service};
use flotilla_domain::task::{LaunchType, StopCode, Task, TaskStatus};
use flotilla_domain::{EcsArns, Timestamp};
use flotilla_placement::{PlacementConstraint, PlacementStrategy};
use flotilla_store::{InstanceLoad, Page, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const PASS_INTERVAL: Duration = Duration::from_secs(1);
const ZONE_ATTRIBUTE: &str = "ecs.availability-zone";
const ZONE_FIELD: &str = "attribute:ecs.availability-zone";
const PAGE: u32 = 100;

pub(crate) struct ServiceScheduler {
    pub ecs: EcsService,
}

#[async_trait::async_trait]
impl Controller for ServiceScheduler {
    fn name(&self) -> &'static str {
        "ecs-service-scheduler"
    }

    fn interval(&self) -> Duration {
        PASS_INTERVAL
    }

    fn wakeup(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.ecs.services_changed.clone())
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let store = &self.ecs.store;
        let mut clusters = Page { after: None, limit: PAGE };
        let mut fargate_loads: Option<Vec<InstanceLoad>> = None;
        loop {
            let names = store.list_cluster_names(clusters.clone()).await?;
            for cluster in &names {
                let mut services = Page { after: None, limit: PAGE };
                // Read once per cluster and pass: the scheduler only needs the instances'
                // states here; placement reads the loads afresh in its own transaction.
                let mut loads: Option<Vec<InstanceLoad>> = None;
                loop {
                    let batch = store.list_services(cluster, true, services.clone()).await?;
                    for service in &batch {
                        // A Fargate service's tasks run on the nodes serving Fargate.
                        let loads = if service.spec.launch.launch_type == LaunchType::Fargate {
                            if fargate_loads.is_none() {
                                fargate_loads = Some(store.fargate_nodes().await?);
                            }
                            fargate_loads.as_deref().unwrap_or_default()
                        } else {
                            if loads.is_none() {
                                loads = Some(self.ecs.instance_loads(cluster).await?);
                            }
                            loads.as_deref().unwrap_or_default()
                        };
                        // One service's failure must not hold up the others.
                        if let Err(e) = self.reconcile_service(service.clone(), loads).await {
                            tracing::warn!(cluster = %cluster, service = %service.name, error = %e, "service pass failed");
                        }
                    }
                    match batch.last() {
                        Some(last) if batch.len() == PAGE as usize => services.after = Some(last.name.clone()),
                        _ => break,
                    }
                }
            }
            match names.last() {
                Some(last) if names.len() == PAGE as usize => clusters.after = Some(last.clone()),
                _ => return Ok(()),
            }
        }
    }
}

impl ServiceScheduler {
    async fn reconcile_service(&self, mut service: Service, loads: &[InstanceLoad]) -> Result<(), EcsError> {
        let ecs = &self.ecs;
        let now = Timestamp::now();
        // Stopped tasks count only for rollouts in progress (the circuit breaker).
        let since = service
            .deployments
            .iter()
            .filter(|d| d.rollout_state == RolloutState::InProgress)
            .map(|d| d.counting_since)
            .min()
            .unwrap_or(now);
        let tasks = ecs.store.group_tasks(&service.cluster, &service.group(), since).await?;
        let rules = ecs.service_rules(&service).await?;
        let instances = ecs.instance_views(&service, loads, rules.as_ref(), now);
        let balancing = match &ecs.load_balancing {
            Some(lb) => Balancing::read(lb.as_ref(), &service).await.map_err(EcsError::invalid)?,
            None => None,
        };
        let targets = balancing.as_ref().map(|b| b.health(&tasks, loads)).unwrap_or_default();
        let before = service.clone();
        let fargate = service.spec.launch.launch_type == LaunchType::Fargate;
        let observed = Observed { tasks: &tasks, instances: &instances, targets: &targets, now };
        let actions = scheduler::reconcile(&mut service, &observed, &mut RandomIds);
        let mut messages = Vec::new();
        let mut placement_failed: Option<String> = None;
        let mut stopped = Vec::new();
        let mut changes = Changes::default();
        let stopping: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Stop { task, .. } => Some(task.clone()),
                _ => None,
            })
            .collect();
        for action in actions {
            match action {
                Action::Launch { deployment, count } => {
                    let Some(rules) = rules.as_ref() else { continue };
                    let target = if fargate {
                        Target::Fargate { required_attributes: rules.required_attributes.clone() }
                    } else {
                        Target::Cluster(rules.clone())
                    };
                    let launched = self.launch(&service, &deployment, count, &target, &tasks, now).await?;
                    messages.extend(launch_messages(&service.name, &launched));
                    placement_failed = placement_failed.or(unplaced_reason(&launched));
                }
                Action::LaunchIn { deployment, .. } if fargate => {
                    // Fargate spreads across zones by itself.
                    let Some(rules) = rules.as_ref() else { continue };
                    let target = Target::Fargate { required_attributes: rules.required_attributes.clone() };
                    let launched = self.launch(&service, &deployment, 1, &target, &tasks, now).await?;
                    messages.extend(launch_messages(&service.name, &launched));
                    placement_failed = placement_failed.or(unplaced_reason(&launched));
                }
                Action::LaunchIn { deployment, zone } => {
                    let Some(mut rules) = rules.clone() else { continue };
                    let in_zone = format!("attribute:{ZONE_ATTRIBUTE} == {zone}");
                    let constraint = PlacementConstraint::parse(rules.constraints.len(), "memberOf", Some(&in_zone))
                        .map_err(|e| EcsError::invalid(e.to_string()))?;
                    rules.constraints.push(constraint);
                    let launched = self.launch(&service, &deployment, 1, &Target::Cluster(rules), &tasks, now).await?;
                    messages.extend(launch_messages(&service.name, &launched));
                    placement_failed = placement_failed.or(unplaced_reason(&launched));
                }
                Action::LaunchOn { deployment, instance } => {
                    let required_attributes = rules.as_ref().map(|r| r.required_attributes.clone()).unwrap_or_default();
                    let target = Target::Instance { id: instance, required_attributes };
                    let launched = self.launch(&service, &deployment, 1, &target, &tasks, now).await?;
                    messages.extend(launch_messages(&service.name, &launched));
                    placement_failed = placement_failed.or(unplaced_reason(&launched));
                }
                Action::Route { rule, forward } => {
                    let Some(lb) = &ecs.load_balancing else { continue };
                    match lb.route(&rule, &forward).await {
                        Ok(true) => tracing::info!(service = %service.name, rule = %rule, ?forward, "traffic shifted"),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(service = %service.name, rule = %rule, error = %e, "shifting traffic failed")
                        }
                    }
                }
                Action::Stop { task, reason } => {
                    // Behind load balancers a task drains first; at once when its instance is
                    // gone, or when it fails the load balancer's health checks (it gets no
                    // traffic then, and once drained it would no longer look unhealthy).
                    if let (Some(b), Some(lb), Some(t)) =
                        (&balancing, &ecs.load_balancing, tasks.iter().find(|t| t.id == task))
                    {
                        let at_once = reason == scheduler::INSTANCE_LOST
                            || reason.starts_with(scheduler::ELB_HEALTH_CHECK_FAILED);
                        if !b.ready_to_stop(lb.as_ref(), &service, t, loads, at_once, &mut changes).await {
                            continue;
                        }
                    }
                    let stop = |t: &mut flotilla_domain::task::Task| {
                        t.request_stop(StopCode::ServiceSchedulerInitiated, Some(reason.clone()), now)
                    };
                    match ecs.change_task(&service.cluster, &task, stop).await {
                        Ok(_) => stopped.push(task),
                        Err(e) => {
                            tracing::warn!(service = %service.name, task = %task, error = %e, "stopping a task failed")
                        }
                    }
                }
            }
        }
        if !stopped.is_empty() {
            messages.push(scheduler::stopped_message(&service.name, &stopped));
        }
        if let (Some(b), Some(lb)) = (&balancing, &ecs.load_balancing) {
            b.sync(lb.as_ref(), &service, &tasks, loads, &stopping, &mut changes).await;
        }
        messages.extend(changes.messages);
        let mut events = crate::events::service_events(&before, &service);
        if let Some(reason) = placement_failed {
            events.push(crate::events::placement_failure(&reason));
        }
        let emitted = service.clone();
        self.store_service(service, &before, messages, now).await?;
        ecs.service_changed(&emitted, events).await;
        Ok(())
    }

    /// Starts `count` tasks of one of the service's deployments.
    async fn launch(
        &self,
        service: &Service,
        deployment: &str,
        count: usize,
        target: &Target,
        tasks: &[Task],
        now: Timestamp,
    ) -> Result<Launched, EcsError> {
        // New tasks follow the capacity provider strategy given those already live.
        let mut provider_counts = BTreeMap::new();
        for t in tasks.iter().filter(|t| t.last_status != TaskStatus::Stopped) {
            if let Some(p) = &t.capacity_provider_name {
                *provider_counts.entry(p.clone()).or_insert(0) += 1;
            }
        }
        let Some(d) = service.find_deployment(deployment) else { return Ok(Launched::default()) };
        let Some(td) = self.ecs.store.get_task_definition(&d.revision.family, d.revision.revision).await? else {
            return Ok(Launched::default());
        };
        let tags = match service.spec.propagate_tags.as_str() {
            "SERVICE" => {
                self.ecs.store.list_tags(&self.ecs.account.service_arn(&service.cluster, &service.name)).await?
            }
            "TASK_DEFINITION" => {
                self.ecs.store.list_tags(&self.ecs.account.task_definition_arn(&td.family, td.revision)).await?
            }
            _ => Vec::new(),
        };
        let spec = TaskSpec {
            definition: &td,
            overrides: Default::default(),
            group: Some(service.group()),
            started_by: Some(d.id.clone()),
            client_token: None,
            tags,
            images: d.revision.images.clone(),
            launch: service.spec.launch.clone(),
            provider_counts,
        };
        self.ecs.launch_tasks(&service.cluster, &spec, count, target, now).await
    }

    /// Stores the service's new state with the events of what was done. A write that
    /// loses to an API call is redone on the fresh service with the events alone (the
    /// next pass recounts everything else).
    async fn store_service(
        &self,
        mut service: Service,
        before: &Service,
        messages: Vec<String>,
        now: Timestamp,
    ) -> Result<(), EcsError> {
        for m in &messages {
            service.record_event(uuid::Uuid::new_v4().to_string(), m.clone(), now);
        }
        if service == *before {
            return Ok(());
        }
        match self.ecs.store.update_service(&service).await {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict { .. }) if !messages.is_empty() => {
                let Some(mut fresh) = self.ecs.store.get_service(&service.cluster, &service.name).await? else {
                    return Ok(());
                };
                for m in messages {
                    fresh.record_event(uuid::Uuid::new_v4().to_string(), m, now);
                }
                match self.ecs.store.update_service(&fresh).await {
                    Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl EcsService {
    /// Every instance of the cluster, with its load.
    pub(crate) async fn instance_loads(&self, cluster: &str) -> Result<Vec<InstanceLoad>, StoreError> {
        let mut all = Vec::new();
        let mut page = Page { after: None, limit: PAGE };
        loop {
            let batch = self.store.list_container_instances(cluster, None, false, page.clone()).await?;
            let full = batch.len() == PAGE as usize;
            page.after = batch.last().map(|l| l.instance.id.clone());
            all.extend(batch);
            if !full {
                return Ok(all);
            }
        }
    }

    /// The placement rules of the service's PRIMARY deployment: its task definition's
    /// constraints with the service's, and the service's strategy. `None` when the
    /// task definition is gone (nothing can be started then).
    pub(crate) async fn service_rules(&self, service: &Service) -> Result<Option<Rules>, EcsError> {
        let Some(primary) = service.primary() else { return Ok(None) };
        let Some(td) = self.store.get_task_definition(&primary.revision.family, primary.revision.revision).await?
        else {
            return Ok(None);
        };
        let constraints: Vec<_> =
            service.spec.placement_constraints.iter().map(placement::ConstraintWire::from_doc).collect();
        let strategies: Vec<_> =
            service.spec.placement_strategy.iter().map(placement::StrategyWire::from_doc).collect();
        let strategies = match (strategies.is_empty(), service.spec.scheduling_strategy) {
            (false, _) => Some(placement::parse_strategies(&strategies)?),
            // ECS spreads a service's tasks across zones, then instances, unless told otherwise.
            (true, SchedulingStrategy::Replica) => Some(
                PlacementStrategy::parse_all([("spread", Some(ZONE_FIELD)), ("spread", Some("instanceId"))])
                    .map_err(|e| EcsError::invalid(e.to_string()))?,
            ),
            (true, SchedulingStrategy::Daemon) => None,
        };
        Ok(Some(Rules {
            strategies,
            constraints: placement::parse_constraints(&td, &constraints)?,
            required_attributes: td.requires_attributes.clone(),
        }))
    }

    /// The cluster's instances as the scheduler sees them: usable, draining, lost,
    /// eligible for the service (its constraints; DAEMON services only) and their zone.
    pub(crate) fn instance_views(
        &self,
        service: &Service,
        loads: &[InstanceLoad],
        rules: Option<&Rules>,
        now: Timestamp,
    ) -> Vec<InstanceView> {
        let eligible = match (rules, service.spec.scheduling_strategy) {
            (Some(r), SchedulingStrategy::Daemon) => placement::eligible(&self.account, loads, r),
            _ => vec![true; loads.len()],
        };
        loads
            .iter()
            .zip(eligible)
            .map(|(l, eligible)| {
                let ci = &l.instance;
                InstanceView {
                    id: ci.id.clone(),
                    usable: ci.status == InstanceStatus::Active && ci.agent_connected(now),
                    draining: ci.status == InstanceStatus::Draining,
                    lost: ci.status == InstanceStatus::Inactive || ci.agent_lost_at.is_some(),
                    eligible,
                    zone: ci.attribute(ZONE_ATTRIBUTE).and_then(|a| a.value.clone()),
                }
            })
            .collect()
    }

    /// How many tasks a DAEMON service wants now: one per usable instance it may run on.
    pub(crate) async fn daemon_count(&self, service: &Service) -> Result<i64, EcsError> {
        let loads = self.instance_loads(&service.cluster).await?;
        let rules = self.service_rules(service).await?;
        let views = self.instance_views(service, &loads, rules.as_ref(), Timestamp::now());
        Ok(views.iter().filter(|i| i.usable && i.eligible && !i.draining && !i.lost).count() as i64)
    }
}

/// Why a launch could not place a task, if it could not.
fn unplaced_reason(launched: &Launched) -> Option<String> {
    launched.instance_failures.first().map(|(_, r)| r.clone()).or_else(|| launched.unplaced.first().cloned())
}

/// The events of a launch: the tasks started, and why any could not be placed.
fn launch_messages(service: &str, launched: &Launched) -> Vec<String> {
    let mut out = Vec::new();
    if !launched.tasks.is_empty() {
        let ids: Vec<String> = launched.tasks.iter().map(|t| t.id.clone()).collect();
        out.push(scheduler::started_message(service, &ids));
    }
    if let Some(reason) = unplaced_reason(launched) {
        out.push(scheduler::unable_to_place_message(service, &reason));
    }
    out
}
