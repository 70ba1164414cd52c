//! Field values and how Logs Insights compares, coerces and prints them.
//!
//! Log fields are text; Insights treats text that reads as a number as a number in
//! arithmetic and comparisons (`filter latency > 200` works on a parsed field), and
//! prints timestamps as GetQueryResults does. Booleans are numbers: `1` and `0`.

use std::cmp::Ordering;

use super::time;

/// One value of a field, or its absence.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// The field is not there (missing fields are left out of result rows).
    Null,
    /// Text, as logged, parsed or computed.
    Str(String),
    /// A number (results of arithmetic, aggregates and numeric functions).
    Num(f64),
    /// A timestamp, milliseconds since the epoch (`@timestamp`, `bin(…)`, `fromMillis`).
    Time(i64),
}

impl Value {
    /// A number, or `Null` when it is not finite (division by zero, `log(0)`, …).
    pub(super) fn num(n: f64) -> Value {
        if n.is_finite() { Value::Num(n) } else { Value::Null }
    }

    /// `1` or `0`.
    pub(super) fn boolean(b: bool) -> Value {
        Value::Num(if b { 1.0 } else { 0.0 })
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as result rows print it; `None` for a missing value.
    pub(super) fn display(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(s.clone()),
            Value::Num(n) => Some(format_number(*n)),
            Value::Time(ms) => Some(time::format_timestamp(*ms)),
        }
    }

    /// The value as a number, if it is one or is text that reads as one.
    pub(super) fn as_number(&self) -> Option<f64> {
        match self {
            Value::Null => None,
            Value::Num(n) => Some(*n),
            // Precision loss only past 2^53 ms, hundreds of thousands of years out.
            Value::Time(ms) => Some(*ms as f64),
            Value::Str(s) => parse_number(s),
        }
    }

    /// The value as a timestamp: a timestamp, a number of epoch milliseconds, or text
    /// in the printed or ISO 8601 form.
    pub(super) fn as_time(&self) -> Option<i64> {
        match self {
            Value::Time(ms) => Some(*ms),
            Value::Num(n) => millis_from_f64(*n),
            Value::Str(s) => parse_number(s).and_then(millis_from_f64).or_else(|| time::parse_timestamp(s)),
            Value::Null => None,
        }
    }

    /// Whether the value counts as true in `filter`, `and`, `or`, `not` and `if`.
    pub(super) fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Num(n) => *n != 0.0 && !n.is_nan(),
            Value::Time(_) => true,
            Value::Str(s) => match parse_number(s) {
                Some(n) => n != 0.0,
                None => !s.is_empty() && !s.trim().eq_ignore_ascii_case("false"),
            },
        }
    }

    /// A string that is equal for values that group together in `stats … by` and
    /// `dedup`; `None` for a missing value.
    pub(super) fn group_key(&self) -> Option<String> {
        self.display()
    }
}

/// Milliseconds from a float, if it fits an `i64` (fractions are truncated).
pub(super) fn millis_from_f64(n: f64) -> Option<i64> {
    // `i64::MAX as f64` rounds up to 2^63, so compare strictly below it.
    if n.is_finite() && n >= i64::MIN as f64 && n < i64::MAX as f64 { Some(n as i64) } else { None }
}

/// Prints a number as AWS does: integers without a fraction (`3`, not `3.0`),
/// others in their shortest exact decimal form.
pub(super) fn format_number(n: f64) -> String {
    if n == 0.0 {
        // Also turns -0 into 0.
        return "0".to_string();
    }
    format!("{n}")
}

/// Reads text as a number: optional sign, digits with an optional fraction and
/// exponent, surrounding whitespace allowed. `inf`, `NaN` and hex are not numbers.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !body.as_bytes().first().is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    if !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Whether the value is a "number value" in `sort`'s sense: a number, a timestamp, or
/// text of only digits (with an optional sign and fraction).
fn sorts_as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Time(ms) => Some(*ms as f64),
        Value::Str(s) => {
            let body = s.strip_prefix('-').unwrap_or(s);
            let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
            if digits(int) && digits(frac) { s.parse::<f64>().ok().filter(|n| n.is_finite()) } else { None }
        }
        Value::Null => None,
    }
}

/// The ascending order of `sort` (AWS's "updated natural sort"): all non-number values
/// before all number values; numbers by value; other text split into runs of digits
/// and runs of other characters, digit runs compared by length and then value, other
/// runs (and a digit run against another run) by Unicode code point. Missing values
/// are handled by the caller.
pub(super) fn natural_cmp(a: &Value, b: &Value) -> Ordering {
    match (sorts_as_number(a), sorts_as_number(b)) {
        // Equal numbers (`01` and `1`) fall back to their text, as AWS's example lists them.
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| text(a).cmp(&text(b))),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => natural_text_cmp(&text(a), &text(b)),
    }
}

fn text(v: &Value) -> String {
    v.display().unwrap_or_default()
}

/// The chunked comparison of two non-number texts.
fn natural_text_cmp(a: &str, b: &str) -> Ordering {
    let (mut xs, mut ys) = (Chunks(a), Chunks(b));
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let both_digits =
                    x.starts_with(|c: char| c.is_ascii_digit()) && y.starts_with(|c: char| c.is_ascii_digit());
                let ord = if both_digits { x.len().cmp(&y.len()).then_with(|| x.cmp(y)) } else { x.cmp(y) };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Splits text into runs of ASCII digits and runs of everything else.
struct Chunks<'a>(&'a str);

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let first = self.0.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = self.0.find(|c: char| c.is_ascii_digit() != digit).unwrap_or(self.0.len());
        let (chunk, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(chunk)
    }
}

/// Equality as `=`, `!=` and `in` see it: numerically when both sides read as
/// numbers, else as printed text. A missing value equals nothing.
pub(super) fn values_equal(a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x == y,
        _ => a.display() == b.display(),
    }
}

/// Ordering as `<`, `<=`, `>`, `>=` see it: numerically when both sides read as
/// numbers, else by printed text; `None` when either side is missing.
pub(super) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.display().cmp(&b.display())),
    }
}
