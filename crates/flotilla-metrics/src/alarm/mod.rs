//! Metric alarms: what an alarm is, how it is evaluated ([`evaluate`], pure), the
//! `cloudwatch-alarms` controller that evaluates them against stored data and runs
//! their actions ([`controller`]), and the [`AlarmActions`] trait through which the
//! binary's wiring carries actions out (this crate knows no other service).
//!
//! An alarm watches one metric statistic per period (a `MetricName` alarm, or a
//! `Metrics` alarm whose one returned query is a `MetricStat`; no metric math). Its
//! configuration is stored as an [`AlarmConfig`] document; its state beside it.

pub mod controller;
pub mod evaluate;
pub(crate) mod text;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use evaluate::{Evaluation, Point, Rule, evaluate};

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateValue {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl StateValue {
    pub fn as_str(self) -> &'static str {
        match self {
            StateValue::Ok => "OK",
            StateValue::Alarm => "ALARM",
            StateValue::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(s: &str) -> Option<StateValue> {
        Some(match s {
            "OK" => StateValue::Ok,
            "ALARM" => StateValue::Alarm,
            "INSUFFICIENT_DATA" => StateValue::InsufficientData,
            _ => return None,
        })
    }
}

impl std::fmt::Display for StateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a statistic is compared with the threshold (the four static-threshold
/// operators; the anomaly-detection ones are refused when an alarm is put).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// As reason texts say it: `greater than or equal to`.
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }
}

/// `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreatMissing {
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl TreatMissing {
    pub fn parse(s: &str) -> Option<TreatMissing> {
        Some(match s {
            "missing" => TreatMissing::Missing,
            "notBreaching" => TreatMissing::NotBreaching,
            "breaching" => TreatMissing::Breaching,
            "ignore" => TreatMissing::Ignore,
            _ => return None,
        })
    }
}

/// The metric an alarm reads: one statistic per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchedMetric {
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name.
    pub dimensions: Vec<(String, String)>,
    pub period_seconds: i64,
    /// `Average`, … or a percentile `p99.9`.
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// An alarm's configuration as PutMetricAlarm gave it (checked), stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlarmConfig {
    pub alarm_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    #[serde(default)]
    pub ok_actions: Vec<String>,
    #[serde(default)]
    pub alarm_actions: Vec<String>,
    #[serde(default)]
    pub insufficient_data_actions: Vec<String>,
    pub metric: WatchedMetric,
    /// Set for a `MetricName` alarm: `Statistic` or `ExtendedStatistic` is `metric.stat`.
    pub single_metric: bool,
    /// A `Metrics` alarm's queries as given (answered back as they were put).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<serde_json::Value>,
    pub evaluation_periods: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: Comparison,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_configuration: Option<serde_json::Value>,
}

impl AlarmConfig {
    /// The actions of `state`.
    pub fn actions(&self, state: StateValue) -> &[String] {
        match state {
            StateValue::Ok => &self.ok_actions,
            StateValue::Alarm => &self.alarm_actions,
            StateValue::InsufficientData => &self.insufficient_data_actions,
        }
    }

    /// Every action with the state it belongs to.
    pub fn all_actions(&self) -> impl Iterator<Item = (StateValue, &String)> {
        [StateValue::Ok, StateValue::Alarm, StateValue::InsufficientData]
            .into_iter()
            .flat_map(move |s| self.actions(s).iter().map(move |a| (s, a)))
    }

    /// The rule [`evaluate`] applies.
    pub fn rule(&self) -> Rule {
        let percentile = crate::model::percentile(&self.metric.stat);
        Rule {
            comparison: self.comparison_operator,
            threshold: self.threshold,
            evaluation_periods: usize::try_from(self.evaluation_periods).unwrap_or(1).max(1),
            datapoints_to_alarm: self
                .datapoints_to_alarm
                .and_then(|m| usize::try_from(m).ok())
                .unwrap_or_else(|| usize::try_from(self.evaluation_periods).unwrap_or(1))
                .max(1),
            treat_missing: self.treat_missing_data.as_deref().and_then(TreatMissing::parse).unwrap_or_default(),
            period_seconds: self.metric.period_seconds,
            stat: self.metric.stat.clone(),
            unit: self.metric.unit.clone(),
            low_sample_ignore: match (percentile, self.evaluate_low_sample_count_percentile.as_deref()) {
                (Some(p), Some("ignore")) => Some(p),
                _ => None,
            },
        }
    }
}

