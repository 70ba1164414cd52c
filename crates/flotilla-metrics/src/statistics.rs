//! GetMetricStatistics: one metric (its dimensions matched exactly, as CloudWatch
//! treats each dimension set as a metric of its own), one datapoint per period that
//! has data and per unit published, at most 1,440 periods.
//!
//! `Statistics` and `ExtendedStatistics` may be given together (CloudWatch documents
//! one or the other; answering both costs nothing).

use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionIn, Stat, check_dimensions, check_metric_name, check_namespace, check_period, check_unit, dims_key,
    percentile, required,
};
use crate::series::{self, Budget, period_start};
use crate::store::Series;
use flotilla_core::time::{Timestamp, epoch_seconds};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Periods one answer holds at most.
const MAX_DATAPOINTS: i64 = 1440;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    #[serde(default, with = "epoch_seconds::option")]
    start_time: Option<Timestamp>,
    #[serde(default, with = "epoch_seconds::option")]
    end_time: Option<Timestamp>,
    period: Option<i64>,
    #[serde(default)]
    statistics: Vec<String>,
    #[serde(default)]
    extended_statistics: Vec<String>,
    unit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Datapoint {
    #[serde(with = "epoch_seconds")]
    timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<f64>,
    unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistics: Option<BTreeMap<String, f64>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticsOutput {
    label: String,
    datapoints: Vec<Datapoint>,
}

/// The latest time read: the end of year 9999 (times are held within 1970 to it, so
/// period arithmetic never overflows).
const LATEST_MS: i64 = 253_402_300_799_999;

/// The time range of a request: both given, start before end.
pub(crate) fn time_range(start: Option<Timestamp>, end: Option<Timestamp>) -> Result<(i64, i64)> {
    let start = required(start, "StartTime")?.0;
    let end = required(end, "EndTime")?.0;
    if start >= end {
        return Err(MetricsError::InvalidValue(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    Ok((start.clamp(0, LATEST_MS), end.clamp(0, LATEST_MS)))
}

pub(crate) async fn get(svc: &MetricsService, input: StatisticsInput) -> Result<StatisticsOutput> {
    let namespace = required(input.namespace.as_deref(), "Namespace")?;
    check_namespace(namespace, "Namespace")?;
    let metric_name = required(input.metric_name.as_deref(), "MetricName")?;
    check_metric_name(metric_name, "MetricName")?;
    let dims = dims_key(&check_dimensions(&input.dimensions, "Dimensions")?);
    let (start, end) = time_range(input.start_time, input.end_time)?;
    let period_ms = check_period(input.period, "Period")?;
    if input.statistics.is_empty() && input.extended_statistics.is_empty() {
        return Err(MetricsError::Missing(
            "At least one of the parameters Statistics and ExtendedStatistics must be specified.".into(),
        ));
    }
    if input.statistics.len() > 5 {
        return Err(MetricsError::InvalidValue("The collection Statistics must not have more than 5 members.".into()));
    }
    if input.extended_statistics.len() > 10 {
        return Err(MetricsError::InvalidValue(
            "The collection ExtendedStatistics must not have more than 10 members.".into(),
        ));
    }
    let mut wanted = Vec::new();
    for (i, s) in input.statistics.iter().enumerate() {
        let stat = Stat::simple(s).ok_or_else(|| {
            MetricsError::invalid(
                &format!("Statistics.member.{}", i + 1),
                s,
                "a statistic is SampleCount, Average, Sum, Minimum or Maximum",
            )
        })?;
        wanted.push(stat);
    }
    let mut percentiles = Vec::new();
    for (i, s) in input.extended_statistics.iter().enumerate() {
        let p = percentile(s).ok_or_else(|| {
            MetricsError::invalid(
                &format!("ExtendedStatistics.member.{}", i + 1),
                s,
                "an extended statistic is a percentile from p0.0 to p100",
            )
        })?;
        percentiles.push((s.clone(), p));
    }
    if let Some(unit) = &input.unit {
        check_unit(unit, "Unit")?;
    }
    let start = period_start(start, period_ms);
    let requested = (end - start + period_ms - 1) / period_ms;
    if requested > MAX_DATAPOINTS {
        return Err(MetricsError::Combination(format!(
            "You have requested up to {requested} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. \
             You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }

    let series =
        Series { namespace, metric_name, dims: &dims, start_ms: start, end_ms: end, unit: input.unit.as_deref() };
    let buckets =
        series::read(&svc.store, &series, period_ms, true, !percentiles.is_empty(), &mut Budget::new()).await?;
    let datapoints = buckets
        .into_iter()
        .map(|b| {
            let pick = |stat: Stat| if wanted.contains(&stat) { b.stat(stat) } else { None };
            let extended: BTreeMap<String, f64> = percentiles
                .iter()
                .filter_map(|(name, p)| b.stat(Stat::Percentile(*p)).map(|v| (name.clone(), v)))
                .collect();
            Datapoint {
                timestamp: Timestamp(b.start_ms),
                sample_count: pick(Stat::SampleCount),
                average: pick(Stat::Average),
                sum: pick(Stat::Sum),
                minimum: pick(Stat::Minimum),
                maximum: pick(Stat::Maximum),
                unit: b.unit.clone().unwrap_or_else(|| crate::model::NO_UNIT.to_string()),
                extended_statistics: (!extended.is_empty()).then_some(extended),
            }
        })
        .collect();
    Ok(StatisticsOutput { label: metric_name.to_string(), datapoints })
}
