//! UTC date arithmetic for Logs Insights: civil dates from day counts and back,
//! the `YYYY-MM-DD HH:MM:SS.mmm` form GetQueryResults prints, and the time periods of
//! `bin`, `datefloor` and `dateceil` (fixed-length units and calendar months).
//!
//! Every function takes any `i64` of milliseconds; results that would not fit are
//! `None`, never a panic.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The unit of a time period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// A time period such as `5m` (five minutes) or `1mo` (one calendar month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Period {
    /// How many units; at least 1.
    pub(super) amount: u32,
    pub(super) unit: Unit,
}

impl Unit {
    /// The unit for a suffix as AWS documents them for `bin`: `ms`/`msec`/`millisecond`,
    /// `s`/`sec`/`second`, `m`/`min`/`minute`, `h`/`hr`/`hour`, `d`/`day`, `w`/`week`,
    /// `mo`/`mon`/`month`, `q`/`qtr`/`quarter`, `y`/`yr`/`year`; every spelling longer than
    /// one character may take a plural `s`. Case-insensitive.
    pub(super) fn from_suffix(suffix: &str) -> Option<Unit> {
        let lower = suffix.to_ascii_lowercase();
        let base = match lower.as_str() {
            "ms" | "s" => lower.as_str(),
            other => other.strip_suffix('s').filter(|b| b.len() > 1).unwrap_or(other),
        };
        Some(match base {
            "ms" | "msec" | "millisecond" => Unit::Millisecond,
            "s" | "sec" | "second" => Unit::Second,
            "m" | "min" | "minute" => Unit::Minute,
            "h" | "hr" | "hour" => Unit::Hour,
            "d" | "day" => Unit::Day,
            "w" | "week" => Unit::Week,
            "mo" | "mon" | "month" => Unit::Month,
            "q" | "qtr" | "quarter" => Unit::Quarter,
            "y" | "yr" | "year" => Unit::Year,
            _ => return None,
        })
    }

    /// The largest amount AWS honours for this unit (`bin(300s)` acts as `bin(60s)`):
    /// 1000 for milliseconds, 60 for seconds and minutes, 24 for hours.
    pub(super) fn cap(self) -> Option<u32> {
        match self {
            Unit::Millisecond => Some(1000),
            Unit::Second | Unit::Minute => Some(60),
            Unit::Hour => Some(24),
            _ => None,
        }
    }

    /// Milliseconds in one unit, for the fixed-length units.
    fn fixed_ms(self) -> Option<i64> {
        match self {
            Unit::Millisecond => Some(1),
            Unit::Second => Some(1_000),
            Unit::Minute => Some(60_000),
            Unit::Hour => Some(3_600_000),
            Unit::Day => Some(DAY_MS),
            Unit::Week => Some(7 * DAY_MS),
            Unit::Month | Unit::Quarter | Unit::Year => None,
        }
    }

    /// Calendar months in one unit, for the calendar units.
    fn months(self) -> Option<i64> {
        match self {
            Unit::Month => Some(1),
            Unit::Quarter => Some(3),
            Unit::Year => Some(12),
            _ => None,
        }
    }
}

impl Period {
    /// A period, with the amount capped as AWS caps it for its unit.
    pub(super) fn new(amount: u32, unit: Unit) -> Period {
        let amount = unit.cap().map_or(amount, |cap| amount.min(cap));
        Period { amount, unit }
    }

    /// The start of the period `ms` falls in. Fixed-length periods count from the
    /// epoch, except weeks, which start on Mondays (00:00 UTC); months, quarters and
    /// years count from year 0, so `1q` starts in January, April, July and October.
    pub(super) fn floor(self, ms: i64) -> Option<i64> {
        if let Some(unit_ms) = self.unit.fixed_ms() {
            let len = unit_ms.checked_mul(i64::from(self.amount))?;
            if len <= 0 {
                return None;
            }
            // 1970-01-05 was a Monday.
            let origin = if self.unit == Unit::Week { 4 * DAY_MS } else { 0 };
            let shifted = ms.checked_sub(origin)?;
            let start = shifted.checked_sub(shifted.rem_euclid(len))?;
            return start.checked_add(origin);
        }
        let step = self.unit.months()?.checked_mul(i64::from(self.amount))?;
        if step <= 0 {
            return None;
        }
        let (year, month, _) = civil_from_days(ms.div_euclid(DAY_MS));
        let total = year.checked_mul(12)?.checked_add(month - 1)?;
        let start = total.checked_sub(total.rem_euclid(step))?;
        month_start_ms(start)
    }

    /// `ms` if it starts a period, else the start of the next period.
    pub(super) fn ceil(self, ms: i64) -> Option<i64> {
        let start = self.floor(ms)?;
        if start == ms {
            return Some(ms);
        }
        if let Some(unit_ms) = self.unit.fixed_ms() {
            return start.checked_add(unit_ms.checked_mul(i64::from(self.amount))?);
        }
        let step = self.unit.months()?.checked_mul(i64::from(self.amount))?;
        let (year, month, _) = civil_from_days(start.div_euclid(DAY_MS));
        let total = year.checked_mul(12)?.checked_add(month - 1)?;
        month_start_ms(total.checked_add(step)?)
    }
}

/// Milliseconds at 00:00 UTC on the first day of month number `total` (year × 12 + month − 1).
fn month_start_ms(total: i64) -> Option<i64> {
    let year = total.div_euclid(12);
    let month = total.rem_euclid(12) + 1;
    days_from_civil(year, month, 1)?.checked_mul(DAY_MS)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12, `day` 1–31).
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    // Count years from March so the leap day ends the year.
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9).rem_euclid(12);
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era.checked_mul(146_097)?.checked_add(day_of_era)?.checked_sub(719_468)
}

/// The proleptic Gregorian date (year, month 1–12, day 1–31) of a day count since
/// 1970-01-01. Total for every day count an `i64` of milliseconds can produce.
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era.saturating_add(era.saturating_mul(400));
    (if month <= 2 { year.saturating_add(1) } else { year }, month, day)
}

/// `2024-01-01 12:00:00.000`, the form GetQueryResults uses for timestamps (UTC).
pub(super) fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{milli:03}")
}

/// Reads a timestamp written as `YYYY-MM-DD HH:MM:SS[.fff]` or ISO 8601
/// (`YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`), as milliseconds since the epoch.
pub(super) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from.checked_add(len)?)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b' ' | b'T' | b't')) || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        let digits = b.get(pos + 1..)?.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Milliseconds from the first three digits; finer digits are dropped.
        let mut scaled = 0;
        for i in 0..3 {
            let d = if i < digits { num(pos + 1 + i, 1)? } else { 0 };
            scaled = scaled * 10 + d;
        }
        millis = scaled;
        pos += 1 + digits;
    }
    let offset_ms = match b.get(pos..)? {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == pos + 6 && b.get(pos + 3) == Some(&b':') => {
            let minutes = num(pos + 1, 2)? * 60 + num(pos + 4, 2)?;
            if *sign == b'+' { minutes * 60_000 } else { -minutes * 60_000 }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let seconds = hour * 3600 + minute * 60 + second;
    days.checked_mul(DAY_MS)?.checked_add(seconds * 1000 + millis)?.checked_sub(offset_ms)
}
