//! Rules: PutRule (an event pattern, checked by `flotilla-event-pattern`; or a
//! schedule, checked by `flotilla-schedule` and only on the default bus, as AWS),
//! DescribeRule, ListRules, EnableRule, DisableRule, DeleteRule (refused while the rule
//! has targets, unless `Force`), TestEventPattern, and the tagging of rules and buses.
//!
//! A schedule's state is two times kept with the rule: where a rate counts from (set
//! when the expression is set) and the last fire (set to "now" whenever the schedule is
//! set or the rule enabled, so nothing missed while disabled fires).

use crate::check::{self, TagShape};
use crate::error::{EventsError, Result};
use crate::store::{DEFAULT_BUS, Outcome, RuleRecord};
use crate::{Empty, EventsService, bus_name};
use flotilla_event_pattern::EventPattern;
use flotilla_schedule::{ScheduleError, ScheduleExpression};
use serde::{Deserialize, Serialize};

/// Rules a bus may have (EventBridge's default quota).
pub(crate) const MAX_RULES: i64 = 300;
const STATES: [&str; 3] = ["ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"];

/// Checks an `EventBusName` member and gives the bus it names.
pub(crate) fn checked_bus(given: Option<&str>) -> Result<String> {
    if let Some(g) = given {
        check::length(g, "eventBusName", 1, 1600)?;
    }
    Ok(bus_name(given))
}

/// Parses an event pattern as PutRule and TestEventPattern take it.
pub(crate) fn parse_pattern(text: &str) -> Result<EventPattern> {
    check::length(text, "eventPattern", 0, 4096)?;
    EventPattern::parse(text).map_err(|e| EventsError::InvalidPattern(e.to_string()))
}

/// Parses a rule's schedule expression (`rate(…)` or `cron(…)`; rules take no `at(…)`).
pub(crate) fn parse_schedule(text: &str) -> Result<ScheduleExpression> {
    match ScheduleExpression::parse(text) {
        Ok(ScheduleExpression::At(_)) | Err(_) => Err(EventsError::Validation(ScheduleError::AWS_MESSAGE.into())),
        Ok(expression) => Ok(expression),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    name: String,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    #[serde(default)]
    tags: Vec<TagShape>,
    event_bus_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutOutput {
    rule_arn: String,
}

pub(crate) async fn put(svc: &EventsService, input: PutInput) -> Result<PutOutput> {
    check::name(&input.name, "name", 64)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    if let Some(role) = &input.role_arn {
        check::length(role, "roleArn", 1, 1600)?;
    }
    let state = input.state.clone().unwrap_or_else(|| "ENABLED".into());
    if !STATES.contains(&state.as_str()) {
        return Err(EventsError::constraint(
            &state,
            "state",
            "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
        ));
    }
    let pattern = input.event_pattern.as_deref().filter(|p| !p.is_empty());
    let schedule = input.schedule_expression.as_deref().filter(|s| !s.is_empty());
    if pattern.is_none() && schedule.is_none() {
        return Err(EventsError::Validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.".into(),
        ));
    }
    if let Some(p) = pattern {
        parse_pattern(p)?;
    }
    if let Some(s) = schedule {
        check::length(s, "scheduleExpression", 0, 256)?;
        if bus != DEFAULT_BUS {
            return Err(EventsError::Validation(
                "ScheduleExpression is supported only on the default event bus.".into(),
            ));
        }
        parse_schedule(s)?;
    }
    let tags = check::tags(&input.tags)?;
    let now = svc.store.now_ms().await?;
    let rule_arn = svc.rule_arn(&bus, &input.name);
    let outcome = svc
        .store
        .put_rule(&bus, &input.name, MAX_RULES, |before| {
            let enabled = state != "DISABLED";
            let (schedule_start, last_fired) = match (before, schedule) {
                (_, None) => (None, None),
                // The same schedule, still enabled: it keeps its phase and last fire.
                (Some(b), Some(s)) if b.schedule.as_deref() == Some(s) && (b.enabled() || !enabled) => {
                    (b.schedule_start.or(Some(now)), b.last_fired.or(Some(now)))
                }
                // The same schedule enabled again: it keeps its phase, skips what it missed.
                (Some(b), Some(s)) if b.schedule.as_deref() == Some(s) => (b.schedule_start.or(Some(now)), Some(now)),
                _ => (Some(now), Some(now)),
            };
            Ok(RuleRecord {
                bus: bus.clone(),
                name: input.name.clone(),
                event_pattern: pattern.map(str::to_string),
                schedule: schedule.map(str::to_string),
                state: state.clone(),
                description: input.description.clone(),
                role_arn: input.role_arn.clone(),
                // An existing rule keeps its tags: PutRule ignores tags on an update, as AWS.
                tags: before.map_or(tags.clone(), |b| b.tags.clone()),
                created_at: before.map_or(now, |b| b.created_at),
                schedule_start,
                last_fired,
            })
        })
        .await?;
    match outcome {
        Outcome::NoBus => Err(EventsError::bus_not_found(&bus)),
        Outcome::Limit => Err(EventsError::limit()),
        _ => Ok(PutOutput { rule_arn }),
    }
}

/// The `Rule` shape (and DescribeRule's answer).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RuleShape {
    name: String,
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_expression: Option<String>,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    event_bus_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
}

