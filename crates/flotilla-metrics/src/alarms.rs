//! The alarm API: PutMetricAlarm ([`put`]), DescribeAlarms and DescribeAlarmsForMetric
//! ([`describe`]), DeleteAlarms, SetAlarmState and Enable/DisableAlarmActions
//! ([`state`]), DescribeAlarmHistory ([`history`]) and tagging by alarm ARN ([`tags`]);
//! here, what they share: the alarm as answered, name and tag rules.
//!
//! Supported: static-threshold alarms on one metric, given as `MetricName` (with
//! `Statistic` or a percentile `ExtendedStatistic` such as `p99.9`) or as `Metrics`
//! holding `MetricStat` queries of which exactly one returns data. Refused with
//! `InvalidParameterValue`: metric math (`Expression`), anomaly detection
//! (`ThresholdMetricId` and its comparison operators), PromQL (`EvaluationCriteria`),
//! wall-clock windows, warm-up periods, the trimmed-mean family of statistics and
//! other accounts' metrics. Alarm periods are 10, 20, 30 or a multiple of 60 seconds.

pub(crate) mod describe;
pub(crate) mod history;
pub(crate) mod put;
pub(crate) mod state;
pub(crate) mod tags;
#[cfg(test)]
mod tests;

use crate::MetricsService;
use crate::alarm::StateValue;
use crate::error::{MetricsError, Result};
use crate::model::{DimensionOut, dimensions_out, required};
use crate::store::AlarmRow;
use flotilla_core::tag::{Tag, validate_tags};
use flotilla_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Alarms one account may have in a region (AWS's long-standing default).
pub const MAX_ALARMS: i64 = 5_000;
const MAX_NAME: usize = 255;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagIn {
    key: Option<String>,
    value: Option<String>,
}

/// A metric alarm as DescribeAlarms answers it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricAlarmOut {
    alarm_name: String,
    alarm_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alarm_description: Option<String>,
    /// Epoch seconds (typed as timestamps for CBOR in the operation table), as the others.
    alarm_configuration_updated_timestamp: f64,
    actions_enabled: bool,
    #[serde(rename = "OKActions")]
    ok_actions: Vec<String>,
    alarm_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
    state_value: &'static str,
    state_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_reason_data: Option<String>,
    state_updated_timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<Vec<DimensionOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    evaluation_periods: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    datapoints_to_alarm: Option<i64>,
    threshold: f64,
    comparison_operator: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    treat_missing_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluate_low_sample_count_percentile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Value>,
    state_transitioned_timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_configuration: Option<Value>,
}

/// The ARN of alarm `name`.
pub(crate) fn alarm_arn(svc: &MetricsService, name: &str) -> String {
    svc.account.arn("cloudwatch", &format!("alarm:{name}")).to_string()
}

pub(crate) fn alarm_out(svc: &MetricsService, row: AlarmRow) -> MetricAlarmOut {
    let c = row.config;
    let single = c.single_metric;
    let percentile = c.metric.stat.starts_with('p');
    MetricAlarmOut {
        alarm_arn: alarm_arn(svc, &row.name),
        alarm_name: row.name,
        alarm_description: c.alarm_description,
        alarm_configuration_updated_timestamp: Timestamp(row.config_updated_ms).as_epoch_seconds(),
        actions_enabled: row.actions_enabled,
        ok_actions: c.ok_actions,
        alarm_actions: c.alarm_actions,
        insufficient_data_actions: c.insufficient_data_actions,
        state_value: row.state.as_str(),
        state_reason: row.state_reason,
        state_reason_data: row.state_reason_data,
        state_updated_timestamp: Timestamp(row.state_updated_ms).as_epoch_seconds(),
        metric_name: single.then(|| c.metric.metric_name.clone()),
        namespace: single.then(|| c.metric.namespace.clone()),
        statistic: (single && !percentile).then(|| c.metric.stat.clone()),
        extended_statistic: (single && percentile).then(|| c.metric.stat.clone()),
        dimensions: single.then(|| dimensions_out(c.metric.dimensions.clone())),
        period: single.then_some(c.metric.period_seconds),
        unit: if single { c.metric.unit.clone() } else { None },
        evaluation_periods: c.evaluation_periods,
        datapoints_to_alarm: c.datapoints_to_alarm,
        threshold: c.threshold,
        comparison_operator: c.comparison_operator.as_str(),
        treat_missing_data: c.treat_missing_data,
        evaluate_low_sample_count_percentile: c.evaluate_low_sample_count_percentile,
        metrics: c.metrics,
        state_transitioned_timestamp: Timestamp(row.state_transitioned_ms).as_epoch_seconds(),
        action_configuration: c.action_configuration,
    }
}

/// An alarm name: 1 to 255 characters, no ASCII control characters.
pub(crate) fn check_alarm_name(name: &str, param: &str) -> Result<()> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME || name.chars().any(|c| c.is_ascii_control()) {
        return Err(MetricsError::invalid(
            param,
            name,
            "an alarm name has 1 to 255 characters and no ASCII control characters",
        ));
    }
    Ok(())
}

/// A list of alarm names (DeleteAlarms, Enable/DisableAlarmActions): 1 to 100.
pub(crate) fn check_alarm_names(names: Option<&Vec<String>>, param: &str) -> Result<Vec<String>> {
    let names = required(names, param)?;
    if names.is_empty() {
        return Err(MetricsError::missing(param));
    }
    if names.len() > 100 {
        return Err(MetricsError::InvalidValue(format!(
            "The collection {param} must not have a size greater than 100."
        )));
    }
    for (i, n) in names.iter().enumerate() {
        check_alarm_name(n, &format!("{param}.member.{}", i + 1))?;
    }
    Ok(names.clone())
}

/// The checked tags of a request (`Tags`), as (key, value).
pub(crate) fn check_tags(tags: &[TagIn], param: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        let at = format!("{param}.member.{}", i + 1);
        let key = required(t.key.clone(), &format!("{at}.Key"))?;
        let value = required(t.value.clone(), &format!("{at}.Value"))?;
        if out.iter().any(|o| o.key == key) {
            return Err(MetricsError::InvalidValue(format!("The tag key {key} appears more than once in {param}.")));
        }
        out.push(Tag { key, value });
    }
    validate_tags(&out).map_err(|e| MetricsError::InvalidValue(e.to_string()))?;
    Ok(out.into_iter().map(|t| (t.key, t.value)).collect())
}

#[derive(Serialize)]
pub(crate) struct Empty {}

/// The state named by `StateValue`.
pub(crate) fn state_param(value: &str, param: &str) -> Result<StateValue> {
    StateValue::parse(value)
        .ok_or_else(|| MetricsError::invalid(param, value, "valid values are OK, ALARM and INSUFFICIENT_DATA"))
}
