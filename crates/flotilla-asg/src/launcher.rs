//! Launchers: how an instance comes to be, chosen by its launch configuration's
//! `ImageId`.
//!
//! - `flotilla:simulated`: a `flotilla agent --runtime simulated` child process of the
//!   control plane (containers kept in memory);
//! - `flotilla:docker`: a `flotilla agent` child process on the local Docker engine;
//! - anything else: the operator's `--instance-launch-command`, run with `sh -c` and
//!   the instance in its environment ([`LaunchSettings::launch_command`]); without
//!   one, the launch fails with a clear status message.
//!
//! A local agent gets the control plane's endpoint and the root credentials in its
//! environment, the state directory `DATA/instances/i-…` (its log, `agent.log`, and
//! `launch.json`, which process it is, live there too), its cluster from the user
//! data (`ECS_CLUSTER=…`), the instance type's CPU and memory, `--metadata-port 0`, and
//! the instance id (`--ec2-instance-id`) it registers with ECS as its EC2 instance id.
//! It runs in a process group of its own (a Ctrl-C at the terminal reaches only the
//! control plane, which stops its agents in order), and is told the control plane's
//! pid (`--parent-pid`): an agent whose control plane died without stopping it (`kill
//! -9`) waits `--orphan-grace-seconds` for a control plane to answer at its endpoint
//! again (a restarted one adopts it), and stops when none does.

use crate::instance_types::instance_type;
use crate::model::{Instance, ProcessRecord};
use crate::process;
use crate::user_data;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The image id of instances that are simulated-runtime agents.
pub const SIMULATED_IMAGE: &str = "flotilla:simulated";
/// The image id of instances that are Docker-runtime agents.
pub const DOCKER_IMAGE: &str = "flotilla:docker";

/// How long a launched agent is watched before its launch counts as done: one that
/// exits at once (bad flags, a state directory in use) is a failed launch.
const STARTUP_CHECK: Duration = Duration::from_millis(500);
/// How long an agent has to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// How long an operator command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of a command's output kept to explain a failure.
const OUTPUT_LIMIT: usize = 16 * 1024;

/// The root credentials launched agents use; the secret never reaches a log.
#[derive(Clone, Default)]
pub struct AgentCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for AgentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// What launchers need to know.
#[derive(Debug, Clone, Default)]
pub struct LaunchSettings {
    /// The control plane's data directory: instances keep their state under
    /// `instances/`.
    pub data_dir: PathBuf,
    /// The URL agents reach the control plane at.
    pub endpoint: String,
    pub region: String,
    pub credentials: AgentCredentials,
    /// The `flotilla` binary local agents are started from (`None`: local launches
    /// fail, saying so).
    pub agent_binary: Option<PathBuf>,
    /// Run with `sh -c` to launch an instance of any other image id, with the
    /// environment [`command_env`] lists; it exits 0 once the instance is starting,
    /// and otherwise fails the launch with the last line it wrote as the reason.
    pub launch_command: Option<String>,
    /// Run with `sh -c`, the same environment, to terminate such an instance.
    pub terminate_command: Option<String>,
    /// How long an orphaned local agent waits for a control plane to come back.
    pub orphan_grace: Duration,
}

/// The default of [`LaunchSettings::orphan_grace`].
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(30);

/// Which launcher an image id chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LauncherKind {
    Simulated,
    Docker,
    Command,
}

impl LauncherKind {
    pub fn for_image(image_id: &str) -> Self {
        match image_id {
            SIMULATED_IMAGE => LauncherKind::Simulated,
            DOCKER_IMAGE => LauncherKind::Docker,
            _ => LauncherKind::Command,
        }
    }

    fn is_local(self) -> bool {
        !matches!(self, LauncherKind::Command)
    }
}

/// What is seen of an instance's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Running (or launched by a command, which leaves nothing to watch).
    Alive,
    /// It was running under this control plane and is gone; why.
    Dead(String),
    /// It runs on another host (another replica launched it): left alone.
    Foreign,
    /// Not known to this control plane and not running: it is launched again in
    /// place (the same instance, e.g. after the control plane restarted).
    Gone,
    /// Running, but told another endpoint than this control plane's (it was restarted
    /// elsewhere): it is stopped ([`Launcher::stop_stale`]) and launched again in place.
    Stale(ProcessRecord),
}

