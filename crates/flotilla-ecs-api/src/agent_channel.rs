//! The channel agents poll for their assignments: `FlotillaAgentV1.PollTasks`; they
//! also report task metrics there and ask for their tasks' role credentials.
//!
//! ECS's own agent gets its work over a websocket found through
//! DiscoverPollEndpoint; Flotilla's agent long-polls this JSON 1.1 operation
//! instead (SigV4-signed like every call). A poll records the agent's heartbeat and
//! answers as soon as the set of tasks the instance must know of, or what it must do
//! with them (their `wish_version`), differs from what the agent says it knows, or
//! when the wait runs out; the agent's own reports never make an answer. Wake-ups
//! between calls on one replica are only a hint: every answer is read from the store,
//! and with replicas sharing it waiting polls re-read it every 2 s, so a change made
//! through another replica is seen too. With one writer (SQLite) every change wakes
//! its polls, so a poll no change woke re-reads nothing.
//! The shapes are `flotilla_ecs_model::poll`'s, shared with the agent.

use crate::EcsService;
use crate::error::EcsError;
use crate::wire::required;
use async_trait::async_trait;
use axum::response::Response;
use bytes::Bytes;
use flotilla_domain::EcsArns;
use flotilla_domain::Timestamp;
use flotilla_domain::container_instance::InstanceStatus;
use flotilla_domain::task::{Task, TaskStatus, pinned_image};
use flotilla_domain::task_definition::TaskDefinitionSpec;
use flotilla_ecs_model::poll::{AgentTask, MAX_WAIT_SECONDS, PollTasksRequest, PollTasksResponse, wish_version};
use flotilla_protocol::{AwsError, Caller, Operation, ServiceModule, Wire, json_response, parse_request};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// A poll records a heartbeat only when the last is at least this old: an agent
/// reporting a burst of state changes polls many times a second, and each write
/// waits for the store's one writer. Polls wait at most 25 s, so a connected agent's
/// heartbeat is never older than about 35 s, well inside the 60 s timeout.
const HEARTBEAT_REFRESH_MS: i64 = 10_000;

/// How often a waiting poll re-reads its tasks' wishes for changes another replica
/// made, when replicas share the store (this replica's changes wake it at once; with
/// one writer there is nothing else to look for).
const OTHER_REPLICAS_RECHECK: Duration = Duration::from_secs(2);

/// Per-instance wake-ups for waiting polls.
#[derive(Default)]
pub struct Wakeups {
    by_instance: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakeups {
    fn notify_for(&self, instance_id: &str) -> Arc<Notify> {
        let mut map = self.by_instance.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(instance_id.to_string()).or_default().clone()
    }

    /// Wakes the polls waiting for this instance.
    pub fn wake(&self, instance_id: &str) {
        self.notify_for(instance_id).notify_waiters();
    }
}

/// Serves `FlotillaAgentV1` on behalf of the ECS service.
pub struct AgentChannel {
    ecs: Arc<EcsService>,
}

impl AgentChannel {
    pub fn new(ecs: Arc<EcsService>) -> Self {
        Self { ecs }
    }
}

impl AgentChannel {
    async fn poll(&self, input: PollTasksRequest) -> Result<PollTasksResponse, EcsError> {
        let svc = &self.ecs;
        let cluster = svc.active_cluster(input.cluster.as_deref()).await?;
        let given = required(input.container_instance.clone(), "containerInstance")?;
        let instance = svc.find_node(&cluster.name, &given).await?.ok_or_else(|| {
            EcsError::invalid(format!("containerInstance '{given}' is not registered in cluster '{}'", cluster.name))
        })?;
        let now = Timestamp::now();
        if now.0 - instance.last_heartbeat.0 >= HEARTBEAT_REFRESH_MS {
            svc.store.heartbeat(&instance.id, now).await?;
        }
        let wait = Duration::from_secs(input.wait_seconds.unwrap_or(0).min(MAX_WAIT_SECONDS));
        let deadline = tokio::time::Instant::now() + wait;
        let notify = svc.wakeups.notify_for(&instance.id);
        let mut current = BTreeMap::new();
        let mut read = true;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Wishes only while nothing changed: a waiting poll reads no task document.
            if read {
                current = svc
                    .store
                    .task_wishes_for_instance(&instance.id)
                    .await?
                    .into_iter()
                    .map(|(cluster, id, desired)| (svc.account.task_arn(&cluster, &id), (id, wish_version(desired))))
                    .collect();
            }
            let now = tokio::time::Instant::now();
            let same = current.len() == input.known.len()
                && current.iter().all(|(arn, (_, wish))| input.known.get(arn) == Some(wish));
            if !same || now >= deadline || instance.status == InstanceStatus::Inactive {
                return self.answer(&instance.id, instance.status, &input, &current).await;
            }
            // This replica's changes wake the poll at once; with other replicas the
            // store is re-read now and then for their changes. With one writer, a
            // poll that no change woke answers at its deadline with what it read.
            let only_here = svc.store.written_only_here();
            let recheck = if only_here { deadline - now } else { (deadline - now).min(OTHER_REPLICAS_RECHECK) };
            read = tokio::select! {
                _ = &mut notified => true,
                _ = tokio::time::sleep(recheck) => !only_here,
            };
        }
    }

