//! Running a policy when an alarm's action names it: read the policy, its target and
//! the service's desired count, ask [`crate::decide`], apply through
//! [`crate::ServiceCapacity`] and record the activity with the target's new cooldown
//! state — all with the target's lock held, so two alarms (or an alarm and a scheduled
//! action) never decide on the same count.

use crate::activities::{desired_count_activity, failed_desired_count_activity, not_scaled_activity};
use crate::decide::{self, Decision, NotScaledCode, Situation};
use crate::model::policy_id_of_arn;
use crate::policies::{STEP_SCALING, StepWire, TARGET_TRACKING, TrackingWire, alarm_side, step_of, tracking_of};
use crate::store::{PolicyRow, ScalingMark, TargetRow};
use crate::{AlarmTrigger, AppAutoScalingService};
use serde_json::json;

/// What running a policy did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The desired count went from `from` to `to`.
    Scaled { from: i64, to: i64 },
    /// A change was wanted but not made (recorded as a not-scaled activity, unless the
    /// run was a repeat).
    NotScaled(NotScaledCode),
    /// Nothing to do: why.
    Nothing(String),
}

/// The value a step policy scales by: the alarm's newest value, or the newest of the
/// `recentDatapoints` its state reason data gives.
fn trigger_value(trigger: &AlarmTrigger) -> Option<f64> {
    trigger.latest_value.filter(|v| v.is_finite()).or_else(|| {
        let data: serde_json::Value = serde_json::from_str(trigger.reason_data.as_deref()?).ok()?;
        data.get("recentDatapoints")?.as_array()?.iter().rev().find_map(|v| v.as_f64())
    })
}

impl AppAutoScalingService {
    /// Runs the policy `policy_arn` names for an alarm that fired (the binary's alarm
    /// actions handler calls this). `Err` says why it could not run; a decision not to
    /// scale is `Ok`.
    pub async fn on_alarm(&self, policy_arn: &str, trigger: &AlarmTrigger) -> Result<Outcome, String> {
        let id = policy_id_of_arn(&self.account, policy_arn)
            .ok_or_else(|| format!("{policy_arn} is not a scaling policy ARN of this region and account"))?;
        let policy = self
            .store
            .policy_by_id(&id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("No scaling policy found for ARN {policy_arn}"))?;
        let guard = self.target_lock(&policy.key).await.map_err(|e| e.to_string())?;
        // Read again under the lock: a policy deleted or replaced meanwhile is not run as it was.
        let result = match self.store.policy_by_id(&id).await {
            Ok(Some(current)) => self.run_policy(&current, trigger).await,
            Ok(None) => Err(format!("No scaling policy found for ARN {policy_arn}")),
            Err(e) => Err(e.to_string()),
        };
        guard.release().await;
        match &result {
            Ok(Outcome::Scaled { from, to }) => {
                tracing::info!(policy = %policy.name, resource = %policy.key.resource_id,
                alarm = %trigger.alarm_name, from, to, "scaled")
            }
            Ok(Outcome::Nothing(why)) => {
                tracing::debug!(policy = %policy.name, alarm = %trigger.alarm_name, why, "not scaling")
            }
            Ok(Outcome::NotScaled(code)) => tracing::debug!(policy = %policy.name, alarm = %trigger.alarm_name,
                code = code.as_str(), "not scaled"),
            Err(e) => {
                tracing::warn!(policy = %policy.name, alarm = %trigger.alarm_name, error = %e, "running a scaling policy failed")
            }
        }
        result
    }

