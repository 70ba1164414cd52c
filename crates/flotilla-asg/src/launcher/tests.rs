use super::*;
use crate::model::{Health, Lifecycle};
use flotilla_core::time::Timestamp;

/// A stand-in for `flotilla agent`: records its arguments and credentials in its state
/// directory, then waits for SIGTERM (or for the test process to end: a failed test
/// leaves nothing running).
pub(crate) const FAKE_AGENT: &str = r#"#!/bin/sh
dir=""; prev=""
for a in "$@"; do if [ "$prev" = "--state-dir" ]; then dir="$a"; fi; prev="$a"; done
printf '%s\n' "$@" > "$dir/args"
env | grep '^FLOTILLA_ROOT' | sort > "$dir/env"
trap 'exit 0' TERM
while kill -0 "$PPID" 2>/dev/null; do sleep 0.1; done
"#;

/// Writes an executable script into `dir`.
pub(crate) fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub(crate) fn settings(dir: &Path, binary: Option<PathBuf>) -> LaunchSettings {
    LaunchSettings {
        data_dir: dir.join("data"),
        endpoint: "http://127.0.0.1:7700".into(),
        region: "us-east-1".into(),
        credentials: AgentCredentials { access_key_id: "AKIATEST".into(), secret_access_key: "s3cret".into() },
        agent_binary: binary,
        launch_command: None,
        terminate_command: None,
        orphan_grace: Duration::from_secs(7),
    }
}

fn instance(image: &str, user_data: Option<&str>) -> Instance {
    Instance {
        id: crate::model::new_instance_id(),
        group_name: "web".into(),
        availability_zone: "us-east-1b".into(),
        subnet_id: None,
        lifecycle_state: Lifecycle::Pending,
        health_status: Health::Healthy,
        protected_from_scale_in: false,
        launch_configuration_name: "lc".into(),
        image_id: image.into(),
        instance_type: "t3.small".into(),
        user_data: user_data.map(str::to_string),
        launched_at: Timestamp::now(),
        process: None,
        activity_id: None,
        termination_cause: None,
        version: 1,
    }
}

