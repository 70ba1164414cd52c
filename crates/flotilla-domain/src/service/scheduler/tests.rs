//! The scheduler, table by table: a service and what was observed in, actions and
//! the service's new state out.

use super::*;
use crate::service::{
    CircuitBreaker, ContainerImage, DeploymentConfiguration, DeploymentStatus, Revision, RolloutState, Service,
    ServiceDeploymentStatus, ServiceSpec, ServiceStatus,
};
use crate::task::{StopCode, Task, TaskContainer, TaskStatus};

struct Counter(u32);

impl Ids for Counter {
    fn deployment_id(&mut self) -> String {
        self.0 += 1;
        format!("ecs-svc/{:019}", 100 + self.0)
    }
    fn event_id(&mut self) -> String {
        self.0 += 1;
        format!("event-{}", self.0)
    }
}

const D1: &str = "ecs-svc/0000000000000000001";
const D2: &str = "ecs-svc/0000000000000000002";
const NOW: Timestamp = Timestamp(1_000_000);

fn spec(desired: i64, min: i64, max: i64) -> ServiceSpec {
    let mut spec = ServiceSpec::new(SchedulingStrategy::Replica, desired);
    spec.deployment_configuration = DeploymentConfiguration {
        deployment_circuit_breaker: None,
        maximum_percent: max,
        minimum_healthy_percent: min,
        ..DeploymentConfiguration::default_for(SchedulingStrategy::Replica)
    };
    spec
}

fn revision(n: i64) -> Revision {
    Revision { family: "web".into(), revision: n, images: Vec::new() }
}

/// A service whose first deployment D1 is in progress.
fn service(spec: ServiceSpec) -> Service {
    Service::new("c".into(), "web".into(), spec, revision(1), D1.into(), Timestamp(0))
}

/// A service whose D1 completed and whose D2 (revision 2) is rolling out.
fn deploying(spec: ServiceSpec) -> Service {
    let mut s = service(spec);
    s.deployments[0].rollout_state = RolloutState::Completed;
    s.deployments[0].outcome = ServiceDeploymentStatus::Successful;
    s.start_deployment(revision(2), D2.into(), Timestamp(10));
    s
}

fn task(id: &str, deployment: &str, instance: &str, status: TaskStatus) -> Task {
    let mut t = Task::provisioning(id.into(), "c".into(), "web".into(), 1, Timestamp(0));
    t.group = "service:web".into();
    t.started_by = Some(deployment.into());
    t.container_instance_id = Some(instance.into());
    t.last_status = status;
    t.containers.push(TaskContainer {
        id: format!("{id}-c"),
        name: "app".into(),
        image: "app".into(),
        image_digest: None,
        last_status: status,
        exit_code: None,
        reason: None,
        runtime_id: None,
        health_status: None,
        network_bindings: Vec::new(),
        cpu: 0,
        memory: None,
        memory_reservation: None,
        essential: true,
    });
    if status == TaskStatus::Running {
        t.started_at = Some(Timestamp(0));
    }
    t
}

fn running(id: &str, deployment: &str, instance: &str) -> Task {
    task(id, deployment, instance, TaskStatus::Running)
}

fn failed(id: &str, deployment: &str, code: StopCode) -> Task {
    let mut t = task(id, deployment, "i1", TaskStatus::Stopped);
    t.desired_status = TaskStatus::Stopped;
    t.stop_code = Some(code);
    t.stopped_at = Some(Timestamp(500));
    t
}

fn instance(id: &str) -> InstanceView {
    InstanceView { id: id.into(), usable: true, draining: false, lost: false, eligible: true, zone: None }
}

fn instances(n: usize) -> Vec<InstanceView> {
    (1..=n).map(|i| instance(&format!("i{i}"))).collect()
}

fn run(service: &mut Service, tasks: &[Task], instances: &[InstanceView]) -> Vec<Action> {
    let targets = std::collections::HashMap::new();
    reconcile(service, &Observed { tasks, instances, targets: &targets, now: NOW }, &mut Counter(0))
}

fn run_behind(service: &mut Service, tasks: &[Task], targets: &[(&str, TargetHealth)]) -> Vec<Action> {
    let targets = targets.iter().map(|(id, h)| (id.to_string(), *h)).collect();
    reconcile(service, &Observed { tasks, instances: &instances(2), targets: &targets, now: NOW }, &mut Counter(0))
}

fn launch(deployment: &str, count: usize) -> Action {
    Action::Launch { deployment: deployment.into(), count }
}

