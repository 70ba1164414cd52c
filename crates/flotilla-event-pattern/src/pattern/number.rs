//! Numbers in patterns and events, compared as AWS's engine compares them.
//!
//! Every comparison is numeric: `300`, `300.0` and `3.0e2` are one number (the
//! engine behind EventBridge, event-ruler, matches numbers both as written and as
//! IEEE 754 doubles, and an event read into `serde_json::Value` no longer says how a
//! number was written). Integers are compared exactly when both sides are integers,
//! so 18-digit account-like numbers do not collide through rounding; everything else
//! is compared as a double (about 15–17 significant digits, the full double range;
//! AWS's old documentation limited this to ±5.0e9 with six decimals, the engine it
//! runs today does not). A number used in `numeric` or in an `anything-but` list must
//! be exactly the double it rounds to (`0.1` is, `0.10000000000000000001` is not), as
//! event-ruler requires; such a number is refused with "Cannot compare number".

use serde_json::Number;

/// A number from a pattern: its double value and, when written as an integer, its exact value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PatternNumber {
    value: f64,
    integer: Option<i128>,
}

impl PatternNumber {
    /// Reads a number already checked against JSON's number grammar.
    pub fn from_json_text(text: &str) -> PatternNumber {
        let integer = if text.contains(['.', 'e', 'E']) { None } else { text.parse::<i128>().ok() };
        PatternNumber { value: text.parse::<f64>().unwrap_or(f64::NAN), integer }
    }

    /// Whether an event's number is this number.
    pub fn equals(&self, event: &Number) -> bool {
        match (self.integer, event_integer(event)) {
            (Some(a), Some(b)) => a == b,
            _ => event.as_f64() == Some(self.value),
        }
    }
}

/// An event number as an exact integer, when it is one.
fn event_integer(number: &Number) -> Option<i128> {
    number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from))
}

/// The double a `numeric` operand or `anything-but` number stands for, or AWS's refusal.
pub(crate) fn comparable(text: &str) -> Result<f64, String> {
    let refusal = || format!("Cannot compare number : {text}");
    let value: f64 = text.parse().map_err(|_| refusal())?;
    if !value.is_finite() || decimal(text) != decimal(&format!("{value:e}")) {
        return Err(refusal());
    }
    Ok(value)
}

/// A decimal number reduced to (negative, significant digits, power of ten) with no
/// leading or trailing zero digits; zero is `(false, "", 0)` whatever its sign.
fn decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let mut power = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    power = power.checked_add(i64::try_from(digits.len() - significant.len()).ok()?)?;
    Some((negative, significant.to_string(), power))
}

/// A `numeric` condition: an optional lower and upper bound, each inclusive or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumericRange {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

/// One end of a [`NumericRange`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

impl NumericRange {
    pub fn contains(&self, event: &Number) -> bool {
        let Some(value) = event.as_f64() else { return false };
        let above = self.lower.is_none_or(|b| if b.inclusive { value >= b.value } else { value > b.value });
        let below = self.upper.is_none_or(|b| if b.inclusive { value <= b.value } else { value < b.value });
        above && below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparable_numbers_round_trip() {
        for text in
            ["0", "-0", "5", "0.1", "3.018e2", "1E-7", "-5e9", "123456789012", "1.7976931348623157e308", "10.50"]
        {
            assert!(comparable(text).is_ok(), "{text}");
        }
        for text in ["1e400", "0.10000000000000000001", "12345678901234567890123", "-1e999"] {
            assert_eq!(comparable(text), Err(format!("Cannot compare number : {text}")), "{text}");
        }
    }

    #[test]
    fn integers_compare_exactly_and_doubles_numerically() {
        let big = PatternNumber::from_json_text("123456789012345678");
        assert!(big.equals(&Number::from(123456789012345678_i64)));
        assert!(!big.equals(&Number::from(123456789012345679_i64)));
        let n = PatternNumber::from_json_text("300");
        assert!(n.equals(&Number::from_f64(300.0).unwrap()));
        assert!(PatternNumber::from_json_text("3.0e2").equals(&Number::from(300)));
        assert!(!n.equals(&Number::from(301)));
    }
}