async fn wait_for(what: &str, mut probe: impl FnMut() -> bool) {
    for _ in 0..100 {
        if probe() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn image_ids_choose_the_launcher() {
    assert_eq!(LauncherKind::for_image("flotilla:simulated"), LauncherKind::Simulated);
    assert_eq!(LauncherKind::for_image("flotilla:docker"), LauncherKind::Docker);
    assert_eq!(LauncherKind::for_image("ami-0123456789abcdef0"), LauncherKind::Command);
    assert_eq!(LauncherKind::for_image("flotilla:other"), LauncherKind::Command);
}

#[tokio::test]
async fn a_local_agent_is_started_watched_adopted_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "fake-agent", FAKE_AGENT);
    let launcher = Launcher::new(settings(dir.path(), Some(binary.clone())));
    // `#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config`
    let mut i = instance(
        "flotilla:simulated",
        Some("IyEvYmluL2Jhc2gKZWNobyBFQ1NfQ0xVU1RFUj1wcm9kID4+IC9ldGMvZWNzL2Vjcy5jb25maWc="),
    );
    let record = launcher.launch(&i).await.unwrap().expect("a local agent is a process");
    let state = launcher.instance_dir(&i.id);
    wait_for("the agent's arguments", || state.join("args").exists()).await;
    let args: Vec<String> = std::fs::read_to_string(state.join("args")).unwrap().lines().map(str::to_string).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).map(|p| args[p + 1].clone());
    assert_eq!(args[0], "agent");
    assert_eq!(flag("--cluster").as_deref(), Some("prod"), "the cluster comes from the user data");
    assert_eq!(flag("--runtime").as_deref(), Some("simulated"));
    assert_eq!(flag("--cpu").as_deref(), Some("2048"), "t3.small: 2 vCPUs");
    assert_eq!(flag("--memory").as_deref(), Some("2048"), "t3.small: 2 GiB");
    assert_eq!(flag("--ec2-instance-id"), Some(i.id.clone()));
    assert_eq!(flag("--metadata-port").as_deref(), Some("0"));
    assert_eq!(flag("--availability-zone").as_deref(), Some("us-east-1b"));
    assert_eq!(flag("--endpoint").as_deref(), Some("http://127.0.0.1:7700"));
    assert_eq!(flag("--state-dir"), Some(state.display().to_string()));
    assert_eq!(flag("--parent-pid"), Some(std::process::id().to_string()));
    assert_eq!(flag("--orphan-grace-seconds").as_deref(), Some("7"));
    wait_for("the agent's environment", || std::fs::metadata(state.join("env")).is_ok_and(|m| m.len() > 0)).await;
    assert_eq!(
        std::fs::read_to_string(state.join("env")).unwrap(),
        "FLOTILLA_ROOT_ACCESS_KEY_ID=AKIATEST\nFLOTILLA_ROOT_SECRET_ACCESS_KEY=s3cret\n"
    );
    assert!(state.join("agent.log").exists() && state.join("launch.json").exists());
    assert_eq!(launcher.observe(&i), Observed::Alive);

    // Another control plane (a restart) adopts the running process, from the store's
    // record or from launch.json.
    i.process = Some(record.clone());
    let restarted = Launcher::new(settings(dir.path(), Some(binary.clone())));
    assert!(!restarted.is_tracked(&i.id));
    assert_eq!(restarted.observe(&i), Observed::Alive);
    assert!(restarted.is_tracked(&i.id));
    let from_file = Launcher::new(settings(dir.path(), Some(binary.clone())));
    assert_eq!(from_file.observe(&Instance { process: None, ..i.clone() }), Observed::Alive);

    // Terminating stops it and clears its state, but for its log.
    assert_eq!(restarted.terminate(&i).await.unwrap(), None);
    wait_for("the agent to be gone", || !process::is_running(&record, &i.id)).await;
    assert!(state.join("agent.log").exists());
    assert!(!state.join("launch.json").exists() && !state.join("args").exists());
    // The first launcher sees its child gone; a third knows nothing of it and finds
    // it not running.
    assert!(matches!(launcher.observe(&i), Observed::Dead(_)));
    assert_eq!(Launcher::new(settings(dir.path(), Some(binary))).observe(&i), Observed::Gone);
}

#[tokio::test]
async fn a_process_of_another_host_is_left_alone_and_stop_all_stops_every_agent() {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "fake-agent", FAKE_AGENT);
    let launcher = Launcher::new(settings(dir.path(), Some(binary)));
    let elsewhere = Instance {
        process: Some(ProcessRecord {
            pid: 1,
            start_ticks: 1,
            boot_id: "b".into(),
            host: "another-host.example".into(),
        }),
        ..instance("flotilla:simulated", None)
    };
    assert_eq!(launcher.observe(&elsewhere), Observed::Foreign);

    let a = instance("flotilla:docker", None);
    let b = instance("flotilla:simulated", None);
    let ra = launcher.launch(&a).await.unwrap().unwrap();
    let rb = launcher.launch(&b).await.unwrap().unwrap();
    let args = std::fs::read_to_string(launcher.instance_dir(&a.id).join("args")).unwrap_or_default();
    assert!(args.contains("docker"), "{args}");
    launcher.stop_all().await;
    assert!(!process::is_running(&ra, &a.id) && !process::is_running(&rb, &b.id));
    assert!(!launcher.is_tracked(&a.id));
}

#[tokio::test]
async fn failed_local_launches_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let no_binary = Launcher::new(settings(dir.path(), None));
    let e = no_binary.launch(&instance("flotilla:simulated", None)).await.unwrap_err();
    assert!(e.contains("binary"), "{e}");

    let crashing =
        script(dir.path(), "crashing", "#!/bin/sh\necho 'error: the state directory is in use' >&2\nexit 1\n");
    let launcher = Launcher::new(settings(dir.path(), Some(crashing)));
    let e = launcher.launch(&instance("flotilla:simulated", None)).await.unwrap_err();
    assert!(e.contains("exited at once") && e.contains("the state directory is in use"), "{e}");

    let e = launcher
        .launch(&Instance { instance_type: "x9.huge".into(), ..instance("flotilla:simulated", None) })
        .await
        .unwrap_err();
    assert!(e.contains("x9.huge"), "{e}");
}

