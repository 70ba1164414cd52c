//! Task role credentials for containers, as ECS's agent serves them: a task with a
//! `taskRoleArn` gets `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/ID` (ID a
//! random 128-bit value only its containers are told), and the agent answers
//! `GET http://169.254.170.2/v2/credentials/ID` with the role's temporary credentials,
//! which boto3, the aws CLI and every AWS SDK read with no configuration. The agent
//! asks the control plane for them (`GetTaskRoleCredentials`) on first use and again
//! when they are within [`REFRESH_BEFORE`] of expiring.
//!
//! 169.254.170.2 is put on the node's loopback interface (`ip addr add`, as root), so
//! containers reach it through their gateway. Several agents may share a node (Auto
//! Scaling groups launch them so): each serves its own tasks' ids on its metadata
//! endpoint and records, for each id, that endpoint's address in a file of
//! [`DIRECTORY`] (root only); whichever agent holds 169.254.170.2:80 answers its own
//! ids and relays the others to the agent the file names, and the others keep trying
//! to take the address over in case that agent goes away.

use crate::client::ControlPlaneClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_core::Timestamp;
use flotilla_ecs_model::AGENT_TARGET;
use flotilla_ecs_model::credentials::{TaskRole, TaskRoleCredentials, TaskRoleCredentialsRequest};
use serde_json::json;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where containers find their credentials.
pub const ENDPOINT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)), 80);
/// The environment variable naming a task's credentials path.
pub const RELATIVE_URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
/// Credentials this close to expiring are fetched again before being served.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(15 * 60);

/// Where agents record which of them serves each credentials id.
pub const DIRECTORY: &str = "/run/flotilla/task-credentials";
/// How often an agent that does not hold [`ENDPOINT`] tries to take it over.
pub const TAKEOVER_INTERVAL: Duration = Duration::from_secs(5);

struct Entry {
    task_arn: String,
    cluster: String,
    credentials: Option<TaskRoleCredentials>,
}

/// The task role credentials of this agent's tasks, by credentials id.
pub struct TaskCredentials {
    client: ControlPlaneClient,
    container_instance: Mutex<String>,
    entries: Mutex<HashMap<String, Entry>>,
    /// This agent's metadata endpoint (`http://IP:PORT`), written for other agents.
    own_base: String,
    directory: std::path::PathBuf,
    relay: reqwest::Client,
}

/// Whether `id` looks like one [`new_id`] makes (so it is safe as a file name).
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new credentials id: 32 hex digits from the OS's random source.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl TaskCredentials {
    /// Credentials served by the agent whose metadata endpoint is `own_base`; makes
    /// `directory` (0700) when missing.
    pub fn new(client: ControlPlaneClient, own_base: &str, directory: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(directory)?;
        let relay = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self {
            client,
            container_instance: Mutex::new(String::new()),
            entries: Mutex::new(HashMap::new()),
            own_base: own_base.to_string(),
            directory: directory.to_path_buf(),
            relay,
        })
    }

    /// The container instance ARN the agent registered as (asked with every fetch).
    pub fn set_container_instance(&self, arn: &str) {
        *self.container_instance.lock().unwrap_or_else(|p| p.into_inner()) = arn.to_string();
    }

    /// Makes `id` serve the task role credentials of `task_arn` (fetched on first use),
    /// here and, relayed, at [`ENDPOINT`] whichever agent holds it.
    pub fn register(&self, id: &str, cluster: &str, task_arn: &str) -> std::io::Result<()> {
        std::fs::write(self.directory.join(id), &self.own_base)?;
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).entry(id.to_string()).or_insert_with(|| Entry {
            task_arn: task_arn.to_string(),
            cluster: cluster.to_string(),
            credentials: None,
        });
        Ok(())
    }

    /// Stops serving the credentials of `task_arn`.
    pub fn forget_task(&self, task_arn: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for (id, _) in entries.iter().filter(|(_, e)| e.task_arn == task_arn) {
            let _ = std::fs::remove_file(self.directory.join(id));
        }
        entries.retain(|_, e| e.task_arn != task_arn);
    }

    /// The answer of the agent serving `id`, when another agent of this node does.
    async fn relayed(&self, id: &str) -> Option<Response> {
        let base = std::fs::read_to_string(self.directory.join(id)).ok()?;
        if base == self.own_base {
            return None;
        }
        let answer = match self.relay.get(format!("{base}/v2/credentials/{id}")).send().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(agent = %base, error = %e, "relaying task role credentials failed");
                return None;
            }
        };
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let body = answer.bytes().await.ok()?;
        Some((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
    }

    /// The credentials `id` serves, fetched again when missing or about to expire;
    /// `Ok(None)` for an id this agent does not know.
    pub async fn get(&self, id: &str) -> Result<Option<TaskRoleCredentials>, String> {
        let (task_arn, cluster, current) = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let Some(e) = entries.get(id) else { return Ok(None) };
            (e.task_arn.clone(), e.cluster.clone(), e.credentials.clone())
        };
        if let Some(c) = current.filter(fresh) {
            return Ok(Some(c));
        }
        let request = TaskRoleCredentialsRequest {
            cluster: Some(cluster),
            container_instance: self.container_instance.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            task_arn,
            role: TaskRole::Task,
        };
        let fetched: TaskRoleCredentials = self
            .client
            .call(&format!("{AGENT_TARGET}.GetTaskRoleCredentials"), &request)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(e) = self.entries.lock().unwrap_or_else(|p| p.into_inner()).get_mut(id) {
            e.credentials = Some(fetched.clone());
        }
        Ok(Some(fetched))
    }
}