fn shape(svc: &EventsService, r: RuleRecord, with_creator: bool) -> RuleShape {
    RuleShape {
        arn: svc.rule_arn(&r.bus, &r.name),
        name: r.name,
        event_pattern: r.event_pattern,
        schedule_expression: r.schedule,
        state: r.state,
        description: r.description,
        role_arn: r.role_arn,
        event_bus_name: r.bus,
        created_by: with_creator.then(|| svc.account.account_id.clone()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NamedInput {
    name: String,
    event_bus_name: Option<String>,
}

/// The rule named, on a bus that exists.
async fn existing(svc: &EventsService, name: &str, bus: Option<&str>) -> Result<RuleRecord> {
    check::name(name, "name", 64)?;
    let bus = checked_bus(bus)?;
    if let Some(rule) = svc.store.rule(&bus, name).await? {
        return Ok(rule);
    }
    if svc.store.bus(&bus).await?.is_none() {
        return Err(EventsError::bus_not_found(&bus));
    }
    Err(EventsError::rule_not_found(name, &bus))
}

pub(crate) async fn describe(svc: &EventsService, input: NamedInput) -> Result<RuleShape> {
    let rule = existing(svc, &input.name, input.event_bus_name.as_deref()).await?;
    Ok(shape(svc, rule, true))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    rules: Vec<RuleShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(svc: &EventsService, input: ListInput) -> Result<ListOutput> {
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    if svc.store.bus(&bus).await?.is_none() {
        return Err(EventsError::bus_not_found(&bus));
    }
    let found = svc.store.rules(&bus, input.name_prefix.as_deref(), after.as_deref(), limit + 1).await?;
    let (page, next_token) = check::page(found, limit, |r| r.name.clone());
    Ok(ListOutput { rules: page.into_iter().map(|r| shape(svc, r, false)).collect(), next_token })
}

async fn set_state(svc: &EventsService, input: NamedInput, state: &str) -> Result<Empty> {
    let rule = existing(svc, &input.name, input.event_bus_name.as_deref()).await?;
    let now = svc.store.now_ms().await?;
    let changed = svc
        .store
        .update_rule(&rule.bus, &rule.name, |r| {
            if state != "DISABLED" && !r.enabled() && r.schedule.is_some() {
                // Enabled again: nothing missed while disabled fires.
                r.last_fired = Some(now);
            }
            r.state = state.to_string();
            Ok(())
        })
        .await?;
    match changed {
        Some(_) => Ok(Empty {}),
        None => Err(EventsError::rule_not_found(&rule.name, &rule.bus)),
    }
}

pub(crate) async fn enable(svc: &EventsService, input: NamedInput) -> Result<Empty> {
    set_state(svc, input, "ENABLED").await
}

pub(crate) async fn disable(svc: &EventsService, input: NamedInput) -> Result<Empty> {
    set_state(svc, input, "DISABLED").await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    name: String,
    event_bus_name: Option<String>,
    #[serde(default)]
    force: bool,
}

/// Deletes a rule; a rule that does not exist is already deleted (on a bus that does).
pub(crate) async fn delete(svc: &EventsService, input: DeleteInput) -> Result<Empty> {
    check::name(&input.name, "name", 64)?;
    let bus = checked_bus(input.event_bus_name.as_deref())?;
    if svc.store.bus(&bus).await?.is_none() {
        return Err(EventsError::bus_not_found(&bus));
    }
    match svc.store.delete_rule(&bus, &input.name, input.force).await? {
        Outcome::HasTargets => Err(EventsError::Validation("Rule can't be deleted since it has targets.".into())),
        _ => Ok(Empty {}),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TestInput {
    event_pattern: String,
    event: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TestOutput {
    result: bool,
}

/// The members every event TestEventPattern is given must have.
const EVENT_MEMBERS: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];

pub(crate) async fn test_pattern(_svc: &EventsService, input: TestInput) -> Result<TestOutput> {
    let pattern = parse_pattern(&input.event_pattern)?;
    let event: serde_json::Value = serde_json::from_str(&input.event)
        .map_err(|_| EventsError::Validation("Parameter Event is not valid.".into()))?;
    let complete = event.as_object().is_some_and(|o| EVENT_MEMBERS.iter().all(|m| o.contains_key(*m)));
    if !complete {
        return Err(EventsError::Validation("Parameter Event is not valid.".into()));
    }
    Ok(TestOutput { result: pattern.matches(&event) })
}

/// What a tagging call's ARN names.
enum Tagged {
    Bus(String),
    Rule { bus: String, rule: String },
}

fn tagged(svc: &EventsService, arn: &str) -> Result<Tagged> {
    let prefix = format!("arn:aws:events:{}:{}:", svc.account.region, svc.account.account_id);
    let invalid = || {
        EventsError::Validation(format!(
            "Parameter ResourceARN is not valid. Reason: {arn} is not a rule or event bus ARN of this account and region."
        ))
    };
    let resource = arn.strip_prefix(&prefix).ok_or_else(invalid)?;
    if let Some(bus) = resource.strip_prefix("event-bus/") {
        return Ok(Tagged::Bus(bus.to_string()));
    }
    let rest = resource.strip_prefix("rule/").ok_or_else(invalid)?;
    Ok(match rest.split_once('/') {
        Some((bus, rule)) => Tagged::Rule { bus: bus.to_string(), rule: rule.to_string() },
        None => Tagged::Rule { bus: DEFAULT_BUS.to_string(), rule: rest.to_string() },
    })
}

async fn change_tags(
    svc: &EventsService,
    arn: &str,
    change: impl FnOnce(&mut crate::store::Tags) -> Result<()>,
) -> Result<crate::store::Tags> {
    check::length(arn, "resourceARN", 1, 1600)?;
    match tagged(svc, arn)? {
        Tagged::Bus(bus) => {
            let mut seen = None;
            let found = svc
                .store
                .change_bus_tags(&bus, |tags| {
                    change(tags)?;
                    seen = Some(tags.clone());
                    Ok(())
                })
                .await?;
            if !found {
                return Err(EventsError::bus_not_found(&bus));
            }
            Ok(seen.unwrap_or_default())
        }
        Tagged::Rule { bus, rule } => {
            let changed = svc.store.update_rule(&bus, &rule, |r| change(&mut r.tags)).await?;
            match changed {
                Some(r) => Ok(r.tags),
                None if svc.store.bus(&bus).await?.is_none() => Err(EventsError::bus_not_found(&bus)),
                None => Err(EventsError::rule_not_found(&rule, &bus)),
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tags: Vec<TagShape>,
}

pub(crate) async fn tag(svc: &EventsService, input: TagInput) -> Result<Empty> {
    let given = check::tags(&input.tags)?;
    change_tags(svc, &input.resource_arn, |tags| {
        tags.extend(given);
        if tags.len() > flotilla_core::tag::MAX_TAGS_PER_RESOURCE {
            return Err(EventsError::Validation(format!(
                "A resource can have at most {} tags.",
                flotilla_core::tag::MAX_TAGS_PER_RESOURCE
            )));
        }
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(crate) async fn untag(svc: &EventsService, input: UntagInput) -> Result<Empty> {
    change_tags(svc, &input.resource_arn, |tags| {
        for k in &input.tag_keys {
            tags.remove(k);
        }
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsOutput {
    tags: Vec<TagShape>,
}

pub(crate) async fn list_tags(svc: &EventsService, input: ListTagsInput) -> Result<ListTagsOutput> {
    check::length(&input.resource_arn, "resourceARN", 1, 1600)?;
    let tags = match tagged(svc, &input.resource_arn)? {
        Tagged::Bus(bus) => svc.store.bus(&bus).await?.ok_or_else(|| EventsError::bus_not_found(&bus))?.tags,
        Tagged::Rule { bus, rule } => existing(svc, &rule, Some(&bus)).await?.tags,
    };
    Ok(ListTagsOutput { tags: check::tag_list(&tags) })
}
