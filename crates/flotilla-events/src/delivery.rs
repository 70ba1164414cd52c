//! The `events-delivery` controller: takes due deliveries from the outbox and sends
//! each to its target ([`crate::invoke`]), at least once.
//!
//! A delivery that fails is tried again after a backoff (exponential with full jitter,
//! 1 s doubling up to 5 minutes, or longer if an HTTP target says `Retry-After`) until
//! its target's retry policy runs out (by default 185 retries or 24 hours): then, and
//! at once for errors retrying cannot mend (a missing resource, a refused request), the
//! event goes to the target's dead-letter queue with the message attributes AWS adds
//! (`RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION`,
//! `RETRY_ATTEMPTS`), or is dropped with a warning when the target has none. The
//! decision is [`after_failure`], pure; the controller only reads and writes.
//!
//! Targets in other modules are reached through traits the server wires in:
//! [`EcsLauncher`] (RunTask) and [`QueueSender`] (SendMessage).

use crate::EventsService;
use crate::error::DeliveryCode;
use crate::store::DeliveryRecord;
use crate::targets::TargetDoc;
use flotilla_controller::{Controller, PassError};
use flotilla_core::Backoff;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Why a target did not take a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub code: DeliveryCode,
    pub message: String,
    /// How long the target asked to be left alone (HTTP `Retry-After`), in ms.
    pub retry_after_ms: Option<i64>,
}

impl TargetError {
    pub fn new(code: DeliveryCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_ms: None }
    }
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// An ECS task launch as an ECS target asks for it: RunTask's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsRunRequest {
    pub cluster_arn: String,
    pub task_definition: String,
    pub count: i64,
    pub launch_type: Option<String>,
    /// ECS's `networkConfiguration` (`awsvpcConfiguration` with `subnets`, …).
    pub network_configuration: Option<Value>,
    pub placement_constraints: Vec<Value>,
    pub placement_strategy: Vec<Value>,
    pub capacity_provider_strategy: Vec<Value>,
    pub platform_version: Option<String>,
    pub group: Option<String>,
    pub propagate_tags: Option<String>,
    pub tags: Vec<(String, String)>,
    pub reference_id: Option<String>,
    pub enable_ecs_managed_tags: Option<bool>,
    pub enable_execute_command: Option<bool>,
    /// ECS's `overrides` (a TaskOverride), from the rendered input.
    pub overrides: Option<Value>,
    /// `events-rule/RULE_NAME`, cut to ECS's 36 characters.
    pub started_by: String,
    /// The same for every attempt of one delivery, so ECS launches its tasks once.
    pub client_token: String,
}

impl EcsRunRequest {
    /// The request as an ECS `RunTask` body.
    pub fn to_run_task_json(&self) -> Value {
        let mut body = json!({
            "cluster": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "count": self.count,
            "startedBy": self.started_by,
            "clientToken": self.client_token,
        });
        let set = |body: &mut Value, key: &str, value: Value| {
            if let Some(map) = body.as_object_mut() {
                map.insert(key.to_string(), value);
            }
        };
        if let Some(v) = &self.launch_type {
            set(&mut body, "launchType", json!(v));
        }
        if let Some(v) = &self.network_configuration {
            set(&mut body, "networkConfiguration", v.clone());
        }
        if !self.placement_constraints.is_empty() {
            set(&mut body, "placementConstraints", json!(self.placement_constraints));
        }
        if !self.placement_strategy.is_empty() {
            set(&mut body, "placementStrategy", json!(self.placement_strategy));
        }
        if !self.capacity_provider_strategy.is_empty() {
            set(&mut body, "capacityProviderStrategy", json!(self.capacity_provider_strategy));
        }
        if let Some(v) = &self.platform_version {
            set(&mut body, "platformVersion", json!(v));
        }
        if let Some(v) = &self.group {
            set(&mut body, "group", json!(v));
        }
        if let Some(v) = &self.propagate_tags {
            set(&mut body, "propagateTags", json!(v));
        }
        if !self.tags.is_empty() {
            let tags: Vec<Value> = self.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
            set(&mut body, "tags", json!(tags));
        }
        if let Some(v) = &self.reference_id {
            set(&mut body, "referenceId", json!(v));
        }
        if let Some(v) = self.enable_ecs_managed_tags {
            set(&mut body, "enableECSManagedTags", json!(v));
        }
        if let Some(v) = self.enable_execute_command {
            set(&mut body, "enableExecuteCommand", json!(v));
        }
        if let Some(v) = &self.overrides {
            set(&mut body, "overrides", v.clone());
        }
        body
    }
}

