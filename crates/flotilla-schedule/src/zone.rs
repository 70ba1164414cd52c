//! Time zones: instants to wall-clock minutes and back, through `jiff`.
//!
//! Names are IANA names (`Europe/Paris`), looked up in the system's time zone database
//! (`/usr/share/zoneinfo`, Debian's `tzdata`, or `TZDIR`), so the rules follow the
//! system's updates; where the system has none (a slim container image), jiff's
//! embedded copy of the database answers instead. `UTC` needs no database.

use jiff::Timestamp;
use jiff::tz::{self, AmbiguousOffset};

use crate::civil::Minute;

/// A time zone schedules are evaluated in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone {
    name: String,
    zone: tz::TimeZone,
}

/// A time zone name the database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid ScheduleExpressionTimezone: '{name}' is not a time zone of the IANA database")]
pub struct UnknownTimeZone {
    /// The name asked for.
    pub name: String,
}

/// What instant a wall-clock minute is, in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalMinute {
    /// The usual case: one instant (epoch milliseconds).
    Unique(i64),
    /// The clocks jumped over it (spring forward): no instant reads this minute;
    /// `shifted` is where it lands read with the offset before the jump.
    Skipped { shifted: i64 },
    /// The clocks went back over it (fall back): two instants read this minute.
    Repeated { earlier: i64, later: i64 },
}

impl TimeZone {
    /// Coordinated Universal Time (EventBridge rules' only zone).
    pub fn utc() -> TimeZone {
        TimeZone { name: "UTC".into(), zone: tz::TimeZone::UTC }
    }

    /// A zone by IANA name, from the system's database (or the embedded copy).
    pub fn named(name: &str) -> Result<TimeZone, UnknownTimeZone> {
        if name == "UTC" {
            return Ok(TimeZone::utc());
        }
        let zone = tz::TimeZone::get(name).map_err(|_| UnknownTimeZone { name: name.to_string() })?;
        Ok(TimeZone { name: name.to_string(), zone })
    }

    /// The name it was asked for by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wall-clock minute an instant falls in, or `None` outside years -9999..9999.
    pub(crate) fn minute_of(&self, millis: i64) -> Option<Minute> {
        let timestamp = Timestamp::from_millisecond(millis).ok()?;
        let local = self.zone.to_datetime(timestamp);
        Some(Minute::new(
            i32::from(local.year()),
            local.month().unsigned_abs(),
            local.day().unsigned_abs(),
            local.hour().unsigned_abs(),
            local.minute().unsigned_abs(),
        ))
    }

    /// The instants a wall-clock minute stands for (second 0 of the minute).
    pub(crate) fn instants_of(&self, minute: Minute) -> Option<LocalMinute> {
        let year = i16::try_from(minute.year).ok()?;
        let local = jiff::civil::DateTime::new(
            year,
            i8::try_from(minute.month).ok()?,
            i8::try_from(minute.day).ok()?,
            i8::try_from(minute.hour).ok()?,
            i8::try_from(minute.minute).ok()?,
            0,
            0,
        )
        .ok()?;
        let wall_seconds = minute.unix_seconds();
        let at = |offset: tz::Offset| (wall_seconds - i64::from(offset.seconds())) * 1000;
        Some(match self.zone.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalMinute::Unique(at(offset)),
            AmbiguousOffset::Gap { before, .. } => LocalMinute::Skipped { shifted: at(before) },
            AmbiguousOffset::Fold { before, after } => LocalMinute::Repeated { earlier: at(before), later: at(after) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_transitions() {
        let paris = TimeZone::named("Europe/Paris").expect("tzdata or the embedded database");
        // 2026-03-29: 02:00 CET becomes 03:00 CEST.
        let skipped = paris.instants_of(Minute::new(2026, 3, 29, 2, 30)).unwrap();
        assert!(matches!(skipped, LocalMinute::Skipped { .. }), "{skipped:?}");
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let repeated = paris.instants_of(Minute::new(2026, 10, 25, 2, 30)).unwrap();
        let LocalMinute::Repeated { earlier, later } = repeated else { panic!("{repeated:?}") };
        assert_eq!(later - earlier, 3_600_000);
        assert_eq!(paris.minute_of(earlier), Some(Minute::new(2026, 10, 25, 2, 30)));
        assert_eq!(paris.minute_of(later), Some(Minute::new(2026, 10, 25, 2, 30)));
        assert_eq!(TimeZone::utc().instants_of(Minute::new(1970, 1, 1, 0, 1)), Some(LocalMinute::Unique(60_000)));
    }

    #[test]
    fn the_embedded_database_is_there_for_systems_without_tzdata() {
        let bundled = jiff::tz::TimeZoneDatabase::bundled().get("Europe/Paris").expect("embedded Europe/Paris");
        let system = TimeZone::named("Europe/Paris").unwrap();
        let noon = Timestamp::from_millisecond(1_782_900_000_000).unwrap();
        assert_eq!(bundled.to_datetime(noon), system.zone.to_datetime(noon));
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(TimeZone::named("Mars/Olympus_Mons").is_err());
        assert!(TimeZone::named("").is_err());
        assert!(TimeZone::named("../../etc/passwd").is_err());
    }
}
