//! GetMetricData: up to 500 `MetricStat` queries, each a metric (dimensions matched
//! exactly), a period and a statistic (the five, or a percentile `pNN.N`), read over
//! one time range, newest first unless `ScanBy` says `TimestampAscending`.
//!
//! Answers page at `MaxDatapoints` values (100,800 by default) across the queries in
//! their order; the token names the query and the last timestamp returned, so data
//! arriving meanwhile neither repeats nor skips a value. A query cut short says
//! `PartialData`. Metric math and Metrics Insights (`Expression`) are not served: such
//! a query is refused with `InvalidParameterValue`. A query naming another account
//! (`AccountId`) is answered `Forbidden`, as for an account not linked.

use crate::MetricsService;
use crate::error::{MetricsError, Result};
use crate::model::{
    DimensionIn, Stat, check_dimensions, check_metric_name, check_namespace, check_period, check_unit, dims_key,
    required,
};
use crate::series::{self, Budget, period_start};
use crate::statistics::time_range;
use crate::store::Series;
use flotilla_core::paging;
use flotilla_core::time::{Timestamp, epoch_seconds};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const MAX_QUERIES: usize = 500;
const DEFAULT_MAX_DATAPOINTS: usize = 100_800;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ScanBy {
    #[default]
    TimestampDescending,
    TimestampAscending,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricIn {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricStatIn {
    metric: Option<MetricIn>,
    period: Option<i64>,
    stat: Option<String>,
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueryIn {
    id: Option<String>,
    metric_stat: Option<MetricStatIn>,
    expression: Option<String>,
    label: Option<String>,
    return_data: Option<bool>,
    account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataInput {
    #[serde(default)]
    metric_data_queries: Vec<QueryIn>,
    #[serde(default, with = "epoch_seconds::option")]
    start_time: Option<Timestamp>,
    #[serde(default, with = "epoch_seconds::option")]
    end_time: Option<Timestamp>,
    next_token: Option<String>,
    #[serde(default)]
    scan_by: ScanBy,
    max_datapoints: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageOut {
    code: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResultOut {
    id: String,
    label: String,
    /// Epoch seconds (marked as timestamps for CBOR in the operation table).
    timestamps: Vec<f64>,
    values: Vec<f64>,
    status_code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<MessageOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DataOutput {
    metric_data_results: Vec<ResultOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    messages: Vec<MessageOut>,
}

/// A query, checked.
struct Query {
    id: String,
    label: String,
    return_data: bool,
    namespace: String,
    metric_name: String,
    dims: String,
    period_ms: i64,
    stat: Stat,
    unit: Option<String>,
    /// It names another account.
    forbidden: bool,
}

/// Where a page starts: in the `query`th returned query, after `timestamp` (in scan order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resume {
    query: usize,
    timestamp: i64,
}

fn read_token(token: &str) -> Result<Resume> {
    let bad = || MetricsError::InvalidNextToken("The specified NextToken is not valid.".into());
    let text = paging::decode_token(token).map_err(|_| bad())?;
    let (query, timestamp) = text.split_once('/').ok_or_else(bad)?;
    Ok(Resume { query: query.parse().map_err(|_| bad())?, timestamp: timestamp.parse().map_err(|_| bad())? })
}

fn write_token(r: Resume) -> String {
    paging::encode_token(&format!("{}/{}", r.query, r.timestamp))
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_query(q: &QueryIn, at: &str, account_id: &str) -> Result<Query> {
    let id = required(q.id.as_ref(), &format!("{at}.Id"))?;
    if !valid_id(id) {
        return Err(MetricsError::invalid(
            &format!("{at}.Id"),
            id,
            "an id starts with a lowercase letter and holds only letters, digits and underscores",
        ));
    }
    let stat_in = match (&q.metric_stat, &q.expression) {
        (Some(_), Some(_)) => {
            return Err(MetricsError::Combination(format!(
                "The parameters {at}.MetricStat and {at}.Expression are mutually exclusive: give one."
            )));
        }
        (None, Some(_)) => {
            return Err(MetricsError::InvalidValue(format!(
                "The parameter {at}.Expression is not supported: this endpoint serves no metric math or \
                 Metrics Insights queries; ask for each metric with MetricStat."
            )));
        }
        (None, None) => {
            return Err(MetricsError::Missing(format!(
                "One of the parameters {at}.MetricStat and {at}.Expression must be specified."
            )));
        }
        (Some(s), None) => s,
    };
    let metric = required(stat_in.metric.as_ref(), &format!("{at}.MetricStat.Metric"))?;
    let param = format!("{at}.MetricStat.Metric.Namespace");
    let namespace = required(metric.namespace.as_ref(), &param)?;
    check_namespace(namespace, &param)?;
    let param = format!("{at}.MetricStat.Metric.MetricName");
    let metric_name = required(metric.metric_name.as_ref(), &param)?;
    check_metric_name(metric_name, &param)?;
    let dims = dims_key(&check_dimensions(&metric.dimensions, &format!("{at}.MetricStat.Metric.Dimensions"))?);
    let period_ms = check_period(stat_in.period, &format!("{at}.MetricStat.Period"))?;
    let param = format!("{at}.MetricStat.Stat");
    let stat_name = required(stat_in.stat.as_ref(), &param)?;
    let stat = Stat::parse(stat_name).ok_or_else(|| {
        MetricsError::invalid(&param, stat_name, "a statistic is SampleCount, Average, Sum, Minimum, Maximum or pNN.NN")
    })?;
    if let Some(unit) = &stat_in.unit {
        check_unit(unit, &format!("{at}.MetricStat.Unit"))?;
    }
    Ok(Query {
        id: id.clone(),
        label: q.label.clone().unwrap_or_else(|| metric_name.clone()),
        return_data: q.return_data.unwrap_or(true),
        namespace: namespace.clone(),
        metric_name: metric_name.clone(),
        dims,
        period_ms,
        stat,
        unit: stat_in.unit.clone(),
        forbidden: q.account_id.as_deref().is_some_and(|a| a != account_id),
    })
}

pub(crate) async fn get(svc: &MetricsService, input: DataInput) -> Result<DataOutput> {
    if input.metric_data_queries.is_empty() {
        return Err(MetricsError::missing("MetricDataQueries"));
    }
    if input.metric_data_queries.len() > MAX_QUERIES {
        return Err(MetricsError::InvalidValue(format!(
            "The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )));
    }
    let mut ids = HashSet::new();
    let mut queries = Vec::with_capacity(input.metric_data_queries.len());
    for (i, q) in input.metric_data_queries.iter().enumerate() {
        let query = check_query(q, &format!("MetricDataQueries.member.{}", i + 1), &svc.account.account_id)?;
        if !ids.insert(query.id.clone()) {
            return Err(MetricsError::InvalidValue(format!(
                "The value {} for parameter MetricDataQueries.member.{}.Id is not unique.",
                query.id,
                i + 1
            )));
        }
        if query.return_data {
            queries.push(query);
        }
    }
    let (start, end) = time_range(input.start_time, input.end_time)?;
    let max = match input.max_datapoints {
        None => DEFAULT_MAX_DATAPOINTS,
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(DEFAULT_MAX_DATAPOINTS).min(DEFAULT_MAX_DATAPOINTS),
        Some(n) => return Err(MetricsError::invalid("MaxDatapoints", n, "it must be at least 1")),
    };
    let resume = input.next_token.as_deref().map(read_token).transpose()?;
    if resume.is_some_and(|r| r.query >= queries.len()) {
        return Err(MetricsError::InvalidNextToken("The specified NextToken is not valid.".into()));
    }
    let descending = input.scan_by == ScanBy::TimestampDescending;

    let mut budget = Budget::new();
    let mut left = max;
    let mut next_token = None;
    let mut results = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        let mut out = ResultOut {
            id: q.id.clone(),
            label: q.label.clone(),
            timestamps: Vec::new(),
            values: Vec::new(),
            status_code: "Complete",
            messages: Vec::new(),
        };
        if q.forbidden {
            out.status_code = "Forbidden";
            out.messages.push(MessageOut {
                code: "Forbidden".into(),
                value: "This endpoint serves only its own account's metrics.".into(),
            });
            results.push(out);
            continue;
        }
        // Returned on an earlier page.
        if resume.is_some_and(|r| i < r.query) {
            results.push(out);
            continue;
        }
        // Left for a later page.
        if next_token.is_some() {
            out.status_code = "PartialData";
            results.push(out);
            continue;
        }
        // The page is full: the next one starts with this query, from its first value.
        if left == 0 {
            out.status_code = "PartialData";
            let before_all = if descending { i64::MAX } else { i64::MIN };
            next_token = Some(write_token(Resume { query: i, timestamp: before_all }));
            results.push(out);
            continue;
        }
        let series = Series {
            namespace: &q.namespace,
            metric_name: &q.metric_name,
            dims: &q.dims,
            start_ms: period_start(start, q.period_ms),
            end_ms: end,
            unit: q.unit.as_deref(),
        };
        let percentile = matches!(q.stat, Stat::Percentile(_));
        let buckets = series::read(&svc.store, &series, q.period_ms, false, percentile, &mut budget).await?;
        let mut points: Vec<(i64, f64)> =
            buckets.iter().filter_map(|b| b.stat(q.stat).map(|v| (b.start_ms, v))).collect();
        if descending {
            points.reverse();
        }
        if let Some(r) = resume.filter(|r| r.query == i) {
            points.retain(|(t, _)| if descending { *t < r.timestamp } else { *t > r.timestamp });
        }
        if points.len() > left {
            points.truncate(left);
            out.status_code = "PartialData";
            if let Some((last, _)) = points.last() {
                next_token = Some(write_token(Resume { query: i, timestamp: *last }));
            }
        }
        left -= points.len();
        for (t, v) in points {
            out.timestamps.push(Timestamp(t).as_epoch_seconds());
            out.values.push(v);
        }
        results.push(out);
    }
    Ok(DataOutput { metric_data_results: results, next_token, messages: Vec::new() })
}