/// Runs ECS tasks for ECS targets (the server wires in the ECS module).
#[async_trait::async_trait]
pub trait EcsLauncher: Send + Sync {
    /// Runs the tasks; returns the ARNs of those started.
    async fn run_task(&self, request: &EcsRunRequest) -> Result<Vec<String>, TargetError>;
}

/// A message for an SQS queue: a target's body, or an event for a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub queue_arn: String,
    pub body: String,
    /// FIFO queues: `SqsParameters.MessageGroupId`.
    pub message_group_id: Option<String>,
    /// String message attributes (name, value).
    pub attributes: Vec<(String, String)>,
}

/// Sends messages to SQS queues (the server wires in the SQS module).
#[async_trait::async_trait]
pub trait QueueSender: Send + Sync {
    async fn send(&self, message: &QueueMessage) -> Result<(), TargetError>;
}

/// How retries back off: full jitter under 1 s × 2ⁿ, at most 5 minutes.
pub(crate) const BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));

/// What to do with a delivery after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Try again at this time.
    Retry { at: i64 },
    /// Stop: dead-letter (or drop) the event. `exhausted` names the retry policy limit
    /// reached, if that is why.
    GiveUp { exhausted: Option<&'static str> },
}

/// The pure decision after attempt `attempts` (1 for the first) of a delivery made at
/// `created_ms` failed at `now_ms`. `unit` is the jitter draw in `[0, 1)`.
pub(crate) fn after_failure(
    policy: (i64, i64),
    attempts: i64,
    created_ms: i64,
    now_ms: i64,
    error: &TargetError,
    unit: f64,
) -> Decision {
    let (max_retries, max_age_s) = policy;
    if !error.code.retryable() || error.retry_after_ms.is_some_and(|ms| ms < 0) {
        return Decision::GiveUp { exhausted: None };
    }
    if attempts > max_retries {
        return Decision::GiveUp { exhausted: Some("MaximumRetryAttempts") };
    }
    let retry = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    let backoff = i64::try_from(BACKOFF.delay_with(retry, unit).as_millis()).unwrap_or(i64::MAX);
    let delay = backoff.max(error.retry_after_ms.unwrap_or(0)).max(100);
    let at = now_ms.saturating_add(delay);
    if at.saturating_sub(created_ms) > max_age_s.saturating_mul(1000) {
        return Decision::GiveUp { exhausted: Some("MaximumEventAgeInSeconds") };
    }
    Decision::Retry { at }
}

/// Whether a delivery is already too old to attempt (after an outage, say).
pub(crate) fn too_old(policy: (i64, i64), created_ms: i64, now_ms: i64) -> bool {
    now_ms.saturating_sub(created_ms) > policy.1.saturating_mul(1000)
}

/// The message attributes AWS puts on a dead-lettered event.
pub(crate) fn dead_letter_attributes(
    rule_arn: &str,
    target_arn: &str,
    error: &TargetError,
    exhausted: Option<&str>,
    attempts: i64,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("RULE_ARN".to_string(), rule_arn.to_string()),
        ("TARGET_ARN".to_string(), target_arn.to_string()),
        ("ERROR_CODE".to_string(), error.code.as_str().to_string()),
        ("ERROR_MESSAGE".to_string(), error.message.chars().take(1024).collect()),
        ("RETRY_ATTEMPTS".to_string(), attempts.saturating_sub(1).max(0).to_string()),
    ];
    if let Some(condition) = exhausted {
        out.push(("EXHAUSTED_RETRY_CONDITION".to_string(), condition.to_string()));
    }
    out
}

/// Deliveries one batch takes.
const BATCH: i64 = 64;
/// Batches one pass runs before it yields (the next pass starts at once if more are due).
const BATCHES_PER_PASS: usize = 50;

pub(crate) struct Delivery {
    pub svc: EventsService,
}

#[async_trait::async_trait]
impl Controller for Delivery {
    fn name(&self) -> &'static str {
        "events-delivery"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn wakeup(&self) -> Option<Arc<Notify>> {
        Some(self.svc.wakeup.clone())
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        for _ in 0..BATCHES_PER_PASS {
            let now = self.svc.store.now_ms().await?;
            let due = self.svc.store.due_deliveries(now, BATCH).await?;
            if due.is_empty() {
                return Ok(());
            }
            let full = due.len() as i64 == BATCH;
            let mut running = tokio::task::JoinSet::new();
            for d in due {
                let svc = self.svc.clone();
                running.spawn(async move {
                    if let Err(e) = deliver(&svc, &d).await {
                        tracing::warn!(delivery = d.id, event = %d.event_id, error = %e, "recording a delivery's outcome failed; it will be tried again");
                    }
                });
            }
            while running.join_next().await.is_some() {}
            if !full {
                return Ok(());
            }
        }
        // More are due: come back at once.
        self.svc.wakeup.notify_one();
        Ok(())
    }
}

