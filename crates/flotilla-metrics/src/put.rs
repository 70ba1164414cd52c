//! PutMetricData, and the rules of a datum it shares with [`MetricsService::record`].
//!
//! A request holds at most 1000 data (`MetricData` and `EntityMetricData` together; the
//! entities themselves are not kept). Each datum is a `Value`, `Values` with optional
//! `Counts` (at most 150), or a `StatisticValues` set; values are finite and within
//! ±2^360; its timestamp (now by default) is at most two weeks old and two hours ahead,
//! and is cut to the second for high-resolution data (`StorageResolution` 1) or to the
//! minute, as CloudWatch stores each. Namespaces starting `AWS/` are AWS's own: users may
//! not publish to them. Every datum is checked before any is stored.

use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionIn, Double, NO_UNIT, check_dimensions, check_metric_name, check_namespace, check_unit, check_value,
    required,
};
use crate::store::NewPoint;
use flotilla_core::time::{Timestamp, epoch_seconds};
use serde::Deserialize;

/// Data one request holds at most.
pub(crate) const MAX_DATA: usize = 1000;
/// Values (and counts) one datum holds at most.
const MAX_VALUES: usize = 150;
const HOUR_MS: i64 = 3_600_000;
const MAX_AGE_MS: i64 = 14 * 24 * HOUR_MS;
const MAX_AHEAD_MS: i64 = 2 * HOUR_MS;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticSetIn {
    sample_count: Option<Double>,
    sum: Option<Double>,
    minimum: Option<Double>,
    maximum: Option<Double>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DatumIn {
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    #[serde(default, with = "epoch_seconds::option")]
    timestamp: Option<Timestamp>,
    value: Option<Double>,
    statistic_values: Option<StatisticSetIn>,
    values: Option<Vec<Double>>,
    counts: Option<Vec<Double>>,
    unit: Option<String>,
    storage_resolution: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EntityDataIn {
    #[allow(dead_code)]
    entity: Option<serde_json::Value>,
    #[serde(default)]
    metric_data: Vec<DatumIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    namespace: Option<String>,
    #[serde(default)]
    metric_data: Vec<DatumIn>,
    #[serde(default)]
    entity_metric_data: Vec<EntityDataIn>,
    #[allow(dead_code)]
    strict_entity_validation: Option<bool>,
}

/// Refuses a namespace users may not publish to.
fn check_user_namespace(namespace: &str) -> Result<()> {
    if namespace.starts_with("AWS/") {
        return Err(MetricsError::InvalidValue(format!(
            "The value {namespace} for parameter Namespace is invalid: the namespace AWS/ is reserved for AWS services."
        )));
    }
    Ok(())
}

/// The (value, count) pairs of `Values` and `Counts`.
fn value_pairs(values: &[Double], counts: Option<&[Double]>, at: &str) -> Result<Vec<(f64, f64)>> {
    if values.len() > MAX_VALUES {
        return Err(MetricsError::InvalidValue(format!(
            "The collection {at}.Values must not have a size greater than {MAX_VALUES}."
        )));
    }
    if let Some(counts) = counts
        && counts.len() != values.len()
    {
        return Err(MetricsError::InvalidValue(format!(
            "The parameters {at}.Values and {at}.Counts must be of the same size."
        )));
    }
    let mut pairs = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let value = check_value(v.0, &format!("{at}.Values.member.{}", i + 1))?;
        let count = match counts {
            Some(c) => {
                let count = c[i].0;
                if !count.is_finite() || count < 0.0 {
                    return Err(MetricsError::invalid(
                        &format!("{at}.Counts.member.{}", i + 1),
                        count,
                        "a count is a finite number, zero or more",
                    ));
                }
                count
            }
            None => 1.0,
        };
        if count > 0.0 {
            pairs.push((value, count));
        }
    }
    if pairs.is_empty() {
        return Err(MetricsError::invalid(&format!("{at}.Counts"), "0", "the counts must add up to more than zero"));
    }
    Ok(pairs)
}

/// The datum at `at` (e.g. `MetricData.member.3`) as stored, at `now`.
fn point(namespace: &str, datum: &DatumIn, at: &str, now: i64) -> Result<NewPoint> {
    let metric_name = required(datum.metric_name.as_ref(), &format!("{at}.MetricName"))?;
    check_metric_name(metric_name, &format!("{at}.MetricName"))?;
    let dims = check_dimensions(&datum.dimensions, &format!("{at}.Dimensions"))?;
    let unit = datum.unit.clone().unwrap_or_else(|| NO_UNIT.to_string());
    check_unit(&unit, &format!("{at}.Unit"))?;
    let resolution = datum.storage_resolution.unwrap_or(60);
    if resolution != 1 && resolution != 60 {
        return Err(MetricsError::invalid(&format!("{at}.StorageResolution"), resolution, "valid values are 1 and 60"));
    }
    let timestamp = datum.timestamp.map_or(now, |t| t.0);
    if timestamp < now - MAX_AGE_MS {
        return Err(MetricsError::InvalidValue(format!(
            "The parameter {at}.Timestamp must specify a time no more than two weeks in the past."
        )));
    }
    if timestamp > now + MAX_AHEAD_MS {
        return Err(MetricsError::InvalidValue(format!(
            "The parameter {at}.Timestamp must specify a time no more than two hours in the future."
        )));
    }

    let values = datum.values.as_deref().filter(|v| !v.is_empty());
    let given = [datum.value.is_some(), datum.statistic_values.is_some(), values.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(MetricsError::Combination(format!(
            "The parameters {at}.Value, {at}.StatisticValues and {at}.Values are mutually exclusive: give one."
        )));
    }
    if datum.counts.as_ref().is_some_and(|c| !c.is_empty()) && values.is_none() {
        return Err(MetricsError::Combination(format!("The parameter {at}.Counts needs {at}.Values.")));
    }
    let (samples, sum, min, max, pairs) = if let Some(v) = datum.value {
        let v = check_value(v.0, &format!("{at}.Value"))?;
        (1.0, v, v, v, Some(vec![(v, 1.0)]))
    } else if let Some(values) = values {
        let pairs = value_pairs(values, datum.counts.as_deref(), at)?;
        let samples: f64 = pairs.iter().map(|(_, c)| c).sum();
        let sum: f64 = pairs.iter().map(|(v, c)| v * c).sum();
        let min = pairs.iter().map(|(v, _)| *v).fold(f64::INFINITY, f64::min);
        let max = pairs.iter().map(|(v, _)| *v).fold(f64::NEG_INFINITY, f64::max);
        (samples, sum, min, max, Some(pairs))
    } else if let Some(set) = &datum.statistic_values {
        let member = |v: Option<Double>, name: &str| -> Result<f64> {
            let param = format!("{at}.StatisticValues.{name}");
            check_value(required(v, &param)?.0, &param)
        };
        let samples = member(set.sample_count, "SampleCount")?;
        let sum = member(set.sum, "Sum")?;
        let min = member(set.minimum, "Minimum")?;
        let max = member(set.maximum, "Maximum")?;
        if samples <= 0.0 {
            return Err(MetricsError::invalid(
                &format!("{at}.StatisticValues.SampleCount"),
                samples,
                "the sample count must be more than zero",
            ));
        }
        if min > max {
            return Err(MetricsError::InvalidValue(format!(
                "The parameter {at}.StatisticValues.Minimum must not be greater than {at}.StatisticValues.Maximum."
            )));
        }
        // A set of equal values still says its values, so percentiles stay available.
        let pairs = (min == max).then(|| vec![(min, samples)]);
        (samples, sum, min, max, pairs)
    } else {
        return Err(MetricsError::Missing(format!(
            "At least one of the parameters {at}.Value, {at}.StatisticValues or {at}.Values must be specified."
        )));
    };

    let cut = if resolution == 1 { 1_000 } else { 60_000 };
    Ok(NewPoint {
        namespace: namespace.to_string(),
        metric_name: metric_name.clone(),
        dims,
        timestamp_ms: timestamp.div_euclid(cut) * cut,
        unit,
        samples,
        sum,
        min,
        max,
        values: pairs,
    })
}

#[derive(serde::Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn put(svc: &MetricsService, input: PutInput) -> Result<Empty> {
    let namespace = required(input.namespace.as_deref(), "Namespace")?;
    check_namespace(namespace, "Namespace")?;
    check_user_namespace(namespace)?;
    let entity_data = input.entity_metric_data.iter().flat_map(|e| e.metric_data.iter());
    let total = input.metric_data.len() + input.entity_metric_data.iter().map(|e| e.metric_data.len()).sum::<usize>();
    if total == 0 {
        return Err(MetricsError::missing("MetricData"));
    }
    if total > MAX_DATA {
        return Err(MetricsError::InvalidValue(format!(
            "The collection MetricData must not have a size greater than {MAX_DATA}."
        )));
    }
    let now = svc.store.now_ms().await?;
    let mut points = Vec::with_capacity(total);
    for (i, datum) in input.metric_data.iter().enumerate() {
        points.push(point(namespace, datum, &format!("MetricData.member.{}", i + 1), now)?);
    }
    for (i, datum) in entity_data.enumerate() {
        points.push(point(namespace, datum, &format!("EntityMetricData.MetricData.member.{}", i + 1), now)?);
    }
    svc.store.put(&points, now).await?;
    Ok(Empty {})
}