fn stops(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Stop { task, .. } => Some(task.as_str()),
            _ => None,
        })
        .collect()
}

fn messages(service: &Service) -> Vec<&str> {
    service.events.iter().map(|e| e.message.as_str()).collect()
}

#[test]
fn replica_starts_the_desired_count_then_settles() {
    let mut s = service(spec(3, 100, 200));
    assert_eq!(run(&mut s, &[], &instances(2)), vec![launch(D1, 3)]);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::InProgress);

    let pending: Vec<Task> = (1..=3).map(|i| task(&format!("t{i}"), D1, "i1", TaskStatus::Pending)).collect();
    assert_eq!(run(&mut s, &pending, &instances(2)), vec![]);
    assert_eq!(s.deployments[0].pending_count, 3);

    let up: Vec<Task> = (1..=3).map(|i| running(&format!("t{i}"), D1, "i1")).collect();
    assert_eq!(run(&mut s, &up, &instances(2)), vec![]);
    let d = &s.deployments[0];
    assert_eq!((d.running_count, d.pending_count, d.rollout_state), (3, 0, RolloutState::Completed));
    assert_eq!(d.outcome, ServiceDeploymentStatus::Successful);
    assert_eq!(
        messages(&s),
        vec![
            "(service web) has reached a steady state.",
            "(service web) (deployment ecs-svc/0000000000000000001) deployment completed."
        ]
    );
    // Steady again: nothing new is said.
    run(&mut s, &up, &instances(2));
    assert_eq!(s.events.len(), 2);
}

#[test]
fn rolling_update_respects_minimum_healthy_and_maximum_percent() {
    // (min, max, desired, old running, new running, new pending, launch count, old stopped)
    type Case = (i64, i64, i64, usize, usize, usize, usize, usize);
    let table: &[Case] = &[
        (100, 200, 3, 3, 0, 0, 3, 0), // room for three more: all start at once
        (100, 200, 3, 3, 0, 3, 0, 0), // new ones pending: nothing old may stop
        (100, 200, 3, 3, 1, 2, 0, 1), // one new is healthy: one old may go
        (100, 200, 3, 3, 3, 0, 0, 3), // all new healthy: every old goes
        (50, 100, 4, 4, 0, 0, 0, 2),  // no room above 100%: half the old go first
        (50, 100, 4, 2, 0, 0, 2, 0),  // then the new ones take their places
        (0, 100, 2, 2, 0, 0, 0, 2),   // minimum 0: all old go at once
        (100, 150, 4, 4, 0, 0, 2, 0), // 150% of 4 is 6: two at a time
        (100, 125, 3, 3, 0, 0, 0, 0), // 125% of 3 rounds down to 3: no room, no progress
    ];
    for &(min, max, desired, old, new_up, new_pending, want_launch, want_stopped) in table {
        let mut s = deploying(spec(desired, min, max));
        let mut tasks: Vec<Task> = (0..old).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
        tasks.extend((0..new_up).map(|i| running(&format!("new{i}"), D2, "i2")));
        tasks.extend((0..new_pending).map(|i| task(&format!("pend{i}"), D2, "i2", TaskStatus::Pending)));
        let actions = run(&mut s, &tasks, &instances(2));
        let launched: usize = actions
            .iter()
            .map(|a| match a {
                Action::Launch { deployment, count } if deployment == D2 => *count,
                _ => 0,
            })
            .sum();
        let case = (min, max, desired, old, new_up, new_pending);
        assert_eq!(launched, want_launch, "launches for {case:?}");
        let stopped = stops(&actions);
        assert_eq!(stopped.len(), want_stopped, "stops for {case:?}");
        assert!(stopped.iter().all(|t| t.starts_with("old")), "only old tasks stop: {case:?}");
        // Never below the minimum healthy of the desired count.
        let healthy_after = old + new_up - stopped.len();
        assert!(healthy_after as i64 >= percent_up(desired, min).min((old + new_up) as i64), "{case:?}");
    }
}

#[test]
fn a_rollout_completes_when_only_the_primary_runs() {
    let mut s = deploying(spec(2, 100, 200));
    let tasks = vec![running("a", D2, "i1"), running("b", D2, "i2")];
    assert_eq!(run(&mut s, &tasks, &instances(2)), vec![]);
    assert_eq!(s.deployments.len(), 1);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::Completed);
    assert_eq!(s.history[0].id, D1);
    assert_eq!(s.history[0].status, DeploymentStatus::Inactive);
    assert!(s.steady);
}