/// Tries one delivery and records what came of it.
async fn deliver(svc: &EventsService, d: &DeliveryRecord) -> crate::Result<()> {
    let doc: TargetDoc = match serde_json::from_str(&d.target) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::error!(delivery = d.id, error = %e, "a delivery's target cannot be read; the delivery is dropped");
            return svc.store.finish_delivery(d.id, &d.event_id).await;
        }
    };
    let policy = doc.retry_policy();
    let now = svc.store.now_ms().await?;
    if too_old(policy, d.created_at, now) {
        let error = TargetError::new(
            DeliveryCode::Timeout,
            d.last_error.clone().unwrap_or_else(|| "the event was not delivered within its maximum age".into()),
        );
        give_up(svc, d, &doc, &error, Some("MaximumEventAgeInSeconds"), d.attempts).await;
        return svc.store.finish_delivery(d.id, &d.event_id).await;
    }
    let outcome = crate::invoke::invoke(svc, d, &doc).await;
    match outcome {
        Ok(crate::invoke::Sent::Done) => {
            tracing::debug!(delivery = d.id, event = %d.event_id, target = %doc.arn, "delivered");
            svc.store.finish_delivery(d.id, &d.event_id).await
        }
        Ok(crate::invoke::Sent::Deferred { until }) => svc.store.defer_delivery(d.id, until).await,
        Err(error) => {
            let attempts = d.attempts + 1;
            let now = svc.store.now_ms().await?;
            match after_failure(policy, attempts, d.created_at, now, &error, flotilla_core::retry::random_unit()) {
                Decision::Retry { at } => {
                    tracing::info!(delivery = d.id, target = %doc.arn, attempts, error = %error, "delivery failed; it will be retried");
                    svc.store.retry_delivery(d.id, attempts, at, &error.to_string()).await
                }
                Decision::GiveUp { exhausted } => {
                    give_up(svc, d, &doc, &error, exhausted, attempts).await;
                    svc.store.finish_delivery(d.id, &d.event_id).await
                }
            }
        }
    }
}

