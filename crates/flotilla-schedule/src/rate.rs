//! `rate(value unit)`: a fixed period, counted from a start.
//!
//! AWS's rules: the value is a positive whole number; the unit is `minute`, `hour` or
//! `day` when the value is 1 and `minutes`, `hours` or `days` otherwise (`rate(1
//! minutes)` and `rate(5 hour)` are refused). A day is 24 hours of elapsed time, not a
//! calendar day: across a daylight saving change the wall-clock time of the fires
//! moves by the shift, as EventBridge Scheduler documents.

/// A parsed rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    value: u32,
    unit: RateUnit,
}

/// The unit of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minutes,
    Hours,
    Days,
}

impl Rate {
    /// Parses what is inside `rate(…)`.
    pub fn parse(inside: &str) -> Result<Rate, String> {
        let parts: Vec<&str> = inside.split_whitespace().collect();
        let [value, unit] = parts[..] else {
            return Err("a rate expression is a value and a unit, as in rate(5 minutes)".into());
        };
        let value: u32 = match value.parse() {
            Ok(v) if v > 0 && value.bytes().all(|b| b.is_ascii_digit()) => v,
            _ => return Err(format!("the rate value '{value}' must be a positive whole number")),
        };
        let (unit, singular) = match unit {
            "minute" => (RateUnit::Minutes, true),
            "minutes" => (RateUnit::Minutes, false),
            "hour" => (RateUnit::Hours, true),
            "hours" => (RateUnit::Hours, false),
            "day" => (RateUnit::Days, true),
            "days" => (RateUnit::Days, false),
            other => return Err(format!("the rate unit '{other}' must be minute(s), hour(s) or day(s)")),
        };
        if singular != (value == 1) {
            return Err(format!(
                "the rate unit must be singular for a value of 1 and plural otherwise, not '{value} {}'",
                parts[1]
            ));
        }
        Ok(Rate { value, unit })
    }

    /// The value, a positive number of units.
    pub fn value(&self) -> u32 {
        self.value
    }

    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    /// The period in milliseconds.
    pub fn period_millis(&self) -> i64 {
        let unit = match self.unit {
            RateUnit::Minutes => 60_000,
            RateUnit::Hours => 3_600_000,
            RateUnit::Days => 86_400_000,
        };
        i64::from(self.value) * unit
    }

    /// The first fire time strictly after `after`, fires being `start + k × period`, k ≥ 0.
    pub(crate) fn next_after(&self, start: i64, after: i64) -> Option<i64> {
        if after < start {
            return Some(start);
        }
        let period = i128::from(self.period_millis());
        let periods = (i128::from(after) - i128::from(start)).div_euclid(period) + 1;
        i64::try_from(i128::from(start) + periods * period).ok()
    }

    /// The last fire time at or before `at`.
    pub(crate) fn last_at_or_before(&self, start: i64, at: i64) -> Option<i64> {
        if at < start {
            return None;
        }
        let period = i128::from(self.period_millis());
        let periods = (i128::from(at) - i128::from(start)).div_euclid(period);
        i64::try_from(i128::from(start) + periods * period).ok()
    }
}