#[test]
fn stopped_and_lost_tasks_are_replaced() {
    let mut s = service(spec(3, 100, 200));
    let mut tasks = vec![running("a", D1, "i1"), running("b", D1, "i2")];
    tasks.push(failed("c", D1, StopCode::EssentialContainerExited));
    assert_eq!(run(&mut s, &tasks, &instances(2)), vec![launch(D1, 1)]);

    let mut lost = instances(2);
    lost[1].lost = true;
    lost[1].usable = false;
    let actions = run(&mut s, &[running("a", D1, "i1"), running("b", D1, "i2"), running("d", D1, "i1")], &lost);
    assert_eq!(
        actions,
        vec![Action::Stop { task: "b".into(), reason: INSTANCE_LOST.into() }, launch(D1, 1)],
        "the task on the lost instance is replaced without waiting"
    );
}

#[test]
fn tasks_waiting_for_capacity_are_counted_not_lost() {
    let mut s = service(spec(2, 100, 200));
    let mut waiting = task("w", D1, "", TaskStatus::Provisioning);
    waiting.container_instance_id = None;
    let actions = run(&mut s, &[running("a", D1, "i1"), waiting], &instances(1));
    assert_eq!(actions, Vec::<Action>::new(), "the waiting task is neither stopped nor replaced");
}

#[test]
fn draining_instances_are_emptied_after_replacements_start() {
    let mut s = service(spec(3, 100, 200));
    s.deployments[0].rollout_state = RolloutState::Completed;
    let mut insts = instances(2);
    insts[1].draining = true;
    let tasks = vec![running("a", D1, "i1"), running("b", D1, "i1"), running("c", D1, "i2")];
    assert_eq!(run(&mut s, &tasks, &insts), vec![launch(D1, 1)], "replacement first, nothing stopped yet");

    let mut with_replacement = tasks.clone();
    with_replacement.push(running("d", D1, "i1"));
    assert_eq!(
        run(&mut s, &with_replacement, &insts),
        vec![Action::Stop { task: "c".into(), reason: INSTANCE_DRAINING.into() }]
    );
}

#[test]
fn scale_in_stops_pending_tasks_then_the_fullest_instance() {
    let mut s = service(spec(2, 100, 200));
    s.deployments[0].rollout_state = RolloutState::Completed;
    let tasks = vec![
        running("a", D1, "i1"),
        running("b", D1, "i1"),
        running("c", D1, "i2"),
        task("d", D1, "i2", TaskStatus::Pending),
    ];
    let actions = run(&mut s, &tasks, &instances(2));
    assert_eq!(stops(&actions), vec!["d", "a"]);
    assert!(actions.iter().all(|a| match a {
        Action::Stop { reason, .. } => reason == &scaling_reason(D1),
        _ => false,
    }));
}

#[test]
fn unhealthy_tasks_are_replaced_after_the_grace_period() {
    let unhealthy = |id: &str, started: i64| {
        let mut t = running(id, D1, "i1");
        t.containers[0].health_status = Some("UNHEALTHY".into());
        t.started_at = Some(Timestamp(started));
        t
    };
    let mut spec = spec(1, 100, 200);
    spec.health_check_grace_period_seconds = Some(60);
    let mut s = service(spec.clone());
    assert_eq!(run(&mut s, &[unhealthy("young", NOW.0 - 1_000)], &instances(1)), vec![], "in its grace period");
    let mut s = service(spec);
    let actions = run(&mut s, &[unhealthy("old", NOW.0 - 61_000)], &instances(1));
    assert_eq!(actions, vec![Action::Stop { task: "old".into(), reason: HEALTH_CHECK_FAILED.into() }, launch(D1, 1)]);
    assert_eq!(messages(&s), vec!["(service web) (task old) failed container health checks."]);
}

#[test]
fn a_task_with_health_checks_is_healthy_only_when_they_pass() {
    let mut t = running("a", D1, "i1");
    t.containers[0].health_status = Some("UNKNOWN".into());
    assert!(!is_healthy(&t));
    t.containers[0].health_status = Some("HEALTHY".into());
    assert!(is_healthy(&t));
    t.containers[0].essential = false;
    t.containers[0].health_status = Some("UNHEALTHY".into());
    assert!(is_healthy(&t), "a non-essential container's health does not count");
}

#[test]
fn breaker_threshold_is_half_the_desired_count_within_3_and_200() {
    for (desired, threshold) in [(0, 3), (1, 3), (6, 3), (7, 4), (10, 5), (399, 200), (1000, 200)] {
        assert_eq!(failure_threshold(desired), threshold, "desired {desired}");
    }
}