struct Tracked {
    /// The child, when this process started it (else it was adopted).
    child: Option<Child>,
    record: ProcessRecord,
}

/// Starts, watches and stops instances.
pub struct Launcher {
    settings: RwLock<LaunchSettings>,
    tracked: Mutex<HashMap<String, Tracked>>,
}

/// The line of `text` that best says what went wrong: its last non-blank one.
fn last_line(text: &str) -> String {
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default().to_string()
}

impl Launcher {
    pub fn new(settings: LaunchSettings) -> Self {
        Self { settings: RwLock::new(settings), tracked: Mutex::new(HashMap::new()) }
    }

    fn settings(&self) -> LaunchSettings {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets the operator's launch and terminate commands.
    pub fn set_commands(&self, launch: Option<String>, terminate: Option<String>) {
        let mut s = self.settings.write().unwrap_or_else(|p| p.into_inner());
        s.launch_command = launch.filter(|c| !c.trim().is_empty());
        s.terminate_command = terminate.filter(|c| !c.trim().is_empty());
    }

    /// Sets how long orphaned local agents wait for a control plane to come back.
    pub fn set_orphan_grace(&self, grace: Duration) {
        self.settings.write().unwrap_or_else(|p| p.into_inner()).orphan_grace = grace;
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tracked>> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state directory of a local instance.
    pub fn instance_dir(&self, id: &str) -> PathBuf {
        self.settings().data_dir.join("instances").join(id)
    }

    /// Launches `instance` (in `cluster`); for a local agent, the process it is.
    pub async fn launch(&self, instance: &Instance) -> Result<Option<ProcessRecord>, String> {
        let kind = LauncherKind::for_image(&instance.image_id);
        let settings = self.settings();
        let size = instance_type(&instance.instance_type)
            .ok_or_else(|| format!("The instance type '{}' is not one Flotilla knows", instance.instance_type))?;
        let user_data = match &instance.user_data {
            Some(b64) => user_data::decode(b64).ok_or("The user data is not base64")?,
            None => Vec::new(),
        };
        let cluster = user_data::ecs_cluster(&user_data);
        if !kind.is_local() {
            let Some(command) = settings.launch_command.clone() else {
                return Err(format!(
                    "No launcher for image id '{}': Flotilla starts {SIMULATED_IMAGE} and {DOCKER_IMAGE} instances \
                     itself; start the control plane with --instance-launch-command to launch others",
                    instance.image_id
                ));
            };
            let env = command_env(&settings, instance, &cluster, &user_data);
            return run_command(&command, &env)
                .await
                .map(|_| None)
                .map_err(|e| format!("The launch command failed: {e}"));
        }
        let binary = settings
            .agent_binary
            .clone()
            .ok_or("The flotilla binary to start agents from is unknown to this control plane")?;
        let dir = settings.data_dir.join("instances").join(&instance.id);
        create_private_dir(&dir).map_err(|e| format!("Creating the instance directory {}: {e}", dir.display()))?;
        let log_path = dir.join("agent.log");
        let log = open_log(&log_path).map_err(|e| format!("Opening the agent log {}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| format!("Opening the agent log {}: {e}", log_path.display()))?;
        let runtime = if kind == LauncherKind::Docker { "docker" } else { "simulated" };
        let mut command = Command::new(&binary);
        command
            .arg("agent")
            .args(["--endpoint", &settings.endpoint])
            .args(["--cluster", &cluster])
            .arg("--state-dir")
            .arg(&dir)
            .args(["--region", &settings.region])
            .args(["--runtime", runtime])
            .args(["--availability-zone", &instance.availability_zone])
            .args(["--instance-type", &instance.instance_type])
            .args(["--cpu", &size.cpu_units().to_string()])
            .args(["--memory", &size.memory_mib.to_string()])
            .args(["--metadata-port", "0"])
            .args(["--capacity", "ec2"])
            .args(["--ec2-instance-id", &instance.id])
            .args(["--parent-pid", &std::process::id().to_string()])
            .args(["--orphan-grace-seconds", &settings.orphan_grace.as_secs().max(1).to_string()])
            .env("FLOTILLA_ROOT_ACCESS_KEY_ID", &settings.credentials.access_key_id)
            .env("FLOTILLA_ROOT_SECRET_ACCESS_KEY", &settings.credentials.secret_access_key)
            // Flags say all of these; an inherited value must not disagree.
            .env_remove("FLOTILLA_ENDPOINT")
            .env_remove("FLOTILLA_CLUSTER")
            .env_remove("FLOTILLA_AGENT_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn().map_err(|e| format!("Starting {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("The agent exited as it started")?;
        let record = process::record_of(pid).ok_or("The agent exited as it started")?;
        if let Err(e) = write_record(&dir, &record) {
            tracing::warn!(instance = %instance.id, error = %e, "saving launch.json failed; adoption after a restart relies on the store");
        }
        tokio::time::sleep(STARTUP_CHECK).await;
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("The agent exited at once ({status}): {}", last_line(&log)));
        }
        tracing::info!(instance = %instance.id, pid, cluster = %cluster, runtime, "launched an agent");
        self.tracked().insert(instance.id.clone(), Tracked { child: Some(child), record: record.clone() });
        Ok(Some(record))
    }

    /// What is seen of `instance`'s process now. An instance this control plane does
    /// not know yet is adopted when its process (from the store, else its
    /// `launch.json`) still runs.
    pub fn observe(&self, instance: &Instance) -> Observed {
        if !LauncherKind::for_image(&instance.image_id).is_local() {
            return Observed::Alive;
        }
        let mut tracked = self.tracked();
        if let Some(t) = tracked.get_mut(&instance.id) {
            let dead = match &mut t.child {
                Some(child) => match child.try_wait() {
                    Ok(Some(status)) => Some(format!("its agent process {} exited ({status})", t.record.pid)),
                    _ => None,
                },
                None => (!process::is_running(&t.record, &instance.id))
                    .then(|| format!("its agent process {} is gone", t.record.pid)),
            };
            return match dead {
                Some(why) => {
                    tracked.remove(&instance.id);
                    Observed::Dead(why)
                }
                None => Observed::Alive,
            };
        }
        let record = instance.process.clone().or_else(|| read_record(&self.instance_dir(&instance.id)));
        match record {
            Some(r) if !process::is_local(&r) => Observed::Foreign,
            Some(r) if process::is_running(&r, &instance.id) => {
                let endpoint = self.settings().endpoint;
                if process::flag_of(r.pid, "--endpoint").is_some_and(|e| e != endpoint) {
                    return Observed::Stale(r);
                }
                tracing::info!(instance = %instance.id, pid = r.pid, "adopted a running agent");
                tracked.insert(instance.id.clone(), Tracked { child: None, record: r });
                Observed::Alive
            }
            _ => Observed::Gone,
        }
    }

    /// Stops an agent [`Observed::Stale`] found (SIGTERM, then SIGKILL after 20 s).
    pub async fn stop_stale(&self, record: ProcessRecord) {
        stop(Tracked { child: None, record }).await;
    }

    /// Whether this control plane watches `instance`'s process.
    pub fn is_tracked(&self, id: &str) -> bool {
        self.tracked().contains_key(id)
    }

    /// Terminates `instance`: a local agent is stopped (SIGTERM, then SIGKILL after
    /// 20 s; a Docker agent's containers are removed after it) and its state removed
    /// but for its log; any other runs the terminate command. `Ok` may carry a note
    /// for the activity.
    pub async fn terminate(&self, instance: &Instance) -> Result<Option<String>, String> {
        let kind = LauncherKind::for_image(&instance.image_id);
        let settings = self.settings();
        if !kind.is_local() {
            let Some(command) = settings.terminate_command.clone() else {
                return Ok(Some(
                    "No --instance-terminate-command is configured: nothing was run to stop the instance".into(),
                ));
            };
            let user_data = instance.user_data.as_deref().and_then(user_data::decode).unwrap_or_default();
            let cluster = user_data::ecs_cluster(&user_data);
            let env = command_env(&settings, instance, &cluster, &user_data);
            return run_command(&command, &env)
                .await
                .map(|_| None)
                .map_err(|e| format!("The terminate command failed: {e}"));
        }
        let tracked = self.tracked().remove(&instance.id);
        let dir = settings.data_dir.join("instances").join(&instance.id);
        match tracked {
            Some(t) => stop(t).await,
            None => {
                let record = instance.process.clone().or_else(|| read_record(&dir));
                if let Some(r) = record.filter(|r| process::is_local(r) && process::is_running(r, &instance.id)) {
                    stop(Tracked { child: None, record: r }).await;
                }
            }
        }
        if kind == LauncherKind::Docker {
            remove_containers(&dir).await;
        }
        clear_state(&dir);
        Ok(None)
    }

    /// Stops every local agent this control plane started or adopted (at shutdown):
    /// SIGTERM to all, then SIGKILL to any still running after 20 s.
    pub async fn stop_all(&self) {
        let all: Vec<(String, Tracked)> = self.tracked().drain().collect();
        if all.is_empty() {
            return;
        }
        tracing::info!(agents = all.len(), "stopping launched agents");
        let stops = all.into_iter().map(|(_, t)| stop(t));
        futures_join_all(stops).await;
    }
}

/// Runs futures to completion together (a small join_all, no extra crate).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futures: impl Iterator<Item = F>) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

/// SIGTERM, wait, SIGKILL.
async fn stop(mut t: Tracked) {
    let pid = t.record.pid;
    match &mut t.child {
        Some(child) => {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            process::signal(pid, false);
            if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                tracing::warn!(pid, "an agent did not stop within {STOP_GRACE:?}; killing it");
                let _ = child.kill().await;
            }
        }
        None => {
            // Not a zombie: an adopted agent is reaped by whoever is its parent now.
            let running = process::is_alive;
            if !running(&t.record) {
                return;
            }
            process::signal(pid, false);
            let deadline = tokio::time::Instant::now() + STOP_GRACE;
            while running(&t.record) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if running(&t.record) {
                tracing::warn!(pid, "an adopted agent did not stop within {STOP_GRACE:?}; killing it");
                process::signal(pid, true);
            }
        }
    }
}

/// The environment of the operator's commands: the instance, where it is, what it
/// is launched from, where the control plane is, and the credentials to reach it.
///
/// `FLOTILLA_INSTANCE_ID`, `FLOTILLA_INSTANCE_TYPE`, `FLOTILLA_IMAGE_ID`,
/// `FLOTILLA_USER_DATA` (decoded; left out when it holds a NUL byte),
/// `FLOTILLA_USER_DATA_BASE64`, `FLOTILLA_ENDPOINT`, `FLOTILLA_AVAILABILITY_ZONE`,
/// `FLOTILLA_REGION`, `FLOTILLA_CLUSTER` (from the user data), `FLOTILLA_AUTO_SCALING_GROUP`,
/// `FLOTILLA_INSTANCE_CPU` (units), `FLOTILLA_INSTANCE_MEMORY` (MiB),
/// `FLOTILLA_ROOT_ACCESS_KEY_ID` and `FLOTILLA_ROOT_SECRET_ACCESS_KEY`.
pub fn command_env(
    settings: &LaunchSettings,
    instance: &Instance,
    cluster: &str,
    user_data: &[u8],
) -> Vec<(String, std::ffi::OsString)> {
    use std::os::unix::ffi::OsStringExt;
    let size = instance_type(&instance.instance_type);
    let mut env: Vec<(String, std::ffi::OsString)> = [
        ("FLOTILLA_INSTANCE_ID", instance.id.clone()),
        ("FLOTILLA_INSTANCE_TYPE", instance.instance_type.clone()),
        ("FLOTILLA_IMAGE_ID", instance.image_id.clone()),
        ("FLOTILLA_USER_DATA_BASE64", instance.user_data.clone().unwrap_or_default()),
        ("FLOTILLA_ENDPOINT", settings.endpoint.clone()),
        ("FLOTILLA_AVAILABILITY_ZONE", instance.availability_zone.clone()),
        ("FLOTILLA_REGION", settings.region.clone()),
        ("FLOTILLA_CLUSTER", cluster.to_string()),
        ("FLOTILLA_AUTO_SCALING_GROUP", instance.group_name.clone()),
        ("FLOTILLA_INSTANCE_CPU", size.map(|s| s.cpu_units().to_string()).unwrap_or_default()),
        ("FLOTILLA_INSTANCE_MEMORY", size.map(|s| s.memory_mib.to_string()).unwrap_or_default()),
        ("FLOTILLA_ROOT_ACCESS_KEY_ID", settings.credentials.access_key_id.clone()),
        ("FLOTILLA_ROOT_SECRET_ACCESS_KEY", settings.credentials.secret_access_key.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into()))
    .collect();
    if !user_data.contains(&0) {
        env.push(("FLOTILLA_USER_DATA".into(), std::ffi::OsString::from_vec(user_data.to_vec())));
    }
    env
}

/// Runs `sh -c command` with `env` added, for at most five minutes (then it is
/// killed); `Err` says why it failed (its exit status and the last line it wrote).
async fn run_command(command: &str, env: &[(String, std::ffi::OsString)]) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting sh: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let run = async move { tokio::join!(read_capped(stdout), read_capped(stderr), child.wait()) };
    let (out, err, status) = tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| format!("it did not finish within {} s", COMMAND_TIMEOUT.as_secs()))?;
    let status = status.map_err(|e| format!("waiting for it: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let said = [last_line(&err), last_line(&out)].into_iter().find(|l| !l.is_empty()).unwrap_or_default();
    Err(if said.is_empty() { format!("{status}") } else { format!("{status}: {said}") })
}

/// What a pipe carries, its last [`OUTPUT_LIMIT`] bytes only.
async fn read_capped(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > OUTPUT_LIMIT {
                    kept.drain(..kept.len() - OUTPUT_LIMIT);
                }
            }
        }
    }
    String::from_utf8_lossy(&kept).to_string()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

const RECORD_FILE: &str = "launch.json";

fn write_record(dir: &Path, record: &ProcessRecord) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join("launch.json.tmp");
    {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&serde_json::to_vec(record).expect("a process record serialises"))?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, dir.join(RECORD_FILE))
}

