//! What the agent keeps on disk: its registration and the containers it created
//! for each task, written atomically after every change.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading agent state {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("agent state {path} is not valid: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("writing agent state {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// One task the agent has taken on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// Container name → runtime id, for every container created.
    pub containers: BTreeMap<String, String>,
    /// When the task stopped here (epoch ms): it is never started again, and its
    /// containers are removed after the cleanup delay.
    pub stopped_at_ms: Option<i64>,
    /// The last report sent for the task, re-sent until the control plane has it.
    pub last_report: Option<serde_json::Value>,
    /// Task-scoped volumes created for the task, removed with its containers.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// An awsvpc task's pause container, saved before it starts; removed when the
    /// task's containers have stopped (and again with them, if that failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_container: Option<String>,
    /// The id a task with a task role reads its credentials by (its containers have
    /// it in their environment, so it outlives agent restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
    /// Whether the control plane publishes the task's CPU and memory, so the agent
    /// samples them (a task recorded by an agent that kept no such mark is not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metered: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    pub cluster: String,
    pub container_instance_arn: Option<String>,
    pub ec2_instance_id: String,
    pub tasks: BTreeMap<String, TaskRecord>,
}

/// The agent state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

/// The agent's state, shared by its tasks, saved after every change.
#[derive(Clone)]
pub struct SharedState {
    inner: std::sync::Arc<std::sync::Mutex<AgentState>>,
    file: StateFile,
}

impl SharedState {
    pub fn new(state: AgentState, file: StateFile) -> Self {
        Self { inner: std::sync::Arc::new(std::sync::Mutex::new(state)), file }
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&AgentState) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the state and saves it before returning.
    pub fn update<T>(&self, f: impl FnOnce(&mut AgentState) -> T) -> Result<T, StateError> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut guard);
        self.file.save(&guard)?;
        Ok(out)
    }
}

impl StateFile {
    pub fn new(dir: &Path) -> Self {
        Self { path: dir.join("agent-state.json") }
    }

    pub fn load(&self) -> Result<Option<AgentState>, StateError> {
        let display = self.path.display().to_string();
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map(Some).map_err(|source| StateError::Parse { path: display, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read { path: display, source }),
        }
    }

    /// Writes to a temporary file, syncs it and renames it over the old state.
    pub fn save(&self, state: &AgentState) -> Result<(), StateError> {
        let display = self.path.display().to_string();
        let err = |source| StateError::Write { path: display.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(state).expect("agent state always serialises");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let mut state = AgentState { cluster: "default".into(), ec2_instance_id: "i-1".into(), ..Default::default() };
        state.tasks.entry("arn:t".into()).or_default().containers.insert("app".into(), "abc".into());
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), Some(state));
    }
}
