//! Schedules, schedule groups and invocations as stored, with EventBridge Scheduler's
//! member names (PascalCase), and the rules a schedule must follow.

use crate::error::SchedulerError;
use flotilla_schedule::{Schedule as Timing, ScheduleExpression, TimeZone};
use serde::{Deserialize, Serialize};

/// The group every schedule without one belongs to; it always exists.
pub const DEFAULT_GROUP: &str = "default";

/// A schedule group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleGroup {
    pub name: String,
    pub creation_date: i64,
    pub last_modification_date: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `FlexibleTimeWindow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<i64>,
}

/// `RetryPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    #[serde(default = "default_age")]
    pub maximum_event_age_in_seconds: i64,
    #[serde(default = "default_attempts")]
    pub maximum_retry_attempts: i64,
}

fn default_age() -> i64 {
    86_400
}

fn default_attempts() -> i64 {
    185
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { maximum_event_age_in_seconds: default_age(), maximum_retry_attempts: default_attempts() }
    }
}

/// A schedule's `Target`: kept as given (ECS and SQS parameters are read by the
/// invoker), with the members the scheduler itself uses typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub arn: String,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_parameters: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    pub name: String,
    pub group_name: String,
    pub schedule_expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub target: Target,
    pub flexible_time_window: FlexibleTimeWindow,
    /// `NONE` or `DELETE`.
    pub action_after_completion: String,
    /// Epoch seconds, as the API shows them.
    pub creation_date: f64,
    pub last_modification_date: f64,
}

/// One firing of a schedule, kept until it is delivered, sent to the dead-letter
/// queue or given up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    pub id: String,
    pub schedule_arn: String,
    pub schedule_name: String,
    /// When the schedule was due (epoch ms).
    pub due_at: i64,
    pub target: Target,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn invalid(message: impl Into<String>) -> SchedulerError {
    SchedulerError::Validation(message.into())
}

/// A name of a schedule or group: 1–64 letters, digits, `.`, `-` and `_`.
pub fn check_name(what: &str, name: &str) -> Result<(), SchedulerError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("{what} '{name}' must be 1 to 64 letters, numbers, '.', '-' or '_'.")))
    }
}

impl Schedule {
    /// Checks a schedule as EventBridge Scheduler does; returns its timing.
    pub fn check(&self) -> Result<Timing, SchedulerError> {
        check_name("Name", &self.name)?;
        check_name("GroupName", &self.group_name)?;
        if self.state != "ENABLED" && self.state != "DISABLED" {
            return Err(invalid(format!("State '{}' is not one of ENABLED, DISABLED.", self.state)));
        }
        if self.action_after_completion != "NONE" && self.action_after_completion != "DELETE" {
            return Err(invalid(format!(
                "ActionAfterCompletion '{}' is not one of NONE, DELETE.",
                self.action_after_completion
            )));
        }
        match (self.flexible_time_window.mode.as_str(), self.flexible_time_window.maximum_window_in_minutes) {
            ("OFF", None) => {}
            ("FLEXIBLE", Some(m)) if (1..=1440).contains(&m) => {}
            ("FLEXIBLE", _) => {
                return Err(invalid("FlexibleTimeWindow.MaximumWindowInMinutes must be 1 to 1440 with mode FLEXIBLE."));
            }
            ("OFF", Some(_)) => {
                return Err(invalid("FlexibleTimeWindow.MaximumWindowInMinutes is only valid with mode FLEXIBLE."));
            }
            (other, _) => {
                return Err(invalid(format!("FlexibleTimeWindow.Mode '{other}' is not one of OFF, FLEXIBLE.")));
            }
        }
        let t = &self.target;
        let is_queue = t.arn.starts_with("arn:aws:sqs:");
        let is_cluster = t.arn.starts_with("arn:aws:ecs:") && t.arn.contains(":cluster/");
        if !is_queue && !is_cluster {
            return Err(invalid(format!(
                "Target.Arn '{}' is not a target this endpoint invokes: an ECS cluster (RunTask) or an SQS queue.",
                t.arn
            )));
        }
        if is_cluster && t.ecs_parameters.as_ref().and_then(|p| p.get("TaskDefinitionArn")).is_none() {
            return Err(invalid("Target.EcsParameters.TaskDefinitionArn is required for an ECS target."));
        }
        if let Some(r) = &t.retry_policy {
            if !(60..=86_400).contains(&r.maximum_event_age_in_seconds) {
                return Err(invalid("RetryPolicy.MaximumEventAgeInSeconds must be 60 to 86400."));
            }
            if !(0..=185).contains(&r.maximum_retry_attempts) {
                return Err(invalid("RetryPolicy.MaximumRetryAttempts must be 0 to 185."));
            }
        }
        if let Some(d) = &t.dead_letter_config
            && d.arn.as_deref().is_some_and(|a| !a.starts_with("arn:aws:sqs:"))
        {
            return Err(invalid("DeadLetterConfig.Arn must be an SQS queue ARN."));
        }
        if let (Some(s), Some(e)) = (self.start_date, self.end_date)
            && s >= e
        {
            return Err(invalid("The StartDate must be before the EndDate."));
        }
        let expression = ScheduleExpression::parse(&self.schedule_expression)
            .map_err(|_| invalid("Invalid Schedule Expression."))?;
        let zone = match &self.schedule_expression_timezone {
            Some(name) => TimeZone::named(name).map_err(|_| invalid(format!("Invalid time zone: {name}.")))?,
            None => TimeZone::utc(),
        };
        let ms = |s: f64| (s * 1000.0) as i64;
        let rate_start = self.start_date.map_or(ms(self.creation_date), ms);
        Ok(Timing::new(expression, zone, rate_start).with_window(self.start_date.map(ms), self.end_date.map(ms)))
    }
}
