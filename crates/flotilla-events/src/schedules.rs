//! The `events-schedules` controller: fires enabled scheduled rules.
//!
//! Each pass asks `flotilla-schedule` what is due for each rule since its last fire
//! ([`Schedule::catch_up`]): a rule whose fire times passed while the control plane
//! was down fires once when it returns, not once per missed period. A fire is an event
//! of source `aws.events`, detail-type `Scheduled Event`, resources the rule's ARN and
//! time the fire time, as AWS sends; it goes through the outbox to the rule's targets,
//! in the same transaction that records the fire (so a fire is neither lost nor
//! repeated, on any replica). Rates count from when the schedule was set, so
//! `rate(1 minute)` first fires a minute after PutRule, then every minute.

use crate::EventsService;
use crate::put_events::event_time;
use crate::rules::parse_schedule;
use crate::store::{NewDelivery, NewEvent, RuleRecord};
use crate::targets::TargetDoc;
use flotilla_controller::{Controller, PassError};
use flotilla_core::Timestamp;
use flotilla_event_pattern::RuleContext;
use flotilla_schedule::{Schedule, TimeZone};
use serde_json::Value;
use std::time::Duration;

pub(crate) struct Schedules {
    pub svc: EventsService,
}

/// The fire time due for a rule at `now`, if any.
pub(crate) fn due(rule: &RuleRecord, now: i64) -> Option<i64> {
    let expression = parse_schedule(rule.schedule.as_deref()?).ok()?;
    let start = rule.schedule_start.unwrap_or(rule.created_at);
    let schedule = Schedule::new(expression, TimeZone::utc(), start);
    schedule.catch_up(rule.last_fired.unwrap_or(start), now).due
}

#[async_trait::async_trait]
impl Controller for Schedules {
    fn name(&self) -> &'static str {
        "events-schedules"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(2)
    }

    async fn reconcile(&self) -> Result<(), PassError> {
        let now = self.svc.store.now_ms().await?;
        let mut fired = false;
        for rule in self.svc.store.schedule_rules().await? {
            let Some(at) = due(&rule, now) else { continue };
            let event = self.fire_event(&rule, at).await?;
            if self.svc.store.fire_schedule(&rule, at, event.as_ref()).await? {
                tracing::info!(rule = %rule.name, at = %Timestamp(at), deliveries = event.as_ref().map_or(0, |e| e.deliveries.len()), "scheduled rule fired");
                fired |= event.is_some();
            }
        }
        if fired {
            self.svc.wakeup.notify_one();
        }
        Ok(())
    }
}

impl Schedules {
    /// The event a fire at `at` sends, with a delivery per target (None: no targets).
    async fn fire_event(&self, rule: &RuleRecord, at: i64) -> crate::Result<Option<NewEvent>> {
        let targets = self.svc.store.targets(&rule.bus, &rule.name).await?;
        if targets.is_empty() {
            return Ok(None);
        }
        let rule_arn = self.svc.rule_arn(&rule.bus, &rule.name);
        let id = uuid::Uuid::new_v4().to_string();
        let body = self.svc.envelope(&id, "aws.events", "Scheduled Event", at, std::slice::from_ref(&rule_arn), "{}");
        let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let now = self.svc.store.now_ms().await?;
        let ingestion_time = event_time(now);
        let context = RuleContext { rule_arn: &rule_arn, rule_name: &rule.name, ingestion_time: &ingestion_time };
        let mut deliveries = Vec::new();
        for t in targets {
            let input = serde_json::from_str::<TargetDoc>(&t.document)
                .map_err(|e| e.to_string())
                .and_then(|d| d.target_input());
            match input.map(|i| i.render(&event, &context)) {
                Ok(Ok(body)) => deliveries.push(NewDelivery { rule_arn: rule_arn.clone(), target: t.document, body }),
                Ok(Err(e)) => {
                    tracing::warn!(rule = %rule.name, target = %t.id, error = %e, "a scheduled rule's target input could not be made; it is not invoked")
                }
                Err(e) => {
                    tracing::warn!(rule = %rule.name, target = %t.id, error = %e, "a stored target cannot be used; it is skipped")
                }
            }
        }
        Ok(Some(NewEvent { id, body, ingested_at: now, deliveries }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(schedule: &str, start: i64, last: i64) -> RuleRecord {
        RuleRecord {
            bus: "default".into(),
            name: "r".into(),
            event_pattern: None,
            schedule: Some(schedule.into()),
            state: "ENABLED".into(),
            description: None,
            role_arn: None,
            tags: Default::default(),
            created_at: start,
            schedule_start: Some(start),
            last_fired: Some(last),
        }
    }

    #[test]
    fn a_rate_first_fires_one_period_after_it_is_set_then_every_period() {
        let t0 = 1_700_000_000_000;
        let r = rule("rate(1 minute)", t0, t0);
        assert_eq!(due(&r, t0), None, "not at creation");
        assert_eq!(due(&r, t0 + 59_999), None);
        assert_eq!(due(&r, t0 + 60_000), Some(t0 + 60_000));
        let r = rule("rate(1 minute)", t0, t0 + 60_000);
        assert_eq!(due(&r, t0 + 90_000), None);
        assert_eq!(due(&r, t0 + 120_500), Some(t0 + 120_000));
    }

    #[test]
    fn missed_periods_fire_once_on_return() {
        let t0 = 1_700_000_000_000;
        // Down for ten minutes: one fire, for the latest missed time.
        let r = rule("rate(1 minute)", t0, t0 + 60_000);
        assert_eq!(due(&r, t0 + 11 * 60_000 + 5), Some(t0 + 11 * 60_000));
        // Cron, in UTC.
        let midnight = 1_700_006_400_000; // 2023-11-15T00:00:00Z
        let r = rule("cron(0 * * * ? *)", midnight - 3_600_000, midnight - 3_600_000);
        assert_eq!(due(&r, midnight + 5 * 3_600_000 + 10), Some(midnight + 5 * 3_600_000));
    }
}
