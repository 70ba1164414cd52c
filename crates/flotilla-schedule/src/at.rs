//! `at(yyyy-mm-ddThh:mm:ss)`: one fire time, read in the schedule's time zone.
//!
//! A time the clocks skip (spring forward) fires at the same wall-clock distance past
//! the jump (02:30 on a day 02:00 becomes 03:00 fires at 03:30), and a time that
//! happens twice fires at its first occurrence — one-time schedules never miss their
//! one fire. (AWS documents skipping only for recurring schedules.)

use crate::civil::{Minute, days_in_month};
use crate::zone::{LocalMinute, TimeZone};

/// A parsed one-time expression: a wall-clock date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    minute: Minute,
    second: u8,
}

impl At {
    /// Parses what is inside `at(…)`: exactly `yyyy-mm-ddThh:mm:ss`.
    pub fn parse(inside: &str) -> Result<At, String> {
        let refusal = || format!("'{inside}' is not a date and time of the form yyyy-mm-ddThh:mm:ss");
        let b = inside.as_bytes();
        let shape = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if !shape {
            return Err(refusal());
        }
        let number = |range: std::ops::Range<usize>| inside[range].parse::<u16>().map_err(|_| refusal());
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        let year = i32::from(year);
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= u16::from(days_in_month(year, month as u8))
            && hour <= 23
            && minute <= 59
            && second <= 59;
        if !valid {
            return Err(refusal());
        }
        Ok(At { minute: Minute::new(year, month as u8, day as u8, hour as u8, minute as u8), second: second as u8 })
    }

    /// The instant it fires at in this zone (epoch milliseconds).
    pub fn instant(&self, time_zone: &TimeZone) -> Option<i64> {
        let start_of_minute = match time_zone.instants_of(self.minute)? {
            LocalMinute::Unique(t) | LocalMinute::Repeated { earlier: t, .. } => t,
            LocalMinute::Skipped { shifted } => shifted,
        };
        Some(start_of_minute + i64::from(self.second) * 1000)
    }
}
