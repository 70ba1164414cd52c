//! How CloudWatch writes numbers and times in alarm reasons and history: doubles as
//! Java prints them (`85.0`, `1.0E7`), reason times as `dd/MM/yy HH:mm:ss`, and
//! reason-data times as `2026-11-30T10:01:00.000+0000`.

use flotilla_core::time::Timestamp;

/// A double as Java's `Double.toString` writes it.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let magnitude = v.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = format!("{v}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{v:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
    format!("{mantissa}E{exponent}")
}

/// `30/11/26 10:01:00`, as reasons list datapoints.
pub fn reason_time(ms: i64) -> String {
    let iso = Timestamp(ms).to_iso8601();
    // 2026-11-30T10:01:00.000Z
    format!("{}/{}/{} {}", &iso[8..10], &iso[5..7], &iso[2..4], &iso[11..19])
}

/// `2026-11-30T10:01:00.000+0000`, as reason data and history data write times.
pub fn data_time(ms: i64) -> String {
    let iso = Timestamp(ms).to_iso8601();
    format!("{}+0000", iso.trim_end_matches('Z'))
}

/// Cuts `s` to at most `max` characters (history summaries hold 255).
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// `1 datapoint` / `3 datapoints`.
pub fn datapoints(n: usize) -> String {
    if n == 1 { "1 datapoint".into() } else { format!("{n} datapoints") }
}

/// `was` / `were`.
pub fn was(n: usize) -> &'static str {
    if n == 1 { "was" } else { "were" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_read_as_java_writes_them() {
        for (v, text) in [
            (85.0, "85.0"),
            (0.5, "0.5"),
            (-3.25, "-3.25"),
            (0.0, "0.0"),
            (1e7, "1.0E7"),
            (12_345_678.0, "1.2345678E7"),
            (0.000_5, "5.0E-4"),
            (0.001, "0.001"),
            (9_999_999.0, "9999999.0"),
        ] {
            assert_eq!(java_double(v), text, "{v}");
        }
    }

    #[test]
    fn times_are_written_as_cloudwatch_writes_them() {
        let t = 1_796_032_860_000; // 2026-11-30T10:01:00Z
        assert_eq!(reason_time(t), "30/11/26 10:01:00");
        assert_eq!(data_time(t + 5), "2026-11-30T10:01:00.005+0000");
        assert_eq!(cut("héllo", 2), "hé");
        assert_eq!(cut("hi", 5), "hi");
    }
}