    /// The poll's answer: every task of the instance, or (with `changesOnly`) the ones
    /// the agent does not know at their current version, the others by ARN only, so
    /// an answer costs what changed rather than every task the instance runs.
    async fn answer(
        &self,
        instance_id: &str,
        instance_status: InstanceStatus,
        input: &PollTasksRequest,
        current: &BTreeMap<String, (String, i64)>,
    ) -> Result<PollTasksResponse, EcsError> {
        let svc = &self.ecs;
        let mut unchanged = Vec::new();
        let tasks = if input.changes_only {
            let mut changed = Vec::new();
            for (arn, (id, wish)) in current {
                if input.known.get(arn) == Some(wish) {
                    unchanged.push(arn.clone());
                    continue;
                }
                // Stopped or moved since the wishes were read: no longer listed.
                if let Some(t) = svc.store.get_task(id).await?
                    && t.container_instance_id.as_deref() == Some(instance_id)
                    && t.last_status != TaskStatus::Stopped
                {
                    changed.push(t);
                }
            }
            changed
        } else {
            svc.store.tasks_for_instance(instance_id).await?
        };
        // Tasks of one revision share its definition: read each revision once.
        let mut definitions: HashMap<(String, i64), TaskDefinitionSpec> = HashMap::new();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            let key = (t.family.clone(), t.revision);
            if !definitions.contains_key(&key) {
                let td = svc.store.get_task_definition(&t.family, t.revision).await?.ok_or_else(|| {
                    EcsError::client(format!("task definition {}:{} of a task is gone", t.family, t.revision))
                })?;
                definitions.insert(key.clone(), td.spec);
            }
            out.push(self.agent_task(t, definitions[&key].clone()));
        }
        Ok(PollTasksResponse { instance_status, tasks: out, unchanged })
    }

    fn agent_task(&self, t: Task, mut definition: TaskDefinitionSpec) -> AgentTask {
        let svc = &self.ecs;
        // A service deployment's tasks run their images by the digests pinned when it started.
        for c in &mut definition.container_definitions {
            if let Some(digest) = t.containers.iter().find(|x| x.name == c.name).and_then(|x| x.image_digest.as_ref()) {
                c.image = pinned_image(&c.image, digest);
            }
        }
        let container_arns = t
            .containers
            .iter()
            .map(|c| (c.name.clone(), svc.account.container_arn(&t.cluster, &t.id, &c.id)))
            .collect();
        AgentTask {
            container_arns,
            created_at: t.created_at,
            task_arn: svc.account.task_arn(&t.cluster, &t.id),
            version: wish_version(t.desired_status),
            desired_status: t.desired_status,
            last_status: t.last_status,
            family: t.family,
            revision: t.revision,
            overrides: t.overrides,
            definition,
            launch_type: t.launch_type,
            ephemeral_storage_gib: t.ephemeral_storage_gib,
            metered: crate::task_metrics::publishes(&t.group),
        }
    }
}

#[async_trait]
impl ServiceModule for AgentChannel {
    fn wire(&self) -> Wire {
        Wire::Json { target_prefix: flotilla_ecs_model::AGENT_TARGET, cbor_service: None }
    }

    fn signing_name(&self) -> &'static str {
        "ecs"
    }

    fn operations(&self) -> &'static [Operation] {
        crate::operations::AGENT_OPERATIONS
    }

    async fn call(&self, operation: &str, body: Bytes, _caller: &Caller) -> Result<Response, AwsError> {
        match operation {
            "PollTasks" => {
                let input = parse_request(&body, crate::error::INVALID_PARAMETER)?;
                Ok(json_response(&self.poll(input).await?))
            }
            "SubmitTaskMetrics" => {
                let input = parse_request(&body, crate::error::INVALID_PARAMETER)?;
                Ok(json_response(&self.ecs.submit_task_metrics(input).await?))
            }
            "GetTaskRoleCredentials" => {
                let input = parse_request(&body, crate::error::INVALID_PARAMETER)?;
                Ok(json_response(&self.ecs.task_role_credentials(input).await?))
            }
            other => Err(AwsError::client("UnknownOperationException", format!("unknown agent operation '{other}'"))),
        }
    }
}
