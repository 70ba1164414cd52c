//! The `scheduler-fire` controller. Each pass
//! 1. fires every due schedule: the invocation goes into the outbox and the schedule
//!    moves on to its next fire time after now (so periods missed while the control
//!    plane was down fire once), in one transaction; a one-time or ended schedule stops,
//!    and with ActionAfterCompletion DELETE it is deleted;
//! 2. delivers due invocations through the [`TargetInvoker`]: a failure is retried
//!    with exponential backoff until the target's RetryPolicy runs out (attempts or
//!    age), then the invocation goes to the dead-letter queue, if any, with the error.

use crate::model::{Invocation, Schedule};
use crate::store::SchedulerStore;
use async_trait::async_trait;
use flotilla_controller::{Controller, PassError};
use flotilla_core::Timestamp;
use flotilla_core::retry::Backoff;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const PASS_INTERVAL: Duration = Duration::from_secs(1);
const BATCH: i64 = 100;

/// Runs a schedule's target: an ECS cluster ARN with `EcsParameters` (RunTask) or
/// an SQS queue ARN (SendMessage), with `input` as the body or task overrides.
#[async_trait]
pub trait TargetInvoker: Send + Sync {
    async fn invoke(&self, invocation: &Invocation, input: &str) -> Result<(), String>;
    /// Sends a failed invocation's record to a dead-letter queue.
    async fn dead_letter(&self, queue_arn: &str, body: &str) -> Result<(), String>;
}

/// How retries of an invocation are spaced: 1 s doubling up to 5 minutes.
const RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));

/// The delay before retry `attempt` (1-based): 1 s doubling up to 5 minutes.
pub fn retry_delay_ms(attempt: i64) -> i64 {
    let failed = u32::try_from(attempt.max(1) - 1).unwrap_or(u32::MAX);
    RETRY.ceiling(failed).as_millis() as i64
}

pub(crate) struct Fire {
    pub store: SchedulerStore,
    pub account: flotilla_core::AccountContext,
    pub invoker: Arc<dyn TargetInvoker>,
    pub changed: Arc<Notify>,
}

#[async_trait]
impl Controller for Fire {
    fn name(&self) -> &'static str {
        "scheduler-fire"
    }

    fn interval(&self) -> Duration {
        PASS_INTERVAL
    }

    fn wakeup(&self) -> Option<Arc<Notify>> {
        Some(self.changed.clone())
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let now = Timestamp::now().0;
        for (schedule, due) in self.store.due_schedules(now, BATCH).await? {
            self.fire(&schedule, due, now).await?;
        }
        for invocation in self.store.due_invocations(now, BATCH).await? {
            self.deliver(invocation, now).await?;
        }
        Ok(())
    }
}

impl Fire {
    async fn fire(&self, schedule: &Schedule, due: i64, now: i64) -> Result<(), PassError> {
        let next = match schedule.check() {
            Ok(timing) => timing.next_after(now),
            Err(e) => {
                tracing::warn!(schedule = %schedule.name, error = %e, "a stored schedule no longer checks; it stops");
                None
            }
        };
        let arn =
            self.account.arn("scheduler", &format!("schedule/{}/{}", schedule.group_name, schedule.name)).to_string();
        let invocation = Invocation {
            id: uuid::Uuid::new_v4().to_string(),
            schedule_arn: arn,
            schedule_name: schedule.name.clone(),
            due_at: due,
            target: schedule.target.clone(),
            attempts: 0,
            last_error: None,
        };
        let delete = next.is_none() && schedule.action_after_completion == "DELETE";
        if self.store.fire(schedule, due, &invocation, next, delete).await? {
            tracing::info!(schedule = %schedule.name, group = %schedule.group_name, due, "schedule fired");
        }
        Ok(())
    }

    async fn deliver(&self, mut invocation: Invocation, now: i64) -> Result<(), PassError> {
        let input = invocation.target.input.clone().unwrap_or_else(|| "{}".to_string());
        match self.invoker.invoke(&invocation, &input).await {
            Ok(()) => {
                self.store.finish_invocation(&invocation.id).await?;
                return Ok(());
            }
            Err(e) => invocation.last_error = Some(e),
        }
        invocation.attempts += 1;
        let policy = invocation.target.retry_policy.unwrap_or_default();
        let too_old = now - invocation.due_at > policy.maximum_event_age_in_seconds * 1000;
        if invocation.attempts > policy.maximum_retry_attempts || too_old {
            let error = invocation.last_error.clone().unwrap_or_default();
            tracing::warn!(schedule = %invocation.schedule_name, attempts = invocation.attempts, error = %error, "giving up on an invocation");
            if let Some(queue) = invocation.target.dead_letter_config.as_ref().and_then(|d| d.arn.clone()) {
                let body = serde_json::json!({
                    "ScheduleArn": invocation.schedule_arn,
                    "TargetArn": invocation.target.arn,
                    "Input": input,
                    "ERROR_CODE": "TargetInvocationFailed",
                    "ERROR_MESSAGE": error,
                    "RETRY_ATTEMPTS": invocation.attempts - 1,
                })
                .to_string();
                if let Err(e) = self.invoker.dead_letter(&queue, &body).await {
                    // The dead-letter queue is unreachable too: keep it, try again later.
                    tracing::warn!(queue = %queue, error = %e, "sending to the dead-letter queue failed");
                    self.store.retry_invocation(&invocation, now + retry_delay_ms(invocation.attempts)).await?;
                    return Ok(());
                }
            }
            self.store.finish_invocation(&invocation.id).await?;
            return Ok(());
        }
        self.store.retry_invocation(&invocation, now + retry_delay_ms(invocation.attempts)).await?;
        Ok(())
    }
}