#[tokio::test]
async fn other_images_go_to_the_operators_commands() {
    let dir = tempfile::tempdir().unwrap();
    let launcher = Launcher::new(settings(dir.path(), None));
    let i = instance("ami-0abc", Some("RUNTX0NMVVNURVI9Y21k")); // ECS_CLUSTER=cmd
    let e = launcher.launch(&i).await.unwrap_err();
    assert!(e.contains("No launcher for image id 'ami-0abc'") && e.contains("--instance-launch-command"), "{e}");
    assert!(e.len() < 255, "fits a StatusMessage: {e}");

    let out = dir.path().join("launched");
    launcher.set_commands(
        Some(format!(
            "echo \"$FLOTILLA_INSTANCE_ID $FLOTILLA_INSTANCE_TYPE $FLOTILLA_IMAGE_ID $FLOTILLA_AVAILABILITY_ZONE \
             $FLOTILLA_CLUSTER $FLOTILLA_ENDPOINT $FLOTILLA_INSTANCE_CPU $FLOTILLA_INSTANCE_MEMORY\" > {0}; \
             printf %s \"$FLOTILLA_USER_DATA\" >> {0}",
            out.display()
        )),
        Some(format!("echo \"gone $FLOTILLA_INSTANCE_ID\" > {}", dir.path().join("terminated").display())),
    );
    assert_eq!(launcher.launch(&i).await.unwrap(), None, "nothing to watch");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("{} t3.small ami-0abc us-east-1b cmd http://127.0.0.1:7700 2048 2048\nECS_CLUSTER=cmd", i.id)
    );
    assert_eq!(launcher.observe(&i), Observed::Alive);
    assert_eq!(launcher.terminate(&i).await.unwrap(), None);
    assert_eq!(std::fs::read_to_string(dir.path().join("terminated")).unwrap(), format!("gone {}\n", i.id));

    launcher.set_commands(Some("echo starting; echo 'quota exceeded' >&2; exit 3".into()), None);
    let e = launcher.launch(&i).await.unwrap_err();
    assert!(e.contains("exit status: 3") && e.contains("quota exceeded"), "{e}");
    let note = launcher.terminate(&i).await.unwrap().expect("a note without a terminate command");
    assert!(note.contains("--instance-terminate-command"), "{note}");
}

#[test]
fn docker_leftovers_are_read_from_the_agent_state() {
    let state = serde_json::json!({
        "cluster": "c",
        "tasks": {
            "arn:1": {"containers": {"app": "c1", "side": "c2"}, "volumes": ["ecs-1-data"], "pauseContainer": "p1"},
            "arn:2": {"containers": {}}
        }
    });
    let (mut containers, volumes) = docker_leftovers(&state);
    containers.sort();
    assert_eq!(containers, ["c1", "c2", "p1"]);
    assert_eq!(volumes, ["ecs-1-data"]);
    assert_eq!(docker_leftovers(&serde_json::json!({})), (vec![], vec![]));
}

#[test]
fn credentials_never_reach_debug_output() {
    let c = AgentCredentials { access_key_id: "AKIA1".into(), secret_access_key: "topsecret".into() };
    let shown = format!("{:?}", settings(Path::new("/x"), None).credentials) + &format!("{c:?}");
    assert!(!shown.contains("topsecret") && !shown.contains("s3cret") && shown.contains("AKIA1"));
}

#[tokio::test]
async fn an_agent_told_another_endpoint_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "fake-agent", FAKE_AGENT);
    let launcher = Launcher::new(settings(dir.path(), Some(binary.clone())));
    let mut i = instance("flotilla:simulated", None);
    let record = launcher.launch(&i).await.unwrap().unwrap();
    i.process = Some(record.clone());
    let moved = Launcher::new(LaunchSettings {
        endpoint: "http://127.0.0.1:7800".into(),
        ..settings(dir.path(), Some(binary))
    });
    wait_for("the agent's arguments", || process::flag_of(record.pid, "--endpoint").is_some()).await;
    assert_eq!(moved.observe(&i), Observed::Stale(record.clone()));
    assert!(!moved.is_tracked(&i.id));
    moved.stop_stale(record.clone()).await;
    assert!(!process::is_running(&record, &i.id));
}