fn with_breaker(rollback: bool) -> Service {
    let mut sp = spec(3, 100, 200);
    sp.deployment_configuration.deployment_circuit_breaker = Some(CircuitBreaker { enable: true, rollback });
    deploying(sp)
}

#[test]
fn breaker_trips_and_rolls_back_to_the_last_completed_deployment() {
    let mut s = with_breaker(true);
    let mut tasks: Vec<Task> = (0..3).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    tasks.push(failed("f1", D2, StopCode::TaskFailedToStart));
    tasks.push(failed("f2", D2, StopCode::TaskFailedToStart));
    let actions = run(&mut s, &tasks, &instances(1));
    assert_eq!(actions, vec![launch(D2, 3)], "two failures are below the threshold of 3");

    tasks.push(failed("f3", D2, StopCode::EssentialContainerExited));
    let actions = run(&mut s, &tasks, &instances(1));
    assert_eq!(actions, vec![], "tripped: the pass ends");
    assert_eq!(s.deployments[0].id, D1, "the completed deployment is PRIMARY again");
    assert_eq!(s.deployments[0].rollback_of.as_deref(), Some(D2));
    let failed_d = s.find_deployment(D2).unwrap();
    assert_eq!((failed_d.rollout_state, failed_d.failed_tasks), (RolloutState::Failed, 3));
    assert_eq!(failed_d.outcome, ServiceDeploymentStatus::RollbackInProgress);
    assert_eq!(failed_d.status, DeploymentStatus::Active);
    assert_eq!(
        messages(&s),
        vec![
            "(service web) rolling back to deployment ecs-svc/0000000000000000001.",
            "(service web) (deployment ecs-svc/0000000000000000002) deployment failed: tasks failed to start."
        ]
    );

    // The old tasks still run: the rollback completes at once and the failed one retires.
    let actions = run(&mut s, &tasks, &instances(1));
    assert_eq!(actions, vec![]);
    assert_eq!(s.deployments.len(), 1);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::Completed);
    assert_eq!(s.find_deployment(D2).unwrap().outcome, ServiceDeploymentStatus::RollbackSuccessful);
    assert!(s.steady);
}

#[test]
fn breaker_without_rollback_fails_the_deployment_and_starts_nothing_more() {
    let mut s = with_breaker(false);
    let mut tasks: Vec<Task> = (0..3).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    tasks.extend((0..3).map(|i| failed(&format!("f{i}"), D2, StopCode::TaskFailedToStart)));
    run(&mut s, &tasks, &instances(1));
    assert_eq!(s.deployments[0].id, D2);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::Failed);
    assert_eq!(s.deployments[0].outcome, ServiceDeploymentStatus::Stopped);
    assert_eq!(run(&mut s, &tasks, &instances(1)), vec![], "no launches, the old tasks stay");
}

#[test]
fn user_stops_do_not_count_against_the_breaker() {
    let mut s = with_breaker(true);
    let tasks: Vec<Task> = (0..5).map(|i| failed(&format!("u{i}"), D2, StopCode::UserInitiated)).collect();
    run(&mut s, &tasks, &instances(1));
    assert_eq!(s.deployments[0].failed_tasks, 0);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::InProgress);
}

fn daemon() -> Service {
    let mut sp = spec(0, 0, 100);
    sp.scheduling_strategy = SchedulingStrategy::Daemon;
    service(sp)
}

fn launch_on(deployment: &str, instance: &str) -> Action {
    Action::LaunchOn { deployment: deployment.into(), instance: instance.into() }
}

#[test]
fn daemon_runs_one_task_on_every_eligible_instance() {
    let mut s = daemon();
    let mut insts = instances(3);
    insts[2].eligible = false;
    assert_eq!(run(&mut s, &[], &insts), vec![launch_on(D1, "i1"), launch_on(D1, "i2")]);
    assert_eq!(s.spec.desired_count, 2);

    let tasks = vec![running("a", D1, "i1"), running("b", D1, "i2")];
    assert_eq!(run(&mut s, &tasks, &insts), vec![]);
    assert!(s.steady);

    insts.push(instance("i4"));
    assert_eq!(run(&mut s, &tasks, &insts), vec![launch_on(D1, "i4")], "an instance that joins gets one");
    assert_eq!(s.spec.desired_count, 3);
}

