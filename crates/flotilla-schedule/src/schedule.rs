//! Fire times: the next one after an instant, the last one at or before it, and what
//! is due after a pause ("catch-up").
//!
//! Times are epoch milliseconds. Cron fields are matched against the wall clock of the
//! schedule's time zone, at second 0 of each minute. Across daylight saving changes
//! this follows EventBridge Scheduler's documented behaviour: a wall-clock time the
//! clocks skip in spring does not fire that day, and one the clocks repeat in autumn
//! fires once, at its first occurrence. Rates are elapsed time from their start (a
//! rule's creation, a schedule's StartDate), firing at `start + k × period`, k ≥ 0.
//! `at` fires once (see [`At`](crate::At)). A window (StartDate, EndDate) keeps the
//! fire times `t` with `start <= t < end`; one-time schedules ignore it, as AWS does.

use crate::civil::Minute;
use crate::cron::Cron;
use crate::expression::ScheduleExpression;
use crate::zone::{LocalMinute, TimeZone};

/// No cron fire time is earlier than this (1969-01-01T00:00Z; cron years start at 1970).
const EARLIEST: i64 = -31_536_000_000;
/// Nor later than this (2201-01-01T00:00Z; cron years end at 2199).
const LATEST: i64 = 7_289_654_400_000;
/// How far past an instant a backwards search starts, to see the wall-clock minutes an
/// autumn change repeats (no zone moves its clocks back by more than a few hours).
const FOLD_MARGIN: i64 = 6 * 3_600_000;

/// A schedule: an expression, the zone it is read in, where rates count from, and an
/// optional window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expression: ScheduleExpression,
    time_zone: TimeZone,
    rate_start: i64,
    start: Option<i64>,
    end: Option<i64>,
}

/// What to do after a pause: fire once now for `due` (the latest missed fire time, not
/// one per missed period), then wait for `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The latest fire time after the last fire and at or before now, if any.
    pub due: Option<i64>,
    /// The first fire time after now, if any.
    pub next: Option<i64>,
}

impl Schedule {
    /// A schedule without a window. `rate_start` is where a rate counts from (a rule's
    /// creation time, a schedule's StartDate); cron and `at` ignore it.
    pub fn new(expression: ScheduleExpression, time_zone: TimeZone, rate_start: i64) -> Schedule {
        Schedule { expression, time_zone, rate_start, start: None, end: None }
    }

    /// Keeps only fire times `t` with `start <= t < end` (StartDate, EndDate).
    pub fn with_window(self, start: Option<i64>, end: Option<i64>) -> Schedule {
        Schedule { start, end, ..self }
    }

    pub fn expression(&self) -> &ScheduleExpression {
        &self.expression
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        if let ScheduleExpression::At(at) = &self.expression {
            return at.instant(&self.time_zone).filter(|t| *t > after);
        }
        let after = match self.start {
            Some(start) => after.max(start.saturating_sub(1)),
            None => after,
        };
        next_after(&self.expression, after, &self.time_zone, self.rate_start)
            .filter(|t| self.end.is_none_or(|end| *t < end))
    }

    /// The last fire time at or before `at`.
    pub fn last_at_or_before(&self, at: i64) -> Option<i64> {
        let at = match (&self.expression, self.end) {
            (ScheduleExpression::At(_), _) | (_, None) => at,
            (_, Some(end)) => at.min(end.saturating_sub(1)),
        };
        let last = match &self.expression {
            ScheduleExpression::At(one) => one.instant(&self.time_zone).filter(|t| *t <= at),
            ScheduleExpression::Rate(rate) => rate.last_at_or_before(self.rate_start, at),
            ScheduleExpression::Cron(cron) => cron_last_at_or_before(cron, &self.time_zone, at),
        };
        match (&self.expression, self.start) {
            (ScheduleExpression::At(_), _) | (_, None) => last,
            (_, Some(start)) => last.filter(|t| *t >= start),
        }
    }

    /// After a pause: `last_fired` is the last fire time (or, for a schedule that never
    /// fired, the instant it was created or enabled; one millisecond earlier when a fire
    /// at that very instant is due, as a Scheduler rate without StartDate is), `now`
    /// is now.
    pub fn catch_up(&self, last_fired: i64, now: i64) -> CatchUp {
        CatchUp { due: self.last_at_or_before(now).filter(|t| *t > last_fired), next: self.next_after(now) }
    }
}

/// The first fire time strictly after `after` of an expression read in `time_zone`;
/// a rate counts from `rate_start`.
pub fn next_after(expression: &ScheduleExpression, after: i64, time_zone: &TimeZone, rate_start: i64) -> Option<i64> {
    match expression {
        ScheduleExpression::Rate(rate) => rate.next_after(rate_start, after),
        ScheduleExpression::At(at) => at.instant(time_zone).filter(|t| *t > after),
        ScheduleExpression::Cron(cron) => cron_next_after(cron, time_zone, after),
    }
}

/// The instant a matched wall-clock minute fires at: none if the clocks skip it, the
/// first occurrence if they repeat it.
fn fire_instant(time_zone: &TimeZone, minute: Minute) -> Option<i64> {
    match time_zone.instants_of(minute)? {
        LocalMinute::Unique(t) | LocalMinute::Repeated { earlier: t, .. } => Some(t),
        LocalMinute::Skipped { .. } => None,
    }
}

fn cron_next_after(cron: &Cron, time_zone: &TimeZone, after: i64) -> Option<i64> {
    if after >= LATEST {
        return None;
    }
    let after = after.max(EARLIEST);
    // Every wall-clock minute before this one first occurred at or before `after`.
    let mut from = time_zone.minute_of(after)?.next();
    loop {
        let minute = cron.next_match(from)?;
        match fire_instant(time_zone, minute) {
            Some(t) if t > after => return Some(t),
            _ => from = minute.next(),
        }
    }
}

fn cron_last_at_or_before(cron: &Cron, time_zone: &TimeZone, at: i64) -> Option<i64> {
    if at < EARLIEST {
        return None;
    }
    let at = at.min(LATEST);
    let mut from = time_zone.minute_of(at + FOLD_MARGIN)?;
    loop {
        let minute = cron.previous_match(from)?;
        match fire_instant(time_zone, minute) {
            Some(t) if t <= at => return Some(t),
            _ => from = minute.previous(),
        }
    }
}
