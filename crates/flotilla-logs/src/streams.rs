//! Log streams: create, describe (by name or by last event time), delete.

use crate::error::{LogsError, Result};
use crate::groups::group_name;
use crate::store::{Outcome, StreamOrder, StreamRecord};
use crate::{Empty, LogsService};
use serde::{Deserialize, Serialize};

/// A log stream name: 1 to 512 characters, neither `:` nor `*`.
pub(crate) fn check_stream_name(name: &str) -> Result<()> {
    if (1..=512).contains(&name.len()) && !name.contains([':', '*']) {
        Ok(())
    } else {
        Err(LogsError::Invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [^:*]* and have length 1 to 512"
        )))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateInput {
    log_group_name: String,
    log_stream_name: String,
}

pub(crate) async fn create(svc: &LogsService, input: CreateInput) -> Result<Empty> {
    check_stream_name(&input.log_stream_name)?;
    let now = svc.store.now_ms().await?;
    match svc.store.create_stream(&input.log_group_name, &input.log_stream_name, now).await? {
        Outcome::NoGroup => Err(LogsError::group_not_found()),
        Outcome::Exists => Err(LogsError::AlreadyExists("The specified log stream already exists".into())),
        _ => Ok(Empty {}),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamShape {
    log_stream_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ingestion_time: Option<i64>,
    arn: String,
    stored_bytes: i64,
}

fn shape(svc: &LogsService, s: StreamRecord) -> StreamShape {
    StreamShape {
        arn: format!("{}:log-stream:{}", svc.group_arn(&s.group), s.name),
        log_stream_name: s.name,
        creation_time: s.created_at,
        first_event_timestamp: s.first_event,
        last_event_timestamp: s.last_event,
        last_ingestion_time: s.last_ingestion,
        stored_bytes: s.stored_bytes,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeOutput {
    log_streams: Vec<StreamShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe(svc: &LogsService, input: DescribeInput) -> Result<DescribeOutput> {
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let order = match input.order_by.as_deref() {
        None | Some("LogStreamName") => StreamOrder::Name,
        Some("LastEventTime") => StreamOrder::LastEventTime,
        Some(other) => {
            return Err(LogsError::Invalid(format!("orderBy '{other}' is not one of LogStreamName, LastEventTime")));
        }
    };
    if order == StreamOrder::LastEventTime && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.".into()));
    }
    let limit = input.limit.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(LogsError::Invalid("limit must be between 1 and 50".into()));
    }
    // Tokens carry the offset into the ordered listing.
    let offset = match &input.next_token {
        Some(t) => t
            .strip_prefix("o/")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| LogsError::Invalid("The specified nextToken is invalid.".into()))?,
        None => 0,
    };
    if svc.store.group(&group).await?.is_none() {
        return Err(LogsError::group_not_found());
    }
    let mut streams = svc
        .store
        .streams(
            &group,
            input.log_stream_name_prefix.as_deref(),
            order,
            input.descending.unwrap_or(false),
            offset,
            limit + 1,
        )
        .await?;
    let next_token = (streams.len() as i64 > limit).then(|| format!("o/{}", offset + limit));
    streams.truncate(limit as usize);
    Ok(DescribeOutput { log_streams: streams.into_iter().map(|s| shape(svc, s)).collect(), next_token })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteInput {
    log_group_name: String,
    log_stream_name: String,
}

pub(crate) async fn delete(svc: &LogsService, input: DeleteInput) -> Result<Empty> {
    if svc.store.delete_stream(&input.log_group_name, &input.log_stream_name).await? {
        return Ok(Empty {});
    }
    if svc.store.group(&input.log_group_name).await?.is_none() {
        return Err(LogsError::group_not_found());
    }
    Err(LogsError::stream_not_found())
}
