//! A schedule expression as PutRule, CreateSchedule and PutScheduledAction take it:
//! `rate(…)`, `cron(…)` or `at(…)`, at most 256 characters, nothing around it.

use std::str::FromStr;

use crate::at::At;
use crate::cron::Cron;
use crate::rate::Rate;

/// Longest schedule expression AWS accepts.
pub const MAX_EXPRESSION_CHARS: usize = 256;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    Rate(Rate),
    Cron(Cron),
    /// One-time (EventBridge Scheduler and Application Auto Scaling, not rules).
    At(At),
}

/// A refused expression. Its text gives the reason; AWS's own answer is
/// [`ScheduleError::AWS_MESSAGE`] with a `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Parameter ScheduleExpression is not valid: {reason} (in {expression:?})")]
pub struct ScheduleError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ScheduleError {
    /// EventBridge's message for an invalid schedule expression.
    pub const AWS_MESSAGE: &'static str = "Parameter ScheduleExpression is not valid.";
}

impl ScheduleExpression {
    /// Parses `rate(…)`, `cron(…)` or `at(…)`.
    pub fn parse(text: &str) -> Result<ScheduleExpression, ScheduleError> {
        let refuse = |reason: String| ScheduleError { expression: text.to_string(), reason };
        let chars = text.chars().count();
        if chars > MAX_EXPRESSION_CHARS {
            return Err(refuse(format!("it is {chars} characters long; the limit is {MAX_EXPRESSION_CHARS}")));
        }
        let inside = |name: &str| text.strip_prefix(name).and_then(|rest| rest.strip_suffix(')'));
        if let Some(inside) = inside("rate(") {
            Rate::parse(inside).map(ScheduleExpression::Rate).map_err(refuse)
        } else if let Some(inside) = inside("cron(") {
            Cron::parse(inside).map(ScheduleExpression::Cron).map_err(refuse)
        } else if let Some(inside) = inside("at(") {
            At::parse(inside).map(ScheduleExpression::At).map_err(refuse)
        } else {
            Err(refuse("it must be rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)".into()))
        }
    }
}

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ScheduleExpression::parse(text)
    }
}
