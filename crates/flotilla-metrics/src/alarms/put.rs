//! PutMetricAlarm: the request checked into an alarm's configuration, then stored
//! (created in INSUFFICIENT_DATA, or its configuration replaced with state and tags
//! kept) and evaluated at once. What is supported and refused is in [`super`].

use super::{Empty, TagIn, check_alarm_name, check_tags};
use crate::MetricsService;
use crate::alarm::{AlarmConfig, Comparison, TreatMissing, WatchedMetric};
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionIn, Double, Stat, check_dimensions, check_metric_name, check_namespace, check_unit, dimensions_out,
    percentile, required,
};
use flotilla_core::arn::Arn;
use serde::Deserialize;
use serde_json::{Value, json};

/// Actions one state may have.
const MAX_ACTIONS: usize = 5;
/// Queries a `Metrics` alarm may hold.
const MAX_QUERIES: usize = 10;
const MAX_DESCRIPTION: usize = 1024;
const DAY_SECONDS: i64 = 86_400;
const WEEK_SECONDS: i64 = 7 * DAY_SECONDS;

/// A dimension as an alarm's `Metrics` carry it, in and out.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DimensionInOut {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionInOut>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricStatIn {
    metric: Option<MetricIn>,
    period: Option<i64>,
    stat: Option<String>,
    unit: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueryIn {
    id: Option<String>,
    metric_stat: Option<MetricStatIn>,
    expression: Option<String>,
    label: Option<String>,
    return_data: Option<bool>,
    period: Option<i64>,
    account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutAlarmInput {
    alarm_name: Option<String>,
    alarm_description: Option<String>,
    actions_enabled: Option<bool>,
    #[serde(rename = "OKActions", default)]
    ok_actions: Vec<String>,
    #[serde(default)]
    alarm_actions: Vec<String>,
    #[serde(default)]
    insufficient_data_actions: Vec<String>,
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    dimensions: Option<Vec<DimensionIn>>,
    period: Option<i64>,
    unit: Option<String>,
    evaluation_periods: Option<i64>,
    datapoints_to_alarm: Option<i64>,
    threshold: Option<Double>,
    comparison_operator: Option<String>,
    treat_missing_data: Option<String>,
    evaluate_low_sample_count_percentile: Option<String>,
    metrics: Option<Vec<QueryIn>>,
    #[serde(default)]
    tags: Vec<TagIn>,
    threshold_metric_id: Option<String>,
    evaluation_window: Option<Value>,
    warm_up_configuration: Option<Value>,
    evaluation_criteria: Option<Value>,
    evaluation_interval: Option<i64>,
    action_configuration: Option<Value>,
}

/// An alarm period: 10, 20, 30 or a multiple of 60 seconds.
fn check_alarm_period(period: Option<i64>, param: &str) -> Result<i64> {
    let period = required(period, param)?;
    if !matches!(period, 10 | 20 | 30) && (period < 60 || period % 60 != 0) {
        return Err(MetricsError::invalid(param, period, "valid values are 10, 20, 30 and any multiple of 60"));
    }
    Ok(period)
}

/// A statistic of an alarm: one of the five, or a percentile.
fn check_stat(stat: &str, param: &str) -> Result<()> {
    if Stat::parse(stat).is_none() {
        return Err(MetricsError::invalid(
            param,
            stat,
            "a statistic is SampleCount, Average, Sum, Minimum, Maximum or a percentile pNN.NN \
             (the trimmed and winsorized statistics are not supported here)",
        ));
    }
    Ok(())
}

fn check_actions(actions: &[String], param: &str) -> Result<()> {
    if actions.len() > MAX_ACTIONS {
        return Err(MetricsError::InvalidValue(format!(
            "The collection {param} must not have a size greater than {MAX_ACTIONS}."
        )));
    }
    for (i, a) in actions.iter().enumerate() {
        let at = format!("{param}.member.{}", i + 1);
        if a.is_empty() || a.len() > 1024 || a.parse::<Arn>().is_err() {
            return Err(MetricsError::InvalidValue(format!("Invalid arn syntax: {a} (at {at})")));
        }
    }
    Ok(())
}

fn refuse_unsupported(input: &PutAlarmInput) -> Result<()> {
    let refuse = |what: &str| Err(MetricsError::InvalidValue(what.to_string()));
    if input.evaluation_criteria.is_some() {
        return refuse("The parameter EvaluationCriteria is not supported: this endpoint serves no PromQL alarms.");
    }
    if input.evaluation_interval.is_some() {
        return Err(MetricsError::Combination(
            "The parameter EvaluationInterval cannot be specified for alarms configured with MetricName or Metrics."
                .into(),
        ));
    }
    if input.threshold_metric_id.is_some() {
        return refuse("The parameter ThresholdMetricId is not supported: this endpoint serves no anomaly detection.");
    }
    if input.warm_up_configuration.is_some() {
        return refuse("The parameter WarmUpConfiguration is not supported on this endpoint.");
    }
    if let Some(window) = &input.evaluation_window
        && window.get("WallClockWindow").is_some()
    {
        return refuse("The parameter EvaluationWindow.WallClockWindow is not supported: alarms use a sliding window.");
    }
    Ok(())
}

/// The metric a `Metrics` alarm watches: its one query returning data, which must
/// be a `MetricStat`; and the queries as answered back.
fn metrics_alarm(queries: &[QueryIn], account_id: &str) -> Result<(WatchedMetric, Value)> {
    if queries.is_empty() {
        return Err(MetricsError::missing("Metrics"));
    }
    if queries.len() > MAX_QUERIES {
        return Err(MetricsError::InvalidValue(format!(
            "The collection Metrics must not have a size greater than {MAX_QUERIES}."
        )));
    }
    let mut watched = None;
    let mut echo = Vec::with_capacity(queries.len());
    let mut ids = std::collections::HashSet::new();
    for (i, q) in queries.iter().enumerate() {
        let at = format!("Metrics.member.{}", i + 1);
        let id = required(q.id.as_ref(), &format!("{at}.Id"))?;
        let mut chars = id.chars();
        if id.len() > 255
            || !chars.next().is_some_and(|c| c.is_ascii_lowercase())
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(MetricsError::invalid(
                &format!("{at}.Id"),
                id,
                "an id starts with a lowercase letter and holds only letters, digits and underscores",
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(MetricsError::InvalidValue(format!("The value {id} for parameter {at}.Id is not unique.")));
        }
        if q.expression.is_some() {
            return Err(MetricsError::InvalidValue(format!(
                "The parameter {at}.Expression is not supported: alarms here watch one metric (MetricStat), \
                 without metric math."
            )));
        }
        if q.account_id.as_deref().is_some_and(|a| a != account_id) {
            return Err(MetricsError::invalid(
                &format!("{at}.AccountId"),
                q.account_id.as_deref().unwrap_or(""),
                "alarms here watch only this account's metrics",
            ));
        }
        let stat_in = required(q.metric_stat.as_ref(), &format!("{at}.MetricStat"))?;
        let metric = required(stat_in.metric.as_ref(), &format!("{at}.MetricStat.Metric"))?;
        let param = format!("{at}.MetricStat.Metric.Namespace");
        let namespace = required(metric.namespace.clone(), &param)?;
        check_namespace(&namespace, &param)?;
        let param = format!("{at}.MetricStat.Metric.MetricName");
        let metric_name = required(metric.metric_name.clone(), &param)?;
        check_metric_name(&metric_name, &param)?;
        let dims_in: Vec<DimensionIn> =
            metric.dimensions.iter().map(|d| DimensionIn { name: d.name.clone(), value: d.value.clone() }).collect();
        let dimensions = check_dimensions(&dims_in, &format!("{at}.MetricStat.Metric.Dimensions"))?;
        let period = check_alarm_period(stat_in.period, &format!("{at}.MetricStat.Period"))?;
        let param = format!("{at}.MetricStat.Stat");
        let stat = required(stat_in.stat.clone(), &param)?;
        check_stat(&stat, &param)?;
        if let Some(unit) = &stat_in.unit {
            check_unit(unit, &format!("{at}.MetricStat.Unit"))?;
        }
        let returns = q.return_data.unwrap_or(true);
        let mut item = json!({
            "Id": id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric_name,
                           "Dimensions": dimensions_out(dimensions.clone())},
                "Period": period, "Stat": stat,
            },
            "ReturnData": returns,
        });
        if let Some(unit) = &stat_in.unit {
            item["MetricStat"]["Unit"] = json!(unit);
        }
        if let Some(label) = &q.label {
            item["Label"] = json!(label);
        }
        if let Some(p) = q.period {
            item["Period"] = json!(p);
        }
        if let Some(a) = &q.account_id {
            item["AccountId"] = json!(a);
        }
        echo.push(item);
        if returns {
            if watched.is_some() {
                return Err(MetricsError::InvalidValue(
                    "The collection Metrics must have exactly one member with ReturnData set to true.".into(),
                ));
            }
            watched = Some(WatchedMetric {
                namespace,
                metric_name,
                dimensions,
                period_seconds: period,
                stat,
                unit: stat_in.unit.clone(),
            });
        }
    }
    let watched = watched.ok_or_else(|| {
        MetricsError::InvalidValue(
            "The collection Metrics must have exactly one member with ReturnData set to true.".into(),
        )
    })?;
    Ok((watched, Value::Array(echo)))
}

