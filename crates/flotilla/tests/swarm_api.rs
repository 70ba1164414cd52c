//! `flotilla swarm` against a real control plane over HTTP: its agents register,
//! take the tasks RunTask places on them, and stop cleanly on SIGTERM.

mod common;

use common::{KEY, SECRET, call, plane};
use flotilla_agent::client::{ControlPlaneClient, ECS_TARGET};
use flotilla_sigv4::Credentials;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const AGENTS: usize = 50;
const CLUSTER: &str = "swarm";

/// The swarm process, killed if the test ends before stopping it.
struct Swarm {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Swarm {
    fn start(endpoint: &str, state_dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["swarm", "--endpoint", endpoint, "--cluster", CLUSTER, "--agents", &AGENTS.to_string()])
            .args(["--first-index", "1000", "--register-concurrency", "8", "--poll-wait-seconds", "5"])
            .arg("--state-dir")
            .arg(state_dir)
            .env("FLOTILLA_ROOT_ACCESS_KEY_ID", KEY)
            .env("FLOTILLA_ROOT_SECRET_ACCESS_KEY", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting flotilla swarm");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next stdout line starting with `prefix`, within `within`.
    async fn line(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.lines.recv()).await {
                Ok(Some(line)) if line.starts_with(prefix) => return line,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the swarm's output ended before '{prefix}'"),
                Err(_) => panic!("no '{prefix}' line within {within:?}"),
            }
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ecs(client: &ControlPlaneClient, operation: &str, input: Value) -> Value {
    client.call(&format!("{ECS_TARGET}.{operation}"), &input).await.unwrap_or_else(|e| panic!("{operation}: {e}"))
}

/// Calls `check` every 200 ms until it answers `Some`, for at most `within`.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, within: Duration, mut check: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(out) = check().await {
            return out;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_registers_runs_tasks_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let p = plane(&dir).await;
    let (status, out) = call(&p, "CreateCluster", json!({"clusterName": CLUSTER})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let (status, out) = call(
        &p,
        "RegisterTaskDefinition",
        json!({"family": "sim", "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 128, "memory": 128}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = flotilla::server::api_limits(Duration::from_secs(20), Duration::from_secs(30));
    let server = tokio::spawn(p.serve(listener, limits, async move {
        let _ = stop_rx.await;
    }));
    let client = ControlPlaneClient::new(&endpoint, Credentials::new(KEY, SECRET), "us-east-1").unwrap();

    let state_dir = dir.path().join("swarm");
    let mut swarm = Swarm::start(&endpoint, &state_dir);
    let line = swarm.line("swarm registered=", Duration::from_secs(60)).await;
    assert!(line.starts_with(&format!("swarm registered={AGENTS} of={AGENTS} seconds=")), "{line}");

    let instances: Vec<String> = eventually("every agent ACTIVE", Duration::from_secs(30), || async {
        let out = ecs(&client, "ListContainerInstances", json!({"cluster": CLUSTER, "status": "ACTIVE"})).await;
        let arns: Vec<String> =
            out["containerInstanceArns"].as_array()?.iter().filter_map(|a| a.as_str().map(str::to_string)).collect();
        (arns.len() == AGENTS).then_some(arns)
    })
    .await;
    let out =
        ecs(&client, "DescribeContainerInstances", json!({"cluster": CLUSTER, "containerInstances": instances})).await;
    let described = out["containerInstances"].as_array().unwrap();
    assert_eq!(described.len(), AGENTS, "{out}");
    let ids: BTreeSet<&str> = described.iter().filter_map(|ci| ci["ec2InstanceId"].as_str()).collect();
    assert_eq!(ids.len(), AGENTS, "distinct instance ids: {ids:?}");
    assert!(ids.contains("i-000000000000003e8"), "agent 1000's id: {ids:?}");
    assert!(described.iter().all(|ci| ci["agentConnected"] == true), "{out}");
    let zones: BTreeSet<&str> = described
        .iter()
        .flat_map(|ci| ci["attributes"].as_array().into_iter().flatten())
        .filter(|a| a["name"] == "ecs.availability-zone")
        .filter_map(|a| a["value"].as_str())
        .collect();
    assert_eq!(zones, BTreeSet::from(["us-east-1a", "us-east-1b", "us-east-1c"]), "{out}");

    let mut tasks = Vec::new();
    for _ in 0..5 {
        let out = ecs(&client, "RunTask", json!({"cluster": CLUSTER, "taskDefinition": "sim", "count": 10})).await;
        assert_eq!(out["failures"], json!([]), "{out}");
        tasks.extend(out["tasks"].as_array().unwrap().iter().map(|t| t["taskArn"].as_str().unwrap().to_string()));
    }
    assert_eq!(tasks.len(), 50);
    let hosts: BTreeSet<String> = eventually("every task RUNNING", Duration::from_secs(60), || async {
        let out = ecs(&client, "DescribeTasks", json!({"cluster": CLUSTER, "tasks": tasks})).await;
        let described = out["tasks"].as_array()?;
        let running = described.iter().filter(|t| t["lastStatus"] == "RUNNING").count();
        (running == tasks.len())
            .then(|| described.iter().filter_map(|t| t["containerInstanceArn"].as_str().map(str::to_string)).collect())
    })
    .await;
    assert!(hosts.len() >= 5, "50 tasks on only {} of {AGENTS} instances", hosts.len());

    // Polls answered with changes only (most tasks named unchanged), past a whole poll
    // wait and with a new task among the old ones: nothing already running is stopped.
    let out = ecs(&client, "RunTask", json!({"cluster": CLUSTER, "taskDefinition": "sim", "count": 10})).await;
    tasks.extend(out["tasks"].as_array().unwrap().iter().map(|t| t["taskArn"].as_str().unwrap().to_string()));
    tokio::time::sleep(Duration::from_secs(6)).await;
    eventually("all 60 tasks RUNNING after a poll wait", Duration::from_secs(60), || async {
        let out = ecs(&client, "DescribeTasks", json!({"cluster": CLUSTER, "tasks": tasks})).await;
        let described = out["tasks"].as_array()?;
        assert!(described.iter().all(|t| t["desiredStatus"] == "RUNNING"), "a task was stopped: {out}");
        (described.iter().filter(|t| t["lastStatus"] == "RUNNING").count() == 60).then_some(())
    })
    .await;

    let pid = swarm.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let line = swarm.line("swarm stopped", Duration::from_secs(30)).await;
    assert_eq!(line, format!("swarm stopped agents={AGENTS}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = swarm.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the swarm did not exit after stopping");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit}");

    let _ = stop_tx.send(());
    timeout(Duration::from_secs(30), server).await.expect("the server stops").unwrap().unwrap();
}
