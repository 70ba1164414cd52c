//! ISO 8601 "basic format" timestamps (`YYYYMMDD'T'HHMMSS'Z'`, e.g. `20261122T041500Z`) as
//! SigV4 writes them in `X-Amz-Date` and the credential scope.
//!
//! Conversion to and from [`SystemTime`] is done by hand with the proleptic-Gregorian
//! day-count formulas (days since 1970-01-01 <-> civil date), so the crate needs no
//! date/time dependency. Only UTC is involved; leap seconds do not exist in Unix time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A whole-second UTC instant as used by SigV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    /// Seconds since the Unix epoch (may be negative for dates before 1970).
    secs: i64,
}

impl AmzDate {
    /// Truncates `t` to whole seconds.
    pub fn from_system_time(t: SystemTime) -> Self {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => {
                // Before the epoch: round towards negative infinity.
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() > 0 { -whole - 1 } else { -whole }
            }
        };
        AmzDate { secs }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// Builds from seconds since the Unix epoch.
    pub fn from_unix_seconds(secs: i64) -> Self {
        AmzDate { secs }
    }

    /// Back to a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.secs.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs())
        }
    }

    /// This instant moved by `delta` seconds (saturating).
    pub fn offset(self, delta: i64) -> Self {
        AmzDate { secs: self.secs.saturating_add(delta) }
    }

    /// Parses `YYYYMMDD'T'HHMMSS'Z'`; `None` unless the text is exactly that shape and a
    /// real calendar date and time of day.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let mut v = 0i64;
            for &c in &b[range] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(AmzDate { secs: days * 86_400 + hour * 3_600 + minute * 60 + second })
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub fn format(self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3_600, (rem % 3_600) / 60, rem % 60)
    }

    /// `YYYYMMDD`, the date part used in the credential scope.
    pub fn date_stamp(self) -> String {
        let mut s = self.format();
        s.truncate(8);
        s
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of the civil date `y-m-d` (proleptic Gregorian). Counts in
/// 400-year eras of 146097 days, with the year starting on 1 March so that the leap day
/// falls at the end of it.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400; // [0, 399]
    let month_from_march = (m + 9) % 12; // March = 0 .. February = 11
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // [0, 146096]
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let m = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_round_trip() {
        // 2015-08-30T12:36:00Z = 1440938160 (the AWS documentation's example instant).
        let d = AmzDate::parse("20150830T123600Z").unwrap();
        assert_eq!(d.unix_seconds(), 1_440_938_160);
        assert_eq!(d.format(), "20150830T123600Z");
        assert_eq!(d.date_stamp(), "20150830");
        assert_eq!(AmzDate::from_unix_seconds(0).format(), "19700101T000000Z");
        assert_eq!(AmzDate::from_unix_seconds(951_782_400).format(), "20000229T000000Z");
        assert_eq!(AmzDate::from_unix_seconds(-1).format(), "19691231T235959Z");
    }

    #[test]
    fn every_day_for_centuries_round_trips() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn system_time_round_trip_truncates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_440_938_160_999);
        let d = AmzDate::from_system_time(t);
        assert_eq!(d.unix_seconds(), 1_440_938_160);
        assert_eq!(d.to_system_time(), UNIX_EPOCH + Duration::from_secs(1_440_938_160));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "201",
            "20150830T123600",
            "20150830 123600Z",
            "20151330T123600Z",
            "20150229T000000Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
        ] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
        assert!(AmzDate::parse("20160229T000000Z").is_some());
    }
}