/// The metric a `MetricName` alarm watches.
fn single_metric(input: &PutAlarmInput, metric_name: &str) -> Result<WatchedMetric> {
    check_metric_name(metric_name, "MetricName")?;
    let namespace = required(input.namespace.clone(), "Namespace")?;
    check_namespace(&namespace, "Namespace")?;
    let dimensions = check_dimensions(input.dimensions.as_deref().unwrap_or_default(), "Dimensions")?;
    let stat = match (&input.statistic, &input.extended_statistic) {
        (Some(_), Some(_)) => {
            return Err(MetricsError::Combination(
                "The parameters Statistic and ExtendedStatistic are mutually exclusive: give one.".into(),
            ));
        }
        (None, None) => {
            return Err(MetricsError::Missing(
                "One of the parameters Statistic and ExtendedStatistic must be specified.".into(),
            ));
        }
        (Some(s), None) => {
            if Stat::simple(s).is_none() {
                return Err(MetricsError::invalid(
                    "Statistic",
                    s,
                    "a statistic is SampleCount, Average, Sum, Minimum or Maximum",
                ));
            }
            s.clone()
        }
        (None, Some(e)) => {
            if percentile(e).is_none() {
                return Err(MetricsError::invalid(
                    "ExtendedStatistic",
                    e,
                    "an extended statistic here is a percentile from p0.0 to p100 (the trimmed and winsorized \
                     statistics are not supported)",
                ));
            }
            e.clone()
        }
    };
    let period = check_alarm_period(input.period, "Period")?;
    if let Some(unit) = &input.unit {
        check_unit(unit, "Unit")?;
    }
    Ok(WatchedMetric {
        namespace,
        metric_name: metric_name.to_string(),
        dimensions,
        period_seconds: period,
        stat,
        unit: input.unit.clone(),
    })
}