fn read_record(dir: &Path) -> Option<ProcessRecord> {
    serde_json::from_slice(&std::fs::read(dir.join(RECORD_FILE)).ok()?).ok()
}

/// Removes an instance's state but its log (kept to explain what it did).
fn clear_state(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name() == "agent.log" {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "removing a terminated instance's state failed");
        }
    }
}

/// The containers (and task volumes) a Docker agent recorded in its state file,
/// removed with `docker rm -f` once the agent stopped: a terminated instance takes
/// its tasks with it, as an EC2 instance does.
async fn remove_containers(dir: &Path) {
    let Ok(bytes) = std::fs::read(dir.join("agent-state.json")) else { return };
    let Ok(state) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return };
    let (containers, volumes) = docker_leftovers(&state);
    for (args, what) in [(["rm", "-f", "-v"], containers), (["volume", "rm", "-f"], volumes)] {
        if what.is_empty() {
            continue;
        }
        let run = Command::new("docker").args(args).args(&what).stdin(Stdio::null()).output();
        match tokio::time::timeout(Duration::from_secs(60), run).await {
            Ok(Ok(out)) if out.status.success() => {}
            Ok(Ok(out)) => tracing::warn!(
                error = %last_line(&String::from_utf8_lossy(&out.stderr)),
                "removing a terminated instance's Docker resources failed"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "running docker to clean up a terminated instance failed"),
            Err(_) => tracing::warn!("docker did not clean up a terminated instance within 60 s"),
        }
    }
}

/// The container ids and volumes in an agent state document.
fn docker_leftovers(state: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut containers = Vec::new();
    let mut volumes = Vec::new();
    if let Some(tasks) = state.get("tasks").and_then(|t| t.as_object()) {
        for task in tasks.values() {
            if let Some(ids) = task.get("containers").and_then(|c| c.as_object()) {
                containers.extend(ids.values().filter_map(|v| v.as_str()).map(str::to_string));
            }
            if let Some(pause) = task.get("pauseContainer").and_then(|p| p.as_str()) {
                containers.push(pause.to_string());
            }
            if let Some(vs) = task.get("volumes").and_then(|v| v.as_array()) {
                volumes.extend(vs.iter().filter_map(|v| v.as_str()).map(str::to_string));
            }
        }
    }
    (containers, volumes)
}

#[cfg(test)]
pub(crate) mod tests;
