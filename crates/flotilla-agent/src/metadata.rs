//! The task metadata endpoint, version 4: every container gets
//! `ECS_CONTAINER_METADATA_URI_V4` and can read its own metadata there, its task's
//! (`/task`), and Docker stats (`/stats`, `/task/stats`), in ECS's JSON shapes.
//!
//! The path token is `<task id>-<container name>`: it survives agent restarts, so
//! adopted containers keep a working endpoint.
//!
//! An awsvpc task's containers report the task's own address (its pause
//! container's) under `Networks`; they reach the endpoint on the default bridge's
//! gateway through the host.

use crate::runtime::{ContainerRuntime, ContainerState};
use crate::supervisor::{TaskContext, TaskSnapshot};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_core::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the endpoint knows of one task.
#[derive(Debug, Clone)]
struct TaskView {
    ctx: TaskContext,
    snapshot: TaskSnapshot,
    desired: String,
}

/// The tasks the endpoint answers for, kept up to date by their supervisors.
#[derive(Clone, Default)]
pub struct MetadataRegistry {
    tasks: Arc<Mutex<HashMap<String, TaskView>>>,
    availability_zone: Arc<String>,
}

impl MetadataRegistry {
    pub fn new(availability_zone: &str) -> Self {
        Self { tasks: Arc::default(), availability_zone: Arc::new(availability_zone.to_string()) }
    }

    pub fn update(&self, ctx: &TaskContext, snapshot: &TaskSnapshot, desired: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.insert(
            ctx.task_id().to_string(),
            TaskView { ctx: ctx.clone(), snapshot: snapshot.clone(), desired: desired.to_string() },
        );
    }

    pub fn forget(&self, task_id: &str) {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).remove(task_id);
    }

    fn lookup(&self, token: &str) -> Option<(TaskView, String)> {
        let (task_id, container) = token.split_once('-')?;
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let view = tasks.get(task_id)?;
        view.ctx
            .definition
            .container_definitions
            .iter()
            .any(|c| c.name == container)
            .then(|| (view.clone(), container.to_string()))
    }
}

/// The token of a container's endpoint.
pub fn token(ctx: &TaskContext, container: &str) -> String {
    format!("{}-{container}", ctx.task_id())
}

#[derive(Clone)]
struct Endpoint {
    registry: MetadataRegistry,
    runtime: Arc<dyn ContainerRuntime>,
}

/// The endpoint's routes.
pub fn router(registry: MetadataRegistry, runtime: Arc<dyn ContainerRuntime>) -> Router {
    Router::new()
        .route("/v4/{token}", get(container_metadata))
        .route("/v4/{token}/task", get(task_metadata))
        .route("/v4/{token}/stats", get(container_stats))
        .route("/v4/{token}/task/stats", get(task_stats))
        .with_state(Endpoint { registry, runtime })
}

