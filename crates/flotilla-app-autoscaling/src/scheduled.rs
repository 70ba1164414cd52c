//! Scheduled actions: PutScheduledAction, DescribeScheduledActions,
//! DeleteScheduledAction, and the `app-autoscaling-scheduled` controller that applies
//! them when due.
//!
//! A schedule is `at(yyyy-mm-ddThh:mm:ss)`, `rate(N unit)` or `cron(…)` (six fields),
//! read in `Timezone` (UTC when not given) by `flotilla-schedule`, and fires only
//! within [StartTime, EndTime) (a rate counts from StartTime, or from when the action
//! is put). When due, an action sets the target's MinCapacity and/or MaxCapacity and,
//! as AWS does, brings a desired count outside the new bounds to the nearest bound;
//! each step is a scaling activity. After a pause (the server down, the lease moving)
//! an action fires once for the periods it missed, at the latest of them. Nothing is
//! applied while the target's scheduled scaling is suspended.

use crate::activities::{bounds_activity, desired_count_activity, failed_desired_count_activity};
use crate::decide;
use crate::error::{Result, ScalingError};
use crate::model::{
    check_capacity, check_namespace, decode_token, encode_token, epoch, filters, max_results, required,
    scheduled_action_arn, target_key, timestamp_ms,
};
use crate::store::{ActionRow, ScalingMark};
use crate::{AppAutoScalingService, Empty};
use flotilla_controller::{Controller, PassError};
use flotilla_schedule::{Schedule, ScheduleExpression, TimeZone};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Scheduled actions a scalable target may have (AWS's quota).
pub const MAX_ACTIONS: i64 = 200;
const MAX_PAGE: i64 = 50;
/// How often the controller looks for due actions (it is also woken when one is put).
pub const INTERVAL: Duration = Duration::from_secs(5);
const DUE_PAGE: i64 = 100;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TargetActionWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    service_namespace: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    scheduled_action_name: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    #[serde(default, deserialize_with = "timestamp_ms")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp_ms")]
    end_time: Option<i64>,
    scalable_target_action: Option<TargetActionWire>,
}

/// A scheduled action name: 1 to 256 characters, no `:`, `/`, `|` or control
/// characters, no leading or trailing spaces.
fn check_action_name(name: &str) -> Result<()> {
    let chars = name.chars().count();
    let bad = name.chars().any(|c| c.is_control() || matches!(c, ':' | '/' | '|'));
    if chars == 0 || chars > 256 || bad || name.starts_with(' ') || name.ends_with(' ') {
        return Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{name}' at 'scheduledActionName' failed to satisfy constraint: \
             Member must have length between 1 and 256, no ':', '/' or '|', and no leading or trailing spaces"
        )));
    }
    Ok(())
}

/// The schedule of a stored or given action.
fn schedule_of(
    expression: &str,
    timezone: Option<&str>,
    start: Option<i64>,
    end: Option<i64>,
    rate_start: i64,
) -> Result<Schedule> {
    let expression = ScheduleExpression::parse(expression)
        .map_err(|e| ScalingError::validation(format!("Invalid Schedule: {e}")))?;
    let zone = match timezone {
        Some(z) => TimeZone::named(z).map_err(|e| ScalingError::validation(format!("Invalid Timezone: {e}")))?,
        None => TimeZone::utc(),
    };
    Ok(Schedule::new(expression, zone, start.unwrap_or(rate_start)).with_window(start, end))
}

pub(crate) async fn put(svc: &AppAutoScalingService, input: PutInput) -> Result<Empty> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let name = required(input.scheduled_action_name.clone(), "ScheduledActionName")?;
    check_action_name(&name)?;
    let guard = svc.target_lock(&key).await?;
    let result = put_locked(svc, &key, &name, input).await;
    guard.release().await;
    result?;
    svc.wakeup.notify_one();
    Ok(Empty {})
}