    async fn run_policy(&self, policy: &PolicyRow, trigger: &AlarmTrigger) -> Result<Outcome, String> {
        let target: TargetRow = self
            .store
            .target(&policy.key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("No scalable target registered for {}", policy.key.describe()))?;
        let (cluster, service) = policy.key.service();
        let current = self
            .capacity
            .desired(&cluster, &service)
            .await?
            .ok_or_else(|| format!("ECS service doesn't exist: {}", policy.key.resource_id))?;
        let now = self.store.now_ms().await.map_err(|e| e.to_string())?;
        let situation =
            Situation { current, bounds: target.bounds, suspended: target.suspended, last: target.last, now_ms: now };
        let decision = match policy.policy_type.as_str() {
            TARGET_TRACKING => {
                let side = alarm_side(&trigger.alarm_name)
                    .filter(|_| policy.alarms.contains(&trigger.alarm_name))
                    .ok_or_else(|| {
                        format!(
                            "alarm {} is not one of target tracking policy {}'s alarms",
                            trigger.alarm_name, policy.name
                        )
                    })?;
                if trigger.state != "ALARM" {
                    return Ok(Outcome::Nothing(format!("alarm {} is in state {}", trigger.alarm_name, trigger.state)));
                }
                let config: TrackingWire = serde_json::from_value(policy.config.clone()).map_err(|e| e.to_string())?;
                decide::target_tracking(&tracking_of(&config), side, trigger.latest_value, &situation)
            }
            STEP_SCALING => {
                let config: StepWire = serde_json::from_value(policy.config.clone()).map_err(|e| e.to_string())?;
                let step = step_of(&config).map_err(|e| e.to_string())?;
                // Without a value (a state set by hand) the breach is taken as nil, on
                // the alarm's side of the threshold.
                let breach = trigger_value(trigger).map_or(0.0, |v| v - trigger.threshold);
                let above = breach > 0.0 || (breach == 0.0 && trigger.breaches_above);
                decide::step_scaling(&step, breach, above, &situation)
            }
            other => return Err(format!("policy {} has an unknown type {other}", policy.name)),
        };
        let cause =
            format!("monitor alarm {} in state {} triggered policy {}", trigger.alarm_name, trigger.state, policy.name);
        match decision {
            Decision::Nothing(why) => Ok(Outcome::Nothing(why)),
            Decision::NotScaled { proposed, code } => {
                if !trigger.repeated {
                    let mut reason = json!({"Code": code.as_str(), "CurrentCapacity": current});
                    match code {
                        NotScaledCode::AlreadyAtMaxCapacity => reason["MaxCapacity"] = json!(target.bounds.max),
                        NotScaledCode::AlreadyAtMinCapacity => reason["MinCapacity"] = json!(target.bounds.min),
                        _ => {}
                    }
                    let activity = not_scaled_activity(&policy.key, proposed, &cause, now, reason);
                    self.store.add_activities(&[activity]).await.map_err(|e| e.to_string())?;
                }
                Ok(Outcome::NotScaled(code))
            }
            Decision::Scale { to } => match self.capacity.set_desired(&cluster, &service, to).await {
                Ok(_) => {
                    let mark = if to > current {
                        ScalingMark::Out { at: now, from: current }
                    } else {
                        ScalingMark::In { at: now }
                    };
                    let end = self.store.now_ms().await.map_err(|e| e.to_string())?;
                    let activity = desired_count_activity(&policy.key, to, &cause, now, end);
                    self.store.record_scaling(&policy.key, Some(mark), &[activity]).await.map_err(|e| e.to_string())?;
                    Ok(Outcome::Scaled { from: current, to })
                }
                Err(e) => {
                    let activity = failed_desired_count_activity(&policy.key, to, &cause, now, &e);
                    self.store.add_activities(&[activity]).await.map_err(|e| e.to_string())?;
                    Err(format!("setting the desired count of {} to {to}: {e}", policy.key.resource_id))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(latest: Option<f64>, data: Option<&str>) -> AlarmTrigger {
        AlarmTrigger {
            alarm_name: "a".into(),
            state: "ALARM".into(),
            latest_value: latest,
            threshold: 10.0,
            breaches_above: true,
            reason_data: data.map(str::to_string),
            repeated: false,
        }
    }

    #[test]
    fn a_value_comes_from_the_alarm_or_its_reason_data() {
        assert_eq!(trigger_value(&trigger(Some(3.0), Some(r#"{"recentDatapoints":[9.0]}"#))), Some(3.0));
        assert_eq!(trigger_value(&trigger(None, Some(r#"{"recentDatapoints":[1.0, 9.5]}"#))), Some(9.5));
        assert_eq!(trigger_value(&trigger(None, Some("{}"))), None);
        assert_eq!(trigger_value(&trigger(None, None)), None);
    }
}
