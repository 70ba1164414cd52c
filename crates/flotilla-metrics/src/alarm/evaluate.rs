//! An alarm's evaluation, pure: the rule, its current state and the statistic of
//! each period of its *evaluation range* in, the state it should be in (with AWS's
//! reason text and reason data) out.
//!
//! As CloudWatch documents ("Configuring how CloudWatch alarms treat missing data"):
//! the range holds `EvaluationPeriods` (N) periods and [`EXTRA_PERIODS`] more before
//! them. With at least N periods of data, the N most recent are evaluated and the
//! missing-data setting is not used; with none, `missing` gives INSUFFICIENT_DATA,
//! `ignore` keeps the state, `breaching` ALARM and `notBreaching` OK; with fewer than
//! N, every real datapoint is evaluated and the rest are filled in as the setting
//! says (`missing` and `ignore` fill nothing). M (`DatapointsToAlarm`) breaching
//! datapoints make ALARM. The "premature alarm" rule also makes ALARM, under
//! `missing`, when no evaluated datapoint is fine and the oldest breaching one of
//! the last N periods is at least M periods old with only missing periods after it;
//! under `ignore` the state is then kept. Both of AWS's worked tables are this
//! module's tests.
//!
//! A percentile alarm with `EvaluateLowSampleCountPercentile: ignore` keeps its state
//! while an evaluated period has fewer samples than the percentile needs to mean
//! something (10/(1-p) for p ≥ 0.5, 10/p below).

use super::text::{data_time, datapoints, java_double, reason_time, was};
use super::{Comparison, StateValue, TreatMissing};
use serde::Serialize;

/// Periods read before the N evaluated ones, for when some of those are missing
/// (AWS publishes no formula; its worked example reads 5 periods for N = 3).
pub const EXTRA_PERIODS: usize = 2;

/// What an alarm compares, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub comparison: Comparison,
    pub threshold: f64,
    /// N.
    pub evaluation_periods: usize,
    /// M (N when not given).
    pub datapoints_to_alarm: usize,
    pub treat_missing: TreatMissing,
    pub period_seconds: i64,
    /// `Average`, … or `p90`: named in the reason data.
    pub stat: String,
    pub unit: Option<String>,
    /// The percentile, when low sample counts are to be ignored.
    pub low_sample_ignore: Option<f64>,
}

impl Rule {
    /// The periods of the evaluation range: N and [`EXTRA_PERIODS`].
    pub fn range_periods(&self) -> usize {
        self.evaluation_periods + EXTRA_PERIODS
    }
}

/// One period of the evaluation range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub start_ms: i64,
    /// The statistic of the period; `None` when it has no data.
    pub value: Option<f64>,
    pub samples: f64,
}

impl Point {
    pub fn missing(start_ms: i64) -> Self {
        Point { start_ms, value: None, samples: 0.0 }
    }

    pub fn value(start_ms: i64, value: f64) -> Self {
        Point { start_ms, value: Some(value), samples: 1.0 }
    }
}

/// The state an alarm should be in. When `state` is the current state the alarm
/// does not change (the reason is then not recorded).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: StateValue,
    pub reason: String,
    /// JSON, as `StateReasonData`.
    pub reason_data: String,
    /// The newest value in the range.
    pub latest_value: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Breaching,
    Fine,
    Missing,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluatedDatapoint {
    timestamp: String,
    sample_count: f64,
    value: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReasonData<'a> {
    version: &'static str,
    query_date: String,
    start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    period: i64,
    recent_datapoints: Vec<f64>,
    threshold: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    evaluated_datapoints: Vec<EvaluatedDatapoint>,
}

/// Samples a percentile needs to be evaluated when low counts are ignored.
fn low_sample_minimum(p: f64) -> f64 {
    let fraction = p / 100.0;
    if fraction <= 0.0 || fraction >= 1.0 {
        0.0
    } else if fraction >= 0.5 {
        10.0 / (1.0 - fraction)
    } else {
        10.0 / fraction
    }
}