#[test]
fn daemon_deployment_stops_the_old_task_then_starts_the_new_one() {
    let mut s = daemon();
    s.deployments[0].rollout_state = RolloutState::Completed;
    s.start_deployment(revision(2), D2.into(), Timestamp(10));
    let tasks = vec![running("a", D1, "i1")];
    assert_eq!(run(&mut s, &tasks, &instances(1)), vec![Action::Stop { task: "a".into(), reason: scaling_reason(D2) }]);
    let mut gone = tasks[0].clone();
    gone.desired_status = TaskStatus::Stopped;
    assert_eq!(run(&mut s, &[gone], &instances(1)), vec![launch_on(D2, "i1")]);
}

#[test]
fn daemon_leaves_draining_instances() {
    let mut s = daemon();
    let mut insts = instances(2);
    insts[1].draining = true;
    let tasks = vec![running("a", D1, "i1"), running("b", D1, "i2")];
    assert_eq!(run(&mut s, &tasks, &insts), vec![Action::Stop { task: "b".into(), reason: INSTANCE_DRAINING.into() }]);
}

#[test]
fn a_deleted_service_stops_everything_then_becomes_inactive() {
    let mut s = service(spec(2, 100, 200));
    s.status = ServiceStatus::Draining;
    let tasks = vec![running("a", D1, "i1"), running("b", D1, "i1")];
    assert_eq!(stops(&run(&mut s, &tasks, &instances(1))), vec!["a", "b"]);
    assert_eq!(s.status, ServiceStatus::Draining);
    run(&mut s, &[], &instances(1));
    assert_eq!(s.status, ServiceStatus::Inactive);
    assert!(s.deployments.is_empty());
}

#[test]
fn repeated_events_are_suppressed_and_at_most_100_kept() {
    let mut s = service(spec(1, 100, 200));
    assert!(s.record_event("1".into(), "same".into(), NOW));
    assert!(!s.record_event("2".into(), "same".into(), NOW));
    for i in 0..150 {
        s.record_event(format!("e{i}"), format!("message {i}"), NOW);
    }
    assert_eq!(s.events.len(), crate::service::MAX_EVENTS);
    assert_eq!(s.events[0].message, "message 149");
}

#[test]
fn a_user_stops_a_rollout_with_or_without_rollback() {
    let mut s = deploying(spec(2, 100, 200));
    let mut ids = Counter(0);
    assert_eq!(stop_deployment(&mut s, "ecs-svc/9", true, &mut ids, NOW), Err(StopRefusal::NotFound));
    assert_eq!(stop_deployment(&mut s, D1, true, &mut ids, NOW), Err(StopRefusal::NotInProgress));
    stop_deployment(&mut s, D2, true, &mut ids, NOW).unwrap();
    assert_eq!(s.deployments[0].id, D1);
    assert_eq!(s.find_deployment(D2).unwrap().outcome, ServiceDeploymentStatus::RollbackInProgress);

    let mut s = service(spec(2, 100, 200));
    assert_eq!(stop_deployment(&mut s, D1, true, &mut ids, NOW), Err(StopRefusal::NothingToRollBackTo));
    stop_deployment(&mut s, D1, false, &mut ids, NOW).unwrap();
    assert_eq!(
        (s.deployments[0].rollout_state, s.deployments[0].outcome),
        (RolloutState::Failed, ServiceDeploymentStatus::Stopped)
    );
    assert_eq!(run(&mut s, &[], &instances(1)), vec![], "a stopped rollout starts nothing");
}

