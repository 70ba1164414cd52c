//! Wall-clock minutes on the proleptic Gregorian calendar, free of any time zone.
//!
//! Cron fields are matched against local wall-clock minutes; [`Minute`] is one, with
//! the steps the search needs (start of the next hour, day, month, year and back).

/// A wall-clock minute: a date and an hour and minute, in no particular zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Minute {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

pub(crate) fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The day of the week as cron numbers it: 1 is Sunday, 7 is Saturday.
pub(crate) fn weekday(year: i32, month: u8, day: u8) -> u8 {
    // 1970-01-01 was a Thursday (5).
    let days = days_from_civil(year, month, day);
    u8::try_from((days + 4).rem_euclid(7)).unwrap_or(0) + 1
}

impl Minute {
    pub fn new(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> Minute {
        Minute { year, month, day, hour, minute }
    }

    /// Seconds since the Unix epoch, reading this minute as UTC.
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
    }

    pub fn start_of_year(year: i32) -> Minute {
        Minute::new(year, 1, 1, 0, 0)
    }

    pub fn end_of_year(year: i32) -> Minute {
        Minute::new(year, 12, 31, 23, 59)
    }

    pub fn next_month(&self) -> Minute {
        if self.month == 12 {
            Minute::start_of_year(self.year + 1)
        } else {
            Minute::new(self.year, self.month + 1, 1, 0, 0)
        }
    }

    pub fn previous_month(&self) -> Minute {
        if self.month == 1 {
            Minute::end_of_year(self.year - 1)
        } else {
            let month = self.month - 1;
            Minute::new(self.year, month, days_in_month(self.year, month), 23, 59)
        }
    }

    pub fn next_day(&self) -> Minute {
        if self.day >= days_in_month(self.year, self.month) {
            self.next_month()
        } else {
            Minute::new(self.year, self.month, self.day + 1, 0, 0)
        }
    }

    pub fn previous_day(&self) -> Minute {
        if self.day <= 1 { self.previous_month() } else { Minute::new(self.year, self.month, self.day - 1, 23, 59) }
    }

    pub fn next_hour(&self) -> Minute {
        if self.hour >= 23 { self.next_day() } else { Minute { hour: self.hour + 1, minute: 0, ..*self } }
    }

    pub fn previous_hour(&self) -> Minute {
        if self.hour == 0 { self.previous_day() } else { Minute { hour: self.hour - 1, minute: 59, ..*self } }
    }

    pub fn next(&self) -> Minute {
        if self.minute >= 59 { self.next_hour() } else { Minute { minute: self.minute + 1, ..*self } }
    }

    pub fn previous(&self) -> Minute {
        if self.minute == 0 { self.previous_hour() } else { Minute { minute: self.minute - 1, ..*self } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(weekday(1970, 1, 1), 5, "a Thursday");
        assert_eq!(weekday(2024, 2, 29), 5, "a Thursday");
        assert_eq!(weekday(2026, 3, 29), 1, "a Sunday");
        assert!(is_leap_year(2000) && is_leap_year(2024) && !is_leap_year(1900) && !is_leap_year(2100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(Minute::new(2024, 12, 31, 23, 59).next(), Minute::new(2025, 1, 1, 0, 0));
        assert_eq!(Minute::new(2024, 3, 1, 0, 0).previous(), Minute::new(2024, 2, 29, 23, 59));
        assert_eq!(Minute::new(1970, 1, 1, 0, 1).unix_seconds(), 60);
    }
}
