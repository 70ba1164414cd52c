use super::*;

fn task() -> Task {
    Task {
        container_instance_id: Some("i1".into()),
        containers: vec![TaskContainer {
            id: "c1".into(),
            name: "app".into(),
            image: "busybox".into(),
            image_digest: None,
            last_status: TaskStatus::Pending,
            exit_code: None,
            reason: None,
            runtime_id: None,
            health_status: None,
            network_bindings: vec![],
            cpu: 0,
            memory: Some(64),
            memory_reservation: None,
            essential: true,
        }],
        ..Task::provisioning("t1".into(), "default".into(), "web".into(), 1, Timestamp(1))
    }
}

fn report(status: TaskStatus) -> TaskReport {
    TaskReport { status: Some(status), ..TaskReport::default() }
}

#[test]
fn statuses_only_move_forward() {
    let mut t = task();
    assert!(t.apply_report(&report(TaskStatus::Running), Timestamp(10)));
    assert_eq!(t.started_at, Some(Timestamp(10)));
    assert!(!t.apply_report(&report(TaskStatus::Pending), Timestamp(11)));
    assert_eq!(t.last_status, TaskStatus::Running);
    assert!(t.apply_report(
        &TaskReport {
            status: Some(TaskStatus::Stopped),
            reason: Some("Essential container in task exited".into()),
            containers: vec![ContainerReport { name: "app".into(), exit_code: Some(3), ..Default::default() }],
            ..Default::default()
        },
        Timestamp(12)
    ));
    assert_eq!(t.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(t.desired_status, TaskStatus::Stopped);
    assert_eq!(t.containers[0].exit_code, Some(3));
    assert_eq!(t.containers[0].last_status, TaskStatus::Stopped);
    assert_eq!(t.stopped_at, Some(Timestamp(12)));
}

#[test]
fn stop_before_start_is_a_failed_start_unless_user_asked() {
    let mut t = task();
    t.apply_report(&report(TaskStatus::Stopped), Timestamp(5));
    assert_eq!(t.stop_code, Some(StopCode::TaskFailedToStart));
    let mut u = task();
    assert!(u.request_stop(StopCode::UserInitiated, Some("bye".into()), Timestamp(3)));
    assert!(!u.request_stop(StopCode::UserInitiated, None, Timestamp(4)));
    u.apply_report(&report(TaskStatus::Stopped), Timestamp(5));
    assert_eq!(u.stop_code, Some(StopCode::UserInitiated));
    assert_eq!(u.stopped_reason.as_deref(), Some("bye"));
    assert_eq!(u.stopping_at, Some(Timestamp(3)));
}

#[test]
fn needs_count_task_level_values_and_static_ports() {
    let spec: TaskDefinitionSpec = serde_json::from_value(serde_json::json!({
        "family": "web",
        "containerDefinitions": [
            {"name": "a", "image": "x", "cpu": 100, "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]},
            {"name": "b", "image": "x", "cpu": 50, "memoryReservation": 32, "memory": 128,
             "portMappings": [{"containerPort": 53, "hostPort": 5353, "protocol": "udp"}]}
        ]
    }))
    .unwrap();
    let n = task_needs(&spec, &TaskOverride::default());
    assert_eq!((n.cpu, n.memory, n.ports_tcp, n.ports_udp), (150, 96, vec![8080], vec![5353]));
    let o = TaskOverride {
        container_overrides: vec![ContainerOverride { name: Some("a".into()), cpu: Some(10), ..Default::default() }],
        memory: Some("512".into()),
        ..Default::default()
    };
    let n = task_needs(&spec, &o);
    assert_eq!((n.cpu, n.memory), (60, 512));
}

#[test]
fn an_exit_code_means_the_task_had_started() {
    let mut t = task();
    t.apply_report(
        &TaskReport {
            status: Some(TaskStatus::Stopped),
            containers: vec![ContainerReport { name: "app".into(), exit_code: Some(3), ..Default::default() }],
            ..Default::default()
        },
        Timestamp(5),
    );
    assert_eq!(t.stop_code, Some(StopCode::EssentialContainerExited));
}

#[test]
fn only_essential_containers_decide_health() {
    let mut t = task();
    let mut sidecar = t.containers[0].clone();
    sidecar.name = "sidecar".into();
    sidecar.essential = false;
    t.containers.push(sidecar);
    assert_eq!(t.health_status(), "UNKNOWN");
    t.containers[0].health_status = Some("HEALTHY".into());
    assert_eq!(t.health_status(), "HEALTHY", "the non-essential sidecar has no health check");
    t.containers[1].health_status = Some("UNHEALTHY".into());
    assert_eq!(t.health_status(), "HEALTHY");
    t.containers[0].health_status = Some("UNHEALTHY".into());
    assert_eq!(t.health_status(), "UNHEALTHY");
}

#[test]
fn pinned_images_name_the_digest_instead_of_the_tag() {
    let d = "sha256:abc";
    for (image, pinned) in [
        ("busybox", "busybox@sha256:abc"),
        ("busybox:1.36", "busybox@sha256:abc"),
        ("127.0.0.1:7700/app:v1", "127.0.0.1:7700/app@sha256:abc"),
        ("127.0.0.1:7700/team/app", "127.0.0.1:7700/team/app@sha256:abc"),
        ("reg/app@sha256:old", "reg/app@sha256:abc"),
    ] {
        assert_eq!(crate::task::pinned_image(image, d), pinned, "{image}");
    }
}

#[test]
fn the_pulled_digest_is_recorded_unless_one_was_pinned() {
    let digest_report = |d: &str| TaskReport {
        containers: vec![ContainerReport {
            name: "app".into(),
            image_digest: Some(d.into()),
            ..ContainerReport::default()
        }],
        ..TaskReport::default()
    };
    let mut t = task();
    assert!(t.apply_report(&digest_report("sha256:pulled"), Timestamp(1)));
    assert_eq!(t.containers[0].image_digest.as_deref(), Some("sha256:pulled"));
    assert!(!t.apply_report(&digest_report("sha256:other"), Timestamp(2)), "the first digest stays");
}
