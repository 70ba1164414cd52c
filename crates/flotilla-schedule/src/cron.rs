//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, AWS's six-field cron.
//!
//! AWS's rules ("Cron expressions" of EventBridge and EventBridge Scheduler): minutes
//! 0–59, hours 0–23, day-of-month 1–31, month 1–12 or `JAN`–`DEC`, day-of-week 1–7
//! or `SUN`–`SAT` (1 is Sunday), year 1970–2199. Every field takes `,` lists, `-`
//! ranges (a range may wrap: hours `20-2`), `*`, and `/` steps (`0/15`, `*/5`,
//! `10-40/10`), except day-of-week, which takes no step. Exactly one of day-of-month
//! and day-of-week is `?`. Day-of-month may instead be `L` (last day), `LW` (last
//! weekday) or `nW` (the weekday nearest day n, within the month); day-of-week may be
//! `L` (Saturday), `nL` (the last day n of the month) or `n#k` (the k-th day n, k 1–5);
//! these stand alone in their field. Names are case-insensitive.
//!
//! [`Cron::next_match`] and [`Cron::previous_match`] search wall-clock minutes field by
//! field (a year, month, day or hour that cannot match is skipped whole), so even an
//! expression that never fires is answered after at most a few thousand steps.

use crate::civil::{Minute, days_in_month, weekday};

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Bits,
    hours: Bits,
    days_of_month: DaysOfMonth,
    months: Bits,
    days_of_week: DaysOfWeek,
    /// Bit `y - 1970` for each year y.
    years: [Bits; 4],
}

/// A set of small numbers as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bits(u64);

