//! ISO 8601 "basic format" timestamps (`YYYYMMDD'T'HHMMSS'Z'`, e.g. `20261122T041500Z`) as
//! SigV4 writes them in `X-Amz-Date` and the credential scope.
//!
//! Conversion to and from [`SystemTime`] uses `flotilla_core::civil`'s day counts
//! (days since 1970-01-01 <-> civil date), so the crate needs no date/time dependency. Only UTC is involved; leap seconds do not exist in Unix time.

use flotilla_core::civil::{civil_from_days, days_from_civil, days_in_month};
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
