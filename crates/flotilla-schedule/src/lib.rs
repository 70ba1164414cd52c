//! AWS schedule expressions and their fire times, for EventBridge rules (`rate`, `cron`,
//! UTC), EventBridge Scheduler and Application Auto Scaling scheduled actions (`rate`,
//! `cron`, `at`, in a named time zone, between a start and an end date).
//!
//! Parse once with [`ScheduleExpression::parse`], then ask a [`Schedule`] (or the free
//! [`next_after`]) for fire times. Pure but for [`TimeZone::named`], which reads the
//! time zone database. Design: `expression` dispatches to `rate`, `cron` and `at`;
//! `civil` is wall-clock arithmetic, `zone` turns instants into wall-clock minutes and
//! back (daylight saving gaps and folds included), `schedule` combines them.

mod at;
mod civil;
mod cron;
mod expression;
mod rate;
mod schedule;
mod zone;

#[cfg(test)]
mod tests;

pub use at::At;
pub use cron::Cron;
pub use expression::{MAX_EXPRESSION_CHARS, ScheduleError, ScheduleExpression};
pub use rate::{Rate, RateUnit};
pub use schedule::{CatchUp, Schedule, next_after};
pub use zone::{TimeZone, UnknownTimeZone};
