//! What the operations share on the wire and the rules of it: dimensions and their
//! canonical key, doubles as AWS JSON writes them, names, units, statistics and periods.

use crate::error::{MetricsError, Result};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The model's `StandardUnit` values.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The unit of data published without one.
pub const NO_UNIT: &str = "None";
/// Dimensions a metric has at most.
pub const MAX_DIMENSIONS: usize = 30;
const MAX_NAME: usize = 255;
const MAX_DIMENSION_VALUE: usize = 1024;
/// CloudWatch takes values within ±2^360 …
const MAX_MAGNITUDE: f64 = 2.348_542_582_773_833_2e108;
/// … and refuses non-zero ones smaller than 2^-260.
const MIN_MAGNITUDE: f64 = 5.397_605_346_934_028e-79;
/// Sub-minute periods allowed (for high-resolution data); longer ones are multiples of 60.
const SHORT_PERIODS: &[i64] = &[1, 5, 10, 20, 30];

/// A dimension as requests carry it (either part may be missing: refused as AWS does).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DimensionIn {
    pub name: Option<String>,
    pub value: Option<String>,
}

/// A dimension as answers carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DimensionOut {
    pub name: String,
    pub value: String,
}

/// A double as AWS JSON carries it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`
/// (botocore writes those as strings, and the front door turns CBOR's into them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Double(pub f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct DoubleVisitor;
        impl Visitor<'_> for DoubleVisitor {
            type Value = Double;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Double, E> {
                Ok(Double(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Double, E> {
                match v {
                    "NaN" => Ok(Double(f64::NAN)),
                    "Infinity" => Ok(Double(f64::INFINITY)),
                    "-Infinity" => Ok(Double(f64::NEG_INFINITY)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(DoubleVisitor)
    }
}

/// The canonical key of a dimension set sorted by name: `[["Name","Value"],...]`.
pub(crate) fn dims_key(sorted: &[(String, String)]) -> String {
    let pairs: Vec<Value> =
        sorted.iter().map(|(n, v)| Value::Array(vec![Value::String(n.clone()), Value::String(v.clone())])).collect();
    Value::Array(pairs).to_string()
}

/// The dimensions a canonical key holds.
pub(crate) fn parse_dims_key(key: &str) -> Result<Vec<(String, String)>> {
    serde_json::from_str(key).map_err(|e| MetricsError::corrupt("a metric's dimensions", e))
}

pub(crate) fn dimensions_out(dims: Vec<(String, String)>) -> Vec<DimensionOut> {
    dims.into_iter().map(|(name, value)| DimensionOut { name, value }).collect()
}

/// The required parameter `name`.
pub(crate) fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| MetricsError::missing(name))
}

fn printable_ascii(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
}

/// A namespace: 1 to 255 ASCII characters, no control characters, not starting with `:`.
pub(crate) fn check_namespace(namespace: &str, param: &str) -> Result<()> {
    if namespace.is_empty() || namespace.len() > MAX_NAME {
        return Err(MetricsError::invalid(param, namespace, "a namespace has 1 to 255 characters"));
    }
    if !printable_ascii(namespace) || namespace.starts_with(':') {
        return Err(MetricsError::invalid(
            param,
            namespace,
            "a namespace is ASCII without control characters and does not start with ':'",
        ));
    }
    Ok(())
}

/// A metric name: 1 to 255 characters, no control characters.
pub(crate) fn check_metric_name(name: &str, param: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(MetricsError::invalid(
            param,
            name,
            "a metric name has 1 to 255 characters and no control characters",
        ));
    }
    Ok(())
}

fn check_dimension_part(s: &str, max: usize, param: &str, what: &str) -> Result<()> {
    if s.is_empty() || s.len() > max {
        return Err(MetricsError::invalid(param, s, &format!("a dimension {what} has 1 to {max} characters")));
    }
    if !printable_ascii(s) || s.trim().is_empty() {
        return Err(MetricsError::invalid(
            param,
            s,
            &format!("a dimension {what} is ASCII without control characters, not only whitespace"),
        ));
    }
    Ok(())
}

/// A metric's dimensions (at `param`, e.g. `MetricData.member.1.Dimensions`), checked
/// and sorted by name: at most 30, names unique.
pub(crate) fn check_dimensions(dims: &[DimensionIn], param: &str) -> Result<Vec<(String, String)>> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(MetricsError::InvalidValue(format!(
            "The collection {param} must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    let mut out = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        let at = format!("{param}.member.{}", i + 1);
        let name = required(d.name.as_ref(), &format!("{at}.Name"))?;
        let value = required(d.value.as_ref(), &format!("{at}.Value"))?;
        check_dimension_part(name, MAX_NAME, &format!("{at}.Name"), "name")?;
        if name.starts_with(':') {
            return Err(MetricsError::invalid(&format!("{at}.Name"), name, "a dimension name cannot start with ':'"));
        }
        check_dimension_part(value, MAX_DIMENSION_VALUE, &format!("{at}.Value"), "value")?;
        out.push((name.clone(), value.clone()));
    }
    out.sort();
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(MetricsError::InvalidValue(format!(
            "The collection {param} must not contain duplicate dimension names ({}).",
            w[0].0
        )));
    }
    Ok(out)
}

/// A dimension filter's name or value (ListMetrics): only its length is held to.
pub(crate) fn check_filter_part(s: &str, max: usize, param: &str) -> Result<()> {
    if s.is_empty() || s.len() > max {
        return Err(MetricsError::invalid(param, s, &format!("it has 1 to {max} characters")));
    }
    Ok(())
}

pub(crate) const MAX_FILTER_NAME: usize = MAX_NAME;
pub(crate) const MAX_FILTER_VALUE: usize = MAX_DIMENSION_VALUE;

/// A published value: finite, within ±2^360, and zero or at least 2^-260 in magnitude.
pub(crate) fn check_value(v: f64, param: &str) -> Result<f64> {
    if !v.is_finite() {
        return Err(MetricsError::invalid(param, v, "NaN and infinite values are not supported"));
    }
    let magnitude = v.abs();
    if magnitude > MAX_MAGNITUDE || (magnitude != 0.0 && magnitude < MIN_MAGNITUDE) {
        return Err(MetricsError::invalid(
            param,
            v,
            "values must be within -2^360 to 2^360 and not smaller than 2^-260",
        ));
    }
    Ok(v)
}

/// A unit of the model's `StandardUnit`.
pub(crate) fn check_unit(unit: &str, param: &str) -> Result<()> {
    if UNITS.contains(&unit) {
        Ok(())
    } else {
        Err(MetricsError::invalid(param, unit, &format!("a unit is one of {}", UNITS.join(", "))))
    }
}

/// A period in seconds: 1, 5, 10, 20, 30 or a multiple of 60; answered in milliseconds.
pub(crate) fn check_period(period: Option<i64>, param: &str) -> Result<i64> {
    let period = required(period, param)?;
    if period < 1 || period > i64::from(i32::MAX) {
        return Err(MetricsError::invalid(param, period, "the period must be at least 1 second"));
    }
    if period % 60 != 0 && !SHORT_PERIODS.contains(&period) {
        return Err(MetricsError::invalid(param, period, "the period must be 1, 5, 10, 20, 30 or a multiple of 60"));
    }
    Ok(period * 1000)
}

/// A statistic: one of the five, or a percentile `pNN.NN` (0 to 100).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stat {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    Percentile(f64),
}