/// `GET /v2/credentials/{id}`: the credentials in ECS's shape, 404 for an unknown id
/// (nothing tells a wrong guess from an id of another agent), 500 when the control
/// plane refuses or cannot be reached.
pub fn router(credentials: Arc<TaskCredentials>) -> Router {
    Router::new().route("/v2/credentials/{id}", get(serve)).with_state(credentials)
}

async fn serve(State(credentials): State<Arc<TaskCredentials>>, Path(id): Path<String>) -> Response {
    let error = |status: StatusCode, code: &str, message: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], json!({"code": code, "message": message}).to_string())
            .into_response()
    };
    if !valid_id(&id) {
        return error(StatusCode::NOT_FOUND, "InvalidIdInRequest", "no credentials for this id".into());
    }
    let own = credentials.entries.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&id);
    if !own && let Some(answer) = credentials.relayed(&id).await {
        return answer;
    }
    match credentials.get(&id).await {
        Ok(Some(c)) => match serde_json::to_string(&c) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, "InvalidIdInRequest", "no credentials for this id".into()),
        Err(reason) => {
            tracing::warn!(%reason, "getting task role credentials failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", reason)
        }
    }
}

/// Whether credentials are good for longer than [`REFRESH_BEFORE`].
fn fresh(c: &TaskRoleCredentials) -> bool {
    Timestamp::parse_iso8601(&c.expiration)
        .is_ok_and(|expires| expires.0 - Timestamp::now().0 > REFRESH_BEFORE.as_millis() as i64)
}

/// Puts [`ENDPOINT`]'s address on the loopback interface (needs root and `ip`);
/// `Ok` when it is there.
pub async fn claim_address() -> Result<(), String> {
    let ip = ENDPOINT.ip().to_string();
    let out = tokio::process::Command::new("ip")
        .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"])
        .output()
        .await
        .map_err(|e| format!("running `ip addr add {ip}/32 dev lo`: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    // Already there (another agent of the node, or an earlier run, put it there)?
    let shown = tokio::process::Command::new("ip").args(["-o", "-4", "addr", "show", "dev", "lo"]).output().await;
    if shown.is_ok_and(|s| String::from_utf8_lossy(&s.stdout).contains(&format!(" {ip}/32 "))) {
        return Ok(());
    }
    Err(format!("`ip addr add {ip}/32 dev lo` failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_fetched_again_near_their_expiry() {
        let at = |ms: i64| TaskRoleCredentials {
            role_arn: "arn:aws:iam::0:role/r".into(),
            access_key_id: "ASIA".into(),
            secret_access_key: "s".into(),
            token: "t".into(),
            expiration: Timestamp(Timestamp::now().0 + ms).to_iso8601(),
        };
        assert!(fresh(&at(3_600_000)));
        assert!(!fresh(&at(60_000)));
        assert!(!fresh(&at(-1)));
        assert_ne!(new_id(), new_id());
        assert!(valid_id(&new_id()));
        assert!(!valid_id("../../etc/passwd") && !valid_id(""));
    }
}
