//! The `cloudwatch-alarms` controller: evaluates alarms against the stored data and
//! runs their actions.
//!
//! Each alarm is due when a period of its has ended since it was last evaluated
//! (plus [`GRACE_MS`] for data published at the period's end), and at once after it
//! is put; a pass reads only the alarms due, each one's statistic per period over
//! its evaluation range (the module's own query code, as GetMetricData reads), asks
//! [`evaluate`] what state it should be in, and writes the changes with their history
//! items in one transaction. Actions are then run for each change, and again once a
//! minute for Auto Scaling actions while the alarm stays in the state, through the
//! [`AlarmActions`] given; each outcome is an `Action` history item. Everything a
//! pass needs is in the store (when each alarm is due, which actions are due), so a
//! restart or another replica taking the lease over carries on where it stopped.

use super::evaluate::Point;
use super::text::{cut, data_time};
use super::{AlarmActions, AlarmStateChange, StateValue, evaluate, is_auto_scaling_action};
use crate::error::{MetricsError, Result};
use crate::model::{Stat, dims_key};
use crate::series::{self, Budget, period_start};
use crate::store::{ActionsDone, AlarmRow, Evaluated, MetricStore, Series, Transition};
use flotilla_controller::{Controller, PassError};
use flotilla_core::AccountContext;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// How often the controller looks for alarms due (it is also woken when an alarm is
/// put or its state set).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long one action may take before it is recorded as failed.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a period ends it is evaluated, for data published at its end.
pub const GRACE_MS: i64 = 2_000;
/// How often Auto Scaling actions run again while the alarm stays in their state.
pub const REPEAT_MS: i64 = 60_000;
/// Alarms read per batch.
const PAGE: i64 = 500;

/// The actions handler, replaceable after the service is built.
#[derive(Clone)]
pub(crate) struct ActionsSlot(Arc<RwLock<Arc<dyn AlarmActions>>>);

impl ActionsSlot {
    pub fn new(actions: Arc<dyn AlarmActions>) -> Self {
        Self(Arc::new(RwLock::new(actions)))
    }