impl Stat {
    /// One of the five statistics of `Statistics`.
    pub fn simple(s: &str) -> Option<Stat> {
        Some(match s {
            "SampleCount" => Stat::SampleCount,
            "Average" => Stat::Average,
            "Sum" => Stat::Sum,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            _ => return None,
        })
    }

    /// A statistic as GetMetricData names it: a simple one or a percentile.
    pub fn parse(s: &str) -> Option<Stat> {
        Stat::simple(s).or_else(|| percentile(s).map(Stat::Percentile))
    }
}

/// `pNN` or `pNN.NNN` (up to 10 decimals) between p0 and p100.
pub(crate) fn percentile(s: &str) -> Option<f64> {
    let number = s.strip_prefix('p')?;
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || !digits(whole) {
        return None;
    }
    if let Some(f) = fraction
        && (f.is_empty() || f.len() > 10 || !digits(f))
    {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    (0.0..=100.0).contains(&value).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitudes_are_the_powers_of_two_aws_names() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(360));
        assert_eq!(MIN_MAGNITUDE, 2f64.powi(-260));
    }

    #[test]
    fn percentiles_parse_as_cloudwatch_writes_them() {
        assert_eq!(percentile("p99"), Some(99.0));
        assert_eq!(percentile("p99.9"), Some(99.9));
        assert_eq!(percentile("p0"), Some(0.0));
        assert_eq!(percentile("p100"), Some(100.0));
        for bad in ["p", "p101", "99", "P99", "p-1", "p9.", "p.5", "p1e2", "p99.12345678901", "tm99"] {
            assert_eq!(percentile(bad), None, "{bad}");
        }
        assert_eq!(Stat::parse("Average"), Some(Stat::Average));
        assert_eq!(Stat::parse("p50"), Some(Stat::Percentile(50.0)));
        assert_eq!(Stat::parse("Median"), None);
    }

    #[test]
    fn dimension_keys_are_canonical() {
        let dims = [
            DimensionIn { name: Some("b".into()), value: Some("2".into()) },
            DimensionIn { name: Some("a".into()), value: Some("\"1\"".into()) },
        ];
        let sorted = check_dimensions(&dims, "Dimensions").unwrap();
        let key = dims_key(&sorted);
        assert_eq!(key, r#"[["a","\"1\""],["b","2"]]"#);
        assert_eq!(parse_dims_key(&key).unwrap(), sorted);
        assert_eq!(dims_key(&[]), "[]");
    }
}
