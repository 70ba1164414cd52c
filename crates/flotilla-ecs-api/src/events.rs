//! ECS's own events, emitted through the `EventSink` (EventBridge's default bus) as
//! AWS documents them: `ECS Task State Change` when a task's last or desired status
//! changes, `ECS Container Instance State Change` when an instance registers or its
//! status or agent connection changes, `ECS Service Action` (steady state, placement
//! failures) and `ECS Deployment State Change` (in progress, completed, failed).
//!
//! Which events a change makes is decided by pure functions; emitting never fails a
//! call: the change is already stored, and a sink that cannot take the event is logged.

use crate::EcsService;
use crate::{BusEvent, EventSink};
use flotilla_domain::EcsArns;
use flotilla_domain::Timestamp;
use flotilla_domain::service::{RolloutState, Service};
use flotilla_domain::task::Task;
use serde_json::{Value, json};
use std::sync::Arc;

const SOURCE: &str = "aws.ecs";

/// A service or deployment event: `(detail-type, event name, type, reason)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEvent {
    pub detail_type: &'static str,
    pub name: String,
    pub kind: &'static str,
    pub deployment_id: Option<String>,
    pub reason: Option<String>,
}

/// Whether a task's change is one ECS reports (a new task, or a new last or desired status).
pub(crate) fn task_event_due(before: Option<&Task>, after: &Task) -> bool {
    before.is_none_or(|b| b.last_status != after.last_status || b.desired_status != after.desired_status)
}

/// The service and deployment events of one scheduler pass, from the service before
/// and after it.
pub(crate) fn service_events(before: &Service, after: &Service) -> Vec<ServiceEvent> {
    let mut out = Vec::new();
    if after.steady && !before.steady {
        out.push(ServiceEvent {
            detail_type: "ECS Service Action",
            name: "SERVICE_STEADY_STATE".into(),
            kind: "INFO",
            deployment_id: None,
            reason: None,
        });
    }
    for d in after.all_deployments() {
        let was = before.all_deployments().find(|b| b.id == d.id).map(|b| b.rollout_state);
        if was == Some(d.rollout_state) {
            continue;
        }
        let (name, kind) = match d.rollout_state {
            RolloutState::InProgress => ("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO"),
            RolloutState::Completed => ("SERVICE_DEPLOYMENT_COMPLETED", "INFO"),
            RolloutState::Failed => ("SERVICE_DEPLOYMENT_FAILED", "ERROR"),
        };
        out.push(ServiceEvent {
            detail_type: "ECS Deployment State Change",
            name: name.into(),
            kind,
            deployment_id: Some(d.id.clone()),
            reason: d.rollout_state_reason.clone(),
        });
    }
    out
}

/// The placement failure event of a pass whose launch could not place a task.
pub(crate) fn placement_failure(reason: &str) -> ServiceEvent {
    ServiceEvent {
        detail_type: "ECS Service Action",
        name: "SERVICE_TASK_PLACEMENT_FAILURE".into(),
        kind: "WARN",
        deployment_id: None,
        reason: Some(reason.to_string()),
    }
}

impl EcsService {
    /// Emits ECS's events through `sink` (EventBridge's default bus).
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    async fn emit(&self, events: Vec<BusEvent>) {
        let Some(sink) = &self.events else { return };
        if events.is_empty() {
            return;
        }
        if let Err(e) = sink.emit(events).await {
            tracing::warn!(error = %e, "an ECS event could not be put on the default bus");
        }
    }

    /// Whether events are put on a bus where a rule could take them; without one
    /// they are not built (see [`EventSink::listening`]).
    async fn events_listened(&self) -> bool {
        match &self.events {
            Some(sink) => sink.listening().await,
            None => false,
        }
    }

    /// `ECS Task State Change` for a task whose status changed (or that is new).
    pub(crate) async fn task_changed(&self, before: Option<&Task>, after: &Task) {
        self.tasks_changed(&[(before, after)]).await;
    }