#[test]
fn az_rebalancing_starts_in_the_emptiest_zone_then_stops_in_the_fullest() {
    let mut s = service(spec(3, 100, 200));
    s.deployments[0].rollout_state = RolloutState::Completed;
    let zoned = |id: &str, zone: &str| InstanceView { zone: Some(zone.into()), ..instance(id) };
    let insts = vec![zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b"), zoned("c1", "c")];
    let mut tasks = vec![running("t1", D1, "a1"), running("t2", D1, "a2"), running("t3", D1, "b1")];
    // Balanced enough (2, 1, 0 is off by two): rebalancing starts in zone c.
    assert_eq!(run(&mut s, &tasks, &insts), vec![Action::LaunchIn { deployment: D1.into(), zone: "c".into() }]);
    assert_eq!(
        messages(&s)[0],
        "(service web) is not AZ balanced with 2 tasks in a, 1 tasks in b, 0 tasks in c. Started AZ Rebalancing."
    );
    tasks.push(task("t4", D1, "c1", TaskStatus::Pending));
    assert_eq!(run(&mut s, &tasks, &insts), vec![], "the extra task must be healthy first");
    tasks[3] = running("t4", D1, "c1");
    assert_eq!(stops(&run(&mut s, &tasks, &insts)), vec!["t1"], "one goes from the fullest zone");
    tasks.remove(0);
    assert_eq!(run(&mut s, &tasks, &insts), vec![]);
    assert_eq!(
        messages(&s)[..2],
        ["(service web) has reached a steady state.", "(service web) has completed AZ rebalancing."]
    );

    // Disabled: nothing moves.
    let mut off = service(spec(3, 100, 200));
    off.spec.availability_zone_rebalancing = "DISABLED".into();
    off.deployments[0].rollout_state = RolloutState::Completed;
    let tasks = vec![running("t1", D1, "a1"), running("t2", D1, "a2"), running("t3", D1, "a1")];
    assert_eq!(run(&mut off, &tasks, &insts), vec![]);
}

#[test]
fn an_image_no_registry_resolved_is_pinned_to_what_the_first_task_pulled() {
    let mut s = service(spec(2, 100, 200));
    s.deployments[0].revision.images =
        vec![ContainerImage { container_name: "app".into(), image: "app".into(), image_digest: None }];
    let mut t = running("a", D1, "i1");
    run(&mut s, std::slice::from_ref(&t), &instances(1));
    assert_eq!(s.deployments[0].revision.images[0].image_digest, None, "nothing reported yet");
    t.containers[0].image_digest = Some("sha256:first".into());
    let mut later = running("b", D1, "i1");
    later.containers[0].image_digest = Some("sha256:moved".into());
    run(&mut s, &[t, later], &instances(1));
    assert_eq!(s.deployments[0].revision.images[0].image_digest.as_deref(), Some("sha256:first"));
}

#[test]
fn behind_a_load_balancer_a_task_counts_once_its_targets_are_healthy() {
    let mut sp = spec(2, 100, 200);
    sp.load_balancers = vec![crate::service::LoadBalancerDoc {
        target_group_arn: "tg".into(),
        container_name: "app".into(),
        container_port: 80,
        advanced_configuration: None,
    }];
    let mut s = deploying(sp);
    let mut tasks: Vec<Task> = (0..2).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    tasks.extend((0..2).map(|i| running(&format!("new{i}"), D2, "i2")));
    let old_ok = [("old0", TargetHealth::Healthy), ("old1", TargetHealth::Healthy)];
    let pending: Vec<(&str, TargetHealth)> =
        old_ok.iter().copied().chain([("new0", TargetHealth::Pending), ("new1", TargetHealth::Pending)]).collect();
    assert_eq!(stops(&run_behind(&mut s, &tasks, &pending)), Vec::<&str>::new(), "new targets not healthy yet");
    let ready: Vec<(&str, TargetHealth)> =
        old_ok.iter().copied().chain([("new0", TargetHealth::Healthy), ("new1", TargetHealth::Healthy)]).collect();
    assert_eq!(stops(&run_behind(&mut s, &tasks, &ready)), vec!["old0", "old1"]);

    let failing: Vec<(&str, TargetHealth)> =
        old_ok.iter().copied().chain([("new0", TargetHealth::Unhealthy), ("new1", TargetHealth::Healthy)]).collect();
    let actions = run_behind(&mut s, &tasks, &failing);
    assert!(actions.contains(&Action::Stop {
        task: "new0".into(),
        reason: format!("{ELB_HEALTH_CHECK_FAILED} in (target-group tg)")
    }));
    let mut stopped = failed("new0", D2, StopCode::ServiceSchedulerInitiated);
    stopped.stopped_reason = Some(format!("{ELB_HEALTH_CHECK_FAILED} in (target-group tg)"));
    assert!(is_failure(&stopped), "an ELB health check failure counts against the breaker");
}

/// A 2-task service behind target groups `tg-a`/`tg-b` whose D1 completed (in
/// `tg-a`, all traffic) and whose D2 (`strategy`) starts at 10.
fn blue_green(strategy: crate::service::DeploymentStrategy) -> Service {
    let mut sp = spec(2, 100, 200);
    sp.load_balancers = vec![crate::service::LoadBalancerDoc {
        target_group_arn: "tg-a".into(),
        container_name: "app".into(),
        container_port: 80,
        advanced_configuration: Some(crate::service::AdvancedConfiguration {
            alternate_target_group_arn: "tg-b".into(),
            production_listener_rule: "rule-p".into(),
            test_listener_rule: Some("rule-t".into()),
            role_arn: None,
        }),
    }];
    let mut s = service(sp);
    s.deployments[0].rollout_state = RolloutState::Completed;
    s.deployments[0].outcome = ServiceDeploymentStatus::Successful;
    let config = &mut s.spec.deployment_configuration;
    config.strategy = strategy;
    config.bake_time_in_minutes = Some(1);
    s.start_deployment(revision(2), D2.into(), Timestamp(10));
    s
}

fn run_at(service: &mut Service, tasks: &[Task], targets: &[(&str, TargetHealth)], now: i64) -> Vec<Action> {
    let targets = targets.iter().map(|(id, h)| (id.to_string(), *h)).collect();
    let observed = Observed { tasks, instances: &instances(2), targets: &targets, now: Timestamp(now) };
    reconcile(service, &observed, &mut Counter(0))
}

fn route(actions: &[Action], rule: &str) -> Vec<(String, i64)> {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Route { rule: r, forward } if r == rule => Some(forward.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn weights(a: i64, b: i64) -> Vec<(String, i64)> {
    vec![("tg-a".to_string(), a), ("tg-b".to_string(), b)]
}

fn blue_and_green() -> Vec<Task> {
    let mut tasks: Vec<Task> = (0..2).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    tasks.extend((0..2).map(|i| running(&format!("new{i}"), D2, "i2")));
    tasks
}

const ALL_HEALTHY: [(&str, TargetHealth); 4] = [
    ("old0", TargetHealth::Healthy),
    ("old1", TargetHealth::Healthy),
    ("new0", TargetHealth::Healthy),
    ("new1", TargetHealth::Healthy),
];

#[test]
fn blue_green_starts_green_beside_blue_shifts_traffic_bakes_and_cleans_up() {
    use crate::service::{DeploymentStrategy, LifecycleStage};
    let mut s = blue_green(DeploymentStrategy::BlueGreen);
    assert_eq!(s.deployments[0].target_groups, vec!["tg-b".to_string()], "green goes in the other group");
    assert_eq!((s.deployments[0].traffic, s.deployments[1].traffic), (0, 1000));

    let blue: Vec<Task> = (0..2).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    let blue_ok = [("old0", TargetHealth::Healthy), ("old1", TargetHealth::Healthy)];
    let actions = run_at(&mut s, &blue, &blue_ok, 1_000);
    assert!(actions.contains(&launch(D2, 2)), "the whole green set starts beyond maximumPercent: {actions:?}");
    assert_eq!(route(&actions, "rule-p"), weights(1, 0));
    assert_eq!(route(&actions, "rule-t"), weights(1, 0));

    let tasks = blue_and_green();
    let starting: Vec<(&str, TargetHealth)> =
        blue_ok.iter().copied().chain([("new0", TargetHealth::Pending), ("new1", TargetHealth::Healthy)]).collect();
    let actions = run_at(&mut s, &tasks, &starting, 2_000);
    assert_eq!(stops(&actions), Vec::<&str>::new());
    assert_eq!(s.deployments[0].lifecycle_stage, Some(LifecycleStage::ScaleUp));

    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY, 3_000);
    assert_eq!(s.deployments[0].lifecycle_stage, Some(LifecycleStage::TestTrafficShift));
    assert_eq!(route(&actions, "rule-t"), weights(0, 1), "test traffic goes to green first");
    assert_eq!(route(&actions, "rule-p"), weights(1, 0));
    run_at(&mut s, &tasks, &ALL_HEALTHY, 4_000);
    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY, 5_000);
    assert_eq!(route(&actions, "rule-p"), weights(0, 1), "production traffic moves at once");
    assert_eq!(s.deployments[0].lifecycle_stage, Some(LifecycleStage::BakeTime));

    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY, 30_000);
    assert_eq!(stops(&actions), Vec::<&str>::new(), "blue stays through the bake time");
    run_at(&mut s, &tasks, &ALL_HEALTHY, 65_000);
    assert_eq!(s.deployments[0].lifecycle_stage, Some(LifecycleStage::CleanUp));
    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY, 66_000);
    assert_eq!(stops(&actions), vec!["old0", "old1"]);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::InProgress);

    let green: Vec<Task> = tasks.into_iter().filter(|t| t.id.starts_with("new")).collect();
    let actions = run_at(&mut s, &green, &ALL_HEALTHY[2..], 67_000);
    assert_eq!(route(&actions, "rule-p"), weights(0, 1));
    assert_eq!(s.deployments.len(), 1);
    assert_eq!(s.deployments[0].rollout_state, RolloutState::Completed);
    assert!(messages(&s).contains(&"(service web) has reached a steady state."));

    // The next blue/green deployment goes back to the first group.
    s.start_deployment(revision(3), "ecs-svc/0000000000000000003".into(), Timestamp(70_000));
    assert_eq!(s.deployments[0].target_groups, vec!["tg-a".to_string()]);
}