/// The premature-alarm rule: no evaluated datapoint is fine, and the oldest
/// breaching period of the last N is at least M periods old (1 = the newest).
fn premature(classes: &[Class], evaluated: &[usize], n: usize, m: usize) -> bool {
    if evaluated.iter().any(|&i| classes[i] == Class::Fine) {
        return false;
    }
    let window = &classes[classes.len().saturating_sub(n)..];
    match window.iter().position(|c| *c == Class::Breaching) {
        Some(oldest) => window.len() - oldest >= m,
        None => false,
    }
}

/// Evaluates `rule` (the alarm now in `current`) over `range`, the periods of its
/// evaluation range oldest first (the newest is the last whole period), at `now_ms`.
pub fn evaluate(rule: &Rule, current: StateValue, range: &[Point], now_ms: i64) -> Evaluation {
    let n = rule.evaluation_periods.max(1);
    let m = rule.datapoints_to_alarm.clamp(1, n);
    let classes: Vec<Class> = range
        .iter()
        .map(|p| match p.value {
            Some(v) if v.is_finite() => {
                if rule.comparison.breaches(v, rule.threshold) {
                    Class::Breaching
                } else {
                    Class::Fine
                }
            }
            _ => Class::Missing,
        })
        .collect();
    let real: Vec<usize> = (0..range.len()).filter(|&i| classes[i] != Class::Missing).collect();
    let latest_value = real.last().and_then(|&i| range[i].value);
    // The datapoints evaluated (oldest first), and how many are filled in.
    let (evaluated, fills) = if real.len() >= n { (&real[real.len() - n..], 0) } else { (&real[..], n - real.len()) };
    let breaching = evaluated.iter().filter(|&&i| classes[i] == Class::Breaching).count();

    let keep = |why: &str| Evaluation {
        state: current,
        reason: why.to_string(),
        reason_data: reason_data(rule, range, evaluated, n, now_ms),
        latest_value,
    };
    if let Some(p) = rule.low_sample_ignore {
        let minimum = low_sample_minimum(p);
        if evaluated.iter().any(|&i| range[i].samples < minimum) {
            return keep("Unchanged: too few samples for the percentile to be evaluated.");
        }
    }

    use StateValue::*;
    let (state, filled_as) = if fills == 0 {
        (if breaching >= m { Alarm } else { Ok }, None)
    } else {
        match rule.treat_missing {
            TreatMissing::Breaching => (if breaching + fills >= m { Alarm } else { Ok }, Some(true)),
            TreatMissing::NotBreaching => (if breaching >= m { Alarm } else { Ok }, Some(false)),
            TreatMissing::Missing if evaluated.is_empty() => (InsufficientData, None),
            TreatMissing::Missing => {
                (if breaching >= m || premature(&classes, evaluated, n, m) { Alarm } else { Ok }, None)
            }
            TreatMissing::Ignore if evaluated.is_empty() => return keep("Unchanged: missing data is ignored."),
            TreatMissing::Ignore if breaching >= m => (Alarm, None),
            TreatMissing::Ignore if premature(&classes, evaluated, n, m) => {
                return keep("Unchanged: missing data is ignored.");
            }
            TreatMissing::Ignore => (Ok, None),
        }
    };
    let filled = if filled_as.is_some() { fills } else { 0 };
    let reason = match state {
        InsufficientData => format!("Insufficient Data: {} {} unknown.", datapoints(n), was(n)),
        Alarm => crossed(rule, range, evaluated, &classes, Class::Breaching, filled_as.filter(|b| *b).map(|_| filled))
            .with_minimum(current, Alarm, m),
        Ok => {
            let c = crossed(rule, range, evaluated, &classes, Class::Fine, filled_as.filter(|b| !*b).map(|_| filled));
            // Named by its breaching datapoints: say how many ALARM needed.
            if c.switched { c.with_minimum(current, Alarm, m) } else { c.with_minimum(current, Ok, n - m + 1) }
        }
    };
    Evaluation { state, reason, reason_data: reason_data(rule, range, evaluated, n, now_ms), latest_value }
}

/// A `Threshold Crossed:` reason being written.
struct Crossed {
    text: String,
    /// Whether real datapoints are named (the minimum is then said).
    names_datapoints: bool,
    /// A one-period alarm on one datapoint says no minimum either.
    single: bool,
    /// Named by the datapoints of the other kind (too few to change the state their way).
    switched: bool,
}

