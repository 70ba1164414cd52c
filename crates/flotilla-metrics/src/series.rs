//! A metric's statistics per period, as GetMetricStatistics and GetMetricData read them.
//!
//! Periods are aligned to the epoch (a period of 300 s starts at :00, :05, …), and a
//! request's start is moved back to the start of its period, so every period read is
//! whole. The five statistics come from the store's sums per period; percentiles from
//! the individual values stored with each datum, by nearest rank (the smallest value
//! with at least p% of the samples at or below it). As CloudWatch documents, a
//! percentile is not available for a period holding a negative value, or a statistic
//! set that does not say its values. One request reads a bounded number of periods
//! and datapoints, so no request can hold the server.

use crate::error::{MetricsError, Result};
use crate::model::Stat;
pub(crate) use crate::store::Bucket;
use crate::store::{MetricStore, Series};
use std::collections::BTreeMap;

/// Periods one request reads at most.
const MAX_BUCKETS: i64 = 200_000;
/// Datapoints one request reads one by one (for percentiles) at most.
const MAX_POINTS: i64 = 500_000;

impl Bucket {
    /// The statistic's value for this period; `None` when it cannot be said.
    pub(crate) fn stat(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::SampleCount => Some(self.samples),
            Stat::Average => (self.samples > 0.0).then(|| self.sum / self.samples),
            Stat::Sum => Some(self.sum),
            Stat::Minimum => Some(self.min),
            Stat::Maximum => Some(self.max),
            Stat::Percentile(p) => percentile_of(self.values.as_deref()?, p),
        }
    }
}

/// What one request may still read.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    buckets: i64,
    points: i64,
}

impl Budget {
    pub fn new() -> Self {
        Self { buckets: MAX_BUCKETS, points: MAX_POINTS }
    }
}

/// The start of the period `t` falls in.
pub(crate) fn period_start(t: i64, period_ms: i64) -> i64 {
    t.div_euclid(period_ms) * period_ms
}

fn over_budget(what: &str, limit: i64) -> MetricsError {
    MetricsError::Combination(format!(
        "The request reads more than {limit} {what}; narrow the time range, raise the period or ask for fewer metrics."
    ))
}

/// The periods of `series` that have data, in time order (then by unit when
/// `by_unit`), with the values for percentiles when `percentiles`.
pub(crate) async fn read(
    store: &MetricStore,
    series: &Series<'_>,
    period_ms: i64,
    by_unit: bool,
    percentiles: bool,
    budget: &mut Budget,
) -> Result<Vec<Bucket>> {
    if !percentiles {
        let rows = store.buckets(series, period_ms, by_unit, budget.buckets + 1).await?;
        budget.buckets -= rows.len() as i64;
        if budget.buckets < 0 {
            return Err(over_budget("periods", MAX_BUCKETS));
        }
        return Ok(rows);
    }
    let points = store.points(series, period_ms, by_unit, budget.points + 1).await?;
    budget.points -= points.len() as i64;
    if budget.points < 0 {
        return Err(over_budget("datapoints", MAX_POINTS));
    }
    let mut buckets: BTreeMap<(i64, Option<String>), Bucket> = BTreeMap::new();
    // Each datapoint is a bucket of its own: merged into the first of its period.
    for p in points {
        match buckets.entry((p.start_ms, p.unit.clone())) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(p);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let bucket = e.get_mut();
                bucket.samples += p.samples;
                bucket.sum += p.sum;
                bucket.min = bucket.min.min(p.min);
                bucket.max = bucket.max.max(p.max);
                match (p.values, bucket.values.as_mut()) {
                    (Some(v), Some(all)) => all.extend(v),
                    _ => bucket.values = None,
                }
            }
        }
    }
    budget.buckets -= buckets.len() as i64;
    if budget.buckets < 0 {
        return Err(over_budget("periods", MAX_BUCKETS));
    }
    Ok(buckets.into_values().collect())
}

/// The `p`th percentile of (value, count) pairs by nearest rank; `None` when there are
/// none or any is negative.
pub(crate) fn percentile_of(values: &[(f64, f64)], p: f64) -> Option<f64> {
    let mut values: Vec<(f64, f64)> = values.iter().copied().filter(|(_, c)| *c > 0.0).collect();
    if values.is_empty() || values.iter().any(|(v, _)| *v < 0.0) {
        return None;
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|(_, c)| c).sum();
    let rank = p / 100.0 * total;
    // Counts are sums of doubles: allow for their rounding.
    let rank = rank - total * 1e-12;
    let mut seen = 0.0;
    for (v, c) in &values {
        seen += c;
        if seen >= rank {
            return Some(*v);
        }
    }
    values.last().map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let one_to_hundred: Vec<(f64, f64)> = (1..=100).map(|v| (f64::from(v), 1.0)).collect();
        assert_eq!(percentile_of(&one_to_hundred, 50.0), Some(50.0));
        assert_eq!(percentile_of(&one_to_hundred, 99.0), Some(99.0));
        assert_eq!(percentile_of(&one_to_hundred, 99.5), Some(100.0));
        assert_eq!(percentile_of(&one_to_hundred, 100.0), Some(100.0));
        assert_eq!(percentile_of(&one_to_hundred, 0.0), Some(1.0));
        // Counts weigh values: 9 of 10 samples are 1.
        assert_eq!(percentile_of(&[(5.0, 1.0), (1.0, 9.0)], 90.0), Some(1.0));
        assert_eq!(percentile_of(&[(5.0, 1.0), (1.0, 9.0)], 91.0), Some(5.0));
        assert_eq!(percentile_of(&[(5.0, 1.0), (-1.0, 1.0)], 50.0), None);
        assert_eq!(percentile_of(&[], 50.0), None);
    }

    #[test]
    fn periods_start_on_multiples_from_the_epoch() {
        assert_eq!(period_start(125_000, 60_000), 120_000);
        assert_eq!(period_start(120_000, 60_000), 120_000);
        assert_eq!(period_start(-1, 60_000), -60_000);
    }
}