#[test]
fn linear_shifts_in_equal_steps_with_a_bake_between() {
    use crate::service::{DeploymentStrategy, LinearConfiguration};
    let mut s = blue_green(DeploymentStrategy::Linear);
    s.deployments[0].configuration.linear_configuration =
        Some(LinearConfiguration { step_per_mille: 400, step_bake_time_in_minutes: 1 });
    let tasks = blue_and_green();
    for at in [1_000, 2_000, 3_000] {
        run_at(&mut s, &tasks, &ALL_HEALTHY, at);
    }
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 4_000), "rule-p"), weights(600, 400));
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 30_000), "rule-p"), weights(600, 400), "baking");
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 64_000), "rule-p"), weights(200, 800));
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 124_000), "rule-p"), weights(0, 1));
    assert!(messages(&s).iter().any(|m| m.contains("shifted 40.0% of production traffic")));
}

#[test]
fn canary_shifts_its_share_then_the_rest_after_its_bake() {
    use crate::service::{CanaryConfiguration, DeploymentStrategy};
    let mut s = blue_green(DeploymentStrategy::Canary);
    s.deployments[0].configuration.canary_configuration =
        Some(CanaryConfiguration { canary_per_mille: 100, canary_bake_time_in_minutes: 2 });
    let tasks = blue_and_green();
    for at in [1_000, 2_000, 3_000] {
        run_at(&mut s, &tasks, &ALL_HEALTHY, at);
    }
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 4_000), "rule-p"), weights(900, 100));
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 100_000), "rule-p"), weights(900, 100));
    assert_eq!(route(&run_at(&mut s, &tasks, &ALL_HEALTHY, 124_000), "rule-p"), weights(0, 1));
}