    /// `ECS Task State Change` for each of several changes, put on the bus together.
    pub(crate) async fn tasks_changed(&self, changes: &[(Option<&Task>, &Task)]) {
        if !self.events_listened().await {
            return;
        }
        let due: Vec<Task> = changes
            .iter()
            .filter(|(before, after)| task_event_due(*before, after))
            .map(|(_, a)| (*a).clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let arns: Vec<String> = due.iter().map(|t| self.account.task_arn(&t.cluster, &t.id)).collect();
        let shapes = match self.task_shapes(due, false).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(tasks = arns.len(), error = %e, "describing tasks for their state change events failed");
                return;
            }
        };
        let updated_at = json!(Timestamp::now().to_iso8601());
        let events = shapes
            .into_iter()
            .zip(arns)
            .map(|(shape, arn)| {
                let mut detail = serde_json::to_value(shape).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut detail {
                    map.remove("tags");
                    map.insert("updatedAt".into(), updated_at.clone());
                }
                event("ECS Task State Change", vec![arn], detail)
            })
            .collect();
        self.emit(events).await;
    }

    /// `ECS Container Instance State Change` for an instance as it now is.
    pub(crate) async fn instance_changed(&self, instance_id: &str) {
        if !self.events_listened().await {
            return;
        }
        let Ok(Some(load)) = self.store.instance_load(instance_id).await else { return };
        if !load.instance.capacity.serves_ec2() {
            return;
        }
        let arn = self.account.container_instance_arn(&load.instance.cluster, &load.instance.id);
        let detail = match self.instance_shape(load, false).await {
            Ok(shape) => serde_json::to_value(shape).unwrap_or(Value::Null),
            Err(_) => return,
        };
        self.emit(vec![event("ECS Container Instance State Change", vec![arn], detail)]).await;
    }

    /// Service actions and deployment state changes.
    pub(crate) async fn service_changed(&self, service: &Service, events: Vec<ServiceEvent>) {
        if events.is_empty() || !self.events_listened().await {
            return;
        }
        let arn = self.account.service_arn(&service.cluster, &service.name);
        let now = Timestamp::now().to_iso8601();
        let out = events
            .into_iter()
            .map(|e| {
                let mut detail = json!({
                    "eventType": e.kind,
                    "eventName": e.name,
                    "clusterArn": self.account.cluster_arn(&service.cluster),
                    "createdAt": now,
                });
                if let Some(id) = &e.deployment_id {
                    detail["deploymentId"] = json!(id);
                    detail["updatedAt"] = json!(now);
                }
                if let Some(reason) = &e.reason {
                    detail["reason"] = json!(reason);
                }
                event(e.detail_type, vec![arn.clone()], detail)
            })
            .collect();
        self.emit(out).await;
    }
}

fn event(detail_type: &str, resources: Vec<String>, detail: Value) -> BusEvent {
    BusEvent { source: SOURCE.into(), detail_type: detail_type.into(), resources, detail, time_ms: Timestamp::now().0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_domain::service::{Revision, SchedulingStrategy, ServiceSpec};
    use flotilla_domain::task::TaskStatus;

    fn task(last: TaskStatus, desired: TaskStatus) -> Task {
        Task {
            last_status: last,
            desired_status: desired,
            ..Task::provisioning("t".into(), "c".into(), "f".into(), 1, Timestamp(0))
        }
    }

    #[test]
    fn task_events_follow_status_changes_only() {
        let pending = task(TaskStatus::Pending, TaskStatus::Running);
        assert!(task_event_due(None, &pending), "a new task");
        assert!(!task_event_due(Some(&pending), &pending), "nothing changed");
        assert!(task_event_due(Some(&pending), &task(TaskStatus::Running, TaskStatus::Running)));
        assert!(task_event_due(Some(&pending), &task(TaskStatus::Pending, TaskStatus::Stopped)), "asked to stop");
    }

    #[test]
    fn services_report_steady_state_and_rollout_changes() {
        let spec = ServiceSpec::new(SchedulingStrategy::Replica, 1);
        let revision = Revision { family: "f".into(), revision: 1, images: Vec::new() };
        let before = Service::new("c".into(), "s".into(), spec, revision, "ecs-svc/1".into(), Timestamp(0));
        let mut after = before.clone();
        assert!(service_events(&before, &after).is_empty());
        after.steady = true;
        after.deployments[0].rollout_state = RolloutState::Completed;
        let events = service_events(&before, &after);
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["SERVICE_STEADY_STATE", "SERVICE_DEPLOYMENT_COMPLETED"]);
        assert_eq!(events[1].deployment_id.as_deref(), Some("ecs-svc/1"));
        assert_eq!(placement_failure("RESOURCE:MEMORY").kind, "WARN");
    }
}