async fn put_locked(svc: &AppAutoScalingService, key: &crate::TargetKey, name: &str, input: PutInput) -> Result<()> {
    let existing = svc.store.action(key, name).await?;
    let schedule_text = match (&input.schedule, &existing) {
        (Some(s), _) => s.clone(),
        (None, Some(e)) => e.schedule.clone(),
        (None, None) => return Err(ScalingError::validation("A Schedule is required to create a scheduled action.")),
    };
    let timezone = input.timezone.clone().or_else(|| existing.as_ref().and_then(|e| e.timezone.clone()));
    let start = input.start_time.or(existing.as_ref().and_then(|e| e.start_time));
    let end = input.end_time.or(existing.as_ref().and_then(|e| e.end_time));
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(ScalingError::validation("EndTime must be later than StartTime."));
    }
    let action = input.scalable_target_action.unwrap_or_default();
    let min = action.min_capacity.or(existing.as_ref().and_then(|e| e.min));
    let max = action.max_capacity.or(existing.as_ref().and_then(|e| e.max));
    if min.is_none() && max.is_none() {
        return Err(ScalingError::validation(
            "A scheduled action's ScalableTargetAction must give MinCapacity, MaxCapacity or both.",
        ));
    }
    if let Some(m) = min {
        check_capacity(m, "MinCapacity")?;
    }
    if let Some(m) = max {
        check_capacity(m, "MaxCapacity")?;
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(ScalingError::validation(format!(
            "Minimum capacity ({lo}) cannot be greater than maximum capacity ({hi})."
        )));
    }
    let now = svc.store.now_ms().await?;
    let schedule = schedule_of(&schedule_text, timezone.as_deref(), start, end, now)?;
    let row = ActionRow {
        key: key.clone(),
        name: name.to_string(),
        action_id: existing.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |e| e.action_id.clone()),
        schedule: schedule_text,
        timezone,
        start_time: start,
        end_time: end,
        min,
        max,
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        last_fired: now,
        next_fire: schedule.next_after(now),
    };
    svc.store.put_action(&row, MAX_ACTIONS).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    scheduled_action_names: Option<Vec<String>>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActionOut {
    scheduled_action_name: String,
    #[serde(rename = "ScheduledActionARN")]
    scheduled_action_arn: String,
    service_namespace: String,
    schedule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    resource_id: String,
    scalable_dimension: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<f64>,
    scalable_target_action: TargetActionWire,
    creation_time: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    scheduled_actions: Vec<ActionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe(svc: &AppAutoScalingService, input: DescribeInput) -> Result<DescribeOutput> {
    let namespace = check_namespace(input.service_namespace.as_deref())?;
    let (resource_id, dimension) = filters(input.resource_id.as_deref(), input.scalable_dimension.as_deref(), true)?;
    let names = input.scheduled_action_names.unwrap_or_default();
    if names.len() > 50 {
        return Err(ScalingError::validation("ScheduledActionNames may name at most 50 actions."));
    }
    let limit = max_results(input.max_results, MAX_PAGE)?;
    let after = decode_token(input.next_token.as_deref(), 3)?;
    let after_ref = after.as_ref().map(|a| (a[0].as_str(), a[1].as_str(), a[2].as_str()));
    let mut rows = svc
        .store
        .actions(&namespace, resource_id.as_deref(), dimension.as_deref(), &names, after_ref, limit + 1)
        .await?;
    let next_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|a| encode_token(&[&a.key.resource_id, &a.key.dimension, &a.name]))
    } else {
        None
    };
    let scheduled_actions = rows
        .into_iter()
        .map(|a| ActionOut {
            scheduled_action_arn: scheduled_action_arn(&svc.account, &a.action_id, &a.key, &a.name),
            scheduled_action_name: a.name,
            service_namespace: a.key.namespace,
            schedule: a.schedule,
            timezone: a.timezone,
            resource_id: a.key.resource_id,
            scalable_dimension: a.key.dimension,
            start_time: a.start_time.map(epoch),
            end_time: a.end_time.map(epoch),
            scalable_target_action: TargetActionWire { min_capacity: a.min, max_capacity: a.max },
            creation_time: epoch(a.created_at),
        })
        .collect();
    Ok(DescribeOutput { scheduled_actions, next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    service_namespace: Option<String>,
    scheduled_action_name: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub(crate) async fn delete(svc: &AppAutoScalingService, input: DeleteInput) -> Result<Empty> {
    let key = target_key(
        input.service_namespace.as_deref(),
        input.resource_id.as_deref(),
        input.scalable_dimension.as_deref(),
    )?;
    let name = required(input.scheduled_action_name, "ScheduledActionName")?;
    if !svc.store.delete_action(&key, &name).await? {
        return Err(ScalingError::ObjectNotFound(format!(
            "No scheduled action found for {}, scheduled action name: {name}",
            key.describe()
        )));
    }
    Ok(Empty {})
}

/// The `app-autoscaling-scheduled` controller.
pub(crate) struct ScheduledController {
    pub service: AppAutoScalingService,
}

#[async_trait::async_trait]
impl Controller for ScheduledController {
    fn name(&self) -> &'static str {
        "app-autoscaling-scheduled"
    }

    fn interval(&self) -> Duration {
        INTERVAL
    }

    async fn reconcile(&self) -> std::result::Result<(), PassError> {
        self.service.fire_due_actions().await?;
        Ok(())
    }

    fn wakeup(&self) -> Option<Arc<Notify>> {
        Some(self.service.wakeup.clone())
    }
}

impl AppAutoScalingService {
    /// One pass: every action due now fires (once, however many periods it missed)
    /// and is given its next fire time. How many fired.
    pub async fn fire_due_actions(&self) -> Result<usize> {
        let now = self.store.now_ms().await?;
        self.fire_due_actions_at(now).await
    }

    /// The same pass as of `now` (epoch milliseconds).
    pub async fn fire_due_actions_at(&self, now: i64) -> Result<usize> {
        let mut fired = 0;
        loop {
            let due = self.store.due_actions(now, DUE_PAGE).await?;
            for a in &due {
                let (last, next) = match schedule_of(
                    &a.schedule,
                    a.timezone.as_deref(),
                    a.start_time,
                    a.end_time,
                    a.created_at,
                ) {
                    Ok(schedule) => {
                        let catch_up = schedule.catch_up(a.last_fired, now);
                        if catch_up.due.is_some() {
                            fired += 1;
                            if let Err(e) = self.apply_action(a).await {
                                tracing::warn!(action = %a.name, resource = %a.key.resource_id, error = %e,
                                    "applying a scheduled action failed");
                            }
                        }
                        (catch_up.due.unwrap_or(a.last_fired).max(a.last_fired), catch_up.next)
                    }
                    Err(e) => {
                        tracing::warn!(action = %a.name, error = %e, "a stored schedule cannot be read; it fires no more");
                        (a.last_fired, None)
                    }
                };
                self.store.action_fired(&a.key, &a.name, a.next_fire, last, next).await?;
            }
            if (due.len() as i64) < DUE_PAGE {
                break;
            }
        }
        Ok(fired)
    }

    /// Applies action `a` to its target: new bounds, and the desired count brought
    /// into them; each recorded as an activity.
    async fn apply_action(&self, a: &ActionRow) -> Result<()> {
        let guard = self.target_lock(&a.key).await?;
        let result = self.apply_action_locked(a).await;
        guard.release().await;
        result
    }

    async fn apply_action_locked(&self, a: &ActionRow) -> Result<()> {
        let Some(target) = self.store.target(&a.key).await? else { return Ok(()) };
        if target.suspended.scheduled {
            tracing::info!(action = %a.name, resource = %a.key.resource_id, "scheduled scaling is suspended; not applied");
            return Ok(());
        }
        let (cluster, service) = a.key.service();
        let now = self.store.now_ms().await?;
        let current = match self.capacity.desired(&cluster, &service).await {
            Ok(Some(n)) => n,
            Ok(None) => {
                let why = format!("ECS service doesn't exist: {}", a.key.resource_id);
                let (min, max) = (a.min.unwrap_or(target.bounds.min), a.max.unwrap_or(target.bounds.max));
                return self.store.add_activities(&[bounds_activity(&a.key, min, max, &a.name, now, Some(&why))]).await;
            }
            Err(e) => return Err(ScalingError::FailedResourceAccess(e)),
        };
        let change = match decide::scheduled(a.min, a.max, target.bounds, current) {
            Ok(c) => c,
            Err(why) => {
                let (min, max) = (a.min.unwrap_or(target.bounds.min), a.max.unwrap_or(target.bounds.max));
                return self.store.add_activities(&[bounds_activity(&a.key, min, max, &a.name, now, Some(&why))]).await;
            }
        };
        if !self.store.set_bounds(&a.key, change.bounds).await? {
            return Ok(());
        }
        let bounds = bounds_activity(&a.key, change.bounds.min, change.bounds.max, &a.name, now, None);
        let Some((to, cause)) = change.desired else {
            return self.store.add_activities(&[bounds]).await;
        };
        match self.capacity.set_desired(&cluster, &service, to).await {
            Ok(_) => {
                let mark = if to > current {
                    ScalingMark::Out { at: now, from: current }
                } else {
                    ScalingMark::In { at: now }
                };
                let end = self.store.now_ms().await?;
                self.store
                    .record_scaling(&a.key, Some(mark), &[bounds, desired_count_activity(&a.key, to, &cause, now, end)])
                    .await
            }
            Err(e) => {
                self.store.add_activities(&[bounds, failed_desired_count_activity(&a.key, to, &cause, now, &e)]).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_follow_aws_pattern() {
        for ok in ["scale-up", "Nightly scale down", "a.b_c"] {
            assert!(check_action_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", " lead", "trail ", "a:b", "a/b", "a|b", "tab\there"] {
            assert!(check_action_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn schedules_read_at_rate_and_cron_in_their_zone() {
        let at = schedule_of("at(2030-01-01T00:00:00)", Some("Europe/Paris"), None, None, 0).unwrap();
        assert_eq!(at.next_after(0), Some(1_893_452_400_000), "midnight in Paris is 23:00 UTC");
        let rate = schedule_of("rate(5 minutes)", None, Some(1_000_000), None, 0).unwrap();
        assert_eq!(rate.next_after(1_000_000), Some(1_300_000));
        assert!(schedule_of("cron(0 8 * * ? *)", Some("UTC"), None, None, 0).is_ok());
        assert!(matches!(schedule_of("every day", None, None, None, 0), Err(ScalingError::Validation(_))));
        assert!(matches!(
            schedule_of("rate(1 hour)", Some("Mars/Olympus"), None, None, 0),
            Err(ScalingError::Validation(_))
        ));
    }
}