fn json_answer(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn not_found(token: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no task metadata for '{token}'\n")).into_response()
}

async fn container_json(ep: &Endpoint, view: &TaskView, name: &str) -> Value {
    let def = view.ctx.definition.container_definitions.iter().find(|c| c.name == name);
    let snap = view.snapshot.containers.iter().find(|c| c.container_name == name);
    let docker_id = snap.and_then(|s| s.runtime_id.clone());
    let state: Option<ContainerState> = match &docker_id {
        Some(id) => ep.runtime.inspect(id).await.ok().flatten(),
        None => None,
    };
    let mut labels = def.map(|d| d.docker_labels.clone()).unwrap_or_default();
    labels.insert("com.amazonaws.ecs.task-arn".into(), view.ctx.task_arn.clone());
    labels.insert("com.amazonaws.ecs.container-name".into(), name.into());
    labels.insert("com.amazonaws.ecs.cluster".into(), view.ctx.cluster.clone());
    labels.insert("com.amazonaws.ecs.task-definition-family".into(), view.ctx.family.clone());
    labels.insert("com.amazonaws.ecs.task-definition-version".into(), view.ctx.revision.to_string());
    let mode = view.ctx.definition.network_mode.map(|m| m.as_str()).unwrap_or("bridge");
    let network = match (&view.snapshot.network_interface, view.ctx.is_awsvpc()) {
        (Some(i), true) => json!({"NetworkMode": mode, "IPv4Addresses": [i.private_ipv4_address],
                                  "MACAddress": i.mac_address}),
        (None, true) => json!({"NetworkMode": mode, "IPv4Addresses": []}),
        _ => json!({"NetworkMode": mode,
                    "IPv4Addresses": state.as_ref().and_then(|s| s.ipv4.clone()).into_iter().collect::<Vec<_>>()}),
    };
    let ports: Vec<Value> = snap
        .map(|s| {
            s.network_bindings
                .iter()
                .map(|b| {
                    json!({"ContainerPort": b.container_port, "Protocol": b.protocol.as_str(),
                           "HostPort": b.host_port, "HostIp": b.bind_ip.clone().unwrap_or_default()})
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "DockerId": docker_id,
        "Name": name,
        "DockerName": format!("ecs-{}-{}-{}-{}", view.ctx.family, view.ctx.revision, name, view.ctx.task_id()),
        "Image": def.map(|d| d.image.clone()),
        "ImageID": state.as_ref().and_then(|s| s.image_id.clone()),
        "Labels": labels,
        "DesiredStatus": view.desired,
        "KnownStatus": snap.map(|s| s.status),
        "Limits": {"CPU": def.map_or(0, |d| d.cpu), "Memory": def.and_then(|d| d.memory.or(d.memory_reservation)).unwrap_or(0)},
        "StartedAt": state.as_ref().and_then(|s| s.started_at.clone()),
        "Type": "NORMAL",
        "ContainerARN": view.ctx.container_arns.get(name),
        "LogDriver": def.and_then(|d| d.log_configuration.as_ref()).map_or("json-file", |l| l.log_driver.as_str()),
        "Networks": [network],
        "Ports": ports,
    });
    if let Some(code) = snap.and_then(|s| s.exit_code) {
        out["ExitCode"] = json!(code);
    }
    if let Some(h) = snap.and_then(|s| s.health_status.clone()) {
        out["Health"] = json!({"status": h});
    }
    out
}

async fn task_json(ep: &Endpoint, view: &TaskView) -> Value {
    let mut containers = Vec::new();
    for c in &view.ctx.definition.container_definitions {
        containers.push(container_json(ep, view, &c.name).await);
    }
    let seconds = |t: Option<Timestamp>| t.map(Timestamp::to_iso8601);
    // arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID → arn:aws:ecs:REGION:ACCOUNT:cluster/CLUSTER
    let cluster_arn = match view.ctx.task_arn.split_once(":task/") {
        Some((prefix, _)) => format!("{prefix}:cluster/{}", view.ctx.cluster),
        None => view.ctx.cluster.clone(),
    };
    let mut out = json!({
        "Cluster": cluster_arn,
        "TaskARN": view.ctx.task_arn,
        "Family": view.ctx.family,
        "Revision": view.ctx.revision.to_string(),
        "DesiredStatus": view.desired,
        "KnownStatus": view.snapshot.status,
        "Containers": containers,
        "PullStartedAt": seconds(view.snapshot.pull_started_at),
        "PullStoppedAt": seconds(view.snapshot.pull_stopped_at),
        "AvailabilityZone": ep.registry.availability_zone.as_str(),
        "LaunchType": view.ctx.launch_type.as_str(),
    });
    let limits = view.ctx.limits();
    if !limits.is_empty() {
        let mut l = serde_json::Map::new();
        if let Some(units) = limits.cpu_units {
            l.insert("CPU".into(), json!(units as f64 / 1024.0));
        }
        if let Some(mib) = limits.memory_mib {
            l.insert("Memory".into(), json!(mib));
        }
        out["Limits"] = Value::Object(l);
    }
    out
}

async fn container_metadata(State(ep): State<Endpoint>, Path(token): Path<String>) -> Response {
    let Some((view, name)) = ep.registry.lookup(&token) else { return not_found(&token) };
    json_answer(&container_json(&ep, &view, &name).await)
}

async fn task_metadata(State(ep): State<Endpoint>, Path(token): Path<String>) -> Response {
    let Some((view, _)) = ep.registry.lookup(&token) else { return not_found(&token) };
    json_answer(&task_json(&ep, &view).await)
}

async fn container_stats(State(ep): State<Endpoint>, Path(token): Path<String>) -> Response {
    let Some((view, name)) = ep.registry.lookup(&token) else { return not_found(&token) };
    let id = view.snapshot.containers.iter().find(|c| c.container_name == name).and_then(|c| c.runtime_id.clone());
    let stats = match id {
        Some(id) => ep.runtime.stats(&id).await.ok().flatten(),
        None => None,
    };
    json_answer(&stats.unwrap_or(Value::Null))
}

async fn task_stats(State(ep): State<Endpoint>, Path(token): Path<String>) -> Response {
    let Some((view, _)) = ep.registry.lookup(&token) else { return not_found(&token) };
    let mut out = serde_json::Map::new();
    for c in &view.snapshot.containers {
        if let Some(id) = &c.runtime_id {
            out.insert(id.clone(), ep.runtime.stats(id).await.ok().flatten().unwrap_or(Value::Null));
        }
    }
    json_answer(&Value::Object(out))
}