#[test]
fn a_blue_green_rollback_returns_production_traffic_to_blue_and_stops_green() {
    use crate::service::DeploymentStrategy;
    let mut s = blue_green(DeploymentStrategy::BlueGreen);
    let tasks = blue_and_green();
    for at in [1_000, 2_000, 3_000, 4_000] {
        run_at(&mut s, &tasks, &ALL_HEALTHY, at);
    }
    assert_eq!(s.deployments[0].traffic, 1000, "baking on green");
    stop_deployment(&mut s, D2, true, &mut Counter(50), Timestamp(5_000)).unwrap();
    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY, 6_000);
    assert_eq!(route(&actions, "rule-p"), weights(1, 0), "traffic back on blue at once");
    assert_eq!(route(&actions, "rule-t"), weights(1, 0));
    assert_eq!(stops(&actions), vec!["new0", "new1"]);
    assert_eq!(s.deployments[0].id, D1);

    let blue: Vec<Task> = tasks.into_iter().filter(|t| t.id.starts_with("old")).collect();
    run_at(&mut s, &blue, &ALL_HEALTHY[..2], 7_000);
    assert_eq!(s.history[0].outcome, ServiceDeploymentStatus::RollbackSuccessful);
}

#[test]
fn a_green_set_failing_its_health_checks_trips_the_breaker_and_blue_keeps_the_traffic() {
    use crate::service::DeploymentStrategy;
    let mut s = blue_green(DeploymentStrategy::BlueGreen);
    s.deployments[0].configuration.deployment_circuit_breaker = Some(CircuitBreaker { enable: true, rollback: true });
    let mut tasks: Vec<Task> = (0..2).map(|i| running(&format!("old{i}"), D1, "i1")).collect();
    for i in 0..3 {
        let mut t = failed(&format!("bad{i}"), D2, StopCode::ServiceSchedulerInitiated);
        t.stopped_reason = Some(format!("{ELB_HEALTH_CHECK_FAILED} in (target-group tg-b)"));
        t.stopped_at = Some(Timestamp(900));
        tasks.push(t);
    }
    let actions = run_at(&mut s, &tasks, &ALL_HEALTHY[..2], 1_000);
    assert_eq!(s.deployments[0].id, D1, "blue is PRIMARY again");
    assert_eq!(route(&actions, "rule-p"), weights(1, 0));
    assert!(messages(&s).iter().any(|m| m.contains("rolling back to deployment")));
}
