//! Event buses: `default` always exists and cannot be deleted; custom buses are
//! created, described, listed and deleted (with their rules and targets). Partner
//! event sources, KMS keys, bus dead-letter queues and log configuration are not
//! kept: a bus named after a partner source is refused.

use crate::check::{self, TagShape};
use crate::error::{EventsError, Result};
use crate::store::{BusRecord, DEFAULT_BUS, Outcome};
use crate::{Empty, EventsService, bus_name, seconds};
use serde::{Deserialize, Serialize};

/// Buses an account may have (EventBridge's default quota).
pub(crate) const MAX_BUSES: i64 = 100;

/// A bus name as CreateEventBus takes it.
fn check_name(name: &str) -> Result<()> {
    check::length(name, "name", 1, 256)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_')) {
        return Err(EventsError::constraint(
            name,
            "name",
            "Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+",
        ));
    }
    if name.contains('/') {
        return Err(EventsError::Validation(format!(
            "Event bus name {name} is not valid: custom event bus names cannot contain '/' (names with '/' are for \
             partner event sources, which are not supported)"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateInput {
    name: String,
    event_source_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<TagShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateOutput {
    event_bus_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

pub(crate) async fn create(svc: &EventsService, input: CreateInput) -> Result<CreateOutput> {
    check_name(&input.name)?;
    check::optional_length(input.description.as_deref(), "description", 512)?;
    if let Some(source) = &input.event_source_name {
        return Err(EventsError::NotFound(format!("Event source {source} does not exist.")));
    }
    let tags = check::tags(&input.tags)?;
    let now = svc.store.now_ms().await?;
    let bus = BusRecord { name: input.name, description: input.description, created_at: now, modified_at: now, tags };
    match svc.store.create_bus(&bus, MAX_BUSES).await? {
        Outcome::Limit => Err(EventsError::limit()),
        _ => Ok(CreateOutput { event_bus_arn: svc.bus_arn(&bus.name), description: bus.description }),
    }
}

/// The `EventBus` shape (and DescribeEventBus's answer).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BusShape {
    name: String,
    arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    creation_time: f64,
    last_modified_time: f64,
}

fn shape(svc: &EventsService, b: BusRecord) -> BusShape {
    BusShape {
        arn: svc.bus_arn(&b.name),
        name: b.name,
        description: b.description,
        creation_time: seconds(b.created_at),
        last_modified_time: seconds(b.modified_at),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeInput {
    name: Option<String>,
}

pub(crate) async fn describe(svc: &EventsService, input: DescribeInput) -> Result<BusShape> {
    let name = bus_name(input.name.as_deref());
    let bus = svc.store.bus(&name).await?.ok_or_else(|| EventsError::bus_not_found(&name))?;
    Ok(shape(svc, bus))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInput {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListOutput {
    event_buses: Vec<BusShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn list(svc: &EventsService, input: ListInput) -> Result<ListOutput> {
    let limit = check::limit(input.limit)?;
    let after = check::after(input.next_token.as_deref())?;
    let found = svc.store.buses(input.name_prefix.as_deref(), after.as_deref(), limit + 1).await?;
    let (page, next_token) = check::page(found, limit, |b| b.name.clone());
    Ok(ListOutput { event_buses: page.into_iter().map(|b| shape(svc, b)).collect(), next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteInput {
    name: String,
}

/// Deletes a custom bus with its rules and their targets; a bus that does not exist
/// is already deleted.
pub(crate) async fn delete(svc: &EventsService, input: DeleteInput) -> Result<Empty> {
    check::length(&input.name, "name", 1, 256)?;
    if input.name == DEFAULT_BUS {
        return Err(EventsError::Validation("Cannot delete event bus default.".into()));
    }
    svc.store.delete_bus(&input.name).await?;
    Ok(Empty {})
}