/// Sends a failed event to its target's dead-letter queue, or drops it with a warning.
async fn give_up(
    svc: &EventsService,
    d: &DeliveryRecord,
    doc: &TargetDoc,
    error: &TargetError,
    exhausted: Option<&str>,
    attempts: i64,
) {
    let dlq = doc.dead_letter_config.as_ref().and_then(|c| c.arn.clone());
    let Some(queue_arn) = dlq else {
        tracing::warn!(event = %d.event_id, rule = %d.rule_arn, target = %doc.arn, error = %error, exhausted, "dropping an event that could not be delivered (its target has no dead-letter queue)");
        return;
    };
    let Some(queues) = &svc.queues else {
        tracing::warn!(event = %d.event_id, target = %doc.arn, dead_letter_queue = %queue_arn, error = %error, "dropping an event that could not be delivered: no SQS is wired in for its dead-letter queue");
        return;
    };
    let message = QueueMessage {
        queue_arn: queue_arn.clone(),
        body: d.event.clone(),
        message_group_id: None,
        attributes: dead_letter_attributes(&d.rule_arn, &doc.arn, error, exhausted, attempts),
    };
    match queues.send(&message).await {
        Ok(()) => {
            tracing::info!(event = %d.event_id, target = %doc.arn, dead_letter_queue = %queue_arn, error = %error, "an event that could not be delivered went to its dead-letter queue")
        }
        Err(e) => {
            tracing::warn!(event = %d.event_id, target = %doc.arn, dead_letter_queue = %queue_arn, error = %error, dead_letter_error = %e, "dropping an event that could not be delivered: its dead-letter queue refused it")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: DeliveryCode) -> TargetError {
        TargetError::new(code, "boom")
    }

    const DEFAULT: (i64, i64) = (185, 86_400);

    #[test]
    fn retryable_failures_back_off_exponentially_with_jitter() {
        let e = failure(DeliveryCode::ServiceError);
        // The largest draw waits the ceiling: 1 s, 2 s, 4 s, …, capped at 5 minutes.
        for (attempt, ceiling) in [(1, 1_000), (2, 2_000), (3, 4_000), (9, 256_000), (10, 300_000), (40, 300_000)] {
            let Decision::Retry { at } = after_failure(DEFAULT, attempt, 0, 10_000, &e, 0.999_999) else {
                panic!("attempt {attempt} gives up")
            };
            assert!((ceiling - 2..=ceiling).contains(&(at - 10_000)), "attempt {attempt}: {at}");
        }
        // The smallest draw still waits a little.
        assert_eq!(after_failure(DEFAULT, 1, 0, 10_000, &e, 0.0), Decision::Retry { at: 10_100 });
    }

    #[test]
    fn attempts_and_age_limits_end_retries_and_say_which() {
        let e = failure(DeliveryCode::Timeout);
        assert!(matches!(after_failure(DEFAULT, 185, 0, 0, &e, 0.5), Decision::Retry { .. }));
        assert_eq!(
            after_failure(DEFAULT, 186, 0, 0, &e, 0.5),
            Decision::GiveUp { exhausted: Some("MaximumRetryAttempts") }
        );
        // No retries at all: the first failure gives up.
        assert_eq!(
            after_failure((0, 3600), 1, 0, 0, &e, 0.5),
            Decision::GiveUp { exhausted: Some("MaximumRetryAttempts") }
        );
        // The next attempt would come after the event's maximum age.
        assert_eq!(
            after_failure((185, 60), 3, 0, 59_500, &e, 0.999),
            Decision::GiveUp { exhausted: Some("MaximumEventAgeInSeconds") }
        );
        assert!(too_old((185, 60), 0, 60_001));
        assert!(!too_old((185, 60), 0, 60_000));
    }

    #[test]
    fn errors_retrying_cannot_mend_give_up_at_once() {
        for code in [DeliveryCode::NoResource, DeliveryCode::InvalidParameter, DeliveryCode::Unsupported] {
            assert_eq!(after_failure(DEFAULT, 1, 0, 0, &failure(code), 0.5), Decision::GiveUp { exhausted: None });
        }
        // A negative Retry-After says stop, as AWS reads it.
        let mut e = failure(DeliveryCode::Throttling);
        e.retry_after_ms = Some(-1);
        assert_eq!(after_failure(DEFAULT, 1, 0, 0, &e, 0.5), Decision::GiveUp { exhausted: None });
        // A positive one is waited out when it is longer than the backoff.
        e.retry_after_ms = Some(30_000);
        assert_eq!(after_failure(DEFAULT, 1, 0, 0, &e, 0.5), Decision::Retry { at: 30_000 });
    }

    #[test]
    fn dead_letter_messages_carry_aws_attributes() {
        let e = failure(DeliveryCode::NoResource);
        let attrs = dead_letter_attributes("arn:rule", "arn:target", &e, Some("MaximumRetryAttempts"), 4);
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RULE_ARN"), Some("arn:rule"));
        assert_eq!(get("TARGET_ARN"), Some("arn:target"));
        assert_eq!(get("ERROR_CODE"), Some("NO_RESOURCE"));
        assert_eq!(get("ERROR_MESSAGE"), Some("boom"));
        assert_eq!(get("RETRY_ATTEMPTS"), Some("3"));
        assert_eq!(get("EXHAUSTED_RETRY_CONDITION"), Some("MaximumRetryAttempts"));
        let attrs = dead_letter_attributes("r", "t", &e, None, 1);
        assert!(!attrs.iter().any(|(n, _)| n == "EXHAUSTED_RETRY_CONDITION"));
    }

    #[test]
    fn an_ecs_request_is_a_run_task_body() {
        let r = EcsRunRequest {
            cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/default".into(),
            task_definition: "web:3".into(),
            count: 2,
            launch_type: Some("EC2".into()),
            network_configuration: None,
            placement_constraints: vec![json!({"type": "distinctInstance"})],
            placement_strategy: vec![],
            capacity_provider_strategy: vec![],
            platform_version: None,
            group: Some("g".into()),
            propagate_tags: None,
            tags: vec![("k".into(), "v".into())],
            reference_id: None,
            enable_ecs_managed_tags: None,
            enable_execute_command: None,
            overrides: Some(json!({"containerOverrides": [{"name": "app", "command": ["echo"]}]})),
            started_by: "events-rule/nightly".into(),
            client_token: "tok".into(),
        };
        let body = r.to_run_task_json();
        assert_eq!(body["taskDefinition"], "web:3");
        assert_eq!(body["count"], 2);
        assert_eq!(body["startedBy"], "events-rule/nightly");
        assert_eq!(body["tags"], json!([{"key": "k", "value": "v"}]));
        assert_eq!(body["overrides"]["containerOverrides"][0]["command"], json!(["echo"]));
        assert!(body.get("placementStrategy").is_none());
    }
}