/// A datum of the control plane's own publishers, checked lightly (names, dimensions,
/// a finite value, a known unit; any namespace, any time).
pub(crate) fn recorded_point(d: &crate::Datum) -> Result<NewPoint> {
    check_namespace(&d.namespace, "Namespace")?;
    check_metric_name(&d.metric_name, "MetricName")?;
    let dims: Vec<DimensionIn> = d
        .dimensions
        .iter()
        .map(|(name, value)| DimensionIn { name: Some(name.clone()), value: Some(value.clone()) })
        .collect();
    let dims = check_dimensions(&dims, "Dimensions")?;
    let value = check_value(d.value, "Value")?;
    let unit = if d.unit.is_empty() { NO_UNIT.to_string() } else { d.unit.clone() };
    check_unit(&unit, "Unit")?;
    if d.timestamp_ms < 0 {
        return Err(MetricsError::invalid("Timestamp", d.timestamp_ms, "a time before 1970"));
    }
    Ok(NewPoint {
        namespace: d.namespace.clone(),
        metric_name: d.metric_name.clone(),
        dims,
        timestamp_ms: d.timestamp_ms.div_euclid(60_000) * 60_000,
        unit,
        samples: 1.0,
        sum: value,
        min: value,
        max: value,
        values: Some(vec![(value, 1.0)]),
    })
}
