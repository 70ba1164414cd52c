//! DescribeAlarms (by names, name prefix, state or action prefix, in name order,
//! `MaxRecords` a page) and DescribeAlarmsForMetric (the single-metric alarms on one
//! metric, its dimensions matched exactly). There are no composite or log alarms:
//! asking for those, or for an alarm's children or parents, finds none.

use super::{MetricAlarmOut, alarm_out, check_alarm_name, state_param};
use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionIn, Stat, check_dimensions, check_metric_name, check_namespace, check_unit, percentile, required,
};
use crate::store::AlarmFilter;
use flotilla_core::paging;
use serde::{Deserialize, Serialize};

const DEFAULT_RECORDS: i64 = 50;
const MAX_RECORDS: i64 = 100;
const ALARM_TYPES: &[&str] = &["CompositeAlarm", "MetricAlarm", "LogAlarm"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    alarm_names: Option<Vec<String>>,
    alarm_name_prefix: Option<String>,
    #[serde(default)]
    alarm_types: Vec<String>,
    children_of_alarm_name: Option<String>,
    parents_of_alarm_name: Option<String>,
    state_value: Option<String>,
    action_prefix: Option<String>,
    max_records: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeOutput {
    metric_alarms: Vec<MetricAlarmOut>,
    composite_alarms: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `MaxRecords`: 1 to 100.
pub(crate) fn max_records(given: Option<i64>, default: i64) -> Result<i64> {
    match given {
        None => Ok(default),
        Some(n) if (1..=MAX_RECORDS).contains(&n) => Ok(n),
        Some(n) => Err(MetricsError::invalid("MaxRecords", n, "it must be between 1 and 100")),
    }
}

/// `AlarmTypes`: whether metric alarms are asked for (they are when none is named).
pub(crate) fn wants_metric_alarms(types: &[String]) -> Result<bool> {
    for (i, t) in types.iter().enumerate() {
        if !ALARM_TYPES.contains(&t.as_str()) {
            return Err(MetricsError::invalid(
                &format!("AlarmTypes.member.{}", i + 1),
                t,
                "valid values are CompositeAlarm, MetricAlarm and LogAlarm",
            ));
        }
    }
    Ok(types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
}

fn bad_token() -> MetricsError {
    MetricsError::InvalidNextToken("The specified NextToken is not valid.".into())
}

pub(crate) async fn describe(svc: &MetricsService, input: DescribeInput) -> Result<DescribeOutput> {
    let limit = max_records(input.max_records, DEFAULT_RECORDS)?;
    let metric = wants_metric_alarms(&input.alarm_types)?;
    let empty = DescribeOutput { metric_alarms: Vec::new(), composite_alarms: Vec::new(), next_token: None };
    if let Some((param, name)) = input
        .children_of_alarm_name
        .as_ref()
        .map(|n| ("ChildrenOfAlarmName", n))
        .or(input.parents_of_alarm_name.as_ref().map(|n| ("ParentsOfAlarmName", n)))
    {
        check_alarm_name(name, param)?;
        let others = input.alarm_names.is_some()
            || input.alarm_name_prefix.is_some()
            || input.state_value.is_some()
            || input.action_prefix.is_some()
            || (input.children_of_alarm_name.is_some() && input.parents_of_alarm_name.is_some());
        if others {
            return Err(MetricsError::Combination(format!(
                "With {param}, only MaxRecords and NextToken may be given."
            )));
        }
        // Only composite alarms have children or parents, and there are none.
        return Ok(empty);
    }
    if input.alarm_names.is_some() && input.alarm_name_prefix.is_some() {
        return Err(MetricsError::Combination(
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive: give one.".into(),
        ));
    }
    if let Some(names) = &input.alarm_names {
        if names.len() > 100 {
            return Err(MetricsError::InvalidValue(
                "The collection AlarmNames must not have a size greater than 100.".into(),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            check_alarm_name(n, &format!("AlarmNames.member.{}", i + 1))?;
        }
    }
    if let Some(prefix) = &input.alarm_name_prefix {
        check_alarm_name(prefix, "AlarmNamePrefix")?;
    }
    if let Some(prefix) = &input.action_prefix
        && (prefix.is_empty() || prefix.len() > 1024)
    {
        return Err(MetricsError::invalid("ActionPrefix", prefix, "it has 1 to 1024 characters"));
    }
    let state = input.state_value.as_deref().map(|s| state_param(s, "StateValue")).transpose()?;
    let after = match &input.next_token {
        Some(t) => Some(paging::decode_token(t).map_err(|_| bad_token())?),
        None => None,
    };
    if !metric {
        return Ok(empty);
    }
    let filter = AlarmFilter {
        names: input.alarm_names.clone(),
        prefix: input.alarm_name_prefix.clone(),
        state,
        action_prefix: input.action_prefix.clone(),
    };
    let rows = svc.store.alarms(&filter, after.as_deref(), limit + 1).await?;
    let (rows, next_token) = paging::finish_page(rows, limit as usize, |r| r.name.clone());
    Ok(DescribeOutput {
        metric_alarms: rows.into_iter().map(|r| alarm_out(svc, r)).collect(),
        composite_alarms: Vec::new(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ForMetricInput {
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    period: Option<i64>,
    unit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ForMetricOutput {
    metric_alarms: Vec<MetricAlarmOut>,
}

pub(crate) async fn for_metric(svc: &MetricsService, input: ForMetricInput) -> Result<ForMetricOutput> {
    let metric_name = required(input.metric_name.as_deref(), "MetricName")?;
    check_metric_name(metric_name, "MetricName")?;
    let namespace = required(input.namespace.as_deref(), "Namespace")?;
    check_namespace(namespace, "Namespace")?;
    let dims = check_dimensions(&input.dimensions, "Dimensions")?;
    if let Some(s) = &input.statistic
        && Stat::simple(s).is_none()
    {
        return Err(MetricsError::invalid(
            "Statistic",
            s,
            "a statistic is SampleCount, Average, Sum, Minimum or Maximum",
        ));
    }
    if let Some(e) = &input.extended_statistic
        && percentile(e).is_none()
    {
        return Err(MetricsError::invalid("ExtendedStatistic", e, "a percentile from p0.0 to p100"));
    }
    if let Some(p) = input.period
        && p < 1
    {
        return Err(MetricsError::invalid("Period", p, "the period must be at least 1 second"));
    }
    if let Some(unit) = &input.unit {
        check_unit(unit, "Unit")?;
    }
    let rows = svc.store.alarms_for_metric(namespace, metric_name, &dims).await?;
    let metric_alarms = rows
        .into_iter()
        .filter(|r| {
            let m = &r.config.metric;
            input.statistic.as_ref().is_none_or(|s| *s == m.stat)
                && input.extended_statistic.as_ref().is_none_or(|s| *s == m.stat)
                && input.period.is_none_or(|p| p == m.period_seconds)
                && input.unit.as_ref().is_none_or(|u| Some(u) == m.unit.as_ref())
        })
        .map(|r| alarm_out(svc, r))
        .collect();
    Ok(ForMetricOutput { metric_alarms })
}
