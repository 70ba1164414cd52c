//! Points in time, and AWS's two ways of writing them: epoch seconds as a JSON
//! number with a fraction (JSON protocols) and ISO 8601 (query/XML protocols,
//! documents).

use crate::civil::{civil_from_days, days_from_civil, days_in_month};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC). Serde writes the plain number of
/// milliseconds (how records are stored); [`epoch_seconds`] writes AWS's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Why a string is not an ISO 8601 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an ISO 8601 timestamp like 2024-05-01T12:00:00Z")]
pub struct TimestampError(pub String);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Seconds since the epoch with millisecond precision, as AWS JSON timestamps are.
    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// From epoch seconds with a fraction, rounded to the millisecond.
    pub fn from_epoch_seconds(seconds: f64) -> Self {
        Timestamp((seconds * 1000.0).round() as i64)
    }

    /// `2024-05-01T12:00:00.123Z`: always UTC, always milliseconds.
    pub fn to_iso8601(self) -> String {
        let (days, ms) = (self.0.div_euclid(86_400_000), self.0.rem_euclid(86_400_000));
        let (y, m, d) = civil_from_days(days);
        let s = ms / 1000;
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, ms % 1000)
    }

    /// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse_iso8601(s: &str) -> Result<Self, TimestampError> {
        parse_iso(s).ok_or_else(|| TimestampError(s.to_string()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let millis = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        };
        Timestamp(millis)
    }
}

fn parse_iso(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        ms = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (num(s.len() - 5..s.len() - 3)?, num(s.len() - 2..s.len())?);
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(Timestamp(secs * 1000 + ms))
}

/// `#[serde(with = "flotilla_core::time::epoch_seconds")]`: a [`Timestamp`] as
/// AWS JSON writes it, epoch seconds with a fraction.
pub mod epoch_seconds {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(t.as_epoch_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        f64::deserialize(d).map(Timestamp::from_epoch_seconds)
    }

    /// The same for an optional member (`default` and `skip_serializing_if` are the caller's).
    pub mod option {
        use super::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&t.as_epoch_seconds()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Ok(Option::<f64>::deserialize(d)?.map(Timestamp::from_epoch_seconds))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        let t = Timestamp(1_714_564_800_123);
        assert_eq!(t.as_epoch_seconds(), 1_714_564_800.123);
        assert_eq!(Timestamp::from_epoch_seconds(1_714_564_800.123), t);
    }

    #[test]
    fn iso8601_round_trips() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_714_564_800_123, "2024-05-01T12:00:00.123Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp(ms).to_iso8601(), text);
            assert_eq!(Timestamp::parse_iso8601(text).unwrap(), Timestamp(ms));
        }
    }

    #[test]
    fn iso8601_reads_offsets_and_fractions() {
        let noon = Timestamp::parse_iso8601("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(Timestamp::parse_iso8601("2024-05-01T14:00:00+02:00").unwrap(), noon);
        assert_eq!(Timestamp::parse_iso8601("2024-05-01T11:30:00-00:30").unwrap(), noon);
        assert_eq!(Timestamp::parse_iso8601("2024-05-01T12:00:00.5Z").unwrap(), Timestamp(noon.0 + 500));
        assert_eq!(Timestamp::parse_iso8601("2024-05-01T12:00:00.123456Z").unwrap(), Timestamp(noon.0 + 123));
        for bad in [
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "x024-05-01T12:00:00Z",
        ] {
            assert!(Timestamp::parse_iso8601(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_forms() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Shape {
            #[serde(with = "epoch_seconds")]
            at: Timestamp,
            #[serde(with = "epoch_seconds::option", default, skip_serializing_if = "Option::is_none")]
            maybe: Option<Timestamp>,
            stored: Timestamp,
        }
        let shape = Shape { at: Timestamp(1500), maybe: None, stored: Timestamp(1500) };
        let json = serde_json::to_value(&shape).unwrap();
        assert_eq!(json, serde_json::json!({"at": 1.5, "stored": 1500}));
        assert_eq!(serde_json::from_value::<Shape>(json).unwrap(), shape);
        let with: Shape = serde_json::from_str(r#"{"at": 2, "maybe": 0.25, "stored": 1}"#).unwrap();
        assert_eq!(with.maybe, Some(Timestamp(250)));
    }
}