/// Whether `arn` names an Auto Scaling policy (EC2 or Application Auto Scaling):
/// AWS invokes those once a minute for as long as the alarm stays in the state.
pub fn is_auto_scaling_action(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("autoscaling"), Some(_), Some(_), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    resource.starts_with("scalingPolicy:")
}

/// What an action is told: the alarm, the change of state it is run for, and what
/// the alarm watches (an Auto Scaling step policy needs the value and threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmStateChange {
    pub alarm_name: String,
    /// `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
    pub alarm_arn: String,
    pub region: String,
    pub account_id: String,
    pub old_state: StateValue,
    pub new_state: StateValue,
    pub reason: String,
    /// The state reason data (JSON), when the change has some.
    pub reason_data: Option<String>,
    /// When the alarm entered `new_state` (epoch milliseconds).
    pub changed_at_ms: i64,
    /// `false` on the change itself; `true` when an Auto Scaling action is run again
    /// (once a minute) while the alarm stays in `new_state`.
    pub repeated: bool,
    pub metric: WatchedMetric,
    pub threshold: f64,
    pub comparison: Comparison,
    /// The newest value the alarm evaluated, if any.
    pub latest_value: Option<f64>,
}

/// Carries out alarm actions. The binary gives one to [`crate::MetricsService`]
/// (`with_alarm_actions` or, once the services an action needs exist,
/// `set_alarm_actions`); the default, [`NoAlarmActions`], handles none.
///
/// `invoke` runs one action (an ARN of the alarm's `OKActions`, `AlarmActions` or
/// `InsufficientDataActions`) for a state change and says how it went; the outcome is
/// recorded as an `Action` history item. It should finish within seconds (the
/// controller gives up on it after [`controller::ACTION_TIMEOUT`]) and may be called
/// again for the same change after a restart, so it must tolerate repeats.
#[async_trait]
pub trait AlarmActions: Send + Sync + 'static {
    async fn invoke(&self, action_arn: &str, change: &AlarmStateChange) -> Result<(), String>;
}

/// No action is handled: each is recorded as failed, saying so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAlarmActions;

#[async_trait]
impl AlarmActions for NoAlarmActions {
    async fn invoke(&self, action_arn: &str, _change: &AlarmStateChange) -> Result<(), String> {
        let service = action_arn.split(':').nth(2).unwrap_or("");
        Err(format!("no handler for {service} actions is configured on this endpoint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_scaling_actions_are_recognised_by_their_arn() {
        assert!(is_auto_scaling_action(
            "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1b2c:resource/ecs/service/default/web:policyName/up"
        ));
        assert!(is_auto_scaling_action(
            "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:id:autoScalingGroupName/g:policyName/p"
        ));
        assert!(!is_auto_scaling_action("arn:aws:sns:us-east-1:000000000000:topic"));
        assert!(!is_auto_scaling_action("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x"));
        assert!(!is_auto_scaling_action("scalingPolicy:x"));
    }

    #[test]
    fn comparisons_include_or_exclude_the_threshold() {
        use Comparison::*;
        let cases = [
            (GreaterThanOrEqualToThreshold, [false, true, true]),
            (GreaterThanThreshold, [false, false, true]),
            (LessThanThreshold, [true, false, false]),
            (LessThanOrEqualToThreshold, [true, true, false]),
        ];
        for (op, expected) in cases {
            let got: Vec<bool> = [49.0, 50.0, 51.0].iter().map(|v| op.breaches(*v, 50.0)).collect();
            assert_eq!(got, expected, "{op:?}");
        }
    }
}