impl Bits {
    fn contains(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    fn insert(&mut self, n: u32) {
        self.0 |= 1 << n;
    }

    /// The smallest member at least `n`.
    fn at_or_after(self, n: u32) -> Option<u32> {
        if n >= 64 {
            return None;
        }
        let rest = self.0 >> n;
        (rest != 0).then(|| n + rest.trailing_zeros())
    }

    /// The largest member at most `n`.
    fn at_or_before(self, n: u32) -> Option<u32> {
        let kept = if n >= 63 { self.0 } else { self.0 & ((1u64 << (n + 1)) - 1) };
        (kept != 0).then(|| 63 - kept.leading_zeros())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DaysOfMonth {
    /// `?`: day-of-week decides.
    Unrestricted,
    Days(Bits),
    Last,
    LastWeekday,
    NearestWeekday(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DaysOfWeek {
    /// `?`: day-of-month decides.
    Unrestricted,
    Days(Bits),
    /// `nL`: the last such weekday of the month.
    Last(u8),
    /// `n#k`: the k-th such weekday of the month.
    Nth(u8, u8),
}

/// The bounds and names of one field.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    steps: bool,
    /// Whether a range may run past the end and on from the start (`20-2`).
    wraps: bool,
}

const MINUTE: Field = Field { name: "minutes", min: 0, max: 59, names: &[], steps: true, wraps: true };
const HOUR: Field = Field { name: "hours", min: 0, max: 23, names: &[], steps: true, wraps: true };
const DAY_OF_MONTH: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[], steps: true, wraps: true };
const MONTH: Field = Field { name: "month", min: 1, max: 12, names: &MONTHS, steps: true, wraps: true };
const DAY_OF_WEEK: Field = Field { name: "day-of-week", min: 1, max: 7, names: &WEEKDAYS, steps: false, wraps: true };
const YEAR: Field =
    Field { name: "year", min: FIRST_YEAR as u32, max: LAST_YEAR as u32, names: &[], steps: true, wraps: false };

impl Cron {
    /// Parses the six fields inside `cron(…)`; the error says which field is wrong and why.
    pub fn parse(fields: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = parts[..] else {
            return Err(format!("a cron expression has 6 fields, this one has {}", parts.len()));
        };
        let days_of_month = parse_days_of_month(day_of_month)?;
        let days_of_week = parse_days_of_week(day_of_week)?;
        match (days_of_month, days_of_week) {
            (DaysOfMonth::Unrestricted, DaysOfWeek::Unrestricted) => {
                return Err("day-of-month and day-of-week cannot both be '?'".into());
            }
            (DaysOfMonth::Unrestricted, _) | (_, DaysOfWeek::Unrestricted) => {}
            _ => return Err("one of day-of-month and day-of-week must be '?'".into()),
        }
        let year_values = parse_values(year, &YEAR)?;
        let mut years = [Bits::default(); 4];
        for y in (FIRST_YEAR as u32..=LAST_YEAR as u32).filter(|y| year_values.contains(y)) {
            let offset = y - FIRST_YEAR as u32;
            years[(offset / 64) as usize].insert(offset % 64);
        }
        Ok(Cron {
            minutes: bits(parse_values(minutes, &MINUTE)?),
            hours: bits(parse_values(hours, &HOUR)?),
            days_of_month,
            months: bits(parse_values(month, &MONTH)?),
            days_of_week,
            years,
        })
    }

    fn has_year(&self, year: i32) -> bool {
        (FIRST_YEAR..=LAST_YEAR).contains(&year) && {
            let offset = (year - FIRST_YEAR) as u32;
            self.years[(offset / 64) as usize].contains(offset % 64)
        }
    }

    /// The first year of the expression at least `year`.
    fn year_at_or_after(&self, year: i32) -> Option<i32> {
        (year.max(FIRST_YEAR)..=LAST_YEAR).find(|y| self.has_year(*y))
    }

    /// The last year of the expression at most `year`.
    fn year_at_or_before(&self, year: i32) -> Option<i32> {
        (FIRST_YEAR..=year.min(LAST_YEAR)).rev().find(|y| self.has_year(*y))
    }

    /// The days of a month the expression fires on, as bits 1–31.
    fn days(&self, year: i32, month: u8) -> Bits {
        let last = days_in_month(year, month);
        let mut days = Bits::default();
        let weekday_of = |day: u8| weekday(year, month, day);
        let is_weekday = |day: u8| (2..=6).contains(&weekday_of(day));
        match (self.days_of_month, self.days_of_week) {
            (DaysOfMonth::Days(set), _) => days.0 = set.0 & (((1u64 << (last + 1)) - 1) & !1),
            (DaysOfMonth::Last, _) => days.insert(u32::from(last)),
            (DaysOfMonth::LastWeekday, _) => {
                let day = (1..=last).rev().find(|d| is_weekday(*d)).unwrap_or(last);
                days.insert(u32::from(day));
            }
            (DaysOfMonth::NearestWeekday(n), _) if n <= last => {
                let day = match weekday_of(n) {
                    7 if n == 1 => 3,
                    7 => n - 1,
                    1 if n == last => n - 2,
                    1 => n + 1,
                    _ => n,
                };
                days.insert(u32::from(day));
            }
            (DaysOfMonth::NearestWeekday(_), _) => {}
            (DaysOfMonth::Unrestricted, DaysOfWeek::Days(set)) => {
                for day in (1..=last).filter(|d| set.contains(u32::from(weekday_of(*d)))) {
                    days.insert(u32::from(day));
                }
            }
            (DaysOfMonth::Unrestricted, DaysOfWeek::Last(wanted)) => {
                if let Some(day) = (1..=last).rev().find(|d| weekday_of(*d) == wanted) {
                    days.insert(u32::from(day));
                }
            }
            (DaysOfMonth::Unrestricted, DaysOfWeek::Nth(wanted, nth)) => {
                if let Some(day) = (1..=last).filter(|d| weekday_of(*d) == wanted).nth(usize::from(nth) - 1) {
                    days.insert(u32::from(day));
                }
            }
            (DaysOfMonth::Unrestricted, DaysOfWeek::Unrestricted) => {}
        }
        days
    }

    /// The first minute at or after `from` that the expression matches.
    pub(crate) fn next_match(&self, from: Minute) -> Option<Minute> {
        let mut t = if from.year < FIRST_YEAR { Minute::start_of_year(FIRST_YEAR) } else { from };
        loop {
            if !self.has_year(t.year) {
                t = Minute::start_of_year(self.year_at_or_after(t.year + 1)?);
                continue;
            }
            if !self.months.contains(u32::from(t.month)) {
                t = match self.months.at_or_after(u32::from(t.month) + 1) {
                    Some(month) => Minute::new(t.year, month as u8, 1, 0, 0),
                    None => Minute::start_of_year(t.year + 1),
                };
                continue;
            }
            let days = self.days(t.year, t.month);
            if !days.contains(u32::from(t.day)) {
                t = match days.at_or_after(u32::from(t.day) + 1) {
                    Some(day) => Minute::new(t.year, t.month, day as u8, 0, 0),
                    None => t.next_month(),
                };
                continue;
            }
            if !self.hours.contains(u32::from(t.hour)) {
                t = match self.hours.at_or_after(u32::from(t.hour) + 1) {
                    Some(hour) => Minute { hour: hour as u8, minute: 0, ..t },
                    None => t.next_day(),
                };
                continue;
            }
            match self.minutes.at_or_after(u32::from(t.minute)) {
                Some(minute) => return Some(Minute { minute: minute as u8, ..t }),
                None => t = t.next_hour(),
            }
        }
    }

    /// The last minute at or before `from` that the expression matches.
    pub(crate) fn previous_match(&self, from: Minute) -> Option<Minute> {
        let mut t = if from.year > LAST_YEAR { Minute::end_of_year(LAST_YEAR) } else { from };
        loop {
            if !self.has_year(t.year) {
                t = Minute::end_of_year(self.year_at_or_before(t.year - 1)?);
                continue;
            }
            if !self.months.contains(u32::from(t.month)) {
                t = match u32::from(t.month).checked_sub(1).and_then(|m| self.months.at_or_before(m)) {
                    Some(month) if month >= 1 => {
                        let month = month as u8;
                        Minute::new(t.year, month, days_in_month(t.year, month), 23, 59)
                    }
                    _ => Minute::end_of_year(t.year - 1),
                };
                continue;
            }
            let days = self.days(t.year, t.month);
            if !days.contains(u32::from(t.day)) {
                t = match days.at_or_before(u32::from(t.day) - 1) {
                    Some(day) if day >= 1 => Minute::new(t.year, t.month, day as u8, 23, 59),
                    _ => t.previous_month(),
                };
                continue;
            }
            if !self.hours.contains(u32::from(t.hour)) {
                t = match u32::from(t.hour).checked_sub(1).and_then(|h| self.hours.at_or_before(h)) {
                    Some(hour) => Minute { hour: hour as u8, minute: 59, ..t },
                    None => t.previous_day(),
                };
                continue;
            }
            match self.minutes.at_or_before(u32::from(t.minute)) {
                Some(minute) => return Some(Minute { minute: minute as u8, ..t }),
                None => t = t.previous_hour(),
            }
        }
    }
}

fn bits(values: Vec<u32>) -> Bits {
    let mut set = Bits::default();
    for value in values {
        set.insert(value);
    }
    set
}

fn parse_days_of_month(text: &str) -> Result<DaysOfMonth, String> {
    let upper = text.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "?" => DaysOfMonth::Unrestricted,
        "L" => DaysOfMonth::Last,
        "LW" => DaysOfMonth::LastWeekday,
        _ if upper.ends_with('W') => {
            let day = parse_value(&upper[..upper.len() - 1], &DAY_OF_MONTH)?;
            DaysOfMonth::NearestWeekday(day as u8)
        }
        _ => DaysOfMonth::Days(bits(parse_values(text, &DAY_OF_MONTH)?)),
    })
}

fn parse_days_of_week(text: &str) -> Result<DaysOfWeek, String> {
    let upper = text.to_ascii_uppercase();
    if upper == "?" {
        return Ok(DaysOfWeek::Unrestricted);
    }
    if upper == "L" {
        return Ok(DaysOfWeek::Days(bits(vec![7])));
    }
    if let Some((day, nth)) = upper.split_once('#') {
        let day = parse_value(day, &DAY_OF_WEEK)?;
        let nth = match nth.parse::<u8>() {
            Ok(n @ 1..=5) => n,
            _ => return Err(format!("day-of-week: '#{nth}' must be #1 to #5, alone in the field")),
        };
        return Ok(DaysOfWeek::Nth(day as u8, nth));
    }
    if let Some(day) = upper.strip_suffix('L') {
        return Ok(DaysOfWeek::Last(parse_value(day, &DAY_OF_WEEK)? as u8));
    }
    Ok(DaysOfWeek::Days(bits(parse_values(text, &DAY_OF_WEEK)?)))
}

/// A field's `,`-separated items as the values they stand for.
fn parse_values(text: &str, field: &Field) -> Result<Vec<u32>, String> {
    let mut values = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some(_) if !field.steps => return Err(format!("{}: '/' is not allowed in this field", field.name)),
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("{}: step '{step}' is not a number", field.name))?;
                if step == 0 || step > field.max - field.min + 1 {
                    return Err(format!("{}: step {step} is out of range", field.name));
                }
                (range, Some(step))
            }
            None => (item, None),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (field.min, field.max),
            Some((first, last)) => (parse_value(first, field)?, parse_value(last, field)?),
            // `a/step` runs from a to the field's end; a lone value is itself.
            None => {
                let value = parse_value(range, field)?;
                (value, if step.is_some() { field.max } else { value })
            }
        };
        if first > last && !field.wraps {
            return Err(format!("{}: range {first}-{last} runs backwards", field.name));
        }
        // A range that wraps (hours 20-2) runs to the field's end and on from its start.
        let span = if first <= last { last - first } else { field.max - first + 1 + last - field.min };
        let width = field.max - field.min + 1;
        values.extend(
            (0..=span)
                .step_by(step.unwrap_or(1) as usize)
                .map(|offset| field.min + (first - field.min + offset) % width),
        );
    }
    Ok(values)
}

/// One number or name, within the field's bounds.
fn parse_value(text: &str, field: &Field) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let value = match field.names.iter().position(|name| *name == upper) {
        Some(index) => field.min + index as u32,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.len() <= 4 => {
            text.parse().map_err(|_| format!("{}: '{text}' is not a valid value", field.name))?
        }
        None => return Err(format!("{}: '{text}' is not a valid value", field.name)),
    };
    if value < field.min || value > field.max {
        return Err(format!("{}: {value} is outside {}-{}", field.name, field.min, field.max));
    }
    Ok(value)
}