/// The checked configuration of a PutMetricAlarm request, and its tags.
pub(crate) fn alarm_config(input: &PutAlarmInput, account_id: &str) -> Result<(AlarmConfig, Vec<(String, String)>)> {
    let name = required(input.alarm_name.clone(), "AlarmName")?;
    check_alarm_name(&name, "AlarmName")?;
    if let Some(d) = &input.alarm_description
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(MetricsError::invalid(
            "AlarmDescription",
            "(too long)",
            "a description has at most 1024 characters",
        ));
    }
    refuse_unsupported(input)?;
    check_actions(&input.ok_actions, "OKActions")?;
    check_actions(&input.alarm_actions, "AlarmActions")?;
    check_actions(&input.insufficient_data_actions, "InsufficientDataActions")?;
    let (metric, single, metrics) = match (&input.metric_name, &input.metrics) {
        (Some(_), Some(_)) => {
            return Err(MetricsError::Combination(
                "The parameters MetricName and Metrics are mutually exclusive: give one.".into(),
            ));
        }
        (None, None) => {
            return Err(MetricsError::Missing(
                "One of the parameters MetricName and Metrics must be specified.".into(),
            ));
        }
        (Some(metric_name), None) => (single_metric(input, metric_name)?, true, None),
        (None, Some(queries)) => {
            let given = [
                ("Namespace", input.namespace.is_some()),
                ("Dimensions", input.dimensions.is_some()),
                ("Period", input.period.is_some()),
                ("Unit", input.unit.is_some()),
                ("Statistic", input.statistic.is_some()),
                ("ExtendedStatistic", input.extended_statistic.is_some()),
            ];
            if let Some((param, _)) = given.iter().find(|(_, g)| *g) {
                return Err(MetricsError::Combination(format!(
                    "The parameter {param} cannot be given with Metrics: give it in the Metrics queries."
                )));
            }
            let (metric, echo) = metrics_alarm(queries, account_id)?;
            (metric, false, Some(echo))
        }
    };
    let evaluation_periods = required(input.evaluation_periods, "EvaluationPeriods")?;
    if evaluation_periods < 1 {
        return Err(MetricsError::invalid("EvaluationPeriods", evaluation_periods, "it must be at least 1"));
    }
    let limit = if metric.period_seconds < 3600 { DAY_SECONDS } else { WEEK_SECONDS };
    if metric.period_seconds.saturating_mul(evaluation_periods) > limit {
        return Err(MetricsError::InvalidValue(format!(
            "The evaluation period (Period * EvaluationPeriods = {} seconds) must not exceed {limit} seconds.",
            metric.period_seconds.saturating_mul(evaluation_periods)
        )));
    }
    if let Some(m) = input.datapoints_to_alarm {
        if m < 1 {
            return Err(MetricsError::invalid("DatapointsToAlarm", m, "it must be at least 1"));
        }
        if m > evaluation_periods {
            return Err(MetricsError::InvalidValue(format!(
                "DatapointsToAlarm ({m}) must not be greater than EvaluationPeriods ({evaluation_periods})."
            )));
        }
    }
    let operator = required(input.comparison_operator.as_deref(), "ComparisonOperator")?;
    let comparison = match operator {
        "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
        "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
        "LessThanThreshold" => Comparison::LessThanThreshold,
        "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
        "LessThanLowerOrGreaterThanUpperThreshold" | "LessThanLowerThreshold" | "GreaterThanUpperThreshold" => {
            return Err(MetricsError::invalid(
                "ComparisonOperator",
                operator,
                "this operator is for alarms on anomaly detection models, which this endpoint does not serve",
            ));
        }
        other => {
            return Err(MetricsError::invalid(
                "ComparisonOperator",
                other,
                "valid values are GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold and \
                 LessThanOrEqualToThreshold",
            ));
        }
    };
    let threshold = required(input.threshold, "Threshold")?.0;
    if !threshold.is_finite() {
        return Err(MetricsError::invalid("Threshold", threshold, "the threshold must be a finite number"));
    }
    if let Some(t) = &input.treat_missing_data
        && TreatMissing::parse(t).is_none()
    {
        return Err(MetricsError::invalid(
            "TreatMissingData",
            t,
            "valid values are breaching, notBreaching, ignore and missing",
        ));
    }
    if let Some(e) = &input.evaluate_low_sample_count_percentile
        && e != "evaluate"
        && e != "ignore"
    {
        return Err(MetricsError::invalid(
            "EvaluateLowSampleCountPercentile",
            e,
            "valid values are evaluate and ignore",
        ));
    }
    let tags = check_tags(&input.tags, "Tags")?;
    let config = AlarmConfig {
        alarm_name: name,
        alarm_description: input.alarm_description.clone(),
        ok_actions: input.ok_actions.clone(),
        alarm_actions: input.alarm_actions.clone(),
        insufficient_data_actions: input.insufficient_data_actions.clone(),
        metric,
        single_metric: single,
        metrics,
        evaluation_periods,
        datapoints_to_alarm: input.datapoints_to_alarm,
        threshold,
        comparison_operator: comparison,
        treat_missing_data: input.treat_missing_data.clone(),
        evaluate_low_sample_count_percentile: input.evaluate_low_sample_count_percentile.clone(),
        action_configuration: input.action_configuration.clone(),
    };
    Ok((config, tags))
}

/// PutMetricAlarm: creates the alarm in INSUFFICIENT_DATA (with its tags), or
/// replaces its configuration (state and tags kept); it is evaluated at once.
pub(crate) async fn put(svc: &MetricsService, input: PutAlarmInput) -> Result<Empty> {
    let (config, tags) = alarm_config(&input, &svc.account.account_id)?;
    svc.store.put_alarm(&config, input.actions_enabled.unwrap_or(true), &tags, svc.max_alarms).await?;
    svc.alarm_wakeup.notify_one();
    Ok(Empty {})
}