impl Crossed {
    fn with_minimum(self, from: StateValue, to: StateValue, minimum: usize) -> String {
        if self.names_datapoints && !self.single {
            format!("{} (minimum {} for {from} -> {to} transition).", self.text, datapoints(minimum))
        } else {
            format!("{}.", self.text)
        }
    }
}

/// `Threshold Crossed: 3 out of the last 3 datapoints [85.0 (30/11/26 10:01:00), …]
/// were greater than the threshold (50.0)`, naming the evaluated datapoints of
/// `class` (or, when there are none, the others), newest first, and the periods
/// filled in as that class.
fn crossed(
    rule: &Rule,
    range: &[Point],
    evaluated: &[usize],
    classes: &[Class],
    class: Class,
    filled: Option<usize>,
) -> Crossed {
    let op = rule.comparison.words();
    let threshold = java_double(rule.threshold);
    let total = evaluated.len() + filled.unwrap_or(0);
    let mut named: Vec<usize> = evaluated.iter().copied().filter(|&i| classes[i] == class).collect();
    let mut negated = class == Class::Fine;
    let switched = named.is_empty() && filled.is_none() && !evaluated.is_empty();
    if switched {
        // Only datapoints of the other kind, too few to change the state their way.
        named = evaluated.to_vec();
        negated = !negated;
    }
    let list = named
        .iter()
        .rev()
        .filter_map(|&i| range[i].value.map(|v| format!("{} ({})", java_double(v), reason_time(range[i].start_ms))))
        .collect::<Vec<_>>()
        .join(", ");
    let not = if negated { "not " } else { "" };
    let single = total == 1 && named.len() == 1 && filled.is_none() && !switched;
    let mut text = String::from("Threshold Crossed: ");
    if single {
        text.push_str(&format!("1 datapoint [{list}] was {not}{op} the threshold ({threshold})"));
    } else if !named.is_empty() {
        text.push_str(&format!(
            "{} out of the last {total} datapoints [{list}] {} {not}{op} the threshold ({threshold})",
            named.len(),
            was(named.len())
        ));
    }
    if let Some(filled) = filled.filter(|f| *f > 0) {
        let periods = if filled == 1 { "1 period".to_string() } else { format!("{filled} periods") };
        if named.is_empty() {
            text.push_str(&format!("no datapoints were received for {periods} and "));
        } else {
            text.push_str(" and ");
        }
        let as_what = if class == Class::Breaching { "Breaching" } else { "NonBreaching" };
        text.push_str(&format!("{filled} missing {} {} treated as [{as_what}]", datapoint_word(filled), was(filled)));
    }
    Crossed { text, names_datapoints: !named.is_empty(), single, switched }
}

fn datapoint_word(n: usize) -> &'static str {
    if n == 1 { "datapoint" } else { "datapoints" }
}

/// The reason data CloudWatch writes: the query, the statistic, the values
/// evaluated (oldest first) and each with its time (newest first).
fn reason_data(rule: &Rule, range: &[Point], evaluated: &[usize], n: usize, now_ms: i64) -> String {
    let start = evaluated
        .first()
        .map(|&i| range[i].start_ms)
        .or_else(|| range.get(range.len().saturating_sub(n)).map(|p| p.start_ms))
        .unwrap_or(now_ms);
    let percentile = rule.stat.starts_with('p');
    let data = ReasonData {
        version: "1.0",
        query_date: data_time(now_ms),
        start_date: data_time(start),
        statistic: (!percentile).then_some(rule.stat.as_str()),
        extended_statistic: percentile.then_some(rule.stat.as_str()),
        unit: rule.unit.as_deref(),
        period: rule.period_seconds,
        recent_datapoints: evaluated.iter().filter_map(|&i| range[i].value).collect(),
        threshold: rule.threshold,
        evaluated_datapoints: evaluated
            .iter()
            .rev()
            .filter_map(|&i| {
                range[i].value.map(|value| EvaluatedDatapoint {
                    timestamp: data_time(range[i].start_ms),
                    sample_count: range[i].samples,
                    value,
                })
            })
            .collect(),
    };
    serde_json::to_string(&data).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests;