    pub fn get(&self) -> Arc<dyn AlarmActions> {
        match self.0.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, actions: Arc<dyn AlarmActions>) {
        match self.0.write() {
            Ok(mut a) => *a = actions,
            Err(poisoned) => *poisoned.into_inner() = actions,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub evaluated: usize,
    pub transitions: usize,
    pub actions: usize,
}

pub(crate) struct AlarmController {
    pub store: MetricStore,
    pub account: AccountContext,
    pub actions: ActionsSlot,
    pub wakeup: Arc<Notify>,
    pub interval: Duration,
}

#[async_trait::async_trait]
impl Controller for AlarmController {
    fn name(&self) -> &'static str {
        "cloudwatch-alarms"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn reconcile(&self) -> std::result::Result<(), PassError> {
        self.pass().await?;
        Ok(())
    }

    fn wakeup(&self) -> Option<Arc<Notify>> {
        Some(self.wakeup.clone())
    }
}

/// What an action is told, for alarm `alarm` in `state` (entered from `from`).
struct ActionsDue {
    state: StateValue,
    from: StateValue,
    repeated: bool,
    version: i64,
    reason: String,
    reason_data: Option<String>,
    changed_at: i64,
    latest_value: Option<f64>,
}

impl AlarmController {
    /// One pass over the alarms due now.
    pub async fn pass(&self) -> Result<PassStats> {
        let now = self.store.now_ms().await?;
        let mut stats = PassStats::default();
        let mut after = String::new();
        loop {
            let due = self.store.due_alarms(now, &after, PAGE).await?;
            let Some(last) = due.last() else { break };
            after = last.name.clone();
            // Actions already due (a change through the API, an Auto Scaling repeat, a
            // change whose actions a previous holder did not get to run) go first, so a
            // new evaluation cannot supersede them.
            let mut done = Vec::new();
            for alarm in &due {
                let Some((state, at, repeated)) = alarm.actions_due else { continue };
                if at > now || state != alarm.state {
                    continue;
                }
                let pending = ActionsDue {
                    state,
                    from: alarm.previous_state.unwrap_or(alarm.state),
                    repeated,
                    version: alarm.version,
                    reason: alarm.state_reason.clone(),
                    reason_data: alarm.state_reason_data.clone(),
                    changed_at: alarm.state_transitioned_ms,
                    latest_value: alarm.last_value,
                };
                done.push(self.run_actions(alarm, &pending, now).await);
            }
            let mut evaluated = Vec::new();
            for alarm in due.iter().filter(|a| a.evaluate_at <= now) {
                match self.evaluate_one(alarm, now).await {
                    Ok(e) => evaluated.push((alarm, e)),
                    Err(e) => {
                        // Tried again when its next period ends, not on every pass.
                        tracing::warn!(alarm = %alarm.name, error = %e, "evaluating an alarm failed");
                        let period_ms = period_ms_of(alarm);
                        evaluated.push((
                            alarm,
                            Evaluated {
                                name: alarm.name.clone(),
                                version: alarm.version,
                                evaluate_at: period_start(now, period_ms) + period_ms + GRACE_MS,
                                last_value: alarm.last_value,
                                transition: None,
                            },
                        ));
                    }
                }
            }
            let items: Vec<Evaluated> = evaluated.iter().map(|(_, e)| e.clone()).collect();
            // An alarm changed through the API meanwhile is not written: the next pass sees it.
            let written = self.store.record_evaluations(&items).await?;
            stats.evaluated += items.len();
            for ((alarm, e), written) in evaluated.iter().zip(written) {
                let Some(t) = e.transition.as_ref().filter(|_| written) else { continue };
                stats.transitions += 1;
                tracing::info!(alarm = %alarm.name, from = %t.from, to = %t.to, "alarm state changed");
                if !alarm.actions_enabled || alarm.config.actions(t.to).is_empty() {
                    continue;
                }
                let due = ActionsDue {
                    state: t.to,
                    from: t.from,
                    repeated: false,
                    version: alarm.version + 1,
                    reason: t.reason.clone(),
                    reason_data: t.reason_data.clone(),
                    changed_at: t.at,
                    latest_value: e.last_value,
                };
                done.push(self.run_actions(alarm, &due, now).await);
            }
            // Recorded together; if that fails, the next pass runs them again.
            stats.actions += done.iter().map(|d| d.items.len()).sum::<usize>();
            if let Err(e) = self.store.finish_actions(&done).await {
                tracing::warn!(error = %e, "recording alarm actions failed; they run again next pass");
            }
            if (due.len() as i64) < PAGE {
                break;
            }
        }
        Ok(stats)
    }

    /// Reads `alarm`'s evaluation range and evaluates it at `now`.
    async fn evaluate_one(&self, alarm: &AlarmRow, now: i64) -> Result<Evaluated> {
        let rule = alarm.config.rule();
        let metric = &alarm.config.metric;
        let period_ms = period_ms_of(alarm);
        let stat =
            Stat::parse(&metric.stat).ok_or_else(|| MetricsError::corrupt("an alarm's statistic", &metric.stat))?;
        let end = period_start(now, period_ms);
        let periods = rule.range_periods() as i64;
        let start = end - periods * period_ms;
        let dims = dims_key(&metric.dimensions);
        let series = Series {
            namespace: &metric.namespace,
            metric_name: &metric.metric_name,
            dims: &dims,
            start_ms: start,
            end_ms: end,
            unit: metric.unit.as_deref(),
        };
        let percentile = matches!(stat, Stat::Percentile(_));
        let buckets = series::read(&self.store, &series, period_ms, false, percentile, &mut Budget::new()).await?;
        let mut range: Vec<Point> = (0..periods).map(|i| Point::missing(start + i * period_ms)).collect();
        for b in buckets {
            let i = (b.start_ms - start) / period_ms;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| range.get_mut(i)) {
                *slot = Point { start_ms: b.start_ms, value: b.stat(stat), samples: b.samples };
            }
        }
        let e = evaluate(&rule, alarm.state, &range, now);
        let transition = (e.state != alarm.state).then(|| Transition {
            from: alarm.state,
            from_reason: alarm.state_reason.clone(),
            to: e.state,
            reason: e.reason,
            reason_data: Some(e.reason_data),
            at: now,
        });
        Ok(Evaluated {
            name: alarm.name.clone(),
            version: alarm.version,
            evaluate_at: end + period_ms + GRACE_MS,
            last_value: e.latest_value,
            transition,
        })
    }

    /// Runs the actions due of `alarm`; what to record of how each went.
    async fn run_actions(&self, alarm: &AlarmRow, due: &ActionsDue, now: i64) -> ActionsDone {
        let config = &alarm.config;
        let all = config.actions(due.state);
        let arns: Vec<&String> = all.iter().filter(|a| !due.repeated || is_auto_scaling_action(a)).collect();
        let change = AlarmStateChange {
            alarm_name: alarm.name.clone(),
            alarm_arn: self.account.arn("cloudwatch", &format!("alarm:{}", alarm.name)).to_string(),
            region: self.account.region.clone(),
            account_id: self.account.account_id.clone(),
            old_state: due.from,
            new_state: due.state,
            reason: due.reason.clone(),
            reason_data: due.reason_data.clone(),
            changed_at_ms: due.changed_at,
            repeated: due.repeated,
            metric: config.metric.clone(),
            threshold: config.threshold,
            comparison: config.comparison_operator,
            latest_value: due.latest_value,
        };
        let handler = self.actions.get();
        let mut items = Vec::with_capacity(arns.len());
        for arn in &arns {
            let outcome = match tokio::time::timeout(ACTION_TIMEOUT, handler.invoke(arn, &change)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("the action did not finish within {} seconds", ACTION_TIMEOUT.as_secs())),
            };
            if let Err(e) = &outcome {
                tracing::warn!(alarm = %alarm.name, action = %arn, error = %e, "alarm action failed");
            }
            items.push(action_item(arn, &outcome, due.changed_at));
        }
        let next = all.iter().any(|a| is_auto_scaling_action(a)).then_some(now + REPEAT_MS);
        ActionsDone { name: alarm.name.clone(), version: due.version, items, next }
    }
}

/// An alarm's period in milliseconds.
fn period_ms_of(alarm: &AlarmRow) -> i64 {
    alarm.config.metric.period_seconds.saturating_mul(1000).max(1000)
}

/// An `Action` history item: (summary, data).
fn action_item(arn: &str, outcome: &std::result::Result<(), String>, changed_at: i64) -> (String, String) {
    match outcome {
        Ok(()) => (
            format!("Successfully executed action {arn}"),
            serde_json::json!({"actionState": "Succeeded", "stateUpdateTimestamp": changed_at,
                               "notificationResource": arn})
            .to_string(),
        ),
        Err(e) => (
            cut(&format!("Failed to execute action {arn}. Received error: \"{e}\""), 255),
            serde_json::json!({"actionState": "Failed", "stateUpdateTimestamp": changed_at,
                               "notificationResource": arn, "error": cut(e, 2000),
                               "stateUpdateDate": data_time(changed_at)})
            .to_string(),
        ),
    }
}
